"""What a bootstrap run reports: one :class:`PackageReport` per package, the run's
:class:`BootstrapSummary` (the CLI's ``--json`` document), and :class:`Reporter`, the progress
callbacks the planner calls (it never prints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # annotations only: the CLI's output module loads this without them
    from fromsource import installability
    from fromsource.alternatives import Alternative
    from fromsource.efficiency import Efficiency
    from fromsource.published import PublishedCheck

Status = Literal["built", "reused", "external", "failed", "skipped", "cancelled"]
DONE = ("built", "reused", "external")


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageReport:
    """How one (name, version) of the graph ended."""

    name: str
    version: str
    status: Status
    wheel: Path | None = None
    attestation: Path | None = None
    log: Path | None = None
    seconds: float = 0.0
    error: str | None = None
    log_tail: str = ""
    blocked_by: tuple[str, ...] = ()  # for "skipped": the failed packages it needed
    # Seeded cycles: the seed standing in for this package, and the stage-2 verdicts.
    seed: str | None = None
    stage1_wheel: Path | None = None
    stage1_equivalent: bool | None = None
    seed_equivalent: bool | None = None
    # Source seeds: what the seed's comparison with stage 2 found, and the published wheel's.
    seed_origin: str | None = None
    seed_differences: tuple[str, ...] = ()
    published: PublishedCheck | None = None
    # Digests of other wheels the same build task (same inputs) produced before this one.
    other_results: tuple[str, ...] = ()
    # "failed": reported from an earlier attempt with the same inputs, not built this run.
    remembered: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "seed": self.seed,
            "stage1_wheel": str(self.stage1_wheel) if self.stage1_wheel else None,
            "stage1_equivalent": self.stage1_equivalent,
            "seed_equivalent": self.seed_equivalent,
            "seed_origin": self.seed_origin,
            "seed_differences": list(self.seed_differences),
            "published": self.published.to_dict() if self.published else None,
            "wheel": str(self.wheel) if self.wheel else None,
            "attestation": str(self.attestation) if self.attestation else None,
            "log": str(self.log) if self.log else None,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "log_tail": self.log_tail,
            "blocked_by": list(self.blocked_by),
            "other_results": list(self.other_results),
            "remembered": self.remembered,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustEntry:
    """A leaf of the run's trust base: a seed that broke a cycle, or an external wheel."""

    kind: Literal["seed", "external"]
    name: str  # the node, "name==version"
    wheel: str | None
    sha256: str | None
    evidence: tuple[str, ...]
    origin: str | None = None  # seeds: "source" or "published"
    cycle: tuple[str, ...] = ()  # seeds: the cycle members it stands in for

    def to_dict(self) -> dict[str, Any]:
        common = {
            "name": self.name,
            "wheel": self.wheel,
            "sha256": self.sha256,
            "evidence": list(self.evidence),
        }
        if self.kind == "external":
            return {"kind": "external", **common}
        return {"kind": "seed", "origin": self.origin, **common, "cycle": list(self.cycle)}


@dataclass(frozen=True, slots=True)
class RefusedSeed:
    """An admitted seed the run did not use, and why."""

    seed: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"seed": self.seed, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class BootstrapSummary:
    requirements: tuple[str, ...]
    roots: tuple[str, ...]  # node ids (name==version) of the top-level install set
    packages: tuple[PackageReport, ...]
    graph_file: Path
    seconds: float
    jobs: int
    # The trust base: seeds and externals the run rested on.
    trust_base: tuple[TrustEntry, ...] = ()
    # Admitted seeds the run did not use, each with the reason (a seed no cycle needs is refused).
    seeds_refused: tuple[RefusedSeed, ...] = ()
    # For packages that failed or were skipped: the policy lines that would admit the
    # published wheel instead, as an external ({package, line}).
    externals_suggested: tuple[dict[str, str], ...] = ()
    # The sandbox level builds ran under (bwrap, unshare-net, none).
    isolation: str = ""
    # Per requested requirement: can it be installed from wheels/simple/, and if not, why.
    installable: tuple[installability.InstallVerdict, ...] = ()
    # Versions whose build environment resolves, for packages whose chosen one does not.
    constraints_suggested: tuple[Alternative, ...] = ()
    # Choices the run made on the user's behalf (--prefer-buildable): {package, chose, reason}.
    choices: tuple[dict[str, str], ...] = ()
    # Wall time against max(critical path, build seconds / jobs) (fromsource.efficiency).
    efficiency: Efficiency | None = None

    def with_status(self, status: Status) -> list[PackageReport]:
        return [p for p in self.packages if p.status == status]

    @property
    def ok(self) -> bool:
        return all(p.status in DONE for p in self.packages)

    def to_dict(self) -> dict[str, Any]:
        counts = {
            s: len(self.with_status(s))
            for s in ("built", "reused", "external", "failed", "skipped", "cancelled")
        }
        return {
            "format": "fromsource.bootstrap-summary",
            "format_version": 1,
            "ok": self.ok,
            "requirements": list(self.requirements),
            "roots": list(self.roots),
            "jobs": self.jobs,
            "seconds": round(self.seconds, 3),
            "counts": counts,
            "graph": str(self.graph_file),
            "isolation": self.isolation,
            "trust_base": [t.to_dict() for t in self.trust_base],
            "seeds_refused": [r.to_dict() for r in self.seeds_refused],
            "externals_suggested": list(self.externals_suggested),
            "installable": [v.to_dict() for v in self.installable],
            "constraints_suggested": [a.to_dict() for a in self.constraints_suggested],
            "choices": list(self.choices),
            "efficiency": self.efficiency.to_dict() if self.efficiency is not None else None,
            "packages": [p.to_dict() for p in self.packages],
        }


class Reporter:
    """Progress callbacks; the default does nothing. The CLI renders them."""

    def discovering(self, message: str) -> None:
        """Discovery is doing something that may take a moment (resolving, fetching)."""

    def planned(self, total: int) -> None:
        """The number of packages known to need a wheel changed."""

    def started(self, name: str, version: str) -> None:
        """A build was handed to the executor."""

    def finished(self, report: PackageReport) -> None:
        """A package reached its final status."""

    def note(self, message: str) -> None:
        """Something the user should read in the run's log (why a wheel is rebuilt)."""
