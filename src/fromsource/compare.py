"""Compare two wheels after normalisation: are they the same build?

Normalised away: member order, timestamps, compression and permissions stored in the zip,
and the line order of RECORD. Everything else, every byte of every file, must be equal.
Used for stage 2 (stage-1 vs stage-2 wheels) and for "does the seed reproduce from source".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fromsource.archives import iter_members

NORMALISATION = (
    "zip member order",
    "zip timestamps, compression and permission bits",
    "line order of *.dist-info/RECORD",
)


@dataclass(frozen=True, slots=True)
class Difference:
    name: str
    reference_sha256: str | None  # None: absent from the reference
    rebuild_sha256: str | None  # None: absent from the rebuild

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "referenceSha256": self.reference_sha256,
            "rebuildSha256": self.rebuild_sha256,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    reference: str
    rebuild: str
    files: int
    differences: tuple[Difference, ...]

    @property
    def equivalent(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "rebuild": self.rebuild,
            "files": self.files,
            "equivalent": self.equivalent,
            "differences": [d.to_dict() for d in self.differences],
        }


def _normalised_digests(wheel: Path) -> dict[str, str]:
    digests = {}
    for member in iter_members(wheel):
        data = member.data
        if member.name.endswith(".dist-info/RECORD") and member.name.count("/") == 1:
            data = b"\n".join(sorted(line.rstrip(b"\r") for line in data.splitlines() if line.strip()))
        digests[member.name] = hashlib.sha256(data).hexdigest()
    return digests


def compare_wheels(reference: Path, rebuild: Path) -> Comparison:
    """Every file that differs between two wheels once normalised (empty: equivalent)."""
    ref, new = _normalised_digests(reference), _normalised_digests(rebuild)
    differences = tuple(
        Difference(name, ref.get(name), new.get(name))
        for name in sorted(set(ref) | set(new))
        if ref.get(name) != new.get(name)
    )
    return Comparison(reference.name, rebuild.name, len(set(ref) | set(new)), differences)
