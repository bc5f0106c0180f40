"""The readability lint: a cheap pre-filter over every module, ``ast`` only where it points.

Every module is scanned, at C speed, for what hidden code needs (:func:`suspect`); only the
modules it flags are parsed (:mod:`fromsource.inspect.codecheck`), which decides whether the
spelling really is hidden code. The pre-filter is sound for what the parser checks: when it
passes a module, :func:`fromsource.inspect.codecheck.deep_lint` would find nothing there
(tests/test_inspect_units.py holds it to that on every corpus module and on hostile
spellings). A module the pre-filter passes and Python cannot parse cannot run either;
``parse_check`` (``--parse-all``) compiles every module with the running interpreter to
report each one that does not parse.

What the pre-filter looks at is the text the interpreter reads: decoded per the module's
coding cookie (a ``utf-7`` module spells ``exec`` as ``+AGUAeABlAGM-``), and NFKC-normalised
as the tokenizer normalises names (fullwidth ``exec`` is ``exec``).

- exec of decoded data: a builtin ``exec``/``eval``/``compile``/``execfile`` call (also
  ``builtins.exec``) whose logical line holds a decoder call after it, or whose logical
  line names a variable that is assigned on a logical line holding a decoder call (the
  parser's rule, with whole logical lines instead of exact call extents);
- ``__import__``/``import_module`` whose first argument is not a plain literal or name;
- ``marshal``;
- a run of 1,000 base64/hex characters, or 16+ lines that look like a split base64 literal.
"""

from __future__ import annotations

import bisect
import codecs
import os
import re
import warnings

from fromsource.inspect.model import Finding

# A call's name and its opening parenthesis may be apart: ``exec (``, ``(exec)(``,
# ``exec \<newline> (``, or a comment inside brackets.
_GAP = r"(?:[\s\\)]++|#[^\n]*+)*+\("  # possessive: no backtracking, linear time
# One search per word: a literal prefix lets the regex engine skip ahead at C speed.
_EXECUTORS = tuple((word, re.compile(word + _GAP)) for word in ("exec", "eval", "compile", "execfile"))
_DECODER_NAMES = (
    "b64decode",
    "b32decode",
    "b16decode",
    "b85decode",
    "a85decode",
    "urlsafe_b64decode",
    "standard_b64decode",
    "decodebytes",
    "decodestring",
    "decompress",
    "loads",
    "load",
    "unhexlify",
    "a2b_base64",
    "a2b_hex",
    "a2b_uu",
    "fromhex",
    "decode",
    "chr",
    "bytes",
    "bytearray",
    "join",
    "reversed",
    "translate",
)  # fmt: skip  (codecheck.DECODERS, as called names)
_DECODER = re.compile(r"(?<!\w)(?:" + "|".join(sorted(_DECODER_NAMES, key=len, reverse=True)) + r")" + _GAP)
# A name bound by ``name =``, ``(name) =``, ``name := ...`` or ``name: T = ...``.
_BINDING = re.compile(r"(?<![\w.])([^\W\d]\w*+)(?:[\s\\)]++|#[^\n]*+)*+(?::[^=\n;]*+)?=(?!=)")
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
# An importer whose argument is not a plain literal, a passed-through name, or nothing.
_IMPORTERS = tuple(
    (word, re.compile(word + _GAP + r"\s*+(?![rRbBuU]?['\"][\w.]*['\"]\s*[,)]|[\w.]+\s*[,)]|\))"))
    for word in ("__import__", "import_module")
)
_MARSHAL = re.compile(r"(?<!\w)marshal(?!\w)")
_EXECUTOR_WORDS = ("exec", "eval", "compile")
# Long literals, on the raw bytes: base64/hex alphabet -> "a", anything else -> ".".
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
_RUNS = bytes(ord("a") if byte in _ALPHABET else ord(".") for byte in range(256))
LONG_RUN = 1000
# One line of a literal split over many lines: "TWFu...(60+ chars)",
_ENCODED_LINE = re.compile(
    rb"^[ \t]*[bBuUrR]?['\"]?[A-Za-z0-9+/=]{60,}+['\"]?[ \t]*[,)\\]?[ \t]*$", re.MULTILINE
)
SPLIT_LINES = 16
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)
# The lexer of logical lines: strings, comments, brackets, line ends.
_TOKEN = re.compile(r"""[rRbBuUfF]{0,2}(?:'''|\"\"\"|'|")|#|\\\r?\n|[()\[\]{};\n]""")
_STRING_END = {
    "'''": re.compile(r"[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''", re.DOTALL),
    '"""': re.compile(r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""', re.DOTALL),
    "'": re.compile(r"[^'\\\n]*(?:\\.[^'\\\n]*)*'", re.DOTALL),
    '"': re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"', re.DOTALL),
}
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")


def code_text(source: bytes) -> str | None:
    """The text the interpreter reads, or None when it cannot be decoded (then parse it)."""
    encoding = "utf-8"
    first = source.find(b"\n")
    second = source.find(b"\n", first + 1) if first >= 0 else -1
    head = source if second < 0 else source[:second]
    if b"coding" in head:
        for line in head.split(b"\n"):
            found = _COOKIE.match(line)
            if found:
                encoding = found.group(1).decode()
                break
            if line.strip() and not line.lstrip().startswith(b"#"):
                break
    try:
        if codecs.lookup(encoding).name != "utf-8":
            return _normalise(source.decode(encoding))
        if source.isascii():
            return source.decode("ascii")
        return _normalise(source.decode("utf-8-sig"))
    except (LookupError, UnicodeDecodeError):
        return None


def _normalise(text: str) -> str:
    import unicodedata

    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def logical_lines(text: str) -> list[int]:
    """Start offsets of the logical lines (a statement, or a compound statement's header).

    Brackets, strings (f-strings included: their code is inside them) and comments are
    followed; a backslash at the end of a line continues it. Broken code gets some split,
    and a module that does not parse cannot run.
    """
    starts = [0]
    depth = 0
    pos = 0
    search = _TOKEN.search
    while (token := search(text, pos)) is not None:
        value = token.group()
        pos = token.end()
        last = value[-1]
        if last in "'\"":
            end = _STRING_END[value.lstrip("rRbBuUfF")].match(text, pos)
            if end is None:  # unterminated: not Python; the rest of the line is the string
                newline = text.find("\n", pos)
                pos = len(text) if newline < 0 else newline
            else:
                pos = end.end()
        elif value == "#":
            newline = text.find("\n", pos)
            pos = len(text) if newline < 0 else newline
        elif last in _OPEN:
            depth += 1
        elif last in _CLOSE:
            depth = max(depth - 1, 0)
        elif value in ("\n", ";") and depth == 0:
            starts.append(pos)
    return starts


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _before(text: str, offset: int) -> int:
    """The offset of the last character before ``offset`` that is not blank."""
    i = offset - 1
    while i >= 0 and text[i] in " \t\\\n\r\f":
        i -= 1
    return i


def _executor_calls(text: str) -> list[int]:
    """Offsets of builtin executor calls (not ``re.compile(``, ``obj.eval(``, ``def eval(``)."""
    found = []
    for word, pattern in _EXECUTORS:
        for call in pattern.finditer(text):
            start, end = call.start(), call.start() + len(word)
            if (start and _word_char(text[start - 1])) or (end < len(text) and _word_char(text[end])):
                continue  # "myexec(", "evaluate("
            i = _before(text, start)
            if i >= 0 and text[i] == ".":
                j = _before(text, i)
                if not (text.endswith("builtins", 0, j + 1) and (j < 8 or not _word_char(text[j - 8]))):
                    continue  # a method: re.compile(, obj.eval(
            elif text.endswith("def", 0, i + 1) and (i < 3 or not _word_char(text[i - 3])):
                continue  # a definition, not a call
            found.append(start)
    return found


def feeds_executor(text: str) -> bool:
    """An executor call whose logical line decodes, or names a variable bound to decoded data."""
    calls = _executor_calls(text)
    if not calls:
        return False
    decoders = [m.start() for m in _DECODER.finditer(text)]
    if not decoders:
        return False
    starts = logical_lines(text)

    def line_of(offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(starts, offset) - 1
        return starts[i], starts[i + 1] if i + 1 < len(starts) else len(text)

    decoding_lines = {line_of(offset) for offset in decoders}
    bound: set[str] = set()
    for start, end in decoding_lines:
        bound.update(m.group(1) for m in _BINDING.finditer(text, start, end))
    for call in calls:
        start, end = line_of(call)
        if any(call < d < end for d in decoders):
            return True
        if bound and bound & set(_IDENTIFIER.findall(text, start, end)):
            return True
    return False


def _long_literal(source: bytes) -> bool:
    if len(source) < LONG_RUN:
        return False
    runs = source.translate(_RUNS)
    if b"a" * LONG_RUN in runs:
        return True
    if runs.count(b"a" * 60) < SPLIT_LINES:  # each split line holds a run of 60
        return False
    return any(n >= SPLIT_LINES for n, _ in enumerate(_ENCODED_LINE.finditer(source), 1))


def suspect(source: bytes) -> bool:
    """Cheap: does the module spell anything hidden code would need?"""
    text = code_text(source)
    if text is None:
        return True  # the parser decides
    if any(word in text for word in _EXECUTOR_WORDS) and feeds_executor(text):
        return True
    if any(word in text and pattern.search(text) for word, pattern in _IMPORTERS):
        return True
    if "marshal" in text and _MARSHAL.search(text):
        return True
    return _long_literal(source)


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


def lint_module(
    path: str, source: bytes, *, parse_check: bool = False, suspected: bool | None = None
) -> tuple[list[Finding], bool]:
    """Findings for one module, and whether it was parsed (``suspected``: the pre-filter's
    answer when already known)."""
    if parse_check:
        broken = syntax_error(path, source)
        if broken is not None:
            return [broken], False
    if not (suspect(source) if suspected is None else suspected):
        return [], False
    from fromsource.inspect import codecheck

    return codecheck.deep_lint(path, source), True


PARALLEL_FROM = 200  # modules to compile; below this a process pool costs more than it saves


Job = tuple[str, bytes, bool, bool, bool | None]  # path, source, deep, parse_check, suspected


def _lint_job(job: Job) -> tuple[str, list[Finding], bool]:
    path, source, deep, parse_check, suspected = job
    if deep:  # modified or generated: always parsed
        from fromsource.inspect import codecheck

        return path, codecheck.deep_lint(path, source), True
    findings, parsed = lint_module(path, source, parse_check=parse_check, suspected=suspected)
    return path, findings, parsed


def lint_many(jobs: list[Job]) -> dict[str, tuple[list[Finding], bool]]:
    """Lint ``(path, source, deep, parse_check, suspected)`` jobs.

    The pre-filter is cheaper than shipping the sources to other processes, so a process
    pool is used only to compile many modules (``--parse-all``).
    """
    workers = min(
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8
    )
    compiling = sum(1 for job in jobs if job[3])
    if compiling < PARALLEL_FROM or workers < 2:
        return {path: (found, parsed) for path, found, parsed in map(_lint_job, jobs)}
    from concurrent.futures import ProcessPoolExecutor

    ordered = sorted(jobs, key=lambda job: -len(job[1]))  # big files first balance the load
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_lint_job, ordered, chunksize=8)
        return {path: (findings, parsed) for path, findings, parsed in results}
