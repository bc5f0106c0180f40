"""The ``publisherEvidence`` annotation on an sdist's dependency entry, and its re-check.

Written by bootstrap when the policy's ``[publishers]`` check passed; re-checked offline by
``verify`` from the workspace evidence store (docs/provenance.md has the field table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fromsource.attest.evidence import (
    VerifiedEvidence,
    find_evidence,
    read_evidence,
    verify_distribution,
)
from fromsource.attest.publisher import PublisherSpec, parse_publisher
from fromsource.attest.trustroot import PinnedRoot
from fromsource.errors import EvidenceError, FromsourceError

ANNOTATION = "publisherEvidence"
_KEYS = frozenset({"publisher", "attestationSha256", "attestationKind", "logIndex", "signer"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def annotation(result: VerifiedEvidence, spec: PublisherSpec) -> dict[str, Any]:
    """What was verified, enough to find the evidence again and re-check it."""
    return {ANNOTATION: {
        "publisher": str(spec), "attestationSha256": result.evidence_sha256,
        "attestationKind": result.evidence_kind, "logIndex": result.log_index,
        "signer": result.signer,
    }}


def recheck(name: str, sha256: str, annotations: Mapping[str, Any], evidence_dirs: Sequence[Path],
            required: PublisherSpec | None, root: Callable[[], PinnedRoot]
            ) -> tuple[tuple[str, ...], list[str]]:
    """(evidence lines, problems) for one sdist entry; never raises for bad input."""
    record = annotations.get(ANNOTATION)
    if record is None:
        if required is not None:
            return (), [f"the policy requires publisher {required}; the provenance records no "
                        "publisher evidence for this sdist"]
        return (), []
    if not isinstance(record, dict) or set(record) != _KEYS \
            or not isinstance(record["publisher"], str) \
            or not isinstance(record["attestationSha256"], str) \
            or not _SHA256.match(record["attestationSha256"]) \
            or not isinstance(record["logIndex"], int) or isinstance(record["logIndex"], bool):
        return (), [f"annotation {ANNOTATION} is malformed (needs exactly {', '.join(sorted(_KEYS))})"]
    try:
        spec = parse_publisher(record["publisher"])
    except FromsourceError as exc:
        return (), [f"annotation {ANNOTATION}: {exc.message}"]
    problems: list[str] = []
    if required is not None and str(required) != str(spec):
        problems.append(f"publisher recorded is {spec}; the policy requires {required}")
    digest = record["attestationSha256"]
    path = next((p for d in evidence_dirs if (p := d / sha256 / f"{digest}.json").is_file()), None)
    if path is None:
        return (), [*problems, f"publisher evidence sha256:{digest[:12]} is not in the workspace "
                               "evidence store"]
    try:
        evidence = read_evidence(path)
        if evidence.sha256 != digest:
            return (), [*problems, f"{path} does not have sha256 {digest}"]
        result = verify_distribution(Path(name), [evidence], spec, root(), dist_sha256=sha256)
    except EvidenceError as exc:
        return (), [*problems, *(f"publisher evidence: {r}" for r in exc.reasons)]
    except FromsourceError as exc:
        return (), [*problems, f"publisher evidence: {exc.message}"]
    if result.log_index != record["logIndex"]:
        problems.append(f"publisher evidence verifies at log index {result.log_index}, the "
                        f"provenance records {record['logIndex']}")
    return (f"published by {spec}",
            f"log index {result.log_index}, evidence sha256:{digest[:12]} ({result.evidence_kind})"), \
        problems


def check_stored(name: str, sha256: str, spec: PublisherSpec, evidence_dirs: Sequence[Path],
                 root: Callable[[], PinnedRoot]) -> tuple[tuple[str, ...], list[str]]:
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
    return (f"published by {spec}", f"log index {result.log_index}, evidence sha256:"
            f"{result.evidence_sha256[:12]} ({result.evidence_kind})"), []

