"""Bootstrap on Dask: a LocalCluster of 2 worker processes builds the hermetic graphs, seeds
and cycles included, into wheels equivalent to the local executor's; real `dask scheduler` and
`dask worker` processes without workspace or key, over mutual TLS, build a graph through a
store directory, and survive a worker killed mid-build; losing the scheduler stops the run
cleanly. Every cluster here speaks TLS, as `dask-local` does: plain TCP is refused."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import bootstrap_argv, project, verify_all
from fromsource.attest.provenance import DASK_BUILDER_ID
from fromsource.cli import main
from fromsource.compare import compare_wheels
from tlscerts import TlsFiles, make_tls_files

if TYPE_CHECKING:
    from fromsource.remote import RemoteBuild, RemoteResult

distributed = pytest.importorskip("distributed")
DASK = [sys.executable, "-m", "dask"]  # the `dask` command line of this interpreter


def _bootstrap(index: Path, ws: Path, *args: str) -> Result:
    return CliRunner().invoke(main, bootstrap_argv(index, ws, *args, jobs=None))


def _statuses(result: Result) -> dict[str, str]:
    return {p["name"]: p["status"] for p in json.loads(result.stdout)["packages"]}


def _run_details(ws: Path, wheel: Path) -> dict[str, Any]:
    envelope = json.loads((ws / "attestations" / f"{wheel.name}.intoto.jsonl").read_text().splitlines()[0])
    details: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))["predicate"]["runDetails"]
    return details


def _diamond(index: Path) -> None:
    project(index, "app", requires=["left", "right"], build=["builder"])
    project(index, "left", requires=["shared<2"])
    project(index, "right", requires=["shared"], static=False)  # metadata known once built
    project(index, "shared", "1.0")
    project(index, "builder", backend=["helper"])  # get_requires_for_build_wheel adds it
    project(index, "helper")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two worker processes, one build at a time each, started as ``dask-local`` starts them
    (forked from the fork server, not spawned, speaking TLS with credentials made for it);
    yields the dask+tls:// address, with Dask configured to present those credentials."""
    import dask

    from fromsource.clusterstart import TLS_SETTINGS, close, fork_server, start_local

    client, local = start_local(2, fork_server())
    security: Any = local.security
    credentials = (security.tls_ca_file, security.tls_client_cert, security.tls_client_key)
    try:
        with dask.config.set(dict(zip(TLS_SETTINGS, credentials, strict=True))):
            yield local.scheduler_address.replace("tls://", "dask+tls://")
    finally:
        close(client, local)


def test_the_local_cluster_refuses_a_client_without_its_credentials(cluster: str) -> None:
    from distributed.comm.core import CommClosedError

    address = cluster.removeprefix("dask+tls://")
    with pytest.raises(CommClosedError, match="Connection reset"):  # plain TCP: no handshake
        distributed.Client(f"tcp://{address}", timeout=5, set_as_default=False)
    stranger = distributed.security.Security.temporary()  # a CA of its own, not the cluster's
    with pytest.raises(CommClosedError, match="TLS certificate does not match"):
        distributed.Client(f"tls://{address}", timeout=5, set_as_default=False, security=stranger)


def test_dask_tls_without_usable_credentials_is_an_input_error(tmp_path: Path) -> None:
    import dask

    from fromsource.clusterstart import TLS_SETTINGS

    index = tmp_path / "index"
    project(index, "solo")
    with dask.config.set(dict.fromkeys(TLS_SETTINGS)):
        refused = _bootstrap(
            index, tmp_path / "ws", "solo", "--executor", f"dask+tls://127.0.0.1:{_free_port()}"
        )
    assert refused.exit_code == 2, refused.output
    assert "dask+tls:// needs Dask's TLS settings" in refused.stderr
    assert "distributed.comm.tls.ca-file" in refused.stderr
    assert "Traceback" not in refused.output
    assert not list((tmp_path / "ws" / "wheels").glob("*.whl"))
    # Named but not there, or not a certificate: said as such, not as an unreachable scheduler.
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    missing = tmp_path / "missing-ca.pem"
    for ca, expected in (
        (missing, f"distributed.comm.tls.ca-file names {missing}, which is not a file"),
        (junk, "cannot use Dask's TLS settings"),
    ):
        with dask.config.set(dict(zip(TLS_SETTINGS, (str(ca), str(junk), None), strict=True))):
            unusable = _bootstrap(
                index, tmp_path / "ws", "solo", "--executor", f"dask+tls://127.0.0.1:{_free_port()}"
            )
        assert unusable.exit_code == 2, unusable.output
        assert expected in unusable.stderr
        assert "cannot reach" not in unusable.stderr
        assert "Traceback" not in unusable.output


def test_local_cluster_builds_what_the_local_executor_builds(cluster: str, tmp_path: Path) -> None:
    index = tmp_path / "index"
    _diamond(index)
    local_ws, dask_ws = tmp_path / "local", tmp_path / "dask"

    local = _bootstrap(index, local_ws, "app", "-j", "2")
    on_dask = _bootstrap(index, dask_ws, "app", "--executor", cluster)

    assert local.exit_code == 0, local.output
    assert on_dask.exit_code == 0, on_dask.output
    assert set(_statuses(on_dask).values()) == {"built"}
    efficiency = json.loads(on_dask.stdout)["efficiency"]
    assert efficiency["workers"] == 2  # the cluster's worker threads, the default -j
    assert efficiency["builds"] == 6
    assert efficiency["lower_bound_seconds"] >= efficiency["critical_path_seconds"] > 0
    wheels = sorted((dask_ws / "wheels").glob("*.whl"))
    assert [w.name for w in wheels] == sorted(w.name for w in (local_ws / "wheels").glob("*.whl"))
    for wheel in wheels:
        assert compare_wheels(local_ws / "wheels" / wheel.name, wheel).equivalent, wheel.name
        details = _run_details(dask_ws, wheel)
        assert details["builder"]["id"] == DASK_BUILDER_ID
        assert details["worker"]["address"].startswith("tls://127.0.0.1:")
    assert "worker" not in _run_details(local_ws, local_ws / "wheels" / wheels[0].name)
    assert verify_all(dask_ws) == []
    # Blobs travel through the store; build directories are gone, logs stay.
    assert any((dask_ws / "store" / "sha256").rglob("*"))
    for build in (dask_ws / "builds").iterdir():
        assert sorted(p.name for p in build.iterdir()) == ["backend-requires.json", "build.log", "tasks.json"]

    again = _bootstrap(index, dask_ws, "app", "--executor", cluster)
    assert again.exit_code == 0, again.output
    assert set(_statuses(again).values()) == {"reused"}


def test_local_cluster_builds_a_seeded_cycle_in_two_stages(cluster: str, tmp_path: Path) -> None:
    from fromsource.attest.keys import generate_keypair
    from test_bootstrap_seeds import _admit, _policy, _published_wheel, _verify, _with_source

    reviewer = generate_keypair(tmp_path / "reviewer", "reviewer")
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "top", build=["a"])
    sdist_a = _with_source(project(index, "a", build=["b"]))
    project(index, "b", build=["c"])
    project(index, "c", build=["a"])
    assert (
        _admit(_published_wheel(sdist_a, tmp_path / "pub"), sdist_a, reviewer.private_path, ws).exit_code == 0
    )
    policy = _policy(tmp_path / "policy.toml", ws, reviewer.public_path)

    result = _bootstrap(index, ws, "top", "--policy", str(policy), "--executor", cluster)

    assert result.exit_code == 0, result.output
    reports = {p["name"]: p for p in json.loads(result.stdout)["packages"]}
    for member in ("a", "b", "c"):
        assert reports[member]["stage1_equivalent"] is True, member
        assert (ws / "stage1" / f"{member}-1.0-py3-none-any.whl").is_file()
    assert reports["a"]["seed_equivalent"] is True
    for wheel in sorted((ws / "wheels").glob("*.whl")):
        checked = _verify(ws, wheel, "--policy", str(policy))
        assert checked.exit_code == 0, checked.output


def test_same_inputs_building_other_bytes_are_kept_and_reported(cluster: str, tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "flaky", unstable=True)  # every build writes different bytes
    first = _bootstrap(index, ws, "flaky", "--executor", cluster)
    assert first.exit_code == 0, first.output
    wheel = ws / "wheels" / "flaky-1.0-py3-none-any.whl"
    first_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    wheel.unlink()  # the same task runs again: same inputs, same key

    second = _bootstrap(index, ws, "flaky", "--executor", cluster)

    assert second.exit_code == 0, second.output
    (report,) = json.loads(second.stdout)["packages"]
    assert report["status"] == "built"
    assert report["other_results"] == [first_sha]
    second_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for digest in (first_sha, second_sha):  # both results stay in the store
        assert (ws / "store" / "sha256" / digest[:2] / digest).is_file()
    text = _bootstrap(index, ws, "flaky", "--executor", cluster)
    assert text.exit_code == 0  # reused now: nothing built, nothing reported
    assert json.loads(text.stdout)["packages"][0]["other_results"] == []


@pytest.mark.parametrize("events_arrive", [True, False])
def test_results_come_back_as_events_or_else_through_their_futures(
    cluster: str, tmp_path: Path, events_arrive: bool
) -> None:
    from fromsource.attest.keys import generate_keypair
    from fromsource.bootstrap import bootstrap
    from fromsource.bootstrap.executor import parse_executor
    from fromsource.cluster import DaskExecutor
    from fromsource.clusterstart import Startup
    from fromsource.index import LocalDirIndex
    from fromsource.remote import RESULTS_TOPIC
    from fromsource.store import open_store
    from fromsource.workspace import Workspace

    class Observed(DaskExecutor):
        """The real executor, noting the task key of each result event; with events lost on
        the way, each build must finish through its Dask future instead."""

        seen: ClassVar[list[str]] = []
        fetched: ClassVar[list[str]] = []

        def _reported(self, event: Any) -> None:
            self.seen.append(event[1][0])
            if events_arrive:
                super()._reported(event)

        def _finish(self, request: Any, task: RemoteBuild, remote: Any, outcome: Any) -> None:
            self.fetched.append(task.key)  # the result fetched from the worker, through the scheduler
            super()._finish(request, task, remote, outcome)

    index, ws = tmp_path / "index", Workspace(tmp_path / "ws").create()
    _diamond(index)
    key = generate_keypair(ws.keys).private_path
    store = open_store(ws.root / "store")
    executor = Observed(Startup(parse_executor(cluster), store, ws), store=store, workspace=ws, key=key)
    summary = bootstrap(["app"], workspace=ws, index=LocalDirIndex(index), key=key, executor=executor)

    assert summary.ok
    assert {p.status for p in summary.packages} == {"built"}
    assert verify_all(ws.root) == []
    # Every result was sent as an event: the six wheels' tasks, and builder's first attempt,
    # which reported that its backend asks for helper.
    wheels = {k for f in ws.builds.glob("*/tasks.json") for k in json.loads(f.read_text())}
    assert len(wheels) == 6
    assert wheels < set(Observed.seen)
    assert len(set(Observed.seen)) == len(Observed.seen) == 7
    assert sorted(Observed.fetched) == ([] if events_arrive else sorted(Observed.seen))
    # The scheduler keeps a bounded log of the one topic every run shares.
    with distributed.Client(cluster.replace("dask+tls://", "tls://"), set_as_default=False) as client:
        assert {event[1][0] for event in client.get_events(RESULTS_TOPIC)} >= set(Observed.seen)


def test_an_event_that_is_not_a_result_of_this_run_finishes_nothing(cluster: str, tmp_path: Path) -> None:
    """Events on the shared topic may be malformed, name a task of another run, or carry a
    payload that is not a build result: none finishes a build; one naming a build of this run
    with an unreadable or foreign payload makes that build fail, and nothing is signed."""
    import pickle
    from concurrent.futures import Future
    from typing import cast

    from fromsource.attest.keys import generate_keypair
    from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, parse_executor
    from fromsource.cluster import DaskExecutor
    from fromsource.clusterstart import Startup
    from fromsource.store import open_store
    from fromsource.workspace import Workspace

    ws = Workspace(tmp_path / "ws").create()
    store = open_store(ws.root / "store")
    key = generate_keypair(ws.keys).private_path
    executor = DaskExecutor(Startup(parse_executor(cluster), store, ws), store=store, workspace=ws, key=key)
    # Neither is looked at before the payload is refused.
    request, task = cast(BuildRequest, object()), cast("RemoteBuild", object())
    try:
        waiting: dict[str, Future[BuildOutcome]] = {}
        for name in ("unreadable", "text", "foreign"):
            waiting[name] = Future()
            executor._waiting[name] = (request, task, waiting[name])
        for event in [None, 5, ("t",), ("t", "ab"), ("t", (1, b"x")), ("t", ("another-run", b"x"))]:
            executor._reported(event)
        assert not any(outcome.done() for outcome in waiting.values())
        assert set(executor._waiting) == set(waiting)

        executor._reported(("t", ("unreadable", b"not a pickle")))
        executor._reported(("t", ("text", "a string, not bytes")))
        executor._reported(("t", ("foreign", pickle.dumps({"wheel_name": "x-1.0-py3-none-any.whl"}))))
        errors = {name: outcome.result(timeout=60).error for name, outcome in waiting.items()}
    finally:
        executor.shutdown()
    assert errors["unreadable"] is not None and "cannot be read" in errors["unreadable"]
    assert errors["text"] is not None and "cannot be read" in errors["text"]
    assert errors["foreign"] == "the worker's report is not a build result"
    assert not list(ws.attestations.glob("*")) and not list(ws.wheels.glob("*.whl"))


def _lying_build(task: RemoteBuild, mode: str) -> RemoteResult:
    """A worker that builds honestly, then lies about what it built (runs on the worker)."""
    import dataclasses
    import tempfile as temp
    import zipfile

    from fromsource.remote import build_on_worker
    from fromsource.store import open_store

    result = build_on_worker(task)
    if result.build is None:
        return result
    if mode == "shape":  # reports its digests as a plain dict: not a result the coordinator reads
        return {"wheel_name": result.wheel_name, "wheel_sha256": result.wheel_sha256}  # type: ignore[return-value]
    if mode == "environment":  # claims a build environment without its first wheel
        build = dataclasses.replace(result.build, dependencies=result.build.dependencies[1:])
        return dataclasses.replace(result, build=build)
    # mode "wheel": swaps in a wheel whose module differs from what its RECORD says
    store = open_store(task.store)
    work = Path(temp.mkdtemp())
    assert result.wheel_sha256 is not None and result.wheel_name is not None
    honest = store.fetch(result.wheel_sha256, work / "honest" / result.wheel_name)
    forged = work / result.wheel_name
    with zipfile.ZipFile(honest) as source, zipfile.ZipFile(forged, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            out.writestr(item, data + b"import os\n" if item.filename.endswith("__init__.py") else data)
    return dataclasses.replace(result, wheel_sha256=store.put_file(forged))


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("environment", "reports a build environment other than the one it was given"),
        ("wheel", "RECORD"),
        ("shape", "not a build result"),
    ],
)
def test_the_coordinator_signs_nothing_a_worker_misreports(
    cluster: str, tmp_path: Path, mode: str, message: str
) -> None:
    import cloudpickle  # type: ignore[import-untyped]

    from fromsource.attest.keys import generate_keypair
    from fromsource.bootstrap import bootstrap
    from fromsource.bootstrap.executor import parse_executor
    from fromsource.cluster import DaskExecutor
    from fromsource.index import LocalDirIndex
    from fromsource.store import open_store
    from fromsource.workspace import Workspace

    index, ws = tmp_path / "index", Workspace(tmp_path / "ws").create()
    project(index, "app", build=["builder"])
    project(index, "builder")  # builds with an empty environment: nothing to lie about
    key = generate_keypair(ws.keys).private_path
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    try:
        executor = DaskExecutor.connect(
            parse_executor(cluster),
            store=open_store(ws.root / "store"),
            workspace=ws,
            key=key,
            build=functools.partial(_lying_build, mode=mode),
        )
        summary = bootstrap(
            ["app"], workspace=ws, index=LocalDirIndex(index), key=key, executor=executor, keep_going=True
        )
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])

    reports = {p.name: p for p in summary.packages}
    if mode == "environment":
        assert reports["builder"].status == "built"
        assert reports["app"].status == "failed"
        assert message in (reports["app"].error or "")
        assert not (ws.wheels / "app-1.0-py3-none-any.whl").exists()
    else:
        assert reports["builder"].status == "failed"
        assert message in (reports["builder"].error or "")
        assert reports["app"].status == "skipped"
        assert not list(ws.wheels.glob("*.whl"))
        assert not list(ws.attestations.glob("builder*"))


def test_dask_local_executor_and_bad_executor_specs(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "solo")
    result = _bootstrap(
        index,
        ws,
        "solo",
        "--executor",
        "dask-local:1",
        "--store",
        f"file://{tmp_path / 'fsstore'}",
        "--keep-build-dirs",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fsstore" / "sha256").is_dir()
    assert (ws / "builds" / "solo-1.0" / "build.log").is_file()
    # Kept build directories keep the fetched wheel (copied into wheels/, not moved).
    (kept,) = (ws / "builds" / "solo-1.0" / "out").glob("*.whl")
    assert kept.read_bytes() == (ws / "wheels" / kept.name).read_bytes()
    for bad, message in [
        ("dask-local:0", "N must be"),
        ("dask://nohost", "expected dask://HOST:PORT"),
        ("dask+tls://host:0", "expected dask+tls://HOST:PORT"),
        ("tls://host:8786", "is not an executor"),
        ("kubernetes", "is not an executor"),
    ]:
        refused = _bootstrap(index, tmp_path / "ws2", "solo", "--executor", bad)
        assert refused.exit_code == 2, (bad, refused.output)
        assert message in refused.stderr


def test_an_unreachable_scheduler_is_an_input_error(tmp_path: Path) -> None:
    # What the CLI calls for --executor dask://HOST:PORT (an InputError exits 2 with its
    # message, as the specs above show), with a short connect timeout instead of 10 s.
    from fromsource.attest.keys import generate_keypair
    from fromsource.bootstrap.executor import parse_executor
    from fromsource.cluster import DaskExecutor
    from fromsource.errors import InputError
    from fromsource.store import open_store
    from fromsource.workspace import Workspace

    address = f"127.0.0.1:{_free_port()}"
    key = generate_keypair(tmp_path / "keys").private_path
    with pytest.raises(InputError, match=f"cannot reach the Dask scheduler at tcp://{address}") as refused:
        DaskExecutor.connect(
            parse_executor(f"dask://{address}"),
            store=open_store(tmp_path / "store"),
            workspace=Workspace(tmp_path / "ws"),
            key=key,
            connect_timeout=0.5,
        )
    assert refused.value.exit_code == 2  # what the CLI exits with, the message on one line
    assert refused.value.hint is not None and "dask scheduler" in refused.value.hint


def test_a_store_the_workers_cannot_read_is_refused_before_building(cluster: str, tmp_path: Path) -> None:
    index = tmp_path / "index"
    project(index, "solo")
    # memory:// lives in one process: the coordinator writes there, the workers see nothing.
    result = _bootstrap(
        index,
        tmp_path / "ws",
        "solo",
        "--executor",
        cluster,
        "--store",
        f"memory://fromsource-{tmp_path.name}",
    )
    assert result.exit_code == 2, result.output
    assert "cannot read the store memory://" in result.stderr
    assert "Traceback" not in result.output
    assert not list((tmp_path / "ws" / "wheels").glob("*.whl"))


def test_without_distributed_the_error_says_how_to_install(tmp_path: Path) -> None:
    index = tmp_path / "index"
    project(index, "solo")
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from fromsource.cli import main\n"
        f"main(['bootstrap', 'solo', '--find-links', {str(index)!r}, '--no-index', "
        f"'-w', {str(tmp_path / 'ws')!r}, '--executor', 'dask-local:2'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2
    assert "pip install 'fromsource[dask]'" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------- real scheduler and workers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Gate:
    """Where gated builds (``project(..., gate=...)``) stop: each writes its source tree into
    the FIFO ``started`` and waits on the FIFO ``gate-open`` it made there. The test blocks
    reading ``started``; nothing polls a clock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        os.mkfifo(root / "started")
        # Read and write ends both held: a build's open never blocks, and no end of file
        # shows between two builds.
        self._started = os.open(root / "started", os.O_RDWR)
        self._pending = b""
        self._opened: list[int] = []

    def next_build(self) -> Path:
        """The source tree of the next build to reach the gate (blocks until one does)."""
        while b"\n" not in self._pending:
            # the timeout only keeps a broken run from hanging the suite
            ready, _, _ = select.select([self._started], [], [], 300)
            assert ready, "no build reached the gate"
            self._pending += os.read(self._started, 4096)
        line, _, self._pending = self._pending.partition(b"\n")
        return Path(line.decode())

    def let_through(self, source: Path) -> None:
        """Open the gate of the build waiting in ``source``: the line stays in the FIFO until
        the build reads it, since this end stays open until :meth:`close`."""
        fd = os.open(source / "gate-open", os.O_RDWR)
        self._opened.append(fd)
        os.write(fd, b"open\n")

    def close(self) -> None:
        for fd in (self._started, *self._opened):
            os.close(fd)


class _Cluster:
    """`dask scheduler` and `dask worker` processes, each in its own directory, speaking
    mutual TLS with certificates of a CA made for the test."""

    def __init__(self, root: Path, tls: TlsFiles) -> None:
        self.root = root
        self.tls = tls
        self.port = _free_port()
        self.address = f"tls://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, *args: str) -> None:
        home = self.root / name
        home.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
        with (home / "out.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [*DASK, *args],
                cwd=home,
                env=env,
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def scheduler(self) -> None:
        self._start(
            "scheduler",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--protocol",
            "tls",
            *self.tls.dask_args(),
            "--dashboard-address",
            ":0",
            "--no-show",
        )

    def worker(self, name: str) -> None:
        self._start(
            name,
            "worker",
            self.address,
            "--nthreads",
            "1",
            "--local-directory",
            str(self.root / name / "scratch"),
            "--name",
            name,
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            # One process per worker: a nanny would start the worker as a second interpreter,
            # and what is killed here is the whole worker (its process group) either way.
            "--no-nanny",
            *self.tls.dask_args(),
        )

    def security(self) -> Any:
        return distributed.security.Security(
            tls_ca_file=str(self.tls.ca),
            tls_client_cert=str(self.tls.cert),
            tls_client_key=str(self.tls.key),
            require_encryption=True,
        )

    def wait_for_workers(self, count: int) -> None:
        with distributed.Client(self.address, timeout=60, security=self.security()) as client:
            client.wait_for_workers(count, timeout=60)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name)


@pytest.fixture
def real_cluster(tmp_path: Path) -> Iterator[_Cluster]:
    cluster = _Cluster(tmp_path / "cluster", make_tls_files(tmp_path / "tls"))
    try:
        cluster.scheduler()
        cluster.worker("w1")
        cluster.worker("w2")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[_Gate]:
    made = _Gate(tmp_path / "gate")
    try:
        yield made
    finally:
        made.close()


def _command(index: Path, ws: Path, store: Path, address: str) -> list[str]:
    # --sandbox off (network isolation only): a gated build writes to the test's FIFO, which
    # bubblewrap would hide; the LocalCluster tests above build in the default sandbox.
    return [
        sys.executable,
        "-m",
        "fromsource",
        *bootstrap_argv(index, ws, "app", jobs=None),
        "--store",
        str(store),
        "--executor",
        address.replace("tls://", "dask+tls://"),
        "--sandbox",
        "off",
    ]


def _coordinator_environment(cluster: _Cluster) -> dict[str, str]:
    """The run's environment: Dask configured with the coordinator's certificate."""
    return {**os.environ, **cluster.tls.dask_environment()}


def _read_until(stream: IO[str], wanted: str) -> None:
    """Read the run's progress lines up to ``wanted``: gated on the pipe, no clock."""
    for line in stream:
        if line.startswith(wanted):
            return
    raise AssertionError(f"the run ended before printing {wanted!r}")


def test_real_scheduler_and_workers_build_and_survive_a_killed_worker(
    real_cluster: _Cluster, gate: _Gate, tmp_path: Path
) -> None:
    index, ws, store = tmp_path / "index", tmp_path / "ws", tmp_path / "store"
    _diamond(index)
    project(index, "app", requires=["left", "right"], build=["builder", "held"])
    project(index, "held", gate=gate.root)  # its build waits until the test opens the gate

    # Plain TCP is refused by the TLS scheduler (and warned about), before anything is built.
    plain = _bootstrap(
        index, tmp_path / "ws-plain", "app", "--executor", f"dask://127.0.0.1:{real_cluster.port}"
    )
    assert plain.exit_code == 2, plain.output
    assert f"tcp://127.0.0.1:{real_cluster.port} is plain TCP" in plain.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{real_cluster.port}" in plain.stderr
    assert not list((tmp_path / "ws-plain" / "wheels").glob("*.whl"))

    run = subprocess.Popen(
        _command(index, ws, store, real_cluster.address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_coordinator_environment(real_cluster),
    )
    try:
        first = gate.next_build()
        victim = first.relative_to(real_cluster.root).parts[0]
        real_cluster.kill(victim)  # mid-build: its hook dies with it
        # The scheduler hands the build to the other worker; let that attempt through.
        second = gate.next_build()
        assert second.relative_to(real_cluster.root).parts[0] != victim
        gate.let_through(second)
        stdout, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    assert run.returncode == 0, stderr
    summary = json.loads(stdout)
    assert {p["status"] for p in summary["packages"]} == {"built"}
    assert verify_all(ws) == []
    held = json.loads(
        base64.b64decode(
            json.loads((ws / "attestations" / "held-1.0-py3-none-any.whl.intoto.jsonl").read_text())[
                "payload"
            ]
        )
    )
    assert held["predicate"]["runDetails"]["worker"]["name"] != victim
    # The workers had neither the workspace nor the key: only their own directories.
    for worker in ("w1", "w2"):
        assert not list((real_cluster.root / worker).rglob("*.key"))
        assert not list((real_cluster.root / worker).rglob("*.intoto.jsonl"))


def test_lost_scheduler_stops_the_run_and_a_rerun_resumes(
    real_cluster: _Cluster, gate: _Gate, tmp_path: Path
) -> None:
    index, ws, store = tmp_path / "index", tmp_path / "ws", tmp_path / "store"
    project(index, "app", build=["held", "quick"])
    project(index, "held", gate=gate.root)
    project(index, "quick")

    run = subprocess.Popen(
        _command(index, ws, store, real_cluster.address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_coordinator_environment(real_cluster),
    )
    try:
        gate.next_build()
        assert run.stderr is not None
        _read_until(run.stderr, "built quick 1.0")  # signed: off a terminal, a line per build
        assert (ws / "wheels" / "quick-1.0-py3-none-any.whl").exists()
        real_cluster.stop()  # scheduler and workers gone mid-build
        _, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    assert run.returncode == 3, stderr
    assert "lost the Dask scheduler" in stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in (ws / "wheels").glob("*.whl")) == ["quick-1.0-py3-none-any.whl"]
    assert not [p for p in ws.rglob(".*") if p.suffix in (".tmp", ".part")]

    # A new cluster, the same command: quick is reused, the rest built.
    shutil.rmtree(real_cluster.root)
    real_cluster.root.mkdir()
    project(index, "held")  # the gate is not the point any more
    real_cluster.scheduler()
    real_cluster.worker("w1")
    real_cluster.wait_for_workers(1)
    resumed = subprocess.run(
        _command(index, ws, store, real_cluster.address),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_coordinator_environment(real_cluster),
    )
    assert resumed.returncode == 0, resumed.stderr
    assert {p["name"]: p["status"] for p in json.loads(resumed.stdout)["packages"]} == {
        "quick": "reused",
        "held": "built",
        "app": "built",
    }
    assert verify_all(ws) == []


def test_the_strict_reader_ties_the_worker_field_to_the_dask_builder(cluster: str, tmp_path: Path) -> None:
    import dataclasses

    from fromsource.attest.provenance import BUILDER_ID, BuildRecord
    from fromsource.errors import StatementError

    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "solo")
    assert _bootstrap(index, ws, "solo", "--executor", cluster).exit_code == 0
    envelope = json.loads(
        (ws / "attestations" / "solo-1.0-py3-none-any.whl.intoto.jsonl").read_text().splitlines()[0]
    )
    record = BuildRecord.from_statement(json.loads(base64.b64decode(envelope["payload"])))
    assert record.builder_id == DASK_BUILDER_ID
    assert record.worker is not None and record.worker["address"].startswith("tls://127.0.0.1:")
    for bad in (
        dataclasses.replace(record, builder_id=BUILDER_ID),  # a local build naming a worker
        dataclasses.replace(record, worker=None),
    ):  # a dask build naming none
        with pytest.raises(StatementError) as caught:
            BuildRecord.from_statement(bad.statement())
        assert any("runDetails.worker" in reason for reason in caught.value.reasons)


def test_builds_handed_over_while_the_cluster_starts_wait_for_it_not_the_planner(
    cluster: str, tmp_path: Path
) -> None:
    import threading

    from fromsource.attest.keys import generate_keypair
    from fromsource.bootstrap import Reporter, bootstrap
    from fromsource.bootstrap.executor import parse_executor
    from fromsource.cluster import DaskExecutor
    from fromsource.clusterstart import Startup
    from fromsource.index import LocalDirIndex
    from fromsource.store import Store, open_store
    from fromsource.workspace import Workspace

    events: list[str] = []
    up = threading.Event()

    class HeldStart(Startup):
        """The real start, once the test lets it go (after 60 s at most: never a hang)."""

        def _start(self, store: Store, workspace: Workspace) -> Any:
            up.wait(60)
            events.append("cluster up")
            return super()._start(store, workspace)

    class Started(Reporter):
        def started(self, name: str, version: str) -> None:
            events.append(f"build {name}")
            if len(events) == 2:  # both handed over while the start is held: let it go
                up.set()

    index, ws = tmp_path / "index", Workspace(tmp_path / "ws").create()
    project(index, "one")
    project(index, "two")
    key = generate_keypair(ws.keys).private_path
    store = open_store(ws.root / "store")
    executor = DaskExecutor(HeldStart(parse_executor(cluster), store, ws), store=store, workspace=ws, key=key)
    try:
        summary = bootstrap(
            ["one", "two"],
            workspace=ws,
            index=LocalDirIndex(index),
            key=key,
            executor=executor,
            jobs=2,
            reporter=Started(),
        )
    finally:
        executor.shutdown()

    assert events == ["build one", "build two", "cluster up"]
    assert summary.ok
    assert verify_all(ws.root) == []


def test_a_store_refused_while_builds_wait_for_the_start_stops_the_run(cluster: str, tmp_path: Path) -> None:
    from fromsource.attest.keys import generate_keypair
    from fromsource.bootstrap import bootstrap
    from fromsource.bootstrap.executor import parse_executor
    from fromsource.cluster import DaskExecutor
    from fromsource.errors import InputError
    from fromsource.index import LocalDirIndex
    from fromsource.store import open_store
    from fromsource.workspace import Workspace

    index, ws = tmp_path / "index", Workspace(tmp_path / "ws").create()
    project(index, "solo")
    key = generate_keypair(ws.keys).private_path
    # memory:// lives in this process: the workers see nothing in it.
    executor = DaskExecutor.connect(
        parse_executor(cluster), store=open_store(f"memory://held-{tmp_path.name}"), workspace=ws, key=key
    )
    with pytest.raises(InputError, match="cannot read the store memory://"):
        bootstrap(["solo"], workspace=ws, index=LocalDirIndex(index), key=key, executor=executor)
    assert not list(ws.wheels.glob("*.whl"))


# ------------------------------------------------------- dask-local workers and the fork server

# Runs in a fresh interpreter (one fork server per process: the test picks which executor
# starts it). Prints what it found as JSON.
_ONE_PROCESS = """
import json, os, sys
from pathlib import Path

from fromsource.attest.keys import generate_keypair
from fromsource.bootstrap import bootstrap
from fromsource.bootstrap.executor import LocalExecutor, parse_executor
from fromsource.cluster import DaskExecutor
from fromsource.index import LocalDirIndex
from fromsource.store import open_store
from fromsource.workspace import Workspace


class KeptOpen:  # bootstrap() shuts its executor down; the workers are looked at after the run
    def __init__(self, executor):
        self.executor = executor

    def submit(self, request):
        return self.executor.submit(request)

    def shutdown(self):
        pass


def build_locally(index, root, found):
    pool = LocalExecutor(2)
    found["local_parents"] = sorted({pool._pool.submit(os.getppid).result() for _ in range(4)})
    ws = Workspace(root / "local").create()
    key = generate_keypair(ws.keys).private_path
    found["local_ok"] = bootstrap(["solo"], workspace=ws, index=LocalDirIndex(index), key=key, executor=pool).ok


def build_on_dask(index, root, found):
    ws = Workspace(root / "dask").create()
    key = generate_keypair(ws.keys).private_path
    executor = DaskExecutor.connect(
        parse_executor("dask-local:2"), store=open_store(ws.root / "store"), workspace=ws, key=key
    )
    try:
        client = executor.client
        found["dask_parents"] = sorted(set(client.run(os.getppid).values()))
        server = Path(f"/proc/{found['dask_parents'][0]}/cmdline")  # the preload list is in it
        found["server"] = server.read_bytes().decode(errors="replace") if server.exists() else ""
        found["probe"] = sorted(set(map(str, client.run(os.getenv, "FROMSOURCE_POOL_PROBE").values())))
        found["home"] = sorted(set(map(str, client.run(os.getenv, "HOME").values())))
        run = bootstrap(["solo"], workspace=ws, index=LocalDirIndex(index), key=key, executor=KeptOpen(executor))
        found["dask_ok"] = run.ok
        scratch = [Path(d) for d in client.run(lambda dask_worker: dask_worker.local_directory).values()]
        found["logs"] = sum(len(list(d.rglob("build.log"))) for d in scratch)
        found["signed_there"] = sum(len(list(d.rglob("*.intoto.jsonl"))) for d in scratch)
    finally:
        executor.shutdown()


if __name__ == "__main__":
    index, root, first = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    found = {"pid": os.getpid()}
    if first == "local":
        build_locally(index, root, found)
        os.environ["FROMSOURCE_POOL_PROBE"] = "set after the fork server started"
        del os.environ["HOME"]
        build_on_dask(index, root, found)
    else:
        build_on_dask(index, root, found)
        build_locally(index, root, found)
    print(json.dumps(found))
"""


@pytest.mark.parametrize("first", ["local", "dask"])
def test_dask_local_workers_and_the_local_pool_share_one_fork_server_in_either_order(
    tmp_path: Path, first: str
) -> None:
    index = tmp_path / "index"
    project(index, "solo")
    script = tmp_path / "one_process.py"
    script.write_text(_ONE_PROCESS)
    run = subprocess.run(
        [sys.executable, str(script), str(index), str(tmp_path), first],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.splitlines()[-1])
    assert found["dask_ok"] and found["local_ok"]
    (server,) = found["dask_parents"]  # both workers forked from one process...
    if server == found["pid"] or not found["server"] or found["local_parents"] == [found["pid"]]:
        pytest.skip("no fork server (or no /proc to read its command line, or no pidfd) here")
    assert "multiprocessing.forkserver" in found["server"]  # ...the fork server...
    assert found["local_parents"] == [server]  # ...which the local pool's workers come from too
    # Whoever started it chose what it preloads; the other's workers import the rest.
    preload = "['fromsource.daskworker']" if first == "dask" else "['fromsource.bootstrap.executor']"
    assert preload in found["server"]
    if first == "local":  # the coordinator's environment of now, not the fork server's
        assert found["probe"] == ["set after the fork server started"]
        assert found["home"] == ["None"]
    assert found["logs"] == 1  # one worker built solo, in its own directory...
    assert found["signed_there"] == 0  # ...and signed nothing there
    (wheel,) = (tmp_path / "dask" / "wheels").glob("*.whl")
    assert compare_wheels(tmp_path / "local" / "wheels" / wheel.name, wheel).equivalent
    details = _run_details(tmp_path / "dask", wheel)
    assert details["builder"]["id"] == DASK_BUILDER_ID
    assert details["worker"]["address"].startswith("tls://127.0.0.1:")
    assert verify_all(tmp_path / "dask") == []
    assert verify_all(tmp_path / "local") == []
