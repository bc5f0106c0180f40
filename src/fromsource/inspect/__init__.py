"""Prove that a pure-Python wheel's files come, readable, from its sdist.

``inspect_wheel(wheel, sdist)`` reads both archives (streaming, in memory, through
:mod:`fromsource.archives`), classifies every wheel member, lints every module, checks the
metadata and returns a :class:`Report` whose ``verdict`` is ``readable`` or
``not-readable`` with every reason. Nothing here prints or exits; modules are parsed only
when a file needs it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path

from fromsource.errors import InputError
from fromsource.fileutil import sha256_file
from fromsource.inspect.audit import audit
from fromsource.inspect.model import (
    NOT_READABLE,
    READABLE,
    FileResult,
    Finding,
    MetadataResult,
    Report,
)

__all__ = [
    "NOT_READABLE",
    "READABLE",
    "FileResult",
    "Finding",
    "MetadataResult",
    "Report",
    "audit",
    "inspect_wheel",
    "read_archive",
]


def read_archive(path: Path) -> dict[str, bytes]:
    """Every regular file of an sdist or wheel, by member name (archives.py checks safety)."""
    from fromsource.archives import iter_members

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return {member.name: member.data for member in iter_members(path)}


def _read_and_hash(path: Path) -> tuple[dict[str, bytes], str]:
    return read_archive(path), sha256_file(path)


# Above this size of sdist, the lint pre-filter runs over the wheel's modules in a forked
# process while this one reads both archives; only its small answer crosses back. Below it,
# a fork costs more than it saves.
PARALLEL_SDIST_BYTES = 1 << 20


def _prefilter(wheel: Path) -> dict[str, bool]:
    from fromsource.inspect import lint

    files = read_archive(wheel)
    return {name: lint.suspect(data) for name, data in files.items() if name.endswith(".py")}


def _read_pair(
    wheel: Path, sdist: Path
) -> tuple[dict[str, bytes], str, dict[str, bytes], str, dict[str, bool]]:
    if not sdist.is_file():
        raise InputError(f"{sdist}: no such file")
    if sdist.stat().st_size < PARALLEL_SDIST_BYTES or "fork" not in multiprocessing.get_all_start_methods():
        sdist_files, sdist_sha256 = _read_and_hash(sdist)
        wheel_files, wheel_sha256 = _read_and_hash(wheel)
        return sdist_files, sdist_sha256, wheel_files, wheel_sha256, {}
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        prefilter_job = pool.submit(_prefilter, wheel)
        try:
            wheel_files, wheel_sha256 = _read_and_hash(wheel)
            sdist_files, sdist_sha256 = _read_and_hash(sdist)
        finally:
            prefilter = prefilter_job.result()
    return sdist_files, sdist_sha256, wheel_files, wheel_sha256, prefilter


def inspect_wheel(
    wheel: Path,
    sdist: Path,
    *,
    parse_all: bool = False,
    rebuild: bool = False,
    workspace: Path | None = None,
) -> Report:
    """Inspect one wheel against its sdist.

    ``parse_all``: compile every module too. ``rebuild``: when PKG-INFO is not
    authoritative for Requires-Dist, build the sdist (build requirements from
    ``workspace``'s wheels) and compare the METADATA it produces.
    """
    if not wheel.name.endswith(".whl"):
        raise InputError(f"{wheel}: not a wheel (the name does not end in .whl)")
    sdist_files, sdist_sha256, wheel_files, wheel_sha256, prefilter = _read_pair(wheel, sdist)

    def rebuilt() -> bytes:
        from fromsource.inspect.rebuild import built_metadata

        return built_metadata(sdist, workspace)

    report = audit(
        wheel.name,
        wheel_files,
        sdist.name,
        sdist_files,
        parse_all=parse_all,
        rebuild=rebuilt if rebuild else None,
        prefilter=prefilter,
    )
    return dataclasses.replace(report, wheel_sha256=wheel_sha256, sdist_sha256=sdist_sha256)
