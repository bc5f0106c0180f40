"""The frozen results of an inspection, each with ``to_dict()`` for ``--json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# File classes (``FileResult.status``).
IDENTICAL = "identical"
RELOCATED = "relocated"
MODIFIED = "modified"
GENERATED = "generated"
COMPILED = "compiled"
OPAQUE = "opaque"
STATUSES = (IDENTICAL, RELOCATED, MODIFIED, GENERATED, COMPILED, OPAQUE)

# File kinds (what the bytes are, whatever their origin).
KIND_PYTHON = "python"
KIND_TEXT = "text"
KIND_DATA = "data"
KIND_COMPILED = "compiled"

# How a modified or generated file differs (``FileResult.change``).
CHANGE_FORMATTING = "formatting-or-comments-only"
CHANGE_LITERALS = "literal-values-only"
CHANGE_CODE = "code-changed"
CHANGE_TEXT = "text-changed"
CHANGE_WHITESPACE = "whitespace-only"
CHANGE_LITERAL_MODULE = "literal-only-module"
CHANGE_CODE_MODULE = "holds-code"
CHANGE_TEXT_FILE = "text-file"
CHANGE_UNPARSABLE = "does-not-parse"

READABLE = "readable"
NOT_READABLE = "not-readable"
# Nothing found against the wheel, but its metadata differs from a PKG-INFO that is not
# authoritative: only a rebuild (inspect --rebuild) can say which is right. Not readable.
UNSETTLED = "unsettled"


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One problem or remark tied to a path (and a line when known)."""

    rule: str
    path: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "path": self.path, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, kw_only=True, slots=True)
class FileResult:
    """The classification of one wheel member outside ``*.dist-info/``."""

    path: str  # member name in the wheel
    install_path: str  # where it installs, relative to its scheme (``*.data/purelib`` mapped)
    scheme: str  # purelib/platlib (the wheel root), scripts, headers or data
    status: str
    kind: str
    sha256: str
    size: int
    sdist_path: str | None = None  # the counterpart, relative to the sdist's top directory
    change: str | None = None  # for modified and generated files
    diff: str | None = None  # unified diff, for modified text files

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "install_path": self.install_path,
            "scheme": self.scheme,
            "status": self.status,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "sdist_path": self.sdist_path,
            "change": self.change,
            "diff": self.diff,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class MetadataResult:
    """METADATA against PKG-INFO, and RECORD against the wheel's bytes."""

    name: str
    version: str
    sdist_name: str
    sdist_version: str
    metadata_version: str
    sdist_metadata_version: str
    requires_dist_added: tuple[str, ...] = ()  # in the wheel, not in the sdist
    requires_dist_removed: tuple[str, ...] = ()  # in the sdist, not in the wheel
    requires_dist_authoritative: bool = True
    pkg_info_authoritative: bool = True  # for every compared field (Metadata 2.2+, none Dynamic)
    rebuilt: str | None = None  # --rebuild: "same" or "differs"; None when not rebuilt
    problems: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    unsettled: tuple[str, ...] = ()  # differences a non-authoritative PKG-INFO leaves open

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sdist_name": self.sdist_name,
            "sdist_version": self.sdist_version,
            "metadata_version": self.metadata_version,
            "sdist_metadata_version": self.sdist_metadata_version,
            "requires_dist_added": list(self.requires_dist_added),
            "requires_dist_removed": list(self.requires_dist_removed),
            "requires_dist_authoritative": self.requires_dist_authoritative,
            "pkg_info_authoritative": self.pkg_info_authoritative,
            "rebuilt": self.rebuilt,
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
            "unsettled": list(self.unsettled),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    """Everything ``inspect`` learnt about one wheel, and its verdict."""

    wheel: str
    wheel_sha256: str
    sdist: str
    sdist_sha256: str
    verdict: str  # readable | not-readable | unsettled
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    files: tuple[FileResult, ...]
    dangerous: tuple[Finding, ...]
    lint: tuple[Finding, ...]
    metadata: MetadataResult
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def readable(self) -> bool:
        return self.verdict == READABLE

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for f in self.files:
            counts[f.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "wheel": self.wheel,
            "wheel_sha256": self.wheel_sha256,
            "sdist": self.sdist,
            "sdist_sha256": self.sdist_sha256,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "unsettled": list(self.metadata.unsettled),
            "notes": list(self.notes),
            "counts": self.counts(),
            "files": [f.to_dict() for f in self.files],
            "dangerous": [d.to_dict() for d in self.dangerous],
            "lint": [f.to_dict() for f in self.lint],
            "metadata": self.metadata.to_dict(),
            "stats": dict(self.stats),
        }
