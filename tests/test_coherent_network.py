"""The real coherent.build 0.19.1 build cycle, from the clear error to a verified build.

`[build-system] requires = ['coherent.build']`: the package builds itself. Against the public
index this needs two constraints today (measured 2026-11): coherent.build pinned to 0.19.1
(else its build environment resolves the newest release, which builds with flit-core: no
cycle) and platformdirs below 4.14.6 (newer ones build with a backend the index does not
serve). The closure pulls Rust extensions (cryptography, pydantic-core, uv-build) whose crates
this machine cannot download: they enter as digest-pinned externals, as a user would add them
from the run's own suggestions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import DATA
from fromsource.attest.keys import generate_keypair
from fromsource.cli import main

pytestmark = pytest.mark.network

RUST = {"cryptography", "pydantic-core", "pydantic_core", "uv-build", "uv_build"}
WHEEL = "coherent_build-0.19.1-py3-none-any.whl"


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_coherent_build_cycle_from_error_to_verified_build(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("coherent.build==0.19.1\nplatformdirs<4.14.6\n")
    bootstrap = ["bootstrap", "coherent.build==0.19.1", "-w", str(ws), "-c", str(constraints), "-j", "2"]

    # 1. The cycle, its path, and the exact admit command.
    first = _run(*bootstrap)
    assert first.exit_code == 1, first.output
    assert "coherent.build 0.19.1 -[build-system]-> coherent.build 0.19.1" in first.stderr
    assert f"fromsource seed admit {WHEEL} --sdist" in first.stderr.replace("\n", "")

    # 2. A security team reviews the published wheel against the sdist and admits it.
    reviewer = generate_keypair(tmp_path / "reviewer", "reviewer")
    sdist = ws / "sources" / "coherent_build-0.19.1.tar.gz"
    admitted = _run(
        "seed",
        "admit",
        str(DATA / WHEEL),
        "--sdist",
        str(sdist),
        "--key",
        str(reviewer.private_path),
        "-w",
        str(ws),
        "--json",
    )
    assert admitted.exit_code == 0, admitted.output
    assert json.loads(admitted.stdout)["detail"] == "readable"
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[trust]\nbuilder_keys = ["{ws / "keys" / "builder.pub"}"]\n'
        f'reviewer_keys = ["{reviewer.public_path}"]\n'
    )

    # 3. With the seed the cycle is broken; what cannot be built here is named, with the
    #    policy lines that would admit the published wheels.
    second = _run(*bootstrap, "--policy", str(policy), "--keep-going", "--json")
    assert second.exit_code in (0, 3), second.output
    summary = json.loads(second.stdout)
    if second.exit_code == 3:
        lines = [
            s["line"] for s in summary["externals_suggested"] if s["package"].split(" ")[0].lower() in RUST
        ]
        assert lines, summary["externals_suggested"]
        policy.write_text(policy.read_text() + "[externals]\nwheels = [\n  " + ",\n  ".join(lines) + "\n]\n")
        third = _run(*bootstrap, "--policy", str(policy), "--json")
        assert third.exit_code == 0, third.output
        summary = json.loads(third.stdout)

    # 4. Stage 2: coherent.build rebuilt without the seed, and the seed reproduces from source.
    coherent = next(p for p in summary["packages"] if p["name"] == "coherent.build")
    assert coherent["seed"] == WHEEL
    assert coherent["stage1_equivalent"] is True
    assert coherent["seed_equivalent"] is True
    kinds = {t["kind"] for t in summary["trust_base"]}
    assert "seed" in kinds

    # 5. Every wheel verifies under the policy, down to sdists, the seed and the externals.
    wheels = sorted(str(w) for w in (ws / "wheels").glob("*.whl"))
    assert len(wheels) > 50
    verified = _run("verify", *wheels, "-w", str(ws), "--policy", str(policy), "--json")
    assert verified.exit_code == 0, verified.output[-3000:]


ASSEMBLE_RECIPE = [
    "--layout",
    ".=coherent/build",
    "--exclude",
    "tests/*",
    "--exclude",
    "README.md",
    "--exclude",
    "PKG-INFO",
    "--exclude",
    "pyproject.toml",
]


def test_coherent_build_cycle_broken_by_a_source_seed_under_strict_rules(tmp_path: Path) -> None:
    """No pre-built Python wheel at all: the seed is assembled from the sdist, the policy takes
    no reviewed seed, and the published wheel is only compared with stage 2."""
    ws = tmp_path / "ws"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("coherent.build==0.19.1\nplatformdirs<4.14.6\n")
    bootstrap = ["bootstrap", "coherent.build==0.19.1", "-w", str(ws), "-c", str(constraints), "-j", "2"]

    # 1. The cycle error offers seed assemble first, with the layout coherent.build needs.
    first = _run(*bootstrap)
    assert first.exit_code == 1, first.output
    sdist = ws / "sources" / "coherent_build-0.19.1.tar.gz"
    suggested = (
        f"fromsource seed assemble {sdist} --layout .=coherent/build --exclude 'tests/*' "
        "--exclude README.md --exclude PKG-INFO --exclude pyproject.toml"
    )
    assert suggested in " ".join(first.stderr.split())

    # 2. Assemble the seed from the sdist's own files.
    assembler = generate_keypair(tmp_path / "assembler", "assembler")
    assembled = _run(
        "seed",
        "assemble",
        str(sdist),
        *ASSEMBLE_RECIPE,
        "--key",
        str(assembler.private_path),
        "-w",
        str(ws),
        "--json",
    )
    assert assembled.exit_code == 0, assembled.output
    assert len(json.loads(assembled.stdout)["files"]) == 7

    # 3. policies/strict.toml's rules: sandboxed builds, source or provenance seeds only.
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f"version = 1\nexpires = 2027-12-31T00:00:00Z\n[trust]\nbuilder_keys = "
        f'["{ws / "keys" / "builder.pub"}"]\n[build]\nrequire_isolation = true\n'
        'require_sandbox = true\n[seeds]\nevidence = ["source", "provenance"]\n'
    )
    second = _run(*bootstrap, "--policy", str(policy), "--keep-going", "--json")
    assert second.exit_code in (0, 3), second.output
    summary = json.loads(second.stdout)
    if second.exit_code == 3:
        lines = [
            s["line"] for s in summary["externals_suggested"] if s["package"].split(" ")[0].lower() in RUST
        ]
        assert lines, summary["externals_suggested"]
        policy.write_text(policy.read_text() + "[externals]\nwheels = [\n  " + ",\n  ".join(lines) + "\n]\n")
        third = _run(*bootstrap, "--policy", str(policy), "--json")
        assert third.exit_code == 0, third.output
        summary = json.loads(third.stdout)

    # 4. Stage 2 equals stage 1; the published wheel reproduces from source.
    coherent = next(p for p in summary["packages"] if p["name"] == "coherent.build")
    assert coherent["seed"] == WHEEL and coherent["seed_origin"] == "source"
    assert coherent["stage1_equivalent"] is True
    assert coherent["published"]["wheel"] == WHEEL
    assert coherent["published"]["equivalent"] is True, coherent["published"]

    # 5. The trust base: one source seed and the Rust externals, no pre-built Python wheel.
    seeds = [t for t in summary["trust_base"] if t["kind"] == "seed"]
    externals = [t for t in summary["trust_base"] if t["kind"] == "external"]
    assert [(s["origin"], s["wheel"]) for s in seeds] == [("source", WHEEL)]
    assert externals and all(e["name"].split(" ")[0].lower() in RUST for e in externals)

    # 6. verify: stage 2 -> stage 1 -> source seed -> sdist, under the policy.
    wheels = sorted(str(w) for w in (ws / "wheels").glob("*.whl"))
    verified = _run("verify", *wheels, "-w", str(ws), "--policy", str(policy), "--json")
    assert verified.exit_code == 0, verified.output[-3000:]
    root = next(w for w in json.loads(verified.stdout)["wheels"] if w["name"] == WHEEL)
    stage1 = next(c for c in root["children"] if c["kind"] == "wheel" and c["name"] == WHEEL)
    (seed,) = [c for c in stage1["children"] if c["kind"] == "seed"]
    assert seed["origin"] == "source"
    assert [c["name"] for c in seed["children"]] == [sdist.name]
