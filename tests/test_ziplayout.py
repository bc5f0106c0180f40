"""The strict zip layout check: honest zips of every shape pass, each second reading fails."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from fromsource.archives import check_zip, iter_members
from fromsource.errors import ArchiveError, ZipLayoutError
from fromsource.ziplayout import check_layout

DATA = Path(__file__).parent / "data"


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors after each entry."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        return len(data)


def _zip(
    entries: dict[str, bytes],
    *,
    comment: bytes = b"",
    zip64: bool = False,
    method: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        archive.comment = comment
        for name, data in entries.items():
            with archive.open(name, "w", force_zip64=zip64) as handle:
                handle.write(data)
    return out.getvalue()


def _check(data: bytes) -> int:
    return check_layout(io.BytesIO(data), max_entries=1000)


ENTRIES = {
    "pkg/__init__.py": b"x = 1\n" * 100,
    "pkg/data.bin": bytes(range(256)) * 10,
    "pkg-1.0.dist-info/METADATA": b"Name: pkg\n",
}


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_honest_zips_pass(method: int) -> None:
    assert _check(_zip(ENTRIES, method=method)) == 3
    assert _check(_zip(ENTRIES, comment=b"a comment")) == 3
    assert _check(_zip(ENTRIES, zip64=True)) == 3
    assert _check(_zip({})) == 0


def test_data_descriptors_pass() -> None:
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in ENTRIES.items():
            archive.writestr(name, data)
    data = bytes(stream.buffer)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(info.flag_bits & 0x8 for info in archive.infolist())
    assert _check(data) == 3


def test_every_wheel_in_the_test_data_passes() -> None:
    wheels = sorted(DATA.glob("*.whl"))
    assert wheels
    for wheel in wheels:
        check_zip(wheel)


def test_bytes_between_entries_are_refused() -> None:
    # Junk between the entries with every recorded offset right: zipfile reads it happily.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("pkg/__init__.py", b"x = 1\n")
        out.write(b"PK\x03\x04 hidden")
        archive.start_dir = out.tell()  # zipfile writes the next entry after the junk
        archive.writestr("pkg/other.py", b"y = 2\n")
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as check:
        assert check.testzip() is None
    with pytest.raises(
        ZipLayoutError,
        match=r"11 unlisted bytes between entries \(before "
        r"'pkg/other.py'\)",
    ):
        _check(out.getvalue())


def test_central_directory_offset_off_by_a_prefix_is_refused() -> None:
    with pytest.raises(ZipLayoutError, match="4 unlisted bytes before the first entry"):
        _check(b"JUNK" + _zip(ENTRIES))


def test_appended_bytes_are_refused() -> None:
    with pytest.raises(ZipLayoutError, match="no end-of-central-directory record ending the file"):
        _check(_zip(ENTRIES) + b"\0")


def _patch_local(data: bytes, name: str, offset_in_header: int, fmt: str, value: int) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        start = archive.getinfo(name).header_offset + offset_in_header
    patched = bytearray(data)
    struct.pack_into(fmt, patched, start, value)
    return bytes(patched)


def test_local_crc_disagreeing_is_refused() -> None:
    data = _patch_local(_zip(ENTRIES, method=zipfile.ZIP_STORED), "pkg/data.bin", 14, "<L", 0)
    with pytest.raises(ZipLayoutError, match="local header says crc 00000000"):
        _check(data)


def test_local_method_disagreeing_is_refused() -> None:
    data = _patch_local(_zip(ENTRIES, method=zipfile.ZIP_STORED), "pkg/data.bin", 8, "<H", 8)
    with pytest.raises(
        ZipLayoutError, match="compression method 8 in the local header, 0 in the central directory"
    ):
        _check(data)


def test_local_size_disagreeing_is_refused() -> None:
    data = _patch_local(_zip(ENTRIES, method=zipfile.ZIP_STORED), "pkg/data.bin", 22, "<L", 1)
    with pytest.raises(ZipLayoutError, match="1 bytes"):
        _check(data)


def test_member_count_is_checked_before_the_directory_is_parsed() -> None:
    with pytest.raises(ZipLayoutError, match="more than 2 members"):
        check_layout(io.BytesIO(_zip(ENTRIES)), max_entries=2)


def test_the_strict_reader_names_the_archive(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    wheel.write_bytes(_zip(ENTRIES) + b"trailer")
    with pytest.raises(ArchiveError, match=r"^pkg-1.0-py3-none-any.whl: no end-of-central"):
        list(iter_members(wheel))
