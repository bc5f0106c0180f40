"""The source-origin predicate: an sdist (the subject) matches a commit of its repository.

Schema: attestations/source-origin.schema.json; meaning: docs/origin.md. One strict reader,
:func:`read_origin`, turns a verified statement into :class:`OriginClaim` or its problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fromsource.attest.provenance import STATEMENT_TYPE

SOURCE_ORIGIN = "https://fromsource.dev/attestations/source-origin/v1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_PREDICATE_KEYS = frozenset(
    {
        "repository",
        "ref",
        "commit",
        "objectFormat",
        "matches",
        "counts",
        "files",
        "generated",
        "findings",
        "tool",
        "checkedOn",
    }
)
_COUNT_KEYS = frozenset({"identical", "generated", "modified", "not-in-tree", "tree-only"})


def origin_statement(report: dict[str, Any], *, tool_version: str, checked_on: str) -> dict[str, Any]:
    """The statement for an origin report (:meth:`OriginReport.to_dict`)."""
    files = report["files"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": report["sdist"]["name"], "digest": {"sha256": report["sdist"]["sha256"]}}],
        "predicateType": SOURCE_ORIGIN,
        "predicate": {
            "repository": report["repository"],
            "ref": report["ref"],
            "commit": report["commit"],
            "objectFormat": report["objectFormat"],
            "matches": report["matches"],
            "counts": report["counts"],
            "files": {"count": len(files), "digest": {"sha256": report["filesDigest"]}},
            "generated": [
                {"path": f["path"], "generator": f["generator"], "digest": {"sha256": f["sha256"]}}
                for f in files
                if f["status"] == "generated"
            ],
            "findings": [
                {"path": f["path"], "status": f["status"], "reason": f.get("reason", "")}
                for f in report["findings"]
            ],
            "tool": {"name": "fromsource", "version": tool_version},
            "checkedOn": checked_on,
        },
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginClaim:
    sdist: str
    sdist_sha256: str
    repository: str
    ref: str
    commit: str
    matches: bool
    files_sha256: str
    findings: tuple[str, ...]

    @property
    def ref_name(self) -> str:
        return self.ref.removeprefix("refs/tags/").removeprefix("refs/heads/")

    def summary(self) -> str:
        shown = re.sub(r"^https?://", "", self.repository)
        verb = "matches" if self.matches else "does NOT match"
        return f"sdist {verb} {shown} @ {self.ref_name}, commit {self.commit[:12]}"


def read_origin(statement: Any) -> tuple[OriginClaim | None, list[str]]:
    """The claim of an origin statement, or None and every problem found."""
    problems: list[str] = []
    if not isinstance(statement, dict):
        return None, ["statement is not an object"]
    if statement.get("_type") != STATEMENT_TYPE:
        problems.append(f"statement _type is {statement.get('_type')!r}")
    if statement.get("predicateType") != SOURCE_ORIGIN:
        problems.append(f"predicateType is {statement.get('predicateType')!r}, expected {SOURCE_ORIGIN}")
    subject = statement.get("subject")
    name = sha = None
    if (
        isinstance(subject, list)
        and len(subject) == 1
        and isinstance(subject[0], dict)
        and isinstance(subject[0].get("digest"), dict)
    ):
        name, sha = subject[0].get("name"), subject[0]["digest"].get("sha256")
    if not isinstance(name, str) or not isinstance(sha, str) or not _SHA256.match(sha):
        problems.append("subject must be one sdist with name and sha256 digest")
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        return None, [*problems, "predicate is not an object"]
    problems += [f"predicate.{k}: unknown field" for k in sorted(set(predicate) - _PREDICATE_KEYS)]
    strings = {k: predicate.get(k) for k in ("repository", "ref", "commit", "checkedOn")}
    problems += [
        f"predicate.{k} must be a non-empty string"
        for k, v in strings.items()
        if not isinstance(v, str) or not v
    ]
    commit = predicate.get("commit")
    if isinstance(commit, str) and not _COMMIT.match(commit):
        problems.append("predicate.commit is not a commit id")
    if not isinstance(predicate.get("matches"), bool):
        problems.append("predicate.matches must be true or false")
    counts = predicate.get("counts")
    if (
        not isinstance(counts, dict)
        or set(counts) != _COUNT_KEYS
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values())
    ):
        problems.append(f"predicate.counts must hold integers for {', '.join(sorted(_COUNT_KEYS))}")
    files_sha = (
        predicate.get("files", {}).get("digest", {}).get("sha256")
        if isinstance(predicate.get("files"), dict) and isinstance(predicate["files"].get("digest"), dict)
        else None
    )
    if not isinstance(files_sha, str) or not _SHA256.match(files_sha):
        problems.append("predicate.files.digest.sha256 is missing or not a sha256")
    findings = predicate.get("findings")
    if not isinstance(findings, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) for f in findings
    ):
        problems.append("predicate.findings must be a list of {path, status, reason}")
        findings = []
    if predicate.get("matches") is True and findings:
        problems.append("predicate.matches is true but findings are listed")
    if problems:
        return None, problems
    return OriginClaim(
        sdist=str(name),
        sdist_sha256=str(sha),
        repository=str(predicate["repository"]),
        ref=str(predicate["ref"]),
        commit=str(commit),
        matches=bool(predicate["matches"]),
        files_sha256=str(files_sha),
        findings=tuple(f"{f['path']}: {f.get('status', '?')}: {f.get('reason', '')}" for f in findings),
    ), []
