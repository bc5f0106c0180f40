"""Plain progress lines for a log that is not a terminal (CI): a line when a build starts and
a heartbeat while builds run, so a three-minute compile is not three silent minutes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

HEARTBEAT_SECONDS = 30.0


class Heartbeat:
    """Tracks running builds; :meth:`beat` writes one line per build running for a while.

    ``clock`` and ``interval`` are injectable so tests drive it without waiting; the thread
    started by :meth:`start` only calls :meth:`beat` every ``interval`` seconds.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        interval: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.interval = interval
        self.clock = clock
        self.running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def started(self, label: str) -> None:
        with self._lock:
            self.running[label] = self.clock()
        self.write(f"building {label}")

    def finished(self, label: str) -> None:
        with self._lock:
            self.running.pop(label, None)

    def beat(self) -> list[str]:
        """Write (and return) a line for each build running at least ``interval`` seconds."""
        now = self.clock()
        with self._lock:
            lines = [
                f"still building {label} ({now - since:.0f}s)"
                for label, since in sorted(self.running.items())
                if now - since >= self.interval
            ]
        for line in lines:
            self.write(line)
        return lines

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()
