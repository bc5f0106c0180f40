"""Starting or joining a Dask cluster, and checking its workers can do our builds.

Split from :mod:`fromsource.cluster` so the executor holds only submitting and finishing.
Starting a LocalCluster takes seconds (importing distributed, spawning the scheduler and the
worker processes); :class:`Startup` does it on a thread, so the planner resolves and
fetches meanwhile; builds handed over before it is up are sent once it is.
"""

from __future__ import annotations

import importlib.util
import logging
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


def _probe_store(spec: str, digest: str) -> bool:
    """Runs on each worker: can it read the store the coordinator writes? Also imports the
    build step, so the first build does not pay for it."""
    import fromsource.remote  # noqa: F401 - warming up the worker
    from fromsource.store import open_store

    return open_store(spec).has(digest)


def join(address: str, timeout: float = CONNECT_TIMEOUT) -> Client:
    """A client of the scheduler at ``address`` (``HOST:PORT``)."""
    distributed = distributed_module()
    try:
        client: Client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address}: {exc}",
            hint=f"start one with `dask scheduler` and {_WORKER_HINT}",
        ) from exc
    return client


def start_local(workers: int) -> tuple[Client, LocalCluster]:
    """A LocalCluster of ``workers`` single-threaded processes, and its client."""
    distributed = distributed_module()
    cluster = None
    try:
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
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
    seen = client.run(_probe_store, store.spec, digest)
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
            self._imported()
            client, cluster = start_local(self.spec.workers)
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
