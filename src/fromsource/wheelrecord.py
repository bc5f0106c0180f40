"""The one RECORD checker: a wheel's members against its ``*.dist-info/RECORD``.

A pure function over member names and bytes (the archive itself is read by
:mod:`fromsource.archives`), used by ``build`` (before signing), ``verify`` (every wheel it is
asked about) and ``inspect``. The rules, also in docs/inspect.md ("RECORD"):

1. The wheel holds exactly one ``<name>.dist-info/RECORD`` at its root (and, when the caller
   knows the wheel's ``.dist-info`` directory, it is that one's).
2. RECORD is UTF-8 CSV; every non-blank row has exactly three fields: path, hash, size.
3. Paths are written as the archive names them: relative, ``/``-separated, without empty,
   ``.`` or ``..`` segments, backslashes, drive letters or NUL. No path is listed twice.
4. Every member is listed, except the signature files ``RECORD.jws`` and ``RECORD.p7s`` of the
   ``.dist-info`` directory. Every listed path is a member.
5. RECORD's own row, when present, has an empty hash and size.
6. Every other row has a hash ``<algorithm>=<urlsafe base64 digest>`` (padding ignored) whose
   algorithm is one of ``sha256``, ``sha384``, ``sha512`` and whose digest is the member's, and
   a size: the member's length in decimal. Weaker algorithms (md5, sha1) and empty hashes or
   sizes are refused, as the wheel specification says.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

ACCEPTED_HASHES = ("sha256", "sha384", "sha512")
_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
_RECORD = re.compile(r"[^/]+\.dist-info/RECORD")
_DRIVE = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """One way a wheel's members and its RECORD disagree."""

    path: str  # the member concerned, or the RECORD file itself
    message: str
    line: int | None = None  # RECORD row, when the problem is a row

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


def find_record(members: Mapping[str, bytes]) -> str | None:
    """The one ``*.dist-info/RECORD`` at the wheel's root, or None if there is not exactly one."""
    records = [name for name in members if _RECORD.fullmatch(name)]
    return records[0] if len(records) == 1 else None


def _path_problem(path: str) -> str | None:
    if not path:
        return "empty path"
    if "\x00" in path or "\\" in path or _DRIVE.match(path) or path.startswith("/"):
        return "path is not relative with '/' separators"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "path has empty, '.' or '..' segments"
    return None


def check_record(members: Mapping[str, bytes], dist_info: str | None = None) -> list[RecordProblem]:
    """Every way ``members`` (normalised member name -> bytes) disagree with their RECORD."""
    records = sorted(name for name in members if _RECORD.fullmatch(name))
    if len(records) != 1:
        where = f"{dist_info}/RECORD" if dist_info else "*.dist-info/RECORD"
        return [
            RecordProblem(
                where, f"a wheel holds exactly one *.dist-info/RECORD, this one holds {len(records)}"
            )
        ]
    record = records[0]
    if dist_info is not None and record != f"{dist_info}/RECORD":
        return [RecordProblem(record, f"RECORD is not in the wheel's own {dist_info}")]
    try:
        rows = list(csv.reader(io.StringIO(members[record].decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        return [RecordProblem(record, f"RECORD is not UTF-8 CSV: {exc}")]
    directory = record.rsplit("/", 1)[0]
    problems: list[RecordProblem] = []
    listed: set[str] = set()
    for line, row in enumerate(rows, 1):
        if not row or row == [""]:
            continue
        if len(row) != 3:
            problems.append(RecordProblem(record, f"expected 3 fields, got {len(row)}", line))
            continue
        path, hash_field, size_field = row
        bad_path = _path_problem(path)
        if bad_path is not None:
            problems.append(RecordProblem(record, f"{path!r}: {bad_path}", line))
            continue
        if path in listed:
            problems.append(RecordProblem(path, "listed twice in RECORD", line))
            continue
        listed.add(path)
        data = members.get(path)
        if data is None:
            problems.append(RecordProblem(path, "listed in RECORD but not in the wheel", line))
        elif path == record:
            if hash_field or size_field:
                problems.append(RecordProblem(path, "RECORD's own row must have no hash and no size", line))
        else:
            problems.extend(_check_row(path, data, hash_field, size_field, line))
    exempt = {record, *(f"{directory}/{name}" for name in _SIGNATURES)}
    problems.extend(
        RecordProblem(name, "in the wheel but not listed in RECORD")
        for name in sorted(members)
        if name not in listed and name not in exempt
    )
    return problems


def _check_row(path: str, data: bytes, hash_field: str, size_field: str, line: int) -> list[RecordProblem]:
    problems: list[RecordProblem] = []
    algorithm, _, expected = hash_field.partition("=")
    if not expected:
        problems.append(RecordProblem(path, "RECORD gives no hash", line))
    elif algorithm not in ACCEPTED_HASHES:
        problems.append(
            RecordProblem(
                path, f"RECORD hash algorithm {algorithm!r} is not one of {', '.join(ACCEPTED_HASHES)}", line
            )
        )
    else:
        actual = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
        if actual != expected.rstrip("="):
            problems.append(RecordProblem(path, f"{algorithm} differs from RECORD", line))
    if not size_field.isdecimal() or not size_field.isascii():
        problems.append(
            RecordProblem(path, f"RECORD size {size_field or 'empty'} is not a decimal number", line)
        )
    elif int(size_field) != len(data):
        problems.append(RecordProblem(path, f"size {len(data)} differs from RECORD's {size_field}", line))
    return problems
