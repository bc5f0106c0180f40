from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from fromsource.errors import IndexError_, InputError
from fromsource.index import (
    LocalDirIndex,
    MultiIndex,
    ProjectNotFoundError,
    SimpleIndex,
    close_index,
    default_index_url,
    fetch_sdist,
    open_index,
)
from tinyindex import Release, make_sdist, serve, sha256


def no_sleep(_: float) -> None:
    pass


# ------------------------------------------------------------------ local directory


def test_local_dir_lists_only_sdists_with_digest_and_requires_python(tmp_path: Path) -> None:
    src = tmp_path / "src"
    one = make_sdist(src, "Demo.Pkg", "1.0", requires_python=">=3.8")
    make_sdist(src, "demo-pkg", "2.0")
    make_sdist(src, "other", "1.0")
    (src / "demo_pkg-1.0-py3-none-any.whl").write_bytes(b"a wheel is never a candidate")
    index = LocalDirIndex(src)

    found = index.candidates("demo_pkg")

    assert [(c.version, c.filename) for c in found] == [
        (Version("1.0"), "demo_pkg-1.0.tar.gz"),
        (Version("2.0"), "demo_pkg-2.0.tar.gz"),
    ]
    assert found[0].name == "demo-pkg"
    assert found[0].sha256 == sha256(one)
    assert found[0].requires_python == ">=3.8"
    assert found[1].requires_python is None
    assert not found[0].yanked


def test_local_dir_fetch_copies_and_reuses_cache(tmp_path: Path) -> None:
    make_sdist(tmp_path / "src", "demo", "1.0")
    index = LocalDirIndex(tmp_path / "src")
    candidate = index.candidates("demo")[0]
    dest = tmp_path / "sources"

    first = index.fetch(candidate, dest)
    mtime = first.stat().st_mtime_ns
    second = index.fetch(candidate, dest)

    assert first == second == dest / "demo-1.0.tar.gz"
    assert sha256(first) == candidate.sha256
    assert second.stat().st_mtime_ns == mtime  # reused, not copied again


def test_local_dir_corrupt_cache_is_replaced(tmp_path: Path) -> None:
    make_sdist(tmp_path / "src", "demo", "1.0")
    index = LocalDirIndex(tmp_path / "src")
    candidate = index.candidates("demo")[0]
    dest = tmp_path / "sources"
    dest.mkdir()
    (dest / candidate.filename).write_bytes(b"truncated")

    fetched = index.fetch(candidate, dest)

    assert sha256(fetched) == candidate.sha256


def test_local_dir_hash_mismatch(tmp_path: Path) -> None:
    src = make_sdist(tmp_path / "src", "demo", "1.0")
    index = LocalDirIndex(tmp_path / "src")
    candidate = index.candidates("demo")[0]
    src.write_bytes(b"changed after listing")
    dest = tmp_path / "sources"

    with pytest.raises(IndexError_, match=r"hash mismatch for demo-1\.0\.tar\.gz"):
        index.fetch(candidate, dest)
    assert list(dest.iterdir()) == []  # nothing half-written or unverified left behind


def test_local_dir_missing_project_and_directory(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(ProjectNotFoundError, match="no sdist of 'demo'"):
        LocalDirIndex(tmp_path / "src").candidates("demo")
    with pytest.raises(InputError, match="not a directory"):
        LocalDirIndex(tmp_path / "absent")


# --------------------------------------------------------------------- simple index


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_simple_index_lists_sdists(tmp_path: Path, fmt: str) -> None:
    files = tmp_path / "files"
    old = make_sdist(files, "demo", "1.0")
    new = make_sdist(files, "demo", "2.0")
    wheel = files / "demo-2.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    releases = [
        Release(old, sha256(old), yanked=True),
        Release(new, sha256(new), requires_python=">=3.9"),
        Release(wheel, sha256(wheel)),
    ]
    with serve({"demo": releases}, fmt) as server, SimpleIndex(server.url + "simple") as index:
        found = index.candidates("Demo")
        assert server.hits == ["/simple/demo/"]
        index.candidates("demo")  # cached per run
        assert len(server.hits) == 1

    assert [(c.filename, c.yanked, c.requires_python) for c in found] == [
        ("demo-1.0.tar.gz", True, None),
        ("demo-2.0.tar.gz", False, ">=3.9"),
    ]
    assert found[1].sha256 == sha256(new)
    assert found[1].url == f"{server.url}files/demo-2.0.tar.gz"


def test_simple_index_fetch_verifies_and_caches(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    with serve({"demo": [Release(sdist, sha256(sdist))]}) as server, \
            SimpleIndex(server.url + "simple/") as index:
        candidate = index.candidates("demo")[0]
        fetched = index.fetch(candidate, tmp_path / "sources")
        index.fetch(candidate, tmp_path / "sources")
        downloads = [h for h in server.hits if h.startswith("/files/")]

    assert fetched.name == "demo-1.0.tar.gz"
    assert fetched.read_bytes() == sdist.read_bytes()
    assert downloads == ["/files/demo-1.0.tar.gz"]  # second fetch verified the cached copy


def test_simple_index_hash_mismatch(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    with serve({"demo": [Release(sdist, "0" * 64)]}, "html") as server, \
            SimpleIndex(server.url + "simple/") as index:
        candidate = index.candidates("demo")[0]
        with pytest.raises(IndexError_, match=r"hash mismatch.*publishes sha256 0000"):
            index.fetch(candidate, tmp_path / "sources")
    assert list((tmp_path / "sources").iterdir()) == []


def test_simple_index_404s(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    with serve({"demo": [Release(sdist, sha256(sdist))]}) as server, \
            SimpleIndex(server.url + "simple/", sleep=no_sleep) as index:
        with pytest.raises(ProjectNotFoundError, match=r"'absent' not found .*\(404\)"):
            index.candidates("absent")
        candidate = index.candidates("demo")[0]
        server.fail["/files/demo-1.0.tar.gz"] = [404]
        with pytest.raises(IndexError_, match="answered 404"):
            index.fetch(candidate, tmp_path / "sources")


def test_simple_index_retries_5xx_then_gives_up(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    delays: list[float] = []
    with serve({"demo": [Release(sdist, sha256(sdist))]}) as server, \
            SimpleIndex(server.url + "simple/", retries=2, backoff=0.1,
                        sleep=delays.append) as index:
        server.fail["/simple/demo/"] = [503, 502]
        assert len(index.candidates("demo")) == 1
        assert delays == [0.1, 0.2]  # exponential backoff
        server.fail["/simple/other/"] = [500, 500, 500]
        server.projects["other"] = []
        with pytest.raises(IndexError_, match="HTTP 500"):
            index.candidates("other")


def test_simple_index_timeout(tmp_path: Path) -> None:
    with serve({"slow": []}) as server, SimpleIndex(
        server.url + "simple/", timeout=0.2, retries=1, sleep=no_sleep
    ) as index:
        server.delay["/simple/slow/"] = 0.6
        with pytest.raises(IndexError_, match="timed out fetching"):
            index.candidates("slow")
    assert server.hits == ["/simple/slow/", "/simple/slow/"]


def test_connection_refused_is_an_index_error(tmp_path: Path) -> None:
    with serve({}) as server:
        url = server.url
    with SimpleIndex(url + "simple/", retries=1, sleep=no_sleep) as index, \
            pytest.raises(IndexError_, match="cannot fetch"):
        index.candidates("demo")


def test_fetch_sdist_picks_the_exact_version(tmp_path: Path) -> None:
    one = make_sdist(tmp_path / "files", "demo", "1.0")
    two = make_sdist(tmp_path / "files", "demo", "2.0")
    releases = [Release(one, sha256(one), yanked=True), Release(two, sha256(two))]
    with serve({"demo": releases}) as server:
        got = fetch_sdist("demo", "1.0", server.url + "simple/", tmp_path / "out")
        assert got == tmp_path / "out" / "demo-1.0.tar.gz"  # yanked, but pinned exactly
        with pytest.raises(IndexError_, match=r"no sdist of demo 3\.0") as info:
            fetch_sdist("demo", "3.0", server.url + "simple/", tmp_path / "out")
        assert info.value.hint == "sdists there: 1.0, 2.0"


def test_refuses_filenames_that_escape(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    index = LocalDirIndex(tmp_path / "files")
    candidate = index.candidates("demo")[0]
    from dataclasses import replace

    hostile = replace(candidate, filename="../demo-1.0.tar.gz")
    with pytest.raises(IndexError_, match="refusing sdist filename"):
        index.fetch(hostile, tmp_path / "sources")
    assert sdist.exists()


# -------------------------------------------------------------------------- several


def test_multi_index_merges_and_dispatches(tmp_path: Path) -> None:
    local = tmp_path / "local"
    make_sdist(local, "demo", "1.0")
    remote_only = make_sdist(tmp_path / "files", "demo", "2.0")
    shadowed = make_sdist(tmp_path / "files2", "demo", "1.0", requires=["x"])
    releases = [Release(remote_only, sha256(remote_only)), Release(shadowed, sha256(shadowed))]
    with serve({"demo": releases}) as server:
        index = open_index(server.url + "simple/", [local])
        try:
            assert isinstance(index, MultiIndex)
            found = index.candidates("demo")
            assert [(c.filename, c.url.startswith("file:")) for c in found] == [
                ("demo-1.0.tar.gz", True), ("demo-2.0.tar.gz", False)
            ]
            for candidate in found:
                assert sha256(index.fetch(candidate, tmp_path / "sources")) == candidate.sha256
            with pytest.raises(ProjectNotFoundError, match="absent"):
                index.candidates("absent")
        finally:
            close_index(index)


def test_open_index_no_index_needs_find_links() -> None:
    with pytest.raises(InputError, match="--no-index"):
        open_index(no_index=True)


# ------------------------------------------------------------------ index URL config


def test_default_index_url_precedence(tmp_path: Path) -> None:
    global_conf = tmp_path / "global.conf"
    global_conf.write_text("[global]\nindex-url = https://global.invalid/simple\n")
    user_conf = tmp_path / "user.conf"
    user_conf.write_text("[global]\nindex_url = https://user.invalid/simple\n")
    install_conf = tmp_path / "install.conf"
    install_conf.write_text("[install]\nindex-url = https://install.invalid/simple\n")

    assert default_index_url({}, []) == PYPI_SIMPLE_ENDPOINT
    assert default_index_url({}, [global_conf]) == "https://global.invalid/simple"
    assert default_index_url({}, [global_conf, user_conf]) == "https://user.invalid/simple"
    assert default_index_url({}, [install_conf, user_conf]) == "https://install.invalid/simple"
    assert default_index_url(
        {"PIP_INDEX_URL": "https://env.invalid/simple"}, [global_conf]
    ) == "https://env.invalid/simple"


def test_default_index_url_reads_pip_config_file_env(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://file.invalid/simple\n")
    assert default_index_url({"PIP_CONFIG_FILE": str(conf)}) == "https://file.invalid/simple"
    assert default_index_url({"PIP_CONFIG_FILE": "/dev/null"}) == PYPI_SIMPLE_ENDPOINT
    conf.write_text("not an ini file")
    with pytest.raises(InputError, match="pip configuration"):
        default_index_url({"PIP_CONFIG_FILE": str(conf)})
