"""Prove that a pure-Python wheel's files come, readable, from its sdist.

``inspect_wheel(wheel, sdist)`` reads both archives (streaming, in memory, through
:mod:`fromsource.archives`), classifies every wheel member, lints every module, checks the
metadata and returns a :class:`Report` whose ``verdict`` is ``readable`` or
``not-readable`` with every reason. Nothing here prints or exits; modules are parsed only
when a file needs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from fromsource.errors import InputError
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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_archive(path: Path) -> dict[str, bytes]:
    """Every regular file of an sdist or wheel, by member name (archives.py checks safety)."""
    from fromsource.archives import iter_members

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return {member.name: member.data for member in iter_members(path)}


def _read_and_hash(path: Path) -> tuple[dict[str, bytes], str]:
    return read_archive(path), _sha256_file(path)


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
    # zlib and hashlib release the GIL: the wheel is read while the sdist is
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        wheel_job = pool.submit(_read_and_hash, wheel)
        try:
            sdist_files, sdist_sha256 = _read_and_hash(sdist)
        finally:
            wheel_files, wheel_sha256 = wheel_job.result()

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
    )
    return dataclasses.replace(report, wheel_sha256=wheel_sha256, sdist_sha256=sdist_sha256)
