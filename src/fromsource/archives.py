"""Safe, streaming reading of sdists and wheels, and safe sdist extraction.

Every sdist and wheel fromsource touches comes from an index or a user, so it is treated as
hostile: a crafted archive must not write outside its target, exhaust memory or disk, hide a
second archive behind the first (tar/zip polyglots), or smuggle a file past a RECORD check.
All of that is decided here and in :mod:`fromsource.archivewalk` (the walk every reader goes
through), so the rest of the code can assume that a :class:`Member` is a plain, bounded,
in-tree regular file.

Every failure is an :class:`~fromsource.errors.ArchiveError` naming the archive and member;
errors of tarfile, zipfile, zlib and friends never escape.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from fromsource.archivewalk import (
    CORRUPT,
    DEFAULT_LIMITS,
    Entry,
    Limits,
    Link,
    Member,
    archive_format,
    check_zip_layout,
    detect,
    fail,
    normalise,
    walk,
)
from fromsource.errors import ArchiveError
from fromsource.wheelrecord import check_record

# Seekable reading for extraction, after the stream pass validated everything.
_READ_MODES: dict[str, Literal["r:", "r:gz", "r:bz2", "r:xz"]] = {
    "": "r:",
    "gz": "r:gz",
    "bz2": "r:bz2",
    "xz": "r:xz",
}

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "Link",
    "Member",
    "archive_format",
    "check_wheel_record",
    "check_zip",
    "extract_sdist",
    "iter_entries",
    "iter_members",
    "open_zip",
    "read_member",
    "wheel_record_problems",
]


@contextlib.contextmanager
def open_zip(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[zipfile.ZipFile]:
    """A :class:`zipfile.ZipFile` of a wheel whose layout has one reading only.

    For readers that need a few members of a large wheel (METADATA) without decompressing
    the rest: the headers are checked as :func:`iter_members` checks them, member names and
    sizes are left to the caller.
    """
    if archive_format(path) != "zip":
        raise fail(path, "a wheel must be a zip archive")
    try:
        with path.open("rb") as handle:
            check_zip_layout(path, handle, limits)
            with zipfile.ZipFile(handle) as archive:
                yield archive
    except ArchiveError:
        raise
    except CORRUPT as exc:
        raise fail(path, f"cannot be read ({type(exc).__name__}: {exc}); it is corrupt or truncated") from exc


def check_zip(path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a wheel whose zip layout could be read two ways (see :mod:`fromsource.ziplayout`)."""
    with open_zip(path, limits):
        pass


def iter_members(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Member]:
    """Yield the regular files of an sdist or wheel one by one, without touching disk.

    Directories are skipped; links yield nothing but are checked not to escape.
    """
    for entry in walk(path, limits):
        if entry.kind == "file":
            yield Member(entry.name, entry.data, entry.mode)


def iter_entries(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Member | Link]:
    """Like :func:`iter_members`, and links too (for comparing an sdist with a source tree,
    where a link is content of its own). Links are checked not to escape, chains included,
    by the time the iteration ends."""
    for entry in walk(path, limits):
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
        raise fail(path, "is not in the archive (or is not a regular file)", name)
    return found


def extract_sdist(path: Path, dest: Path, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Extract an sdist into ``dest`` (absent or empty) and return its single top directory.

    The whole archive is validated before anything is written; tar extraction then also
    goes through tarfile's PEP 706 ``data`` filter. On any error ``dest`` is removed, with
    any parent directories this call created.
    """
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise ArchiveError(f"cannot extract {path.name}: {dest} exists and is not an empty directory")
    created = [d for d in (dest, *dest.parents) if not d.exists()]
    try:
        fmt, compression = detect(path)
        validated: dict[str, Entry] = {}
        for entry in walk(path, limits):
            # tarfile re-reads the data itself, so do not hold it twice in memory.
            validated[entry.name] = (
                Entry(entry.name, entry.kind, b"", entry.mode, entry.target, entry.size)
                if fmt == "tar"
                else entry
            )
        tops = sorted({name.split("/")[0] for name in validated if name})
        if len(tops) != 1 or validated.get(tops[0], Entry("", "dir")).kind != "dir":
            raise fail(
                path,
                f"an sdist must hold exactly one top-level directory; found: {', '.join(tops[:5]) or 'none'}",
            )
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
        if isinstance(exc, ArchiveError) or not isinstance(exc, CORRUPT):
            raise
        raise fail(path, f"extraction failed ({type(exc).__name__}: {exc})") from exc
    return root / tops[0]


def _extract_tar(path: Path, compression: str, root: Path, validated: dict[str, Entry]) -> None:
    def guard(info: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo | None:
        # Extract only what the validation pass saw, in case the file changed since.
        name = normalise(path, info.name, allow_root=info.isdir())
        seen = validated.get(name)
        kind = (
            "dir" if info.isdir() else "symlink" if info.issym() else "hardlink" if info.islnk() else "file"
        )
        if seen is None or seen.kind != kind or seen.size != (info.size if kind == "file" else 0):
            raise fail(path, "changed between validation and extraction", info.name)
        return tarfile.data_filter(info, dest_path)

    with tarfile.open(path, mode=_READ_MODES[compression]) as tar:
        tar.extractall(root, filter=guard)  # noqa: S202 - guard ends in tarfile.data_filter


def _extract_zip(root: Path, validated: dict[str, Entry]) -> None:
    for entry in validated.values():
        target = root / entry.name
        if entry.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
        elif entry.kind == "file":
            target.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL|O_NOFOLLOW: never write through anything already on disk.
            fd = os.open(
                target,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                0o755 if entry.mode & 0o111 else 0o644,
            )
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
                raise fail(
                    path, "symlink resolves outside the target after extraction", str(item.relative_to(root))
                )


def wheel_record_problems(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Every way a wheel's members disagree with its RECORD (rules: :mod:`fromsource.wheelrecord`),
    links included (wheels hold none). An unreadable archive raises ArchiveError."""
    if archive_format(path) != "zip":
        raise fail(path, "a wheel must be a zip archive")
    files: dict[str, bytes] = {}
    problems: list[str] = []
    for entry in walk(path, limits):
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
            hint="the wheel was altered after it was built, or built incorrectly",
        )
