"""Read an sdist's ``PKG-INFO`` without extracting the archive.

Only the one regular-file member ``<top>/PKG-INFO`` is read, with a size cap, so a hostile
archive cannot write anything or exhaust memory here. Extraction is ``archives.py``'s job.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from fromsource.errors import ArchiveError

_MAX_PKG_INFO = 4 << 20  # real PKG-INFO files (long descriptions included) stay far below
# Metadata 2.2 (PEP 643) is the first version where fields not marked Dynamic are final.
_STATIC_SINCE = Version("2.2")


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
            static = Version(self.metadata_version) >= _STATIC_SINCE
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
    if data is None:
        return None
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
    return len(parts) == 2 and parts[1] == "PKG-INFO" and parts[0] not in ("..", "/")


def _read_member(sdist: Path) -> bytes | None:
    try:
        if sdist.name.endswith(".zip"):
            return _read_zip_member(sdist)
        return _read_tar_member(sdist)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise ArchiveError(f"cannot read {sdist.name}: {exc}") from exc


def _read_tar_member(sdist: Path) -> bytes | None:
    with tarfile.open(sdist, "r:*") as tar:
        for member in tar:
            if _is_pkg_info(member.name) and member.isfile():
                if member.size > _MAX_PKG_INFO:
                    raise ArchiveError(f"{sdist.name}: PKG-INFO is larger than {_MAX_PKG_INFO}")
                handle = tar.extractfile(member)
                return handle.read() if handle is not None else None
    return None


def _read_zip_member(sdist: Path) -> bytes | None:
    with zipfile.ZipFile(sdist) as archive:
        for info in archive.infolist():
            if _is_pkg_info(info.filename) and not info.is_dir():
                if info.file_size > _MAX_PKG_INFO:
                    raise ArchiveError(f"{sdist.name}: PKG-INFO is larger than {_MAX_PKG_INFO}")
                with archive.open(info) as handle:
                    return handle.read(_MAX_PKG_INFO + 1)[:_MAX_PKG_INFO]
    return None
