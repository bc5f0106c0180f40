from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fromsource.attest.keys import KeyPair
from fromsource.cli import main
from fromsource.errors import PolicyFileError
from fromsource.policy import load_policy

POLICIES = Path(__file__).parent.parent / "policies"


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_shipped_policies_load_once_the_workspace_key_exists(tmp_path: Path) -> None:
    from fromsource.attest.keys import generate_keypair

    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    generate_keypair(root / "fromsource-work" / "keys")
    for name in ("default.toml", "strict.toml"):
        copy = root / "policies" / name
        copy.write_text((POLICIES / name).read_text())
        policy = load_policy(copy)
        assert len(policy.builder_keys) == 1
    strict = load_policy(root / "policies" / "strict.toml")
    assert strict.require_isolation
    assert strict.require_sandbox
    assert not load_policy(root / "policies" / "default.toml").require_sandbox


def test_every_error_is_reported_with_its_location(tmp_path: Path) -> None:
    path = _policy(
        tmp_path,
        """
version = 2
expires = 2027-01-01
colour = "blue"
[trust]
builder_keys = ["missing.pub", 3]
threshold = 0
[build]
require_isolation = "yes"
require_sandbox = 1
[seeds]
evidence = ["vibes"]
binary_digests = ["abc"]
""",
    )
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    message = str(info.value)
    for fragment in (
        "version: must be 1",
        "expires: must be a TOML offset date-time",
        "colour: unknown key",
        "[trust].builder_keys: must be a list of strings",
        "[trust].threshold: must be an integer",
        "[build].require_isolation",
        "[build].require_sandbox: must be true or false",
        "unknown evidence kind 'vibes'",
        "not a lowercase sha256",
    ):
        assert fragment in message, fragment


def test_key_errors_name_the_entry(tmp_path: Path) -> None:
    path = _policy(tmp_path, 'version = 1\n[trust]\nbuilder_keys = ["nope.pub"]\n')
    with pytest.raises(PolicyFileError, match=r"\[trust\].builder_keys\[0\]: cannot read public key"):
        load_policy(path)


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="not valid TOML"):
        load_policy(_policy(tmp_path, "version = = 1"))


def _verify_with(policy: Path, ws: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        main,
        [
            "verify",
            str(ws / "wheels" / "packaging-24.2-py3-none-any.whl"),
            "-w",
            str(ws),
            "--policy",
            str(policy),
            *extra,
        ],
    )


def test_verify_with_policy(built_workspace: Path, keypair: KeyPair, tmp_path: Path) -> None:
    good = _policy(tmp_path, f'version = 1\n[trust]\nbuilder_keys = ["{keypair.public_path}"]\n')
    result = _verify_with(good, built_workspace, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"]


def test_verify_with_expired_policy_exits_1(built_workspace: Path, keypair: KeyPair, tmp_path: Path) -> None:
    expired = _policy(
        tmp_path,
        f'version = 1\nexpires = 2020-01-01T00:00:00Z\n[trust]\nbuilder_keys = ["{keypair.public_path}"]\n',
    )
    result = _verify_with(expired, built_workspace)
    assert result.exit_code == 1
    assert "expired" in result.output


def test_verify_with_broken_policy_exits_2(built_workspace: Path, tmp_path: Path) -> None:
    result = _verify_with(_policy(tmp_path, "version = 9\n"), built_workspace)
    assert result.exit_code == 2
    assert "version: must be 1" in result.output


def test_verify_needs_some_trust(built_workspace: Path) -> None:
    result = CliRunner().invoke(
        main, ["verify", str(built_workspace / "wheels" / "packaging-24.2-py3-none-any.whl")]
    )
    assert result.exit_code == 2
    assert "no trusted keys" in result.output


def test_sources_table(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'version = 1\n[sources]\nrequire_origin = ["Requests"]\n'
        '[sources.repositories]\nrequests = "mirrors/requests"\nurllib3 = "https://x.test/u"\n'
    )
    policy = load_policy(path)
    assert policy.requires_origin("requests") and not policy.requires_origin("urllib3")
    assert policy.repositories == {
        "requests": str(tmp_path / "mirrors/requests"),
        "urllib3": "https://x.test/u",
    }
    path.write_text("version = 1\n[sources]\nrequire_origin = true\n")
    assert load_policy(path).requires_origin("anything")
    path.write_text('version = 1\n[sources]\nrequire_origin = "yes"\nrepositories = 3\nother = 1\n')
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    assert "[sources].other: unknown key" in info.value.message
    assert "[sources].require_origin: must be true, false or a list of project names" in info.value.message
    assert "[sources].repositories: must be a table" in info.value.message
