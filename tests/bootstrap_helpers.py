"""Fixture projects for bootstrap tests: tiny sdists with the in-tree ``tinybackend``."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path

from fromsource.verify import Locations, Verifier

TINY_BACKEND = Path(__file__).parent / "packages" / "tiny" / "tinybackend.py"


def bootstrap_argv(
    index: Path, ws: Path, *args: str, jobs: int | None = 2, as_json: bool = True
) -> list[str]:
    """``fromsource bootstrap ARGS`` against the directory index ``index`` alone, into ``ws``."""
    argv = ["bootstrap", *args, "--find-links", str(index), "--no-index", "-w", str(ws)]
    if jobs is not None:
        argv += ["-j", str(jobs)]
    return [*argv, "--json"] if as_json else argv


def module_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", re.sub(r"\[.*|[<>=!~;].*", "", name).strip()).lower()


def project(
    index: Path,
    name: str,
    version: str = "1.0",
    *,
    requires: Sequence[str] = (),
    build: Sequence[str] = (),
    backend: Sequence[str] = (),
    extras: Sequence[str] = (),
    static: bool = True,
    fail: bool = False,
    block: bool = False,
    gate: Path | None = None,
    unstable: bool = False,
    hint: Sequence[str] | None = None,
) -> Path:
    """Write ``name-version.tar.gz`` into ``index``.

    ``build`` is ``[build-system].requires`` (each must be importable during the build),
    ``backend`` what ``get_requires_for_build_wheel`` returns, ``requires`` the runtime
    Requires-Dist; ``static=False`` leaves PKG-INFO without authoritative Requires-Dist;
    ``block=True`` makes ``build_wheel`` write ``blocked`` into its source tree and wait
    there until it is killed (a test's way to stop a run mid-build without a race);
    ``gate`` (a directory with the FIFO ``started``, see tinybackend) holds ``build_wheel``
    until the test opens the gate; the build must see that directory (``--sandbox off``);
    ``unstable=True`` makes every build's wheel different (a non-reproducible build);
    ``hint`` (with ``static=False``) is the non-authoritative Requires-Dist PKG-INFO lists
    (as setuptools writes it for dependencies it only knows at build time).
    """
    index.mkdir(parents=True, exist_ok=True)
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"
    config = {
        "name": name,
        "version": version,
        "requires": list(requires),
        "extras": list(extras),
        "backend_requires": list(backend),
        "fail": fail,
        "block": block,
        "gate": str(gate) if gate else None,
        "unstable": unstable,
        "imports": [module_name(r) for r in [*build, *backend] if ";" not in r],
    }
    pkg_info = [f"Metadata-Version: {'2.2' if static else '2.1'}", f"Name: {name}", f"Version: {version}"]
    pkg_info += [f"Provides-Extra: {e}" for e in extras]
    pkg_info += [f"Requires-Dist: {r}" for r in (requires if static else hint or ())]
    pyproject = (
        "[build-system]\n"
        f"requires = {json.dumps(list(build))}\n"
        'build-backend = "tinybackend"\n'
        'backend-path = ["."]\n'
    )
    files = {
        "PKG-INFO": "\n".join(pkg_info) + "\n",
        "pyproject.toml": pyproject,
        "tiny.json": json.dumps(config, indent=1),
        "tinybackend.py": TINY_BACKEND.read_text(),
    }
    path = index / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{member}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def verify_all(workspace: Path) -> list[str]:
    """Every wheel in the workspace checked by the real verifier; returns the problems."""
    from fromsource.attest.keys import load_public_key

    key = load_public_key(workspace / "keys" / "builder.pub")
    verifier = Verifier([key], Locations((workspace / "wheels",), (workspace / "attestations",)))
    problems = []
    wheels = sorted((workspace / "wheels").glob("*.whl"))
    for node in verifier.verify_wheels(wheels):
        problems += node.all_problems()
    return problems
