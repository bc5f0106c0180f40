"""Wheel metadata checks: METADATA against the sdist's PKG-INFO (RECORD: fromsource.wheelrecord)."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from fromsource.inspect.model import Finding, MetadataResult
from fromsource.pkginfo import STATIC_SINCE

_K = TypeVar("_K")
# The fields an installer acts on, compared by meaning (parsed), not by spelling.
COMPARED = ("Name", "Version", "Requires-Python", "Requires-Dist", "Provides-Extra")


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


def _same_specifiers(a: str, b: str) -> bool:
    try:
        return SpecifierSet(a) == SpecifierSet(b)
    except InvalidSpecifier:
        return a.strip() == b.strip()


def _added_removed(ours: Mapping[_K, str], theirs: Mapping[_K, str]) -> tuple[list[str], list[str]]:
    """The spellings of what only ``ours`` has, and of what only ``theirs`` has (parsed keys)."""
    added = sorted(text for key, text in ours.items() if key not in theirs)
    removed = sorted(text for key, text in theirs.items() if key not in ours)
    return added, removed


def differences(
    ours: RawMetadata, theirs: RawMetadata, *, ours_path: str, theirs_path: str, problems: list[Finding]
) -> dict[str, str]:
    """Each of :data:`COMPARED` that differs between two metadata documents, described.

    Requirements, extras, specifiers, names and versions are compared parsed, so spelling
    (``charset_normalizer <4,>=2`` against ``charset-normalizer<4,>=2``) never counts.
    """
    found: dict[str, str] = {}
    name, other_name = ours.get("name", ""), theirs.get("name", "")
    if canonicalize_name(name) != canonicalize_name(other_name):
        found["Name"] = f"{name!r} against {other_name!r}"
    version, other_version = ours.get("version", ""), theirs.get("version", "")
    if not _same_version(version, other_version):
        found["Version"] = f"{version!r} against {other_version!r}"
    python, other_python = ours.get("requires_python", ""), theirs.get("requires_python", "")
    if not _same_specifiers(python, other_python):
        found["Requires-Python"] = f"{python!r} against {other_python!r}"
    mine = _requirements(ours.get("requires_dist", []), ours_path, problems)
    yours = _requirements(theirs.get("requires_dist", []), theirs_path, problems)
    added, removed = _added_removed(mine, yours)
    if added or removed:
        found["Requires-Dist"] = "; ".join([f"+ {t}" for t in added] + [f"- {t}" for t in removed])
    extras = {canonicalize_name(e): e for e in ours.get("provides_extra", [])}
    other_extras = {canonicalize_name(e): e for e in theirs.get("provides_extra", [])}
    added, removed = _added_removed(extras, other_extras)
    if added or removed:
        found["Provides-Extra"] = "; ".join([f"+ {t}" for t in added] + [f"- {t}" for t in removed])
    return found


def compare_metadata(
    metadata: bytes, pkg_info: bytes | None, *, metadata_path: str, pkg_info_path: str
) -> MetadataResult:
    """METADATA against PKG-INFO on :data:`COMPARED`, each parsed.

    A difference in a field PKG-INFO is authoritative for (Metadata 2.2+, not Dynamic) is a
    problem. A difference in a field it is not authoritative for is *unsettled*: the wheel
    may be honest, or may add a dependency; only a rebuild of the sdist can tell.
    """
    problems: list[Finding] = []
    notes: list[str] = []
    unsettled: list[str] = []
    wheel = _parse(metadata)
    sdist: RawMetadata = _parse(pkg_info) if pkg_info is not None else {}
    s_meta_version = sdist.get("metadata_version", "")
    dynamic = {d.lower() for d in sdist.get("dynamic", [])}
    try:
        old_metadata = Version(s_meta_version) < STATIC_SINCE
    except InvalidVersion:
        old_metadata = True
    if pkg_info is None:
        problems.append(Finding(rule="metadata", path=pkg_info_path, message="the sdist has no PKG-INFO"))
    elif old_metadata:
        notes.append(
            f"PKG-INFO is Metadata-Version {s_meta_version or '?'} (before 2.2): it is not "
            f"authoritative for {', '.join(COMPARED)}"
        )
    elif dynamic & {f.lower() for f in COMPARED}:
        marked = [f for f in COMPARED if f.lower() in dynamic]
        notes.append(f"PKG-INFO marks {', '.join(marked)} as Dynamic: it is not authoritative for them")

    def authoritative(field: str) -> bool:
        return pkg_info is not None and not old_metadata and field.lower() not in dynamic

    found = (
        differences(wheel, sdist, ours_path=metadata_path, theirs_path=pkg_info_path, problems=problems)
        if pkg_info is not None
        else {}
    )
    for field, detail in found.items():
        if authoritative(field):
            message = f"{field} differs from the sdist's PKG-INFO: {detail}"
            problems.append(Finding(rule="metadata", path=metadata_path, message=message))
        else:
            unsettled.append(
                f"{metadata_path}: {field} differs from the sdist's PKG-INFO, which is not "
                f"authoritative for it: {detail} (inspect --rebuild settles it)"
            )
    mine = _requirements(wheel.get("requires_dist", []), metadata_path, [])
    yours = _requirements(sdist.get("requires_dist", []), pkg_info_path, [])
    added, removed = _added_removed(mine, yours)
    return MetadataResult(
        name=wheel.get("name", ""),
        version=wheel.get("version", ""),
        sdist_name=sdist.get("name", ""),
        sdist_version=sdist.get("version", ""),
        metadata_version=wheel.get("metadata_version", ""),
        sdist_metadata_version=s_meta_version,
        requires_dist_added=tuple(added),
        requires_dist_removed=tuple(removed),
        requires_dist_authoritative=authoritative("Requires-Dist"),
        pkg_info_authoritative=all(authoritative(f) for f in COMPARED),
        problems=tuple(problems),
        notes=tuple(notes),
        unsettled=tuple(unsettled),
    )


def compare_rebuilt(metadata: bytes, rebuilt: bytes, *, metadata_path: str) -> tuple[list[Finding], str]:
    """The wheel's METADATA against the METADATA of a wheel built from the sdist, on
    :data:`COMPARED`; returns the problems and a note saying what the rebuild settled."""
    problems: list[Finding] = []
    where = "the wheel built from the sdist"
    found = differences(
        _parse(metadata),
        _parse(rebuilt),
        ours_path=metadata_path,
        theirs_path=f"{where}'s METADATA",
        problems=problems,
    )
    for field, detail in found.items():
        message = f"{field} differs from {where}: {detail}"
        problems.append(Finding(rule="metadata", path=metadata_path, message=message))
    if problems:
        return problems, "rebuild: the sdist was built; its METADATA differs from the wheel's"
    return problems, ("rebuild: the sdist was built; its METADATA has the wheel's " + ", ".join(COMPARED))


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
