"""The facts an SBOM is made of: artifacts, builds as their provenance states them, options."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclonedx.model import (
    HashAlgorithm,
    HashType,
)
from packageurl import PackageURL

from fromsource.attest.provenance import (
    KIND_CRATE,
    STATEMENT_TYPE,
)
from fromsource.errors import InputError

SBOM_PREDICATE = "https://cyclonedx.org/bom"
NS = "fromsource:"  # property namespace


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
class BuildInput:
    """A build-environment wheel as a build recorded it."""

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
            return PackageURL(
                type="cargo", name=self.name.removesuffix(f"-{self.version}.crate"), version=self.version
            )
        if self.package is None:
            return None
        name, version, arch = self.package
        return PackageURL(
            type="deb",
            namespace="debian",
            name=name,
            version=version,
            qualifiers={"arch": arch} if arch else None,
        )

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
    env: tuple[BuildInput, ...]
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


@dataclass(frozen=True, slots=True)
class SbomOptions:
    relative_to: Path  # directory the SBOM is written to: attestation URLs are relative to it
    reproducible: bool = False
    source_date_epoch: int | None = None  # with reproducible; default: newest build's
    # Wheels a policy admits without a from-source build: sha256 -> the evidence, in words.
    externals: Mapping[str, str] = field(default_factory=dict)


def sha(digest: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=digest)


def prop(name: str, value: str) -> dict[str, str]:
    return {"name": NS + name, "value": value}
