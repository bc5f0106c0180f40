"""Where builds run: the executor interface and a local process pool.

A build is a self-contained function of its :class:`BuildRequest` (sdist path and digest,
the exact build-environment wheels with their digests, settings, signing key path) and
returns a :class:`BuildOutcome` (wheel and attestation, or what went wrong). The planner in
:mod:`fromsource.bootstrap` only submits requests and reads outcomes, so an executor on
another engine can replace :class:`LocalExecutor` without touching it.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from securesystemslib.signer import CryptoSigner

from fromsource.attest.keys import load_signer
from fromsource.build import BuildSettings, EnvWheel, build_sdist
from fromsource.errors import (
    BackendRequirementsMissing,
    BuildError,
    FromsourceError,
    InputError,
    SandboxUnavailable,
)
from fromsource.fileutil import sha256_file
from fromsource.workspace import Workspace


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRequest:
    """Everything one build depends on; picklable, so it can cross process boundaries."""

    name: str
    version: str
    sdist: Path
    sdist_sha256: str
    sdist_uri: str | None
    sdist_unverified: str | None = None  # why nothing vouched for the fetched sdist
    requirement: str
    env: tuple[EnvWheel, ...]
    workspace: Path
    settings: BuildSettings
    key: Path
    stage1: bool = False  # a seeded cycle's first stage: output to stage1/, not wheels/
    sdist_annotations: dict[str, Any] = field(default_factory=dict)  # e.g. publisherEvidence


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOutcome:
    """What a build produced. ``needs`` is set when the backend asked for more wheels."""

    wheel: Path | None = None
    wheel_sha256: str | None = None
    attestation: Path | None = None
    log: Path | None = None
    seconds: float = 0.0  # what the task took in its build slot
    backend_requires: tuple[str, ...] = ()
    needs: tuple[str, ...] | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # sha256 of other wheels the very same inputs built before (the build is not reproducible).
    other_results: tuple[str, ...] = ()
    # A failure the build itself reported (not the machinery): a re-run with the same
    # inputs need not repeat it (fromsource.failures).
    remember: bool = False

    @property
    def ok(self) -> bool:
        return self.wheel is not None


@functools.cache
def _signer(key: Path) -> CryptoSigner:
    return load_signer(key)


def run_build(request: BuildRequest) -> BuildOutcome:
    """Build one request; never raises for a build problem (outcomes must pickle).

    The outcome's ``seconds`` are the whole task's, as a build slot spends them (checking
    the sdist, building, signing, removing the build directories): what the run's lower
    bound (fromsource.efficiency) must count."""
    start = time.perf_counter()
    workspace = Workspace(request.workspace)
    stage = "-stage1" if request.stage1 else ""
    log = workspace.builds / f"{request.name}-{request.version}{stage}" / "build.log"
    try:
        if sha256_file(request.sdist) != request.sdist_sha256:
            return BuildOutcome(
                log=log, error=f"{request.sdist.name} does not have sha256 {request.sdist_sha256}"
            )
        result = build_sdist(
            request.sdist,
            workspace,
            _signer(request.key),
            requirement=request.requirement,
            sdist_uri=request.sdist_uri,
            sdist_unverified=request.sdist_unverified,
            settings=request.settings,
            env_wheels=request.env,
            update_index=False,
            output_dir=workspace.stage1 if request.stage1 else None,
            sdist_annotations=request.sdist_annotations,
        )
    except BackendRequirementsMissing as exc:
        return BuildOutcome(
            log=log, needs=exc.requirements, error=exc.message, seconds=time.perf_counter() - start
        )
    except SandboxUnavailable as exc:  # the machine's, not the build's
        return BuildOutcome(log=log, error=exc.message)
    except BuildError as exc:
        return BuildOutcome(log=log, error=exc.message, remember=True)
    except FromsourceError as exc:
        return BuildOutcome(log=log, error=exc.message)
    except Exception as exc:  # a bug or an OS error: report it as this build's failure
        return BuildOutcome(log=log, error=f"{type(exc).__name__}: {exc}")
    return BuildOutcome(
        wheel=result.wheel,
        wheel_sha256=result.wheel_sha256,
        attestation=result.attestation,
        log=result.log,
        seconds=time.perf_counter() - start,
        backend_requires=result.backend_requires,
        timings=dict(result.timings),
    )


class Executor(Protocol):
    """Runs :func:`run_build`-equivalent work and hands back futures of outcomes.

    An executor may also have a ``queued_per_slot`` attribute (see :func:`queued_per_slot`)."""

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]: ...

    def shutdown(self) -> None:
        """Cancel what has not started, wait for what has."""
        ...


def queued_per_slot(executor: object) -> int:
    """Builds the planner keeps handed over per build slot (``jobs``) beyond the one that
    runs there: an executor whose builds take a round trip to start (a cluster's scheduler,
    its workers) queues them, so that a worker that finishes starts its next build at once
    instead of idling until the planner has heard of it and sent another. None unless the
    executor says so with a ``queued_per_slot`` attribute."""
    queued = getattr(executor, "queued_per_slot", 0)
    whole = isinstance(queued, int) and not isinstance(queued, bool)  # True is no count
    return queued if whole and queued > 0 else 0


class InlineExecutor:
    """Builds in the calling thread, one at a time (tests, debugging, ``-j 1``)."""

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        future: Future[BuildOutcome] = Future()
        future.set_result(run_build(request))
        return future

    def shutdown(self) -> None:
        return None


_PR_SET_PDEATHSIG = 1


def _worker_init(planner: int, forked: bool, environ: dict[str, str]) -> None:
    # A worker must not outlive a killed planner (it would write into the workspace the
    # next run owns); the hooks it starts die with it (bwrap --die-with-parent, or setpriv:
    # see fromsource.sandbox).
    if forked:
        _die_with(planner)
        # The fork server's environment is the one it started with; builds see the planner's.
        os.environ.clear()
        os.environ.update(environ)
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != planner:  # the planner died before the signal was armed
        os._exit(1)


def _die_with(planner: int) -> None:
    """Kill this worker when the planner exits. Its parent is the fork server, which outlives
    the planner while any worker runs (each holds the fork server's keep-alive pipe), so the
    parent-death signal would not fire: a thread waits on a pidfd of the planner instead."""
    try:
        pidfd = os.pidfd_open(planner)
    except ProcessLookupError:  # gone already
        os._exit(1)

    def watch() -> None:
        select.select([pidfd], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="fromsource-planner-watch", daemon=True).start()


def _warm_up() -> None:
    """Nothing: run once per worker when the pool is made, so the workers are started
    while the planner still resolves."""


@functools.cache
def _pidfd_works() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):  # Linux before 5.3, or not Linux
        return False
    return True


def _pool_context() -> multiprocessing.context.BaseContext:
    """A fork server where a worker can watch the planner (a pidfd): it imports the build
    step once and forks each worker from that clean, single-threaded process (a process
    that runs bootstrap again, a test session for one, reuses it); otherwise spawn, whose
    workers import it each. Never plain fork: the planner has threads."""
    if "forkserver" not in multiprocessing.get_all_start_methods() or not _pidfd_works():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # taken when the fork server starts
    return context


class LocalExecutor:
    """A pool of ``jobs`` worker processes on this machine (see :func:`_pool_context`)."""

    def __init__(self, jobs: int) -> None:
        context = _pool_context()
        self._pool = ProcessPoolExecutor(
            max_workers=max(1, jobs),
            mp_context=context,
            initializer=_worker_init,
            initargs=(os.getpid(), context.get_start_method() == "forkserver", dict(os.environ)),
        )
        for _ in range(max(1, jobs)):  # the pool starts a worker per task while none is idle
            self._pool.submit(_warm_up)

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        return self._pool.submit(run_build, request)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    """Parsed ``--executor``: ``local``, ``dask+tls://HOST:PORT``, ``dask://HOST:PORT`` or
    ``dask-local:N``."""

    kind: Literal["local", "dask", "dask-local"]
    address: str | None = None  # tls:// or tcp://HOST:PORT of an existing scheduler
    workers: int = 0  # dask-local: worker processes to start

    @property
    def unauthenticated(self) -> bool:
        """A scheduler reached over plain TCP: anyone who reaches it can join as a worker."""
        return self.address is not None and self.address.startswith("tcp://")


_SCHEMES = {"dask+tls://": "tls://", "dask://": "tcp://"}


def parse_executor(text: str) -> ExecutorSpec:
    usage = "use local, dask+tls://HOST:PORT, dask://HOST:PORT or dask-local:N"
    if text == "local":
        return ExecutorSpec("local")
    if text.startswith("dask-local:"):
        count = text.removeprefix("dask-local:")
        if not count.isdigit() or not 0 < int(count) <= 1024:
            raise InputError(f"--executor {text}: N must be a number of workers from 1 to 1024", hint=usage)
        return ExecutorSpec("dask-local", workers=int(count))
    for scheme, protocol in _SCHEMES.items():
        if text.startswith(scheme):
            host, _, port = text.removeprefix(scheme).rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
                raise InputError(f"--executor {text}: expected {scheme}HOST:PORT", hint=usage)
            return ExecutorSpec("dask", address=f"{protocol}{host}:{port}")
    raise InputError(f"--executor {text!r} is not an executor", hint=usage)
