"""Build directories: venv and unpacked source removed after a successful build unless kept;
the log always stays, and a failed build keeps its tree for debugging."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from bootstrap_helpers import bootstrap_argv, project
from fromsource.cli import main


def _bootstrap(index: Path, ws: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        bootstrap_argv(index, ws, *args, "--keep-going", as_json=False),
    )


def test_build_dirs_are_removed_after_success_unless_kept(tmp_path: Path) -> None:
    index = tmp_path / "index"
    project(index, "fine")
    project(index, "broken", fail=True)

    removed = _bootstrap(index, tmp_path / "ws", "fine", "broken")
    kept = _bootstrap(index, tmp_path / "kept", "fine", "broken", "--keep-build-dirs")

    assert removed.exit_code == kept.exit_code == 3  # broken fails; fine builds
    fine = tmp_path / "ws" / "builds" / "fine-1.0"
    assert sorted(p.name for p in fine.iterdir()) == ["backend-requires.json", "build.log"]
    broken = tmp_path / "ws" / "builds" / "broken-1.0"
    assert {"src", "env", "build.log"} <= {p.name for p in broken.iterdir()}
    assert "failing on purpose" in (broken / "build.log").read_text()
    kept_fine = tmp_path / "kept" / "builds" / "fine-1.0"
    assert {"src", "env", "out", "build.log"} <= {p.name for p in kept_fine.iterdir()}
    assert (kept_fine / "env" / "bin" / "python").exists()
