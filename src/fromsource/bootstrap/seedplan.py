"""Which seeds break a build graph's cycles (pure: no I/O, no policy).

A seed for package S, used inside cycle C, stands in for S's from-source wheel in the build
environments of C's members only. In graph terms: every edge from a member of C into S is
dropped, and replaced by edges to S's install closure, because the seed's own runtime
dependencies still have to be in those environments and so still have to be built.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from itertools import combinations

from fromsource.graph import BuildGraph, Cycle, GraphBuilder, Node

# Cycles in real graphs have a handful of members; trying every subset up to this size is cheap.
MAX_SEEDS_PER_CYCLE = 4


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """``seeded``: seed node -> the members of the cycles it serves. ``unbroken``: cycles no
    available seed breaks, each with a smallest set of packages whose seeds would."""

    seeded: Mapping[Node, frozenset[Node]]
    unbroken: tuple[tuple[Cycle, tuple[Node, ...]], ...]


def without_seeded(graph: BuildGraph, seeded: Mapping[Node, frozenset[Node]]) -> BuildGraph:
    """``graph`` as the scheduler sees it once ``seeded`` stand in inside their cycles."""
    builder = GraphBuilder()
    for node in graph.nodes:
        builder.add_node(node)
    for root in graph.roots:
        builder.add_root(root)
    for edge in graph.edges:
        members = seeded.get(edge.target)
        if members is None or edge.source not in members:
            builder.add_edge(edge.source, edge.target, edge.kind, edge.requirement)
            continue
        for needed in sorted(graph.install_closure([edge.target]) - {edge.target}):
            if needed in seeded and edge.source in seeded[needed]:
                continue  # that one is seeded too
            builder.add_edge(
                edge.source, needed, edge.kind, f"(install dependency of the seed of {edge.target})"
            )
    return builder.build()


def _cycles_touching(graph: BuildGraph, members: Set[Node]) -> list[Cycle]:
    return [c for c in graph.cycles() if members & set(c.members)]


def smallest_breaking_set(
    graph: BuildGraph, members: frozenset[Node], candidates: Set[Node]
) -> tuple[Node, ...] | None:
    """Fewest ``candidates`` whose seeds leave no cycle through ``members``; None if none do."""
    pool = sorted(candidates & members)
    for size in range(1, min(len(pool), MAX_SEEDS_PER_CYCLE) + 1):
        for subset in combinations(pool, size):
            trial = without_seeded(graph, dict.fromkeys(subset, members))
            if not _cycles_touching(trial, members):
                return subset
    return None


def plan_seeds(
    graph: BuildGraph, available: Set[Node], seeded: Mapping[Node, frozenset[Node]] | None = None
) -> SeedPlan:
    """Extend ``seeded`` with the fewest ``available`` seeds that break every cycle."""
    chosen = dict(seeded or {})
    while True:
        current = without_seeded(graph, chosen)
        cycles = current.cycles()
        if not cycles:
            return SeedPlan(chosen, ())
        unbroken: list[tuple[Cycle, tuple[Node, ...]]] = []
        for cycle in cycles:
            members = frozenset(cycle.members)
            choice = smallest_breaking_set(current, members, available)
            if choice is None:
                needed = smallest_breaking_set(current, members, members) or cycle.members
                unbroken.append((cycle, needed))
                continue
            for node in choice:
                chosen[node] = chosen.get(node, frozenset()) | members
        if unbroken:
            return SeedPlan(chosen, tuple(unbroken))
