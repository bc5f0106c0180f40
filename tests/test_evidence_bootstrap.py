"""Bootstrap's [publishers] requirement, end to end and offline.

gitlab-oidc-project 0.0.3 is a real sdist with a real production PEP 740 publish attestation
(../shared/sigstore-fixtures) and builds with flit-core only, so the whole path runs here:
a local index on 127.0.0.1 links a PEP 740 provenance object for it (built by the test from
the real attestation), bootstrap checks it before building, records it in the wheel's
provenance, and verify re-checks it from the workspace store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import bootstrap_argv
from fromsource.attest import dsse
from fromsource.cli import main
from tinyindex import Release, serve, sha256

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "sigstore-fixtures"
PA = FIXTURES / "pypi-attestations"
SDIST = PA / "gitlab_oidc_project-0.0.3.tar.gz"
ATTESTATION = PA / "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation"
FLIT = Path(__file__).parent / "data" / "flit_core-3.12.0.tar.gz"
PUBLISHER = "gitlab:facutuesca/gitlab-oidc-project/.gitlab-ci.yml"

pytestmark = pytest.mark.skipif(
    not SDIST.is_file(), reason="real sigstore fixtures live in ../shared/sigstore-fixtures, absent here"
)


def provenance_object(tmp_path: Path) -> Path:
    """The index's PEP 740 provenance object for the sdist, around its real attestation."""
    doc = {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {
                    "kind": "GitLab",
                    "repository": "facutuesca/gitlab-oidc-project",
                    "workflow_filepath": ".gitlab-ci.yml",
                    "environment": None,
                },
                "attestations": [json.loads(ATTESTATION.read_bytes())],
            }
        ],
    }
    path = tmp_path / "gitlab.provenance"
    path.write_text(json.dumps(doc))
    return path


def policy(tmp_path: Path, publisher: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(f'version = 1\n[publishers]\ngitlab-oidc-project = "{publisher}"\n')
    return path


def bootstrap(ws: Path, *args: str | Path) -> Result:
    return CliRunner().invoke(
        main, ["bootstrap", "gitlab-oidc-project==0.0.3", "-w", str(ws), "-j", "1", "--json", *map(str, args)]
    )


def verify(ws: Path, *args: str | Path) -> Result:
    wheel = ws / "wheels" / "gitlab_oidc_project-0.0.3-py3-none-any.whl"
    key = ws / "keys" / "builder.pub"
    return CliRunner().invoke(
        main, ["verify", str(wheel), "-w", str(ws), "--trusted-key", str(key), *map(str, args)]
    )


def sdist_entry(ws: Path) -> dict[str, Any]:
    envelope = dsse.parse_envelopes(
        (ws / "attestations" / "gitlab_oidc_project-0.0.3-py3-none-any.whl.intoto.jsonl").read_bytes(), "x"
    )[0]
    statement = json.loads(envelope.payload)
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    return next(d for d in deps if d["annotations"]["kind"] == "sdist")


def test_index_provenance_is_verified_recorded_stored_and_rechecked(tmp_path: Path) -> None:
    ws = tmp_path / "work"
    releases = {
        "gitlab-oidc-project": [
            Release(SDIST, published_sha256=sha256(SDIST), provenance=provenance_object(tmp_path))
        ],
        "flit-core": [Release(FLIT, published_sha256=sha256(FLIT))],
    }
    with serve(releases) as server:
        result = bootstrap(ws, "--index-url", server.url + "simple/", "--policy", policy(tmp_path, PUBLISHER))
        assert result.exit_code == 0, result.output
        assert any(hit.startswith("/provenance/") for hit in server.hits)
    entry = sdist_entry(ws)["annotations"]["publisherEvidence"]
    assert entry["publisher"] == PUBLISHER
    assert entry["attestationKind"] == "pep740-provenance"
    assert entry["logIndex"] == int(
        json.loads(ATTESTATION.read_bytes())["verification_material"]["transparency_entries"][0]["logIndex"]
    )
    stored = ws / "evidence" / sdist_entry(ws)["digest"]["sha256"] / f"{entry['attestationSha256']}.json"
    assert stored.is_file()

    checked = verify(ws)
    assert checked.exit_code == 0, checked.output
    # The tree row (cropped to the 80 columns of the test terminal); the JSON below is whole.
    assert (
        f"sdist gitlab_oidc_project-0.0.3.tar.gz sha256:{sdist_entry(ws)['digest']['sha256'][:12]} publ"
        in checked.output
    )
    assert "sigstore trusted root" in checked.output
    report = json.loads(verify(ws, "--json").stdout)
    sdist_node = next(c for c in report["wheels"][0]["children"] if c["kind"] == "sdist")
    assert sdist_node["evidence"] == [
        f"published by {PUBLISHER}",
        f"log index {entry['logIndex']}, evidence sha256:{entry['attestationSha256'][:12]} (pep740-provenance)",
    ]
    assert report["sigstoreTrustedRoot"]["source"] == "sigstore package"
    # The SBOM carries it on the sdist component: properties and the evidence with its hash.
    sbom_file = tmp_path / "sbom.json"
    made = CliRunner().invoke(
        main,
        [
            "sbom",
            "-w",
            str(ws),
            "-o",
            str(sbom_file),
            "--validate",
            str(ws / "wheels" / "gitlab_oidc_project-0.0.3-py3-none-any.whl"),
        ],
    )
    assert made.exit_code == 0, made.output
    component = next(
        c
        for c in json.loads(sbom_file.read_text())["components"]
        if c.get("purl", "").endswith("file_name=gitlab_oidc_project-0.0.3.tar.gz")
    )
    props = {p["name"]: p["value"] for p in component["properties"]}
    assert props["fromsource:publisher"] == PUBLISHER
    assert props["fromsource:publisher-log-index"] == str(entry["logIndex"])
    ref = next(
        r for r in component["externalReferences"] if r.get("comment", "").startswith("publisher evidence")
    )
    assert ref["type"] == "attestation"
    assert ref["hashes"][0]["content"] == entry["attestationSha256"]

    # The policy's requirement is re-checked too: another publisher makes the chain invalid.
    wrong = verify(ws, "--policy", policy(tmp_path, "gitlab:facutuesca/other/.gitlab-ci.yml"))
    assert wrong.exit_code == 1
    assert "the policy requires gitlab:facutuesca/other/.gitlab-ci.yml" in wrong.output

    # A re-run needs neither the index's provenance nor --evidence: the store has it.
    with serve(releases) as server:
        again = bootstrap(ws, "--index-url", server.url + "simple/", "--policy", policy(tmp_path, PUBLISHER))
        assert not any(hit.startswith("/provenance/") for hit in server.hits)
    assert again.exit_code == 0, again.output
    assert {p["status"] for p in json.loads(again.stdout)["packages"]} == {"reused"}

    # Tampered stored evidence fails verify offline.
    data = json.loads(stored.read_bytes())
    attestation = data["attestation_bundles"][0]["attestations"][0]
    signature = bytearray(base64.b64decode(attestation["envelope"]["signature"]))
    signature[5] ^= 1
    attestation["envelope"]["signature"] = base64.b64encode(bytes(signature)).decode()
    stored.write_text(json.dumps(data))
    tampered = verify(ws)
    assert tampered.exit_code == 1
    assert "does not have sha256" in tampered.output
    # ...and so does a missing one.
    stored.unlink()
    missing = verify(ws)
    assert missing.exit_code == 1
    assert "not in the workspace evidence store" in missing.output


def test_evidence_dir_is_used_when_the_index_links_none(tmp_path: Path) -> None:
    ws, evidence = tmp_path / "work", tmp_path / "evidence"
    evidence.mkdir()
    shutil.copyfile(ATTESTATION, evidence / ATTESTATION.name)
    with serve(
        {
            "gitlab-oidc-project": [Release(SDIST, published_sha256=sha256(SDIST))],
            "flit-core": [Release(FLIT, published_sha256=sha256(FLIT))],
        }
    ) as server:
        result = bootstrap(
            ws,
            "--index-url",
            server.url + "simple/",
            "--policy",
            policy(tmp_path, PUBLISHER),
            "--evidence",
            evidence,
        )
    assert result.exit_code == 0, result.output
    assert sdist_entry(ws)["annotations"]["publisherEvidence"]["attestationKind"] == "pep740-attestation"
    assert verify(ws).exit_code == 0


@pytest.mark.parametrize(
    ("publisher", "evidence", "words"),
    [
        (
            "gitlab:facutuesca/another-project/.gitlab-ci.yml",
            True,
            "not by gitlab:facutuesca/another-project",
        ),
        (PUBLISHER, False, "no publisher evidence"),
    ],
)
def test_unverified_sdist_stops_before_building(
    tmp_path: Path, publisher: str, evidence: bool, words: str
) -> None:
    ws = tmp_path / "work"
    args: list[str | Path] = ["--policy", policy(tmp_path, publisher)]
    if evidence:
        (tmp_path / "ev").mkdir()
        shutil.copyfile(ATTESTATION, tmp_path / "ev" / ATTESTATION.name)
        args += ["--evidence", tmp_path / "ev"]
    with serve(
        {
            "gitlab-oidc-project": [Release(SDIST, published_sha256=sha256(SDIST))],
            "flit-core": [Release(FLIT, published_sha256=sha256(FLIT))],
        }
    ) as server:
        result = bootstrap(ws, "--index-url", server.url + "simple/", *args)
    assert result.exit_code == 1, result.output
    assert "gitlab-oidc-project: gitlab_oidc_project-0.0.3.tar.gz must be published by" in result.output
    assert words in result.output
    assert "Traceback" not in result.output
    assert not list((ws / "wheels").glob("*.whl"))  # nothing was built
    assert not (ws / "builds").exists() or not any((ws / "builds").iterdir())


def test_evidence_for_another_file_from_the_index_stops(tmp_path: Path) -> None:
    """The index links the pypi-attestations provenance for this sdist: a digest mismatch."""
    ws = tmp_path / "work"
    other = PA / "pypi_attestations-0.0.19.tar.gz.provenance"
    with serve(
        {
            "gitlab-oidc-project": [Release(SDIST, published_sha256=sha256(SDIST), provenance=other)],
            "flit-core": [Release(FLIT, published_sha256=sha256(FLIT))],
        }
    ) as server:
        result = bootstrap(
            ws,
            "--index-url",
            server.url + "simple/",
            "--policy",
            policy(tmp_path, "github:trailofbits/pypi-attestations/release.yml"),
        )
    assert result.exit_code == 1, result.output
    assert "attestation is for 'pypi_attestations-0.0.19.tar.gz'" in result.output


# -- externals admitted by publisher -------------------------------------------------------

RFC_WHEEL = FIXTURES / "sigstore-python" / "bundle_v3_github.whl"  # = rfc8785-0.1.2-py3-none-any.whl
RFC_PUBLISHER = "github:trailofbits/rfc8785.py/release.yml"


def _external_setup(tmp_path: Path, publisher: str, by_digest: bool = False) -> tuple[Path, Path, Path]:
    from bootstrap_helpers import project

    index, evidence = tmp_path / "index", tmp_path / "evidence"
    project(index, "app", build=["rfc8785"])  # rfc8785 must be importable in app's build
    project(index, "rfc8785", "0.1.2", fail=True)  # its sdist is never built: the external is used
    wheel = index / "rfc8785-0.1.2-py3-none-any.whl"
    shutil.copyfile(RFC_WHEEL, wheel)
    evidence.mkdir()
    shutil.copyfile(RFC_WHEEL.with_name(RFC_WHEEL.name + ".sigstore"), evidence / f"{wheel.name}.sigstore")
    policy_file = tmp_path / "policy.toml"
    if by_digest:  # beside a digest: both must hold
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        entry = f'file = "{wheel.name}"\nsha256 = "{digest}"\n'
    else:  # instead of one: any release of rfc8785 its publisher publishes
        entry = 'project = "rfc8785"\n'
    policy_file.write_text(f'version = 1\n[[externals.wheels]]\n{entry}publisher = "{publisher}"\n')
    return index, evidence, policy_file


@pytest.mark.parametrize("by_digest", [False, True], ids=["instead-of-digest", "beside-digest"])
def test_external_admitted_by_publisher(tmp_path: Path, by_digest: bool) -> None:
    index, evidence, policy_file = _external_setup(tmp_path, RFC_PUBLISHER, by_digest)
    ws = tmp_path / "work"
    result = CliRunner().invoke(
        main,
        bootstrap_argv(index, ws, "app", "--policy", str(policy_file), "--evidence", str(evidence), jobs=1),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {p["name"]: p["status"] for p in summary["packages"]} == {"app": "built", "rfc8785": "external"}
    (leaf,) = summary["trust_base"]
    assert leaf["evidence"][-1] == f"published by {RFC_PUBLISHER} (verified; policy {policy_file})"
    assert (f"named by sha256 in {policy_file}" in leaf["evidence"]) is by_digest

    app = next((ws / "wheels").glob("app-*.whl"))
    key = ws / "keys" / "builder.pub"
    checked = CliRunner().invoke(
        main,
        [
            "verify",
            str(app),
            "-w",
            str(ws),
            "--trusted-key",
            str(key),
            "--policy",
            str(policy_file),
            "--json",
        ],
    )
    assert checked.exit_code == 0, checked.output
    (external,) = [c for c in json.loads(checked.stdout)["wheels"][0]["children"] if c["kind"] == "external"]
    assert f"published by {RFC_PUBLISHER}" in external["evidence"]
    # Without its evidence in the store, the external no longer stands.
    shutil.rmtree(ws / "evidence")
    gone = CliRunner().invoke(
        main, ["verify", str(app), "-w", str(ws), "--trusted-key", str(key), "--policy", str(policy_file)]
    )
    assert gone.exit_code == 1
    assert "no publisher evidence found" in gone.output


def test_external_from_another_publisher_stops_the_run(tmp_path: Path) -> None:
    index, evidence, policy_file = _external_setup(tmp_path, "github:trailofbits/rfc8785.py/other.yml")
    ws = tmp_path / "work"
    result = CliRunner().invoke(
        main,
        bootstrap_argv(
            index, ws, "app", "--policy", str(policy_file), "--evidence", str(evidence), jobs=1, as_json=False
        ),
    )
    assert result.exit_code == 1, result.output
    assert "rfc8785: rfc8785-0.1.2-py3-none-any.whl must be published by" in result.output
    assert not list((ws / "wheels").glob("*.whl"))


def test_policy_rejects_bad_external_entries(tmp_path: Path) -> None:
    from fromsource.errors import PolicyFileError
    from fromsource.policy import load_policy

    bad = tmp_path / "p.toml"
    bad.write_text(
        'version = 1\n[[externals.wheels]]\nproject = "x"\npublisher = "nope:y"\n'
        '[[externals.wheels]]\nproject = "x"\nfile = "x-1-py3-none-any.whl"\npublisher = "google:a@b.c"\n'
        '[[externals.wheels]]\nfile = "x-1-py3-none-any.whl"\nsha256 = "zz"\n'
    )
    with pytest.raises(PolicyFileError) as info:
        load_policy(bad)
    text = str(info.value)
    assert "unknown publisher kind 'nope'" in text
    assert "takes no file or sha256" in text
    assert "must be a lowercase sha256" in text


def test_seed_publisher_evidence_is_reported_not_admitting(tmp_path: Path) -> None:
    from fromsource.policy import load_policy
    from fromsource.seeds import check_seed

    seed = tmp_path / "seeds" / "rfc8785-0.1.2-py3-none-any.whl"
    seed.parent.mkdir()
    shutil.copyfile(RFC_WHEEL, seed)
    shutil.copyfile(
        RFC_WHEEL.with_name(RFC_WHEEL.name + ".sigstore"), seed.with_name(seed.name + ".sigstore")
    )
    good, wrong = tmp_path / "good.toml", tmp_path / "wrong.toml"
    good.write_text(f'version = 1\n[publishers]\nrfc8785 = "{RFC_PUBLISHER}"\n')
    wrong.write_text('version = 1\n[publishers]\nrfc8785 = "github:trailofbits/other/release.yml"\n')
    check = check_seed(seed, load_policy(good))
    bundle = json.loads(RFC_WHEEL.with_name(RFC_WHEEL.name + ".sigstore").read_bytes())
    log_index = int(bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"])
    assert check.publisher == (f"published by {RFC_PUBLISHER} (sigstore-bundle, log index {log_index})",)
    assert not check.accepted  # publisher evidence alone admits no seed
    refused = check_seed(seed, load_policy(wrong))
    assert refused.publisher[0].startswith("not published by github:trailofbits/other/release.yml")
