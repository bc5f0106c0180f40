"""A seed's evidence, one envelope at a time, as a policy reads it.

Three kinds, each with its own reader: a seed review signed by a reviewer the policy trusts,
build provenance from a trusted builder, and a source-seed claim, which holds because the
seed re-assembles byte for byte from its sdist (whoever signed it). Every reason an envelope
is not accepted goes into ``rejected`` with its ``file#line``; :func:`fromsource.seeds.check_seed`
decides what the accepted evidence is worth.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from securesystemslib.signer import Key

from fromsource.attest import dsse
from fromsource.attest.provenance import BUILDER_ID, SLSA_PROVENANCE, BuildRecord
from fromsource.attest.seed_review import ADMIT_BINARY, SEED_REVIEW, SeedReview
from fromsource.attest.source_seed import SOURCE_SEED, SourceSeedClaim
from fromsource.errors import SeedAssemblyError, VerificationError
from fromsource.fileutil import sha256_file
from fromsource.policy import Policy
from fromsource.seedassembly import assemble
from fromsource.seedstore import claimed_predicate_type
from fromsource.untrusted import MAX_EVIDENCE_BYTES, load_json, read_file

T = TypeVar("T")

EVIDENCE_REVIEW = "review"
EVIDENCE_PROVENANCE = "provenance"
EVIDENCE_SOURCE = "source"


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str  # review | provenance | source
    keyids: tuple[str, ...]
    detail: str  # review: readable | binary-by-digest; provenance: the builder id; source: the sdist
    source: str  # file#envelope
    sdist: tuple[str, str] | None = None  # source: (file name, sha256) it re-assembles from


def envelope_lines(path: Path) -> list[bytes]:
    """The envelopes of an evidence file, one a line (read bounded, regular files only)."""
    data = read_file(path, limit=MAX_EVIDENCE_BYTES, what="evidence file")
    return [line + b"\n" for line in data.splitlines() if line.strip()]


def _verified(
    line: bytes, where: str, keys: tuple[Key, ...], threshold: int, rejected: list[str]
) -> dsse.VerifiedStatement | None:
    if not keys:
        return None
    try:
        (envelope,) = dsse.parse_envelopes(line, where)
        return dsse.verify(envelope, keys, min(threshold, len({k.keyid for k in keys})))
    except VerificationError as exc:
        rejected.append(f"{where}: {exc.message}")
        return None


def _read(read: Callable[[Any], T], statement: Any, where: str, rejected: list[str]) -> T | None:
    """``read(statement)`` (a strict reader), or None with its reasons in ``rejected``."""
    try:
        return read(statement)
    except VerificationError as exc:
        rejected.extend(f"{where}: {r}" for r in exc.reasons)
        return None


def _about(name: str, sha256: str, wheel_name: str, digest: str, where: str, rejected: list[str]) -> bool:
    """Whether a statement about ``name`` with ``sha256`` is about this seed file."""
    if name != wheel_name:
        rejected.append(f"{where}: statement is about {name!r}, not {wheel_name}")
        return False
    if sha256 != digest:
        rejected.append(f"{where}: the seed file's sha256 differs from the digest that was attested")
        return False
    return True


def review_evidence(
    line: bytes, where: str, wheel_name: str, digest: str, policy: Policy, rejected: list[str]
) -> Evidence | None:
    if claimed_predicate_type(line) != SEED_REVIEW:
        return None
    verified = _verified(line, where, policy.reviewer_keys, 1, rejected)
    if verified is None:
        if not policy.reviewer_keys:
            rejected.append(f"{where}: the policy trusts no reviewer keys")
        return None
    review = _read(SeedReview.from_statement, verified.statement, where, rejected)
    if review is None or not _about(
        review.wheel_name, review.wheel_sha256, wheel_name, digest, where, rejected
    ):
        return None
    if review.admission == ADMIT_BINARY and digest not in policy.binary_seed_digests:
        rejected.append(f"{where}: a binary seed, and the policy does not name its sha256 {digest}")
        return None
    return Evidence(EVIDENCE_REVIEW, verified.keyids, review.admission, where)


def provenance_evidence(
    line: bytes, where: str, wheel_name: str, digest: str, policy: Policy, rejected: list[str]
) -> Evidence | None:
    if claimed_predicate_type(line) != SLSA_PROVENANCE:
        return None
    verified = _verified(line, where, policy.builder_keys, policy.threshold, rejected)
    if verified is None:
        return None
    record = _read(BuildRecord.from_statement, verified.statement, where, rejected)
    if record is None:
        return None
    problems = record.subject_problems(wheel_name, digest)
    problems += record.isolation_problems(
        require_isolation=policy.require_isolation, require_sandbox=policy.require_sandbox
    )
    problems += record.source_problems(allow_unverified_sources=policy.allow_unverified_sources)
    if problems:
        rejected.extend(f"{where}: {p}" for p in problems)
        return None
    return Evidence(EVIDENCE_PROVENANCE, verified.keyids, BUILDER_ID, where)


def source_evidence(
    line: bytes,
    where: str,
    wheel: Path,
    digest: str,
    policy: Policy,
    rejected: list[str],
    sdist_dirs: Sequence[Path],
    expected_sdist: str | None,
) -> Evidence | None:
    """Re-assemble the seed from its sdist and compare bytes: the evidence holds whoever
    signed it, so the signature only names who assembled it (when the policy knows them)."""
    if claimed_predicate_type(line) != SOURCE_SEED:
        return None
    try:
        (envelope,) = dsse.parse_envelopes(line, where)
        statement = load_json(envelope.payload, source=f"{where} payload", error=VerificationError)
    except VerificationError as exc:
        rejected.append(f"{where}: {exc}")
        return None
    claim = _read(SourceSeedClaim.from_statement, statement, where, rejected)
    if claim is None or not _about(claim.wheel_name, claim.wheel_sha256, wheel.name, digest, where, rejected):
        return None
    if expected_sdist is not None and claim.sdist_sha256 != expected_sdist:
        rejected.append(
            f"{where}: assembled from an sdist with sha256 {claim.sdist_sha256}, not "
            f"the one being built ({expected_sdist})"
        )
        return None
    sdist = next(
        (d / claim.sdist_name for d in sdist_dirs if _has_digest(d / claim.sdist_name, claim.sdist_sha256)),
        None,
    )
    if sdist is None:
        rejected.append(
            f"{where}: its sdist {claim.sdist_name} (sha256 {claim.sdist_sha256}) is "
            "not beside the seed; it cannot be re-assembled"
        )
        return None
    try:
        again = assemble(sdist, claim.layout, claim.exclude)
    except SeedAssemblyError as exc:
        rejected.append(f"{where}: the seed does not re-assemble from {claim.sdist_name}: {exc.message}")
        return None
    if again.sha256 != digest or again.filename != wheel.name:
        rejected.append(
            f"{where}: the seed's bytes do not re-assemble from its sdist "
            f"{claim.sdist_name} (re-assembled {again.filename} sha256 {again.sha256}, "
            f"the seed's is {digest})"
        )
        return None
    keys = (*policy.builder_keys, *policy.reviewer_keys)
    keyids: tuple[str, ...] = ()
    if keys:
        # Not signed by a key the policy names: the bytes still re-assemble.
        with contextlib.suppress(VerificationError):
            keyids = dsse.verify(envelope, keys, 1).keyids
    return Evidence(
        EVIDENCE_SOURCE,
        keyids,
        f"re-assembled from {claim.sdist_name}",
        where,
        sdist=(claim.sdist_name, claim.sdist_sha256),
    )


def _has_digest(path: Path, sha256: str) -> bool:
    try:
        return path.is_file() and sha256_file(path) == sha256
    except OSError:  # unreadable, or not a regular file after all
        return False
