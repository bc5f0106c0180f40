"""Hostile and real archives against fromsource.archives.

Every hostile archive is built here, in tmp_path, with tarfile/zipfile. Each failure must be
an ArchiveError whose message names the problem, and nothing may appear outside the target.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import stat
import tarfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from fromsource.archives import (
    DEFAULT_LIMITS,
    Limits,
    Member,
    archive_format,
    check_wheel_record,
    extract_sdist,
    iter_members,
    read_member,
)
from fromsource.errors import ArchiveError

DATA = Path(__file__).parent / "data"
SDISTS = sorted(DATA.glob("*.tar.gz"))
WHEELS = sorted(DATA.glob("*.whl"))
SMALL = Limits(max_members=10, max_member_size=1 << 20, max_total_size=2 << 20)


# --- builders -------------------------------------------------------------------------------


@dataclass
class E:
    """One tar or zip entry to write: kind is file, dir, symlink, hardlink, chr, blk, fifo."""

    name: str
    kind: str = "file"
    data: bytes = b"content\n"
    target: str = ""
    mode: int = 0o644


def sym(name: str, target: str) -> E:
    return E(name, "symlink", target=target)


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def make_tar(path: Path, entries: list[E], mode: str = "w:gz") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = _TAR_TYPES[entry.kind]
            info.mode = entry.mode
            info.linkname = entry.target
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return path


_ZIP_TYPES = {
    "file": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "chr": stat.S_IFCHR,
    "blk": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
}


def make_zip(path: Path, entries: list[E]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicates we make on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry in entries:
                info = zipfile.ZipInfo(entry.name + ("/" if entry.kind == "dir" else ""))
                info.create_system = 3
                info.external_attr = (_ZIP_TYPES[entry.kind] | entry.mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = entry.target.encode() if entry.kind == "symlink" else entry.data
                archive.writestr(info, b"" if entry.kind == "dir" else data)
    return path


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
        for p in root.rglob("*")
    }


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """tmp_path/in holds archives, tmp_path/work/dest is the target, a sentinel sits beside it."""
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "sentinel").write_bytes(b"untouched")
    return tmp_path


def assert_refused(sandbox: Path, archive: Path, match: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """iter_members and extract_sdist both refuse, and extraction leaves no trace."""
    before = snapshot(sandbox)
    with pytest.raises(ArchiveError, match=match) as info:
        list(iter_members(archive, limits))
    assert archive.name in str(info.value)
    dest = sandbox / "work" / "dest"
    with pytest.raises(ArchiveError, match=match):
        extract_sdist(archive, dest, limits)
    assert not dest.exists()
    assert snapshot(sandbox) == before


# --- real sdists and wheels -----------------------------------------------------------------


@pytest.mark.parametrize("sdist", SDISTS, ids=lambda p: p.name)
def test_extract_real_sdist(sdist: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    top = extract_sdist(sdist, dest)
    assert top == dest.resolve() / sdist.name.removesuffix(".tar.gz")
    assert (top / "PKG-INFO").is_file()
    assert [p.name for p in dest.iterdir()] == [top.name]
    members = list(iter_members(sdist))
    assert members
    for member in members:
        assert member.name.startswith(top.name + "/")
        assert (dest / member.name).read_bytes() == member.data


@pytest.mark.parametrize("wheel", WHEELS, ids=lambda p: p.name)
def test_real_wheel_record_matches(wheel: Path) -> None:
    assert archive_format(wheel) == "zip"
    check_wheel_record(wheel)


def test_real_sdist_members_and_read_member() -> None:
    sdist = DATA / "flit_core-3.12.0.tar.gz"
    assert archive_format(sdist) == "tar"
    names = {m.name for m in iter_members(sdist)}
    assert "flit_core-3.12.0/pyproject.toml" in names
    assert all(isinstance(m, Member) for m in iter_members(sdist))
    pyproject = read_member(sdist, "flit_core-3.12.0/pyproject.toml")
    assert b'build-backend = "flit_core.buildapi"' in pyproject
    with pytest.raises(ArchiveError, match=r"'flit_core-3\.12\.0/nope\.txt'.*not in the archive"):
        read_member(sdist, "flit_core-3.12.0/nope.txt")


def test_read_member_from_wheel() -> None:
    wheel = DATA / "packaging-24.2-py3-none-any.whl"
    assert b"Name: packaging" in read_member(wheel, "packaging-24.2.dist-info/METADATA")


# --- safe content that must work ------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "mode"),
    [(".tar.gz", "w:gz"), (".tgz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz"), (".tar", "w:")],
)
def test_tar_flavours_with_internal_links(tmp_path: Path, suffix: str, mode: str) -> None:
    archive = make_tar(
        tmp_path / f"pkg-1.0{suffix}",
        [
            E("pkg-1.0", "dir", mode=0o755),
            E("pkg-1.0/src/mod.py", data=b"x = 1\n"),
            E("pkg-1.0/run.sh", data=b"#!/bin/sh\n", mode=0o755),
            sym("pkg-1.0/alias.py", "src/mod.py"),
            sym("pkg-1.0/src/up", ".."),
            E("pkg-1.0/same.py", "hardlink", target="pkg-1.0/src/mod.py"),
        ],
        mode,
    )
    assert archive_format(archive) == "tar"
    assert {m.name: m.data for m in iter_members(archive)} == {
        "pkg-1.0/src/mod.py": b"x = 1\n",
        "pkg-1.0/run.sh": b"#!/bin/sh\n",
    }
    top = extract_sdist(archive, tmp_path / "dest")
    assert top.name == "pkg-1.0"
    assert (top / "alias.py").is_symlink()
    assert (top / "alias.py").read_bytes() == b"x = 1\n"
    assert (top / "same.py").read_bytes() == b"x = 1\n"
    assert (top / "run.sh").stat().st_mode & 0o111


def test_zip_sdist_with_internal_symlink(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "pkg-1.0.zip",
        [
            E("pkg-1.0", "dir", mode=0o755),
            E("pkg-1.0/a.py", data=b"a\n"),
            E("pkg-1.0/tool", data=b"#!\n", mode=0o755),
            sym("pkg-1.0/b.py", "a.py"),
        ],
    )
    assert [m.name for m in iter_members(archive)] == ["pkg-1.0/a.py", "pkg-1.0/tool"]
    assert next(iter_members(archive)).mode == 0o644
    top = extract_sdist(archive, tmp_path / "dest")
    assert (top / "b.py").is_symlink()
    assert (top / "b.py").read_bytes() == b"a\n"
    assert (top / "tool").stat().st_mode & 0o111
    assert not (top / "a.py").stat().st_mode & 0o111


def test_dot_slash_names_are_normalised(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "p.tar.gz", [E("./p-1//x.py"), E("p-1/./y.py")])
    assert [m.name for m in iter_members(archive)] == ["p-1/x.py", "p-1/y.py"]


# --- hostile names, links and file types ------------------------------------------------------

HOSTILE = [
    pytest.param([E("../evil")], r"'\.\.'", id="dotdot"),
    pytest.param([E("pkg/../../evil")], r"'\.\.'", id="nested-dotdot"),
    pytest.param([E("/tmp/fromsource-evil")], "absolute path", id="absolute"),
    pytest.param([E("pkg\\..\\evil")], "backslash", id="backslash"),
    pytest.param([E("C:/evil")], "drive letter", id="drive"),
    pytest.param([E("pkg", "dir"), sym("pkg/link", "../../sentinel")], "escapes", id="symlink-escape"),
    pytest.param([sym("pkg/link", "/etc/passwd")], "absolute path '/etc/passwd'", id="symlink-absolute"),
    pytest.param(
        [E("pkg/a"), sym("pkg/a2", "a"), sym("pkg/b", "../../../etc")], "escapes", id="chain-a-b-etc"
    ),
    pytest.param(
        [sym("pkg/a", "b"), sym("pkg/b", "up/.."), sym("pkg/up", "..")],
        "'pkg/a'.*escapes the archive root through a chain of symlinks",
        id="chain-each-link-lexically-inside",
    ),
    pytest.param([sym("pkg/a", "b"), sym("pkg/b", "a")], "loop", id="symlink-loop"),
    pytest.param([sym("pkg/d", "."), E("pkg/d/x")], "below the symlink 'pkg/d'", id="write-through-symlink"),
    pytest.param([E("pkg/f"), E("pkg/f/x")], "below the file", id="file-as-directory"),
    pytest.param([E("pkg/x"), E("pkg/x")], "duplicate", id="duplicate"),
    pytest.param([E("pkg/x", "dir"), E("pkg/x")], "duplicate", id="duplicate-dir-file"),
    pytest.param(
        [E("pkg/a/b"), sym("pkg/a", ".")], "other members lie below it", id="symlink-over-directory"
    ),
]


@pytest.mark.parametrize(("entries", "match"), HOSTILE)
@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_hostile_entries_refused(sandbox: Path, entries: list[E], match: str, fmt: str) -> None:
    archive = (
        make_tar(sandbox / "in" / "evil-1.0.tar.gz", entries)
        if fmt == "tar"
        else make_zip(sandbox / "in" / "evil-1.0.zip", entries)
    )
    assert_refused(sandbox, archive, match)


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        pytest.param(
            [E("pkg/h", "hardlink", target="../sentinel")], "hard link target", id="hardlink-dotdot"
        ),
        pytest.param([E("pkg/h", "hardlink", target="/etc/passwd")], "absolute path", id="hardlink-absolute"),
        pytest.param(
            [E("pkg/h", "hardlink", target="pkg/later"), E("pkg/later")],
            "not an earlier regular file",
            id="hardlink-forward",
        ),
        pytest.param([E("pkg/dev", "chr")], "device file", id="char-device"),
        pytest.param([E("pkg/dev", "blk")], "device file", id="block-device"),
        pytest.param([E("pkg/pipe", "fifo")], "fifo", id="fifo"),
    ],
)
def test_hostile_tar_only_entries_refused(sandbox: Path, entries: list[E], match: str) -> None:
    assert_refused(sandbox, make_tar(sandbox / "in" / "evil-1.0.tar.gz", entries), match)


@pytest.mark.parametrize(("kind", "match"), [("chr", "device file"), ("fifo", "fifo")])
def test_zip_special_files_refused(sandbox: Path, kind: str, match: str) -> None:
    archive = make_zip(sandbox / "in" / "evil-1.0.zip", [E("pkg/x", kind)])
    assert_refused(sandbox, archive, match)


def test_zip_nul_in_name_refused(sandbox: Path) -> None:
    # zipfile cuts names at NUL when reading; the raw name must still be refused.
    archive = make_zip(sandbox / "in" / "evil-1.0.zip", [E("pkg/aXb.py")])
    archive.write_bytes(archive.read_bytes().replace(b"pkg/aXb.py", b"pkg/a\x00b.py"))
    assert_refused(sandbox, archive, "NUL")


def test_tar_nul_in_pax_name_refused(sandbox: Path) -> None:
    archive = sandbox / "in" / "evil-1.0.tar"
    archive.parent.mkdir()
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("pkg/ab.py")
        info.pax_headers = {"path": "pkg/a\x00b.py"}
        tar.addfile(info, io.BytesIO(b""))
    assert_refused(sandbox, archive, "NUL")


def test_chain_to_a_later_link_is_checked_at_the_end(tmp_path: Path) -> None:
    # pkg/esc looks harmless when read (pkg/up is unknown yet); the chain escapes.
    archive = make_tar(tmp_path / "evil.tar.gz", [E("pkg/ok"), sym("pkg/esc", "up/.."), sym("pkg/up", "..")])
    members = iter_members(archive)
    assert next(members).name == "pkg/ok"
    with pytest.raises(ArchiveError, match=r"'pkg/esc'.*escapes the archive root"):
        next(members)


# --- limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_member_count_bomb(sandbox: Path, fmt: str) -> None:
    entries = [E(f"pkg/f{i}", data=b"") for i in range(50)]
    archive = (
        make_tar(sandbox / "in" / "bomb.tar.gz", entries)
        if fmt == "tar"
        else make_zip(sandbox / "in" / "bomb.zip", entries)
    )
    assert_refused(sandbox, archive, "more than 10 members", SMALL)


def test_zip_size_bomb(sandbox: Path) -> None:
    archive = make_zip(sandbox / "in" / "bomb.zip", [E("pkg/zeros", data=bytes(32 << 20))])
    assert archive.stat().st_size < 100_000  # a real bomb: tiny on disk
    assert_refused(sandbox, archive, "member size limit", SMALL)


def test_zip_size_bomb_with_lying_declared_size(sandbox: Path) -> None:
    # Declared sizes say 100 bytes; the data inflates to 8 MiB. Never trust the header.
    archive = make_zip(sandbox / "in" / "bomb.zip", [E("pkg/zeros", data=bytes(8 << 20))])
    raw = bytearray(archive.read_bytes())
    size = (8 << 20).to_bytes(4, "little")
    at = 0
    while (at := raw.find(size, at)) != -1:
        raw[at : at + 4] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    # zipfile stops at the declared size and then fails the CRC: refused either way.
    assert_refused(sandbox, archive, r"bomb\.zip: member 'pkg/zeros'.*(corrupt|size limit)", SMALL)


def test_sizes_are_counted_not_declared() -> None:
    from fromsource.archivewalk import Budget as _Budget  # the counter every reader goes through

    budget = _Budget(Path("x.zip"), SMALL)
    with pytest.raises(ArchiveError, match=r"'m'.*member size limit"):
        budget.read(io.BytesIO(bytes(2 << 20)), "m", declared=0)


def test_total_size_limit(sandbox: Path) -> None:
    entries = [E(f"pkg/f{i}", data=bytes(700_000)) for i in range(4)]
    archive = make_zip(sandbox / "in" / "big.zip", entries)
    assert_refused(sandbox, archive, "total size limit", SMALL)


def test_tar_large_member_under_small_limit(sandbox: Path) -> None:
    archive = make_tar(sandbox / "in" / "big.tar.gz", [E("pkg/big", data=bytes(3 << 20))])
    assert_refused(sandbox, archive, "'pkg/big'.*member size limit", SMALL)


# --- format detection ----------------------------------------------------------------------


def test_polyglot_tar_with_zip_appended(sandbox: Path) -> None:
    tar = make_tar(sandbox / "in" / "poly-1.0.tar.gz", [E("poly-1.0/setup.py")])
    zipped = make_zip(sandbox / "in" / "other.zip", [E("poly-1.0/evil.py")])
    tar.write_bytes(tar.read_bytes() + zipped.read_bytes())
    zipped.unlink()
    assert zipfile.is_zipfile(tar)  # what a zip reader would see
    with pytest.raises(ArchiveError, match=r"poly-1\.0\.tar\.gz.*polyglot"):
        archive_format(tar)
    assert_refused(sandbox, tar, "polyglot")


def test_polyglot_zip_inside_plain_tar(sandbox: Path) -> None:
    inner = make_zip(sandbox / "inner.zip", [E("x/evil.py")]).read_bytes()
    (sandbox / "inner.zip").unlink()
    archive = make_tar(sandbox / "in" / "poly-1.0.tar", [E("poly-1.0/data.zip", data=inner)], "w:")
    assert_refused(sandbox, archive, "polyglot")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("pkg-1.0.tar.gz", "zip", "file name says tar.gz but the content is zip"),
        ("pkg-1.0.whl", "tar.gz", "file name says zip but the content is tar.gz"),
        ("pkg-1.0.tar.xz", "tar.gz", "file name says tar.xz but the content is tar.gz"),
        ("pkg-1.0.tar.gz", "junk", "neither a tar nor a zip"),
        ("pkg-1.0.tar.gz", "empty", "neither a tar nor a zip"),
    ],
)
def test_format_mismatch(sandbox: Path, name: str, content: str, match: str) -> None:
    path = sandbox / "in" / name
    if content == "zip":
        make_zip(path, [E("pkg-1.0/a")])
    elif content == "tar.gz":
        make_tar(path, [E("pkg-1.0/a")])
    else:
        path.parent.mkdir()
        path.write_bytes(b"" if content == "empty" else b"definitely not an archive" * 40)
    with pytest.raises(ArchiveError, match=match):
        archive_format(path)
    assert_refused(sandbox, path, match)


def test_format_from_content_when_suffix_unknown(tmp_path: Path) -> None:
    assert archive_format(make_tar(tmp_path / "download.bin", [E("p/a")])) == "tar"
    assert archive_format(make_zip(tmp_path / "download2.bin", [E("p/a")])) == "zip"


# --- corrupt archives ------------------------------------------------------------------------


def test_truncated_gzip(sandbox: Path) -> None:
    data = (DATA / "flit_core-3.12.0.tar.gz").read_bytes()
    archive = sandbox / "in" / "flit_core-3.12.0.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(data[: len(data) // 2])
    assert_refused(sandbox, archive, "corrupt or truncated")


def test_gzip_of_garbage(sandbox: Path) -> None:
    archive = sandbox / "in" / "pkg-1.0.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(gzip.compress(b"\x01" * 4096))
    assert_refused(sandbox, archive, "corrupt or truncated")


def test_zip_bad_crc(sandbox: Path) -> None:
    archive = sandbox / "in" / "pkg-1.0.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.writestr("pkg-1.0/a.txt", b"hello world, this is the original text")
    archive.write_bytes(archive.read_bytes().replace(b"original", b"tampered"))
    assert_refused(sandbox, archive, "pkg-1.0.zip: member 'pkg-1.0/a.txt'.*corrupt")


def test_truncated_zip(sandbox: Path) -> None:
    data = (DATA / "six-1.17.0-py2.py3-none-any.whl").read_bytes()
    archive = sandbox / "in" / "six-1.17.0-py2.py3-none-any.whl"
    archive.parent.mkdir()
    archive.write_bytes(data[:-30])
    assert_refused(sandbox, archive, "end-of-central-directory")


# --- extract_sdist specifics -----------------------------------------------------------------


def test_extract_refuses_non_empty_dest(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    with pytest.raises(ArchiveError, match="not an empty directory"):
        extract_sdist(DATA / "six-1.17.0.tar.gz", dest)
    assert [p.name for p in dest.iterdir()] == ["keep"]


def test_extract_into_existing_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "dest").mkdir()
    top = extract_sdist(DATA / "six-1.17.0.tar.gz", tmp_path / "dest")
    assert (top / "six.py").is_file()


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([E("a-1.0/x"), E("b-1.0/y")], "exactly one top-level directory; found: a-1.0, b-1.0"),
        ([E("README")], "exactly one top-level directory"),
        ([], "exactly one top-level directory"),
    ],
)
def test_extract_needs_one_top_dir(sandbox: Path, entries: list[E], match: str) -> None:
    archive = make_tar(sandbox / "in" / "odd-1.0.tar.gz", entries)
    list(iter_members(archive))  # fine as an archive, not as an sdist
    before = snapshot(sandbox)
    with pytest.raises(ArchiveError, match=match):
        extract_sdist(archive, sandbox / "work" / "dest")
    assert snapshot(sandbox) == before


# --- wheel RECORD ----------------------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _rewrite_wheel(src: Path, dest: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in files.items():
            out.writestr(name, data)
    return dest


def test_wheel_record_mismatches_all_reported(tmp_path: Path) -> None:
    src = DATA / "flit_core-3.12.0-py3-none-any.whl"
    with zipfile.ZipFile(src) as wheel:
        files = {i.filename: wheel.read(i) for i in wheel.infolist()}
    files["flit_core/__init__.py"] = files["flit_core/__init__.py"].replace(b"3", b"4")
    files["flit_core/config.py"] += b"\n# grown\n"
    del files["flit_core/common.py"]
    files["flit_core/smuggled.py"] = b"import os\n"
    bad = _rewrite_wheel(src, tmp_path / src.name, files)
    with pytest.raises(ArchiveError) as info:
        check_wheel_record(bad)
    message = str(info.value)
    assert message.startswith(f"{src.name}: RECORD does not match the content (")
    assert "flit_core/__init__.py:" in message and "sha256 differs from RECORD" in message
    assert "flit_core/config.py:" in message and "differs from RECORD's" in message
    assert "flit_core/common.py:" in message and "listed in RECORD but not in the wheel" in message
    assert "flit_core/smuggled.py: in the wheel but not listed in RECORD" in message


def test_wheel_record_wrong_size_only(tmp_path: Path) -> None:
    data = b"print('hi')\n"
    rows = io.StringIO()
    csv.writer(rows).writerows(
        [["w/__init__.py", _record_hash(data), "999"], ["w-1.dist-info/RECORD", "", ""]]
    )
    wheel = _rewrite_wheel(
        Path("w"),
        tmp_path / "w-1-py3-none-any.whl",
        {
            "w/__init__.py": data,
            "w-1.dist-info/RECORD": rows.getvalue().encode(),
            "w-1.dist-info/RECORD.jws": b"{}",
        },
    )
    with pytest.raises(ArchiveError, match=r"w/__init__.py:1: size 12 differs from RECORD's 999") as info:
        check_wheel_record(wheel)
    assert "sha256" not in str(info.value)
    assert "RECORD.jws" not in str(info.value)


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ("w/a.py,md5=abc,2\n", "'md5' is not one of sha256, sha384, sha512"),
        ("w/a.py,sha256=abc\n", "expected 3 fields"),
        ("../a.py,sha256=abc,2\n", r"'\.\.'"),
    ],
)
def test_wheel_record_malformed(tmp_path: Path, record: str, match: str) -> None:
    wheel = _rewrite_wheel(
        Path("w"),
        tmp_path / "w-1-py3-none-any.whl",
        {"w/a.py": b"a\n", "w-1.dist-info/RECORD": record.encode()},
    )
    with pytest.raises(ArchiveError, match=match):
        check_wheel_record(wheel)


def test_wheel_without_record(tmp_path: Path) -> None:
    wheel = _rewrite_wheel(Path("w"), tmp_path / "w-1-py3-none-any.whl", {"w/a.py": b"a"})
    with pytest.raises(ArchiveError, match=r"exactly one \*\.dist-info/RECORD, this one holds 0"):
        check_wheel_record(wheel)


def test_wheel_with_symlink(tmp_path: Path) -> None:
    wheel = make_zip(
        tmp_path / "w-1-py3-none-any.whl",
        [
            E("w/a.py", data=b"a"),
            sym("w/b.py", "a.py"),
            E("w-1.dist-info/RECORD", data=f"w/a.py,{_record_hash(b'a')},1\n".encode()),
        ],
    )
    with pytest.raises(ArchiveError, match=r"w/b\.py: wheels cannot hold links"):
        check_wheel_record(wheel)


def test_check_wheel_record_refuses_tar(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "w-1.tar.gz", [E("w/a.py")])
    with pytest.raises(ArchiveError, match="must be a zip"):
        check_wheel_record(archive)


def test_failed_extract_removes_parents_it_created(sandbox: Path) -> None:
    archive = make_tar(sandbox / "in" / "evil-1.0.tar.gz", [E("pkg/x"), E("../evil")])
    before = snapshot(sandbox)
    with pytest.raises(ArchiveError, match=r"'\.\./evil'"):
        extract_sdist(archive, sandbox / "work" / "new" / "deeper" / "dest")
    assert snapshot(sandbox) == before
