"""Writes handed to a thread of their own: done in order, all there after a flush, and a
failed one raised on the caller's thread by the next flush (or close), never lost."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import pytest

from fromsource.backgroundwrites import BackgroundWrites
from fromsource.cachefile import read_cache, write_cache


def test_writes_are_done_in_order_off_the_callers_thread(tmp_path: Path) -> None:
    writes = BackgroundWrites()
    threads: set[str] = set()

    def write(value: int) -> None:
        threads.add(threading.current_thread().name)
        write_cache(tmp_path / "entry.json", value)

    for value in range(50):
        writes.submit(functools.partial(write, value))
    writes.flush()

    assert read_cache(tmp_path / "entry.json", "entry") == 49  # the last one submitted
    assert threading.current_thread().name not in threads
    writes.submit(functools.partial(write_cache, tmp_path / "later.json", "after a flush"))
    writes.close()
    assert read_cache(tmp_path / "later.json", "entry") == "after a flush"


def test_a_failed_write_is_raised_by_the_next_flush_and_the_others_still_happen(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    writes = BackgroundWrites()
    writes.submit(functools.partial(write_cache, tmp_path / "file" / "entry.json", 1))
    writes.submit(functools.partial(write_cache, tmp_path / "fine.json", 2))

    with pytest.raises(FileExistsError):
        writes.flush()
    assert read_cache(tmp_path / "fine.json", "entry") == 2
    writes.flush()  # raised once: nothing left to report

    writes.submit(functools.partial(write_cache, tmp_path / "file" / "again.json", 3))
    with pytest.raises(FileExistsError):
        writes.close()
    with pytest.raises(RuntimeError):
        writes.submit(functools.partial(write_cache, tmp_path / "too-late.json", 4))
