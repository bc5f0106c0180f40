"""fromsource build: one sdist into an attested wheel."""

from __future__ import annotations

from pathlib import Path

import click

from fromsource.cli._common import (
    clean,
    err,
    guarded,
    json_option,
    key_option,
    out,
    print_json,
    sandbox_option,
    warn_not_isolated,
    workspace_option,
)
from fromsource.sandbox import SandboxMode


@click.command()
@click.argument("sdist", type=click.Path(dir_okay=False, path_type=Path))
@workspace_option
@key_option(
    "ed25519 private key (PEM) to sign with. Default: WORKSPACE/keys/builder.key, generated on first use."
)
@click.option(
    "--require-isolation",
    is_flag=True,
    help="Fail instead of building with the network reachable when no sandbox exists.",
)
@click.option(
    "--toolchain",
    "toolchains",
    multiple=True,
    type=click.Choice(["rust"]),
    help="Grant a named toolchain to the build, read-only (repeatable); what a "
    "policy's [build].toolchains does for bootstrap.",
)
@click.option(
    "--crates-registry",
    metavar="DIR|URL",
    help="Where the crates a Rust sdist's Cargo.lock pins are fetched from (with --toolchain rust).",
)
@sandbox_option
@click.option(
    "--keep-build-dirs",
    is_flag=True,
    help="Keep the venv and unpacked source (default: removed after a successful build; the log is kept).",
)
@json_option
@guarded
def build(
    sdist: Path,
    workspace: Path,
    key: Path | None,
    require_isolation: bool,
    toolchains: tuple[str, ...],
    crates_registry: str | None,
    sandbox: SandboxMode,
    keep_build_dirs: bool,
    as_json: bool,
) -> None:
    """Build SDIST into a wheel with signed SLSA provenance.

    Build requirements come only from wheels already in the workspace; the build runs in a
    fresh venv without pip, offline, and under bubblewrap it sees only its own directories.
    """
    from fromsource.build import BuildSettings, build_sdist
    from fromsource.cli._signing import signer_for
    from fromsource.workspace import Workspace

    ws = Workspace(workspace).create()
    signer = signer_for(ws, key)
    with ws.lock(), err.status(f"building {sdist.name}") as status:
        result = build_sdist(
            sdist,
            ws,
            signer,
            settings=BuildSettings(
                require_isolation=require_isolation,
                sandbox=sandbox,
                toolchains=tuple(sorted(set(toolchains))),
                crates_registry=crates_registry,
                keep_build_dirs=keep_build_dirs,
            ),
            progress=lambda msg: status.update(f"{sdist.name}: {msg}"),
        )
    warn_not_isolated(result.not_isolated)
    if as_json:
        print_json(
            {
                "name": result.name,
                "version": result.version,
                "wheel": str(result.wheel),
                "sha256": result.wheel_sha256,
                "attestation": str(result.attestation),
                "isolation": result.isolation,
                "log": str(result.log),
                "seconds": round(result.seconds, 3),
                "timings": {k: round(v, 4) for k, v in result.timings.items()},
                "buildEnvironment": [d.to_dict() for d in result.dependencies],
            }
        )
        return
    out.print(
        f"built {clean(result.wheel.name)} in {result.seconds:.2f}s (isolation: {clean(result.isolation)})"
    )
    out.print(f"  wheel:       {clean(result.wheel)}")
    out.print(f"  sha256:      {clean(result.wheel_sha256)}")
    out.print(f"  attestation: {clean(result.attestation)}")
    for dep in result.dependencies:
        out.print(f"  used {clean(dep.name)} ({clean(dep.edge)})")
