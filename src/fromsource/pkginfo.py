"""Read an sdist's ``PKG-INFO`` without extracting the archive.

Reading goes through :mod:`fromsource.archives` (its checks and limits apply) and stops at
``<top>/PKG-INFO``, so resolution never writes an sdist's files to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from fromsource.archives import iter_members
from fromsource.errors import ArchiveError

# Metadata 2.2 (PEP 643) is the first version where fields not marked Dynamic are final.
STATIC_SINCE = Version("2.2")


@dataclass(frozen=True, slots=True, kw_only=True)
class PkgInfo:
    """The fields of an sdist's PKG-INFO that resolution needs."""

    metadata_version: str
    name: str | None
    version: str | None
    requires_python: str | None
    requires_dist: tuple[str, ...]
    dynamic: frozenset[str]  # lower-cased field names

    @property
    def static_requirements(self) -> list[Requirement] | None:
        """``Requires-Dist`` when PEP 643 makes it authoritative, else ``None``."""
        try:
            static = Version(self.metadata_version) >= STATIC_SINCE
        except InvalidVersion:
            return None
        if not static or "requires-dist" in self.dynamic:
            return None
        try:
            return [Requirement(line) for line in self.requires_dist]
        except InvalidRequirement as exc:
            raise ArchiveError(f"PKG-INFO has an invalid Requires-Dist: {exc}") from exc


def read_pkg_info(sdist: Path) -> PkgInfo | None:
    """Parse ``PKG-INFO`` from an sdist; ``None`` when the archive has none."""
    data = _read_member(sdist)
    return None if data is None else parse_pkg_info(data)


def parse_pkg_info(data: bytes) -> PkgInfo:
    """The fields resolution needs from PKG-INFO's bytes."""
    raw, _unparsed = parse_email(data)
    return PkgInfo(
        metadata_version=raw.get("metadata_version", "1.0"),
        name=raw.get("name"),
        version=raw.get("version"),
        requires_python=raw.get("requires_python"),
        requires_dist=tuple(raw.get("requires_dist", [])),
        dynamic=frozenset(field.lower() for field in raw.get("dynamic", [])),
    )


def _is_pkg_info(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def _read_member(sdist: Path) -> bytes | None:
    # Stop at the first match: the rest of the archive is validated when it is extracted.
    for member in iter_members(sdist):  # abandoned early: CPython closes the generator
        if _is_pkg_info(member.name):
            return member.data
    return None
