"""Reading the workspace: wheels, attestations, sources and seeds, every problem recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fromsource.attest import dsse
from fromsource.attest.locate import attestation_files
from fromsource.attest.provenance import (
    SLSA_PROVENANCE,
    BuildRecord,
    Dependency,
)
from fromsource.attest.seed_review import ADMIT_BINARY, SEED_REVIEW, SeedReview
from fromsource.attest.source_seed import SOURCE_SEED, SourceSeedClaim
from fromsource.errors import FromsourceError, StatementError
from fromsource.fileutil import sha256_file
from fromsource.sbom.model import Artifact, BuildInput, BuildStep, NativeInput
from fromsource.untrusted import MAX_ATTESTATION_BYTES, MAX_EVIDENCE_BYTES, load_json, read_file
from fromsource.workspace import Workspace


class Collector:
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
        self._seed_files = {Artifact(p.name, sha256_file(p)): p for p in wheels_in(workspace.seeds)}

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
                if (
                    dep.attestation_sha256
                    and dep.artifact in self.primary
                    and dep.attestation_sha256 not in self.builds
                ):
                    self.warnings.append(
                        f"{build.wheel.name} was built with {dep.artifact.name} whose attestation "
                        f"has changed since (recorded sha256 {dep.attestation_sha256[:12]}…)"
                    )

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
            self.problems.append(
                f"{wheel.name} has no attestation ({self.ws.attestation_for(wheel.name)} is missing)"
            )
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
        self.problems.append(
            f"{', '.join(map(str, paths))} holds no build provenance for "
            f"{wheel.name} with sha256 {wheel.sha256}"
        )
        return None

    def _add_seed(self, seed: Artifact) -> None:
        if seed in self.seeds:
            return
        evidence: list[tuple[Path, str]] = []
        origins: list[tuple[str, str | None]] = []
        for path in attestation_files(self.ws.seeds / seed.name, (self.ws.attestations,)):
            try:
                envelopes = dsse.parse_envelopes(
                    read_file(path, limit=MAX_EVIDENCE_BYTES, what="seed evidence"), str(path)
                )
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


def wheels_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.whl")) if directory.is_dir() else []


def _payload(raw: bytes) -> dict[str, Any] | None:
    try:
        statement = load_json(raw, source="payload")
    except FromsourceError:
        return None
    return statement if isinstance(statement, dict) else None


_ORIGIN_RANK = ("source", "built", "reviewed", "binary")


def _evidence_about(
    statement: dict[str, Any] | None, seed: Artifact
) -> tuple[str, tuple[str, str | None]] | None:
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
    env = [
        BuildInput(Artifact(d.name, d.sha256), str(d.edge), d.seed, d.attestation_sha256)
        for d in record.wheels
    ]
    return BuildStep(
        wheel=wheel,
        attestation=path,
        attestation_sha256=digest,
        sdist=sdist,
        sdist_uri=record.sdist.uri,
        requirement=record.requirement,
        env=tuple(sorted(env, key=lambda e: e.artifact)),
        interpreter=Artifact(record.interpreter.name, record.interpreter.sha256),
        implementation=record.interpreter.implementation,
        isolation=record.isolation,
        source_date_epoch=record.source_date_epoch,
        invocation_id=record.invocation_id,
        started_on=record.started_on,
        finished_on=record.finished_on,
        log_sha256=record.log_sha256,
        sdist_publisher=(
            record.sdist.publisher_evidence.to_dict() if record.sdist.publisher_evidence is not None else None
        ),
        natives=tuple(_native_input(d) for d in record.natives),
    )


def _native_input(dep: Dependency) -> NativeInput:
    package = dep.package
    deb = (
        (package.name, package.version, package.architecture)
        if package is not None and package.manager == "dpkg"
        else None
    )
    return NativeInput(
        kind=dep.kind, name=dep.name, sha256=dep.sha256, uri=dep.uri, version=dep.version, package=deb
    )
