"""Benchmark: `fromsource origin` against `git diff --no-index` of the unpacked sdist and a checkout.

The upstream-like repository is made from the sdist itself (its files minus PKG-INFO,
egg-info and setup.cfg's [egg_info] block, committed and tagged), as the tests do. Cases:
every sdist in tests/data that has such a repository built cheaply, plus sympy 1.13.3 (a
large sdist, downloaded with pip, hash-pinned). Rows:

- whole process: ``fromsource origin SDIST --repo REPO --json`` (fetch of the tag from the
  local path, stream, classify) vs by hand (``tar xzf`` + ``git clone --depth 1 --branch``
  + ``git diff --no-index --stat``);
- comparison only: after fetching, streaming the sdist through the safe reader and
  classifying (in-process) vs ``git diff --no-index --stat`` of two trees already on disk.

    python bench/origin/run.py [--runs 3] [--no-sympy] [--write]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from fromsource.archives import iter_members  # noqa: E402
from fromsource.origin.check import check_origin  # noqa: E402
from fromsource.origin.compare import Comparer  # noqa: E402
from fromsource.origin.git import Git  # noqa: E402
from origin_helpers import upstream_repo  # noqa: E402

SYMPY = ("sympy-1.13.3.tar.gz", "b27fd2c6530e0ab39e275fc9b683895367e51d5da91baa8d3d64db2565fec4d9")
CASES = ["six-1.17.0.tar.gz", "pluggy-1.5.0.tar.gz", "attrs-24.3.0.tar.gz"]


def fetch_sympy(dest: Path) -> Path:
    name, digest = SYMPY
    path = dest / name
    if not (path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == digest):
        dest.mkdir(parents=True, exist_ok=True)
        req = dest / "sympy.req"
        req.write_text(f"sympy==1.13.3 --hash=sha256:{digest}\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--require-hashes",
                "--no-binary",
                ":all:",
                "-r",
                str(req),
                "-d",
                str(dest),
            ],
            check=True,
        )
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        raise SystemExit(f"{name}: sha256 does not match the pin")
    return path


def timed(func) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def by_hand(sdist: Path, repo: Path, tag: str, work: Path) -> tuple[float, float]:
    """(whole, diff only): unpack, shallow clone of the tag, git diff --no-index."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(["tar", "xzf", str(sdist), "-C", str(work)], check=True)
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", tag, repo.as_uri(), str(work / "checkout")],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(work / "checkout" / ".git")
    unpacked = next(p for p in work.iterdir() if p.name != "checkout")
    diff_start = time.perf_counter()
    subprocess.run(
        ["git", "diff", "--no-index", "--stat", str(work / "checkout"), str(unpacked)],
        capture_output=True,
        check=False,
    )
    end = time.perf_counter()
    return end - start, end - diff_start


def ours_process(sdist: Path, repo: Path) -> float:
    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "fromsource", "origin", str(sdist), "--repo", str(repo), "--json"],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"origin failed on {sdist.name}: {done.stderr.decode()}")

    return timed(run)


def ours_compare(sdist: Path, repo: Path, tag: str, scratch: Path) -> float:
    """Streaming and classifying only: git has fetched the tag and listed the tree already."""
    shutil.rmtree(scratch, ignore_errors=True)
    git = Git(scratch, str(repo)).init()
    commit = git.fetch(f"refs/tags/{tag}")
    tree = git.tree(commit)
    meta_name, meta_version = sdist.name.removesuffix(".tar.gz").rsplit("-", 1)

    def run() -> None:
        comparer = Comparer(tree, object_format=git.object_format)
        for member in iter_members(sdist):
            comparer.add(member.name.partition("/")[2], member.data, member.mode)
        result = comparer.finish(git, commit, name=meta_name, version=meta_version)
        if not result.matches:
            raise SystemExit(f"{sdist.name}: unexpected findings {result.findings[:3]}")

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-sympy", action="store_true")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "fromsource-bench")
    args = parser.parse_args()
    sdists = [DATA / name for name in CASES]
    if not args.no_sympy:
        sdists.append(fetch_sympy(args.cache / "sympy"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-origin-") as tmp:
        for sdist in sdists:
            stem = sdist.name.removesuffix(".tar.gz")
            tag = f"v{stem.rsplit('-', 1)[1]}"
            repo = upstream_repo(sdist, Path(tmp) / f"{stem}-repo", tags=[tag])
            files = sum(1 for _ in iter_members(sdist))
            report = check_origin(sdist, repo=str(repo))
            hand = [by_hand(sdist, repo, tag, Path(tmp) / "hand") for _ in range(args.runs)]
            whole = [ours_process(sdist, repo) for _ in range(args.runs)]
            compare = [ours_compare(sdist, repo, tag, Path(tmp) / "git") for _ in range(args.runs)]
            row = (
                stem,
                files,
                report.comparison.counts()["generated"],
                statistics.median(h[0] for h in hand),
                statistics.median(whole),
                statistics.median(h[1] for h in hand),
                statistics.median(compare),
            )
            rows.append(row)
            print(
                f"{stem:24} files {files:5}  by hand {row[3]:.3f}s  origin {row[4]:.3f}s  "
                f"diff only {row[5]:.3f}s  compare only {row[6]:.3f}s"
            )
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True)
    lines = [
        "## origin: `fromsource origin` vs `git diff --no-index` by hand",
        "",
        f"Median of {args.runs} runs, wall time, on this 2-core machine shared with other jobs "
        f"({git_version.stdout.strip()}). Produced by `python bench/origin/run.py`. Repositories "
        "are made from each sdist (its files minus what packaging generates, committed and "
        "tagged) on local disk, so fetching costs no network. Whole = `fromsource origin "
        "--json` as a process vs `tar xzf` + `git clone --depth 1 --branch TAG` + `git diff "
        "--no-index --stat`; compare only = after fetching: streaming the sdist through the "
        "safe reader and classifying every file (in-process) vs `git diff --no-index --stat` "
        "of the two trees already on disk. By hand only lists differences; it does not tell "
        "a generated file from a tampered one.",
        "",
        "| sdist | files | generated | by hand, whole (s) | fromsource origin (s) | "
        "git diff only (s) | origin compare only (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {f} | {g} | {h:.3f} | {o:.3f} | {d:.3f} | {c:.3f} |" for s, f, g, h, o, d, c in rows]
    if args.write:
        from _report import write_section

        write_section("origin", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
