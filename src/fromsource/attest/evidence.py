"""Publisher evidence: PEP 740 attestations, PEP 740 provenance objects, sigstore bundles.

One strict reader (:func:`read_evidence`) turns a file into typed candidates; one verifier
(:func:`verify_distribution`) checks them against an expected publisher or identity with
sigstore's :class:`~sigstore.verify.Verifier` built on a pinned trusted root. Every
certificate, transparency-log and DSSE check is sigstore's or pypi-attestations'; this module
only binds the verified statement to the file (subject name and sha256), as
``Attestation.verify`` does, because that method cannot take a pinned root.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from fromsource.attest.publisher import Expected, PublisherSpec
from fromsource.errors import EvidenceError, EvidenceFileError
from fromsource.fileutil import atomic_write_bytes, sha256_file
from fromsource.untrusted import load_json, read_file

if TYPE_CHECKING:
    from sigstore.models import Bundle

    from fromsource.attest.trustroot import PinnedRoot

# A PEP 740 attestation is ~10 KB; a provenance object holds a few. Read no further.
MAX_EVIDENCE_BYTES = 4 << 20
# File names looked for beside a distribution (``<dist name><suffix>``).
BESIDE_SUFFIXES = (
    ".publish.attestation",
    ".slsa.attestation",
    ".attestation",
    ".provenance",
    ".sigstore",
    ".sigstore.json",
)
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"

EvidenceKind = Literal["pep740-attestation", "pep740-provenance", "sigstore-bundle"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One signed thing inside an evidence file, ready for sigstore."""

    label: str  # where it is, for reasons: "x.provenance: bundle 1, attestation 2"
    bundle: Bundle | None  # None when the file's material cannot even form a bundle
    unusable: str | None = None  # why not (a certificate that is not X.509, say)
    claimed_publisher: object | None = None  # the index's unsigned publisher claim


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceFile:
    path: Path
    sha256: str
    kind: EvidenceKind
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedEvidence:
    """What was verified: which file, by whom, by which evidence, at which log entry."""

    distribution: str
    sha256: str
    expected: str  # the publisher spec or "SAN (issuer ...)" that was required
    evidence: str  # path of the evidence file
    evidence_sha256: str
    evidence_kind: EvidenceKind
    predicate_type: str | None  # None for a message-signature bundle
    log_index: int
    integrated_time: int
    signer: str  # the certificate's SAN
    trusted_root_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution,
            "sha256": self.sha256,
            "expected": self.expected,
            "evidence": self.evidence,
            "evidenceSha256": self.evidence_sha256,
            "evidenceKind": self.evidence_kind,
            "predicateType": self.predicate_type,
            "logIndex": self.log_index,
            "integratedTime": self.integrated_time,
            "signer": self.signer,
            "trustedRootSha256": self.trusted_root_sha256,
        }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def read_bounded(path: Path, limit: int = MAX_EVIDENCE_BYTES) -> bytes:
    # A FIFO or device in an --evidence directory fails at once (untrusted.read_file).
    return read_file(path, limit=limit, what="evidence", error=EvidenceFileError)


def parse_evidence(data: bytes, source: str) -> tuple[EvidenceKind, tuple[Candidate, ...]]:
    """Classify and parse evidence bytes; :class:`EvidenceFileError` when they are none of
    a PEP 740 attestation, a PEP 740 provenance object or a sigstore bundle."""
    from pydantic import ValidationError
    from pypi_attestations import Attestation, Provenance
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    raw = load_json(data, source=f"evidence {source}", error=EvidenceFileError)
    if not isinstance(raw, dict):
        raise EvidenceFileError(f"evidence {source} is not a JSON object")
    try:
        if "attestation_bundles" in raw:
            provenance = Provenance.model_validate_json(data)
            candidates = tuple(
                _from_attestation(att, f"{source}: bundle {b}, attestation {a}", claimed=bundle.publisher)
                for b, bundle in enumerate(provenance.attestation_bundles, 1)
                for a, att in enumerate(bundle.attestations, 1)
            )
            if not candidates:
                raise EvidenceFileError(f"evidence {source}: provenance object holds no attestation")
            return "pep740-provenance", candidates
        if "verification_material" in raw and "envelope" in raw:
            attestation = Attestation.model_validate_json(data)
            return "pep740-attestation", (_from_attestation(attestation, source),)
        if str(raw.get("mediaType", "")).startswith("application/vnd.dev.sigstore.bundle"):
            return "sigstore-bundle", (Candidate(label=source, bundle=Bundle.from_json(data)),)
    except (ValidationError, SigstoreError, ValueError) as exc:
        raise EvidenceFileError(f"evidence {source} is malformed: {_first_line(exc)}") from exc
    raise EvidenceFileError(
        f"evidence {source} is neither a PEP 740 attestation, a PEP 740 provenance object "
        "nor a sigstore bundle"
    )


def _from_attestation(attestation: Any, label: str, claimed: object | None = None) -> Candidate:
    from pypi_attestations import ConversionError

    try:
        return Candidate(label=label, bundle=attestation.to_bundle(), claimed_publisher=claimed)
    except ConversionError as exc:
        # Well-formed JSON whose certificate or log entry is not what it must be: a failed
        # candidate (tampered), not an unreadable file.
        return Candidate(label=label, bundle=None, unusable=_first_line(exc), claimed_publisher=claimed)


def read_evidence(path: Path) -> EvidenceFile:
    data = read_bounded(path)
    kind, candidates = parse_evidence(data, str(path))
    return EvidenceFile(path=path, sha256=hashlib.sha256(data).hexdigest(), kind=kind, candidates=candidates)


# -- where evidence lives -----------------------------------------------------------------


def store_dir(evidence_root: Path, dist_sha256: str) -> Path:
    return evidence_root / dist_sha256


def find_evidence(dist: Path, dist_sha256: str, evidence_root: Path | None) -> list[Path]:
    """Evidence beside ``dist`` (``<name><suffix>``), then in the workspace store by digest."""
    found = [p for s in BESIDE_SUFFIXES if (p := dist.parent / f"{dist.name}{s}").is_file()]
    if evidence_root is not None:
        directory = store_dir(evidence_root, dist_sha256)
        if directory.is_dir():
            found += sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())
    return found


def store_evidence(evidence_root: Path, dist_sha256: str, data: bytes) -> Path:
    """Keep evidence bytes under ``<root>/<dist sha256>/<evidence sha256>.json`` (checked first)."""
    parse_evidence(data, "evidence to store")
    dest = store_dir(evidence_root, dist_sha256) / f"{hashlib.sha256(data).hexdigest()}.json"
    if not dest.is_file():
        atomic_write_bytes(dest, data)
    return dest


# -- verification ------------------------------------------------------------------------


def verify_distribution(
    dist: Path,
    evidence: list[EvidenceFile],
    expected: Expected,
    root: PinnedRoot,
    *,
    dist_sha256: str | None = None,
) -> VerifiedEvidence:
    """The first candidate that verifies for ``dist`` and ``expected``; otherwise
    :class:`EvidenceError` with one reason per candidate tried."""
    from sigstore.verify import Verifier

    name = dist.name
    digest = dist_sha256 or sha256_file(dist)
    if not evidence:
        raise EvidenceError(
            f"{name}: no publisher evidence found",
            [f"{name}: no publisher evidence found (pass --attestation FILE)"],
        )
    verifier = Verifier(trusted_root=root.root)
    reasons: list[str] = []
    for file in evidence:
        for candidate in file.candidates:
            try:
                predicate, signer = _verify_candidate(verifier, candidate, name, digest, expected)
            except _Rejected as exc:
                reasons.append(f"{candidate.label}: {exc}")
                continue
            assert candidate.bundle is not None  # noqa: S101 - _verify_candidate checked it
            entry = _log_entry(candidate.bundle)
            return VerifiedEvidence(
                distribution=name,
                sha256=digest,
                expected=str(expected),
                evidence=str(file.path),
                evidence_sha256=file.sha256,
                evidence_kind=file.kind,
                predicate_type=predicate,
                log_index=int(entry.get("logIndex", -1)),
                integrated_time=int(entry.get("integratedTime", 0)),
                signer=signer,
                trusted_root_sha256=root.sha256,
            )
    raise EvidenceError(f"{name}: no evidence verifies for {expected}", reasons)


class _Rejected(Exception):
    """A candidate failed; the message is the one-line reason (never leaves this module)."""


def _verify_candidate(
    verifier: Any, candidate: Candidate, name: str, digest: str, expected: Expected
) -> tuple[str | None, str]:
    from cryptography.x509 import ExtensionNotFound
    from sigstore.errors import CertValidationError
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    if candidate.bundle is None:
        raise _Rejected(candidate.unusable or "unusable")
    bundle = candidate.bundle
    if isinstance(expected, PublisherSpec) and expected.environment is not None:
        # The certificate does not carry the environment; only the index's publisher object
        # names it, so an environment can be required only of provenance-object evidence.
        claimed = candidate.claimed_publisher
        if claimed is None:
            raise _Rejected(
                f"environment {expected.environment!r} cannot be checked: only the "
                "index's provenance object names it, the certificate does not"
            )
        if getattr(claimed, "environment", None) != expected.environment:
            raise _Rejected(
                f"the index names environment {getattr(claimed, 'environment', None)!r}"
                f", not {expected.environment!r}"
            )
    policy = expected.policy()
    if isinstance(expected, PublisherSpec):
        # The publisher policy's own message prints raw certificate extensions; say it plainly.
        try:
            policy.verify(bundle.signing_certificate)
        except (SigstoreError, ValueError, KeyError, ExtensionNotFound) as exc:
            raise _Rejected(f"signed by {_signer(bundle)}, not by {expected}") from exc
    try:
        # sigstore has no public "is this a DSSE bundle" test; its own CLI reads this field.
        if bundle._dsse_envelope is not None:
            payload_type, payload = verifier.verify_dsse(bundle, policy)
            predicate = _check_statement(payload_type, payload, name, digest, expected)
        else:
            verifier.verify_artifact(
                Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest)), bundle, policy
            )
            predicate = None
    except CertValidationError as exc:
        raise _Rejected(
            "certificate does not chain to the pinned trusted root (another sigstore "
            f"instance?): {_first_line(exc)}"
        ) from exc
    except SigstoreError as exc:
        raise _Rejected(_first_line(exc)) from exc
    except (ValueError, KeyError, ExtensionNotFound) as exc:  # claims a policy needs are absent
        raise _Rejected(f"certificate does not fit the policy: {_first_line(exc)}") from exc
    return predicate, _signer(bundle)


def _check_statement(payload_type: str, payload: bytes, name: str, digest: str, expected: Expected) -> str:
    """Bind the verified in-toto statement to this file, as pypi-attestations does."""
    if payload_type != IN_TOTO_PAYLOAD:
        raise _Rejected(f"envelope payload type is {payload_type!r}, not an in-toto statement")
    try:
        statement = json.loads(payload)
        subjects = statement["subject"]
        predicate = statement["predicateType"]
        if not isinstance(subjects, list) or not isinstance(predicate, str):
            raise TypeError
    except (ValueError, KeyError, TypeError) as exc:
        raise _Rejected("signed payload is not an in-toto statement") from exc
    if isinstance(expected, PublisherSpec):
        # A publish attestation names exactly one distribution (PEP 740).
        # The predicate types PEP 740 defines, from the reference implementation.
        from pypi_attestations import AttestationType

        if predicate not in {kind.value for kind in AttestationType}:
            raise _Rejected(f"unknown attestation type {predicate}")
        if len(subjects) != 1 or not isinstance(subjects[0], dict):
            raise _Rejected("statement must have exactly one subject")
        subject = subjects[0]
        if _dist_identity(str(subject.get("name", ""))) != _dist_identity(name):
            raise _Rejected(f"attestation is for {subject.get('name')!r}, not {name!r}")
        if (subject.get("digest") or {}).get("sha256") != digest:
            raise _Rejected(f"attestation is for another file: sha256 differs from {name}'s")
        return predicate
    if not any(isinstance(s, dict) and (s.get("digest") or {}).get("sha256") == digest for s in subjects):
        raise _Rejected(f"no subject of the signed statement has {name}'s sha256")
    return predicate


def _dist_identity(filename: str) -> object:
    """Parsed (normalised) distribution name, the comparison pypi-attestations makes."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidWheelFilename):
        pass
    return ("unparsable", filename)


def _log_entry(bundle: Bundle) -> dict[str, Any]:
    entries = json.loads(bundle.to_json()).get("verificationMaterial", {}).get("tlogEntries", [])
    return entries[0] if entries else {}


def _signer(bundle: Bundle) -> str:
    from cryptography import x509

    try:
        san = bundle.signing_certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "?"
    names = [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
    names += [str(v) for v in san.get_values_for_type(x509.RFC822Name)]
    return names[0] if names else "?"
