"""The command line: the only place that prints or exits.

Each command lives in its own module and is imported only when it runs, so
``fromsource --help`` and quick commands start without loading heavy libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from fromsource import __version__

# command name -> "module:attribute"; a new command adds one line here.
_COMMANDS = {
    "keys": "fromsource.cli.keys_cmd:keys",
    "build": "fromsource.cli.build_cmd:build",
    "verify": "fromsource.cli.verify_cmd:verify",
    "inspect": "fromsource.cli.inspect_cmd:inspect",
    "bootstrap": "fromsource.cli.bootstrap_cmd:bootstrap",
    "graph": "fromsource.cli.graph_cmd:graph",
    "sbom": "fromsource.cli.sbom_cmd:sbom",
    "seed": "fromsource.cli.seed_cmd:seed",
    "doctor": "fromsource.cli.doctor_cmd:doctor",
    "evidence": "fromsource.cli.evidence_cmd:evidence",
    "origin": "fromsource.cli.origin_cmd:origin",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not written yet
                return None
            raise
        command: Any = getattr(module, attr)
        return command  # type: ignore[no-any-return]


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fromsource")
def main() -> None:
    """Build Python wheels from source under signed provenance, and verify the chains."""
