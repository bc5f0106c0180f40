"""The walk under every archive reader: format detection (polyglots refused), member
names normalised, members counted and decompressed against :class:`Limits`, links checked
not to escape. :mod:`fromsource.archives` is the API built on it."""

from __future__ import annotations

import lzma
import re
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
from fromsource.ziplayout import check_layout

CHUNK = 1 << 16
_MAX_LINK_HOPS = 40  # what Linux allows before ELOOP
# Errors the standard library raises on corrupt input; all become ArchiveError.
CORRUPT = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    UnicodeError,
)
# Suffix -> (format, compression). Compression "" is an uncompressed tar.
_SUFFIXES: dict[str, tuple[Literal["tar", "zip"], str]] = {
    ".tar.gz": ("tar", "gz"),
    ".tgz": ("tar", "gz"),
    ".tar.bz2": ("tar", "bz2"),
    ".tbz2": ("tar", "bz2"),
    ".tar.xz": ("tar", "xz"),
    ".txz": ("tar", "xz"),
    ".tar": ("tar", ""),
    ".zip": ("zip", ""),
    ".whl": ("zip", ""),
}
_MAGIC = {"gz": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}
# tarfile modes per compression, spelled out so the type checker can follow them.
_STREAM_MODES: dict[str, Literal["r|", "r|gz", "r|bz2", "r|xz"]] = {
    "": "r|",
    "gz": "r|gz",
    "bz2": "r|bz2",
    "xz": "r|xz",
}
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
class Entry:
    """Any archive entry after validation; ``data`` is set for files only."""

    name: str
    kind: Literal["file", "dir", "symlink", "hardlink"]
    data: bytes = b""
    mode: int = 0
    target: str = ""  # link target as stored in the archive
    size: int = 0  # of data, kept when data itself is dropped


def fail(path: Path, message: str, member: str | None = None) -> ArchiveError:
    where = f"{path.name}: member {member!r}" if member is not None else path.name
    return ArchiveError(
        f"{where}: {message}", hint="the archive is corrupt or hostile; fetch it again from a trusted source"
    )


def normalise(archive: Path, raw: str, *, allow_root: bool = False) -> str:
    """Reject names that could land outside the root; return the normalised posix name."""
    if "\x00" in raw:
        raise fail(archive, "name contains a NUL byte", raw)
    if "\\" in raw or _DRIVE.match(raw):
        raise fail(archive, "name contains a backslash or a drive letter", raw)
    if raw.startswith("/"):
        raise fail(archive, "absolute path", raw)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise fail(archive, "path contains '..'", raw)
    if not parts and not allow_root:
        raise fail(archive, "empty name", raw)
    return "/".join(parts)


def detect(path: Path) -> tuple[Literal["tar", "zip"], str]:
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
        raise fail(
            path, "is both a tar and a zip archive (polyglot); refusing to guess which content is meant"
        )
    found: tuple[Literal["tar", "zip"], str]
    if compression is not None:
        found = ("tar", compression)
    elif zip_head and zip_tail:
        found = ("zip", "")
    elif zip_tail:
        raise fail(path, "zip data does not start at the beginning of the file")
    elif zip_head:
        raise fail(path, "zip has no end-of-central-directory record (truncated?)")
    else:
        raise fail(path, "is neither a tar nor a zip archive")
    name = path.name.lower()
    expected = next((v for s, v in _SUFFIXES.items() if name.endswith(s)), None)
    if expected is not None and expected != found:

        def label(fmt: tuple[str, str]) -> str:
            return f"{fmt[0]}.{fmt[1]}" if fmt[1] else fmt[0]

        raise fail(path, f"file name says {label(expected)} but the content is {label(found)}")
    return found


def archive_format(path: Path) -> Literal["tar", "zip"]:
    """Tell a tar from a zip by magic bytes, refusing polyglots and lying suffixes."""
    return detect(path)[0]


class Budget:
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
            raise fail(
                self.archive, f"more than {self.limits.max_members} members (member-count limit)", name
            )

    def read(self, stream: IO[bytes], name: str, declared: int) -> bytes:
        # The declared size is only a hint for failing early: we count what we decompress.
        if declared > self.limits.max_member_size:
            raise self._too_big(name)
        chunks, size = [], 0
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            self.total += len(chunk)
            if size > self.limits.max_member_size:
                raise self._too_big(name)
            if self.total > self.limits.max_total_size:
                raise fail(
                    self.archive,
                    f"archive expands beyond {self.limits.max_total_size} bytes (total size limit)",
                    name,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_big(self, name: str) -> ArchiveError:
        return fail(
            self.archive, f"expands beyond {self.limits.max_member_size} bytes (member size limit)", name
        )


def _tar_entries(path: Path, handle: IO[bytes], compression: str, budget: Budget) -> Iterator[Entry]:
    # Stream mode ("r|"): one pass, nothing seeks, members are not kept by us.
    with tarfile.open(fileobj=handle, mode=_STREAM_MODES[compression]) as tar:
        for info in tar:
            budget.count(info.name)
            name = normalise(path, info.name, allow_root=info.isdir())
            if info.isdir():
                yield Entry(name, "dir")
            elif info.issym() or info.islnk():
                yield Entry(name, "symlink" if info.issym() else "hardlink", target=info.linkname)
            elif info.isreg() and not info.issparse():
                extracted = tar.extractfile(info)
                if extracted is None:  # pragma: no cover - isreg() guarantees a stream
                    raise fail(path, "has no data", name)
                data = budget.read(extracted, name, info.size)
                yield Entry(name, "file", data, stat.S_IMODE(info.mode), size=len(data))
            else:
                kind = (
                    "a device file"
                    if info.ischr() or info.isblk()
                    else "a fifo"
                    if info.isfifo()
                    else "sparse"
                    if info.issparse()
                    else f"of unsupported type {info.type!r}"
                )
                raise fail(path, f"is {kind}; sdists may hold only files, directories and links", name)


def check_zip_layout(path: Path, handle: IO[bytes], limits: Limits) -> None:
    try:
        check_layout(handle, max_entries=limits.max_members)
    except ZipLayoutError as exc:  # raised without the archive's name: add it and the hint
        raise fail(path, str(exc)) from exc
    finally:
        handle.seek(0)


def _zip_entries(path: Path, handle: IO[bytes], budget: Budget) -> Iterator[Entry]:
    check_zip_layout(path, handle, budget.limits)
    with zipfile.ZipFile(handle) as archive:
        infos = archive.infolist()
        if len(infos) > budget.limits.max_members:
            # The central directory is already parsed; refuse before reading any member.
            budget.count(infos[budget.limits.max_members].orig_filename, len(infos))
        for info in infos:
            raw = info.orig_filename  # ZipInfo.filename silently cuts at a NUL byte
            budget.count(raw)
            name = normalise(path, raw, allow_root=raw.endswith("/"))
            mode = info.external_attr >> 16
            if raw.endswith("/") or stat.S_ISDIR(mode):
                yield Entry(name, "dir")
                continue
            # No file-type bits (common: tools write bare permissions) means a file.
            if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                kind = "a fifo" if stat.S_ISFIFO(mode) else "a device file or socket"
                raise fail(path, f"is {kind}; only files, directories and links are allowed", name)
            with archive.open(info) as stream:
                data = budget.read(stream, name, info.file_size)
            if stat.S_ISLNK(mode):
                yield Entry(name, "symlink", target=data.decode("utf-8"))
            else:
                yield Entry(name, "file", data, stat.S_IMODE(mode), size=len(data))


class _Tree:
    """The archive's names and links, to prove no link or path leaves the root."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.kinds: dict[str, str] = {}
        self.parents: set[str] = set()  # directories implied by deeper names
        self.symlinks: dict[str, str] = {}

    def add(self, entry: Entry) -> None:
        name, kind = entry.name, entry.kind
        if name in self.kinds:
            if kind == "dir" == self.kinds[name]:
                return  # tar tools may repeat a directory entry; harmless
            raise fail(self.archive, "appears more than once (duplicate member)", name)
        if kind != "dir" and name in self.parents:
            raise fail(self.archive, f"is a {kind} but other members lie below it", name)
        # A member below a link or file would be written through it, wherever it points.
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            self.parents.add(parent)
            if self.kinds.get(parent, "dir") != "dir":
                raise fail(self.archive, f"lies below the {self.kinds[parent]} {parent!r}", name)
        self.kinds[name] = kind
        target = entry.target
        if kind in ("symlink", "hardlink") and (
            not target or "\x00" in target or "\\" in target or _DRIVE.match(target)
        ):
            raise fail(self.archive, f"link target {target!r} is not a plain posix path", name)
        if kind in ("symlink", "hardlink") and target.startswith("/"):
            raise fail(self.archive, f"links to the absolute path {target!r}", name)
        if kind == "symlink":
            self.symlinks[name] = target
            self.resolve(name)  # lexical escapes fail at once, chains again in finish()
        elif kind == "hardlink":
            # A tar hard link names an earlier regular file by its archive path.
            parts = [p for p in target.split("/") if p not in ("", ".")]
            if ".." in parts or self.kinds.get("/".join(parts)) != "file":
                raise fail(
                    self.archive,
                    f"hard link target {target!r} is not an earlier regular file of the archive",
                    name,
                )

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
                    raise fail(
                        self.archive,
                        f"link target {self.symlinks[link]!r} escapes the archive root{via}",
                        link,
                    )
                stack.pop()
                continue
            stack.append(part)
            current = "/".join(stack)
            if current in self.symlinks:
                hops[0] += 1
                if hops[0] > _MAX_LINK_HOPS:
                    raise fail(self.archive, "symlink loop or chain too long", link)
                resolved = self._resolve(stack[:-1], self.symlinks[current], link, hops)
                stack = [p for p in resolved.split("/") if p]
        return "/".join(stack)

    def finish(self) -> None:
        # Links may point at links that come later in the archive: re-check whole chains.
        for link in self.symlinks:
            self.resolve(link)


def walk(path: Path, limits: Limits) -> Iterator[Entry]:
    """Every validated entry of the archive; raises ArchiveError on anything unsafe."""
    fmt, compression = detect(path)
    budget, tree = Budget(path, limits), _Tree(path)
    try:
        with path.open("rb") as handle:
            entries = (
                _tar_entries(path, handle, compression, budget)
                if fmt == "tar"
                else _zip_entries(path, handle, budget)
            )
            for entry in entries:
                tree.add(entry)
                yield entry
            budget.current = None
            tree.finish()
    except ArchiveError:
        raise
    except CORRUPT as exc:
        raise fail(
            path, f"cannot be read ({type(exc).__name__}: {exc}); it is corrupt or truncated", budget.current
        ) from exc
