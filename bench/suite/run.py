"""Benchmark: the offline test suite, as the README runs it (`pytest -n auto`, network tests
deselected), a few times in a row.

The first run of a checkout compiles every module its interpreters import (the suite keeps
them under `.pytest_cache/d/pycache` for the next runs), so it is reported apart. CPU is the
whole process tree's, workers, build pools, sandboxed hooks and Dask processes included: from
a cpuacct cgroup of its own where this machine lets one be made (cgroup v1, as root), else
machine-wide from /proc/stat (then it counts whatever else runs). Target: under 30 s.

    python bench/suite/run.py [--runs 3] [--cold] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _report import write_section

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "pytest", "-n", "auto", "-m", "not network", "-q"]
CGROUP = Path("/sys/fs/cgroup/cpuacct") / f"fromsource-bench-suite-{os.getpid()}"
TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_meter() -> Iterator[tuple[str, list[float]]]:
    """Yields (how CPU is counted, [seconds] filled in on exit)."""
    seconds: list[float] = []
    try:
        CGROUP.mkdir()
        (CGROUP / "cgroup.procs").write_text(str(os.getpid()))  # children inherit it
    except OSError:
        start = _machine_ticks()
        yield "machine-wide (/proc/stat)", seconds
        seconds.append((_machine_ticks() - start) / TICKS)
        return
    try:
        yield "the run's process tree (cpuacct cgroup)", seconds
        seconds.append(int((CGROUP / "cpuacct.usage").read_text()) / 1e9)
    finally:
        (CGROUP.parent / "cgroup.procs").write_text(str(os.getpid()))
        with contextlib.suppress(OSError):  # a process of the run still exiting: left as it is
            CGROUP.rmdir()


def _machine_ticks() -> int:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return user + nice + system + irq + softirq


def run_once() -> tuple[float, float, str, str]:
    with cpu_meter() as (how, cpu):
        start = time.perf_counter()
        done = subprocess.run(COMMAND, cwd=REPO, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the suite failed:\n{done.stdout[-3000:]}")
    return wall, cpu[0], how, done.stdout.strip().splitlines()[-1]


def render(cold: tuple[float, float] | None, warm: list[tuple[float, float]], how: str, tail: str) -> str:
    walls = [w for w, _ in warm]
    lines = [
        "## suite: the offline test suite",
        "",
        f"On {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}. "
        "Produced by `python bench/suite/run.py`: `python -m pytest -n auto -m 'not network'` "
        f"from the repository, {len(warm)} runs in a row ({tail.strip('= ')}). CPU: {how}. "
        f"Load average at the end: {os.getloadavg()[0]:.1f}. Target: under 30 s.",
        "",
        "| run | wall (s) | CPU (s) |",
        "|---|---|---|",
    ]
    if cold is not None:
        lines.append(f"| first run of a fresh checkout (nothing compiled) | {cold[0]:.1f} | {cold[1]:.0f} |")
    lines += [f"| run {i} | {w:.1f} | {c:.0f} |" for i, (w, c) in enumerate(warm, 1)]
    lines += ["", f"Median wall: {statistics.median(walls):.1f} s."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--cold", action="store_true", help="first clear .pytest_cache (a fresh checkout's run)"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    cold = None
    if args.cold:
        shutil.rmtree(REPO / ".pytest_cache", ignore_errors=True)
        wall, cpu, _how, _tail = run_once()
        cold = (wall, cpu)
        print(f"cold: wall {wall:.1f} s, CPU {cpu:.0f} s", flush=True)
    warm = []
    for _ in range(args.runs):
        wall, cpu, how, tail = run_once()
        warm.append((wall, cpu))
        print(f"wall {wall:.1f} s, CPU {cpu:.0f} s ({tail})", flush=True)
    markdown = render(cold, warm, how, tail)
    print(markdown)
    if not args.no_write:
        write_section("suite", markdown)


if __name__ == "__main__":
    main()
