"""Benchmark: milliseconds per verified PEP 740 attestation, fromsource vs pypi-attestations.

The same real production attestations (../shared/sigstore-fixtures) are verified offline by
  - `fromsource evidence verify DIST --publisher SPEC --attestation FILE` (one process per file),
  - `python -m pypi_attestations verify attestation --offline --identity SAN DIST` (one process
    per distribution; it verifies the dist's .publish and .slsa attestations, so its time is
    divided by the number of files it checked),
and in one warm process each: fromsource's `verify_distribution` on a pinned root, and
pypi-attestations' `Attestation.verify(..., offline=True)`. pypi-attestations' offline mode
copies the trusted root into the cache directory, so it runs with HOME and XDG_CACHE_HOME
pointing at a temporary directory here.

    python bench/evidence/run.py [--repeat 5] [--warm 20] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _report import write_section

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "sigstore-fixtures" / "pypi-attestations"
# (dist, publisher spec, certificate SAN, attestation files)
CASES = [
    (
        "pypi_attestations-0.0.19.tar.gz",
        "github:trailofbits/pypi-attestations/release.yml",
        "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
        (".publish.attestation", ".slsa.attestation"),
    ),
    (
        "gitlab_oidc_project-0.0.3.tar.gz",
        "gitlab:facutuesca/gitlab-oidc-project/.gitlab-ci.yml",
        "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main",
        (".publish.attestation",),
    ),
]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()[-400:]}")
    return elapsed


def processes(repeat: int, env: dict[str, str]) -> tuple[float, float, int, float, float]:
    ours, theirs, files = [], [], 0
    ours_proc, theirs_proc = [], []
    for _ in range(repeat):
        total_ours = total_theirs = 0.0
        files = 0
        for dist, spec, san, suffixes in CASES:
            path = FIXTURES / dist
            for suffix in suffixes:
                total_ours += timed(
                    [
                        sys.executable,
                        "-m",
                        "fromsource",
                        "evidence",
                        "verify",
                        str(path),
                        "--publisher",
                        spec,
                        "--attestation",
                        f"{path}{suffix}",
                    ],
                    env,
                )
                files += 1
            total_theirs += timed(
                [
                    sys.executable,
                    "-m",
                    "pypi_attestations",
                    "verify",
                    "attestation",
                    "--offline",
                    "--identity",
                    san,
                    str(path),
                ],
                env,
            )
        ours.append(total_ours / files)
        theirs.append(total_theirs / files)
        ours_proc.append(total_ours / files)  # one process per file
        theirs_proc.append(total_theirs / len(CASES))  # one process per dist
    return (
        statistics.median(ours),
        statistics.median(theirs),
        files,
        statistics.median(ours_proc),
        statistics.median(theirs_proc),
    )


def in_process(warm: int) -> tuple[float, float]:
    from pypi_attestations import Attestation, Distribution
    from sigstore.verify.policy import Identity

    from fromsource.attest.evidence import read_evidence, verify_distribution
    from fromsource.attest.publisher import parse_publisher
    from fromsource.attest.trustroot import load_pinned_root

    jobs = [
        (FIXTURES / dist, spec, san, FIXTURES / f"{dist}{suffix}")
        for dist, spec, san, suffixes in CASES
        for suffix in suffixes
    ]
    root = load_pinned_root()
    ours, theirs = [], []
    for _ in range(warm):
        start = time.perf_counter()
        for dist, spec, _san, evidence in jobs:
            verify_distribution(dist, [read_evidence(evidence)], parse_publisher(spec), root)
        ours.append((time.perf_counter() - start) / len(jobs))
        start = time.perf_counter()
        for dist, _spec, san, evidence in jobs:
            attestation = Attestation.model_validate_json(evidence.read_bytes())
            attestation.verify(Identity(identity=san), Distribution.from_file(dist), offline=True)
        theirs.append((time.perf_counter() - start) / len(jobs))
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not (FIXTURES / CASES[0][0]).is_file():
        raise SystemExit(f"the sigstore fixtures are not at {FIXTURES}")
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": home,
            "XDG_CACHE_HOME": f"{home}/cache",
            "XDG_DATA_HOME": f"{home}/data",
        }
        proc_ours, proc_theirs, files, per_proc_ours, per_proc_theirs = processes(args.repeat, env)
        os.environ.update({"HOME": home, "XDG_CACHE_HOME": f"{home}/cache", "XDG_DATA_HOME": f"{home}/data"})
        warm_ours, warm_theirs = in_process(args.warm)
    table = "\n".join(
        [
            "## evidence: PEP 740 attestation verification, offline",
            "",
            f"{files} real production attestations (pypi-attestations 0.0.19 publish and SLSA, "
            "gitlab-oidc-project 0.0.3 publish; ../shared/sigstore-fixtures). Median of "
            f"{args.repeat} rounds of processes and {args.warm} warm in-process rounds on "
            f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}. "
            "Produced by `python bench/evidence/run.py`. Process rows include interpreter start-up; "
            "pypi-attestations' CLI checks both attestations of a dist in one process (time divided "
            "by files). fromsource verifies against the pinned root; pypi-attestations with "
            "`offline=True` (its root copied into a temporary cache directory). Both processes "
            "spend most of their time importing sigstore; the warm rows are the verification "
            "itself.",
            "",
            "| what | ms per verified file | ratio to pypi-attestations | ms per process |",
            "|---|---|---|---|",
            f"| `fromsource evidence verify` (process per file) | {proc_ours * 1000:.0f} | {proc_ours / proc_theirs:.2f} | {per_proc_ours * 1000:.0f} |",
            f"| `pypi-attestations verify attestation --offline` (process per dist) | {proc_theirs * 1000:.0f} | 1.00 | {per_proc_theirs * 1000:.0f} |",
            f"| fromsource `verify_distribution` (warm, in process) | {warm_ours * 1000:.1f} | {warm_ours / warm_theirs:.2f} | |",
            f"| pypi-attestations `Attestation.verify(offline=True)` (warm) | {warm_theirs * 1000:.1f} | 1.00 | |",
        ]
    )
    print(table)
    if not args.no_write:
        write_section("evidence", table)


if __name__ == "__main__":
    main()
