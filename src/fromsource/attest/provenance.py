"""In-toto Statement v1 carrying SLSA provenance v1 for one wheel built from its sdist.

The field-by-field meaning is documented in docs/provenance.md; the buildType URI below
names that version of the document. Change the URI when the meaning of a field changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://fromsource.dev/buildtypes/wheel-from-sdist/v1"
BUILDER_ID = "https://fromsource.dev/builders/local/v1"

# Keys allowed in externalParameters; verify rejects anything else (unknown inputs could
# change a build without the verifier noticing).
EXTERNAL_PARAMETER_KEYS = frozenset({"requirement", "sdist"})

# internalParameters.isolation values, strongest first: bubblewrap (filesystem, network,
# PID, IPC and UTS isolation; internalParameters.sandbox lists the roots), network only, none.
ISOLATION_BWRAP = "bwrap"
ISOLATION_NET = "unshare-net"
ISOLATION_NONE = "none"
ISOLATION_LEVELS = (ISOLATION_BWRAP, ISOLATION_NET, ISOLATION_NONE)
# Levels that cut the network (what [build].require_isolation asks for).
NETWORK_ISOLATED = frozenset({ISOLATION_BWRAP, ISOLATION_NET})

# Annotation values of resolvedDependencies entries.
KIND_SDIST = "sdist"
KIND_WHEEL = "wheel"
KIND_INTERPRETER = "interpreter"
# Annotation on the sdist dependency when nothing vouched for the fetched bytes (the index
# published no sha256, or it came over plain http); its value says why. See docs/security.md.
UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency:
    """One resolvedDependencies entry (an in-toto ResourceDescriptor)."""

    name: str
    sha256: str
    kind: str
    uri: str | None = None
    edge: str | None = None  # build-system | backend | install, for wheels
    seed: bool = False
    attestation_sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        annotations: dict[str, Any] = {"kind": self.kind, **self.extra}
        if self.kind == KIND_WHEEL:
            annotations["edge"] = self.edge
            annotations["seed"] = self.seed
            annotations["attestationSha256"] = self.attestation_sha256
        out: dict[str, Any] = {
            "name": self.name,
            "digest": {"sha256": self.sha256},
            "annotations": annotations,
        }
        if self.uri:
            out["uri"] = self.uri
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRecord:
    """Everything a wheel build attestation states, as plain typed values."""

    wheel_name: str
    wheel_sha256: str
    requirement: str
    sdist: Dependency
    wheels: tuple[Dependency, ...]
    interpreter: Dependency
    isolation: str
    source_date_epoch: int
    sandbox: dict[str, Any] | None = None  # internalParameters.sandbox, for bwrap
    builder_version: str
    invocation_id: str
    started_on: str
    finished_on: str
    log_sha256: str

    def _internal_parameters(self) -> dict[str, Any]:
        internal: dict[str, Any] = {
            "isolation": self.isolation, "sourceDateEpoch": self.source_date_epoch,
        }
        if self.sandbox is not None:
            internal["sandbox"] = self.sandbox
        return internal

    def statement(self) -> dict[str, Any]:
        sdist = {"name": self.sdist.name, "digest": {"sha256": self.sdist.sha256}}
        if self.sdist.uri:
            sdist["uri"] = self.sdist.uri
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.wheel_name, "digest": {"sha256": self.wheel_sha256}}],
            "predicateType": SLSA_PROVENANCE,
            "predicate": {
                "buildDefinition": {
                    "buildType": BUILD_TYPE,
                    "externalParameters": {"requirement": self.requirement, "sdist": sdist},
                    "internalParameters": self._internal_parameters(),
                    "resolvedDependencies": [
                        self.sdist.to_dict(),
                        *(w.to_dict() for w in self.wheels),
                        self.interpreter.to_dict(),
                    ],
                },
                "runDetails": {
                    "builder": {
                        "id": BUILDER_ID,
                        "version": {"fromsource": self.builder_version},
                    },
                    "metadata": {
                        "invocationId": self.invocation_id,
                        "startedOn": self.started_on,
                        "finishedOn": self.finished_on,
                    },
                    "byproducts": [
                        {"name": "build.log", "digest": {"sha256": self.log_sha256}},
                    ],
                },
            },
        }
