"""Toolchains granted by policy: a Rust cdylib built by cargo in the sandbox when the policy
grants ``rust`` (rustc and cargo recorded with version and digest), and a failure that says
the toolchain is not granted when it does not."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import PACKAGES, make_sdist
from fromsource import toolchains
from fromsource.archives import iter_members
from fromsource.cli import main
from fromsource.errors import PolicyFileError
from fromsource.fileutil import sha256_file
from fromsource.policy import load_policy

pytestmark = pytest.mark.skipif(
    shutil.which("rustc") is None or shutil.which("cc") is None,
    reason="no Rust toolchain or C linker on this machine",
)


def _bootstrap(index: Path, ws: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        [
            "bootstrap",
            "rustadd",
            "--find-links",
            str(index),
            "--no-index",
            "-w",
            str(ws),
            "-j",
            "1",
            "--json",
            *args,
        ],
    )


def _policy(path: Path, extra: str = "") -> Path:
    path.write_text(f"version = 1\n[build]\n{extra}\n")
    return path


def test_rust_builds_only_when_granted_and_the_toolchain_is_recorded(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    make_sdist(PACKAGES / "rustext", index, "rustadd", "1.0")

    refused = _bootstrap(index, ws, "--policy", str(_policy(tmp_path / "none.toml")))
    assert refused.exit_code == 3
    (package,) = json.loads(refused.stdout)["packages"]
    assert "no rust toolchain is granted" in package["error"]
    assert 'toolchains = ["rust"]' in package["error"]

    granted = _bootstrap(index, ws, "--policy", str(_policy(tmp_path / "rust.toml", 'toolchains = ["rust"]')))
    assert granted.exit_code == 0, granted.output
    (wheel,) = (ws / "wheels").glob("rustadd-1.0-*.whl")
    envelope = json.loads((ws / "attestations" / f"{wheel.name}.intoto.jsonl").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    tools = {d["annotations"]["program"]: d for d in deps if d["annotations"]["kind"] == "toolchain"}
    assert set(tools) == {"rustc", "cargo"}
    rustc = Path(tools["rustc"]["uri"].removeprefix("file://"))
    assert tools["rustc"]["digest"]["sha256"] == sha256_file(rustc)
    version = subprocess.run(
        [str(rustc), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert tools["rustc"]["annotations"]["version"] == version
    sysroot = subprocess.run(
        ["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True
    ).stdout.strip()
    sandbox = statement["predicate"]["buildDefinition"]["internalParameters"].get("sandbox")
    if sandbox is not None and not sysroot.startswith("/usr/"):
        assert sysroot in sandbox["readOnly"]  # bound read-only, by name of the grant
    kinds = {d["annotations"]["kind"] for d in deps}
    assert "system-library" in kinds  # the cdylib links libc: a native input as well

    target = tmp_path / "site"
    for member in iter_members(wheel):
        (target / member.name).parent.mkdir(parents=True, exist_ok=True)
        (target / member.name).write_bytes(member.data)
    run = subprocess.run(
        [sys.executable, "-c", "import rustadd; print(rustadd.add(40, 2))"],
        cwd=target,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "42"

    key = ws / "keys" / "builder.pub"
    shown = CliRunner().invoke(main, ["verify", str(wheel), "-w", str(ws), "--trusted-key", str(key)])
    assert shown.exit_code == 0, shown.output
    assert any(line.split("✓ ")[-1].startswith("toolchain rustc-") for line in shown.stdout.splitlines())


def test_policy_refuses_unknown_toolchains(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="unknown toolchain 'fortran'"):
        load_policy(_policy(tmp_path / "p.toml", 'toolchains = ["fortran"]'))
    assert load_policy(_policy(tmp_path / "q.toml", 'toolchains = ["rust"]')).toolchains == ("rust",)


# ------------------------------------------------------------------ crates as materials


def _cargo(args: list[str], cwd: Path, home: Path) -> None:
    cargo = Path(toolchains.find("rust").bin) / "cargo"  # the real one, not rustup's proxy
    env = {"PATH": os.environ["PATH"], "CARGO_HOME": str(home)}
    done = subprocess.run(
        [str(cargo), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A local crate registry made here: tinyadd packaged offline by cargo; and the rustcrate
    project with the Cargo.lock cargo itself writes for it (pinning tinyadd's sha256)."""
    root = tmp_path_factory.mktemp("crates")
    home = root / "cargo-home"
    shutil.copytree(PACKAGES / "tinyadd", root / "tinyadd")
    _cargo(["package", "--no-verify", "--offline", "--allow-dirty"], root / "tinyadd", home)
    registry = root / "registry"
    registry.mkdir()
    crate = registry / "tinyadd-0.1.0.crate"
    shutil.copy(root / "tinyadd" / "target" / "package" / crate.name, crate)
    # Lock the project against that crate, offline: a throw-away vendored source for cargo.
    project = root / "rustcrate"
    shutil.copytree(PACKAGES / "rustcrate", project)
    shutil.copy(PACKAGES / "rustext" / "rustbackend.py", project)  # the one Rust test backend
    vendor = root / "vendor"
    subprocess.run(["tar", "xzf", str(crate), "-C", str(_made(vendor))], check=True)
    digest = sha256_file(crate)
    (vendor / "tinyadd-0.1.0" / ".cargo-checksum.json").write_text(
        json.dumps({"files": {}, "package": digest})
    )
    (project / ".cargo").mkdir()
    (project / ".cargo" / "config.toml").write_text(
        f'[source.crates-io]\nreplace-with = "v"\n[source.v]\ndirectory = "{vendor}"\n'
    )
    _cargo(["generate-lockfile", "--offline"], project, home)
    shutil.rmtree(project / ".cargo")
    assert digest in (project / "Cargo.lock").read_text()
    return registry, project


def _crate_policy(path: Path, registry: Path) -> Path:
    return _policy(path, f'toolchains = ["rust"]\ncrates_registry = "{registry}"')


def test_crates_are_fetched_checked_vendored_and_recorded(
    registry: tuple[Path, Path], tmp_path: Path
) -> None:
    crates, project = registry
    index, ws = tmp_path / "index", tmp_path / "ws"
    make_sdist(project, index, "rustadd", "1.1")
    result = _bootstrap(index, ws, "--policy", str(_crate_policy(tmp_path / "p.toml", crates)))
    assert result.exit_code == 0, result.output
    (wheel,) = (ws / "wheels").glob("rustadd-1.1-*.whl")
    envelope = json.loads((ws / "attestations" / f"{wheel.name}.intoto.jsonl").read_text())
    deps = json.loads(base64.b64decode(envelope["payload"]))["predicate"]["buildDefinition"][
        "resolvedDependencies"
    ]
    (crate,) = [d for d in deps if d["annotations"]["kind"] == "crate"]
    assert crate["name"] == "tinyadd-0.1.0.crate"
    assert crate["digest"]["sha256"] == sha256_file(crates / "tinyadd-0.1.0.crate")
    assert (crate["annotations"]["crate"], crate["annotations"]["version"]) == ("tinyadd", "0.1.0")

    target = tmp_path / "site"
    for member in iter_members(wheel):
        (target / member.name).parent.mkdir(parents=True, exist_ok=True)
        (target / member.name).write_bytes(member.data)
    run = subprocess.run(
        [sys.executable, "-c", "import rustadd; print(rustadd.add(1, 2))"],
        cwd=target,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "3"

    key = ws / "keys" / "builder.pub"
    shown = CliRunner().invoke(main, ["verify", str(wheel), "-w", str(ws), "--trusted-key", str(key)])
    assert shown.exit_code == 0 and "crate tinyadd-0.1.0.crate" in shown.stdout
    out = tmp_path / "sbom.json"
    made = CliRunner().invoke(
        main, ["sbom", str(wheel), "-w", str(ws), "-o", str(out), "--trusted-key", str(key), "--validate"]
    )
    assert made.exit_code == 0, made.output
    purls = {c.get("purl") for c in json.loads(out.read_text())["components"]}
    assert "pkg:cargo/tinyadd@0.1.0" in purls


def test_a_crate_whose_digest_differs_from_cargo_lock_is_refused(
    registry: tuple[Path, Path], tmp_path: Path
) -> None:
    crates, project = registry
    forged = tmp_path / "forged"
    forged.mkdir()
    original = crates / "tinyadd-0.1.0.crate"
    (forged / original.name).write_bytes(original.read_bytes() + b"\0")  # other bytes, same name
    index, ws = tmp_path / "index", tmp_path / "ws"
    make_sdist(project, index, "rustadd", "1.1")
    result = _bootstrap(index, ws, "--policy", str(_crate_policy(tmp_path / "p.toml", forged)))
    assert result.exit_code == 3
    (package,) = json.loads(result.stdout)["packages"]
    assert "tinyadd-0.1.0.crate" in package["error"] and "refusing it" in package["error"]
    assert "Cargo.lock pins" in package["error"]


def test_missing_cargo_lock_or_registry_is_named_not_the_compiler(
    registry: tuple[Path, Path], tmp_path: Path
) -> None:
    crates, project = registry
    index = tmp_path / "index"
    make_sdist(project, index, "rustadd", "1.1")
    no_registry = _bootstrap(
        index, tmp_path / "ws1", "--policy", str(_policy(tmp_path / "p1.toml", 'toolchains = ["rust"]'))
    )
    (package,) = json.loads(no_registry.stdout)["packages"]
    assert "no crate registry is configured" in package["error"]
    unlocked = tmp_path / "unlocked"
    shutil.copytree(project, unlocked)
    (unlocked / "Cargo.lock").unlink()
    index2 = tmp_path / "index2"
    make_sdist(unlocked, index2, "rustadd", "1.1")
    result = _bootstrap(
        index2, tmp_path / "ws2", "--policy", str(_crate_policy(tmp_path / "p2.toml", crates))
    )
    (package,) = json.loads(result.stdout)["packages"]
    assert "has no Cargo.lock" in package["error"]
    empty = tmp_path / "empty-registry"
    empty.mkdir()
    result = _bootstrap(index, tmp_path / "ws3", "--policy", str(_crate_policy(tmp_path / "p3.toml", empty)))
    (package,) = json.loads(result.stdout)["packages"]
    assert "not in the registry directory" in package["error"]


def test_build_grants_the_toolchain_and_registry_on_the_command_line(
    registry: tuple[Path, Path], tmp_path: Path
) -> None:
    crates, project = registry
    sdist = make_sdist(project, tmp_path / "sdists", "rustadd", "1.1")
    ws = tmp_path / "ws"
    refused = CliRunner().invoke(main, ["build", str(sdist), "-w", str(ws), "--json"])
    assert refused.exit_code == 3 and "no rust toolchain is granted" in refused.output
    built = CliRunner().invoke(
        main,
        [
            "build",
            str(sdist),
            "-w",
            str(ws),
            "--json",
            "--toolchain",
            "rust",
            "--crates-registry",
            str(crates),
        ],
    )
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["wheel"].endswith(".whl")


def _made(directory: Path) -> Path:
    directory.mkdir()
    return directory
