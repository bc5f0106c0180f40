"""bootstrap over a local directory of tiny sdists whose in-tree backend needs nothing installed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import bootstrap_argv, project, verify_all
from fromsource.cli import main
from fromsource.graph import load


def bootstrap(index: Path, ws: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        bootstrap_argv(index, ws, *args),
    )


def summary(result: Result) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def statuses(result: Result) -> dict[str, str]:
    return {f"{p['name']} {p['version']}": p["status"] for p in summary(result)["packages"]}


def edges(ws: Path) -> set[tuple[str, str, str]]:
    graph = load(ws / "graph.json")
    return {(e.source.id, e.kind, e.target.id) for e in graph.edges}


def test_diamond_with_backend_and_dynamic_metadata(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["left", "right"], build=["builder"])
    project(index, "left", requires=["shared<2"])
    project(index, "right", requires=["shared"], static=False)  # known only once built
    project(index, "shared", "1.0")
    project(index, "shared", "2.0")
    project(index, "builder", backend=["helper"])  # get_requires_for_build_wheel adds it
    project(index, "helper")

    result = bootstrap(index, ws, "app")

    assert result.exit_code == 0, result.output
    assert set(statuses(result).values()) == {"built"}
    assert set(statuses(result)) == {
        "app 1.0",
        "left 1.0",
        "right 1.0",
        "shared 1.0",
        "builder 1.0",
        "helper 1.0",
    }
    assert edges(ws) == {
        ("app==1.0", "build-system", "builder==1.0"),
        ("builder==1.0", "backend", "helper==1.0"),
        ("app==1.0", "install", "left==1.0"),
        ("app==1.0", "install", "right==1.0"),
        ("left==1.0", "install", "shared==1.0"),
        ("right==1.0", "install", "shared==1.0"),
    }
    assert summary(result)["roots"] == ["app==1.0"]
    assert verify_all(ws) == []
    index_page = (ws / "wheels" / "simple" / "shared" / "index.html").read_text()
    assert "shared-1.0-py3-none-any.whl#sha256=" in index_page


def test_deep_chain_builds_in_order_and_rerun_rebuilds_nothing(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    depth = 8
    for level in range(depth):  # each one's backend imports the next: order is enforced
        project(index, f"p{level}", build=[f"p{level + 1}"] if level + 1 < depth else [])

    first = bootstrap(index, ws, "p0")
    assert first.exit_code == 0, first.output
    assert list(statuses(first).values()) == ["built"] * depth
    attestations = {p.name: p.read_bytes() for p in (ws / "attestations").iterdir()}

    again = bootstrap(index, ws, "p0")  # how fast a re-run is: bench/bootstrap, not a test
    assert again.exit_code == 0, again.output
    assert list(statuses(again).values()) == ["reused"] * depth
    assert {p.name: p.read_bytes() for p in (ws / "attestations").iterdir()} == attestations
    assert verify_all(ws) == []


def test_extras_markers_and_constraints(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(
        index,
        "app",
        requires=[
            "lib[fast]",
            'winonly; sys_platform == "win32"',  # not even in the index: must not be looked up
            'posixdep; sys_platform != "win32"',
        ],
    )
    project(index, "lib", "1.0", extras=["fast"], requires=['turbo; extra == "fast"'])
    project(index, "lib", "2.0", extras=["fast"], requires=['turbo; extra == "fast"'])
    project(index, "turbo")
    project(index, "posixdep")
    (tmp_path / "constraints.txt").write_text("lib<2  # 2.0 is not wanted\n")

    result = bootstrap(index, ws, "app", "--constraint", str(tmp_path / "constraints.txt"))

    assert result.exit_code == 0, result.output
    assert set(statuses(result)) == {"app 1.0", "lib 1.0", "turbo 1.0", "posixdep 1.0"}
    assert ("lib==1.0", "install", "turbo==1.0") in edges(ws)
    assert verify_all(ws) == []


def test_version_conflict_exits_1_with_the_chain(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["left", "right"])
    project(index, "left", requires=["shared<2"])
    project(index, "right", requires=["shared>=2"])
    project(index, "shared", "1.0")
    project(index, "shared", "2.0")

    result = bootstrap(index, ws, "app")

    assert result.exit_code == 1, result.output
    assert "app 1.0 requires left" in result.stderr
    assert "left 1.0 requires shared<2" in result.stderr
    assert "right 1.0 requires shared>=2" in result.stderr
    assert not list((ws / "wheels").glob("*.whl"))


def test_keep_going_builds_independent_packages_and_skips_dependents(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "good")
    project(index, "bad", fail=True)
    project(index, "needy", build=["bad"])
    project(index, "later", build=["needy"])

    result = bootstrap(index, ws, "good", "bad", "needy", "later", "--keep-going")

    assert result.exit_code == 3, result.output
    assert statuses(result) == {
        "good 1.0": "built",
        "bad 1.0": "failed",
        "needy 1.0": "skipped",
        "later 1.0": "skipped",
    }
    reports = {p["name"]: p for p in summary(result)["packages"]}
    assert reports["bad"]["log"].endswith("builds/bad-1.0/build.log")
    assert "failing on purpose" in reports["bad"]["log_tail"]
    assert reports["needy"]["blocked_by"] == ["bad 1.0"]
    assert summary(result)["counts"] == {
        "built": 1,
        "reused": 0,
        "external": 0,
        "failed": 1,
        "skipped": 2,
        "cancelled": 0,
    }
    assert verify_all(ws) == []


def test_without_keep_going_a_failure_stops_new_builds(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "bad", fail=True)
    project(index, "needy", build=["bad"])

    result = CliRunner().invoke(main, bootstrap_argv(index, ws, "needy", jobs=1, as_json=False))

    assert result.exit_code == 3
    assert "failed bad 1.0" in result.stdout
    assert "failing on purpose" in result.stdout  # the log's last lines
    assert "skipped needy 1.0: needs bad 1.0" in result.stdout


def test_self_cycle_is_reported_before_building(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "coherent.build", "0.19.1", build=["coherent.build"])

    result = bootstrap(index, ws, "coherent.build")

    assert result.exit_code == 1, result.output
    assert "coherent.build 0.19.1 -[build-system]-> coherent.build 0.19.1" in result.stderr
    assert not (ws / "builds" / "coherent-build-0.19.1").exists()
    assert load(ws / "graph.json").cycles()  # recorded for `fromsource graph`


def test_three_package_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "top", build=["flat"])
    project(index, "flat", build=["alpha"])
    project(index, "alpha", requires=["beta"])
    project(index, "beta", build=["gamma"])
    project(index, "gamma", backend=["alpha"])  # the backend's own hook closes it

    result = bootstrap(index, ws, "top")

    assert result.exit_code == 1, result.output
    # gamma's backend edge is known once its (empty) build-system env is built and its hook
    # asked; alpha needs nothing, so it may be built; nothing in the cycle {beta, gamma} is.
    assert (
        "alpha 1.0 -[install]-> beta 1.0 -[build-system]-> gamma 1.0 -[backend]-> alpha 1.0"
        in result.stderr.replace("\n", " ")
    ) or (
        "beta 1.0 -[build-system]-> gamma 1.0 -[backend]-> alpha 1.0 -[install]-> beta 1.0"
        in result.stderr.replace("\n", " ")
    )
    assert [w.name for w in (ws / "wheels").glob("*.whl")] in ([], ["alpha-1.0-py3-none-any.whl"])


def test_static_three_package_cycle(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "a", build=["b"])
    project(index, "b", build=["c"])
    project(index, "c", build=["a"])

    result = bootstrap(index, ws, "a")

    assert result.exit_code == 1, result.output
    assert "a 1.0 -[build-system]-> b 1.0 -[build-system]-> c 1.0 -[build-system]-> a 1.0" in (
        result.stderr.replace("\n", " ")
    )
    assert not (ws / "builds").exists() or not any((ws / "builds").iterdir())


def test_bad_input_exits_2(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app")
    bad_requirement = bootstrap(index, ws, "app ==== 1")
    assert bad_requirement.exit_code == 2
    assert "error: invalid requirement 'app ==== 1'" in bad_requirement.stderr
    no_constraints = bootstrap(index, ws, "app", "--constraint", str(tmp_path / "missing.txt"))
    assert no_constraints.exit_code == 2
    assert "cannot read constraints file" in no_constraints.stderr
    assert "missing.txt: No such file or directory" in no_constraints.stderr


def _read_until(stream: IO[str], wanted: set[str]) -> None:
    """Read progress lines until each of ``wanted`` has been seen: gated on the pipe, no clock."""
    missing = set(wanted)
    while missing:
        line = stream.readline()
        assert line, f"the run ended before printing {sorted(missing)}"
        assert not line.startswith("failed"), line
        missing -= {w for w in missing if line.startswith(w)}


def test_killed_run_resumes_and_the_lock_keeps_a_second_run_out(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", build=["slow", "quick"])
    project(index, "slow", block=True)
    project(index, "quick")
    command = [
        sys.executable,
        "-m",
        "fromsource",
        *bootstrap_argv(index, ws, "app"),
    ]

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Off a terminal the run prints a line as each build starts and ends; slow's backend
        # never returns from build_wheel, so the run holds the lock until it is killed.
        assert first.stderr is not None
        _read_until(first.stderr, {"building slow 1.0", "building quick 1.0"})
        second = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 2
        assert "in use by another fromsource process" in second.stderr
        _read_until(first.stderr, {"built quick 1.0"})
        assert (ws / "wheels" / "quick-1.0-py3-none-any.whl").exists()
    finally:
        first.send_signal(signal.SIGKILL)
        # Its pipes close once no worker or hook outlives it; a hang here is that failure.
        first.communicate(timeout=60)
    assert not (ws / "wheels" / "slow-1.0-py3-none-any.whl").exists()
    project(index, "slow")  # the same release, now with a backend that finishes

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert resumed.returncode == 0, resumed.stderr
    result = {p["name"]: p["status"] for p in json.loads(resumed.stdout)["packages"]}
    assert result == {"quick": "reused", "slow": "built", "app": "built"}
    assert verify_all(ws) == []
    leftovers = [p for p in ws.rglob(".*") if p.suffix in (".tmp", ".part")]
    assert leftovers == []


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_library_reports_progress_without_printing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from fromsource.attest.keys import generate_keypair
    from fromsource.bootstrap import PackageReport, Reporter
    from fromsource.bootstrap import bootstrap as run
    from fromsource.bootstrap.executor import InlineExecutor
    from fromsource.index import LocalDirIndex
    from fromsource.workspace import Workspace

    index = tmp_path / "index"
    project(index, "app", build=["tool"])
    project(index, "tool")
    seen: list[tuple[str, str]] = []

    class Recorder(Reporter):
        def started(self, name: str, version: str) -> None:
            seen.append(("started", name))

        def finished(self, report: PackageReport) -> None:
            seen.append((report.status, report.name))

    pair = generate_keypair(tmp_path / "keys")
    result = run(
        ["app"],
        workspace=Workspace(tmp_path / "ws"),
        index=LocalDirIndex(index),
        key=pair.private_path,
        executor=InlineExecutor(),
        reporter=Recorder(),
    )

    assert result.ok
    assert seen == [("started", "tool"), ("built", "tool"), ("started", "app"), ("built", "app")]
    assert capfd.readouterr() == ("", "")


def test_unresolvable_build_environment_fails_only_its_package_with_keep_going(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", build=["not-on-the-index"])
    project(index, "needy", build=["app"])
    project(index, "fine")

    stopped = bootstrap(index, ws, "app", "fine")
    assert stopped.exit_code == 1  # without --keep-going the resolution error ends the run
    assert "not-on-the-index" in stopped.stderr

    result = bootstrap(index, ws, "app", "fine", "needy", "--keep-going")
    assert result.exit_code == 3, result.output
    assert statuses(result) == {"app 1.0": "failed", "fine 1.0": "built", "needy 1.0": "skipped"}
    app = next(p for p in summary(result)["packages"] if p["name"] == "app")
    assert "build environment cannot be resolved" in app["error"]
    assert "not-on-the-index" in app["error"] + app["log_tail"]
