"""Resume and incremental builds: what a previous run left that this one may reuse.

A wheel is reused when its attestation (signed by the key of this run) states the same sdist
digest, exactly the same build-environment wheels (name, digest and attestation digest), the
same interpreter, isolation and fromsource version as the build this run would do. Anything
else is rebuilt. Files are only ever replaced atomically, so a killed run leaves whole old
files or whole new ones, plus hidden temp files that :func:`remove_stale_temp_files` clears.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename
from securesystemslib.signer import Key

from fromsource import __version__
from fromsource.attest import dsse
from fromsource.attest.locate import attestation_of
from fromsource.attest.provenance import BuildRecord, PublisherEvidence
from fromsource.build import EnvWheel
from fromsource.errors import FromsourceError
from fromsource.fileutil import atomic_write_bytes, sha256_file
from fromsource.native import changed_inputs
from fromsource.untrusted import MAX_ATTESTATION_BYTES, MAX_SMALL_FILE_BYTES, load_json, read_file
from fromsource.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The settings a build's output depends on besides its sdist and environment."""

    isolation: str
    interpreter_sha256: str
    builder_version: str = __version__

    @classmethod
    def current(cls, isolation: str) -> Fingerprint:
        return cls(isolation, _interpreter_digest())


def _interpreter_digest() -> str:
    return sha256_file(Path(sys.executable).resolve())


@dataclass(frozen=True, slots=True)
class Reusable:
    wheel: Path
    sha256: str
    attestation: Path


def find_reusable(
    workspace: Workspace,
    name: str,
    version: str,
    *,
    sdist_sha256: str,
    env: Sequence[EnvWheel],
    fingerprint: Fingerprint,
    keys: Sequence[Key],
    digest: Callable[[Path], str],
    directory: Path | None = None,
    sdist_annotations: Mapping[str, Any] | None = None,
    stale: Callable[[str], None] | None = None,
    listing: WheelListing | None = None,
) -> Reusable | None:
    """A wheel of ``name`` ``version`` built from exactly these inputs, in wheels/ or in
    ``directory`` (stage1/, whose wheels carry sidecar attestations), whose recorded native
    inputs this machine still offers unchanged (else ``stale`` hears why it is not reused).
    ``digest`` is a stat cache: a no-op re-run hashes nothing; ``listing`` the run's one
    listing of wheels/ (else it is listed here)."""
    evidence = PublisherEvidence.from_annotations(sdist_annotations or {})
    wanted_env = {
        (
            w.path.name,
            w.sha256,
            None if w.external else digest(attestation_of(w.path, workspace.attestations)),
        )
        for w in env
    }
    if directory is not None or listing is None:
        listing = WheelListing(directory if directory is not None else workspace.wheels)
    for wheel in listing.of(name, version):
        attestation = attestation_of(wheel, workspace.attestations)
        record = _record(attestation, keys)
        if record is None:
            continue
        wheel_sha = digest(wheel)
        if _matches(record, wheel.name, wheel_sha, sdist_sha256, wanted_env, fingerprint, evidence):
            changed = changed_inputs(record.natives, digest)
            if not changed:
                return Reusable(wheel, wheel_sha, attestation)
            if stale is not None:
                stale("native inputs changed: " + "; ".join(changed))
    return None


class WheelListing:
    """The wheels of a directory by (project, version), listed once until :meth:`forget`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._by_release: dict[tuple[str, str], list[Path]] | None = None

    def of(self, name: str, version: str) -> list[Path]:
        if self._by_release is None:
            self._by_release = {}
            for wheel in sorted(self.directory.glob("*.whl")) if self.directory.is_dir() else ():
                try:
                    wname, wversion, _, _ = parse_wheel_filename(wheel.name)
                except ValueError:
                    continue
                self._by_release.setdefault((wname, str(wversion)), []).append(wheel)
        return self._by_release.get((canonicalize_name(name), version), [])

    def forget(self) -> None:
        """A wheel was written: list again when next asked."""
        self._by_release = None


def _record(path: Path, keys: Sequence[Key]) -> BuildRecord | None:
    """The first envelope's record, when it verifies and reads strictly; else nothing to reuse."""
    try:
        envelopes = dsse.parse_envelopes(
            read_file(path, limit=MAX_ATTESTATION_BYTES, what="attestation"), path.name
        )
        return BuildRecord.from_statement(dsse.verify(envelopes[0], keys).statement)
    except (OSError, FromsourceError):
        return None


def _matches(
    record: BuildRecord,
    wheel_name: str,
    wheel_sha: str,
    sdist_sha: str,
    env: set[tuple[str, str, str | None]],
    fingerprint: Fingerprint,
    evidence: PublisherEvidence | None,
) -> bool:
    used = {(d.name, d.sha256, d.attestation_sha256) for d in record.wheels}
    return (
        not record.subject_problems(wheel_name, wheel_sha)
        and record.sdist.sha256 == sdist_sha
        and used == env
        # Publisher evidence verified this run must be the evidence the wheel records.
        and record.sdist.publisher_evidence == evidence
        and record.interpreter.sha256 == fingerprint.interpreter_sha256
        and record.isolation == fingerprint.isolation
        and record.builder_version == fingerprint.builder_version
    )


# --------------------------------------------------------------- discovery cache


def _backend_file(workspace: Workspace, name: str, version: str) -> Path:
    return workspace.builds / f"{canonicalize_name(name)}-{version}" / "backend-requires.json"


def load_backend_requires(
    workspace: Workspace, name: str, version: str, sdist_sha256: str
) -> tuple[str, ...] | None:
    """What the backend asked for last time from this very sdist, if recorded.

    Only a hint: the build checks the hook's answer again and says if it asks for more.
    """
    try:
        path = _backend_file(workspace, name, version)
        data = load_json(
            read_file(path, limit=MAX_SMALL_FILE_BYTES, what="backend requirements"), source=str(path)
        )
        if data["sdist_sha256"] == sdist_sha256:
            return tuple(str(r) for r in data["requires"])
    except (FromsourceError, KeyError, TypeError):
        pass
    return None


def save_backend_requires(
    workspace: Workspace, name: str, version: str, sdist_sha256: str, requires: Sequence[str]
) -> None:
    doc = {"sdist_sha256": sdist_sha256, "requires": list(requires)}
    path = _backend_file(workspace, name, version)  # a hint: a torn one is ignored
    atomic_write_bytes(path, json.dumps(doc, indent=2).encode() + b"\n", durable=False)


def remove_stale_temp_files(workspace: Workspace) -> int:
    """Delete temp files a killed run left (``.<name>.*.tmp`` / ``.part``); call under the lock."""
    removed = 0
    # Not rglob over builds/: it holds whole unpacked trees and venvs.
    places = [
        (workspace.root, ""),
        (workspace.wheels, ""),
        (workspace.attestations, ""),
        (workspace.sources, ""),
        (workspace.simple, "**/"),
        (workspace.builds, "*/"),
    ]
    for directory, prefix in places:
        if not directory.is_dir():
            continue
        for pattern in (".*.tmp", ".*.part"):
            for path in directory.glob(prefix + pattern):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
    return removed
