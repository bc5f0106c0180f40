"""An isolated build environment: a venv without pip, exact wheels, sandboxed hook calls.

The venv gets wheels installed with ``installer`` straight from files (never from an
index). PEP 517 hooks run through ``pyproject-hooks`` with a runner that scrubs the
environment, sets ``SOURCE_DATE_EPOCH`` and confines each call with the build's
:class:`~fromsource.sandbox.BuildSandbox` (bubblewrap, or a recorded weaker level).
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from fromsource.archives import check_zip
from fromsource.errors import BuildError
from fromsource.sandbox import BuildSandbox, run_confined

# Only these variables reach a build; everything else (tokens, credentials, proxies,
# PIP_* settings, PYTHON* knobs) is dropped.
_PASS_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")


class Runner(Protocol):
    """pyproject-hooks' SubprocessRunner shape."""

    def __call__(
        self, cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None: ...


def scrubbed_environment(
    home: Path, tmp: Path, source_date_epoch: int, scripts: Path | None = None, tool_paths: Sequence[str] = ()
) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASS_ENV if key in os.environ}
    env.setdefault("PATH", os.defpath)
    for directory in reversed(tool_paths):  # granted toolchains' bin, before the system's
        env["PATH"] = f"{directory}{os.pathsep}{env['PATH']}"
    if scripts is not None:
        # Backends run tools installed by their own wheels (uv-build looks its binary up
        # on PATH), as they would under pip or pypa/build.
        env["PATH"] = f"{scripts}{os.pathsep}{env['PATH']}"
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        SOURCE_DATE_EPOCH=str(source_date_epoch),
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
    )
    return env


@dataclass(frozen=True, slots=True)
class BuildEnv:
    """A venv made for one build; ``python`` is absolute (hook runners change cwd)."""

    root: Path
    python: Path
    scheme: Mapping[str, str]

    @classmethod
    def create(cls, root: Path) -> BuildEnv:
        try:
            venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(root)
        except OSError as exc:
            raise BuildError(f"cannot create build environment {root}: {exc}") from exc
        python = (root / "bin" / "python").absolute()
        scheme = _scheme(root.absolute(), python)
        scheme.setdefault("headers", str(root / "include"))
        return cls(root=root, python=python, scheme=scheme)

    def install(self, wheel: Path) -> None:
        destination = SchemeDictionaryDestination(
            dict(self.scheme),
            interpreter=str(self.python),
            script_kind="posix",
        )
        check_zip(wheel)  # installer reads through zipfile: the layout must have one reading
        try:
            with WheelFile.open(wheel) as source:
                install(source, destination, additional_metadata={})
        except Exception as exc:  # installer raises plain exceptions for bad wheels
            raise BuildError(f"cannot install {wheel.name} into the build environment: {exc}") from exc


_SCHEME_KEYS = ("purelib", "platlib", "headers", "scripts", "data")
# interpreter (resolved) -> (the venv root it was asked under, that venv's scheme)
_probed: dict[str, tuple[str, dict[str, str]]] = {}


def _scheme(root: Path, python: Path) -> dict[str, str]:
    """The install scheme of the venv at ``root``, asked of its own interpreter once per
    interpreter and process: every venv made from one interpreter has the same scheme under
    its own root (one interpreter start less per build)."""
    interpreter = os.path.realpath(python)
    known = _probed.get(interpreter)
    if known is None:
        scheme = _ask_scheme(python)
        # Remembered only when the venv's own directories are spelled under ``root`` (not,
        # say, through a resolved symlink), so that rebasing cannot point into another venv.
        if not all(_under(scheme.get(key, ""), str(root)) for key in ("purelib", "platlib", "scripts")):
            return scheme
        known = _probed[interpreter] = (str(root), scheme)
    probed_root, scheme = known
    return {key: _rebase(path, probed_root, str(root)) for key, path in scheme.items()}


def _under(path: str, root: str) -> bool:
    return path.startswith(root + os.sep)


def _ask_scheme(python: Path) -> dict[str, str]:
    probe = subprocess.run(
        [str(python), "-I", "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise BuildError(f"build environment interpreter does not run: {probe.stderr.strip()}")
    paths = json.loads(probe.stdout)
    return {key: str(paths[key]) for key in _SCHEME_KEYS if key in paths}


def _rebase(path: str, old_root: str, new_root: str) -> str:
    """``path`` under ``new_root`` if it was under ``old_root``; else (the base interpreter's
    own directories) as it is."""
    if path == old_root:
        return new_root
    return new_root + path[len(old_root) :] if _under(path, old_root) else path


def make_runner(
    log: IO[bytes],
    *,
    sandbox: BuildSandbox,
    env: Mapping[str, str],
    timeout: float | None = None,
) -> Runner:
    """A pyproject-hooks runner: confined by ``sandbox``, scrubbed, output appended to ``log``."""

    def runner(
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        full_env = dict(env)
        if extra_environ:
            full_env.update(extra_environ)
        log.flush()
        run_confined(sandbox, cmd, cwd=cwd, env=full_env, stdout=log, timeout=timeout)

    return runner
