"""The libcst fallback of :mod:`fromsource.inspect.codecheck`.

The checks run on the standard library's ``ast``; a module the running interpreter cannot
parse (newer syntax than this Python, say) gets a second chance here, with libcst's own
grammar. Importing this module imports libcst (slow), so callers import it lazily, and only
for such modules.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from fromsource.inspect.codecheck import (
    DECODERS,
    ENCODED,
    EXECUTORS,
    IMPORTERS,
    LONG_ENCODED,
    is_builtin,
    may_hide_code,
)
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
    from libcst.metadata import MetadataWrapper, PositionProvider

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


def _identifier(name: cst.Name) -> str:
    """The name as the interpreter reads it: NFKC-normalised (fullwidth ``exec`` is ``exec``)."""
    return name.value if name.value.isascii() else unicodedata.normalize("NFKC", name.value)


_Part = cst.SimpleString | cst.FormattedString


def _parts(node: cst.ConcatenatedString) -> list[_Part]:
    """The literals of an implicit concatenation, walked without recursion (one level per part)."""
    parts: list[_Part] = []
    current: _Part | cst.ConcatenatedString = node
    while isinstance(current, cst.ConcatenatedString):
        parts.append(current.left)
        current = current.right
    parts.append(current)
    return parts


def _value(node: cst.SimpleString | cst.ConcatenatedString) -> str | bytes | None:
    """The value of a string literal or concatenation; None for f-strings and odd escapes."""
    parts = _parts(node) if isinstance(node, cst.ConcatenatedString) else [node]
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


class _Signature(cst.CSTVisitor):
    """Flatten a tree into node types and leaf values, layout left out.

    Each node's items are closed by ``)``, so the flat list keeps the tree's shape (``if a:
    b()`` then ``c()`` is not ``if a: b(); c()``). Statement lines are layout, as are ``;``
    and the choice between a one-line suite and an indented block, and ``elif`` versus
    ``else: if``: the interpreter's tree has the same statements in the same blocks.
    """

    def __init__(self, *, keep_literals: bool) -> None:
        super().__init__()
        self.keep_literals = keep_literals
        self.items: list[str] = []
        self._closes: list[int] = []  # per visited node: how many ")" its leaving adds
        self._elifs: set[cst.If] = set()

    def _literal(self, kind: str, value: object) -> bool:
        self.items.append(kind)
        self.items.append(repr(value) if self.keep_literals else _LITERAL)
        self._closes.append(0)
        return False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (*_LAYOUT, cst.SimpleStatementLine, cst.Else)):
            self._closes.append(0)
            return not isinstance(node, _LAYOUT)
        if isinstance(node, cst.ConcatenatedString | cst.SimpleString):
            value = _value(node)  # quote style and implicit concatenation are layout
            if value is not None:
                return self._literal("str", value)
        if isinstance(node, cst.Integer | cst.Float | cst.Imaginary):
            return self._literal("num", node.evaluated_value)
        if isinstance(node, cst.FormattedStringText):
            return self._literal("fstr", node.value)
        closes = 1
        if node in self._elifs:  # ``elif`` is ``else:`` holding an ``if``
            self.items.append("Block")
            closes = 2
        if isinstance(node, cst.If) and isinstance(node.orelse, cst.If):
            self._elifs.add(node.orelse)
        self.items.append(
            "Block" if isinstance(node, cst.IndentedBlock | cst.SimpleStatementSuite) else type(node).__name__
        )
        if isinstance(node, cst.Name):
            self.items.append(_identifier(node))
        self._closes.append(closes)
        if isinstance(node, cst.ConcatenatedString):  # an f-string among the parts
            for part in _parts(node):
                part.visit(self)
            return False
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.items.extend(")" * self._closes.pop())


def _signature(module: cst.Module, *, keep_literals: bool) -> list[str]:
    visitor = _Signature(keep_literals=keep_literals)
    module.visit(visitor)
    return visitor.items


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


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return _identifier(node)
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{_identifier(node.attr)}" if base else None
    return None


def _inert(node: cst.BaseExpression) -> bool:
    """True for expressions that only name or spell data: no calls, no lambdas."""
    if isinstance(node, cst.SimpleString | cst.ConcatenatedString | cst.Integer | cst.Float | cst.Imaginary):
        return True
    if isinstance(node, cst.Ellipsis):
        return True
    if isinstance(node, cst.Name | cst.Attribute):
        return _dotted(node) is not None
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
        module = _dotted(stmt.module) if stmt.module is not None else None
        return not stmt.relative and module in _TYPING_MODULES
    if isinstance(stmt, cst.Import):
        return all(_dotted(alias.name) in _TYPING_MODULES for alias in stmt.names)
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
    if _dotted(stmt.test) not in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}:
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

# The rule vocabulary is codecheck's: one definition for both parsers.


def _callee(node: cst.Call) -> str:
    return _dotted(node.func) or ""


_NEWLINES = re.compile(r"\r\n|\r|\n")


class _Flatten(cst.CSTTransformer):
    """Each implicit concatenation of plain literals as one literal with the same value over
    the same lines (backslash-newlines inside it), its parts' values kept aside.

    libcst nests a concatenation one level per literal, so walking or printing a long one
    recurses past the interpreter's limit; the flat tree has the same positions.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[cst.SimpleString, list[str | bytes]] = {}

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        # only an f-string among the parts has expressions to walk into
        return any(isinstance(p, cst.FormattedString) for p in _parts(node))

    def leave_ConcatenatedString(
        self, original_node: cst.ConcatenatedString, updated_node: cst.ConcatenatedString
    ) -> cst.BaseExpression:
        value = _value(original_node)
        if value is None:
            return updated_node
        layout = cst.Module(body=[])
        spaces: list[str] = []
        level: _Part | cst.ConcatenatedString = original_node
        while isinstance(level, cst.ConcatenatedString):
            spaces.append(layout.code_for_node(level.whitespace_between))
            level = level.right
        parts = _parts(original_node)
        text = "".join(p.value for p in parts if isinstance(p, cst.SimpleString)) + "".join(spaces)
        breaks = len(_NEWLINES.findall(text))
        spelt = repr(value)
        flat = cst.SimpleString(
            spelt[:-1] + "\\\n" * breaks + spelt[-1], lpar=original_node.lpar, rpar=original_node.rpar
        )
        values = (_value(p) for p in parts if isinstance(p, cst.SimpleString))
        self.parts[flat] = [v for v in values if v is not None]
        return flat


@dataclass
class _ExecCall:
    node: cst.Call
    name: str
    decoded: bool = False  # a decoding call inside its arguments
    names: set[str] = field(default_factory=set)  # names its arguments read


class _Finder(cst.CSTVisitor):
    """One pass: executors and what feeds them, importers, marshal, long literals.

    Runs on the tree :class:`_Flatten` made: ``concatenated`` holds the parts of the literals
    that were implicit concatenations.
    """

    def __init__(self, concatenated: dict[cst.SimpleString, list[str | bytes]]) -> None:
        super().__init__()
        self.concatenated = concatenated
        self.found: list[tuple[cst.CSTNode, str, str]] = []
        self.executors: list[_ExecCall] = []
        self.decoded_names: set[str] = set()  # bound to a decoding call's result
        self._open: list[_ExecCall] = []
        self._targets: list[list[str]] = []

    def found_at(self, node: cst.CSTNode, rule: str, message: str) -> None:
        self.found.append((node, rule, message))

    # Names bound by ``=``, an annotated ``=`` or ``:=`` to something decoded.
    def visit_Assign(self, node: cst.Assign) -> None:
        self._targets.append([_identifier(t.target) for t in node.targets if isinstance(t.target, cst.Name)])

    def leave_Assign(self, original_node: cst.Assign) -> None:
        self._targets.pop()

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._targets.append([_identifier(node.target)] if isinstance(node.target, cst.Name) else [])

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        self._targets.pop()

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._targets.append([_identifier(node.target)] if isinstance(node.target, cst.Name) else [])

    def leave_NamedExpr(self, original_node: cst.NamedExpr) -> None:
        self._targets.pop()

    def visit_Name(self, node: cst.Name) -> None:
        for call in self._open:
            call.names.add(_identifier(node))

    def visit_Call(self, node: cst.Call) -> None:
        name = _callee(node)
        if name.rsplit(".", 1)[-1] in DECODERS:
            for call in self._open:
                call.decoded = True
            for targets in self._targets:
                self.decoded_names.update(targets)
        if is_builtin(name, EXECUTORS):
            call = _ExecCall(node, name)
            self.executors.append(call)
            self._open.append(call)
        elif is_builtin(name, IMPORTERS) or name.endswith(".import_module"):
            if node.args and self._computed(node.args[0].value):
                self.found_at(node, "computed-import", f"{name}() of a computed module name")
        elif name in {"marshal.loads", "marshal.load"}:
            self.found_at(node, "marshal", f"{name}() turns bytes into code objects")

    def leave_Call(self, original_node: cst.Call) -> None:
        if self._open and self._open[-1].node is original_node:
            self._open.pop()

    def finish(self) -> None:
        for call in self.executors:
            # the callee's own name ("exec") is not an argument
            if call.decoded or (call.names - {call.name}) & self.decoded_names:
                self.found_at(call.node, "exec-decoded", f"{call.name}() of decoded or decompressed data")

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        # Left by _Flatten: an f-string among the parts. Its text is not a literal of its own
        # (as in the interpreter's tree); the expressions inside are walked.
        for part in _parts(node):
            if isinstance(part, cst.FormattedString):
                part.visit(self)
        return False

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if len(node.value) < LONG_ENCODED:
            return  # too short to matter: skip the costly evaluation
        value = _value(node)
        if value is None:  # odd escapes; nothing to measure
            return
        # "prose: " "TWFu...": implicit concatenation hides a long encoded part
        for candidate in (value, *self.concatenated.get(node, ())):
            compact = _encoded(candidate)
            if compact is not None:
                message = f"string literal of {len(compact)} base64/hex-like characters"
                self.found_at(node, "long-encoded-literal", message)
                return

    def _computed(self, node: cst.BaseExpression) -> bool:
        """A module name spelt so a reader cannot see it: built by calls, or from literals
        only (``"o" "s"`` included).

        Passing a name through (``__import__(name)``) or prefixing one (``"pkg." + name``) is
        ordinary plugin loading and not flagged.
        """
        if isinstance(node, cst.SimpleString):
            return node in self.concatenated
        if isinstance(node, cst.Name | cst.Attribute):
            return False
        look = _Look()
        node.visit(look)
        if look.calls:
            return True
        return look.names == 0  # "o" + "s", "so"[::-1]: a literal in disguise


class _Look(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.names = 0

    def visit_Call(self, node: cst.Call) -> None:
        self.calls += 1

    def visit_Name(self, node: cst.Name) -> None:
        self.names += 1


def _encoded(value: str | bytes) -> str | None:
    """The literal's text without whitespace if it is one long encoded run that may hide code."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if len(text) < LONG_ENCODED:
        return None
    compact = "".join(text.split())
    runs = ENCODED.findall(compact)
    longest_line = max((len(line.strip()) for line in text.splitlines()), default=0)
    if (
        len(runs) == 1
        and len(runs[0]) == len(compact) >= LONG_ENCODED
        and longest_line >= 40
        and may_hide_code(compact)
    ):
        return compact
    return None


def deep_lint(path: str, source: bytes) -> list[Finding]:
    """Findings of hidden code in one module (one finding if it does not parse)."""
    module = parse(source)
    if module is None:
        return [Finding(rule="does-not-parse", path=path, message="libcst cannot parse it")]
    flatten = _Flatten()
    module = module.visit(flatten)
    finder = _Finder(flatten.parts)
    module.visit(finder)
    finder.finish()
    if not finder.found:
        return []
    # positions only when there is something to report (the nodes are the same objects)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    findings = []
    for node, rule, message in finder.found:
        line = positions[node].start.line if node in positions else None
        findings.append(Finding(rule=rule, path=path, line=line, message=message))
    return sorted(findings, key=lambda f: (f.line or 0, f.rule))
