"""Workspace layout, locking and the static PEP 503 wheel index.

A workspace is one directory holding a run's state::

    sources/        sdists, cached by name
    wheels/         built wheels, plus wheels/simple/ (PEP 503, installable by pip and uv);
                    externals a run used are copied into wheels/simple/<project>/
    seeds/          admitted seed wheels (and the sdists source seeds were assembled from)
    published/      published wheels compared with stage 2 of a source-seeded package
    attestations/   <artifact filename>.intoto.jsonl
    evidence/       <sha256 of a file>/<sha256 of the evidence>.json: publisher evidence
    builds/         <name>-<version>/ logs and unpacked trees
    keys/           the builder key generated on first use
    cache/          what re-runs need not compute again: file digests by stat, sdist
                    facts by sha256, failures by the digest of their inputs
    graph.json      the build graph of the last bootstrap
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from fromsource.attest.locate import attestation_name
from fromsource.errors import WorkspaceError
from fromsource.fileutil import atomic_copy, atomic_write_bytes, sha256_file

DEFAULT_WORKSPACE = Path("fromsource-work")


@dataclass(frozen=True, slots=True)
class Workspace:
    """Paths of one workspace directory. Creating the object touches nothing on disk."""

    root: Path

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def wheels(self) -> Path:
        return self.root / "wheels"

    @property
    def simple(self) -> Path:
        return self.root / "wheels" / "simple"

    @property
    def seeds(self) -> Path:
        return self.root / "seeds"

    @property
    def stage1(self) -> Path:
        """Stage-1 wheels of seeded cycles, each with its attestation as a sidecar."""
        return self.root / "stage1"

    @property
    def externals(self) -> Path:
        """Pre-built wheels the policy names by sha256 (see docs/policy.md)."""
        return self.root / "externals"

    @property
    def published(self) -> Path:
        """Published wheels fetched to compare with from-source rebuilds of source seeds."""
        return self.root / "published"

    @property
    def attestations(self) -> Path:
        return self.root / "attestations"

    @property
    def evidence(self) -> Path:
        """Publisher evidence (PEP 740, sigstore bundles) by the sha256 of the file it is for."""
        return self.root / "evidence"

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def cache(self) -> Path:
        """Caches a re-run reads (each keyed by content digests; deleting it is always safe)."""
        return self.root / "cache"

    @property
    def graph_file(self) -> Path:
        return self.root / "graph.json"

    def create(self) -> Workspace:
        """Make the directory tree; refuse a path that exists but is not a directory."""
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} exists and is not a directory")
        try:
            for path in (self.sources, self.wheels, self.simple, self.seeds, self.attestations, self.builds):
                path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {self.root}: {exc}") from exc
        return self

    def attestation_for(self, artifact_name: str) -> Path:
        return self.attestations / attestation_name(artifact_name)

    def wheel_files(self) -> list[Path]:
        if not self.wheels.is_dir():
            return []
        return sorted(self.wheels.glob("*.whl"))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the workspace; fail at once if another run holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = (self.root / ".lock").open("a+")
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise WorkspaceError(
                    f"workspace {self.root} is in use by another fromsource process",
                    hint="wait for it to finish, or use another --workspace",
                ) from exc
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            handle.close()

    def external_files(self) -> list[Path]:
        """External wheels published in the index: wheels/simple/<project>/*.whl."""
        if not self.simple.is_dir():
            return []
        return sorted(self.simple.glob("*/*.whl"))

    def publish_external(self, wheel: Path) -> Path:
        """Copy a policy-admitted external wheel into wheels/simple/<project>/.

        Externals sit in the index next to built wheels, so the index is installable, but
        never in wheels/ itself: nothing mistakes them for built ones (no attestation).
        """
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        dest = self.simple / project / wheel.name
        if not dest.is_file() or sha256_file(dest) != sha256_file(wheel):
            dest.parent.mkdir(parents=True, exist_ok=True)
            atomic_copy(wheel, dest)
        return dest

    def update_simple_index(self, digest: Callable[[Path], str] = sha256_file) -> None:
        """Rewrite the PEP 503 index under wheels/simple/ from the wheels present.

        Built wheels (wheels/) and published externals (wheels/simple/<project>/) are listed
        together. Links carry ``#sha256=`` fragments so pip checks what it installs. Each
        page is written atomically, and only when it changed (a no-op re-run writes
        nothing); a wheel is in place before the index names it. ``digest``: a stat cache
        spares hashing every wheel again.
        """
        projects: dict[str, list[tuple[str, Path]]] = {}
        for wheel in self.wheel_files():
            project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            projects.setdefault(project, []).append((f"../../{wheel.name}", wheel))
        for wheel in self.external_files():
            project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            if wheel.parent.name == project:  # anything else was not put there by us
                projects.setdefault(project, []).append((wheel.name, wheel))
        for name, wheels in projects.items():
            links = "\n".join(
                f'    <a href="{html.escape(href)}#sha256={digest(w)}">{html.escape(w.name)}</a><br/>'
                for href, w in wheels
            )
            page = (
                '<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" '
                f'content="1.0"><title>Links for {html.escape(name)}</title></head>\n'
                f"  <body>\n    <h1>Links for {html.escape(name)}</h1>\n{links}\n  </body>\n</html>\n"
            )
            _write_if_changed(self.simple / name / "index.html", page.encode())
        root_links = "\n".join(
            f'    <a href="{html.escape(n)}/">{html.escape(n)}</a><br/>' for n in sorted(projects)
        )
        root = (
            '<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" '
            'content="1.0"><title>Simple index</title></head>\n'
            f"  <body>\n{root_links}\n  </body>\n</html>\n"
        )
        _write_if_changed(self.simple / "index.html", root.encode())


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass  # absent or unreadable: write it
    atomic_write_bytes(path, data, durable=False)  # rewritten from wheels/ by every run
