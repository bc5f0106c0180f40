"""pypi-attestations 0.0.19 bootstrapped from the default index under a [publishers] policy.

Its sdist's PEP 740 publish attestation comes from --evidence (the index these machines reach
links no provenance). Its closure pulls Rust extensions (cryptography, pydantic-core...) whose
crates cannot be downloaded here: they enter as digest-pinned externals from the run's own
suggestions, as in the tutorial.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fromsource.cli import main

pytestmark = pytest.mark.network

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "sigstore-fixtures" / "pypi-attestations"
ATTESTATION = FIXTURES / "pypi_attestations-0.0.19.tar.gz.publish.attestation"
PUBLISHER = "github:trailofbits/pypi-attestations/release.yml"
WHEEL = "pypi_attestations-0.0.19-py3-none-any.whl"


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.skipif(not ATTESTATION.is_file(), reason="real sigstore fixtures live in ../shared, absent here")
def test_publisher_required_for_pypi_attestations(tmp_path: Path) -> None:
    ws, evidence = tmp_path / "ws", tmp_path / "evidence"
    evidence.mkdir()
    shutil.copyfile(ATTESTATION, evidence / ATTESTATION.name)

    # A wrong publisher stops the run before anything is built.
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        'version = 1\n[publishers]\npypi-attestations = "github:trailofbits/pypi-attestations/other.yml"\n'
    )
    refused = _run(
        "bootstrap",
        "pypi-attestations==0.0.19",
        "-w",
        tmp_path / "ws-wrong",
        "--policy",
        wrong,
        "--evidence",
        evidence,
    )
    assert refused.exit_code == 1, refused.output
    assert "pypi-attestations: pypi_attestations-0.0.19.tar.gz must be published by" in refused.output
    assert not list((tmp_path / "ws-wrong" / "wheels").glob("*.whl"))

    policy = tmp_path / "policy.toml"
    policy.write_text(f'version = 1\n[publishers]\npypi-attestations = "{PUBLISHER}"\n')
    # platformdirs>=4.14.6 builds with a backend the index does not serve (see test_coherent_network).
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("platformdirs<4.14.6\n")
    bootstrap: list[str | Path] = [
        "bootstrap",
        "pypi-attestations==0.0.19",
        "-w",
        ws,
        "-j",
        "2",
        "--evidence",
        evidence,
        "-c",
        constraints,
    ]
    first = _run(*bootstrap, "--policy", policy, "--keep-going", "--json")
    assert first.exit_code in (0, 3), first.output[-3000:]
    summary = json.loads(first.stdout)
    if first.exit_code == 3:
        lines = [s["line"] for s in summary["externals_suggested"]]
        assert lines, summary
        policy.write_text(policy.read_text() + "[externals]\nwheels = [\n  " + ",\n  ".join(lines) + "\n]\n")
        second = _run(*bootstrap, "--policy", policy, "--json")
        assert second.exit_code == 0, second.output[-3000:]
    assert (ws / "wheels" / WHEEL).is_file()

    verified = _run(
        "verify",
        ws / "wheels" / WHEEL,
        "-w",
        ws,
        "--trusted-key",
        ws / "keys" / "builder.pub",
        "--policy",
        policy,
        "--json",
    )
    assert verified.exit_code == 0, verified.output[-3000:]
    root = json.loads(verified.stdout)["wheels"][0]
    sdist = next(c for c in root["children"] if c["kind"] == "sdist")
    assert sdist["evidence"][0] == f"published by {PUBLISHER}"
