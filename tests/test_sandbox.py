"""The build sandbox, tried by a hostile backend that hunts for keys and tampers.

Each probe of ``tests/packages/hostile`` is asserted on its own, so a regression names what
leaked. The same probes run with the filesystem sandbox off and must then see the leak:
the tests can fail.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import project, verify_all
from conftest import PACKAGES, make_sdist
from fromsource import sandbox
from fromsource.attest.provenance import ISOLATION_BWRAP
from fromsource.cli import main

MARKER = "written-by-the-hostile-build"
SECRETS = {"GITHUB_TOKEN": "ghp_planted-token", "AWS_SECRET_ACCESS_KEY": "planted-aws-secret"}

# CI installs bubblewrap (.ci/run): there a missing sandbox fails these tests, never skips them.
requires_bwrap = pytest.mark.skipif(
    sandbox.probe().level != ISOLATION_BWRAP and not os.environ.get("CI"),
    reason=f"no working bubblewrap here: {sandbox.probe().reason}",
)


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """Secrets an attacker would hunt: an ssh key in HOME, tokens in the environment, a
    file in the host's /tmp, and another workspace's signing key."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    ssh_key = home / ".ssh" / "id_ed25519"
    ssh_key.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nplanted-ssh\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    monkeypatch.setenv("HOME", str(home))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    other = tmp_path / "other-ws" / "keys"
    other.mkdir(parents=True)
    (other / "builder.key").write_text(
        "-----BEGIN PRIVATE KEY-----\nplanted-other\n-----END PRIVATE KEY-----\n"
    )
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="fromsource-planted-") as host_tmp:
        yield {"ssh_key": ssh_key, "host_tmp": Path(host_tmp.name)}


def hostile_sdist(tmp_path: Path, ws: Path, *, search_roots: list[str]) -> Path:
    project_dir = tmp_path / "hostile-project"
    shutil.copytree(PACKAGES / "hostile", project_dir)
    targets = {
        # cwd of a hook is WS/builds/hostile-1.0/src/hostile-1.0
        "relative_key": "../../../../keys/builder.key",
        "absolute_key": str(ws / "keys" / "builder.key"),
        "ssh_key": str(tmp_path / "home" / ".ssh" / "id_ed25519"),
        "search_roots": search_roots,
        "search_limit": 200_000,
        "write": [
            str(ws / "wheels" / "planted.txt"),
            str(ws / "attestations" / "planted.txt"),
            str(ws / "builds" / "victim-1.0" / "out" / "planted.txt"),
            str(tmp_path / "planted-outside.txt"),
        ],
    }
    (project_dir / "targets.json").write_text(json.dumps(targets))
    return make_sdist(project_dir, tmp_path / "sdists", "hostile", "1.0")


def found_in(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        loaded: dict[str, Any] = json.loads(archive.read("hostile/found.json"))
        return loaded


def wheel_text(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return "".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())


def marked_files(root: Path, own_build: Path) -> list[Path]:
    """Files outside the hostile build's own directory that it managed to write."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and own_build not in path.parents:
            try:
                if f"{MARKER} (".encode() in path.read_bytes():  # as written, not as in the source
                    hits.append(path)
            except OSError:
                continue
    return hits


def assert_nothing_leaked(
    found: dict[str, Any], wheel: Path, tmp_path: Path, ws: Path, planted: dict[str, Path]
) -> None:
    # What is visible at all is installed software (CPython ships test certificates); never
    # a key of the user's, of this workspace or of another one.
    visible = set(found["key_search"])
    assert not [p for p in visible if Path(p).is_relative_to(tmp_path)], "a planted key was visible"
    assert not [p for p in visible if not p.startswith(("/usr/", *sandbox.interpreter_roots()))]
    assert not [
        p
        for p in visible
        if Path(p).is_relative_to(Path.home()) and not p.startswith(sandbox.interpreter_roots())
    ]
    assert not [p for p in visible if p.startswith(sandbox.hidden_site_packages())], (
        "the base interpreter's site-packages was visible"
    )
    assert "planted" not in json.dumps(found["key_search"])
    assert found["relative_key"].startswith("error:"), "workspace key read through ../"
    assert found["absolute_key"].startswith("error:"), "workspace key read by its path"
    assert found["ssh_key"].startswith("error:"), "the user's ssh key was readable"
    assert found["home_ssh_key"].startswith("error:"), "~/.ssh was readable"
    assert planted["host_tmp"].name not in found["host_tmp"], "the host's /tmp was visible"
    # In its own PID namespace a build sees bwrap (its pid 1) and its own processes only.
    own = [
        p
        for p in found["processes"]
        if p.startswith(shutil.which("bwrap") or "bwrap") or "/builds/hostile-1.0/env/bin/python" in p
    ]
    assert own == found["processes"], "host processes were visible"
    assert not set(SECRETS.values()) & set(found["environ"].values()), "secrets in the environment"
    # A write may land in the sandbox's own throw-away /tmp; on the host nothing appears.
    assert [p for p in found["writes"] if Path(p).exists()] == [], "a write reached the host"
    shipped = wheel_text(wheel)
    workspace_key = (ws / "keys" / "builder.key").read_text().splitlines()[1]
    for secret in ("planted-ssh", "planted-other", workspace_key, *SECRETS.values()):
        assert secret not in shipped, "a secret was shipped in the wheel"
    assert marked_files(tmp_path, ws / "builds" / "hostile-1.0") == []


@requires_bwrap
def test_hostile_build_under_bwrap_reaches_nothing(tmp_path: Path, planted: dict[str, Path]) -> None:
    ws = tmp_path / "ws"
    sdist = hostile_sdist(tmp_path, ws, search_roots=["/"])
    result = CliRunner().invoke(main, ["build", str(sdist), "-w", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["isolation"] == ISOLATION_BWRAP
    wheel = Path(report["wheel"])
    assert_nothing_leaked(found_in(wheel), wheel, tmp_path, ws, planted)
    assert (ws / "keys" / "builder.key").read_text().startswith("-----BEGIN")


def test_the_same_probes_see_the_leak_with_the_sandbox_off(tmp_path: Path, planted: dict[str, Path]) -> None:
    ws = tmp_path / "ws"
    sdist = hostile_sdist(tmp_path, ws, search_roots=[str(tmp_path)])
    result = CliRunner().invoke(main, ["build", str(sdist), "-w", str(ws), "--sandbox", "off", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["isolation"] != ISOLATION_BWRAP
    assert "not isolated" in result.stderr
    found = found_in(Path(report["wheel"]))
    assert "PRIVATE KEY" in found["relative_key"]
    assert "PRIVATE KEY" in found["ssh_key"]
    assert str(tmp_path / "other-ws" / "keys" / "builder.key") in found["key_search"]
    assert found["writes"][str(ws / "wheels" / "planted.txt")] == "written"
    assert ws / "wheels" / "planted.txt" in marked_files(tmp_path, ws / "builds" / "hostile-1.0")
    with pytest.raises(AssertionError):
        assert_nothing_leaked(found, Path(report["wheel"]), tmp_path, ws, planted)


@requires_bwrap
def test_parallel_bootstrap_keeps_the_neighbour_and_the_workspace_intact(
    tmp_path: Path, planted: dict[str, Path]
) -> None:
    ws, index = tmp_path / "ws", tmp_path / "index"
    hostile = hostile_sdist(tmp_path, ws, search_roots=["/"])
    index.mkdir()
    shutil.copy(hostile, index / hostile.name)
    project(index, "victim")
    result = CliRunner().invoke(
        main,
        [
            "bootstrap",
            "hostile",
            "victim",
            "--find-links",
            str(index),
            "--no-index",
            "-w",
            str(ws),
            "-j",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    wheel = ws / "wheels" / "hostile-1.0-py3-none-any.whl"
    assert_nothing_leaked(found_in(wheel), wheel, tmp_path, ws, planted)
    assert verify_all(ws) == []
    victim = ws / "wheels" / "victim-1.0-py3-none-any.whl"
    assert "victim/__init__.py" in zipfile.ZipFile(victim).namelist()


def _path_without_bwrap(tmp_path: Path) -> str:
    """A PATH holding the tools builds use, but no bwrap: a machine without bubblewrap."""
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    for tool in ("unshare", "setpriv", "sh", "ip"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


@contextmanager
def _machine_without_bwrap(tmp_path: Path) -> Iterator[None]:
    """This process as on a machine without bubblewrap: PATH without it and the sandbox
    probed again (its answer is kept per process); both restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", _path_without_bwrap(tmp_path))
        sandbox.probe.cache_clear()
        try:
            yield
        finally:
            sandbox.probe.cache_clear()  # probed again with the PATH restored


def _run_cli(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def test_without_bubblewrap_required_is_a_clear_error_and_auto_warns(tmp_path: Path) -> None:
    sdist = make_sdist(PACKAGES / "probe", tmp_path / "src", "probe", "1.0")
    ws = tmp_path / "ws"
    # A policy that requires the sandbox stops bootstrap before it resolves or builds anything.
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[trust]\nbuilder_keys = ["{ws / "keys" / "builder.pub"}"]\n'
        "[build]\nrequire_sandbox = true\n"
    )
    index = tmp_path / "index"
    project(index, "victim")
    with _machine_without_bwrap(tmp_path):
        required = _run_cli(["build", str(sdist), "-w", str(ws), "--sandbox", "required"])
        assert required.exit_code == 3, required.stderr
        assert (
            "the build sandbox is required but unavailable: bubblewrap (bwrap) is not installed"
            in required.stderr
        )
        assert "apt-get install bubblewrap" in required.stderr
        assert "Traceback" not in required.stderr
        assert not list((ws / "wheels").glob("*.whl"))
        auto = _run_cli(["build", str(sdist), "-w", str(ws), "--json"])
        assert auto.exit_code == 0, auto.stderr
        assert json.loads(auto.stdout)["isolation"] != ISOLATION_BWRAP
        assert "builds were not isolated from" in auto.stderr
        ws2 = ["-w", str(tmp_path / "ws2")]
        boot = _run_cli(
            ["bootstrap", "victim", "--find-links", str(index), "--no-index", *ws2, "--policy", str(policy)]
        )
        assert boot.exit_code == 3, boot.stderr
        assert "the build sandbox is required but unavailable" in boot.stderr
        assert not (tmp_path / "ws2" / "builds").exists() or not any((tmp_path / "ws2" / "builds").iterdir())
        doctor = _run_cli(["doctor", "--json"])
        assert doctor.exit_code == 1
        report = json.loads(doctor.stdout)
        assert report["bwrap"]["works"] is False
        assert "not installed" in report["bwrap"]["reason"]


@requires_bwrap
def test_the_hook_script_may_live_in_the_hidden_site_packages(tmp_path: Path) -> None:
    """fromsource installed into the base interpreter (as CI does): pyproject-hooks' script sits
    in the site-packages the sandbox hides, and must still be reachable, alone, read-only."""
    hidden = sandbox.hidden_site_packages()
    if not hidden:
        pytest.skip("this interpreter has no site-packages of its own")
    script = Path(hidden[0]) / "fromsource-probe-script.py"
    neighbour = Path(hidden[0]) / "fromsource-probe-neighbour.txt"
    script.write_text("")
    neighbour.write_text("")
    try:
        build = tmp_path / "build"
        dirs = [build / sub for sub in ("src", "out", "home", "tmp", "env", "control")]
        for directory in dirs:
            directory.mkdir(parents=True)
        box = sandbox.BuildSandbox.for_build(
            sandbox.probe(), env=build / "env", writable=dirs[:4], etc_dir=build / "etc"
        )
        # [program, script, hook, control dir], the shape pyproject-hooks calls with.
        probe_cmd = ["/bin/sh", str(script), "-", str(build / "control")]
        shell = f"test -f {script} && ! test -e {neighbour} && ! touch {Path(hidden[0]) / 'x'} 2>/dev/null"
        cmd = box.command(probe_cmd, str(build / "src"))
        result = subprocess.run(
            [*cmd[: cmd.index("--") + 1], "/bin/sh", "-c", shell], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
    finally:
        script.unlink()
        neighbour.unlink()


@requires_bwrap
def test_doctor_reports_bubblewrap() -> None:
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "build sandbox: bwrap" in result.stdout
    assert sandbox.interpreter_roots()[0] in result.stdout


@requires_bwrap
def test_provenance_records_exactly_what_the_build_could_reach(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    sdist = make_sdist(PACKAGES / "probe", tmp_path / "src", "probe", "1.0")
    result = CliRunner().invoke(main, ["build", str(sdist), "-w", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    attestation = Path(json.loads(result.stdout)["attestation"])
    statement = json.loads(base64.b64decode(json.loads(attestation.read_text())["payload"]))
    internal = statement["predicate"]["buildDefinition"]["internalParameters"]
    assert internal["isolation"] == ISOLATION_BWRAP
    recorded = internal["sandbox"]
    assert recorded["tool"] == "bwrap"
    assert set(recorded["namespaces"]) >= {"user", "net", "pid", "ipc", "uts"}
    build_dir = ws / "builds" / "probe-1.0"
    writable = [Path(p) for p in recorded["readWrite"] if p.startswith("/")]
    assert sorted(writable) == sorted(build_dir / sub for sub in ("home", "out", "src", "tmp"))
    assert str(build_dir / "env") in recorded["readOnly"]
    roots = [Path(r) for r in [*recorded["readOnly"], *recorded["readWrite"]] if r.startswith("/")]
    for private in (ws / "keys", ws / "wheels", ws / "attestations", ws / "sources", Path.home()):
        assert not [r for r in roots if private.is_relative_to(r)], private
    assert "/etc/shadow" not in recorded["readOnly"] and "/etc" not in recorded["readOnly"]


_PROBE_BACKEND = (PACKAGES / "probe" / "probe_backend.py").read_text()


def _returning(tmp_path: Path, tail: str) -> Path:
    """The probe backend, with ``build_wheel`` post-processing its result by ``tail``."""
    project = tmp_path / "returning"
    shutil.copytree(PACKAGES / "probe", project)
    (project / "probe_backend.py").write_text(
        _PROBE_BACKEND.replace("def build_wheel(", "def _real_build_wheel(") + tail
    )
    return make_sdist(project, tmp_path / "sdists", "probe", "1.0")


@pytest.mark.parametrize(
    ("tail", "accepted"),
    [
        # coherent.build returns the full path into the output directory: the same file.
        (
            "def build_wheel(d, c=None, m=None):\n    import os\n    return os.path.join(d, _real_build_wheel(d))\n",
            True,
        ),
        ("def build_wheel(d, c=None, m=None):\n    return '../' + _real_build_wheel(d)\n", False),
        ("def build_wheel(d, c=None, m=None):\n    return '/etc/passwd'\n", False),
        # A link out of the output directory: outside the sandbox it would point at host files.
        (
            "def build_wheel(d, c=None, m=None):\n    import os\n    name = _real_build_wheel(d)\n"
            "    os.replace(os.path.join(d, name), os.path.join(d, 'real.zip'))\n"
            "    os.symlink('/etc/hostname', os.path.join(d, name))\n    return name\n",
            False,
        ),
    ],
    ids=["absolute-path-inside-out", "dot-dot", "absolute-elsewhere", "symlink"],
)
def test_the_wheel_is_taken_only_as_a_regular_file_of_the_output_directory(
    tmp_path: Path, tail: str, accepted: bool
) -> None:
    ws = tmp_path / "ws"
    result = CliRunner().invoke(main, ["build", str(_returning(tmp_path, tail)), "-w", str(ws)])
    if accepted:
        assert result.exit_code == 0, result.output
        assert (ws / "wheels" / "probe-1.0-py3-none-any.whl").is_file()
    else:
        assert result.exit_code == 3, result.output
        assert "build_wheel" in result.stderr and "output directory" in result.stderr
        assert "Traceback" not in result.output
        assert not list((ws / "wheels").glob("*.whl"))
