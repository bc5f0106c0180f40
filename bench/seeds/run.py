"""Benchmark: assembling a source seed, and the re-assembly every use of it costs.

For real sdists from tests/data: ``assemble`` (read the sdist through the safe reader, place
the files, write METADATA/WHEEL/RECORD and the zip) and ``check_seed`` under a policy taking
source evidence (parse the statement, find the sdist, re-assemble, compare bytes), as
bootstrap and ``verify --policy`` run it. Median of ``--repeat`` runs in one process.
Target: < 100 ms per seed (re-assembly runs once per seed per bootstrap or verify; most of it is
the safe archive reader decompressing and checking the tar).

    python bench/seeds/run.py [--repeat 20] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fromsource.attest.keys import generate_keypair, load_signer
from fromsource.policy import load_policy
from fromsource.seedassembly import Placement, assemble
from fromsource.seeds import assemble_source_seed, check_seed
from fromsource.seedstore import SeedStore
from fromsource.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _report import write_section

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
CASES = [
    (
        "coherent_build-0.19.1.tar.gz",
        [".=coherent/build"],
        ["tests/*", "README.md", "PKG-INFO", "pyproject.toml"],
    ),
    ("flit_core-3.12.0.tar.gz", [], []),
    ("packaging-24.2.tar.gz", [], []),
]


def _median_ms(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        signer = load_signer(generate_keypair(root / "keys").private_path)
        policy_file = root / "policy.toml"
        policy_file.write_text('version = 1\n[trust]\nbuilder_keys = []\n[seeds]\nevidence = ["source"]\n')
        policy = load_policy(policy_file)
        for name, layout, exclude in CASES:
            sdist = DATA / name
            placements = [Placement.parse(p) for p in layout]
            store = SeedStore(Workspace(root / name).create())
            seed, admission = assemble_source_seed(sdist, placements, exclude, signer, store)
            assemble_ms = _median_ms(
                lambda sdist=sdist, placements=placements, exclude=exclude: assemble(
                    sdist, placements, exclude
                ),
                args.repeat,
            )
            check = check_seed(admission.seed, policy)
            assert check.accepted, check.problems
            check_ms = _median_ms(lambda path=admission.seed: check_seed(path, policy), args.repeat)
            rows.append(
                f"| {name} | {os.path.getsize(sdist) // 1024} | {len(seed.files)} | "
                f"{len(seed.data) // 1024} | {assemble_ms:.1f} | {check_ms:.1f} |"
            )
    table = "\n".join(
        [
            "| sdist | sdist (KiB) | files placed | seed (KiB) | assemble (ms) | check_seed with re-assembly (ms) |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    text = (
        f"## seeds: `seed assemble` and the re-assembly check\n\n{platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; produced by "
        f"`python bench/seeds/run.py` in one run, median of {args.repeat}. Target: < 100 ms "
        "per seed (re-assembly runs once per seed per bootstrap or verify).\n\n" + table
    )
    print(text)
    if not args.no_write:
        write_section("seeds", text)


if __name__ == "__main__":
    main()
