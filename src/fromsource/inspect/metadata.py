"""Wheel metadata checks: RECORD against the bytes, METADATA against the sdist's PKG-INFO."""

from __future__ import annotations

import base64
import configparser
import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from fromsource.inspect.model import Finding, MetadataResult

_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
_WEAK = frozenset({"md5", "sha1"})
# Metadata 2.2 (PEP 643): fields not marked Dynamic in PKG-INFO are final.
_STATIC_SINCE = Version("2.2")


def check_record(dist_info: str, members: Mapping[str, bytes]) -> list[Finding]:
    """Every RECORD problem: unlisted or missing files, wrong hashes or sizes."""
    record_path = f"{dist_info}/RECORD"
    raw = members.get(record_path)
    if raw is None:
        return [Finding(rule="record", path=record_path, message="the wheel has no RECORD")]
    problems: list[Finding] = []
    seen: set[str] = set()
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        return [Finding(rule="record", path=record_path, message=f"RECORD is unreadable: {exc}")]
    for number, row in enumerate(rows, 1):
        if not row:
            continue
        if len(row) != 3:
            problems.append(Finding(rule="record", path=record_path, line=number, message="not 3 fields"))
            continue
        path, hash_field, size_field = row
        if path in seen:
            problems.append(Finding(rule="record", path=path, message="listed twice in RECORD"))
            continue
        seen.add(path)
        data = members.get(path)
        if data is None:
            problems.append(
                Finding(rule="record", path=path, message="listed in RECORD but not in the wheel")
            )
            continue
        if path == record_path:
            continue
        algo, _, expected = hash_field.partition("=")
        if not expected:
            problems.append(Finding(rule="record", path=path, message="RECORD gives no hash"))
        elif algo in _WEAK or algo not in hashlib.algorithms_guaranteed:
            problems.append(
                Finding(rule="record", path=path, message=f"RECORD hash {algo!r} is not accepted")
            )
        else:
            actual = base64.urlsafe_b64encode(hashlib.new(algo, data).digest())
            if actual.rstrip(b"=").decode() != expected.rstrip("="):
                problems.append(Finding(rule="record", path=path, message="hash differs from RECORD"))
        if size_field and size_field != str(len(data)):
            problems.append(
                Finding(
                    rule="record",
                    path=path,
                    message=f"size {len(data)} differs from RECORD's {size_field}",
                )
            )
    unlisted = {
        name for name in members if name not in seen and name not in {f"{dist_info}/{s}" for s in _SIGNATURES}
    }
    problems.extend(
        Finding(rule="record", path=name, message="in the wheel but not listed in RECORD")
        for name in sorted(unlisted)
    )
    return problems


def _parse(data: bytes) -> RawMetadata:
    raw, _unparsed = parse_email(data)
    return raw


def _requirements(values: list[str], where: str, problems: list[Finding]) -> dict[Requirement, str]:
    parsed: dict[Requirement, str] = {}
    for value in values:
        try:
            parsed[Requirement(value)] = value
        except InvalidRequirement as exc:
            problems.append(
                Finding(rule="metadata", path=where, message=f"invalid Requires-Dist {value!r}: {exc}")
            )
    return parsed


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def compare_metadata(
    metadata: bytes, pkg_info: bytes | None, *, metadata_path: str, pkg_info_path: str
) -> MetadataResult:
    """METADATA against PKG-INFO: name, version and Requires-Dist as parsed requirements."""
    problems: list[Finding] = []
    notes: list[str] = []
    wheel = _parse(metadata)
    sdist: RawMetadata = _parse(pkg_info) if pkg_info is not None else {}
    if pkg_info is None:
        problems.append(Finding(rule="metadata", path=pkg_info_path, message="the sdist has no PKG-INFO"))
    name, version = wheel.get("name", ""), wheel.get("version", "")
    s_name, s_version = sdist.get("name", ""), sdist.get("version", "")
    if pkg_info is not None and canonicalize_name(name) != canonicalize_name(s_name):
        problems.append(
            Finding(
                rule="metadata",
                path=metadata_path,
                message=f"Name {name!r} differs from the sdist's {s_name!r}",
            )
        )
    if pkg_info is not None and not _same_version(version, s_version):
        problems.append(
            Finding(
                rule="metadata",
                path=metadata_path,
                message=f"Version {version!r} differs from the sdist's {s_version!r}",
            )
        )
    s_meta_version = sdist.get("metadata_version", "")
    dynamic = {d.lower() for d in sdist.get("dynamic", [])}
    authoritative = pkg_info is not None and "requires-dist" not in dynamic
    try:
        old_metadata = Version(s_meta_version) < _STATIC_SINCE
    except InvalidVersion:
        old_metadata = True
    if pkg_info is not None and old_metadata:
        authoritative = False
        notes.append(
            f"PKG-INFO is Metadata-Version {s_meta_version or '?'} (before 2.2): its "
            "Requires-Dist is not authoritative"
        )
    elif "requires-dist" in dynamic:
        notes.append("PKG-INFO marks Requires-Dist as Dynamic: it is not authoritative")
    ours = _requirements(wheel.get("requires_dist", []), metadata_path, problems)
    theirs = _requirements(sdist.get("requires_dist", []), pkg_info_path, problems)
    added = tuple(sorted(text for req, text in ours.items() if req not in theirs))
    removed = tuple(sorted(text for req, text in theirs.items() if req not in ours))
    if added or removed:
        detail = "; ".join([f"+ {t}" for t in added] + [f"- {t}" for t in removed])
        message = f"Requires-Dist differs from the sdist's PKG-INFO: {detail}"
        if authoritative:
            problems.append(Finding(rule="metadata", path=metadata_path, message=message))
        else:
            notes.append(message + " (not authoritative; a rebuild would settle it)")
    return MetadataResult(
        name=name,
        version=version,
        sdist_name=s_name,
        sdist_version=s_version,
        metadata_version=wheel.get("metadata_version", ""),
        sdist_metadata_version=s_meta_version,
        requires_dist_added=added,
        requires_dist_removed=removed,
        requires_dist_authoritative=authoritative,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def compare_rebuilt(metadata: bytes, rebuilt: bytes, *, metadata_path: str) -> tuple[list[Finding], str]:
    """The wheel's METADATA against the METADATA of a wheel built from the sdist.

    Name, version and Requires-Dist (as parsed requirements); returns the problems and a
    note saying what the rebuild settled.
    """
    problems: list[Finding] = []
    wheel, built = _parse(metadata), _parse(rebuilt)
    where = "the wheel built from the sdist"
    if canonicalize_name(wheel.get("name", "")) != canonicalize_name(built.get("name", "")):
        message = f"Name {wheel.get('name', '')!r} differs from {where}'s {built.get('name', '')!r}"
        problems.append(Finding(rule="metadata", path=metadata_path, message=message))
    if not _same_version(wheel.get("version", ""), built.get("version", "")):
        message = f"Version {wheel.get('version', '')!r} differs from {where}'s {built.get('version', '')!r}"
        problems.append(Finding(rule="metadata", path=metadata_path, message=message))
    ours = _requirements(wheel.get("requires_dist", []), metadata_path, problems)
    theirs = _requirements(built.get("requires_dist", []), f"{where}'s METADATA", problems)
    added = sorted(text for req, text in ours.items() if req not in theirs)
    removed = sorted(text for req, text in theirs.items() if req not in ours)
    if added or removed:
        detail = "; ".join([f"+ {t}" for t in added] + [f"- {t}" for t in removed])
        message = f"Requires-Dist differs from {where}: {detail}"
        problems.append(Finding(rule="metadata", path=metadata_path, message=message))
    if problems:
        return problems, "rebuild: the sdist was built; its METADATA differs from the wheel's"
    return problems, (
        "rebuild: the sdist was built; its METADATA has the wheel's name, version and Requires-Dist"
    )


@dataclass(frozen=True, slots=True)
class EntryPoint:
    group: str
    name: str
    module: str


def entry_points(data: bytes) -> list[EntryPoint]:
    """The entry points of an ``entry_points.txt`` (module part only)."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(data.decode("utf-8", "replace"))
    found = []
    for group in parser.sections():
        for name, value in parser.items(group):
            module = value.split(":", 1)[0].split("[", 1)[0].strip()
            found.append(EntryPoint(group=group, name=name, module=module))
    return found
