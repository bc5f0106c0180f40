"""Upstream-like git repositories made from real sdists, and tampered copies of sdists.

A repository is the sdist's files minus what packaging generates (PKG-INFO, egg-info, the
``[egg_info]`` block setuptools appends to setup.cfg, version files), committed and tagged
with the git binary, as the project's own repository would hold them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from fromsource.archives import extract_sdist

_ENV = {
    "GIT_AUTHOR_NAME": "Upstream",
    "GIT_AUTHOR_EMAIL": "up@example.org",
    "GIT_COMMITTER_NAME": "Upstream",
    "GIT_COMMITTER_EMAIL": "up@example.org",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def upstream_repo(
    sdist: Path,
    dest: Path,
    *,
    tags: Iterable[str],
    drop: Iterable[str] = (),
    annotated: bool = True,
    object_format: str = "sha1",
) -> Path:
    """A git repository at ``dest`` holding the sdist's files minus generated ones."""
    scratch = dest.parent / f".{dest.name}-unpack"
    top = extract_sdist(sdist, scratch)
    shutil.move(str(top), dest)
    shutil.rmtree(scratch)
    (dest / "PKG-INFO").unlink()
    for egg_info in list(dest.rglob("*.egg-info")):
        shutil.rmtree(egg_info)
    setup_cfg = dest / "setup.cfg"
    if setup_cfg.exists():
        text = re.sub(r"\[egg_info\]\n(?:[^\[\n].*\n?)*", "", setup_cfg.read_text()).rstrip()
        if text:
            setup_cfg.write_text(text + "\n")
        else:
            setup_cfg.unlink()
    for path in drop:
        (dest / path).unlink()
    git(dest, "init", "-q", "-b", "main", f"--object-format={object_format}")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "release")
    for tag in tags:
        git(dest, "tag", *(["-a", "-m", tag] if annotated else []), tag)
    return dest


class HardLink(str):
    """A ``retar`` change: a tar hard link to this archive path (below the top directory)."""


def retar(sdist: Path, dest: Path, changes: Mapping[str, bytes | Path | HardLink | None]) -> Path:
    """A copy of ``sdist`` at ``dest`` with files replaced, added (bytes) or removed (None);
    a ``Path`` value makes a symlink to that (relative) target, a ``HardLink`` a hard link."""
    with tarfile.open(sdist) as src:
        members = [(m, src.extractfile(m).read() if m.isreg() else None) for m in src]  # type: ignore[union-attr]
    top = members[0][0].name.split("/")[0]
    with tarfile.open(dest, "w:gz") as out:
        seen = set()
        for original, content in members:
            rel = original.name.partition("/")[2]
            seen.add(rel)
            info, data = original, content
            if rel in changes:
                if changes[rel] is None:
                    continue
                info, data = _entry(original.name, changes[rel])
            out.addfile(info, io.BytesIO(data) if data is not None else None)
        for rel, change in changes.items():
            if rel not in seen and change is not None:
                info, data = _entry(f"{top}/{rel}", change)
                out.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def _entry(name: str, change: bytes | Path | HardLink | None) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = 0o644, 1_700_000_000
    if isinstance(change, HardLink):
        info.type, info.linkname = tarfile.LNKTYPE, f"{name.split('/', maxsplit=1)[0]}/{change}"
        return info, None
    if isinstance(change, Path):
        info.type, info.linkname = tarfile.SYMTYPE, change.as_posix()
        return info, None
    assert change is not None
    info.size = len(change)
    return info, change
