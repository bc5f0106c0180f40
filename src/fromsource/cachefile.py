"""The workspace's ``cache/`` entries: small JSON files a re-run reads instead of computing
again. A cache entry is never an error: one that is absent, unreadable, too large or not
JSON reads as None, and the caller computes the value again (and writes it anew)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fromsource.errors import FromsourceError
from fromsource.fileutil import atomic_write_bytes
from fromsource.untrusted import MAX_SMALL_FILE_BYTES, load_json, read_file


def read_cache(path: Path, what: str) -> Any:
    """The entry's JSON value, or None where there is none to trust (see the module)."""
    if not path.is_file():
        return None
    try:
        return load_json(read_file(path, limit=MAX_SMALL_FILE_BYTES, what=what), source=str(path))
    except (FromsourceError, OSError):
        return None


def write_cache(path: Path, value: Any, *, indent: int | None = None) -> None:
    """Write an entry atomically (a reader sees the old one or the new one).

    Not fsynced: an entry a power cut truncated is not JSON, reads as None and is computed
    again, and an fsync costs milliseconds where a run writes an entry per sdist."""
    text = json.dumps(value, indent=indent, separators=None if indent else (",", ":"))
    atomic_write_bytes(path, text.encode() + b"\n", durable=False)
