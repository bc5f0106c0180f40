"""Benchmark: one build, and what the bubblewrap sandbox costs per hook call.

Two measurements, in the same run:

1. The sandbox's own cost per hook call: the build venv's interpreter running an empty
   program bare, under ``unshare --net`` (the previous level), and under the exact bwrap
   command line a build uses; median of N runs each. Target: bwrap adds < 20 ms per call.
2. Whole builds as processes: ``fromsource build`` with the sandbox (default) and with
   ``--sandbox off`` (network isolation only), against ``python -m build --wheel`` installing
   the same build requirements from local wheels; median of 5 each, for flit-core (no build
   requirements) and packaging (needs flit-core).

    python bench/build/run.py [--runs 5] [--calls 30] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _report import write_section

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SDISTS = ["flit_core-3.12.0.tar.gz", "packaging-24.2.tar.gz"]


def timed(cmd: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def per_call(calls: int, scratch: Path) -> dict[str, float]:
    from fromsource.attest.provenance import ISOLATION_BWRAP, ISOLATION_NET
    from fromsource.buildenv import BuildEnv
    from fromsource.sandbox import BuildSandbox, probe

    build = scratch / "percall"
    env = BuildEnv.create(build / "env")
    for sub in ("src", "out", "home", "tmp"):
        (build / sub).mkdir(parents=True)
    cmd = [str(env.python), "-c", "pass"]
    levels = {"bare": None, ISOLATION_NET: BuildSandbox(level=ISOLATION_NET)}
    if probe().level == ISOLATION_BWRAP:
        levels[ISOLATION_BWRAP] = BuildSandbox.for_build(
            probe(),
            env=env.root,
            writable=[build / s for s in ("src", "out", "home", "tmp")],
            etc_dir=build / "sandbox-etc",
        )
    medians = {}
    for name, box in levels.items():
        full = cmd if box is None else box.command(cmd, str(build / "src"))
        timed(full)  # warm the page cache
        medians[name] = statistics.median(timed(full) for _ in range(calls))
    return medians


def builds(runs: int, scratch: Path) -> list[tuple[str, float, float, float]]:
    wheels = scratch / "wheels"
    wheels.mkdir()
    rows = []
    for sdist in SDISTS:
        samples: dict[str, list[float]] = {"bwrap": [], "off": [], "build": []}
        for i in range(runs):
            for mode in ("bwrap", "off"):
                ws = scratch / f"ws-{mode}-{i}"
                if sdist.startswith("packaging"):  # its build requirement, built first
                    subprocess.run(
                        [sys.executable, "-m", "fromsource", "build", str(DATA / SDISTS[0]), "-w", str(ws)],
                        check=True,
                        capture_output=True,
                    )
                args = [] if mode == "bwrap" else ["--sandbox", "off"]
                samples[mode].append(
                    timed(
                        [sys.executable, "-m", "fromsource", "build", str(DATA / sdist), "-w", str(ws), *args]
                    )
                )
            if not any(wheels.iterdir()):
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "wheel",
                        "--no-deps",
                        "-q",
                        "-w",
                        str(wheels),
                        str(DATA / SDISTS[0]),
                    ],
                    check=True,
                    capture_output=True,
                )
            out = scratch / f"build-{i}"
            samples["build"].append(timed_build(sdist, out, wheels))
        rows.append((sdist, *(statistics.median(samples[k]) for k in ("bwrap", "off", "build"))))
    return rows


def timed_build(sdist: str, out: Path, wheels: Path) -> float:
    env = {**os.environ, "PIP_FIND_LINKS": str(wheels), "PIP_NO_INDEX": "1"}
    unpacked = out / "src"
    shutil.unpack_archive(DATA / sdist, unpacked)
    project = next(unpacked.iterdir())
    return timed([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(project)], env=env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        calls = per_call(args.calls, Path(tmp))
        rows = builds(args.runs, Path(tmp))
    bare = calls["bare"]
    lines = [
        "## build: `fromsource build` vs `python -m build --wheel`, and the sandbox's cost",
        "",
        f"x86_64, 2 cores, Python {platform.python_version()}; produced by `python bench/build/run.py` "
        f"in one run. Per hook call: the build venv's python running an empty program, median of "
        f"{args.calls}. Target: bwrap adds < 20 ms per call.",
        "",
        "| per hook call | median (ms) | added by the sandbox (ms) |",
        "|---|---|---|",
        *(f"| {name} | {value * 1000:.1f} | {(value - bare) * 1000:.1f} |" for name, value in calls.items()),
        "",
        f"Whole builds, median of {args.runs}, whole processes (pypa/build installs the build "
        "requirements from local wheels with pip):",
        "",
        "| sdist | fromsource, bwrap (s) | fromsource, `--sandbox off` (s) | pypa/build (s) | ratio bwrap / build |",
        "|---|---|---|---|---|",
        *(f"| {s} | {b:.3f} | {o:.3f} | {p:.3f} | {b / p:.2f} |" for s, b, o, p in rows),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("build", text)


if __name__ == "__main__":
    main()
