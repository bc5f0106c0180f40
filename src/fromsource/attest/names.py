"""The file names a provenance statement may hold: plain names (no directory, nothing hidden),
and wheel and sdist names as packaging parses them."""

from __future__ import annotations

import functools
from collections.abc import Callable

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from fromsource.attest import shape
from fromsource.attest.shape import Problems


def is_plain_name(name: str) -> bool:
    return not ("/" in name or "\\" in name or name.startswith(".") or "\x00" in name)


def plain_name(value: object, path: str, p: Problems) -> str | None:
    name = shape.string(value, path, p)
    if name is not None and not is_plain_name(name):
        p.add(path, f"{name!r} is not a plain file name")
        return None
    return name


@functools.lru_cache(maxsize=4096)  # a wheel is named in every statement of its dependents
def is_wheel_filename(name: str) -> bool:
    try:
        parse_wheel_filename(name)
    except InvalidWheelFilename:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def is_sdist_filename(name: str) -> bool:
    try:
        parse_sdist_filename(name)
    except InvalidSdistFilename:
        return False
    return True


def wheel_filename(value: object, path: str, p: Problems) -> str | None:
    return _named(value, path, p, is_wheel_filename, "a wheel file name")


def sdist_filename(value: object, path: str, p: Problems) -> str | None:
    return _named(value, path, p, is_sdist_filename, "an sdist file name")


def _named(value: object, path: str, p: Problems, valid: Callable[[str], bool], what: str) -> str | None:
    """A plain name that ``valid`` accepts, or None with the problem recorded."""
    name = plain_name(value, path, p)
    if name is not None and not valid(name):
        p.add(path, f"{name!r} is not {what}")
        return None
    return name
