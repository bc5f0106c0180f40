from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fromsource.cli import main
from fromsource.graph import GraphBuilder, Node, dump


def write_graph(workspace: Path) -> None:
    g = GraphBuilder()
    app, flit, lib = Node("app", "1.0"), Node("flit_core", "3.12.0"), Node("lib", "2.0")
    g.add_root(app)
    g.add_edge(app, flit, "build-system", "flit_core>=3.4")
    g.add_edge(app, lib, "install", "lib")
    g.add_edge(lib, flit, "build-system", "flit_core")
    g.add_edge(flit, flit, "build-system", "flit_core")
    dump(g.build(), workspace / "graph.json")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["graph", *args])
    return result.exit_code, result.stdout, result.stderr


def test_tree_and_cycles(tmp_path: Path) -> None:
    write_graph(tmp_path)
    code, out, _ = invoke("-w", str(tmp_path))
    assert code == 0
    assert "app 1.0" in out
    assert "[build-system] flit_core 3.12.0" in out
    assert "(see above)" in out
    assert "cycle: flit_core 3.12.0 -[build-system]-> flit_core 3.12.0" in out


def test_dot_json_and_why(tmp_path: Path) -> None:
    write_graph(tmp_path)
    code, out, _ = invoke("-w", str(tmp_path), "--dot")
    assert code == 0
    assert out.startswith("digraph build {")

    code, out, _ = invoke("-w", str(tmp_path), "--json")
    assert json.loads(out)["roots"] == ["app==1.0"]

    code, out, _ = invoke("-w", str(tmp_path), "--why", "flit-core")
    assert code == 0
    assert out.splitlines() == [
        "app 1.0 -[build-system]-> flit_core 3.12.0",
        "app 1.0 -[install]-> lib 2.0 -[build-system]-> flit_core 3.12.0",
    ]
    code, out, _ = invoke("-w", str(tmp_path), "--why", "app")
    assert out.strip() == "app 1.0 (requested)"

    code, out, _ = invoke("-w", str(tmp_path), "--why", "lib", "--json")
    assert json.loads(out) == [
        [{"from": "app==1.0", "to": "lib==2.0", "kind": "install", "requirement": "lib"}]
    ]


def test_missing_graph_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = invoke("-w", str(tmp_path))
    assert code == 2
    assert "no build graph at" in err
    assert "fromsource bootstrap" in err
    code, _, err = invoke("-w", str(tmp_path / "g"), "--why", "x")
    assert code == 2
