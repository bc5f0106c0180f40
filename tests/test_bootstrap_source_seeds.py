"""Build cycles broken by source seeds: no pre-built artifact, stage 1 and stage 2, the
published wheel compared, verify re-assembling the seed. Fixture projects use the in-tree
tinybackend; their sdists ship the package's module (the bytes tinybackend writes)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import bootstrap_argv, project
from fromsource.attest.keys import KeyPair, generate_keypair
from fromsource.cli import main
from test_bootstrap_seeds import _published_wheel

FLAT_RECIPE = [
    "--layout",
    ".=coherent_build",
    "--exclude",
    "PKG-INFO",
    "--exclude",
    "pyproject.toml",
    "--exclude",
    "tiny.json",
    "--exclude",
    "tinybackend.py",
]


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _bootstrap(index: Path, ws: Path, *args: str) -> Result:
    return _run(*bootstrap_argv(index, ws, *args))


def _add(sdist: Path, files: dict[str, str]) -> Path:
    """Add files below the sdist's top directory (as its maintainer ships the sources)."""
    with tarfile.open(sdist) as tar:
        members = [(m, _read(tar, m)) for m in tar.getmembers() if m.isfile()]
    top = members[0][0].name.split("/")[0]
    for name, text in files.items():
        info = tarfile.TarInfo(f"{top}/{name}")
        info.size, info.mtime, info.mode = len(text.encode()), 1_700_000_000, 0o644
        members.append((info, text.encode()))
    with tarfile.open(sdist, "w:gz") as tar:
        for member, content in members:
            tar.addfile(member, io.BytesIO(content))
    return sdist


def _policy(path: Path, ws: Path, evidence: str = '["source"]') -> Path:
    """Strict-like: no reviewer keys, and only a source seed may break a cycle."""
    path.write_text(
        f'version = 1\n[trust]\nbuilder_keys = ["{ws / "keys" / "builder.pub"}"]\n'
        f"[seeds]\nevidence = {evidence}\n"
    )
    return path


@pytest.fixture
def assembler(tmp_path: Path) -> KeyPair:
    return generate_keypair(tmp_path / "assembler", "assembler")


def test_self_cycle_broken_by_a_source_seed_with_a_flat_layout(tmp_path: Path, assembler: KeyPair) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    # coherent.build's shape: the sdist's top directory is the package.
    sdist = _add(
        project(index, "coherent.build", "0.19.1", build=["coherent.build"], requires=["dep"]),
        {"__init__.py": "VERSION = '0.19.1'\n"},
    )
    project(index, "dep")
    published = _published_wheel(sdist, tmp_path / "maintainer")
    published = published.rename(index / published.name)  # the index serves the published wheel

    # 1. The cycle error offers seed assemble first, with the layout this sdist needs.
    first = _bootstrap(index, ws, "coherent.build")
    assert first.exit_code == 1
    text = first.stderr.replace("\n", " ")
    assemble_at, admit_at = text.find("fromsource seed assemble"), text.find("fromsource seed admit")
    assert 0 < assemble_at < admit_at, text
    # (the import path a dotted name suggests; this fixture's backend imports coherent_build)
    assert (
        f"fromsource seed assemble {ws / 'sources' / sdist.name} --layout .=coherent/build "
        "--exclude PKG-INFO --exclude pyproject.toml"
    ) in " ".join(text.split())

    # 2. Assemble the seed from the sdist bootstrap fetched: no pre-built file involved.
    assembled = _run(
        "seed",
        "assemble",
        str(ws / "sources" / sdist.name),
        *FLAT_RECIPE,
        "--key",
        str(assembler.private_path),
        "-w",
        str(ws),
        "--json",
    )
    assert assembled.exit_code == 0, assembled.output
    seed_name = Path(json.loads(assembled.stdout)["seed"]).name
    assert seed_name == "coherent_build-0.19.1-py3-none-any.whl"

    # 3. A policy that takes no pre-built seed: stage 1 with the source seed, stage 2 without.
    policy = _policy(tmp_path / "policy.toml", ws)
    result = _bootstrap(index, ws, "coherent.build", "--policy", str(policy))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    coherent = next(p for p in summary["packages"] if p["name"] == "coherent.build")
    assert coherent["seed"] == seed_name and coherent["seed_origin"] == "source"
    assert coherent["stage1_equivalent"] is True
    # The seed differs from the backend's own wheel only where it must: its dist-info.
    assert all(".dist-info/" in name for name in coherent["seed_differences"])
    assert coherent["published"]["wheel"] == published.name
    assert coherent["published"]["equivalent"] is True
    (seed,) = summary["trust_base"]
    assert seed["kind"] == "seed" and seed["origin"] == "source"
    assert seed["evidence"] == [f"source: re-assembled from {sdist.name}"]
    final = ws / "wheels" / "coherent_build-0.19.1-py3-none-any.whl"
    rebuild = (ws / "attestations" / f"{final.name}.rebuild.intoto.jsonl").read_text().splitlines()
    assert len(rebuild) == 3  # stage 1, the seed, and the published wheel

    human = _run(
        "bootstrap",
        "coherent.build",
        "--find-links",
        str(index),
        "--no-index",
        "-w",
        str(ws),
        "--policy",
        str(policy),
    )
    assert human.exit_code == 0, human.output
    assert f"published wheel {published.name} reproduces from source" in human.stdout
    assert "trust base: 1 seed(s) (1 source), 0 external(s)" in human.stdout

    # 4. verify: stage 2 -> stage 1 -> source seed -> sdist, the seed re-assembled on the way.
    ok = _run("verify", str(final), "-w", str(ws), "--policy", str(policy), "--json")
    assert ok.exit_code == 0, ok.output
    root = json.loads(ok.stdout)["wheels"][0]
    stage1 = next(c for c in root["children"] if c["kind"] == "wheel" and c["name"] == final.name)
    (seed_node,) = [c for c in stage1["children"] if c["kind"] == "seed"]
    assert seed_node["origin"] == "source"
    assert seed_node["children"] == [
        {
            "name": sdist.name,
            "kind": "sdist",
            "sha256": hashlib.sha256(sdist.read_bytes()).hexdigest(),
            "edge": None,
            "valid": True,
            "problems": [],
            "evidence": [],
            "ref": False,
            "attestation": None,
            "keyids": [],
            "children": [],
        }
    ]
    text = _run("verify", str(final), "-w", str(ws), "--policy", str(policy)).stdout
    assert f"trust base: seed {seed_name} (source)" in text

    # 5. The SBOM says what the seed is.
    bom = tmp_path / "bom.cdx.json"
    assert _run("sbom", "-w", str(ws), "-o", str(bom), "--validate", "--policy", str(policy)).exit_code == 0
    (component,) = [
        c
        for c in json.loads(bom.read_text())["components"]
        if {"name": "fromsource:seed", "value": "true"} in c.get("properties", [])
    ]
    props = {p["name"]: p["value"] for p in component["properties"]}
    assert props["fromsource:seed-origin"] == "source"
    assert props["fromsource:seed-sdist"].startswith(f"{sdist.name} sha256:")

    # 6. A policy taking reviewed wheels only refuses the source seed, and says why.
    reviews_only = _policy(tmp_path / "reviews.toml", ws, '["review"]')
    refused = _bootstrap(index, tmp_path / "ws", "coherent.build", "--policy", str(reviews_only))
    assert refused.exit_code == 1
    assert "source evidence is not accepted by the policy" in refused.stderr


def test_three_package_cycle_broken_by_a_source_seed_with_a_src_layout(
    tmp_path: Path, assembler: KeyPair
) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "top", build=["a"])
    sdist_a = _add(project(index, "a", build=["b"]), {"src/a/__init__.py": "VERSION = '1.0'\n"})
    project(index, "b", build=["c"])
    project(index, "c", build=["a"])
    assert _bootstrap(index, ws, "top").exit_code == 1

    # The layout is inferred (src/a/ -> a/); no published wheel of a exists anywhere.
    assembled = _run(
        "seed",
        "assemble",
        str(ws / "sources" / sdist_a.name),
        "--key",
        str(assembler.private_path),
        "-w",
        str(ws),
        "--json",
    )
    assert assembled.exit_code == 0, assembled.output
    assert json.loads(assembled.stdout)["layout"] == ["src/a=a"]

    policy = _policy(tmp_path / "policy.toml", ws)
    result = _bootstrap(index, ws, "top", "--policy", str(policy))
    assert result.exit_code == 0, result.output
    reports = {p["name"]: p for p in json.loads(result.stdout)["packages"]}
    for member in ("a", "b", "c"):
        assert reports[member]["stage1_equivalent"] is True, member
    assert reports["a"]["seed_origin"] == "source"
    assert reports["a"]["published"]["equivalent"] is None
    assert "has no wheel of a 1.0" in reports["a"]["published"]["note"]
    assert reports["top"]["stage1_wheel"] is None
    for wheel in sorted((ws / "wheels").glob("*.whl")):
        checked = _run("verify", str(wheel), "-w", str(ws), "--policy", str(policy))
        assert checked.exit_code == 0, checked.output


def test_a_source_seed_of_another_sdist_is_refused(tmp_path: Path, assembler: KeyPair) -> None:
    """Same name and version, different sdist bytes: not the source this run builds."""
    index, ws = tmp_path / "index", tmp_path / "ws"
    sdist = _add(
        project(index, "coherent.build", "0.19.1", build=["coherent.build"]),
        {"coherent_build/__init__.py": "VERSION = '0.19.1'\n"},
    )
    other = _add(
        project(tmp_path / "elsewhere", "coherent.build", "0.19.1", build=["coherent.build"]),
        {"coherent_build/__init__.py": "VERSION = '0.19.1'  # changed\n"},
    )
    assert other.read_bytes() != sdist.read_bytes()
    assert (
        _run("seed", "assemble", str(other), "--key", str(assembler.private_path), "-w", str(ws)).exit_code
        == 0
    )
    result = _bootstrap(index, ws, "coherent.build", "--policy", str(_policy(tmp_path / "p.toml", ws)))
    assert result.exit_code == 1
    assert "not the one being built" in result.stderr


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()
