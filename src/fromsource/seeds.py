"""Seeds: wheels that may stand in for a from-source build inside one build cycle.

A seed lives in the workspace's ``seeds/`` (:class:`fromsource.seedstore.SeedStore`) with its
evidence beside it::

    seeds/<wheel>                  the wheel, exactly as admitted
    seeds/<wheel>.intoto.jsonl     its evidence envelopes: a seed review and/or build provenance
    seeds/<wheel>.inspect.json     the inspect report a review was based on
    seeds/<sdist>                  the sdist a source seed was assembled from (to re-assemble it)

Evidence is checked against a policy each time a seed is used, never only at admission: a
seed whose reviewer is no longer trusted, or whose bytes changed, stops being admissible.
Admission is here; reading each kind of evidence is :mod:`fromsource.seedevidence`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename
from securesystemslib.signer import Signer

from fromsource import __version__
from fromsource.attest import dsse
from fromsource.attest.locate import sidecar
from fromsource.attest.seed_review import (
    ADMIT_BINARY,
    ADMIT_READABLE,
    review_statement,
)
from fromsource.attest.shape import timestamp_now
from fromsource.attest.source_seed import source_seed_statement
from fromsource.errors import FromsourceError, PolicyError
from fromsource.fileutil import sha256_file
from fromsource.policy import Policy
from fromsource.seedassembly import AssembledSeed, Placement, assemble
from fromsource.seedevidence import (
    EVIDENCE_PROVENANCE,
    EVIDENCE_REVIEW,
    EVIDENCE_SOURCE,
    Evidence,
    envelope_lines,
    provenance_evidence,
    review_evidence,
    source_evidence,
)
from fromsource.seedstore import SeedStore

# What a seed is, strongest first: assembled from its sdist, built earlier by a trusted
# builder, a pre-built wheel reviewed readable, a binary wheel pinned by digest.
ORIGIN_SOURCE = "source"
ORIGIN_BUILT = "built"
ORIGIN_REVIEWED = "reviewed"
ORIGIN_BINARY = "binary"


def seed_origin(evidence: Iterable[Evidence]) -> str | None:
    """The strongest origin the accepted ``evidence`` shows (None: none accepted)."""
    found = set()
    for item in evidence:
        if item.kind == EVIDENCE_SOURCE:
            found.add(ORIGIN_SOURCE)
        elif item.kind == EVIDENCE_PROVENANCE:
            found.add(ORIGIN_BUILT)
        elif item.kind == EVIDENCE_REVIEW:
            found.add(ORIGIN_BINARY if item.detail == ADMIT_BINARY else ORIGIN_REVIEWED)
    order = (ORIGIN_SOURCE, ORIGIN_BUILT, ORIGIN_REVIEWED, ORIGIN_BINARY)
    return next((o for o in order if o in found), None)


@dataclass(frozen=True, slots=True)
class SeedCheck:
    """What a policy makes of one seed: the evidence it accepts and every problem found."""

    wheel: str
    sha256: str
    evidence: tuple[Evidence, ...]
    problems: tuple[str, ...] = field(default=())
    # Publisher evidence beside the seed, checked for the policy's [publishers] entry of its
    # project: reported beside review and provenance evidence, never what admits a seed.
    publisher: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return bool(self.evidence) and not self.problems

    @property
    def origin(self) -> str | None:
        return seed_origin(self.evidence) if self.accepted else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "wheel": self.wheel,
            "sha256": self.sha256,
            "accepted": self.accepted,
            "origin": self.origin,
            "evidence": [
                {
                    "kind": e.kind,
                    "keyids": list(e.keyids),
                    "detail": e.detail,
                    "source": e.source,
                    **({"sdist": {"name": e.sdist[0], "sha256": e.sdist[1]}} if e.sdist else {}),
                }
                for e in self.evidence
            ],
            "problems": list(self.problems),
            "publisher": list(self.publisher),
        }


@dataclass(frozen=True, slots=True)
class Admission:
    seed: Path
    sha256: str
    kind: str
    detail: str
    reasons: tuple[str, ...] = ()


def admit_by_review(
    wheel: Path,
    sdist: Path,
    signer: Signer,
    store: SeedStore,
    *,
    policy: Policy | None = None,
    inspect: Callable[[Path, Path], Any] | None = None,
    rebuild_in: Path | None = None,
) -> Admission:
    """Inspect ``wheel`` against ``sdist``, sign a seed review, store the seed.

    Only settled verdicts are signed: an ``unsettled`` wheel (metadata a non-authoritative
    PKG-INFO cannot confirm) is refused, whatever the policy says; ``rebuild_in`` (a workspace
    holding the build requirements) settles it by building the sdist, as ``inspect --rebuild``.
    A not-readable wheel is refused unless the policy names its sha256 in
    ``[seeds].binary_digests``.
    """
    from fromsource.inspect.model import UNSETTLED  # the inspect package is heavy: only here

    if policy is not None:
        policy.check_current()
        _check_allowed(wheel.name, policy)
    if inspect is None:
        from fromsource.inspect import inspect_wheel

        def inspect(w: Path, s: Path) -> Any:
            return inspect_wheel(w, s, rebuild=rebuild_in is not None, workspace=rebuild_in)

    report = inspect(wheel, sdist)
    digest = report.wheel_sha256
    if report.verdict == UNSETTLED:
        raise PolicyError(
            f"{wheel.name}: inspect could not settle its metadata against {sdist.name}; only settled "
            "verdicts are signed:\n  - " + "\n  - ".join(report.metadata.unsettled),
            hint="admit it with --rebuild (the sdist is built to settle it; its build requirements "
            "must be in the workspace)",
        )
    if report.readable:
        admission = ADMIT_READABLE
    elif policy is not None and digest in policy.binary_seed_digests:
        admission = ADMIT_BINARY
    else:
        raise PolicyError(
            f"{wheel.name} is not readable from {sdist.name}; refused as a seed:\n  - "
            + "\n  - ".join(report.reasons),
            hint=f"a binary seed is admitted only when the policy lists its sha256 {digest} "
            "in [seeds].binary_digests",
        )
    report_bytes = dsse.canonical_json(report.to_dict())
    statement = review_statement(
        wheel_name=wheel.name,
        wheel_sha256=digest,
        sdist_name=sdist.name,
        sdist_sha256=report.sdist_sha256,
        verdict=report.verdict,
        admission=admission,
        counts=report.counts(),
        reasons=list(report.reasons),
        notes=list(report.notes),
        report_name=store.report_file(wheel.name).name,
        report_sha256=_sha256_bytes(report_bytes),
        tool_version=__version__,
        reviewed_on=timestamp_now(),
    )
    seed = store.add(wheel, [dsse.sign(statement, signer)], report_bytes)
    return Admission(seed, digest, EVIDENCE_REVIEW, admission, tuple(report.reasons))


def assemble_source_seed(
    sdist: Path,
    layout: Sequence[Placement],
    exclude: Sequence[str],
    signer: Signer,
    store: SeedStore,
    *,
    policy: Policy | None = None,
) -> tuple[AssembledSeed, Admission]:
    """Assemble ``sdist`` into a seed (see :mod:`fromsource.seedassembly`), sign what was
    done (the source-seed predicate) and store the seed with its sdist."""
    if policy is not None:
        policy.check_current()
    seed = assemble(sdist, layout, exclude)
    if policy is not None:
        _check_allowed(seed.filename, policy)
    statement = source_seed_statement(seed, tool_version=__version__, assembled_on=timestamp_now())
    path = store.add_source(seed, dsse.sign(statement, signer), sdist)
    return seed, Admission(path, seed.sha256, EVIDENCE_SOURCE, f"assembled from {sdist.name}")


def admit_by_provenance(wheel: Path, attestations: list[Path], store: SeedStore, policy: Policy) -> Admission:
    """Admit a wheel built earlier by a trusted builder, through its build provenance."""
    policy.check_current()
    _check_allowed(wheel.name, policy)
    digest = sha256_file(wheel)
    problems: list[str] = []
    for path in attestations:
        for index, line in enumerate(envelope_lines(path), 1):
            found = provenance_evidence(line, f"{path.name}#{index}", wheel.name, digest, policy, problems)
            if found is not None:
                seed = store.add(wheel, [line])
                return Admission(seed, digest, EVIDENCE_PROVENANCE, found.detail)
    raise PolicyError(
        f"{wheel.name} has no build provenance from a trusted builder; refused as a seed"
        + ("".join(f"\n  - {p}" for p in problems) if problems else " (no attestation found)"),
        hint="admit it with a review instead: fromsource seed admit WHEEL --sdist SDIST --key KEY",
    )


def check_seed(
    wheel: Path,
    policy: Policy,
    evidence_files: list[Path] | None = None,
    now: datetime | None = None,
    *,
    sdist_dirs: Sequence[Path] = (),
    expected_sdist: str | None = None,
) -> SeedCheck:
    """Which of a seed's evidence ``policy`` accepts, and every reason it rejects the rest.

    Source-seed evidence is re-assembled from its sdist (beside the seed or in
    ``sdist_dirs``); with ``expected_sdist`` it must name the sdist of that sha256.
    """
    digest = sha256_file(wheel)
    problems: list[str] = []
    if policy.expired(now):
        problems.append(f"policy {policy.source} has expired")
    try:
        _check_allowed(wheel.name, policy)
    except PolicyError as exc:
        problems.append(exc.message)
    files = evidence_files if evidence_files is not None else [sidecar(wheel)]
    accepted: list[Evidence] = []
    rejected: list[str] = []
    for path in files:
        if not path.is_file():
            continue
        for index, line in enumerate(envelope_lines(path), 1):
            where = f"{path.name}#{index}"
            found = (
                review_evidence(line, where, wheel.name, digest, policy, rejected)
                or provenance_evidence(line, where, wheel.name, digest, policy, rejected)
                or source_evidence(
                    line, where, wheel, digest, policy, rejected, [wheel.parent, *sdist_dirs], expected_sdist
                )
            )
            if found is not None and found.kind in policy.seed_evidence:
                accepted.append(found)
            elif found is not None:
                rejected.append(f"{where}: {found.kind} evidence is not accepted by the policy")
    if not accepted:
        problems.extend(rejected or ["no evidence found"])
    return SeedCheck(
        wheel.name,
        digest,
        tuple(accepted),
        tuple(problems),
        publisher=_publisher_evidence(wheel, digest, policy),
    )


def _publisher_evidence(wheel: Path, digest: str, policy: Policy) -> tuple[str, ...]:
    """What publisher evidence beside the seed (``<wheel>.publish.attestation``...) shows."""
    from fromsource.attest.evidence import find_evidence, read_evidence, verify_distribution
    from fromsource.attest.trustroot import load_pinned_root
    from fromsource.errors import EvidenceError

    spec = policy.publishers.get(parse_wheel_filename(wheel.name)[0])
    paths = find_evidence(wheel, digest, None)
    if spec is None or not paths:
        return ()
    try:
        files = [read_evidence(path) for path in paths]
        result = verify_distribution(
            wheel, files, spec, load_pinned_root(policy.trusted_root), dist_sha256=digest
        )
    except EvidenceError as exc:
        return (f"not published by {spec}: " + "; ".join(exc.reasons),)
    except FromsourceError as exc:
        return (f"publisher evidence unusable: {exc.message}",)
    return (f"published by {spec} ({result.evidence_kind}, log index {result.log_index})",)


def _check_allowed(wheel_name: str, policy: Policy) -> None:
    name = parse_wheel_filename(wheel_name)[0]
    if policy.seed_allow is not None and name not in policy.seed_allow:
        raise PolicyError(f"{name} is not in the policy's [seeds].allow list")


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
