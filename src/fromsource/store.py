"""A content-addressed store of blobs (sdists, environment wheels, built wheels, logs).

Distributed builds share nothing with the coordinator but the scheduler and this store:
tasks carry sha256 digests, never file contents. A blob is named by the sha256 of its bytes
(``sha256/ab/abcdef...``) and every read re-hashes what it got, so a store that is shared,
remote or tampered with can lose data but never hand over wrong bytes.

Two backends behind one interface: a directory (a local or shared filesystem; writes are
atomic renames) and any fsspec URL (``s3://``, ``gcs://``, ``memory://``, ``file://``...).
A store is named by a string (:func:`open_store`) so it crosses process boundaries as text.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fromsource.errors import InputError, StoreError
from fromsource.fileutil import sha256_file

if TYPE_CHECKING:
    from collections.abc import Iterator

_DIGEST = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def _check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise StoreError(f"{digest!r} is not a sha256 hex digest")
    return digest


def blob_path(digest: str) -> str:
    """Where a blob lives relative to the store root."""
    _check_digest(digest)
    return f"sha256/{digest[:2]}/{digest}"


class Store(Protocol):
    """The store interface; ``spec`` re-opens the same store in another process."""

    @property
    def spec(self) -> str: ...

    def has(self, digest: str) -> bool: ...

    def put_file(self, path: Path, digest: str | None = None) -> str:
        """Add a file's bytes (once: a present blob is not rewritten); returns its digest."""
        ...

    def fetch(self, digest: str, dest: Path) -> Path:
        """Write the blob to ``dest`` atomically, after checking its sha256; returns ``dest``."""
        ...


def _copy_checked(source: Any, digest: str, dest: Path, where: str) -> Path:
    """Stream ``source`` into a temp file beside ``dest``; rename only if the digest matches."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise StoreError(
                f"blob {digest} in {where} has sha256 {hasher.hexdigest()}: "
                "the store is corrupt or was tampered with"
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return dest


class DirectoryStore:
    """Blobs under a directory; a LocalCluster and a shared filesystem both reach it."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()

    @property
    def spec(self) -> str:
        return str(self.root)

    def has(self, digest: str) -> bool:
        return (self.root / blob_path(digest)).is_file()

    def put_file(self, path: Path, digest: str | None = None) -> str:
        digest = _check_digest(digest) if digest is not None else sha256_file(path)
        if self.has(digest):
            return digest
        dest = self.root / blob_path(digest)
        try:
            with path.open("rb") as source:
                _copy_checked(source, digest, dest, str(path))
        except OSError as exc:
            raise StoreError(f"cannot add {path.name} to the store {self.root}: {exc}") from exc
        return digest

    def fetch(self, digest: str, dest: Path) -> Path:
        source = self.root / blob_path(digest)
        try:
            with source.open("rb") as handle:
                return _copy_checked(handle, digest, dest, str(self.root))
        except FileNotFoundError as exc:
            raise StoreError(f"blob {digest} is not in the store {self.root}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read blob {digest} from {self.root}: {exc}") from exc


class FsspecStore:
    """Blobs under an fsspec URL (object stores, ``memory://``, ``file://``)."""

    def __init__(self, url: str) -> None:
        try:
            from fsspec.core import url_to_fs
        except ImportError as exc:
            raise InputError(f"the store {url} needs fsspec", hint="pip install 'fromsource[dask]'") from exc
        try:
            self.fs, self.root = url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise InputError(f"cannot open the store {url}: {exc}") from exc
        self.url = url
        self.root = self.root.rstrip("/")

    @property
    def spec(self) -> str:
        return self.url

    def _path(self, digest: str) -> str:
        return f"{self.root}/{blob_path(digest)}"

    def has(self, digest: str) -> bool:
        try:
            return bool(self.fs.isfile(self._path(digest)))
        except OSError as exc:
            raise StoreError(f"cannot reach the store {self.url}: {exc}") from exc

    def put_file(self, path: Path, digest: str | None = None) -> str:
        digest = _check_digest(digest) if digest is not None else sha256_file(path)
        if self.has(digest):
            return digest
        final = self._path(digest)
        # Upload under a unique name, then move: a reader never sees a half-written blob
        # under its digest (object stores make the move a copy; the digest check remains).
        partial = f"{final}.{uuid.uuid4().hex}.part"
        try:
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(path), partial)
            self.fs.mv(partial, final)
        except OSError as exc:
            raise StoreError(f"cannot add {path.name} to the store {self.url}: {exc}") from exc
        return digest

    def fetch(self, digest: str, dest: Path) -> Path:
        try:
            with self._open(digest) as handle:
                return _copy_checked(handle, digest, dest, self.url)
        except FileNotFoundError as exc:
            raise StoreError(f"blob {digest} is not in the store {self.url}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read blob {digest} from {self.url}: {exc}") from exc

    @contextlib.contextmanager
    def _open(self, digest: str) -> Iterator[Any]:
        with self.fs.open(self._path(digest), "rb") as handle:
            yield handle


def open_store(spec: str | Path) -> Store:
    """A directory path or an fsspec URL (anything with ``://``)."""
    text = str(spec)
    if not text:
        raise InputError("the store must be a directory or a URL")
    if "://" in text:
        return FsspecStore(text)
    root = Path(text)
    if root.exists() and not root.is_dir():
        raise InputError(f"the store {root} exists and is not a directory")
    return DirectoryStore(root)
