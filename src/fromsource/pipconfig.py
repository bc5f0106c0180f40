"""The user's pip configuration: which index to use when none is given.

pip's own precedence is followed without running pip. The public package index's endpoint
comes from pypi-simple (``PYPI_SIMPLE_ENDPOINT``), never from a literal here.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from fromsource.errors import InputError


def default_index_url(
    environ: Mapping[str, str] | None = None, config_files: Sequence[Path] | None = None
) -> str:
    """The user's pip ``index-url`` (``PIP_INDEX_URL``, then pip.conf), else the public index.

    pip's own precedence is followed without running pip: later files override earlier ones
    and an ``[install]`` section overrides ``[global]``.
    """
    env = os.environ if environ is None else environ
    if env.get("PIP_INDEX_URL"):
        return env["PIP_INDEX_URL"]
    files = pip_config_files(env) if config_files is None else config_files
    found: dict[str, str] = {}
    for path in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read pip configuration {path}: {exc}") from exc
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    if key.replace("_", "-") == "index-url" and value.strip():
                        found[section] = value.strip()
    configured = found.get("install") or found.get("global")
    if configured:
        return configured
    # Imported here: pypi-simple's package imports its whole page model (a third of a second
    # of a no-op re-run that has pip configured).
    from pypi_simple import PYPI_SIMPLE_ENDPOINT

    return str(PYPI_SIMPLE_ENDPOINT)


def pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files in load order (lowest precedence first)."""
    if "PIP_CONFIG_FILE" in environ:
        explicit = environ["PIP_CONFIG_FILE"]
        return [] if explicit == os.devnull else [Path(explicit)]
    home = Path(environ.get("HOME", "~")).expanduser()
    files: list[Path] = []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    files.append(home / ".pip" / "pip.conf")
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files.append(config_home / "pip" / "pip.conf")
    if sys.platform == "darwin":
        files.append(home / "Library" / "Application Support" / "pip" / "pip.conf")
    files.append(Path(sys.prefix) / "pip.conf")
    return [f for f in files if f.is_file()]


__all__ = ["default_index_url", "pip_config_files"]
