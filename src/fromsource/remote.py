"""The build step as a worker runs it: blobs by digest in, blobs by digest out, no key.

A :class:`RemoteBuild` names every input by sha256 (the sdist and each build-environment
wheel, with the attestation digest the coordinator will record for it); the worker fetches
them from the store into its own directory, runs today's build step
(:func:`fromsource.build.build_unsigned`), puts the wheel and log into the store and
returns a :class:`RemoteResult` of digests and the recorded dependencies. Signing happens
on the coordinator (:mod:`fromsource.cluster`); nothing here can sign.

Build failures are results (not retried: a build that failed once fails again); trouble
with the store raises :class:`~fromsource.errors.StoreError`, which the scheduler retries.

The coordinator submits :func:`build_and_report`, which also sends the result to it as a
Dask event (:data:`RESULTS_TOPIC`): it travels on the streams the worker and the scheduler
keep open anyway, where fetching a task's result costs two requests (coordinator to
scheduler, scheduler to worker) and the work of all three processes, per build.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from fromsource import __version__
from fromsource.build import BuildSettings, EnvWheel, UnsignedBuild, build_unsigned
from fromsource.errors import BackendRequirementsMissing, FromsourceError, StoreError
from fromsource.fileutil import sha256_file
from fromsource.store import Store, open_store
from fromsource.workspace import Workspace


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteWheel:
    """One build-environment wheel, by file name and digest."""

    filename: str
    sha256: str
    edge: str
    seed: bool = False
    external: bool = False
    attestation_sha256: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteBuild:
    """One build step, self-contained and small: digests, not files."""

    name: str
    version: str
    requirement: str
    sdist_name: str
    sdist_sha256: str
    env: tuple[RemoteWheel, ...]
    settings: BuildSettings
    stage1: bool
    store: str  # open_store() spec, reachable from the workers
    builder_version: str = __version__

    @property
    def key(self) -> str:
        """The task's name: its inputs' digest, so one input set is one task."""
        inputs = asdict(self)
        del inputs["store"]
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        return f"fromsource-build-{self.name}-{self.version}-{digest[:32]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteResult:
    """What the worker reports: digests of what it stored, or why there is no wheel."""

    worker: dict[str, str]
    log_sha256: str | None = None
    wheel_name: str | None = None
    wheel_sha256: str | None = None
    build: UnsignedBuild | None = None  # paths in it are the worker's own
    needs: tuple[str, ...] | None = None
    error: str | None = None
    seconds: float = 0.0  # the whole task on the worker: fetching inputs, building, storing


# One topic for every run: the scheduler keeps the last events of each topic it has seen
# (distributed.admin.low-level-log-length), so a topic per run would grow a long-lived
# scheduler's memory run after run. Events name their task; a coordinator takes its own.
RESULTS_TOPIC = "fromsource-build-results"


def build_and_report(build: Callable[[RemoteBuild], RemoteResult], task: RemoteBuild) -> RemoteResult:
    """Run ``build(task)`` and send the result to the coordinator as an event, ``[task key,
    pickled result]``, as well as returning it (the coordinator fetches the returned result
    only if no event reached it). The pickle is what Dask would send for the result itself;
    the coordinator checks it as it checks a returned one."""
    result = build(task)
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker: nobody listens
        return result
    worker.log_event(RESULTS_TOPIC, [worker.get_current_task(), pickle.dumps(result)])
    return result


def _identity() -> tuple[dict[str, str], Path]:
    """This worker's name and address, and a directory of its own for builds."""
    host = socket.gethostname()
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker: an inline run, a test
        return {"host": host, "address": "", "name": f"pid-{os.getpid()}"}, Path(
            tempfile.gettempdir()
        ) / f"fromsource-worker-{os.getpid()}"
    identity = {"host": host, "address": str(worker.address), "name": str(worker.name)}
    return identity, Path(worker.local_directory) / "fromsource"


def _fetch(store: Store, digest: str, dest: Path) -> Path:
    """A blob into the worker's cache (kept: the next build likely needs it too)."""
    if dest.is_file() and sha256_file(dest) == digest:
        return dest
    return store.fetch(digest, dest)


def build_on_worker(task: RemoteBuild) -> RemoteResult:
    """Run one build step on this worker; see the module docstring for the contract."""
    start = time.perf_counter()
    identity, root = _identity()
    if task.builder_version != __version__:
        return RemoteResult(
            worker=identity,
            error=(
                f"worker {identity['name']} runs fromsource {__version__}, the coordinator "
                f"{task.builder_version}; install the same version on every worker"
            ),
        )
    store = open_store(task.store)
    blobs = root / "blobs"
    sdist = _fetch(store, task.sdist_sha256, blobs / task.sdist_sha256 / task.sdist_name)
    env = tuple(
        EnvWheel(
            _fetch(store, w.sha256, blobs / w.sha256 / w.filename),
            w.sha256,
            w.edge,
            seed=w.seed,
            external=w.external,
            attestation_sha256=w.attestation_sha256,
        )
        for w in task.env
    )
    workspace = Workspace(root / "work")
    stage = "-stage1" if task.stage1 else ""
    log = workspace.builds / f"{canonicalize_name(task.name)}-{task.version}{stage}" / "build.log"
    try:
        build, cleanup = build_unsigned(
            sdist,
            workspace,
            env_wheels=env,
            requirement=task.requirement,
            settings=task.settings,
            stage1=task.stage1,
        )
    except StoreError:
        raise
    except BackendRequirementsMissing as exc:
        return RemoteResult(
            worker=identity,
            log_sha256=_put_log(store, log),
            needs=exc.requirements,
            error=exc.message,
            seconds=time.perf_counter() - start,
        )
    except FromsourceError as exc:
        return RemoteResult(worker=identity, log_sha256=_put_log(store, log), error=exc.message)
    except Exception as exc:  # a bug or an OS error: this build's failure, reported
        return RemoteResult(
            worker=identity, log_sha256=_put_log(store, log), error=f"{type(exc).__name__}: {exc}"
        )
    wheel_sha256 = store.put_file(build.wheel)
    log_sha256 = store.put_file(build.log)
    cleanup()
    return RemoteResult(
        worker=identity,
        log_sha256=log_sha256,
        wheel_name=build.wheel.name,
        wheel_sha256=wheel_sha256,
        build=build,
        seconds=time.perf_counter() - start,
    )


def _put_log(store: Store, log: Path) -> str | None:
    return store.put_file(log) if log.is_file() else None
