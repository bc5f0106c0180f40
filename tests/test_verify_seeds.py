"""verify with seeds and externals: a chain may end at a seed only under a policy accepting it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import DATA
from fromsource.attest import dsse
from fromsource.attest.keys import KeyPair, generate_keypair, load_signer
from fromsource.attest.provenance import KIND_INTERPRETER, KIND_SDIST, KIND_WHEEL, BuildRecord, Dependency
from fromsource.cli import main
from fromsource.fileutil import sha256_file
from fromsource.seeds import admit_by_review
from fromsource.seedstore import SeedStore
from fromsource.workspace import Workspace

COHERENT = "coherent_build-0.19.1-py3-none-any.whl"
SDIST = "coherent_build-0.19.1.tar.gz"


Seeded = tuple[Workspace, KeyPair, Path]  # workspace, reviewer, stage-1 wheel


@pytest.fixture
def seeded(tmp_path: Path, keypair: KeyPair) -> Seeded:
    """A workspace whose one wheel was built with an admitted seed in its build env."""
    ws = Workspace(tmp_path / "w").create()
    reviewer = generate_keypair(tmp_path / "r", "reviewer")
    admit_by_review(DATA / COHERENT, DATA / SDIST, load_signer(reviewer.private_path), SeedStore(ws))
    seed = ws.seeds / COHERENT
    # The stage-1 wheel: built from the sdist with the seed as its backend (stand-in bytes here;
    # the chain logic is what is under test).
    stage1 = ws.stage1 / COHERENT
    stage1.parent.mkdir(parents=True)
    stage1.write_bytes(b"PK stage-1 build of coherent.build")
    record = BuildRecord(
        wheel_name=COHERENT,
        wheel_sha256=sha256_file(stage1),
        requirement="coherent.build==0.19.1",
        sdist=Dependency(name=SDIST, sha256=sha256_file(DATA / SDIST), kind=KIND_SDIST),
        wheels=(
            Dependency(
                name=COHERENT,
                sha256=sha256_file(seed),
                kind=KIND_WHEEL,
                edge="build-system",
                seed=True,
                attestation_sha256=sha256_file(ws.seeds / f"{COHERENT}.intoto.jsonl"),
            ),
        ),
        interpreter=Dependency(
            name="python-3.11.7", sha256="0" * 64, kind=KIND_INTERPRETER, implementation="cpython"
        ),
        isolation="unshare-net",
        source_date_epoch=1_700_000_000,
        builder_version="test",
        invocation_id="1",
        started_on="2026-01-01T00:00:00Z",
        finished_on="2026-01-01T00:00:01Z",
        log_sha256="0" * 64,
    )
    (ws.stage1 / f"{COHERENT}.intoto.jsonl").write_bytes(
        dsse.sign(record.statement(), load_signer(keypair.private_path))
    )
    return ws, reviewer, stage1


def _policy(tmp_path: Path, builder: Path, reviewers: list[Path], extra: str = "") -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(
        f'version = 1\n{extra}\n[trust]\nbuilder_keys = ["{builder}"]\n'
        f"reviewer_keys = {json.dumps([str(r) for r in reviewers])}\n"
    )
    return path


def _verify(ws: Workspace, wheel: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["verify", str(wheel), "-w", str(ws.root), *args])


def test_chain_ending_at_an_accepted_seed(seeded: Seeded, keypair: KeyPair, tmp_path: Path) -> None:
    ws, reviewer, stage1 = seeded
    policy = _policy(tmp_path, keypair.public_path, [reviewer.public_path])
    result = _verify(ws, stage1, "--policy", str(policy), "--json")
    assert result.exit_code == 0, result.output
    root = json.loads(result.stdout)["wheels"][0]
    (seed,) = [c for c in root["children"] if c["kind"] == "seed"]
    assert seed["name"] == COHERENT and seed["valid"]
    assert seed["evidence"] and seed["evidence"][0].startswith("review: readable")

    human = _verify(ws, stage1, "--policy", str(policy))
    assert "seed coherent_build" in human.output and "trust base: seed" in human.output


def test_seed_without_policy_fails(seeded: Seeded, keypair: KeyPair) -> None:
    ws, _, stage1 = seeded
    result = _verify(ws, stage1, "--trusted-key", str(keypair.public_path))
    assert result.exit_code == 1
    assert "pass --policy" in result.output


def test_seed_from_untrusted_reviewer_fails(seeded: Seeded, keypair: KeyPair, tmp_path: Path) -> None:
    ws, _, stage1 = seeded
    stranger = generate_keypair(tmp_path / "x", "stranger")
    result = _verify(
        ws, stage1, "--policy", str(_policy(tmp_path, keypair.public_path, [stranger.public_path]))
    )
    assert result.exit_code == 1
    assert "signature not valid" in result.output


def test_tampered_seed_file_fails(seeded: Seeded, keypair: KeyPair, tmp_path: Path) -> None:
    ws, reviewer, stage1 = seeded
    seed = ws.seeds / COHERENT
    seed.write_bytes(seed.read_bytes() + b"\0")
    result = _verify(
        ws, stage1, "--policy", str(_policy(tmp_path, keypair.public_path, [reviewer.public_path]))
    )
    assert result.exit_code == 1
    assert "seed file's sha256 is" in result.output


def test_external_named_by_digest_is_a_trust_base_leaf(
    seeded: Seeded, keypair: KeyPair, tmp_path: Path
) -> None:
    ws, reviewer, _ = seeded
    external = DATA / "charset_normalizer-3.4.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    wheel = ws.wheels / "user-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK user")
    record = BuildRecord(
        wheel_name=wheel.name,
        wheel_sha256=sha256_file(wheel),
        requirement="user==1.0",
        sdist=Dependency(name="user-1.0.tar.gz", sha256="1" * 64, kind=KIND_SDIST),
        wheels=(
            Dependency(
                name=external.name,
                sha256=sha256_file(external),
                kind=KIND_WHEEL,
                edge="install",
                attestation_sha256=None,
                external=True,
            ),
        ),
        interpreter=Dependency(
            name="python-3.11.7", sha256="0" * 64, kind=KIND_INTERPRETER, implementation="cpython"
        ),
        isolation="unshare-net",
        source_date_epoch=1_700_000_000,
        builder_version="test",
        invocation_id="2",
        started_on="2026-01-01T00:00:00Z",
        finished_on="2026-01-01T00:00:01Z",
        log_sha256="0" * 64,
    )
    ws.attestation_for(wheel.name).write_bytes(
        dsse.sign(record.statement(), load_signer(keypair.private_path))
    )
    named = _policy(tmp_path, keypair.public_path, [reviewer.public_path], extra="")
    named.write_text(
        named.read_text()
        + f'\n[externals]\nwheels = [{{file = "{external.name}", sha256 = "{sha256_file(external)}"}}]\n'
    )
    ok = _verify(ws, wheel, "--policy", str(named))
    assert ok.exit_code == 0, ok.output
    assert "external" in ok.output and "trust base: external" in ok.output
    (tmp_path / "u").mkdir()
    unnamed = _verify(ws, wheel, "--policy", str(_policy(tmp_path / "u", keypair.public_path, [])))
    assert unnamed.exit_code == 1
    assert "no policy names its sha256" in unnamed.output
