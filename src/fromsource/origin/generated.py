"""Files packaging tools write into an sdist, and whether their content is what they write.

Pure: every check takes bytes and returns a :class:`Verdict` (the generator named, and the
problem if the content is not what that generator writes). A file counts as generated only
by its path *and* its content: ``_version.py`` is generated when the tagged tree's own
configuration names it as a version file and it holds nothing but literal assignments (the
checks of :mod:`fromsource.inspect.codecheck`); a code-bearing version file is a finding.
"""

from __future__ import annotations

import ast
import configparser
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from types import ModuleType

SETUPTOOLS = "setuptools"
METADATA = "build backend (core metadata)"
EXPORT_SUBST = "git archive export-subst"
_EGG_INFO_FILES = frozenset(
    {
        "PKG-INFO",
        "SOURCES.txt",
        "dependency_links.txt",
        "top_level.txt",
        "requires.txt",
        "entry_points.txt",
        "not-zip-safe",
        "zip-safe",
        "namespace_packages.txt",
    }
)
_EGG_INFO_TAGS = frozenset({"tag_build", "tag_date", "tag_svn_revision"})
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$")
_ENTRY_POINT = re.compile(r"^[\w.]+(\s*:\s*[\w.]+)?(\s*\[[\w\s,.-]*\])?$")
_FORMAT = re.compile(rb"\$Format:[^$\n]*\$")


@dataclass(frozen=True, slots=True)
class Verdict:
    generator: str
    problem: str | None = None  # None: the content is what the generator writes


def _codecheck() -> ModuleType:
    """inspect's code checks, imported only when a version file is judged."""
    from fromsource.inspect import codecheck

    return codecheck


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _get(table: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(table, dict):
            return None
        table = table.get(key)
    return table


class Generators:
    """What the tagged tree's configuration says its packaging tools generate."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        pyproject: bytes | None,
        setup_cfg: bytes | None,
        setup_py: bytes | None = None,
    ) -> None:
        self.name, self.version = name, version
        self.setup_cfg = setup_cfg
        self.version_files: dict[str, str] = {}  # path -> generator
        self.versioneer: set[str] = set()
        config: dict[str, Any] = {}
        if pyproject is not None:
            try:
                config = tomllib.loads(pyproject.decode("utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                config = {}
        scm = _get(config, "tool", "setuptools_scm")
        for key in ("version_file", "write_to"):
            if isinstance(_get(scm, key), str):
                self.version_files[_get(scm, key)] = "setuptools-scm"
        for path in _setup_py_version_files(setup_py):
            self.version_files.setdefault(path, "setuptools-scm")
        for hooks in (
            _get(config, "tool", "hatch", "build", "hooks", "vcs"),
            _get(config, "tool", "hatch", "build", "targets", "wheel", "hooks", "vcs"),
        ):
            if isinstance(_get(hooks, "version-file"), str):
                self.version_files[_get(hooks, "version-file")] = "hatch-vcs"
        versioneer = _get(config, "tool", "versioneer") or {}
        parser = _config(setup_cfg) if setup_cfg is not None else None
        if parser is not None and parser.has_section("versioneer"):
            versioneer = {**dict(parser.items("versioneer")), **versioneer}
        for key in ("versionfile_source", "versionfile_build"):
            if isinstance(_get(versioneer, key), str):
                self.versioneer.add(_get(versioneer, key))
        self.version_files = {p.removeprefix("./"): g for p, g in self.version_files.items()}
        self.versioneer = {p.removeprefix("./") for p in self.versioneer}

    def check(self, path: str, data: bytes) -> Verdict | None:
        """The verdict for a file generators write at ``path``; None when none does."""
        parts = path.split("/")
        if path == "PKG-INFO":
            return Verdict(METADATA, self._metadata(data))
        if len(parts) >= 2 and parts[-2].endswith(".egg-info"):
            return self._egg_info(parts[-2], parts[-1], data)
        if path == "setup.cfg":
            return Verdict(SETUPTOOLS, self._setup_cfg(data))
        if path in self.versioneer:
            return Verdict("versioneer", self._versioneer(data))
        if path in self.version_files:
            return Verdict(self.version_files[path], self._version_file(data))
        return None

    # -- core metadata and egg-info

    def _metadata(self, data: bytes) -> str | None:
        raw, _ = parse_email(data)
        name, version = raw.get("name"), raw.get("version")
        if not name or not version:
            return "metadata without Name or Version"
        if canonicalize_name(name) != canonicalize_name(self.name):
            return f"metadata names project {name!r}, the sdist is {self.name!r}"
        try:
            same = Version(version) == Version(self.version)
        except InvalidVersion:
            same = version == self.version
        return None if same else f"metadata says version {version}, the sdist {self.version}"

    def _egg_info(self, directory: str, name: str, data: bytes) -> Verdict:
        if canonicalize_name(directory.removesuffix(".egg-info")) != canonicalize_name(self.name):
            return Verdict(SETUPTOOLS, f"egg-info directory of another project ({directory})")
        if name not in _EGG_INFO_FILES:
            return Verdict(SETUPTOOLS, f"setuptools writes no {name} into egg-info")
        if name == "PKG-INFO":
            return Verdict(SETUPTOOLS, self._metadata(data))
        text = _text(data)
        if text is None:
            return Verdict(SETUPTOOLS, "not UTF-8 text")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        problem = None
        if name in ("zip-safe", "not-zip-safe"):
            problem = "holds content; setuptools writes it empty" if lines else None
        elif name == "SOURCES.txt":
            bad = [ln for ln in lines if ln.startswith("/") or ".." in ln.split("/")]
            problem = f"lists paths outside the sdist: {bad[0]!r}" if bad else None
        elif name in ("top_level.txt", "namespace_packages.txt"):
            bad = [ln for ln in lines if not _DOTTED.match(ln)]
            problem = f"{bad[0]!r} is not a module name" if bad else None
        elif name == "requires.txt":
            problem = _requires(lines)
        elif name == "dependency_links.txt":
            bad = [ln for ln in lines if not re.match(r"^[a-z][a-z0-9+.-]*://\S+$", ln)]
            problem = f"{bad[0]!r} is not a URL" if bad else None
        elif name == "entry_points.txt":
            problem = _entry_points(text)
        return Verdict(SETUPTOOLS, problem)

    # -- setup.cfg

    def _setup_cfg(self, data: bytes) -> str | None:
        """setuptools rewrites the tree's setup.cfg through configparser, adding [egg_info]."""
        ours = _config(data)
        if ours is None:
            return "does not parse as setup.cfg"
        tree = _config(self.setup_cfg) if self.setup_cfg is not None else _config(b"")
        if tree is None:
            return "the tagged tree's setup.cfg does not parse"
        mine = _sections(ours)
        theirs = _sections(tree)
        egg_info = mine.pop("egg_info", None)
        theirs.pop("egg_info", None)
        if egg_info is None:
            return "differs from the tagged tree and has no [egg_info] block setuptools adds"
        extra = sorted(set(egg_info) - _EGG_INFO_TAGS)
        if extra:
            return f"[egg_info] holds {', '.join(extra)}; setuptools writes only tags there"
        if any("\n" in v for v in egg_info.values()):
            return "[egg_info] holds a multi-line value"
        if mine != theirs:
            changed = sorted({s for s in set(mine) | set(theirs) if mine.get(s) != theirs.get(s)})
            return f"sections other than [egg_info] differ from the tagged tree: {', '.join(changed)}"
        return None

    # -- version files

    def _version_file(self, data: bytes) -> str | None:
        literal = _codecheck().is_literal_only(data)
        if literal is None:
            return "version file does not parse"
        if not literal:
            return "version file holds code, not only literal assignments"
        module = _codecheck().parse(data)
        strings = {n.value for n in ast.walk(module) if isinstance(n, ast.Constant)} if module else set()
        if self.version not in strings:
            return f"version file does not state the version {self.version}"
        return None

    def _versioneer(self, data: bytes) -> str | None:
        """versioneer's short form: ``import json``, ``version_json = '''...'''``,
        ``def get_versions(): return json.loads(version_json)``, and nothing else."""
        module = _codecheck().parse(data)
        if module is None:
            return "version file does not parse"
        body = [s for s in module.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        imports = [s for s in body if isinstance(s, ast.Import)]
        if any(a.name not in ("json", "sys") or a.asname for s in imports for a in s.names):
            return "versioneer's file imports more than json"
        rest = [s for s in body if not isinstance(s, ast.Import)]
        if len(rest) != 2 or not isinstance(rest[0], ast.Assign) or not isinstance(rest[1], ast.FunctionDef):
            return "not versioneer's short version file (literal JSON and get_versions)"
        assign, func = rest[0], rest[1]
        if (
            len(assign.targets) != 1
            or _codecheck().dotted(assign.targets[0]) != "version_json"
            or not isinstance(assign.value, ast.Constant)
            or not isinstance(assign.value.value, str)
        ):
            return "versioneer's version_json is not a string literal"
        expected = "def get_versions():\n    return json.loads(version_json)"
        if func.args.args or func.decorator_list or ast.unparse(func) != expected:
            return "get_versions() does more than json.loads(version_json)"
        try:
            stated = json.loads(assign.value.value).get("version")
        except (ValueError, AttributeError):
            return "version_json is not a JSON object"
        if stated != self.version:
            return f"version_json says version {stated!r}, the sdist {self.version}"
        return None


def export_subst(path: str, data: bytes, template: bytes, archived: bytes | None) -> Verdict | None:
    """A tree file with ``$Format:...$`` placeholders, filled in by ``git archive``.

    Equal to what our git writes for the commit: generated. Otherwise (another describe
    output, say) only the placeholders may differ, each filled on one line; a Python file
    must then still be literal assignments only.
    """
    if _FORMAT.search(template) is None:
        return None
    if archived is not None and archived == data:
        return Verdict(EXPORT_SUBST)
    if archived is not None and archived == template:
        return Verdict(EXPORT_SUBST, "the tagged tree does not mark it export-subst")
    pattern = b"".join(
        re.escape(part) if i % 2 == 0 else rb"[^\r\n]*" for i, part in enumerate(_split_format(template))
    )
    if re.fullmatch(pattern, data) is None:
        return Verdict(EXPORT_SUBST, "differs from the tagged tree beyond its $Format$ placeholders")
    if path.endswith(".py") and _codecheck().is_literal_only(data) is not True:
        return Verdict(EXPORT_SUBST, "placeholders filled with code, not literal values")
    return Verdict(EXPORT_SUBST)


def _setup_py_version_files(setup_py: bytes | None) -> list[str]:
    """``setup(use_scm_version={"write_to": ...})`` spelt as literals in the tree's setup.py
    (read, never run)."""
    module = _codecheck().parse(setup_py) if setup_py is not None else None
    found = []
    for node in ast.walk(module) if module is not None else ():
        if (
            isinstance(node, ast.keyword)
            and node.arg == "use_scm_version"
            and isinstance(node.value, ast.Dict)
        ):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in ("write_to", "version_file")
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found.append(value.value)
    return found


def _split_format(template: bytes) -> list[bytes]:
    parts: list[bytes] = []
    position = 0
    for match in _FORMAT.finditer(template):
        parts += [template[position : match.start()], match.group()]
        position = match.end()
    return [*parts, template[position:]]


def _config(data: bytes | None) -> configparser.RawConfigParser | None:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = lambda option: option  # type: ignore[assignment,method-assign]
    try:
        parser.read_string((data or b"").decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError):
        return None
    return parser


def _sections(parser: configparser.RawConfigParser) -> dict[str, Mapping[str, str]]:
    return {s: {k: (v or "").strip() for k, v in parser.items(s)} for s in parser.sections()}


def _requires(lines: list[str]) -> str | None:
    for line in lines:
        if line.startswith("[") and line.endswith("]"):
            continue
        try:
            Requirement(line)
        except InvalidRequirement:
            return f"{line!r} is not a requirement"
    return None


def _entry_points(text: str) -> str | None:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = lambda option: option  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return "does not parse as entry_points.txt"
    for section in parser.sections():
        for name, value in parser.items(section):
            if not _ENTRY_POINT.match((value or "").strip()):
                return f"entry point {name} = {value!r} is not module:attribute"
    return None
