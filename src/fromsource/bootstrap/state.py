"""The planner's mutable working state: one :class:`PackageState` per node, the
:class:`Task` queue of environments to resolve, and the :class:`RunContext` every part of the
planner shares (internal; what leaves the planner is the frozen reports)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from securesystemslib.signer import CryptoSigner

from fromsource.backgroundwrites import BackgroundWrites
from fromsource.bootstrap.report import PackageReport, Reporter, Status
from fromsource.build import BuildSystem, EnvWheel
from fromsource.errors import FromsourceError
from fromsource.graph import Node
from fromsource.index import Index, SdistCandidate
from fromsource.pkginfo import PkgInfo
from fromsource.policy import Policy
from fromsource.resolve import MetadataPending, Resolution
from fromsource.sdistfacts import SdistFactsCache
from fromsource.statdigests import StatDigests
from fromsource.target import TargetEnvironment
from fromsource.workspace import Workspace

DEAD = ("failed", "skipped", "cancelled")
# The error of a package whose build environment does not resolve (alternatives are sought).
ENV_UNRESOLVED = "its build environment cannot be resolved"


# A resolution needs the runtime dependencies of an sdist that must be built first.
PendingMetadata = MetadataPending


TaskKind = Literal["top", "build-system", "backend"]


@dataclass(eq=False)
class Task:
    """One environment to resolve; ``blocked_on``: the packages whose metadata it awaits
    (all of them found by one resolution, built side by side, then resolved again once)."""

    kind: TaskKind
    owner: Node | None
    blocked_on: tuple[Node, ...] = ()


@dataclass(eq=False)
class PackageState:
    """Mutable planner state of one node."""

    node: Node
    sdist: SdistCandidate
    path: Path
    sha256: str
    build_system: BuildSystem
    bs_env: Resolution | None = None
    backend: tuple[Requirement, ...] | None = None  # None: the hook has not been asked yet
    full_env: Resolution | None = None
    status: Status | Literal["waiting", "running"] = "waiting"
    wheel: Path | None = None
    wheel_sha256: str | None = None
    report: PackageReport | None = None
    started: float = field(default=0.0)
    # The environment last found not reusable (so a full pool does not re-check it).
    stale_env: tuple[EnvWheel, ...] | None = None
    # Seeded cycles: the stage-1 wheel (built with seeds), and which stage is running.
    stage1_wheel: Path | None = None
    stage1_sha256: str | None = None
    running_stage1: bool = False
    # Build-slot seconds of earlier attempts (stage 1, one that found backend requirements
    # missing): part of what building this package cost.
    earlier_seconds: float = 0.0
    # What the policy's [publishers] check verified, recorded on the sdist's dependency entry.
    sdist_annotations: dict[str, Any] = field(default_factory=dict)
    # The digest of the inputs of the build running (fromsource.failures), to remember a failure.
    failure_key: str | None = None


@dataclass(eq=False)
class RunContext:
    """What every part of one planner round reads: the inputs of the run and the packages
    known so far (``packages`` grows as discovery reads sdists)."""

    requirements: tuple[str, ...]
    ws: Workspace
    index: Index
    policy: Policy | None
    key: Path  # handed to build workers, which sign each build's provenance
    signer: CryptoSigner  # the planner's own signatures (stage-2 comparisons, origin records)
    constraints: tuple[Requirement, ...]
    environment: TargetEnvironment
    reporter: Reporter
    keep_going: bool
    prefer_buildable: bool
    # sha256 of files by stat, kept across runs in cache/digests.json (saved by bootstrap).
    digest: StatDigests = field(default_factory=StatDigests)
    # Cache entries and hints, written off the planner's thread (flushed by bootstrap).
    writes: BackgroundWrites | None = None
    packages: dict[Node, PackageState] = field(default_factory=dict)
    stopping: bool = False  # a failure without --keep-going, or an unbroken cycle
    facts: SdistFactsCache = field(init=False)  # PKG-INFO and pyproject.toml by sdist digest

    def __post_init__(self) -> None:
        self.facts = SdistFactsCache(self.ws.cache / "sdists", self.digest, writes=self.writes)

    def pkg_info(self, sdist: Path) -> PkgInfo | None:
        return self.facts(sdist).pkg_info

    def pyproject(self, sdist: Path) -> bytes | None:
        return self.facts(sdist).pyproject

    def finish(self, package: PackageState, report: PackageReport) -> None:
        """``package`` reached its final status."""
        package.status = report.status
        package.report = report
        self.reporter.finished(report)

    def fail_unresolved(self, package: PackageState, error: str) -> None:
        """``package``'s build environment does not resolve (alternatives are sought)."""
        lines = error.splitlines()
        report = PackageReport(
            name=package.node.display_name,
            version=package.node.version,
            status="failed",
            error=f"{ENV_UNRESOLVED}: {lines[0]}",
            log_tail="\n".join(lines[1:]),
        )
        self.finish(package, report)

    def skip(self, package: PackageState, dead: Sequence[PackageState]) -> None:
        """``package`` cannot be built: something its build needs did not build."""
        report = PackageReport(
            name=package.node.display_name,
            version=package.node.version,
            status="skipped",
            error="a package its build needs did not build",
            blocked_by=tuple(sorted({str(d.node) for d in dead})),
        )
        self.finish(package, report)

    def wanted(self, requirements: Iterable[Requirement]) -> list[Requirement]:
        """The requirements whose markers hold in the target environment."""
        return [r for r in requirements if self.environment.evaluate(r.marker)]


def parse_all(texts: Iterable[str], who: str) -> tuple[Requirement, ...]:
    try:
        return tuple(Requirement(t) for t in texts)
    except InvalidRequirement as exc:
        raise FromsourceError(f"{who}: invalid requirement: {exc}") from exc
