"""Benchmark: plan and schedule a synthetic index of 500 / 1,000 / 2,000 packages.

The graph is shaped like a real index: a few build backends almost everything builds with
(fan-in; one backend needs another to build), runtime dependencies on packages of lower
layers (fan-out, depth), some sdists whose runtime metadata is dynamic (built first, read
from the wheel), and a seeded two-package cycle. Builds are replaced by a fake that writes
a minimal wheel from the sdist's ``tiny.json`` and goes through the same executor seam: a
the local executor's process pool and a Dask LocalCluster whose workers run
a fake build step while the coordinator still fetches, checks and signs every wheel.

Per size: the in-process wall time of ``fromsource.bootstrap.bootstrap``, per package, and
the growth from the previous size.

    python bench/schedule/run.py [--sizes 500,1000,2000] [--executors local,dask-local:2] [--no-write]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import os
import platform
import random
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import Future
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from _report import write_section
from securesystemslib.signer import CryptoSigner

from bootstrap_helpers import project
from fromsource.attest.keys import generate_keypair, load_signer
from fromsource.attest.locate import attestation_of
from fromsource.attest.provenance import KIND_WHEEL, Dependency
from fromsource.bootstrap import bootstrap
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, ExecutorSpec, LocalExecutor
from fromsource.build import UnsignedBuild, attest_build, interpreter_dependency
from fromsource.fileutil import sha256_file
from fromsource.index import LocalDirIndex
from fromsource.remote import RemoteBuild, RemoteResult
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


# ------------------------------------------------------------------ the fake build


def _tiny_config(sdist: Path) -> dict:
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/tiny.json"))
        handle = tar.extractfile(member)
        assert handle is not None
        return json.loads(handle.read())


def fake_wheel(sdist: Path, out: Path) -> Path:
    """What tinybackend would build, without a venv or a hook process."""
    config = _tiny_config(sdist)
    name, version = config["name"], config["version"]
    stem = name.replace("-", "_").replace(".", "_").lower()
    dist_info = f"{stem}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in config["requires"]]
    files = {
        f"{stem}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fake\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        import base64

        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + f"\n{dist_info}/RECORD,,\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{stem}-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
    wheel.write_bytes(buffer.getvalue())
    return wheel


@functools.cache
def _signer(key: Path) -> CryptoSigner:
    return load_signer(key)  # once per worker, as run_build does


@functools.cache
def _interpreter() -> Dependency:
    return interpreter_dependency()


def _unsigned(
    name: str,
    version: str,
    wheel: Path,
    log: Path,
    sdist_sha: str,
    deps: tuple[Dependency, ...],
    seconds: float,
) -> UnsignedBuild:
    return UnsignedBuild(
        name=name,
        version=version,
        wheel=wheel,
        log=log,
        sdist_sha256=sdist_sha,
        dependencies=deps,
        interpreter=_interpreter(),
        isolation="none",
        sandbox=None,
        source_date_epoch=315532800,
        started_on="1980-01-01T00:00:00Z",
        finished_on="1980-01-01T00:00:00Z",
        seconds=seconds,
        timings={},
    )


def fake_run_build(request: BuildRequest) -> BuildOutcome:
    """The local executor's job with a fake build step; signs like run_build does."""
    start = time.perf_counter()
    ws = Workspace(request.workspace)
    directory = ws.builds / f"{request.name}-{request.version}{'-stage1' if request.stage1 else ''}"
    wheel = fake_wheel(request.sdist, directory / "out")
    log = directory / "build.log"
    log.write_bytes(b"")
    deps = tuple(
        Dependency(
            name=w.path.name,
            sha256=w.sha256,
            kind=KIND_WHEEL,
            edge=w.edge,
            seed=w.seed,
            attestation_sha256=sha256_file(attestation_of(w.path, ws.attestations)),
        )
        for w in sorted(request.env, key=lambda w: w.path.name)
    )
    unsigned = _unsigned(
        request.name, request.version, wheel, log, request.sdist_sha256, deps, time.perf_counter() - start
    )
    signed = attest_build(
        unsigned,
        ws,
        _signer(request.key),
        requirement=request.requirement,
        sdist=request.sdist,
        sdist_uri=None,
        update_index=False,
        output_dir=ws.stage1 if request.stage1 else None,
    )
    return BuildOutcome(
        wheel=signed.wheel,
        wheel_sha256=signed.wheel_sha256,
        attestation=signed.attestation,
        log=log,
        seconds=signed.seconds,
    )


class FakeLocalExecutor(LocalExecutor):
    """LocalExecutor's pool (workers forked from a fork server, started at once) running
    :func:`fake_run_build`."""

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        return self._pool.submit(fake_run_build, request)


def fake_build_on_worker(task: RemoteBuild) -> RemoteResult:
    """A worker's fake build step: store in, store out, as build_on_worker does."""
    from fromsource.coordinator import expected_dependencies as _expected_dependencies

    start = time.perf_counter()
    store = open_store(task.store)
    root = Path(tempfile.gettempdir()) / f"fake-worker-{os.getpid()}"
    sdist = store.fetch(task.sdist_sha256, root / task.sdist_sha256 / task.sdist_name)
    wheel = fake_wheel(sdist, root / "out" / task.key)
    log = root / "empty.log"
    log.write_bytes(b"")
    unsigned = _unsigned(
        task.name,
        task.version,
        wheel,
        log,
        task.sdist_sha256,
        _expected_dependencies(task),
        time.perf_counter() - start,
    )
    return RemoteResult(
        worker={"name": str(os.getpid()), "host": "", "address": ""},
        log_sha256=store.put_file(log),
        wheel_name=wheel.name,
        wheel_sha256=store.put_file(wheel),
        build=unsigned,
    )


# ------------------------------------------------------------------ the runs


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
    start, thread_cpu, process_cpu = time.perf_counter(), time.thread_time(), time.process_time()
    summary = bootstrap(
        requirements,
        workspace=ws,
        index=LocalDirIndex(index),
        key=key,
        jobs=JOBS,
        executor=executor,
        policy=load_policy(policy_path),
    )
    wall = time.perf_counter() - start
    # The planner runs on this thread; the process also holds the executor's threads (and,
    # on dask-local, the Dask scheduler and client): the workers' CPU is in neither.
    thread_cpu, process_cpu = time.thread_time() - thread_cpu, time.process_time() - process_cpu
    executor.shutdown()
    if not summary.ok:
        bad = [p for p in summary.packages if p.status not in ("built", "reused")][:3]
        raise SystemExit(f"{size} / {executor_spec}: not everything built: {bad}")
    return {
        "nodes": len(summary.packages),
        "wall": wall,
        "per_package_ms": 1000 * wall / len(summary.packages),
        "planner_cpu_ms": 1000 * thread_cpu / len(summary.packages),
        "process_cpu_ms": 1000 * process_cpu / len(summary.packages),
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
        "Wall = `fromsource.bootstrap.bootstrap` in-process. Targets: at most 5 ms per package; "
        "linear growth. Planner CPU = CPU time of the planner's own thread; process CPU = the "
        "planner's process (its threads, and on Dask the scheduler and client); workers not "
        "counted; both per package.",
        "",
        "| executor | packages | wall (s) | per package (ms) | planner CPU (ms) | process CPU (ms) "
        "| growth vs previous size |",
        "|---|---|---|---|---|---|---|",
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
            f"| {row['planner_cpu_ms']:.1f} | {row['process_cpu_ms']:.1f} | {growth} |"
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
