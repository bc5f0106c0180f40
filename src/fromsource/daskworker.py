"""What the coordinator runs inside Dask worker processes, besides the build step itself.

``dask-local`` workers are forked from the process's fork server with this module preloaded
(:func:`fromsource.clusterstart.fork_server`): importing it imports distributed and the build
step (:mod:`fromsource.remote`), so each worker starts with both instead of importing them
in a fresh interpreter. Only imported where distributed is installed.
"""

from __future__ import annotations

import os
from typing import Any

from distributed import WorkerPlugin

import fromsource.remote  # noqa: F401 - the build step every task runs: preloaded, not imported per worker
from fromsource.store import open_store


class CoordinatorEnvironment(WorkerPlugin):
    """Set up in each ``dask-local`` worker before it joins the scheduler (a worker the nanny
    restarts included): builds see the coordinator's environment as it was when the cluster
    started, not the one the fork server started with (as the local pool's workers do)."""

    name = "fromsource-coordinator-environment"

    def __init__(self, environ: dict[str, str]) -> None:
        self.environ = dict(environ)

    def setup(self, worker: Any) -> None:
        os.environ.clear()
        os.environ.update(self.environ)


def probe_store(spec: str, digest: str) -> bool:
    """Can this worker read the store the coordinator writes? (Run on every worker before
    the first build; a worker not forked from the fork server imports the build step here,
    so the first build does not pay for it.)"""
    return open_store(spec).has(digest)
