"""A complete output: every requested requirement checked against wheels/simple/, externals
published there, hints that name the fewest wheels, buildable versions as ready -c lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from packaging.tags import sys_tags

from bootstrap_helpers import project, verify_all
from fromsource.attest.keys import generate_keypair
from fromsource.cli import main
from test_bootstrap_seeds import _published_wheel


def _bootstrap(index: Path, ws: Path, *args: str, as_json: bool = True) -> Result:
    return CliRunner().invoke(
        main,
        [
            "bootstrap",
            *args,
            "--find-links",
            str(index),
            "--no-index",
            "-w",
            str(ws),
            "-j",
            "2",
            *(["--json"] if as_json else []),
        ],
    )


def _statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {f"{p['name']} {p['version']}": p["status"] for p in summary["packages"]}


def _compiled(wheel: Path, index: Path) -> Path:
    """The wheel renamed as a platform wheel, published next to the sdists."""
    tag = next(str(t) for t in sys_tags() if t.platform != "any")
    return wheel.rename(index / wheel.name.replace("py3-none-any", tag))


def _pip_install(simple: Path, requirement: str, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            simple.as_uri(),
            "--target",
            str(target),
            requirement,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_a_package_blocked_only_by_its_own_closure_is_not_suggested(tmp_path: Path) -> None:
    """coherent.build's shape: the requested package's build needs a runtime dependency whose
    build tool cannot run. The dependency is the one wheel to suggest, never the request."""
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["dep"], build=["builder"])
    project(index, "builder", requires=["dep"])
    dep = project(index, "dep", build=["tool"])
    project(index, "tool", fail=True)
    _compiled(_published_wheel(dep, tmp_path / "pub-dep"), index)

    result = _bootstrap(index, ws, "app", "--keep-going")
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert _statuses(summary)["app 1.0"] == "skipped"
    assert {n["package"] for n in summary["installable"][0]["needs"]} == {"app 1.0", "dep 1.0"}
    assert [s["package"] for s in summary["externals_suggested"]] == ["dep 1.0"]


def test_a_pure_python_blocker_gets_its_compiled_build_tool_suggested(tmp_path: Path) -> None:
    """A pure-Python package that waits only for a build tool that cannot build here is still
    built from source once the tool is an external: suggest the tool, not the package."""
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["dep"])
    dep = project(index, "dep", build=["tool"])
    tool = project(index, "tool", fail=True)
    pure = _published_wheel(dep, tmp_path / "pub-dep")  # py3-none-any
    pure.rename(index / pure.name)
    _compiled(_published_wheel(tool, tmp_path / "pub-tool"), index)

    result = _bootstrap(index, ws, "app", "--keep-going")
    assert result.exit_code == 3, result.output
    assert [s["package"] for s in json.loads(result.stdout)["externals_suggested"]] == ["tool 1.0"]


def test_runtime_blocker_is_suggested_not_its_build_tool_and_the_external_is_installable(
    tmp_path: Path,
) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["dep"])
    dep = project(index, "dep", build=["tool"])  # pure here, but its build tool cannot run
    tool = project(index, "tool", fail=True)
    _compiled(_published_wheel(dep, tmp_path / "pub-dep"), index)
    _compiled(_published_wheel(tool, tmp_path / "pub-tool"), index)

    first = _bootstrap(index, ws, "app", "--keep-going")
    assert first.exit_code == 3, first.output
    summary = json.loads(first.stdout)
    assert _statuses(summary) == {"app 1.0": "built", "dep 1.0": "skipped", "tool 1.0": "failed"}
    (verdict,) = summary["installable"]
    assert verdict["requirement"] == "app" and verdict["installable"] is False
    assert verdict["needs"] == [
        {"package": "dep 1.0", "status": "skipped", "reason": "its build needs tool 1.0"}
    ]
    # One wheel unblocks app at run time; tool is only dep's build tool.
    assert [s["package"] for s in summary["externals_suggested"]] == ["dep 1.0"]

    text = _bootstrap(index, ws, "app", "--keep-going", as_json=False)
    assert "app: not installable: needs dep 1.0 (skipped: its build needs tool 1.0)" in text.stdout

    keys = generate_keypair(tmp_path / "reviewer", "reviewer")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[trust]\nbuilder_keys = ["{ws / "keys" / "builder.pub"}"]\n'
        f'reviewer_keys = ["{keys.public_path}"]\n[externals]\n'
        f"wheels = [{summary['externals_suggested'][0]['line']}]\n"
    )
    second = _bootstrap(index, ws, "app", "--policy", str(policy))
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert _statuses(summary) == {"app 1.0": "reused", "dep 1.0": "external"}
    assert summary["counts"]["external"] == 1 and summary["counts"]["built"] == 0
    assert summary["installable"][0]["installable"] is True
    (external,) = [p for p in summary["packages"] if p["status"] == "external"]
    published = ws / "wheels" / "simple" / "dep" / Path(external["wheel"]).name
    assert published.is_file()
    assert not (ws / "wheels" / published.name).exists()  # never among the built wheels
    assert verify_all(ws) == []
    # Asked about directly, the published external is a trust-base leaf under the policy that
    # names it, and nothing without one (it has no attestation).
    shown = CliRunner().invoke(
        main, ["verify", str(published), "-w", str(ws), "--policy", str(policy), "--json"]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["wheels"][0]["kind"] == "external"
    bare = CliRunner().invoke(
        main, ["verify", str(published), "-w", str(ws), "--trusted-key", str(ws / "keys" / "builder.pub")]
    )
    assert bare.exit_code == 1 and "no attestation found" in bare.stdout

    installed = _pip_install(ws / "wheels" / "simple", "app", tmp_path / "target")
    assert installed.returncode == 0, installed.stderr
    assert {p.name.split("-")[0] for p in (tmp_path / "target").glob("*.dist-info")} == {"app", "dep"}


def test_a_version_whose_build_environment_resolves_is_offered_and_preferred(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["lib"])
    project(index, "lib", "2.0", build=["not-on-the-index"])
    project(index, "lib", "1.0")
    project(index, "lib", "0.9")

    first = _bootstrap(index, ws, "app", "--keep-going")
    assert first.exit_code == 3, first.output
    summary = json.loads(first.stdout)
    (alternative,) = summary["constraints_suggested"]
    assert alternative["package"] == "lib 2.0" and alternative["constraint"] == "lib==1.0"
    assert "not-on-the-index" in alternative["reason"]
    assert summary["externals_suggested"] == []  # another version builds: no external needed
    assert "build environment cannot be resolved" in summary["installable"][0]["needs"][0]["reason"]

    # The line works as printed, in a constraints file.
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(alternative["constraint"] + "\n")
    pinned = _bootstrap(index, tmp_path / "ws2", "app", "-c", str(constraints))
    assert pinned.exit_code == 0, pinned.output

    preferred = _bootstrap(index, ws, "app", "--prefer-buildable")
    assert preferred.exit_code == 0, preferred.output
    summary = json.loads(preferred.stdout)
    assert _statuses(summary) == {"app 1.0": "reused", "lib 1.0": "built"}
    assert summary["choices"] == [
        {"package": "lib 2.0", "chose": "lib==1.0", "reason": summary["choices"][0]["reason"]}
    ]
    assert summary["choices"][0]["reason"].startswith("--prefer-buildable: its build environment")
    assert summary["installable"][0]["installable"] is True
    assert summary["constraints_suggested"] == []


def test_no_alternative_outside_what_the_dependents_allow(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["lib>=2"])
    project(index, "lib", "2.0", build=["not-on-the-index"])
    project(index, "lib", "1.0")

    result = _bootstrap(index, ws, "app", "--keep-going")
    summary = json.loads(result.stdout)
    assert result.exit_code == 3 and summary["constraints_suggested"] == []
    stopped = _bootstrap(index, ws, "app", "--prefer-buildable")
    assert stopped.exit_code == 3
    assert json.loads(stopped.stdout)["choices"] == []
