"""The seed-review predicate: a reviewer signs that a wheel was inspected against its sdist.

Schema: attestations/seed-review.schema.json; meaning: docs/seeds.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fromsource.attest import shape
from fromsource.attest.provenance import STATEMENT_TYPE
from fromsource.attest.shape import Problems
from fromsource.errors import StatementError

SEED_REVIEW = "https://fromsource.dev/attestations/seed-review/v1"
ADMIT_READABLE = "readable"
ADMIT_BINARY = "binary-by-digest"
# Only settled verdicts are ever signed: "unsettled" (inspect could not decide) never is.
VERDICTS = ("readable", "not-readable")
ADMITTED_VERDICT = {ADMIT_READABLE: "readable", ADMIT_BINARY: "not-readable"}


def review_statement(
    *,
    wheel_name: str,
    wheel_sha256: str,
    sdist_name: str,
    sdist_sha256: str,
    verdict: str,
    admission: str,
    counts: dict[str, int],
    reasons: list[str],
    notes: list[str],
    report_name: str,
    report_sha256: str,
    tool_version: str,
    reviewed_on: str,
) -> dict[str, Any]:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedReview:
    """A seed review as its signer stated it (what a policy decides on)."""

    wheel_name: str
    wheel_sha256: str
    sdist_name: str
    sdist_sha256: str
    verdict: str
    admission: str

    @classmethod
    def from_statement(cls, statement: object) -> SeedReview:
        """Read a decoded statement strictly against attestations/seed-review.schema.json.

        Raises :class:`~fromsource.errors.StatementError` listing every problem with its path.
        """
        p = Problems()
        review = _read(statement, p)
        if p or review is None:
            raise StatementError(
                f"not a {SEED_REVIEW} statement this reader fully understands:", p.items or ["$: unreadable"]
            )
        return review


def _read(statement: object, p: Problems) -> SeedReview | None:
    read = shape.statement_about_one(statement, p, STATEMENT_TYPE, SEED_REVIEW)
    if read is None:
        return None
    top, subject = read
    w = "$.predicate"
    pred = shape.obj(
        top.get("predicate"),
        w,
        p,
        ("sdist", "verdict", "admission", "counts", "reasons", "tool", "reviewedOn"),
        ("notes", "inspectReport"),
    )
    if pred is None:
        return None
    sdist = shape.obj(pred.get("sdist"), f"{w}.sdist", p, ("name", "digest"))
    sdist_name = sdist_sha = None
    if sdist is not None:
        sdist_name = shape.string(sdist.get("name"), f"{w}.sdist.name", p)
        sdist_sha = shape.digest(sdist.get("digest"), f"{w}.sdist.digest", p)
    verdict = shape.one_of(pred.get("verdict"), f"{w}.verdict", p, VERDICTS)
    admission = shape.one_of(pred.get("admission"), f"{w}.admission", p, (ADMIT_READABLE, ADMIT_BINARY))
    if verdict is not None and admission is not None and verdict != ADMITTED_VERDICT[admission]:
        p.add(f"{w}.verdict", f"{verdict!r} cannot be admitted as {admission!r}")
    counts = pred.get("counts")
    if not isinstance(counts, dict):
        p.add(f"{w}.counts", f"expected an object, got {shape.type_name(counts)}")
    else:  # file classes may grow; each count is a non-negative integer
        for key, value in counts.items():
            shape.integer(value, f"{w}.counts.{key}", p, minimum=0)
    for key in ("reasons", "notes"):
        if key in pred:
            for index, item in enumerate(shape.array(pred[key], f"{w}.{key}", p) or ()):
                shape.string(item, f"{w}.{key}[{index}]", p, nonempty=False)
    if "inspectReport" in pred:
        report = shape.obj(pred["inspectReport"], f"{w}.inspectReport", p, ("name", "digest"))
        if report is not None:
            shape.string(report.get("name"), f"{w}.inspectReport.name", p)
            shape.digest(report.get("digest"), f"{w}.inspectReport.digest", p)
    tool = shape.obj(pred.get("tool"), f"{w}.tool", p, ("name", "version"))
    if tool is not None:
        shape.const(tool.get("name"), f"{w}.tool.name", p, "fromsource")
        shape.string(tool.get("version"), f"{w}.tool.version", p)
    shape.string(pred.get("reviewedOn"), f"{w}.reviewedOn", p)
    if subject is None or sdist_name is None or sdist_sha is None or verdict is None or admission is None:
        return None
    return SeedReview(
        wheel_name=subject[0],
        wheel_sha256=subject[1],
        sdist_name=sdist_name,
        sdist_sha256=sdist_sha,
        verdict=verdict,
        admission=admission,
    )
