"""fromsource keys: manage signing keys."""

from __future__ import annotations

from pathlib import Path

import click

from fromsource.cli._common import clean, guarded, out


@click.group()
def keys() -> None:
    """Manage ed25519 signing keys."""


@keys.command("generate")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--name",
    default="builder",
    show_default=True,
    help="File stem: writes NAME.key (private, 0600) and NAME.pub.",
)
@guarded
def generate(directory: Path, name: str) -> None:
    """Write an ed25519 key pair into DIRECTORY and print its keyid."""
    from fromsource.attest.keys import generate_keypair

    pair = generate_keypair(directory, name)
    out.print(f"private key: {clean(pair.private_path)} (mode 0600, keep it secret)")
    out.print(f"public key:  {clean(pair.public_path)} (give this to verifiers)")
    out.print(f"keyid: {pair.keyid}")
