"""Benchmark: `fromsource bootstrap` against fromager on one frozen local index.

The requests==2.32.3 closure (19 sdists, fetched once into --sdists and then frozen) is served
as a PEP 503 index on 127.0.0.1. Both tools bootstrap requests==2.32.3 from it with 2 jobs,
as whole processes, in the same run; wall time and peak memory (the sum of RSS over the
process tree, sampled every 50 ms) are recorded, then a no-op re-run of fromsource (which
resolves against the index again) and a ``--frozen`` one (graph.json's pins, no index), and
fromsource on a Dask LocalCluster (``--executor dask-local:2``, fresh workspace). The
fromsource builds run three times per executor, local and Dask alternating, and each row is
the median run (one pair alone varies by 20% either way on a shared machine).

With ``--large-closure`` it measures only re-runs of a large closure instead:
``flask httpx pytest rich sphinx`` (about 50 packages with their build tools) resolved and
built once from the public package index into --large-workspace (kept, so later runs of the
benchmark skip that build), then timed as a plain no-op re-run (listings fetched again, all
reused) and a ``--frozen`` one, three times each (the median is recorded).

fromager is installed with pip into its own venv (--fromager-venv). It reads sdists from a
hard-coded default index URL (``fromager.resolver.PYPI_SERVER_URL``); a two-line wrapper
points that at the local server, which is what per-package ``sdist_server_url`` settings
would do for every package.

    python bench/bootstrap/run.py [--sdists DIR] [--fromager-venv DIR] [--no-write]
    python bench/bootstrap/run.py --skip-fromager [--executors local,dask-local]  (prints only)
    python bench/bootstrap/run.py --large-closure [--large-workspace DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _report import write_section

# The closure as first bootstrapped (docs/bootstrap.md); two setuptools versions because
# charset-normalizer asks for setuptools<84.1.
CLOSURE = [
    "calver==2025.10.20",
    "certifi==2026.10.18",
    "charset-normalizer==3.5.2",
    "flit-core==4.2.0",
    "hatch-vcs==0.5.0",
    "hatchling==1.33.0",
    "idna==3.20",
    "packaging==26.3",
    "pathspec==1.1.1",
    "pluggy==1.7.0",
    "poetry-core==2.5.0",
    "requests==2.32.3",
    "setuptools==84.0.0",
    "setuptools==84.2.1",
    "setuptools-scm==10.3.4",
    "tomlkit==0.15.2",
    "trove-classifiers==2026.9.21.13",
    "urllib3==2.8.0",
    "vcs-versioning==2.6.0",
]
TARGET = "requests==2.32.3"
JOBS = 2
PAIRS = 3  # local and Dask runs, alternating (the rows are medians)
# The large closure: popular projects whose build closure is pure Python but for one or two
# small C extensions (markupsafe), so its first build stays a few minutes on 2 cores.
LARGE = ["flask", "httpx", "pytest", "rich", "sphinx"]
LARGE_RUNS = 3


def freeze(sdists: Path) -> list[Path]:
    """Fetch the closure's sdists once (from the default index); afterwards they are reused."""
    from fromsource.index import fetch_sdist

    sdists.mkdir(parents=True, exist_ok=True)
    files = []
    for pin in CLOSURE:
        name, version = pin.split("==")
        stem = f"{name.replace('-', '_')}-{version}"
        found = [p for p in sdists.iterdir() if p.name.lower().startswith(stem.lower() + ".")]
        files.append(found[0] if found else fetch_sdist(name, version, None, sdists))
    return files


@contextmanager
def serve(sdists: Path) -> Iterator[str]:
    """A static PEP 503 index of ``sdists`` on 127.0.0.1 (files under /files/)."""
    from packaging.utils import canonicalize_name, parse_sdist_filename

    root = Path(tempfile.mkdtemp(prefix="bench-index-"))
    (root / "files").mkdir()
    projects: dict[str, list[Path]] = {}
    for sdist in sorted(sdists.glob("*.tar.gz")):
        (root / "files" / sdist.name).symlink_to(sdist.resolve())
        projects.setdefault(canonicalize_name(parse_sdist_filename(sdist.name)[0]), []).append(sdist)
    for name, files in projects.items():
        links = "".join(
            f'<a href="../../files/{html.escape(f.name)}#sha256='
            f'{hashlib.sha256(f.read_bytes()).hexdigest()}">{html.escape(f.name)}</a><br/>\n'
            for f in files
        )
        (root / "simple" / name).mkdir(parents=True)
        (root / "simple" / name / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    (root / "simple" / "index.html").write_text(
        "<html><body>" + "".join(f'<a href="{n}/">{n}</a><br/>' for n in sorted(projects)) + "</body></html>"
    )

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def _tree_rss(pid: int) -> int:
    """Sum of VmRSS (bytes) over ``pid`` and its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(
                int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total


def measured(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Wall seconds and peak process-tree RSS of a whole command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return wall, peak, subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def run_fromsource(
    url: str, tmp: Path, executor: str = "local", noop: bool = True, attempt: int = 0
) -> dict[str, float | int | str]:
    ws = tmp / f"fromsource-ws-{executor.replace(':', '-')}-{attempt}"
    cmd = [
        "fromsource",
        "bootstrap",
        TARGET,
        "--index-url",
        url,
        "-w",
        str(ws),
        "-j",
        str(JOBS),
        "--executor",
        executor,
        "--json",
    ]
    wall, peak, result = measured(cmd)
    if result.returncode != 0:
        raise SystemExit(f"fromsource failed:\n{result.stderr[-3000:]}")
    efficiency = json.loads(result.stdout)["efficiency"]
    wheels = len(list((ws / "wheels").glob("*.whl")))
    row: dict[str, float | int | str] = {
        "wall": wall,
        "peak": peak,
        "wheels": wheels,
        "bound": efficiency["lower_bound_seconds"],
        "over_bound": efficiency["wall_over_bound"],
        "critical": efficiency["critical_path_seconds"],
        "work": efficiency["build_seconds"],
    }
    if noop:
        noop_wall, noop_peak, again = measured(cmd)
        if again.returncode != 0 or '"built": 0' not in again.stdout:
            raise SystemExit(f"fromsource no-op re-run rebuilt something:\n{again.stdout[-2000:]}")
        frozen_cmd = ["fromsource", "bootstrap", TARGET, "--frozen", "-w", str(ws), "-j", str(JOBS), "--json"]
        frozen_wall, frozen_peak, frozen = measured(frozen_cmd)
        if frozen.returncode != 0 or '"built": 0' not in frozen.stdout:
            raise SystemExit(f"fromsource --frozen re-run failed or rebuilt:\n{frozen.stderr[-2000:]}")
        row |= {
            "noop_wall": noop_wall,
            "noop_peak": noop_peak,
            "frozen_wall": frozen_wall,
            "frozen_peak": frozen_peak,
        }
    return row


def run_fromager(url: str, tmp: Path, venv: Path) -> dict[str, float | int | str]:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "fromager"], check=True)
    version = (
        subprocess.run(
            [str(venv / "bin" / "fromager"), "--version"], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .rsplit(" ", 1)[-1]
    )
    wrapper = tmp / "fromager_local.py"
    wrapper.write_text(
        "import sys\nimport fromager.resolver\n"
        f"fromager.resolver.PYPI_SERVER_URL = {url!r}\n"
        "from fromager.__main__ import invoke_main\nsys.argv[0] = 'fromager'\ninvoke_main()\n"
    )
    work = tmp / "fromager"
    work.mkdir()
    # Same inputs as fromsource: the venv's bin first (uv), no pip configuration, no proxy.
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "PIP_CONFIG_FILE": os.devnull,
        "UV_INDEX_URL": url,
        "PIP_INDEX_URL": url,
    }
    cmd = [
        str(python),
        str(wrapper),
        "--sdists-repo",
        str(work / "sdists-repo"),
        "--wheels-repo",
        str(work / "wheels-repo"),
        "--work-dir",
        str(work / "work-dir"),
        "-j",
        str(JOBS),
        "bootstrap-parallel",
        "-m",
        str(JOBS),
        TARGET,
    ]
    wall, peak, result = measured(cmd, env=env, cwd=work)
    if result.returncode != 0:
        return {"error": (result.stderr or result.stdout)[-1500:], "version": version}
    # wheels-repo keeps each wheel under downloads/ and simple/: count distinct files.
    wheels = len({w.name for w in (work / "wheels-repo").rglob("*.whl")})
    return {"wall": wall, "peak": peak, "wheels": wheels, "version": version}


def _median(rows: list[dict[str, float | int | str]]) -> dict[str, float | int | str]:
    """The run whose wall is the median of ``rows`` (an odd number of them)."""
    return sorted(rows, key=lambda row: float(row["wall"]))[len(rows) // 2]


def render(
    ours: dict[str, float | int | str],
    theirs: dict[str, float | int | str],
    dask: dict[str, float | int | str],
    pairs: list[tuple[dict[str, float | int | str], dict[str, float | int | str]]],
) -> str:
    mib = 1024 * 1024
    lines = [
        "## bootstrap: `fromsource bootstrap` vs fromager",
        "",
        f"Rows for fromsource: the median of {PAIRS} runs per executor, local and Dask "
        "alternating; fromager: one run. "
        f"On {platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Produced by `python bench/bootstrap/run.py`. "
        f"`{TARGET}` from a frozen local index of its closure's {len(CLOSURE)} sdists served on "
        f"127.0.0.1, whole processes, {JOBS} jobs each; fromsource with attestations signed. "
        "Peak memory = the largest sum of RSS over the process tree (50 ms samples). Targets: "
        "fromsource at most 0.8x fromager's wall time; no-op re-run under 2 s; "
        f"`--executor dask-local:{JOBS}` (a Dask LocalCluster of {JOBS} worker processes, "
        "started by the run) at most 1.15x the local executor's wall. Bound = the run's own "
        "lower bound max(critical path, build seconds / jobs) from its `--json` `efficiency` "
        "(in-process wall over it; target 1.25x).",
        "",
        "| tool | wheels | wall (s) | peak memory (MiB) | ratio to fromager | lower bound (s) | wall / bound |",
        "|---|---|---|---|---|---|---|",
    ]

    def ratio(row: dict[str, float | int | str]) -> str:
        return "" if "error" in theirs else f"{float(row['wall']) / float(theirs['wall']):.2f}"

    def bound(row: dict[str, float | int | str]) -> str:
        return f"{float(row['bound']):.1f} | {float(row['over_bound']):.2f}"

    lines.append(
        f"| fromsource bootstrap | {ours['wheels']} | {float(ours['wall']):.1f} | "
        f"{int(ours['peak']) / mib:.0f} | {ratio(ours)} | {bound(ours)} |"
    )
    lines.append(
        f"| fromsource bootstrap `--executor dask-local:{JOBS}` | {dask['wheels']} | "
        f"{float(dask['wall']):.1f} | {int(dask['peak']) / mib:.0f} | {ratio(dask)} | "
        f"{bound(dask)} |"
    )
    if "error" in theirs:
        lines.append(f"| fromager {theirs['version']} | failed | | | | | |")
    else:
        lines.append(
            f"| fromager {theirs['version']} (`bootstrap-parallel -m {JOBS}`, `-j {JOBS}`) "
            f"| {theirs['wheels']} | {float(theirs['wall']):.1f} | "
            f"{int(theirs['peak']) / mib:.0f} | 1.00 | | |"
        )
    lines.append(
        f"| fromsource no-op re-run | {ours['wheels']} reused | "
        f"{float(ours['noop_wall']):.2f} | {int(ours['noop_peak']) / mib:.0f} | | | |"
    )
    lines.append(
        f"| fromsource `--frozen` re-run (no index) | {ours['wheels']} reused | "
        f"{float(ours['frozen_wall']):.2f} | {int(ours['frozen_peak']) / mib:.0f} | | | |"
    )
    lines.append("")
    each = [float(d["wall"]) / float(o["wall"]) for o, d in pairs]
    lines.append(
        f"dask-local:{JOBS} wall / local wall: {float(dask['wall']) / float(ours['wall']):.2f}x "
        f"(median runs); pair by pair, in order: {', '.join(f'{r:.2f}' for r in each)}."
    )
    if "error" in theirs:
        lines += [
            "",
            "fromager did not finish offline against the local index; its last output:",
            "",
            "```",
            str(theirs["error"]).strip(),
            "```",
        ]
    return "\n".join(lines)


def run_large(ws: Path) -> dict[str, float | int | str]:
    """No-op and --frozen re-runs of the large closure (built first if ``ws`` has no graph)."""
    base = ["fromsource", "bootstrap", *LARGE, "-w", str(ws), "-j", str(JOBS), "--keep-going", "--json"]
    if not (ws / "graph.json").is_file():
        _wall, _peak, first = measured(base)
        if first.returncode not in (0, 3):
            raise SystemExit(f"fromsource failed on the large closure:\n{first.stderr[-3000:]}")
    rows: dict[str, list[tuple[float, int, float]]] = {"noop": [], "frozen": []}
    counts: dict[str, int] = {}
    for _ in range(LARGE_RUNS):
        for kind, cmd in (("noop", base), ("frozen", [*base, "--frozen"])):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall, peak, result = measured(cmd)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            summary = json.loads(result.stdout)
            counts = summary["counts"]
            if counts["built"]:
                raise SystemExit(f"the {kind} re-run of the large closure built something: {counts}")
            rows[kind].append((wall, peak, cpu))
    nodes = len(json.loads((ws / "graph.json").read_text())["nodes"])

    def median(kind: str) -> tuple[float, int, float]:
        ordered = sorted(rows[kind])
        return ordered[len(ordered) // 2]

    noop, frozen = median("noop"), median("frozen")
    return {
        "nodes": nodes,
        "reused": counts["reused"],
        "other": nodes - counts["reused"],
        "noop_wall": noop[0],
        "noop_peak": noop[1],
        "noop_cpu": noop[2],
        "frozen_wall": frozen[0],
        "frozen_peak": frozen[1],
        "frozen_cpu": frozen[2],
        "load": os.getloadavg()[0],
    }


def render_large(row: dict[str, float | int | str]) -> str:
    mib = 1024 * 1024
    return "\n".join(
        [
            "## bootstrap: re-runs of a large closure",
            "",
            f"On {platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}. "
            "Produced by `python bench/bootstrap/run.py --large-closure`: "
            f"`{' '.join(LARGE)}` from the public package index, {row['nodes']} packages in the "
            f"graph, built once, then re-run unchanged ({JOBS} jobs, whole processes, median of "
            f"{LARGE_RUNS}). The plain re-run fetches each project's listing again (all at once) "
            "and resolves against it; `--frozen` uses graph.json's pins and sources/ only. "
            "CPU = user + system seconds of the process (the wall depends on what else runs: "
            f"the 1-minute load average was {float(row['load']):.1f} at the end). Target: under 3 s.",
            "",
            "| re-run | packages | wall (s) | CPU (s) | peak memory (MiB) |",
            "|---|---|---|---|---|",
            f"| no-op re-run | {row['reused']} reused, {row['other']} not built (failed or skipped) "
            f"| {float(row['noop_wall']):.2f} | {float(row['noop_cpu']):.2f} | {int(row['noop_peak']) / mib:.0f} |",
            f"| `--frozen` re-run (no index) | {row['reused']} reused | "
            f"{float(row['frozen_wall']):.2f} | {float(row['frozen_cpu']):.2f} | {int(row['frozen_peak']) / mib:.0f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sdists", type=Path, default=Path(tempfile.gettempdir()) / "fromsource-bench-sdists"
    )
    parser.add_argument("--fromager-venv", type=Path, default=Path(tempfile.gettempdir()) / "fromager-venv")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--large-closure", action="store_true")
    parser.add_argument(
        "--skip-fromager", action="store_true", help="fromsource rows only (printed, never written)"
    )
    parser.add_argument(
        "--executors",
        default="local,dask-local",
        help="with --skip-fromager: which fromsource rows, comma-separated (local, dask-local)",
    )
    parser.add_argument(
        "--large-workspace", type=Path, default=Path(tempfile.gettempdir()) / "fromsource-bench-large"
    )
    args = parser.parse_args()
    if args.large_closure:
        markdown = render_large(run_large(args.large_workspace))
        print(markdown)
        if not args.no_write:
            write_section("bootstrap-large", markdown)
        return
    freeze(args.sdists)
    if args.skip_fromager:
        wanted = set(args.executors.split(","))
        with tempfile.TemporaryDirectory() as tmp_name, serve(args.sdists) as url:
            for executor in ("local", "dask-local"):
                if executor in wanted:
                    spec = "local" if executor == "local" else f"dask-local:{JOBS}"
                    row = run_fromsource(url, Path(tmp_name), spec, noop=False)
                    print(
                        f"{spec}: wall {float(row['wall']):.2f} s, bound {float(row['bound']):.2f} s "
                        f"(critical path {float(row['critical']):.2f}, build seconds "
                        f"{float(row['work']):.2f}), wall/bound {float(row['over_bound']):.3f}"
                    )
        return
    with tempfile.TemporaryDirectory() as tmp_name, serve(args.sdists) as url:
        tmp = Path(tmp_name)
        # Local and Dask runs alternate, PAIRS of each: on a shared machine one pair can
        # differ by 20% either way; each row is its executor's median run, and every pair's
        # ratio is printed under the table.
        locals_, dasks = [], []
        for attempt in range(PAIRS):
            locals_.append(run_fromsource(url, tmp, noop=attempt == 0, attempt=attempt))
            dasks.append(run_fromsource(url, tmp, f"dask-local:{JOBS}", noop=False, attempt=attempt))
        theirs = run_fromager(url, tmp, args.fromager_venv)
    ours = {**_median(locals_), **{k: v for k, v in locals_[0].items() if k.startswith(("noop", "frozen"))}}
    markdown = render(ours, theirs, _median(dasks), pairs=list(zip(locals_, dasks, strict=True)))
    print(markdown)
    if not args.no_write:
        write_section("bootstrap", markdown)


if __name__ == "__main__":
    main()
