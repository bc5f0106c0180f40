"""What an index offers: sdist and wheel candidates, and the ``Index`` interface."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from fromsource.errors import IndexError_


class ProjectNotFoundError(IndexError_):
    """The index has no page for the project (HTTP 404, or no sdist in a directory)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SdistCandidate:
    """One sdist file an index offers."""

    name: NormalizedName
    version: Version
    filename: str
    url: str
    sha256: str | None  # None only when the index publishes no sha256
    requires_python: str | None = None
    yanked: bool = False
    provenance_url: str | None = None  # PEP 740 provenance object the index links, if any
    unverified: str | None = None  # why nothing vouches for the bytes (no sha256, plain http)

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.filename})"


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelCandidate:
    """One published wheel file an index offers (a possible *external*, never a build)."""

    name: NormalizedName
    version: Version
    filename: str
    url: str
    sha256: str | None  # None only when the index publishes no sha256
    tags: frozenset[Tag]
    build_tag: BuildTag = ()
    requires_python: str | None = None
    yanked: bool = False
    provenance_url: str | None = None  # PEP 740 provenance the index links, if any
    unverified: str | None = None  # why nothing vouches for the bytes (no sha256, plain http)

    @property
    def pure(self) -> bool:
        """True when every tag is ``*-none-any`` (no compiled code for one platform)."""
        return all(t.abi == "none" and t.platform == "any" for t in self.tags)

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.filename})"


class Index(Protocol):
    """A source of sdists (and, for externals, wheels).

    Implementations: :class:`SimpleIndex`, :class:`LocalDirIndex`, :class:`MultiIndex`.
    """

    def candidates(self, name: str) -> list[SdistCandidate]:
        """Every sdist of ``name``; raises :class:`ProjectNotFoundError` if there is none."""
        ...

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        """The verified sdist at ``dest_dir / candidate.filename`` (reused when cached)."""
        ...

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        """Every published wheel of ``name`` (possibly none).

        Raises :class:`ProjectNotFoundError` only when the index has no page for the project.
        """
        ...

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        """The verified wheel at ``dest_dir / candidate.filename`` (reused when cached).

        With ``expected_sha256`` (a policy's digest) the file must have exactly that digest,
        and a different digest published by the index is refused before downloading.
        """
        ...

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate, limit: int) -> bytes | None:
        """The PEP 740 provenance object the index links for ``candidate`` (at most
        ``limit`` bytes, else :class:`IndexError_`), or ``None`` when it links none."""
        ...


Fetchable = SdistCandidate | WheelCandidate


def wheel_candidate(
    filename: str,
    url: str,
    sha256: str | None,
    *,
    requires_python: str | None = None,
    yanked: bool = False,
    provenance_url: str | None = None,
) -> WheelCandidate | None:
    try:
        name, version, build_tag, tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return None
    return WheelCandidate(
        name=name,
        version=version,
        filename=filename,
        url=url,
        sha256=sha256.lower() if sha256 else None,
        tags=tags,
        build_tag=build_tag,
        requires_python=requires_python,
        yanked=yanked,
        provenance_url=provenance_url,
    )


def parse_sdist(filename: str) -> tuple[NormalizedName, Version] | None:
    try:
        return parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return None
