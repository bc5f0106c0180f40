"""``fromsource doctor``: which build sandbox this machine gives, and why not a better one."""

from __future__ import annotations

import sys

import click

from fromsource.cli._common import clean, guarded, json_option, out, print_json
from fromsource.errors import EXIT_INVALID


@click.command()
@json_option
@guarded
def doctor(as_json: bool) -> None:
    """Report the build sandbox available here.

    Exit 0 when builds run under bubblewrap (filesystem, network, PID, IPC and UTS
    isolation), 1 when they would get less, with what is missing and how to install it.
    """
    from fromsource.sandbox import diagnose

    report = diagnose()
    if as_json:
        print_json(report)
    else:
        bwrap = report["bwrap"]
        level = report["level"]
        style = "green" if bwrap["works"] else "yellow"
        out.print(f"build sandbox: [{style}]{clean(level)}[/]")
        if bwrap["works"]:
            out.print(f"  bwrap {clean(str(bwrap['version']))} at {clean(str(bwrap['path']))}")
            out.print(f"  namespaces: {', '.join(report['namespaces'])}")
            out.print("  read-only:  " + clean(", ".join(report["read_only"])))
            out.print("  hidden:     " + clean(", ".join(report["hidden"]) or "-"))
            out.print("  read-write: " + clean(", ".join(report["read_write"])))
        else:
            out.print(f"  bubblewrap: {clean(bwrap['reason'])}")
            out.print(f"  builds are not isolated from {clean(report['not_isolated_from'])}")
            out.print(f"[yellow]hint:[/] {clean(report['hint'])}")
    if not report["bwrap"]["works"]:
        sys.exit(EXIT_INVALID)
