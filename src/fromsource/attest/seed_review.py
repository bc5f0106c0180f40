"""The seed-review predicate: a reviewer signs that a wheel was inspected against its sdist.

Schema: attestations/seed-review.schema.json; meaning: docs/seeds.md.
"""

from __future__ import annotations

from typing import Any

from fromsource.attest.provenance import STATEMENT_TYPE

SEED_REVIEW = "https://fromsource.dev/attestations/seed-review/v1"
ADMIT_READABLE = "readable"
ADMIT_BINARY = "binary-by-digest"


def review_statement(*, wheel_name: str, wheel_sha256: str, sdist_name: str, sdist_sha256: str,
                     verdict: str, admission: str, counts: dict[str, int], reasons: list[str],
                     notes: list[str], report_name: str, report_sha256: str, tool_version: str,
                     reviewed_on: str) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": wheel_name, "digest": {"sha256": wheel_sha256}}],
        "predicateType": SEED_REVIEW,
        "predicate": {
            "sdist": {"name": sdist_name, "digest": {"sha256": sdist_sha256}},
            "verdict": verdict,
            "admission": admission,
            "counts": counts,
            "reasons": reasons,
            "notes": notes,
            "inspectReport": {"name": report_name, "digest": {"sha256": report_sha256}},
            "tool": {"name": "fromsource", "version": tool_version},
            "reviewedOn": reviewed_on,
        },
    }
