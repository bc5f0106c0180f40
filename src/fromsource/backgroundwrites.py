"""Writes the planner need not wait for, done in order on one thread of their own.

Each sdist the planner reads leaves a cache entry (its facts) and each build a hint (what
its backend asked for); a lost or torn one is computed again, and nothing in the same
round reads it back before the round ends. Creating a file costs the planner's thread
about a millisecond, per package: here it overlaps with the planner's own work.
:meth:`flush` waits for everything submitted so far and raises the first error of those
writes, so a run fails on an unwritable workspace as it did when it wrote inline.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class BackgroundWrites:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fromsource-writes")
        self._error: Exception | None = None

    def submit(self, write: Callable[[], object]) -> None:
        """Run ``write()`` after everything submitted before it."""
        self._pool.submit(self._run, write)

    def _run(self, write: Callable[[], object]) -> None:
        try:
            write()
        except Exception as exc:  # raised from flush(), on the planner's thread
            if self._error is None:
                self._error = exc

    def flush(self) -> None:
        """Wait for every write submitted so far; raise the first that failed."""
        self._pool.submit(_nothing).result()  # one thread: it runs after all of them
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Flush, and stop the thread (nothing can be submitted after)."""
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True)


def _nothing() -> None:
    return None


def write_now_or_later(writes: BackgroundWrites | None, write: Callable[[], object]) -> None:
    """``write()`` on the thread of ``writes`` where there is one, else here and now."""
    if writes is not None:
        writes.submit(write)
    else:
        write()
