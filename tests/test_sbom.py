"""CycloneDX SBOM of a workspace: schema validity, formulation chains, hashes, attestation."""

from __future__ import annotations

import importlib.util
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from fromsource.attest import dsse
from fromsource.attest.keys import KeyPair, load_public_key, load_signer
from fromsource.cli import main
from fromsource.fileutil import sha256_file
from fromsource.sbom import SBOM_PREDICATE, SbomOptions, build_sbom, runtime_graph, validate
from fromsource.wheelstore import read_wheel_info
from fromsource.workspace import Workspace

PACKAGING = "packaging-24.2-py3-none-any.whl"
FLIT = "flit_core-3.12.0-py3-none-any.whl"


def _run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args])


def _sbom(workspace: Path, out: Path, *extra: str | Path) -> dict[str, Any]:
    result = _run("sbom", "-w", workspace, "-o", out, "--validate", *extra)
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


@pytest.fixture(scope="module")
def bom_path(built_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sbom") / "bom.cdx.json"
    _sbom(built_workspace, out)
    return out


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


# ---- what a consumer holding only the SBOM can do


def _follow_to_leaves(bom: dict[str, Any]) -> dict[str, set[str]]:
    """For each shipped wheel, the components its formulation chain ends at (JSON only)."""
    components = {c["bom-ref"]: c for c in bom["components"]}
    props = {ref: {p["name"]: p["value"] for p in c.get("properties", [])} for ref, c in components.items()}
    tasks = [t for f in bom["formulation"] for w in f["workflows"] for t in w["tasks"]]
    producer: dict[str, dict[str, Any]] = {}
    for task in tasks:
        for output in task["outputs"]:
            if "ref" in output.get("resource", {}):
                producer[output["resource"]["ref"]] = task
    leaves: dict[str, set[str]] = {}
    for ref, p in props.items():
        if p["fromsource:kind"] != "wheel" or p["fromsource:shipped"] != "true":
            continue
        found: set[str] = set()
        stack, seen = [ref], set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            assert current in components, f"{current} is referenced but not a component"
            if "true" in (props[current].get("fromsource:seed"), props[current].get("fromsource:external")):
                found.add(current)
                continue
            if props[current]["fromsource:kind"] == "sdist":
                found.add(current)
                continue
            assert current in producer, f"{current} is neither built, an sdist nor a seed"
            stack.extend(i["resource"]["ref"] for i in producer[current]["inputs"])
        leaves[ref] = found
    return leaves


def _leaf_kinds(bom: dict[str, Any], refs: set[str]) -> set[str]:
    kinds = set()
    for component in bom["components"]:
        if component["bom-ref"] in refs:
            p = {x["name"]: x["value"] for x in component["properties"]}
            marks = [m for m in ("seed", "external") if p.get(f"fromsource:{m}") == "true"]
            kinds.add(marks[0] if marks else p["fromsource:kind"])
    return kinds


def test_sbom_validates_against_cyclonedx_1_6(bom_path: Path) -> None:
    text = bom_path.read_text()
    assert validate(text) == []
    bom = json.loads(text)
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    assert [t["name"] for t in bom["metadata"]["tools"]["components"]] == ["fromsource"]


def test_formulation_leads_from_every_shipped_wheel_to_sdists_only(bom_path: Path) -> None:
    bom = _load(bom_path)
    leaves = _follow_to_leaves(bom)
    assert len(leaves) == 2
    packaging = next(r for r in leaves if "packaging" in r and r.endswith(".whl"))
    assert leaves[packaging] == {
        "pkg:pypi/packaging@24.2?file_name=packaging-24.2.tar.gz",
        "pkg:pypi/flit-core@3.12.0?file_name=flit_core-3.12.0.tar.gz",
    }
    assert all(_leaf_kinds(bom, refs) == {"sdist"} for refs in leaves.values())


def test_one_task_per_build_with_command_backend_and_order(bom_path: Path) -> None:
    bom = _load(bom_path)
    (workflow,) = bom["formulation"][0]["workflows"]
    tasks = {t["name"]: t for t in workflow["tasks"]}
    assert set(tasks) == {f"build {FLIT}", f"build {PACKAGING}"}
    step = tasks[f"build {PACKAGING}"]["steps"][0]
    assert step["commands"][0]["executed"] == "fromsource build sources/packaging-24.2.tar.gz"
    step_props = {p["name"]: p["value"] for p in step["properties"]}
    assert step_props["fromsource:build-backend"] == "flit_core.buildapi"
    assert step_props["fromsource:requirement"] == "packaging==24.2"
    deps = {d["ref"]: d.get("dependsOn", []) for d in workflow["taskDependencies"]}
    assert deps[tasks[f"build {PACKAGING}"]["bom-ref"]] == [tasks[f"build {FLIT}"]["bom-ref"]]
    inputs = tasks[f"build {PACKAGING}"]["inputs"]
    edge = {p["name"]: p["value"] for p in inputs[1]["properties"]}
    assert edge["fromsource:edge"] == "build-system"


def test_attestation_references_match_the_files(bom_path: Path, built_workspace: Path) -> None:
    bom = _load(bom_path)
    checked = 0
    for component in bom["components"]:
        if component["type"] != "library":  # the wheels
            continue
        refs = [r for r in component["externalReferences"] if r["type"] == "attestation"]
        assert len(refs) == 1, component["bom-ref"]
        target = (bom_path.parent / refs[0]["url"]).resolve()
        assert (
            target
            == (
                built_workspace / "attestations" / f"{component['purl'].split('file_name=')[1]}.intoto.jsonl"
            ).resolve()
        )
        assert refs[0]["hashes"] == [{"alg": "SHA-256", "content": sha256_file(target)}]
        checked += 1
    assert checked == 2


def test_purls_and_hashes_of_wheels_match_the_files(bom_path: Path, built_workspace: Path) -> None:
    bom = _load(bom_path)
    wheels = {c["purl"]: c for c in bom["components"] if c["type"] == "library"}
    for name, purl in [
        (PACKAGING, f"pkg:pypi/packaging@24.2?file_name={PACKAGING}"),
        (FLIT, f"pkg:pypi/flit-core@3.12.0?file_name={FLIT}"),
    ]:
        assert wheels[purl]["hashes"] == [
            {"alg": "SHA-256", "content": sha256_file(built_workspace / "wheels" / name)}
        ]
    sdists = [c for c in bom["components"] if c["type"] == "file"]
    for sdist in sdists:
        file_name = sdist["purl"].split("file_name=")[1]
        assert sdist["hashes"][0]["content"] == sha256_file(built_workspace / "sources" / file_name)


def test_runtime_dependencies_resolve_markers_and_extras(tmp_path: Path) -> None:
    def wheel(name: str, *requires: str) -> Path:
        path = tmp_path / f"{name}-1.0-py3-none-any.whl"
        meta = "".join(f"Requires-Dist: {r}\n" for r in requires)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(
                f"{name}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n{meta}"
            )
        return path

    infos = [
        read_wheel_info(p)
        for p in (
            wheel("app", "lib[fast]>=1", "old; python_version < '3'", "missing>=2"),
            wheel("lib", "speedup; extra == 'fast'", "slow; extra == 'slow'"),
            wheel("speedup"),
            wheel("old"),
            wheel("slow"),
        )
    ]
    edges, unresolved = runtime_graph(infos[:1], infos)
    names = {p.name.split("-")[0]: {t.name.split("-")[0] for t in ts} for p, ts in edges.items()}
    assert names == {"app": {"lib"}, "lib": {"speedup"}, "speedup": set()}
    assert unresolved == {infos[0].path: {"missing>=2"}}


def test_only_named_wheels_are_shipped_and_the_chain_is_kept(built_workspace: Path, tmp_path: Path) -> None:
    bom = _sbom(built_workspace, tmp_path / "bom.json", built_workspace / "wheels" / PACKAGING)
    shipped = {
        c["name"]: {p["name"]: p["value"] for p in c["properties"]}["fromsource:shipped"]
        for c in bom["components"]
        if c["type"] == "library"
    }
    assert shipped == {"packaging": "true", "flit-core": "false"}
    assert len(bom["formulation"][0]["workflows"][0]["tasks"]) == 2


def test_reproducible_output_is_byte_identical(
    built_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    _sbom(built_workspace, first, "--reproducible")
    _sbom(built_workspace, second, "--reproducible")
    assert first.read_bytes() == second.read_bytes()
    assert _load(first)["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"


def test_attest_envelope_verifies_and_names_the_wheels(
    built_workspace: Path, tmp_path: Path, keypair: KeyPair
) -> None:
    out = tmp_path / "bom.cdx.json"
    bom = _sbom(built_workspace, out, "--attest", "--key", keypair.private_path)
    (envelope,) = dsse.parse_envelopes((tmp_path / "bom.cdx.json.intoto.jsonl").read_bytes(), "sbom")
    verified = dsse.verify(envelope, [load_public_key(keypair.public_path)])
    statement = verified.statement
    assert statement["predicateType"] == SBOM_PREDICATE
    assert statement["predicate"] == bom
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        name: sha256_file(built_workspace / "wheels" / name) for name in (FLIT, PACKAGING)
    }


def test_trusted_key_verifies_chains_first(built_workspace: Path, tmp_path: Path, keypair: KeyPair) -> None:
    _sbom(built_workspace, tmp_path / "ok.json", "--trusted-key", keypair.public_path)
    other = tmp_path / "other"
    from fromsource.attest.keys import generate_keypair

    stranger = generate_keypair(other)
    result = _run(
        "sbom", "-w", built_workspace, "-o", tmp_path / "bad.json", "--trusted-key", stranger.public_path
    )
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "bad.json").exists()


# ---- seeds


def _resign(attestation: Path, keypair: KeyPair, change: Callable[[dict[str, Any]], object]) -> None:
    envelope = dsse.parse_envelopes(attestation.read_bytes(), "x")[0]
    statement = json.loads(envelope.payload)
    change(statement)
    attestation.write_bytes(dsse.sign(statement, load_signer(keypair.private_path)))


def test_seed_marked_by_provenance_is_a_leaf_with_evidence(
    workspace_copy: Path, tmp_path: Path, keypair: KeyPair
) -> None:
    ws = Workspace(workspace_copy)

    def mark_seed(statement: dict[str, Any]) -> None:
        for dep in statement["predicate"]["buildDefinition"]["resolvedDependencies"]:
            if dep["name"] == FLIT:
                dep["annotations"]["seed"] = True

    _resign(ws.attestation_for(PACKAGING), keypair, mark_seed)
    ws.seeds.mkdir(exist_ok=True)
    shutil.copy(ws.attestation_for(FLIT), ws.seeds / f"{FLIT}.intoto.jsonl")
    bom = _sbom(workspace_copy, tmp_path / "bom.json", ws.wheels / PACKAGING)
    leaves = _follow_to_leaves(bom)
    (packaging_leaves,) = leaves.values()
    assert _leaf_kinds(bom, packaging_leaves) == {"sdist", "seed"}
    seed = next(c for c in bom["components"] if c["name"] == "flit-core" and c["type"] == "library")
    props = {p["name"]: p["value"] for p in seed["properties"]}
    assert props["fromsource:seed"] == "true"
    assert props["fromsource:seed-evidence"].startswith("https://slsa.dev/provenance/v1 ")
    evidence = [r for r in seed["externalReferences"] if r["type"] == "attestation"]
    for ref in evidence:
        path = (tmp_path / ref["url"]).resolve()
        assert ref["hashes"][0]["content"] == sha256_file(path)
    assert {(tmp_path / r["url"]).resolve() for r in evidence} == {
        (ws.seeds / f"{FLIT}.intoto.jsonl").resolve(),
        ws.attestation_for(FLIT).resolve(),
    }


def test_wheel_in_seeds_without_build_attestation_is_a_seed(workspace_copy: Path, tmp_path: Path) -> None:
    ws = Workspace(workspace_copy)
    ws.seeds.mkdir(exist_ok=True)
    (ws.wheels / FLIT).rename(ws.seeds / FLIT)
    ws.attestation_for(FLIT).rename(ws.seeds / f"{FLIT}.intoto.jsonl")
    bom = _sbom(workspace_copy, tmp_path / "bom.json")
    (leaves,) = _follow_to_leaves(bom).values()
    assert _leaf_kinds(bom, leaves) == {"sdist", "seed"}


# ---- bad input


def test_missing_workspace_exits_2(tmp_path: Path) -> None:
    result = _run("sbom", "-w", tmp_path / "nope", "-o", tmp_path / "bom.json")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_workspace_without_wheels_exits_2(tmp_path: Path) -> None:
    Workspace(tmp_path / "w").create()
    result = _run("sbom", "-w", tmp_path / "w", "-o", tmp_path / "bom.json")
    assert result.exit_code == 2
    assert "no wheels" in result.output


def test_unreadable_attestation_exits_2_naming_it(workspace_copy: Path, tmp_path: Path) -> None:
    Workspace(workspace_copy).attestation_for(FLIT).write_text("not json\n")
    result = _run("sbom", "-w", workspace_copy, "-o", tmp_path / "bom.json")
    assert result.exit_code == 2, result.output
    assert f"{FLIT}.intoto.jsonl" in result.output
    assert "not a DSSE envelope" in result.output
    assert not (tmp_path / "bom.json").exists()


def test_statement_the_reader_does_not_understand_exits_2_with_its_path(
    workspace_copy: Path, tmp_path: Path, keypair: KeyPair
) -> None:
    # Signed by the builder key, but with a dependency kind nobody defined: never skipped.
    import base64

    path = Workspace(workspace_copy).attestation_for(PACKAGING)
    statement = json.loads(base64.b64decode(json.loads(path.read_bytes())["payload"]))
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    deps[1]["annotations"]["kind"] = "plugin"
    path.write_bytes(dsse.sign(statement, load_signer(keypair.private_path)))
    result = _run("sbom", "-w", workspace_copy, "-o", tmp_path / "bom.json")
    assert result.exit_code == 2, result.output
    assert "provenance is malformed" in result.output
    assert "$.predicate.buildDefinition.resolvedDependencies[1].annotations.kind" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "bom.json").exists()


def test_missing_attestation_exits_2(workspace_copy: Path, tmp_path: Path) -> None:
    Workspace(workspace_copy).attestation_for(PACKAGING).unlink()
    result = _run("sbom", "-w", workspace_copy, "-o", tmp_path / "bom.json")
    assert result.exit_code == 2
    assert f"{PACKAGING} has no attestation" in result.output


def test_library_raises_instead_of_printing(tmp_path: Path) -> None:
    from fromsource.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        build_sbom(Workspace(tmp_path / "none"), [], SbomOptions(relative_to=tmp_path))


def test_validate_reports_every_error(bom_path: Path) -> None:
    bom = _load(bom_path)
    bom["components"][0]["hashes"][0]["alg"] = "sha256"
    bom["formulation"][0]["workflows"][0]["tasks"][0]["taskTypes"] = ["compile"]
    problems = validate(json.dumps(bom))
    assert len(problems) == 2
    bom = _load(bom_path)
    bom["formulation"][0]["workflows"][0]["tasks"][0]["inputs"][0]["resource"]["ref"] = "ghost"
    assert validate(json.dumps(bom)) == ["reference 'ghost' names no bom-ref in the document"]


@pytest.mark.parametrize(
    ("iri", "valid"),
    [
        ("https://example.org/a/b?c=d#e", True),
        ("file:///tmp/w/wheels/demo-1.0-py3-none-any.whl", True),
        ("../relative/path", True),
        ("#fragment", True),
        ("", True),
        ("http://[::1]:8080/x", True),
        ("https://例え.テスト/パス?名=値", True),  # non-ASCII where RFC 3987 allows it
        ("https://x.test/?q=\ue000", True),  # a private-use character in the query...
        ("https://x.test/\ue000", False),  # ...but not in the path
        ("https://x.test/?q#\ue000", False),  # ...nor in the fragment
        ("https://x.test/a b", False),
        ("https://x.test/%zz", False),
        ("https://x.test/a<b>", False),
        ("https://x.test/\u202egnp.exe", False),  # a bidirectional override
        ("https://x.test/\ufffe", False),  # a noncharacter
        ("ht tp://x", False),
    ],
)
def test_iri_references_are_checked_as_rfc_3987_writes_them(iri: str, valid: bool) -> None:
    from fromsource.sbom.validate import is_iri_reference

    assert is_iri_reference(iri) is valid


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, 1.0, 2.5, -1.0])
    | st.text("ab", max_size=2)
)
JSON_ITEMS = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("ab", max_size=2), inner, max_size=3),
    max_leaves=6,
)


@given(st.lists(JSON_ITEMS, max_size=6))
def test_unique_items_are_judged_as_jsonschema_judges_them(items: list[Any]) -> None:
    from jsonschema._utils import uniq  # jsonschema's own pairwise check, as the oracle

    from fromsource.sbom.validate import first_repeat

    assert (first_repeat(items) is None) == uniq(items)


def test_a_repeated_component_is_named_by_its_indexes(bom_path: Path) -> None:
    bom = _load(bom_path)
    bom["components"].append(bom["components"][1])
    last = len(bom["components"]) - 1
    assert validate(json.dumps(bom)) == [
        f"components: items 1 and {last} are equal in an array of unique items"
    ]


def test_a_bad_url_or_timestamp_is_reported_where_it_is(bom_path: Path) -> None:
    bom = _load(bom_path)
    with_url = next(i for i, c in enumerate(bom["components"]) if c.get("externalReferences"))
    bom["components"][with_url]["externalReferences"][0]["url"] = "file:///a b"
    bom["metadata"]["timestamp"] = "yesterday"
    problems = validate(json.dumps(bom))
    assert problems == [
        "metadata/timestamp: 'yesterday' is not a 'date-time'",
        f"components/{with_url}/externalReferences/0/url: 'file:///a b' is not valid under any of the "
        "given schemas",
    ]


# ---- a real bootstrap


def _bootstrap_available() -> bool:
    try:
        return importlib.util.find_spec("fromsource.cli.bootstrap_cmd") is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.network
@pytest.mark.skipif(not _bootstrap_available(), reason="fromsource bootstrap is not written yet")
def test_sbom_of_requests_bootstrap_validates(tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = _run("bootstrap", "requests==2.32.3", "-w", work)
    assert result.exit_code == 0, result.output
    out = tmp_path / "bom.cdx.json"
    bom = _sbom(work, out)
    leaves = _follow_to_leaves(bom)
    assert any("requests" in ref for ref in leaves)
    assert all(_leaf_kinds(bom, refs) <= {"sdist", "seed"} for refs in leaves.values())
    requests = next(c for c in bom["components"] if c["type"] == "library" and c["name"] == "requests")
    deps = next(d for d in bom["dependencies"] if d["ref"] == requests["bom-ref"])
    assert {ref.split("@")[0] for ref in deps["dependsOn"]} >= {
        "pkg:pypi/charset-normalizer",
        "pkg:pypi/idna",
        "pkg:pypi/urllib3",
        "pkg:pypi/certifi",
    }
    for component in bom["components"]:
        for ref in component.get("externalReferences", []):
            if ref["type"] == "attestation":
                assert ref["hashes"][0]["content"] == sha256_file(tmp_path / ref["url"])


def test_policy_external_is_a_trust_base_leaf(workspace_copy: Path, tmp_path: Path, keypair: KeyPair) -> None:
    ws = Workspace(workspace_copy)
    flit_sha = sha256_file(ws.wheels / FLIT)
    ws.attestation_for(FLIT).unlink()  # an external has no from-source build
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[trust]\nbuilder_keys = ["{keypair.public_path}"]\n'
        f'[[externals.wheels]]\nfile = "{FLIT}"\nsha256 = "{flit_sha}"\n'
    )
    bom = _sbom(workspace_copy, tmp_path / "bom.json", ws.wheels / PACKAGING, "--policy", policy)
    flit = next(c for c in bom["components"] if c["name"] == "flit-core" and c["type"] == "library")
    props = {p["name"]: p["value"] for p in flit["properties"]}
    assert props["fromsource:external"] == "true"
    assert "named by sha256" in props["fromsource:external-evidence"]
    (leaves,) = _follow_to_leaves(bom).values()
    assert _leaf_kinds(bom, leaves) == {"sdist", "external"}
    assert [t["name"] for t in bom["formulation"][0]["workflows"][0]["tasks"]] == [f"build {PACKAGING}"]
