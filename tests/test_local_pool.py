"""The local pool's workers: forked from a fork server started once per process, they still
build with the planner's environment of now, not the one the fork server started with."""

from __future__ import annotations

import os

import pytest

from fromsource.bootstrap.executor import LocalExecutor


def test_a_worker_sees_the_planner_environment_of_now(monkeypatch: pytest.MonkeyPatch) -> None:
    LocalExecutor(1).shutdown()  # the fork server (where there is one) runs from here on
    monkeypatch.setenv("FROMSOURCE_POOL_PROBE", "set after the fork server started")
    monkeypatch.delenv("HOME")
    pool = LocalExecutor(1)
    try:
        probe = pool._pool.submit(os.getenv, "FROMSOURCE_POOL_PROBE").result()
        home = pool._pool.submit(os.getenv, "HOME").result()
    finally:
        pool.shutdown()
    assert probe == "set after the fork server started"
    assert home is None
