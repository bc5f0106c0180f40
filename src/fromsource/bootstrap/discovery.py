"""Discovery: the environments still to resolve (the top-level install set, each package's
``[build-system]`` environment, and each backend's extra requirements), resolved separately
(build isolation) and turned into graph nodes and edges.

An sdist whose ``Requires-Dist`` is dynamic must be built before a resolution that includes
it can finish. The resolution goes on as if it had no dependencies to find every such sdist
at once; the task waits on all of them (provisional edges, so the cycle check sees them),
they are read into the graph and built side by side, and the task is retried once they are
all built: one retry per level of dynamic metadata, not one per sdist."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from fromsource.bootstrap.incremental import load_backend_requires
from fromsource.bootstrap.intake import Intake
from fromsource.bootstrap.report import DONE, PackageReport
from fromsource.bootstrap.seeding import SeedChoice
from fromsource.bootstrap.state import DEAD, PackageState, PendingMetadata, RunContext, Task, parse_all
from fromsource.errors import FromsourceError, IndexError_, ResolutionError
from fromsource.graph import BuildGraph, EdgeKind, GraphBuilder, Node
from fromsource.index import SdistCandidate
from fromsource.resolve import MetadataNeeded, Resolution, SdistMetadata, resolve
from fromsource.wheelstore import read_wheel_info


class Discovery:
    def __init__(self, ctx: RunContext, intake: Intake, seeds: SeedChoice) -> None:
        self.ctx = ctx
        self.intake = intake
        self.seeds = seeds
        self.metadata = SdistMetadata(
            ctx.index, ctx.ws.sources, metadata_for=self.metadata_for, pkg_info=ctx.pkg_info
        )
        self.graph = GraphBuilder()
        self.version = 0  # bumped whenever the graph (or a provisional edge) changes
        self.provisional: set[tuple[Node, Node]] = set()
        self.tasks: list[Task] = []
        self.tasks_added = 0
        self.resolved: dict[tuple[tuple[str, ...], tuple[str, ...]], Resolution] = {}
        self.top: Resolution | None = None
        self._guessed: set[tuple[str, Node | None, tuple[Node, ...]]] = set()  # tasks guessed for
        self.roots: tuple[Node, ...] = ()
        self.add_task(Task("top", None))

    def discover(self) -> bool:
        """Resolve every task that can be resolved now; whether anything changed."""
        progressed = False
        changed = True
        while changed:
            added = self.tasks_added
            changed = self._round()
            changed = changed or self.tasks_added != added
            progressed = progressed or changed
        return progressed

    def _round(self) -> bool:
        changed = False
        packages = self.ctx.packages
        for task in list(self.tasks):
            if task.blocked_on:
                blockers = [packages[b] for b in task.blocked_on]
                dead = [b for b in blockers if b.status in DEAD]
                if dead and task.owner is not None:
                    self.ctx.skip(packages[task.owner], dead)
                    self.tasks.remove(task)
                    changed = True
                if dead or any(b.status not in DONE for b in blockers):
                    continue
                task.blocked_on = ()
            if task.owner is not None and packages[task.owner].status in DEAD:
                self.tasks.remove(task)
                continue
            try:
                result = self._resolve(task)
            except (ResolutionError, IndexError_) as exc:
                if task.owner is None or not (self.ctx.keep_going or self.ctx.prefer_buildable):
                    raise
                # Only this package's build environment is unsatisfiable: fail it alone.
                self.tasks.remove(task)
                self.ctx.fail_unresolved(packages[task.owner], exc.message)
                changed = True
                continue
            if isinstance(result, MetadataNeeded):
                task.blocked_on = tuple(self.ensure_node(c) for c in result.candidates)
                if task.owner is not None:
                    self.provisional |= {(task.owner, node) for node in task.blocked_on}
                    self.version += 1
                changed = changed or all(packages[n].status in DONE for n in task.blocked_on)
                continue
            self.tasks.remove(task)
            self._apply(task, result)
            changed = True
        return changed

    def owner(self, task: Task) -> PackageState:
        if task.owner is None:
            raise AssertionError(f"a {task.kind} task without an owner")
        return self.ctx.packages[task.owner]

    def add_task(self, task: Task) -> None:
        self.tasks.append(task)
        self.tasks_added += 1

    def _wanted(self, task: Task) -> tuple[Sequence[Requirement | str], tuple[Requirement, ...]]:
        """What ``task`` resolves, and the pins it must keep."""
        if task.kind == "top":
            return self.ctx.requirements, ()
        package = self.owner(task)
        if task.kind == "backend" and package.bs_env is not None:
            # The hook ran with these versions; the build must keep them.
            pins = tuple(Requirement(f"{p.name}=={p.version}") for p in package.bs_env.packages.values())
            return (*package.build_system.requires, *(package.backend or ())), pins
        return package.build_system.requires, ()

    def _resolve(self, task: Task) -> Resolution | MetadataNeeded:
        ctx = self.ctx
        wanted, pins = self._wanted(task)
        if task.kind == "top":
            ctx.reporter.discovering("resolving " + " ".join(ctx.requirements))
        else:
            ctx.reporter.discovering(f"resolving the build environment of {self.owner(task).node}")
        key = (tuple(sorted(map(str, wanted))), tuple(sorted(map(str, pins))))
        if key in self.resolved:
            return self.resolved[key]
        try:
            result = resolve(
                wanted,
                index=ctx.index,
                metadata=self.metadata,
                constraints=(*ctx.constraints, *pins),
                environment=ctx.environment,
            )
        except MetadataNeeded as needed:
            return needed
        self.resolved[key] = result
        return result

    def guess(self) -> bool:
        """Read into the graph what the tasks waiting on runtime metadata probably need.

        Called only while every running build is still running and nothing else can move.
        Each waiting task is resolved once more, taking each sdist's non-authoritative
        PKG-INFO Requires-Dist (Metadata-Version < 2.2, or Dynamic) as its dependencies;
        what that resolution names becomes nodes, so their build environments are
        resolved and their builds start while the awaited sdists build. A guess adds no
        edge: the task still waits for the built metadata, and only that resolution joins
        the graph. A wrong guess costs the builds of what it named. Whether anything was
        added.
        """
        added = len(self.ctx.packages)
        for task in list(self.tasks):
            key = (task.kind, task.owner, task.blocked_on)
            if not task.blocked_on or key in self._guessed:
                continue
            self._guessed.add(key)
            wanted, pins = self._wanted(task)
            try:
                result = resolve(
                    wanted,
                    index=self.ctx.index,
                    metadata=SdistMetadata(
                        self.ctx.index,
                        self.ctx.ws.sources,
                        self._guessed_metadata,
                        pkg_info=self.ctx.pkg_info,
                    ),
                    constraints=(*self.ctx.constraints, *pins),
                    environment=self.ctx.environment,
                )
            except (MetadataNeeded, FromsourceError):
                continue  # nothing to guess from: wait for the builds
            for package in result.packages.values():
                try:
                    self.ensure_node(package.sdist)
                except FromsourceError:
                    continue  # refused or unreadable: the real resolution will say so if needed
        return len(self.ctx.packages) != added

    def _guessed_metadata(self, candidate: SdistCandidate) -> list[Requirement]:
        try:
            return self.metadata_for(candidate)
        except PendingMetadata:
            info = self.ctx.pkg_info(self.ctx.index.fetch(candidate, self.ctx.ws.sources))
            try:
                return [Requirement(line) for line in info.requires_dist] if info is not None else []
            except InvalidRequirement:
                return []

    def metadata_for(self, candidate: SdistCandidate) -> list[Requirement]:
        """Runtime requirements of an sdist whose PKG-INFO is not authoritative."""
        node = Node(candidate.name, str(candidate.version))
        package = self.ctx.packages.get(node)
        if package is not None and package.wheel is not None:
            return list(read_wheel_info(package.wheel).requires_dist)
        seed = self.seeds.accepted(node)
        if seed is not None:  # reviewed metadata: inspect compared it with the sdist's
            return list(read_wheel_info(seed).requires_dist)
        raise PendingMetadata(candidate)

    def _apply(self, task: Task, result: Resolution) -> None:
        nodes = {name: self.ensure_node(p.sdist) for name, p in result.packages.items()}
        for name, package in result.packages.items():
            for requirement in package.requires:
                target = nodes.get(canonicalize_name(requirement.name))
                if target is not None and target != nodes[name]:
                    self.edge(nodes[name], target, "install", str(requirement))
        if task.kind == "top":
            self.top = result
            self.roots = tuple(nodes[n] for n in result.roots if n in nodes)
            for root in self.roots:
                self.graph.add_root(root)
            return
        owner = self.owner(task)
        self.provisional = {(s, t) for s, t in self.provisional if s != owner.node}
        if task.kind == "build-system":
            owner.bs_env = result
            self.edges_to(owner, owner.build_system.requires, nodes, "build-system")
            hinted = load_backend_requires(self.ctx.ws, owner.node.name, owner.node.version, owner.sha256)
            if hinted is not None:
                self.learn_backend(owner, hinted)
        else:
            owner.full_env = result
            self.edges_to(owner, owner.backend or (), nodes, "backend")

    def learn_backend(self, owner: PackageState, texts: Sequence[str]) -> None:
        """The backend asked for more (get_requires_for_build_wheel): resolve it too."""
        owner.backend = parse_all(texts, f"{owner.node} backend get_requires_for_build_wheel")
        owner.full_env = None
        if self.ctx.wanted(owner.backend):
            self.add_task(Task("backend", owner.node))

    def edges_to(
        self,
        owner: PackageState,
        requirements: Iterable[Requirement],
        nodes: dict[NormalizedName, Node],
        kind: EdgeKind,
    ) -> None:
        for requirement in self.ctx.wanted(requirements):
            target = nodes.get(canonicalize_name(requirement.name))
            if target is not None:
                self.edge(owner.node, target, kind, str(requirement))

    def edge(self, source: Node, target: Node, kind: EdgeKind, requirement: str) -> None:
        self.graph.add_edge(source, target, kind, requirement)
        self.version += 1

    def ensure_node(self, sdist: SdistCandidate) -> Node:
        """The node of ``sdist``, read into the graph the first time it is seen."""
        ctx = self.ctx
        probe = Node(sdist.name, str(sdist.version))
        if probe in ctx.packages:
            return ctx.packages[probe].node
        package = self.intake.read(sdist)
        node = package.node
        ctx.packages[node] = package
        self.graph.add_node(node)
        self.version += 1
        if package.wheel is not None:  # an external
            report = PackageReport(
                name=node.display_name, version=node.version, status="external", wheel=package.wheel
            )
            ctx.finish(package, report)
        else:
            self.add_task(Task("build-system", node))
        ctx.reporter.planned(len(ctx.packages))
        return node

    def current_graph(self, provisional: bool) -> BuildGraph:
        """The graph so far; with ``provisional``, plus the edges of resolutions that wait on
        a package's runtime metadata (it must be built first)."""
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
