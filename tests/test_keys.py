from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fromsource.attest.keys import load_public_key, load_signer
from fromsource.cli import main
from fromsource.errors import KeyFileError


def test_generate_writes_private_0600_and_prints_keyid(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["keys", "generate", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "k" / "builder.key", tmp_path / "k" / "builder.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    keyid = load_public_key(public).keyid
    assert f"keyid: {keyid}" in result.output
    assert load_signer(private).public_key.keyid == keyid


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["keys", "generate", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "builder.key").read_bytes()
    again = runner.invoke(main, ["keys", "generate", str(tmp_path)])
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.output
    assert (tmp_path / "builder.key").read_bytes() == before


def test_non_ed25519_keys_are_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "ec.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = tmp_path / "ec.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(KeyFileError, match="only ed25519"):
        load_signer(private)
    with pytest.raises(KeyFileError, match="only ed25519"):
        load_public_key(public)
    with pytest.raises(KeyFileError, match="cannot read"):
        load_signer(tmp_path / "absent.key")
