"""The walk: from a wheel to its signed statement, then every wheel in its build
environment the same way, down to the chain's ends (:mod:`fromsource.verify.ends`).

Every problem is collected; nothing stops at the first. Traversal is memoised and
cycle-safe, with limits on depth and size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from securesystemslib.signer import Key

from fromsource.archives import wheel_record_problems
from fromsource.attest import dsse
from fromsource.attest.provenance import KIND_WHEEL, BuildRecord, Dependency
from fromsource.attest.trustroot import PinnedRoot
from fromsource.errors import FromsourceError, VerificationError
from fromsource.policy import Policy
from fromsource.verify.chain import KIND_EXTERNAL, ChainNode, native_detail
from fromsource.verify.ends import UNNAMED_EXTERNAL, ChainEnds
from fromsource.verify.files import Locations, Lookups

MAX_DEPTH = 64
MAX_NODES = 10_000


class Verifier:
    """One verification: files are looked up, listed and hashed once, so make a new one after
    the workspace changed."""

    def __init__(
        self,
        keys: Sequence[Key],
        locations: Locations,
        *,
        threshold: int = 1,
        require_isolation: bool = False,
        require_sandbox: bool = False,
        policy: Policy | None = None,
        allow_unverified_sources: bool = False,
        max_depth: int = MAX_DEPTH,
        max_nodes: int = MAX_NODES,
        check_record: bool = False,
    ) -> None:
        if not keys:
            raise VerificationError("no trusted keys given")
        # One key listed twice must not count twice towards the threshold.
        self.keys = list({key.keyid: key for key in keys}.values())
        if threshold > len(self.keys):
            raise VerificationError(
                f"threshold {threshold} exceeds the {len(self.keys)} distinct trusted key(s)"
            )
        self.locations = locations
        self.threshold = threshold
        self.require_isolation = require_isolation
        self.require_sandbox = require_sandbox
        self.allow_unverified_sources = allow_unverified_sources or (
            policy is not None and policy.allow_unverified_sources
        )
        self.policy = policy
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.check_record = check_record
        self.files = Lookups(locations)
        self.ends = ChainEnds(self.keys, threshold, self.files, policy)
        self._done: dict[tuple[str, str], ChainNode] = {}
        self._active: set[tuple[str, str]] = set()
        self._count = 0
        # Memoised nodes as one more dependent sees them (edge): the node is kept as the key's
        # owner, so its id is never reused while the copy is here.
        self._labelled: dict[tuple[int, str | None], tuple[ChainNode, ChainNode]] = {}

    @property
    def trusted_root(self) -> PinnedRoot | None:
        """The pinned sigstore root, once publisher evidence made verification load it."""
        return self.ends.trusted_root

    def verify_wheels(self, wheels: Iterable[Path]) -> list[ChainNode]:
        return [self.verify_wheel(w) for w in wheels]

    def verify_wheel(self, wheel: Path, *, depth: int = 0, edge: str | None = None) -> ChainNode:
        try:
            digest = self.files.digest(wheel)
        except OSError as exc:
            return ChainNode(
                wheel.name,
                KIND_WHEEL,
                None,
                edge=edge,
                problems=[f"cannot read wheel: {exc.strerror or exc}"],
            )
        file_key = self.files.file_key(wheel)
        key = (file_key, digest)  # by file: stage-1 and stage-2 twins are distinct
        done = self._done.get(key)
        if done is not None:
            return done
        node = ChainNode(wheel.name, KIND_WHEEL, digest, edge=edge)
        if key in self._active:
            node.problems.append("provenance cycle: the wheel depends on itself")
            return node
        self._count += 1
        if depth > self.max_depth or self._count > self.max_nodes:
            node.problems.append(
                f"provenance chain exceeds limits (depth {self.max_depth}, {self.max_nodes} artifacts)"
            )
            return node
        if depth == 0 and not self.files.attestations(wheel):
            # An external the policy admits (published into wheels/simple/ by bootstrap) is a
            # trust-base leaf when asked about directly, never a built wheel.
            external = self.ends.external(wheel.name, digest, edge)
            if external is not None:
                self._done[key] = external
                return external
        self._active.add(key)
        try:
            if self.check_record:
                node.problems.extend(_record_problems(wheel))
            statement = self._verified_statement(wheel, digest, node)
            if statement is not None:
                self._follow(statement, wheel, file_key, node, depth)
        finally:
            self._active.discard(key)
        self._done[key] = node
        return node

    def _verified_statement(self, wheel: Path, digest: str, node: ChainNode) -> BuildRecord | None:
        files = self.files.attestations(wheel)
        if not files:
            node.problems.append("no attestation found (looked for a sidecar and in the workspace)")
            return None
        reasons: list[str] = []
        for path in files:
            try:
                envelopes = dsse.parse_envelopes(self.files.read(path), path.name)
            except (OSError, VerificationError) as exc:
                reasons.append(str(exc))
                continue
            for index, envelope in enumerate(envelopes, 1):
                try:
                    verified = dsse.verify(envelope, self.keys, self.threshold)
                    record = BuildRecord.from_statement(verified.statement)
                except VerificationError as exc:
                    reasons.extend(f"{path.name}#{index}: {r}" for r in exc.reasons)
                    continue
                problems = record.subject_problems(wheel.name, digest)
                problems += record.isolation_problems(
                    require_isolation=self.require_isolation, require_sandbox=self.require_sandbox
                )
                problems += record.source_problems(allow_unverified_sources=self.allow_unverified_sources)
                if problems:
                    reasons.extend(f"{path.name}#{index}: {p}" for p in problems)
                    continue
                node.attestation = str(path)
                node.keyids = verified.keyids
                return record
        node.problems.extend(reasons or ["no valid attestation"])
        return None

    def _follow(self, record: BuildRecord, wheel: Path, file_key: str, node: ChainNode, depth: int) -> None:
        node.children.append(self.ends.sdist(record.sdist))
        near = wheel.parent
        for dep in record.wheels:
            node.children.append(self._dependency(dep, near, file_key, depth))
        for dep in record.natives:
            node.children.append(ChainNode(dep.name, dep.kind, dep.sha256, detail=native_detail(dep)))

    def _dependency(self, dep: Dependency, near: Path, dependent: str, depth: int) -> ChainNode:
        """``dep`` as the wheel in ``near`` whose file key is ``dependent`` recorded it."""
        name, sha, edge = dep.name, dep.sha256, dep.edge
        if dep.seed:
            return self.ends.seed(name, sha, edge)
        external = self.ends.external(name, sha, edge)
        if external is not None:
            return external
        if dep.external:
            return ChainNode(name, KIND_EXTERNAL, sha, edge=edge, problems=[UNNAMED_EXTERNAL])
        recorded = dep.attestation_sha256
        path = self.files.find_wheel(name, near, sha, exclude=dependent, attestation_sha256=recorded)
        if path is None:
            return ChainNode(
                name, KIND_WHEEL, sha, edge=edge, problems=["dependency wheel not found in the workspace"]
            )
        child = self.verify_wheel(path, depth=depth + 1, edge=edge)
        if child.sha256 != sha:
            return ChainNode(
                name,
                KIND_WHEEL,
                child.sha256,
                edge=edge,
                problems=[f"sha256 is {child.sha256}, but the attestation that used it says {sha}"],
            )
        if child.attestation and self.files.digest(child.attestation) != recorded:
            # Nodes are shared between dependents: report on a copy, not the memoised node.
            return child.labelled(edge, "its attestation file differs from the one recorded when it was used")
        if child.edge != edge:  # memoised from another dependent: label it for this one
            labelled = self._labelled.get((id(child), edge))
            if labelled is None:
                labelled = self._labelled[id(child), edge] = (child, child.labelled(edge))
            return labelled[1]
        return child


def _record_problems(wheel: Path) -> list[str]:
    """RECORD against the wheel's bytes: a trusted key could sign a wheel our builder, which
    checks RECORD before signing, would never have produced."""
    try:
        return [f"RECORD: {p}" for p in wheel_record_problems(wheel)]
    except FromsourceError as exc:
        return [f"RECORD cannot be checked: {exc}"]
