"""fromsource seed: assemble, admit, list and show seeds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from fromsource.cli._common import (
    clean,
    guarded,
    json_option,
    key_option,
    out,
    policy_option,
    print_json,
    workspace_option,
)
from fromsource.errors import EXIT_INVALID, InputError

if TYPE_CHECKING:
    from fromsource.policy import Policy
    from fromsource.seedstore import SeedStore

_policy = policy_option("Policy TOML: trusted builder and reviewer keys, seed rules, expiry.")


@click.group()
def seed() -> None:
    """Seeds: attested wheels that may break a build cycle, and only that."""


@seed.command("admit")
@click.argument("wheel", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sdist",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The wheel's sdist: inspect the pair and sign a seed review.",
)
@key_option("Reviewer's ed25519 private key (PEM), with --sdist.")
@click.option(
    "--provenance",
    is_flag=True,
    help="Admit a wheel fromsource built earlier, through its build provenance "
    "(needs --policy naming the builder key).",
)
@click.option(
    "--attestations",
    "attestation_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to find the wheel's provenance, with --provenance (repeatable).",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="With --sdist: settle metadata a non-authoritative PKG-INFO leaves open by "
    "building the sdist (build requirements from the workspace), as inspect --rebuild.",
)
@_policy
@workspace_option
@json_option
@guarded
def admit(
    wheel: Path,
    sdist: Path | None,
    key: Path | None,
    provenance: bool,
    attestation_dirs: tuple[Path, ...],
    rebuild: bool,
    policy_path: Path | None,
    workspace: Path,
    as_json: bool,
) -> None:
    """Admit WHEEL as a seed, by review (--sdist and --key) or by provenance (--provenance).

    A review runs inspect: a not-readable wheel is refused unless the policy lists its sha256
    in [seeds].binary_digests; an unsettled one (metadata a non-authoritative PKG-INFO cannot
    confirm) is always refused, unless --rebuild settles it. Exit 0 admitted, 1 refused, 2 bad input.
    """
    from fromsource.attest.keys import load_signer
    from fromsource.attest.locate import attestation_files
    from fromsource.policy import load_policy
    from fromsource.seeds import admit_by_provenance, admit_by_review
    from fromsource.seedstore import SeedStore
    from fromsource.workspace import Workspace

    if not wheel.is_file():
        raise InputError(f"wheel {wheel} does not exist")
    if provenance == (sdist is not None):
        raise InputError("give either --sdist SDIST --key KEY (review) or --provenance")
    if rebuild and sdist is None:
        raise InputError("--rebuild settles a review: it needs --sdist")
    policy = load_policy(policy_path) if policy_path else None
    ws = Workspace(workspace).create()
    store = SeedStore(ws)
    with ws.lock():
        if sdist is not None:
            if key is None:
                raise InputError("--sdist needs --key REVIEWER_KEY to sign the review")
            if not sdist.is_file():
                raise InputError(f"sdist {sdist} does not exist")
            result = admit_by_review(
                wheel, sdist, load_signer(key), store, policy=policy, rebuild_in=ws.root if rebuild else None
            )
        else:
            if policy is None:
                raise InputError("--provenance needs --policy naming the trusted builder keys")
            files = attestation_files(wheel, [*attestation_dirs, ws.attestations])
            result = admit_by_provenance(wheel, files, store, policy)
    if as_json:
        print_json(
            {
                "seed": str(result.seed),
                "sha256": result.sha256,
                "evidence": result.kind,
                "detail": result.detail,
                "reasons": list(result.reasons),
            }
        )
        return
    out.print(f"admitted {clean(wheel.name)} as a seed ({clean(result.kind)}: {clean(result.detail)})")
    out.print(f"  seed:   {clean(result.seed)}")
    out.print(f"  sha256: {clean(result.sha256)}")
    for reason in result.reasons:
        out.print(f"  note: not readable because {clean(reason)}")


@seed.command("assemble")
@click.argument("sdist", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--layout",
    "layout",
    multiple=True,
    metavar="SRC=DEST",
    help="Place the sdist's SRC (a file or directory, relative to its top directory; "
    ". for that directory) at DEST in the wheel (repeatable). Default: src/PKG/ "
    "or PKG/ to PKG/, when exactly one exists.",
)
@click.option(
    "--exclude",
    "exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out sdist files (or directories) matching GLOB, e.g. 'tests/*' (repeatable).",
)
@key_option("Ed25519 private key (PEM) signing the source-seed statement.", required=True)
@_policy
@workspace_option
@json_option
@guarded
def assemble(
    sdist: Path,
    layout: tuple[str, ...],
    exclude: tuple[str, ...],
    key: Path,
    policy_path: Path | None,
    workspace: Path,
    as_json: bool,
) -> None:
    """Assemble a seed from SDIST's own files, byte for byte, placed by --layout.

    No pre-built artifact: METADATA is the sdist's PKG-INFO (Metadata 2.2+, nothing
    Dynamic), WHEEL and RECORD are written, and the zip is deterministic, so anyone holding
    the sdist re-assembles the same bytes. Exit 0 stored, 1 refused by --policy, 2 the sdist
    or layout cannot make a faithful seed (every reason is listed).
    """
    from fromsource.attest.keys import load_signer
    from fromsource.policy import load_policy
    from fromsource.seedassembly import Placement
    from fromsource.seeds import assemble_source_seed
    from fromsource.seedstore import SeedStore
    from fromsource.workspace import Workspace

    if not sdist.is_file():
        raise InputError(f"sdist {sdist} does not exist")
    placements = [Placement.parse(spec) for spec in layout]
    policy = load_policy(policy_path) if policy_path else None
    signer = load_signer(key)
    ws = Workspace(workspace).create()
    with ws.lock():
        built, result = assemble_source_seed(sdist, placements, exclude, signer, SeedStore(ws), policy=policy)
    if as_json:
        print_json(
            {
                "seed": str(result.seed),
                "sha256": result.sha256,
                "evidence": result.kind,
                "sdist": {"name": built.sdist_name, "sha256": built.sdist_sha256},
                "layout": [str(p) for p in built.layout],
                "exclude": list(built.exclude),
                "inferred": built.inferred,
                "files": [{"wheel": w, "sdist": s} for w, s in built.files],
            }
        )
        return
    how = "inferred" if built.inferred else "given"
    out.print(
        f"assembled {clean(built.filename)} from {clean(built.sdist_name)} "
        f"({len(built.files)} file(s), layout {how}: {clean(built.recipe)})"
    )
    out.print(f"  seed:   {clean(str(result.seed))}")
    out.print(f"  sha256: {result.sha256}")


def _summary(store: SeedStore, wheel: Path, policy: Policy | None) -> dict[str, Any]:
    """The store's summary of a seed, with the policy's decision on it when given."""
    from fromsource.seeds import check_seed

    info = store.summary(wheel)
    if policy is not None:
        info["check"] = check_seed(wheel, policy, [store.evidence_file(wheel.name)]).to_dict()
    return info


@seed.command("list")
@_policy
@workspace_option
@json_option
@guarded
def list_(policy_path: Path | None, workspace: Path, as_json: bool) -> None:
    """List the workspace's seeds; with --policy, whether the policy accepts each."""
    from fromsource.policy import load_policy
    from fromsource.seedstore import SeedStore
    from fromsource.workspace import Workspace

    policy = load_policy(policy_path) if policy_path else None
    store = SeedStore(Workspace(workspace))
    seeds = [_summary(store, w, policy) for w in store.wheels()]
    if as_json:
        print_json({"seeds": seeds})
        return
    if not seeds:
        out.print("no seeds in this workspace")
        return
    table = Table("seed", "sha256", "evidence", *(["accepted"] if policy else []))
    for s in seeds:
        kinds = ", ".join(k.rsplit("/", 2)[-2] for k in s["evidence"]) or "-"
        row = [clean(s["wheel"]), clean(s["sha256"][:16]), clean(kinds)]
        if policy:
            row.append("yes" if s["check"]["accepted"] else "[red]no[/]")
        table.add_row(*row)
    out.print(table)


@seed.command("show")
@click.argument("name")
@_policy
@workspace_option
@json_option
@guarded
def show(name: str, policy_path: Path | None, workspace: Path, as_json: bool) -> None:
    """Show the seeds of project NAME: evidence, review verdict, and the policy's decision."""
    from fromsource.policy import load_policy
    from fromsource.seedstore import SeedStore
    from fromsource.workspace import Workspace

    policy = load_policy(policy_path) if policy_path else None
    store = SeedStore(Workspace(workspace))
    wheels = store.for_project(name)
    if not wheels:
        raise InputError(f"no seed for {name} in {workspace}/seeds")
    seeds = [_summary(store, w, policy) for w in wheels]
    if as_json:
        print_json({"seeds": seeds})
    else:
        for s in seeds:
            out.print(f"[bold]{clean(s['wheel'])}[/] sha256:{clean(s['sha256'])}")
            for kind in s["evidence"]:
                out.print(f"  evidence: {clean(kind)}")
            source = s.get("source")
            if source:
                recipe = " ".join(
                    [
                        *(f"--layout {p}" for p in source["layout"]),
                        *(f"--exclude {e}" for e in source["exclude"]),
                    ]
                )
                out.print(f"  source: assembled from {clean(source['sdist']['name'])} by {clean(recipe)}")
            review = s.get("review")
            if review:
                counts = review["counts"] if isinstance(review["counts"], dict) else {}
                out.print(
                    f"  review: {clean(review['verdict'])} against {clean(review['sdist'])}; "
                    "files: " + clean(", ".join(f"{k} {v}" for k, v in counts.items() if v))
                )
                for reason in review["reasons"] or []:
                    out.print(f"    reason: {clean(reason)}")
            check = s.get("check")
            if check:
                verdict = "[green]accepted[/]" if check["accepted"] else "[red]refused[/]"
                out.print(f"  policy: {verdict}")
                for problem in check["problems"]:
                    out.print(f"    - {clean(problem)}")
                for line in check.get("publisher", []):
                    out.print(f"  publisher evidence: {clean(line)}")
    if policy is not None and not all(s["check"]["accepted"] for s in seeds):
        sys.exit(EXIT_INVALID)
