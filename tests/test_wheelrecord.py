"""The one RECORD checker: each documented rule, and build, inspect and verify agreeing on it."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DATA
from fromsource.archives import check_wheel_record
from fromsource.attest import dsse
from fromsource.attest.keys import KeyPair, load_signer
from fromsource.cli import main
from fromsource.errors import ArchiveError
from fromsource.fileutil import sha256_file
from fromsource.inspect import inspect_wheel
from fromsource.wheelrecord import check_record

DIST = "w-1.dist-info"


def _hash(data: bytes, algorithm: str = "sha256") -> str:
    digest = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
    return f"{algorithm}={digest}"


def _members(record: str, **files: bytes) -> dict[str, bytes]:
    members = {"w/a.py": b"a = 1\n", **{k.replace("__", "/"): v for k, v in files.items()}}
    members[f"{DIST}/RECORD"] = record.encode()
    return members


GOOD_ROW = f"w/a.py,{_hash(b'a = 1' + bytes([10]))},6\n"


def _messages(members: dict[str, bytes]) -> list[str]:
    return [str(p) for p in check_record(members, DIST)]


def test_a_correct_record_passes_and_real_wheels_pass() -> None:
    assert _messages(_members(GOOD_ROW + f"{DIST}/RECORD,,\n")) == []
    assert _messages(_members(GOOD_ROW)) == []  # RECORD's own row may be left out
    for wheel in sorted(DATA.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            members = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
        assert check_record(members) == [], wheel.name


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_stronger_hashes_are_accepted(algorithm: str) -> None:
    assert _messages(_members(f"w/a.py,{_hash(b'a = 1' + bytes([10]), algorithm)},6\n")) == []


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # rule 2: three fields, UTF-8
        ("w/a.py,sha256=x\n", "expected 3 fields, got 2"),
        # rule 3: paths as the archive names them, once
        ("./w/a.py,sha256=x,6\n", "empty, '.' or '..' segments"),
        ("w//a.py,sha256=x,6\n", "empty, '.' or '..' segments"),
        ("../w/a.py,sha256=x,6\n", "empty, '.' or '..' segments"),
        ("/w/a.py,sha256=x,6\n", "not relative"),
        ("w\\a.py,sha256=x,6\n", "not relative"),
        ("C:/w/a.py,sha256=x,6\n", "not relative"),
        (GOOD_ROW + GOOD_ROW, "listed twice in RECORD"),
        # rule 4: every member listed, every listed path a member
        ("", "w/a.py: in the wheel but not listed in RECORD"),
        (GOOD_ROW + "w/gone.py,sha256=x,1\n", "w/gone.py:2: listed in RECORD but not in the wheel"),
        # rule 5: RECORD's own row carries nothing
        (GOOD_ROW + f"{DIST}/RECORD,sha256=x,3\n", "RECORD's own row must have no hash and no size"),
        # rule 6: accepted algorithms, right digest, a size, the right size
        (f"w/a.py,{_hash(b'a = 1' + bytes([10]), 'md5')},6\n", "'md5' is not one of sha256, sha384, sha512"),
        (f"w/a.py,{_hash(b'a = 1' + bytes([10]), 'sha1')},6\n", "'sha1' is not one of"),
        ("w/a.py,,6\n", "RECORD gives no hash"),
        (f"w/a.py,{_hash(b'other')},6\n", "sha256 differs from RECORD"),
        (f"w/a.py,{_hash(b'a = 1' + bytes([10]))},\n", "RECORD size empty is not a decimal number"),
        (f"w/a.py,{_hash(b'a = 1' + bytes([10]))},7\n", "size 6 differs from RECORD's 7"),
        (f"w/a.py,{_hash(b'a = 1' + bytes([10]))},+6\n", "is not a decimal number"),
    ],
)
def test_each_rule(record: str, expected: str) -> None:
    messages = _messages(_members(record))
    assert any(expected in m for m in messages), messages


def test_signatures_are_exempt_and_only_one_record_is_allowed() -> None:
    members = _members(GOOD_ROW, **{f"{DIST}__RECORD.jws": b"{}", f"{DIST}__RECORD.p7s": b"x"})
    assert _messages(members) == []
    members["v-1.dist-info/RECORD"] = b""
    assert [p.message for p in check_record(members)] == [
        "a wheel holds exactly one *.dist-info/RECORD, this one holds 2"
    ]
    assert [p.message for p in check_record(_members(GOOD_ROW), "other-1.dist-info")] == [
        "RECORD is not in the wheel's own other-1.dist-info"
    ]


def test_not_utf8() -> None:
    members = _members("")
    members[f"{DIST}/RECORD"] = b"w/a.py,\xff\xfe,6\n"
    assert "RECORD is not UTF-8 CSV" in _messages(members)[0]


# ---------------------------------------------------------------- one checker, three users


def _rewrite(src: Path, dest: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(src) as archive:
        files = {i.filename: archive.read(i) for i in archive.infolist()}
    change(files)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in files.items():
            out.writestr(name, data)
    return dest


def _empty_size(files: dict[str, bytes]) -> None:
    # the spelling inspect used to accept and build refused: one rule set now
    record = "packaging-24.2.dist-info/RECORD"
    rows = files[record].decode().splitlines()
    rows = [row.rsplit(",", 1)[0] + "," if row.startswith("packaging/version.py,") else row for row in rows]
    files[record] = ("\n".join(rows) + "\n").encode()


def _md5(files: dict[str, bytes]) -> None:
    record = "packaging-24.2.dist-info/RECORD"
    rows = files[record].decode().splitlines()
    data = files["packaging/tags.py"]
    rows = [
        f"packaging/tags.py,{_hash(data, 'md5')},{len(data)}" if row.startswith("packaging/tags.py,") else row
        for row in rows
    ]
    files[record] = ("\n".join(rows) + "\n").encode()


def _smuggled(files: dict[str, bytes]) -> None:
    files["packaging/_smuggled.py"] = b"import os\n"


@pytest.mark.parametrize("change", [_empty_size, _md5, _smuggled], ids=["empty-size", "md5", "unlisted"])
def test_build_inspect_and_verify_agree(
    workspace_copy: Path, keypair: KeyPair, tmp_path: Path, change: Callable[[dict[str, bytes]], None]
) -> None:
    ws = workspace_copy
    wheel = ws / "wheels" / "packaging-24.2-py3-none-any.whl"
    bad = _rewrite(wheel, tmp_path / wheel.name, change)
    # build's check (archives.check_wheel_record) refuses it
    with pytest.raises(ArchiveError, match="RECORD does not match"):
        check_wheel_record(bad)
    # inspect: a record reason
    report = inspect_wheel(bad, DATA / "packaging-24.2.tar.gz")
    assert not report.readable
    assert any(p.rule == "record" for p in report.metadata.problems)
    # verify: the trusted key signs a statement about these bytes; only --check-record sees it
    attestation = ws / "attestations" / f"{wheel.name}.intoto.jsonl"
    statement = json.loads(base64.b64decode(json.loads(attestation.read_bytes())["payload"]))
    statement["subject"][0]["digest"]["sha256"] = sha256_file(bad)
    shutil.copy(bad, wheel)
    attestation.write_bytes(dsse.sign(statement, load_signer(keypair.private_path)))
    args = ["verify", str(wheel), "-w", str(ws), "--trusted-key", str(keypair.public_path), "--json"]
    assert CliRunner().invoke(main, args).exit_code == 0
    result = CliRunner().invoke(main, [*args, "--check-record"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout)["problems"]
    assert any("RECORD: " in p for p in problems), problems
