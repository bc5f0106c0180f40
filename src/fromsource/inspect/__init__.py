"""Prove that a pure-Python wheel's files come, readable, from its sdist.

``inspect_wheel(wheel, sdist)`` reads both archives (streaming, in memory, through
:mod:`fromsource.archives`), classifies every wheel member, lints every module, checks the
metadata and returns a :class:`Report` whose ``verdict`` is ``readable`` or
``not-readable`` with every reason. Nothing here prints or exits; libcst is imported only
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


def inspect_wheel(wheel: Path, sdist: Path, *, parse_all: bool = False) -> Report:
    """Inspect one wheel against its sdist (``parse_all``: compile every module too)."""
    if not wheel.name.endswith(".whl"):
        raise InputError(f"{wheel}: not a wheel (the name does not end in .whl)")
    wheel_files = read_archive(wheel)
    sdist_files = read_archive(sdist)
    report = audit(wheel.name, wheel_files, sdist.name, sdist_files, parse_all=parse_all)
    return dataclasses.replace(report, wheel_sha256=_sha256_file(wheel), sdist_sha256=_sha256_file(sdist))
