"""One planner round: discovery, the cycle check and scheduling in a loop until nothing can
move, then the reports, the trust base and the alternatives for what did not resolve.

The planner is single-threaded and never prints; builds go through an
:class:`~fromsource.bootstrap.executor.Executor`, downloads through the index, signatures
through the run's signer, and progress through a :class:`Reporter`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from fromsource.alternatives import Alternative, AlternativesMemo
from fromsource.attest.keys import load_signer
from fromsource.backgroundwrites import BackgroundWrites
from fromsource.bootstrap.cycles import CycleGuard
from fromsource.bootstrap.discovery import Discovery
from fromsource.bootstrap.executor import Executor, queued_per_slot
from fromsource.bootstrap.externals import Externals
from fromsource.bootstrap.incremental import Fingerprint
from fromsource.bootstrap.intake import Intake
from fromsource.bootstrap.report import PackageReport, RefusedSeed, Reporter, TrustEntry
from fromsource.bootstrap.scheduling import Scheduler
from fromsource.bootstrap.seeding import SeedChoice
from fromsource.bootstrap.state import ENV_UNRESOLVED, PendingMetadata, RunContext
from fromsource.build import BuildSettings
from fromsource.graph import dump
from fromsource.index import Index, SdistCandidate
from fromsource.policy import Policy
from fromsource.publishers import PublisherGate
from fromsource.resolve import Resolution, SdistMetadata
from fromsource.sandbox import choose_level
from fromsource.statdigests import StatDigests
from fromsource.target import TargetEnvironment
from fromsource.workspace import Workspace


class Planner:
    def __init__(
        self,
        requirements: Sequence[str],
        *,
        workspace: Workspace,
        index: Index,
        key: Path,
        constraints: Sequence[Requirement],
        jobs: int,
        keep_going: bool,
        settings: BuildSettings,
        environment: TargetEnvironment,
        executor: Executor,
        reporter: Reporter,
        policy: Policy | None = None,
        evidence_dirs: Sequence[Path] = (),
        prefer_buildable: bool = False,
        digests: StatDigests | None = None,
        retry_failed: bool = False,
        writes: BackgroundWrites | None = None,
    ) -> None:
        signer = load_signer(key)
        self.ctx = ctx = RunContext(
            requirements=tuple(requirements),
            ws=workspace,
            index=index,
            policy=policy,
            key=key.absolute(),
            signer=signer,
            constraints=tuple(constraints),
            environment=environment,
            reporter=reporter,
            keep_going=keep_going,
            prefer_buildable=prefer_buildable,
            digest=digests if digests is not None else StatDigests(),
            writes=writes,
        )
        publishers = (
            PublisherGate(policy, workspace, index, tuple(evidence_dirs))
            if policy is not None
            and (policy.publishers or policy.external_publishers or policy.externals_by_publisher)
            else None
        )
        # The sandbox level is part of what a build depends on; unavailable: stop before work.
        self.fingerprint = Fingerprint.current(
            choose_level(settings.sandbox, require_network_isolation=settings.require_isolation).level
        )
        self.seeds = SeedChoice(ctx)
        self.externals = Externals(ctx, publishers)
        self.discovery = Discovery(ctx, Intake(ctx, self.externals, publishers), self.seeds)
        self.cycles = CycleGuard(ctx, self.discovery, self.seeds)
        self.scheduler = Scheduler(
            ctx,
            self.discovery,
            self.seeds,
            executor=executor,
            jobs=jobs,
            queued_per_slot=queued_per_slot(executor),
            settings=settings,
            fingerprint=self.fingerprint,
            keys=[signer.public_key],
            retry_failed=retry_failed,
        )
        self.executor = executor

    @property
    def top(self) -> Resolution | None:
        return self.discovery.top

    def run(self) -> tuple[PackageReport, ...]:
        try:
            while True:
                progressed = self.discovery.discover()
                self.cycles.check()
                progressed = self.scheduler.schedule() or progressed
                if progressed:
                    continue
                if not self.scheduler.running:
                    break
                # About to wait on builds: meanwhile, find what waiting resolutions probably need.
                if not self.scheduler.any_done() and self.discovery.guess():
                    continue
                self.scheduler.collect()
            self.cycles.check_stuck()
        finally:
            self.executor.shutdown()
            # A run whose top-level resolution failed learned nothing: keep the last graph
            # (the pins --frozen re-runs from).
            if self.discovery.top is not None:
                dump(self.discovery.graph.build(), self.ctx.ws.graph_file)
        self.ctx.ws.update_simple_index(self.ctx.digest)
        return self._reports()

    def _reports(self) -> tuple[PackageReport, ...]:
        reports = []
        for package in sorted(self.ctx.packages.values(), key=lambda p: p.node):
            if package.report is None:
                package.report = PackageReport(
                    name=package.node.display_name,
                    version=package.node.version,
                    status="cancelled",
                    error="not built: the run stopped after a failure",
                )
            reports.append(package.report)
        return tuple(reports)

    def trust_base(self) -> tuple[tuple[TrustEntry, ...], tuple[RefusedSeed, ...]]:
        """Seeds and externals this run rested on; and admitted seeds it refused to use."""
        return (*self.seeds.trust_entries(), *self.externals.trust_entries()), self.seeds.refused()

    def alternatives(self) -> tuple[Alternative, ...]:
        """For each package whose build environment does not resolve: a version that does."""
        ctx, found = self.ctx, []
        memo = AlternativesMemo(ctx.ws.cache / "alternatives")
        graph = self.discovery.graph.build()
        for package in sorted(ctx.packages.values(), key=lambda p: p.node):
            report = package.report
            if (
                report is None
                or report.status != "failed"
                or not (report.error or "").startswith(ENV_UNRESOLVED)
            ):
                continue
            allowed = [_specifier(e.requirement) for e in graph.edges if e.target == package.node]
            allowed += [
                _specifier(r)
                for r in ctx.requirements
                if canonicalize_name(Requirement(r).name) == package.node.name
            ]
            ctx.reporter.discovering(f"looking for a buildable version of {package.node}")
            alternative = memo.find(
                package.node.display_name,
                Version(package.node.version),
                reason=report.error or "",
                index=ctx.index,
                sources=ctx.ws.sources,
                metadata=SdistMetadata(
                    ctx.index, ctx.ws.sources, self._metadata_or_none, pkg_info=ctx.pkg_info
                ),
                pyproject=ctx.pyproject,
                constraints=ctx.constraints,
                environment=ctx.environment,
                allowed=allowed,
            )
            if alternative is not None:
                found.append(alternative)
        return tuple(found)

    def _metadata_or_none(self, candidate: SdistCandidate) -> list[Requirement]:
        # Looking for alternatives builds nothing: unknown runtime metadata counts as none.
        try:
            return self.discovery.metadata_for(candidate)
        except PendingMetadata:
            return []


def _specifier(requirement: str | None) -> SpecifierSet:
    try:
        return Requirement(requirement).specifier if requirement else SpecifierSet()
    except InvalidRequirement:
        return SpecifierSet()
