"""Where a provenance chain may end, and what each end must show.

An sdist ends every build (its recorded publisher evidence re-checked offline, its origin
attestation shown); a seed ends a chain only when the policy accepts its evidence; an
external wheel only when the policy names it by digest or publisher.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from securesystemslib.signer import Key

from fromsource.attest.locate import sidecar
from fromsource.attest.provenance import KIND_SDIST, Dependency
from fromsource.attest.publisher_record import check_stored, recheck
from fromsource.attest.trustroot import PinnedRoot, load_pinned_root
from fromsource.origin.store import ATTESTATION_SUFFIX as ORIGIN_SUFFIX
from fromsource.origin.store import find_origin
from fromsource.policy import Policy
from fromsource.seeds import check_seed
from fromsource.verify.chain import KIND_EXTERNAL, KIND_SEED, ChainNode
from fromsource.verify.files import Lookups

UNNAMED_EXTERNAL = (
    "an external wheel (no provenance), and no policy names its sha256 or its publisher under [externals]"
)


class ChainEnds:
    """The checks of a chain's ends under one policy (None: no seed or external is accepted)."""

    def __init__(self, keys: Sequence[Key], threshold: int, files: Lookups, policy: Policy | None) -> None:
        self.keys = keys
        self.threshold = threshold
        self.files = files
        self.policy = policy
        self.trusted_root: PinnedRoot | None = None  # loaded when publisher evidence is met

    def root(self) -> PinnedRoot:
        if self.trusted_root is None:
            self.trusted_root = load_pinned_root(self.policy.trusted_root if self.policy else None)
        return self.trusted_root

    def sdist(self, sdist: Dependency) -> ChainNode:
        """An sdist ends a chain; publisher evidence recorded for it is re-checked offline,
        and its origin attestation, if any, says which commit it is."""
        required = None
        if self.policy is not None:  # the reader checked that the name is an sdist file name
            required = self.policy.publishers.get(canonicalize_name(parse_sdist_filename(sdist.name)[0]))
        evidence, problems = recheck(
            sdist.name,
            sdist.sha256,
            sdist.publisher_evidence,
            self.files.locations.evidence_dirs,
            required,
            self.root,
        )
        node = ChainNode(sdist.name, KIND_SDIST, sdist.sha256, evidence=evidence, problems=problems)
        self._origin(node, sdist.name, sdist.sha256)
        return node

    def _origin(self, node: ChainNode, name: str, sha: str) -> None:
        """The sdist's origin attestation (docs/origin.md), when there is one or the policy
        requires it: shown as evidence, a mismatch or a missing required one a problem."""
        required = self.policy is not None and self.policy.requires_origin(_sdist_project(name))
        origin_name = name + ORIGIN_SUFFIX  # asked from the listings; find_origin reads the rest
        dirs = [d for d in self.files.locations.attestation_dirs if self.files.exists(d, origin_name)]
        found = find_origin(dirs, name, sha, self.keys, self.threshold)
        if found.claim is not None:
            node.attestation = str(found.attestation)
            node.evidence = (*node.evidence, found.claim.summary())
            if not found.claim.matches:
                node.problems.append(f"its signed origin check found: {'; '.join(found.claim.findings)}")
        elif required:
            node.problems.extend(
                found.problems
                or ["the policy requires an origin attestation ([sources].require_origin); none found"]
            )
        elif found.problems:
            node.evidence = (*node.evidence, f"origin not verified: {found.problems[0]}")

    def external(self, name: str, sha: str, edge: str | None) -> ChainNode | None:
        """A wheel the policy admits by digest and/or publisher: a trust-base leaf."""
        if self.policy is None:
            return None
        project = canonicalize_name(parse_wheel_filename(name)[0])  # checked by the reader
        by_digest = sha in self.policy.externals
        spec = self.policy.external_publishers.get(sha) or self.policy.externals_by_publisher.get(project)
        if not by_digest and spec is None:
            return None
        evidence: tuple[str, ...] = (f"named by sha256 in {self.policy.source}",) if by_digest else ()
        problems: list[str] = []
        if spec is not None:
            found, problems = check_stored(name, sha, spec, self.files.locations.evidence_dirs, self.root)
            evidence += found
        return ChainNode(name, KIND_EXTERNAL, sha, edge=edge, evidence=evidence, problems=problems)

    def seed(self, name: str, sha: str, edge: str | None) -> ChainNode:
        """A seed ends a chain only when the policy accepts its evidence.

        Looked up in seeds/ only: a stage-1 wheel of the same name next to the dependent
        must never pass for the seed.
        """
        path = self.files.find_wheel(name, None, sha, seeds=True)
        node = ChainNode(name, KIND_SEED, sha, edge=edge)
        if path is None:
            node.problems.append("seed not found in the workspace's seeds/")
            return node
        actual = self.files.digest(path)
        if actual != sha:
            node.problems.append(
                f"seed file's sha256 is {actual}, but the attestation that used it says {sha}"
            )
        elif self.policy is None:
            node.problems.append("a seed: pass --policy to decide whether its evidence is accepted")
        else:
            check = check_seed(path, self.policy, [sidecar(path)])
            node.problems.extend(check.problems)
            node.evidence = (
                tuple(f"{e.kind}: {e.detail} ({e.source})" for e in check.evidence) + check.publisher
            )
            node.origin = check.origin
            # A source seed's chain goes on to the sdist it was re-assembled from.
            node.children.extend(
                ChainNode(e.sdist[0], KIND_SDIST, e.sdist[1]) for e in check.evidence if e.sdist is not None
            )
        return node


def _sdist_project(filename: str) -> str:
    try:
        return str(parse_sdist_filename(filename)[0])
    except InvalidSdistFilename:
        return filename
