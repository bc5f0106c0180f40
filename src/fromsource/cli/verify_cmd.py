"""fromsource verify: check provenance chains of wheels."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.tree import Tree

from fromsource.cli._common import (
    clean,
    guarded,
    json_option,
    out,
    policy_option,
    print_json,
    safe,
    trusted_key_option,
)
from fromsource.errors import EXIT_INVALID, InputError

if TYPE_CHECKING:
    from fromsource.verify import ChainNode


@click.command()
@click.argument("wheels", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    help="Workspace whose wheels/ and attestations/ hold the chain.",
)
@click.option(
    "--attestations",
    "attestation_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Extra directory of *.intoto.jsonl files (repeatable).",
)
@trusted_key_option("Public key (PEM) whose signatures are trusted (repeatable).")
@policy_option("Policy TOML: trusted builder keys, signature threshold, build rules, expiry.")
@click.option(
    "--allow-unverified-sources",
    is_flag=True,
    help="Accept chains whose sdists were fetched without an integrity check "
    "(as the policy's [build].allow_unverified_sources does).",
)
@click.option(
    "--check-record",
    is_flag=True,
    help="Also check every wheel of every chain against its RECORD (reads each archive).",
)
@json_option
@guarded
def verify(
    wheels: tuple[Path, ...],
    workspace: Path | None,
    attestation_dirs: tuple[Path, ...],
    trusted_keys: tuple[Path, ...],
    policy_path: Path | None,
    allow_unverified_sources: bool,
    check_record: bool,
    as_json: bool,
) -> None:
    """Verify that each WHEEL has a valid signed chain of provenance back to sdists.

    Trusted keys come from --policy and/or --trusted-key. Exit 0 when every chain is valid,
    1 when any is not or the policy has expired (every reason is listed), 2 on bad input.
    """
    from fromsource.cli._trust import current_policy, verifier_for
    from fromsource.verify import Locations
    from fromsource.workspace import Workspace

    for wheel in wheels:
        if not wheel.is_file():
            raise InputError(f"wheel {wheel} does not exist")
    if not trusted_keys and policy_path is None:
        raise InputError("no trusted keys: pass --trusted-key PUB or --policy FILE")
    policy = current_policy(policy_path)
    wheel_dirs, att_dirs, seed_dirs, evidence_dirs = [], list(attestation_dirs), [], []
    if workspace is not None:
        ws = Workspace(workspace)
        if not ws.root.is_dir():
            raise InputError(f"workspace {workspace} does not exist")
        wheel_dirs += [ws.wheels, ws.stage1]
        att_dirs.append(ws.attestations)
        seed_dirs.append(ws.seeds)
        evidence_dirs.append(ws.evidence)
    locations = Locations(tuple(wheel_dirs), tuple(att_dirs), tuple(seed_dirs), tuple(evidence_dirs))
    verifier = verifier_for(
        trusted_keys,
        policy,
        locations,
        allow_unverified_sources=allow_unverified_sources,
        check_record=check_record,
    )
    nodes = verifier.verify_wheels(wheels)
    valid = all(n.ok for n in nodes)
    if as_json:
        print_json(
            {
                "valid": valid,
                "wheels": [n.to_dict() for n in nodes],
                "problems": [p for n in nodes for p in n.all_problems()],
                "sigstoreTrustedRoot": verifier.trusted_root.describe() if verifier.trusted_root else None,
            }
        )
    else:
        shown: set[tuple[str, str | None, str | None]] = set()
        with _uncut():
            for node in nodes:
                tree = Tree(_label(node))
                _grow(tree, node, shown)
                out.print(tree)
        if verifier.trusted_root is not None:
            pinned = verifier.trusted_root
            out.print(
                f"publisher evidence checked offline against the sigstore trusted root "
                f"{pinned.path} (sha256 {pinned.sha256}, {pinned.source})",
                markup=False,
            )
        if valid:
            leaves = _trust_base(nodes)
            out.print(
                f"[green]valid[/]: {len(nodes)} wheel(s); every chain ends at sdists"
                + (f", and the trust base: {clean(', '.join(leaves))}" if leaves else "")
            )
        else:
            out.print("[red]INVALID[/]:")
            for node in nodes:
                for problem in node.all_problems():
                    out.print(f"  - {safe(problem)}", markup=False)
    if not valid:
        sys.exit(EXIT_INVALID)


_LOG_WIDTH = 100_000


@contextlib.contextmanager
def _uncut() -> Iterator[None]:
    """A CI log is no terminal: render trees at a width nothing reaches, so no line is cut
    at a guessed 80 columns (rich's default off a terminal)."""
    if out.is_terminal:
        yield
        return
    width = out.width
    out.width = _LOG_WIDTH
    try:
        yield
    finally:
        out.width = width


def _trust_base(nodes: list[ChainNode]) -> list[str]:
    """Seeds (with their origin: source, built, reviewed, binary) and externals the chains
    rest on: what must be trusted beyond sdists."""
    found: dict[str, str] = {}
    seen: set[int] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.kind in {"seed", "external"}:
            origin = f" ({node.origin})" if node.origin else ""
            found[node.name] = f"{node.kind} {node.name}{origin}"
        stack.extend(node.children)
    return sorted(found.values())


def _label(node: ChainNode) -> str:
    mark = "[green]✓[/]" if node.ok else "[red]✗[/]"
    edge = f" [dim]({clean(node.edge)})[/]" if node.edge else ""
    digest = (node.sha256 or "?")[:12]
    keyids = f" signed by {', '.join(k[:12] for k in node.keyids)}" if node.keyids else ""
    if node.kind == "sdist":  # publisher evidence: the first line here, details as children
        evidence = f" [cyan]{clean(node.evidence[0])}[/]" if node.evidence else ""
    else:
        evidence = f" [cyan]evidence: {clean('; '.join(node.evidence))}[/]" if node.evidence else ""
    kind = f"{node.origin} {node.kind}" if node.origin else node.kind
    detail = f" [dim]{clean('; '.join(node.detail))}[/]" if node.detail else ""
    return (
        f"{mark} {clean(kind)} {clean(node.name)}{edge} sha256:{clean(digest)}"
        f"{clean(keyids)}{evidence}{detail}"
    )


def _grow(tree: Tree, node: ChainNode, shown: set[tuple[str, str | None, str | None]]) -> None:
    """Add ``node``'s subtree once; a wheel met again is a one-line reference."""
    shown.add(node.key)
    if node.kind == "sdist":
        for detail in node.evidence[1:]:
            tree.add(f"[dim]{clean(detail)}[/]")
    for problem in node.problems:
        tree.add(f"[red]{clean(problem)}[/]")
    for child in node.children:
        if child.kind == "wheel" and child.key in shown and not child.problems:
            tree.add(_label(child) + " [dim](see above)[/]")
        else:
            _grow(tree.add(_label(child)), child, shown)
