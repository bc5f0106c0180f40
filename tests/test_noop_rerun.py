"""Re-runs that do nothing must do almost nothing: each listing fetched at most once and no
sdist downloaded again; a failure with unchanged inputs is not built again unless asked;
a compiled wheel is rebuilt when a system library it links changed."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import project
from conftest import PACKAGES, make_sdist
from fromsource.cli import main
from tinyindex import Release, serve, sha256


def _bootstrap(ws: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["bootstrap", *args, "-w", str(ws), "-j", "2", "--json"])


def _statuses(result: Result) -> dict[str, str]:
    return {f"{p['name']} {p['version']}": p["status"] for p in json.loads(result.stdout)["packages"]}


def _report(result: Result, label: str) -> dict[str, object]:
    (found,) = [p for p in json.loads(result.stdout)["packages"] if f"{p['name']} {p['version']}" == label]
    return dict(found)


def test_a_plain_rerun_fetches_each_listing_once_and_no_sdist_again(tmp_path: Path) -> None:
    files, ws = tmp_path / "files", tmp_path / "ws"
    sdists = [
        project(files, "app", requires=["lib"], build=["tool"]),
        project(files, "lib", build=["tool"]),
        project(files, "tool"),
    ]
    releases = {p.name.split("-")[0]: [Release(p, sha256(p))] for p in sdists}
    with serve(releases) as server:
        first = _bootstrap(ws, "app", "--index-url", server.url + "simple")
        assert first.exit_code == 0, first.output
        server.hits.clear()
        again = _bootstrap(ws, "app", "--index-url", server.url + "simple")
        hits = sorted(server.hits)
    assert again.exit_code == 0, again.output
    assert set(_statuses(again).values()) == {"reused"}
    assert hits == ["/simple/app/", "/simple/lib/", "/simple/tool/"]


def test_a_failure_with_the_same_inputs_is_remembered_until_retried(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "ws"
    project(index, "app", requires=["bad"])
    project(index, "bad", build=["tool"], fail=True)
    project(index, "tool")
    args = ("app", "--find-links", str(index), "--no-index", "--keep-going")
    first = _bootstrap(ws, *args)
    assert first.exit_code == 3
    assert _statuses(first)["bad 1.0"] == "failed"
    log = (ws / "builds" / "bad-1.0" / "build.log").read_text()

    again = _bootstrap(ws, *args)
    assert again.exit_code == 3
    bad = _report(again, "bad 1.0")
    assert bad["status"] == "failed"
    assert str(bad["error"]).startswith("failed earlier with the same inputs: ")
    assert bad["log"] == str(ws / "builds" / "bad-1.0" / "build.log")
    assert (ws / "builds" / "bad-1.0" / "build.log").read_text() == log  # not built again
    assert "building bad 1.0" not in again.stderr
    assert "--retry-failed" in CliRunner().invoke(main, ["bootstrap", *args, "-w", str(ws)]).output

    retried = _bootstrap(ws, *args, "--retry-failed")
    assert "building bad 1.0" in retried.stderr
    assert not str(_report(retried, "bad 1.0")["error"]).startswith("failed earlier")

    # Another input (a new build tool) is another key: built again without being asked.
    project(index, "tool", "2.0")
    changed = _bootstrap(ws, *args)
    assert "building bad 1.0" in changed.stderr
    # Fixed: a new sdist builds, and the app with it.
    (index / "bad-1.0.tar.gz").unlink()
    project(index, "bad", "1.1", build=["tool"])
    fixed = _bootstrap(ws, *args)
    assert fixed.exit_code == 0, fixed.output
    assert _statuses(fixed)["bad 1.1"] == "built"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
def test_a_changed_system_library_rebuilds_the_wheel_that_links_it(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()

    def library(version: str, value: int) -> None:
        source = tmp_path / f"fake{value}.c"
        source.write_text(f"int fsfake_value(void) {{ return {value}; }}\n")
        real = lib / f"libfsfake.so.{version}"
        subprocess.run(
            ["cc", "-shared", "-fPIC", "-Wl,-soname,libfsfake.so.1", str(source), "-o", str(real)], check=True
        )
        for link in ("libfsfake.so.1", "libfsfake.so"):
            (lib / link).unlink(missing_ok=True)
            (lib / link).symlink_to(real.name)

    library("1.0", 1)
    project_dir = tmp_path / "cext"
    shutil.copytree(PACKAGES / "cext", project_dir)
    (project_dir / "link.txt").write_text(f"-L{lib} -Wl,--no-as-needed -lfsfake -Wl,-rpath,{lib}\n")
    make_sdist(project_dir, tmp_path / "index", "cosine", "1.0")
    ws = tmp_path / "ws"
    # The sandbox would hide the test's library directory: the build may read the host here.
    args = ("cosine", "--find-links", str(tmp_path / "index"), "--no-index", "--sandbox", "off")
    first = _bootstrap(ws, *args)
    assert first.exit_code == 0, first.output
    (attestation,) = (ws / "attestations").glob("cosine-1.0-*.whl.intoto.jsonl")
    payload = json.loads(base64.b64decode(json.loads(attestation.read_text())["payload"]))
    paths = [
        d["annotations"].get("path") for d in payload["predicate"]["buildDefinition"]["resolvedDependencies"]
    ]
    assert f"{lib}/libfsfake.so.1" in paths

    assert _statuses(_bootstrap(ws, *args)) == {"cosine 1.0": "reused"}
    library("1.1", 2)  # the system's library upgraded under the same soname
    rebuilt = _bootstrap(ws, *args)
    assert _statuses(rebuilt) == {"cosine 1.0": "built"}
    assert "libfsfake.so.1" in rebuilt.stderr and "changed" in rebuilt.stderr
    assert _statuses(_bootstrap(ws, *args)) == {"cosine 1.0": "reused"}
