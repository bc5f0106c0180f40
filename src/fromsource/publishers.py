"""Bootstrap's publisher requirement: an sdist (or external wheel) the policy ties to a
publisher is used only when publisher evidence for exactly that file verifies.

Evidence is looked for in the workspace store first (earlier runs; alone, so a re-run needs
no index), then in ``--evidence DIR`` (``<file name><suffix>``) and at the index's PEP 740
``provenance`` link. The evidence that verified is kept in the workspace by digest, so later
runs and ``verify`` need neither the index nor the directory. For an sdist, what was verified
becomes the ``publisherEvidence`` annotation of its dependency entry (docs/provenance.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fromsource.attest.evidence import (
    BESIDE_SUFFIXES,
    MAX_EVIDENCE_BYTES,
    EvidenceFile,
    VerifiedEvidence,
    find_evidence,
    parse_evidence,
    read_bounded,
    store_evidence,
    verify_distribution,
)
from fromsource.attest.publisher import PublisherSpec
from fromsource.attest.publisher_record import annotation
from fromsource.attest.trustroot import PinnedRoot, load_pinned_root
from fromsource.errors import EvidenceError, FromsourceError, PolicyError
from fromsource.index import Index, SdistCandidate, WheelCandidate
from fromsource.policy import Policy
from fromsource.workspace import Workspace


@dataclass
class PublisherGate:
    """Checks sdists against the policy's ``[publishers]``; one pinned root per run."""

    policy: Policy
    workspace: Workspace
    index: Index
    evidence_dirs: tuple[Path, ...] = ()
    _root: PinnedRoot | None = field(default=None, init=False)

    def required(self, project: str) -> PublisherSpec | None:
        return self.policy.publishers.get(project)

    def check(self, project: str, candidate: SdistCandidate, sdist: Path, sha256: str) -> dict[str, Any]:
        """The annotation for ``sdist``, or :class:`PolicyError` naming project, file, reason."""
        spec = self.required(project)
        if spec is None:
            return {}
        return annotation(self.verify_file(project, candidate, sdist, sha256, spec), spec)

    def verify_file(
        self,
        project: str,
        candidate: SdistCandidate | WheelCandidate | None,
        dist: Path,
        sha256: str,
        spec: PublisherSpec,
    ) -> VerifiedEvidence:
        """Evidence that ``dist`` comes from ``spec`` (sdists and external wheels alike).

        The workspace store is tried alone first, so a re-run asks the index for nothing.
        """
        if self._root is None:
            self._root = load_pinned_root(self.policy.trusted_root)
        found: list[tuple[str, bytes]] = []  # (where, bytes) of every evidence file seen
        problems: list[str] = []
        self._read(find_evidence(dist, sha256, self.workspace.evidence), found, problems)
        if found:
            try:
                return self._verify(dist, sha256, spec, found, [])
            except EvidenceError:
                pass  # perhaps evidence for another publisher: look further
        self._read(
            [
                p
                for d in self.evidence_dirs
                for s in BESIDE_SUFFIXES
                if (p := d / f"{dist.name}{s}").is_file()
            ],
            found,
            problems,
        )
        if candidate is not None:
            try:
                served = self.index.fetch_provenance(candidate, MAX_EVIDENCE_BYTES)
            except FromsourceError as exc:
                problems.append(f"index provenance: {exc.message}")
            else:
                if served is not None:
                    found.append((candidate.provenance_url or "index provenance", served))
        try:
            return self._verify(dist, sha256, spec, found, problems)
        except EvidenceError as exc:
            reasons = problems + (
                exc.reasons
                if found
                else [
                    "no publisher evidence: not in the workspace, the index links no PEP 740 "
                    "provenance, and no --evidence directory holds any"
                ]
            )
            raise PolicyError(
                f"{project}: {dist.name} must be published by {spec} (policy "
                f"{self.policy.source}), and no evidence verifies: " + "; ".join(reasons),
                hint="pass --evidence DIR holding its PEP 740 attestation or provenance object",
            ) from exc

    def _verify(
        self,
        dist: Path,
        sha256: str,
        spec: PublisherSpec,
        found: list[tuple[str, bytes]],
        problems: list[str],
    ) -> VerifiedEvidence:
        assert self._root is not None  # noqa: S101 - loaded by verify_file
        files: list[EvidenceFile] = []
        for where, data in found:
            try:
                kind, candidates = parse_evidence(data, where)
            except FromsourceError as exc:
                problems.append(exc.message)
                continue
            files.append(
                EvidenceFile(
                    path=Path(where),
                    sha256=hashlib.sha256(data).hexdigest(),
                    kind=kind,
                    candidates=candidates,
                )
            )
        result = verify_distribution(dist, files, spec, self._root, dist_sha256=sha256)
        verified = next(d for _, d in found if hashlib.sha256(d).hexdigest() == result.evidence_sha256)
        store_evidence(self.workspace.evidence, sha256, verified)
        return result

    @staticmethod
    def _read(paths: list[Path], found: list[tuple[str, bytes]], problems: list[str]) -> None:
        for path in paths:
            try:
                found.append((str(path), read_bounded(path)))
            except FromsourceError as exc:
                problems.append(exc.message)
