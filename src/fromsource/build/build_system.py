"""The one reader of an sdist's ``[build-system]`` table, with PEP 517's legacy default.

Used by the build itself, by bootstrap's discovery, by ``alternatives`` and by the SBOM's
formulation, so every part of fromsource agrees on which backend builds an sdist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from fromsource.errors import BuildError
from fromsource.untrusted import load_toml

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
LEGACY_REQUIRES = ("setuptools>=40.8.0",)


@dataclass(frozen=True, slots=True)
class BuildSystem:
    requires: tuple[Requirement, ...]
    backend: str
    backend_path: tuple[str, ...] | None


def read_build_system(source_root: Path) -> BuildSystem:
    """``[build-system]`` of an unpacked sdist, with PEP 517's legacy default."""
    pyproject = source_root / "pyproject.toml"
    return parse_build_system(pyproject.read_bytes() if pyproject.is_file() else None)


def parse_build_system(pyproject: bytes | None) -> BuildSystem:
    """``[build-system]`` from ``pyproject.toml`` bytes (``None``: the sdist has none)."""
    table: dict[str, Any] = {}
    if pyproject is not None:
        try:
            text = pyproject.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BuildError(f"pyproject.toml of the sdist is not UTF-8: {exc}") from exc
        table = load_toml(text, source="pyproject.toml of the sdist", error=BuildError).get(
            "build-system", {}
        )
        if not isinstance(table, dict):
            raise BuildError("[build-system] of the sdist's pyproject.toml is not a table")
    if "build-backend" not in table:
        requires = table.get("requires", list(LEGACY_REQUIRES))
        backend, backend_path = LEGACY_BACKEND, None
    else:
        requires = table.get("requires", [])
        backend, backend_path = table["build-backend"], table.get("backend-path")
    try:
        parsed = tuple(Requirement(r) for r in requires)
    except (InvalidRequirement, TypeError) as exc:
        raise BuildError(f"invalid [build-system] requires: {exc}") from exc
    return BuildSystem(parsed, backend, tuple(backend_path) if backend_path else None)
