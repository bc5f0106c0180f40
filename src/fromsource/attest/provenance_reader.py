"""The one strict reader of build provenance statements (:meth:`BuildRecord.from_statement`).

Every field is checked against docs/provenance.md's reading rules; every problem is recorded
with its JSON path, nothing stops at the first, and anything not understood is a problem.
"""

from __future__ import annotations

import functools
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from fromsource.attest import shape
from fromsource.attest.provenance import (
    BUILD_TYPE,
    BUILDER_ID,
    BUILDER_IDS,
    DASK_BUILDER_ID,
    EDGES,
    EVIDENCE_KINDS,
    INTERPRETER_NAME,
    ISOLATION_BWRAP,
    ISOLATION_LEVELS,
    KIND_COMPILER,
    KIND_CRATE,
    KIND_INTERPRETER,
    KIND_SDIST,
    KIND_SYSTEM_LIBRARY,
    KIND_TOOLCHAIN,
    KIND_WHEEL,
    KINDS,
    NAMESPACES,
    NATIVE_KINDS,
    PACKAGE_MANAGERS,
    PUBLISHER_EVIDENCE,
    SLSA_PROVENANCE,
    STATEMENT_TYPE,
    UNVERIFIED,
    WORKER_FIELDS,
    BuildRecord,
    Dependency,
    PublisherEvidence,
    Sandbox,
    SystemPackage,
)
from fromsource.attest.publisher import parse_publisher
from fromsource.attest.shape import Problems
from fromsource.errors import FromsourceError


def read_statement(statement: object, p: Problems) -> BuildRecord | None:
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
    definition = shape.obj(
        predicate.get("buildDefinition"),
        where,
        p,
        ("buildType", "externalParameters", "internalParameters", "resolvedDependencies"),
    )
    if definition is None:
        return None
    shape.const(definition.get("buildType"), f"{where}.buildType", p, BUILD_TYPE)
    requirement, sdist = _external(definition.get("externalParameters"), p)
    isolation, epoch, sandbox = _internal(definition.get("internalParameters"), p)
    deps = _dependencies(definition.get("resolvedDependencies"), p)
    run = _run_details(predicate.get("runDetails"), p)
    if deps is not None and sdist is not None:
        _check_sdist(deps[0], sdist, p)
    if (
        subject is None
        or requirement is None
        or sdist is None
        or isolation is None
        or epoch is None
        or deps is None
        or run is None
        or deps[0] is None
        or deps[2] is None
    ):
        return None
    builder_version, invocation_id, started_on, finished_on, log_sha256, builder_id, worker = run
    return BuildRecord(
        wheel_name=subject[0],
        wheel_sha256=subject[1],
        requirement=requirement,
        sdist=deps[0],
        wheels=deps[1],
        interpreter=deps[2],
        natives=deps[3],
        isolation=isolation,
        source_date_epoch=epoch,
        builder_version=builder_version,
        invocation_id=invocation_id,
        started_on=started_on,
        finished_on=finished_on,
        log_sha256=log_sha256,
        sandbox=sandbox,
        builder_id=builder_id,
        worker=worker,
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
    return Sandbox(
        tool="bwrap", version=version, read_only=read_only, read_write=read_write, namespaces=namespaces
    )


def _dependencies(
    value: object,
    p: Problems,
) -> tuple[Dependency | None, tuple[Dependency, ...], Dependency | None, tuple[Dependency, ...]] | None:
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
                p.add(
                    f"{path}.name",
                    f"{dep.kind} {dep.name} is already entry [{native_names[dep.kind, dep.name]}]",
                )
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


def _exactly_one(
    found: list[tuple[int, Dependency | None]], kind: str, where: str, p: Problems
) -> Dependency | None:
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
    kind = shape.one_of(
        notes.get("kind") if isinstance(notes, dict) else None, f"{path}.annotations.kind", p, KINDS
    )
    where = f"{path}.annotations"
    if kind == KIND_SDIST:
        name = _sdist_filename(entry.get("name"), f"{path}.name", p)
        annotations = shape.obj(notes, where, p, ("kind",), (PUBLISHER_EVIDENCE, UNVERIFIED))
        evidence = unverified = None
        if annotations is not None and PUBLISHER_EVIDENCE in annotations:
            evidence = read_publisher_evidence(
                annotations[PUBLISHER_EVIDENCE], f"{where}.{PUBLISHER_EVIDENCE}", p
            )
            if evidence is None:
                return None
        if annotations is not None and UNVERIFIED in annotations:
            unverified = shape.string(annotations[UNVERIFIED], f"{where}.{UNVERIFIED}", p)
            if unverified is None:
                return None
        if name is None or sha is None or ("uri" in entry and uri is None):
            return None
        return Dependency(
            name=name, sha256=sha, kind=kind, uri=uri, publisher_evidence=evidence, unverified=unverified
        )
    if kind in NATIVE_KINDS:
        return _native(entry, kind, sha, uri, path, p)
    if "uri" in entry:  # only a fetched sdist and native inputs have a place they came from
        p.add(f"{path}.uri", f"unknown field for a {kind or 'dependency'} entry")
        return None
    if kind == KIND_INTERPRETER:
        name = shape.string(entry.get("name"), f"{path}.name", p)
        if name is not None and not INTERPRETER_NAME.fullmatch(name):
            p.add(f"{path}.name", f"{name!r} is not python-X.Y.Z")
            name = None
        annotations = shape.obj(notes, where, p, ("kind", "implementation"))
        implementation = (
            shape.string(annotations.get("implementation"), f"{where}.implementation", p)
            if annotations is not None
            else None
        )
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
    notes = shape.obj(
        entry.get("annotations"), where, p, ("kind", "edge", "seed", "attestationSha256"), ("external",)
    )
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
    return Dependency(
        name=name,
        sha256=sha,
        kind=KIND_WHEEL,
        edge=edge,
        seed=seed,
        attestation_sha256=attestation,
        external=external,
    )


_NATIVE_FIELDS = {
    KIND_SYSTEM_LIBRARY: (("kind", "soname", "path", "neededBy"), ("package",)),
    KIND_COMPILER: (("kind", "compiler", "version", "command"), ("package",)),
    KIND_TOOLCHAIN: (("kind", "toolchain", "program", "version"), ()),
    KIND_CRATE: (("kind", "crate", "version", "lockSource"), ()),
}


def _native(
    entry: dict[str, Any], kind: str, sha: str | None, uri: str | None, path: str, p: Problems
) -> Dependency | None:
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
        name=name,
        sha256=sha,
        kind=kind,
        uri=uri,
        package=package,
        soname=fields.get("soname"),
        path=fields.get("path"),
        needed_by=fields.get("neededBy") or (),
        version=fields.get("version"),
        compiler=fields.get("compiler"),
        command=fields.get("command"),
        toolchain=fields.get("toolchain"),
        program=fields.get("program"),
        crate=fields.get("crate"),
        lock_source=fields.get("lockSource"),
    )


def _system_package(value: object, where: str, p: Problems) -> SystemPackage | None:
    record = shape.obj(value, where, p, ("manager", "name", "version"), ("architecture",))
    if record is None:
        return None
    manager = shape.one_of(record.get("manager"), f"{where}.manager", p, PACKAGE_MANAGERS)
    name = shape.string(record.get("name"), f"{where}.name", p)
    version = shape.string(record.get("version"), f"{where}.version", p)
    arch = (
        shape.string(record["architecture"], f"{where}.architecture", p) if "architecture" in record else None
    )
    if manager is None or name is None or version is None or ("architecture" in record and arch is None):
        return None
    return SystemPackage(manager=manager, name=name, version=version, architecture=arch)


def read_publisher_evidence(value: object, where: str, p: Problems) -> PublisherEvidence | None:
    record = shape.obj(
        value, where, p, ("publisher", "attestationSha256", "attestationKind", "logIndex", "signer")
    )
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
    return PublisherEvidence(
        publisher=publisher,
        attestation_sha256=digest,
        attestation_kind=kind,
        log_index=log_index,
        signer=signer,
    )


def _check_sdist(dep: Dependency | None, sdist: Dependency, p: Problems) -> None:
    """The one sdist dependency is the sdist externalParameters names: name, digest and uri."""
    if dep is None:
        return
    where = "$.predicate.buildDefinition.resolvedDependencies"
    for label, ours, theirs in (
        ("name", dep.name, sdist.name),
        ("digest.sha256", dep.sha256, sdist.sha256),
        ("uri", dep.uri, sdist.uri),
    ):
        if ours != theirs:
            p.add(f"{where}[sdist].{label}", f"{ours!r} differs from externalParameters.sdist's {theirs!r}")


def _run_details(
    value: object,
    p: Problems,
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
    meta = shape.obj(run.get("metadata"), f"{where}.metadata", p, ("invocationId", "startedOn", "finishedOn"))
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
