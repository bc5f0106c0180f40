"""black from the real index: not installable, for two reasons the summary names; the hints
(one external, one constraint) are followed as printed, and the output index installs black
offline into a fresh venv.

The first run builds about 40 packages (mypy's build tools among them: one to two minutes
on two cores); it is the issue's acceptance run and part of CI's network tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.network


def _bootstrap(ws: Path, *args: str) -> tuple[int, dict[str, Any]]:
    run = subprocess.run(
        [sys.executable, "-m", "fromsource", "bootstrap", "black", "-w", str(ws), "-j", "2", "--json", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return run.returncode, json.loads(run.stdout) if run.stdout else {"stderr": run.stderr}


def test_black_hints_lead_to_an_installable_index(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code, summary = _bootstrap(ws, "--keep-going")
    assert code == 3, summary
    (verdict,) = summary["installable"]
    assert verdict["installable"] is False
    needs = {n["package"].split()[0]: n for n in verdict["needs"]}
    assert set(needs) == {"platformdirs", "pytokens"}, needs
    assert needs["platformdirs"]["reason"].startswith("its build environment cannot be resolved")
    assert needs["pytokens"]["status"] == "skipped"
    # The fewest wheels: pytokens itself, not the build tools (maturin, mypy, ...) it waits on.
    assert [s["package"].split()[0] for s in summary["externals_suggested"]] == ["pytokens"]
    (alternative,) = summary["constraints_suggested"]
    assert alternative["constraint"].startswith("platformdirs==")

    constraints = tmp_path / "constraints.txt"
    constraints.write_text(alternative["constraint"] + "\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "version = 1\n[externals]\nwheels = [" + summary["externals_suggested"][0]["line"] + "]\n"
    )
    code, summary = _bootstrap(ws, "-c", str(constraints), "--policy", str(policy))
    assert code == 0, summary
    assert summary["installable"][0]["installable"] is True
    statuses = {p["name"]: p["status"] for p in summary["packages"]}
    assert statuses["pytokens"] == "external" and statuses["black"] == "reused"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    offline = ["unshare", "--net", "--map-root-user"] if shutil.which("unshare") else []
    install = subprocess.run(
        [
            *offline,
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            (ws / "wheels" / "simple").as_uri(),
            "black",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    assert install.returncode == 0, install.stderr
    version = subprocess.run(
        [str(venv / "bin" / "black"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("black, ")
