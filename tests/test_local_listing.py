"""LocalDirIndex lists its directory once and still sees sdists added later; writes that
skip fsync are still atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from fromsource.fileutil import atomic_write_bytes, atomic_write_chunks
from fromsource.index import LocalDirIndex, ProjectNotFoundError
from tinyindex import make_sdist


def test_a_listing_serves_every_project_and_sees_later_sdists(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    for name in ("alpha", "beta"):
        make_sdist(index_dir, name, "1.0")
    make_sdist(index_dir, "beta", "2.0")
    (index_dir / "notes.txt").write_text("not an sdist\n")
    index = LocalDirIndex(index_dir)

    assert [str(c.version) for c in index.candidates("beta")] == ["1.0", "2.0"]
    assert [c.filename for c in index.candidates("Alpha")] == ["alpha-1.0.tar.gz"]
    with pytest.raises(ProjectNotFoundError):
        index.candidates("gamma")

    make_sdist(index_dir, "gamma", "1.0")  # added after the directory was listed
    assert [c.filename for c in index.candidates("gamma")] == ["gamma-1.0.tar.gz"]
    assert index.fetch(index.candidates("gamma")[0], tmp_path / "sources").is_file()


def test_writes_without_fsync_are_still_atomic(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    atomic_write_bytes(target, b"old\n", durable=False)

    def refuse(_: str) -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        atomic_write_chunks(target, [b"new"], check=refuse, durable=False)

    assert target.read_bytes() == b"old\n"  # the refused write never replaced it
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.json"]  # no temp file left
