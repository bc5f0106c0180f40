"""The build graph: which built package needs which, and in what order to build them.

Pure: no I/O apart from :func:`load` and :func:`dump`. Nodes are resolved
``(name, version)`` pairs; edges are typed:

- ``build-system``: ``[build-system].requires`` of the source node's sdist;
- ``backend``: what the backend's ``get_requires_for_build_wheel`` added;
- ``install``: runtime ``Requires-Dist`` (markers already evaluated).

To build A, every package of *needs-to-build(A)* must already be built: A's build
requirements (build-system and backend edges) plus their install closure, since installing a
wheel into A's build environment installs its runtime dependencies too. A cycle is a
strongly connected component of that relation, a self-loop included.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from packaging.utils import canonicalize_name

from fromsource.errors import CycleError, InputError
from fromsource.fileutil import atomic_write_bytes
from fromsource.untrusted import MAX_SMALL_FILE_BYTES, load_json, read_file

EdgeKind = Literal["build-system", "backend", "install"]
EDGE_KINDS: tuple[EdgeKind, ...] = get_args(EdgeKind)
BUILD_KINDS: frozenset[EdgeKind] = frozenset({"build-system", "backend"})
FORMAT = "fromsource.graph"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, order=True)
class Node:
    """A resolved package, identified by canonical name and version.

    ``display_name`` keeps the project's own spelling (``coherent.build``) for messages;
    it takes no part in equality.
    """

    name: str
    version: str
    display_name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "display_name", self.display_name or self.name)
        object.__setattr__(self, "name", canonicalize_name(self.name))

    @property
    def id(self) -> str:
        return f"{self.name}=={self.version}"

    def __str__(self) -> str:
        return f"{self.display_name} {self.version}"


@dataclass(frozen=True, slots=True, order=True)
class Edge:
    """``source`` needs ``target`` in the way ``kind`` says; ``requirement`` is the text why."""

    source: Node
    target: Node
    kind: EdgeKind
    requirement: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in EDGE_KINDS:
            raise ValueError(f"unknown edge kind {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.source} -[{self.kind}]-> {self.target}"


def render_path(edges: Iterable[Edge]) -> str:
    """``a 1 -[build-system]-> b 1 -[install]-> c 1``."""
    steps = list(edges)
    if not steps:
        return ""
    return str(steps[0].source) + "".join(f" -[{e.kind}]-> {e.target}" for e in steps)


@dataclass(frozen=True, slots=True)
class Cycle:
    """A strongly connected component of needs-to-build and one closed walk through it."""

    members: tuple[Node, ...]  # sorted
    path: tuple[Edge, ...]  # starts and ends at members[0]

    def cycle_path(self) -> str:
        """``coherent.build 0.19.1 -[build-system]-> coherent.build 0.19.1``."""
        return render_path(self.path)

    def __str__(self) -> str:
        return self.cycle_path()


@dataclass(frozen=True, slots=True)
class BuildGraph:
    """An immutable build graph. Build one with :class:`GraphBuilder`."""

    nodes: frozenset[Node]
    edges: frozenset[Edge]
    roots: tuple[Node, ...] = ()
    _out: Mapping[Node, tuple[Edge, ...]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        referenced = {e.source for e in self.edges} | {e.target for e in self.edges}
        dangling = sorted((referenced | set(self.roots)) - self.nodes)
        if dangling:
            raise ValueError(f"edges or roots name unknown nodes: {', '.join(map(str, dangling))}")
        out: dict[Node, list[Edge]] = {n: [] for n in self.nodes}
        for edge in sorted(self.edges):
            out[edge.source].append(edge)
        object.__setattr__(self, "_out", {n: tuple(es) for n, es in out.items()})

    # -- neighbourhoods ------------------------------------------------------------

    def out_edges(self, node: Node, kinds: Iterable[EdgeKind] = EDGE_KINDS) -> tuple[Edge, ...]:
        wanted = set(kinds)
        return tuple(e for e in self._out[node] if e.kind in wanted)

    def in_edges(self, node: Node) -> tuple[Edge, ...]:
        return tuple(sorted(e for e in self.edges if e.target == node))

    def find(self, name: str) -> list[Node]:
        key = canonicalize_name(name)
        return sorted(n for n in self.nodes if n.name == key)

    def build_requirements(self, node: Node) -> frozenset[Node]:
        """Targets of ``node``'s build-system and backend edges."""
        return frozenset(e.target for e in self.out_edges(node, BUILD_KINDS))

    def install_closure(self, start: Iterable[Node]) -> frozenset[Node]:
        """``start`` plus everything reachable from it over install edges."""
        seen = set(start)
        queue = deque(seen)
        while queue:
            for edge in self.out_edges(queue.popleft(), ("install",)):
                if edge.target not in seen:
                    seen.add(edge.target)
                    queue.append(edge.target)
        return frozenset(seen)

    def needs_to_build(self, node: Node) -> frozenset[Node]:
        """Everything that must be built before ``node`` can be."""
        return self.install_closure(self.build_requirements(node))

    # -- cycles and order ----------------------------------------------------------

    def cycles(self) -> list[Cycle]:
        """Every SCC of needs-to-build with more than one node, or a node needing itself."""
        needs = {n: self.needs_to_build(n) for n in self.nodes}
        found = []
        for component in _tarjan(needs):
            members = tuple(sorted(component))
            if len(members) > 1 or members[0] in needs[members[0]]:
                found.append(Cycle(members, self._closed_walk(members[0])))
        return sorted(found, key=lambda c: c.members)

    def _closed_walk(self, start: Node) -> tuple[Edge, ...]:
        """Shortest walk from ``start`` back to it that begins with a build edge.

        Any such walk is a chain of needs-to-build steps, so it shows the user the
        concrete requirements that close the cycle, including install-only hops.
        """
        came_from: dict[Node, Edge] = {}
        queue: deque[Node] = deque()
        for edge in self.out_edges(start, BUILD_KINDS):
            if edge.target == start:
                return (edge,)
            if edge.target not in came_from:
                came_from[edge.target] = edge
                queue.append(edge.target)
        while queue:
            node = queue.popleft()
            for edge in self._out[node]:
                if edge.target == start:
                    walk = [edge]
                    while walk[-1].source != start:
                        walk.append(came_from[walk[-1].source])
                    return tuple(reversed(walk))
                if edge.target not in came_from:
                    came_from[edge.target] = edge
                    queue.append(edge.target)
        raise AssertionError(f"{start} is in a cycle but no walk returns to it")

    def plan(self) -> list[list[Node]]:
        """Build batches: each batch's nodes only need nodes of earlier batches.

        Raises :class:`CycleError` naming every cycle's path when there is none.
        """
        found = self.cycles()
        if found:
            raise CycleError(
                "the build graph has cycles:\n" + "\n".join(f"  {c}" for c in found),
                hint="a cycle can only be broken with an admitted seed",
            )
        # Kahn's algorithm in layers: a node joins the batch after its last need's batch.
        waiting = {n: len(self.needs_to_build(n)) for n in self.nodes}
        needed_by: dict[Node, list[Node]] = defaultdict(list)
        for node in self.nodes:
            for need in self.needs_to_build(node):
                needed_by[need].append(node)
        batch = sorted(n for n, count in waiting.items() if count == 0)
        batches: list[list[Node]] = []
        while batch:
            batches.append(batch)
            ready = []
            for done in batch:
                for node in needed_by[done]:
                    waiting[node] -= 1
                    if waiting[node] == 0:
                        ready.append(node)
            batch = sorted(ready)
        return batches

    # -- explanations --------------------------------------------------------------

    def why(self, name: str) -> list[tuple[Edge, ...]]:
        """For each edge into a node called ``name``, the shortest path from a root over it.

        An empty path means the node is itself a root (requested directly).
        """
        targets = self.find(name)
        if not targets:
            raise InputError(f"{name!r} is not in the build graph")
        reach = self._paths_from_roots()
        paths: list[tuple[Edge, ...]] = [() for t in targets if t in self.roots]
        for target in targets:
            for edge in self.in_edges(target):
                # a self-loop pulls nothing in; it shows up in cycles() instead
                if edge.source in reach and edge.source != target:
                    paths.append((*reach[edge.source], edge))
        return sorted(set(paths), key=lambda p: (len(p), p))

    def _paths_from_roots(self) -> dict[Node, tuple[Edge, ...]]:
        best: dict[Node, tuple[Edge, ...]] = dict.fromkeys(self.roots, ())
        queue = deque(self.roots)
        while queue:
            node = queue.popleft()
            for edge in self._out[node]:
                if edge.target not in best:
                    best[edge.target] = (*best[node], edge)
                    queue.append(edge.target)
        return best

    def to_dot(self) -> str:
        """Graphviz source; cycle members are red, edge styles follow the kinds."""
        in_cycle = {n for c in self.cycles() for n in c.members}
        style = {"build-system": "solid", "backend": "dashed", "install": "dotted"}
        lines = ["digraph build {", "  rankdir=LR;", "  node [shape=box];"]
        for node in sorted(self.nodes):
            label = f"{node.display_name}\\n{node.version}".replace('"', '\\"')
            attrs = [f'label="{label}"']
            if node in in_cycle:
                attrs.append("color=red")
            if node in self.roots:
                attrs.append("penwidth=2")
            lines.append(f'  "{node.id}" [{", ".join(attrs)}];')
        for edge in sorted(self.edges):
            lines.append(
                f'  "{edge.source.id}" -> "{edge.target.id}" [label="{edge.kind}", style={style[edge.kind]}];'
            )
        lines.append("}")
        return "\n".join(lines) + "\n"

    # -- serialisation -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The ``graph.json`` document (schema in docs/graph.md)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "roots": [n.id for n in self.roots],
            "nodes": [
                {"id": n.id, "name": n.name, "display_name": n.display_name, "version": n.version}
                for n in sorted(self.nodes)
            ],
            "edges": [
                {"from": e.source.id, "to": e.target.id, "kind": e.kind, "requirement": e.requirement}
                for e in sorted(self.edges)
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> BuildGraph:
        """Parse a ``graph.json`` document; :class:`InputError` says what is wrong."""
        try:
            if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
                raise InputError(
                    f"not a {FORMAT} v{FORMAT_VERSION} document "
                    f"(format={data.get('format')!r}, version={data.get('format_version')!r})"
                )
            nodes = {
                str(n["id"]): Node(str(n["name"]), str(n["version"]), str(n.get("display_name") or n["name"]))
                for n in data["nodes"]
            }
            edges = frozenset(
                Edge(nodes[e["from"]], nodes[e["to"]], _edge_kind(e["kind"]), e.get("requirement"))
                for e in data["edges"]
            )
            roots = tuple(nodes[r] for r in data["roots"])
            return cls(frozenset(nodes.values()), edges, roots)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed build graph: {exc!r}") from exc


def _edge_kind(value: object) -> EdgeKind:
    if value not in EDGE_KINDS:
        raise ValueError(f"unknown edge kind {value!r}")
    return value


class GraphBuilder:
    """Collects nodes and edges while bootstrap discovers them, then freezes a graph."""

    def __init__(self) -> None:
        self._nodes: set[Node] = set()
        self._edges: set[Edge] = set()
        self._roots: dict[Node, None] = {}  # in the order added; a set to look up in

    def add_root(self, node: Node) -> Node:
        self.add_node(node)
        self._roots.setdefault(node)
        return node

    def add_node(self, node: Node) -> Node:
        self._nodes.add(node)
        return node

    def add_edge(self, source: Node, target: Node, kind: EdgeKind, requirement: str | None = None) -> Edge:
        edge = Edge(self.add_node(source), self.add_node(target), kind, requirement)
        self._edges.add(edge)
        return edge

    def build(self) -> BuildGraph:
        return BuildGraph(frozenset(self._nodes), frozenset(self._edges), tuple(self._roots))


def _tarjan(successors: Mapping[Node, Iterable[Node]]) -> Iterator[list[Node]]:
    """Strongly connected components, iteratively (deep chains must not hit recursion limits)."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    stack: list[Node] = []
    on_stack: set[Node] = set()
    counter = 0
    for root in sorted(successors):
        if root in index:
            continue
        work: list[tuple[Node, Iterator[Node]]] = [(root, iter(sorted(successors[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(successors[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield component


def load(path: Path) -> BuildGraph:
    """Read ``graph.json``."""
    if not path.exists():
        raise InputError(
            f"no build graph at {path}", hint="run `fromsource bootstrap` in this workspace first"
        )
    try:
        data = load_json(read_file(path, limit=MAX_SMALL_FILE_BYTES, what="build graph"), source="the file")
    except InputError as exc:
        raise InputError(f"cannot read build graph {path}: {exc.message}", hint=exc.hint) from exc
    return BuildGraph.from_json(data)


def dump(graph: BuildGraph, path: Path) -> None:
    """Write ``graph.json`` atomically, in a stable order so runs diff cleanly."""
    text = json.dumps(graph.to_json(), indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
