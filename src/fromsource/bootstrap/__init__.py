"""Bootstrap: resolve a requirement's whole build graph and build all of it from source.

The planner interleaves discovery with building, because some edges are only known once
other packages are built:

- the top-level install set and every package's ``[build-system]`` environment are resolved
  separately (build isolation), from static sdist metadata where it is authoritative;
- an sdist whose ``Requires-Dist`` is dynamic is built first and its wheel's METADATA read
  (the resolution that needed it is retried then);
- backend requirements (``get_requires_for_build_wheel``) are known once a package's
  build-system environment is built: its first build attempt runs the hook in that
  environment and, if the backend asks for more, the planner resolves and builds that and
  retries with the larger environment.

Cycles of needs-to-build are checked before anything in them could be built, every time the
graph grows. Builds go through an :class:`~fromsource.executor.Executor`; the planner itself
is single-threaded, never prints, and reports progress through a :class:`Reporter`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from fromsource import __version__, installability
from fromsource.alternatives import Alternative, find_buildable
from fromsource.archives import iter_members
from fromsource.attest import dsse
from fromsource.attest.equivalence import (
    ROLE_PUBLISHED,
    ROLE_SEED,
    ROLE_STAGE1,
    equivalence_statement,
)
from fromsource.attest.keys import load_signer
from fromsource.attest.shape import timestamp_now
from fromsource.bootstrap.report import DONE as _DONE
from fromsource.bootstrap.report import BootstrapSummary, PackageReport, Reporter, Status
from fromsource.build import BuildSettings, BuildSystem, EnvWheel, parse_build_system
from fromsource.compare import compare_wheels
from fromsource.efficiency import measure
from fromsource.errors import (
    CycleError,
    ExecutorError,
    FromsourceError,
    IndexError_,
    ResolutionError,
)
from fromsource.executor import BuildOutcome, BuildRequest, Executor, LocalExecutor
from fromsource.fileutil import atomic_write_bytes, sha256_file
from fromsource.graph import BuildGraph, EdgeKind, GraphBuilder, Node, dump
from fromsource.incremental import (
    DigestCache,
    Fingerprint,
    find_reusable,
    load_backend_requires,
    remove_stale_temp_files,
    save_backend_requires,
)
from fromsource.index import Index, SdistCandidate, WheelCandidate
from fromsource.pkginfo import read_pkg_info
from fromsource.policy import Policy, external_policy_line
from fromsource.published import compare_published
from fromsource.publishers import PublisherGate
from fromsource.resolve import (
    Resolution,
    ResolvedPackage,
    SdistMetadata,
    TargetEnvironment,
    resolve,
)
from fromsource.sandbox import choose_level
from fromsource.seedassembly import suggested_arguments
from fromsource.seedplan import plan_seeds
from fromsource.seeds import ORIGIN_SOURCE, SeedCheck, check_seed
from fromsource.seedstore import SeedStore
from fromsource.untrusted import log_tail
from fromsource.wheelstore import best_wheel, read_wheel_info
from fromsource.workspace import Workspace

_DEAD = ("failed", "skipped", "cancelled")
# The error of a package whose build environment does not resolve (alternatives are sought).
ENV_UNRESOLVED = "its build environment cannot be resolved"
# --prefer-buildable: at most this many re-runs, each with the alternatives found.
_PREFER_ROUNDS = 3


# ------------------------------------------------------------------------ planner state


class _PendingMetadata(Exception):
    """A resolution needs the runtime dependencies of an sdist that must be built first."""

    def __init__(self, candidate: SdistCandidate) -> None:
        super().__init__(str(candidate))
        self.candidate = candidate


TaskKind = Literal["top", "build-system", "backend"]


@dataclass(eq=False)
class _Task:
    """One environment to resolve; ``blocked_on`` is a package whose metadata it awaits."""

    kind: TaskKind
    owner: Node | None
    blocked_on: Node | None = None


@dataclass(eq=False)
class _Package:
    """Mutable planner state of one node (internal; reports are frozen)."""

    node: Node
    sdist: SdistCandidate
    path: Path
    sha256: str
    build_system: BuildSystem
    bs_env: Resolution | None = None
    backend: tuple[Requirement, ...] | None = None  # None: the hook has not been asked yet
    full_env: Resolution | None = None
    status: Status | Literal["waiting", "running"] = "waiting"
    wheel: Path | None = None
    wheel_sha256: str | None = None
    report: PackageReport | None = None
    started: float = field(default=0.0)
    # The environment last found not reusable (so a full pool does not re-check it).
    stale_env: tuple[EnvWheel, ...] | None = None
    # Seeded cycles: the stage-1 wheel (built with seeds), and which stage is running.
    stage1_wheel: Path | None = None
    stage1_sha256: str | None = None
    running_stage1: bool = False
    # What the policy's [publishers] check verified, recorded on the sdist's dependency entry.
    sdist_annotations: dict[str, Any] = field(default_factory=dict)


def _parse_all(texts: Iterable[str], who: str) -> tuple[Requirement, ...]:
    try:
        return tuple(Requirement(t) for t in texts)
    except InvalidRequirement as exc:
        raise FromsourceError(f"{who}: invalid requirement: {exc}") from exc


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------------ the planner


class _Planner:
    def __init__(
        self,
        requirements: Sequence[str],
        *,
        workspace: Workspace,
        index: Index,
        key: Path,
        constraints: Sequence[Requirement],
        jobs: int,
        keep_going: bool,
        settings: BuildSettings,
        environment: TargetEnvironment,
        executor: Executor,
        reporter: Reporter,
        policy: Policy | None = None,
        evidence_dirs: Sequence[Path] = (),
        prefer_buildable: bool = False,
    ) -> None:
        self.requirements = tuple(requirements)
        self.prefer_buildable = prefer_buildable
        self.top: Resolution | None = None
        self.policy = policy
        self.publishers = (
            PublisherGate(policy, workspace, index, tuple(evidence_dirs))
            if policy is not None
            and (policy.publishers or policy.external_publishers or policy.externals_by_publisher)
            else None
        )
        self.seed_store = SeedStore(workspace)
        self.seed_checks: dict[Node, tuple[Path | None, list[SeedCheck]]] = {}
        self.seeded: dict[Node, frozenset[Node]] = {}  # seed -> members of the cycles it serves
        self.cycle_of: dict[Node, frozenset[Node]] = {}  # member -> its seeded cycle
        self.ws = workspace
        self.index = index
        self.key = key.absolute()
        self.keys = [load_signer(key).public_key]
        self.constraints = tuple(constraints)
        self.jobs = jobs
        self.keep_going = keep_going
        self.settings = settings
        self.environment = environment
        self.executor = executor
        self.reporter = reporter
        # The sandbox level is part of what a build depends on; unavailable: stop before work.
        self.fingerprint = Fingerprint.current(
            choose_level(settings.sandbox, require_network_isolation=settings.require_isolation).level
        )
        self.digest = DigestCache()
        self.metadata = SdistMetadata(index, workspace.sources, metadata_for=self._metadata_for)
        self.graph = GraphBuilder()
        self.graph_version = 0
        self.checked_version = -1
        self.provisional: set[tuple[Node, Node]] = set()
        self.packages: dict[Node, _Package] = {}
        self.tasks: list[_Task] = []
        self.tasks_added = 0
        self._add_task(_Task("top", None))
        self.resolved: dict[tuple[tuple[str, ...], tuple[str, ...]], Resolution] = {}
        self.running: dict[Future[BuildOutcome], _Package] = {}
        self.stopping = False
        self.roots: tuple[Node, ...] = ()

    # -- main loop -----------------------------------------------------------------

    def run(self) -> tuple[PackageReport, ...]:
        try:
            while True:
                progressed = self._discover()
                self._check_cycles()
                progressed = self._schedule() or progressed
                if progressed:
                    continue
                if not self.running:
                    break
                self._collect()
            self._check_stuck()
        finally:
            self.executor.shutdown()
            self._dump()
        self.ws.update_simple_index()
        return self._reports()

    # -- discovery -----------------------------------------------------------------

    def _discover(self) -> bool:
        progressed = False
        changed = True
        while changed:
            changed = False
            added = self.tasks_added
            for task in list(self.tasks):
                if task.blocked_on is not None:
                    blocker = self.packages[task.blocked_on]
                    if blocker.status in _DEAD and task.owner is not None:
                        self._skip(self.packages[task.owner], [blocker])
                        self.tasks.remove(task)
                        changed = True
                    if blocker.status not in _DONE:
                        continue
                    task.blocked_on = None
                if task.owner is not None and self.packages[task.owner].status in _DEAD:
                    self.tasks.remove(task)
                    continue
                try:
                    result = self._resolve_task(task)
                except (ResolutionError, IndexError_) as exc:
                    if task.owner is None or not (self.keep_going or self.prefer_buildable):
                        raise
                    # Only this package's build environment is unsatisfiable: fail it alone.
                    self.tasks.remove(task)
                    self._fail(self.packages[task.owner], exc.message)
                    changed = True
                    continue
                if isinstance(result, SdistCandidate):
                    node = self._ensure_node(result)
                    task.blocked_on = node
                    if task.owner is not None:
                        self.provisional.add((task.owner, node))
                        self.graph_version += 1
                    changed = changed or self.packages[node].status in _DONE
                    continue
                self.tasks.remove(task)
                self._apply(task, result)
                changed = True
            changed = changed or self.tasks_added != added
            progressed = progressed or changed
        return progressed

    def _owner(self, task: _Task) -> _Package:
        if task.owner is None:
            raise AssertionError(f"a {task.kind} task without an owner")
        return self.packages[task.owner]

    def _add_task(self, task: _Task) -> None:
        self.tasks.append(task)
        self.tasks_added += 1

    def _resolve_task(self, task: _Task) -> Resolution | SdistCandidate:
        pins: tuple[Requirement, ...] = ()
        if task.kind == "top":
            self.reporter.discovering("resolving " + " ".join(self.requirements))
            wanted: Sequence[Requirement | str] = self.requirements
        else:
            package = self._owner(task)
            wanted = package.build_system.requires
            if task.kind == "backend" and package.bs_env is not None:
                wanted = (*package.build_system.requires, *(package.backend or ()))
                # The hook ran with these versions; the build must keep them.
                pins = tuple(Requirement(f"{p.name}=={p.version}") for p in package.bs_env.packages.values())
            self.reporter.discovering(f"resolving the build environment of {package.node}")
        key = (tuple(sorted(map(str, wanted))), tuple(sorted(map(str, pins))))
        if key in self.resolved:
            return self.resolved[key]
        try:
            result = resolve(
                wanted,
                index=self.index,
                metadata=self.metadata,
                constraints=(*self.constraints, *pins),
                environment=self.environment,
            )
        except _PendingMetadata as pending:
            return pending.candidate
        self.resolved[key] = result
        return result

    def _metadata_for(self, candidate: SdistCandidate) -> list[Requirement]:
        """Runtime requirements of an sdist whose PKG-INFO is not authoritative."""
        node = Node(candidate.name, str(candidate.version))
        package = self.packages.get(node)
        if package is not None and package.wheel is not None:
            return list(read_wheel_info(package.wheel).requires_dist)
        seed = self._accepted_seed(node)
        if seed is not None:  # reviewed metadata: inspect compared it with the sdist's
            return list(read_wheel_info(seed).requires_dist)
        raise _PendingMetadata(candidate)

    # -- seeds and externals -------------------------------------------------------

    def _accepted_seed(self, node: Node) -> Path | None:
        """The admitted seed of exactly this version that the policy accepts, if any."""
        if node not in self.seed_checks:
            found: Path | None = None
            checks: list[SeedCheck] = []
            for wheel in self.seed_store.for_project(node.name):
                # The version from the file name: the seed's bytes are read only once the
                # policy has checked their digest against the evidence.
                if str(parse_wheel_filename(wheel.name)[1]) != node.version:
                    continue
                if self.policy is None:
                    checks.append(
                        SeedCheck(
                            wheel.name,
                            sha256_file(wheel),
                            (),
                            ("no --policy given to decide on its evidence",),
                        )
                    )
                    continue
                # A source seed must be assembled from the very sdist this run builds.
                package = self.packages.get(node)
                check = check_seed(
                    wheel,
                    self.policy,
                    [self.seed_store.evidence_file(wheel.name)],
                    sdist_dirs=(self.ws.sources,),
                    expected_sdist=package.sha256 if package else None,
                )
                checks.append(check)
                if check.accepted and found is None:
                    found = wheel
            self.seed_checks[node] = (found, checks)
        return self.seed_checks[node][0]

    def _seed_origin(self, node: Node) -> str | None:
        found, checks = self.seed_checks.get(node, (None, []))
        return next((c.origin for c in checks if found is not None and c.wheel == found.name), None)

    def _external(self, node: Node) -> tuple[Path, str] | None:
        """A pre-built wheel the policy names by digest for exactly this package.

        Taken from WORKSPACE/externals/ or, when absent there, fetched from the index with
        the policy's digest checked before and after the download.
        """
        if self.policy is None:
            return None
        for digest, filename in sorted(self.policy.externals.items()):
            try:
                info = parse_wheel_filename(filename)
            except InvalidWheelFilename:
                continue
            if info[0] != canonicalize_name(node.name) or str(info[1]) != node.version:
                continue
            path = self.ws.externals / filename
            if not path.is_file():
                self.reporter.discovering(f"fetching external {filename}")
                published = [c for c in self.index.wheel_candidates(node.name) if c.filename == filename]
                if not published:
                    raise FromsourceError(
                        f"the policy names external {filename} for {node}, but it is neither in "
                        f"{self.ws.externals}/ nor on the index",
                        hint=f"put that wheel into {self.ws.externals}/ (its sha256 must be {digest})",
                    )
                path = self.index.fetch_wheel(published[0], self.ws.externals, expected_sha256=digest)
            if self.digest(path) != digest:
                raise FromsourceError(
                    f"{path} does not have the sha256 the policy names ({digest}); refusing it"
                )
            spec = self.policy.external_publishers.get(digest)
            if spec is not None and self.publishers is not None:  # digest and publisher
                self.publishers.verify_file(
                    node.name, self._published_wheel(node, filename), path, digest, spec
                )
            return path, digest
        spec = self.policy.externals_by_publisher.get(canonicalize_name(node.name))
        if spec is None or self.publishers is None:
            return None
        # Any wheel of this release its publisher published: new releases need no policy edit.
        self.reporter.discovering(f"fetching external {node} published by {spec}")
        candidate = best_wheel(self.index.wheel_candidates(node.name), Version(node.version))
        if candidate is None:
            raise FromsourceError(
                f"the policy admits {node} as an external published by {spec}, "
                "but the index has no wheel of it for this environment"
            )
        path = self.index.fetch_wheel(candidate, self.ws.externals)
        digest = self.digest(path)
        self.publishers.verify_file(node.name, candidate, path, digest, spec)
        return path, digest

    def _published_wheel(self, node: Node, filename: str) -> WheelCandidate | None:
        """The index's entry for an external wheel, for its provenance link (if reachable)."""
        try:
            return next((c for c in self.index.wheel_candidates(node.name) if c.filename == filename), None)
        except FromsourceError:
            return None

    def _apply(self, task: _Task, result: Resolution) -> None:
        nodes = {name: self._ensure_node(p.sdist) for name, p in result.packages.items()}
        for name, package in result.packages.items():
            for requirement in package.requires:
                target = nodes.get(canonicalize_name(requirement.name))
                if target is not None and target != nodes[name]:
                    self._edge(nodes[name], target, "install", str(requirement))
        if task.kind == "top":
            self.top = result
            self.roots = tuple(nodes[n] for n in result.roots if n in nodes)
            for root in self.roots:
                self.graph.add_root(root)
            return
        owner = self._owner(task)
        self.provisional = {(s, t) for s, t in self.provisional if s != owner.node}
        if task.kind == "build-system":
            owner.bs_env = result
            self._edges_to(owner, owner.build_system.requires, nodes, "build-system")
            hinted = load_backend_requires(self.ws, owner.node.name, owner.node.version, owner.sha256)
            if hinted is not None:
                self._learn_backend(owner, hinted)
        else:
            owner.full_env = result
            self._edges_to(owner, owner.backend or (), nodes, "backend")

    def _learn_backend(self, owner: _Package, texts: Sequence[str]) -> None:
        owner.backend = _parse_all(texts, f"{owner.node} backend get_requires_for_build_wheel")
        owner.full_env = None
        if self._wanted(owner.backend):
            self._add_task(_Task("backend", owner.node))

    def _wanted(self, requirements: Iterable[Requirement]) -> list[Requirement]:
        return [r for r in requirements if self.environment.evaluate(r.marker)]

    def _edges_to(
        self,
        owner: _Package,
        requirements: Iterable[Requirement],
        nodes: dict[NormalizedName, Node],
        kind: EdgeKind,
    ) -> None:
        for requirement in self._wanted(requirements):
            target = nodes.get(canonicalize_name(requirement.name))
            if target is not None:
                self._edge(owner.node, target, kind, str(requirement))

    def _edge(self, source: Node, target: Node, kind: EdgeKind, requirement: str) -> None:
        self.graph.add_edge(source, target, kind, requirement)
        self.graph_version += 1

    def _ensure_node(self, sdist: SdistCandidate) -> Node:
        probe = Node(sdist.name, str(sdist.version))
        if probe in self.packages:
            return self.packages[probe].node
        self.reporter.discovering(f"reading {sdist.filename}")
        path = self.index.fetch(sdist, self.ws.sources)
        display, pyproject = _sdist_facts(path)
        try:
            build_system = parse_build_system(pyproject)
        except FromsourceError as exc:
            raise FromsourceError(f"{sdist.filename}: {exc.message}") from exc
        node = Node(sdist.name, str(sdist.version), display or sdist.name)
        package = _Package(node, sdist, path, self.digest(path), build_system)
        self.packages[node] = package
        self.graph.add_node(node)
        self.graph_version += 1
        external = self._external(node)
        if external is not None:  # used, not built: its build requirements are not needed
            package.wheel, package.wheel_sha256 = external
            self.ws.publish_external(external[0])  # the output index must be installable
            self._finish(
                package,
                PackageReport(
                    name=node.display_name, version=node.version, status="external", wheel=external[0]
                ),
            )
        else:
            if self.publishers is not None and self.publishers.required(node.name):
                # before anything of this sdist is built
                package.sdist_annotations = self.publishers.check(node.name, sdist, path, package.sha256)
            self._check_origin(sdist.name, path)  # likewise, when the policy asks
            self._add_task(_Task("build-system", node))
        self.reporter.planned(len(self.packages))
        return node

    def _check_origin(self, name: str, path: Path) -> None:
        """[sources].require_origin: the sdist must match its tagged tree before it is built."""
        if self.policy is not None and self.policy.requires_origin(name):
            from fromsource.origin.store import require_origin  # git: only when asked for

            self.reporter.discovering(f"checking the origin of {path.name}")
            require_origin(
                self.ws,
                path,
                self.digest(path),
                signer=load_signer(self.key),
                repository=self.policy.repositories.get(canonicalize_name(name)),
            )

    # -- cycles --------------------------------------------------------------------

    def _current_graph(self, provisional: bool) -> BuildGraph:
        if not provisional or not self.provisional:
            return self.graph.build()
        copy = GraphBuilder()
        built = self.graph.build()
        for node in built.nodes:
            copy.add_node(node)
        for edge in built.edges:
            copy.add_edge(edge.source, edge.target, edge.kind, edge.requirement)
        for source, target in self.provisional:
            # The owner's build environment is being resolved and needs target built.
            copy.add_edge(source, target, "build-system", "(runtime metadata needed)")
        return copy.build()

    def _check_cycles(self) -> None:
        """Break every cycle with the fewest accepted seeds, or stop with what would."""
        if self.checked_version == self.graph_version:
            return
        self.checked_version = self.graph_version
        graph = self._current_graph(provisional=True)
        cycles = graph.cycles()
        if not cycles:
            return
        in_cycles = {n for c in cycles for n in c.members}
        available = {n for n in in_cycles if self._accepted_seed(n) is not None}
        plan = plan_seeds(graph, available, self.seeded)
        for seed, members in plan.seeded.items():
            self.seeded[seed] = members
            for member in members:
                self.cycle_of[member] = self.cycle_of.get(member, frozenset()) | members
        if plan.unbroken:
            self.stopping = True
            raise CycleError(self._cycle_message(plan.unbroken), hint=self._cycle_hint())

    def _cycle_message(self, unbroken: Sequence[tuple[Any, tuple[Node, ...]]]) -> str:
        lines = [
            "the build graph has cycles that no accepted seed breaks, so nothing in them "
            "can be built from source:"
        ]
        for cycle, needed in unbroken:
            lines.append(f"  {cycle.cycle_path()}")
            names = " and ".join(str(n) for n in needed)
            lines.append(
                f"    a seed of {names} would break it; assemble one from its sdist (no pre-built artifact):"
            )
            for node in needed:
                package = self.packages[node]
                args = suggested_arguments(package.path)
                args = "--layout SRC=DEST " if args is None else f"{args} " if args else ""
                lines.append(
                    f"      fromsource seed assemble {package.path} {args}"
                    f"--key KEY --workspace {self.ws.root}"
                )
            lines.append("    or review the published wheel and admit it:")
            for node in needed:
                package = self.packages[node]
                wheel = f"{node.name.replace('-', '_').replace('.', '_')}-{node.version}-py3-none-any.whl"
                lines.append(
                    f"      fromsource seed admit {wheel} --sdist {package.path} "
                    f"--key REVIEWER_KEY --workspace {self.ws.root}"
                )
                for check in self.seed_checks.get(node, (None, []))[1]:
                    for problem in check.problems:
                        lines.append(f"      (seed {check.wheel} refused: {problem})")
        return "\n".join(lines)

    def _cycle_hint(self) -> str:
        return (
            "a source seed needs no pre-built file: assemble it, then re-run with a --policy "
            "whose [seeds].evidence includes source. Otherwise get the published wheel "
            "(pip download --no-deps --only-binary :all: NAME==VERSION), admit it with the "
            "command above, and re-run with --policy naming the reviewer's public key in "
            "[trust].reviewer_keys"
        )

    def _check_stuck(self) -> None:
        """After the loop: anything still waiting must be explained, never dropped."""
        if self.stopping:
            return
        waiting = [p for p in self.packages.values() if p.status == "waiting"]
        stuck_tasks = [
            t for t in self.tasks if t.blocked_on is None or self.packages[t.blocked_on].status not in _DEAD
        ]
        if waiting or stuck_tasks:
            # Unreachable if the cycle check is complete; say so rather than lose packages.
            names = ", ".join(sorted(str(p.node) for p in waiting)) or "the top-level resolution"
            raise CycleError(f"no progress possible for {names}: they wait on each other")

    # -- scheduling ----------------------------------------------------------------

    def _environment_of(self, package: _Package) -> Resolution | None:
        if package.bs_env is None:
            return None
        if package.backend is None or not self._wanted(package.backend):
            return package.bs_env
        return package.full_env

    def _schedule(self) -> bool:
        progressed = False
        for package in sorted(self.packages.values(), key=lambda p: p.node):
            if package.status != "waiting":
                continue
            env = self._environment_of(package)
            if env is None:
                continue
            stage1 = package.node in self.cycle_of and package.stage1_wheel is None
            deps = [self.packages[self._node_of(p)] for p in env.packages.values()]
            dead = [d for d in deps if d.status in _DEAD]
            if dead:
                self._skip(package, dead)
                progressed = True
                continue
            if self.stopping or not all(self._ready(d, package, stage1) for d in deps):
                continue
            wheels = self._env_wheels(package, env, stage1)
            reusable = None
            if package.stale_env != wheels:
                reusable = find_reusable(
                    self.ws,
                    package.node.name,
                    package.node.version,
                    sdist_sha256=package.sha256,
                    env=wheels,
                    fingerprint=self.fingerprint,
                    keys=self.keys,
                    digest=self.digest,
                    directory=self.ws.stage1 if stage1 else None,
                    sdist_annotations=package.sdist_annotations,
                )
                package.stale_env = wheels
            if reusable is not None:
                if stage1:
                    package.stage1_wheel, package.stage1_sha256 = reusable.wheel, reusable.sha256
                else:
                    package.wheel, package.wheel_sha256 = reusable.wheel, reusable.sha256
                    self._finish(
                        package,
                        self._final_report(
                            package,
                            PackageReport(
                                name=package.node.display_name,
                                version=package.node.version,
                                status="reused",
                                wheel=reusable.wheel,
                                attestation=reusable.attestation,
                            ),
                        ),
                    )
                progressed = True
                continue
            if len(self.running) >= self.jobs:
                continue
            self._submit(package, wheels, stage1)
            progressed = True
        return progressed

    def _seed_for(self, dep: _Package, package: _Package) -> bool:
        """Whether ``dep``'s seed stands in for it in ``package``'s build environment."""
        return package.node in self.seeded.get(dep.node, frozenset())

    def _ready(self, dep: _Package, package: _Package, stage1: bool) -> bool:
        members = self.cycle_of.get(package.node, frozenset())
        if stage1 and self._seed_for(dep, package):
            return True
        if dep.node in members:  # inside a seeded cycle, stages use stage-1 wheels
            return dep.stage1_wheel is not None
        return dep.status in _DONE

    def _node_of(self, package: ResolvedPackage) -> Node:
        return self.packages[Node(package.name, str(package.version))].node

    def _env_wheels(self, package: _Package, env: Resolution, stage1: bool = False) -> tuple[EnvWheel, ...]:
        bs_names = {canonicalize_name(r.name) for r in self._wanted(package.build_system.requires)}
        backend_names = {canonicalize_name(r.name) for r in self._wanted(package.backend or ())}
        members = self.cycle_of.get(package.node, frozenset())
        wheels = []
        for name, resolved in sorted(env.packages.items()):
            dep = self.packages[self._node_of(resolved)]
            edge = "build-system" if name in bs_names else "backend" if name in backend_names else "install"
            if stage1 and self._seed_for(dep, package):
                seed = self._accepted_seed(dep.node)
                if seed is None:
                    raise AssertionError(f"{dep.node} was seeded without an accepted seed")
                wheels.append(EnvWheel(seed, self.digest(seed), edge, seed=True))
            elif dep.node in members:
                if dep.stage1_wheel is None or dep.stage1_sha256 is None:
                    raise AssertionError(f"{dep.node} has no stage-1 wheel yet")
                wheels.append(EnvWheel(dep.stage1_wheel, dep.stage1_sha256, edge))
            else:
                if dep.wheel is None or dep.wheel_sha256 is None:
                    raise AssertionError(f"{dep.node} is not built yet")
                wheels.append(EnvWheel(dep.wheel, dep.wheel_sha256, edge, external=dep.status == "external"))
        return tuple(wheels)

    def _submit(self, package: _Package, wheels: tuple[EnvWheel, ...], stage1: bool) -> None:
        node = package.node
        request = BuildRequest(
            name=node.name,
            version=node.version,
            sdist=package.path.absolute(),
            sdist_sha256=package.sha256,
            sdist_uri=package.sdist.url,
            sdist_unverified=package.sdist.unverified,
            requirement=f"{node.name}=={node.version}",
            env=wheels,
            workspace=self.ws.root.absolute(),
            settings=self.settings,
            key=self.key,
            stage1=stage1,
            sdist_annotations=package.sdist_annotations,
        )
        package.status = "running"
        package.running_stage1 = stage1
        package.started = time.perf_counter()
        self.reporter.started(node.display_name + (" (stage 1)" if stage1 else ""), node.version)
        self.running[self.executor.submit(request)] = package

    def _final_report(self, package: _Package, report: PackageReport) -> PackageReport:
        """For a member of a seeded cycle: compare with stage 1 and the seed, attest both."""
        if package.node not in self.cycle_of or package.wheel is None:
            return report
        if package.stage1_wheel is None or package.wheel_sha256 is None:
            raise AssertionError(f"{package.node} finished stage 2 without a stage-1 wheel")
        signer = load_signer(self.key)
        now = timestamp_now()
        lines = []
        stage1 = compare_wheels(package.stage1_wheel, package.wheel)
        lines.append(
            dsse.sign(
                equivalence_statement(
                    stage1,
                    rebuild_sha256=package.wheel_sha256,
                    reference_sha256=self.digest(package.stage1_wheel),
                    role=ROLE_STAGE1,
                    tool_version=__version__,
                    compared_on=now,
                ),
                signer,
            )
        )
        seed = self._accepted_seed(package.node) if package.node in self.seeded else None
        seed_equivalent = None
        origin = self._seed_origin(package.node) if seed is not None else None
        seed_differences: tuple[str, ...] = ()
        published = None
        if seed is not None:
            against_seed = compare_wheels(seed, package.wheel)
            seed_equivalent = against_seed.equivalent
            seed_differences = tuple(d.name for d in against_seed.differences)
            lines.append(
                dsse.sign(
                    equivalence_statement(
                        against_seed,
                        rebuild_sha256=package.wheel_sha256,
                        reference_sha256=self.digest(seed),
                        role=ROLE_SEED,
                        tool_version=__version__,
                        compared_on=now,
                    ),
                    signer,
                )
            )
        if origin == ORIGIN_SOURCE:  # nothing published was used: does it reproduce?
            self.reporter.discovering(f"{package.node}: comparing the published wheel with stage 2")
            published, comparison, path = compare_published(
                self.index, package.node.name, package.node.version, package.wheel, self.ws.published
            )
            if comparison is not None and path is not None and published.sha256 is not None:
                lines.append(
                    dsse.sign(
                        equivalence_statement(
                            comparison,
                            rebuild_sha256=package.wheel_sha256,
                            reference_sha256=published.sha256,
                            role=ROLE_PUBLISHED,
                            tool_version=__version__,
                            compared_on=now,
                        ),
                        signer,
                    )
                )
        atomic_write_bytes(
            self.ws.attestations / f"{package.wheel.name}.rebuild.intoto.jsonl", b"".join(lines)
        )
        return replace(
            report,
            seed=seed.name if seed is not None else None,
            stage1_wheel=package.stage1_wheel,
            stage1_equivalent=stage1.equivalent,
            seed_equivalent=seed_equivalent,
            seed_origin=origin,
            seed_differences=seed_differences,
            published=published,
        )

    def _collect(self) -> None:
        done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: self.running[f].node):
            package = self.running.pop(future)
            try:
                outcome = future.result()
            except ExecutorError:  # the cluster is gone: stop; a re-run resumes
                raise
            except Exception as exc:  # the executor itself broke (a worker died, say)
                outcome = BuildOutcome(error=f"the executor failed: {type(exc).__name__}: {exc}")
            self._outcome(package, outcome)

    def _outcome(self, package: _Package, outcome: BuildOutcome) -> None:
        node = package.node
        if outcome.needs is not None:
            save_backend_requires(self.ws, node.name, node.version, package.sha256, outcome.needs)
            package.status = "waiting"
            self._learn_backend(package, outcome.needs)
            return
        if not outcome.ok:
            self._finish(
                package,
                PackageReport(
                    name=node.display_name,
                    version=node.version,
                    status="failed",
                    log=outcome.log,
                    seconds=time.perf_counter() - package.started,
                    error=(outcome.error or "build failed").splitlines()[0],
                    log_tail=log_tail(outcome.log),
                ),
            )
            if not self.keep_going:
                self.stopping = True
            return
        if outcome.wheel is None or outcome.attestation is None or outcome.wheel_sha256 is None:
            raise AssertionError("a successful build outcome without its files")
        self.digest.forget(outcome.wheel)
        self.digest.forget(outcome.attestation)
        save_backend_requires(self.ws, node.name, node.version, package.sha256, outcome.backend_requires)
        env = self._environment_of(package)
        if outcome.backend_requires and env is not None:
            nodes = {name: self._node_of(p) for name, p in env.packages.items()}
            backend = _parse_all(outcome.backend_requires, f"{node} backend")
            self._edges_to(package, backend, nodes, "backend")
        if package.running_stage1:  # stage 2 follows once the whole cycle has a stage 1
            package.stage1_wheel, package.stage1_sha256 = outcome.wheel, outcome.wheel_sha256
            package.status = "waiting"
            self.reporter.discovering(f"{node}: stage 1 built with seeds; stage 2 next")
            return
        package.wheel, package.wheel_sha256 = outcome.wheel, outcome.wheel_sha256
        self._finish(
            package,
            self._final_report(
                package,
                PackageReport(
                    name=node.display_name,
                    version=node.version,
                    status="built",
                    wheel=outcome.wheel,
                    attestation=outcome.attestation,
                    log=outcome.log,
                    seconds=outcome.seconds,
                    other_results=outcome.other_results,
                ),
            ),
        )

    def _fail(self, package: _Package, error: str) -> None:
        self._finish(
            package,
            PackageReport(
                name=package.node.display_name,
                version=package.node.version,
                status="failed",
                error=f"{ENV_UNRESOLVED}: {error.splitlines()[0]}",
                log_tail="\n".join(error.splitlines()[1:]),
            ),
        )

    def _skip(self, package: _Package, dead: Sequence[_Package]) -> None:
        self._finish(
            package,
            PackageReport(
                name=package.node.display_name,
                version=package.node.version,
                status="skipped",
                error="a package its build needs did not build",
                blocked_by=tuple(sorted({str(d.node) for d in dead})),
            ),
        )

    def _finish(self, package: _Package, report: PackageReport) -> None:
        package.status = report.status
        package.report = report
        self.reporter.finished(report)

    # -- results -------------------------------------------------------------------

    def _reports(self) -> tuple[PackageReport, ...]:
        reports = []
        for package in sorted(self.packages.values(), key=lambda p: p.node):
            if package.report is None:
                package.report = PackageReport(
                    name=package.node.display_name,
                    version=package.node.version,
                    status="cancelled",
                    error="not built: the run stopped after a failure",
                )
            reports.append(package.report)
        return tuple(reports)

    def trust_base(self) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, str], ...]]:
        """Seeds and externals this run rested on; and admitted seeds it refused to use."""
        base: list[dict[str, Any]] = []
        for node in sorted(self.seeded):
            seed = self._accepted_seed(node)
            checks = self.seed_checks.get(node, (None, []))[1]
            evidence = [
                f"{e.kind}: {e.detail}" for c in checks if seed and c.wheel == seed.name for e in c.evidence
            ]
            base.append(
                {
                    "kind": "seed",
                    "origin": self._seed_origin(node),
                    "name": str(node),
                    "wheel": seed.name if seed else None,
                    "sha256": self.digest(seed) if seed else None,
                    "evidence": evidence,
                    "cycle": sorted(str(m) for m in self.seeded[node]),
                }
            )
        source = self.policy.source if self.policy else "the policy"
        for package in sorted(self.packages.values(), key=lambda p: p.node):
            if package.status == "external" and package.wheel is not None:
                base.append(
                    {
                        "kind": "external",
                        "name": str(package.node),
                        "wheel": package.wheel.name,
                        "sha256": package.wheel_sha256,
                        "evidence": self._external_evidence(package, source),
                    }
                )
        refused = []
        for wheel in self.seed_store.wheels():
            info = read_wheel_info(wheel)
            node = Node(info.name, str(info.version))
            if node in self.packages and node not in self.seeded:
                refused.append(
                    {
                        "seed": wheel.name,
                        "reason": f"{node} is in no build cycle; a seed is only used where a cycle forces it",
                    }
                )
        return tuple(base), tuple(refused)

    def _external_evidence(self, package: _Package, source: str) -> list[str]:
        assert self.policy is not None  # noqa: S101 - externals exist only under a policy
        evidence = []
        if package.wheel_sha256 in self.policy.externals:
            evidence.append(f"named by sha256 in {source}")
        spec = self.policy.external_publishers.get(
            package.wheel_sha256 or ""
        ) or self.policy.externals_by_publisher.get(canonicalize_name(package.node.name))
        if spec is not None:
            evidence.append(f"published by {spec} (verified; policy {source})")
        return evidence

    def externals_suggested(
        self, blocking: set[str], alternatives: Sequence[Alternative] = ()
    ) -> tuple[dict[str, str], ...]:
        """Policy lines admitting published wheels for what keeps a requested requirement
        from installing (``blocking``: "name version" labels), the fewest: a skipped
        package's own wheel rather than its build tools' when that wheel is compiled (it could
        not be read anyway); a pure-Python package that waits only for its build tools gets
        the tools instead, so it is still built from source. Nothing where another version
        builds (``alternatives``)."""
        by_label = {str(p.node): p for p in self.packages.values()}
        other_version = {a.package for a in alternatives}
        lines: dict[str, str] = {}
        todo, seen = sorted(blocking), set()
        while todo:
            label = todo.pop(0)
            package = by_label.get(label)
            if label in seen or package is None or label in other_version:
                continue
            seen.add(label)
            if package.status not in ("failed", "skipped"):
                continue
            try:
                wheel = best_wheel(
                    self.index.wheel_candidates(package.node.name), Version(package.node.version)
                )
            except FromsourceError:
                wheel = None
            blocked_by = list(package.report.blocked_by) if package.report is not None else []
            pure = wheel is not None and all(t.platform == "any" for t in wheel.tags)
            if (
                wheel is not None
                and wheel.sha256
                and not (package.status == "skipped" and pure and blocked_by)
            ):
                lines[label] = external_policy_line(wheel)
            else:  # no usable wheel of its own, or pure Python: unblock its build
                todo += blocked_by
        return tuple({"package": label, "line": line} for label, line in sorted(lines.items()))

    def alternatives(self) -> tuple[Alternative, ...]:
        """For each package whose build environment does not resolve: a version that does."""
        found = []
        graph = self.graph.build()
        for package in sorted(self.packages.values(), key=lambda p: p.node):
            report = package.report
            if (
                report is None
                or report.status != "failed"
                or not (report.error or "").startswith(ENV_UNRESOLVED)
            ):
                continue
            allowed = [_specifier(e.requirement) for e in graph.edges if e.target == package.node]
            allowed += [
                _specifier(r)
                for r in self.requirements
                if canonicalize_name(Requirement(r).name) == package.node.name
            ]
            self.reporter.discovering(f"looking for a buildable version of {package.node}")
            alternative = find_buildable(
                package.node.display_name,
                Version(package.node.version),
                reason=report.error or "",
                index=self.index,
                sources=self.ws.sources,
                metadata=SdistMetadata(self.index, self.ws.sources, self._metadata_or_none),
                constraints=self.constraints,
                environment=self.environment,
                allowed=allowed,
            )
            if alternative is not None:
                found.append(alternative)
        return tuple(found)

    def _metadata_or_none(self, candidate: SdistCandidate) -> list[Requirement]:
        # Looking for alternatives builds nothing: unknown runtime metadata counts as none.
        try:
            return self._metadata_for(candidate)
        except _PendingMetadata:
            return []

    def _dump(self) -> None:
        # A run whose top-level resolution failed learned nothing: keep the last graph (the
        # pins --frozen re-runs from).
        if self.top is not None:
            dump(self.graph.build(), self.ws.graph_file)


def _specifier(requirement: str | None) -> SpecifierSet:
    try:
        return Requirement(requirement).specifier if requirement else SpecifierSet()
    except InvalidRequirement:
        return SpecifierSet()


def _sdist_facts(sdist: Path) -> tuple[str | None, bytes | None]:
    """The project's own spelling (PKG-INFO ``Name``) and ``pyproject.toml``, in one pass."""
    pyproject: bytes | None = None
    has_pkg_info = False
    for member in iter_members(sdist):
        parts = PurePosixPath(member.name).parts
        if len(parts) != 2:
            continue
        if parts[1] == "pyproject.toml":
            pyproject = member.data
        elif parts[1] == "PKG-INFO":
            has_pkg_info = True
        if pyproject is not None and has_pkg_info:
            break
    info = read_pkg_info(sdist) if has_pkg_info else None
    return (info.name if info else None), pyproject


class _AcrossRounds:
    """The run's executor, shut down once after the last round (--prefer-buildable repeats
    the planner; a round ends with nothing running)."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        return self.executor.submit(request)

    def shutdown(self) -> None:
        return None


def bootstrap(
    requirements: Sequence[str],
    *,
    workspace: Workspace,
    index: Index,
    key: Path,
    constraints: Sequence[Requirement] = (),
    jobs: int | None = None,
    keep_going: bool = False,
    settings: BuildSettings | None = None,
    environment: TargetEnvironment | None = None,
    executor: Executor | None = None,
    reporter: Reporter | None = None,
    policy: Policy | None = None,
    evidence_dirs: Sequence[Path] = (),
    prefer_buildable: bool = False,
) -> BootstrapSummary:
    """Build ``requirements`` and their whole build closure from source into ``workspace``.

    Cycles are broken with the fewest admitted seeds ``policy`` accepts; members of a seeded
    cycle are built twice (stage 1 with seeds into stage1/, stage 2 from stage-1 wheels only
    into wheels/) and compared. Holds the workspace lock for the whole run.
    Raises :class:`CycleError` (a cycle no accepted seed breaks, before
    anything in it is built), :class:`~fromsource.errors.ResolutionError` (a conflict, with
    the chain of requirements) or other :class:`FromsourceError` for bad input; build
    failures do not raise, they are in the summary.

    With ``prefer_buildable``, a package whose build environment does not resolve fails
    alone (as with ``keep_going``) and the run is repeated with the closest version whose
    build environment resolves pinned; each such choice is in the summary's ``choices``.
    """
    start = time.perf_counter()
    jobs = jobs or default_jobs()
    workspace.create()
    chosen: list[Alternative] = []
    real = executor or LocalExecutor(jobs)
    with workspace.lock():
        remove_stale_temp_files(workspace)
        try:
            for _ in range(_PREFER_ROUNDS + 1):
                planner = _Planner(
                    requirements,
                    workspace=workspace,
                    index=index,
                    key=key,
                    constraints=(*constraints, *(Requirement(a.constraint) for a in chosen)),
                    jobs=jobs,
                    keep_going=keep_going,
                    settings=settings or BuildSettings(),
                    environment=environment or TargetEnvironment.current(),
                    executor=_AcrossRounds(real),
                    reporter=reporter or Reporter(),
                    policy=policy,
                    evidence_dirs=evidence_dirs,
                    prefer_buildable=prefer_buildable,
                )
                reports = planner.run()
                alternatives = planner.alternatives()
                if not prefer_buildable or not alternatives:
                    break
                chosen += alternatives
        finally:
            real.shutdown()
    trust_base, refused = planner.trust_base()
    verdicts = installability.check(requirements, planner.top, reports, workspace)
    suggested = planner.externals_suggested(installability.runtime_blockers(verdicts), alternatives)
    built = {
        n: p.report.seconds
        for n, p in planner.packages.items()
        if p.report is not None and p.report.status == "built"
    }
    seconds = time.perf_counter() - start
    return BootstrapSummary(
        requirements=tuple(requirements),
        roots=tuple(n.id for n in planner.roots),
        packages=reports,
        graph_file=workspace.graph_file,
        seconds=seconds,
        jobs=jobs,
        trust_base=trust_base,
        seeds_refused=refused,
        externals_suggested=suggested,
        isolation=planner.fingerprint.isolation,
        installable=verdicts,
        constraints_suggested=alternatives,
        choices=tuple(
            {"package": a.package, "chose": a.constraint, "reason": f"--prefer-buildable: {a.reason}"}
            for a in chosen
        ),
        efficiency=measure(planner.graph.build(), built, workers=jobs, wall_seconds=seconds),
    )


__all__ = [
    "ENV_UNRESOLVED",
    "BootstrapSummary",
    "PackageReport",
    "Reporter",
    "Status",
    "bootstrap",
    "default_jobs",
]
