from __future__ import annotations

import json
from pathlib import Path

import pytest

from fromsource.errors import CycleError, InputError
from fromsource.graph import BuildGraph, Edge, GraphBuilder, Node, dump, load, render_path


def n(name: str, version: str = "1") -> Node:
    return Node(name, version)


def diamond() -> BuildGraph:
    """app needs left and right to build; both need base; base installs helper."""
    g = GraphBuilder()
    g.add_root(n("app"))
    g.add_edge(n("app"), n("left"), "build-system", "left>=1")
    g.add_edge(n("app"), n("right"), "backend", "right")
    g.add_edge(n("left"), n("base"), "build-system", "base")
    g.add_edge(n("right"), n("base"), "build-system", "base")
    g.add_edge(n("base"), n("helper"), "install", "helper")
    g.add_edge(n("app"), n("runtime"), "install", "runtime")
    return g.build()


def test_needs_to_build_includes_install_closure_of_build_requirements() -> None:
    g = diamond()
    assert g.build_requirements(n("app")) == {n("left"), n("right")}
    assert g.needs_to_build(n("left")) == {n("base"), n("helper")}
    assert g.needs_to_build(n("app")) == {n("left"), n("right")}
    assert g.needs_to_build(n("runtime")) == frozenset()


def test_diamond_plan() -> None:
    plan = diamond().plan()
    assert plan == [
        [n("base"), n("helper"), n("runtime")],
        [n("left"), n("right")],
        [n("app")],
    ]
    assert diamond().cycles() == []


def test_plan_waits_for_install_closure() -> None:
    # tool's build needs lib installed, and lib installs dep: dep must be built first too
    g = GraphBuilder()
    g.add_edge(n("tool"), n("lib"), "build-system")
    g.add_edge(n("lib"), n("dep"), "install")
    g.add_edge(n("dep"), n("dep-backend"), "build-system")
    assert g.build().plan() == [[n("dep-backend"), n("lib")], [n("dep")], [n("tool")]]


def test_deep_chain_has_no_recursion_limit() -> None:
    g = GraphBuilder()
    depth = 3000
    for i in range(depth):
        g.add_edge(n(f"p{i}"), n(f"p{i + 1}"), "build-system")
    graph = g.build()
    assert graph.cycles() == []
    plan = graph.plan()
    assert len(plan) == depth + 1
    assert plan[0] == [n(f"p{depth}")]
    assert plan[-1] == [n("p0")]


def test_self_cycle_path() -> None:
    g = GraphBuilder()
    cb = g.add_root(Node("coherent.build", "0.19.1"))
    g.add_edge(cb, cb, "build-system", "coherent.build")
    graph = g.build()

    (cycle,) = graph.cycles()

    assert cycle.members == (cb,)
    assert cycle.cycle_path() == ("coherent.build 0.19.1 -[build-system]-> coherent.build 0.19.1")
    with pytest.raises(CycleError, match=r"coherent\.build 0\.19\.1 -\[build-system\]->"):
        graph.plan()


def test_three_package_cycle_path() -> None:
    g = GraphBuilder()
    g.add_root(n("a"))
    g.add_edge(n("a"), n("b"), "build-system")
    g.add_edge(n("b"), n("c"), "install")
    g.add_edge(n("c"), n("a"), "backend")
    g.add_edge(n("a"), n("outside"), "build-system")
    graph = g.build()

    (cycle,) = graph.cycles()

    # b builds without c; only a and c need each other to be built
    assert cycle.members == (n("a"), n("c"))
    assert str(cycle) == "a 1 -[build-system]-> b 1 -[install]-> c 1 -[backend]-> a 1"
    with pytest.raises(CycleError) as info:
        graph.plan()
    assert "a 1 -[build-system]-> b 1 -[install]-> c 1 -[backend]-> a 1" in info.value.message


def test_build_only_three_cycle_and_independent_cycles() -> None:
    g = GraphBuilder()
    g.add_edge(n("x"), n("y"), "build-system")
    g.add_edge(n("y"), n("z"), "build-system")
    g.add_edge(n("z"), n("x"), "build-system")
    g.add_edge(n("flit-core"), n("flit-core"), "build-system")
    g.add_edge(n("x"), n("flit-core"), "build-system")

    cycles = g.build().cycles()

    assert [c.members for c in cycles] == [(n("flit-core"),), (n("x"), n("y"), n("z"))]
    assert cycles[1].cycle_path() == ("x 1 -[build-system]-> y 1 -[build-system]-> z 1 -[build-system]-> x 1")


def test_install_only_loop_is_not_a_build_cycle() -> None:
    g = GraphBuilder()
    g.add_edge(n("a"), n("b"), "install")
    g.add_edge(n("b"), n("a"), "install")
    assert g.build().cycles() == []
    assert g.build().plan() == [[n("a"), n("b")]]


def test_install_loop_through_a_build_requirement_is_a_cycle() -> None:
    # building b needs a installed, and installing a installs b
    g = GraphBuilder()
    g.add_edge(n("a"), n("b"), "install")
    g.add_edge(n("b"), n("a"), "build-system")
    (cycle,) = g.build().cycles()
    assert cycle.cycle_path() == "b 1 -[build-system]-> a 1 -[install]-> b 1"


def test_why_gives_one_path_per_dependent() -> None:
    g = diamond()
    paths = [render_path(p) for p in g.why("base")]
    assert paths == [
        "app 1 -[build-system]-> left 1 -[build-system]-> base 1",
        "app 1 -[backend]-> right 1 -[build-system]-> base 1",
    ]
    assert g.why("APP") == [()]
    with pytest.raises(InputError, match="not in the build graph"):
        g.why("absent")


def test_node_names_are_canonical_but_keep_their_spelling() -> None:
    assert Node("Coherent.Build", "1") == Node("coherent-build", "1")
    assert str(Node("Coherent.Build", "1")) == "Coherent.Build 1"
    assert Node("Coherent.Build", "1").id == "coherent-build==1"


def test_edges_must_name_known_nodes_and_kinds() -> None:
    with pytest.raises(ValueError, match="unknown nodes"):
        BuildGraph(frozenset({n("a")}), frozenset({Edge(n("a"), n("b"), "install")}))
    with pytest.raises(ValueError, match="unknown edge kind"):
        Edge(n("a"), n("b"), "runtime")  # type: ignore[arg-type]


def test_json_round_trip(tmp_path: Path) -> None:
    g = diamond()
    path = tmp_path / "graph.json"
    dump(g, path)
    loaded = load(path)
    assert loaded == g
    assert loaded.roots == (n("app"),)
    doc = json.loads(path.read_text())
    assert doc["format"] == "fromsource.graph"
    assert {"from": "app==1", "to": "left==1", "kind": "build-system", "requirement": "left>=1"} in doc[
        "edges"
    ]


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no build graph") as info:
        load(tmp_path / "graph.json")
    assert info.value.hint is not None
    (tmp_path / "graph.json").write_text("{")
    with pytest.raises(InputError, match="cannot read build graph"):
        load(tmp_path / "graph.json")
    (tmp_path / "graph.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(InputError, match=r"not a fromsource\.graph v1 document"):
        load(tmp_path / "graph.json")
    doc = diamond().to_json()
    doc["edges"][0]["kind"] = "runtime"
    (tmp_path / "graph.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="malformed build graph"):
        load(tmp_path / "graph.json")


def test_to_dot() -> None:
    g = GraphBuilder()
    g.add_root(n("a"))
    g.add_edge(n("a"), n("a"), "build-system")
    g.add_edge(n("a"), n("b"), "install")
    dot = g.build().to_dot()
    assert dot.startswith("digraph build {")
    assert '"a==1" [label="a\\n1", color=red, penwidth=2];' in dot
    assert '"a==1" -> "b==1" [label="install", style=dotted];' in dot
