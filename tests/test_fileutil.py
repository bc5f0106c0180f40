"""Moving a finished file into place: renamed where it can be, readable by all, and copied
atomically across filesystems."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from fromsource.fileutil import move_into_place, sha256_file


def test_a_file_is_renamed_into_place_readable_by_all(tmp_path: Path) -> None:
    src = tmp_path / "out" / "demo-1.0-py3-none-any.whl"
    src.parent.mkdir()
    src.write_bytes(b"wheel bytes")
    src.chmod(0o600)  # as a temp file is made
    inode = src.stat().st_ino
    dest = tmp_path / "wheels" / src.name  # its directory does not exist yet

    move_into_place(src, dest)

    assert not src.exists()
    assert dest.read_bytes() == b"wheel bytes"
    assert dest.stat().st_ino == inode  # renamed, not copied
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_a_file_on_another_filesystem_is_copied_into_place(tmp_path: Path) -> None:
    # The suite's tmp_path is in /dev/shm where there is one; the system's temp dir or the
    # test tree is then on another filesystem.
    here = os.stat(tmp_path).st_dev
    places = [Path("/dev/shm"), Path(tempfile.gettempdir()), Path(__file__).parent]
    elsewhere = [p for p in places if p.is_dir() and os.access(p, os.W_OK) and os.stat(p).st_dev != here]
    if not elsewhere:
        pytest.skip("needs a writable directory on another filesystem than the test's tmp_path")
    with tempfile.TemporaryDirectory(dir=elsewhere[0]) as other:
        src = Path(other) / "demo-1.0-py3-none-any.whl"
        src.write_bytes(b"wheel bytes" * 1000)
        digest = sha256_file(src)
        dest = tmp_path / "wheels" / src.name
        dest.parent.mkdir()
        dest.write_bytes(b"an older wheel")

        move_into_place(src, dest)

        assert sha256_file(dest) == digest
        assert stat.S_IMODE(dest.stat().st_mode) == 0o644
        assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temp file left
