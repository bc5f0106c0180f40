"""The ``seeds/`` directory of a workspace: storing seeds with their evidence, and reading
back what it holds about each. Whether a policy accepts a seed is :mod:`fromsource.seeds`."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename

from fromsource.attest.locate import attestation_name
from fromsource.attest.source_seed import SOURCE_SEED, SourceSeedClaim
from fromsource.errors import FromsourceError, InputError
from fromsource.fileutil import atomic_copy, atomic_write_bytes, sha256_file
from fromsource.seedassembly import AssembledSeed
from fromsource.untrusted import MAX_EVIDENCE_BYTES, MAX_SMALL_FILE_BYTES, load_json, read_file
from fromsource.workspace import Workspace


class SeedStore:
    """The ``seeds/`` directory of a workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.dir = workspace.seeds

    def wheels(self) -> list[Path]:
        return sorted(self.dir.glob("*.whl")) if self.dir.is_dir() else []

    def for_project(self, name: str) -> list[Path]:
        wanted = canonicalize_name(name)
        return [w for w in self.wheels() if parse_wheel_filename(w.name)[0] == wanted]

    def evidence_file(self, wheel_name: str) -> Path:
        return self.dir / attestation_name(wheel_name)

    def report_file(self, wheel_name: str) -> Path:
        return self.dir / f"{wheel_name}.inspect.json"

    def add(self, wheel: Path, envelopes: list[bytes], report: bytes | None = None) -> Path:
        """Store the wheel with its evidence; evidence first, so no seed appears without it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        evidence = self.evidence_file(wheel.name)
        lines = (
            read_file(evidence, limit=MAX_EVIDENCE_BYTES, what="seed evidence").splitlines(keepends=True)
            if evidence.exists()
            else []
        )
        lines += [e for e in envelopes if e not in lines]
        if report is not None:
            atomic_write_bytes(self.report_file(wheel.name), report)
        atomic_write_bytes(evidence, b"".join(lines))
        dest = self.dir / wheel.name
        if dest.exists() and sha256_file(dest) != sha256_file(wheel):
            raise InputError(f"a different {wheel.name} is already a seed; remove seeds/{wheel.name} first")
        atomic_copy(wheel, dest)
        return dest

    def add_source(self, seed: AssembledSeed, envelope: bytes, sdist: Path) -> Path:
        """Store an assembled seed with its evidence and its sdist (to re-assemble it from)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        dest = self.dir / seed.filename
        if dest.exists() and sha256_file(dest) != seed.sha256:
            raise InputError(
                f"a different {seed.filename} is already a seed; remove seeds/{seed.filename} first"
            )
        kept = self.dir / seed.sdist_name
        if not kept.exists() or sha256_file(kept) != seed.sdist_sha256:
            atomic_copy(sdist, kept)
        evidence = self.evidence_file(seed.filename)
        lines = (
            read_file(evidence, limit=MAX_EVIDENCE_BYTES, what="seed evidence").splitlines(keepends=True)
            if evidence.exists()
            else []
        )
        # Assembled again (same bytes): the newest statement replaces the older ones.
        lines = [line for line in lines if claimed_predicate_type(line) != SOURCE_SEED]
        atomic_write_bytes(evidence, b"".join([*lines, envelope]))
        atomic_write_bytes(dest, seed.data)
        return dest

    def summary(self, wheel: Path) -> dict[str, Any]:
        """What the store holds about one seed (``seed list``/``seed show``): its sha256, the
        evidence kinds, a source seed's recipe as claimed, and the review's verdict.

        The recipe is read, not checked: :func:`fromsource.seeds.check_seed` decides whether
        it re-assembles.
        """
        evidence_file = self.evidence_file(wheel.name)
        kinds: list[str | None] = []
        lines: list[bytes] = []
        if evidence_file.is_file():
            lines = [
                line
                for line in read_file(
                    evidence_file, limit=MAX_EVIDENCE_BYTES, what="seed evidence"
                ).splitlines()
                if line.strip()
            ]
            kinds = [claimed_predicate_type(line) for line in lines]
        info: dict[str, Any] = {
            "wheel": wheel.name,
            "sha256": sha256_file(wheel),
            "evidence": [k for k in kinds if k],
        }
        for line, kind in zip(lines, kinds, strict=True):
            if kind != SOURCE_SEED:
                continue
            claim = _source_claim(line)
            if claim is not None:
                info["source"] = {
                    "sdist": {"name": claim.sdist_name, "sha256": claim.sdist_sha256},
                    "layout": [str(p) for p in claim.layout],
                    "exclude": list(claim.exclude),
                }
        report = self.report_file(wheel.name)
        if report.is_file():
            data = load_json(
                read_file(report, limit=MAX_SMALL_FILE_BYTES, what="review report"), source=str(report)
            )
            if not isinstance(data, dict):
                raise InputError(f"{report}: not a JSON object")
            info["review"] = {
                "sdist": data.get("sdist"),
                "verdict": data.get("verdict"),
                "counts": data.get("counts"),
                "reasons": data.get("reasons"),
            }
        return info


def claimed_predicate_type(line: bytes) -> str | None:
    """The predicateType an envelope claims, read without trusting it (routing only)."""
    try:
        envelope = load_json(line, source="envelope")
        payload = load_json(base64.b64decode(envelope["payload"]), source="payload")
        value = payload.get("predicateType") if isinstance(payload, dict) else None
    except (FromsourceError, ValueError, KeyError, TypeError, binascii.Error):
        return None
    return value if isinstance(value, str) else None


def _source_claim(line: bytes) -> SourceSeedClaim | None:
    """The source-seed statement in an envelope line, read strictly; None if it does not read."""
    try:
        envelope = load_json(line, source="envelope")
        return SourceSeedClaim.from_statement(
            load_json(base64.b64decode(envelope["payload"]), source="payload")
        )
    except (FromsourceError, ValueError, KeyError, TypeError, binascii.Error):
        return None
