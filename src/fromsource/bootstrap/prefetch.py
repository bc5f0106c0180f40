"""The projects a re-run will ask the index about, fetched ahead: those the last run listed
(``cache/projects.json``) and the last graph's."""

from __future__ import annotations

import contextlib
import json

from fromsource.errors import FromsourceError
from fromsource.fileutil import atomic_write_bytes
from fromsource.graph import load
from fromsource.untrusted import MAX_SMALL_FILE_BYTES, load_json, read_file
from fromsource.workspace import Workspace


def last_projects(ws: Workspace) -> list[str]:
    """The projects the last run listed (cache/projects.json: the graph's, and those whose
    resolution failed) and the last graph's; none on a first run. What is missing or
    unreadable is fetched one by one as resolution asks."""
    names: list[str] = []
    if ws.graph_file.is_file():
        with contextlib.suppress(FromsourceError):
            names += [node.name for node in load(ws.graph_file).nodes]
    path = ws.cache / "projects.json"
    if path.is_file():
        with contextlib.suppress(FromsourceError):
            data = load_json(
                read_file(path, limit=MAX_SMALL_FILE_BYTES, what="project list"), source=str(path)
            )
            if isinstance(data, list):
                names += [n for n in data if isinstance(n, str)]
    return names


def remember_projects(ws: Workspace, names: list[str]) -> None:
    if names:
        atomic_write_bytes(ws.cache / "projects.json", json.dumps(names).encode() + b"\n")
