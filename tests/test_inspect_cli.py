"""``fromsource inspect`` through click: exit codes, --json, --report, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fromsource.cli import main
from inspect_helpers import old_pkg_info_sdist, pairs, tampered

PAIRS = pairs()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["inspect", *args])
    return result.exit_code, result.output


def test_readable_exits_0() -> None:
    wheel, sdist = PAIRS["tomli"]
    code, output = invoke(str(wheel), "--sdist", str(sdist))
    assert code == 0, output
    assert "readable" in output


def test_not_readable_exits_1_and_names_the_object() -> None:
    wheel, sdist = PAIRS["markupsafe"]
    code, output = invoke(str(wheel), "--sdist", str(sdist))
    assert code == 1
    assert "_speedups.cpython-311-x86_64-linux-gnu.so" in output


def test_several_wheels_json() -> None:
    args = []
    for name in ("six", "coherent.build", "charset-normalizer"):
        wheel, sdist = PAIRS[name]
        args += [str(wheel), "--sdist", str(sdist)]
    code, output = invoke(*args, "--json")
    assert code == 1
    data = json.loads(output)
    assert data["verdict"] == "not-readable"
    verdicts = {r["wheel"].split("-")[0]: r["verdict"] for r in data["reports"]}
    assert verdicts == {
        "six": "readable",
        "coherent_build": "readable",
        "charset_normalizer": "not-readable",
    }


def test_report_directory(tmp_path: Path) -> None:
    wheel, sdist = PAIRS["tomli"]

    def change(files: dict[str, bytes]) -> None:
        files["tomli/_re.py"] += b"import os\n"

    bad = tampered(wheel, tmp_path / "w", change)
    code, _output = invoke(str(bad), "--sdist", str(sdist), "--report", str(tmp_path / "r"))
    assert code == 1
    root = tmp_path / "r" / "tomli-2.2.1-py3-none-any"
    assert json.loads((root / "report.json").read_text())["verdict"] == "not-readable"
    diff = (root / "diffs" / "tomli" / "_re.py.diff").read_text()
    assert "+import os" in diff
    assert "not-readable" in (root / "summary.txt").read_text()


def test_index_url_uses_fetch_sdist(monkeypatch: pytest.MonkeyPatch) -> None:
    import fromsource.index

    wheel, sdist = PAIRS["idna"]
    asked = []

    def fake(name: str, version: str, index_url: str, dest_dir: Path, *, rules: object) -> Path:
        asked.append((name, version, index_url))
        return sdist

    monkeypatch.setattr(fromsource.index, "fetch_sdist", fake)
    code, output = invoke(str(wheel), "--index-url", "http://index.invalid/simple")
    assert code == 0, output
    assert asked == [("idna", "3.10", "http://index.invalid/simple")]


@pytest.mark.parametrize(
    "args",
    [
        ["missing.whl", "--sdist", "missing.tar.gz"],
        ["{wheel}"],  # no --sdist and no --index-url
        ["{not_archive}", "--sdist", "{sdist}"],
        ["{wheel}", "--sdist", "{not_archive_sdist}"],
        ["{not_a_wheel_name}", "--sdist", "{sdist}"],
    ],
)
def test_bad_input_exits_2(tmp_path: Path, args: list[str]) -> None:
    wheel, sdist = PAIRS["tomli"]
    not_archive = tmp_path / "tomli-2.2.1-py3-none-any.whl"
    not_archive.write_text("not a zip\n")
    not_archive_sdist = tmp_path / "tomli-2.2.1.tar.gz"
    not_archive_sdist.write_text("not a tar\n")
    not_a_wheel_name = tmp_path / "tomli.zip"
    not_a_wheel_name.write_bytes(wheel.read_bytes())
    values = {
        "wheel": wheel,
        "sdist": sdist,
        "not_archive": not_archive,
        "not_archive_sdist": not_archive_sdist,
        "not_a_wheel_name": not_a_wheel_name,
    }
    code, output = invoke(*(a.format(**values) for a in args))
    assert code == 2, output
    assert "error:" in output


def test_unmatched_sdist_for_several_wheels_exits_2() -> None:
    (w1, s1), (w2, _s2) = PAIRS["six"], PAIRS["idna"]
    code, output = invoke(str(w1), str(w2), "--sdist", str(s1))
    assert code == 2
    assert "idna" in output


# ------------------------------------------------------------------ --rebuild


def test_rebuild_settles_a_non_authoritative_pkg_info(tmp_path: Path) -> None:
    wheel, sdist = PAIRS["flit-core"]
    old = old_pkg_info_sdist(sdist, tmp_path / "s")

    def change(files: dict[str, bytes]) -> None:
        name = "flit_core-3.12.0.dist-info/METADATA"
        files[name] = files[name].replace(
            b"Requires-Python: >=3.6\n", b"Requires-Python: >=3.6\nRequires-Dist: evil-helper>=1\n"
        )

    bad = tampered(wheel, tmp_path / "w", change)
    # without --rebuild: unsettled (PKG-INFO is Metadata 2.1), which is not readable: exit 1
    code, output = invoke(str(bad), "--sdist", str(old), "--json")
    assert code == 1, output
    report = json.loads(output)
    assert report["verdict"] == report["reports"][0]["verdict"] == "unsettled"
    meta = report["reports"][0]["metadata"]
    assert (meta["requires_dist_authoritative"], meta["rebuilt"]) == (False, None)
    assert report["reports"][0]["reasons"] == []
    assert report["reports"][0]["unsettled"] == [
        "flit_core-3.12.0.dist-info/METADATA: Requires-Dist differs from the sdist's PKG-INFO, which is "
        "not authoritative for it: + evil-helper>=1 (inspect --rebuild settles it)"
    ]
    code, output = invoke(str(bad), "--sdist", str(old))
    assert code == 1 and "unsettled" in output and "Traceback" not in output
    # with --rebuild: flit_core builds itself with no requirements, in a temporary workspace
    code, output = invoke(str(bad), "--sdist", str(old), "--rebuild", "--json")
    assert code == 1, output
    report = json.loads(output)["reports"][0]
    assert report["metadata"]["rebuilt"] == "differs"
    assert report["reasons"] == [
        "flit_core-3.12.0.dist-info/METADATA: Requires-Dist differs from the wheel built from the "
        "sdist: + evil-helper>=1"
    ]
    # the genuine wheel agrees with its rebuild
    code, output = invoke(str(wheel), "--sdist", str(old), "--rebuild", "--json")
    assert code == 0, output
    report = json.loads(output)["reports"][0]
    assert report["metadata"]["rebuilt"] == "same"
    assert any(n.startswith("rebuild: the sdist was built") for n in report["notes"])


def test_rebuild_is_skipped_when_pkg_info_is_authoritative(tmp_path: Path) -> None:
    wheel, sdist = PAIRS["flit-core"]  # Metadata-Version 2.4: nothing to settle, nothing built
    code, output = invoke(str(wheel), "--sdist", str(sdist), "--rebuild", "--json")
    assert code == 0, output
    assert json.loads(output)["reports"][0]["metadata"]["rebuilt"] is None


def test_rebuild_without_build_requirements_fails_clearly(tmp_path: Path) -> None:
    wheel, sdist = PAIRS["six"]  # Metadata 2.1; needs setuptools, which no workspace offers
    code, output = invoke(str(wheel), "--sdist", str(sdist), "--rebuild", "--workspace", str(tmp_path / "ws"))
    assert code == 3, output
    assert "setuptools" in output
    assert "no wheel in the workspace" in output
    assert "Traceback" not in output


def test_workspace_needs_rebuild(tmp_path: Path) -> None:
    wheel, sdist = PAIRS["tomli"]
    code, output = invoke(str(wheel), "--sdist", str(sdist), "--workspace", str(tmp_path))
    assert code == 2
    assert "--rebuild" in output


@pytest.mark.parametrize(
    ("member", "code"),
    [
        ("tomli-2.2.1.data/data/share/doc/tomli/LICENSE", 0),  # the sdist's LICENSE, relocated: a note
        ("tomli-2.2.1.data/data/lib/python3.11/site-packages/LICENSE.py", 1),  # lands on sys.path
        ("tomli-2.2.1.data/data/share/tomli.pth", 1),  # a .pth, whatever the scheme
    ],
)
def test_data_scheme_through_the_cli(tmp_path: Path, member: str, code: int) -> None:
    wheel, sdist = PAIRS["tomli"]
    import tarfile

    with tarfile.open(sdist) as archive:
        extracted = archive.extractfile("tomli-2.2.1/LICENSE")
        assert extracted is not None
        license_text = extracted.read()

    def change(files: dict[str, bytes]) -> None:
        files[member] = license_text

    status, output = invoke(str(tampered(wheel, tmp_path, change)), "--sdist", str(sdist), "--json")
    assert status == code, output
    report = json.loads(output)["reports"][0]
    assert (member in [d["path"] for d in report["dangerous"]]) is (code == 1)
    assert "Traceback" not in output
