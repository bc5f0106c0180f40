"""What ``fromsource bootstrap`` shows: live progress on stderr and the summary on stdout."""

from __future__ import annotations

from rich.progress import Progress, TaskID

from fromsource.bootstrap import BootstrapSummary, PackageReport, Reporter
from fromsource.cli._common import clean, out, safe
from fromsource.cli._heartbeat import Heartbeat


class ProgressReporter(Reporter):
    """done/total and the builds running, on stderr; one line per finished build."""

    def __init__(self, progress: Progress, task: TaskID, heartbeat: Heartbeat | None = None) -> None:
        self.progress = progress
        self.task = task
        self.running: list[str] = []
        self.done = 0
        self.heartbeat = heartbeat  # off a terminal: plain lines instead of a live bar

    def _show(self, note: str = "") -> None:
        running = ", ".join(self.running[:4]) + (" ..." if len(self.running) > 4 else "")
        text = f"building {running}" if running else note
        self.progress.update(self.task, completed=self.done, description=clean(text))

    def discovering(self, message: str) -> None:
        self._show(message)

    def planned(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def started(self, name: str, version: str) -> None:
        self.running.append(f"{name} {version}")
        if self.heartbeat is not None:
            self.heartbeat.started(f"{name} {version}")
        self._show()

    def note(self, message: str) -> None:
        self.progress.console.print(clean(message), markup=False)

    def finished(self, report: PackageReport) -> None:
        label = f"{report.name} {report.version}"
        if label in self.running:
            self.running.remove(label)
        if self.heartbeat is not None:
            self.heartbeat.finished(label)
        self.done += 1
        if report.status == "built":
            self.progress.console.print(f"[green]built[/] {clean(label)} ({report.seconds:.1f}s)")
        elif report.status == "external":
            self.progress.console.print(f"[cyan]external[/] {clean(label)} (pre-built, not built)")
        elif report.status == "failed" and report.remembered:
            self.progress.console.print(
                f"[red]failed earlier[/] {clean(label)} (same inputs; not built again)"
            )
        elif report.status == "failed":
            self.progress.console.print(f"[red]failed[/] {clean(label)}")
        self._show()


def print_summary(summary: BootstrapSummary) -> None:
    built, reused = summary.with_status("built"), summary.with_status("reused")
    failed, skipped = summary.with_status("failed"), summary.with_status("skipped")
    cancelled = summary.with_status("cancelled")
    externals = summary.with_status("external")
    out.print(
        f"{len(built)} built, {len(reused)} reused, {len(externals)} external, {len(failed)} failed, "
        f"{len(skipped)} skipped, {len(cancelled)} not started "
        f"in {summary.seconds:.1f}s (jobs: {summary.jobs})"
    )
    for report in failed:
        out.print(
            f"[bold red]failed[/] {clean(report.name)} {clean(report.version)}: {clean(report.error or '')}"
        )
        if report.log:
            out.print(f"  log: {clean(str(report.log))}")
        for line in report.log_tail.splitlines():
            out.print(f"  | {clean(line)}")
    if any(r.remembered for r in failed):
        out.print(
            "  (failures marked 'failed earlier' were not built again: their inputs are "
            "unchanged; --retry-failed builds them again)"
        )
    for report in skipped:
        out.print(
            f"[yellow]skipped[/] {clean(report.name)} {clean(report.version)}: needs "
            f"{clean(', '.join(report.blocked_by))}"
        )
    for report in cancelled:
        out.print(f"[dim]not started[/] {clean(report.name)} {clean(report.version)}")
    for report in summary.packages:
        if report.other_results:
            out.print(
                f"[yellow]not reproducible[/] {clean(report.name)} {clean(report.version)}: "
                f"the same inputs built other wheels before (sha256 "
                f"{', '.join(report.other_results)}); all are kept in the store"
            )
    for report in summary.packages:
        if report.stage1_equivalent is None:
            continue
        verdict = "equivalent" if report.stage1_equivalent else "[red]DIFFERENT[/]"
        line = f"stage 2 {clean(report.name)} {clean(report.version)}: {verdict} to stage 1"
        if report.seed is not None and report.seed_origin == "source":
            line += f"; the source seed {clean(report.seed)} " + (
                "has the same files"
                if report.seed_equivalent
                else "differs in " + clean(", ".join(n.rsplit("/", 1)[-1] for n in report.seed_differences))
            )
        elif report.seed is not None:
            seed = "reproduces" if report.seed_equivalent else "[yellow]does not reproduce[/]"
            line += f"; the seed {clean(report.seed)} {seed} from source"
        out.print(line)
        published = report.published
        if published is not None and published.equivalent is not None:
            verdict = (
                "reproduces from source"
                if published.equivalent
                else "[yellow]differs from stage 2[/] in " + clean(", ".join(published.differences))
            )
            out.print(f"  published wheel {clean(str(published.wheel))} {verdict}")
        elif published is not None:
            out.print(f"  published wheel: {clean(published.note)}")
    seeds = [t for t in summary.trust_base if t.kind == "seed"]
    leaves = [t for t in summary.trust_base if t.kind == "external"]
    origins = sorted({str(t.origin) for t in seeds})
    detail = (
        " (" + ", ".join(f"{sum(str(t.origin) == o for t in seeds)} {o}" for o in origins) + ")"
        if seeds
        else ""
    )
    out.print(f"trust base: {len(seeds)} seed(s){detail}, {len(leaves)} external(s)")
    for item in summary.trust_base:
        evidence = "; ".join(item.evidence) or "-"
        kind = f"{item.origin} seed" if item.kind == "seed" and item.origin else item.kind
        out.print(f"  {clean(kind)} {clean(str(item.wheel))} ({clean(evidence)})")
    for refused in summary.seeds_refused:
        out.print(f"[yellow]seed refused[/] {clean(refused.seed)}: {clean(refused.reason)}")
    for choice in summary.choices:
        out.print(
            f"[yellow]chose[/] {clean(choice['chose'])} instead of "
            f"{clean(choice['package'])} ({clean(choice['reason'])})"
        )
    for check in summary.installable:
        colour = "green" if check.installable else "red"
        out.print(f"[{colour}]{clean(check.requirement)}[/]: {clean(check.describe())}")
    if summary.constraints_suggested:
        out.print(
            "these versions' build environments resolve; add to a constraints file "
            "(-c FILE), or re-run with --prefer-buildable:"
        )
        for alternative in summary.constraints_suggested:
            out.print(f"  {alternative.constraint}  # instead of {alternative.package}", markup=False)
    if summary.externals_suggested:
        out.print(
            "published wheels exist for what keeps a requested requirement from "
            "installing; to use them as externals (trust-base leaves, named by digest), "
            "add to the policy:"
        )
        out.print("[externals]\nwheels = [", markup=False)
        for suggestion in summary.externals_suggested:
            out.print(f"  {safe(suggestion['line'])},  # {safe(suggestion['package'])}", markup=False)
        out.print("]", markup=False)
    efficiency = summary.efficiency
    if efficiency is not None and efficiency.ratio is not None:
        out.print(
            f"scheduling: {efficiency.wall_seconds:.1f}s wall against a lower bound of "
            f"{efficiency.lower_bound_seconds:.1f}s ({efficiency.ratio:.2f}x; critical path "
            f"{efficiency.critical_path_seconds:.1f}s, {efficiency.build_seconds:.1f} build-s "
            f"over {efficiency.workers} slot(s))"
        )
    out.print(f"graph: {clean(str(summary.graph_file))}")
