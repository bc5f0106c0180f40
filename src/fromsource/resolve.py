"""Backtracking resolution of requirements to sdists, with resolvelib.

The provider does no I/O itself: candidates come from an :class:`~fromsource.index.Index`
and dependencies from a *metadata source* callable. :class:`SdistMetadata` is the usual
source: an sdist's PKG-INFO when PEP 643 makes its ``Requires-Dist`` authoritative, otherwise
an injected ``metadata_for`` callback (bootstrap's builds the wheel and reads its METADATA).

One call resolves one environment; bootstrap resolves the top-level install set and every
build environment separately, as build isolation requires.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider, BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from fromsource.conflictfree import resolve_conflict_free
from fromsource.errors import InputError, ResolutionError
from fromsource.index import Index, ProjectNotFoundError, SdistCandidate, preferred_sdist
from fromsource.pkginfo import PkgInfo, read_pkg_info
from fromsource.target import TargetEnvironment

if TYPE_CHECKING:
    from resolvelib.providers import Preference
    from resolvelib.structs import RequirementInformation

MetadataSource = Callable[[SdistCandidate], Sequence[Requirement]]


class MetadataPending(Exception):  # a signal between the planner and resolve, not an error
    """Raised by a metadata source: this sdist's dependencies are known once it is built."""

    def __init__(self, candidate: SdistCandidate) -> None:
        super().__init__(str(candidate))
        self.candidate = candidate


class MetadataNeeded(Exception):  # likewise: never shown to a user
    """Raised by :func:`resolve`: these sdists must be built before it can finish.

    All of them at once: the resolution went on as if each had no dependencies, so the
    caller can build them side by side and resolve again once, not once per sdist.
    """

    def __init__(self, candidates: Sequence[SdistCandidate]) -> None:
        super().__init__(", ".join(map(str, candidates)))
        self.candidates = tuple(candidates)


# ------------------------------------------------------------------- metadata source


class SdistMetadata:
    """Dependencies of an sdist: static PKG-INFO (Metadata >= 2.2, Requires-Dist not
    Dynamic), else ``metadata_for(candidate)``. Fetched sdists land in ``sources``."""

    def __init__(
        self,
        index: Index,
        sources: Path,
        metadata_for: MetadataSource | None = None,
        *,
        pkg_info: Callable[[Path], PkgInfo | None] = read_pkg_info,
    ) -> None:
        self.index = index
        self.sources = sources
        self.metadata_for = metadata_for
        self.pkg_info = pkg_info  # bootstrap's remembers it by the sdist's digest
        self._cache: dict[SdistCandidate, list[Requirement]] = {}

    def __call__(self, candidate: SdistCandidate) -> list[Requirement]:
        if candidate not in self._cache:
            self._cache[candidate] = self._load(candidate)
        return list(self._cache[candidate])

    def _load(self, candidate: SdistCandidate) -> list[Requirement]:
        info = self.pkg_info(self.index.fetch(candidate, self.sources))
        static = info.static_requirements if info is not None else None
        if static is not None:
            return static
        if self.metadata_for is None:
            why = (
                "it has no PKG-INFO"
                if info is None
                else f"its PKG-INFO (Metadata-Version {info.metadata_version}) does not "
                "declare Requires-Dist statically"
            )
            raise ResolutionError(
                f"dependencies of {candidate} are unknown: {why}",
                hint="they are known once the sdist is built; bootstrap does that",
            )
        return list(self.metadata_for(candidate))


# ------------------------------------------------------------------------- provider


@dataclass(frozen=True, slots=True)
class Candidate:
    """An sdist chosen for an identifier; extras make a separate resolvelib candidate."""

    sdist: SdistCandidate
    extras: frozenset[str] = frozenset()

    @property
    def name(self) -> NormalizedName:
        return self.sdist.name

    @property
    def version(self) -> Version:
        return self.sdist.version

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras} {self.version}"


def identify(requirement: Requirement) -> str:
    """``name`` or ``name[extra1,extra2]``, canonicalized."""
    name = canonicalize_name(requirement.name)
    extras = sorted(canonicalize_name(e) for e in requirement.extras)
    return f"{name}[{','.join(extras)}]" if extras else name


class SdistProvider(AbstractProvider[Requirement, Candidate, str]):
    """resolvelib provider over an index and a metadata source (no I/O of its own)."""

    def __init__(
        self,
        index: Index,
        metadata: MetadataSource,
        *,
        constraints: Iterable[Requirement] = (),
        environment: TargetEnvironment | None = None,
    ) -> None:
        self.index = index
        self.metadata = metadata
        self.environment = environment or TargetEnvironment.current()
        self.constraints: dict[NormalizedName, SpecifierSet] = defaultdict(SpecifierSet)
        for constraint in constraints:
            if self.environment.evaluate(constraint.marker):
                key = canonicalize_name(constraint.name)
                self.constraints[key] &= constraint.specifier
        self.missing: dict[NormalizedName, str] = {}  # project -> why the index has none
        self._listed: dict[NormalizedName, list[SdistCandidate]] = {}
        self.dependencies_of: dict[Candidate, tuple[Requirement, ...]] = {}
        # identifier -> (requirement, parent) pairs seen, to explain conflicts as chains
        self.required_by: dict[str, list[tuple[Requirement, Candidate | None]]] = defaultdict(list)
        # sdists whose metadata the source could not give yet (taken as no dependencies)
        self.pending: dict[SdistCandidate, None] = {}

    def fresh(self) -> SdistProvider:
        """A provider with nothing seen yet, sharing this one's index listings."""
        other = SdistProvider(self.index, self.metadata, environment=self.environment)
        other.constraints = self.constraints
        other.missing, other._listed = self.missing, self._listed
        return other

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        if isinstance(requirement_or_candidate, Candidate):
            name, extras = requirement_or_candidate.name, requirement_or_candidate.extras
            return f"{name}[{','.join(sorted(extras))}]" if extras else name
        return identify(requirement_or_candidate)

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> Preference:
        causes = {identify(c.requirement) for c in backtrack_causes}
        causes |= {self.identify(c.parent) for c in backtrack_causes if c.parent is not None}
        pinned = any(
            spec.operator in ("==", "===") and not spec.version.endswith(".*")
            for info in information[identifier]
            for spec in info.requirement.specifier
        )
        # Settle conflict causes first (fast backjumping), then exact pins.
        return (identifier not in causes, not pinned, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        wanted = list(requirements[identifier])
        if not wanted:
            return []
        name = canonicalize_name(wanted[0].name)
        extras = frozenset(canonicalize_name(e) for e in wanted[0].extras)
        excluded = {c.version for c in incompatibilities[identifier]}
        specifier = self.constraints.get(name, SpecifierSet())
        for requirement in wanted:
            specifier &= requirement.specifier
        pinned = _exact_pins(wanted)
        by_version: dict[Version, list[SdistCandidate]] = defaultdict(list)
        for sdist in self.listed(name):
            if sdist.version in excluded or (sdist.yanked and sdist.version not in pinned):
                continue
            if self.environment.accepts_python(sdist.requires_python):
                by_version[sdist.version].append(sdist)
        # SpecifierSet.filter admits pre-releases only when asked or when nothing else fits.
        versions = sorted(specifier.filter(by_version), reverse=True)
        return [Candidate(preferred_sdist(by_version[v]), extras) for v in versions]

    def listed(self, name: NormalizedName) -> list[SdistCandidate]:
        """The index's sdists of ``name`` (cached; a missing project is simply empty)."""
        if name not in self._listed:
            try:
                self._listed[name] = self.index.candidates(name)
            except ProjectNotFoundError as exc:
                self.missing[name] = exc.message
                self._listed[name] = []
        return self._listed[name]

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        # resolvelib asks this for every criterion in every round: the name is canonicalized once.
        return _canonical(requirement.name) == candidate.name and (
            requirement.specifier.contains(candidate.version, prereleases=True)
        )

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        if candidate not in self.dependencies_of:
            try:
                declared = self.metadata(candidate.sdist)
            except MetadataPending as pending:
                self.pending[pending.candidate] = None
                declared = []
            chosen = tuple(r for r in declared if self.environment.evaluate(r.marker, candidate.extras))
            for requirement in chosen:
                if requirement.url:
                    raise ResolutionError(
                        f"{candidate.name} {candidate.version} requires {requirement}: "
                        "direct URL requirements cannot be built from an index"
                    )
            self.dependencies_of[candidate] = chosen
        dependencies = list(self.dependencies_of[candidate])
        if candidate.extras:  # tie name[extra] to the very same version of name
            dependencies.insert(0, Requirement(f"{candidate.name}=={candidate.version}"))
        for requirement in dependencies:
            self.required_by[identify(requirement)].append((requirement, candidate))
        return dependencies


@functools.cache
def _canonical(name: str) -> NormalizedName:
    return canonicalize_name(name)


def _exact_pins(requirements: Iterable[Requirement]) -> set[Version]:
    pins = set()
    for requirement in requirements:
        for spec in requirement.specifier:
            if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
                try:
                    pins.add(Version(spec.version))
                except InvalidVersion:
                    continue
    return pins


# -------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedPackage:
    """One package of a resolution; ``requires`` are its dependencies after markers."""

    name: NormalizedName
    version: Version
    sdist: SdistCandidate
    extras: frozenset[str]
    requires: tuple[Requirement, ...]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The packages of one environment, keyed by canonical name."""

    packages: Mapping[NormalizedName, ResolvedPackage]
    roots: tuple[NormalizedName, ...]  # names the top-level requirements asked for

    def pins(self) -> dict[NormalizedName, Version]:
        return {name: package.version for name, package in sorted(self.packages.items())}


def resolve(
    requirements: Iterable[Requirement | str],
    *,
    index: Index,
    metadata: MetadataSource,
    constraints: Iterable[Requirement] = (),
    environment: TargetEnvironment | None = None,
    max_rounds: int = 5000,
) -> Resolution:
    """Resolve one environment's requirements to sdists, backtracking on conflicts.

    Raises :class:`ResolutionError` with the chains of requirements that conflict, and
    :class:`MetadataNeeded` naming every sdist whose metadata source raised
    :class:`MetadataPending` (the rest of the resolution went on without their dependencies).
    """
    provider = SdistProvider(index, metadata, constraints=constraints, environment=environment)
    wanted = [
        r for r in (_parse_requirement(r) for r in requirements) if provider.environment.evaluate(r.marker)
    ]
    # Without conflicts, resolvelib's own sequence of pins, replayed in O(n log n).
    chosen = resolve_conflict_free(provider, wanted, max_rounds)
    if chosen is None:
        provider = provider.fresh()  # resolvelib from the start: its results, its reports
        for requirement in wanted:
            provider.required_by[identify(requirement)].append((requirement, None))
        resolver: Resolver[Requirement, Candidate, str] = Resolver(provider, BaseReporter())
        try:
            chosen = list(resolver.resolve(wanted, max_rounds=max_rounds).mapping.values())
        except ResolutionImpossible as exc:
            _raise_pending(provider)  # first learn what was missing, then judge
            raise ResolutionError(_explain(provider, exc.causes)) from None
        except ResolutionTooDeep as exc:
            _raise_pending(provider)
            raise ResolutionError(
                f"resolution gave up after {max_rounds} rounds of backtracking",
                hint="add constraints (--constraint FILE) to narrow the search",
            ) from exc
    _raise_pending(provider)
    return _collect(provider, chosen, wanted)


def _raise_pending(provider: SdistProvider) -> None:
    if provider.pending:
        raise MetadataNeeded(list(provider.pending))


def _parse_requirement(requirement: Requirement | str) -> Requirement:
    if isinstance(requirement, Requirement):
        return requirement
    try:
        return Requirement(requirement)
    except InvalidRequirement as exc:
        raise InputError(f"invalid requirement {requirement!r}: {exc}") from exc


def _collect(
    provider: SdistProvider, chosen: Iterable[Candidate], wanted: Sequence[Requirement]
) -> Resolution:
    extras: dict[NormalizedName, set[str]] = defaultdict(set)
    requires: dict[NormalizedName, dict[str, Requirement]] = defaultdict(dict)
    sdists: dict[NormalizedName, SdistCandidate] = {}
    for candidate in chosen:
        sdists[candidate.name] = candidate.sdist
        extras[candidate.name] |= candidate.extras
        for requirement in provider.dependencies_of.get(candidate, ()):
            requires[candidate.name].setdefault(str(requirement), requirement)
    packages = {
        name: ResolvedPackage(
            name=name,
            version=sdist.version,
            sdist=sdist,
            extras=frozenset(extras[name]),
            requires=tuple(requires[name][k] for k in sorted(requires[name])),
        )
        for name, sdist in sorted(sdists.items())
    }
    roots = tuple(dict.fromkeys(canonicalize_name(r.name) for r in wanted))
    return Resolution(packages, roots)


# ------------------------------------------------------------------ conflict report


def _explain(
    provider: SdistProvider,
    causes: Collection[RequirementInformation[Requirement, Candidate]],
) -> str:
    names = sorted({canonicalize_name(c.requirement.name) for c in causes})
    lines = [f"cannot resolve {', '.join(names)}: no sdist satisfies all of:"]
    for chain in sorted({_chain(provider, c.requirement, c.parent) for c in causes}):
        lines.append(f"  {chain}")
    for name in names:
        if name in provider.missing:
            lines.append(f"  ({provider.missing[name]})")
            continue
        listed = provider.listed(name)
        usable = sorted({s.version for s in listed if provider.environment.accepts_python(s.requires_python)})
        shown = ", ".join(map(str, usable[-8:])) or "none"
        note = f"  (sdists of {name} for Python {provider.environment.python_version}: {shown}"
        yanked = sorted({str(s.version) for s in listed if s.yanked})
        lines.append(note + (f"; yanked: {', '.join(yanked)})" if yanked else ")"))
    return "\n".join(lines)


def _chain(provider: SdistProvider, requirement: Requirement, parent: Candidate | None) -> str:
    """``requested app -> app 1.0 requires left -> left 1.0 requires shared<2``."""
    steps = [f"{parent} requires {requirement}" if parent else f"requested {requirement}"]
    seen = set()
    while parent is not None and parent not in seen:
        seen.add(parent)
        how = next(
            (
                (r, p)
                for r, p in provider.required_by[provider.identify(parent)]
                if provider.is_satisfied_by(r, parent)
            ),
            None,
        )
        if how is None:
            break
        requirement, parent = how
        steps.append(f"{parent} requires {requirement}" if parent else f"requested {requirement}")
    return " -> ".join(reversed(steps))
