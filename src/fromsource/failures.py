"""Build failures remembered by the digest of their inputs, so a re-run does not repeat them.

A failed build is deterministic often enough (a missing header, a Rust crate that cannot be
fetched) that re-running it on every re-run of a large graph costs minutes for nothing. A
failure is kept under ``WORKSPACE/cache/failures/<key>.json`` where the key digests exactly
what reuse compares for a success (the sdist, every build-environment wheel and its
attestation, interpreter, isolation, fromsource version) plus what a user changes to fix a
build: the build settings (toolchains granted, crates registry, sandbox) and the system's
package database (``/var/lib/dpkg/status``: installing a ``-dev`` package changes it). Any
of those different, and the build runs again; ``--retry-failed`` runs it again regardless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fromsource.cachefile import read_cache, write_cache

FORMAT = "fromsource.build-failure"
FORMAT_VERSION = 1
# The package database whose change may fix a build (Debian and derivatives).
SYSTEM_PACKAGE_DATABASES = (Path("/var/lib/dpkg/status"),)


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A build that failed from exactly the inputs its key digests."""

    name: str
    version: str
    error: str  # the first line the build reported
    log: str | None  # the log of that build (kept under builds/)
    log_tail: str | None
    failed_on: str  # RFC 3339 timestamp

    def to_dict(self, key: str) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "key": key,
            "name": self.name,
            "version": self.version,
            "error": self.error,
            "log": self.log,
            "log_tail": self.log_tail,
            "failed_on": self.failed_on,
        }

    @classmethod
    def from_dict(cls, data: Any, key: str) -> Failure:
        """The strict reading of a record; ValueError on anything unexpected."""
        fields = {
            "format",
            "format_version",
            "key",
            "name",
            "version",
            "error",
            "log",
            "log_tail",
            "failed_on",
        }
        if not isinstance(data, dict) or set(data) != fields:
            raise ValueError("not a build-failure record")
        if (data["format"], data["format_version"], data["key"]) != (FORMAT, FORMAT_VERSION, key):
            raise ValueError("another format, version or key")
        for field in ("name", "version", "error", "failed_on"):
            if not isinstance(data[field], str):
                raise ValueError(f"{field} is not text")
        for field in ("log", "log_tail"):
            if data[field] is not None and not isinstance(data[field], str):
                raise ValueError(f"{field} is not text")
        return cls(
            name=data["name"],
            version=data["version"],
            error=data["error"],
            log=data["log"],
            log_tail=data["log_tail"],
            failed_on=data["failed_on"],
        )


def failure_key(
    *,
    name: str,
    version: str,
    sdist_sha256: str,
    env: Iterable[tuple[str, str, str | None]],
    fingerprint: Sequence[str],
    settings: str,
    system: Sequence[str],
) -> str:
    """sha256 of the inputs of one build, canonical JSON: ``env`` (wheel name, sha256,
    attestation sha256), ``fingerprint`` (isolation, interpreter sha256, fromsource
    version), ``settings`` (what the policy and options decide), ``system`` (digests of the
    package databases)."""
    doc = {
        "name": name,
        "version": version,
        "sdist": sdist_sha256,
        "env": sorted([list(e) for e in env], key=lambda e: [str(x) for x in e]),
        "fingerprint": list(fingerprint),
        "settings": settings,
        "system": list(system),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def system_state(
    digest: Callable[[Path], str], databases: Sequence[Path] = SYSTEM_PACKAGE_DATABASES
) -> list[str]:
    """Digests of the system's package databases that exist (a stat cache: cheap)."""
    found = []
    for database in databases:
        try:
            found.append(f"{database}:{digest(database)}")
        except OSError:
            continue
    return found


class FailureMemory:
    """Failures by key in ``directory`` (``WORKSPACE/cache/failures``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def recall(self, key: str) -> Failure | None:
        data = read_cache(self._path(key), "failure record")
        try:
            return None if data is None else Failure.from_dict(data, key)
        except ValueError:
            return None  # unreadable: as if unknown, the build runs again

    def remember(self, key: str, failure: Failure) -> None:
        write_cache(self._path(key), failure.to_dict(key), indent=2)

    def forget(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
