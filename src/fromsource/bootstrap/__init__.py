"""Bootstrap: resolve a requirement's whole build graph and build all of it from source.

The planner interleaves discovery with building, because some edges are only known once
other packages are built:

- the top-level install set and every package's ``[build-system]`` environment are resolved
  separately (build isolation), from static sdist metadata where it is authoritative;
- an sdist whose ``Requires-Dist`` is dynamic is built first and its wheel's METADATA read
  (the resolution that needed it is retried then);
- backend requirements (``get_requires_for_build_wheel``) are known once a package's
  build-system environment is built: its first build attempt runs the hook in that
  environment and, if the backend asks for more, the planner resolves and builds that and
  retries with the larger environment.

Cycles of needs-to-build are checked before anything in them could be built, every time the
graph grows. Builds go through an :class:`~fromsource.bootstrap.executor.Executor`; the
planner itself is single-threaded, never prints, and reports progress through a
:class:`Reporter`.

The parts, in the order data flows through them: ``intake`` (an sdist into the graph),
``discovery`` (environments to resolve), ``cycles`` (seeds or stop), ``scheduling`` (reuse or
build), ``stage2`` (compare and sign a seeded cycle's rebuilds), ``seeding`` and
``externals`` (the trust base), ``planner`` (the loop), ``rounds`` (the run and its summary),
``report`` (what comes out).

The names below are loaded on first use: a build worker imports
:mod:`fromsource.bootstrap.executor` and must not pay for the planner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fromsource.bootstrap.report import BootstrapSummary, PackageReport, Reporter, Status
    from fromsource.bootstrap.rounds import bootstrap, default_jobs
    from fromsource.bootstrap.state import ENV_UNRESOLVED

_WHERE = {
    "BootstrapSummary": "report",
    "PackageReport": "report",
    "Reporter": "report",
    "Status": "report",
    "bootstrap": "rounds",
    "default_jobs": "rounds",
    "ENV_UNRESOLVED": "state",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


__all__ = [
    "ENV_UNRESOLVED",
    "BootstrapSummary",
    "PackageReport",
    "Reporter",
    "Status",
    "bootstrap",
    "default_jobs",
]
