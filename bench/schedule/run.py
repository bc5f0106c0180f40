"""Benchmark: plan and schedule a synthetic index of 500 / 1,000 / 2,000 packages.

The graph is shaped like a real index: a few build backends almost everything builds with
(fan-in; one backend needs another to build), runtime dependencies on packages of lower
layers (fan-out, depth), some sdists whose runtime metadata is dynamic (built first, read
from the wheel), and a seeded two-package cycle. Builds are replaced by a fake that writes
a minimal wheel from the sdist's ``tiny.json`` and goes through the same executor seam: a
the local executor's process pool and a Dask LocalCluster whose workers run
a fake build step while the coordinator still fetches, checks and signs every wheel
(``fakebuild.py``: importable, so the executors send it by reference as they send the real
build step).

Per size: the in-process wall time of ``fromsource.bootstrap.bootstrap``, per package, and
the growth from the previous size.

    python bench/schedule/run.py [--sizes 500,1000,2000] [--executors local,dask-local:2] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from _report import write_section
from fakebuild import FakeLocalExecutor, fake_build_on_worker

from bootstrap_helpers import project
from fromsource.attest.keys import generate_keypair
from fromsource.bootstrap import bootstrap
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, ExecutorSpec, queued_per_slot
from fromsource.index import LocalDirIndex
from fromsource.store import open_store
from fromsource.workspace import Workspace

JOBS = 2
BACKENDS = 8
LAYERS = 12


# ------------------------------------------------------------------ the synthetic index


def make_index(directory: Path, size: int, seed: int = 14) -> list[str]:
    """``size`` tiny sdists; returns the top-level requirements (everything not a backend)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible graph shape, not a secret
    backends = [f"backend{i}" for i in range(BACKENDS)]
    project(directory, backends[0])
    for name in backends[1:]:
        project(directory, name, build=[backends[0]])  # backends build with the first one
    cycle = ["cyclic-a", "cyclic-b"]  # a build cycle a seed breaks (admitted below)
    from test_bootstrap_seeds import _with_source

    _with_source(project(directory, cycle[0], build=[cycle[1]]))  # its seed is reviewed against it
    project(directory, cycle[1], build=[cycle[0]])
    layers: list[list[str]] = [[] for _ in range(LAYERS)]
    count = size - BACKENDS - len(cycle)
    weights = [1 / (i + 1) for i in range(BACKENDS)]  # a few backends build most packages
    for index in range(count):
        layer = index * LAYERS // count
        name = f"pkg{index:05d}"
        lower = [p for below in layers[max(0, layer - 3) : layer] for p in below]
        requires = rng.sample(lower, k=min(len(lower), rng.choice((0, 1, 1, 2, 3))))
        build = [rng.choices(backends, weights)[0]]
        if index % 400 == 399:
            build.append(cycle[0])  # a few packages build with a cycle member
        project(directory, name, build=build, requires=requires, static=index % 20 != 7)
        layers[layer].append(name)
    return [p for layer in layers for p in layer]


def admit_cycle_seed(index: Path, ws: Path, tmp: Path) -> Path:
    """Admit the published wheel of cyclic-a as a seed; returns a policy accepting it."""
    from click.testing import CliRunner

    from fromsource.cli import main
    from test_bootstrap_seeds import _admit, _policy, _published_wheel

    reviewer = generate_keypair(tmp / "reviewer", "reviewer")
    sdist = index / "cyclic_a-1.0.tar.gz"
    wheel = _published_wheel(sdist, tmp / "published")
    CliRunner().invoke(main, ["keys", "generate", str(ws / "keys"), "--name", "builder"])
    admitted = _admit(wheel, sdist, reviewer.private_path, ws)
    if admitted.exit_code != 0:
        raise SystemExit(admitted.output)
    return _policy(tmp / "policy.toml", ws, reviewer.public_path)


# ------------------------------------------------------------------ the runs


def _worker_cpu() -> dict[int, float]:
    """CPU seconds so far of each process under this one, but the fork server (it only
    imports, once per process): the build workers, local or Dask."""
    import multiprocessing.forkserver

    import psutil

    server = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
    seconds = {}
    for child in psutil.Process().children(recursive=True):
        if child.pid == server:
            continue
        try:
            times = child.cpu_times()
        except psutil.Error:  # exited meanwhile
            continue
        seconds[child.pid] = times.user + times.system
    return seconds


class _WorkersMeasured:
    """The executor, with the CPU of the build workers taken just before bootstrap() shuts
    it down (the workers exit then)."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.queued_per_slot = queued_per_slot(executor)  # as the executor asks
        self.before = _worker_cpu()
        self.seconds = 0.0

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        return self.executor.submit(request)  # type: ignore[no-any-return]

    def shutdown(self) -> None:
        # Workers that started during the run count from zero (their start is the run's).
        self.seconds = sum(cpu - self.before.get(pid, 0.0) for pid, cpu in _worker_cpu().items())
        self.executor.shutdown()


def run(size: int, executor_spec: str, tmp: Path) -> dict[str, float]:
    index, ws_root = tmp / f"index-{size}", tmp / f"ws-{size}-{executor_spec.replace(':', '-')}"
    if not index.is_dir():
        make_index(index, size)
    requirements = make_requirements(index)
    policy_path = admit_cycle_seed(index, ws_root, tmp / f"seed-{size}-{executor_spec.replace(':', '-')}")
    from fromsource.policy import load_policy

    ws = Workspace(ws_root)
    key = ws.keys / "builder.key"
    if executor_spec == "local":
        executor = FakeLocalExecutor(JOBS)
    else:
        from fromsource.cluster import DaskExecutor

        executor = DaskExecutor.connect(
            ExecutorSpec("dask-local", workers=JOBS),
            store=open_store(ws_root / "store"),
            workspace=ws,
            key=key,
            build=fake_build_on_worker,
        )
    measured = _WorkersMeasured(executor)
    start, thread_cpu, process_cpu = time.perf_counter(), time.thread_time(), time.process_time()
    summary = bootstrap(
        requirements,
        workspace=ws,
        index=LocalDirIndex(index),
        key=key,
        jobs=JOBS,
        executor=measured,
        policy=load_policy(policy_path),
    )
    wall = time.perf_counter() - start
    # The planner runs on this thread; the process also holds the executor's threads (and,
    # on dask-local, the Dask scheduler and client): the workers' CPU is in neither.
    thread_cpu, process_cpu = time.thread_time() - thread_cpu, time.process_time() - process_cpu
    if not summary.ok:
        bad = [p for p in summary.packages if p.status not in ("built", "reused")][:3]
        raise SystemExit(f"{size} / {executor_spec}: not everything built: {bad}")
    return {
        "nodes": len(summary.packages),
        "wall": wall,
        "per_package_ms": 1000 * wall / len(summary.packages),
        "planner_cpu_ms": 1000 * thread_cpu / len(summary.packages),
        "process_cpu_ms": 1000 * process_cpu / len(summary.packages),
        "workers_cpu_ms": 1000 * measured.seconds / len(summary.packages),
    }


def make_requirements(index: Path) -> list[str]:
    return sorted({p.name.rsplit("-", 1)[0] for p in index.glob("pkg*.tar.gz")})


def render(rows: list[tuple[str, int, dict[str, float]]]) -> str:
    lines = [
        "## schedule: planning and scheduling a synthetic index",
        "",
        f"One run per row on {platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Produced by `python bench/schedule/run.py`. A synthetic "
        f"index ({BACKENDS} backends, {LAYERS} layers of runtime dependencies, one package in 20 "
        "with dynamic metadata, a two-package build cycle broken by an admitted seed); builds "
        f"replaced by a fake through the executor seam, {JOBS} workers, every wheel signed. "
        "Wall = `fromsource.bootstrap.bootstrap` in-process; per package = wall / packages, "
        "everything included (on Dask its own per-task machinery and the coordinator's checks "
        "and signature of every wheel). Targets: planner overhead at most 5 ms per package, "
        "which is the planner CPU column (CPU time of the planner's own thread: resolving, "
        "scheduling, handing builds over); linear growth. Process CPU = the planner's process "
        "(its threads, and on Dask the scheduler and client); workers CPU = the processes under "
        "it (the build workers; not the fork server, which only imports); all per package.",
        "",
        "| executor | packages | wall (s) | per package (ms) | planner CPU (ms) | process CPU (ms) "
        "| workers CPU (ms) | growth vs previous size |",
        "|---|---|---|---|---|---|---|---|",
    ]
    previous: dict[str, dict[str, float]] = {}
    for spec, _size, row in rows:
        growth = ""
        if spec in previous:
            before = previous[spec]
            growth = (
                f"{row['wall'] / before['wall']:.2f}x time for {row['nodes'] / before['nodes']:.2f}x packages"
            )
        previous[spec] = row
        lines.append(
            f"| {spec} | {int(row['nodes'])} | {row['wall']:.1f} | {row['per_package_ms']:.1f} "
            f"| {row['planner_cpu_ms']:.1f} | {row['process_cpu_ms']:.1f} | {row['workers_cpu_ms']:.1f} "
            f"| {growth} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="500,1000,2000")
    parser.add_argument("--executors", default="local,dask-local:2")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for spec in args.executors.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                row = run(size, spec, tmp)
                print(spec, size, json.dumps(row), flush=True)
                rows.append((spec, size, row))
    markdown = render(rows)
    print(markdown)
    if not args.no_write:
        write_section("schedule", markdown)


if __name__ == "__main__":
    main()
