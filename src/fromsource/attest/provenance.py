"""In-toto Statement v1 carrying SLSA provenance v1 for one wheel built from its sdist.

The field-by-field meaning is documented in docs/provenance.md; the buildType URI below
names that version of the document. Change the URI when the meaning of a field changes.

:meth:`BuildRecord.statement` writes a statement and :meth:`BuildRecord.from_statement` is
the only reader of one: everything that trusts a statement (verify, sbom, incremental reuse,
seed admission) goes through it, so a statement is understood the same way everywhere, and
anything it does not fully understand is a problem, never skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fromsource.attest import shape
from fromsource.attest.shape import Problems
from fromsource.errors import StatementError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://fromsource.dev/buildtypes/wheel-from-sdist/v1"
BUILDER_ID = "https://fromsource.dev/builders/local/v1"
# Built on a Dask worker, signed by the coordinator that scheduled it (docs/provenance.md).
DASK_BUILDER_ID = "https://fromsource.dev/builders/dask/v1"
BUILDER_IDS = (BUILDER_ID, DASK_BUILDER_ID)
WORKER_FIELDS = ("address", "host", "name")  # runDetails.worker, dask builds only

ISOLATION_BWRAP = "bwrap"
ISOLATION_NET = "unshare-net"
ISOLATION_NONE = "none"
# internalParameters.isolation values, strongest first: bubblewrap (filesystem, network,
# PID, IPC and UTS isolation; internalParameters.sandbox lists the roots), network only, none.
ISOLATION_LEVELS = (ISOLATION_BWRAP, ISOLATION_NET, ISOLATION_NONE)
# Levels that cut the network (what [build].require_isolation asks for).
NETWORK_ISOLATED = frozenset({ISOLATION_BWRAP, ISOLATION_NET})
# Linux namespaces a bwrap sandbox may list (internalParameters.sandbox.namespaces).
NAMESPACES = ("user", "ipc", "pid", "net", "uts", "cgroup")

# Annotation values of resolvedDependencies entries.
KIND_SDIST = "sdist"
KIND_WHEEL = "wheel"
KIND_INTERPRETER = "interpreter"
# Annotation on the sdist dependency when nothing vouched for the fetched bytes (the index
# published no sha256, or it came over plain http); its value says why. See docs/security.md.
UNVERIFIED = "unverified"
# Native inputs of compiled wheels (fromsource.native): linked system libraries, the compiler.
KIND_SYSTEM_LIBRARY = "system-library"
KIND_COMPILER = "compiler"
# Programs of a toolchain the policy granted to the build (fromsource.toolchains).
KIND_TOOLCHAIN = "toolchain"
# A Rust crate vendored into the build from a registry, checked against Cargo.lock.
KIND_CRATE = "crate"
# What else a build used, recorded after the interpreter (docs/provenance.md, "Native inputs").
NATIVE_KINDS = (KIND_SYSTEM_LIBRARY, KIND_COMPILER, KIND_TOOLCHAIN, KIND_CRATE)
KINDS = (KIND_SDIST, KIND_WHEEL, KIND_INTERPRETER, *NATIVE_KINDS)
PACKAGE_MANAGERS = ("dpkg",)
# The sdist entry's annotation recording verified publisher evidence (docs/provenance.md).
PUBLISHER_EVIDENCE = "publisherEvidence"
EVIDENCE_KINDS = ("pep740-attestation", "pep740-provenance", "sigstore-bundle")
EDGES = ("build-system", "backend", "install")

INTERPRETER_NAME = re.compile(r"python-[0-9]+\.[0-9]+\.[0-9]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class PublisherEvidence:
    """``publisherEvidence`` of the sdist entry: the publisher evidence bootstrap verified."""

    publisher: str  # the publisher spec, e.g. github:OWNER/REPO/WORKFLOW.yml
    attestation_sha256: str  # the evidence file, kept as evidence/<sdist sha256>/<this>.json
    attestation_kind: str  # one of EVIDENCE_KINDS
    log_index: int
    signer: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "publisher": self.publisher,
            "attestationSha256": self.attestation_sha256,
            "attestationKind": self.attestation_kind,
            "logIndex": self.log_index,
            "signer": self.signer,
        }

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, Any]) -> PublisherEvidence | None:
        """From the extra sdist annotations a build is given (``{}`` or ``{"publisherEvidence":
        {...}}``), read by the same rules as a statement's."""
        from fromsource.attest.dependency_reader import read_publisher_evidence

        p = Problems()
        extra = shape.obj(dict(annotations), "$.annotations", p, (), (PUBLISHER_EVIDENCE,))
        found = None
        if extra is not None and PUBLISHER_EVIDENCE in extra:
            found = read_publisher_evidence(
                extra[PUBLISHER_EVIDENCE], f"$.annotations.{PUBLISHER_EVIDENCE}", p
            )
        if p:
            raise StatementError("sdist annotations this reader does not understand:", p.items)
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemPackage:
    """The system package that owns a native input's file (``package`` annotation)."""

    manager: str  # one of PACKAGE_MANAGERS
    name: str
    version: str
    architecture: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"manager": self.manager, "name": self.name, "version": self.version}
        if self.architecture:
            out["architecture"] = self.architecture
        return out


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
    external: bool = False  # a pre-built wheel a policy names by digest; no attestation
    implementation: str | None = None  # interpreters: sys.implementation.name
    publisher_evidence: PublisherEvidence | None = None  # sdists: what bootstrap verified
    unverified: str | None = None  # sdists: why nothing vouched for the fetched bytes
    # Native inputs, toolchains and crates (NATIVE_KINDS); ``uri`` is where the file was.
    soname: str | None = None  # system-library
    path: str | None = None  # system-library: where the loader finds the soname
    needed_by: tuple[str, ...] = ()  # system-library: the wheel members that link it
    package: SystemPackage | None = None  # system-library, compiler: the owning package
    version: str | None = None  # compiler, toolchain, crate
    compiler: str | None = None  # compiler: gcc, clang, ...
    command: str | None = None  # compiler: what was looked up on PATH
    toolchain: str | None = None  # toolchain: the granted name (rust)
    program: str | None = None  # toolchain: rustc, cargo
    crate: str | None = None  # crate: its name
    lock_source: str | None = None  # crate: Cargo.lock's source line

    def to_dict(self) -> dict[str, Any]:
        annotations: dict[str, Any] = {"kind": self.kind}
        if self.kind == KIND_WHEEL:
            annotations["edge"] = self.edge
            annotations["seed"] = self.seed
            annotations["attestationSha256"] = self.attestation_sha256
            if self.external:
                annotations["external"] = True
        elif self.kind == KIND_INTERPRETER:
            annotations["implementation"] = self.implementation
        elif self.kind in NATIVE_KINDS:
            annotations.update(self._native_annotations())
        else:
            if self.publisher_evidence is not None:
                annotations[PUBLISHER_EVIDENCE] = self.publisher_evidence.to_dict()
            if self.unverified is not None:
                annotations[UNVERIFIED] = self.unverified
        out: dict[str, Any] = {
            "name": self.name,
            "digest": {"sha256": self.sha256},
            "annotations": annotations,
        }
        if self.uri:
            out["uri"] = self.uri
        return out

    def _native_annotations(self) -> dict[str, Any]:
        out: dict[str, Any]
        if self.kind == KIND_SYSTEM_LIBRARY:
            out = {"soname": self.soname, "path": self.path, "neededBy": list(self.needed_by)}
        elif self.kind == KIND_COMPILER:
            out = {"compiler": self.compiler, "version": self.version, "command": self.command}
        elif self.kind == KIND_TOOLCHAIN:
            out = {"toolchain": self.toolchain, "program": self.program, "version": self.version}
        else:
            out = {"crate": self.crate, "version": self.version, "lockSource": self.lock_source}
        if self.package is not None:
            out["package"] = self.package.to_dict()
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Sandbox:
    """``internalParameters.sandbox``: the bubblewrap view the build hooks ran in."""

    tool: str  # "bwrap"
    version: str
    read_only: tuple[str, ...]
    read_write: tuple[str, ...]
    namespaces: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "version": self.version,
            "readOnly": list(self.read_only),
            "readWrite": list(self.read_write),
            "namespaces": list(self.namespaces),
        }


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
    natives: tuple[Dependency, ...] = ()  # native inputs, toolchains and crates
    builder_version: str
    invocation_id: str
    started_on: str
    finished_on: str
    log_sha256: str
    sandbox: Sandbox | None = None  # set exactly when isolation is "bwrap"
    builder_id: str = BUILDER_ID
    # Which Dask worker ran the build step ({"address", "host", "name"}); None: this process.
    worker: dict[str, str] | None = None

    def statement(self) -> dict[str, Any]:
        sdist = {"name": self.sdist.name, "digest": {"sha256": self.sdist.sha256}}
        if self.sdist.uri:
            sdist["uri"] = self.sdist.uri
        internal: dict[str, Any] = {
            "isolation": self.isolation,
            "sourceDateEpoch": self.source_date_epoch,
        }
        if self.sandbox is not None:
            internal["sandbox"] = self.sandbox.to_dict()
        run_details: dict[str, Any] = {
            "builder": {
                "id": self.builder_id,
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
        }
        if self.worker is not None:
            run_details["worker"] = dict(self.worker)
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.wheel_name, "digest": {"sha256": self.wheel_sha256}}],
            "predicateType": SLSA_PROVENANCE,
            "predicate": {
                "buildDefinition": {
                    "buildType": BUILD_TYPE,
                    "externalParameters": {"requirement": self.requirement, "sdist": sdist},
                    "internalParameters": internal,
                    "resolvedDependencies": [
                        self.sdist.to_dict(),
                        *(w.to_dict() for w in self.wheels),
                        self.interpreter.to_dict(),
                        *(n.to_dict() for n in self.natives),
                    ],
                },
                "runDetails": run_details,
            },
        }

    @classmethod
    def from_statement(cls, statement: object) -> BuildRecord:
        """Read a decoded statement strictly (rules: docs/provenance.md, "Reading rules").

        Returns the record, or raises :class:`~fromsource.errors.StatementError` whose
        ``reasons`` list every problem found, each starting with its JSON path.
        """
        from fromsource.attest.provenance_reader import read_statement  # the reader imports this module

        problems = Problems()
        record = read_statement(statement, problems)
        if problems or record is None:
            raise StatementError(
                f"not a {BUILD_TYPE} provenance statement this reader fully understands "
                f"({len(problems.items)} problem{'s' if len(problems.items) != 1 else ''}):",
                problems.items or ["$: unreadable"],
            )
        return record

    def isolation_problems(self, *, require_isolation: bool, require_sandbox: bool) -> list[str]:
        """What the policy's ``[build]`` rules make of the recorded isolation: the network rule
        accepts any level that cut the network, the sandbox rule only ``bwrap``."""
        if require_sandbox and self.isolation != ISOLATION_BWRAP:
            return [
                f"built with isolation {self.isolation!r}; the policy requires the filesystem "
                f"sandbox ({ISOLATION_BWRAP!r})"
            ]
        if require_isolation and self.isolation not in NETWORK_ISOLATED:
            return [
                f"built with isolation {self.isolation!r}; the policy requires network "
                f"isolation ({', '.join(sorted(NETWORK_ISOLATED))})"
            ]
        return []

    def source_problems(self, *, allow_unverified_sources: bool) -> list[str]:
        """An sdist fetched without an integrity check is refused unless the policy allows it."""
        if self.sdist.unverified is None or allow_unverified_sources:
            return []
        return [
            f"sdist {self.sdist.name!r} was built without an integrity check "
            f"({self.sdist.unverified}); the policy does not allow unverified sources "
            "([build].allow_unverified_sources)"
        ]

    def subject_problems(self, wheel_name: str, wheel_sha256: str) -> list[str]:
        """Why this record is not about the wheel file ``wheel_name`` with that digest."""
        if self.wheel_name != wheel_name:
            return [
                f"$.subject[0].name: subject must name exactly {wheel_name}, once "
                f"(it names {self.wheel_name})"
            ]
        if self.wheel_sha256 != wheel_sha256:
            return [
                f"$.subject[0].digest.sha256: subject digest does not match the wheel's sha256 {wheel_sha256}"
            ]
        return []
