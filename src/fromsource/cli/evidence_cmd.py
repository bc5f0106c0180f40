"""fromsource evidence: check who published a file (PEP 740 attestations, sigstore bundles)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fromsource.cli._common import clean, guarded, json_option, out, policy_option, print_json, safe
from fromsource.errors import EXIT_INVALID, EvidenceError, InputError


@click.group()
def evidence() -> None:
    """Publisher evidence: PEP 740 attestations, provenance objects and sigstore bundles."""


@evidence.command("verify")
@click.argument("dist", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--publisher",
    "publisher_spec",
    metavar="SPEC",
    help="Trusted Publisher: github:OWNER/REPO/WORKFLOW.yml[@ENV], "
    "gitlab:NAMESPACE/PROJECT/FILE.yml, google:EMAIL.",
)
@click.option("--identity", metavar="SAN", help="Certificate identity of a plain sigstore bundle.")
@click.option("--issuer", metavar="URL", help="OIDC issuer that goes with --identity.")
@click.option(
    "--attestation",
    "attestations",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Evidence file (repeatable); default: beside DIST and in the workspace store.",
)
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    help="Workspace whose evidence/ store is searched.",
)
@policy_option("Policy TOML whose [sigstore] table pins the trusted root.")
@json_option
@guarded
def verify(
    dist: Path,
    publisher_spec: str | None,
    identity: str | None,
    issuer: str | None,
    attestations: tuple[Path, ...],
    workspace: Path | None,
    policy_path: Path | None,
    as_json: bool,
) -> None:
    """Verify that DIST (name and sha256) was published by a publisher or sigstore identity.

    Exit 0 when some evidence verifies, 1 when none does (with each reason), 2 on unusable
    input. Verification is offline, against a pinned trusted root (never a cache directory).
    """
    from fromsource.attest.evidence import find_evidence, read_evidence, verify_distribution
    from fromsource.attest.publisher import Expected, SigstoreIdentity, parse_publisher
    from fromsource.attest.trustroot import load_pinned_root
    from fromsource.fileutil import sha256_file
    from fromsource.workspace import Workspace

    expected: Expected
    if publisher_spec is not None:
        if identity or issuer:
            raise InputError("pass either --publisher or --identity/--issuer, not both")
        expected = parse_publisher(publisher_spec)
    elif identity and issuer:
        expected = SigstoreIdentity(san=identity, issuer=issuer)
    else:
        raise InputError("say who must have published DIST: --publisher SPEC, or --identity SAN --issuer URL")
    if not dist.is_file():
        raise InputError(f"{dist} does not exist")
    pin = None
    if policy_path is not None:
        from fromsource.policy import load_policy  # securesystemslib: only when needed

        policy = load_policy(policy_path)
        policy.check_current()
        pin = policy.trusted_root
    root = load_pinned_root(pin)
    digest = sha256_file(dist)
    paths = list(attestations)
    if not paths:
        store = Workspace(workspace).evidence if workspace is not None else None
        paths = find_evidence(dist, digest, store)
    files = [read_evidence(p) for p in paths]
    try:
        result = verify_distribution(dist, files, expected, root, dist_sha256=digest)
    except EvidenceError as exc:
        if as_json:
            print_json(
                {
                    "valid": False,
                    "distribution": dist.name,
                    "sha256": digest,
                    "expected": str(expected),
                    "trustedRoot": root.describe(),
                    "problems": exc.reasons,
                }
            )
        else:
            out.print(f"[red]NOT VERIFIED[/]: {clean(exc.message)}")
            for reason in exc.reasons:
                out.print(f"  - {safe(reason)}", markup=False)
        sys.exit(EXIT_INVALID)
    if as_json:
        print_json({"valid": True, **result.to_dict(), "trustedRoot": root.describe()})
        return
    what = "published by" if publisher_spec else "signed by"
    out.print(f"[green]verified[/]: {clean(dist.name)} {what} {clean(str(expected))}")
    out.print(
        f"  evidence {safe(result.evidence)} ({safe(result.evidence_kind)}, "
        f"sha256:{safe(result.evidence_sha256[:12])})",
        markup=False,
    )
    out.print(f"  signer {safe(result.signer)}, log index {safe(result.log_index)}", markup=False)
    out.print(
        f"  trusted root {safe(root.path)} sha256:{safe(root.sha256[:12])} ({safe(root.source)})",
        markup=False,
    )
