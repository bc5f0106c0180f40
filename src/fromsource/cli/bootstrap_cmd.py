"""``fromsource bootstrap``: build requirements and their whole build closure from source."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from fromsource.bootstrap import BootstrapSummary, PackageReport, Reporter
from fromsource.bootstrap import bootstrap as run_bootstrap
from fromsource.cli._common import (
    clean,
    err,
    fetch_options,
    guarded,
    json_option,
    out,
    print_json,
    safe,
    sandbox_option,
    warn_not_isolated,
    workspace_option,
)
from fromsource.cli._heartbeat import Heartbeat
from fromsource.errors import EXIT_BUILD, InputError
from fromsource.sandbox import SandboxMode, not_isolated

if TYPE_CHECKING:
    from fromsource.workspace import Workspace


class _ProgressReporter(Reporter):
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


@click.command()
@click.argument("requirements", nargs=-1, required=True)
@workspace_option
@click.option(
    "--index-url",
    metavar="URL",
    help="Simple-API index for sdists. Default: pip's index-url setting, else the "
    "public Python package index.",
)
@click.option(
    "--find-links",
    "find_links",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of sdists searched before the index (repeatable).",
)
@click.option("--no-index", is_flag=True, help="Use only --find-links directories.")
@click.option(
    "--constraint",
    "-c",
    "constraint_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Constraints file (name<spec> per line) for every environment (repeatable).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Builds in parallel. Default: the number of usable cores.",
)
@click.option("--keep-going", is_flag=True, help="Keep building what does not depend on a failed build.")
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="ed25519 private key (PEM) to sign with. Default: WORKSPACE/keys/builder.key, "
    "generated on first use.",
)
@click.option(
    "--require-isolation",
    is_flag=True,
    help="Fail builds instead of running them with the network reachable.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy TOML deciding which admitted seeds may break cycles, which "
    "pre-built externals may be used, and whether builds need the sandbox.",
)
@click.option(
    "--prefer-buildable",
    is_flag=True,
    help="When a version's build environment does not resolve, use the closest "
    "version whose does (recorded in the summary as a choice made).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Build again what failed before from exactly the same inputs (by default such a "
    "failure is reported from the last attempt without building).",
)
@click.option(
    "--frozen",
    is_flag=True,
    help="Re-run on the versions of the last graph.json, with the sdists in the "
    "workspace's sources/: no index traffic.",
)
@sandbox_option
@click.option(
    "--evidence",
    "evidence_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory of publisher evidence (<sdist file><suffix>: .publish.attestation, "
    ".provenance, .sigstore...) for projects the policy's [publishers] names "
    "(repeatable).",
)
@fetch_options
@click.option(
    "--executor",
    "executor_spec",
    default="local",
    show_default=True,
    metavar="local|dask://HOST:PORT|dask-local:N",
    help="Where builds run: this machine's process pool, an existing Dask scheduler, "
    "or a Dask LocalCluster of N worker processes (needs fromsource[dask]).",
)
@click.option(
    "--store",
    "store_spec",
    metavar="DIR|URL",
    help="Content-addressed store the Dask workers exchange blobs through: a "
    "directory every worker reaches, or an fsspec URL. Default: WORKSPACE/store.",
)
@click.option(
    "--keep-build-dirs",
    is_flag=True,
    help="Keep each build's venv and unpacked source (default: removed after a "
    "successful build; logs are kept).",
)
@json_option
@guarded
def bootstrap(
    requirements: tuple[str, ...],
    workspace: Path,
    index_url: str | None,
    find_links: tuple[Path, ...],
    no_index: bool,
    constraint_files: tuple[Path, ...],
    jobs: int | None,
    keep_going: bool,
    key: Path | None,
    require_isolation: bool,
    policy_path: Path | None,
    sandbox: SandboxMode,
    evidence_dirs: tuple[Path, ...],
    prefer_buildable: bool,
    retry_failed: bool,
    frozen: bool,
    executor_spec: str,
    store_spec: str | None,
    keep_build_dirs: bool,
    as_json: bool,
    fetch_rules: Callable[[bool], Any],
) -> None:
    """Resolve REQUIREMENTS and build them and everything their builds need from source.

    Exit 0 when every package was built or reused, 3 when a build failed, 1 on a cycle or a
    resolution conflict, 2 on bad input. A re-run reuses every wheel whose sdist, build
    environment and settings are unchanged.

    A build cycle is broken only by admitted seeds that --policy accepts (fromsource seed
    admit); the cycle's packages are then built twice, with seeds and from stage-1 wheels
    only, and compared. Wheels the policy names under [externals] are used, not built.
    An sdist of a project the policy's [publishers] names is used only when its publisher
    evidence (index provenance, --evidence, the workspace store) verifies.
    """
    from fromsource.attest.keys import PRIVATE_KEY_NAME
    from fromsource.bootstrap.executor import Executor, parse_executor
    from fromsource.build import BuildSettings
    from fromsource.cli._signing import signer_for
    from fromsource.frozen import FrozenIndex
    from fromsource.index import Index, close_index, listed_projects, open_index, prefetch
    from fromsource.policy import load_policy
    from fromsource.resolve import load_constraints
    from fromsource.statdigests import StatDigests
    from fromsource.workspace import Workspace

    spec = parse_executor(executor_spec)
    ws = Workspace(workspace).create()
    signer_for(ws, key)  # generates the workspace key on first use, and says so
    key_path = key if key is not None else ws.keys / PRIVATE_KEY_NAME
    constraints = [c for path in constraint_files for c in load_constraints(path)]
    policy = load_policy(policy_path) if policy_path else None
    if policy is not None:
        policy.check_current()
        if policy.require_sandbox:
            sandbox = "required"
        require_isolation = require_isolation or policy.require_isolation
    digests = StatDigests(ws.cache / "digests.json")
    if frozen:
        if index_url or find_links or no_index:
            raise InputError(
                "--frozen takes the sdists from the workspace; drop --index-url, --find-links and --no-index"
            )
        index: Index = FrozenIndex(ws, digest=digests)
    else:
        index = open_index(
            index_url,
            find_links,
            no_index=no_index,
            rules=fetch_rules(policy is not None and policy.allow_unverified_sources),
            digest=digests,
            cache=ws.cache / "listings",
        )
        prefetch(index, _last_projects(ws))
    executor: Executor | None = None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    heartbeat = None if err.is_terminal else Heartbeat(lambda line: err.print(line, markup=False))
    try:
        if heartbeat is not None:
            heartbeat.start()
        if spec.kind != "local":
            from fromsource.cluster import DaskExecutor
            from fromsource.store import open_store

            _quiet_dask()

            store = open_store(store_spec if store_spec is not None else ws.root / "store")
            dask = DaskExecutor.connect(spec, store=store, workspace=ws, key=key_path)
            executor, jobs = dask, jobs or dask.slots
        with progress:
            task = progress.add_task("resolving", total=None)
            reporter = _ProgressReporter(progress, task, heartbeat)
            summary = run_bootstrap(
                list(requirements),
                workspace=ws,
                index=index,
                key=key_path,
                constraints=constraints,
                jobs=jobs,
                keep_going=keep_going,
                settings=BuildSettings(
                    require_isolation=require_isolation,
                    sandbox=sandbox,
                    toolchains=policy.toolchains if policy else (),
                    crates_registry=policy.crates_registry if policy else None,
                    keep_build_dirs=keep_build_dirs,
                ),
                reporter=reporter,
                policy=policy,
                evidence_dirs=evidence_dirs,
                prefer_buildable=prefer_buildable,
                executor=executor,
                digests=digests,
                retry_failed=retry_failed,
            )
    finally:
        if executor is not None:
            executor.shutdown()
        if heartbeat is not None:
            heartbeat.stop()
        if not frozen:
            _remember_projects(ws, listed_projects(index))
        close_index(index)
    warn_not_isolated(not_isolated(summary.isolation))
    if as_json:
        print_json(summary.to_dict())
    else:
        _print_summary(summary)
    if not summary.ok:
        sys.exit(EXIT_BUILD)


def _last_projects(ws: Workspace) -> list[str]:
    """The projects the last run listed (cache/projects.json: the graph's, and those whose
    resolution failed) and the last graph's; none on a first run. What is missing or
    unreadable is fetched one by one as resolution asks."""
    from fromsource.errors import FromsourceError
    from fromsource.graph import load
    from fromsource.untrusted import MAX_SMALL_FILE_BYTES, load_json, read_file

    names: list[str] = []
    if ws.graph_file.is_file():
        with contextlib.suppress(FromsourceError):
            names += [node.name for node in load(ws.graph_file).nodes]
    path = ws.cache / "projects.json"
    if path.is_file():
        with contextlib.suppress(FromsourceError):
            data = load_json(
                read_file(path, limit=MAX_SMALL_FILE_BYTES, what="project list"), source=str(path)
            )
            if isinstance(data, list):
                names += [n for n in data if isinstance(n, str)]
    return names


def _remember_projects(ws: Workspace, names: list[str]) -> None:
    from fromsource.fileutil import atomic_write_bytes

    if names:
        atomic_write_bytes(ws.cache / "projects.json", json.dumps(names).encode() + b"\n")


def _quiet_dask() -> None:
    """Dask logs reconnection attempts and worker deaths with tracebacks on stderr; the
    run's summary and its one-line errors already say what matters."""
    import logging

    try:
        import distributed  # noqa: F401 - importing it sets up its loggers
    except ImportError:
        return  # DaskExecutor.connect says how to install it
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _print_summary(summary: BootstrapSummary) -> None:
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
