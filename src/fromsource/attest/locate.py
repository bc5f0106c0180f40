"""Where the attestation of a wheel is: the one locator every reader uses.

A wheel's own attestation is ``<wheel file name>.intoto.jsonl``: first as a sidecar beside the
wheel (seeds/, stage1/, release directories), then in each given directory (a workspace's
attestations/, ``--attestations`` directories), in that order, each file once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

SUFFIX = ".intoto.jsonl"


def attestation_name(wheel_name: str) -> str:
    return wheel_name + SUFFIX


def sidecar(wheel: Path) -> Path:
    return wheel.parent / attestation_name(wheel.name)


def attestation_files(
    wheel: Path, directories: Iterable[Path] = (), *, exists: Callable[[Path, str], bool] | None = None
) -> list[Path]:
    """Every existing attestation file of ``wheel``: its sidecar first, then ``directories``.

    ``exists(directory, name)``: whether a regular file of that name is there (default: stat
    it; verify answers from one listing of each directory).
    """
    name = attestation_name(wheel.name)
    found: list[Path] = []
    seen: set[str] = set()
    for directory in (wheel.parent, *directories):
        if exists is not None and not exists(directory, name):
            continue  # answered without making a path
        path = directory / name
        key = os.path.abspath(path)  # no resolve(): verify looks files up thousands of times
        if key not in seen and (exists is not None or path.is_file()):
            seen.add(key)
            found.append(path)
    return found


def attestation_of(wheel: Path, directory: Path) -> Path:
    """The one attestation file a build records for ``wheel``: the first of
    :func:`attestation_files`, or where it would be in ``directory`` (for a precise error)."""
    found = attestation_files(wheel, (directory,))
    return found[0] if found else directory / attestation_name(wheel.name)
