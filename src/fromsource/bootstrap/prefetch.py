"""The projects a re-run will ask the index about, fetched ahead: those the last run listed
(``cache/projects.json``) and the last graph's."""

from __future__ import annotations

import contextlib

from fromsource.cachefile import read_cache, write_cache
from fromsource.errors import FromsourceError
from fromsource.graph import load
from fromsource.workspace import Workspace


def last_projects(ws: Workspace) -> list[str]:
    """The projects the last run listed (cache/projects.json: the graph's, and those whose
    resolution failed) and the last graph's; none on a first run. What is missing or
    unreadable is fetched one by one as resolution asks."""
    names: list[str] = []
    if ws.graph_file.is_file():
        with contextlib.suppress(FromsourceError):
            names += [node.name for node in load(ws.graph_file).nodes]
    data = read_cache(ws.cache / "projects.json", "project list")
    if isinstance(data, list):
        names += [n for n in data if isinstance(n, str)]
    return names


def remember_projects(ws: Workspace, names: list[str]) -> None:
    if names:
        write_cache(ws.cache / "projects.json", names)
