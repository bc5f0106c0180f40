"""One bootstrap run: the planner's rounds (more than one with ``--prefer-buildable``), then
the summary (installability, suggestions, the trust base, scheduling efficiency)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from packaging.requirements import Requirement

from fromsource import installability
from fromsource.alternatives import Alternative
from fromsource.backgroundwrites import BackgroundWrites
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, Executor, LocalExecutor, queued_per_slot
from fromsource.bootstrap.incremental import remove_stale_temp_files
from fromsource.bootstrap.planner import Planner
from fromsource.bootstrap.report import BootstrapSummary, Reporter
from fromsource.build import BuildSettings
from fromsource.efficiency import measure
from fromsource.index import Index
from fromsource.policy import Policy
from fromsource.statdigests import StatDigests
from fromsource.target import TargetEnvironment
from fromsource.workspace import Workspace

# --prefer-buildable: at most this many re-runs, each with the alternatives found.
_PREFER_ROUNDS = 3


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _AcrossRounds:
    """The run's executor, shut down once after the last round (--prefer-buildable repeats
    the planner; a round ends with nothing running)."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.queued_per_slot = queued_per_slot(executor)

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        return self.executor.submit(request)

    def shutdown(self) -> None:
        return None


def bootstrap(
    requirements: Sequence[str],
    *,
    workspace: Workspace,
    index: Index,
    key: Path,
    constraints: Sequence[Requirement] = (),
    jobs: int | None = None,
    keep_going: bool = False,
    settings: BuildSettings | None = None,
    environment: TargetEnvironment | None = None,
    executor: Executor | None = None,
    reporter: Reporter | None = None,
    policy: Policy | None = None,
    evidence_dirs: Sequence[Path] = (),
    prefer_buildable: bool = False,
    digests: StatDigests | None = None,
    retry_failed: bool = False,
) -> BootstrapSummary:
    """Build ``requirements`` and their whole build closure from source into ``workspace``.

    Cycles are broken with the fewest admitted seeds ``policy`` accepts; members of a seeded
    cycle are built twice (stage 1 with seeds into stage1/, stage 2 from stage-1 wheels only
    into wheels/) and compared. Holds the workspace lock for the whole run.
    Raises :class:`CycleError` (a cycle no accepted seed breaks, before
    anything in it is built), :class:`~fromsource.errors.ResolutionError` (a conflict, with
    the chain of requirements) or other :class:`FromsourceError` for bad input; build
    failures do not raise, they are in the summary.

    With ``prefer_buildable``, a package whose build environment does not resolve fails
    alone (as with ``keep_going``) and the run is repeated with the closest version whose
    build environment resolves pinned; each such choice is in the summary's ``choices``.

    A build that failed before from exactly the same inputs is reported failed again without
    being run (``retry_failed`` runs it). ``digests`` remembers file digests across runs
    (``WORKSPACE/cache/digests.json`` when not given); it is saved at the end.
    """
    start = time.perf_counter()
    jobs = jobs or default_jobs()
    workspace.create()
    chosen: list[Alternative] = []
    real = executor or LocalExecutor(jobs)
    digests = digests if digests is not None else StatDigests(workspace.cache / "digests.json")
    writes = BackgroundWrites()
    with workspace.lock():
        remove_stale_temp_files(workspace)
        try:
            for _ in range(_PREFER_ROUNDS + 1):
                planner = Planner(
                    requirements,
                    workspace=workspace,
                    index=index,
                    key=key,
                    constraints=(*constraints, *(Requirement(a.constraint) for a in chosen)),
                    jobs=jobs,
                    keep_going=keep_going,
                    settings=settings or BuildSettings(),
                    environment=environment or TargetEnvironment.current(),
                    executor=_AcrossRounds(real),
                    reporter=reporter or Reporter(),
                    policy=policy,
                    evidence_dirs=evidence_dirs,
                    prefer_buildable=prefer_buildable,
                    digests=digests,
                    retry_failed=retry_failed,
                    writes=writes,
                )
                reports = planner.run()
                alternatives = planner.alternatives()
                writes.flush()  # the next round reads what this one learned
                if not prefer_buildable or not alternatives:
                    break
                chosen += alternatives
        finally:
            real.shutdown()
            try:
                writes.close()
            finally:
                digests.save()
    trust_base, refused = planner.trust_base()
    verdicts = installability.check(requirements, planner.top, reports, workspace)
    suggested = planner.externals.suggest(installability.runtime_blockers(verdicts), alternatives)
    built = {
        n: p.report.seconds
        for n, p in planner.ctx.packages.items()
        if p.report is not None and p.report.status == "built"
    }
    seconds = time.perf_counter() - start
    return BootstrapSummary(
        requirements=tuple(requirements),
        roots=tuple(n.id for n in planner.discovery.roots),
        packages=reports,
        graph_file=workspace.graph_file,
        seconds=seconds,
        jobs=jobs,
        trust_base=trust_base,
        seeds_refused=refused,
        externals_suggested=suggested,
        isolation=planner.fingerprint.isolation,
        installable=verdicts,
        constraints_suggested=alternatives,
        choices=tuple(
            {"package": a.package, "chose": a.constraint, "reason": f"--prefer-buildable: {a.reason}"}
            for a in chosen
        ),
        efficiency=measure(planner.discovery.graph.build(), built, workers=jobs, wall_seconds=seconds),
    )
