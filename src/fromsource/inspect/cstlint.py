"""Hidden code, found by libcst: :func:`fromsource.inspect.cstcheck.deep_lint`'s fallback
for modules the running interpreter cannot parse, with codecheck's rules and vocabulary."""

from __future__ import annotations

import re
import warnings
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
from fromsource.inspect.cstcheck import StringPart, dotted, identifier, parse, string_parts, string_value
from fromsource.inspect.model import Finding

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # see cstcheck
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider


def _callee(node: cst.Call) -> str:
    return dotted(node.func) or ""


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
        return any(isinstance(p, cst.FormattedString) for p in string_parts(node))

    def leave_ConcatenatedString(
        self, original_node: cst.ConcatenatedString, updated_node: cst.ConcatenatedString
    ) -> cst.BaseExpression:
        value = string_value(original_node)
        if value is None:
            return updated_node
        layout = cst.Module(body=[])
        spaces: list[str] = []
        level: StringPart | cst.ConcatenatedString = original_node
        while isinstance(level, cst.ConcatenatedString):
            spaces.append(layout.code_for_node(level.whitespace_between))
            level = level.right
        parts = string_parts(original_node)
        text = "".join(p.value for p in parts if isinstance(p, cst.SimpleString)) + "".join(spaces)
        breaks = len(_NEWLINES.findall(text))
        spelt = repr(value)
        flat = cst.SimpleString(
            spelt[:-1] + "\\\n" * breaks + spelt[-1], lpar=original_node.lpar, rpar=original_node.rpar
        )
        values = (string_value(p) for p in parts if isinstance(p, cst.SimpleString))
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
        self._targets.append([identifier(t.target) for t in node.targets if isinstance(t.target, cst.Name)])

    def leave_Assign(self, original_node: cst.Assign) -> None:
        self._targets.pop()

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._targets.append([identifier(node.target)] if isinstance(node.target, cst.Name) else [])

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        self._targets.pop()

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._targets.append([identifier(node.target)] if isinstance(node.target, cst.Name) else [])

    def leave_NamedExpr(self, original_node: cst.NamedExpr) -> None:
        self._targets.pop()

    def visit_Name(self, node: cst.Name) -> None:
        for call in self._open:
            call.names.add(identifier(node))

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
        for part in string_parts(node):
            if isinstance(part, cst.FormattedString):
                part.visit(self)
        return False

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if len(node.value) < LONG_ENCODED:
            return  # too short to matter: skip the costly evaluation
        value = string_value(node)
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
