"""The readability lint: a cheap pre-filter over every module, libcst only where it points.

Every ``.py`` is scanned with substring tests and a few regular expressions for the spellings
that hidden code needs (``exec``/``eval``/``compile``, ``__import__``, ``import_module``,
``marshal``, long runs of base64-like characters). Only the files the scan flags are parsed
with libcst (:mod:`fromsource.inspect.codecheck`), which decides whether the spelling really
is hidden code; a file libcst cannot parse is a finding. Hidden code needs one of those
spellings in the bytes, so a file the scan passes cannot hide code whether it parses or not;
``parse_check`` (``--parse-all``) also compiles every module with the running interpreter to
report every file that does not parse.
"""

from __future__ import annotations

import os
import re
import warnings

from fromsource.inspect.model import Finding

# Fast substring tests first (C speed over every file); the regular expressions below
# only run on the files that contain one of these words.
_WORDS = (b"exec", b"eval", b"compile", b"__import__", b"import_module", b"marshal")
# A builtin executor called (not ``re.compile(``, ``obj.eval(``, ``def eval(``).
_EXECUTOR = re.compile(rb"(?<![\w.])(?<!def )(?:exec|eval|compile|execfile)\s*\(\s*([A-Za-z_]\w*)?")
WINDOW = 300  # bytes after ``exec(`` or ``name =`` where a decoder call must appear
# What feeds it hidden code: the decoders libcst's check looks for (codecheck._DECODERS).
_DECODER = re.compile(
    rb"(?:b(?:64|32|16|85)decode|a85decode|decodebytes|decodestring|decompress|unhexlify"
    rb"|a2b_\w+|fromhex|\bloads?|\.decode|\bchr|\bbytes|\bbytearray|\.join|\breversed"
    rb"|\.translate)\s*\("
)
# An importer whose argument is not a plain literal or a passed-through name.
_IMPORTER = re.compile(
    rb"(?:__import__|import_module)\s*\(\s*(?![rRbBuU]?['\"][\w.]*['\"]\s*[,)]|[\w.]+\s*[,)])"
)
_MARSHAL = re.compile(rb"\bmarshal\b")
# The look-behind starts a match only at the start of a run, which keeps the scan linear.
_LONG_RUN = re.compile(rb"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{1000}")
# One line of a literal split over many lines: "TWFu...(60+ chars)",
_ENCODED_LINE = re.compile(
    rb"^[ \t]*[bBuUrR]?['\"]?[A-Za-z0-9+/=]{60,}+['\"]?[ \t]*[,)\\]?[ \t]*$", re.MULTILINE
)
LONG_LINE = 1000
SPLIT_LINES = 16


def _feeds_executor(source: bytes) -> bool:
    """An executor call with a decoder call just after it, or fed a name bound near one."""
    for call in _EXECUTOR.finditer(source):
        if _DECODER.search(source, call.end(), call.end() + WINDOW):
            return True
        name = call.group(1)
        if name:
            bind = re.compile(rb"(?<![\w.])" + re.escape(name) + rb"\s*=(?!=)")
            for found in bind.finditer(source):
                if _DECODER.search(source, found.end(), found.end() + WINDOW):
                    return True
    return False


def suspect(source: bytes) -> bool:
    """Cheap: does the module spell anything hidden code would need?"""
    if any(word in source for word in _WORDS):
        if _feeds_executor(source):
            return True
        if _IMPORTER.search(source) or _MARSHAL.search(source):
            return True
    if len(source) < LONG_LINE:
        return False
    if _LONG_RUN.search(source):
        return True
    return any(n >= SPLIT_LINES for n, _ in enumerate(_ENCODED_LINE.finditer(source), 1))


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


def lint_module(path: str, source: bytes, *, parse_check: bool = False) -> tuple[list[Finding], bool]:
    """Findings for one module, and whether libcst was needed."""
    if parse_check:
        broken = syntax_error(path, source)
        if broken is not None:
            return [broken], False
    if not suspect(source):
        return [], False
    from fromsource.inspect import codecheck  # libcst: only now

    return codecheck.deep_lint(path, source), True


PARALLEL_FROM = 200  # modules; below this a process pool costs more than it saves


def _lint_job(job: tuple[str, bytes, bool, bool]) -> tuple[str, list[Finding], bool]:
    path, source, deep, parse_check = job
    if deep:  # modified or generated: always parsed with libcst
        from fromsource.inspect import codecheck

        return path, codecheck.deep_lint(path, source), True
    findings, parsed = lint_module(path, source, parse_check=parse_check)
    return path, findings, parsed


def lint_many(jobs: list[tuple[str, bytes, bool, bool]]) -> dict[str, tuple[list[Finding], bool]]:
    """Lint ``(path, source, deep, parse_check)`` jobs, over a process pool when many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(jobs) < PARALLEL_FROM or workers < 2:
        return {path: (found, parsed) for path, found, parsed in map(_lint_job, jobs)}
    from concurrent.futures import ProcessPoolExecutor

    ordered = sorted(jobs, key=lambda job: -len(job[1]))  # big files first balance the load
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_lint_job, ordered, chunksize=8)
        return {path: (findings, parsed) for path, findings, parsed in results}
