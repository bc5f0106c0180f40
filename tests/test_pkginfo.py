from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from fromsource.errors import ArchiveError
from fromsource.pkginfo import read_pkg_info
from tinyindex import make_sdist


def test_static_requirements_need_metadata_2_2_and_no_dynamic(tmp_path: Path) -> None:
    static = read_pkg_info(make_sdist(tmp_path, "a", "1", ["b>=1"], requires_python=">=3.9"))
    assert static is not None
    assert static.static_requirements == [Requirement("b>=1")]
    assert static.requires_python == ">=3.9"
    old = read_pkg_info(make_sdist(tmp_path, "c", "1", ["b"], metadata_version="2.1"))
    assert old is not None
    assert old.static_requirements is None
    dynamic = read_pkg_info(make_sdist(tmp_path, "d", "1", dynamic=["Requires-Dist"]))
    assert dynamic is not None
    assert dynamic.static_requirements is None


def test_zip_sdist_and_missing_pkg_info(tmp_path: Path) -> None:
    sdist = tmp_path / "z-1.zip"
    with zipfile.ZipFile(sdist, "w") as archive:
        archive.writestr("z-1/z.egg-info/PKG-INFO", "Metadata-Version: 2.2\nName: wrong\n")
        archive.writestr("z-1/PKG-INFO", "Metadata-Version: 2.3\nName: z\nVersion: 1\n")
    info = read_pkg_info(sdist)
    assert info is not None
    assert (info.name, info.static_requirements) == ("z", [])
    bare = tmp_path / "bare-1.zip"
    with zipfile.ZipFile(bare, "w") as archive:
        archive.writestr("bare-1/setup.py", "")
    assert read_pkg_info(bare) is None


def test_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "broken-1.tar.gz"
    broken.write_bytes(b"not an archive")
    with pytest.raises(ArchiveError):
        read_pkg_info(broken)
    bad = read_pkg_info(make_sdist(tmp_path, "e", "1", ["not a requirement!"]))
    assert bad is not None
    with pytest.raises(ArchiveError, match="invalid Requires-Dist"):
        _ = bad.static_requirements
