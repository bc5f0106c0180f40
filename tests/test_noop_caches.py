"""What a no-op re-run leans on: listings fetched ahead once, file digests remembered by stat,
sdist facts remembered by digest, failures remembered by the digest of their inputs, and
native inputs compared with this machine."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from fromsource.alternatives import Alternative, AlternativesMemo
from fromsource.attest.provenance import KIND_COMPILER, KIND_SYSTEM_LIBRARY, KIND_TOOLCHAIN, Dependency
from fromsource.failures import Failure, FailureMemory, failure_key, system_state
from fromsource.fileutil import sha256_file
from fromsource.index import LocalDirIndex, MultiIndex, SimpleIndex, prefetch
from fromsource.index.listingcache import ListingCache
from fromsource.native import changed_inputs
from fromsource.pkginfo import read_pkg_info
from fromsource.resolve import SdistMetadata
from fromsource.sdistfacts import SdistFactsCache, read_sdist_facts
from fromsource.statdigests import StatDigests
from fromsource.target import TargetEnvironment
from tinyindex import Release, make_sdist, serve, sha256

# ------------------------------------------------------------------ listings fetched ahead


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_prefetch_fetches_each_listing_once_and_leaves_errors_to_the_lazy_fetch(
    tmp_path: Path, fmt: str
) -> None:
    files = tmp_path / "files"
    projects = {}
    for name in ("alpha", "beta", "gamma"):
        sdist = make_sdist(files, name, "1.0")
        projects[name] = [Release(sdist, sha256(sdist))]
    slept: list[float] = []  # the back-off between retries, recorded instead of waited for
    with serve(projects, fmt) as server, SimpleIndex(server.url + "simple", sleep=slept.append) as index:
        server.fail["/simple/gamma/"] = [500, 500, 500, 500]  # every retry of the prefetch
        names = ["Alpha", "beta", "gamma", "alpha", "../../files/x", ""]  # not names: not asked for
        prefetch(MultiIndex([LocalDirIndex(tmp_path / "files"), index]), names)
        fetched = sorted(h for h in server.hits if h != "/simple/gamma/")
        assert [c.filename for c in index.candidates("alpha")] == ["alpha-1.0.tar.gz"]
        assert [c.filename for c in index.candidates("beta")] == ["beta-1.0.tar.gz"]
        # the failed listing is asked for again when resolution needs it (now it answers)
        assert [c.filename for c in index.candidates("gamma")] == ["gamma-1.0.tar.gz"]
        hits = list(server.hits)
    assert fetched == ["/simple/alpha/", "/simple/beta/"]
    assert hits.count("/simple/alpha/") == 1 and hits.count("/simple/beta/") == 1
    assert hits.count("/simple/gamma/") == 5
    assert slept == [0.5, 1.0, 2.0]  # the prefetch's three retries, none for the lazy fetch


# ------------------------------------------------------------------ digests by stat


def test_stat_digests_remember_by_stat_and_notice_any_rewrite(tmp_path: Path) -> None:
    store = tmp_path / "cache" / "digests.json"
    data = tmp_path / "data.bin"
    data.write_bytes(b"first")
    digests = StatDigests(store, racy_seconds=0.0)
    assert digests(data) == sha256_file(data)
    digests.save()
    saved = json.loads(store.read_text())
    assert saved["files"][str(data.absolute())][-1] == sha256_file(data)

    # The store is believed while the stat is unchanged: plant another digest to see it used.
    saved["files"][str(data.absolute())][-1] = "ab" * 32
    store.write_text(json.dumps(saved))
    assert StatDigests(store, racy_seconds=0.0)(data) == "ab" * 32
    # Rewritten in place with the old size and mtime: ctime differs, so it is hashed again.
    st = data.stat()
    data.write_bytes(b"secnd")
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert StatDigests(store, racy_seconds=0.0)(data) == sha256_file(data) != "ab" * 32


def test_stat_digests_do_not_remember_files_changed_just_now(tmp_path: Path) -> None:
    store = tmp_path / "digests.json"
    data = tmp_path / "data.bin"
    data.write_bytes(b"fresh")
    digests = StatDigests(store)  # default: younger than a couple of seconds is not kept
    assert digests(data) == sha256_file(data)
    digests.save()
    assert not store.exists()


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"[]",
        b'{"format": "x"}',
        b"\xff",
        b'{"format": "fromsource.stat-digests", "format_version": 1, "files": {"/x": [1, 2]}}',
    ],
)
def test_a_malformed_digest_store_is_an_empty_one(tmp_path: Path, garbage: bytes) -> None:
    store = tmp_path / "digests.json"
    store.write_bytes(garbage)
    data = tmp_path / "data.bin"
    data.write_bytes(b"x")
    assert StatDigests(store, racy_seconds=0.0)(data) == sha256_file(data)


# ------------------------------------------------------------------ sdist facts


def test_sdist_facts_are_read_in_one_pass_and_remembered_by_digest(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "src", "demo", "1.0", ["dep>=2"], requires_python=">=3.8")
    facts = read_sdist_facts(sdist)
    assert facts.pkg_info == read_pkg_info(sdist)
    assert facts.pyproject is not None and b"build-backend" in facts.pyproject

    cache_dir = tmp_path / "cache"
    digests = StatDigests(None)
    assert SdistFactsCache(cache_dir, digests)(sdist) == facts
    entry = cache_dir / f"{sha256(sdist)}.json"
    assert entry.is_file()
    # A later run reads the entry, not the archive: an edited entry shows through.
    doc = json.loads(entry.read_text())
    doc["pkg_info"]["requires_dist"] = ["other"]
    entry.write_text(json.dumps(doc))
    again = SdistFactsCache(cache_dir, digests)(sdist)
    assert again.pkg_info is not None and again.pkg_info.requires_dist == ("other",)
    # Other bytes under the same name get their own entry.
    other = make_sdist(tmp_path / "src", "demo", "1.0", ["dep>=3"])
    changed = SdistFactsCache(cache_dir, StatDigests(None))(other)
    assert changed.pkg_info is not None and changed.pkg_info.requires_dist == ("dep>=3",)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.pop("pyproject"),
        lambda d: d.update(sha256="0" * 64),
        lambda d: d.update(pyproject="not base64!"),
        lambda d: d["pkg_info"].update(requires_dist="dep"),
        lambda d: d["pkg_info"].update(extra=1),
    ],
)
def test_a_malformed_facts_entry_is_ignored_and_replaced(
    tmp_path: Path, mangle: Callable[[dict[str, Any]], object]
) -> None:
    sdist = make_sdist(tmp_path / "src", "demo", "1.0", ["dep"])
    cache_dir = tmp_path / "cache"
    SdistFactsCache(cache_dir, sha256_file)(sdist)
    entry = cache_dir / f"{sha256(sdist)}.json"
    doc = json.loads(entry.read_text())
    mangle(doc)
    entry.write_text(json.dumps(doc))
    assert SdistFactsCache(cache_dir, sha256_file)(sdist) == read_sdist_facts(sdist)
    assert json.loads(entry.read_text())["pkg_info"]["requires_dist"] == ["dep"]


# ------------------------------------------------------------------ failures


def test_failures_are_remembered_by_the_digest_of_their_inputs(tmp_path: Path) -> None:
    memory = FailureMemory(tmp_path / "failures")
    inputs: dict[str, Any] = {
        "name": "demo",
        "version": "1.0",
        "sdist_sha256": "a" * 64,
        "env": [("dep-1-py3-none-any.whl", "b" * 64, "c" * 64)],
        "fingerprint": ("bwrap", "d" * 64, "0.1"),
        "settings": "toolchains=()",
        "system": ["/var/lib/dpkg/status:" + "e" * 64],
    }
    key = failure_key(**inputs)
    failure = Failure(
        name="demo",
        version="1.0",
        error="cc failed",
        log="/ws/builds/demo-1.0/build.log",
        log_tail="error: x.h: No such file",
        failed_on="2026-01-01T00:00:00Z",
    )
    assert memory.recall(key) is None
    memory.remember(key, failure)
    assert memory.recall(key) == failure
    changes: list[dict[str, Any]] = [
        {"sdist_sha256": "f" * 64},
        {"env": []},
        {"settings": "toolchains=('rust',)"},
        {"system": ["/var/lib/dpkg/status:" + "0" * 64]},
        {"fingerprint": ("net", "d" * 64, "0.1")},
    ]
    for change in changes:
        assert failure_key(**{**inputs, **change}) != key
    (tmp_path / "failures" / f"{key}.json").write_text('{"format": "fromsource.build-failure"}')
    assert memory.recall(key) is None
    memory.remember(key, failure)
    memory.forget(key)
    assert memory.recall(key) is None


def test_system_state_digests_the_package_databases_that_exist(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Package: libyaml-dev\n")
    state = system_state(sha256_file, (status, tmp_path / "absent"))
    assert state == [f"{status}:{sha256_file(status)}"]
    status.write_text("Package: libyaml-dev\nPackage: libxml2-dev\n")
    assert system_state(sha256_file, (status,)) != state


# ------------------------------------------------------------------ native inputs


def test_changed_native_inputs_are_named(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    real = lib / "libfake.so.1.0"
    real.write_bytes(b"\x7fELF version one")
    (lib / "libfake.so.1").symlink_to(real.name)
    recorded = [
        Dependency(
            name="libfake.so.1",
            sha256=sha256_file(real),
            kind=KIND_SYSTEM_LIBRARY,
            uri=f"file://{real}",
            soname="libfake.so.1",
            path=str(lib / "libfake.so.1"),
        )
    ]
    cc = shutil.which("cc")
    if cc is not None:
        binary = Path(cc).resolve()
        recorded.append(
            Dependency(
                name="gcc-x",
                sha256=sha256_file(binary),
                kind=KIND_COMPILER,
                uri=f"file://{binary}",
                compiler="gcc",
                version="x",
                command="cc",
            )
        )
    tool = tmp_path / "rustc"
    tool.write_bytes(b"rustc 1")
    recorded.append(
        Dependency(
            name="rustc-1",
            sha256=sha256_file(tool),
            kind=KIND_TOOLCHAIN,
            uri=f"file://{tool}",
            toolchain="rust",
            program="rustc",
            version="1",
        )
    )
    assert changed_inputs(recorded) == []

    # An upgrade: the soname now leads to a new file.
    new = lib / "libfake.so.1.1"
    new.write_bytes(b"\x7fELF version two")
    (lib / "libfake.so.1").unlink()
    (lib / "libfake.so.1").symlink_to(new.name)
    tool.write_bytes(b"rustc 2")
    reasons = changed_inputs(recorded)
    assert len(reasons) == 2
    assert reasons[0].startswith(f"libfake.so.1 at {lib / 'libfake.so.1'} changed (sha256 ")
    assert reasons[1].startswith(f"toolchain program {tool} changed")
    (lib / "libfake.so.1").unlink()
    assert changed_inputs(recorded[:1]) == [f"libfake.so.1 at {lib / 'libfake.so.1'} is gone"]
    if cc is not None:
        assert changed_inputs(recorded[1:2], path_env=str(tmp_path)) == ["compiler cc is no longer on PATH"]


def test_the_accept_header_is_pypi_simples() -> None:
    from pypi_simple import ACCEPT_JSON_PREFERRED

    from fromsource.index import simple

    assert simple.ACCEPT_JSON_PREFERRED == ACCEPT_JSON_PREFERRED


# ------------------------------------------------------------------ alternatives remembered


def test_alternatives_are_remembered_while_the_pages_they_read_are_unchanged(tmp_path: Path) -> None:
    files = tmp_path / "files"
    old, failed = make_sdist(files, "demo", "1.0"), make_sdist(files, "demo", "2.0")
    newer = make_sdist(files, "demo", "3.0")
    # 3.0 is served from the start but listed only later (the server's files are fixed).
    projects = {"demo": [Release(old, sha256(old)), Release(failed, sha256(failed)), Release(newer, None)]}
    memo = AlternativesMemo(tmp_path / "cache")
    environment = TargetEnvironment.current()

    def find(index: SimpleIndex, sources: Path) -> Alternative | None:
        return memo.find(
            "demo",
            Version("2.0"),
            reason="its build environment cannot be resolved",
            index=index,
            sources=sources,
            metadata=SdistMetadata(index, sources),
            constraints=[],
            environment=environment,
            allowed=[],
        )

    with serve(projects) as server:
        listed_later = projects["demo"].pop()
        with SimpleIndex(server.url + "simple") as index:
            first = find(index, tmp_path / "src1")
        assert first is not None and first.constraint == "demo==1.0"
        server.hits.clear()
        with SimpleIndex(server.url + "simple") as index:  # the next run: nothing searched
            assert find(index, tmp_path / "src2") == first
        assert server.hits == ["/simple/demo/"]
        assert not (tmp_path / "src2").exists()

        projects["demo"].append(replace(listed_later, published_sha256=sha256(newer)))  # the page changed
        with SimpleIndex(server.url + "simple") as index:
            again = find(index, tmp_path / "src3")
    assert again is not None and again.constraint == "demo==3.0"


@pytest.mark.parametrize(
    ("cache_control", "fetched_again"),
    [("max-age=600, public", False), (None, True), ("max-age=600, no-cache", True)],
)
def test_a_page_the_index_calls_fresh_is_not_asked_for_again(
    tmp_path: Path, cache_control: str | None, fetched_again: bool
) -> None:
    files = tmp_path / "files"
    sdist = make_sdist(files, "demo", "1.0")
    listings = ListingCache(tmp_path / "listings")
    with serve({"demo": [Release(sdist, sha256(sdist))]}) as server:
        server.cache_control = cache_control
        with SimpleIndex(server.url + "simple", listings=listings) as index:
            first = index.candidates("demo")
        server.hits.clear()
        with SimpleIndex(server.url + "simple", listings=listings) as index:  # the next run
            assert index.candidates("demo") == first
            assert (server.hits == ["/simple/demo/"]) is fetched_again
            assert index.wheel_candidates("demo") == []  # wheels: the page is fetched then
            hits = list(server.hits)
    assert hits == ["/simple/demo/"]
