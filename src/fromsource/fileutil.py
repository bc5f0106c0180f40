"""File utilities every layer uses: a regular file's sha256 and atomic writes.

Pure helpers with no knowledge of the workspace, so pure modules (``graph``, ``inspect``)
can use them without importing the workspace layout.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a regular file, read in chunks.

    A FIFO or device planted under a wheel's name would never end: it is refused at once
    (opened without blocking, type checked on the descriptor) with an ``OSError``.
    """
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_chunks(
    path: Path,
    chunks: Iterable[bytes],
    mode: int = 0o644,
    *,
    check: Callable[[str], None] | None = None,
    suffix: str = ".tmp",
    durable: bool = True,
) -> str:
    """Write ``chunks`` to ``path`` so a reader sees the old file or the new one, never half.

    Temp file in the same directory, fsync, rename, then fsync the directory. ``check`` gets
    the sha256 of what was written before the rename and may raise to refuse it (the temp
    file is removed). Returns that sha256.

    ``durable=False`` keeps the rename but skips both fsyncs, for files whose loss or
    truncation by a power cut is detected and repaired on the next run: downloads re-checked
    against their digest, hints, pages regenerated, build outputs whose signature and digests
    are verified before reuse. An fsync costs milliseconds; a run writes several per package.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if check is not None:
            check(digest.hexdigest())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write_chunks`)."""
    atomic_write_chunks(path, (data,), mode, durable=durable)


def atomic_copy(src: Path, dest: Path, *, durable: bool = True) -> None:
    """Copy a file into place atomically (same guarantees as :func:`atomic_write_bytes`)."""
    atomic_write_bytes(dest, src.read_bytes(), durable=durable)


def move_into_place(src: Path, dest: Path) -> None:
    """Rename ``src`` (a file this process wrote and no longer needs) to ``dest``, readable
    by all like :func:`atomic_copy`'s; copied atomically where a rename cannot go (another
    filesystem). Not for a file something else may still hold open: that one is copied."""
    os.chmod(src, 0o644)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        atomic_copy(src, dest, durable=False)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
