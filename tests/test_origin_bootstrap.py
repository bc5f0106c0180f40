"""[sources].require_origin: bootstrap checks origin before building; verify and the SBOM show it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from bootstrap_helpers import bootstrap_argv, project
from fromsource.attest.keys import generate_keypair
from fromsource.cli import main
from origin_helpers import git, retar, upstream_repo


def _policy(path: Path, builder_pub: Path, repo: Path) -> Path:
    path.write_text(
        "version = 1\n"
        f"[trust]\nbuilder_keys = [{json.dumps(str(builder_pub))}]\n"
        '[sources]\nrequire_origin = ["App"]\n'
        f"[sources.repositories]\napp = {json.dumps(repo.name)}\n"
    )  # relative to the policy
    return path


def _bootstrap(index: Path, ws: Path, policy: Path) -> Result:
    return CliRunner().invoke(
        main,
        bootstrap_argv(index, ws, "app", "--policy", str(policy), jobs=1, as_json=False),
    )


def test_require_origin_stops_a_tampered_sdist_and_lets_the_clean_one_through(tmp_path: Path) -> None:
    clean = project(tmp_path / "index", "app")
    repo = upstream_repo(clean, tmp_path / "app-repo", tags=["v1.0"])
    commit = git(repo, "rev-parse", "v1.0^{commit}").strip()

    # Tampered: the xz pattern, a file only the tarball has.
    (tmp_path / "bad-index").mkdir()
    tampered = retar(
        clean,
        tmp_path / "bad-index" / clean.name,
        {"build-aux/build-to-host.m4": b"AC_DEFUN([gl_BUILD_TO_HOST], [eval $x])\n"},
    )
    bad_ws = tmp_path / "bad-ws"
    keys = generate_keypair(bad_ws / "keys")
    policy = _policy(tmp_path / "policy.toml", keys.public_path, repo)
    result = _bootstrap(tampered.parent, bad_ws, policy)
    assert result.exit_code == 1, result.output
    assert "app-1.0.tar.gz does not match" in result.stderr
    assert "build-aux/build-to-host.m4: not-in-tree: code the tagged tree lacks" in result.stderr
    assert list((bad_ws / "wheels").glob("*.whl")) == []
    assert list((bad_ws / "builds").iterdir()) == []  # nothing was even unpacked for a build
    assert not list((bad_ws / "attestations").glob("*.origin.intoto.jsonl"))

    # Clean: checked, attested, built.
    ws = tmp_path / "ws"
    keys = generate_keypair(ws / "keys")
    policy = _policy(tmp_path / "policy.toml", keys.public_path, repo)
    result = _bootstrap(clean.parent, ws, policy)
    assert result.exit_code == 0, result.output
    attestation = ws / "attestations" / "app-1.0.tar.gz.origin.intoto.jsonl"
    assert attestation.is_file()
    wheel = next((ws / "wheels").glob("app-1.0-*.whl"))

    # verify shows the origin on the sdist node.
    verified = CliRunner().invoke(
        main, ["verify", str(wheel), "-w", str(ws), "--policy", str(policy), "--json"]
    )
    assert verified.exit_code == 0, verified.output
    sdist_node = json.loads(verified.stdout)["wheels"][0]["children"][0]
    assert sdist_node["kind"] == "sdist"
    assert sdist_node["evidence"] == [f"sdist matches {repo} @ v1.0, commit {commit[:12]}"]
    human = CliRunner().invoke(main, ["verify", str(wheel), "-w", str(ws), "--policy", str(policy)])
    assert "sdist app-1.0.tar.gz" in human.stdout and "sdist matches" in human.stdout  # cropped at 80

    # Without the attestation, the policy's requirement fails verification.
    moved = attestation.with_suffix(".moved")
    attestation.rename(moved)
    missing = CliRunner().invoke(main, ["verify", str(wheel), "-w", str(ws), "--policy", str(policy)])
    assert missing.exit_code == 1 and "[sources].require_origin" in missing.stdout
    moved.rename(attestation)

    # The SBOM carries the repository and commit, and the attestation.
    bom_path = tmp_path / "bom.cdx.json"
    sbom = CliRunner().invoke(main, ["sbom", str(wheel), "-w", str(ws), "-o", str(bom_path), "--validate"])
    assert sbom.exit_code == 0, sbom.output
    bom = json.loads(bom_path.read_text())
    sdist = next(c for c in bom["components"] if c["name"] == "app" and c["type"] == "file")
    refs = {r["type"]: r for r in sdist["externalReferences"] if r["type"] in ("vcs", "attestation")}
    assert refs["vcs"]["url"] == repo.as_uri()
    assert refs["vcs"]["comment"] == f"commit {commit} (v1.0)"
    assert refs["attestation"]["url"].endswith("app-1.0.tar.gz.origin.intoto.jsonl")
    props = {p["name"].split(":")[-1]: p["value"] for p in sdist["properties"]}
    assert props["origin-commit"] == commit

    # A re-run reuses the signed claim instead of fetching again; the repository may be gone.
    (repo / ".git").rename(repo / "git-gone")
    again = _bootstrap(clean.parent, ws, policy)
    assert again.exit_code == 0, again.output

    # A signed claim that the sdist does NOT match (checked against an older tag lacking a
    # file) replaces the good one: verify fails on it.
    (repo / "git-gone").rename(repo / ".git")
    git(repo, "rm", "-q", "tiny.json")
    git(repo, "commit", "-q", "-m", "before tiny.json")
    git(repo, "tag", "v0.9")
    checked = CliRunner().invoke(
        main,
        [
            "origin",
            str(clean),
            "--repo",
            str(repo),
            "--ref",
            "v0.9",
            "--key",
            str(ws / "keys" / "builder.key"),
            "-w",
            str(ws),
        ],
    )
    assert checked.exit_code == 1 and "tiny.json" in checked.stdout
    failed = CliRunner().invoke(
        main, ["verify", str(wheel), "-w", str(ws), "--json", "--trusted-key", str(keys.public_path)]
    )
    assert failed.exit_code == 1
    problems = json.loads(failed.stdout)["problems"]
    assert problems == [
        "app-1.0.tar.gz: its signed origin check found: "
        "tiny.json: not-in-tree: the tagged tree lacks this file"
    ]
