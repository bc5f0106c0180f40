"""fromsource inspect: prove that wheels' files come, readable, from their sdists."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from fromsource.cli._common import (
    clean,
    err,
    fetch_options,
    guarded,
    json_option,
    out,
    print_json,
    safe,
)
from fromsource.errors import EXIT_INVALID, InputError

if TYPE_CHECKING:
    from fromsource.inspect import Report


def _wheel_id(wheel: Path) -> tuple[str, str]:
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    try:
        name, version, _build, _tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        raise InputError(f"{wheel}: not a wheel file name ({exc})") from exc
    return canonicalize_name(name), str(version)


def _sdist_id(sdist: Path) -> tuple[str, str] | None:
    from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename

    try:
        name, version = parse_sdist_filename(sdist.name)
    except InvalidSdistFilename:
        return None
    return canonicalize_name(name), str(version)


def _pair(
    wheels: tuple[Path, ...],
    sdists: tuple[Path, ...],
    index_url: str | None,
    tmp: Path,
    fetch_rules: Callable[[bool], Any],
) -> list[tuple[Path, Path]]:
    for path in (*wheels, *sdists):
        if not path.is_file():
            raise InputError(f"{path}: not a regular file" if path.exists() else f"{path}: no such file")
    if not sdists and index_url is None:
        raise InputError(
            "no sdist to compare with", hint="pass --sdist SDIST (or --index-url URL to fetch it)"
        )
    if len(wheels) == 1 and len(sdists) == 1:
        return [(wheels[0], sdists[0])]
    by_id = {_sdist_id(s): s for s in sdists}
    pairs = []
    for wheel in wheels:
        wanted = _wheel_id(wheel)
        sdist = by_id.get(wanted)
        if sdist is None and index_url is not None:
            sdist = _fetch(wanted, index_url, tmp, fetch_rules(False))
        if sdist is None:
            raise InputError(
                f"{wheel}: no --sdist named {wanted[0]}-{wanted[1]}.tar.gz (or .zip) was given",
                hint="pass one --sdist per wheel, or --index-url URL to fetch the missing ones",
            )
        pairs.append((wheel, sdist))
    return pairs


def _fetch(wanted: tuple[str, str], index_url: str, tmp: Path, rules: Any) -> Path:
    try:
        from fromsource.index import fetch_sdist
    except ImportError as exc:
        raise InputError(
            f"cannot fetch sdists here ({exc})", hint="pass the sdist with --sdist SDIST"
        ) from exc
    err.print(
        f"fetching the sdist of {safe(wanted[0])} {safe(wanted[1])} from {safe(index_url)}", markup=False
    )
    return fetch_sdist(wanted[0], wanted[1], index_url, tmp, rules=rules)


@click.command()
@click.argument("wheels", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sdist",
    "sdists",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sdist to compare with (repeatable; paired with wheels by name and version).",
)
@click.option("--index-url", help="Simple-API index to fetch sdists not given with --sdist.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json, summary.txt, per-file diffs (and diffoscope HTML) here.",
)
@click.option(
    "--parse-all",
    is_flag=True,
    help="Also compile every module to report each one that does not parse (slower).",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="When PKG-INFO is not authoritative for Requires-Dist, build the sdist and compare "
    "the METADATA it produces.",
)
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --rebuild: a workspace whose wheels/ provide the build requirements.",
)
@click.option("--verbose", "-v", is_flag=True, help="List every file, not only the problems.")
@fetch_options
@json_option
@guarded
def inspect(
    wheels: tuple[Path, ...],
    sdists: tuple[Path, ...],
    index_url: str | None,
    report_dir: Path | None,
    parse_all: bool,
    rebuild: bool,
    workspace: Path | None,
    verbose: bool,
    as_json: bool,
    fetch_rules: Callable[[bool], Any],
) -> None:
    """Prove that each pure-Python WHEEL's files come, readable, from its sdist.

    Exit 0 when every wheel is readable, 1 when any is not readable or its metadata is
    unsettled (with every reason), 2 on bad input.
    """
    from fromsource.inspect import inspect_wheel

    with tempfile.TemporaryDirectory(prefix="fromsource-inspect-") as tmp:
        pairs = _pair(wheels, sdists, index_url, Path(tmp), fetch_rules)
        if workspace is not None and not rebuild:
            raise InputError("--workspace is only used with --rebuild", hint="add --rebuild")
        reports = [
            inspect_wheel(w, s, parse_all=parse_all, rebuild=rebuild, workspace=workspace) for w, s in pairs
        ]
        written = []
        if report_dir is not None:
            from fromsource.inspect.report import write_report

            written = [
                write_report(r, report_dir, wheel=w, sdist=s)
                for r, (w, s) in zip(reports, pairs, strict=True)
            ]
    readable = all(r.readable for r in reports)
    if as_json:
        verdicts = {r.verdict for r in reports}
        overall = "readable" if readable else "not-readable" if "not-readable" in verdicts else "unsettled"
        print_json({"verdict": overall, "reports": [r.to_dict() for r in reports]})
    else:
        _render(reports, verbose=verbose)
        for w in written:
            err.print(f"report: {safe(w.directory)} (diffoscope: {safe(w.diffoscope)})", markup=False)
    if not readable:
        sys.exit(EXIT_INVALID)


def _render(reports: list[Report], *, verbose: bool) -> None:
    from fromsource.inspect.model import STATUSES

    table = Table(title="fromsource inspect")
    table.add_column("wheel", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("files", overflow="fold")
    table.add_column("reasons", justify="right")
    for r in reports:
        counts = r.counts()
        verdict = {"readable": "[green]readable[/]", "unsettled": "[yellow]unsettled[/]"}.get(
            r.verdict, "[red]not-readable[/]"
        )
        files = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]) or "none"
        table.add_row(clean(r.wheel), verdict, files, str(len(r.reasons)))
    out.print(table)
    for r in reports:
        if not (r.reasons or r.notes or r.metadata.unsettled or verbose):
            continue
        out.print(f"[bold]{clean(r.wheel)}[/] against {clean(r.sdist)}:")
        for reason in r.reasons:
            out.print(f"  [red]✗[/] {clean(reason)}")
        for open_question in r.metadata.unsettled:
            out.print(f"  [yellow]?[/] unsettled: {clean(open_question)}")
        for note in r.notes:
            out.print(f"  [dim]note:[/] {clean(note)}")
        if verbose:
            for f in r.files:
                change = f" ({safe(f.change)})" if f.change else ""
                source = f" <- {safe(f.sdist_path)}" if f.sdist_path else ""
                out.print(f"  {f.status:10} {safe(f.path)}{source}{change}", markup=False)
