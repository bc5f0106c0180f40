"""`fromsource --help` and `fromsource bootstrap --help` list what there is without loading
the planner, the resolver or an HTTP client: help answers at once."""

from __future__ import annotations

import subprocess
import sys

# Loaded by a run, not by its help.
HEAVY = ("fromsource.bootstrap.planner", "fromsource.installability", "fromsource.resolve", "requests")


def test_help_lists_every_command_without_loading_what_runs_them() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from fromsource.cli import main\n"
        "for args in (['--help'], ['bootstrap', '--help']):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        main(args)\n"
        "    print(out.getvalue())\n"
        f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in result.stdout, result.stdout
    for command in ("bootstrap", "build", "verify", "inspect", "sbom", "seed", "origin", "evidence"):
        assert f"  {command} " in result.stdout, command
    assert "dask+tls://HOST:PORT" in result.stdout  # bootstrap's own help came too
