"""What goes wrong inside a PEP 517 hook, as ``fromsource build`` reports it (build/hooks.py,
build/output.py): real in-tree backends, each failing in one way, run under the sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PACKAGES, make_sdist
from fromsource.attest.keys import KeyPair, load_signer
from fromsource.build import BuildSettings, build_sdist
from fromsource.cli import main
from fromsource.errors import BuildError
from fromsource.workspace import Workspace

_PROBE_BACKEND = (PACKAGES / "probe" / "probe_backend.py").read_text()


def _probe_sdist(tmp_path: Path, tail: str, *, backend: str = "probe_backend") -> Path:
    """The probe project with ``build_wheel`` renamed ``_real_build_wheel`` and ``tail``
    appended to its backend; ``backend``: what ``[build-system]`` names."""
    project = tmp_path / "probe"
    shutil.copytree(PACKAGES / "probe", project)
    (project / "probe_backend.py").write_text(
        _PROBE_BACKEND.replace("def build_wheel(", "def _real_build_wheel(") + tail
    )
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"probe_backend"', f'"{backend}"'))
    return make_sdist(project, tmp_path / "sdists", "probe", "1.0")


_RENAMING = (
    "def build_wheel(d, c=None, m=None):\n"
    "    import os\n"
    "    os.replace(os.path.join(d, _real_build_wheel(d)), os.path.join(d, 'other-1.0-py3-none-any.whl'))\n"
    "    return 'other-1.0-py3-none-any.whl'\n"
)


@pytest.mark.parametrize(
    ("tail", "backend", "expected"),
    [
        (
            "def get_requires_for_build_wheel(c=None):\n    return ['not a requirement !!']\n",
            "probe_backend",
            ["backend returned an invalid requirement"],
        ),
        (
            "def build_wheel(d, c=None, m=None):\n    raise SystemExit('the backend gave up: marker-4711')\n",
            "probe_backend",
            # The hook, its exit status and the log's tail, which says why.
            ["probe 1.0: build_wheel failed (exit 1)", "build.log", "marker-4711"],
        ),
        ("", "no_such_backend", ["build backend 'no_such_backend' cannot be imported"]),
        (
            _RENAMING,
            "probe_backend",
            ["backend built other-1.0-py3-none-any.whl from the sdist of probe 1.0"],
        ),
    ],
    ids=["invalid-requirement", "hook-fails", "backend-missing", "wrong-wheel"],
)
def test_a_failing_hook_is_a_build_error_naming_what_failed(
    tmp_path: Path, tail: str, backend: str, expected: list[str]
) -> None:
    ws = tmp_path / "ws"
    sdist = _probe_sdist(tmp_path, tail, backend=backend)
    result = CliRunner().invoke(main, ["build", str(sdist), "-w", str(ws)])
    assert result.exit_code == 3, result.output
    for part in expected:
        assert part in result.stderr, result.stderr
    assert "Traceback (most recent call last)" not in result.stderr.split("build.log")[0]
    assert not list((ws / "wheels").glob("*.whl"))
    assert not list((ws / "attestations").glob("*.intoto.jsonl"))


def test_a_hook_that_never_returns_is_stopped_at_the_timeout(tmp_path: Path, keypair: KeyPair) -> None:
    # The first hook waits on a pipe nobody will ever write to: it would block forever.
    tail = (
        "def get_requires_for_build_wheel(c=None):\n"
        "    import os\n"
        "    os.mkfifo('never-written')\n"
        "    open('never-written').read()\n"
        "build_wheel = _real_build_wheel\n"
    )
    workspace = Workspace(tmp_path / "ws")
    with pytest.raises(
        BuildError, match=r"probe 1.0: get_requires_for_build_wheel timed out; log: .*build\.log"
    ):
        build_sdist(
            _probe_sdist(tmp_path, tail),
            workspace,
            load_signer(keypair.private_path),
            settings=BuildSettings(hook_timeout=1.0),
        )
    assert not list(workspace.wheels.glob("*.whl"))
