"""Prove a zip file has exactly one reading: no hidden entries, no disagreeing headers.

A zip can be read two ways: from the central directory at its end (Python's zipfile,
pip, installer) or by walking local headers from the start (streaming unzippers, some
scanners). A crafted file makes those readings differ: an entry placed before the archive
(zipfile quietly shifts every offset past it), bytes between entries, or a local header
whose name, sizes, CRC or method disagree with the directory. :func:`check_layout` accepts
only files where both readings are the same: entries back to back from byte 0, then the
central directory, then the end record, with every local header (and data descriptor)
agreeing with its directory entry. It reads headers only, never member data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO

from fromsource.errors import ZipLayoutError

__all__ = ["ZipLayoutError", "check_layout"]

# signature, disk, cd disk, entries here, total, cd size, cd offset, comment length
_EOCD = struct.Struct("<4s4H2LH")
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end-record locator
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end record (fixed part)
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_MAX_COMMENT = 0xFFFF
_ZIP64_EXTRA = 0x0001
_FLAG_ENCRYPTED = 0x1
_FLAG_DESCRIPTOR = 0x8
_FLAG_UTF8 = 0x800


@dataclass(frozen=True, slots=True)
class _Central:
    name: bytes
    flags: int
    method: int
    crc: int
    compressed: int
    size: int
    offset: int
    zip64: bool


def check_layout(handle: IO[bytes], *, max_entries: int) -> int:
    """Check ``handle`` (a seekable zip) and return its number of entries.

    Raises :class:`ZipLayoutError` naming the first ambiguity found.
    """
    handle.seek(0, 2)
    size = handle.tell()
    end, cd_offset, cd_size, total = _end_record(handle, size)
    if total > max_entries:
        raise ZipLayoutError(
            f"more than {max_entries} members (member-count limit): the central directory lists {total}"
        )
    if cd_offset + cd_size < end:
        # zipfile silently shifts every offset by this much; a header walker does not.
        raise ZipLayoutError(
            f"{end - cd_offset - cd_size} unlisted bytes before the first "
            "entry or between entries (the central directory is not where "
            "its offset says); another reader could see a different archive"
        )
    if cd_offset + cd_size > end:
        raise ZipLayoutError("the central directory overlaps the end record")
    handle.seek(cd_offset)
    directory = handle.read(cd_size)
    entries = _central_entries(directory, total)
    expected = 0
    for number, entry in enumerate(sorted(entries, key=lambda e: e.offset)):
        if entry.offset != expected:
            where = (
                "before the first entry" if number == 0 else f"between entries (before {_show(entry.name)})"
            )
            if entry.offset < expected:
                raise ZipLayoutError(f"entry {_show(entry.name)} overlaps the one before it")
            raise ZipLayoutError(
                f"{entry.offset - expected} unlisted bytes {where}; "
                "another reader could see a different archive"
            )
        expected = _check_local(handle, entry)
    if expected != cd_offset:
        raise ZipLayoutError(
            f"{cd_offset - expected} unlisted bytes between the last entry and the central directory"
        )
    return total


def _show(name: bytes) -> str:
    return repr(name.decode("utf-8", "backslashreplace"))


def _end_record(handle: IO[bytes], size: int) -> tuple[int, int, int, int]:
    """(end-record position, cd offset, cd size, entries) with nothing after the comment."""
    tail_len = min(size, _EOCD.size + _MAX_COMMENT)
    handle.seek(size - tail_len)
    tail = handle.read(tail_len)
    position = tail.rfind(b"PK\x05\x06")
    while position >= 0:
        if position + _EOCD.size <= len(tail):
            fields = _EOCD.unpack_from(tail, position)
            if position + _EOCD.size + fields[7] == len(tail):
                break
        position = tail.rfind(b"PK\x05\x06", 0, position)
    else:
        raise ZipLayoutError(
            "no end-of-central-directory record ending the file "
            "(truncated, or bytes appended after the archive)"
        )
    _sig, disk, cd_disk, here, total, cd_size, cd_offset, _comment = fields
    eocd = size - tail_len + position
    if disk or cd_disk or here != total:
        raise ZipLayoutError("multi-disk archives are not supported")
    if 0xFFFF not in (here, total) and 0xFFFFFFFF not in (cd_size, cd_offset):
        return eocd, cd_offset, cd_size, total
    # Zip64: the locator sits right before the end record and points at the zip64 record.
    if eocd < _LOCATOR.size:
        raise ZipLayoutError("zip64 end-record locator missing")
    handle.seek(eocd - _LOCATOR.size)
    sig, _disk, record_offset, disks = _LOCATOR.unpack(handle.read(_LOCATOR.size))
    if sig != b"PK\x06\x07" or disks != 1:
        raise ZipLayoutError("zip64 end-record locator missing or multi-disk")
    handle.seek(record_offset)
    raw = handle.read(_EOCD64.size)
    if len(raw) != _EOCD64.size:
        raise ZipLayoutError("zip64 end record truncated")
    sig, record_size, _made, _need, disk, cd_disk, here, total, cd_size, cd_offset = _EOCD64.unpack(raw)
    if sig != b"PK\x06\x06" or disk or cd_disk or here != total:
        raise ZipLayoutError("zip64 end record is malformed or multi-disk")
    if record_offset + 12 + record_size != eocd - _LOCATOR.size:
        raise ZipLayoutError("bytes between the zip64 end record and its locator")
    return record_offset, cd_offset, cd_size, total


def _zip64_values(extra: bytes, wanted: list[bool]) -> list[int]:
    """The 8-byte values a zip64 extra field holds for the fields flagged in ``wanted``."""
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if tag == _ZIP64_EXTRA:
            count = sum(wanted)
            if len(body) < 8 * count:
                raise ZipLayoutError("zip64 extra field too short")
            return list(struct.unpack_from(f"<{count}Q", body))
        position += 4 + length
    if any(wanted):
        raise ZipLayoutError("zip64 sizes announced but no zip64 extra field")
    return []


def _central_entries(directory: bytes, total: int) -> list[_Central]:
    entries: list[_Central] = []
    position = 0
    for _ in range(total):
        if position + _CENTRAL.size > len(directory):
            raise ZipLayoutError("central directory truncated")
        (
            sig,
            _made,
            _need,
            flags,
            method,
            _time,
            _date,
            crc,
            compressed,
            size,
            name_len,
            extra_len,
            comment_len,
            disk,
            _internal,
            _external,
            offset,
        ) = _CENTRAL.unpack_from(directory, position)
        if sig != b"PK\x01\x02":
            raise ZipLayoutError("central directory entry without its signature")
        start = position + _CENTRAL.size
        name = directory[start : start + name_len]
        extra = directory[start + name_len : start + name_len + extra_len]
        position = start + name_len + extra_len + comment_len
        if position > len(directory):
            raise ZipLayoutError("central directory truncated")
        wanted = [size == 0xFFFFFFFF, compressed == 0xFFFFFFFF, offset == 0xFFFFFFFF, disk == 0xFFFF]
        values = iter(_zip64_values(extra, wanted))
        size = next(values) if wanted[0] else size
        compressed = next(values) if wanted[1] else compressed
        offset = next(values) if wanted[2] else offset
        if flags & _FLAG_ENCRYPTED:
            raise ZipLayoutError(f"entry {_show(name)} is encrypted")
        entries.append(
            _Central(
                name, flags, method, crc, compressed, size, offset, zip64=any(wanted) or _has_zip64(extra)
            )
        )
    if position != len(directory):
        raise ZipLayoutError(
            f"central directory holds {len(directory) - position} bytes beyond its listed entries"
        )
    return entries


def _has_zip64(extra: bytes) -> bool:
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, position)
        if tag == _ZIP64_EXTRA:
            return True
        position += 4 + length
    return False


def _check_local(handle: IO[bytes], entry: _Central) -> int:
    """Compare the local header (and descriptor) with ``entry``; return where the next begins."""
    handle.seek(entry.offset)
    raw = handle.read(_LOCAL.size)
    if len(raw) != _LOCAL.size:
        raise ZipLayoutError(f"local header of {_show(entry.name)} truncated")
    (sig, _need, flags, method, _time, _date, crc, compressed, size, name_len, extra_len) = _LOCAL.unpack(raw)
    if sig != b"PK\x03\x04":
        raise ZipLayoutError(f"no local header where the directory puts {_show(entry.name)}")
    head = handle.read(name_len + extra_len)
    name, extra = head[:name_len], head[name_len:]
    label = _show(entry.name)
    if name != entry.name:
        raise ZipLayoutError(f"local header names {_show(name)} where the central directory names {label}")
    if method != entry.method:
        raise ZipLayoutError(
            f"{label}: compression method {method} in the local header, "
            f"{entry.method} in the central directory"
        )
    if (flags ^ entry.flags) & (_FLAG_ENCRYPTED | _FLAG_DESCRIPTOR | _FLAG_UTF8):
        raise ZipLayoutError(f"{label}: local header flags disagree with the central directory")
    zip64 = entry.zip64 or _has_zip64(extra)
    if size == 0xFFFFFFFF or compressed == 0xFFFFFFFF:
        values = iter(_zip64_values(extra, [size == 0xFFFFFFFF, compressed == 0xFFFFFFFF]))
        size = next(values) if size == 0xFFFFFFFF else size
        compressed = next(values) if compressed == 0xFFFFFFFF else compressed
    data_end: int = entry.offset + _LOCAL.size + name_len + extra_len + entry.compressed
    if not flags & _FLAG_DESCRIPTOR:
        _agree(label, "local header", (crc, compressed, size), entry)
        return data_end
    if (crc, compressed, size) != (0, 0, 0):
        _agree(label, "local header", (crc, compressed, size), entry)
    # A data descriptor follows the data: optional signature, CRC, then both sizes.
    handle.seek(data_end)
    width = 8 if zip64 else 4
    raw = handle.read(4 + 4 + 2 * width)
    signed = raw[:4] == b"PK\x07\x08"
    body = raw[4:] if signed else raw
    if len(body) < 4 + 2 * width:
        raise ZipLayoutError(f"{label}: data descriptor truncated")
    got = struct.unpack_from("<LQQ" if zip64 else "<LLL", body)
    _agree(label, "data descriptor", (got[0], got[1], got[2]), entry)
    return data_end + (4 if signed else 0) + 4 + 2 * width


def _agree(label: str, where: str, found: tuple[int, int, int], entry: _Central) -> None:
    if found != (entry.crc, entry.compressed, entry.size):
        raise ZipLayoutError(
            f"{label}: {where} says crc {found[0]:08x}, {found[1]} bytes compressed, "
            f"{found[2]} bytes; the central directory says crc {entry.crc:08x}, "
            f"{entry.compressed}, {entry.size}"
        )
