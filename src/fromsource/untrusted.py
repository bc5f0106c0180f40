"""The one way fromsource reads a file it does not control: bounded, regular, shallow.

Keys, policies, attestations, seed evidence, review reports, graphs and constraint files all
come from a user, a workspace or a download, so any of them may be a FIFO that never
delivers, a device that never ends (``/dev/zero``), a file of gigabytes, or JSON/TOML nested
deeply enough to exhaust the interpreter's recursion limit. :func:`read_file` opens regular
files only, without blocking, and reads at most ``limit + 1`` bytes; :func:`load_json` and
:func:`load_toml` parse with a nesting limit. Every failure is the caller's
:class:`~fromsource.errors.FromsourceError` subclass (an input error unless told otherwise)
with a message naming the file and the limit, never a traceback.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, BinaryIO

from fromsource.errors import FromsourceError, InputError

__all__ = [
    "MAX_ATTESTATION_BYTES",
    "MAX_DEPTH",
    "MAX_EVIDENCE_BYTES",
    "MAX_KEY_BYTES",
    "MAX_POLICY_BYTES",
    "MAX_SMALL_FILE_BYTES",
    "check_depth",
    "load_json",
    "load_toml",
    "open_regular",
    "read_file",
    "read_tail",
]

MAX_KEY_BYTES = 64 * 1024  # an ed25519 PEM is ~120 bytes
MAX_POLICY_BYTES = 4 * 1024 * 1024
MAX_ATTESTATION_BYTES = 16 * 1024 * 1024  # one .intoto.jsonl file
MAX_EVIDENCE_BYTES = 64 * 1024 * 1024  # a seed's evidence file: many envelopes
MAX_SMALL_FILE_BYTES = 64 * 1024 * 1024  # graph.json, reports, constraints
# Statements are about 6 levels deep and policies 3; 64 leaves room and stays far from
# the interpreter's recursion limit in any code that walks the value afterwards.
MAX_DEPTH = 64
_MAX_LINE = 1000  # characters of one log line shown


def read_file(path: Path, *, limit: int, what: str, error: type[FromsourceError] = InputError) -> bytes:
    """The bytes of the regular file ``path``, refusing anything else and anything over ``limit``.

    A FIFO, socket or device fails at once: the open does not block (``O_NONBLOCK``) and the
    type is checked on the open descriptor, so the answer cannot change between check and
    read. At most ``limit + 1`` bytes are read, whatever size the file claims.
    """
    fd, claimed = _open_regular_fd(path, what=what, error=error)
    try:
        data = _read_at_most(fd, claimed, limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _hinted(
            error(f"{what} {path} is larger than {limit} bytes (size limit)"),
            "a real file of this kind is far smaller; check the path",
        )
    return data


def _read_at_most(fd: int, claimed: int, count: int) -> bytes:
    """Up to ``count`` bytes of a regular file, until its end.

    Straight from the descriptor, asking for what the file claims to hold plus one byte (a
    buffered ``read(count)`` would allocate all ``count`` bytes first: 16 MiB for an
    attestation of 3 KiB, a cost verify paid per file); a file that delivers more than it
    claimed (it grew, or claims 0 as procfs does) is read on in chunks up to ``count``.
    """
    chunks = [os.read(fd, min(claimed + 1, count))]
    got = len(chunks[0])
    while 0 < got < count:
        chunk = os.read(fd, min(count - got, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


_READ_CHUNK = 1024 * 1024


def open_regular(path: Path, *, what: str, error: type[FromsourceError] = InputError) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; a FIFO or device fails at once."""
    fd, _ = _open_regular_fd(path, what=what, error=error)
    return os.fdopen(fd, "rb")


def _open_regular_fd(path: Path, *, what: str, error: type[FromsourceError]) -> tuple[int, int]:
    """(descriptor, size it claims) of ``path`` if it is a regular file, opened without blocking."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _hinted(
            error(f"{what} {path} is {_kind(info.st_mode)}, not a regular file"),
            "pass the path of an ordinary file",
        )
    return fd, info.st_size


def read_tail(path: Path, *, limit: int, lines: int) -> str:
    """The last ``lines`` lines within the last ``limit`` bytes of a log, or "" if unreadable.

    A build log is written by the backend: it may be gigabytes, so only its end is read.
    """
    try:
        with open_regular(path, what="log") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
    except (OSError, FromsourceError):
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    if size > limit and len(text) > 1:
        text = text[1:]  # the first line is cut
    # One line may be the whole tail (a backend need not print newlines): keep its end.
    return "\n".join(line if len(line) <= _MAX_LINE else "..." + line[-_MAX_LINE:] for line in text[-lines:])


LOG_TAIL_LINES = 15
LOG_TAIL_BYTES = 64 * 1024  # a backend may write gigabytes of log; read only its end


def log_tail(log: Path | None) -> str:
    """The end of a build log as a failure shows it ("" without a log)."""
    return "" if log is None else read_tail(log, limit=LOG_TAIL_BYTES, lines=LOG_TAIL_LINES)


def _hinted(exc: FromsourceError, hint: str) -> FromsourceError:
    exc.hint = hint  # not every subclass takes hint= (VerificationError collects reasons)
    return exc


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def check_depth(
    value: Any, *, source: str, max_depth: int = MAX_DEPTH, error: type[FromsourceError] = InputError
) -> None:
    """Refuse ``value`` when lists/dicts nest deeper than ``max_depth`` (walked without recursion).

    Walked a level at a time, one comprehension per level: verify reads every attestation
    through here, and most values of a statement are strings.
    """
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise error(f"{source}: nested deeper than {max_depth} levels (nesting limit)")
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, _CONTAINERS)
        ]


_CONTAINERS = (dict, list)


def load_json(
    data: bytes | str,
    *,
    source: str,
    max_depth: int = MAX_DEPTH,
    error: type[FromsourceError] = InputError,
    unique_keys: bool = False,
) -> Any:
    """Parse JSON from an untrusted source; any failure, including depth, is ``error``.

    ``unique_keys``: refuse an object with a key twice (signed statements: parsers disagree on
    which value wins, so a signer and a verifier could read different statements).
    """
    try:
        value = _loads_unique(data) if unique_keys else json.loads(data)
    except RecursionError as exc:
        raise error(f"{source}: nested too deeply to parse (nesting limit {max_depth})") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{source} is not JSON ({exc})") from exc
    check_depth(value, source=source, max_depth=max_depth, error=error)
    return value


def _loads_unique(data: bytes | str) -> Any:
    """``json.loads(data, object_pairs_hook=_unique_keys)`` on one decoder made once (json.loads
    builds a decoder and its scanner per call when given a hook)."""
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
        return _UNIQUE_KEYS_DECODER.decode(data)
    return _UNIQUE_KEYS_DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"key {key!r} appears twice in one object")
            seen.add(key)
    return obj


_UNIQUE_KEYS_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def load_toml(
    text: str, *, source: str, max_depth: int = MAX_DEPTH, error: type[FromsourceError] = InputError
) -> dict[str, Any]:
    """Parse TOML from an untrusted source; any failure, including depth, is ``error``."""
    try:
        value = tomllib.loads(text)
    except RecursionError as exc:
        raise error(f"{source}: nested too deeply to parse (nesting limit {max_depth})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source} is not valid TOML: {exc}") from exc
    check_depth(value, source=source, max_depth=max_depth, error=error)
    return value
