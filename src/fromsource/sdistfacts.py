"""What planning reads from an sdist (PKG-INFO and pyproject.toml), once per sdist content.

Finding ``<top>/PKG-INFO`` and ``<top>/pyproject.toml`` means walking the archive, and a
large sdist (lxml's) takes a good part of a second: a no-op re-run of a big graph would spend
most of its time there. Both members are read in one pass and remembered by the sdist's
sha256 under ``WORKSPACE/cache/sdists/<sha256>.json``, so the same bytes are never walked
twice; different bytes under the same name get their own entry. The entry is a cache of the
workspace's own state, as trusted as ``graph.json``: unreadable or inconsistent entries
are ignored and the sdist is read again.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from fromsource.archives import iter_members
from fromsource.backgroundwrites import BackgroundWrites, write_now_or_later
from fromsource.cachefile import read_cache, write_cache
from fromsource.pkginfo import PkgInfo, parse_pkg_info

FORMAT = "fromsource.sdist-facts"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SdistFacts:
    """An sdist's PKG-INFO (parsed) and pyproject.toml (bytes), each None when absent."""

    pkg_info: PkgInfo | None
    pyproject: bytes | None

    def to_dict(self, sha256: str) -> dict[str, Any]:
        info = self.pkg_info
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "sha256": sha256,
            "pkg_info": None
            if info is None
            else {
                "metadata_version": info.metadata_version,
                "name": info.name,
                "version": info.version,
                "requires_python": info.requires_python,
                "requires_dist": list(info.requires_dist),
                "dynamic": sorted(info.dynamic),
            },
            "pyproject": None if self.pyproject is None else base64.b64encode(self.pyproject).decode(),
        }

    @classmethod
    def from_dict(cls, data: Any, sha256: str) -> SdistFacts:
        """The strict reading of an entry; ValueError on anything unexpected."""
        if not isinstance(data, dict) or set(data) != {
            "format",
            "format_version",
            "sha256",
            "pkg_info",
            "pyproject",
        }:
            raise ValueError("not an sdist-facts entry")
        if (data["format"], data["format_version"], data["sha256"]) != (FORMAT, FORMAT_VERSION, sha256):
            raise ValueError("another format, version or sdist")
        pyproject = data["pyproject"]
        if pyproject is not None and not isinstance(pyproject, str):
            raise ValueError("pyproject is not base64 text")
        try:
            raw = None if pyproject is None else base64.b64decode(pyproject, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"pyproject: {exc}") from exc
        return cls(pkg_info=_pkg_info(data["pkg_info"]), pyproject=raw)


def _pkg_info(data: Any) -> PkgInfo | None:
    if data is None:
        return None
    fields = {"metadata_version", "name", "version", "requires_python", "requires_dist", "dynamic"}
    if not isinstance(data, dict) or set(data) != fields:
        raise ValueError("pkg_info has other fields")
    if not isinstance(data["metadata_version"], str):
        raise ValueError("metadata_version is not text")
    for key in ("name", "version", "requires_python"):
        if data[key] is not None and not isinstance(data[key], str):
            raise ValueError(f"{key} is not text")
    for key in ("requires_dist", "dynamic"):
        if not isinstance(data[key], list) or not all(isinstance(v, str) for v in data[key]):
            raise ValueError(f"{key} is not a list of text")
    return PkgInfo(
        metadata_version=data["metadata_version"],
        name=data["name"],
        version=data["version"],
        requires_python=data["requires_python"],
        requires_dist=tuple(data["requires_dist"]),
        dynamic=frozenset(data["dynamic"]),
    )


def read_sdist_facts(sdist: Path) -> SdistFacts:
    """PKG-INFO and pyproject.toml of the sdist's top directory, in one pass that stops once
    both are found (the rest of the archive is validated when it is extracted)."""
    pkg_info: bytes | None = None
    pyproject: bytes | None = None
    for member in iter_members(sdist):  # abandoned early: CPython closes the generator
        parts = PurePosixPath(member.name).parts
        if len(parts) != 2:
            continue
        if parts[1] == "PKG-INFO" and pkg_info is None:
            pkg_info = member.data
        elif parts[1] == "pyproject.toml" and pyproject is None:
            pyproject = member.data
        if pkg_info is not None and pyproject is not None:
            break
    return SdistFacts(
        pkg_info=parse_pkg_info(pkg_info) if pkg_info is not None else None, pyproject=pyproject
    )


class SdistFactsCache:
    """``facts(sdist)``: :func:`read_sdist_facts`, remembered by the sdist's sha256 in
    ``directory`` (None: for this process only). ``digest`` hashes a file (a stat cache).
    With ``writes``, new entries are written on its thread (read back from memory here)."""

    def __init__(
        self,
        directory: Path | None,
        digest: Callable[[Path], str],
        *,
        writes: BackgroundWrites | None = None,
    ) -> None:
        self.directory = directory
        self.digest = digest
        self.writes = writes
        self._known: dict[str, SdistFacts] = {}

    def __call__(self, sdist: Path) -> SdistFacts:
        sha256 = self.digest(sdist)
        if sha256 not in self._known:
            facts = self._load(sha256)
            if facts is None:
                facts = read_sdist_facts(sdist)
                self._save(sha256, facts)
            self._known[sha256] = facts
        return self._known[sha256]

    def _entry(self, sha256: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{sha256}.json"

    def _load(self, sha256: str) -> SdistFacts | None:
        path = self._entry(sha256)
        data = None if path is None else read_cache(path, "sdist facts")
        try:
            return None if data is None else SdistFacts.from_dict(data, sha256)
        except ValueError:
            return None  # a cache: read the sdist again (and overwrite the entry)

    def _save(self, sha256: str, facts: SdistFacts) -> None:
        path = self._entry(sha256)
        if path is not None:
            write_now_or_later(
                self.writes, functools.partial(write_cache, path, facts.to_dict(sha256), indent=1)
            )
