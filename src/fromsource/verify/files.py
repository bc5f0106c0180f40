"""Where verification looks for wheels and attestations, and each file it meets, looked up,
hashed and read once per verification.

Files are keyed by their path as text: a wheel sits in many build environments, so the same
lookups come back thousands of times, and ``Path`` objects cost more to hash and compare.
Whether a file is there is answered from one listing of its directory, not a stat per name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fromsource.attest.locate import SUFFIX, attestation_files
from fromsource.errors import FromsourceError, VerificationError
from fromsource.fileutil import sha256_file
from fromsource.untrusted import MAX_ATTESTATION_BYTES, read_file


@dataclass(frozen=True, slots=True)
class Locations:
    """Where to look for wheels and attestations."""

    wheel_dirs: tuple[Path, ...] = ()
    attestation_dirs: tuple[Path, ...] = ()
    seed_dirs: tuple[Path, ...] = ()
    evidence_dirs: tuple[Path, ...] = ()  # publisher evidence stores (<sdist sha256>/...)

    def candidates(
        self,
        name: str,
        near: Path | None = None,
        *,
        seeds: bool = False,
        exists: Callable[[Path, str], bool] | None = None,
    ) -> list[Path]:
        """Every existing file called ``name``: in seeds/, or near the dependent then the wheel
        directories; each file once. ``exists`` as for :func:`attestation_files`."""
        dirs = self.seed_dirs if seeds else ((near,) if near else ()) + self.wheel_dirs
        found: list[Path] = []
        seen: set[str] = set()
        for directory in dirs:
            if exists is not None and not exists(directory, name):
                continue  # answered without making a path
            path = directory / name
            key = same_file_key(path)
            if key not in seen and (exists is not None or path.is_file()):
                seen.add(key)
                found.append(path)
        return found

    def attestation_files(
        self, wheel: Path, *, exists: Callable[[Path, str], bool] | None = None
    ) -> list[Path]:
        """Sidecar first (``X.whl.intoto.jsonl``), then the attestation directories."""
        return attestation_files(wheel, self.attestation_dirs, exists=exists)


_UNLISTED: frozenset[str] = frozenset({"/"})  # no file is called "/": marks "not listed yet"


class Lookups:
    """The files one verification meets. Files do not move during it: each is looked up,
    hashed and read once."""

    def __init__(self, locations: Locations) -> None:
        self.locations = locations
        self._keys: dict[str, str] = {}
        self._digests: dict[str, str] = {}
        self._bytes: dict[str, bytes] = {}
        self._attestations: dict[str, list[Path]] = {}
        self._ranked: dict[tuple[str, str | None, bool, str, str | None], list[tuple[Path, str]]] = {}
        self._listings: dict[str, frozenset[str] | None] = {}

    def exists(self, directory: Path, name: str) -> bool:
        """Whether ``directory`` holds a regular file (or a link to one) called ``name``, from
        one listing of the directory; a directory that cannot be listed is asked per file."""
        text = str(directory)
        names = self._listings.get(text, _UNLISTED)
        if names is _UNLISTED:
            try:
                with os.scandir(directory) as entries:
                    names = frozenset(entry.name for entry in entries if entry.is_file())
            except OSError:
                names = None
            self._listings[text] = names
        if names is None or "/" in name or name in (".", ".."):
            return (directory / name).is_file()
        return name in names

    def file_key(self, path: Path) -> str:
        """Identity of a file for de-duplication (see :func:`same_file_key`)."""
        text = str(path)
        found = self._keys.get(text)
        if found is None:
            found = self._keys[text] = same_file_key(path)
        return found

    def digest(self, path: Path | str) -> str:
        """The file's sha256; an attestation's from the bytes :meth:`read` keeps for parsing."""
        text = str(path)
        found = self._digests.get(text)
        if found is None:
            file = path if isinstance(path, Path) else Path(path)
            if text.endswith(SUFFIX):
                # One that cannot be read pins nothing; reading it again reports why.
                try:
                    found = hashlib.sha256(self.read(file)).hexdigest()
                except (OSError, FromsourceError):
                    found = "unreadable"
            else:
                found = sha256_file(file)
            self._digests[text] = found
        return found

    def read(self, attestation: Path) -> bytes:
        """Bounded, regular files only (untrusted.read_file); over the limit is an error."""
        text = str(attestation)
        data = self._bytes.get(text)
        if data is None:
            data = self._bytes[text] = read_file(
                attestation, limit=MAX_ATTESTATION_BYTES, what="attestation", error=VerificationError
            )
        return data

    def attestations(self, wheel: Path) -> list[Path]:
        text = str(wheel)
        found = self._attestations.get(text)
        if found is None:
            found = self._attestations[text] = self.locations.attestation_files(wheel, exists=self.exists)
        return found

    def find_wheel(
        self,
        name: str,
        near: Path | None,
        sha256: str,
        *,
        seeds: bool = False,
        exclude: str | None = None,
        attestation_sha256: str | None = None,
    ) -> Path | None:
        """The file called ``name``, preferably the one with ``sha256``, and among those the
        one whose attestation has ``attestation_sha256``; ``exclude``: a :meth:`file_key` never
        returned (a wheel is not its own dependency).

        Stage-1 and stage-2 builds of one package share a file name and can be byte for
        byte the same; what tells them apart is the attestation recorded when one was used.
        Without a digest match the first file found is returned, for a precise mismatch error.
        The order is worked out once per lookup; only ``exclude`` differs between dependents.
        """
        key = (name, None if near is None else str(near), seeds, sha256, attestation_sha256)
        ranked = self._ranked.get(key)
        if ranked is None:
            ranked = self._ranked[key] = self._rank(name, near, seeds, sha256, attestation_sha256)
        for path, file_key in ranked:
            if file_key != exclude:
                return path
        return None

    def _rank(
        self, name: str, near: Path | None, seeds: bool, sha256: str, attestation_sha256: str | None
    ) -> list[tuple[Path, str]]:
        """The files called ``name`` in the order :meth:`find_wheel` prefers them: the attestation
        matching too, then the digest, then the rest, each in the order of the candidates."""
        found = self.locations.candidates(name, near, seeds=seeds, exists=self.exists)
        matching = [f for f in found if self.digest(f) == sha256]
        pinned = []
        if attestation_sha256 is not None:
            for candidate in matching:
                files = self.attestations(candidate)
                if files and self.digest(files[0]) == attestation_sha256:
                    pinned.append(candidate)
        ordered = pinned + [f for f in matching if f not in pinned] + [f for f in found if f not in matching]
        return [(f, self.file_key(f)) for f in ordered]


def same_file_key(path: Path) -> str:
    """Identity of a file for de-duplication: absolute and normalised, without the syscalls of
    ``resolve()`` (verification looks files up thousands of times)."""
    return os.path.abspath(path)
