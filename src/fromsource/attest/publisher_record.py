"""The ``publisherEvidence`` annotation on an sdist's dependency entry, and its re-check.

Written by bootstrap when the policy's ``[publishers]`` check passed; re-checked offline by
``verify`` from the workspace evidence store (docs/provenance.md has the field table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fromsource.attest.evidence import (
    VerifiedEvidence,
    find_evidence,
    read_evidence,
    verify_distribution,
)
from fromsource.attest.provenance import PUBLISHER_EVIDENCE, PublisherEvidence
from fromsource.attest.publisher import PublisherSpec, parse_publisher
from fromsource.attest.trustroot import PinnedRoot
from fromsource.errors import EvidenceError, FromsourceError

ANNOTATION = PUBLISHER_EVIDENCE
_KEYS = frozenset({"publisher", "attestationSha256", "attestationKind", "logIndex", "signer"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def annotation(result: VerifiedEvidence, spec: PublisherSpec) -> dict[str, Any]:
    """What was verified, enough to find the evidence again and re-check it."""
    return {
        ANNOTATION: PublisherEvidence(
            publisher=str(spec),
            attestation_sha256=result.evidence_sha256,
            attestation_kind=result.evidence_kind,
            log_index=result.log_index,
            signer=result.signer,
        ).to_dict()
    }


def recheck(
    name: str,
    sha256: str,
    record: PublisherEvidence | None,
    evidence_dirs: Sequence[Path],
    required: PublisherSpec | None,
    root: Callable[[], PinnedRoot],
) -> tuple[tuple[str, ...], list[str]]:
    """(evidence lines, problems) for one sdist entry, whose ``publisherEvidence`` the statement
    reader (:meth:`BuildRecord.from_statement`) has already read strictly; never raises."""
    if record is None:
        if required is not None:
            return (), [
                f"the policy requires publisher {required}; the provenance records no "
                "publisher evidence for this sdist"
            ]
        return (), []
    try:
        spec = parse_publisher(record.publisher)
    except FromsourceError as exc:
        return (), [f"annotation {ANNOTATION}: {exc.message}"]
    problems: list[str] = []
    if required is not None and str(required) != str(spec):
        problems.append(f"publisher recorded is {spec}; the policy requires {required}")
    digest = record.attestation_sha256
    path = next((p for d in evidence_dirs if (p := d / sha256 / f"{digest}.json").is_file()), None)
    if path is None:
        return (), [
            *problems,
            f"publisher evidence sha256:{digest[:12]} is not in the workspace evidence store",
        ]
    try:
        evidence = read_evidence(path)
        if evidence.sha256 != digest:
            return (), [*problems, f"{path} does not have sha256 {digest}"]
        result = verify_distribution(Path(name), [evidence], spec, root(), dist_sha256=sha256)
    except EvidenceError as exc:
        return (), [*problems, *(f"publisher evidence: {r}" for r in exc.reasons)]
    except FromsourceError as exc:
        return (), [*problems, f"publisher evidence: {exc.message}"]
    if result.log_index != record.log_index:
        problems.append(
            f"publisher evidence verifies at log index {result.log_index}, the "
            f"provenance records {record.log_index}"
        )
    return (
        f"published by {spec}",
        f"log index {result.log_index}, evidence sha256:{digest[:12]} ({result.evidence_kind})",
    ), problems


def check_stored(
    name: str, sha256: str, spec: PublisherSpec, evidence_dirs: Sequence[Path], root: Callable[[], PinnedRoot]
) -> tuple[tuple[str, ...], list[str]]:
    """(evidence, problems): does any stored evidence for ``sha256`` show ``spec`` published
    ``name``? For externals admitted by publisher, whose entries carry no annotation."""
    files, problems = [], []
    for directory in evidence_dirs:
        for path in find_evidence(Path(name), sha256, directory):
            try:
                files.append(read_evidence(path))
            except FromsourceError as exc:
                problems.append(exc.message)
    try:
        result = verify_distribution(Path(name), files, spec, root(), dist_sha256=sha256)
    except EvidenceError as exc:
        return (), [*problems, *(f"publisher evidence: {r}" for r in exc.reasons)]
    except FromsourceError as exc:
        return (), [*problems, f"publisher evidence: {exc.message}"]
    return (
        f"published by {spec}",
        f"log index {result.log_index}, evidence sha256:"
        f"{result.evidence_sha256[:12]} ({result.evidence_kind})",
    ), []
