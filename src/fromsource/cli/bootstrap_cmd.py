"""``fromsource bootstrap``: build requirements and their whole build closure from source."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from fromsource.cli._bootstrap_output import ProgressReporter, print_summary
from fromsource.cli._common import (
    err,
    fetch_options,
    guarded,
    json_option,
    print_json,
    sandbox_option,
    warn_not_isolated,
    warn_plain_tcp,
    workspace_option,
)
from fromsource.cli._heartbeat import Heartbeat
from fromsource.errors import EXIT_BUILD, InputError
from fromsource.sandbox import SandboxMode, not_isolated


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
    metavar="local|dask+tls://HOST:PORT|dask://HOST:PORT|dask-local:N",
    help="Where builds run: this machine's process pool, an existing Dask scheduler "
    "(over mutual TLS, with the certificates Dask's configuration names; or over plain TCP), "
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
    from fromsource.bootstrap import bootstrap as run_bootstrap
    from fromsource.bootstrap.executor import Executor, parse_executor
    from fromsource.bootstrap.prefetch import last_projects, remember_projects
    from fromsource.build import BuildSettings
    from fromsource.cli._signing import signer_for
    from fromsource.frozen import FrozenIndex
    from fromsource.index import Index, close_index, listed_projects, open_index, prefetch
    from fromsource.policy import load_policy
    from fromsource.statdigests import StatDigests
    from fromsource.target import load_constraints
    from fromsource.workspace import Workspace

    spec = parse_executor(executor_spec)
    if spec.unauthenticated:
        warn_plain_tcp(spec.address or "")
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
        prefetch(index, last_projects(ws))
    executor: Executor | None = None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # off a terminal it shows nothing: no refresh thread
    )
    heartbeat = None if err.is_terminal else Heartbeat(lambda line: err.print(line, markup=False))
    try:
        if heartbeat is not None:
            heartbeat.start()
        if spec.kind != "local":
            from fromsource.cluster import DaskExecutor
            from fromsource.store import open_store

            store = open_store(store_spec if store_spec is not None else ws.root / "store")
            dask = DaskExecutor.connect(spec, store=store, workspace=ws, key=key_path, prepare=_quiet_dask)
            executor, jobs = dask, jobs or dask.slots
        with progress:
            task = progress.add_task("resolving", total=None)
            reporter = ProgressReporter(progress, task, heartbeat)
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
            remember_projects(ws, listed_projects(index))
        close_index(index)
    warn_not_isolated(not_isolated(summary.isolation))
    if as_json:
        print_json(summary.to_dict())
    else:
        print_summary(summary)
    if not summary.ok:
        sys.exit(EXIT_BUILD)


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
