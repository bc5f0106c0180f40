"""What a resolution is for: the target environment (PEP 508 markers, Requires-Python) and
the user's constraints files."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from fromsource.errors import InputError
from fromsource.untrusted import MAX_SMALL_FILE_BYTES, read_file


def _current_markers() -> dict[str, str]:
    return {key: str(value) for key, value in default_environment().items()}


@dataclass(frozen=True, slots=True)
class TargetEnvironment:
    """PEP 508 marker values of the interpreter the wheels are for."""

    markers: Mapping[str, str] = field(default_factory=_current_markers)

    @classmethod
    def current(cls, **overrides: str) -> TargetEnvironment:
        """This interpreter, with any marker values replaced (``python_version="3.12"``)."""
        return cls({**_current_markers(), **overrides})

    @property
    def python_version(self) -> Version:
        for key in ("python_full_version", "python_version"):
            try:
                return _version(self.markers[key])
            except (KeyError, InvalidVersion):
                continue
        return _version(".".join(map(str, sys.version_info[:3])))

    def evaluate(self, marker: Marker | None, extras: Iterable[str] = ()) -> bool:
        """Whether ``marker`` holds here for the base package or any of ``extras``."""
        if marker is None:
            return True
        return any(marker.evaluate({**self.markers, "extra": extra}) for extra in ("", *extras))

    def accepts_python(self, requires_python: str | None) -> bool:
        if not requires_python:
            return True
        return _python_allowed(requires_python, self.python_version)


@functools.lru_cache(maxsize=64)  # asked for every file of every listing
def _version(text: str) -> Version:
    return Version(text)


@functools.lru_cache(maxsize=4096)  # an index lists the same few Requires-Python on every file
def _python_allowed(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except ValueError:
        return True  # an unparsable Requires-Python is ignored, as installers do


def parse_constraints(text: str, source: str = "constraints") -> list[Requirement]:
    """Parse a constraints file: one ``name<specifier>[; marker]`` per line, ``#`` comments."""
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        if line.startswith("-"):
            raise InputError(f"{where}: options such as {line.split()[0]} are not supported")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise InputError(f"{where}: {exc}") from exc
        if requirement.extras or requirement.url:
            raise InputError(f"{where}: a constraint takes no extras and no URL: {line}")
        found.append(requirement)
    return found


def load_constraints(path: Path) -> list[Requirement]:
    """Read ``--constraint FILE``."""
    try:
        text = read_file(path, limit=MAX_SMALL_FILE_BYTES, what="constraints file").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"constraints file {path} is not UTF-8: {exc}") from exc
    return parse_constraints(text, str(path))
