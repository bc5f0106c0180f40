"""Pick exact wheel files from the workspace to satisfy build requirements.

No resolver and no index at build time: a requirement is met by a wheel already built
into the workspace (highest compatible version that satisfies every specifier seen for
that name), together with the install-closure of its ``Requires-Dist``.
"""

from __future__ import annotations

import functools
import platform
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, sys_tags
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from fromsource.archives import open_zip
from fromsource.errors import ArchiveError, MissingRequirementError

if TYPE_CHECKING:  # index imports this module
    from fromsource.index import WheelCandidate

_MAX_METADATA_BYTES = 16 * 1024 * 1024


@functools.cache
def _interpreter_tags() -> tuple[Tag, ...]:
    """``sys_tags()`` of this interpreter, most specific first: hundreds of tags, the same for
    the whole process, so worked out once rather than for each build environment."""
    return tuple(sys_tags())


@functools.cache
def _interpreter_tag_set() -> frozenset[Tag]:
    return frozenset(_interpreter_tags())


@functools.cache
def _interpreter_priority() -> Mapping[Tag, int]:
    return _priority(_interpreter_tags())


def _priority(tags: Iterable[Tag]) -> Mapping[Tag, int]:
    """Each tag's rank, 0 for the most specific (a tag listed twice keeps its first rank)."""
    ranks: dict[Tag, int] = {}
    for tag in tags:
        ranks.setdefault(tag, len(ranks))
    return ranks


@dataclass(frozen=True, slots=True)
class WheelInfo:
    path: Path
    name: NormalizedName
    version: Version
    tags: frozenset[Tag]
    requires_dist: tuple[Requirement, ...]


@dataclass(frozen=True, slots=True)
class Selected:
    """A wheel chosen for a build environment and the edge that pulled it in."""

    wheel: WheelInfo
    edge: str  # build-system | backend | install


def read_wheel_info(path: Path) -> WheelInfo:
    try:
        name, version, _build, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        raise ArchiveError(f"{path.name} is not a valid wheel file name: {exc}") from exc
    try:
        with open_zip(path) as archive:
            metadata_name = next(
                n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1
            )
            if archive.getinfo(metadata_name).file_size > _MAX_METADATA_BYTES:
                raise ArchiveError(f"{path.name}: METADATA is larger than {_MAX_METADATA_BYTES} bytes")
            raw = archive.read(metadata_name).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, StopIteration) as exc:
        raise ArchiveError(f"cannot read METADATA of {path.name}: {exc}") from exc
    headers = HeaderParser().parsestr(raw)
    requires = []
    for line in headers.get_all("Requires-Dist") or []:
        try:
            requires.append(Requirement(line))
        except InvalidRequirement as exc:
            raise ArchiveError(f"{path.name}: bad Requires-Dist {line!r}: {exc}") from exc
    return WheelInfo(path, name, version, frozenset(tags), tuple(requires))


class WheelStore:
    """The wheels of one directory, indexed by project name."""

    def __init__(
        self,
        wheels: Iterable[WheelInfo],
        *,
        tags: Iterable[Tag] | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self._by_name: dict[str, list[WheelInfo]] = {}
        for info in wheels:
            self._by_name.setdefault(info.name, []).append(info)
        self._tags = frozenset(tags) if tags is not None else _interpreter_tag_set()
        self._environment: dict[str, str] = (
            dict(environment)
            if environment is not None
            else {key: str(value) for key, value in default_environment().items()}
        )

    @classmethod
    def scan(cls, directory: Path) -> WheelStore:
        paths = sorted(directory.glob("*.whl")) if directory.is_dir() else []
        return cls(read_wheel_info(p) for p in paths)

    def closure(
        self,
        requirements: Iterable[Requirement],
        *,
        edge: str,
        chosen: Mapping[str, Selected] | None = None,
        requested_by: str = "the build",
    ) -> dict[str, Selected]:
        """Extend ``chosen`` with wheels for ``requirements`` and their install-closure.

        Raises :class:`MissingRequirementError` naming every requirement no wheel meets.
        """
        result = dict(chosen or {})
        specifiers: dict[str, SpecifierSet] = {}
        missing: list[str] = []
        queue: list[tuple[Requirement, str, frozenset[str]]] = [
            (req, edge, frozenset()) for req in requirements
        ]
        while queue:
            req, req_edge, parent_extras = queue.pop(0)
            if not self._marker_ok(req, parent_extras):
                continue
            name = canonicalize_name(req.name)
            specifiers[name] = specifiers.get(name, SpecifierSet()) & req.specifier
            current = result.get(name)
            if current is not None:
                if not specifiers[name].contains(current.wheel.version, prereleases=True):
                    missing.append(f"{req} (conflicts with {current.wheel.path.name} already chosen)")
                continue
            wheel = self._best(name, specifiers[name])
            if wheel is None:
                missing.append(str(req))
                continue
            result[name] = Selected(wheel, req_edge)
            extras = frozenset(canonicalize_name(e) for e in req.extras)
            queue.extend((dep, "install", extras) for dep in wheel.requires_dist)
        if missing:
            raise MissingRequirementError(
                f"{requested_by} needs {', '.join(missing)}, and no wheel in the workspace provides it",
                hint="build the missing requirement's sdist into this workspace first "
                "(fromsource build SDIST --workspace DIR), then re-run",
            )
        return result

    def runtime_graph(
        self,
        roots: Sequence[WheelInfo],
    ) -> tuple[dict[Path, set[Path]], dict[Path, set[str]]]:
        """Requires-Dist of ``roots`` and their closure, each requirement met by its best wheel.

        What an install of ``roots`` pulls in (the SBOM's dependencies): markers evaluated
        with the extras each wheel was asked for (and without), every requirement on its own
        (highest version, then file name). Returns (edges by wheel path, requirements no
        wheel here meets).
        """
        by_path = {info.path: info for infos in self._by_name.values() for info in infos}
        by_path.update((info.path, info) for info in roots)
        edges: dict[Path, set[Path]] = {}
        unresolved: dict[Path, set[str]] = {}
        queue = [(info.path, frozenset[str]()) for info in roots]
        seen: set[tuple[Path, frozenset[str]]] = set()
        while queue:
            state = queue.pop()
            if state in seen:
                continue
            seen.add(state)
            path, extras = state
            edges.setdefault(path, set())
            for req in by_path[path].requires_dist:
                if req.marker is not None and not any(
                    req.marker.evaluate({**self._environment, "extra": e}) for e in {"", *extras}
                ):
                    continue
                fits = [
                    w
                    for w in self._by_name.get(canonicalize_name(req.name), [])
                    if req.specifier.contains(w.version, prereleases=True) and w.tags & self._tags
                ]
                target = max(fits, key=lambda w: (w.version, w.path.name), default=None)
                if target is None:
                    unresolved.setdefault(path, set()).add(str(req))
                    continue
                edges[path].add(target.path)
                queue.append((target.path, frozenset(canonicalize_name(e) for e in req.extras)))
        return edges, unresolved

    def _marker_ok(self, req: Requirement, extras: frozenset[str]) -> bool:
        marker = req.marker
        if marker is None:
            return True
        return any(marker.evaluate({**self._environment, "extra": e}) for e in extras or {""})

    def _best(self, name: str, specifier: SpecifierSet) -> WheelInfo | None:
        candidates = [
            w
            for w in self._by_name.get(name, [])
            if specifier.contains(w.version, prereleases=True) and w.tags & self._tags
        ]
        return max(candidates, key=lambda w: w.version, default=None)


# ------------------------------------------------ published wheels (externals)


def best_wheel(
    candidates: Iterable[WheelCandidate],
    version: Version | str,
    tags: Iterable[Tag] | None = None,
    *,
    python_version: str | None = None,
) -> WheelCandidate | None:
    """The wheel of ``version`` an installer would pick here, or None if none is compatible.

    ``tags`` are the supported tags, most specific first (default: this interpreter's
    ``packaging.tags.sys_tags()``); a wheel ranks by its most specific supported tag, then
    by its build tag (higher first). Wheels whose ``Requires-Python`` excludes
    ``python_version`` (default: this interpreter's) are skipped; a yanked wheel is taken
    only when no other fits, as a pinned version may use one.
    """
    wanted = Version(version) if isinstance(version, str) else version
    priority = _interpreter_priority() if tags is None else _priority(tags)
    python = Version(python_version or platform.python_version())

    def rank(candidate: WheelCandidate) -> tuple[bool, int, tuple[int, ...], str]:
        best = min(priority[t] for t in candidate.tags if t in priority)
        build = candidate.build_tag[0] if candidate.build_tag else -1
        return (candidate.yanked, best, (-build,), candidate.filename)

    fitting = [
        c
        for c in candidates
        if c.version == wanted
        and any(t in priority for t in c.tags)
        and _python_fits(c.requires_python, python)
    ]
    return min(fitting, key=rank) if fitting else None


def _python_fits(requires_python: str | None, python: Version) -> bool:
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # as pip does: an unparsable Requires-Python does not exclude
