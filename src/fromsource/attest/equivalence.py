"""The rebuild-equivalence predicate: the verdict of comparing a rebuild with a reference.

Schema: attestations/rebuild-equivalence.schema.json; meaning: docs/stage2.md.
"""

from __future__ import annotations

from typing import Any

from fromsource.attest.provenance import STATEMENT_TYPE
from fromsource.compare import NORMALISATION, Comparison

REBUILD_EQUIVALENCE = "https://fromsource.dev/attestations/rebuild-equivalence/v1"
ROLE_STAGE1 = "stage1"
ROLE_SEED = "seed"
ROLE_PUBLISHED = "published"  # the index's wheel of a source-seeded version


def equivalence_statement(
    comparison: Comparison,
    *,
    rebuild_sha256: str,
    reference_sha256: str,
    role: str,
    tool_version: str,
    compared_on: str,
) -> dict[str, Any]:
    """Subject: the rebuilt wheel. Predicate: what it was compared with, and the verdict."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": comparison.rebuild, "digest": {"sha256": rebuild_sha256}}],
        "predicateType": REBUILD_EQUIVALENCE,
        "predicate": {
            "reference": {"name": comparison.reference, "digest": {"sha256": reference_sha256}, "role": role},
            "equivalent": comparison.equivalent,
            "normalisation": list(NORMALISATION),
            "files": comparison.files,
            "differences": [d.to_dict() for d in comparison.differences],
            "tool": {"name": "fromsource", "version": tool_version},
            "comparedOn": compared_on,
        },
    }
