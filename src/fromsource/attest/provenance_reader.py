"""The one strict reader of build provenance statements (:meth:`BuildRecord.from_statement`).

Every field is checked against docs/provenance.md's reading rules; every problem is recorded
with its JSON path, nothing stops at the first, and anything not understood is a problem.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from fromsource.attest import shape
from fromsource.attest.dependency_reader import read_dependencies
from fromsource.attest.names import sdist_filename, wheel_filename
from fromsource.attest.provenance import (
    BUILD_TYPE,
    BUILDER_ID,
    BUILDER_IDS,
    DASK_BUILDER_ID,
    ISOLATION_BWRAP,
    ISOLATION_LEVELS,
    NAMESPACES,
    SLSA_PROVENANCE,
    STATEMENT_TYPE,
    WORKER_FIELDS,
    BuildRecord,
    Dependency,
    Sandbox,
)
from fromsource.attest.shape import Problems


class _NamedSdist(NamedTuple):
    """``externalParameters.sdist``: what the one sdist dependency must equal."""

    name: str
    sha256: str
    uri: str | None


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
    deps = read_dependencies(definition.get("resolvedDependencies"), p)
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
    name = wheel_filename(entry.get("name"), "$.subject[0].name", p)
    sha = shape.digest(entry.get("digest"), "$.subject[0].digest", p)
    return (name, sha) if name is not None and sha is not None else None


def _external(value: object, p: Problems) -> tuple[str | None, _NamedSdist | None]:
    where = "$.predicate.buildDefinition.externalParameters"
    params = shape.obj(value, where, p, ("requirement", "sdist"))
    if params is None:
        return None, None
    requirement = shape.string(params.get("requirement"), f"{where}.requirement", p)
    sdist = shape.obj(params.get("sdist"), f"{where}.sdist", p, ("name", "digest"), ("uri",))
    if sdist is None:
        return requirement, None
    name = sdist_filename(sdist.get("name"), f"{where}.sdist.name", p)
    sha = shape.digest(sdist.get("digest"), f"{where}.sdist.digest", p)
    uri = shape.string(sdist["uri"], f"{where}.sdist.uri", p) if "uri" in sdist else None
    if name is None or sha is None or ("uri" in sdist and uri is None):
        return requirement, None
    return requirement, _NamedSdist(name, sha, uri)


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


def _check_sdist(dep: Dependency | None, sdist: _NamedSdist, p: Problems) -> None:
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
