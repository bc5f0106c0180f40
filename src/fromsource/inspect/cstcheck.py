"""The libcst fallback of :mod:`fromsource.inspect.codecheck`.

The checks run on the standard library's ``ast``; a module the running interpreter cannot
parse (newer syntax than this Python, say) gets a second chance here, with libcst's own
grammar. Importing this module imports libcst (slow), so callers import it lazily, and only
for such modules. The hidden-code checks are in :mod:`fromsource.inspect.cstlint`.
"""

from __future__ import annotations

import dataclasses
import unicodedata
import warnings
from collections.abc import Sequence

from fromsource.inspect.model import (
    CHANGE_CODE,
    CHANGE_FORMATTING,
    CHANGE_LITERALS,
    CHANGE_UNPARSABLE,
    Finding,
)

with warnings.catch_warnings():
    # libcst 1.0 imports mypy_extensions.TypedDict, deprecated in recent mypy_extensions
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst as cst

# Layout-only nodes: they never change what a module does.
_LAYOUT = (
    cst.SimpleWhitespace,
    cst.ParenthesizedWhitespace,
    cst.Newline,
    cst.TrailingWhitespace,
    cst.EmptyLine,
    cst.Comment,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.Comma,
    cst.Semicolon,
    cst.Colon,
    cst.AssignEqual,
)
_LITERAL = "<literal>"


def identifier(name: cst.Name) -> str:
    """The name as the interpreter reads it: NFKC-normalised (fullwidth ``exec`` is ``exec``)."""
    return name.value if name.value.isascii() else unicodedata.normalize("NFKC", name.value)


StringPart = cst.SimpleString | cst.FormattedString


def string_parts(node: cst.ConcatenatedString) -> list[StringPart]:
    """The literals of an implicit concatenation, walked without recursion (one level per part)."""
    parts: list[StringPart] = []
    current: StringPart | cst.ConcatenatedString = node
    while isinstance(current, cst.ConcatenatedString):
        parts.append(current.left)
        current = current.right
    parts.append(current)
    return parts


def string_value(node: cst.SimpleString | cst.ConcatenatedString) -> str | bytes | None:
    """The value of a string literal or concatenation; None for f-strings and odd escapes."""
    parts = string_parts(node) if isinstance(node, cst.ConcatenatedString) else [node]
    values: list[str | bytes] = []
    for part in parts:
        if isinstance(part, cst.FormattedString):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes are not our concern
            try:
                value = part.evaluated_value
            except (ValueError, SyntaxError):
                return None
        if value is None:
            return None
        values.append(value)
    if all(isinstance(v, str) for v in values):
        return "".join(v for v in values if isinstance(v, str))
    if all(isinstance(v, bytes) for v in values):
        return b"".join(v for v in values if isinstance(v, bytes))
    return None


# Fields that only hold layout: parentheses, separators, indentation, newlines, quotes.
_LAYOUT_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header",
        "footer", "indent", "newline", "trailing_whitespace", "default_indent", "default_newline",
        "has_trailing_newline", "encoding", "start", "end",
    }
)  # fmt: skip
_BLOCKS = (cst.Module, cst.IndentedBlock, cst.SimpleStatementSuite)


def _statements(block: cst.CSTNode | None) -> list[cst.CSTNode]:
    """A block's statements as the interpreter lists them: ``;`` and line breaks are layout,
    and so are a one-line suite versus an indented block, and ``elif`` versus ``else: if``."""
    if block is None:
        return []
    if isinstance(block, cst.If):  # elif
        return [block]
    if isinstance(block, cst.Else):
        block = block.body
    found: list[cst.CSTNode] = []
    for statement in getattr(block, "body", ()):
        found.extend(statement.body if isinstance(statement, cst.SimpleStatementLine) else [statement])
    return found


def _text(text: cst.FormattedStringText, raw: bool) -> str:
    """The value an f-string's text part stands for."""
    value = text.value.replace("{{", "{").replace("}}", "}")
    if raw or "\\" not in value:
        return value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes are not our concern
        try:
            return value.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            return value


class _Text(str):
    """A text piece of an f-string (a literal), unlike a field's string (code)."""


def _pieces(node: cst.FormattedString | cst.ConcatenatedString) -> list[_Text | cst.CSTNode]:
    """An f-string (or a concatenation holding one) as the interpreter joins it: adjacent
    texts merged, empty ones dropped, the replacement fields in between."""
    pieces: list[str | cst.CSTNode] = []
    for part in string_parts(node) if isinstance(node, cst.ConcatenatedString) else [node]:
        if isinstance(part, cst.SimpleString):
            value = string_value(part)
            pieces.append(value if isinstance(value, str) else part)
            continue
        raw = "r" in part.start.lower()
        for piece in part.parts:
            pieces.append(_text(piece, raw) if isinstance(piece, cst.FormattedStringText) else piece)
    merged: list[str | cst.CSTNode] = []
    for item in pieces:
        if isinstance(item, str) and merged and isinstance(merged[-1], str):
            merged[-1] += item
        elif item != "":
            merged.append(item)
    return [_Text(item) if isinstance(item, str) else item for item in merged]


def _signature(module: cst.Module, *, keep_literals: bool) -> list[object]:
    """Node types, semantic fields and literals in order, layout left out, the shape kept by
    list lengths (as codecheck does with ``ast``); iterative, so deep trees are fine."""
    items: list[object] = []
    stack: list[object] = [module]

    def literal(kind: str, value: object) -> None:
        items.append(kind)
        items.append(repr(value) if keep_literals else _LITERAL)

    while stack:
        node = stack.pop()
        if isinstance(node, _Text):
            literal("str", str(node))
        elif isinstance(node, list):
            items.append(len(node))
            stack.extend(reversed(node))
        elif not isinstance(node, cst.CSTNode):
            items.append(node if isinstance(node, bool | int | str) or node is None else type(node).__name__)
        elif isinstance(node, _LAYOUT):
            continue
        elif isinstance(node, cst.SimpleString | cst.ConcatenatedString) and string_value(node) is not None:
            literal("str", string_value(node))  # quote style and implicit concatenation are layout
        elif isinstance(node, cst.Integer | cst.Float | cst.Imaginary):
            literal("num", node.evaluated_value)
        elif isinstance(node, cst.FormattedString | cst.ConcatenatedString):
            items.append("JoinedStr")
            stack.append(_pieces(node))
        elif isinstance(node, cst.FormattedStringText):  # in a format spec
            literal("str", node.value)
        elif isinstance(node, cst.Name):
            items += ["Name", identifier(node)]
        elif isinstance(node, _BLOCKS):
            items.append("Block")
            stack.append(_statements(node))
        elif isinstance(node, cst.If):
            items.append("If")
            stack += [_statements(node.orelse), _statements(node.body), node.test]
        else:
            items.append(type(node).__name__)
            children: list[object] = []
            for spec in dataclasses.fields(node):
                if spec.name in _LAYOUT_FIELDS or spec.name.startswith("whitespace"):
                    continue
                value = getattr(node, spec.name)
                children.append(list(value) if isinstance(value, tuple | list) else value)
            stack.extend(reversed(children))
    return items


def parse(source: bytes) -> cst.Module | None:
    """The module, or None when libcst cannot parse it."""
    try:
        return cst.parse_module(source)
    except (cst.ParserSyntaxError, UnicodeDecodeError, SyntaxError, ValueError):
        return None


def classify_change(old: bytes, new: bytes) -> str:
    """How ``new`` differs from ``old``: formatting/comments, literal values, or code."""
    old_tree, new_tree = parse(old), parse(new)
    if old_tree is None or new_tree is None:
        return CHANGE_UNPARSABLE
    if _signature(old_tree, keep_literals=True) == _signature(new_tree, keep_literals=True):
        return CHANGE_FORMATTING
    if _signature(old_tree, keep_literals=False) == _signature(new_tree, keep_literals=False):
        return CHANGE_LITERALS
    return CHANGE_CODE


# ---------------------------------------------------------------- literal-only modules

_TYPING_MODULES = frozenset({"typing", "__future__"})


def dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return identifier(node)
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{identifier(node.attr)}" if base else None
    return None


def _inert(node: cst.BaseExpression) -> bool:
    """True for expressions that only name or spell data: no calls, no lambdas."""
    if isinstance(node, cst.SimpleString | cst.ConcatenatedString | cst.Integer | cst.Float | cst.Imaginary):
        return True
    if isinstance(node, cst.Ellipsis):
        return True
    if isinstance(node, cst.Name | cst.Attribute):
        return dotted(node) is not None
    if isinstance(node, cst.UnaryOperation):
        return isinstance(node.operator, cst.Minus | cst.Plus) and _inert(node.expression)
    if isinstance(node, cst.BinaryOperation):  # ``str | None`` in annotations
        return isinstance(node.operator, cst.BitOr) and _inert(node.left) and _inert(node.right)
    if isinstance(node, cst.Tuple | cst.List | cst.Set):
        return all(isinstance(el, cst.Element) and _inert(el.value) for el in node.elements)
    if isinstance(node, cst.Dict):
        return all(
            isinstance(el, cst.DictElement) and _inert(el.key) and _inert(el.value) for el in node.elements
        )
    if isinstance(node, cst.Subscript):
        return _inert(node.value) and all(
            isinstance(s.slice, cst.Index) and _inert(s.slice.value) for s in node.slice
        )
    return False


def _inert_target(node: cst.BaseAssignTargetExpression) -> bool:
    if isinstance(node, cst.Name):
        return True
    if isinstance(node, cst.Tuple | cst.List):
        return all(
            isinstance(el, cst.Element)
            and isinstance(el.value, cst.Name | cst.Tuple | cst.List)
            and _inert_target(el.value)
            for el in node.elements
        )
    return False


def _inert_small(stmt: cst.BaseSmallStatement) -> bool:
    if isinstance(stmt, cst.Pass):
        return True
    if isinstance(stmt, cst.Expr):  # a docstring
        return isinstance(stmt.value, cst.SimpleString | cst.ConcatenatedString)
    if isinstance(stmt, cst.Assign):
        return all(_inert_target(t.target) for t in stmt.targets) and _inert(stmt.value)
    if isinstance(stmt, cst.AnnAssign):
        return (
            isinstance(stmt.target, cst.Name)
            and _inert(stmt.annotation.annotation)
            and (stmt.value is None or _inert(stmt.value))
        )
    if isinstance(stmt, cst.ImportFrom):
        module = dotted(stmt.module) if stmt.module is not None else None
        return not stmt.relative and module in _TYPING_MODULES
    if isinstance(stmt, cst.Import):
        return all(dotted(alias.name) in _TYPING_MODULES for alias in stmt.names)
    return False


def _inert_block(body: Sequence[cst.BaseStatement] | Sequence[cst.BaseSmallStatement]) -> bool:
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            if not all(_inert_small(s) for s in stmt.body):
                return False
        elif isinstance(stmt, cst.If):
            if not _inert_if(stmt):
                return False
        elif isinstance(stmt, cst.BaseSmallStatement):
            if not _inert_small(stmt):
                return False
        else:
            return False
    return True


def _inert_if(stmt: cst.If) -> bool:
    # Only ``if TYPE_CHECKING:`` (setuptools-scm's version template) is allowed.
    if dotted(stmt.test) not in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}:
        return False
    if not _inert_block(stmt.body.body):
        return False
    orelse = stmt.orelse
    if orelse is None:
        return True
    if isinstance(orelse, cst.If):
        return _inert_if(orelse)
    return _inert_block(orelse.body.body)


def is_literal_only(source: bytes) -> bool | None:
    """Whether a module only binds literal data (None when it does not parse)."""
    module = parse(source)
    if module is None:
        return None
    return _inert_block(module.body)


# ---------------------------------------------------------------- hidden code


def deep_lint(path: str, source: bytes) -> list[Finding]:
    """Findings of hidden code in one module (one finding if it does not parse)."""
    from fromsource.inspect import cstlint

    return cstlint.deep_lint(path, source)
