"""Strict reading of attacker-controlled JSON: typed values out, every problem with its path.

Readers of signed statements (:mod:`fromsource.attest.provenance`,
:mod:`fromsource.attest.seed_review`) walk the decoded JSON through these helpers. Each helper
returns the typed value or None, and records a problem at a JSON path (``$.a.b[2].c``) when the
value is missing, ill-typed or unknown; nothing stops at the first problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeGuard

_SHA256 = re.compile(r"[0-9a-f]{64}")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the one form of every time a statement records


def timestamp_now() -> str:
    """Now, in UTC, as a statement records it (``2026-01-31T12:00:00Z``)."""
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


class Problems:
    """Every problem found while reading one document, in the order found."""

    __slots__ = ("_paths", "items")

    def __init__(self) -> None:
        self.items: list[str] = []
        self._paths: set[str] = set()

    def add(self, path: str, message: str) -> None:
        # One problem per path: a field reported missing is not also reported as null.
        if path not in self._paths:
            self._paths.add(path)
            self.items.append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.items)


def type_name(value: object) -> str:
    """JSON's name for a decoded value's type (for messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_KEYSETS: dict[tuple[str, ...], frozenset[str]] = {}


def _keyset(names: tuple[str, ...]) -> frozenset[str]:
    found = _KEYSETS.get(names)
    if found is None:
        found = _KEYSETS[names] = frozenset(names)
    return found


def obj(
    value: object, path: str, problems: Problems, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """An object with exactly ``required`` keys plus any of ``optional``; unknown keys are problems."""
    if value.__class__ is dict:  # json.loads makes exactly dicts; the common case first
        keys = value.keys()
        need = _KEYSETS.get(required) or _keyset(required)
        if keys == need:
            return value
    if not isinstance(value, dict):
        problems.add(path, f"expected an object, got {type_name(value)}")
        return None
    need = _keyset(required)
    for key in required:
        if key not in value:
            problems.add(f"{path}.{key}", "missing")
    allowed = _keyset(optional)
    for key in value.keys() - need:
        if key not in allowed:
            problems.add(f"{path}.{key}", "unknown field")
    return value


def string(value: object, path: str, problems: Problems, *, nonempty: bool = True) -> str | None:
    if value.__class__ is str and value:
        return value
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type_name(value)}")
        return None
    if nonempty and not value:
        problems.add(path, "is empty")
        return None
    return value


def integer(value: object, path: str, problems: Problems, *, minimum: int | None = None) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool):
        problems.add(path, f"expected an integer, got {type_name(value)}")
        return None
    if minimum is not None and value < minimum:
        problems.add(path, f"{value} is below {minimum}")
        return None
    return value


def boolean(value: object, path: str, problems: Problems) -> bool | None:
    if not isinstance(value, bool):
        problems.add(path, f"expected true or false, got {type_name(value)}")
        return None
    return value


def array(value: object, path: str, problems: Problems) -> list[Any] | None:
    if not isinstance(value, list):
        problems.add(path, f"expected an array, got {type_name(value)}")
        return None
    return value


def strings(value: object, path: str, problems: Problems) -> tuple[str, ...] | None:
    """An array of distinct non-empty strings."""
    items = array(value, path, problems)
    if items is None:
        return None
    found: list[str] = []
    ok = True
    for index, item in enumerate(items):
        text = string(item, f"{path}[{index}]", problems)
        if text is None:
            ok = False
        elif text in found:
            problems.add(f"{path}[{index}]", f"{text!r} is listed twice")
            ok = False
        else:
            found.append(text)
    return tuple(found) if ok else None


def one_of(value: object, path: str, problems: Problems, allowed: Iterable[str]) -> str | None:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        problems.add(path, f"{value!r} is not one of {', '.join(allowed)}")
        return None
    return value


def const(value: object, path: str, problems: Problems, expected: str) -> bool:
    if value != expected or not isinstance(value, str):
        problems.add(path, f"is {value!r}, expected {expected}")
        return False
    return True


def is_sha256(value: object) -> TypeGuard[str]:
    """``value`` is a sha256 as 64 lower-case hex digits (no problem recorded)."""
    return value.__class__ is str and isinstance(value, str) and _SHA256.fullmatch(value) is not None


def sha256(value: object, path: str, problems: Problems) -> str | None:
    """A sha256 as 64 lower-case hex digits."""
    if value.__class__ is not str or not _SHA256.fullmatch(value):
        problems.add(path, f"{value!r} is not a sha256 (64 lower-case hex digits)")
        return None
    return value


def digest(value: object, path: str, problems: Problems) -> str | None:
    """A DigestSet holding exactly one sha256."""
    if value.__class__ is dict and len(value) == 1:
        found = value.get("sha256")
        if found.__class__ is str and _SHA256.fullmatch(found):
            return found
    digests = obj(value, path, problems, ("sha256",))
    return None if digests is None else sha256(digests.get("sha256"), f"{path}.sha256", problems)


def statement_about_one(
    statement: object,
    p: Problems,
    statement_type: str,
    predicate_type: str,
) -> tuple[dict[str, Any], tuple[str, str] | None] | None:
    """The top object of an in-toto Statement of ``predicate_type`` about exactly one subject,
    and that subject (name, sha256) when it reads; None when it is not such a statement at all
    (no object, or another predicate type). Every problem goes to ``p``."""
    top = obj(statement, "$", p, ("_type", "subject", "predicateType", "predicate"))
    if top is None:
        return None
    const(top.get("_type"), "$._type", p, statement_type)
    if not const(top.get("predicateType"), "$.predicateType", p, predicate_type):
        return None
    subject = None
    subjects = array(top.get("subject"), "$.subject", p)
    if subjects is not None and len(subjects) != 1:
        p.add("$.subject", f"must hold exactly one subject, holds {len(subjects)}")
    elif subjects is not None:
        entry = obj(subjects[0], "$.subject[0]", p, ("name", "digest"))
        if entry is not None:
            name = string(entry.get("name"), "$.subject[0].name", p)
            sha = digest(entry.get("digest"), "$.subject[0].digest", p)
            subject = (name, sha) if name is not None and sha is not None else None
    return top, subject
