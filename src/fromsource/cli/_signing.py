"""Choosing the signer: --key, or the workspace's builder key made on first use."""

from __future__ import annotations

from pathlib import Path

from securesystemslib.signer import CryptoSigner

from fromsource.attest.keys import PRIVATE_KEY_NAME, generate_keypair, load_signer
from fromsource.cli._common import clean, err
from fromsource.workspace import Workspace


def signer_for(workspace: Workspace, key: Path | None) -> CryptoSigner:
    if key is not None:
        return load_signer(key)
    default = workspace.keys / PRIVATE_KEY_NAME
    if not default.exists():
        pair = generate_keypair(workspace.keys)
        err.print(
            f"no --key given: generated builder key {clean(pair.private_path)} "
            f"(keyid {pair.keyid}); verifiers trust {clean(pair.public_path)}"
        )
    return load_signer(default)
