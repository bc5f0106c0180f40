"""Probes: one attacker-controlled input at a time, each through the CLI, each with its reason.

Classes (issue 18): unbounded reads, integrity not required, ambiguous archives, terminal
injection, crashes on depth. Every probe asserts the exit code, the reason in the message,
and that no traceback reached the user. Add new probes here as they are found.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bootstrap_helpers import project
from edge_helpers import (
    answer,
    endless,
    hostile_server,
    no_traceback,
    prepend_entry,
    redirect,
    rename_local_header,
    run_cli,
)
from fromsource.attest.keys import KeyPair
from fromsource.cli import main
from inspect_helpers import tampered

DATA = Path(__file__).parent / "data"
WHEEL = DATA / "idna-3.10-py3-none-any.whl"
SDIST = DATA / "idna-3.10.tar.gz"
MEMORY = 1024 * 1024 * 1024  # address space for the capped runs: far below an unbounded read


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output


def _public_key(tmp_path: Path) -> Path:
    from fromsource.attest.keys import generate_keypair

    return generate_keypair(tmp_path / "keys").public_path


# ------------------------------------------------------------------ unbounded reads


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.pub"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fifo_or_device_as_trusted_key_exits_2_at_once(kind: str, fifo: Path) -> None:
    # In a subprocess with a timeout: a regression would block on the FIFO forever.
    path = str(fifo) if kind == "fifo" else "/dev/zero"
    result = run_cli("verify", str(WHEEL), "--trusted-key", path, memory=MEMORY, timeout=60)
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert ("a FIFO" if kind == "fifo" else "a device") in result.stderr
    assert "not a regular file" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fifo_or_device_as_policy_exits_2_at_once(kind: str, fifo: Path) -> None:
    path = str(fifo) if kind == "fifo" else "/dev/zero"
    result = run_cli("verify", str(WHEEL), "--policy", path, memory=MEMORY, timeout=60)
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert "policy" in result.stderr and "not a regular file" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_fifo_or_device_as_a_policy_key_path_exits_2_at_once(kind: str, fifo: Path, tmp_path: Path) -> None:
    path = str(fifo) if kind == "fifo" else "/dev/zero"
    policy = tmp_path / "policy.toml"
    policy.write_text(f'version = 1\n[trust]\nbuilder_keys = ["{path}"]\n')
    result = run_cli("verify", str(WHEEL), "--policy", str(policy), memory=MEMORY, timeout=60)
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert "[trust].builder_keys[0]" in result.stderr
    assert "not a regular file" in result.stderr


def test_oversized_key_file_is_refused_naming_the_limit(tmp_path: Path) -> None:
    key = tmp_path / "huge.pub"
    key.write_bytes(b"-" * (1024 * 1024))
    result = _invoke("verify", str(WHEEL), "--trusted-key", str(key))
    assert result.exit_code == 2
    assert "larger than 65536 bytes (size limit)" in result.output


def test_never_ending_index_page_stops_at_the_cap(tmp_path: Path) -> None:
    routes = {"/simple/demo/": endless("text/html")}
    with hostile_server(routes) as url:
        result = run_cli(
            "bootstrap", "demo", "--index-url", f"{url}/simple/", "-w", str(tmp_path / "w"), memory=MEMORY
        )
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert "index page larger than the 33554432-byte limit (more arrived)" in result.stderr


def test_declared_oversized_page_is_refused_before_reading(tmp_path: Path) -> None:
    routes = {"/simple/demo/": endless("text/html", declare=1 << 40)}
    with hostile_server(routes) as url:
        result = run_cli(
            "bootstrap",
            "demo",
            "--index-url",
            f"{url}/simple/",
            "-w",
            str(tmp_path / "w"),
            "--max-page-size",
            "1M",
            memory=MEMORY,
        )
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert "1048576-byte limit (it declares 1099511627776 bytes)" in result.stderr


def test_never_ending_download_stops_at_the_cap_and_leaves_nothing(tmp_path: Path) -> None:
    page = b'<a href="/files/demo-1.0.tar.gz#sha256=' + b"0" * 64 + b'">demo-1.0.tar.gz</a>'
    routes = {"/simple/demo/": answer(page), "/files/demo-1.0.tar.gz": endless("application/octet-stream")}
    ws = tmp_path / "w"
    with hostile_server(routes) as url:
        result = run_cli(
            "bootstrap",
            "demo",
            "--index-url",
            f"{url}/simple/",
            "-w",
            str(ws),
            "--max-download-size",
            "8M",
            memory=MEMORY,
        )
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert "download larger than the 8388608-byte limit (more arrived)" in result.stderr
    assert not list((ws / "sources").glob("*")) if (ws / "sources").exists() else True


def test_too_many_files_on_a_page_are_refused() -> None:
    from fromsource.errors import IndexError_
    from fromsource.fetch import FetchRules
    from fromsource.index import SimpleIndex

    links = "".join(
        f'<a href="/f/demo-1.{i}.tar.gz#sha256={"0" * 64}">demo-1.{i}.tar.gz</a>' for i in range(11)
    )
    with (
        hostile_server({"/simple/demo/": answer(links.encode())}) as url,
        SimpleIndex(f"{url}/simple/", rules=FetchRules(max_files_per_page=10)) as index,
        pytest.raises(IndexError_, match=r"lists 11 files \(limit 10 files per page\)"),
    ):
        index.candidates("demo")


def test_redirect_loop_is_a_clear_error(tmp_path: Path) -> None:
    with hostile_server({"/simple/demo/": redirect("/simple/demo/")}) as url:
        result = _invoke("bootstrap", "demo", "--index-url", f"{url}/simple/", "-w", str(tmp_path / "w"))
    _no_traceback(result)
    assert result.exit_code == 2, result.output
    assert "more than 5 redirects" in result.stderr


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/"])
def test_redirect_to_another_scheme_is_refused(tmp_path: Path, target: str) -> None:
    with hostile_server({"/simple/demo/": redirect(target)}) as url:
        result = _invoke("bootstrap", "demo", "--index-url", f"{url}/simple/", "-w", str(tmp_path / "w"))
    _no_traceback(result)
    assert result.exit_code == 2, result.output
    assert "only http(s) URLs with a host are fetched" in result.stderr


def test_plain_http_to_another_host_is_refused_before_connecting(tmp_path: Path) -> None:
    # 192.0.2.0/24 is TEST-NET-1: nothing answers there, so only a refusal is quick.
    result = _invoke(
        "bootstrap", "demo", "--index-url", "http://192.0.2.1/simple/", "-w", str(tmp_path / "w")
    )
    _no_traceback(result)
    assert result.exit_code == 2, result.output
    assert "plain http to 192.0.2.1" in result.stderr
    assert "--allow-unverified-sources" in result.stderr


# -------------------------------------------------------------- integrity required


def _listing(sdist: Path, fragment: str) -> bytes:
    return f'<a href="/files/{sdist.name}{fragment}">{sdist.name}</a>'.encode()


@pytest.mark.parametrize("fragment", ["", "#md5={md5}"])
def test_listing_without_sha256_is_refused(tmp_path: Path, fragment: str) -> None:
    sdist = project(tmp_path / "src", "app")
    md5 = hashlib.md5(sdist.read_bytes()).hexdigest()  # noqa: S324 - what the index offers
    routes = {
        "/simple/app/": answer(_listing(sdist, fragment.format(md5=md5))),
        f"/files/{sdist.name}": answer(sdist.read_bytes(), "application/octet-stream"),
    }
    with hostile_server(routes) as url:
        result = _invoke("bootstrap", "app", "--index-url", f"{url}/simple/", "-w", str(tmp_path / "w"))
    _no_traceback(result)
    assert result.exit_code == 2, result.output
    assert "the index publishes no sha256 for it" in result.stderr


def test_opt_in_builds_records_and_verify_refuses_unless_allowed(tmp_path: Path) -> None:
    sdist = project(tmp_path / "src", "app")
    routes = {
        "/simple/app/": answer(_listing(sdist, "")),
        f"/files/{sdist.name}": answer(sdist.read_bytes(), "application/octet-stream"),
    }
    ws = tmp_path / "w"
    with hostile_server(routes) as url:
        result = _invoke(
            "bootstrap", "app", "--index-url", f"{url}/simple/", "-w", str(ws), "--allow-unverified-sources"
        )
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    wheel = next((ws / "wheels").glob("app-1.0-*.whl"))
    envelope = json.loads((ws / "attestations" / f"{wheel.name}.intoto.jsonl").read_text())
    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))
    sdist_dep = statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]
    assert sdist_dep["annotations"]["kind"] == "sdist"
    assert sdist_dep["annotations"]["unverified"] == "the index publishes no sha256 for it"

    key = ws / "keys" / "builder.pub"
    refused = _invoke("verify", str(wheel), "-w", str(ws), "--trusted-key", str(key))
    assert refused.exit_code == 1
    assert "built without an integrity check" in refused.output
    allowed = _invoke(
        "verify", str(wheel), "-w", str(ws), "--trusted-key", str(key), "--allow-unverified-sources"
    )
    assert allowed.exit_code == 0, allowed.output
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'version = 1\n[trust]\nbuilder_keys = ["{key}"]\n[build]\nallow_unverified_sources = true\n'
    )
    by_policy = _invoke("verify", str(wheel), "-w", str(ws), "--policy", str(policy))
    assert by_policy.exit_code == 0, by_policy.output


# ------------------------------------------------------------- ambiguous archives


def test_prepended_entry_wheel_is_refused_by_inspect(tmp_path: Path) -> None:
    hidden = prepend_entry(WHEEL, tmp_path / "bad", "evil.pth", b"import os; os.system('id')\n")
    result = _invoke("inspect", str(hidden), "--sdist", str(SDIST))
    assert result.exit_code == 2, result.output
    assert "unlisted bytes before the first entry" in result.output, result.output


def test_local_header_disagreeing_with_the_directory_is_refused_by_inspect(tmp_path: Path) -> None:
    bad = rename_local_header(WHEEL, tmp_path / "bad", "idna/core.py", "idna/evil.py")
    result = _invoke("inspect", str(bad), "--sdist", str(SDIST))
    assert result.exit_code == 2, result.output
    assert (
        "local header names 'idna/evil.py' where the central directory names 'idna/core.py'" in result.output
    )


def test_prepended_entry_zip_sdist_is_refused_by_build(tmp_path: Path) -> None:
    tar_sdist = project(tmp_path / "src", "app")
    import tarfile

    zip_sdist = tmp_path / "zsrc" / "app-1.0.zip"
    zip_sdist.parent.mkdir()
    with tarfile.open(tar_sdist) as tar, zipfile.ZipFile(zip_sdist, "w") as out:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                out.writestr(member.name, handle.read())
    hidden = prepend_entry(zip_sdist, tmp_path / "bad", "app-1.0/setup.py", b"import os\n")
    result = _invoke("build", str(hidden), "-w", str(tmp_path / "w"))
    assert result.exit_code == 2, result.output
    assert "unlisted bytes before the first entry" in result.output, result.output


def test_prepended_entry_wheel_is_refused_as_a_build_requirement(tmp_path: Path) -> None:
    from fromsource.errors import ArchiveError
    from fromsource.wheelstore import read_wheel_info

    hidden = prepend_entry(
        DATA / "flit_core-3.12.0-py3-none-any.whl", tmp_path / "bad", "flit_core-3.12.0.pth", b"import os\n"
    )
    with pytest.raises(ArchiveError, match="unlisted bytes before the first entry"):
        read_wheel_info(hidden)


# -------------------------------------------------------------- terminal injection

HOSTILE = "idna/\x1b[2J\x1b[1;1H\x1b[32mreadable\x1b[0m[red]x[/red]\u202e.py"


def test_no_escape_byte_reaches_the_terminal_from_a_member_name(tmp_path: Path) -> None:
    def add(files: dict[str, bytes]) -> None:
        files[HOSTILE] = b"print('hello')\n"

    wheel = tampered(WHEEL, tmp_path / "bad", add)
    result = _invoke("inspect", str(wheel), "--sdist", str(SDIST), "-v")
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "\\x1b[2J\\x1b[1;1H" in result.output  # shown, not obeyed
    assert "[red]x[/red]" in result.output  # printed as typed, not taken as markup
    as_json = _invoke("inspect", str(wheel), "--sdist", str(SDIST), "--json")
    assert "\x1b" not in as_json.output
    assert HOSTILE in _strings(json.loads(as_json.output))  # escaped by JSON, and intact


def _strings(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return set().union(*(_strings(v) for v in items)) if items else set()


def test_no_escape_byte_reaches_the_terminal_from_an_error_message(tmp_path: Path) -> None:
    path = tmp_path / "key\x1b[2J.pub"
    result = _invoke("verify", str(WHEEL), "--trusted-key", str(path))
    assert result.exit_code == 2
    assert "\x1b" not in result.output
    assert "key\\x1b[2J.pub" in result.output


def test_sanitiser_shows_every_control_character() -> None:
    from fromsource.cli._common import clean, safe

    assert safe("a\x1bb\x07c\x9bd\u202ee\tf\ng") == "a\\x1bb\\x07c\\x9bd\\u202ee\\tf\\ng"
    assert safe("line\nnext", multiline=True) == "line\nnext"
    assert safe("plain name 1.0") == "plain name 1.0"
    assert clean("[bold]x") == "\\[bold]x"


# ------------------------------------------------------------------ crashes on depth


def test_nested_toml_policy_exits_2(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\nx = " + "[" * 50_000 + "]" * 50_000 + "\n")
    result = _invoke("verify", str(WHEEL), "--policy", str(policy))
    assert result.exit_code == 2, result.output
    assert "nested too deeply to parse" in result.output


def test_deep_dotted_toml_policy_exits_2(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\n" + ".".join(f"k{i}" for i in range(200)) + " = 1\n")
    result = _invoke("verify", str(WHEEL), "--policy", str(policy))
    assert result.exit_code == 2, result.output
    assert "nested deeper than 64 levels" in result.output


def test_nested_json_graph_exits_2(tmp_path: Path) -> None:
    ws = tmp_path / "w"
    ws.mkdir()
    (ws / "graph.json").write_text("[" * 100_000 + "]" * 100_000)
    result = _invoke("graph", "-w", str(ws))
    assert result.exit_code == 2, result.output
    assert "nested too deeply to parse" in result.output


def test_nested_json_attestation_is_a_verification_failure_not_a_crash(
    workspace_copy: Path, keypair: KeyPair
) -> None:
    wheel = next((workspace_copy / "wheels").glob("packaging-*.whl"))
    attestation = workspace_copy / "attestations" / f"{wheel.name}.intoto.jsonl"
    attestation.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    verify = _invoke(
        "verify", str(wheel), "-w", str(workspace_copy), "--trusted-key", str(keypair.public_path)
    )
    assert verify.exit_code == 1, verify.output
    assert "nested too deeply to parse" in verify.output
    sbom = _invoke("sbom", "-w", str(workspace_copy), "-o", str(workspace_copy / "bom.json"))
    assert sbom.exit_code == 2, sbom.output
    assert "nested too deeply to parse" in sbom.output


def test_bootstrap_rerun_rebuilds_past_a_broken_attestation(tmp_path: Path) -> None:
    index = tmp_path / "index"
    project(index, "app")
    ws = tmp_path / "w"
    args = ["bootstrap", "app", "--find-links", str(index), "--no-index", "-w", str(ws), "--json"]
    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    wheel = next((ws / "wheels").glob("app-1.0-*.whl"))
    (ws / "attestations" / f"{wheel.name}.intoto.jsonl").write_text("[" * 100_000 + "\n")
    again = _invoke(*args)
    assert again.exit_code == 0, again.output
    statuses = {p["name"]: p["status"] for p in json.loads(again.stdout)["packages"]}
    assert statuses["app"] == "built"
    shutil.rmtree(ws)


def _evil_backend_sdist(directory: Path, *, huge_log: bool = False) -> Path:
    """An sdist whose in-tree backend prints escape sequences into the build log and fails.

    With ``huge_log`` the backend first makes its log a sparse 3 GiB file.
    """
    import io
    import tarfile

    backend = (
        "import os, sys\n"
        "def get_requires_for_build_wheel(config_settings=None):\n"
        "    return []\n"
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        + (
            "    sys.stdout.flush()\n    os.ftruncate(1, 3 * 1024**3)\n    os.lseek(1, 0, os.SEEK_END)\n"
            if huge_log
            else ""
        )
        + "    print('\\x1b[2J\\x1b[H\\x1b[32mbuilt evil 1.0 (0.1s)\\x1b[0m [green]ok[/green]')\n"
        "    sys.stdout.flush()\n"
        "    raise SystemExit(1)\n"
    )
    files = {
        "PKG-INFO": "Metadata-Version: 2.2\nName: evil\nVersion: 1.0\n",
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "evilbackend"\n'
        'backend-path = ["."]\n',
        "evilbackend.py": backend,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "evil-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"evil-1.0/{member}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def test_no_escape_byte_reaches_the_terminal_from_a_build_log(tmp_path: Path) -> None:
    sdist = _evil_backend_sdist(tmp_path / "index")
    built = _invoke("build", str(sdist), "-w", str(tmp_path / "w"))
    assert built.exit_code == 3, built.output
    assert "\x1b" not in built.output
    assert "\\x1b[2J\\x1b[H\\x1b[32mbuilt evil 1.0" in built.output
    assert "[green]ok[/green]" in built.output  # the log's text, not rich markup
    boot = _invoke(
        "bootstrap", "evil", "--find-links", str(tmp_path / "index"), "--no-index", "-w", str(tmp_path / "w2")
    )
    assert boot.exit_code == 3, boot.output
    assert "\x1b" not in boot.output
    assert "| \\x1b[2J\\x1b[H\\x1b[32mbuilt evil 1.0" in boot.output


def test_fifo_as_an_attestation_is_a_problem_not_a_hang(workspace_copy: Path, keypair: KeyPair) -> None:
    wheel = next((workspace_copy / "wheels").glob("packaging-*.whl"))
    attestation = workspace_copy / "attestations" / f"{wheel.name}.intoto.jsonl"
    attestation.unlink()
    os.mkfifo(attestation)
    result = run_cli(
        "verify",
        str(wheel),
        "-w",
        str(workspace_copy),
        "--trusted-key",
        str(keypair.public_path),
        timeout=120,
    )
    no_traceback(result)
    assert result.returncode == 1, result.stderr + result.stdout
    assert "no attestation found" in result.stdout  # a FIFO is not taken for a file


def test_fifo_planted_as_a_dependency_wheel_does_not_hang_verify(
    workspace_copy: Path, keypair: KeyPair
) -> None:
    wheel = next((workspace_copy / "wheels").glob("packaging-*.whl"))
    dependency = next((workspace_copy / "wheels").glob("flit_core-*.whl"))
    dependency.unlink()
    os.mkfifo(dependency)
    result = run_cli(
        "verify",
        str(wheel),
        "-w",
        str(workspace_copy),
        "--trusted-key",
        str(keypair.public_path),
        timeout=120,
    )
    no_traceback(result)
    assert result.returncode == 1, result.stderr + result.stdout


def test_device_as_signing_key_or_constraints_exits_2(tmp_path: Path) -> None:
    index = tmp_path / "index"
    sdist = project(index, "app")
    signed = _invoke("build", str(sdist), "-w", str(tmp_path / "w"), "--key", "/dev/zero")
    assert signed.exit_code == 2, signed.output
    assert "private key /dev/zero is a device, not a regular file" in signed.output
    constrained = _invoke(
        "bootstrap",
        "app",
        "--find-links",
        str(index),
        "--no-index",
        "-w",
        str(tmp_path / "w"),
        "--constraint",
        "/dev/zero",
    )
    assert constrained.exit_code == 2, constrained.output
    assert "constraints file /dev/zero is a device" in constrained.output


def test_huge_sparse_attestation_is_refused_after_the_limit(workspace_copy: Path, keypair: KeyPair) -> None:
    wheel = next((workspace_copy / "wheels").glob("packaging-*.whl"))
    attestation = workspace_copy / "attestations" / f"{wheel.name}.intoto.jsonl"
    with attestation.open("r+b") as handle:
        handle.truncate(3 * 1024**3)  # sparse: 3 GiB claimed, nothing on disk
    result = run_cli(
        "verify",
        str(wheel),
        "-w",
        str(workspace_copy),
        "--trusted-key",
        str(keypair.public_path),
        memory=MEMORY,
    )
    no_traceback(result)
    assert result.returncode == 1, result.stderr
    assert "attestation" in result.stdout
    assert "larger than 16777216 bytes (size limit)" in result.stdout


def test_huge_sparse_policy_is_refused_after_the_limit(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    with policy.open("wb") as handle:
        handle.truncate(3 * 1024**3)
    result = run_cli("verify", str(WHEEL), "--policy", str(policy), memory=MEMORY)
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert "larger than 4194304 bytes (size limit)" in result.stderr


def test_a_huge_build_log_is_read_from_its_end_only(tmp_path: Path) -> None:
    sdist = _evil_backend_sdist(tmp_path / "index", huge_log=True)
    result = run_cli("build", str(sdist), "-w", str(tmp_path / "w"), memory=MEMORY)
    no_traceback(result)
    assert result.returncode == 3, result.stderr
    log = tmp_path / "w" / "builds" / "evil-1.0" / "build.log"
    assert log.stat().st_size > 3 * 1024**3  # the backend did make it huge
    assert "\\x1b[2J\\x1b[H\\x1b[32mbuilt evil 1.0" in result.stderr
    assert "\x1b" not in result.stderr


def test_prepended_entry_wheel_in_the_workspace_is_refused_by_build(tmp_path: Path) -> None:
    index, ws = tmp_path / "index", tmp_path / "w"
    project(index, "dep")
    app = project(index, "app", build=["dep"])
    first = _invoke("bootstrap", "dep", "--find-links", str(index), "--no-index", "-w", str(ws))
    assert first.exit_code == 0, first.output
    wheel = next((ws / "wheels").glob("dep-1.0-*.whl"))
    hidden = prepend_entry(wheel, tmp_path / "bad", "dep-1.0.pth", b"import os\n")
    shutil.copyfile(hidden, wheel)
    result = _invoke("build", str(app), "-w", str(ws))
    assert result.exit_code == 2, result.output
    assert "dep-1.0-py3-none-any.whl" in result.output
    assert "unlisted bytes before the first entry" in result.output


def test_fifo_as_publisher_evidence_exits_2_at_once(fifo: Path) -> None:
    result = run_cli(
        "evidence",
        "verify",
        str(SDIST),
        "--publisher",
        "github:kjd/idna/deploy.yml",
        "--attestation",
        str(fifo),
        timeout=60,
    )
    no_traceback(result)
    assert result.returncode == 2, result.stderr + result.stdout
    assert "evidence" in result.stderr and "is a FIFO, not a regular file" in result.stderr
