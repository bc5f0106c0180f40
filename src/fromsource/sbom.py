"""CycloneDX 1.6 SBOM of a workspace: what was shipped and how each piece was made.

Components (wheels, sdists, seeds, interpreters), their hashes and purls, the metadata and
the runtime ``dependencies`` graph are built with cyclonedx-python-lib. ``formulation``,
which that library does not model, is added to its JSON output: one workflow for the
workspace, one task per attested build (inputs: the sdist and every build-environment wheel;
output: the wheel and its attestation), so a reader holding only the SBOM can follow any
shipped wheel back to sdists and seeds. Field meanings are in docs/how-to/sbom.md.

Everything is read from the workspace's attestation payloads; nothing here verifies
signatures (the CLI runs :class:`fromsource.verify.Verifier` first when given keys).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from fromsource import __version__
from fromsource.archives import iter_members
from fromsource.attest import dsse
from fromsource.attest.locate import attestation_files
from fromsource.attest.origin import SOURCE_ORIGIN
from fromsource.attest.provenance import (
    KIND_COMPILER,
    KIND_CRATE,
    KIND_INTERPRETER,
    KIND_SDIST,
    KIND_TOOLCHAIN,
    KIND_WHEEL,
    SLSA_PROVENANCE,
    STATEMENT_TYPE,
    BuildRecord,
    Dependency,
)
from fromsource.attest.seed_review import ADMIT_BINARY, SEED_REVIEW, SeedReview
from fromsource.attest.source_seed import SOURCE_SEED, SourceSeedClaim
from fromsource.errors import FromsourceError, InputError, StatementError
from fromsource.fileutil import sha256_file
from fromsource.origin.store import recorded_origin
from fromsource.untrusted import MAX_ATTESTATION_BYTES, MAX_EVIDENCE_BYTES, load_json, load_toml, read_file
from fromsource.wheelstore import WheelInfo, read_wheel_info
from fromsource.workspace import Workspace

SBOM_PREDICATE = "https://cyclonedx.org/bom"
_LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
_P = "fromsource:"  # property namespace
_TOP_KEYS = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata",
             "components", "dependencies", "formulation")


class SbomError(InputError):
    """The workspace cannot be described: every problem is listed in ``reasons``."""

    def __init__(self, message: str, reasons: Sequence[str]) -> None:
        super().__init__(message + "".join(f"\n  - {r}" for r in reasons))
        self.reasons = list(reasons)


@dataclass(frozen=True, slots=True, order=True)
class Artifact:
    """A file known by name and sha256 (the pair an attestation states)."""

    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class EnvWheel:
    artifact: Artifact
    edge: str
    seed: bool
    attestation_sha256: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeInput:
    """A system library or compiler a build recorded (docs/provenance.md)."""

    kind: str  # system-library | compiler
    name: str  # soname, or compiler-version
    sha256: str
    uri: str | None
    version: str | None  # the compiler's version
    package: tuple[str, str, str | None] | None  # Debian package, version, architecture

    @property
    def purl(self) -> PackageURL | None:
        if self.kind == KIND_CRATE and self.version is not None:
            return PackageURL(type="cargo", name=self.name.removesuffix(f"-{self.version}.crate"),
                              version=self.version)
        if self.package is None:
            return None
        name, version, arch = self.package
        return PackageURL(type="deb", namespace="debian", name=name, version=version,
                          qualifiers={"arch": arch} if arch else None)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.name}#sha256={self.sha256}"


@dataclass(frozen=True, slots=True)
class BuildStep:
    """One attested build as its provenance states it."""

    wheel: Artifact
    attestation: Path
    attestation_sha256: str
    sdist: Artifact
    sdist_uri: str | None
    requirement: str
    env: tuple[EnvWheel, ...]
    interpreter: Artifact | None
    implementation: str | None
    isolation: str
    source_date_epoch: int | None
    invocation_id: str
    started_on: str | None
    finished_on: str | None
    log_sha256: str | None
    sdist_publisher: dict[str, Any] | None = None  # the sdist entry's publisherEvidence
    natives: tuple[NativeInput, ...] = ()


@dataclass
class Sbom:
    """The SBOM document and what it is about."""

    document: dict[str, Any]
    subjects: list[Artifact]  # the shipped wheels
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"

    def statement(self) -> dict[str, Any]:
        """The SBOM as an in-toto Statement v1 about the shipped wheels."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": a.name, "digest": {"sha256": a.sha256}} for a in self.subjects],
            "predicateType": SBOM_PREDICATE,
            "predicate": self.document,
        }


# ---------------------------------------------------------------- reading the workspace


class _Collector:
    """Reads wheels, attestations, sources and seeds; records every problem, not the first."""

    def __init__(self, workspace: Workspace, externals: Mapping[str, str]) -> None:
        self.ws = workspace
        self.externals_allowed = externals
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # Keyed by the attestation file's sha256: a stage-2 wheel and its byte-identical stage-1
        # twin are one component but two builds. ``primary``: the build a component shows.
        self.builds: dict[str, BuildStep] = {}
        self.primary: dict[Artifact, str] = {}
        self.seeds: dict[Artifact, list[tuple[Path, str]]] = {}  # -> evidence (file, kind)
        # -> what the evidence claims the seed is: source (with its sdist), built, reviewed, binary
        self.seed_origins: dict[Artifact, tuple[str, str | None]] = {}
        self.externals: dict[Artifact, str] = {}  # -> why it is admitted
        self.files: dict[Artifact, Path] = {}  # artifacts whose file is at hand
        self._seed_files = {Artifact(p.name, sha256_file(p)): p for p in _wheels_in(workspace.seeds)}

    def explain(self, roots: Iterable[Artifact]) -> None:
        """Follow provenance from ``roots`` down to sdists, seeds and externals."""
        queue: list[tuple[Artifact, str | None]] = [(r, None) for r in roots]
        seen: set[tuple[Artifact, str | None]] = set()
        while queue:
            wheel, recorded = queue.pop()
            if (wheel, recorded) in seen:
                continue
            seen.add((wheel, recorded))
            if wheel.sha256 in self.externals_allowed:
                self.externals[wheel] = self.externals_allowed[wheel.sha256]
                continue
            # A seeds/ file stands for itself only where no build attests it; an attested
            # build of the same bytes is the stronger claim and is followed instead.
            if wheel in self._seed_files and not self._attestation_paths(wheel):
                self._add_seed(wheel)
                continue
            build = self._read_build(wheel, recorded)
            if build is None:
                continue
            self.primary.setdefault(wheel, build.attestation_sha256)
            if build.attestation_sha256 in self.builds:
                continue
            self.builds[build.attestation_sha256] = build
            for dep in build.env:
                if dep.seed:
                    self._add_seed(dep.artifact)
                else:
                    queue.append((dep.artifact, dep.attestation_sha256))
        for build in self.builds.values():
            for dep in build.env:
                # The build pinned its dependency's attestation; a replaced file is worth knowing.
                if (dep.attestation_sha256 and dep.artifact in self.primary
                        and dep.attestation_sha256 not in self.builds):
                    self.warnings.append(
                        f"{build.wheel.name} was built with {dep.artifact.name} whose attestation "
                        f"has changed since (recorded sha256 {dep.attestation_sha256[:12]}…)")

    def producer(self, artifact: Artifact, recorded: str | None = None) -> BuildStep | None:
        """The build that made ``artifact``: the one whose attestation was recorded, if known."""
        if recorded is not None and recorded in self.builds:
            return self.builds[recorded]
        key = self.primary.get(artifact)
        return self.builds[key] if key is not None else None

    def _attestation_paths(self, wheel: Artifact) -> list[Path]:
        # Sidecar first, then attestations/ (final builds), then stage1/ (stage-1 builds keep
        # theirs beside the wheels); a statement about other bytes is skipped when read.
        # Without the file at hand, its place in wheels/ stands in (sidecars sit in wheels/).
        near = self.files.get(wheel, self.ws.wheels / wheel.name)
        return attestation_files(near, (self.ws.attestations, self.ws.stage1))

    def _read_build(self, wheel: Artifact, recorded: str | None = None) -> BuildStep | None:
        paths = self._attestation_paths(wheel)
        if recorded is not None:  # the attestation a dependent recorded comes first
            paths.sort(key=lambda p: sha256_file(p) != recorded)
        if not paths:
            self.problems.append(f"{wheel.name} has no attestation "
                                 f"({self.ws.attestation_for(wheel.name)} is missing)")
            return None
        for path in paths:
            try:
                data = read_file(path, limit=MAX_ATTESTATION_BYTES, what="attestation")
                envelopes = dsse.parse_envelopes(data, str(path))
            except (OSError, FromsourceError) as exc:
                self.problems.append(f"cannot read attestation {path}: {exc}")
                return None
            for envelope in envelopes:
                statement = _payload(envelope.payload)
                if statement is None or statement.get("predicateType") != SLSA_PROVENANCE:
                    continue  # other evidence (a seed review) sits in the same files
                try:
                    record = BuildRecord.from_statement(statement)
                except StatementError as exc:
                    self.problems.append(f"{path}: provenance is malformed: " + "; ".join(exc.reasons))
                    return None
                if not record.subject_problems(wheel.name, wheel.sha256):
                    return _build_step(wheel, path, hashlib.sha256(data).hexdigest(), record)
        self.problems.append(f"{', '.join(map(str, paths))} holds no build provenance for "
                             f"{wheel.name} with sha256 {wheel.sha256}")
        return None

    def _add_seed(self, seed: Artifact) -> None:
        if seed in self.seeds:
            return
        evidence: list[tuple[Path, str]] = []
        origins: list[tuple[str, str | None]] = []
        for path in attestation_files(self.ws.seeds / seed.name, (self.ws.attestations,)):
            try:
                envelopes = dsse.parse_envelopes(
                    read_file(path, limit=MAX_EVIDENCE_BYTES, what="seed evidence"), str(path))
            except (OSError, FromsourceError) as exc:
                self.problems.append(f"cannot read seed evidence {path}: {exc}")
                continue
            for envelope in envelopes:
                found = _evidence_about(_payload(envelope.payload), seed)
                if found is not None:
                    evidence.append((path, found[0]))
                    origins.append(found[1])
        self.seeds[seed] = evidence
        ranked = sorted(origins, key=lambda o: _ORIGIN_RANK.index(o[0]))
        if ranked:
            self.seed_origins[seed] = ranked[0]
        if seed in self._seed_files:
            self.files[seed] = self._seed_files[seed]

    def sdist_file(self, sdist: Artifact) -> Path | None:
        path = self.ws.sources / sdist.name
        if not path.is_file():
            self.warnings.append(f"sdist {sdist.name} is not in {self.ws.sources}")
            return None
        if sha256_file(path) != sdist.sha256:
            self.warnings.append(f"{path} differs from the sdist its provenance names")
            return None
        return path


def _wheels_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.whl")) if directory.is_dir() else []


def _payload(raw: bytes) -> dict[str, Any] | None:
    try:
        statement = load_json(raw, source="payload")
    except FromsourceError:
        return None
    return statement if isinstance(statement, dict) else None


_ORIGIN_RANK = ("source", "built", "reviewed", "binary")


def _evidence_about(statement: dict[str, Any] | None,
                    seed: Artifact) -> tuple[str, tuple[str, str | None]] | None:
    """The predicateType of a statement that reads strictly and is about ``seed``, and what it
    says the seed is (source with its sdist, built, reviewed, binary); ``verify --policy``
    decides whether that holds."""
    if statement is None:
        return None
    kind = statement.get("predicateType")
    origin: tuple[str, str | None]
    try:
        if kind == SLSA_PROVENANCE:
            record = BuildRecord.from_statement(statement)
            subject = (record.wheel_name, record.wheel_sha256)
            origin = ("built", None)
        elif kind == SEED_REVIEW:
            review = SeedReview.from_statement(statement)
            subject = (review.wheel_name, review.wheel_sha256)
            origin = ("binary" if review.admission == ADMIT_BINARY else "reviewed", None)
        elif kind == SOURCE_SEED:
            claim = SourceSeedClaim.from_statement(statement)
            subject = (claim.wheel_name, claim.wheel_sha256)
            origin = ("source", f"{claim.sdist_name} sha256:{claim.sdist_sha256}")
        else:
            return None
    except StatementError:
        return None
    return (str(kind), origin) if subject == (seed.name, seed.sha256) else None


def _build_step(wheel: Artifact, path: Path, digest: str, record: BuildRecord) -> BuildStep:
    sdist = Artifact(record.sdist.name, record.sdist.sha256)
    env = [EnvWheel(Artifact(d.name, d.sha256), str(d.edge), d.seed, d.attestation_sha256)
           for d in record.wheels]
    return BuildStep(
        wheel=wheel, attestation=path, attestation_sha256=digest, sdist=sdist,
        sdist_uri=record.sdist.uri, requirement=record.requirement,
        env=tuple(sorted(env, key=lambda e: e.artifact)),
        interpreter=Artifact(record.interpreter.name, record.interpreter.sha256),
        implementation=record.interpreter.implementation, isolation=record.isolation,
        source_date_epoch=record.source_date_epoch, invocation_id=record.invocation_id,
        started_on=record.started_on, finished_on=record.finished_on, log_sha256=record.log_sha256,
        sdist_publisher=(record.sdist.publisher_evidence.to_dict()
                         if record.sdist.publisher_evidence is not None else None),
        natives=tuple(_native_input(d) for d in record.natives),
    )


def _native_input(dep: Dependency) -> NativeInput:
    package = dep.package
    deb = ((package.name, package.version, package.architecture)
           if package is not None and package.manager == "dpkg" else None)
    return NativeInput(kind=dep.kind, name=dep.name, sha256=dep.sha256, uri=dep.uri,
                       version=dep.version, package=deb)


def read_backend(sdist: Path) -> str:
    """The PEP 517 backend named by the sdist's ``pyproject.toml`` (PEP 517's default if none)."""
    for member in iter_members(sdist):  # stops at the file; extraction is not needed
        parts = PurePosixPath(member.name).parts
        if len(parts) == 2 and parts[1] == "pyproject.toml":
            try:
                table = load_toml(member.data.decode("utf-8"), source=member.name).get(
                    "build-system", {})
            except (FromsourceError, UnicodeDecodeError):
                return _LEGACY_BACKEND
            return str(table.get("build-backend", _LEGACY_BACKEND)) if isinstance(
                table, dict) else _LEGACY_BACKEND
    return _LEGACY_BACKEND


# ---------------------------------------------------------------- runtime dependencies


def runtime_graph(roots: Sequence[WheelInfo], available: Sequence[WheelInfo],
                  environment: Mapping[str, str] | None = None,
                  ) -> tuple[dict[Path, set[Path]], dict[Path, set[str]]]:
    """Requires-Dist of ``roots`` and their closure, resolved against ``available``.

    Markers are evaluated for this interpreter, with the extras each wheel was asked for.
    Returns (edges by wheel path, requirements no available wheel meets).
    """
    env = dict(environment) if environment is not None else {
        k: str(v) for k, v in default_environment().items()}
    tags = frozenset(sys_tags())
    by_name: dict[str, list[WheelInfo]] = {}
    for info in available:
        by_name.setdefault(info.name, []).append(info)
    by_path = {info.path: info for info in [*available, *roots]}
    edges: dict[Path, set[Path]] = {}
    unresolved: dict[Path, set[str]] = {}
    queue = [(info.path, frozenset[str]()) for info in roots]
    seen: set[tuple[Path, frozenset[str]]] = set()
    while queue:
        state = queue.pop()
        if state in seen:
            continue
        seen.add(state)
        path, extras = state
        edges.setdefault(path, set())
        for req in by_path[path].requires_dist:
            if req.marker is not None and not any(
                    req.marker.evaluate({**env, "extra": e}) for e in {"", *extras}):
                continue
            target = _best(req, by_name, tags)
            if target is None:
                unresolved.setdefault(path, set()).add(str(req))
                continue
            edges[path].add(target.path)
            queue.append((target.path, frozenset(canonicalize_name(e) for e in req.extras)))
    return edges, unresolved


def _best(req: Requirement, by_name: Mapping[str, list[WheelInfo]], tags: frozenset[Any]) -> WheelInfo | None:
    fits = [w for w in by_name.get(canonicalize_name(req.name), [])
            if req.specifier.contains(w.version, prereleases=True) and w.tags & tags]
    return max(fits, key=lambda w: (w.version, w.path.name), default=None)


# ---------------------------------------------------------------- the document


@dataclass(frozen=True, slots=True)
class SbomOptions:
    relative_to: Path  # directory the SBOM is written to: attestation URLs are relative to it
    reproducible: bool = False
    source_date_epoch: int | None = None  # with reproducible; default: newest build's
    # Wheels a policy admits without a from-source build: sha256 -> the evidence, in words.
    externals: Mapping[str, str] = field(default_factory=dict)


def build_sbom(workspace: Workspace, wheels: Sequence[Path], options: SbomOptions) -> Sbom:
    """Describe ``wheels`` (default: every wheel in the workspace) and how they were built."""
    if not workspace.root.is_dir():
        raise InputError(f"workspace {workspace.root} does not exist",
                         hint="pass --workspace DIR of a workspace that fromsource built into")
    for wheel in wheels:
        if not wheel.is_file() or not wheel.name.endswith(".whl"):
            raise InputError(f"{wheel} is not a wheel file")
    built = workspace.wheel_files()
    requested = list(wheels) or built
    # Externals (policy-named pre-built wheels) satisfy runtime requirements too.
    present = [*built, *_wheels_in(workspace.externals)]
    if not requested:
        raise InputError(f"no wheels in {workspace.wheels}",
                         hint="build or bootstrap into this workspace first, or name WHEEL files")
    infos = {p.resolve(): read_wheel_info(p) for p in [*present, *requested]}
    roots = [infos[p.resolve()] for p in requested]
    # What ships: the named wheels and what installing them pulls in.
    shipped_paths = sorted(runtime_graph(roots, list(infos.values()))[0], key=lambda p: p.name)
    collector = _Collector(workspace, options.externals)
    by_artifact = {Artifact(info.path.name, sha256_file(info.path)): info for info in infos.values()}
    # Stage-1 wheels are never shipped, but builds may name them: keep their files at hand.
    collector.files.update((Artifact(p.name, sha256_file(p)), p) for p in _wheels_in(workspace.stage1))
    collector.files.update((a, info.path) for a, info in by_artifact.items())
    shipped = [a for a, info in by_artifact.items() if info.path in shipped_paths]
    collector.explain(shipped)
    if collector.problems:
        raise SbomError("cannot follow the provenance of every wheel:", collector.problems)
    # Runtime edges of every wheel described (shipped or build-only) whose file is at hand:
    # CycloneDX reads a component without dependsOn as having no dependencies.
    described = set(shipped) | {e.artifact for b in collector.builds.values() for e in b.env}
    edges, unresolved = runtime_graph([i for a, i in by_artifact.items() if a in described],
                                      list(infos.values()))
    collector.warnings += [f"{path.name} requires {req}, which no wheel here provides"
                           for path in shipped_paths for req in sorted(unresolved.get(path, ()))]
    return _Document(collector, sorted(shipped), edges, unresolved, options).render()


class _Document:
    """Turns collected facts into the CycloneDX JSON."""

    def __init__(self, facts: _Collector, shipped: list[Artifact], edges: dict[Path, set[Path]],
                 unresolved: dict[Path, set[str]], options: SbomOptions) -> None:
        self.facts, self.shipped, self.options = facts, shipped, options
        self.edges, self.unresolved = edges, unresolved
        self.refs: dict[Artifact, str] = {}
        self.components: dict[Artifact, Component] = {}

    def render(self) -> Sbom:
        self._assign_refs()
        for artifact in sorted(self.refs):
            self.components[artifact] = self._component(artifact)
        bom = Bom(components=self.components.values(), metadata=BomMetaData(
            tools=[], lifecycles=[PredefinedLifecycle(LifecyclePhase.BUILD)],
            timestamp=datetime.now(UTC),
            properties=[Property(name=f"{_P}workspace", value=self.facts.ws.root.name)],
        ))
        bom.metadata.tools.components.add(Component(
            type=ComponentType.APPLICATION, name="fromsource", version=__version__,
            bom_ref="tool:fromsource"))
        self._add_natives(bom)
        by_path = {path: self.components[a] for a, path in self.facts.files.items() if a in self.components}
        for path, targets in self.edges.items():
            if path in by_path:
                bom.register_dependency(by_path[path], [by_path[t] for t in sorted(targets) if t in by_path])
        document: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
        document["formulation"] = [self._formula()]
        if self.options.reproducible:
            self._fix_identity(document)
        # The conventional key order, so the file reads (and diffs) like other CycloneDX files.
        ordered = {k: document.pop(k) for k in _TOP_KEYS if k in document}
        return Sbom({**ordered, **document}, list(self.shipped), list(self.facts.warnings))

    # -- components

    def _add_natives(self, bom: Bom) -> None:
        """System libraries and compilers of compiled wheels: one component per file, named
        by its Debian package URL where dpkg knew it, and a dependency from the wheel."""
        made: dict[str, Component] = {}
        for artifact, key in sorted(self.facts.primary.items()):
            if artifact not in self.components:
                continue
            needed = []
            for native in self.facts.builds[key].natives:
                if native.ref not in made:
                    made[native.ref] = self._native_component(native)
                    bom.components.add(made[native.ref])
                needed.append(made[native.ref])
            if needed:
                bom.register_dependency(self.components[artifact], needed)

    @staticmethod
    def _native_component(native: NativeInput) -> Component:
        props = [Property(name=f"{_P}kind", value=native.kind)]
        if native.uri:
            props.append(Property(name=f"{_P}path", value=native.uri.removeprefix("file://")))
        if native.package is not None:
            props.append(Property(name=f"{_P}deb-package", value=native.package[0]))
        if native.kind in (KIND_COMPILER, KIND_TOOLCHAIN):
            name, _, version = native.name.rpartition("-")
            return Component(type=ComponentType.APPLICATION, name=name or native.name,
                             version=native.version or version or None, bom_ref=native.ref,
                             purl=native.purl, hashes=[_sha(native.sha256)], properties=props)
        if native.kind == KIND_CRATE:
            crate = native.name.removesuffix(f"-{native.version}.crate")
            return Component(type=ComponentType.LIBRARY, name=crate,
                             version=native.version, bom_ref=native.ref, purl=native.purl,
                             hashes=[_sha(native.sha256)], properties=props)
        return Component(type=ComponentType.LIBRARY, name=native.name,
                         version=native.package[1] if native.package else None,
                         bom_ref=native.ref, purl=native.purl, hashes=[_sha(native.sha256)],
                         properties=props)

    def _assign_refs(self) -> None:
        artifacts: set[Artifact] = set(self.shipped) | set(self.facts.seeds) | set(self.facts.externals)
        for build in self.facts.builds.values():
            artifacts |= {build.wheel, build.sdist, *(e.artifact for e in build.env)}
            if build.interpreter is not None:
                artifacts.add(build.interpreter)
        base = {a: _base_ref(a) for a in artifacts}
        counts: dict[str, int] = {}
        for ref in base.values():
            counts[ref] = counts.get(ref, 0) + 1
        # A name is unique in a workspace unless a file was replaced; only then add the digest.
        self.refs = {a: ref if counts[ref] == 1 else f"{ref}#sha256={a.sha256}" for a, ref in base.items()}

    def _component(self, artifact: Artifact) -> Component:
        props = {"kind": _kind(artifact), "shipped": str(artifact in self.shipped).lower()}
        refs: list[ExternalReference] = []
        seed = artifact in self.facts.seeds
        if seed:
            props["seed"] = "true"
            for evidence, kind in self.facts.seeds[artifact]:
                refs.append(self._attestation_ref(evidence, f"seed evidence: {kind}"))
        if artifact in self.facts.externals:
            props["external"] = "true"
            props["external-evidence"] = self.facts.externals[artifact]
        publisher = next((b.sdist_publisher for b in self.facts.builds.values()
                          if b.sdist == artifact and b.sdist_publisher), None)
        if publisher is not None:
            props["publisher"] = str(publisher.get("publisher"))
            props["publisher-log-index"] = str(publisher.get("logIndex"))
            props["publisher-signer"] = str(publisher.get("signer"))
            stored = self.facts.ws.evidence / artifact.sha256 / f"{publisher.get('attestationSha256')}.json"
            if stored.is_file():
                refs.append(self._attestation_ref(
                    stored, f"publisher evidence: {publisher.get('attestationKind')}"))
            else:
                self.facts.warnings.append(f"publisher evidence for {artifact.name} is not in "
                                           f"{self.facts.ws.evidence}")
        build = self.facts.producer(artifact)
        if build is not None:
            refs.append(self._attestation_ref(build.attestation, f"build provenance: {SLSA_PROVENANCE}"))
            props["built-by-task"] = self._task_ref(build)
        if _kind(artifact) == KIND_SDIST:
            refs += self._origin(artifact, props)
        path = self.facts.files.get(artifact)
        if path is not None:
            refs.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION,
                                          url=XsUri(self._url(path)), hashes=[_sha(artifact.sha256)]))
        properties = [Property(name=_P + k, value=v) for k, v in props.items()]
        if seed:
            properties += [Property(name=f"{_P}seed-evidence", value=f"{kind} {self._url(evidence)}")
                           for evidence, kind in self.facts.seeds[artifact]] or [
                Property(name=f"{_P}seed-evidence", value="none found")]
            origin, sdist = self.facts.seed_origins.get(artifact, ("unknown", None))
            properties.append(Property(name=f"{_P}seed-origin", value=origin))
            if sdist is not None:
                properties.append(Property(name=f"{_P}seed-sdist", value=sdist))
        properties += [Property(name=f"{_P}unresolved-requirement", value=r)
                       for r in sorted(self.unresolved.get(path or Path(), ()))]
        name, version, ctype, purl = _identity(artifact)
        return Component(type=ctype, name=name, version=version, bom_ref=self.refs[artifact],
                         purl=purl, hashes=[_sha(artifact.sha256)], external_references=refs,
                         properties=properties)

    def _origin(self, sdist: Artifact, props: dict[str, str]) -> list[ExternalReference]:
        """The repository and commit an origin attestation ties the sdist to (docs/origin.md)."""
        recorded = recorded_origin(self.facts.ws.attestations, sdist.name, sdist.sha256)
        if recorded is None:
            return []
        claim, attestation = recorded
        props.update({"origin-repository": claim.repository, "origin-ref": claim.ref,
                      "origin-commit": claim.commit, "origin-matches": str(claim.matches).lower()})
        url = claim.repository if "://" in claim.repository else Path(claim.repository).as_uri()
        return [ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(url),
                                  comment=f"commit {claim.commit} ({claim.ref_name})"),
                self._attestation_ref(attestation, f"source origin: {SOURCE_ORIGIN}")]

    def _attestation_ref(self, path: Path, comment: str) -> ExternalReference:
        return ExternalReference(type=ExternalReferenceType.ATTESTATION, url=XsUri(self._url(path)),
                                 comment=comment, hashes=[_sha(sha256_file(path))])

    def _url(self, path: Path) -> str:
        # Relative to the SBOM's directory, so the SBOM and workspace can move together.
        return Path(os.path.relpath(path.resolve(), self.options.relative_to.resolve())).as_posix()

    # -- formulation

    def _formula(self) -> dict[str, Any]:
        builds = sorted(self.facts.builds.values(), key=lambda b: (b.wheel, b.invocation_id))
        tasks, task_deps = [], []
        for build in builds:
            tasks.append(self._task(build))
            needs = sorted({self._task_ref(made) for e in build.env
                            if (made := self.facts.producer(e.artifact, e.attestation_sha256))})
            task_deps.append({"ref": self._task_ref(build), **({"dependsOn": needs} if needs else {})})
        uid = uuid.uuid5(uuid.NAMESPACE_URL, "fromsource:" + ",".join(b.invocation_id for b in builds))
        workflow: dict[str, Any] = {
            "bom-ref": "workflow:fromsource", "uid": f"urn:uuid:{uid}",
            "name": f"fromsource builds in workspace {self.facts.ws.root.name}",
            "description": "Every wheel built from its sdist by fromsource, one task per build; "
                           "taskDependencies say which build used which built wheel.",
            "taskTypes": ["build"], "tasks": tasks, "taskDependencies": task_deps,
        }
        graph = self.facts.ws.graph_file
        if graph.is_file():
            workflow["properties"] = [{"name": f"{_P}build-graph",
                                       "value": f"{self._url(graph)} sha256:{sha256_file(graph)}"}]
        return {"bom-ref": "formula:fromsource", "workflows": [workflow]}

    def _task_ref(self, build: BuildStep) -> str:
        """``build:<component>``; a second build of the same bytes (a stage-1 twin) adds its id."""
        ref = _task_ref(self.refs[build.wheel])
        primary = self.facts.primary.get(build.wheel)
        return ref if primary == build.attestation_sha256 else f"{ref}@{build.invocation_id}"

    def _task(self, build: BuildStep) -> dict[str, Any]:
        ref = self.refs[build.wheel]
        inputs: list[dict[str, Any]] = [{"resource": {"ref": self.refs[build.sdist]},
                                         "properties": [_prop("input", "sdist")]}]
        for env in build.env:
            props = [_prop("edge", env.edge), _prop("seed", str(env.seed).lower())]
            if env.attestation_sha256:
                props.append(_prop("recorded-attestation-sha256", env.attestation_sha256))
            inputs.append({"resource": {"ref": self.refs[env.artifact]}, "properties": props})
        outputs: list[dict[str, Any]] = [
            {"type": "artifact", "resource": {"ref": ref}},
            {"type": "attestation", "resource": {"externalReference": {
                "type": "attestation", "url": self._url(build.attestation),
                "hashes": [{"alg": "SHA-256", "content": build.attestation_sha256}]}}},
        ]
        sdist_file = self.facts.sdist_file(build.sdist)
        step_props = [_prop("requirement", build.requirement), _prop("isolation", build.isolation)]
        if sdist_file is not None:
            step_props.append(_prop("build-backend", read_backend(sdist_file)))
        if build.source_date_epoch is not None:
            step_props.append(_prop("source-date-epoch", str(build.source_date_epoch)))
        task: dict[str, Any] = {
            "bom-ref": self._task_ref(build), "uid": build.invocation_id,
            "name": f"build {build.wheel.name}", "taskTypes": ["build"],
            "inputs": inputs, "outputs": outputs,
            "steps": [{
                "name": "fromsource build",
                "description": "PEP 517 get_requires_for_build_wheel and build_wheel in a fresh "
                               "venv holding only the input wheels",
                "commands": [{"executed": f"fromsource build sources/{build.sdist.name}"}],
                "properties": step_props,
            }],
        }
        if build.interpreter is not None:
            task["resourceReferences"] = [{"ref": self.refs[build.interpreter]}]
        if build.started_on:
            task["timeStart"] = build.started_on
        if build.finished_on:
            task["timeEnd"] = build.finished_on
        if build.log_sha256:
            task["properties"] = [_prop("build-log-sha256", build.log_sha256)]
        return task

    def _fix_identity(self, document: dict[str, Any]) -> None:
        epoch = self.options.source_date_epoch
        if epoch is None:
            epoch = max((b.source_date_epoch or 0 for b in self.facts.builds.values()), default=0)
        document["metadata"]["timestamp"] = datetime.fromtimestamp(epoch, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        document.pop("serialNumber", None)
        digest = hashlib.sha256(dsse.canonical_json(document)).hexdigest()
        # Named by content: the same workspace gives the same serial number.
        document["serialNumber"] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'fromsource:' + digest)}"


def _kind(artifact: Artifact) -> str:
    if artifact.name.endswith(".whl"):
        return KIND_WHEEL
    if artifact.name.endswith((".tar.gz", ".zip")):
        return KIND_SDIST
    return KIND_INTERPRETER


def _identity(artifact: Artifact) -> tuple[str, str | None, ComponentType, PackageURL | None]:
    kind = _kind(artifact)
    if kind == KIND_INTERPRETER:  # e.g. python-3.11.7
        name, _, version = artifact.name.rpartition("-")
        return name or artifact.name, version or None, ComponentType.APPLICATION, None
    if kind == KIND_WHEEL:
        project, parsed, _, _ = parse_wheel_filename(artifact.name)
        ctype = ComponentType.LIBRARY
    else:
        project, parsed = parse_sdist_filename(artifact.name)
        ctype = ComponentType.FILE
    purl = PackageURL(type="pypi", name=str(project), version=str(parsed),
                      qualifiers={"file_name": artifact.name})
    return str(project), str(parsed), ctype, purl


def _base_ref(artifact: Artifact) -> str:
    purl = _identity(artifact)[3]
    return purl.to_string() if purl is not None else f"interpreter:{artifact.name}"


def _task_ref(component_ref: str) -> str:
    return f"build:{component_ref}"


def _sha(digest: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=digest)


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": _P + name, "value": value}


# ---------------------------------------------------------------- validation


def validate(text: str) -> list[str]:
    """Every problem of an SBOM: CycloneDX 1.6 JSON schema errors, then dangling references."""
    from cyclonedx.exception import MissingOptionalDependencyException
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    except MissingOptionalDependencyException as exc:
        raise InputError(f"cannot validate: {exc}",
                         hint="install cyclonedx-python-lib[json-validation]") from exc
    found = []
    for error in errors or ():
        where = "/".join(str(p) for p in error.data.absolute_path) or "(document)"
        found.append(f"{where}: {error.data.message}")
    if found:
        return found
    # The schema cannot tell whether a "ref" names a bom-ref in the document; check that too.
    document = json.loads(text)
    defined: set[str] = set()
    used: set[str] = set()
    _walk_refs(document, defined, used)
    return [f"reference {ref!r} names no bom-ref in the document" for ref in sorted(used - defined)]


def _walk_refs(node: Any, defined: set[str], used: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "bom-ref" and isinstance(value, str):
                defined.add(value)
            elif key == "ref" and isinstance(value, str):
                used.add(value)
            elif key == "dependsOn" and isinstance(value, list):
                used.update(v for v in value if isinstance(v, str))
            else:
                _walk_refs(value, defined, used)
    elif isinstance(node, list):
        for item in node:
            _walk_refs(item, defined, used)
