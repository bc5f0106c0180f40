"""Normalised wheel comparison on real builds against the published wheels."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from conftest import DATA
from fromsource.attest.equivalence import ROLE_SEED, equivalence_statement
from fromsource.compare import compare_wheels

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "attestations" / "rebuild-equivalence.schema.json").read_text()
)
FLIT = "flit_core-3.12.0-py3-none-any.whl"
PACKAGING = "packaging-24.2-py3-none-any.whl"


def test_flit_core_from_source_reproduces_the_published_wheel(built_workspace: Path) -> None:
    ours = built_workspace / "wheels" / FLIT
    assert ours.read_bytes() != (DATA / FLIT).read_bytes()  # zip metadata differs...
    comparison = compare_wheels(DATA / FLIT, ours)
    assert comparison.equivalent, comparison.differences  # ...the files do not
    assert comparison.files > 20


def test_packaging_published_with_an_older_backend_differs_in_dist_info(built_workspace: Path) -> None:
    comparison = compare_wheels(DATA / PACKAGING, built_workspace / "wheels" / PACKAGING)
    assert not comparison.equivalent
    names = {d.name for d in comparison.differences}
    assert names and all(".dist-info/" in n for n in names)
    assert any(d.reference_sha256 is None or d.rebuild_sha256 is None for d in comparison.differences)


def test_record_order_and_zip_metadata_are_normalised(tmp_path: Path) -> None:
    source = DATA / FLIT
    shuffled = tmp_path / FLIT
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(shuffled, "w", zipfile.ZIP_STORED) as dst:
        for info in reversed(src.infolist()):
            data = src.read(info)
            if info.filename.endswith("RECORD"):
                data = b"\n".join(reversed(data.splitlines())) + b"\n"
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0)), data)
    assert compare_wheels(source, shuffled).equivalent


def test_one_changed_byte_is_a_difference(tmp_path: Path) -> None:
    changed = tmp_path / FLIT
    with zipfile.ZipFile(DATA / FLIT) as src, zipfile.ZipFile(changed, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "flit_core/__init__.py":
                data = data.replace(b"3.12.0", b"3.12.1")
            dst.writestr(info, data)
    comparison = compare_wheels(DATA / FLIT, changed)
    assert [d.name for d in comparison.differences] == ["flit_core/__init__.py"]


def test_equivalence_statement_matches_its_schema(built_workspace: Path) -> None:
    comparison = compare_wheels(DATA / PACKAGING, built_workspace / "wheels" / PACKAGING)
    statement = equivalence_statement(
        comparison,
        rebuild_sha256="a" * 64,
        reference_sha256="b" * 64,
        role=ROLE_SEED,
        tool_version="0",
        compared_on="2026-01-01T00:00:00Z",
    )
    import jsonschema  # not at collection: where rfc3987-syntax is installed that takes a second

    jsonschema.validate(statement["predicate"], SCHEMA)
    assert statement["predicate"]["equivalent"] is False
