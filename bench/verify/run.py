"""Benchmark: verify a generated workspace of 200 wheels with chained attestations.

Each wheel i is attested as built with wheels i-1, i-2 and i-3 in its build environment, so
every chain reaches back to the first wheel. All 200 are verified in one process (as a release
pipeline would pass dist/*.whl). The floor in the same run: securesystemslib's bare DSSE
signature check of the same 200 envelopes, with none of our statement or chain checks.
Targets: >= 4,000 envelope verifications per second and < 1 s in total.

    python bench/verify/run.py [--wheels 200] [--repeat 5] [--no-write]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from securesystemslib.dsse import Envelope

from fromsource.attest import dsse
from fromsource.attest.keys import generate_keypair, load_public_key, load_signer
from fromsource.attest.provenance import KIND_SDIST, KIND_WHEEL, BuildRecord, Dependency
from fromsource.fileutil import sha256_file
from fromsource.verify import Locations, Verifier
from fromsource.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _report import write_section


def generate(root: Path, count: int) -> tuple[Workspace, Path]:
    ws = Workspace(root).create()
    pair = generate_keypair(root / "keys")
    signer = load_signer(pair.private_path)
    built: list[Dependency] = []
    for i in range(count):
        name = f"pkg{i:04d}-1.0-py3-none-any.whl"
        wheel = ws.wheels / name
        module = f"VALUE = {i}\n".encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(module).digest()).rstrip(b"=").decode()
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"pkg{i:04d}/__init__.py", module)
            archive.writestr(
                f"pkg{i:04d}-1.0.dist-info/RECORD",
                f"pkg{i:04d}/__init__.py,sha256={digest},{len(module)}\npkg{i:04d}-1.0.dist-info/RECORD,,\n",
            )
        deps = tuple(built[-3:])
        record = BuildRecord(
            wheel_name=name,
            wheel_sha256=sha256_file(wheel),
            requirement=f"pkg{i:04d}==1.0",
            sdist=Dependency(name=f"pkg{i:04d}-1.0.tar.gz", sha256="a" * 64, kind=KIND_SDIST),
            wheels=deps,
            interpreter=Dependency(
                name="python-3.11.7", sha256="b" * 64, kind="interpreter", implementation="cpython"
            ),
            isolation="unshare-net",
            source_date_epoch=1_700_000_000,
            builder_version="bench",
            invocation_id=str(i),
            started_on="2026-01-01T00:00:00Z",
            finished_on="2026-01-01T00:00:01Z",
            log_sha256="c" * 64,
        )
        attestation = ws.attestation_for(name)
        attestation.write_bytes(dsse.sign(record.statement(), signer))
        built.append(
            Dependency(
                name=name,
                sha256=sha256_file(wheel),
                kind=KIND_WHEEL,
                edge="build-system",
                attestation_sha256=sha256_file(attestation),
            )
        )
    return ws, pair.public_path


def measure(ws: Workspace, public: Path, repeat: int) -> dict[str, float]:
    key = load_public_key(public)
    wheels = ws.wheel_files()
    ours, record, floor = [], [], []
    for _ in range(repeat):
        for check_record, times in ((False, ours), (True, record)):
            start = time.perf_counter()
            nodes = Verifier(
                [key], Locations((ws.wheels,), (ws.attestations,)), check_record=check_record
            ).verify_wheels(wheels)
            times.append(time.perf_counter() - start)
            if not all(n.ok for n in nodes):
                raise SystemExit("generated workspace did not verify: " + "; ".join(nodes[0].all_problems()))
        start = time.perf_counter()
        for wheel in wheels:
            raw = json.loads(ws.attestation_for(wheel.name).read_bytes())
            Envelope.from_dict(raw).verify([key], 1)
        floor.append(time.perf_counter() - start)
    return {
        "ours": statistics.median(ours),
        "record": statistics.median(record),
        "floor": statistics.median(floor),
        "count": len(wheels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws, public = generate(Path(tmp) / "ws", args.wheels)
        r = measure(ws, public, args.repeat)
    n = r["count"]
    table = "\n".join(
        [
            "## verify: 200 chained wheels in one process",
            "",
            f"Median of {args.repeat} runs on {platform.machine()} with {os.cpu_count()} cores, Python "
            f"{platform.python_version()}. Produced by `python bench/verify/run.py`. Each wheel's attestation names "
            "the three wheels before it; full verification = digests, signature, strict statement reading and chain links. "
            "Floor = securesystemslib's bare DSSE signature check of the same envelopes. "
            "`--check-record` also reads every wheel and checks its RECORD. "
            "Targets: >= 4,000 envelopes/s, < 1 s total.",
            "",
            "| what | wheels | total (s) | envelopes/s | ratio to floor |",
            "|---|---|---|---|---|",
            f"| fromsource verify (full chain) | {n} | {r['ours']:.3f} | {n / r['ours']:,.0f} | {r['ours'] / r['floor']:.2f} |",
            f"| fromsource verify --check-record | {n} | {r['record']:.3f} | {n / r['record']:,.0f} | {r['record'] / r['floor']:.2f} |",
            f"| securesystemslib DSSE verify only | {n} | {r['floor']:.3f} | {n / r['floor']:,.0f} | 1.00 |",
        ]
    )
    print(table)
    if not args.no_write:
        write_section("verify", table)


if __name__ == "__main__":
    main()
