"""The scheduling lower bound: critical path over needs-to-build, and work over workers."""

from __future__ import annotations

import pytest

from fromsource.efficiency import critical_path, measure
from fromsource.graph import BuildGraph, GraphBuilder, Node


def _node(name: str) -> Node:
    return Node(name, "1.0")


def _graph(edges: list[tuple[str, str, str]]) -> BuildGraph:
    builder = GraphBuilder()
    for source, kind, target in edges:
        builder.add_node(_node(source))
        builder.add_node(_node(target))
        builder.add_edge(_node(source), _node(target), kind, target)  # type: ignore[arg-type]
    return builder.build()


def test_critical_path_follows_build_edges_and_install_closures() -> None:
    # app needs builder to build, and builder's install closure (helper) in its environment;
    # builder and helper need nothing to build, so they run side by side. left is only
    # installed next to app: nothing waits for it.
    graph = _graph(
        [("app", "build-system", "builder"), ("builder", "install", "helper"), ("app", "install", "left")]
    )
    seconds = {_node("app"): 1.0, _node("builder"): 2.0, _node("helper"): 4.0, _node("left"): 2.0}

    assert critical_path(graph, seconds) == pytest.approx(5.0)  # helper, then app
    efficiency = measure(graph, seconds, workers=2, wall_seconds=10.0)
    assert efficiency.build_seconds == pytest.approx(9.0)
    assert efficiency.lower_bound_seconds == pytest.approx(5.0)  # max(5, 9 / 2)
    assert efficiency.ratio == pytest.approx(2.0)
    assert measure(graph, seconds, workers=1, wall_seconds=9.0).lower_bound_seconds == pytest.approx(9.0)


def test_a_cycle_counts_its_slowest_member_and_reused_packages_nothing() -> None:
    graph = _graph([("top", "build-system", "a"), ("a", "build-system", "b"), ("b", "build-system", "a")])
    seconds = {_node("top"): 1.0, _node("a"): 3.0, _node("b"): 5.0}
    assert critical_path(graph, seconds) == pytest.approx(6.0)

    nothing = measure(graph, {}, workers=2, wall_seconds=1.0)
    assert nothing.ratio is None
    assert nothing.to_dict()["wall_over_bound"] is None
