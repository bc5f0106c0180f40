"""verify on the real two-link chain: valid, tampered, untrusted, bad input."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope

from fromsource.attest.keys import KeyPair, generate_keypair, load_public_key
from fromsource.cli import main

PACKAGING = "packaging-24.2-py3-none-any.whl"
FLIT = "flit_core-3.12.0-py3-none-any.whl"


def _verify(ws: Path, key: Path, *extra: str, wheel: str = PACKAGING) -> Result:
    return CliRunner().invoke(
        main,
        [
            "verify",
            str(ws / "wheels" / wheel),
            "--workspace",
            str(ws),
            "--trusted-key",
            str(key),
            *extra,
        ],
    )


def _flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_valid_chain_prints_two_links_and_exits_0(built_workspace: Path, keypair: KeyPair) -> None:
    result = _verify(built_workspace, keypair.public_path)
    assert result.exit_code == 0, result.output
    assert PACKAGING in result.output
    assert FLIT in result.output
    assert "packaging-24.2.tar.gz" in result.output
    assert "flit_core-3.12.0.tar.gz" in result.output


def test_json_output(built_workspace: Path, keypair: KeyPair) -> None:
    result = _verify(built_workspace, keypair.public_path, "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True
    root = report["wheels"][0]
    assert root["name"] == PACKAGING
    assert {c["name"] for c in root["children"]} == {"packaging-24.2.tar.gz", FLIT}
    flit = next(c for c in root["children"] if c["name"] == FLIT)
    assert flit["edge"] == "build-system"
    assert flit["children"][0]["name"] == "flit_core-3.12.0.tar.gz"


def test_one_byte_of_the_wheel_changed(workspace_copy: Path, keypair: KeyPair) -> None:
    _flip_byte(workspace_copy / "wheels" / PACKAGING)
    result = _verify(workspace_copy, keypair.public_path)
    assert result.exit_code == 1
    assert f"{PACKAGING}: " in result.output
    assert "subject digest does not match" in result.output


def test_one_byte_of_the_dependency_wheel_changed(workspace_copy: Path, keypair: KeyPair) -> None:
    _flip_byte(workspace_copy / "wheels" / FLIT)
    result = _verify(workspace_copy, keypair.public_path, "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert any(p.startswith(f"{FLIT}: ") and "sha256 is" in p for p in problems), problems


def test_attestation_payload_changed(workspace_copy: Path, keypair: KeyPair) -> None:
    path = workspace_copy / "attestations" / f"{PACKAGING}.intoto.jsonl"
    envelope = json.loads(path.read_text())
    payload = base64.b64decode(envelope["payload"]).replace(b"packaging==24.2", b"packaging==24.3")
    envelope["payload"] = base64.b64encode(payload).decode()
    path.write_text(json.dumps(envelope) + "\n")
    result = _verify(workspace_copy, keypair.public_path)
    assert result.exit_code == 1
    assert f"{PACKAGING}: " in result.output
    assert "signature not valid" in result.output


def test_dependency_attestation_replaced(workspace_copy: Path, keypair: KeyPair) -> None:
    # Re-signing flit-core's statement gives a valid envelope, but not the one packaging used.
    from fromsource.attest import dsse
    from fromsource.attest.keys import load_signer

    path = workspace_copy / "attestations" / f"{FLIT}.intoto.jsonl"
    statement = json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))
    statement["predicate"]["runDetails"]["metadata"]["invocationId"] = "other"
    path.write_bytes(dsse.sign(statement, load_signer(keypair.private_path)))
    result = _verify(workspace_copy, keypair.public_path)
    assert result.exit_code == 1
    assert "attestation file differs" in result.output


def test_missing_dependency_wheel(workspace_copy: Path, keypair: KeyPair) -> None:
    (workspace_copy / "wheels" / FLIT).unlink()
    result = _verify(workspace_copy, keypair.public_path)
    assert result.exit_code == 1
    assert "not found" in result.output


def test_untrusted_key(built_workspace: Path, tmp_path: Path) -> None:
    other = generate_keypair(tmp_path)
    result = _verify(built_workspace, other.public_path)
    assert result.exit_code == 1
    assert "signature not valid" in result.output


def test_bad_inputs_exit_2(built_workspace: Path, keypair: KeyPair, tmp_path: Path) -> None:
    missing = CliRunner().invoke(
        main, ["verify", str(tmp_path / "nope.whl"), "--trusted-key", str(keypair.public_path)]
    )
    assert missing.exit_code == 2
    assert "wheel " in missing.output and "nope.whl does not exist" in missing.output
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key")
    bad_key = _verify(built_workspace, garbage)
    assert bad_key.exit_code == 2
    assert "not a PEM public key" in bad_key.output
    private_as_public = _verify(built_workspace, keypair.private_path)
    assert private_as_public.exit_code == 2
    assert "is not a PEM public key" in private_as_public.output
    for result in (missing, bad_key, private_as_public):
        assert "Traceback" not in result.output


def test_sidecar_attestation_is_found(built_workspace: Path, keypair: KeyPair, tmp_path: Path) -> None:
    # A release directory: the wheel with its .intoto.jsonl beside it, dependency chain in the workspace.
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / PACKAGING).write_bytes((built_workspace / "wheels" / PACKAGING).read_bytes())
    (dist / f"{PACKAGING}.intoto.jsonl").write_bytes(
        (built_workspace / "attestations" / f"{PACKAGING}.intoto.jsonl").read_bytes()
    )
    result = CliRunner().invoke(
        main,
        [
            "verify",
            str(dist / PACKAGING),
            "--attestations",
            str(built_workspace / "attestations"),
            "--trusted-key",
            str(keypair.public_path),
            "-w",
            str(built_workspace),
        ],
    )
    assert result.exit_code == 0, result.output


def test_envelope_verifies_with_securesystemslib_and_by_hand(built_workspace: Path, keypair: KeyPair) -> None:
    """Interoperability: checked by securesystemslib's DSSE API and by a PAE computed here."""
    raw = json.loads((built_workspace / "attestations" / f"{PACKAGING}.intoto.jsonl").read_text())
    key = load_public_key(keypair.public_path)
    envelope = Envelope.from_dict(copy.deepcopy(raw))  # from_dict consumes its argument
    assert key.keyid in envelope.verify([key], 1)

    payload = base64.b64decode(raw["payload"])
    payload_type = raw["payloadType"].encode()
    assert payload_type == b"application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %b %d %b" % (len(payload_type), payload_type, len(payload), payload)
    public = load_pem_public_key(keypair.public_path.read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    (signature,) = raw["signatures"]
    public.verify(base64.b64decode(signature["sig"]), pae)  # raises if invalid
    assert json.loads(payload)["subject"][0]["name"] == PACKAGING


@pytest.mark.parametrize(
    "garbage", [b"{not json\n", b"[]\n", b"", b'{"payload": "%%%", "payloadType": "x", "signatures": []}\n']
)
def test_malformed_attestation_files(workspace_copy: Path, keypair: KeyPair, garbage: bytes) -> None:
    (workspace_copy / "attestations" / f"{PACKAGING}.intoto.jsonl").write_bytes(garbage)
    result = _verify(workspace_copy, keypair.public_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_the_directory_listing_answers_as_a_stat_would(tmp_path: Path) -> None:
    # verify asks "is this file there" from one listing per directory (verify/files.py).
    import os

    from fromsource.verify.files import Locations, Lookups

    d = tmp_path / "wheels"
    d.mkdir()
    (d / "plain.whl").write_bytes(b"x")
    (d / "linked.whl").symlink_to(d / "plain.whl")
    (d / "dangling.whl").symlink_to(d / "nowhere.whl")
    (d / "dir.whl").mkdir()
    os.mkfifo(d / "fifo.whl")
    (d / "to-dir.whl").symlink_to(d / "dir.whl")
    files = Lookups(Locations((d,)))
    names = [
        "plain.whl",
        "linked.whl",
        "dangling.whl",
        "dir.whl",
        "fifo.whl",
        "to-dir.whl",
        "absent.whl",
        "..",
    ]
    assert {n: files.exists(d, n) for n in names} == {n: (d / n).is_file() for n in names}
    assert files.exists(tmp_path / "missing", "plain.whl") is False
    assert Locations((d,)).candidates("linked.whl", exists=files.exists) == [d / "linked.whl"]
