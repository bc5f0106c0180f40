"""Another version of a package whose build environment resolves, when the chosen one's does not.

A release can declare a build requirement the index cannot satisfy (a backend version not yet
published, a project that was removed) while its neighbours build fine. Finding that by
reading old sdists is tedious; this module does it: versions allowed by every requirement on
the package are tried closest first (newer ones, then older ones) and the first whose
``[build-system]`` requirements resolve is returned, for a ready ``-c`` line or for
``--prefer-buildable`` to apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from fromsource.archives import iter_members
from fromsource.build import parse_build_system
from fromsource.cachefile import read_cache, write_cache
from fromsource.errors import FromsourceError
from fromsource.index import Index, SdistCandidate, WheelCandidate, page_digest
from fromsource.resolve import MetadataSource, resolve
from fromsource.target import TargetEnvironment

# Each try may download an sdist; a handful covers the usual "the newest release is broken".
MAX_TRIES = 6
MEMO_FORMAT = "fromsource.alternatives/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alternative:
    package: str  # "name version" that could not be built
    version: str  # the version whose build environment resolves
    constraint: str  # the ready constraints-file line, name==version
    reason: str  # why the failing version could not be built

    def to_dict(self) -> dict[str, str]:
        return {
            "package": self.package,
            "version": self.version,
            "constraint": self.constraint,
            "reason": self.reason,
        }


def _pyproject(sdist: Path) -> bytes | None:
    for member in iter_members(sdist):
        parts = PurePosixPath(member.name).parts
        if len(parts) == 2 and parts[1] == "pyproject.toml":
            return member.data
    return None


def ordered(
    candidates: Iterable[SdistCandidate],
    failed: Version,
    allowed: Sequence[SpecifierSet],
    environment: TargetEnvironment,
) -> list[SdistCandidate]:
    """Versions worth trying: allowed, for this Python, not yanked; closest newer first, then
    closest older. Pre-releases only if the failed version is one."""
    usable: dict[Version, SdistCandidate] = {}
    for candidate in candidates:
        version = candidate.version
        if version == failed or candidate.yanked:
            continue
        if version.is_prerelease and not failed.is_prerelease:
            continue
        if not environment.accepts_python(candidate.requires_python):
            continue
        if all(spec.contains(version, prereleases=True) for spec in allowed):
            usable.setdefault(version, candidate)
    newer = sorted(v for v in usable if v > failed)
    older = sorted((v for v in usable if v < failed), reverse=True)
    return [usable[v] for v in (*newer, *older)]


def find_buildable(
    name: str,
    failed: Version,
    *,
    reason: str,
    index: Index,
    sources: Path,
    metadata: MetadataSource,
    constraints: Sequence[Requirement],
    environment: TargetEnvironment,
    allowed: Sequence[SpecifierSet],
    max_tries: int = MAX_TRIES,
    pyproject: Callable[[Path], bytes | None] | None = None,
) -> Alternative | None:
    """The closest version of ``name`` whose build-system requirements resolve, if any.

    ``allowed`` are the specifiers of every requirement on ``name`` in the run (a version
    outside them would only move the conflict); ``constraints`` apply as in the run, minus
    any on ``name`` itself (they pinned the failing version). ``pyproject`` reads an sdist's
    pyproject.toml (bootstrap's remembers it by the sdist's digest).
    """
    read_pyproject = pyproject or _pyproject
    key = canonicalize_name(name)
    constraints = [c for c in constraints if canonicalize_name(c.name) != key]
    try:
        candidates = ordered(index.candidates(name), failed, allowed, environment)
    except FromsourceError:
        return None
    for candidate in candidates[:max_tries]:
        try:
            build_system = parse_build_system(read_pyproject(index.fetch(candidate, sources)))
            resolve(
                build_system.requires,
                index=index,
                metadata=metadata,
                constraints=constraints,
                environment=environment,
            )
        except FromsourceError:
            continue
        return Alternative(
            package=f"{name} {failed}",
            version=str(candidate.version),
            constraint=f"{name}=={candidate.version}",
            reason=reason,
        )
    return None


# ------------------------------------------------------------------------ remembered answers


class _Recording:
    """An index that notes every project whose listing is asked for (what an answer rests on)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.projects: set[str] = set()

    def candidates(self, name: str) -> list[SdistCandidate]:
        self.projects.add(canonicalize_name(name))
        return self.index.candidates(name)

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        self.projects.add(canonicalize_name(name))
        return self.index.wheel_candidates(name)

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        return self.index.fetch(candidate, dest_dir)

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        return self.index.fetch_wheel(candidate, dest_dir, expected_sha256=expected_sha256)

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate, limit: int) -> bytes | None:
        return self.index.fetch_provenance(candidate, limit)


class AlternativesMemo:
    """:func:`find_buildable`'s answers in ``directory`` (``WORKSPACE/cache/alternatives``),
    by their inputs, each valid while every index page the search read is byte-identical:
    a re-run whose failure has not changed does not search again. Only over HTTP indexes
    (:func:`~fromsource.index.page_digest`); anything else searches every time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find(
        self,
        name: str,
        failed: Version,
        *,
        reason: str,
        index: Index,
        sources: Path,
        metadata: MetadataSource,
        constraints: Sequence[Requirement],
        environment: TargetEnvironment,
        allowed: Sequence[SpecifierSet],
        pyproject: Callable[[Path], bytes | None] | None = None,
    ) -> Alternative | None:
        inputs = {
            "name": canonicalize_name(name),
            "failed": str(failed),
            "reason": reason,
            "constraints": sorted(map(str, constraints)),
            "environment": sorted(environment.markers.items()),
            "allowed": sorted(map(str, allowed)),
            "max_tries": MAX_TRIES,
        }
        key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        path = self.directory / f"{key}.json"
        remembered = self._recall(path, key, index)
        if remembered is not None:
            return remembered[0]
        recording = _Recording(index)
        found = find_buildable(
            name,
            failed,
            reason=reason,
            index=recording,
            sources=sources,
            metadata=metadata,
            constraints=constraints,
            environment=environment,
            allowed=allowed,
            pyproject=pyproject,
        )
        pages = {p: page_digest(index, p) for p in sorted(recording.projects)}
        if all(pages.values()):
            doc = {
                "format": MEMO_FORMAT,
                "key": key,
                "pages": pages,
                "alternative": found.to_dict() if found is not None else None,
            }
            write_cache(path, doc, indent=1)
        return found

    def _recall(self, path: Path, key: str, index: Index) -> tuple[Alternative | None] | None:
        """(the answer,) when remembered and every page it read is unchanged; else None."""
        doc = read_cache(path, "alternatives")
        if not isinstance(doc, dict) or set(doc) != {"format", "key", "pages", "alternative"}:
            return None
        if doc["format"] != MEMO_FORMAT or doc["key"] != key or not isinstance(doc["pages"], dict):
            return None
        try:
            for project, digest in doc["pages"].items():
                if not isinstance(digest, str) or page_digest(index, project) != digest:
                    return None
        except FromsourceError:
            return None
        found = doc["alternative"]
        if found is None:
            return (None,)
        if not isinstance(found, dict) or set(found) != {"package", "version", "constraint", "reason"}:
            return None
        if not all(isinstance(v, str) for v in found.values()):
            return None
        return (Alternative(**found),)
