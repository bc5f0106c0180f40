from __future__ import annotations

import threading
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.tags import Tag, sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from fromsource.errors import IndexError_, InputError
from fromsource.index import (
    LocalDirIndex,
    MultiIndex,
    ProjectNotFoundError,
    SimpleIndex,
    WheelCandidate,
    close_index,
    fetch_sdist,
    open_index,
)
from fromsource.pipconfig import default_index_url
from fromsource.policy import external_policy_block, external_policy_line, load_policy
from fromsource.wheelstore import best_wheel
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
    with (
        serve({"demo": [Release(sdist, sha256(sdist))]}) as server,
        SimpleIndex(server.url + "simple/") as index,
    ):
        candidate = index.candidates("demo")[0]
        fetched = index.fetch(candidate, tmp_path / "sources")
        index.fetch(candidate, tmp_path / "sources")
        downloads = [h for h in server.hits if h.startswith("/files/")]

    assert fetched.name == "demo-1.0.tar.gz"
    assert fetched.read_bytes() == sdist.read_bytes()
    assert downloads == ["/files/demo-1.0.tar.gz"]  # second fetch verified the cached copy


def test_simple_index_hash_mismatch(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    with (
        serve({"demo": [Release(sdist, "0" * 64)]}, "html") as server,
        SimpleIndex(server.url + "simple/") as index,
    ):
        candidate = index.candidates("demo")[0]
        with pytest.raises(IndexError_, match=r"hash mismatch.*publishes sha256 0000"):
            index.fetch(candidate, tmp_path / "sources")
    assert list((tmp_path / "sources").iterdir()) == []


def test_simple_index_404s(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    with (
        serve({"demo": [Release(sdist, sha256(sdist))]}) as server,
        SimpleIndex(server.url + "simple/", sleep=no_sleep) as index,
    ):
        with pytest.raises(ProjectNotFoundError, match=r"'absent' not found .*\(404\)"):
            index.candidates("absent")
        candidate = index.candidates("demo")[0]
        server.fail["/files/demo-1.0.tar.gz"] = [404]
        with pytest.raises(IndexError_, match="answered 404"):
            index.fetch(candidate, tmp_path / "sources")


def test_simple_index_retries_5xx_then_gives_up(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "files", "demo", "1.0")
    delays: list[float] = []
    with (
        serve({"demo": [Release(sdist, sha256(sdist))]}) as server,
        SimpleIndex(server.url + "simple/", retries=2, backoff=0.1, sleep=delays.append) as index,
    ):
        server.fail["/simple/demo/"] = [503, 502]
        assert len(index.candidates("demo")) == 1
        assert delays == [0.1, 0.2]  # exponential backoff
        server.fail["/simple/other/"] = [500, 500, 500]
        server.projects["other"] = []
        with pytest.raises(IndexError_, match="HTTP 500"):
            index.candidates("other")


def test_simple_index_timeout(tmp_path: Path) -> None:
    with (
        serve({"slow": []}) as server,
        SimpleIndex(server.url + "simple/", timeout=0.2, retries=1, sleep=no_sleep) as index,
    ):
        server.hold["/simple/slow/"] = threading.Event()  # no answer until the test is over
        with pytest.raises(IndexError_, match="timed out fetching"):
            index.candidates("slow")
    assert server.hits == ["/simple/slow/", "/simple/slow/"]


def test_connection_refused_is_an_index_error(tmp_path: Path) -> None:
    with serve({}) as server:
        url = server.url
    with (
        SimpleIndex(url + "simple/", retries=1, sleep=no_sleep) as index,
        pytest.raises(IndexError_, match="cannot fetch"),
    ):
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
                ("demo-1.0.tar.gz", True),
                ("demo-2.0.tar.gz", False),
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
    assert (
        default_index_url({"PIP_INDEX_URL": "https://env.invalid/simple"}, [global_conf])
        == "https://env.invalid/simple"
    )


def test_default_index_url_reads_pip_config_file_env(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://file.invalid/simple\n")
    assert default_index_url({"PIP_CONFIG_FILE": str(conf)}) == "https://file.invalid/simple"
    assert default_index_url({"PIP_CONFIG_FILE": "/dev/null"}) == PYPI_SIMPLE_ENDPOINT
    conf.write_text("not an ini file")
    with pytest.raises(InputError, match="pip configuration"):
        default_index_url({"PIP_CONFIG_FILE": str(conf)})


# ------------------------------------------------------------- published wheels (externals)

LINUX = "manylinux_2_34_x86_64"
ABI3 = f"demo-2.0-cp39-abi3-{LINUX}.whl"
CP311 = f"demo-2.0-cp311-cp311-{LINUX}.whl"
PURE = "demo-2.0-py3-none-any.whl"
# Supported tags, most specific first, as sys_tags() yields them for CPython 3.11 on Linux.
TAGS = [
    Tag("cp311", "cp311", LINUX),
    Tag("cp311", "abi3", LINUX),
    Tag("cp39", "abi3", LINUX),
    Tag("py3", "none", LINUX),
    Tag("py3", "none", "any"),
]


def make_wheel(directory: Path, filename: str, body: bytes | None = None) -> Path:
    """A file named like a wheel; listing and fetching never open it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_bytes(body if body is not None else f"wheel {filename}".encode())
    return path


def wheel(filename: str, sha256: str | None = "ab" * 32) -> WheelCandidate:
    """A candidate for ``filename`` as an index would list it."""
    name, version, build_tag, tags = parse_wheel_filename(filename)
    return WheelCandidate(
        name=name,
        version=version,
        filename=filename,
        sha256=sha256,
        url=f"https://files.invalid/{filename}",
        tags=tags,
        build_tag=build_tag,
    )


def test_local_dir_lists_wheels_with_digest_tags_and_build_tag(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_sdist(src, "demo", "2.0")
    abi3 = make_wheel(src, ABI3)
    make_wheel(src, "Demo-2.0-1-py3-none-any.whl")
    make_wheel(src, "other-1.0-py3-none-any.whl")
    make_wheel(src, "not-a-wheel.whl")
    index = LocalDirIndex(src)

    found = index.wheel_candidates("DEMO")

    assert [c.filename for c in found] == ["Demo-2.0-1-py3-none-any.whl", ABI3]
    pure, binary = found
    assert (binary.name, binary.version, binary.sha256) == ("demo", Version("2.0"), sha256(abi3))
    assert binary.tags == frozenset({Tag("cp39", "abi3", LINUX)})
    assert binary.url == abi3.resolve().as_uri()
    assert not binary.pure
    assert pure.pure
    assert pure.build_tag == (1, "")
    assert [c.filename for c in index.candidates("demo")] == ["demo-2.0.tar.gz"]  # sdists apart
    assert index.wheel_candidates("absent") == []


def test_local_dir_fetch_wheel_verifies_and_honours_the_expected_digest(tmp_path: Path) -> None:
    src = make_wheel(tmp_path / "src", ABI3)
    index = LocalDirIndex(tmp_path / "src")
    [candidate] = index.wheel_candidates("demo")
    dest = tmp_path / "externals"

    fetched = index.fetch_wheel(candidate, dest, expected_sha256=sha256(src).upper())

    assert fetched == dest / ABI3
    assert fetched.read_bytes() == src.read_bytes()
    with pytest.raises(IndexError_, match=r"expected sha256 0{64}, but .* published with sha256"):
        index.fetch_wheel(candidate, tmp_path / "other", expected_sha256="0" * 64)
    assert not (tmp_path / "other").exists()

    src.write_bytes(b"replaced after listing")
    with pytest.raises(IndexError_, match=r"hash mismatch .*publishes sha256"):
        index.fetch_wheel(candidate, tmp_path / "third")
    assert list((tmp_path / "third").iterdir()) == []


def test_fetch_wheel_expected_digest_applies_when_none_is_published(tmp_path: Path) -> None:
    src = make_wheel(tmp_path / "src", PURE)
    index = LocalDirIndex(tmp_path / "src")
    [listed] = index.wheel_candidates("demo")
    unpublished = replace(listed, sha256=None)

    with pytest.raises(IndexError_, match=r"hash mismatch .*the caller expects sha256 f{64}"):
        index.fetch_wheel(unpublished, tmp_path / "a", expected_sha256="f" * 64)
    assert index.fetch_wheel(unpublished, tmp_path / "b", expected_sha256=sha256(src)).is_file()


def test_fetch_wheel_refuses_filenames_that_escape(tmp_path: Path) -> None:
    make_wheel(tmp_path / "src", PURE)
    index = LocalDirIndex(tmp_path / "src")
    [candidate] = index.wheel_candidates("demo")
    with pytest.raises(IndexError_, match="refusing wheel filename"):
        index.fetch_wheel(replace(candidate, filename=f"../{PURE}"), tmp_path / "out")


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_simple_index_lists_wheels_apart_from_sdists(tmp_path: Path, fmt: str) -> None:
    files = tmp_path / "files"
    sdist = make_sdist(files, "demo", "2.0")
    abi3, pure = make_wheel(files, ABI3), make_wheel(files, PURE)
    releases = [
        Release(sdist, sha256(sdist)),
        Release(abi3, sha256(abi3).upper()),
        Release(pure, None, yanked=True, requires_python=">=3.9"),
    ]
    with serve({"demo": releases}, fmt) as server, SimpleIndex(server.url + "simple") as index:
        wheels = index.wheel_candidates("demo")
        sdists = index.candidates("demo")
        with pytest.raises(ProjectNotFoundError):
            index.wheel_candidates("absent")
        pages = [h for h in server.hits if h.startswith("/simple/demo")]

    assert [c.filename for c in sdists] == ["demo-2.0.tar.gz"]
    assert [(c.filename, c.sha256, c.yanked, c.requires_python) for c in wheels] == [
        (ABI3, sha256(abi3), False, None),  # published digests are compared in lower case
        (PURE, None, True, ">=3.9"),
    ]
    assert wheels[0].url == f"{server.url}files/{ABI3}"
    assert pages == ["/simple/demo/"]  # one page serves both listings


def test_simple_index_fetch_wheel(tmp_path: Path) -> None:
    files = tmp_path / "files"
    good, bad = make_wheel(files, ABI3), make_wheel(files, CP311)
    releases = [Release(good, sha256(good)), Release(bad, "0" * 64)]
    with serve({"demo": releases}) as server, SimpleIndex(server.url + "simple/", sleep=no_sleep) as index:
        by_name = {c.filename: c for c in index.wheel_candidates("demo")}
        fetched = index.fetch_wheel(by_name[ABI3], tmp_path / "ext")
        index.fetch_wheel(by_name[ABI3], tmp_path / "ext", expected_sha256=sha256(good))
        with pytest.raises(IndexError_, match=r"hash mismatch.*publishes sha256 0000"):
            index.fetch_wheel(by_name[CP311], tmp_path / "ext")
        with pytest.raises(IndexError_, match="expected sha256 1111"):
            index.fetch_wheel(by_name[ABI3], tmp_path / "new", expected_sha256="1" * 64)
        downloads = [h for h in server.hits if h.startswith("/files/")]

    assert fetched.read_bytes() == good.read_bytes()
    assert sorted((tmp_path / "ext").iterdir()) == [fetched]
    # cached copy verified, not fetched again; a conflicting expectation fetched nothing
    assert downloads == [f"/files/{ABI3}", f"/files/{CP311}"]


def test_simple_index_wheel_provenance_url() -> None:
    from pypi_simple import ProjectPage

    from fromsource.index.simple import _wheels

    page = ProjectPage.from_json_data(
        {
            "meta": {"api-version": "1.1"},
            "name": "demo",
            "files": [
                {
                    "filename": ABI3,
                    "url": f"https://files.invalid/{ABI3}",
                    "hashes": {"sha256": "ab" * 32},
                    "provenance": f"https://files.invalid/{ABI3}.provenance",
                },
                {"filename": PURE, "url": f"https://files.invalid/{PURE}", "hashes": {}},
                {"filename": "other-2.0-py3-none-any.whl", "url": "https://files.invalid/o", "hashes": {}},
            ],
        }
    )
    found = _wheels(canonicalize_name("demo"), page)
    assert [(c.filename, c.provenance_url) for c in found] == [
        (ABI3, f"https://files.invalid/{ABI3}.provenance"),
        (PURE, None),
    ]


def test_multi_index_merges_wheels_and_dispatches(tmp_path: Path) -> None:
    make_wheel(tmp_path / "local", ABI3, b"local copy")
    remote = make_wheel(tmp_path / "files", PURE)
    shadowed = make_wheel(tmp_path / "files2", ABI3, b"remote copy")
    releases = [Release(remote, sha256(remote)), Release(shadowed, sha256(shadowed))]
    with serve({"demo": releases}) as server:
        index = open_index(server.url + "simple/", [tmp_path / "local"])
        try:
            found = index.wheel_candidates("demo")
            assert [(c.filename, c.url.startswith("file:")) for c in found] == [(ABI3, True), (PURE, False)]
            assert index.fetch_wheel(found[0], tmp_path / "out").read_bytes() == b"local copy"
            assert sha256(index.fetch_wheel(found[1], tmp_path / "out")) == sha256(remote)
        finally:
            close_index(index)
    multi = MultiIndex([LocalDirIndex(tmp_path / "local")])
    with pytest.raises(IndexError_, match="not listed by any configured index"):
        multi.fetch_wheel(wheel(PURE), tmp_path / "out")


def test_multi_index_wheel_project_not_found_only_when_every_index_misses(tmp_path: Path) -> None:
    make_wheel(tmp_path / "local", PURE)
    with serve({}) as server:
        index = open_index(server.url + "simple/", [tmp_path / "local"])
        try:
            assert [c.filename for c in index.wheel_candidates("demo")] == [PURE]
            assert index.wheel_candidates("absent") == []  # the directory has no page to miss
        finally:
            close_index(index)
        remote_only = SimpleIndex(server.url + "simple/")
        try:
            with pytest.raises(ProjectNotFoundError, match="absent"):
                MultiIndex([remote_only, remote_only]).wheel_candidates("absent")
        finally:
            remote_only.close()


def test_best_wheel_prefers_the_most_specific_compatible_tag() -> None:
    listed = [
        wheel(PURE),
        wheel(ABI3),
        wheel(CP311),
        wheel("demo-1.0-cp311-cp311-" + LINUX + ".whl"),
        wheel("demo-2.0-cp312-cp312-" + LINUX + ".whl"),
        wheel("demo-2.0-cp311-cp311-win_amd64.whl"),
    ]

    assert best_wheel(listed, "2.0", TAGS) == listed[2]
    assert best_wheel(listed[:2], Version("2.0"), TAGS) == listed[1]
    assert best_wheel(listed[:1], "2.0", TAGS) == listed[0]
    assert best_wheel(listed[4:], "2.0", TAGS) is None  # no wheel for this platform
    assert best_wheel(listed, "3.0", TAGS) is None
    assert best_wheel([], "2.0") is None


def test_best_wheel_build_tag_requires_python_and_yanked() -> None:
    plain, built1, built2 = (
        wheel(PURE),
        wheel("demo-2.0-1-py3-none-any.whl"),
        wheel("demo-2.0-2-py3-none-any.whl"),
    )
    assert best_wheel([plain, built2, built1], "2.0", TAGS) == built2  # higher build tag wins

    narrow = replace(wheel(ABI3), requires_python=">=3.12")
    assert best_wheel([narrow, plain], "2.0", TAGS, python_version="3.11.7") == plain
    assert best_wheel([narrow], "2.0", TAGS, python_version="3.12.1") == narrow
    odd = replace(wheel(ABI3), requires_python="not a specifier")
    assert best_wheel([odd], "2.0", TAGS, python_version="3.11.7") == odd

    yanked = replace(wheel(ABI3), yanked=True)
    assert best_wheel([yanked, plain], "2.0", TAGS) == plain  # pinned: yanked only as last resort
    assert best_wheel([yanked], "2.0", TAGS) == yanked


def test_best_wheel_defaults_to_this_interpreter() -> None:
    here = next(iter(sys_tags()))
    native = wheel(f"demo-2.0-{here.interpreter}-{here.abi}-{here.platform}.whl")
    assert best_wheel([wheel(PURE), native], "2.0") == native


def test_external_policy_line_is_what_the_policy_loader_reads(tmp_path: Path) -> None:
    digest = "AB" * 32
    candidate = wheel(ABI3, sha256=digest)
    line = external_policy_line(candidate)
    assert line == f'{{ file = "{ABI3}", sha256 = "{digest.lower()}" }}'
    other = external_policy_line(wheel(PURE, sha256=None), sha256="cd" * 32)

    block = external_policy_block([line, other])
    assert tomllib.loads(block) == {
        "externals": {
            "wheels": [
                {"file": ABI3, "sha256": digest.lower()},
                {"file": PURE, "sha256": "cd" * 32},
            ]
        }
    }
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text("version = 1\n" + block)
    assert load_policy(policy_file).externals == {digest.lower(): ABI3, "cd" * 32: PURE}

    with pytest.raises(ValueError, match="no sha256 known"):
        external_policy_line(wheel(PURE, sha256=None))
    quoted = replace(wheel(PURE), filename='demo"\\-2.0-py3-none-any.whl')
    assert tomllib.loads("x = " + external_policy_line(quoted))["x"]["file"] == quoted.filename


@pytest.mark.network
def test_published_cryptography_wheel_for_this_interpreter(tmp_path: Path) -> None:
    with SimpleIndex(default_index_url()) as index:
        wheels = index.wheel_candidates("cryptography")
        versions = sorted({c.version for c in wheels}, reverse=True)
        chosen = next(w for v in versions if (w := best_wheel(wheels, v)) is not None)
        fetched = index.fetch_wheel(chosen, tmp_path, expected_sha256=chosen.sha256)

    assert chosen.sha256 is not None
    assert not chosen.pure  # a Rust extension: the kind of wheel an external is for
    assert sha256(fetched) == chosen.sha256
    assert tomllib.loads("x = " + external_policy_line(chosen))["x"] == {
        "file": chosen.filename,
        "sha256": chosen.sha256,
    }
