"""bootstrap against the real default index: packaging, and requests with its whole closure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bootstrap_helpers import verify_all

pytestmark = pytest.mark.network

# The closure of requests==2.32.3 as first bootstrapped (19 packages, no cycle): urllib3's
# hatchling / hatch-vcs / setuptools-scm / vcs-versioning chain, charset-normalizer's own
# setuptools<84.1 (so two setuptools versions), poetry-core for tomlkit, flit-core for idna.
# Upper bounds, not pins: they keep CI on a closure known to build and free of cycles. New
# releases of these backends have introduced transient build cycles before (setuptools-scm
# -> vcs-versioning -> hatchling -> ...); a cycle would stop the run with its path (exit 1).
REQUESTS_CLOSURE = """\
calver<=2025.10.20
certifi<=2026.10.18
charset-normalizer<=3.5.2
flit-core<=4.2.0
hatch-vcs<=0.5.0
hatchling<=1.33.0
idna<=3.20
packaging<=26.3
pathspec<=1.1.1
pluggy<=1.7.0
poetry-core<=2.5.0
setuptools<=84.2.1
setuptools-scm<=10.3.4
tomlkit<=0.15.2
trove-classifiers<=2026.9.21.13
urllib3<=2.8.0
vcs-versioning<=2.6.0
"""


def run(ws: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "fromsource", "bootstrap", *args, "-w", str(ws), "-j", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def test_bootstrap_packaging(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    summary = run(ws, "packaging==24.2")
    built = {p["name"] for p in summary["packages"] if p["status"] == "built"}
    assert {"packaging", "flit_core"} <= built
    assert (ws / "wheels" / "packaging-24.2-py3-none-any.whl").is_file()
    assert verify_all(ws) == []


def test_bootstrap_requests_and_install_it_from_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(REQUESTS_CLOSURE)

    summary = run(ws, "requests==2.32.3", "--constraint", str(constraints))

    names = {p["name"].lower().replace("_", "-") for p in summary["packages"]}
    assert {"requests", "urllib3", "idna", "certifi", "charset-normalizer", "setuptools"} <= names
    assert summary["ok"]
    assert verify_all(ws) == []

    again = run(ws, "requests==2.32.3", "--constraint", str(constraints))
    assert again["counts"]["built"] == 0
    assert again["counts"]["reused"] == len(summary["packages"])

    target = tmp_path / "target"
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--index-url",
            (ws / "wheels" / "simple").as_uri(),
            "--target",
            str(target),
            "requests",
        ],
        check=True,
        env=env,
        timeout=300,
    )
    probe = subprocess.run(
        [sys.executable, "-c", "import requests, urllib3; print(requests.__version__, requests.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PYTHONPATH": str(target)},
    )
    version, location = probe.stdout.split()
    assert version == "2.32.3"
    assert location.startswith(str(target))
