"""Starting or joining a Dask cluster, and checking its workers can do our builds.

Split from :mod:`fromsource.cluster` so the executor holds only submitting and finishing.
Starting a LocalCluster takes seconds (importing distributed, starting the scheduler and the
worker processes); :class:`Startup` does it on a thread, so the planner resolves and
fetches meanwhile; builds handed over before it is up are sent once it is. Its workers are
forked from a fork server that imported distributed and the build step once
(:func:`fork_server`), not spawned as fresh interpreters that each import both.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fromsource.bootstrap.executor import ExecutorSpec
from fromsource.errors import ExecutorError, InputError
from fromsource.store import Store
from fromsource.workspace import Workspace

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

# Seconds a refused connection to a scheduler is retried for, and a joined scheduler may take
# to show a worker (the default of every ``connect_timeout``/``timeout`` below).
CONNECT_TIMEOUT = 10.0
_INSTALL_HINT = "pip install 'fromsource[dask]' (on the coordinator and on every worker)"
_WORKER_HINT = "start workers with `dask worker ADDRESS --nthreads 1`"


def _not_installed() -> InputError:
    message = "the Dask executor needs the distributed package, which is not installed"
    return InputError(message, hint=_INSTALL_HINT)


def require_distributed() -> None:
    """Fail now if distributed is missing, without importing it (that takes a second; the
    start-up thread does it while the planner resolves)."""
    try:
        found = importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise _not_installed()


def distributed_module() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise _not_installed() from exc
    return distributed


# What a dask-local worker's fork server imports before forking any worker: distributed and
# the build step (fromsource.daskworker imports both).
WORKER_PRELOAD = ("fromsource.daskworker",)


# Bookkeeping a build task does not use, which costs CPU the builds share (idle, the cluster
# took 0.9 s of CPU per 10 s with Dask's defaults, 0.14 s with these): every server's
# event-loop health check wakes it every 20 ms (only ever logged), and each worker samples
# its task thread's stack every 10 ms for the dashboard's profile.
_QUIET = {"distributed.admin.tick.interval": "1s", "distributed.worker.profile.enabled": False}


def fork_server() -> bool:
    """Start this process's fork server preloading :data:`WORKER_PRELOAD`, unless it runs
    already; False where there is none (the workers are then spawned).

    Forked from it, each worker starts with distributed and the build stack imported
    (spawned, each imported both: about a second of CPU per worker, and the cluster came up
    1.3 s after the first build was handed over), and exits without tearing an interpreter
    down (closing the cluster took 0.35 to 0.5 s). There is one fork server per process,
    shared with the local pool (:mod:`fromsource.bootstrap.executor`): whichever starts it
    sets what it preloads, and the other's workers import what it lacks after the fork."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_PRELOAD))
    try:
        multiprocessing.forkserver.ensure_running()  # preloads while this process imports distributed
    except OSError:  # cannot start one here: spawned workers still work
        return False
    return True


# Where Dask looks for the coordinator's side of mutual TLS (its configuration file, or
# DASK_DISTRIBUTED__COMM__TLS__CA_FILE and so on in the environment).
TLS_SETTINGS = (
    "distributed.comm.tls.ca-file",
    "distributed.comm.tls.client.cert",
    "distributed.comm.tls.client.key",
)


def tls_security() -> Any:
    """Dask's TLS settings for joining a ``tls://`` scheduler: encryption required, and the
    CA and this client's certificate present, or an error saying where to set them."""
    security = distributed_module().security.Security(require_encryption=True)
    if not security.tls_ca_file or not security.tls_client_cert:
        raise InputError(
            "dask+tls:// needs Dask's TLS settings: the CA that signed the scheduler's and "
            "workers' certificates, and this coordinator's certificate and key",
            hint=f"set {', '.join(TLS_SETTINGS)} in Dask's configuration "
            "(or DASK_DISTRIBUTED__COMM__TLS__CA_FILE, ..._CLIENT__CERT, ..._CLIENT__KEY)",
        )
    named = (security.tls_ca_file, security.tls_client_cert, security.tls_client_key)
    for setting, value in zip(TLS_SETTINGS, named, strict=True):
        # Dask takes a file name or the PEM text itself.
        if value and not value.lstrip().startswith("-----BEGIN") and not os.path.isfile(value):
            raise InputError(f"Dask's {setting} names {value}, which is not a file")
    try:  # read now: an unreadable certificate is not an unreachable scheduler
        security.get_connection_args("client")
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise InputError(
            f"cannot use Dask's TLS settings: {exc}",
            hint=f"check the files {', '.join(TLS_SETTINGS)} name",
        ) from exc
    return security


def join(address: str, timeout: float = CONNECT_TIMEOUT) -> Client:
    """A client of the scheduler at ``address`` (``tls://`` or ``tcp://HOST:PORT``)."""
    distributed = distributed_module()
    security = tls_security() if address.startswith("tls://") else None
    try:
        client: Client = distributed.Client(address, timeout=timeout, set_as_default=False, security=security)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address}: {exc}",
            hint=f"start one with `dask scheduler` and {_WORKER_HINT}",
        ) from exc
    return client


def start_local(workers: int, forked: bool = False) -> tuple[Client, LocalCluster]:
    """A LocalCluster of ``workers`` single-threaded processes, and its client; ``forked``:
    the worker processes come from the fork server (:func:`fork_server` started it)."""
    distributed = distributed_module()
    import dask

    from fromsource.daskworker import CoordinatorEnvironment

    method = "forkserver" if forked else "spawn"
    if forked:
        # Else distributed sets its own preload list (too late: the server runs) after
        # importing numpy and pandas here, where installed.
        distributed.utils._forkserver_preload_set = True
    cluster = None
    try:
        # Read when each worker process starts: a worker the nanny restarts after the
        # cluster is up is spawned (it still works, it only imports more).
        with dask.config.set({"distributed.worker.multiprocessing-method": method, **_QUIET}):
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
                # Mutual TLS with credentials made for this run and held only in memory: the
                # scheduler listens on 127.0.0.1, where any local process could otherwise
                # join as a worker and send this process pickles.
                security=distributed.security.Security.temporary(),
                plugins=(CoordinatorEnvironment(dict(os.environ)),),
            )
            return distributed.Client(cluster, set_as_default=False), cluster
    except Exception as exc:  # Dask reports start-up trouble as plain exceptions
        if cluster is not None:
            cluster.close()
        raise ExecutorError(f"cannot start a Dask LocalCluster: {exc}") from exc


def check_workers(
    client: Client, store: Store, workspace: Workspace, timeout: float = CONNECT_TIMEOUT
) -> None:
    """Some worker is there, and every worker reads what this process writes into the store."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:
        raise ExecutorError("the Dask scheduler has no workers", hint=_WORKER_HINT) from exc
    marker = workspace.root / ".store-probe"
    marker.write_text(f"fromsource store probe for {store.spec}\n")
    digest = store.put_file(marker)
    marker.unlink()
    from fromsource.daskworker import probe_store

    seen = client.run(probe_store, store.spec, digest)
    blind = sorted(address for address, ok in seen.items() if not ok)
    if blind:
        raise InputError(
            f"worker(s) {', '.join(blind)} cannot read the store {store.spec}",
            hint="use --store with a directory every worker mounts, or an object-store URL",
        )


def close(client: Client, cluster: LocalCluster | None) -> None:
    client.close()  # type: ignore[no-untyped-call]
    if cluster is not None:
        cluster.close()


class Startup:
    """The cluster being started or joined and checked on a thread; :meth:`result` waits
    and raises what went wrong (the cluster half started is closed again)."""

    def __init__(
        self,
        spec: ExecutorSpec,
        store: Store,
        workspace: Workspace,
        prepare: Callable[[], None] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.spec = spec
        self._prepare = prepare  # run once distributed is imported (the CLI quiets its logs)
        self._timeout = connect_timeout
        self._client = None
        if spec.address is not None:  # connect here: an unreachable scheduler is said at once
            self._imported()
            self._client = join(spec.address, connect_timeout)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fromsource-dask-start")
        self._future: Future[tuple[Client, LocalCluster | None]] = self._pool.submit(
            self._start, store, workspace
        )
        self._pool.shutdown(wait=False)

    def _start(self, store: Store, workspace: Workspace) -> tuple[Client, LocalCluster | None]:
        if self._client is not None:
            client, cluster = self._client, None
        else:
            forked = fork_server()  # first: it preloads while this thread imports distributed
            self._imported()
            client, cluster = start_local(self.spec.workers, forked)
        try:
            check_workers(client, store, workspace, self._timeout)
        except BaseException:
            close(client, cluster)
            raise
        return client, cluster

    def _imported(self) -> None:
        distributed_module()
        if self._prepare is not None:
            self._prepare()

    def result(self) -> tuple[Client, LocalCluster | None]:
        return self._future.result()

    def done(self) -> bool:
        """Started (or failed to): :meth:`result` does not wait."""
        return self._future.done()

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the start is over, on the start-up thread (or here, now)."""
        self._future.add_done_callback(lambda _: callback())

    def close(self) -> None:
        """Close whatever was started (waits for a start still running)."""
        try:
            client, cluster = self._future.result()
        except Exception:  # it failed and closed itself: nothing to close
            return
        close(client, cluster)
