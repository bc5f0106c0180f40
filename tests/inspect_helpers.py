"""Helpers for the inspect tests: real pairs from tests/data, and tampered wheel copies."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).parent / "data"


def pairs() -> dict[str, tuple[Path, Path]]:
    """name -> (wheel, sdist) for every pair in MANIFEST.json."""
    manifest = json.loads((DATA / "MANIFEST.json").read_text())
    found: dict[str, dict[str, Path]] = {}
    for entry in manifest:
        found.setdefault(entry["name"], {})[entry["kind"]] = DATA / entry["file"]
    return {name: (kinds["wheel"], kinds["sdist"]) for name, kinds in found.items()}


def read_wheel(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


def dist_info(files: dict[str, bytes]) -> str:
    return next(n.split("/")[0] for n in files if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))


def record_for(files: dict[str, bytes]) -> bytes:
    record = f"{dist_info(files)}/RECORD"
    rows = []
    for name, data in files.items():
        if name == record:
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    rows.append(f"{record},,")
    return ("\n".join(rows) + "\n").encode()


def tampered(
    wheel: Path,
    dest: Path,
    change: Callable[[dict[str, bytes]], None],
    *,
    update_record: bool = True,
) -> Path:
    """A copy of ``wheel`` under ``dest`` with ``change`` applied (RECORD rewritten)."""
    files = read_wheel(wheel)
    change(files)
    if update_record:
        files[f"{dist_info(files)}/RECORD"] = record_for(files)
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / wheel.name
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out


def old_pkg_info_sdist(sdist: Path, dest: Path) -> Path:
    """A copy of ``sdist`` whose PKG-INFO says Metadata-Version 2.1 (not authoritative)."""
    import io
    import tarfile

    dest.mkdir(parents=True, exist_ok=True)
    out = dest / sdist.name
    with tarfile.open(sdist) as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None  # type: ignore[union-attr]
            if data is not None and info.name.count("/") == 1 and info.name.endswith("/PKG-INFO"):
                data = data.replace(b"Metadata-Version: 2.4", b"Metadata-Version: 2.1", 1)
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    return out
