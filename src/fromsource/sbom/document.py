"""The CycloneDX document: components, their references and runtime dependencies."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from fromsource import __version__
from fromsource.attest import dsse
from fromsource.attest.origin import SOURCE_ORIGIN
from fromsource.attest.provenance import (
    KIND_COMPILER,
    KIND_CRATE,
    KIND_INTERPRETER,
    KIND_SDIST,
    KIND_TOOLCHAIN,
    KIND_WHEEL,
    SLSA_PROVENANCE,
)
from fromsource.attest.shape import TIMESTAMP_FORMAT
from fromsource.fileutil import sha256_file
from fromsource.origin.store import recorded_origin
from fromsource.sbom.collect import Collector
from fromsource.sbom.formulation import Formulation
from fromsource.sbom.model import NS, Artifact, NativeInput, Sbom, SbomOptions, sha

_TOP_KEYS = (
    "$schema",
    "bomFormat",
    "specVersion",
    "serialNumber",
    "version",
    "metadata",
    "components",
    "dependencies",
    "formulation",
)


class Document:
    """Turns collected facts into the CycloneDX JSON."""

    def __init__(
        self,
        facts: Collector,
        shipped: list[Artifact],
        edges: dict[Path, set[Path]],
        unresolved: dict[Path, set[str]],
        options: SbomOptions,
    ) -> None:
        self.facts, self.shipped, self.options = facts, shipped, options
        self.edges, self.unresolved = edges, unresolved
        self.refs: dict[Artifact, str] = {}
        self.components: dict[Artifact, Component] = {}

    def render(self) -> Sbom:
        self._assign_refs()
        self.formulation = Formulation(self.facts, self.refs, self._url)
        for artifact in sorted(self.refs):
            self.components[artifact] = self._component(artifact)
        bom = Bom(
            components=self.components.values(),
            metadata=BomMetaData(
                tools=[],
                lifecycles=[PredefinedLifecycle(LifecyclePhase.BUILD)],
                timestamp=datetime.now(UTC),
                properties=[Property(name=f"{NS}workspace", value=self.facts.ws.root.name)],
            ),
        )
        bom.metadata.tools.components.add(
            Component(
                type=ComponentType.APPLICATION,
                name="fromsource",
                version=__version__,
                bom_ref="tool:fromsource",
            )
        )
        self._add_natives(bom)
        by_path = {path: self.components[a] for a, path in self.facts.files.items() if a in self.components}
        for path, targets in self.edges.items():
            if path in by_path:
                bom.register_dependency(by_path[path], [by_path[t] for t in sorted(targets) if t in by_path])
        document: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
        document["formulation"] = [self.formulation.formula()]
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
        props = [Property(name=f"{NS}kind", value=native.kind)]
        if native.uri:
            props.append(Property(name=f"{NS}path", value=native.uri.removeprefix("file://")))
        if native.package is not None:
            props.append(Property(name=f"{NS}deb-package", value=native.package[0]))
        if native.kind in (KIND_COMPILER, KIND_TOOLCHAIN):
            name, _, version = native.name.rpartition("-")
            return Component(
                type=ComponentType.APPLICATION,
                name=name or native.name,
                version=native.version or version or None,
                bom_ref=native.ref,
                purl=native.purl,
                hashes=[sha(native.sha256)],
                properties=props,
            )
        if native.kind == KIND_CRATE:
            crate = native.name.removesuffix(f"-{native.version}.crate")
            return Component(
                type=ComponentType.LIBRARY,
                name=crate,
                version=native.version,
                bom_ref=native.ref,
                purl=native.purl,
                hashes=[sha(native.sha256)],
                properties=props,
            )
        return Component(
            type=ComponentType.LIBRARY,
            name=native.name,
            version=native.package[1] if native.package else None,
            bom_ref=native.ref,
            purl=native.purl,
            hashes=[sha(native.sha256)],
            properties=props,
        )

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
        publisher = next(
            (
                b.sdist_publisher
                for b in self.facts.builds.values()
                if b.sdist == artifact and b.sdist_publisher
            ),
            None,
        )
        if publisher is not None:
            props["publisher"] = str(publisher.get("publisher"))
            props["publisher-log-index"] = str(publisher.get("logIndex"))
            props["publisher-signer"] = str(publisher.get("signer"))
            stored = self.facts.ws.evidence / artifact.sha256 / f"{publisher.get('attestationSha256')}.json"
            if stored.is_file():
                refs.append(
                    self._attestation_ref(stored, f"publisher evidence: {publisher.get('attestationKind')}")
                )
            else:
                self.facts.warnings.append(
                    f"publisher evidence for {artifact.name} is not in {self.facts.ws.evidence}"
                )
        build = self.facts.producer(artifact)
        if build is not None:
            refs.append(self._attestation_ref(build.attestation, f"build provenance: {SLSA_PROVENANCE}"))
            props["built-by-task"] = self.formulation.task_ref(build)
        if _kind(artifact) == KIND_SDIST:
            refs += self._origin(artifact, props)
        path = self.facts.files.get(artifact)
        if path is not None:
            refs.append(
                ExternalReference(
                    type=ExternalReferenceType.DISTRIBUTION,
                    url=XsUri(self._url(path)),
                    hashes=[sha(artifact.sha256)],
                )
            )
        properties = [Property(name=NS + k, value=v) for k, v in props.items()]
        if seed:
            properties += [
                Property(name=f"{NS}seed-evidence", value=f"{kind} {self._url(evidence)}")
                for evidence, kind in self.facts.seeds[artifact]
            ] or [Property(name=f"{NS}seed-evidence", value="none found")]
            origin, sdist = self.facts.seed_origins.get(artifact, ("unknown", None))
            properties.append(Property(name=f"{NS}seed-origin", value=origin))
            if sdist is not None:
                properties.append(Property(name=f"{NS}seed-sdist", value=sdist))
        properties += [
            Property(name=f"{NS}unresolved-requirement", value=r)
            for r in sorted(self.unresolved.get(path or Path(), ()))
        ]
        name, version, ctype, purl = _identity(artifact)
        return Component(
            type=ctype,
            name=name,
            version=version,
            bom_ref=self.refs[artifact],
            purl=purl,
            hashes=[sha(artifact.sha256)],
            external_references=refs,
            properties=properties,
        )

    def _origin(self, sdist: Artifact, props: dict[str, str]) -> list[ExternalReference]:
        """The repository and commit an origin attestation ties the sdist to (docs/origin.md)."""
        recorded = recorded_origin(self.facts.ws.attestations, sdist.name, sdist.sha256)
        if recorded is None:
            return []
        claim, attestation = recorded
        props.update(
            {
                "origin-repository": claim.repository,
                "origin-ref": claim.ref,
                "origin-commit": claim.commit,
                "origin-matches": str(claim.matches).lower(),
            }
        )
        url = claim.repository if "://" in claim.repository else Path(claim.repository).as_uri()
        return [
            ExternalReference(
                type=ExternalReferenceType.VCS,
                url=XsUri(url),
                comment=f"commit {claim.commit} ({claim.ref_name})",
            ),
            self._attestation_ref(attestation, f"source origin: {SOURCE_ORIGIN}"),
        ]

    def _attestation_ref(self, path: Path, comment: str) -> ExternalReference:
        return ExternalReference(
            type=ExternalReferenceType.ATTESTATION,
            url=XsUri(self._url(path)),
            comment=comment,
            hashes=[sha(sha256_file(path))],
        )

    def _url(self, path: Path) -> str:
        # Relative to the SBOM's directory, so the SBOM and workspace can move together.
        return Path(os.path.relpath(path.resolve(), self.options.relative_to.resolve())).as_posix()

    def _fix_identity(self, document: dict[str, Any]) -> None:
        epoch = self.options.source_date_epoch
        if epoch is None:
            epoch = max((b.source_date_epoch or 0 for b in self.facts.builds.values()), default=0)
        document["metadata"]["timestamp"] = datetime.fromtimestamp(epoch, UTC).strftime(TIMESTAMP_FORMAT)
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
    purl = PackageURL(
        type="pypi", name=str(project), version=str(parsed), qualifiers={"file_name": artifact.name}
    )
    return str(project), str(parsed), ctype, purl


def _base_ref(artifact: Artifact) -> str:
    purl = _identity(artifact)[3]
    return purl.to_string() if purl is not None else f"interpreter:{artifact.name}"
