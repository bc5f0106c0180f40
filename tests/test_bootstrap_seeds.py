"""Bootstrap through build cycles with seeds: stop with the admit command, admit, build in two
stages, compare, verify. Fixture projects use the in-tree tinybackend; the "published" seed
wheel is made by calling that backend directly, as a project's maintainer would."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from packaging.tags import sys_tags

from bootstrap_helpers import bootstrap_argv, project
from fromsource.attest.keys import KeyPair, generate_keypair
from fromsource.cli import main


def _bootstrap(index: Path, ws: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        bootstrap_argv(index, ws, *args),
    )


def _with_source(sdist: Path) -> Path:
    """Ship the package's module in the sdist, as real projects do (tinybackend writes the
    same bytes into the wheel), so inspect can prove the wheel readable."""
    with tarfile.open(sdist) as tar:
        members = [(m, _read(tar, m)) for m in tar.getmembers() if m.isfile()]
    top = members[0][0].name.split("/")[0]
    config = json.loads(next(d for m, d in members if m.name.endswith("/tiny.json")))
    module = re.sub(r"[-_.]+", "_", config["name"]).lower()
    extra = tarfile.TarInfo(f"{top}/{module}/__init__.py")
    data = f"VERSION = {config['version']!r}\n".encode()
    extra.size, extra.mtime = len(data), 1_700_000_000
    with tarfile.open(sdist, "w:gz") as tar:
        for member, content in [*members, (extra, data)]:
            tar.addfile(member, io.BytesIO(content))
    return sdist


def _published_wheel(sdist: Path, out: Path) -> Path:
    """Build the wheel the way a maintainer's machine would, outside fromsource."""
    work = out / "unpacked"
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    (root,) = work.iterdir()
    config = json.loads((root / "tiny.json").read_text())
    config["imports"] = []  # the maintainer's environment has the backend already
    config["fail"] = False  # ...and the toolchain this machine lacks
    (root / "tiny.json").write_text(json.dumps(config))
    name = subprocess.run(
        [sys.executable, "-c", f"import tinybackend; print(tinybackend.build_wheel({str(out)!r}))"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return out / name


def _admit(wheel: Path, sdist: Path, key: Path, ws: Path) -> Result:
    return CliRunner().invoke(
        main, ["seed", "admit", str(wheel), "--sdist", str(sdist), "--key", str(key), "-w", str(ws)]
    )


def _policy(path: Path, ws: Path, reviewer: Path, extra: str = "") -> Path:
    path.write_text(
        f'version = 1\n{extra}\n[trust]\nbuilder_keys = ["{ws / "keys" / "builder.pub"}"]\n'
        f'reviewer_keys = ["{reviewer}"]\n'
    )
    return path


def _verify(ws: Path, wheel: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["verify", str(wheel), "-w", str(ws), *args])


@pytest.fixture
def reviewer(tmp_path: Path) -> KeyPair:
    return generate_keypair(tmp_path / "reviewer", "reviewer")


SelfCycle = tuple[Path, Path, Path]  # index, workspace, the sdist


@pytest.fixture
def self_cycle(tmp_path: Path) -> SelfCycle:
    index, ws = tmp_path / "index", tmp_path / "ws"
    sdist = _with_source(
        project(index, "coherent.build", "0.19.1", build=["coherent.build"], requires=["dep"])
    )
    _with_source(project(index, "dep"))
    return index, ws, sdist


def test_self_cycle_end_to_end(self_cycle: SelfCycle, reviewer: KeyPair, tmp_path: Path) -> None:
    index, ws, sdist = self_cycle
    # 1. Without a seed: exit 1, the cycle path and the exact command to admit one.
    first = _bootstrap(index, ws, "coherent.build")
    assert first.exit_code == 1
    assert "coherent.build 0.19.1 -[build-system]-> coherent.build 0.19.1" in first.stderr
    command = (
        f"fromsource seed admit coherent_build-0.19.1-py3-none-any.whl --sdist {ws / 'sources' / sdist.name}"
    )
    assert command in first.stderr.replace("\n", "")

    # 2. The security team reviews the published wheel against the sdist and admits it.
    wheel = _published_wheel(sdist, tmp_path / "published")
    admitted = _admit(wheel, sdist, reviewer.private_path, ws)
    assert admitted.exit_code == 0, admitted.output
    policy = _policy(tmp_path / "policy.toml", ws, reviewer.public_path)

    # 3. Bootstrap with the policy: stage 1 with the seed, stage 2 without, compared.
    result = _bootstrap(index, ws, "coherent.build", "--policy", str(policy))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    reports = {p["name"]: p for p in summary["packages"]}
    coherent = reports["coherent.build"]
    assert coherent["status"] == "built"
    assert coherent["seed"] == wheel.name
    assert coherent["stage1_equivalent"] is True
    assert coherent["seed_equivalent"] is True
    assert reports["dep"]["status"] == "built" and reports["dep"]["seed"] is None
    (seed,) = summary["trust_base"]
    assert seed["kind"] == "seed" and seed["wheel"] == wheel.name
    assert seed["evidence"] == ["review: readable"]

    final = ws / "wheels" / "coherent_build-0.19.1-py3-none-any.whl"
    stage1 = ws / "stage1" / final.name
    assert final.is_file() and stage1.is_file()
    assert (ws / "attestations" / f"{final.name}.rebuild.intoto.jsonl").read_text().count("\n") == 2

    # 4. verify: the chain runs stage 2 -> stage 1 -> seed, and needs the policy to accept it.
    ok = _verify(ws, final, "--policy", str(policy), "--json")
    assert ok.exit_code == 0, ok.output
    root = json.loads(ok.stdout)["wheels"][0]
    stage1_node = next(c for c in root["children"] if c["kind"] == "wheel" and c["name"] == final.name)
    assert stage1_node["attestation"].endswith(f"stage1/{final.name}.intoto.jsonl")
    assert any(c["kind"] == "seed" for c in stage1_node["children"])
    no_policy = _verify(ws, final, "--trusted-key", str(ws / "keys" / "builder.pub"))
    assert no_policy.exit_code == 1
    assert "pass --policy" in no_policy.output

    # 6. The SBOM has both builds of the byte-identical twins: stage 2 depends on stage 1,
    #    whose inputs hold the seed.
    bom = tmp_path / "bom.cdx.json"
    sbom = CliRunner().invoke(
        main, ["sbom", "-w", str(ws), "-o", str(bom), "--validate", "--policy", str(policy)]
    )
    assert sbom.exit_code == 0, sbom.output
    workflow = json.loads(bom.read_text())["formulation"][0]["workflows"][0]
    tasks = {t["bom-ref"]: t for t in workflow["tasks"]}
    coherent_tasks = [r for r in tasks if "coherent_build-0.19.1-py3-none-any.whl" in r]
    assert len(coherent_tasks) == 2
    depends = {d["ref"]: d.get("dependsOn", []) for d in workflow["taskDependencies"]}
    (stage2,) = [r for r in coherent_tasks if "@" not in r.rsplit("#", 1)[-1]]
    (stage1,) = [r for r in depends[stage2] if r in coherent_tasks]
    components = {c["bom-ref"]: c for c in json.loads(bom.read_text())["components"]}
    seed_inputs = [
        i["resource"]["ref"]
        for i in tasks[stage1]["inputs"]
        if {"name": "fromsource:seed", "value": "true"}
        in components.get(i["resource"]["ref"], {}).get("properties", [])
    ]
    assert len(seed_inputs) == 1

    # 5. A re-run with nothing changed reuses both stages.
    again = _bootstrap(index, ws, "coherent.build", "--policy", str(policy))
    assert again.exit_code == 0, again.output
    assert {p["status"] for p in json.loads(again.stdout)["packages"]} == {"reused"}


def test_three_package_cycle_with_one_seed(tmp_path: Path, reviewer: KeyPair) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "top", build=["a"])
    sdist_a = _with_source(project(index, "a", build=["b"]))
    project(index, "b", build=["c"])
    project(index, "c", build=["a"])
    first = _bootstrap(index, ws, "top")
    assert first.exit_code == 1
    assert "-[build-system]->" in first.stderr and "would break it" in first.stderr

    assert (
        _admit(_published_wheel(sdist_a, tmp_path / "pub"), sdist_a, reviewer.private_path, ws).exit_code == 0
    )
    policy = _policy(tmp_path / "policy.toml", ws, reviewer.public_path)
    result = _bootstrap(index, ws, "top", "--policy", str(policy))
    assert result.exit_code == 0, result.output
    reports = {p["name"]: p for p in json.loads(result.stdout)["packages"]}
    for member in ("a", "b", "c"):  # every member rebuilt from stage-1 wheels and compared
        assert reports[member]["stage1_equivalent"] is True, member
        assert (ws / "stage1" / f"{member}-1.0-py3-none-any.whl").is_file()
    assert reports["a"]["seed_equivalent"] is True
    assert reports["top"]["stage1_wheel"] is None  # outside the cycle: built once
    for wheel in sorted((ws / "wheels").glob("*.whl")):
        checked = _verify(ws, wheel, "--policy", str(policy))
        assert checked.exit_code == 0, checked.output


def _refusal(
    self_cycle: SelfCycle,
    reviewer: KeyPair,
    tmp_path: Path,
    *,
    policy_extra: str = "",
    reviewer_key: Path | None = None,
    tamper: bool = False,
) -> Result:
    index, ws, sdist = self_cycle
    wheel = _published_wheel(sdist, tmp_path / "published")
    assert _admit(wheel, sdist, reviewer.private_path, ws).exit_code == 0
    if tamper:
        seed = ws / "seeds" / wheel.name
        seed.write_bytes(seed.read_bytes() + b"\0")
    policy = _policy(tmp_path / "policy.toml", ws, reviewer_key or reviewer.public_path, policy_extra)
    return _bootstrap(index, ws, "coherent.build", "--policy", str(policy))


def test_seed_signed_by_an_untrusted_key_is_refused(
    self_cycle: SelfCycle, reviewer: KeyPair, tmp_path: Path
) -> None:
    stranger = generate_keypair(tmp_path / "stranger", "stranger")
    result = _refusal(self_cycle, reviewer, tmp_path, reviewer_key=stranger.public_path)
    assert result.exit_code == 1
    assert "refused: " in result.stderr and "signature not valid" in result.stderr


def test_seed_whose_bytes_differ_from_the_review_is_refused(
    self_cycle: SelfCycle, reviewer: KeyPair, tmp_path: Path
) -> None:
    result = _refusal(self_cycle, reviewer, tmp_path, tamper=True)
    assert result.exit_code == 1
    assert "differs from the digest that was attested" in result.stderr


def test_expired_policy_is_refused(self_cycle: SelfCycle, reviewer: KeyPair, tmp_path: Path) -> None:
    result = _refusal(self_cycle, reviewer, tmp_path, policy_extra="expires = 2020-01-01T00:00:00Z")
    assert result.exit_code == 1
    assert "expired" in result.stderr


def test_seed_for_a_package_in_no_cycle_is_refused(
    self_cycle: SelfCycle, reviewer: KeyPair, tmp_path: Path
) -> None:
    index, ws, _sdist = self_cycle
    dep_sdist = index / "dep-1.0.tar.gz"
    assert (
        _admit(_published_wheel(dep_sdist, tmp_path / "dep"), dep_sdist, reviewer.private_path, ws).exit_code
        == 0
    )
    result = _refusal(self_cycle, reviewer, tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    (refused,) = summary["seeds_refused"]
    assert refused["seed"] == "dep-1.0-py3-none-any.whl"
    assert "in no build cycle" in refused["reason"]
    dep = next(p for p in summary["packages"] if p["name"] == "dep")
    assert dep["status"] == "built" and dep["seed"] is None  # built from source, seed unused


def test_external_named_by_digest_replaces_a_build_that_cannot_run_here(
    tmp_path: Path, reviewer: KeyPair
) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", build=["rusty"])
    rusty = project(index, "rusty", fail=True)  # stands for a Rust extension without its crates
    built = _published_wheel(rusty, tmp_path / "published")
    # Published as a compiled wheel would be (externals are suggested for compiled code only).
    tag = next(str(t) for t in sys_tags() if t.platform != "any")
    published = built.rename(index / built.name.replace("py3-none-any", tag))

    first = _bootstrap(index, ws, "app", "--keep-going")
    assert first.exit_code == 3
    summary = json.loads(first.stdout)
    (suggestion,) = summary["externals_suggested"]
    assert suggestion["package"] == "rusty 1.0"
    assert published.name in suggestion["line"]

    policy = _policy(tmp_path / "policy.toml", ws, reviewer.public_path)
    policy.write_text(policy.read_text() + f"[externals]\nwheels = [{suggestion['line']}]\n")
    result = _bootstrap(index, ws, "app", "--policy", str(policy))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    statuses = {p["name"]: p["status"] for p in summary["packages"]}
    assert statuses == {"app": "built", "rusty": "external"}
    (external,) = summary["trust_base"]
    assert external["kind"] == "external" and external["wheel"] == published.name
    assert (ws / "externals" / published.name).is_file()  # fetched, digest checked

    app = next((ws / "wheels").glob("app-*.whl"))
    ok = _verify(ws, app, "--policy", str(policy), "--json")
    assert ok.exit_code == 0, ok.output
    (leaf,) = [c for c in json.loads(ok.stdout)["wheels"][0]["children"] if c["kind"] == "external"]
    assert leaf["name"] == published.name
    without = _verify(ws, app, "--trusted-key", str(ws / "keys" / "builder.pub"))
    assert without.exit_code == 1  # an external is trusted only where a policy names it


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()
