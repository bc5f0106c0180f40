"""Source seeds: a wheel assembled from an sdist's own files, by a layout read in one line.

No pre-built artifact is involved: the wheel is a pure function of the sdist's bytes and the
recipe (layout and excludes), so anyone holding the sdist re-assembles it and compares bytes.
The recipe, versioned as :data:`ASSEMBLY` (meaning in docs/source-seeds.md):

- the sdist is read through :mod:`fromsource.archives` (its checks and limits apply); every
  member lies below one top directory, and every path here is relative to it;
- a placement ``SRC=DEST`` puts the file ``SRC``, or every file below the directory ``SRC``
  (``.``: the top directory itself), at ``DEST``, or below it (``.``: the wheel root); a file
  matching an exclude glob, or below a directory matching one, is left out;
- ``METADATA`` is ``PKG-INFO`` byte for byte, which is right only when PKG-INFO is final:
  Metadata-Version 2.2 or later (PEP 643) and no field marked Dynamic; each ``License-File``
  it names is copied to ``.dist-info/licenses/``;
- ``WHEEL`` (tag ``py3-none-any``, purelib) and ``RECORD`` are written;
- the zip is deterministic: payload members sorted by path, then licenses, METADATA, WHEEL,
  RECORD; stored uncompressed (deflate output differs between zlib builds); every timestamp
  1980-01-01 00:00:00; every file mode 0644.

Refused, with every reason: no usable PKG-INFO; a placement that maps nothing; two files at
one path; a path escaping the wheel root (``..``, absolute) or a link in what is placed;
compiled files (a source seed holds only what a reviewer can read).
"""

from __future__ import annotations

import base64
import csv
import fnmatch
import hashlib
import io
import re
import shlex
import stat
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import InvalidVersion, Version

from fromsource.archives import Link, iter_entries
from fromsource.errors import FromsourceError, SeedAssemblyError
from fromsource.fileutil import sha256_file
from fromsource.inspect.classify import kind_of
from fromsource.inspect.model import KIND_COMPILED
from fromsource.pkginfo import STATIC_SINCE

ASSEMBLY = "https://fromsource.dev/seed-assembly/v1"
WHEEL_TAG = "py3-none-any"
GENERATOR = "fromsource seed assemble"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say; no clock is read
_FILE_MODE = stat.S_IFREG | 0o644
_DRIVE = re.compile(r"^[A-Za-z]:")
# Suggested excludes for a flat sdist (its top directory is the package), when present.
_PACKAGING_FILES = ("PKG-INFO", "pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in")


@dataclass(frozen=True, slots=True)
class Placement:
    """``source`` (relative to the sdist's top directory, ``.`` for it) placed at
    ``destination`` (relative to the wheel root, ``.`` for it)."""

    source: str
    destination: str

    @classmethod
    def parse(cls, text: str) -> Placement:
        source, sep, destination = text.partition("=")
        if not sep:
            raise SeedAssemblyError(
                f"--layout {text!r}: expected SRC=DEST, e.g. src/pkg=pkg or .=coherent/build"
            )
        return cls(_relative(source, "SRC", text), _relative(destination, "DEST", text))

    def __str__(self) -> str:
        return f"{self.source}={self.destination}"


def _relative(raw: str, what: str, spec: str) -> str:
    """A normalised relative posix path; refuse what could leave the root."""
    if not raw:
        raise SeedAssemblyError(f"--layout {spec!r}: {what} is empty (use . for the top)")
    if "\x00" in raw or "\\" in raw or _DRIVE.match(raw) or raw.startswith("/"):
        raise SeedAssemblyError(
            f"--layout {spec!r}: {what} {raw!r} is absolute or not a posix "
            "path; it would escape the wheel root"
        )
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SeedAssemblyError(
            f"--layout {spec!r}: {what} {raw!r} contains '..'; it would escape the wheel root"
        )
    return "/".join(parts) or "."


@dataclass(frozen=True, slots=True, kw_only=True)
class AssembledSeed:
    """A source seed's bytes and everything needed to re-assemble them."""

    filename: str
    data: bytes
    sha256: str
    name: str
    version: str
    sdist_name: str
    sdist_sha256: str
    layout: tuple[Placement, ...]
    exclude: tuple[str, ...]
    inferred: bool
    files: tuple[tuple[str, str], ...]  # (wheel path, sdist path) of every placed file
    metadata_version: str

    @property
    def recipe(self) -> str:
        """The recipe as command-line arguments, for people."""
        return " ".join(
            [
                *(f"--layout {shlex.quote(str(p))}" for p in self.layout),
                *(f"--exclude {shlex.quote(e)}" for e in self.exclude),
            ]
        )


@dataclass(frozen=True, slots=True)
class _Sdist:
    files: Mapping[str, bytes]  # path below the top directory -> content
    links: tuple[str, ...]


def _read_sdist(sdist: Path) -> _Sdist:
    files: dict[str, bytes] = {}
    links: list[str] = []
    top: str | None = None
    for item in iter_entries(sdist):
        head, _, rest = item.name.partition("/")
        top = head if top is None else top
        if head != top or not rest:
            raise SeedAssemblyError(
                f"{sdist.name}: members do not all lie below one top directory ({item.name!r}); not an sdist"
            )
        if isinstance(item, Link):
            links.append(rest)
        else:
            files[rest] = item.data
    return _Sdist(files, tuple(links))


@dataclass(frozen=True, slots=True)
class _Metadata:
    raw: bytes
    name: str
    version: Version
    metadata_version: str
    license_files: tuple[str, ...]


def _metadata(sdist: str, files: Mapping[str, bytes]) -> _Metadata:
    """PKG-INFO, if it can be the wheel's METADATA byte for byte; else refuse with the reason."""
    data = files.get("PKG-INFO")
    if data is None:
        raise SeedAssemblyError(
            f"{sdist}: no PKG-INFO in its top directory; a source seed's METADATA is the sdist's PKG-INFO"
        )
    try:
        raw, unparsed = parse_email(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SeedAssemblyError(f"{sdist}: PKG-INFO is not UTF-8 ({exc.reason})") from exc
    bad = sorted(k for k in ("metadata_version", "name", "version") if k in unparsed)
    if bad:
        raise SeedAssemblyError(f"{sdist}: PKG-INFO has invalid or repeated fields: {', '.join(bad)}")
    metadata_version, name, version = (raw.get("metadata_version"), raw.get("name"), raw.get("version"))
    if not metadata_version or not name or not version:
        raise SeedAssemblyError(f"{sdist}: PKG-INFO lacks Metadata-Version, Name or Version")
    try:
        final = Version(metadata_version) >= STATIC_SINCE
        parsed = Version(version)
    except InvalidVersion as exc:
        raise SeedAssemblyError(f"{sdist}: PKG-INFO has an invalid version ({exc})") from exc
    if not final:
        raise SeedAssemblyError(
            f"{sdist}: PKG-INFO is Metadata-Version {metadata_version}; before 2.2 (PEP 643) an "
            "sdist's metadata is not final, so it cannot be a wheel's METADATA",
            hint="break the cycle with a reviewed wheel instead: fromsource seed admit",
        )
    dynamic = raw.get("dynamic", [])
    if dynamic:
        raise SeedAssemblyError(
            f"{sdist}: PKG-INFO marks {', '.join(dynamic)} as Dynamic: the backend computes "
            "them when it builds a wheel, so PKG-INFO cannot be the wheel's METADATA",
            hint="break the cycle with a reviewed wheel instead: fromsource seed admit",
        )
    try:
        stated = parse_sdist_filename(sdist)
    except InvalidSdistFilename:
        stated = None
    if stated is not None and (stated[0] != canonicalize_name(name) or stated[1] != parsed):
        raise SeedAssemblyError(
            f"{sdist}: PKG-INFO says {name} {version}, the file name {stated[0]} {stated[1]}"
        )
    return _Metadata(data, name, parsed, metadata_version, tuple(raw.get("license_files", [])))


def _import_path(name: str) -> str:
    """``coherent.build`` -> ``coherent/build``: where a flat sdist's package would go."""
    return "/".join(re.sub(r"[-_]+", "_", part).lower() for part in name.split("."))


def infer_layout(files: Iterable[str], name: str) -> tuple[Placement, ...] | None:
    """``src/<pkg>/`` or ``<pkg>/`` (or ``<pkg>.py``) when exactly one exists, else None."""
    present = set(files)
    pkg = re.sub(r"[-_.]+", "_", name).lower()
    found = []
    for base in ("src/", ""):
        if f"{base}{pkg}/__init__.py" in present:
            found.append(Placement(f"{base}{pkg}", pkg))
        if f"{base}{pkg}.py" in present:
            found.append(Placement(f"{base}{pkg}.py", f"{pkg}.py"))
    return (found[0],) if len(found) == 1 else None


def _suggestion(files: Mapping[str, bytes], name: str) -> str | None:
    """For a flat sdist (its top directory is the package, as coherent.build's): the arguments
    that place it under its import path, leaving out the packaging files."""
    if "__init__.py" not in files:
        return None
    args = [f"--layout .={_import_path(name)}"]
    tops = {p.split("/")[0] for p in files}
    for directory in ("tests", "docs"):
        if any(p.startswith(f"{directory}/") for p in files):
            args.append(f"--exclude {shlex.quote(directory + '/*')}")
    args += [f"--exclude {t}" for t in sorted(tops) if t.upper().startswith("README")]
    args += [f"--exclude {t}" for t in _PACKAGING_FILES if t in tops]
    return " ".join(args)


def _layout_error(sdist: str, files: Mapping[str, bytes], name: str) -> SeedAssemblyError:
    pkg = re.sub(r"[-_.]+", "_", name).lower()
    packages = sorted(
        {p.rsplit("/", 1)[0] for p in files if p.endswith("/__init__.py") and p.count("/") <= 2}
    )
    found = ", ".join(f"{p}/" for p in packages) or "none"
    suggestion = _suggestion(files, name)
    flat = "; the top directory is itself a package" if suggestion else ""
    return SeedAssemblyError(
        f"{sdist}: cannot infer the layout (looked for exactly one of src/{pkg}/, {pkg}/, "
        f"{pkg}.py; packages found: {found}{flat}); --layout SRC=DEST is needed",
        hint=(
            f"for example: {suggestion}"
            if suggestion
            else "name each package: --layout src/PKG=PKG (repeatable), with --exclude GLOB for what "
            "the wheel must not hold"
        ),
    )


def suggested_arguments(sdist: Path) -> str | None:
    """What ``seed assemble`` needs besides the sdist: "" when the layout is inferred, the
    flat-layout arguments when they apply, None when a person must decide (or the sdist
    cannot be a source seed)."""
    try:
        read = _read_sdist(sdist)
        meta = _metadata(sdist.name, read.files)
    except FromsourceError:
        return None
    if infer_layout(read.files, meta.name) is not None:
        return ""
    return _suggestion(read.files, meta.name)


def _below(path: str, source: str) -> str | None:
    """``path`` relative to ``source`` ("" when it is ``source``), or None when outside it."""
    if source == ".":
        return path
    if path == source:
        return ""
    return path[len(source) + 1 :] if path.startswith(source + "/") else None


def _excluded(path: str, patterns: Sequence[str]) -> str | None:
    """The first pattern matching ``path`` or one of its directories."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return next((p for p in patterns if any(fnmatch.fnmatchcase(x, p) for x in prefixes)), None)


def _overlaps(link: str, source: str) -> bool:
    return source in (".", link) or link.startswith(source + "/") or source.startswith(link + "/")


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.create_system = 3  # unix, so the mode bits below mean what they say
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)
    return buffer.getvalue()


def _place(
    read: _Sdist, layout: Sequence[Placement], exclude: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Wheel path -> sdist path, and every problem with the layout."""
    placed: dict[str, str] = {}
    problems: list[str] = []
    used: set[str] = set()
    for placement in layout:
        mapped = 0
        for path in sorted(read.files):
            rel = _below(path, placement.source)
            if rel is None:
                continue
            pattern = _excluded(path, exclude)
            if pattern is not None:
                used.add(pattern)
                continue
            if placement.destination == ".":
                dest = rel or path.rsplit("/", 1)[-1]
            else:
                dest = f"{placement.destination}/{rel}" if rel else placement.destination
            mapped += 1
            if dest.split("/")[0].endswith((".dist-info", ".data")):
                problems.append(
                    f"{path} would be placed at {dest}, inside the wheel's metadata or data directory"
                )
            elif placed.get(dest, path) != path:
                problems.append(f"{placed[dest]} and {path} both map to {dest}")
            placed[dest] = path
        for link in read.links:
            if not _overlaps(link, placement.source):
                continue
            pattern = _excluded(link, exclude)
            if pattern is not None:
                used.add(pattern)
            else:
                problems.append(
                    f"{link} is a link; a source seed holds regular files only "
                    "(a link could point outside the wheel)"
                )
        if not mapped:
            problems.append(
                f"--layout {placement} maps nothing (no file at or below "
                f"{placement.source} that is not excluded)"
            )
    problems += [f"--exclude {p!r} matches no file the layout places" for p in exclude if p not in used]
    dests = set(placed)
    for dest in sorted(dests):
        parts = dest.split("/")
        clash = next(
            ("/".join(parts[:i]) for i in range(1, len(parts)) if "/".join(parts[:i]) in dests), None
        )
        if clash is not None:
            problems.append(f"{clash} would be both a file and a directory (for {dest})")
    for path in sorted(set(placed.values())):
        kind, why = kind_of(path, read.files[path])
        if kind == KIND_COMPILED:
            problems.append(f"{path} is compiled ({why}); a source seed holds only readable files")
    return placed, problems


def assemble(sdist: Path, layout: Sequence[Placement] = (), exclude: Sequence[str] = ()) -> AssembledSeed:
    """The source seed of ``sdist``: its files placed by ``layout`` (inferred when empty).

    Raises :class:`SeedAssemblyError` with every reason when the sdist or the layout cannot
    make a faithful wheel.
    """
    for pattern in exclude:
        if not pattern or "\x00" in pattern:
            raise SeedAssemblyError(f"--exclude {pattern!r} is not a glob")
    read = _read_sdist(sdist)
    meta = _metadata(sdist.name, read.files)
    inferred = not layout
    if inferred:
        found = infer_layout(read.files, meta.name)
        if found is None:
            raise _layout_error(sdist.name, read.files, meta.name)
        layout = found
    stem = re.sub(r"[-_.]+", "_", canonicalize_name(meta.name))
    dist_info = f"{stem}-{meta.version}.dist-info"
    placed, problems = _place(read, layout, exclude)
    licenses = []
    for raw in meta.license_files:
        path = "/".join(p for p in raw.split("/") if p not in ("", "."))
        if ".." in path.split("/") or raw.startswith("/") or path not in read.files:
            problems.append(f"PKG-INFO names License-File {raw!r}, which is not a file of the sdist")
            continue
        licenses.append((f"{dist_info}/licenses/{path}", read.files[path]))
    if problems:
        raise SeedAssemblyError(
            f"{sdist.name}: cannot assemble a source seed ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n  - " + "\n  - ".join(problems),
            hint="adjust --layout SRC=DEST and --exclude GLOB (see docs/source-seeds.md)",
        )
    members = [(dest, read.files[placed[dest]]) for dest in sorted(placed)]
    members += sorted(licenses)
    wheel_file = (
        f"Wheel-Version: 1.0\nGenerator: {GENERATOR}\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n"
    ).encode()
    members += [(f"{dist_info}/METADATA", meta.raw), (f"{dist_info}/WHEEL", wheel_file)]
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in members:
        writer.writerow([name, _record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    members.append((f"{dist_info}/RECORD", record.getvalue().encode()))
    data = _zip(members)
    return AssembledSeed(
        filename=f"{stem}-{meta.version}-{WHEEL_TAG}.whl",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        name=meta.name,
        version=str(meta.version),
        sdist_name=sdist.name,
        sdist_sha256=sha256_file(sdist),
        layout=tuple(layout),
        exclude=tuple(exclude),
        inferred=inferred,
        files=tuple((dest, placed[dest]) for dest in sorted(placed)),
        metadata_version=meta.metadata_version,
    )
