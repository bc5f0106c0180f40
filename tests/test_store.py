"""The content-addressed store: a directory and fsspec URLs (memory://, file://), real bytes."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from fromsource.errors import InputError, StoreError
from fromsource.store import DirectoryStore, FsspecStore, Store, blob_path, open_store

DATA = Path(__file__).parent / "data"


@pytest.fixture(params=["directory", "memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "directory":
        return open_store(tmp_path / "store")
    if request.param == "memory":
        return open_store(f"memory://fromsource-test-{uuid.uuid4().hex}")
    return open_store(f"file://{tmp_path / 'fsstore'}")


def _tamper(store: Store, digest: str) -> None:
    if isinstance(store, DirectoryStore):
        (store.root / blob_path(digest)).write_bytes(b"other bytes")
    else:
        assert isinstance(store, FsspecStore)
        store.fs.pipe_file(f"{store.root}/{blob_path(digest)}", b"other bytes")


def test_put_fetch_roundtrip_on_a_real_sdist(store: Store, tmp_path: Path) -> None:
    sdist = DATA / "packaging-24.2.tar.gz"
    expected = hashlib.sha256(sdist.read_bytes()).hexdigest()

    digest = store.put_file(sdist)

    assert digest == expected
    assert store.has(digest)
    assert store.put_file(sdist, digest) == digest  # a second put is a no-op
    fetched = store.fetch(digest, tmp_path / "out" / sdist.name)
    assert fetched.read_bytes() == sdist.read_bytes()
    # The store reopens from its spec alone (what a task carries to a worker).
    assert open_store(store.spec).has(digest)


def test_tampered_blob_is_refused_and_leaves_nothing(store: Store, tmp_path: Path) -> None:
    sdist = DATA / "flit_core-3.12.0.tar.gz"
    digest = store.put_file(sdist)
    _tamper(store, digest)
    dest = tmp_path / "out" / sdist.name

    with pytest.raises(StoreError, match="corrupt or was tampered with"):
        store.fetch(digest, dest)

    assert list((tmp_path / "out").iterdir()) == []  # no half-written or wrong file


def test_missing_blob_and_bad_digest(store: Store, tmp_path: Path) -> None:
    absent = "0" * 64
    assert not store.has(absent)
    with pytest.raises(StoreError, match="is not in the store"):
        store.fetch(absent, tmp_path / "x")
    with pytest.raises(StoreError, match="not a sha256"):
        store.fetch("../../etc/passwd", tmp_path / "x")


def test_put_with_a_wrong_digest_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    sdist = DATA / "flit_core-3.12.0.tar.gz"
    with pytest.raises(StoreError, match="has sha256"):
        store.put_file(sdist, "a" * 64)
    assert not store.has("a" * 64)


def test_store_spec_errors(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        open_store(afile)
    with pytest.raises(InputError, match="cannot open the store"):
        open_store("nosuchprotocol-xyz://bucket/path")
