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
# No emoji codes: ":name:" in a package name must print as typed.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

_VISIBLE = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control or format character shown as an escape (``\\x1b``).

    Every string that comes from an input (names, versions, paths, metadata, log lines,
    problems) passes through here before it is printed, so an escape sequence in a wheel
    member name cannot move the cursor, recolour or erase what fromsource printed, and a
    bidi override cannot reorder it. ``multiline`` keeps newlines (for messages fromsource
    composed of several lines); everything else non-printable is escaped.
    """
    value = str(text)
    if value.isprintable():
        return value
    shown = []
    for char in value:
        if char.isprintable() or char == " " or (multiline and char == "\n"):
            shown.append(char)
        elif char in _VISIBLE:
            shown.append(_VISIBLE[char])
        else:
            code = ord(char)
            shown.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
    return "".join(shown)


def clean(text: object, *, multiline: bool = False) -> str:
    """:func:`safe`, then escaped for rich markup: ``[red]`` in a name prints as typed."""
    return escape(safe(text, multiline=multiline))


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`FromsourceError` into a one-paragraph message and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except FromsourceError as exc:
            err.print(f"[bold red]error:[/] {clean(exc.message, multiline=True)}")
            if exc.hint:
                err.print(f"[yellow]hint:[/] {clean(exc.hint, multiline=True)}")
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


# --policy, --key and --trusted-key mean the same in every command; only the help says what
# the command does with them.
def policy_option(help: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``--policy FILE`` as ``policy_path: Path | None``."""
    return click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path), help=help)


def key_option(help: str, *, required: bool = False) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``--key FILE`` (an ed25519 private key, PEM) as ``key: Path | None``."""
    return click.option(
        "--key", type=click.Path(dir_okay=False, path_type=Path), required=required, help=help
    )


def trusted_key_option(help: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``--trusted-key FILE`` (repeatable public keys, PEM) as ``trusted_keys: tuple[Path, ...]``."""
    return click.option(
        "--trusted-key",
        "trusted_keys",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help,
    )


sandbox_option = click.option(
    "--sandbox",
    type=click.Choice(["auto", "required", "off"]),
    default="auto",
    show_default=True,
    help="Filesystem sandbox (bubblewrap) around every build hook. auto: use it where installed "
    "(installed but not working is an error); required: refuse to build without it; off: "
    "network isolation only, the build can read your files (debugging).",
)


def warn_not_isolated(what: str) -> None:
    """Say, once, what builds ran without isolation from (empty: nothing to say)."""
    if what:
        err.print(
            f"[yellow]warning:[/] builds were not isolated from {clean(what)}; "
            "install bubblewrap to sandbox them (fromsource doctor)"
        )


def warn_plain_tcp(address: str) -> None:
    """Say that a Dask scheduler reached over plain TCP lets anyone in (--executor dask://)."""
    err.print(
        f"[yellow]warning:[/] {clean(address)} is plain TCP: whoever reaches the scheduler can "
        "join it as a worker, and what workers send is unpickled in this process, which holds "
        "the signing key; use dask+tls:// (docs/how-to/cluster.md)"
    )


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A byte count: ``1048576``, ``64K``, ``32M``, ``2G``."""
    if value is None:
        return None
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in _UNITS else ""
    number = text[: len(text) - len(unit)]
    if not number.isdigit() or int(number) < 1:
        raise click.BadParameter(f"{value!r} is not a size (e.g. 1048576, 64K, 32M, 2G)")
    return int(number) * _UNITS[unit]


def fetch_options(func: Callable[..., R]) -> Callable[..., R]:
    """``--allow-unverified-sources``, ``--max-page-size``, ``--max-download-size``.

    The command receives them as ``fetch_rules``, a callable taking the policy's opt-in and
    returning :class:`fromsource.fetch.FetchRules` (imported only when a command runs).
    """

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        allow_unverified_sources: bool,
        max_page_size: int | None,
        max_download_size: int | None,
        **kwargs: Any,
    ) -> R:
        def rules(policy_allows: bool = False) -> Any:
            from fromsource.fetch import DEFAULT_RULES, FetchRules

            return FetchRules(
                max_page_bytes=max_page_size or DEFAULT_RULES.max_page_bytes,
                max_download_bytes=max_download_size or DEFAULT_RULES.max_download_bytes,
                max_files_per_page=DEFAULT_RULES.max_files_per_page,
                max_redirects=DEFAULT_RULES.max_redirects,
                allow_unverified=allow_unverified_sources or policy_allows,
            )

        return func(*args, fetch_rules=rules, **kwargs)

    options = [
        click.option(
            "--allow-unverified-sources",
            is_flag=True,
            help="Fetch sdists whose integrity nothing vouches for (the index publishes "
            "no sha256, or plain http to another host); the provenance records it.",
        ),
        click.option(
            "--max-page-size",
            callback=_size,
            default=None,
            metavar="SIZE",
            help="Largest index page read (default 32M).",
        ),
        click.option(
            "--max-download-size",
            callback=_size,
            default=None,
            metavar="SIZE",
            help="Largest sdist or wheel downloaded (default 1G).",
        ),
    ]
    decorated: Callable[..., R] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
