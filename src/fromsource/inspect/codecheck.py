"""The parsing side of an inspection, on the standard library's ``ast``.

Only the few modules that need it are parsed: modified and generated ones, and those the
pre-filter (:mod:`fromsource.inspect.lint`) flags.

- :func:`classify_change` says how a modified module differs from its sdist counterpart.
- :func:`is_literal_only` says whether a generated module is inert data such as a
  ``_version.py``.
- :func:`deep_lint` looks for code that hides code: exec of decoded data, computed imports,
  marshal, long encoded literals (:mod:`fromsource.inspect.encoded` decides which literals
  are payloads).

``ast`` is what the interpreter itself builds, so its answers are the interpreter's: two
modules with equal trees differ only in layout (whitespace, comments, parentheses, quote
style, line breaks, string concatenation), and names are NFKC-normalised as the interpreter
does (fullwidth ``exec`` is ``exec``). A module the running interpreter cannot parse (syntax newer
than it, or no Python at all) gets a second chance with libcst
(:mod:`fromsource.inspect.cstcheck`), which is imported only then.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from fromsource.inspect.encoded import ENCODED, LONG_ENCODED, compact, looks_encoded, may_hide_code
from fromsource.inspect.model import (
    CHANGE_CODE,
    CHANGE_FORMATTING,
    CHANGE_LITERALS,
    Finding,
)

# cstcheck, the libcst fallback, takes the encoded-literal names from here with the rule tables.
__all__ = [
    "DECODERS",
    "ENCODED",
    "EXECUTORS",
    "IMPORTERS",
    "LONG_ENCODED",
    "classify_change",
    "deep_lint",
    "dotted",
    "is_builtin",
    "is_literal_only",
    "may_hide_code",
    "parse",
]

# What feeds an executor hidden code: the last part of a called name (``base64.b64decode``).
DECODERS = frozenset(
    {
        "b64decode", "b32decode", "b16decode", "b85decode", "a85decode", "urlsafe_b64decode",
        "standard_b64decode", "decodebytes", "decodestring", "decompress", "loads", "load",
        "unhexlify", "a2b_base64", "a2b_hex", "a2b_uu", "fromhex", "decode", "chr", "bytes",
        "bytearray", "join", "reversed", "translate",
    }
)  # fmt: skip
EXECUTORS = frozenset({"exec", "eval", "compile", "execfile"})
IMPORTERS = frozenset({"__import__", "importlib.import_module", "import_module"})
_MARSHAL = frozenset({"marshal.loads", "marshal.load"})
_TYPING_MODULES = frozenset({"typing", "__future__"})
_PARSE_ERRORS = (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError)


def parse(source: bytes) -> ast.Module | None:
    """The module as the running interpreter parses it, or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like are not our concern
        try:
            return ast.parse(source)
        except _PARSE_ERRORS:
            return None


# ---------------------------------------------------------------- modified modules


def _literal(value: object) -> str | None:
    """The masked spelling of a literal value, or None for values that are code-like."""
    if isinstance(value, str | bytes):
        return "str"
    if isinstance(value, int | float | complex) and not isinstance(value, bool):
        return "num"
    return None  # True, False, None, ...: changing them changes behaviour


def _signature(tree: ast.AST, *, keep_literals: bool) -> list[object]:
    """Node types, field values and literals in order; iterative (deep trees are common)."""
    items: list[object] = []
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            kind = _literal(node.value)
            items.append(kind or "const")
            items.append(repr(node.value) if keep_literals or kind is None else "<literal>")
            continue
        if isinstance(node, ast.AST):
            items.append(type(node).__name__)
            children: list[object] = []
            for name, value in ast.iter_fields(node):
                if name == "type_comment":
                    continue  # a comment
                children.append(value)
            stack.extend(reversed(children))
        elif isinstance(node, list):
            items.append(len(node))
            stack.extend(reversed(node))
        else:
            items.append(node)
    return items


def classify_change(old: bytes, new: bytes) -> str:
    """How ``new`` differs from ``old``: formatting/comments, literal values, or code."""
    old_tree, new_tree = parse(old), parse(new)
    if old_tree is None or new_tree is None:
        from fromsource.inspect import cstcheck  # libcst: newer syntax, or not Python

        return cstcheck.classify_change(old, new)
    if _signature(old_tree, keep_literals=True) == _signature(new_tree, keep_literals=True):
        return CHANGE_FORMATTING
    if _signature(old_tree, keep_literals=False) == _signature(new_tree, keep_literals=False):
        return CHANGE_LITERALS
    return CHANGE_CODE


# ---------------------------------------------------------------- literal-only modules


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of names, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _inert(node: ast.expr | None) -> bool:
    """True for expressions that only name or spell data: no calls, no lambdas."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name | ast.Attribute):
        return dotted(node) is not None
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub | ast.UAdd) and _inert(node.operand)
    if isinstance(node, ast.BinOp):  # ``str | None`` in annotations
        return isinstance(node.op, ast.BitOr) and _inert(node.left) and _inert(node.right)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_inert(el) for el in node.elts)  # a Starred element is not inert
    if isinstance(node, ast.Dict):
        return all(_inert(k) and _inert(v) for k, v in zip(node.keys, node.values, strict=True))
    if isinstance(node, ast.Subscript):
        index = node.slice
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return _inert(node.value) and all(_inert(p) for p in parts)  # a Slice is not inert
    return False


def _inert_target(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Tuple | ast.List):
        return all(isinstance(el, ast.Name | ast.Tuple | ast.List) and _inert_target(el) for el in node.elts)
    return False


def _inert_statement(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr):  # a docstring
        return isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str | bytes)
    if isinstance(stmt, ast.Assign):
        return all(_inert_target(t) for t in stmt.targets) and _inert(stmt.value)
    if isinstance(stmt, ast.AnnAssign):
        return (
            isinstance(stmt.target, ast.Name)
            and _inert(stmt.annotation)
            and (stmt.value is None or _inert(stmt.value))
        )
    if isinstance(stmt, ast.ImportFrom):
        return stmt.level == 0 and stmt.module in _TYPING_MODULES
    if isinstance(stmt, ast.Import):
        return all(alias.name in _TYPING_MODULES for alias in stmt.names)
    if isinstance(stmt, ast.If):
        # Only ``if TYPE_CHECKING:`` (setuptools-scm's version template) is allowed.
        return (
            dotted(stmt.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}
            and _inert_block(stmt.body)
            and _inert_block(stmt.orelse)
        )
    return False


def _inert_block(body: Sequence[ast.stmt]) -> bool:
    return all(_inert_statement(stmt) for stmt in body)


def is_literal_only(source: bytes) -> bool | None:
    """Whether a module only binds literal data (None when it does not parse)."""
    module = parse(source)
    if module is None:
        from fromsource.inspect import cstcheck

        return cstcheck.is_literal_only(source)
    return _inert_block(module.body)


# ---------------------------------------------------------------- hidden code


def is_builtin(name: str, names: frozenset[str]) -> bool:
    """``name`` is one of ``names``, also when spelled ``builtins.<name>``."""
    return name in names or (name.startswith("builtins.") and name[9:] in names)


def _names(node: ast.AST) -> Iterator[str]:
    """Every name spelt in an expression: variables, attributes, keywords, parameters."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield sub.id
        elif isinstance(sub, ast.Attribute):
            yield sub.attr
        elif isinstance(sub, ast.keyword | ast.arg) and sub.arg is not None:
            yield sub.arg


def _is_decoder(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = dotted(node.func) or ""
    return name.rsplit(".", 1)[-1] in DECODERS


def _first_argument(call: ast.Call) -> ast.expr | None:
    """The first argument as written, positional, starred or keyword."""
    found: list[ast.expr] = [a.value if isinstance(a, ast.Starred) else a for a in call.args]
    found += [k.value for k in call.keywords]
    if not found:
        return None
    return min(found, key=lambda n: (n.lineno, n.col_offset))


def _single_string(node: ast.Constant, lines: list[str]) -> bool:
    """Whether a string constant is spelt as one literal (not ``"o" "s"``)."""
    segment = _segment(node, lines)
    if segment is None:
        return False
    import io
    import tokenize

    try:
        tokens = [
            t for t in tokenize.generate_tokens(io.StringIO(segment).readline) if t.type == tokenize.STRING
        ]
    except (tokenize.TokenError, SyntaxError):
        return False
    return len(tokens) == 1


def _segment(node: ast.expr, lines: list[str]) -> str | None:
    end_line, end_col = node.end_lineno, node.end_col_offset
    if end_line is None or end_col is None:
        return None
    # offsets are in UTF-8 bytes
    picked = [line.encode() for line in lines[node.lineno - 1 : end_line]]
    if not picked:
        return None
    if len(picked) == 1:
        return picked[0][node.col_offset : end_col].decode("utf-8", "replace")
    picked[0] = picked[0][node.col_offset :]
    picked[-1] = picked[-1][:end_col]
    return b"".join(picked).decode("utf-8", "replace")


def _computed(node: ast.expr, lines: list[str]) -> bool:
    """A module name spelt so a reader cannot see it: built by calls, or from literals only.

    Passing a name through (``__import__(name)``) or prefixing one (``"pkg." + name``) is
    ordinary plugin loading and not flagged.
    """
    if isinstance(node, ast.Name | ast.Attribute):
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        return not _single_string(node, lines)  # "o" "s": a literal in disguise
    if any(isinstance(sub, ast.Call) for sub in ast.walk(node)):
        return True
    return next(_names(node), None) is None  # "o" + "s", "so"[::-1]: a literal in disguise


@dataclass
class _Finder:
    lines: list[str]
    found: list[tuple[int | None, str, str]] = field(default_factory=list)

    def at(self, node: ast.expr, rule: str, message: str) -> None:
        self.found.append((getattr(node, "lineno", None), rule, message))

    def run(self, module: ast.Module) -> None:
        executors: list[tuple[ast.Call, str]] = []
        decoded_names: set[str] = set()
        skip: set[int] = set()  # the text parts of f-strings are not literals of their own
        for node in ast.walk(module):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
                if any(_is_decoder(sub) for sub in ast.walk(node)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    decoded_names.update(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Call):
                self._call(node, executors)
            elif isinstance(node, ast.JoinedStr):
                skip.update(id(v) for v in node.values if isinstance(v, ast.Constant))
            elif isinstance(node, ast.Constant) and id(node) not in skip:
                self._string(node)
        for call, name in executors:
            decoded = any(_is_decoder(sub) for sub in ast.walk(call) if sub is not call)
            # the callee's own name ("exec") is not an argument
            if decoded or (set(_names(call)) - {name}) & decoded_names:
                self.at(call, "exec-decoded", f"{name}() of decoded or decompressed data")

    def _call(self, node: ast.Call, executors: list[tuple[ast.Call, str]]) -> None:
        name = dotted(node.func) or ""
        if is_builtin(name, EXECUTORS):
            executors.append((node, name))
        elif is_builtin(name, IMPORTERS) or name.endswith(".import_module"):
            first = _first_argument(node)
            if first is not None and _computed(first, self.lines):
                self.at(node, "computed-import", f"{name}() of a computed module name")
        elif name in _MARSHAL:
            self.at(node, "marshal", f"{name}() turns bytes into code objects")

    def _string(self, node: ast.Constant) -> None:
        value = node.value
        if not isinstance(value, str | bytes) or len(value) < LONG_ENCODED:
            return
        if looks_encoded(value):
            self.at(
                node,
                "long-encoded-literal",
                f"string literal of {len(compact(value))} base64/hex-like characters",
            )
            return
        # "prose: " "TWFu...": implicit concatenation hides a long encoded part
        segment = _segment(node, self.lines)
        if segment is None:
            return
        for part in _string_parts(segment):
            if len(part) >= LONG_ENCODED and looks_encoded(part):
                self.at(
                    node,
                    "long-encoded-literal",
                    f"string literal of {len(compact(part))} base64/hex-like characters",
                )
                return


def _string_parts(segment: str) -> list[str | bytes]:
    """The values of the string literals an implicit concatenation is made of."""
    import io
    import tokenize

    parts: list[str | bytes] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(segment).readline):
            if token.type == tokenize.STRING:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    value = ast.literal_eval(token.string)
                if isinstance(value, str | bytes):
                    parts.append(value)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return []
    return parts


def deep_lint(path: str, source: bytes) -> list[Finding]:
    """Findings of hidden code in one module (one finding if it does not parse)."""
    module = parse(source)
    if module is None:
        from fromsource.inspect import cstcheck  # libcst: newer syntax, or not Python

        return cstcheck.deep_lint(path, source)
    finder = _Finder(lines=_source_lines(source))
    finder.run(module)
    findings = [
        Finding(rule=rule, path=path, line=line, message=message) for line, rule, message in finder.found
    ]
    return sorted(findings, key=lambda f: (f.line or 0, f.rule))


def _source_lines(source: bytes) -> list[str]:
    """The module's lines as the tokenizer reads them (for source segments)."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        text = source.decode("utf-8", "replace")
    return _LINES.findall(text)  # str.splitlines would also split at form feeds


_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
