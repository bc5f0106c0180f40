"""Re-runs and long builds: --frozen resolves from graph.json's pins and sources/ only; off a
terminal, a line per build start and a heartbeat while builds run."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from click.testing import CliRunner, Result

from bootstrap_helpers import project
from fromsource.cli import main
from fromsource.cli._heartbeat import Heartbeat


def _bootstrap(ws: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["bootstrap", *args, "-w", str(ws), "-j", "2", "--json"])


def _statuses(result: Result) -> dict[str, str]:
    return {f"{p['name']} {p['version']}": p["status"] for p in json.loads(result.stdout)["packages"]}


def test_frozen_rerun_uses_the_graph_pins_without_any_index(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["lib"], build=["tool"])
    project(index, "lib", "1.0")
    project(index, "tool")
    first = _bootstrap(ws, "app", "--find-links", str(index), "--no-index")
    assert first.exit_code == 0, first.output
    assert first.stderr.count("building ") >= 3  # off a terminal: one line per build start
    assert "building app 1.0" in first.stderr

    project(index, "lib", "2.0")  # a newer release: a plain run would take it
    plain = _bootstrap(tmp_path / "other", "app", "--find-links", str(index), "--no-index")
    assert _statuses(plain)["lib 2.0"] == "built"
    shutil.rmtree(index)  # no index at all from here on

    frozen = _bootstrap(ws, "app", "--frozen")
    assert frozen.exit_code == 0, frozen.output
    assert _statuses(frozen) == {"app 1.0": "reused", "lib 1.0": "reused", "tool 1.0": "reused"}
    assert json.loads(frozen.stdout)["installable"][0]["installable"] is True


def test_frozen_refuses_what_the_graph_does_not_hold(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app")
    project(index, "other")
    no_graph = _bootstrap(ws, "app", "--frozen")
    assert no_graph.exit_code == 2 and "no build graph" in no_graph.stderr
    assert _bootstrap(ws, "app", "--find-links", str(index), "--no-index").exit_code == 0

    unknown = _bootstrap(ws, "app", "other", "--frozen")
    assert unknown.exit_code == 1  # the top-level resolution cannot be met
    assert "other is not in" in unknown.stderr and "without --frozen" in unknown.stderr
    assert "app==1.0" in (ws / "graph.json").read_text()  # a failed run keeps the pins
    mixed = _bootstrap(ws, "app", "--frozen", "--find-links", str(index))
    assert mixed.exit_code == 2 and "--frozen takes the sdists from the workspace" in mixed.stderr
    (sdist,) = (ws / "sources").glob("app-*.tar.gz")
    sdist.unlink()
    gone = _bootstrap(ws, "app", "--frozen")
    assert gone.exit_code == 2 and "the sdist of app 1.0 is not in" in gone.stderr


def test_heartbeat_names_builds_running_longer_than_the_interval() -> None:
    now = [100.0]
    lines: list[str] = []
    heartbeat = Heartbeat(lines.append, interval=30.0, clock=lambda: now[0])
    heartbeat.started("lxml 5.3.0")
    now[0] = 120.0
    heartbeat.started("pillow 11.0.0")
    assert heartbeat.beat() == []  # nothing has run 30 s yet
    now[0] = 131.0
    assert heartbeat.beat() == ["still building lxml 5.3.0 (31s)"]
    now[0] = 160.0
    heartbeat.finished("lxml 5.3.0")
    assert heartbeat.beat() == ["still building pillow 11.0.0 (40s)"]
    assert lines == [
        "building lxml 5.3.0",
        "building pillow 11.0.0",
        "still building lxml 5.3.0 (31s)",
        "still building pillow 11.0.0 (40s)",
    ]


def test_heartbeat_thread_beats_until_stopped() -> None:
    beaten = threading.Event()
    lines: list[str] = []

    def write(line: str) -> None:
        lines.append(line)
        if line.startswith("still building"):
            beaten.set()

    ticks = iter(range(0, 10_000, 5))
    heartbeat = Heartbeat(write, interval=0.001, clock=lambda: float(next(ticks)))
    heartbeat.started("slow 1.0")
    heartbeat.start()
    try:
        assert beaten.wait(timeout=60)  # set by the thread's first beat; no fixed sleep
    finally:
        heartbeat.stop()
    count = len(lines)
    assert lines[0] == "building slow 1.0" and lines[1].startswith("still building slow 1.0 (")
    assert len(lines) == count  # stopped: no more beats
