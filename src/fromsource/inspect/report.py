"""``--report DIR``: one directory per wheel with the JSON report, per-file diffs, and
diffoscope's HTML report of the pair when diffoscope is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fromsource.inspect.model import Report

DIFFOSCOPE_TIMEOUT = 600  # seconds; a big pair is not worth blocking an audit on


@dataclass(frozen=True, kw_only=True, slots=True)
class Written:
    directory: Path
    files: tuple[Path, ...]
    diffoscope: str  # "written", "not installed", "failed: ..."


def _stem(report: Report) -> str:
    return report.wheel.removesuffix(".whl")


def write_report(
    report: Report, directory: Path, *, wheel: Path, sdist: Path, diffoscope: bool = True
) -> Written:
    """Write ``report.json``, ``summary.txt`` and ``diffs/<path>.diff`` under ``directory``."""
    root = directory / _stem(report)
    (root / "diffs").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    put(root / "report.json", json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")
    lines = [f"{report.wheel} against {report.sdist}: {report.verdict}", ""]
    lines += [f"reason: {r}" for r in report.reasons]
    lines += [f"unsettled: {u}" for u in report.metadata.unsettled]
    lines += [f"note: {n}" for n in report.notes]
    lines += ["", *(f"{f.status:10} {f.path}  <- {f.sdist_path or '-'}" for f in report.files)]
    put(root / "summary.txt", "\n".join(lines) + "\n")
    for result in report.files:
        if result.diff:
            # member names are archive-checked relative paths ("a/b.py"), never absolute
            put(root / "diffs" / f"{result.path}.diff", result.diff)
    status = "not installed"
    if diffoscope:
        status = _diffoscope(wheel, sdist, root / "diffoscope.html")
        if status == "written":
            written.append(root / "diffoscope.html")
    return Written(directory=root, files=tuple(written), diffoscope=status)


def _diffoscope(wheel: Path, sdist: Path, html: Path) -> str:
    exe = shutil.which("diffoscope")
    if exe is None:
        return "not installed"
    try:
        done = subprocess.run(
            [exe, "--html", str(html), "--exclude-directory-metadata", "recursive",
             str(wheel), str(sdist)],
            capture_output=True,
            timeout=DIFFOSCOPE_TIMEOUT,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed: {exc}"
    if done.returncode not in (0, 1):  # 1 means "differences found"
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        return f"failed: exit {done.returncode} {' '.join(tail)}"
    return "written"
