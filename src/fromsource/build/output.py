"""The checks on the wheel a backend built, before anything reads or signs it.

Run once the hooks have exited: nothing but this build could write its ``out/``. Whoever
signs a build that ran elsewhere (a Dask worker) runs :func:`check_built_wheel` again.
"""

from __future__ import annotations

import stat
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from fromsource.archives import check_wheel_record
from fromsource.errors import BuildError


def output_wheel(out: Path, wheel_name: object, who: str) -> Path:
    """The wheel ``build_wheel`` named: one path component naming a regular file of ``out``.

    Checked by what the name *is* (a single component, lstat'ed), not by a list of bad
    spellings; the hooks have exited, and with bwrap's PID namespace nothing of theirs
    survives to swap the file afterwards. ``who``: "name version", for the messages.
    """
    name = Path(wheel_name) if isinstance(wheel_name, str) and "\0" not in wheel_name else None
    # PEP 517 asks for the basename; some backends (coherent.build) return the full path
    # into the output directory, which names the same file.
    if name is not None and name.is_absolute() and name.parent == out.absolute():
        name = Path(name.name)
    if name is None or str(name) != name.name or name.name in ("", ".", ".."):
        raise BuildError(
            f"{who}: build_wheel returned {wheel_name!r}, not a file name in its output directory"
        )
    built = out / name
    try:
        regular = stat.S_ISREG(built.lstat().st_mode)
    except OSError:
        regular = False
    if not regular:
        raise BuildError(
            f"{who}: build_wheel named {str(name)!r}, which is not a regular file in its output directory"
        )
    return built


def check_built_wheel(wheel: Path, name: str, version: str) -> None:
    """The wheel is named for exactly this sdist's project and version; its RECORD holds."""
    try:
        wheel_name, wheel_version, _, _ = parse_wheel_filename(wheel.name)
    except Exception as exc:
        raise BuildError(f"backend produced {wheel.name!r}, not a valid wheel name") from exc
    if wheel_name != canonicalize_name(name) or str(wheel_version) != version:
        raise BuildError(f"backend built {wheel.name} from the sdist of {name} {version}")
    check_wheel_record(wheel)
