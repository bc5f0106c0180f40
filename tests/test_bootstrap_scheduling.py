"""Scheduling, observed at the executor seam (what was submitted when), never by timing.

Builds start while discovery goes on: every sdist with dynamic metadata that a resolution
needs is built side by side, and the resolution is retried once, not once per sdist. Among
ready packages the one the longest chain of builds waits on goes first. While builds run and
nothing else can move, what a waiting resolution probably needs (PKG-INFO's non-authoritative
Requires-Dist) is read into the graph and built meanwhile; the graph's edges still come
from the built metadata. A build's seconds count every attempt it took. An executor that
queues builds (the Dask one) is handed that many more per build slot."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from bootstrap_helpers import project, verify_all
from fromsource.attest.keys import generate_keypair
from fromsource.bootstrap import BootstrapSummary, PackageReport, Reporter
from fromsource.bootstrap import bootstrap as run
from fromsource.bootstrap.executor import (
    BuildOutcome,
    BuildRequest,
    InlineExecutor,
    queued_per_slot,
    run_build,
)
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


class _Held(InlineExecutor):
    """The real in-process executor, except that ``held``'s first build stays running until
    another build is handed over (it is then finished first): what the planner does while a
    build runs becomes an order of events. Should nothing else come, a fallback finishes it
    after ``patience`` seconds and says so in the events (the test then fails, never hangs)."""

    def __init__(self, events: list[str], held: str, patience: float = 120.0) -> None:
        self.events = events
        self.held = held
        self.patience = patience
        self.waiting: tuple[BuildRequest, Future[BuildOutcome]] | None = None
        self.lock = threading.Lock()
        self.released = threading.Event()

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        self.events.append(f"build {request.name}")
        if request.name == self.held and not self.released.is_set() and self.waiting is None:
            future: Future[BuildOutcome] = Future()
            self.waiting = (request, future)
            threading.Thread(target=self._fallback, daemon=True).start()
            return future
        done = super().submit(request)
        self._release(f"{self.held} finished")
        return done

    def _fallback(self) -> None:
        if not self.released.wait(self.patience):
            self._release(f"{self.held} finished with nothing else built meanwhile")

    def _release(self, event: str) -> None:
        with self.lock:
            if self.waiting is None:
                return
            (request, future), self.waiting = self.waiting, None
            self.released.set()
        self.events.append(event)
        future.set_result(run_build(request))


class _Timed(InlineExecutor):
    """The real in-process executor, noting each outcome's seconds by package."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        future = super().submit(request)
        self.seconds.setdefault(request.name, []).append(future.result().seconds)
        return future


class _Resolutions(Reporter):
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def discovering(self, message: str) -> None:
        if message.startswith("resolving ") and "build environment" not in message:
            self.events.append("resolve top")


def _bootstrap(
    index: Path,
    ws: Path,
    requirements: list[str],
    events: list[str],
    jobs: int = 2,
    executor: InlineExecutor | None = None,
) -> BootstrapSummary:
    key = generate_keypair(ws / "keys", "builder").private_path
    return run(
        requirements,
        workspace=Workspace(ws),
        index=LocalDirIndex(index),
        key=key,
        executor=executor or _Seam(events),
        jobs=jobs,
        reporter=_Resolutions(events),
    )


def test_every_dynamic_sdist_of_a_resolution_is_built_before_it_is_retried(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["one", "two", "three"])
    for name in ("one", "two", "three"):  # Requires-Dist known only once built
        project(index, name, requires=["leaf"], static=False, build=["tool"])
    project(index, "leaf")
    project(index, "tool")
    events: list[str] = []

    assert _bootstrap(index, ws, ["app"], events).ok

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

    assert _bootstrap(index, ws, ["outer"], events).ok

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


def test_packages_waiting_for_a_slot_get_it_in_chain_order_as_slots_free(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    # Once base is built, a, b, c and z are all ready and queue for the one slot; z goes
    # first (two builds wait on it in a row), then y, ready later but with a longer chain
    # than the queued a, b, c, then those by name, then x.
    project(index, "base")
    for name in ("a", "b", "c", "z"):
        project(index, name, build=["base"])
    project(index, "y", build=["z"])
    project(index, "x", build=["y"])
    events: list[str] = []

    assert _bootstrap(index, ws, ["a", "b", "c", "x"], events, jobs=1)

    builds = [e.removeprefix("build ") for e in events if e.startswith("build ")]
    assert builds == ["base", "z", "y", "a", "b", "c", "x"]


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


def test_while_a_dynamic_sdist_builds_what_its_pkg_info_names_is_built_too(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    # app's Requires-Dist is dynamic; its PKG-INFO names lib (as setuptools writes it).
    project(index, "app", requires=["lib"], static=False, hint=["lib"])
    project(index, "lib", build=["tool"])
    project(index, "tool")
    events: list[str] = []

    assert _bootstrap(index, ws, ["app"], events, executor=_Held(events, held="app")).ok

    # lib's build tool is built while app's build runs (the first build handed over after
    # app's); lib itself, once tool is there, whether or not the resolution was retried.
    assert events == [
        "resolve top",
        "build app",
        "build tool",
        "app finished",
        "resolve top",
        "build lib",
    ]
    graph = load(ws / "graph.json")
    assert {(e.source.id, e.kind, e.target.id) for e in graph.edges} == {
        ("app==1.0", "install", "lib==1.0"),
        ("lib==1.0", "build-system", "tool==1.0"),
    }
    assert verify_all(ws) == []


def test_a_wrong_guess_costs_a_build_but_no_edge(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["lib"], static=False, hint=["stray"])  # PKG-INFO is wrong
    project(index, "lib")
    project(index, "stray")
    events: list[str] = []

    summary = _bootstrap(index, ws, ["app"], events, executor=_Held(events, held="app"))

    assert summary.ok
    assert events == ["resolve top", "build app", "build stray", "app finished", "resolve top", "build lib"]
    graph = load(ws / "graph.json")
    assert {(e.source.id, e.target.id) for e in graph.edges} == {("app==1.0", "lib==1.0")}
    assert {p.name for p in summary.packages if p.status == "built"} == {"app", "lib", "stray"}
    assert verify_all(ws) == []


def test_a_build_counts_the_seconds_of_every_attempt(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    # The backend asks for helper only when asked (get_requires_for_build_wheel): the first
    # attempt finds it missing, the second builds.
    project(index, "app", backend=["helper"])
    project(index, "helper")
    timed = _Timed()

    summary = _bootstrap(index, ws, ["app"], [], executor=timed)

    assert summary.ok
    assert len(timed.seconds["app"]) == 2
    app = next(p for p in summary.packages if p.name == "app")
    assert app.seconds == pytest.approx(sum(timed.seconds["app"]), abs=1e-3)
    assert summary.efficiency is not None
    assert summary.efficiency.build_seconds == pytest.approx(
        sum(sum(s) for s in timed.seconds.values()), abs=1e-2
    )


class _Queueing(_Seam):
    """The real in-process executor, asking to have ``queued`` builds per slot queued with
    it beyond the one running there (as the Dask executor does: a worker then finds its next
    build waiting instead of idling until the planner hears from it)."""

    def __init__(self, events: list[str], queued: object) -> None:
        super().__init__(events)
        self.queued_per_slot = queued


class _Finished(Reporter):
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def finished(self, report: PackageReport) -> None:
        self.events.append(f"done {report.name}")


@pytest.mark.parametrize(("queued", "expected"), [(None, 0), (-1, 0), ("2", 0), (True, 0), (0, 0), (3, 3)])
def test_only_a_positive_whole_number_of_queued_builds_counts(queued: object, expected: int) -> None:
    executor = _Queueing([], queued) if queued is not None else _Seam([])
    assert queued_per_slot(executor) == expected


@pytest.mark.parametrize(("queued", "at_once"), [(None, 1), (1, 2), (2, 3)])
def test_an_executor_that_queues_builds_is_handed_that_many_more_per_slot(
    tmp_path: Path, queued: object, at_once: int
) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    names = ["a", "b", "c", "d", "e"]
    for name in names:
        project(index, name)
    events: list[str] = []
    executor = _Queueing(events, queued) if queued is not None else _Seam(events)

    summary = run(
        names,
        workspace=Workspace(ws),
        index=LocalDirIndex(index),
        key=generate_keypair(ws / "keys", "builder").private_path,
        executor=executor,
        jobs=1,
        reporter=_Finished(events),
    )

    assert summary.ok
    handed_over, most = 0, 0  # builds handed over and not yet taken back, at worst
    for event in events:
        handed_over += 1 if event.startswith("build ") else -1
        most = max(most, handed_over)
    assert most == at_once
    assert summary.jobs == 1  # the build slots: what the efficiency figures count
    assert summary.efficiency is not None and summary.efficiency.workers == 1


@pytest.mark.parametrize("queued", [1, 2])
def test_builds_are_queued_only_while_more_wait_for_a_slot_than_there_are_slots(
    tmp_path: Path, queued: int
) -> None:
    # Three ready for two slots, then the one built with them: one waits, fewer than there
    # are slots, so nothing is handed over early (the early one could turn out the wrong one).
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "top", build=["a", "b", "c"])
    for name in ("a", "b", "c"):
        project(index, name)
    events: list[str] = []

    summary = run(
        ["top"],
        workspace=Workspace(ws),
        index=LocalDirIndex(index),
        key=generate_keypair(ws / "keys", "builder").private_path,
        executor=_Queueing(events, queued),
        jobs=2,
        reporter=_Finished(events),
    )

    assert summary.ok
    handed_over, most = 0, 0
    for event in events:
        handed_over += 1 if event.startswith("build ") else -1
        most = max(most, handed_over)
    assert most == 2
