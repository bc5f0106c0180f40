"""Does the index's published wheel reproduce from source?

Asked where a cycle was broken by a source seed: nothing published was used, so comparing
the index's wheel of that version with the stage-2 rebuild is evidence about the index
(recorded and attested), never a requirement of the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import Version

from fromsource.compare import Comparison, compare_wheels
from fromsource.errors import FromsourceError
from fromsource.fileutil import sha256_file
from fromsource.index import Index
from fromsource.wheelstore import best_wheel


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedCheck:
    """The verdict; ``equivalent`` is None when there was nothing to compare (``note`` says why)."""

    wheel: str | None = None
    sha256: str | None = None
    equivalent: bool | None = None
    differences: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "wheel": self.wheel,
            "sha256": self.sha256,
            "equivalent": self.equivalent,
            "differences": list(self.differences),
            "note": self.note,
        }


def compare_published(
    index: Index, name: str, version: str, rebuild: Path, directory: Path
) -> tuple[PublishedCheck, Comparison | None, Path | None]:
    """Fetch the wheel of ``name`` ``version`` an installer would pick here (hash-checked
    against the index) into ``directory`` and compare it with ``rebuild``."""
    try:
        candidate = best_wheel(index.wheel_candidates(name), Version(version))
        if candidate is None:
            return (
                PublishedCheck(note=f"the index has no wheel of {name} {version} for this interpreter"),
                None,
                None,
            )
        path = index.fetch_wheel(candidate, directory)
        comparison = compare_wheels(path, rebuild)
    except FromsourceError as exc:
        return PublishedCheck(note=f"not compared: {exc.message.splitlines()[0]}"), None, None
    return (
        PublishedCheck(
            wheel=path.name,
            sha256=sha256_file(path),
            equivalent=comparison.equivalent,
            differences=tuple(d.name for d in comparison.differences),
        ),
        comparison,
        path,
    )
