"""Seed admission and the policy's decision on real corpus wheels."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DATA
from fromsource.attest.keys import KeyPair, generate_keypair, load_signer
from fromsource.cli import main
from fromsource.errors import PolicyError
from fromsource.fileutil import sha256_file
from fromsource.policy import load_policy
from fromsource.seeds import admit_by_provenance, admit_by_review, check_seed
from fromsource.seedstore import SeedStore
from fromsource.workspace import Workspace

SCHEMA = json.loads((Path(__file__).parent.parent / "attestations" / "seed-review.schema.json").read_text())
COHERENT = "coherent_build-0.19.1-py3-none-any.whl"
MARKUPSAFE = "MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


@pytest.fixture(scope="module")
def reviewer(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_keypair(tmp_path_factory.mktemp("reviewer"), "reviewer")


def _policy(
    tmp_path: Path,
    *,
    reviewers: Sequence[Path] = (),
    builders: Sequence[Path] = (),
    extra: str = "",
    seeds: str = "",
) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(
        f"version = 1\n{extra}\n[trust]\nbuilder_keys = {json.dumps([str(b) for b in builders])}\n"
        f"reviewer_keys = {json.dumps([str(r) for r in reviewers])}\n[seeds]\n{seeds}\n"
    )
    return path


def _admit_coherent(tmp_path: Path, reviewer: KeyPair) -> tuple[SeedStore, Path]:
    store = SeedStore(Workspace(tmp_path / "w"))
    result = admit_by_review(
        DATA / COHERENT, DATA / "coherent_build-0.19.1.tar.gz", load_signer(reviewer.private_path), store
    )
    return store, result.seed


def test_readable_seed_admitted_by_review_and_accepted(tmp_path: Path, reviewer: KeyPair) -> None:
    store, seed = _admit_coherent(tmp_path, reviewer)
    assert sha256_file(seed) == sha256_file(DATA / COHERENT)
    envelope = json.loads(store.evidence_file(COHERENT).read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    import jsonschema  # not at collection: where rfc3987-syntax is installed that takes a second

    jsonschema.validate(statement["predicate"], SCHEMA)
    assert statement["predicate"]["verdict"] == "readable"
    assert statement["predicate"]["counts"]["relocated"] > 0
    report_digest = statement["predicate"]["inspectReport"]["digest"]["sha256"]
    assert report_digest == sha256_file(store.report_file(COHERENT))

    policy = load_policy(_policy(tmp_path, reviewers=[reviewer.public_path]))
    check = check_seed(seed, policy)
    assert check.accepted, check.problems
    assert [e.kind for e in check.evidence] == ["review"]


def test_seed_signed_by_untrusted_reviewer_is_refused(tmp_path: Path, reviewer: KeyPair) -> None:
    _, seed = _admit_coherent(tmp_path, reviewer)
    stranger = generate_keypair(tmp_path / "s", "stranger")
    check = check_seed(seed, load_policy(_policy(tmp_path, reviewers=[stranger.public_path])))
    assert not check.accepted
    assert any("signature not valid" in p for p in check.problems)


def test_seed_whose_bytes_differ_from_the_reviewed_digest_is_refused(
    tmp_path: Path, reviewer: KeyPair
) -> None:
    _, seed = _admit_coherent(tmp_path, reviewer)
    seed.write_bytes(seed.read_bytes() + b"\0")
    check = check_seed(seed, load_policy(_policy(tmp_path, reviewers=[reviewer.public_path])))
    assert not check.accepted
    assert any("differs from the digest that was attested" in p for p in check.problems)


def test_expired_policy_refuses_seeds(tmp_path: Path, reviewer: KeyPair) -> None:
    _, seed = _admit_coherent(tmp_path, reviewer)
    policy = load_policy(
        _policy(tmp_path, reviewers=[reviewer.public_path], extra="expires = 2030-01-01T00:00:00Z")
    )
    assert check_seed(seed, policy, now=datetime(2029, 12, 31, tzinfo=UTC)).accepted
    expired = check_seed(seed, policy, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert any("expired" in p for p in expired.problems)


def test_evidence_kind_not_accepted_by_policy(tmp_path: Path, reviewer: KeyPair) -> None:
    _, seed = _admit_coherent(tmp_path, reviewer)
    policy = load_policy(
        _policy(tmp_path, reviewers=[reviewer.public_path], seeds='evidence = ["provenance"]')
    )
    check = check_seed(seed, policy)
    assert any("review evidence is not accepted" in p for p in check.problems)


def test_allow_list(tmp_path: Path, reviewer: KeyPair) -> None:
    _, seed = _admit_coherent(tmp_path, reviewer)
    policy = load_policy(_policy(tmp_path, reviewers=[reviewer.public_path], seeds='allow = ["flit-core"]'))
    assert any("not in the policy's [seeds].allow" in p for p in check_seed(seed, policy).problems)


def test_binary_seed_refused_unless_named_by_digest(tmp_path: Path, reviewer: KeyPair) -> None:
    store = SeedStore(Workspace(tmp_path / "w"))
    signer = load_signer(reviewer.private_path)
    with pytest.raises(PolicyError) as info:
        admit_by_review(DATA / MARKUPSAFE, DATA / "markupsafe-3.0.2.tar.gz", signer, store)
    assert "_speedups" in str(info.value) and ".so" in str(info.value)
    assert not store.wheels()

    digest = sha256_file(DATA / MARKUPSAFE)
    named = load_policy(
        _policy(tmp_path, reviewers=[reviewer.public_path], seeds=f'binary_digests = ["{digest}"]')
    )
    result = admit_by_review(DATA / MARKUPSAFE, DATA / "markupsafe-3.0.2.tar.gz", signer, store, policy=named)
    assert result.detail == "binary-by-digest"
    assert check_seed(result.seed, named).accepted
    unnamed = load_policy(_policy(tmp_path, reviewers=[reviewer.public_path]))
    check = check_seed(result.seed, unnamed)
    assert any("binary seed" in p and digest in p for p in check.problems)


def test_admission_by_provenance(built_workspace: Path, keypair: KeyPair, tmp_path: Path) -> None:
    flit = built_workspace / "wheels" / "flit_core-3.12.0-py3-none-any.whl"
    attestation = built_workspace / "attestations" / f"{flit.name}.intoto.jsonl"
    store = SeedStore(Workspace(tmp_path / "w"))
    policy = load_policy(_policy(tmp_path, builders=[keypair.public_path]))
    result = admit_by_provenance(flit, [attestation], store, policy)
    assert result.kind == "provenance"
    assert check_seed(result.seed, policy).accepted

    stranger = generate_keypair(tmp_path / "s", "stranger")
    other = load_policy(_policy(tmp_path / "s", builders=[stranger.public_path]))
    with pytest.raises(PolicyError, match="no build provenance from a trusted builder"):
        admit_by_provenance(flit, [attestation], SeedStore(Workspace(tmp_path / "w2")), other)


def test_cli_admit_list_show(tmp_path: Path, reviewer: KeyPair) -> None:
    runner = CliRunner()
    ws = tmp_path / "w"
    admitted = runner.invoke(
        main,
        [
            "seed",
            "admit",
            str(DATA / COHERENT),
            "--sdist",
            str(DATA / "coherent_build-0.19.1.tar.gz"),
            "--key",
            str(reviewer.private_path),
            "-w",
            str(ws),
        ],
    )
    assert admitted.exit_code == 0, admitted.output
    assert "admitted coherent_build-0.19.1-py3-none-any.whl" in admitted.output

    refused = runner.invoke(
        main,
        [
            "seed",
            "admit",
            str(DATA / MARKUPSAFE),
            "--sdist",
            str(DATA / "markupsafe-3.0.2.tar.gz"),
            "--key",
            str(reviewer.private_path),
            "-w",
            str(ws),
        ],
    )
    assert refused.exit_code == 1
    assert "not readable" in refused.output and "binary_digests" in refused.output

    policy = _policy(tmp_path, reviewers=[reviewer.public_path])
    listed = runner.invoke(main, ["seed", "list", "-w", str(ws), "--policy", str(policy), "--json"])
    assert listed.exit_code == 0
    (entry,) = json.loads(listed.stdout)["seeds"]
    assert entry["wheel"] == COHERENT and entry["check"]["accepted"]

    shown = runner.invoke(main, ["seed", "show", "coherent.build", "-w", str(ws), "--policy", str(policy)])
    assert shown.exit_code == 0, shown.output
    assert "readable" in shown.output and "accepted" in shown.output
    missing = runner.invoke(main, ["seed", "show", "nothing", "-w", str(ws)])
    assert missing.exit_code == 2
    assert "no seed for nothing in" in missing.output

    usage = runner.invoke(main, ["seed", "admit", str(DATA / COHERENT), "-w", str(ws)])
    assert usage.exit_code == 2
    assert "either --sdist" in usage.output


def test_unsettled_review_is_never_signed_unless_a_rebuild_settles_it(
    tmp_path: Path, reviewer: KeyPair
) -> None:
    # flit-core's wheel with an added dependency, against its sdist whose PKG-INFO says 2.1.
    from inspect_helpers import old_pkg_info_sdist, tampered

    wheel, sdist = DATA / "flit_core-3.12.0-py3-none-any.whl", DATA / "flit_core-3.12.0.tar.gz"
    old = old_pkg_info_sdist(sdist, tmp_path / "s")

    def add_dependency(files: dict[str, bytes]) -> None:
        name = "flit_core-3.12.0.dist-info/METADATA"
        files[name] = files[name].replace(
            b"Requires-Python: >=3.6\n", b"Requires-Python: >=3.6\nRequires-Dist: evil-helper>=1\n"
        )

    bad = tampered(wheel, tmp_path / "w", add_dependency)
    ws = tmp_path / "ws"
    digest = sha256_file(bad)
    named = _policy(tmp_path, reviewers=[reviewer.public_path], seeds=f'binary_digests = ["{digest}"]')
    runner = CliRunner()
    args = [
        "seed",
        "admit",
        str(bad),
        "--sdist",
        str(old),
        "--key",
        str(reviewer.private_path),
        "-w",
        str(ws),
        "--policy",
        str(named),
    ]
    refused = runner.invoke(main, args)
    assert refused.exit_code == 1, refused.output
    assert "only settled verdicts are signed" in refused.output and "evil-helper" in refused.output
    assert "Traceback" not in refused.output
    assert not SeedStore(Workspace(ws)).wheels()  # not even as a binary seed named by digest

    # --rebuild settles it: the genuine wheel is admitted, the tampered one is then not readable
    genuine = runner.invoke(
        main,
        [
            "seed",
            "admit",
            str(wheel),
            "--sdist",
            str(old),
            "--key",
            str(reviewer.private_path),
            "-w",
            str(ws),
            "--rebuild",
        ],
    )
    assert genuine.exit_code == 0, genuine.output
    settled = runner.invoke(main, [*args[:-2], "--rebuild"])
    assert settled.exit_code == 1, settled.output
    assert "Requires-Dist differs from the wheel built from the sdist" in settled.output
