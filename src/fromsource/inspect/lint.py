"""The readability lint: a cheap pre-filter over every module, libcst only where it points.

Every ``.py`` is compiled by the running interpreter (in C, no syntax tree kept) to find the
files that do not parse, and scanned with one regular expression for the few spellings that
hidden code needs (``exec``/``eval``/``compile``, ``__import__``, ``import_module``,
``marshal``, long runs of base64-like characters). Only the files the scan flags are parsed
with libcst (:mod:`fromsource.inspect.codecheck`), which decides whether the spelling really
is hidden code.
"""

from __future__ import annotations

import re
import warnings

from fromsource.inspect.model import Finding

# Names called as builtins (not ``re.compile(`` or ``def eval(``), importers, marshal, and
# encoded runs: one long token, or many long lines of base64 (a split literal).
_SUSPECT = re.compile(
    rb"""(?<![\w.])(?<!def\ )(?:exec|eval|compile|execfile|__import__)\s*\("""
    rb"""|import_module\s*\("""
    rb"""|\bmarshal\b"""
    rb"""|[A-Za-z0-9+/=_-]{1000}"""
    rb"""|(?:[A-Za-z0-9+/=]{60,}['"]?\s*\n\s*[bBuUrR]?['"]?){16}""",
    re.VERBOSE,
)


def suspect(source: bytes) -> bool:
    """Cheap: does the module spell anything hidden code would need?"""
    return _SUSPECT.search(source) is not None


def syntax_error(path: str, source: bytes) -> Finding | None:
    """A finding when the running interpreter cannot compile the module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like are not our concern
        try:
            compile(source, path, "exec", dont_inherit=True, optimize=0)
        except (SyntaxError, ValueError, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", None)
            reason = getattr(exc, "msg", None) or str(exc)
            return Finding(
                rule="does-not-parse",
                path=path,
                line=line if isinstance(line, int) else None,
                message=f"does not parse: {reason}",
            )
    return None


def lint_module(path: str, source: bytes, *, parse_check: bool = True) -> tuple[list[Finding], bool]:
    """Findings for one module, and whether libcst was needed."""
    if parse_check:
        broken = syntax_error(path, source)
        if broken is not None:
            return [broken], False
    if not suspect(source):
        return [], False
    from fromsource.inspect import codecheck  # libcst: only now

    return codecheck.deep_lint(path, source), True
