"""sha256 of files, remembered across runs by what ``stat`` says of them.

A no-op re-run would otherwise hash every sdist, wheel and system library again. An entry
is used only while the file's device, inode, size, mtime and ctime are all unchanged (ctime
cannot be set back by a user, so rewriting a file in place with its old mtime still
invalidates it), and a file modified in the last few seconds is not remembered at all: a
write within the timestamp's granularity after hashing must not go unnoticed (git's "racily
clean" rule). The store is a cache: anything unreadable in it counts as unknown.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from fromsource.cachefile import read_cache, write_cache
from fromsource.fileutil import sha256_file

FORMAT = "fromsource.stat-digests"
FORMAT_VERSION = 1
# Files younger than this are hashed every time (see the module docstring).
RACY_SECONDS = 2.0
_HEX = frozenset("0123456789abcdef")

_Stamp = tuple[int, int, int, int, int]  # dev, ino, size, mtime_ns, ctime_ns


def _stamp(path: Path) -> tuple[_Stamp, float]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns), max(st.st_mtime, st.st_ctime)


class StatDigests:
    """``digests(path)`` -> sha256, hashing only files whose stat changed since it was
    remembered; :meth:`save` writes what this run learned to ``store`` (None: memory only)."""

    def __init__(self, store: Path | None = None, *, racy_seconds: float = RACY_SECONDS) -> None:
        self.store = store
        self.racy_seconds = racy_seconds
        self._known: dict[str, tuple[_Stamp, str]] = _load(store) if store is not None else {}
        self._changed = False

    def __call__(self, path: Path) -> str:
        key = str(path.absolute())
        stamp, changed_at = _stamp(path)
        known = self._known.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        digest = sha256_file(path)
        if _stamp(path)[0] == stamp and time.time() - changed_at >= self.racy_seconds:
            self._known[key] = (stamp, digest)
            self._changed = True
        else:
            self._known.pop(key, None)
        return digest

    def forget(self, path: Path) -> None:
        if self._known.pop(str(path.absolute()), None) is not None:
            self._changed = True

    def save(self) -> None:
        """Write the store (only when something changed; entries of deleted files dropped)."""
        if self.store is None or not self._changed:
            return
        entries = {
            key: [*stamp, digest]
            for key, (stamp, digest) in sorted(self._known.items())
            if os.path.exists(key)
        }
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "files": entries}
        write_cache(self.store, doc)
        self._changed = False


def _load(store: Path) -> dict[str, tuple[_Stamp, str]]:
    """The store's entries; a missing or malformed store is an empty one."""
    doc = read_cache(store, "digest cache")
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or doc.get("format_version") != FORMAT_VERSION
    ):
        return {}
    files = doc.get("files")
    if not isinstance(files, dict):
        return {}
    known: dict[str, tuple[_Stamp, str]] = {}
    for key, entry in files.items():
        if (
            isinstance(entry, list)
            and len(entry) == 6
            and all(type(n) is int for n in entry[:5])
            and isinstance(entry[5], str)
            and len(entry[5]) == 64
            and set(entry[5]) <= _HEX
        ):
            dev, ino, size, mtime, ctime = entry[:5]
            known[key] = ((dev, ino, size, mtime, ctime), entry[5])
    return known
