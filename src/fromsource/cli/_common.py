"""Shared CLI plumbing: error rendering, exit codes, common options."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from fromsource.errors import FromsourceError
from fromsource.workspace import DEFAULT_WORKSPACE

P = ParamSpec("P")
R = TypeVar("R")

# Human output goes to stdout; errors and progress to stderr so --json stays parseable.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`FromsourceError` into a one-paragraph message and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except FromsourceError as exc:
            err.print(f"[bold red]error:[/] {escape(exc.message)}")
            if exc.hint:
                err.print(f"[yellow]hint:[/] {escape(exc.hint)}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted; the workspace holds only complete files, re-run to resume")
            sys.exit(130)

    return wrapper


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


workspace_option = click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_WORKSPACE,
    show_default=True,
    help="Workspace directory holding sources, wheels, attestations and keys.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
sandbox_option = click.option(
    "--sandbox", type=click.Choice(["auto", "required", "off"]), default="auto", show_default=True,
    help="Filesystem sandbox (bubblewrap) around every build hook. auto: use it where installed "
         "(installed but not working is an error); required: refuse to build without it; off: "
         "network isolation only, the build can read your files (debugging).",
)


def warn_not_isolated(what: str) -> None:
    """Say, once, what builds ran without isolation from (empty: nothing to say)."""
    if what:
        err.print(f"[yellow]warning:[/] builds were not isolated from {escape(what)}; "
                  "install bubblewrap to sandbox them (fromsource doctor)")
