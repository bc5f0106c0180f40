"""Scheduling, observed at the executor seam (what was submitted when), never by timing.

Builds start while discovery goes on: every sdist with dynamic metadata that a resolution
needs is built side by side, and the resolution is retried once, not once per sdist. Among
ready packages the one the longest chain of builds waits on goes first."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from bootstrap_helpers import project, verify_all
from fromsource.attest.keys import generate_keypair
from fromsource.bootstrap import Reporter
from fromsource.bootstrap import bootstrap as run
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, InlineExecutor
from fromsource.bootstrap.passes import chain_lengths
from fromsource.graph import load
from fromsource.index import LocalDirIndex
from fromsource.workspace import Workspace


class _Seam(InlineExecutor):
    """The real in-process executor, noting each build handed to it."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        self.events.append(f"build {request.name}")
        return super().submit(request)


class _Resolutions(Reporter):
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def discovering(self, message: str) -> None:
        if message.startswith("resolving ") and "build environment" not in message:
            self.events.append("resolve top")


def _bootstrap(index: Path, ws: Path, requirements: list[str], events: list[str], jobs: int = 2) -> bool:
    key = generate_keypair(ws / "keys", "builder").private_path
    summary = run(
        requirements,
        workspace=Workspace(ws),
        index=LocalDirIndex(index),
        key=key,
        executor=_Seam(events),
        jobs=jobs,
        reporter=_Resolutions(events),
    )
    return summary.ok


def test_every_dynamic_sdist_of_a_resolution_is_built_before_it_is_retried(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["one", "two", "three"])
    for name in ("one", "two", "three"):  # Requires-Dist known only once built
        project(index, name, requires=["leaf"], static=False, build=["tool"])
    project(index, "leaf")
    project(index, "tool")
    events: list[str] = []

    assert _bootstrap(index, ws, ["app"], events)

    # One provisional resolution names all three; they (and their build tool) are built;
    # the one retry then finds leaf, and app and leaf are built.
    first, retry = (i for i, e in enumerate(events) if e == "resolve top")
    assert sorted(events[first + 1 : retry]) == ["build one", "build three", "build tool", "build two"]
    assert sorted(events[retry + 1 :]) == ["build app", "build leaf"]
    graph = load(ws / "graph.json")
    assert {(e.source.id, e.kind, e.target.id) for e in graph.edges if e.kind == "install"} == {
        ("app==1.0", "install", "one==1.0"),
        ("app==1.0", "install", "two==1.0"),
        ("app==1.0", "install", "three==1.0"),
        ("one==1.0", "install", "leaf==1.0"),
        ("two==1.0", "install", "leaf==1.0"),
        ("three==1.0", "install", "leaf==1.0"),
    }
    assert verify_all(ws) == []


def test_a_dynamic_sdist_behind_another_waits_for_the_next_retry(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "outer", requires=["inner"], static=False)
    project(index, "inner", requires=["leaf"], static=False)
    project(index, "leaf")
    events: list[str] = []

    assert _bootstrap(index, ws, ["outer"], events)

    # inner is only known once outer's metadata is: one level of dynamic metadata per retry.
    assert events == [
        "resolve top",
        "build outer",
        "resolve top",
        "build inner",
        "resolve top",
        "build leaf",
    ]


def test_the_longest_chain_of_waiting_builds_goes_first(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    # By name alone "alone" would be built first; but three builds wait on "base" in a row.
    project(index, "alone")
    project(index, "base")
    project(index, "mid", build=["base"])
    project(index, "top", build=["mid"])
    project(index, "app", build=["top"])
    events: list[str] = []

    assert _bootstrap(index, ws, ["alone", "app"], events, jobs=1)  # one slot: the order is the choice

    builds = [e.removeprefix("build ") for e in events if e.startswith("build ")]
    assert builds == ["base", "mid", "top", "alone", "app"]


def test_chain_lengths_count_the_builds_waiting_in_a_row() -> None:
    from fromsource.graph import Node

    a, b, c, d, e = (Node(n, "1") for n in "abcde")
    # b needs a, c needs b, d needs a; e and c need each other (a seeded cycle)
    needed_by = {a: [b, d], b: [c], c: [e], e: [c]}

    lengths = chain_lengths(needed_by)

    assert lengths[a] == 1 + lengths[b]
    assert lengths[b] == 1 + lengths[c]
    assert lengths[c] >= 1  # e waits on it; the way back into c counts nothing
    assert lengths[d] == 0
    assert max(lengths.values()) == lengths[a]
