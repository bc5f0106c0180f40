"""Origin attestations in a workspace: writing them, finding and verifying them, and the
policy gate bootstrap runs before building an sdist.

    attestations/<sdist>.origin.intoto.jsonl   the signed source-origin statement
    attestations/<sdist>.origin.json           the full report (every file, diffs)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import Key, Signer

from fromsource import __version__
from fromsource.attest import dsse
from fromsource.attest.origin import OriginClaim, origin_statement, read_origin
from fromsource.attest.shape import timestamp_now
from fromsource.errors import FromsourceError, OriginMismatch, VerificationError
from fromsource.fileutil import atomic_write_bytes
from fromsource.origin.check import OriginReport, check_origin
from fromsource.untrusted import MAX_ATTESTATION_BYTES, read_file
from fromsource.workspace import Workspace

ATTESTATION_SUFFIX = ".origin.intoto.jsonl"


def attestation_file(directory: Path, sdist_name: str) -> Path:
    return directory / f"{sdist_name}{ATTESTATION_SUFFIX}"


def _read(path: Path) -> bytes:
    """An attestation file is input like any other: regular, bounded."""
    return read_file(path, limit=MAX_ATTESTATION_BYTES, what="origin attestation")


def record_origin(workspace: Workspace, report: OriginReport, signer: Signer) -> Path:
    """Sign the report's statement and store it (and the full report) in the workspace."""
    data = report.to_dict()
    statement = origin_statement(data, tool_version=__version__, checked_on=timestamp_now())
    workspace.attestations.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(
        workspace.attestations / f"{report.sdist}.origin.json",
        json.dumps(data, indent=2, sort_keys=True).encode() + b"\n",
    )
    path = attestation_file(workspace.attestations, report.sdist)
    atomic_write_bytes(path, dsse.sign(statement, signer))
    return path


@dataclass(frozen=True, slots=True)
class FoundOrigin:
    claim: OriginClaim | None
    attestation: Path | None
    problems: tuple[str, ...] = ()


def find_origin(
    directories: Iterable[Path], sdist_name: str, sdist_sha256: str, keys: Sequence[Key], threshold: int = 1
) -> FoundOrigin:
    """The verified origin claim for this exact sdist, if an attestation for it exists."""
    problems: list[str] = []
    for directory in directories:
        path = attestation_file(directory, sdist_name)
        if not path.is_file():
            continue
        try:
            envelopes = dsse.parse_envelopes(_read(path), path.name)
        except FromsourceError as exc:
            problems.append(f"origin attestation: {exc}")
            continue
        for index, envelope in enumerate(envelopes, 1):
            where = f"origin attestation {path.name}#{index}"
            try:
                verified = dsse.verify(envelope, keys, threshold)
            except VerificationError as exc:
                problems.append(f"{where}: {exc}")
                continue
            claim, reasons = read_origin(verified.statement)
            if claim is None:
                problems += [f"{where}: {r}" for r in reasons]
            elif claim.sdist_sha256 != sdist_sha256 or claim.sdist != sdist_name:
                problems.append(
                    f"{where}: states {claim.sdist} sha256 {claim.sdist_sha256[:12]}…, not this sdist"
                )
            else:
                return FoundOrigin(claim, path)
    return FoundOrigin(None, None, tuple(problems))


def require_origin(
    workspace: Workspace, sdist: Path, sdist_sha256: str, *, repository: str | None, signer: Signer
) -> OriginClaim:
    """Bootstrap's gate: reuse a matching signed claim, else check, attest, or raise
    :class:`OriginMismatch` with every finding (nothing of that sdist is built then)."""
    found = find_origin([workspace.attestations], sdist.name, sdist_sha256, [signer.public_key])
    if found.claim is not None and found.claim.matches:
        return found.claim
    report = check_origin(sdist, repo=repository)
    if not report.matches:
        findings = report.finding_lines()
        raise OriginMismatch(
            f"{sdist.name} does not match {report.repository} @ {report.ref_name} "
            f"(commit {report.commit[:12]}); the policy requires origin, so it is not built:\n  "
            + "\n  ".join(findings),
            findings,
            hint="run `fromsource origin` on it for the diffs; build only what its repository holds",
        )
    record_origin(workspace, report, signer)
    claim = find_origin([workspace.attestations], sdist.name, sdist_sha256, [signer.public_key]).claim
    if claim is None:  # pragma: no cover - we just wrote it with this key
        raise AssertionError("the origin attestation just written does not verify")
    return claim


def recorded_origin(directory: Path, sdist_name: str, sdist_sha256: str) -> tuple[OriginClaim, Path] | None:
    """The origin claim stored for this exact sdist, read without verifying signatures
    (for the SBOM, which describes; ``verify`` is what checks)."""
    path = attestation_file(directory, sdist_name)
    try:
        envelopes = dsse.parse_envelopes(_read(path), path.name)
    except FromsourceError:
        return None
    for envelope in envelopes:
        try:
            statement = json.loads(envelope.payload)
        except (ValueError, UnicodeDecodeError):
            continue
        claim, _ = read_origin(statement)
        if claim is not None and claim.sdist == sdist_name and claim.sdist_sha256 == sdist_sha256:
            return claim, path
    return None
