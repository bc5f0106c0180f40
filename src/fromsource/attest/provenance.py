"""In-toto Statement v1 carrying SLSA provenance v1 for one wheel built from its sdist.

The field-by-field meaning is documented in docs/provenance.md; the buildType URI below
names that version of the document. Change the URI when the meaning of a field changes.

:meth:`BuildRecord.statement` writes a statement and :meth:`BuildRecord.from_statement` is
the only reader of one: everything that trusts a statement (verify, sbom, incremental reuse,
seed admission) goes through it, so a statement is understood the same way everywhere, and
anything it does not fully understand is a problem, never skipped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from fromsource.attest import shape
from fromsource.attest.publisher import parse_publisher
from fromsource.attest.shape import Problems
from fromsource.errors import FromsourceError, StatementError

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

_INTERPRETER_NAME = re.compile(r"python-[0-9]+\.[0-9]+\.[0-9]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class PublisherEvidence:
    """``publisherEvidence`` of the sdist entry: the publisher evidence bootstrap verified."""

    publisher: str  # the publisher spec, e.g. github:OWNER/REPO/WORKFLOW.yml
    attestation_sha256: str  # the evidence file, kept as evidence/<sdist sha256>/<this>.json
    attestation_kind: str  # one of EVIDENCE_KINDS
    log_index: int
    signer: str

    def to_dict(self) -> dict[str, Any]:
        return {"publisher": self.publisher, "attestationSha256": self.attestation_sha256,
                "attestationKind": self.attestation_kind, "logIndex": self.log_index,
                "signer": self.signer}

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, Any]) -> PublisherEvidence | None:
        """From the extra sdist annotations a build is given (``{}`` or ``{"publisherEvidence":
        {...}}``), read by the same rules as a statement's."""
        p = Problems()
        extra = shape.obj(dict(annotations), "$.annotations", p, (), (PUBLISHER_EVIDENCE,))
        found = None
        if extra is not None and PUBLISHER_EVIDENCE in extra:
            found = _publisher_evidence(extra[PUBLISHER_EVIDENCE], f"$.annotations.{PUBLISHER_EVIDENCE}", p)
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
        return {"tool": self.tool, "version": self.version, "readOnly": list(self.read_only),
                "readWrite": list(self.read_write), "namespaces": list(self.namespaces)}


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
        problems = Problems()
        record = _read(statement, problems)
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
            return [f"built with isolation {self.isolation!r}; the policy requires the filesystem "
                    f"sandbox ({ISOLATION_BWRAP!r})"]
        if require_isolation and self.isolation not in NETWORK_ISOLATED:
            return [f"built with isolation {self.isolation!r}; the policy requires network "
                    f"isolation ({', '.join(sorted(NETWORK_ISOLATED))})"]
        return []

    def source_problems(self, *, allow_unverified_sources: bool) -> list[str]:
        """An sdist fetched without an integrity check is refused unless the policy allows it."""
        if self.sdist.unverified is None or allow_unverified_sources:
            return []
        return [f"sdist {self.sdist.name!r} was built without an integrity check "
                f"({self.sdist.unverified}); the policy does not allow unverified sources "
                "([build].allow_unverified_sources)"]

    def subject_problems(self, wheel_name: str, wheel_sha256: str) -> list[str]:
        """Why this record is not about the wheel file ``wheel_name`` with that digest."""
        if self.wheel_name != wheel_name:
            return [f"$.subject[0].name: subject must name exactly {wheel_name}, once "
                    f"(it names {self.wheel_name})"]
        if self.wheel_sha256 != wheel_sha256:
            return [f"$.subject[0].digest.sha256: subject digest does not match the wheel's sha256 "
                    f"{wheel_sha256}"]
        return []


# ---------------------------------------------------------------- the strict reader


def _read(statement: object, p: Problems) -> BuildRecord | None:
    top = shape.obj(statement, "$", p, ("_type", "subject", "predicateType", "predicate"))
    if top is None:
        return None
    shape.const(top.get("_type"), "$._type", p, STATEMENT_TYPE)
    if not shape.const(top.get("predicateType"), "$.predicateType", p, SLSA_PROVENANCE):
        return None  # another predicate: its fields would only add noise
    subject = _subject(top.get("subject"), p)
    predicate = shape.obj(top.get("predicate"), "$.predicate", p, ("buildDefinition", "runDetails"))
    if predicate is None:
        return None
    where = "$.predicate.buildDefinition"
    definition = shape.obj(predicate.get("buildDefinition"), where, p,
                           ("buildType", "externalParameters", "internalParameters",
                            "resolvedDependencies"))
    if definition is None:
        return None
    shape.const(definition.get("buildType"), f"{where}.buildType", p, BUILD_TYPE)
    requirement, sdist = _external(definition.get("externalParameters"), p)
    isolation, epoch, sandbox = _internal(definition.get("internalParameters"), p)
    deps = _dependencies(definition.get("resolvedDependencies"), p)
    run = _run_details(predicate.get("runDetails"), p)
    if deps is not None and sdist is not None:
        _check_sdist(deps[0], sdist, p)
    if (subject is None or requirement is None or sdist is None or isolation is None
            or epoch is None or deps is None or run is None or deps[0] is None or deps[2] is None):
        return None
    builder_version, invocation_id, started_on, finished_on, log_sha256, builder_id, worker = run
    return BuildRecord(
        wheel_name=subject[0], wheel_sha256=subject[1], requirement=requirement,
        sdist=deps[0], wheels=deps[1], interpreter=deps[2], natives=deps[3], isolation=isolation,
        source_date_epoch=epoch, builder_version=builder_version, invocation_id=invocation_id,
        started_on=started_on, finished_on=finished_on, log_sha256=log_sha256, sandbox=sandbox,
        builder_id=builder_id, worker=worker,
    )


def _subject(value: object, p: Problems) -> tuple[str, str] | None:
    subjects = shape.array(value, "$.subject", p)
    if subjects is None:
        return None
    if len(subjects) != 1:
        p.add("$.subject", f"a subject must name exactly the one wheel built, holds {len(subjects)}")
        return None
    entry = shape.obj(subjects[0], "$.subject[0]", p, ("name", "digest"))
    if entry is None:
        return None
    name = _wheel_filename(entry.get("name"), "$.subject[0].name", p)
    sha = shape.digest(entry.get("digest"), "$.subject[0].digest", p)
    return (name, sha) if name is not None and sha is not None else None


def _plain_name(value: object, path: str, p: Problems) -> str | None:
    name = shape.string(value, path, p)
    if name is not None and ("/" in name or "\\" in name or name.startswith(".") or "\x00" in name):
        p.add(path, f"{name!r} is not a plain file name")
        return None
    return name


@functools.lru_cache(maxsize=4096)  # a wheel is named in every statement of its dependents
def _is_wheel_filename(name: str) -> bool:
    try:
        parse_wheel_filename(name)
    except InvalidWheelFilename:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _is_sdist_filename(name: str) -> bool:
    try:
        parse_sdist_filename(name)
    except InvalidSdistFilename:
        return False
    return True


def _wheel_filename(value: object, path: str, p: Problems) -> str | None:
    name = _plain_name(value, path, p)
    if name is not None and not _is_wheel_filename(name):
        p.add(path, f"{name!r} is not a wheel file name")
        return None
    return name


def _sdist_filename(value: object, path: str, p: Problems) -> str | None:
    name = _plain_name(value, path, p)
    if name is not None and not _is_sdist_filename(name):
        p.add(path, f"{name!r} is not an sdist file name")
        return None
    return name


def _external(value: object, p: Problems) -> tuple[str | None, Dependency | None]:
    where = "$.predicate.buildDefinition.externalParameters"
    params = shape.obj(value, where, p, ("requirement", "sdist"))
    if params is None:
        return None, None
    requirement = shape.string(params.get("requirement"), f"{where}.requirement", p)
    sdist = shape.obj(params.get("sdist"), f"{where}.sdist", p, ("name", "digest"), ("uri",))
    if sdist is None:
        return requirement, None
    name = _sdist_filename(sdist.get("name"), f"{where}.sdist.name", p)
    sha = shape.digest(sdist.get("digest"), f"{where}.sdist.digest", p)
    uri = shape.string(sdist["uri"], f"{where}.sdist.uri", p) if "uri" in sdist else None
    if name is None or sha is None or ("uri" in sdist and uri is None):
        return requirement, None
    return requirement, Dependency(name=name, sha256=sha, kind=KIND_SDIST, uri=uri)


def _internal(value: object, p: Problems) -> tuple[str | None, int | None, Sandbox | None]:
    where = "$.predicate.buildDefinition.internalParameters"
    params = shape.obj(value, where, p, ("isolation", "sourceDateEpoch"), ("sandbox",))
    if params is None:
        return None, None, None
    isolation = shape.one_of(params.get("isolation"), f"{where}.isolation", p, ISOLATION_LEVELS)
    epoch = shape.integer(params.get("sourceDateEpoch"), f"{where}.sourceDateEpoch", p, minimum=0)
    sandbox = None
    if "sandbox" in params:
        sandbox = _sandbox(params["sandbox"], f"{where}.sandbox", p)
        if isolation is not None and isolation != ISOLATION_BWRAP:
            p.add(f"{where}.sandbox", f"present, but isolation is {isolation!r}, not 'bwrap'")
    elif isolation == ISOLATION_BWRAP:
        p.add(f"{where}.sandbox", "missing (isolation 'bwrap' must state its sandbox)")
        isolation = None
    return isolation, epoch, sandbox


def _sandbox(value: object, where: str, p: Problems) -> Sandbox | None:
    box = shape.obj(value, where, p, ("tool", "version", "readOnly", "readWrite", "namespaces"))
    if box is None:
        return None
    tool = shape.const(box.get("tool"), f"{where}.tool", p, "bwrap")
    version = shape.string(box.get("version"), f"{where}.version", p)
    read_only = shape.strings(box.get("readOnly"), f"{where}.readOnly", p)
    read_write = shape.strings(box.get("readWrite"), f"{where}.readWrite", p)
    namespaces = shape.strings(box.get("namespaces"), f"{where}.namespaces", p)
    if namespaces is not None:
        for index, name in enumerate(namespaces):
            if shape.one_of(name, f"{where}.namespaces[{index}]", p, NAMESPACES) is None:
                namespaces = None
                break
    if namespaces is not None and "net" not in namespaces:
        # bwrap counts as network isolation (require_isolation): it must have had its own net.
        p.add(f"{where}.namespaces", "lacks 'net': the level 'bwrap' claims a network namespace")
        namespaces = None
    if not tool or version is None or read_only is None or read_write is None or namespaces is None:
        return None
    return Sandbox(tool="bwrap", version=version, read_only=read_only, read_write=read_write,
                   namespaces=namespaces)


def _dependencies(value: object, p: Problems,
                  ) -> tuple[Dependency | None, tuple[Dependency, ...], Dependency | None,
                             tuple[Dependency, ...]] | None:
    """(the sdist, the wheels, the interpreter, the native inputs); None when the list itself
    is unusable."""
    where = "$.predicate.buildDefinition.resolvedDependencies"
    entries = shape.array(value, where, p)
    if entries is None:
        return None
    sdists: list[tuple[int, Dependency | None]] = []
    interpreters: list[tuple[int, Dependency | None]] = []
    wheels: list[Dependency] = []
    natives: list[Dependency] = []
    names: dict[str, int] = {}
    native_names: dict[tuple[str, str], int] = {}
    ok = True
    for index, entry in enumerate(entries):
        path = f"{where}[{index}]"
        dep = _dependency(entry, path, p)
        kind = dep.kind if dep is not None else _claimed_kind(entry)
        if kind == KIND_SDIST:
            sdists.append((index, dep))
        elif kind == KIND_INTERPRETER:
            interpreters.append((index, dep))
        elif dep is not None and dep.kind in NATIVE_KINDS:
            if (dep.kind, dep.name) in native_names:
                p.add(f"{path}.name", f"{dep.kind} {dep.name} is already entry "
                      f"[{native_names[dep.kind, dep.name]}]")
                ok = False
            else:
                native_names[dep.kind, dep.name] = index
                natives.append(dep)
        elif dep is not None:
            if dep.name in names:
                p.add(f"{path}.name", f"{dep.name} is already entry [{names[dep.name]}]")
                ok = False
            else:
                names[dep.name] = index
                wheels.append(dep)
        else:
            ok = False
    sdist = _exactly_one(sdists, KIND_SDIST, where, p)
    interpreter = _exactly_one(interpreters, KIND_INTERPRETER, where, p)
    return (sdist, tuple(wheels), interpreter, tuple(natives)) if ok else (sdist, (), None, ())


def _claimed_kind(entry: object) -> object:
    annotations = entry.get("annotations") if isinstance(entry, dict) else None
    return annotations.get("kind") if isinstance(annotations, dict) else None


def _exactly_one(found: list[tuple[int, Dependency | None]], kind: str, where: str,
                 p: Problems) -> Dependency | None:
    if len(found) != 1:
        at = ", ".join(f"[{i}]" for i, _ in found) or "none"
        p.add(where, f"must hold exactly one {kind} entry, holds {len(found)} ({at})")
        return None
    return found[0][1]


def _dependency(value: object, path: str, p: Problems) -> Dependency | None:
    entry = shape.obj(value, path, p, ("name", "digest", "annotations"), ("uri",))
    if entry is None:
        return None
    sha = shape.digest(entry.get("digest"), f"{path}.digest", p)
    uri = shape.string(entry["uri"], f"{path}.uri", p) if "uri" in entry else None
    notes = entry.get("annotations")
    kind = shape.one_of(notes.get("kind") if isinstance(notes, dict) else None,
                        f"{path}.annotations.kind", p, KINDS)
    where = f"{path}.annotations"
    if kind == KIND_SDIST:
        name = _sdist_filename(entry.get("name"), f"{path}.name", p)
        annotations = shape.obj(notes, where, p, ("kind",), (PUBLISHER_EVIDENCE, UNVERIFIED))
        evidence = unverified = None
        if annotations is not None and PUBLISHER_EVIDENCE in annotations:
            evidence = _publisher_evidence(annotations[PUBLISHER_EVIDENCE],
                                           f"{where}.{PUBLISHER_EVIDENCE}", p)
            if evidence is None:
                return None
        if annotations is not None and UNVERIFIED in annotations:
            unverified = shape.string(annotations[UNVERIFIED], f"{where}.{UNVERIFIED}", p)
            if unverified is None:
                return None
        if name is None or sha is None or ("uri" in entry and uri is None):
            return None
        return Dependency(name=name, sha256=sha, kind=kind, uri=uri, publisher_evidence=evidence,
                          unverified=unverified)
    if kind in NATIVE_KINDS:
        return _native(entry, kind, sha, uri, path, p)
    if "uri" in entry:  # only a fetched sdist and native inputs have a place they came from
        p.add(f"{path}.uri", f"unknown field for a {kind or 'dependency'} entry")
        return None
    if kind == KIND_INTERPRETER:
        name = shape.string(entry.get("name"), f"{path}.name", p)
        if name is not None and not _INTERPRETER_NAME.fullmatch(name):
            p.add(f"{path}.name", f"{name!r} is not python-X.Y.Z")
            name = None
        annotations = shape.obj(notes, where, p, ("kind", "implementation"))
        implementation = (shape.string(annotations.get("implementation"), f"{where}.implementation", p)
                          if annotations is not None else None)
        if name is None or sha is None or implementation is None:
            return None
        return Dependency(name=name, sha256=sha, kind=kind, implementation=implementation)
    if kind == KIND_WHEEL:
        return _wheel(entry, sha, path, p)
    shape.obj(notes, where, p, ("kind",))  # reports a missing or ill-typed annotations object
    return None


def _wheel(entry: dict[str, Any], sha: str | None, path: str, p: Problems) -> Dependency | None:
    name = _wheel_filename(entry.get("name"), f"{path}.name", p)
    where = f"{path}.annotations"
    notes = shape.obj(entry.get("annotations"), where, p,
                      ("kind", "edge", "seed", "attestationSha256"), ("external",))
    if notes is None:
        return None
    edge = shape.one_of(notes.get("edge"), f"{where}.edge", p, EDGES)
    seed = shape.boolean(notes.get("seed"), f"{where}.seed", p)
    external = False
    if "external" in notes:
        # Written only as true: an external wheel has no attestation to pin.
        if notes["external"] is not True:
            p.add(f"{where}.external", f"is {notes['external']!r}; only true is ever written")
            return None
        external = True
    pinned = notes.get("attestationSha256")
    attestation: str | None = None
    if external:
        if pinned is not None:
            p.add(f"{where}.attestationSha256", "an external wheel has no attestation to pin")
            return None
        if seed:
            p.add(f"{where}.seed", "an external wheel cannot also be a seed")
            return None
    else:
        attestation = shape.sha256(pinned, f"{where}.attestationSha256", p)
        if attestation is None:
            return None
    if name is None or sha is None or edge is None or seed is None:
        return None
    return Dependency(name=name, sha256=sha, kind=KIND_WHEEL, edge=edge, seed=seed,
                      attestation_sha256=attestation, external=external)


_NATIVE_FIELDS = {
    KIND_SYSTEM_LIBRARY: (("kind", "soname", "path", "neededBy"), ("package",)),
    KIND_COMPILER: (("kind", "compiler", "version", "command"), ("package",)),
    KIND_TOOLCHAIN: (("kind", "toolchain", "program", "version"), ()),
    KIND_CRATE: (("kind", "crate", "version", "lockSource"), ()),
}


def _native(entry: dict[str, Any], kind: str, sha: str | None, uri: str | None, path: str,
            p: Problems) -> Dependency | None:
    """A system-library, compiler, toolchain or crate entry: every annotation its kind has,
    nothing else, and the ``uri`` of the file it was."""
    name = _plain_name(entry.get("name"), f"{path}.name", p)
    if "uri" not in entry:
        p.add(f"{path}.uri", f"missing (a {kind} entry names the file it was)")
    where = f"{path}.annotations"
    required, optional = _NATIVE_FIELDS[kind]
    notes = shape.obj(entry.get("annotations"), where, p, required, optional)
    if notes is None or name is None or sha is None or uri is None:
        return None
    fields: dict[str, Any] = {}
    for key in required[1:]:
        if key == "neededBy":
            fields[key] = shape.strings(notes.get(key), f"{where}.{key}", p)
        else:
            fields[key] = shape.string(notes.get(key), f"{where}.{key}", p)
    package = None
    if "package" in notes:
        package = _system_package(notes["package"], f"{where}.package", p)
        if package is None:
            return None
    if any(v is None for v in fields.values()):
        return None
    return Dependency(
        name=name, sha256=sha, kind=kind, uri=uri, package=package,
        soname=fields.get("soname"), path=fields.get("path"),
        needed_by=fields.get("neededBy") or (), version=fields.get("version"),
        compiler=fields.get("compiler"), command=fields.get("command"),
        toolchain=fields.get("toolchain"), program=fields.get("program"),
        crate=fields.get("crate"), lock_source=fields.get("lockSource"))


def _system_package(value: object, where: str, p: Problems) -> SystemPackage | None:
    record = shape.obj(value, where, p, ("manager", "name", "version"), ("architecture",))
    if record is None:
        return None
    manager = shape.one_of(record.get("manager"), f"{where}.manager", p, PACKAGE_MANAGERS)
    name = shape.string(record.get("name"), f"{where}.name", p)
    version = shape.string(record.get("version"), f"{where}.version", p)
    arch = (shape.string(record["architecture"], f"{where}.architecture", p)
            if "architecture" in record else None)
    if manager is None or name is None or version is None or ("architecture" in record and arch is None):
        return None
    return SystemPackage(manager=manager, name=name, version=version, architecture=arch)


def _publisher_evidence(value: object, where: str, p: Problems) -> PublisherEvidence | None:
    record = shape.obj(value, where, p, ("publisher", "attestationSha256", "attestationKind", "logIndex",
                                         "signer"))
    if record is None:
        return None
    publisher = shape.string(record.get("publisher"), f"{where}.publisher", p)
    if publisher is not None:
        try:
            parse_publisher(publisher)
        except FromsourceError as exc:
            p.add(f"{where}.publisher", exc.message)
            publisher = None
    digest = shape.sha256(record.get("attestationSha256"), f"{where}.attestationSha256", p)
    kind = shape.one_of(record.get("attestationKind"), f"{where}.attestationKind", p, EVIDENCE_KINDS)
    log_index = shape.integer(record.get("logIndex"), f"{where}.logIndex", p, minimum=0)
    signer = shape.string(record.get("signer"), f"{where}.signer", p)
    if publisher is None or digest is None or kind is None or log_index is None or signer is None:
        return None
    return PublisherEvidence(publisher=publisher, attestation_sha256=digest, attestation_kind=kind,
                             log_index=log_index, signer=signer)


def _check_sdist(dep: Dependency | None, sdist: Dependency, p: Problems) -> None:
    """The one sdist dependency is the sdist externalParameters names: name, digest and uri."""
    if dep is None:
        return
    where = "$.predicate.buildDefinition.resolvedDependencies"
    for label, ours, theirs in (("name", dep.name, sdist.name), ("digest.sha256", dep.sha256, sdist.sha256),
                                ("uri", dep.uri, sdist.uri)):
        if ours != theirs:
            p.add(f"{where}[sdist].{label}", f"{ours!r} differs from externalParameters.sdist's {theirs!r}")


def _run_details(
    value: object, p: Problems,
) -> tuple[str, str, str, str, str, str, dict[str, str] | None] | None:
    where = "$.predicate.runDetails"
    run = shape.obj(value, where, p, ("builder", "metadata", "byproducts"), ("worker",))
    if run is None:
        return None
    builder = shape.obj(run.get("builder"), f"{where}.builder", p, ("id", "version"))
    version = None
    builder_id = BUILDER_ID
    if builder is not None:
        found = builder.get("id")
        if found in BUILDER_IDS and isinstance(found, str):
            builder_id = found
        else:
            p.add(f"{where}.builder.id", f"is {found!r}, expected one of {', '.join(BUILDER_IDS)}")
        versions = shape.obj(builder.get("version"), f"{where}.builder.version", p, ("fromsource",))
        if versions is not None:
            version = shape.string(versions.get("fromsource"), f"{where}.builder.version.fromsource", p)
    meta = shape.obj(run.get("metadata"), f"{where}.metadata", p,
                     ("invocationId", "startedOn", "finishedOn"))
    invocation = started = finished = None
    if meta is not None:
        invocation = shape.string(meta.get("invocationId"), f"{where}.metadata.invocationId", p)
        started = shape.string(meta.get("startedOn"), f"{where}.metadata.startedOn", p)
        finished = shape.string(meta.get("finishedOn"), f"{where}.metadata.finishedOn", p)
    log = None
    byproducts = shape.array(run.get("byproducts"), f"{where}.byproducts", p)
    if byproducts is not None:
        if len(byproducts) != 1:
            p.add(f"{where}.byproducts", f"must hold exactly the build log, holds {len(byproducts)} entries")
        else:
            entry = shape.obj(byproducts[0], f"{where}.byproducts[0]", p, ("name", "digest"))
            if entry is not None:
                shape.const(entry.get("name"), f"{where}.byproducts[0].name", p, "build.log")
                log = shape.digest(entry.get("digest"), f"{where}.byproducts[0].digest", p)
    worker = _worker(run, builder_id, where, p)
    if version is None or invocation is None or started is None or finished is None or log is None:
        return None
    return version, invocation, started, finished, log, builder_id, worker


def _worker(run: dict[str, Any], builder_id: str, where: str, p: Problems) -> dict[str, str] | None:
    """``runDetails.worker``: exactly for dask builds, three strings naming the worker."""
    if "worker" not in run:
        if builder_id == DASK_BUILDER_ID:
            p.add(f"{where}.worker", f"missing (required with builder.id {DASK_BUILDER_ID})")
        return None
    if builder_id != DASK_BUILDER_ID:
        p.add(f"{where}.worker", f"only a {DASK_BUILDER_ID} build names a worker")
        return None
    entry = shape.obj(run["worker"], f"{where}.worker", p, WORKER_FIELDS)
    if entry is None:
        return None
    worker = {}
    for key in WORKER_FIELDS:
        text = shape.string(entry.get(key), f"{where}.worker.{key}", p, nonempty=False)
        if text is None:
            return None
        worker[key] = text
    return worker
