"""Choosing seeds for cycles, on graphs shaped like the real ones."""

from __future__ import annotations

from fromsource.bootstrap.seedplan import plan_seeds, smallest_breaking_set, without_seeded
from fromsource.graph import BuildGraph, EdgeKind, GraphBuilder, Node

A, B, C, D, T = (Node(n, "1") for n in "abcdt")
COHERENT = Node("coherent.build", "0.19.1")
JARACO = Node("jaraco.compat", "4.2")


def _graph(*edges: tuple[Node, EdgeKind, Node]) -> BuildGraph:
    builder = GraphBuilder()
    for source, kind, target in edges:
        builder.add_edge(source, target, kind, target.name)
    return builder.build()


def test_self_cycle_broken_by_its_own_seed() -> None:
    graph = _graph((COHERENT, "build-system", COHERENT), (COHERENT, "install", T))
    plan = plan_seeds(graph, {COHERENT})
    assert plan.unbroken == ()
    assert plan.seeded == {COHERENT: frozenset({COHERENT})}
    # the seed's runtime dependency still has to be built before coherent.build
    assert T in without_seeded(graph, plan.seeded).needs_to_build(COHERENT)


def test_three_cycle_needs_one_seed_and_only_one() -> None:
    graph = _graph((A, "build-system", B), (B, "install", C), (C, "backend", A), (D, "build-system", A))
    assert len(graph.cycles()) == 1
    plan = plan_seeds(graph, {A, B, C})
    assert plan.unbroken == ()
    assert len(plan.seeded) == 1
    (seed,) = plan.seeded
    assert plan.seeded[seed] == frozenset(graph.cycles()[0].members)
    # D is outside the cycle: it still waits for the from-source A
    assert A in without_seeded(graph, plan.seeded).needs_to_build(D)


def test_no_available_seed_reports_what_would_break_it() -> None:
    graph = _graph((COHERENT, "build-system", COHERENT))
    plan = plan_seeds(graph, set())
    ((cycle, needed),) = plan.unbroken
    assert needed == (COHERENT,)
    assert "coherent.build 0.19.1 -[build-system]-> coherent.build 0.19.1" in cycle.cycle_path()


def test_seed_whose_install_closure_closes_the_loop_needs_a_second_seed() -> None:
    # coherent.build installs jaraco.compat, which is built with coherent.build.
    graph = _graph(
        (COHERENT, "build-system", COHERENT),
        (COHERENT, "install", JARACO),
        (JARACO, "build-system", COHERENT),
    )
    assert plan_seeds(graph, {COHERENT}).unbroken  # jaraco.compat's env needs jaraco.compat
    both = plan_seeds(graph, {COHERENT, JARACO})
    assert both.unbroken == ()
    assert set(both.seeded) == {COHERENT, JARACO}


def test_smallest_set_prefers_one_seed_over_two() -> None:
    graph = _graph(
        (A, "build-system", B), (B, "build-system", A), (B, "build-system", C), (C, "build-system", B)
    )
    members = frozenset({A, B, C})
    assert smallest_breaking_set(graph, members, members) == (B,)
