"""Build environments: the install scheme each venv gets is the one its own interpreter
reports, although the interpreter is asked once per process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import DATA
from fromsource.buildenv import BuildEnv


def _asked(env: BuildEnv) -> dict[str, str]:
    out = subprocess.run(
        [str(env.python), "-I", "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paths: dict[str, str] = json.loads(out)
    return paths


def test_every_venv_gets_its_own_scheme_and_installs_into_itself(tmp_path: Path) -> None:
    first = BuildEnv.create(tmp_path / "first" / "env")
    second = BuildEnv.create(tmp_path / "second" / "env")  # from the remembered answer
    for env in (first, second):
        asked = _asked(env)
        for key in ("purelib", "platlib", "scripts", "data"):
            assert env.scheme[key] == asked[key], key
        assert env.scheme["purelib"].startswith(str(env.root.absolute()) + "/")
    second.install(DATA / "idna-3.10-py3-none-any.whl")
    assert (Path(second.scheme["purelib"]) / "idna" / "__init__.py").is_file()
    assert not (Path(first.scheme["purelib"]) / "idna").exists()
    imported = subprocess.run(
        [str(second.python), "-I", "-c", "import idna; print(idna.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.startswith(str(second.root.absolute()))
