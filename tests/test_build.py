"""The build slice on real sdists: flit-core builds itself, packaging needs flit-core."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import DATA, PACKAGES, make_sdist
from fromsource import sandbox
from fromsource.attest.keys import KeyPair, load_signer
from fromsource.attest.provenance import BUILD_TYPE, NETWORK_ISOLATED, SLSA_PROVENANCE, STATEMENT_TYPE
from fromsource.build import build_sdist, read_build_system
from fromsource.cli import main
from fromsource.errors import BuildError, MissingRequirementError
from fromsource.fileutil import sha256_file
from fromsource.workspace import Workspace

MANIFEST = {e["file"]: e for e in json.loads((DATA / "MANIFEST.json").read_text())}


def _statement(attestation: Path) -> dict[str, Any]:
    envelope = json.loads(attestation.read_text().splitlines()[0])
    loaded: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return loaded


def test_packaging_attestation_records_the_chain(built_workspace: Path) -> None:
    ws = Workspace(built_workspace)
    wheel = ws.wheels / "packaging-24.2-py3-none-any.whl"
    flit = ws.wheels / "flit_core-3.12.0-py3-none-any.whl"
    statement = _statement(ws.attestation_for(wheel.name))

    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == SLSA_PROVENANCE
    assert statement["subject"] == [{"name": wheel.name, "digest": {"sha256": sha256_file(wheel)}}]
    definition = statement["predicate"]["buildDefinition"]
    assert definition["buildType"] == BUILD_TYPE
    assert definition["externalParameters"]["requirement"] == "packaging==24.2"
    sdist_sha = MANIFEST["packaging-24.2.tar.gz"]["sha256"]
    assert definition["externalParameters"]["sdist"]["digest"]["sha256"] == sdist_sha
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps["packaging-24.2.tar.gz"]["digest"]["sha256"] == sdist_sha
    flit_dep = deps[flit.name]
    assert flit_dep["digest"]["sha256"] == sha256_file(flit)
    assert flit_dep["annotations"]["edge"] == "build-system"
    assert flit_dep["annotations"]["attestationSha256"] == sha256_file(ws.attestation_for(flit.name))
    assert any(d["annotations"]["kind"] == "interpreter" for d in deps.values())
    assert definition["internalParameters"]["isolation"] == sandbox.probe().level
    log_digest = statement["predicate"]["runDetails"]["byproducts"][0]["digest"]["sha256"]
    assert log_digest == sha256_file(built_workspace / "builds" / "packaging-24.2" / "build.log")


def test_flit_core_builds_itself_with_no_build_dependencies(built_workspace: Path) -> None:
    ws = Workspace(built_workspace)
    statement = _statement(ws.attestation_for("flit_core-3.12.0-py3-none-any.whl"))
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    kinds = [d["annotations"]["kind"] for d in deps]
    assert kinds == ["sdist", "interpreter"]


@pytest.mark.parametrize("name", ["flit_core-3.12.0-py3-none-any.whl", "packaging-24.2-py3-none-any.whl"])
def test_built_wheel_has_the_published_files(built_workspace: Path, name: str) -> None:
    # Outside .dist-info: the published wheel's 24.2 came from an older flit-core, whose
    # license layout differs; the importable files must be the same bytes.
    with zipfile.ZipFile(built_workspace / "wheels" / name) as ours, zipfile.ZipFile(DATA / name) as theirs:
        code = sorted(n for n in theirs.namelist() if ".dist-info/" not in n)
        assert code == sorted(n for n in ours.namelist() if ".dist-info/" not in n)
        assert len(code) > 10
        for member in code:
            assert ours.read(member) == theirs.read(member), member


def test_simple_index_is_installable_by_pip(built_workspace: Path, tmp_path: Path) -> None:
    index = (built_workspace / "wheels" / "simple").as_uri()
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--index-url",
            index,
            "--target",
            str(tmp_path / "t"),
            "packaging==24.2",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t" / "packaging" / "version.py").is_file()


def test_missing_build_requirement_gives_one_clear_message(tmp_path: Path, keypair: KeyPair) -> None:
    result = CliRunner().invoke(
        main,
        [
            "build",
            str(DATA / "packaging-24.2.tar.gz"),
            "--workspace",
            str(tmp_path / "w"),
            "--key",
            str(keypair.private_path),
        ],
    )
    assert result.exit_code == 3
    assert "flit_core>=3.3" in result.output
    assert "no wheel in the workspace" in result.output
    assert "[build-system]" in result.output
    assert "Traceback" not in result.output
    assert not list((tmp_path / "w" / "wheels").glob("*.whl"))


def test_sandbox_has_no_network_no_secrets_and_a_source_date(
    tmp_path: Path, keypair: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("PIP_INDEX_URL", "file:///nowhere")
    sdist = make_sdist(PACKAGES / "probe", tmp_path / "src", "probe", "1.0")
    result = build_sdist(sdist, Workspace(tmp_path / "w"), load_signer(keypair.private_path))
    with zipfile.ZipFile(result.wheel) as wheel:
        probe = json.loads(wheel.read("probe/sandbox.json"))
    assert not {"GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "PIP_INDEX_URL"} & set(probe["env"])
    assert probe["source_date_epoch"] == "1700000000"
    # tools a build-env wheel installs (uv-build's binary, say) are on PATH, as under pip
    assert probe["path0"].endswith("/env/bin")
    if sandbox.probe().level in NETWORK_ISOLATED:
        assert probe["interfaces"] == ["lo"]
    assert result.isolation == sandbox.probe().level


def test_failing_backend_reports_the_log(tmp_path: Path, keypair: KeyPair) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "be"\nbackend-path = ["."]\n'
    )
    (project / "be.py").write_text(
        "def build_wheel(d, c=None, m=None):\n    raise RuntimeError('deliberate failure')\n"
    )
    sdist = make_sdist(project, tmp_path / "src", "broken", "1.0")
    with pytest.raises(BuildError) as info:
        build_sdist(sdist, Workspace(tmp_path / "w"), load_signer(keypair.private_path))
    assert "build_wheel failed" in str(info.value)
    assert "deliberate failure" in str(info.value)
    assert not list((tmp_path / "w" / "wheels").glob("*.whl"))
    assert not list((tmp_path / "w" / "attestations").iterdir())


def test_missing_backend_module_is_a_missing_requirement(tmp_path: Path, keypair: KeyPair) -> None:
    project = tmp_path / "nobackend"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "not_installed_backend"\n'
    )
    sdist = make_sdist(project, tmp_path / "src", "nobackend", "1.0")
    with pytest.raises(MissingRequirementError, match="not_installed_backend"):
        build_sdist(sdist, Workspace(tmp_path / "w"), load_signer(keypair.private_path))


def test_unattested_wheel_never_enters_a_build(tmp_path: Path, keypair: KeyPair) -> None:
    ws = Workspace(tmp_path / "w").create()
    (ws.wheels / "flit_core-3.12.0-py3-none-any.whl").write_bytes(
        (DATA / "flit_core-3.12.0-py3-none-any.whl").read_bytes()
    )
    with pytest.raises(MissingRequirementError, match="without an attestation"):
        build_sdist(DATA / "packaging-24.2.tar.gz", ws, load_signer(keypair.private_path))


def test_build_system_defaults_to_legacy_setuptools(tmp_path: Path) -> None:
    system = read_build_system(tmp_path)
    assert system.backend == "setuptools.build_meta:__legacy__"
    assert [str(r) for r in system.requires] == ["setuptools>=40.8.0"]


def test_invalid_pyproject_is_a_build_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[build-system\n")
    with pytest.raises(BuildError, match="not valid TOML"):
        read_build_system(tmp_path)


def test_cli_build_generates_a_key_on_first_use(tmp_path: Path) -> None:
    sdist = make_sdist(PACKAGES / "probe", tmp_path / "src", "probe", "1.0")
    result = CliRunner().invoke(main, ["build", str(sdist), "-w", str(tmp_path / "w"), "--json"])
    assert result.exit_code == 0, result.output
    assert "generated builder key" in result.output
    assert (tmp_path / "w" / "keys" / "builder.key").stat().st_mode & 0o777 == 0o600
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert payload["sha256"] == sha256_file(Path(payload["wheel"]))
