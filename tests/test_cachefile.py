"""A workspace cache entry is never trusted and never an error: whatever stands at its path,
if it is not a small JSON file, it reads as absent and the caller computes the value again."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fromsource.cachefile import read_cache, write_cache
from fromsource.failures import Failure, FailureMemory


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


def _not_json(path: Path) -> None:
    path.write_bytes(b"\x00not json{")


def _too_deep(path: Path) -> None:
    path.write_text("[" * 200 + "]" * 200)


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere")


@pytest.mark.parametrize("make", [_fifo, _directory, _not_json, _too_deep, _dangling_link])
def test_whatever_stands_at_an_entry_that_is_not_json_reads_as_absent(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    entry = tmp_path / "entry.json"
    make(entry)
    assert read_cache(entry, "test entry") is None


def test_an_entry_round_trips_and_replaces_what_stood_there(tmp_path: Path) -> None:
    entry = tmp_path / "entry.json"
    _fifo(entry)
    write_cache(entry, {"a": [1, 2]}, indent=1)
    assert read_cache(entry, "test entry") == {"a": [1, 2]}
    assert entry.is_file()


def test_a_failure_record_that_is_a_fifo_is_unknown_and_then_replaced(tmp_path: Path) -> None:
    memory = FailureMemory(tmp_path)
    key = "ab" * 32
    _fifo(tmp_path / f"{key}.json")
    assert memory.recall(key) is None  # nothing blocks, nothing raises: the build runs again
    failure = Failure(
        name="demo", version="1.0", error="boom", log=None, log_tail="", failed_on="2026-11-30T00:00:00Z"
    )
    memory.remember(key, failure)
    assert memory.recall(key) == failure
