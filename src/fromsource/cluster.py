"""The Dask executor: builds on a distributed cluster, provenance signed here.

This process is the coordinator (the control plane). For each :class:`BuildRequest` it puts
the sdist and the environment wheels into the content-addressed store, submits a
:class:`~fromsource.remote.RemoteBuild` of digests (named by the digest of its inputs), and
when a worker reports back it fetches the wheel and log by digest (re-hashed on read),
checks the wheel's name and RECORD and that the worker used exactly the environment it was
given, and only then signs the provenance, naming the worker in ``runDetails.worker``.
Workers never see the signing key, the workspace or another build's outputs.

Faults: a worker that dies mid-build is the scheduler's business (it reschedules the task on
another worker, up to ``distributed.scheduler.allowed-failures`` times); store errors are
retried ``retries`` times; a failed build is a result and is not retried. Losing the
scheduler stops the run with :class:`~fromsource.errors.ExecutorError`; whatever was signed
stays, nothing partial reaches ``wheels/``, and a re-run reuses it.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name, parse_wheel_filename

from fromsource.attest.keys import load_signer
from fromsource.attest.locate import attestation_of
from fromsource.attest.provenance import (
    DASK_BUILDER_ID,
    ISOLATION_LEVELS,
    KIND_INTERPRETER,
    KIND_WHEEL,
    NATIVE_KINDS,
    Dependency,
    Sandbox,
)
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, ExecutorSpec
from fromsource.build import UnsignedBuild, attest_build, check_built_wheel
from fromsource.errors import ExecutorError, FromsourceError, InputError
from fromsource.fileutil import atomic_write_bytes, sha256_file
from fromsource.remote import RemoteBuild, RemoteResult, RemoteWheel, build_on_worker
from fromsource.store import Store
from fromsource.workspace import Workspace

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

_CONNECT_TIMEOUT = 10.0  # seconds; a refused connection is retried until then
_INSTALL_HINT = "pip install 'fromsource[dask]' (on the coordinator and on every worker)"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise InputError(
            "the Dask executor needs the distributed package, which is not installed", hint=_INSTALL_HINT
        ) from exc
    return distributed


def _probe_store(spec: str, digest: str) -> bool:
    """Runs on each worker: can it read the store the coordinator writes?"""
    from fromsource.store import open_store

    return open_store(spec).has(digest)


class DaskExecutor:
    """Submits build steps to a Dask cluster; signs what comes back (see module doc)."""

    def __init__(
        self,
        client: Client,
        *,
        store: Store,
        workspace: Workspace,
        key: Path,
        cluster: LocalCluster | None = None,
        retries: int = 2,
        build: Callable[[RemoteBuild], RemoteResult] = build_on_worker,
    ) -> None:
        self.client = client
        self.build = build  # what workers run; benchmarks swap in a fake build step
        self.cluster = cluster
        self.store = store
        self.ws = workspace
        self.signer = load_signer(key)
        self.retries = retries
        self._stored: set[str] = set()
        self._pending: dict[str, Any] = {}  # task key -> Dask future still running
        self._lock = threading.Lock()
        # The coordinator step (fetch, check, sign) runs here, one at a time, off the
        # scheduler's callback thread.
        self._finisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fromsource-sign")
        self._closed = False

    @classmethod
    def connect(
        cls,
        spec: ExecutorSpec,
        *,
        store: Store,
        workspace: Workspace,
        key: Path,
        build: Callable[[RemoteBuild], RemoteResult] = build_on_worker,
    ) -> DaskExecutor:
        """Start a LocalCluster (``dask-local:N``) or join a scheduler (``dask://``)."""
        distributed = _distributed()
        cluster = None
        if spec.kind == "dask-local":
            try:
                cluster = distributed.LocalCluster(
                    n_workers=spec.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
                client = distributed.Client(cluster, set_as_default=False)
            except Exception as exc:  # Dask reports start-up trouble as plain exceptions
                if cluster is not None:
                    cluster.close()
                raise ExecutorError(f"cannot start a Dask LocalCluster: {exc}") from exc
        else:
            try:
                client = distributed.Client(spec.address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {spec.address}: {exc}",
                    hint="start one with `dask scheduler` and workers with "
                    "`dask worker ADDRESS --nthreads 1`",
                ) from exc
        executor = cls(client, store=store, workspace=workspace, key=key, cluster=cluster, build=build)
        try:
            executor._check_workers()
        except BaseException:
            executor.shutdown()
            raise
        return executor

    def _check_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=_CONNECT_TIMEOUT)
        except TimeoutError as exc:
            raise ExecutorError(
                "the Dask scheduler has no workers",
                hint="start workers with `dask worker ADDRESS --nthreads 1`",
            ) from exc
        # Every worker must read what this process writes into the store.
        marker = self.ws.root / ".store-probe"
        marker.write_text(f"fromsource store probe for {self.store.spec}\n")
        digest = self.store.put_file(marker)
        marker.unlink()
        seen = self.client.run(_probe_store, self.store.spec, digest)
        blind = sorted(address for address, ok in seen.items() if not ok)
        if blind:
            raise InputError(
                f"worker(s) {', '.join(blind)} cannot read the store {self.store.spec}",
                hint="use --store with a directory every worker mounts, or an object-store URL",
            )

    @property
    def slots(self) -> int:
        """Builds the cluster runs at once (worker threads); the planner's default -j."""
        info = self.client.scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    # -- submitting ---------------------------------------------------------------

    def _put(self, path: Path, digest: str) -> None:
        if digest not in self._stored:
            self.store.put_file(path, digest)
            self._stored.add(digest)

    def _task(self, request: BuildRequest) -> RemoteBuild:
        self._put(request.sdist, request.sdist_sha256)
        env = []
        for wheel in request.env:
            self._put(wheel.path, wheel.sha256)
            attestation = (
                None if wheel.external else sha256_file(attestation_of(wheel.path, self.ws.attestations))
            )
            env.append(
                RemoteWheel(
                    filename=wheel.path.name,
                    sha256=wheel.sha256,
                    edge=wheel.edge,
                    seed=wheel.seed,
                    external=wheel.external,
                    attestation_sha256=attestation,
                )
            )
        return RemoteBuild(
            name=request.name,
            version=request.version,
            requirement=request.requirement,
            sdist_name=request.sdist.name,
            sdist_sha256=request.sdist_sha256,
            env=tuple(env),
            settings=request.settings,
            stage1=request.stage1,
            store=self.store.spec,
        )

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        outcome: Future[BuildOutcome] = Future()
        try:
            task = self._task(request)
        except (OSError, FromsourceError) as exc:
            outcome.set_result(BuildOutcome(error=f"cannot hand the build to the cluster: {exc}"))
            return outcome
        try:
            remote = self.client.submit(self.build, task, key=task.key, retries=self.retries)
        except Exception as exc:  # the client is closed or the scheduler gone
            outcome.set_exception(
                ExecutorError(
                    f"cannot submit {request.name} {request.version} to the Dask scheduler: {exc}",
                    hint="wheels already signed are kept; re-run the same command to resume",
                )
            )
            return outcome
        with self._lock:
            self._pending[task.key] = remote

        def done(_: Any) -> None:
            try:
                self._finisher.submit(self._finish, request, task, remote, outcome)
            except RuntimeError:  # shut down meanwhile: nobody waits for this outcome
                outcome.cancel()

        remote.add_done_callback(done)  # type: ignore[no-untyped-call]
        return outcome

    def _finish(
        self, request: BuildRequest, task: RemoteBuild, remote: Any, outcome: Future[BuildOutcome]
    ) -> None:
        with self._lock:
            self._pending.pop(task.key, None)
        distributed = _distributed()
        try:
            result = remote.result()
        except CancelledError:
            outcome.set_exception(
                ExecutorError(
                    f"lost the Dask scheduler while building {request.name} {request.version}",
                    hint="wheels already signed are kept; re-run the same command to resume",
                )
            )
            return
        except distributed.KilledWorker as exc:
            outcome.set_result(
                BuildOutcome(error=(f"the workers running it died too often ({exc}); not retried further"))
            )
            return
        except Exception as exc:  # store trouble after the retries, or the cluster broke
            outcome.set_result(BuildOutcome(error=f"the executor failed: {type(exc).__name__}: {exc}"))
            return
        try:
            outcome.set_result(self._accept(request, task, result))
        except Exception as exc:  # a bug in our own step: still an outcome, never a hang
            outcome.set_result(BuildOutcome(error=f"{type(exc).__name__}: {exc}"))

    # -- the coordinator step -----------------------------------------------------

    def _accept(self, request: BuildRequest, task: RemoteBuild, result: RemoteResult) -> BuildOutcome:
        """Fetch by digest, check, sign: the worker's word is taken for nothing it stored."""
        stage = "-stage1" if request.stage1 else ""
        directory = self.ws.builds / f"{canonicalize_name(request.name)}-{request.version}{stage}"
        log = directory / "build.log"
        try:
            if result.log_sha256 is not None:
                self.store.fetch(result.log_sha256, log)
            if result.error is not None or result.build is None:
                return BuildOutcome(
                    log=log, needs=result.needs, error=result.error or "the worker returned no wheel"
                )
            if result.wheel_name is None or result.wheel_sha256 is None:
                raise ExecutorError("the worker reported a wheel without its digest")
            try:
                if Path(result.wheel_name).name != result.wheel_name:
                    raise ValueError(result.wheel_name)
                parse_wheel_filename(result.wheel_name)
            except (ValueError, TypeError) as exc:
                raise ExecutorError(f"the worker reported {result.wheel_name!r}, not a wheel name") from exc
            _check_report(result.build)
            out = directory / "out"
            wheel = self.store.fetch(result.wheel_sha256, out / result.wheel_name)
            check_built_wheel(wheel, request.name, request.version)
            others = _record_result(directory / "tasks.json", task.key, result.wheel_sha256)
            expected = _expected_dependencies(task)
            reported = {d.name: d.to_dict() for d in result.build.dependencies}
            if reported != {d.name: d.to_dict() for d in expected}:
                raise ExecutorError(
                    f"worker {_identity(result.worker)['name']} reports a build "
                    "environment other than the one it was given"
                )
            if result.build.sdist_sha256 != request.sdist_sha256:
                raise ExecutorError(f"worker {_identity(result.worker)['name']} built another sdist")
            signed = attest_build(
                replace(result.build, wheel=wheel, log=log, dependencies=expected),
                self.ws,
                self.signer,
                requirement=request.requirement,
                sdist=request.sdist,
                sdist_uri=request.sdist_uri,
                sdist_annotations=request.sdist_annotations,
                sdist_unverified=request.sdist_unverified,
                output_dir=self.ws.stage1 if request.stage1 else None,
                update_index=False,
                builder_id=DASK_BUILDER_ID,
                worker=_identity(result.worker),
                log_sha256=result.log_sha256,
            )
        except FromsourceError as exc:
            return BuildOutcome(log=log, error=exc.message)
        if not request.settings.keep_build_dirs:
            shutil.rmtree(out, ignore_errors=True)
        return BuildOutcome(
            wheel=signed.wheel,
            wheel_sha256=signed.wheel_sha256,
            attestation=signed.attestation,
            log=log,
            seconds=signed.seconds,
            backend_requires=signed.backend_requires,
            timings=dict(signed.timings),
            other_results=others,
        )

    def shutdown(self) -> None:
        """Cancel what has not finished, finish signing what has, close the connection."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        try:
            if pending and self.client.status == "running":
                self.client.cancel(pending)  # type: ignore[no-untyped-call]
        except Exception:  # noqa: S110 - the scheduler may be gone already
            pass
        self._finisher.shutdown(wait=True)
        self.client.close()  # type: ignore[no-untyped-call]
        if self.cluster is not None:
            self.cluster.close()


def _identity(reported: Any) -> dict[str, str]:
    """The worker's self-description, as plain short strings (it goes into provenance)."""
    fields = reported if isinstance(reported, dict) else {}
    return {key: str(fields.get(key, ""))[:200] for key in ("address", "host", "name")}


def _check_report(build: Any) -> None:
    """What the coordinator records on the worker's word must at least have its shape."""
    if not (
        isinstance(build, UnsignedBuild)
        and build.isolation in ISOLATION_LEVELS
        and isinstance(build.source_date_epoch, int)
        and (build.sandbox is None or isinstance(build.sandbox, Sandbox))
        and all(isinstance(d, Dependency) and d.kind in NATIVE_KINDS for d in build.natives)
        and isinstance(build.interpreter, Dependency)
        and build.interpreter.kind == KIND_INTERPRETER
        and isinstance(build.started_on, str)
        and isinstance(build.finished_on, str)
    ):
        raise ExecutorError("the worker's report of its build is malformed")


def _expected_dependencies(task: RemoteBuild) -> tuple[Dependency, ...]:
    """The wheel entries the coordinator attests: exactly what it sent, sorted by name."""
    deps = {}
    for wheel in task.env:
        name = canonicalize_name(parse_wheel_filename(wheel.filename)[0])
        deps[name] = Dependency(
            name=wheel.filename,
            sha256=wheel.sha256,
            kind=KIND_WHEEL,
            edge=wheel.edge,
            seed=wheel.seed,
            attestation_sha256=None if wheel.external else wheel.attestation_sha256,
            external=wheel.external,
        )
    return tuple(dep for _, dep in sorted(deps.items()))


def _record_result(path: Path, key: str, wheel_sha256: str) -> tuple[str, ...]:
    """Remember which wheel a task produced; return the other wheels it produced before.

    The same inputs building different bytes is a reproducibility finding: every result
    stays in the store (blobs are never replaced) and the run reports them all.
    """
    try:
        seen: dict[str, list[str]] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        seen = {}
    results = [d for d in seen.get(key, []) if isinstance(d, str)]
    if wheel_sha256 not in results:
        seen[key] = [*results, wheel_sha256]
        atomic_write_bytes(path, json.dumps(seen, indent=1, sort_keys=True).encode() + b"\n")
    return tuple(d for d in results if d != wheel_sha256)
