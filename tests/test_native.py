"""Native inputs: a real C extension compiled by the system cc in the sandbox, its linked
libraries and compiler recorded in provenance, shown by verify, and in the SBOM as deb
package URLs the wheel depends on."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from packageurl import PackageURL

from conftest import PACKAGES, make_sdist
from fromsource import native
from fromsource.archives import iter_members
from fromsource.attest.provenance import KIND_COMPILER, KIND_SYSTEM_LIBRARY
from fromsource.cli import main
from fromsource.fileutil import sha256_file
from fromsource.sbom import validate

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
HAS_DPKG = shutil.which("dpkg") is not None


@pytest.fixture(scope="module")
def cosine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The cosine sdist built once by ``fromsource build``: (workspace, wheel)."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler on this machine")
    root = tmp_path_factory.mktemp("native")
    sdist = make_sdist(PACKAGES / "cext", root / "sdists", "cosine", "1.0")
    ws = root / "ws"
    result = CliRunner().invoke(main, ["build", str(sdist), "-w", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    (wheel,) = (ws / "wheels").glob("cosine-1.0-*.whl")
    return ws, wheel


def _statement(ws: Path, wheel: Path) -> dict[str, Any]:
    envelope = json.loads((ws / "attestations" / f"{wheel.name}.intoto.jsonl").read_text())
    loaded: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return loaded


def _natives(ws: Path, wheel: Path) -> list[dict[str, Any]]:
    deps = _statement(ws, wheel)["predicate"]["buildDefinition"]["resolvedDependencies"]
    return [d for d in deps if d["annotations"]["kind"] in (KIND_SYSTEM_LIBRARY, KIND_COMPILER)]


@needs_cc
def test_provenance_records_libm_and_the_compiler(cosine: tuple[Path, Path]) -> None:
    ws, wheel = cosine
    natives = _natives(ws, wheel)
    libraries = {d["name"]: d for d in natives if d["annotations"]["kind"] == KIND_SYSTEM_LIBRARY}
    assert "libm.so.6" in libraries
    libm = libraries["libm.so.6"]
    real = Path(libm["uri"].removeprefix("file://"))
    assert real.is_file() and not real.is_symlink()
    assert libm["digest"]["sha256"] == sha256_file(real)  # the file the loader maps
    assert libm["annotations"]["neededBy"] == [
        m for m in libm["annotations"]["neededBy"] if m.startswith("cosine.") and m.endswith(".so")
    ]
    (compiler,) = [d for d in natives if d["annotations"]["kind"] == KIND_COMPILER]
    binary = Path(compiler["uri"].removeprefix("file://"))
    assert binary == Path(shutil.which("cc") or "").resolve()
    assert compiler["digest"]["sha256"] == sha256_file(binary)
    assert (
        compiler["annotations"]["version"]
        in subprocess.run(["cc", "--version"], capture_output=True, text=True, check=True).stdout
    )
    if HAS_DPKG:  # Debian knows both: the glibc package and the compiler's
        owner = (
            subprocess.run(["dpkg", "-S", str(real)], capture_output=True, text=True, check=False).stdout
            or subprocess.run(
                ["dpkg", "-S", libm["annotations"]["path"]], capture_output=True, text=True, check=False
            ).stdout
        )
        package = libm["annotations"]["package"]
        assert owner.startswith(package["name"])
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", f"{package['name']}:{package['architecture']}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert package["version"] == version
        assert compiler["annotations"]["package"]["manager"] == "dpkg"


@needs_cc
def test_verify_shows_native_inputs_uncut_and_sbom_names_deb_packages(
    cosine: tuple[Path, Path], tmp_path: Path
) -> None:
    ws, wheel = cosine
    key = ws / "keys" / "builder.pub"
    result = CliRunner().invoke(main, ["verify", str(wheel), "-w", str(ws), "--trusted-key", str(key)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    libm = next(line for line in lines if "system-library libm.so.6" in line)
    assert "sha256:" in libm
    if HAS_DPKG:
        assert "dpkg libc6 " in libm
    assert any("compiler " in line and "version " in line for line in lines)
    assert max(len(line) for line in lines) > 80  # a CI log gets whole lines, not 80 columns

    as_json = CliRunner().invoke(
        main, ["verify", str(wheel), "-w", str(ws), "--trusted-key", str(key), "--json"]
    )
    kinds = {c["kind"] for c in json.loads(as_json.stdout)["wheels"][0]["children"]}
    assert {"sdist", KIND_SYSTEM_LIBRARY, KIND_COMPILER} <= kinds

    out = tmp_path / "sbom.json"
    made = CliRunner().invoke(
        main, ["sbom", str(wheel), "-w", str(ws), "-o", str(out), "--trusted-key", str(key)]
    )
    assert made.exit_code == 0, made.output
    text = out.read_text()
    assert validate(text) == []
    document = json.loads(text)
    components = {c["bom-ref"]: c for c in document["components"]}
    natives = {
        ref: c
        for ref, c in components.items()
        if ref.startswith((f"{KIND_SYSTEM_LIBRARY}:", f"{KIND_COMPILER}:"))
    }
    wheel_ref = next(ref for ref in components if ref.endswith(wheel.name))
    (deps,) = [d for d in document["dependencies"] if d["ref"] == wheel_ref]
    assert set(natives) <= set(deps["dependsOn"])
    libm = next(c for c in natives.values() if c["name"] == "libm.so.6")
    assert libm["hashes"] == [
        {
            "alg": "SHA-256",
            "content": _natives(ws, wheel)[[d["name"] for d in _natives(ws, wheel)].index("libm.so.6")][
                "digest"
            ]["sha256"],
        }
    ]
    if HAS_DPKG:
        assert libm["purl"].startswith("pkg:deb/debian/libc6@")
        purl = PackageURL.from_string(libm["purl"])
        assert (purl.type, purl.namespace, purl.version) == ("deb", "debian", libm["version"])


@needs_cc
def test_the_compiled_wheel_imports_and_calls_libm(cosine: tuple[Path, Path], tmp_path: Path) -> None:
    _ws, wheel = cosine
    target = tmp_path / "site"
    for member in iter_members(wheel):
        path = target / member.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(member.data)
    run = subprocess.run(
        [sys.executable, "-c", "import cosine; print(cosine.cos(0.0))"],
        cwd=target,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "1.0"


def test_pure_wheels_record_no_native_inputs(built_workspace: Path) -> None:
    wheel = next((built_workspace / "wheels").glob("packaging-*.whl"))
    assert native.collect(wheel) is None
    assert _natives(built_workspace, wheel) == []


def test_elf_reader_on_real_and_hostile_bytes(tmp_path: Path) -> None:
    real = Path(sys.executable).resolve().read_bytes()
    links = native.read_links(real)
    assert links.elf_class in (32, 64) and links.machine.startswith("EM_")
    assert all(name and "/" not in name for name in links.needed)
    for bad in (
        b"",
        b"\x7fELF",
        b"\x7fELF" + b"\x02\x01\x01" + b"\0" * 9 + b"\xff" * 40,
        b"not an elf at all",
        real[:200],
    ):
        try:
            native.read_links(bad)
        except ValueError:
            continue
        # A truncated file may still parse as an ELF header; then it must report nothing odd.
        assert isinstance(native.read_links(bad).needed, tuple)


def test_ld_cache_lines_are_parsed_by_elf_class() -> None:
    output = (
        "3 libs found in cache `/etc/ld.so.cache'\n"
        "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n"
        "\tlibz.so.1 (libc6) => /lib/i386-linux-gnu/libz.so.1\n"
        "\tlibfoo.so.2 (libc6,AArch64, OS ABI: Linux 3.7.0) => /usr/lib/aarch64-linux-gnu/libfoo.so.2\n"
    )
    cache = native.parse_ld_cache(output)
    assert cache[("libz.so.1", 64)] == "/lib/x86_64-linux-gnu/libz.so.1"
    assert cache[("libz.so.1", 32)] == "/lib/i386-linux-gnu/libz.so.1"
    assert cache[("libfoo.so.2", 64)] == "/usr/lib/aarch64-linux-gnu/libfoo.so.2"


def test_unknown_sonames_are_listed_not_guessed(tmp_path: Path) -> None:
    assert native.find_soname("libdoes-not-exist.so.9", ["/nowhere", "$ORIGIN/.libs"], {}) is None
    assert native.find_soname("libc.so.6", [], native.ld_cache()) is not None
