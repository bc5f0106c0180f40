"""``fromsource graph``: show the build graph of the workspace's last bootstrap."""

from __future__ import annotations

from pathlib import Path

import click
from rich.tree import Tree

from fromsource.cli._common import clean, guarded, json_option, out, print_json, safe, workspace_option
from fromsource.graph import BuildGraph, Edge, Node, load, render_path
from fromsource.workspace import Workspace

_KIND_STYLE = {"build-system": "cyan", "backend": "magenta", "install": "green"}


@click.command()
@workspace_option
@click.option("--dot", is_flag=True, help="Print Graphviz source instead of a tree.")
@click.option("--why", "why_name", metavar="NAME", help="Show the paths that pull NAME in.")
@json_option
@guarded
def graph(workspace: Path, dot: bool, why_name: str | None, as_json: bool) -> None:
    """Show WORKSPACE/graph.json: build-system, backend and install edges, and cycles."""
    build_graph = load(Workspace(workspace).graph_file)
    if why_name is not None:
        paths = build_graph.why(why_name)
        if as_json:
            print_json([[_edge_json(e) for e in path] for path in paths])
            return
        for path in paths:
            if path:
                out.print(clean(render_path(path)))
            else:
                requested = [n for n in build_graph.find(why_name) if n in build_graph.roots]
                out.print(clean(f"{', '.join(map(str, requested))} (requested)"))
        return
    if as_json:
        print_json(build_graph.to_json())
    elif dot:
        click.echo(safe(build_graph.to_dot(), multiline=True), nl=False)
    else:
        out.print(_tree(build_graph))
        for cycle in build_graph.cycles():
            out.print(f"[bold red]cycle:[/] {clean(cycle.cycle_path())}")


def _edge_json(edge: Edge) -> dict[str, str | None]:
    return {"from": edge.source.id, "to": edge.target.id, "kind": edge.kind, "requirement": edge.requirement}


def _tree(build_graph: BuildGraph) -> Tree:
    """Roots and what they need, depth first; a node met again is listed, not expanded."""
    top = Tree("[bold]build graph[/]")
    expanded: set[Node] = set()
    roots = list(build_graph.roots) or sorted(build_graph.nodes)
    stack: list[tuple[Tree, Node, Edge | None]] = [(top, r, None) for r in reversed(roots)]
    while stack:
        parent, node, edge = stack.pop()
        label = f"[bold]{clean(str(node))}[/]"
        if edge is not None:
            label = f"[{_KIND_STYLE[edge.kind]}]\\[{edge.kind}][/] {clean(str(node))}"
        if node in expanded:
            parent.add(f"{label} [dim](see above)[/]")
            continue
        expanded.add(node)
        branch = parent.add(label)
        stack.extend((branch, e.target, e) for e in reversed(build_graph.out_edges(node)))
    return top
