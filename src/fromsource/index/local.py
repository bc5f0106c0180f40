"""Indexes without a server: a local directory of sdists (``--find-links``), and several
indexes searched together."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
)
from packaging.version import Version

from fromsource.errors import ArchiveError, IndexError_, InputError
from fromsource.fileutil import sha256_file
from fromsource.index.download import (
    CHUNK,
    PUBLISHED,
    cache_path,
    cached_ok,
    claim_of,
    expecting,
    write_verified,
)
from fromsource.index.model import (
    Fetchable,
    Index,
    ProjectNotFoundError,
    SdistCandidate,
    WheelCandidate,
    parse_sdist,
    wheel_candidate,
)
from fromsource.pkginfo import read_pkg_info


class LocalDirIndex:
    """A flat directory of sdists (``--find-links DIR``), for offline and frozen runs.

    Digests are computed from the files; ``Requires-Python`` is read from each PKG-INFO
    (sdists only: a wheel's is not read). ``*.whl`` files are listed by
    :meth:`wheel_candidates` only.
    """

    def __init__(self, path: Path, *, digest: Callable[[Path], str] = sha256_file) -> None:
        if not path.is_dir():
            raise InputError(f"--find-links {path}: not a directory")
        self.path = path
        self.digest = digest  # a stat cache (statdigests) spares re-hashing on re-runs
        self._cache: dict[NormalizedName, list[SdistCandidate]] = {}
        self._wheel_cache: dict[NormalizedName, list[WheelCandidate]] = {}
        # The directory listed once, grouped by project, until its mtime changes: a run asks
        # for every project of its graph, and listing thousands of files per project is
        # quadratic.
        self._listing: tuple[int, dict[NormalizedName, list[tuple[Path, Version]]]] | None = None

    def __repr__(self) -> str:
        return f"LocalDirIndex({str(self.path)!r})"

    def candidates(self, name: str) -> list[SdistCandidate]:
        key = canonicalize_name(name)
        if key not in self._cache:
            listed = self._sdists().get(key) or self._sdists(fresh=True).get(key, [])
            found = [self._candidate(key, version, path) for path, version in listed]
            if not found:
                raise ProjectNotFoundError(f"no sdist of {key!r} in {self.path}")
            self._cache[key] = found
        return list(self._cache[key])

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        key = canonicalize_name(name)
        if key not in self._wheel_cache:
            found = []
            for path in sorted(self.path.glob("*.whl")):
                if not path.is_file():
                    continue
                candidate = wheel_candidate(path.name, path.resolve().as_uri(), None)
                if candidate is not None and candidate.name == key:
                    found.append(replace(candidate, sha256=self.digest(path)))
            self._wheel_cache[key] = found
        return list(self._wheel_cache[key])

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        return self._copy(candidate, dest_dir)

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        return self._copy(expecting(candidate, expected_sha256), dest_dir, claim=claim_of(expected_sha256))

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate, limit: int) -> bytes | None:
        # A provenance object kept beside the file (<file>.provenance) plays the index's link.
        source = self.path / f"{candidate.filename}.provenance"
        if not source.is_file():
            return None
        with source.open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise IndexError_(f"{source}: provenance is larger than {limit} bytes")
        return data

    def _copy(self, candidate: Fetchable, dest_dir: Path, *, claim: str = PUBLISHED) -> Path:
        dest = cache_path(candidate, dest_dir)
        source = self.path / dest.name
        if cached_ok(candidate, dest, self.digest):
            return dest
        try:
            with source.open("rb") as handle:
                write_verified(candidate, iter(lambda: handle.read(CHUNK), b""), dest, claim)
        except FileNotFoundError as exc:
            raise IndexError_(f"{source} disappeared from the --find-links directory") from exc
        return dest

    def _sdists(self, *, fresh: bool = False) -> dict[NormalizedName, list[tuple[Path, Version]]]:
        """The directory's sdists by project, in file-name order (re-listed when it changed,
        or when ``fresh``: an mtime can miss a file added within its clock tick)."""
        mtime = self.path.stat().st_mtime_ns
        if fresh or self._listing is None or self._listing[0] != mtime:
            by_name: dict[NormalizedName, list[tuple[Path, Version]]] = {}
            with os.scandir(self.path) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    parsed = parse_sdist(entry.name)
                    if parsed is not None and entry.is_file():
                        by_name.setdefault(parsed[0], []).append((Path(entry.path), parsed[1]))
            self._listing = (mtime, by_name)
        return self._listing[1]

    def _candidate(self, name: NormalizedName, version: Version, path: Path) -> SdistCandidate:
        try:
            info = read_pkg_info(path)
        except ArchiveError:
            info = None  # unreadable here: the build reports it with full context
        return SdistCandidate(
            name=name,
            version=version,
            filename=path.name,
            url=path.resolve().as_uri(),
            sha256=self.digest(path),
            requires_python=info.requires_python if info else None,
        )


# --------------------------------------------------------------------------- several


class MultiIndex:
    """Several indexes searched together; the first to list a filename serves it."""

    def __init__(self, indexes: Iterable[Index]) -> None:
        self.indexes = list(indexes)
        self._origin: dict[SdistCandidate, Index] = {}
        self._wheel_origin: dict[WheelCandidate, Index] = {}

    def __repr__(self) -> str:
        return f"MultiIndex({self.indexes!r})"

    def candidates(self, name: str) -> list[SdistCandidate]:
        # No sdist anywhere and some index said "not found": that is the error to show.
        return _merge(self.indexes, lambda i: i.candidates(name), self._origin, strict=False)

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        index = self._origin.get(candidate)
        if index is None:
            raise IndexError_(f"{candidate.filename} was not listed by any configured index")
        return index.fetch(candidate, dest_dir)

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        # A local directory of sdists lists no wheels: only every index missing is an error.
        return _merge(self.indexes, lambda i: i.wheel_candidates(name), self._wheel_origin, strict=True)

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        index = self._wheel_origin.get(candidate)
        if index is None:
            raise IndexError_(f"{candidate.filename} was not listed by any configured index")
        return index.fetch_wheel(candidate, dest_dir, expected_sha256=expected_sha256)

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate, limit: int) -> bytes | None:
        index = (
            self._origin.get(candidate)
            if isinstance(candidate, SdistCandidate)
            else self._wheel_origin.get(candidate)
        )
        return index.fetch_provenance(candidate, limit) if index is not None else None


_C = TypeVar("_C", SdistCandidate, WheelCandidate)


def _merge(
    indexes: Sequence[Index], listing: Callable[[Index], list[_C]], origin: dict[_C, Index], *, strict: bool
) -> list[_C]:
    """Candidates of every index, first listing of a file name wins; ``origin`` records which
    index to fetch each from. A miss raises when every index missed (``strict``) or when
    nothing was found and some index missed."""
    seen: set[str] = set()
    found: list[_C] = []
    misses: list[str] = []
    for index in indexes:
        try:
            listed = listing(index)
        except ProjectNotFoundError as exc:
            misses.append(exc.message)
            continue
        for candidate in listed:
            if candidate.filename not in seen:
                seen.add(candidate.filename)
                found.append(candidate)
                origin[candidate] = index
    if misses and (len(misses) == len(indexes) if strict else not found):
        raise ProjectNotFoundError("; ".join(misses))
    return found
