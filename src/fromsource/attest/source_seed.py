"""The source-seed predicate: a wheel assembled from an sdist's own files, and how.

The subject is the wheel; the predicate names the sdist (by sha256), the assembly recipe and
its layout and excludes, so anyone holding the sdist re-assembles the wheel and compares
bytes: the evidence does not rest on the key that signed it.
Schema: attestations/source-seed.schema.json; meaning: docs/source-seeds.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fromsource.attest.provenance import STATEMENT_TYPE
from fromsource.errors import SeedAssemblyError
from fromsource.seedassembly import ASSEMBLY, AssembledSeed, Placement

SOURCE_SEED = "https://fromsource.dev/attestations/source-seed/v1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PREDICATE_KEYS = {"sdist", "assembly", "layout", "exclude", "layoutInferred", "files", "tool",
                   "assembledOn"}


def source_seed_statement(seed: AssembledSeed, *, tool_version: str,
                          assembled_on: str) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": seed.filename, "digest": {"sha256": seed.sha256}}],
        "predicateType": SOURCE_SEED,
        "predicate": {
            "sdist": {"name": seed.sdist_name, "digest": {"sha256": seed.sdist_sha256}},
            "assembly": ASSEMBLY,
            "layout": [{"source": p.source, "destination": p.destination} for p in seed.layout],
            "exclude": list(seed.exclude),
            "layoutInferred": seed.inferred,
            "files": len(seed.files),
            "tool": {"name": "fromsource", "version": tool_version},
            "assembledOn": assembled_on,
        },
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSeedClaim:
    """What a source-seed statement claims; true only once re-assembly reproduces it."""

    wheel_name: str
    wheel_sha256: str
    sdist_name: str
    sdist_sha256: str
    layout: tuple[Placement, ...]
    exclude: tuple[str, ...]
    inferred: bool
    tool_version: str


def _sha(value: Any) -> str | None:
    sha = value.get("sha256") if isinstance(value, dict) and set(value) == {"sha256"} else None
    return sha if isinstance(sha, str) and _SHA256.match(sha) else None


def read_source_seed(statement: Any) -> tuple[SourceSeedClaim | None, list[str]]:
    """The one reader of source-seed statements: the claim, or every problem found
    (unknown fields included)."""
    problems: list[str] = []
    if not isinstance(statement, dict):
        return None, ["the statement is not a JSON object"]
    if set(statement) != {"_type", "subject", "predicateType", "predicate"}:
        problems.append(f"statement fields are {sorted(statement)}, expected _type, subject, "
                        "predicateType, predicate")
    if statement.get("_type") != STATEMENT_TYPE:
        problems.append(f"_type is not {STATEMENT_TYPE}")
    if statement.get("predicateType") != SOURCE_SEED:
        problems.append(f"predicateType is not {SOURCE_SEED}")
    subjects = statement.get("subject")
    subject = subjects[0] if isinstance(subjects, list) and len(subjects) == 1 else None
    wheel_sha = _sha(subject.get("digest")) if isinstance(subject, dict) else None
    wheel_name = subject.get("name") if isinstance(subject, dict) else None
    if not isinstance(wheel_name, str) or wheel_sha is None or set(subject or {}) != {"name", "digest"}:
        problems.append("subject must be exactly one {name, digest: {sha256}}")
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        return None, [*problems, "predicate is not an object"]
    unknown = sorted(set(predicate) - _PREDICATE_KEYS)
    missing = sorted(_PREDICATE_KEYS - set(predicate))
    if unknown:
        problems.append(f"predicate has unknown fields: {', '.join(unknown)}")
    if missing:
        problems.append(f"predicate lacks {', '.join(missing)}")
    sdist = predicate.get("sdist")
    sdist_name = sdist.get("name") if isinstance(sdist, dict) else None
    sdist_sha = _sha(sdist.get("digest")) if isinstance(sdist, dict) else None
    if not isinstance(sdist_name, str) or "/" in sdist_name or sdist_name.startswith(".") \
            or sdist_sha is None or set(sdist or {}) != {"name", "digest"}:
        problems.append("predicate.sdist must be {name (a plain file name), digest: {sha256}}")
    if predicate.get("assembly") != ASSEMBLY:
        problems.append(f"predicate.assembly {predicate.get('assembly')!r} is not the recipe "
                        f"this fromsource knows ({ASSEMBLY})")
    layout: list[Placement] = []
    entries = predicate.get("layout")
    if not isinstance(entries, list) or not entries:
        problems.append("predicate.layout must be a non-empty list")
        entries = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"source", "destination"} \
                or not all(isinstance(v, str) for v in entry.values()):
            problems.append("predicate.layout entries must be {source, destination} strings")
            continue
        try:
            layout.append(Placement.parse(f"{entry['source']}={entry['destination']}"))
        except SeedAssemblyError as exc:
            problems.append(f"predicate.layout: {exc.message}")
    exclude = predicate.get("exclude")
    if not isinstance(exclude, list) or not all(isinstance(e, str) and e for e in exclude):
        problems.append("predicate.exclude must be a list of globs")
        exclude = []
    inferred = predicate.get("layoutInferred")
    if not isinstance(inferred, bool):
        problems.append("predicate.layoutInferred must be true or false")
    files = predicate.get("files")
    if not isinstance(files, int) or isinstance(files, bool) or files < 1:
        problems.append("predicate.files must be a positive integer")
    tool = predicate.get("tool")
    version = tool.get("version") if isinstance(tool, dict) else None
    if not isinstance(tool, dict) or tool.get("name") != "fromsource" or not isinstance(version, str):
        problems.append("predicate.tool must be {name: fromsource, version}")
    if not isinstance(predicate.get("assembledOn"), str):
        problems.append("predicate.assembledOn must be a date-time string")
    if problems:
        return None, problems
    assert isinstance(wheel_name, str) and wheel_sha and isinstance(sdist_name, str)  # noqa: S101
    assert sdist_sha and isinstance(version, str) and isinstance(inferred, bool)  # noqa: S101
    return SourceSeedClaim(wheel_name=wheel_name, wheel_sha256=wheel_sha, sdist_name=sdist_name,
                           sdist_sha256=sdist_sha, layout=tuple(layout), exclude=tuple(exclude),
                           inferred=inferred, tool_version=version), []
