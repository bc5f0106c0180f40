"""Publisher evidence against real production sigstore material (../shared/sigstore-fixtures).

The fixtures are third-party assets read where they are; every tampered variant is made in
a temporary directory. Verification runs fully offline against the pinned root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pypi_attestations import AttestationType

from fromsource.attest.publisher import parse_publisher
from fromsource.cli import main
from fromsource.errors import InputError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "sigstore-fixtures"
PA = FIXTURES / "pypi-attestations"
needs_fixtures = pytest.mark.skipif(
    not (PA / "pypi_attestations-0.0.19.tar.gz").is_file(),
    reason="real sigstore fixtures live in ../shared/sigstore-fixtures, absent here",
)
GH = "github:trailofbits/pypi-attestations/release.yml"
SDIST = PA / "pypi_attestations-0.0.19.tar.gz"
PUBLISH = PA / "pypi_attestations-0.0.19.tar.gz.publish.attestation"
SLSA = PA / "pypi_attestations-0.0.19.tar.gz.slsa.attestation"
PROVENANCE = PA / "pypi_attestations-0.0.19.tar.gz.provenance"
RFC_WHL = FIXTURES / "sigstore-python" / "bundle_v3_github.whl"
RFC_SAN = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
GHA = "https://token.actions.githubusercontent.com"
CONFORMANCE = FIXTURES / "sigstore-conformance"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["evidence", "verify", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def run_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    code, output = run(*args, "--json")
    return code, json.loads(output)


def conformance_dirs(suffix_fail: bool) -> list[Path]:
    if not CONFORMANCE.is_dir():
        return []
    return sorted(d for d in CONFORMANCE.iterdir() if d.is_dir() and d.name.endswith("_fail") == suffix_fail)


# -- publisher specs (pure) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "github:trailofbits/pypi-attestations/release.yml",
        "github:o/r/publish.yaml@pypi",
        "gitlab:facutuesca/gitlab-oidc-project/.gitlab-ci.yml",
        "gitlab:group/sub/project//ci/release.yml@prod",
        "google:publisher@project.iam.gserviceaccount.com",
    ],
)
def test_publisher_spec_round_trips(spec: str) -> None:
    assert str(parse_publisher(spec)) == spec


def test_gitlab_spec_splits_project_and_file() -> None:
    nested = parse_publisher("gitlab:group/sub/project//ci/release.yml")
    assert (nested.repository, nested.workflow) == ("group/sub/project", "ci/release.yml")
    top = parse_publisher("gitlab:group/sub/project/.gitlab-ci.yml")
    assert (top.repository, top.workflow) == ("group/sub/project", ".gitlab-ci.yml")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("circleci:x/y", "unknown publisher kind 'circleci'"),
        ("github", "is not KIND:"),
        ("github:owner/repo", "expected github:OWNER/REPO/WORKFLOW.yml"),
        ("github:owner/repo/release", "expected github:OWNER/REPO/WORKFLOW.yml"),
        ("github:owner/../release.yml", "expected github:OWNER/REPO/WORKFLOW.yml"),
        ("github:o/r/release.yml@", "environment after @"),
        ("gitlab:project/.gitlab-ci.yml", "expected gitlab:NAMESPACE/PROJECT"),
        ("google:not-an-email", "service account email"),
    ],
)
def test_bad_publisher_specs(spec: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        parse_publisher(spec)


def test_unknown_publisher_kind_exits_2(tmp_path: Path) -> None:
    dist = tmp_path / "x-1.0.tar.gz"
    dist.write_bytes(b"x")
    code, output = run(dist, "--publisher", "circleci:a/b")
    assert code == 2
    assert "unknown publisher kind 'circleci'" in output
    assert "Traceback" not in output


def test_publisher_or_identity_is_required(tmp_path: Path) -> None:
    dist = tmp_path / "x-1.0.tar.gz"
    dist.write_bytes(b"x")
    assert run(dist)[0] == 2
    assert run(dist, "--identity", "a@b.c")[0] == 2  # identity without issuer
    assert run(dist, "--publisher", GH, "--identity", "a", "--issuer", GHA)[0] == 2


# -- the acceptance cases -----------------------------------------------------------------


@needs_fixtures
@pytest.mark.parametrize("evidence", [PUBLISH, SLSA, PROVENANCE], ids=["publish", "slsa", "provenance"])
def test_pypi_attestations_sdist_verifies(evidence: Path) -> None:
    code, data = run_json(SDIST, "--publisher", GH, "--attestation", evidence)
    assert code == 0, data
    assert data["valid"] is True
    assert data["sha256"] == hashlib.sha256(SDIST.read_bytes()).hexdigest()
    assert data["evidenceSha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert data["signer"].startswith("https://github.com/trailofbits/pypi-attestations/")
    # The log index reported is the one in the evidence's own transparency entry.
    raw = json.loads(evidence.read_bytes())
    attestation = raw["attestation_bundles"][0]["attestations"][0] if "attestation_bundles" in raw else raw
    assert data["logIndex"] == int(
        attestation["verification_material"]["transparency_entries"][0]["logIndex"]
    )


@needs_fixtures
def test_json_shows_the_packaged_trusted_root_digest() -> None:
    import sigstore

    packaged = (
        Path(sigstore.__file__).parent
        / "_store"
        / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
        / "trusted_root.json"
    )
    code, data = run_json(SDIST, "--publisher", GH, "--attestation", PUBLISH)
    assert code == 0
    assert data["trustedRoot"]["sha256"] == hashlib.sha256(packaged.read_bytes()).hexdigest()
    assert data["trustedRoot"]["source"] == "sigstore package"
    assert data["trustedRootSha256"] == data["trustedRoot"]["sha256"]


@needs_fixtures
@pytest.mark.parametrize(
    ("publisher", "words"),
    [
        (
            "github:trailofbits/pypi-attestations/other.yml",
            "not by github:trailofbits/pypi-attestations/other.yml",
        ),
        (
            "github:trailofbits/not-this-repo/release.yml",
            "not by github:trailofbits/not-this-repo/release.yml",
        ),
        ("gitlab:trailofbits/pypi-attestations/release.yml", "not by gitlab:"),
        ("google:someone@project.iam.gserviceaccount.com", "not by google:"),
    ],
)
def test_wrong_publisher_exits_1(publisher: str, words: str) -> None:
    code, output = run(SDIST, "--publisher", publisher, "--attestation", PUBLISH)
    assert code == 1
    assert words in output
    assert "Traceback" not in output


@needs_fixtures
def test_one_byte_changed_exits_1(tmp_path: Path) -> None:
    changed = tmp_path / SDIST.name
    data = bytearray(SDIST.read_bytes())
    data[100] ^= 0x01
    changed.write_bytes(bytes(data))
    code, output = run(changed, "--publisher", GH, "--attestation", PUBLISH)
    assert code == 1
    assert "sha256 differs" in output


@needs_fixtures
@pytest.mark.parametrize(
    "new_name",
    ["pypi_attestations-0.0.18.tar.gz", "rfc8785-0.0.19.tar.gz", "pypi_attestations-0.0.19-py3-none-any.whl"],
)
def test_renamed_file_exits_1(tmp_path: Path, new_name: str) -> None:
    renamed = tmp_path / new_name
    shutil.copyfile(SDIST, renamed)
    code, output = run(renamed, "--publisher", GH, "--attestation", PUBLISH)
    assert code == 1
    assert f"not '{new_name}'" in output


@needs_fixtures
@pytest.mark.parametrize(
    "evidence",
    ["rfc8785-0.1.2-py3-none-any.whl.publish.attestation", "rfc8785-0.1.2-py3-none-any.whl.sigstore"],
)
def test_staging_evidence_fails_against_the_production_root(evidence: str) -> None:
    code, output = run(
        PA / "rfc8785-0.1.2-py3-none-any.whl",
        "--identity",
        "william@yossarian.net",
        "--issuer",
        "https://github.com/login/oauth",
        "--attestation",
        PA / evidence,
    )
    assert code == 1
    assert "does not chain to the pinned trusted root" in output


@needs_fixtures
def test_staging_evidence_verifies_when_the_policy_pins_the_staging_root(tmp_path: Path) -> None:
    staging = FIXTURES / "sigstore-python" / "staging.trusted_root.json"
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[sigstore]\ntrusted_root = "{staging}"\n'
        f'trusted_root_sha256 = "{hashlib.sha256(staging.read_bytes()).hexdigest()}"\n'
    )
    code, data = run_json(
        PA / "rfc8785-0.1.2-py3-none-any.whl",
        "--identity",
        "william@yossarian.net",
        "--issuer",
        "https://github.com/login/oauth",
        "--policy",
        policy,
        "--attestation",
        PA / "rfc8785-0.1.2-py3-none-any.whl.publish.attestation",
    )
    assert code == 0, data
    assert data["trustedRoot"]["path"] == str(staging)
    # ...and the production evidence now fails, the reverse case.
    assert run(SDIST, "--publisher", GH, "--policy", policy, "--attestation", PUBLISH)[0] == 1


@needs_fixtures
def test_policy_root_with_another_digest_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root.json"
    shutil.copyfile(FIXTURES / "sigstore-python" / "production.trusted_root.json", root)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[sigstore]\ntrusted_root = "root.json"\ntrusted_root_sha256 = "{"0" * 64}"\n'
    )
    code, output = run(SDIST, "--publisher", GH, "--policy", policy, "--attestation", PUBLISH)
    assert code == 2
    assert "the policy pins" in output
    not_a_root = tmp_path / "policy2.toml"
    (tmp_path / "junk.json").write_text("{}")
    not_a_root.write_text(
        f'version = 1\n[sigstore]\ntrusted_root = "junk.json"\n'
        f'trusted_root_sha256 = "{hashlib.sha256(b"{}").hexdigest()}"\n'
    )
    code, output = run(SDIST, "--publisher", GH, "--policy", not_a_root, "--attestation", PUBLISH)
    assert code == 2
    assert "is not a sigstore trusted root" in output


@needs_fixtures
def test_plain_bundle_verifies_with_identity() -> None:
    code, data = run_json(RFC_WHL, "--identity", RFC_SAN, "--issuer", GHA)  # found beside the file
    assert code == 0, data
    assert data["evidenceKind"] == "sigstore-bundle"
    assert data["predicateType"] is None
    code, _ = run(RFC_WHL, "--identity", RFC_SAN, "--issuer", "https://gitlab.com")
    assert code == 1


@needs_fixtures
def test_gitlab_publisher_verifies() -> None:
    dist = PA / "gitlab_oidc_project-0.0.3.tar.gz"
    assert run(dist, "--publisher", "gitlab:facutuesca/gitlab-oidc-project/.gitlab-ci.yml")[0] == 0
    assert run(dist, "--publisher", "gitlab:facutuesca/other-project/.gitlab-ci.yml")[0] == 1


@needs_fixtures
def test_dsse_sigstore_bundle_verifies_for_a_publisher() -> None:
    dist = PA / "pypi_attestation_models-0.0.4a2.tar.gz"
    code, data = run_json(
        dist,
        "--publisher",
        "github:trailofbits/pypi-attestation-models/release.yml",
        "--attestation",
        PA / "pypi_attestation_models-0.0.4a2.tar.gz.sigstore",
    )
    assert code == 0, data
    assert data["predicateType"] == AttestationType.PYPI_PUBLISH_V1.value


@pytest.mark.parametrize("case", conformance_dirs(False), ids=lambda p: p.name)
def test_conformance_happy_paths_verify(case: Path) -> None:
    code, output = run(
        CONFORMANCE / "a.txt",
        "--identity",
        BEACON,
        "--issuer",
        GHA,
        "--attestation",
        case / "bundle.sigstore.json",
    )
    assert code == 0, output


@pytest.mark.parametrize("case", conformance_dirs(True), ids=lambda p: p.name)
def test_conformance_fail_cases_exit_1(case: Path) -> None:
    code, output = run(
        CONFORMANCE / "a.txt",
        "--identity",
        BEACON,
        "--issuer",
        GHA,
        "--attestation",
        case / "bundle.sigstore.json",
    )
    assert code == 1, output
    assert "Traceback" not in output


def test_conformance_fixtures_are_present_or_skipped() -> None:
    if not CONFORMANCE.is_dir():
        pytest.skip("real sigstore fixtures live in ../shared/sigstore-fixtures, absent here")
    assert len(conformance_dirs(True)) == 7
    assert len(conformance_dirs(False)) == 4


# -- tampered evidence (made here, never in ../shared) -------------------------------------


def _tampered(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    data = json.loads(PUBLISH.read_bytes())
    change(data)
    dest = tmp_path / "tampered.attestation"
    dest.write_text(json.dumps(data))
    return dest


def _flip_b64(value: str, index: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@needs_fixtures
def test_flipped_signature_bit_exits_1(tmp_path: Path) -> None:
    def flip(d: dict[str, Any]) -> None:
        d["envelope"]["signature"] = _flip_b64(d["envelope"]["signature"], 10)

    code, output = run(SDIST, "--publisher", GH, "--attestation", _tampered(tmp_path, flip))
    assert code == 1
    assert "invalid signature" in output.lower() or "signature" in output


@needs_fixtures
def test_sibling_certificate_exits_1(tmp_path: Path) -> None:
    sibling = json.loads(SLSA.read_bytes())["verification_material"]["certificate"]

    def swap(d: dict[str, Any]) -> None:
        d["verification_material"]["certificate"] = sibling

    code, output = run(SDIST, "--publisher", GH, "--attestation", _tampered(tmp_path, swap))
    assert code == 1, output


@needs_fixtures
def test_certificate_signature_byte_exits_1(tmp_path: Path) -> None:
    def flip(d: dict[str, Any]) -> None:  # the last bytes of a DER certificate are its CA signature
        d["verification_material"]["certificate"] = _flip_b64(d["verification_material"]["certificate"], -3)

    code, output = run(SDIST, "--publisher", GH, "--attestation", _tampered(tmp_path, flip))
    assert code == 1, output


@needs_fixtures
def test_garbage_certificate_exits_1(tmp_path: Path) -> None:
    def garbage(d: dict[str, Any]) -> None:
        d["verification_material"]["certificate"] = base64.b64encode(b"not a certificate").decode()

    code, output = run(SDIST, "--publisher", GH, "--attestation", _tampered(tmp_path, garbage))
    assert code == 1
    assert "invalid X.509 certificate" in output


@needs_fixtures
def test_log_entry_integrated_time_changed_exits_1(tmp_path: Path) -> None:
    def later(d: dict[str, Any]) -> None:
        entry = d["verification_material"]["transparency_entries"][0]
        entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)

    code, output = run(SDIST, "--publisher", GH, "--attestation", _tampered(tmp_path, later))
    assert code == 1
    assert "inclusion promise" in output


@needs_fixtures
def test_statement_for_another_file_exits_1(tmp_path: Path) -> None:
    # The rfc8785 wheel's evidence checked for the pypi-attestations sdist.
    code, _ = run(
        SDIST,
        "--identity",
        RFC_SAN,
        "--issuer",
        GHA,
        "--attestation",
        RFC_WHL.with_name(RFC_WHL.name + ".sigstore"),
    )
    assert code == 1


# -- unusable input: exit 2, one line ------------------------------------------------------


@needs_fixtures
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x00\x01 not json", "is not JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'{"hello": 1}', "neither a PEP 740 attestation"),
        (b'{"version": 1, "verification_material": {}, "envelope": {}}', "is malformed"),
        (b'{"attestation_bundles": "x"}', "is malformed"),
        (b'{"version": 1, "attestation_bundles": []}', "holds no attestation"),
        (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}', "is malformed"),
    ],
)
def test_malformed_evidence_exits_2(tmp_path: Path, content: bytes, words: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code, output = run(SDIST, "--publisher", GH, "--attestation", bad)
    assert code == 2
    assert words in output
    assert "Traceback" not in output
    assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1


@needs_fixtures
def test_oversized_evidence_exits_2(tmp_path: Path) -> None:
    from fromsource.attest.evidence import MAX_EVIDENCE_BYTES

    big = tmp_path / "big.attestation"
    with big.open("wb") as handle:
        handle.write(b" " * (MAX_EVIDENCE_BYTES + 1))
    code, output = run(SDIST, "--publisher", GH, "--attestation", big)
    assert code == 2
    assert f"larger than {MAX_EVIDENCE_BYTES} bytes" in output


def test_missing_dist_exits_2(tmp_path: Path) -> None:
    code, output = run(tmp_path / "nope-1.0.tar.gz", "--publisher", GH)
    assert code == 2
    assert "does not exist" in output


@needs_fixtures
def test_no_evidence_found_exits_1(tmp_path: Path) -> None:
    alone = tmp_path / SDIST.name
    shutil.copyfile(SDIST, alone)
    code, output = run(alone, "--publisher", GH)
    assert code == 1
    assert "no publisher evidence found" in output


# -- where evidence is found ---------------------------------------------------------------


@needs_fixtures
def test_evidence_beside_the_file_and_in_the_workspace_store(tmp_path: Path) -> None:
    from fromsource.attest.evidence import store_evidence
    from fromsource.workspace import Workspace

    dist = tmp_path / "dl" / SDIST.name
    dist.parent.mkdir()
    shutil.copyfile(SDIST, dist)
    shutil.copyfile(PROVENANCE, dist.with_name(dist.name + ".provenance"))
    code, data = run_json(dist, "--publisher", GH)
    assert code == 0
    assert data["evidenceKind"] == "pep740-provenance"
    dist.with_name(dist.name + ".provenance").unlink()
    ws = Workspace(tmp_path / "work")
    stored = store_evidence(ws.evidence, hashlib.sha256(dist.read_bytes()).hexdigest(), PUBLISH.read_bytes())
    assert stored.parent.name == hashlib.sha256(dist.read_bytes()).hexdigest()
    code, data = run_json(dist, "--publisher", GH, "--workspace", ws.root)
    assert code == 0
    assert data["evidence"] == str(stored)


@needs_fixtures
def test_environment_needs_the_index_claim(tmp_path: Path) -> None:
    code, output = run(SDIST, "--publisher", GH + "@pypi", "--attestation", PUBLISH)
    assert code == 1
    assert "cannot be checked" in output
    # The index's provenance object names no environment for this publisher.
    code, output = run(SDIST, "--publisher", GH + "@pypi", "--attestation", PROVENANCE)
    assert code == 1
    assert "the index names environment None" in output


# -- offline, hermetic ---------------------------------------------------------------------


@needs_fixtures
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_verification_opens_no_socket_and_touches_no_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    probe = subprocess.run(["unshare", "--net", "--map-root-user", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare --net is not permitted here: {probe.stderr.decode().strip()}")
    result = subprocess.run(
        [
            "unshare",
            "--net",
            "--map-root-user",
            sys.executable,
            "-m",
            "fromsource",
            "evidence",
            "verify",
            str(SDIST),
            "--publisher",
            GH,
            "--attestation",
            str(PROVENANCE),
            "--json",
        ],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["valid"] is True
    assert list(home.iterdir()) == []  # no TUF cache copied, nothing written


def _json_paths(node: object, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _json_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _json_paths(value, (*prefix, index))
    if prefix:
        yield prefix


@needs_fixtures
def test_every_field_of_a_real_attestation_removed_or_retyped_is_one_clean_failure(tmp_path: Path) -> None:
    """Hostile input: each field deleted or given a wrong value; exit 1 or 2, no traceback."""
    import copy

    original = json.loads(PUBLISH.read_bytes())
    bad = tmp_path / "mutated.attestation"
    cases = 0
    for path in list(_json_paths(original)):
        for value in (None, "x", 12345, "delete"):
            doc = copy.deepcopy(original)
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            if value == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            bad.write_text(json.dumps(doc))
            result = CliRunner().invoke(
                main, ["evidence", "verify", str(SDIST), "--publisher", GH, "--attestation", str(bad)]
            )
            assert result.exit_code in (1, 2), (path, value, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit), (path, value)
            cases += 1
    assert cases > 40
