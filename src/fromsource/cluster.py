"""The Dask executor: builds on a distributed cluster, provenance signed here.

This process is the coordinator (the control plane). For each :class:`BuildRequest` it puts
the sdist and the environment wheels into the content-addressed store, submits a
:class:`~fromsource.remote.RemoteBuild` of digests (named by the digest of its inputs), and
when a worker reports back it fetches the wheel and log by digest (re-hashed on read),
checks the wheel's name and RECORD and that the worker used exactly the environment it was
given, and only then signs the provenance, naming the worker in ``runDetails.worker``.
Workers never see the signing key, the workspace or another build's outputs.

The cluster is started or joined on a thread (:mod:`fromsource.clusterstart`) while the
planner resolves; the checks of the worker's result live in :mod:`fromsource.coordinator`.

A worker's result reaches this process as a Dask event
(:func:`~fromsource.remote.build_and_report`), not by fetching each task's result through the
scheduler; a task that finishes without its event having arrived is fetched as before.

Faults: a worker that dies mid-build is the scheduler's business (it reschedules the task on
another worker, up to ``distributed.scheduler.allowed-failures`` times); store errors are
retried ``retries`` times; a failed build is a result and is not retried. Losing the
scheduler stops the run with :class:`~fromsource.errors.ExecutorError`; whatever was signed
stays, nothing partial reaches ``wheels/``, and a re-run reuses it.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fromsource.attest.keys import load_signer
from fromsource.attest.locate import attestation_of
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, ExecutorSpec
from fromsource.clusterstart import CONNECT_TIMEOUT, Startup, distributed_module, require_distributed
from fromsource.coordinator import accept_result
from fromsource.errors import ExecutorError, FromsourceError
from fromsource.fileutil import sha256_file
from fromsource.remote import (
    RESULTS_TOPIC,
    RemoteBuild,
    RemoteResult,
    RemoteWheel,
    build_and_report,
    build_on_worker,
)
from fromsource.store import Store
from fromsource.workspace import Workspace

if TYPE_CHECKING:
    from distributed import Client

_LOST = "wheels already signed are kept; re-run the same command to resume"


class DaskExecutor:
    """Submits build steps to a Dask cluster; signs what comes back (see module doc)."""

    def __init__(
        self,
        startup: Startup,
        *,
        store: Store,
        workspace: Workspace,
        key: Path,
        retries: int = 2,
        build: Callable[[RemoteBuild], RemoteResult] = build_on_worker,
    ) -> None:
        self.startup = startup
        self.build = build  # what workers run; benchmarks swap in a fake build step
        self.store = store
        self.ws = workspace
        self.signer = load_signer(key)
        self.retries = retries
        self._stored: set[str] = set()
        self._attestations: dict[Path, str] = {}  # env wheel -> digest of its attestation
        self._pending: dict[str, Any] = {}  # task key -> Dask future still running
        # task key -> what its result finishes, until its event or its future comes
        self._waiting: dict[str, tuple[BuildRequest, RemoteBuild, Future[BuildOutcome]]] = {}
        self._subscribed = False
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
        prepare: Callable[[], None] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> DaskExecutor:
        """Start a LocalCluster (``dask-local:N``) or join a scheduler (``dask://``).

        Returns at once for ``dask-local``: distributed is imported and the cluster started
        while the planner resolves; builds submitted before it is up are sent once it is,
        and what kept it from starting is raised from their outcomes (or from :meth:`submit`
        once it is over). ``prepare`` runs right after distributed is imported.
        ``connect_timeout``: seconds an unreachable scheduler is retried for, and a joined
        one may take to show a worker.
        """
        require_distributed()  # not installed: say so now, not at the first build
        startup = Startup(spec, store, workspace, prepare, connect_timeout)
        return cls(startup, store=store, workspace=workspace, key=key, build=build)

    @property
    def client(self) -> Client:
        return self.startup.result()[0]

    @property
    def slots(self) -> int:
        """Builds the cluster runs at once (worker threads); the planner's default -j."""
        if self.startup.spec.kind == "dask-local":
            return self.startup.spec.workers  # one thread each: known without waiting
        info = self.client.scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    # One build queued per slot (fromsource.bootstrap.executor.queued_per_slot): a worker
    # that finishes a build finds the next one at the scheduler, or sent to it already,
    # while this process checks and signs the last.
    queued_per_slot = 1

    # -- submitting ---------------------------------------------------------------

    def _put(self, path: Path, digest: str) -> None:
        if digest not in self._stored:
            self.store.put_file(path, digest)
            self._stored.add(digest)

    def _attestation_digest(self, wheel: Path) -> str:
        # Every package built with a backend sends its attestation: hashed once per run.
        if wheel not in self._attestations:
            self._attestations[wheel] = sha256_file(attestation_of(wheel, self.ws.attestations))
        return self._attestations[wheel]

    def _task(self, request: BuildRequest) -> RemoteBuild:
        self._put(request.sdist, request.sdist_sha256)
        env = []
        for wheel in request.env:
            self._put(wheel.path, wheel.sha256)
            attestation = None if wheel.external else self._attestation_digest(wheel.path)
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
        if self.startup.done():
            self._send(request, task, outcome)  # a failed start raises here
        else:  # sent once the cluster is up; meanwhile the planner goes on discovering
            self.startup.when_ready(lambda: self._send_later(request, task, outcome))
        return outcome

    def _send_later(self, request: BuildRequest, task: RemoteBuild, outcome: Future[BuildOutcome]) -> None:
        if self._closed:
            outcome.cancel()
            return
        try:
            self._send(request, task, outcome)
        except BaseException as exc:  # the start failed: the planner raises it from the outcome
            outcome.set_exception(exc)

    def _send(self, request: BuildRequest, task: RemoteBuild, outcome: Future[BuildOutcome]) -> None:
        client = self.client  # waits for the start; its errors raise here
        key = task.key
        try:
            with self._lock:
                if not self._subscribed:  # sent before the first task, so it reaches the scheduler first
                    client.subscribe_topic(RESULTS_TOPIC, self._reported)  # type: ignore[no-untyped-call]
                    self._subscribed = True
                self._waiting[key] = (request, task, outcome)
            remote = client.submit(build_and_report, self.build, task, key=key, retries=self.retries)
        except Exception as exc:  # the client is closed or the scheduler gone
            with self._lock:
                self._waiting.pop(key, None)
            outcome.set_exception(
                ExecutorError(
                    f"cannot submit {request.name} {request.version} to the Dask scheduler: {exc}", hint=_LOST
                )
            )
            return
        with self._lock:
            self._pending[key] = remote

        def done(_: Any) -> None:
            with self._lock:
                self._pending.pop(key, None)
                waiting = self._waiting.pop(key, None)
            if waiting is None:  # its event came first and finished it
                return
            self._hand_over(outcome, self._finish, request, task, remote, outcome)

        remote.add_done_callback(done)  # type: ignore[no-untyped-call]

    def _hand_over(self, outcome: Future[BuildOutcome], step: Callable[..., None], *args: Any) -> None:
        """Run ``step`` on the finishing thread, off the client's threads."""
        try:
            self._finisher.submit(step, *args)
        except RuntimeError:  # shut down meanwhile: nobody waits for this outcome
            outcome.cancel()

    def _reported(self, event: Any) -> None:
        """A worker's result as an event (on the client's event loop): finish its build."""
        try:
            _, (key, payload) = event
        except (TypeError, ValueError):
            return
        with self._lock:
            waiting = self._waiting.pop(key, None) if isinstance(key, str) else None
        if waiting is None:  # another coordinator's build, or fetched through its future
            return
        request, task, outcome = waiting
        self._hand_over(outcome, self._finish_reported, request, task, payload, outcome)

    def _finish_reported(
        self, request: BuildRequest, task: RemoteBuild, payload: Any, outcome: Future[BuildOutcome]
    ) -> None:
        try:
            result = pickle.loads(payload)  # noqa: S301 - what Dask unpickles for a task's result
        except Exception as exc:
            outcome.set_result(BuildOutcome(error=f"the worker's report cannot be read: {exc}"))
            return
        self._accept(request, task, result, outcome)

    def _finish(
        self, request: BuildRequest, task: RemoteBuild, remote: Any, outcome: Future[BuildOutcome]
    ) -> None:
        distributed = distributed_module()
        try:
            result = remote.result()
        except CancelledError:
            outcome.set_exception(
                ExecutorError(
                    f"lost the Dask scheduler while building {request.name} {request.version}", hint=_LOST
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
        self._accept(request, task, result, outcome)

    def _accept(
        self, request: BuildRequest, task: RemoteBuild, result: Any, outcome: Future[BuildOutcome]
    ) -> None:
        if not isinstance(result, RemoteResult):
            outcome.set_result(BuildOutcome(error="the worker's report is not a build result"))
            return
        try:
            accepted = accept_result(
                request, task, result, store=self.store, workspace=self.ws, signer=self.signer
            )
            outcome.set_result(accepted)
        except Exception as exc:  # a bug in our own step: still an outcome, never a hang
            outcome.set_result(BuildOutcome(error=f"{type(exc).__name__}: {exc}"))

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
            if self._subscribed and self.client.status == "running":
                self.client.unsubscribe_topic(RESULTS_TOPIC)  # type: ignore[no-untyped-call]
        except Exception:  # noqa: S110 - the scheduler may be gone already
            pass
        self._finisher.shutdown(wait=True)
        self.startup.close()
