"""Verify a wheel's chain of signed provenance back to sdists.

For each wheel: find its attestation envelopes, check one verifies against the trusted
keys and states exactly this wheel (digest) as built by our buildType, then follow every
wheel in ``resolvedDependencies`` the same way. Every problem is collected; nothing stops
at the first. Traversal is memoised and cycle-safe, with limits on depth and size.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from securesystemslib.signer import Key

from fromsource.archives import wheel_record_problems
from fromsource.attest import dsse
from fromsource.attest.locate import SUFFIX, attestation_files, sidecar
from fromsource.attest.provenance import (
    KIND_SDIST,
    KIND_WHEEL,
    BuildRecord,
    Dependency,
)
from fromsource.attest.publisher_record import check_stored, recheck
from fromsource.attest.trustroot import PinnedRoot, load_pinned_root
from fromsource.errors import FromsourceError, VerificationError
from fromsource.fileutil import sha256_file
from fromsource.origin.store import find_origin
from fromsource.policy import Policy
from fromsource.seeds import check_seed
from fromsource.untrusted import MAX_ATTESTATION_BYTES, read_file

KIND_SEED = "seed"
KIND_EXTERNAL = "external"
MAX_DEPTH = 64
MAX_NODES = 10_000


@dataclass
class ChainNode:
    """One artifact in a provenance chain and what was found about it.

    Chains are DAGs (one wheel is often in many build environments): nodes are shared, and
    every walk below visits each node once, so reports stay linear in the chain's size.
    """

    name: str
    kind: str  # wheel | sdist
    sha256: str | None
    attestation: str | None = None
    keyids: tuple[str, ...] = ()
    edge: str | None = None
    problems: list[str] = field(default_factory=list)
    children: list[ChainNode] = field(default_factory=list)
    evidence: tuple[str, ...] = ()  # seeds and externals: what the policy accepted
    origin: str | None = None  # seeds: source | built | reviewed | binary (seeds.seed_origin)
    detail: tuple[str, ...] = ()  # native inputs: what was recorded (package, path, version)

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        # The attestation tells apart a stage-2 wheel and its byte-identical stage-1 twin.
        return (self.name, self.sha256, self.attestation)

    @functools.cached_property
    def ok(self) -> bool:
        # Children are complete before their parent is, so caching is safe.
        return not self.problems and all(child.ok for child in self.children)

    def all_problems(self) -> list[str]:
        found: list[str] = []
        seen: set[int] = set()
        stack: list[ChainNode] = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            found.extend(f"{node.name}: {p}" for p in node.problems if f"{node.name}: {p}" not in found)
            stack.extend(reversed(node.children))
        return found

    def to_dict(self, _shown: set[tuple[str, str | None, str | None]] | None = None) -> dict[str, Any]:
        """JSON shape; a wheel already shown earlier appears as ``{"ref": true}`` without children."""
        shown = set() if _shown is None else _shown
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "sha256": self.sha256,
            "edge": self.edge,
            "valid": self.ok,
            "problems": list(self.problems),
            "evidence": list(self.evidence),
            **({"origin": self.origin} if self.origin else {}),
        }
        if self.detail:
            out["detail"] = list(self.detail)
        if self.kind == KIND_WHEEL and self.key in shown and not self.problems:
            return {**out, "ref": True}
        shown.add(self.key)
        return {
            **out,
            "ref": False,
            "attestation": self.attestation,
            "keyids": list(self.keyids),
            "children": [c.to_dict(shown) for c in self.children],
        }


@dataclass(frozen=True, slots=True)
class Locations:
    """Where to look for wheels and attestations."""

    wheel_dirs: tuple[Path, ...] = ()
    attestation_dirs: tuple[Path, ...] = ()
    seed_dirs: tuple[Path, ...] = ()
    evidence_dirs: tuple[Path, ...] = ()  # publisher evidence stores (<sdist sha256>/...)

    def wheel(
        self,
        name: str,
        near: Path | None = None,
        sha256: str | None = None,
        *,
        seeds: bool = False,
        exclude: Path | None = None,
        attestation_sha256: str | None = None,
        digest: Callable[[Path], str] = sha256_file,
        attestations: Callable[[Path], list[Path]] | None = None,
        found: list[Path] | None = None,
    ) -> Path | None:
        """The file called ``name``; with ``sha256``, preferably the one with that digest,
        and among those the one whose attestation has ``attestation_sha256``.

        Stage-1 and stage-2 builds of one package share a file name and can be byte for
        byte the same; what tells them apart is the attestation recorded when one was used.
        Without a digest match the first file found is returned, for a precise mismatch error.
        ``found``: :meth:`candidates` already looked up.
        """
        if found is None:
            found = self.candidates(name, near, seeds=seeds)
        if exclude is not None:  # not its own dependency
            excluded = _same_file_key(exclude)
            found = [f for f in found if _same_file_key(f) != excluded]
        if sha256 is not None:
            matching = [f for f in found if digest(f) == sha256]
            if attestation_sha256 is not None:
                for candidate in matching:
                    files = (attestations or self.attestation_files)(candidate)
                    if files and digest(files[0]) == attestation_sha256:
                        return candidate
            if matching:
                return matching[0]
        return found[0] if found else None

    def candidates(self, name: str, near: Path | None = None, *, seeds: bool = False) -> list[Path]:
        """Every existing file called ``name``: in seeds/, or near the dependent then the wheel
        directories; each file once."""
        dirs = self.seed_dirs if seeds else ((near,) if near else ()) + self.wheel_dirs
        found: list[Path] = []
        seen: set[str] = set()
        for path in (d / name for d in dirs):
            key = _same_file_key(path)
            if key not in seen and path.is_file():
                seen.add(key)
                found.append(path)
        return found

    def attestation_files(self, wheel: Path) -> list[Path]:
        """Sidecar first (``X.whl.intoto.jsonl``), then the attestation directories."""
        return attestation_files(wheel, self.attestation_dirs)


class Verifier:
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
        self._done: dict[tuple[str, str], ChainNode] = {}
        # A wheel sits in many build environments; hash each file once per verification.
        self._digests: dict[Path, str] = {}
        self._active: set[tuple[str, str]] = set()
        self._count = 0
        self.trusted_root: PinnedRoot | None = None  # loaded when publisher evidence is met
        # Files do not move during one verification: each lookup is done once.
        self._attestation_files: dict[Path, list[Path]] = {}
        self._attestation_bytes: dict[Path, bytes] = {}
        self._candidates: dict[tuple[str, Path | None, bool], list[Path]] = {}

    def _attestations(self, wheel: Path) -> list[Path]:
        if wheel not in self._attestation_files:
            self._attestation_files[wheel] = self.locations.attestation_files(wheel)
        return self._attestation_files[wheel]

    def _find_wheel(
        self,
        name: str,
        near: Path | None,
        sha256: str,
        *,
        seeds: bool = False,
        exclude: Path | None = None,
        attestation_sha256: str | None = None,
    ) -> Path | None:
        key = (name, near, seeds)
        if key not in self._candidates:
            self._candidates[key] = self.locations.candidates(name, near, seeds=seeds)
        return self.locations.wheel(
            name,
            sha256=sha256,
            exclude=exclude,
            attestation_sha256=attestation_sha256,
            digest=self._digest,
            attestations=self._attestations,
            found=self._candidates[key],
        )

    def _digest(self, path: Path) -> str:
        found = self._digests.get(path)
        if found is None:
            if path.name.endswith(SUFFIX):
                # An attestation is both hashed (its pin) and parsed: read it once for both.
                # One that cannot be read pins nothing; reading it again reports why.
                try:
                    found = hashlib.sha256(self._read(path)).hexdigest()
                except (OSError, FromsourceError):
                    found = "unreadable"
            else:
                found = sha256_file(path)
            self._digests[path] = found
        return found

    def _read(self, attestation: Path) -> bytes:
        data = self._attestation_bytes.get(attestation)
        if data is None:
            # Bounded, regular files only (untrusted.read_file); over the limit is an error.
            data = self._attestation_bytes[attestation] = read_file(
                attestation, limit=MAX_ATTESTATION_BYTES, what="attestation", error=VerificationError
            )
        return data

    def verify_wheels(self, wheels: Iterable[Path]) -> list[ChainNode]:
        return [self.verify_wheel(w) for w in wheels]

    def verify_wheel(self, wheel: Path, *, depth: int = 0, edge: str | None = None) -> ChainNode:
        try:
            digest = self._digest(wheel)
        except OSError as exc:
            return ChainNode(
                wheel.name,
                KIND_WHEEL,
                None,
                edge=edge,
                problems=[f"cannot read wheel: {exc.strerror or exc}"],
            )
        key = (_same_file_key(wheel), digest)  # by file: stage-1 and stage-2 twins are distinct
        if key in self._done:
            return self._done[key]
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
        if depth == 0 and not self._attestations(wheel):
            # An external the policy admits (published into wheels/simple/ by bootstrap) is a
            # trust-base leaf when asked about directly, never a built wheel.
            external = self._external(wheel.name, digest, edge)
            if external is not None:
                self._done[key] = external
                return external
        self._active.add(key)
        try:
            if self.check_record:
                node.problems.extend(_record_problems(wheel))
            statement = self._verified_statement(wheel, digest, node)
            if statement is not None:
                self._follow(statement, wheel, node, depth)
        finally:
            self._active.discard(key)
        self._done[key] = node
        return node

    def _verified_statement(self, wheel: Path, digest: str, node: ChainNode) -> BuildRecord | None:
        files = self._attestations(wheel)
        if not files:
            node.problems.append("no attestation found (looked for a sidecar and in the workspace)")
            return None
        reasons: list[str] = []
        for path in files:
            try:
                envelopes = dsse.parse_envelopes(self._read(path), path.name)
            except (OSError, VerificationError) as exc:
                reasons.append(str(exc))
                continue
            for index, envelope in enumerate(envelopes, 1):
                where = f"{path.name}#{index}"
                try:
                    verified = dsse.verify(envelope, self.keys, self.threshold)
                    record = BuildRecord.from_statement(verified.statement)
                except VerificationError as exc:
                    reasons.extend(f"{where}: {r}" for r in exc.reasons)
                    continue
                problems = record.subject_problems(wheel.name, digest)
                problems += record.isolation_problems(
                    require_isolation=self.require_isolation, require_sandbox=self.require_sandbox
                )
                problems += record.source_problems(allow_unverified_sources=self.allow_unverified_sources)
                if problems:
                    reasons.extend(f"{where}: {p}" for p in problems)
                    continue
                node.attestation = str(path)
                node.keyids = verified.keyids
                return record
        node.problems.extend(reasons or ["no valid attestation"])
        return None

    def _follow(self, record: BuildRecord, wheel: Path, node: ChainNode, depth: int) -> None:
        node.children.append(self._sdist(record.sdist))
        for dep in record.wheels:
            node.children.append(self._dependency(dep, wheel, depth))
        for dep in record.natives:
            node.children.append(ChainNode(dep.name, dep.kind, dep.sha256, detail=native_detail(dep)))

    def _sdist(self, sdist: Dependency) -> ChainNode:
        """An sdist ends a chain; publisher evidence recorded for it is re-checked offline,
        and its origin attestation, if any, says which commit it is."""
        required = None
        if self.policy is not None:  # the reader checked that the name is an sdist file name
            required = self.policy.publishers.get(canonicalize_name(parse_sdist_filename(sdist.name)[0]))
        evidence, problems = recheck(
            sdist.name,
            sdist.sha256,
            sdist.publisher_evidence,
            self.locations.evidence_dirs,
            required,
            self._root,
        )
        node = ChainNode(sdist.name, KIND_SDIST, sdist.sha256, evidence=evidence, problems=problems)
        self._origin(node, sdist.name, sdist.sha256)
        return node

    def _external(self, name: str, sha: str, edge: str | None) -> ChainNode | None:
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
            found, problems = check_stored(name, sha, spec, self.locations.evidence_dirs, self._root)
            evidence += found
        return ChainNode(name, KIND_EXTERNAL, sha, edge=edge, evidence=evidence, problems=problems)

    def _root(self) -> PinnedRoot:
        if self.trusted_root is None:
            self.trusted_root = load_pinned_root(self.policy.trusted_root if self.policy else None)
        return self.trusted_root

    def _dependency(self, dep: Dependency, dependent: Path, depth: int) -> ChainNode:
        name, sha, edge = dep.name, dep.sha256, dep.edge
        if dep.seed:
            return self._seed(name, sha, edge)
        external = self._external(name, sha, edge)
        if external is not None:
            return external
        if dep.external:
            return ChainNode(
                name,
                KIND_EXTERNAL,
                sha,
                edge=edge,
                problems=[
                    "an external wheel (no provenance), and no policy names its sha256 or its publisher "
                    "under [externals]"
                ],
            )
        recorded = dep.attestation_sha256
        path = self._find_wheel(name, dependent.parent, sha, exclude=dependent, attestation_sha256=recorded)
        if path is None:
            return ChainNode(
                name, KIND_WHEEL, sha, edge=edge, problems=["dependency wheel not found in the workspace"]
            )
        child = self.verify_wheel(path, depth=depth + 1, edge=edge)
        if child.edge != edge:  # memoised from another dependent: label it for this one
            child = replace(child, edge=edge)
        if child.sha256 != sha:
            return ChainNode(
                name,
                KIND_WHEEL,
                child.sha256,
                edge=edge,
                problems=[f"sha256 is {child.sha256}, but the attestation that used it says {sha}"],
            )
        if child.attestation and self._digest(Path(child.attestation)) != recorded:
            # Nodes are shared between dependents: report on a copy, not the memoised node.
            return replace(
                child,
                edge=edge,
                problems=[
                    *child.problems,
                    "its attestation file differs from the one recorded when it was used",
                ],
            )
        return child

    def _origin(self, node: ChainNode, name: str, sha: str) -> None:
        """The sdist's origin attestation (docs/origin.md), when there is one or the policy
        requires it: shown as evidence, a mismatch or a missing required one a problem."""
        required = self.policy is not None and self.policy.requires_origin(_sdist_project(name))
        found = find_origin(self.locations.attestation_dirs, name, sha, self.keys, self.threshold)
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

    def _seed(self, name: str, sha: str, edge: str | None) -> ChainNode:
        """A seed ends a chain only when the policy accepts its evidence.

        Looked up in seeds/ only: a stage-1 wheel of the same name next to the dependent
        must never pass for the seed.
        """
        path = self._find_wheel(name, None, sha, seeds=True)
        node = ChainNode(name, KIND_SEED, sha, edge=edge)
        if path is None:
            node.problems.append("seed not found in the workspace's seeds/")
            return node
        actual = self._digest(path)
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


def _record_problems(wheel: Path) -> list[str]:
    """RECORD against the wheel's bytes: a trusted key could sign a wheel our builder, which
    checks RECORD before signing, would never have produced."""
    try:
        return [f"RECORD: {p}" for p in wheel_record_problems(wheel)]
    except FromsourceError as exc:
        return [f"RECORD cannot be checked: {exc}"]


def _sdist_project(filename: str) -> str:
    try:
        return str(parse_sdist_filename(filename)[0])
    except InvalidSdistFilename:
        return filename


def native_detail(dep: Dependency) -> tuple[str, ...]:
    """What a native-input, toolchain or crate entry records, as short phrases for the tree."""
    detail = []
    if dep.version is not None:
        detail.append(f"version {dep.version}")
    if dep.package is not None:
        detail.append(f"{dep.package.manager} {dep.package.name} {dep.package.version}")
    if dep.path is not None:
        detail.append(dep.path)
    return tuple(detail)


def _same_file_key(path: Path) -> str:
    """Identity of a file for de-duplication: absolute and normalised, without the syscalls of
    ``resolve()`` (verification looks files up thousands of times)."""
    return os.path.abspath(path)
