"""Safe, streaming reading of sdists and wheels, and safe sdist extraction.

Every sdist and wheel fromsource touches comes from an index or a user, so it is treated as
hostile: a crafted archive must not write outside its target, exhaust memory or disk, hide a
second archive behind the first (tar/zip polyglots), or smuggle a file past a RECORD check.
All of that is decided here, in one small module, so the rest of the code can assume that a
:class:`Member` is a plain, bounded, in-tree regular file.

Every failure is an :class:`~fromsource.errors.ArchiveError` naming the archive and member;
errors of tarfile, zipfile, zlib and friends never escape.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from fromsource.errors import ArchiveError, ZipLayoutError
from fromsource.untrusted import open_regular
from fromsource.wheelrecord import check_record
from fromsource.ziplayout import check_layout

__all__ = ["DEFAULT_LIMITS", "Limits", "Link", "Member", "archive_format", "check_wheel_record",
           "check_zip", "extract_sdist", "iter_entries", "iter_members", "open_zip", "read_member",
           "wheel_record_problems"]

_CHUNK = 1 << 16
_MAX_LINK_HOPS = 40  # what Linux allows before ELOOP
# Errors the standard library raises on corrupt input; all become ArchiveError.
_CORRUPT = (
    tarfile.TarError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError,
    EOFError, OSError, ValueError, NotImplementedError, RuntimeError, UnicodeError,
)
# Suffix -> (format, compression). Compression "" is an uncompressed tar.
_SUFFIXES: dict[str, tuple[Literal["tar", "zip"], str]] = {
    ".tar.gz": ("tar", "gz"), ".tgz": ("tar", "gz"), ".tar.bz2": ("tar", "bz2"),
    ".tbz2": ("tar", "bz2"), ".tar.xz": ("tar", "xz"), ".txz": ("tar", "xz"),
    ".tar": ("tar", ""), ".zip": ("zip", ""), ".whl": ("zip", ""),
}
_MAGIC = {"gz": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}
# tarfile modes per compression, spelled out so the type checker can follow them.
_STREAM_MODES: dict[str, Literal["r|", "r|gz", "r|bz2", "r|xz"]] = {
    "": "r|", "gz": "r|gz", "bz2": "r|bz2", "xz": "r|xz"}
_READ_MODES: dict[str, Literal["r:", "r:gz", "r:bz2", "r:xz"]] = {
    "": "r:", "gz": "r:gz", "bz2": "r:bz2", "xz": "r:xz"}
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Upper bounds enforced while reading; sizes are counted decompressed bytes."""

    max_members: int = 20_000
    max_member_size: int = 256 * 1024 * 1024
    max_total_size: int = 1024 * 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Member:
    """One regular file of an archive: normalised relative posix path, content, mode bits."""

    name: str
    data: bytes
    mode: int


@dataclass(frozen=True, slots=True)
class Link:
    """A symbolic or (tar) hard link of an archive; ``target`` as stored, proven in-tree."""

    name: str
    target: str
    hard: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    """Any archive entry after validation; ``data`` is set for files only."""

    name: str
    kind: Literal["file", "dir", "symlink", "hardlink"]
    data: bytes = b""
    mode: int = 0
    target: str = ""  # link target as stored in the archive
    size: int = 0  # of data, kept when data itself is dropped


def _fail(path: Path, message: str, member: str | None = None) -> ArchiveError:
    where = f"{path.name}: member {member!r}" if member is not None else path.name
    return ArchiveError(f"{where}: {message}", hint="the archive is corrupt or hostile; "
                        "fetch it again from a trusted source")


def _normalise(archive: Path, raw: str, *, allow_root: bool = False) -> str:
    """Reject names that could land outside the root; return the normalised posix name."""
    if "\x00" in raw:
        raise _fail(archive, "name contains a NUL byte", raw)
    if "\\" in raw or _DRIVE.match(raw):
        raise _fail(archive, "name contains a backslash or a drive letter", raw)
    if raw.startswith("/"):
        raise _fail(archive, "absolute path", raw)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _fail(archive, "path contains '..'", raw)
    if not parts and not allow_root:
        raise _fail(archive, "empty name", raw)
    return "/".join(parts)


def _detect(path: Path) -> tuple[Literal["tar", "zip"], str]:
    try:
        with open_regular(path, what="archive", error=ArchiveError) as handle:
            head = handle.read(512)
            zip_tail = zipfile.is_zipfile(handle)
    except OSError as exc:
        raise ArchiveError(f"cannot read archive {path}: {exc}") from exc
    compression = next((c for c, magic in _MAGIC.items() if head.startswith(magic)), None)
    if compression is None:
        try:
            tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
            compression = ""
        except tarfile.TarError:
            pass
    zip_head = head.startswith((b"PK\x03\x04", b"PK\x05\x06"))
    if compression is not None and (zip_head or zip_tail):
        raise _fail(path, "is both a tar and a zip archive (polyglot); refusing to guess "
                    "which content is meant")
    found: tuple[Literal["tar", "zip"], str]
    if compression is not None:
        found = ("tar", compression)
    elif zip_head and zip_tail:
        found = ("zip", "")
    elif zip_tail:
        raise _fail(path, "zip data does not start at the beginning of the file")
    elif zip_head:
        raise _fail(path, "zip has no end-of-central-directory record (truncated?)")
    else:
        raise _fail(path, "is neither a tar nor a zip archive")
    name = path.name.lower()
    expected = next((v for s, v in _SUFFIXES.items() if name.endswith(s)), None)
    if expected is not None and expected != found:
        def label(fmt: tuple[str, str]) -> str:
            return f"{fmt[0]}.{fmt[1]}" if fmt[1] else fmt[0]
        raise _fail(path, f"file name says {label(expected)} but the content is "
                    f"{label(found)}")
    return found


def archive_format(path: Path) -> Literal["tar", "zip"]:
    """Tell a tar from a zip by magic bytes, refusing polyglots and lying suffixes."""
    return _detect(path)[0]


class _Budget:
    """Counts members and decompressed bytes against :class:`Limits`."""

    def __init__(self, archive: Path, limits: Limits) -> None:
        self.archive, self.limits = archive, limits
        self.members = 0
        self.total = 0
        self.current: str | None = None  # the member being read, for error messages

    def count(self, name: str, members: int = 1) -> None:
        self.current = name
        self.members += members
        if self.members > self.limits.max_members:
            raise _fail(self.archive, f"more than {self.limits.max_members} members "
                        "(member-count limit)", name)

    def read(self, stream: IO[bytes], name: str, declared: int) -> bytes:
        # The declared size is only a hint for failing early: we count what we decompress.
        if declared > self.limits.max_member_size:
            raise self._too_big(name)
        chunks, size = [], 0
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            self.total += len(chunk)
            if size > self.limits.max_member_size:
                raise self._too_big(name)
            if self.total > self.limits.max_total_size:
                raise _fail(self.archive, f"archive expands beyond "
                            f"{self.limits.max_total_size} bytes (total size limit)", name)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_big(self, name: str) -> ArchiveError:
        return _fail(self.archive, f"expands beyond {self.limits.max_member_size} bytes "
                     "(member size limit)", name)


def _tar_entries(path: Path, handle: IO[bytes], compression: str,
                 budget: _Budget) -> Iterator[_Entry]:
    # Stream mode ("r|"): one pass, nothing seeks, members are not kept by us.
    with tarfile.open(fileobj=handle, mode=_STREAM_MODES[compression]) as tar:
        for info in tar:
            budget.count(info.name)
            name = _normalise(path, info.name, allow_root=info.isdir())
            if info.isdir():
                yield _Entry(name, "dir")
            elif info.issym() or info.islnk():
                yield _Entry(name, "symlink" if info.issym() else "hardlink",
                             target=info.linkname)
            elif info.isreg() and not info.issparse():
                extracted = tar.extractfile(info)
                if extracted is None:  # pragma: no cover - isreg() guarantees a stream
                    raise _fail(path, "has no data", name)
                data = budget.read(extracted, name, info.size)
                yield _Entry(name, "file", data, stat.S_IMODE(info.mode), size=len(data))
            else:
                kind = ("a device file" if info.ischr() or info.isblk() else
                        "a fifo" if info.isfifo() else "sparse" if info.issparse()
                        else f"of unsupported type {info.type!r}")
                raise _fail(path, f"is {kind}; sdists may hold only files, "
                            "directories and links", name)


def _check_layout(path: Path, handle: IO[bytes], limits: Limits) -> None:
    try:
        check_layout(handle, max_entries=limits.max_members)
    except ZipLayoutError as exc:  # raised without the archive's name: add it and the hint
        raise _fail(path, str(exc)) from exc
    finally:
        handle.seek(0)


def _zip_entries(path: Path, handle: IO[bytes], budget: _Budget) -> Iterator[_Entry]:
    _check_layout(path, handle, budget.limits)
    with zipfile.ZipFile(handle) as archive:
        infos = archive.infolist()
        if len(infos) > budget.limits.max_members:
            # The central directory is already parsed; refuse before reading any member.
            budget.count(infos[budget.limits.max_members].orig_filename, len(infos))
        for info in infos:
            raw = info.orig_filename  # ZipInfo.filename silently cuts at a NUL byte
            budget.count(raw)
            name = _normalise(path, raw, allow_root=raw.endswith("/"))
            mode = info.external_attr >> 16
            if raw.endswith("/") or stat.S_ISDIR(mode):
                yield _Entry(name, "dir")
                continue
            # No file-type bits (common: tools write bare permissions) means a file.
            if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                kind = "a fifo" if stat.S_ISFIFO(mode) else "a device file or socket"
                raise _fail(path, f"is {kind}; only files, directories and links are "
                            "allowed", name)
            with archive.open(info) as stream:
                data = budget.read(stream, name, info.file_size)
            if stat.S_ISLNK(mode):
                yield _Entry(name, "symlink", target=data.decode("utf-8"))
            else:
                yield _Entry(name, "file", data, stat.S_IMODE(mode), size=len(data))


class _Tree:
    """The archive's names and links, to prove no link or path leaves the root."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.kinds: dict[str, str] = {}
        self.parents: set[str] = set()  # directories implied by deeper names
        self.symlinks: dict[str, str] = {}

    def add(self, entry: _Entry) -> None:
        name, kind = entry.name, entry.kind
        if name in self.kinds:
            if kind == "dir" == self.kinds[name]:
                return  # tar tools may repeat a directory entry; harmless
            raise _fail(self.archive, "appears more than once (duplicate member)", name)
        if kind != "dir" and name in self.parents:
            raise _fail(self.archive, f"is a {kind} but other members lie below it", name)
        # A member below a link or file would be written through it, wherever it points.
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            self.parents.add(parent)
            if self.kinds.get(parent, "dir") != "dir":
                raise _fail(self.archive, f"lies below the {self.kinds[parent]} {parent!r}",
                            name)
        self.kinds[name] = kind
        target = entry.target
        if kind in ("symlink", "hardlink") and (
                not target or "\x00" in target or "\\" in target or _DRIVE.match(target)):
            raise _fail(self.archive, f"link target {target!r} is not a plain posix path",
                        name)
        if kind in ("symlink", "hardlink") and target.startswith("/"):
            raise _fail(self.archive, f"links to the absolute path {target!r}", name)
        if kind == "symlink":
            self.symlinks[name] = target
            self.resolve(name)  # lexical escapes fail at once, chains again in finish()
        elif kind == "hardlink":
            # A tar hard link names an earlier regular file by its archive path.
            parts = [p for p in target.split("/") if p not in ("", ".")]
            if ".." in parts or self.kinds.get("/".join(parts)) != "file":
                raise _fail(self.archive, f"hard link target {target!r} is not an earlier "
                            "regular file of the archive", name)

    def resolve(self, link: str) -> str:
        """Where ``link`` ends up, following chains; raise if it leaves the root."""
        hops = [0]  # one budget per lookup, like the kernel's, so chains cannot explode
        return self._resolve(link.split("/")[:-1], self.symlinks[link], link, hops)

    def _resolve(self, base: list[str], target: str, link: str, hops: list[int]) -> str:
        stack = list(base)
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not stack:
                    via = " through a chain of symlinks" if hops[0] else ""
                    raise _fail(self.archive, f"link target {self.symlinks[link]!r} escapes "
                                f"the archive root{via}", link)
                stack.pop()
                continue
            stack.append(part)
            current = "/".join(stack)
            if current in self.symlinks:
                hops[0] += 1
                if hops[0] > _MAX_LINK_HOPS:
                    raise _fail(self.archive, "symlink loop or chain too long", link)
                resolved = self._resolve(stack[:-1], self.symlinks[current], link, hops)
                stack = [p for p in resolved.split("/") if p]
        return "/".join(stack)

    def finish(self) -> None:
        # Links may point at links that come later in the archive: re-check whole chains.
        for link in self.symlinks:
            self.resolve(link)


def _walk(path: Path, limits: Limits) -> Iterator[_Entry]:
    """Every validated entry of the archive; raises ArchiveError on anything unsafe."""
    fmt, compression = _detect(path)
    budget, tree = _Budget(path, limits), _Tree(path)
    try:
        with path.open("rb") as handle:
            entries = (_tar_entries(path, handle, compression, budget) if fmt == "tar"
                       else _zip_entries(path, handle, budget))
            for entry in entries:
                tree.add(entry)
                yield entry
            budget.current = None
            tree.finish()
    except ArchiveError:
        raise
    except _CORRUPT as exc:
        raise _fail(path, f"cannot be read ({type(exc).__name__}: {exc}); "
                    "it is corrupt or truncated", budget.current) from exc


@contextlib.contextmanager
def open_zip(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[zipfile.ZipFile]:
    """A :class:`zipfile.ZipFile` of a wheel whose layout has one reading only.

    For readers that need a few members of a large wheel (METADATA) without decompressing
    the rest: the headers are checked as :func:`iter_members` checks them, member names and
    sizes are left to the caller.
    """
    if archive_format(path) != "zip":
        raise _fail(path, "a wheel must be a zip archive")
    try:
        with path.open("rb") as handle:
            _check_layout(path, handle, limits)
            with zipfile.ZipFile(handle) as archive:
                yield archive
    except ArchiveError:
        raise
    except _CORRUPT as exc:
        raise _fail(path, f"cannot be read ({type(exc).__name__}: {exc}); "
                    "it is corrupt or truncated") from exc


def check_zip(path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a wheel whose zip layout could be read two ways (see :mod:`fromsource.ziplayout`)."""
    with open_zip(path, limits):
        pass


def iter_members(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Member]:
    """Yield the regular files of an sdist or wheel one by one, without touching disk.

    Directories are skipped; links yield nothing but are checked not to escape.
    """
    for entry in _walk(path, limits):
        if entry.kind == "file":
            yield Member(entry.name, entry.data, entry.mode)


def iter_entries(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Member | Link]:
    """Like :func:`iter_members`, and links too (for comparing an sdist with a source tree,
    where a link is content of its own). Links are checked not to escape, chains included,
    by the time the iteration ends."""
    for entry in _walk(path, limits):
        if entry.kind == "file":
            yield Member(entry.name, entry.data, entry.mode)
        elif entry.kind in ("symlink", "hardlink"):
            yield Link(entry.name, entry.target, entry.kind == "hardlink")


def read_member(path: Path, name: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The content of one member; the whole archive is still validated."""
    found: bytes | None = None
    for member in iter_members(path, limits):
        if member.name == name:
            found = member.data
    if found is None:
        raise _fail(path, "is not in the archive (or is not a regular file)", name)
    return found


def extract_sdist(path: Path, dest: Path, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Extract an sdist into ``dest`` (absent or empty) and return its single top directory.

    The whole archive is validated before anything is written; tar extraction then also
    goes through tarfile's PEP 706 ``data`` filter. On any error ``dest`` is removed, with
    any parent directories this call created.
    """
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise ArchiveError(f"cannot extract {path.name}: {dest} exists and is not an "
                           "empty directory")
    created = [d for d in (dest, *dest.parents) if not d.exists()]
    try:
        fmt, compression = _detect(path)
        validated: dict[str, _Entry] = {}
        for entry in _walk(path, limits):
            # tarfile re-reads the data itself, so do not hold it twice in memory.
            validated[entry.name] = _Entry(entry.name, entry.kind, b"", entry.mode,
                                           entry.target, entry.size) if fmt == "tar" else entry
        tops = sorted({name.split("/")[0] for name in validated if name})
        if len(tops) != 1 or validated.get(tops[0], _Entry("", "dir")).kind != "dir":
            raise _fail(path, "an sdist must hold exactly one top-level directory; found: "
                        f"{', '.join(tops[:5]) or 'none'}")
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        if fmt == "tar":
            _extract_tar(path, compression, root, validated)
        else:
            _extract_zip(root, validated)
        _check_extracted(path, root)
    except BaseException as exc:
        shutil.rmtree(dest, ignore_errors=True)
        for parent in created[1:]:
            with contextlib.suppress(OSError):
                parent.rmdir()
        if isinstance(exc, ArchiveError) or not isinstance(exc, _CORRUPT):
            raise
        raise _fail(path, f"extraction failed ({type(exc).__name__}: {exc})") from exc
    return root / tops[0]


def _extract_tar(path: Path, compression: str, root: Path,
                 validated: dict[str, _Entry]) -> None:
    def guard(info: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo | None:
        # Extract only what the validation pass saw, in case the file changed since.
        name = _normalise(path, info.name, allow_root=info.isdir())
        seen = validated.get(name)
        kind = ("dir" if info.isdir() else "symlink" if info.issym() else
                "hardlink" if info.islnk() else "file")
        if seen is None or seen.kind != kind or seen.size != (info.size if kind == "file"
                                                               else 0):
            raise _fail(path, "changed between validation and extraction", info.name)
        return tarfile.data_filter(info, dest_path)

    with tarfile.open(path, mode=_READ_MODES[compression]) as tar:
        tar.extractall(root, filter=guard)  # noqa: S202 - guard ends in tarfile.data_filter


def _extract_zip(root: Path, validated: dict[str, _Entry]) -> None:
    for entry in validated.values():
        target = root / entry.name
        if entry.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
        elif entry.kind == "file":
            target.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL|O_NOFOLLOW: never write through anything already on disk.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         0o755 if entry.mode & 0o111 else 0o644)
            with os.fdopen(fd, "wb") as out:
                out.write(entry.data)
    for entry in validated.values():  # links last, so no file is written through one
        if entry.kind == "symlink":
            (root / entry.name).parent.mkdir(parents=True, exist_ok=True)
            (root / entry.name).symlink_to(entry.target)


def _check_extracted(path: Path, root: Path) -> None:
    """Belt and braces: every link on disk must resolve inside the extraction root."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            item = Path(dirpath, name)
            if item.is_symlink() and not item.resolve().is_relative_to(root):
                raise _fail(path, "symlink resolves outside the target after extraction",
                            str(item.relative_to(root)))


def wheel_record_problems(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Every way a wheel's members disagree with its RECORD (rules: :mod:`fromsource.wheelrecord`),
    links included (wheels hold none). An unreadable archive raises ArchiveError."""
    if archive_format(path) != "zip":
        raise _fail(path, "a wheel must be a zip archive")
    files: dict[str, bytes] = {}
    problems: list[str] = []
    for entry in _walk(path, limits):
        if entry.kind == "file":
            files[entry.name] = entry.data
        elif entry.kind != "dir":
            problems.append(f"{entry.name}: wheels cannot hold links")
    problems.extend(str(p) for p in check_record(files))
    return problems


def check_wheel_record(path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise one ArchiveError listing every :func:`wheel_record_problems` of the wheel."""
    problems = wheel_record_problems(path, limits)
    if problems:
        raise ArchiveError(
            f"{path.name}: RECORD does not match the content ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n  " + "\n  ".join(problems),
            hint="the wheel was altered after it was built, or built incorrectly")
