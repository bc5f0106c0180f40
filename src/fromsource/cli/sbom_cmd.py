"""fromsource sbom: a CycloneDX 1.6 SBOM with the build-provenance chain of each wheel."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fromsource.cli._common import (
    clean,
    err,
    guarded,
    key_option,
    out,
    policy_option,
    safe,
    trusted_key_option,
    workspace_option,
)
from fromsource.errors import EXIT_INVALID, InputError

if TYPE_CHECKING:
    from fromsource.policy import Policy
    from fromsource.workspace import Workspace


@click.command()
@click.argument("wheels", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@workspace_option
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the SBOM (CycloneDX 1.6 JSON), e.g. bom.cdx.json.",
)
@click.option(
    "--validate",
    is_flag=True,
    help="Check the SBOM against the CycloneDX 1.6 schema; exit 1 listing every error.",
)
@click.option(
    "--reproducible",
    is_flag=True,
    help="Timestamp from SOURCE_DATE_EPOCH (default: the newest build's) and a serial "
    "number derived from the content, so the same workspace gives the same file.",
)
@trusted_key_option("Verify every chain against this public key first (repeatable); exit 1 if invalid.")
@policy_option(
    "Policy TOML: verify every chain under it first (exit 1 if invalid); the "
    "externals it names by sha256 become trust-base leaves of the SBOM."
)
@click.option(
    "--attest", is_flag=True, help="Also write OUTPUT.intoto.jsonl: the SBOM as a signed in-toto Statement."
)
@key_option("Private key for --attest. Default: WORKSPACE/keys/builder.key.")
@guarded
def sbom(
    wheels: tuple[Path, ...],
    workspace: Path,
    output: Path,
    validate: bool,
    reproducible: bool,
    trusted_keys: tuple[Path, ...],
    policy_path: Path | None,
    attest: bool,
    key: Path | None,
) -> None:
    """Write a CycloneDX 1.6 SBOM of WHEEL... (default: every wheel in the workspace).

    Components carry sha256 hashes, purls and attestation references; `formulation` holds
    one task per build, from sdist and build-environment wheels to the wheel, down to sdists
    and seeds. Exit 0 ok, 1 invalid SBOM or chain, 2 bad input.
    """
    from fromsource.attest import dsse
    from fromsource.cli._trust import current_policy
    from fromsource.fileutil import atomic_write_bytes
    from fromsource.sbom import SbomOptions, build_sbom
    from fromsource.sbom import validate as validate_sbom
    from fromsource.workspace import Workspace

    if key is not None and not attest:
        raise InputError("--key is used only with --attest")
    ws = Workspace(workspace)
    epoch = _source_date_epoch() if reproducible else None
    policy = current_policy(policy_path)
    externals = _externals(ws, policy) if policy else {}
    result = build_sbom(
        ws,
        list(wheels),
        SbomOptions(
            relative_to=output.absolute().parent,
            reproducible=reproducible,
            source_date_epoch=epoch,
            externals=externals,
        ),
    )
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {clean(warning)}")
    if trusted_keys or policy is not None:
        _verify_chains(ws, list(wheels) or ws.wheel_files(), trusted_keys, policy)
    text = result.to_json()
    if validate:
        problems = validate_sbom(text)
        if problems:
            err.print(
                f"[red]INVALID[/]: the SBOM breaks CycloneDX 1.6 ({len(problems)} problem(s)); "
                f"{clean(output)} not written"
            )
            for problem in problems:
                err.print(f"  - {safe(problem)}", markup=False)
            sys.exit(EXIT_INVALID)
    atomic_write_bytes(output, text.encode("utf-8"))
    components = len(result.document.get("components", []))
    tasks = sum(len(w.get("tasks", [])) for f in result.document["formulation"] for w in f["workflows"])
    checked = ", valid CycloneDX 1.6" if validate else ""
    out.print(
        f"wrote {safe(output)}: {len(result.subjects)} shipped wheel(s), {components} components, "
        f"{tasks} build task(s){checked}",
        markup=False,
    )
    if attest:
        from fromsource.cli._signing import signer_for

        envelope = dsse.sign(result.statement(), signer_for(ws, key))
        attestation = output.with_name(output.name + ".intoto.jsonl")
        atomic_write_bytes(attestation, envelope)
        out.print(f"wrote {safe(attestation)}", markup=False)


def _source_date_epoch() -> int | None:
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise InputError(f"SOURCE_DATE_EPOCH={raw!r} is not an integer") from exc


def _externals(ws: Workspace, policy: Policy) -> dict[str, str]:
    """sha256 -> why the policy admits it: by digest, and wheels in externals/ it admits by
    publisher (whose evidence verify checks before any SBOM is written)."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    from fromsource.fileutil import sha256_file

    found = dict.fromkeys(policy.externals, f"named by sha256 in {policy.source}")
    for sha, spec in policy.external_publishers.items():
        found[sha] = f"named by sha256 and published by {spec} in {policy.source}"
    if policy.externals_by_publisher and ws.externals.is_dir():
        for wheel in sorted(ws.externals.glob("*.whl")):
            try:
                project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            except ValueError:
                continue
            admitted = policy.externals_by_publisher.get(project)
            if admitted is not None:
                found.setdefault(sha256_file(wheel), f"published by {admitted} in {policy.source}")
    return found


def _verify_chains(
    ws: Workspace, wheels: list[Path], trusted_keys: tuple[Path, ...], policy: Policy | None
) -> None:
    """Refuse to describe chains that do not verify: same checks as ``fromsource verify``."""
    from fromsource.cli._trust import verifier_for
    from fromsource.verify import Locations

    verifier = verifier_for(
        trusted_keys,
        policy,
        Locations((ws.wheels, ws.stage1), (ws.attestations,), (ws.seeds,), (ws.evidence,)),
    )
    problems = [p for node in verifier.verify_wheels(wheels) for p in node.all_problems()]
    if problems:
        err.print("[red]INVALID[/]: provenance does not verify; no SBOM written")
        for problem in problems:
            err.print(f"  - {safe(problem)}", markup=False)
        sys.exit(EXIT_INVALID)
