"""Source seeds: assembling a wheel from an sdist's own files, its refusals, its evidence."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import DATA
from fromsource.archives import check_wheel_record, iter_members
from fromsource.attest import dsse
from fromsource.attest.keys import KeyPair, generate_keypair, load_signer
from fromsource.attest.source_seed import SourceSeedClaim, source_seed_statement
from fromsource.cli import main
from fromsource.compare import compare_wheels
from fromsource.errors import StatementError
from fromsource.policy import load_policy
from fromsource.seedassembly import Placement, assemble
from fromsource.seeds import check_seed
from fromsource.seedstore import SeedStore
from fromsource.workspace import Workspace

SCHEMA = json.loads((Path(__file__).parent.parent / "attestations" / "source-seed.schema.json").read_text())
COHERENT_SDIST = DATA / "coherent_build-0.19.1.tar.gz"
COHERENT_WHEEL = DATA / "coherent_build-0.19.1-py3-none-any.whl"
COHERENT_RECIPE = [
    "--layout",
    ".=coherent/build",
    "--exclude",
    "tests/*",
    "--exclude",
    "README.md",
    "--exclude",
    "PKG-INFO",
    "--exclude",
    "pyproject.toml",
]
PKG_INFO = "Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: dep\n"


def _sdist(
    directory: Path,
    files: dict[str, str | bytes],
    *,
    name: str = "demo-1.0",
    links: dict[str, str] | None = None,
) -> Path:
    """``name.tar.gz`` holding ``files`` (and symlinks) below the top directory ``name``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{name}/{member}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
        for member, target in (links or {}).items():
            info = tarfile.TarInfo(f"{name}/{member}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def _assemble(sdist: Path, ws: Path, key: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["seed", "assemble", str(sdist), *args, "--key", str(key), "-w", str(ws), "--json"]
    )


@pytest.fixture(scope="module")
def assembler(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_keypair(tmp_path_factory.mktemp("assembler"), "assembler")


# ------------------------------------------------------------------ real sdists


def test_coherent_build_assembles_to_the_published_files_byte_for_byte(
    tmp_path: Path, assembler: KeyPair
) -> None:
    result = _assemble(COHERENT_SDIST, tmp_path / "ws", assembler.private_path, *COHERENT_RECIPE)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    seed = Path(report["seed"])
    assert seed.name == COHERENT_WHEEL.name and report["inferred"] is False
    check_wheel_record(seed)
    sdist = {m.name.split("/", 1)[1]: m.data for m in iter_members(COHERENT_SDIST)}
    published = {m.name: m.data for m in iter_members(COHERENT_WHEEL)}
    assembled = {m.name: m.data for m in iter_members(seed)}
    for entry in report["files"]:  # every placed file is the sdist's, byte for byte
        assert assembled[entry["wheel"]] == sdist[entry["sdist"]]
    assert assembled["coherent_build-0.19.1.dist-info/METADATA"] == sdist["PKG-INFO"]
    # The published wheel holds exactly these files; only its WHEEL (generator) and RECORD differ.
    differences = {d.name for d in compare_wheels(COHERENT_WHEEL, seed).differences}
    assert differences == {"coherent_build-0.19.1.dist-info/WHEEL", "coherent_build-0.19.1.dist-info/RECORD"}
    assert set(published) == set(assembled)
    # The sdist is kept beside the seed, to re-assemble it from.
    assert (seed.parent / COHERENT_SDIST.name).read_bytes() == COHERENT_SDIST.read_bytes()


def test_assembling_twice_gives_identical_bytes(tmp_path: Path, assembler: KeyPair) -> None:
    first = _assemble(COHERENT_SDIST, tmp_path / "one", assembler.private_path, *COHERENT_RECIPE)
    second = _assemble(COHERENT_SDIST, tmp_path / "two", assembler.private_path, *COHERENT_RECIPE)
    assert first.exit_code == second.exit_code == 0
    one, two = (Path(json.loads(r.stdout)["seed"]) for r in (first, second))
    assert one.read_bytes() == two.read_bytes()
    again = _assemble(COHERENT_SDIST, tmp_path / "one", assembler.private_path, *COHERENT_RECIPE)
    assert again.exit_code == 0, again.output  # same workspace: same seed, one statement
    assert Path(json.loads(again.stdout)["seed"]).read_bytes() == one.read_bytes()
    assert len((one.parent / f"{one.name}.intoto.jsonl").read_bytes().splitlines()) == 1
    with zipfile.ZipFile(one) as archive:  # the documented fixed zip metadata
        infos = archive.infolist()
    assert {(i.date_time, i.compress_type, i.external_attr >> 16) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), zipfile.ZIP_STORED, 0o100644)
    }
    names = [i.filename for i in infos]
    assert names[-3:] == [f"coherent_build-0.19.1.dist-info/{n}" for n in ("METADATA", "WHEEL", "RECORD")]
    assert names[:-3] == sorted(names[:-3])


@pytest.mark.parametrize(
    ("sdist", "layout"),
    [
        ("packaging-24.2.tar.gz", "src/packaging=packaging"),
        ("flit_core-3.12.0.tar.gz", "flit_core=flit_core"),
    ],
)
def test_layout_is_inferred_where_unambiguous(
    sdist: str, layout: str, tmp_path: Path, assembler: KeyPair
) -> None:
    result = _assemble(DATA / sdist, tmp_path / "ws", assembler.private_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["inferred"] is True and report["layout"] == [layout]
    check_wheel_record(Path(report["seed"]))


def test_flit_core_source_seed_has_the_published_wheels_files(tmp_path: Path) -> None:
    seed = assemble(DATA / "flit_core-3.12.0.tar.gz")
    path = tmp_path / seed.filename
    path.write_bytes(seed.data)
    differences = {
        d.name for d in compare_wheels(DATA / "flit_core-3.12.0-py3-none-any.whl", path).differences
    }
    assert differences == {"flit_core-3.12.0.dist-info/WHEEL", "flit_core-3.12.0.dist-info/RECORD"}


def test_license_files_named_by_pkg_info_go_to_dist_info_licenses(tmp_path: Path) -> None:
    sdist = _sdist(
        tmp_path,
        {
            "PKG-INFO": "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nLicense-File: LICENSE\n",
            "LICENSE": "MIT\n",
            "demo/__init__.py": "x = 1\n",
        },
    )
    seed = assemble(sdist)
    with zipfile.ZipFile(io.BytesIO(seed.data)) as archive:
        assert archive.read("demo-1.0.dist-info/licenses/LICENSE") == b"MIT\n"
        assert "LICENSE" not in archive.namelist()


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("files", "args", "reason"),
    [
        ({"demo/__init__.py": ""}, [], "no PKG-INFO"),
        (
            {"PKG-INFO": "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n", "demo/__init__.py": ""},
            [],
            "Metadata-Version 2.1; before 2.2",
        ),
        (
            {"PKG-INFO": PKG_INFO + "Dynamic: Requires-Dist\n", "demo/__init__.py": ""},
            [],
            "marks Requires-Dist as Dynamic",
        ),
        (
            {"PKG-INFO": "Metadata-Version: 2.2\nName: other\nVersion: 1.0\n", "other/__init__.py": ""},
            [],
            "PKG-INFO says other 1.0",
        ),
        (
            {"PKG-INFO": PKG_INFO, "src/demo/__init__.py": "", "demo/__init__.py": ""},
            [],
            "cannot infer the layout",
        ),
        ({"PKG-INFO": PKG_INFO, "lib/x.py": ""}, [], "--layout SRC=DEST is needed"),
        ({"PKG-INFO": PKG_INFO, "demo/__init__.py": ""}, ["--layout", "nothere=demo"], "maps nothing"),
        (
            {"PKG-INFO": PKG_INFO, "demo/__init__.py": ""},
            ["--layout", "demo=demo", "--exclude", "demo/*"],
            "maps nothing",
        ),
        (
            {"PKG-INFO": PKG_INFO, "a/m.py": "1", "b/m.py": "2"},
            ["--layout", "a=demo", "--layout", "b=demo"],
            "a/m.py and b/m.py both map to demo/m.py",
        ),
        ({"PKG-INFO": PKG_INFO, "demo/__init__.py": ""}, ["--layout", "demo=../demo"], "contains '..'"),
        ({"PKG-INFO": PKG_INFO, "demo/__init__.py": ""}, ["--layout", "demo=/usr/lib/demo"], "is absolute"),
        ({"PKG-INFO": PKG_INFO, "demo/__init__.py": ""}, ["--layout", "../x=demo"], "contains '..'"),
        ({"PKG-INFO": PKG_INFO, "demo/__init__.py": ""}, ["--layout", "demo"], "expected SRC=DEST"),
        (
            {"PKG-INFO": PKG_INFO, "demo/__init__.py": ""},
            ["--layout", "demo=demo-1.0.dist-info"],
            "inside the wheel's metadata",
        ),
        (
            {
                "PKG-INFO": PKG_INFO,
                "demo/__init__.py": "",
                "demo/_speed.so": b"\x7fELF\x02\x01\x01" + bytes(64),
            },
            [],
            "demo/_speed.so is compiled",
        ),
        ({"PKG-INFO": PKG_INFO, "demo/__init__.py": ""}, ["--exclude", "docs/*"], "matches no file"),
    ],
)
def test_refusals_name_their_reason(
    files: dict[str, str | bytes], args: list[str], reason: str, tmp_path: Path, assembler: KeyPair
) -> None:
    result = _assemble(_sdist(tmp_path / "in", files), tmp_path / "ws", assembler.private_path, *args)
    assert result.exit_code == 2, result.output
    assert reason in result.stderr.replace("\n", " "), result.stderr
    assert "Traceback" not in result.output
    assert not list((tmp_path / "ws" / "seeds").glob("*.whl"))


def test_a_link_in_what_is_placed_is_refused(tmp_path: Path, assembler: KeyPair) -> None:
    sdist = _sdist(
        tmp_path / "in",
        {"PKG-INFO": PKG_INFO, "demo/__init__.py": "", "other.py": "x"},
        links={"demo/alias.py": "../other.py"},
    )
    result = _assemble(sdist, tmp_path / "ws", assembler.private_path)
    assert result.exit_code == 2
    assert "demo/alias.py is a link" in result.stderr
    excluded = _assemble(sdist, tmp_path / "ws", assembler.private_path, "--exclude", "demo/alias.py")
    assert excluded.exit_code == 0, excluded.output  # left out on purpose: nothing escapes


def test_the_error_for_a_flat_sdist_says_which_layout(tmp_path: Path, assembler: KeyPair) -> None:
    result = _assemble(COHERENT_SDIST, tmp_path / "ws", assembler.private_path)
    assert result.exit_code == 2
    text = result.stderr.replace("\n", " ")
    assert "--layout SRC=DEST is needed" in text
    assert (
        "--layout .=coherent/build --exclude 'tests/*' --exclude README.md --exclude PKG-INFO "
        "--exclude pyproject.toml"
    ) in text


# ------------------------------------------------------------------ the evidence


def _policy(tmp_path: Path, evidence: str = '["source"]') -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(f"version = 1\n[trust]\nbuilder_keys = []\n[seeds]\nevidence = {evidence}\n")
    return path


def test_the_statement_matches_its_schema_and_the_strict_reader(tmp_path: Path, assembler: KeyPair) -> None:
    result = _assemble(COHERENT_SDIST, tmp_path / "ws", assembler.private_path, *COHERENT_RECIPE)
    seed = Path(json.loads(result.stdout)["seed"])
    (line,) = (seed.parent / f"{seed.name}.intoto.jsonl").read_bytes().splitlines()
    statement = json.loads(base64.b64decode(json.loads(line)["payload"]))
    import jsonschema  # not at collection: where rfc3987-syntax is installed that takes a second

    jsonschema.validate(statement["predicate"], SCHEMA)
    claim = SourceSeedClaim.from_statement(statement)
    assert [str(p) for p in claim.layout] == [".=coherent/build"]
    statement["predicate"]["extra"] = 1
    statement["predicate"]["layout"] = [{"source": ".", "destination": "../x"}]
    with pytest.raises(StatementError) as raised:
        SourceSeedClaim.from_statement(statement)
    reasons = raised.value.reasons
    assert any(r.startswith("$.predicate") and "extra" in r for r in reasons), reasons
    assert any(r.startswith("$.predicate.layout[0]") and "'..'" in r for r in reasons), reasons


def test_evidence_is_re_assembled_without_trusting_the_signer(tmp_path: Path, assembler: KeyPair) -> None:
    result = _assemble(COHERENT_SDIST, tmp_path / "ws", assembler.private_path, *COHERENT_RECIPE)
    seed = Path(json.loads(result.stdout)["seed"])
    check = check_seed(seed, load_policy(_policy(tmp_path)))  # the policy knows no key at all
    assert check.accepted, check.problems
    (evidence,) = check.evidence
    assert evidence.kind == "source" and check.origin == "source"
    assert evidence.sdist == (COHERENT_SDIST.name, hashlib.sha256(COHERENT_SDIST.read_bytes()).hexdigest())
    refused = check_seed(seed, load_policy(_policy(tmp_path, '["review"]')))
    assert not refused.accepted
    assert any("source evidence is not accepted by the policy" in p for p in refused.problems)


def test_a_seed_whose_bytes_do_not_re_assemble_is_refused(tmp_path: Path, assembler: KeyPair) -> None:
    """A signed source-seed claim about a wheel that is not what the recipe makes."""
    honest = assemble(
        COHERENT_SDIST,
        [Placement.parse(".=coherent/build")],
        ["tests/*", "README.md", "PKG-INFO", "pyproject.toml"],
    )
    forged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(honest.data)) as source, zipfile.ZipFile(forged, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "coherent/build/backend.py":
                data += b"\nimport os; os.system('true')\n"
            out.writestr(info, data)
    store = SeedStore(Workspace(tmp_path / "ws").create())
    fake = dataclasses.replace(
        honest, data=forged.getvalue(), sha256=hashlib.sha256(forged.getvalue()).hexdigest()
    )
    statement = source_seed_statement(fake, tool_version="0", assembled_on="2026-01-01T00:00:00Z")
    path = store.add_source(fake, dsse.sign(statement, load_signer(assembler.private_path)), COHERENT_SDIST)
    check = check_seed(path, load_policy(_policy(tmp_path)))
    assert not check.accepted
    assert any("the seed's bytes do not re-assemble from its sdist" in p for p in check.problems), (
        check.problems
    )

    # ...and without its sdist it cannot be checked at all.
    (path.parent / COHERENT_SDIST.name).unlink()
    check = check_seed(path, load_policy(_policy(tmp_path)))
    assert any("is not beside the seed" in p for p in check.problems), check.problems


def test_seed_show_names_the_recipe_and_the_policys_decision(tmp_path: Path, assembler: KeyPair) -> None:
    ws = tmp_path / "ws"
    assert _assemble(COHERENT_SDIST, ws, assembler.private_path, *COHERENT_RECIPE).exit_code == 0
    shown = CliRunner().invoke(
        main, ["seed", "show", "coherent.build", "-w", str(ws), "--policy", str(_policy(tmp_path)), "--json"]
    )
    assert shown.exit_code == 0, shown.output
    (seed,) = json.loads(shown.stdout)["seeds"]
    assert seed["source"]["layout"] == [".=coherent/build"]
    assert seed["check"]["accepted"] is True and seed["check"]["origin"] == "source"
