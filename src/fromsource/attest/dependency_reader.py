"""Strict reading of ``resolvedDependencies``: the part of :mod:`provenance_reader` that reads
each entry by its kind (sdist, wheel, interpreter, native input), every problem with its path.

A build environment's entries mostly come exactly as the builder writes them:
:func:`_as_written` accepts those with a few identity checks and builds the same
:class:`Dependency` the full reading would; anything else, even one field out of place, goes
through the full reading, which alone decides what is a problem.
"""

from __future__ import annotations

from typing import Any

from fromsource.attest import shape
from fromsource.attest.names import (
    is_plain_name,
    is_sdist_filename,
    is_wheel_filename,
    plain_name,
    sdist_filename,
    wheel_filename,
)
from fromsource.attest.provenance import (
    EDGES,
    EVIDENCE_KINDS,
    INTERPRETER_NAME,
    KIND_COMPILER,
    KIND_CRATE,
    KIND_INTERPRETER,
    KIND_SDIST,
    KIND_SYSTEM_LIBRARY,
    KIND_TOOLCHAIN,
    KIND_WHEEL,
    KINDS,
    NATIVE_KINDS,
    PACKAGE_MANAGERS,
    PUBLISHER_EVIDENCE,
    UNVERIFIED,
    Dependency,
    PublisherEvidence,
    SystemPackage,
)
from fromsource.attest.publisher import parse_publisher
from fromsource.attest.shape import Problems
from fromsource.errors import FromsourceError

WHERE = "$.predicate.buildDefinition.resolvedDependencies"

Dependencies = tuple[Dependency | None, tuple[Dependency, ...], Dependency | None, tuple[Dependency, ...]]


def read_dependencies(value: object, p: Problems) -> Dependencies | None:
    """(the sdist, the wheels, the interpreter, the native inputs); None when the list itself
    is unusable."""
    entries = shape.array(value, WHERE, p)
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
        dep = _as_written(entry)
        if dep is None:
            dep = _dependency(entry, f"{WHERE}[{index}]", p)
        kind = dep.kind if dep is not None else _claimed_kind(entry)
        if kind == KIND_SDIST:
            sdists.append((index, dep))
        elif kind == KIND_INTERPRETER:
            interpreters.append((index, dep))
        elif dep is not None and dep.kind in NATIVE_KINDS:
            if (dep.kind, dep.name) in native_names:
                p.add(
                    f"{WHERE}[{index}].name",
                    f"{dep.kind} {dep.name} is already entry [{native_names[dep.kind, dep.name]}]",
                )
                ok = False
            else:
                native_names[dep.kind, dep.name] = index
                natives.append(dep)
        elif dep is not None:
            if dep.name in names:
                p.add(f"{WHERE}[{index}].name", f"{dep.name} is already entry [{names[dep.name]}]")
                ok = False
            else:
                names[dep.name] = index
                wheels.append(dep)
        else:
            ok = False
    sdist = _exactly_one(sdists, KIND_SDIST, p)
    interpreter = _exactly_one(interpreters, KIND_INTERPRETER, p)
    return (sdist, tuple(wheels), interpreter, tuple(natives)) if ok else (sdist, (), None, ())


def _claimed_kind(entry: object) -> object:
    annotations = entry.get("annotations") if isinstance(entry, dict) else None
    return annotations.get("kind") if isinstance(annotations, dict) else None


def _exactly_one(found: list[tuple[int, Dependency | None]], kind: str, p: Problems) -> Dependency | None:
    if len(found) != 1:
        at = ", ".join(f"[{i}]" for i, _ in found) or "none"
        p.add(WHERE, f"must hold exactly one {kind} entry, holds {len(found)} ({at})")
        return None
    return found[0][1]


_ENTRY = frozenset({"name", "digest", "annotations"})
_ENTRY_WITH_URI = frozenset({"name", "digest", "annotations", "uri"})
_WHEEL_NOTES = frozenset({"kind", "edge", "seed", "attestationSha256"})
_INTERPRETER_NOTES = frozenset({"kind", "implementation"})
_SDIST_NOTES = frozenset({"kind"})


def _as_written(entry: object) -> Dependency | None:
    """The entry if it is an sdist, wheel or interpreter entry exactly as the builder writes one
    (no publisher evidence, not external), by the same rules as :func:`_dependency`; None
    otherwise, and then the full reading decides."""
    if not isinstance(entry, dict):
        return None
    notes, digest, name = entry.get("annotations"), entry.get("digest"), entry.get("name")
    if notes.__class__ is not dict or digest.__class__ is not dict or len(digest) != 1:
        return None
    sha = digest.get("sha256")
    if not shape.is_sha256(sha) or name.__class__ is not str or not name or not is_plain_name(name):
        return None
    kind = notes.get("kind")
    keys = entry.keys()
    if kind == KIND_WHEEL:
        edge, seed, pinned = notes.get("edge"), notes.get("seed"), notes.get("attestationSha256")
        if (
            keys != _ENTRY
            or notes.keys() != _WHEEL_NOTES
            or edge.__class__ is not str
            or edge not in EDGES
            or seed.__class__ is not bool
            or not shape.is_sha256(pinned)
            or not is_wheel_filename(name)
        ):
            return None
        return Dependency(
            name=name, sha256=sha, kind=KIND_WHEEL, edge=edge, seed=seed, attestation_sha256=pinned
        )
    if kind == KIND_SDIST:
        uri = entry.get("uri")
        if (
            not (keys == _ENTRY or (keys == _ENTRY_WITH_URI and uri.__class__ is str and uri))
            or notes.keys() != _SDIST_NOTES
            or not is_sdist_filename(name)
        ):
            return None
        return Dependency(name=name, sha256=sha, kind=KIND_SDIST, uri=uri)
    if kind == KIND_INTERPRETER:
        implementation = notes.get("implementation")
        if (
            keys != _ENTRY
            or notes.keys() != _INTERPRETER_NOTES
            or implementation.__class__ is not str
            or not implementation
            or not INTERPRETER_NAME.fullmatch(name)
        ):
            return None
        return Dependency(name=name, sha256=sha, kind=KIND_INTERPRETER, implementation=implementation)
    return None


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
        name = sdist_filename(entry.get("name"), f"{path}.name", p)
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
    name = wheel_filename(entry.get("name"), f"{path}.name", p)
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
    name = plain_name(entry.get("name"), f"{path}.name", p)
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
