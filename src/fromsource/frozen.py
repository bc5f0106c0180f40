"""``bootstrap --frozen``: re-run on the pins of the last ``graph.json``, with no index traffic.

The last run left every sdist it resolved in ``sources/`` and every (name, version) in
``graph.json``. A frozen run resolves against exactly those: the sdists in ``sources/`` whose
versions the graph names, nothing else, so it reaches the same versions without asking an
index (and without learning of newer releases, which is the point of freezing).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import Version

from fromsource.errors import IndexError_
from fromsource.fileutil import sha256_file
from fromsource.graph import load
from fromsource.index import LocalDirIndex, ProjectNotFoundError, SdistCandidate, WheelCandidate
from fromsource.workspace import Workspace


class FrozenIndex:
    """An :class:`~fromsource.index.Index` over ``sources/`` limited to the graph's pins."""

    def __init__(self, workspace: Workspace, digest: Callable[[Path], str] = sha256_file) -> None:
        graph = load(workspace.graph_file)  # InputError with a hint when there is none
        self.graph_file = workspace.graph_file
        self.pins: dict[NormalizedName, set[Version]] = {}
        for node in graph.nodes:
            self.pins.setdefault(canonicalize_name(node.name), set()).add(Version(node.version))
        self.sources = workspace.sources
        self.local = LocalDirIndex(workspace.sources, digest=digest)
        self.digest = digest  # a stat cache on re-runs: the sdists were hashed last time
        self._listed: dict[NormalizedName, list[tuple[Version, Path]]] | None = None

    def __repr__(self) -> str:
        return f"FrozenIndex({str(self.graph_file)!r})"

    def _sources(self) -> dict[NormalizedName, list[tuple[Version, Path]]]:
        """sources/ by project, listed once."""
        if self._listed is None:
            self._listed = {}
            for path in sorted(self.sources.iterdir()) if self.sources.is_dir() else ():
                try:
                    project, version = parse_sdist_filename(path.name)
                except InvalidSdistFilename:
                    continue
                self._listed.setdefault(project, []).append((version, path))
        return self._listed

    def candidates(self, name: str) -> list[SdistCandidate]:
        key = canonicalize_name(name)
        pinned = self.pins.get(key)
        if not pinned:
            raise ProjectNotFoundError(
                f"--frozen: {name} is not in {self.graph_file}; run without --frozen to resolve it"
            )
        found: dict[Version, SdistCandidate] = {}
        for version, path in self._sources().get(key, []):
            if version in pinned and path.is_file():
                # Requires-Python was checked when these pins were resolved; not re-read.
                found.setdefault(
                    version,
                    SdistCandidate(
                        name=key,
                        version=version,
                        filename=path.name,
                        url=path.resolve().as_uri(),
                        sha256=self.digest(path),
                    ),
                )
        missing = pinned - set(found)
        if missing:
            versions = ", ".join(sorted(map(str, missing)))
            raise IndexError_(
                f"--frozen: the sdist of {name} {versions} is not in {self.sources}",
                hint="run without --frozen to fetch it again",
            )
        return list(found.values())

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        return []  # published wheels are an index's; externals come from externals/

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        return self.local.fetch(candidate, dest_dir)

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate, limit: int) -> bytes | None:
        return None  # no index: publisher evidence comes from evidence/ and --evidence

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        raise IndexError_(
            f"--frozen: {candidate.filename} would need an index; put it into "
            "the workspace's externals/ directory"
        )
