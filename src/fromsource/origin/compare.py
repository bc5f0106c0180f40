"""File-by-file comparison of an sdist with a tagged tree (pure: git is behind ``TreeReader``).

Each sdist file is one of:

- ``identical``: the same bytes as the same path in the tree (found by git blob id, so the
  tree's blobs are never read for files that match);
- ``generated``: a file packaging tools write, whose content is what they write
  (:mod:`fromsource.origin.generated`);
- ``modified``: the tree has the path with other bytes (the diff is kept);
- ``not-in-tree``: the tree lacks it. Code the tag lacks is exactly how the xz backdoor was
  shipped: a finding, never a note.

Files the tree has and the sdist omits (tests, docs, CI) are fine and only counted.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from fromsource.origin.generated import Generators, Verdict, export_subst
from fromsource.origin.git import TreeEntry, blob_id

Status = Literal["identical", "generated", "modified", "not-in-tree"]
FINDINGS: tuple[Status, ...] = ("modified", "not-in-tree")
_SYMLINK, _SUBMODULE = "120000", "160000"
_DIFF_LINES = 80
_CODE_SUFFIXES = frozenset(
    {
        ".py",
        ".pyi",
        ".pyx",
        ".pxd",
        ".pxi",
        ".pth",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hpp",
        ".m4",
        ".sh",
        ".bash",
        ".zsh",
        ".ps1",
        ".bat",
        ".cmd",
        ".pl",
        ".rb",
        ".js",
        ".rs",
        ".go",
        ".f",
        ".f90",
        ".s",
        ".asm",
        ".am",
        ".in",
        ".ac",
        ".cmake",
        ".mk",
        ".toml",
        ".cfg",
        ".so",
        ".pyd",
        ".dll",
        ".dylib",
        ".a",
        ".o",
        ".whl",
        ".egg",
        ".zip",
        ".jar",
    }
)
_CODE_NAMES = frozenset(
    {
        "makefile",
        "configure",
        "cmakelists.txt",
        "meson.build",
        "build.rs",
        "setup.py",
        "conftest.py",
        "sconstruct",
        "justfile",
        "dockerfile",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    path: str
    sha256: str
    status: Status
    generator: str | None = None
    reason: str | None = None
    diff: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "sha256": self.sha256, "status": self.status}
        for key in ("generator", "reason", "diff"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    files: tuple[FileResult, ...]
    tree_only: tuple[str, ...] = field(default=())  # tree files the sdist omits

    @property
    def findings(self) -> list[FileResult]:
        return [f for f in self.files if f.status in FINDINGS]

    @property
    def matches(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("identical", "generated", "modified", "not-in-tree"), 0)
        for result in self.files:
            counts[result.status] += 1
        return {**counts, "tree-only": len(self.tree_only)}

    def files_digest(self) -> str:
        """sha256 of the per-file classification (path, sha256, status, generator), sorted."""
        rows = [
            [f.path, f.sha256, f.status, f.generator or ""] for f in sorted(self.files, key=lambda f: f.path)
        ]
        encoded = json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()


class TreeReader(Protocol):
    """Reads the fetched commit: blob contents, and files as ``git archive`` writes them."""

    def blobs(self, oids: Iterable[str]) -> dict[str, bytes]: ...

    def archived(self, commit: str, paths: Iterable[str]) -> Mapping[str, bytes]: ...


def is_code(path: str, data: bytes, mode: int = 0) -> bool:
    """Anything a build or an interpreter could run: by suffix, name, exec bit or shebang."""
    base = posixpath.basename(path).lower()
    return (
        posixpath.splitext(base)[1] in _CODE_SUFFIXES
        or base in _CODE_NAMES
        or base.startswith("makefile")
        or bool(mode & 0o111)
        or data.startswith(b"#!")
    )


def _diff(old: bytes, new: bytes, path: str) -> str:
    from fromsource.inspect.classify import is_text  # inspect loads only when files differ

    if not (is_text(old) and is_text(new)):
        return f"binary content differs ({len(old)} -> {len(new)} bytes)"
    lines = list(
        difflib.unified_diff(
            old.decode().splitlines(keepends=True),
            new.decode().splitlines(keepends=True),
            f"tree/{path}",
            f"sdist/{path}",
            n=2,
        )
    )
    if len(lines) > _DIFF_LINES:
        lines = [*lines[:_DIFF_LINES], f"... {len(lines) - _DIFF_LINES} more diff lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _link_target(tree: Mapping[str, TreeEntry], path: str, blobs: Mapping[str, bytes]) -> str | None:
    """Where a tree symlink points inside the tree (one hop), if it stays inside."""
    target = blobs.get(tree[path].oid, b"").decode("utf-8", "replace")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return None if joined.startswith("../") or joined.startswith("/") else joined


class Comparer:
    """One comparison; feed every sdist member to :meth:`add`, then call :meth:`finish`."""

    def __init__(self, tree: Mapping[str, TreeEntry], *, object_format: str = "sha1") -> None:
        self.tree = tree
        self.object_format = object_format
        self.results: dict[str, FileResult] = {}
        self.pending: dict[str, tuple[bytes, int, str]] = {}  # path -> (data, mode, sha256)
        self.ids: dict[str, tuple[str, str]] = {}  # path -> (blob id, sha256), for hard links

    def add(self, path: str, data: bytes, mode: int) -> None:
        """Classify what can be told from blob ids alone; keep the rest (usually few)."""
        digest = hashlib.sha256(data).hexdigest()
        oid = blob_id(data, self.object_format)
        self.ids[path] = (oid, digest)
        entry = self.tree.get(path)
        if entry is not None and entry.mode not in (_SYMLINK, _SUBMODULE) and entry.oid == oid:
            self.results[path] = FileResult(path=path, sha256=digest, status="identical")
        else:
            self.pending[path] = (data, mode, digest)

    def add_link(self, path: str, target: str, *, hard: bool) -> None:
        """A link of the sdist: the same link in the tree, or (hard) the tree's same file.

        A link is content: ``setup.py`` linked to another reviewed file runs that file."""
        entry = self.tree.get(path)
        if hard:
            oid, digest = self.ids.get(target, ("", hashlib.sha256(target.encode()).hexdigest()))
            same = entry is not None and entry.mode not in (_SYMLINK, _SUBMODULE) and entry.oid == oid
            what = f"a hard link to {target}"
        else:
            digest = hashlib.sha256(target.encode()).hexdigest()
            same = (
                entry is not None
                and entry.mode == _SYMLINK
                and entry.oid == blob_id(target.encode(), self.object_format)
            )
            what = f"a symlink to {target}"
        if same:
            self.results[path] = FileResult(path=path, sha256=digest, status="identical")
        elif entry is None:
            self.results[path] = FileResult(
                path=path, sha256=digest, status="not-in-tree", reason=f"{what} the tagged tree lacks"
            )
        else:
            self.results[path] = FileResult(
                path=path,
                sha256=digest,
                status="modified",
                reason=f"{what} where the tagged tree has other content",
            )

    def finish(self, reader: TreeReader, commit: str, *, name: str, version: str) -> Comparison:
        tree = self.tree
        config = {
            p: tree[p].oid
            for p in ("pyproject.toml", "setup.cfg", "setup.py")
            if p in tree and tree[p].mode not in (_SYMLINK, _SUBMODULE)
        }
        wanted = set(config.values()) | {
            tree[p].oid for p in self.pending if p in tree and tree[p].mode != _SUBMODULE
        }
        blobs = reader.blobs(wanted)
        links = {
            p: _link_target(tree, p, blobs) for p in self.pending if p in tree and tree[p].mode == _SYMLINK
        }
        linked = {t for t in links.values() if t is not None and t in tree}
        blobs.update(reader.blobs({tree[t].oid for t in linked} - set(blobs)))
        generators = Generators(
            name=name,
            version=version,
            pyproject=blobs.get(config.get("pyproject.toml", "")),
            setup_cfg=blobs.get(config.get("setup.cfg", "")),
            setup_py=blobs.get(config.get("setup.py", "")),
        )
        templates: dict[str, bytes] = {}
        for path, (data, mode, digest) in sorted(self.pending.items()):
            entry = tree.get(path)
            target = links.get(path)
            oid = blob_id(data, self.object_format)
            if target is not None and target in tree and tree[target].oid == oid:
                self.results[path] = FileResult(
                    path=path, sha256=digest, status="identical", reason=f"the tree's symlink to {target}"
                )
                continue
            verdict = generators.check(path, data)
            if verdict is not None:
                self.results[path] = self._generated(path, digest, verdict, entry is not None)
            elif entry is not None and b"$Format:" in blobs.get(entry.oid, b""):
                templates[path] = blobs[entry.oid]
            elif entry is not None and entry.mode not in (_SYMLINK, _SUBMODULE):
                self.results[path] = self._modified(path, digest, blobs[entry.oid], data)
            else:
                self.results[path] = self._missing(path, digest, data, mode, entry)
        archived = reader.archived(commit, templates) if templates else {}
        for path, template in templates.items():
            data, _mode, digest = self.pending[path]
            verdict = export_subst(path, data, template, archived.get(path))
            if verdict is None:  # pragma: no cover - templates hold $Format: by construction
                verdict = Verdict("export-subst", "no placeholder")
            self.results[path] = self._generated(path, digest, verdict, True)
        present = set(self.results)
        tree_only = tuple(sorted(p for p, e in tree.items() if p not in present and e.mode != _SUBMODULE))
        return Comparison(files=tuple(self.results[p] for p in sorted(self.results)), tree_only=tree_only)

    def _generated(self, path: str, digest: str, verdict: Verdict, in_tree: bool) -> FileResult:
        if verdict.problem is None:
            return FileResult(path=path, sha256=digest, status="generated", generator=verdict.generator)
        return FileResult(
            path=path,
            sha256=digest,
            status="modified" if in_tree else "not-in-tree",
            generator=verdict.generator,
            reason=f"not what {verdict.generator} writes: {verdict.problem}",
        )

    def _modified(self, path: str, digest: str, old: bytes, new: bytes) -> FileResult:
        reason = "content differs from the tagged tree"
        if path.endswith((".py", ".pyi")):
            from fromsource.inspect import codecheck
            from fromsource.inspect.model import CHANGE_CODE, CHANGE_FORMATTING, CHANGE_LITERALS

            changes = {
                CHANGE_FORMATTING: "only formatting or comments changed",
                CHANGE_LITERALS: "literal values changed",
                CHANGE_CODE: "code changed",
            }
            reason = f"{changes.get(codecheck.classify_change(old, new), 'changed')} against the tagged tree"
        elif is_code(path, new):
            reason = "build or code file differs from the tagged tree"
        return FileResult(
            path=path, sha256=digest, status="modified", reason=reason, diff=_diff(old, new, path)
        )

    def _missing(self, path: str, digest: str, data: bytes, mode: int, entry: TreeEntry | None) -> FileResult:
        if entry is not None:  # a symlink or submodule in the tree, a file in the sdist
            kind = "a symlink" if entry.mode == _SYMLINK else "a submodule"
            return FileResult(
                path=path,
                sha256=digest,
                status="modified",
                reason=f"the tagged tree has {kind} here, the sdist other content",
            )
        if path.endswith(".pth"):
            reason = "a .pth file runs code whenever the interpreter starts; the tagged tree lacks it"
        elif is_code(path, data, mode):
            reason = (
                "code the tagged tree lacks: reviewers of the repository never saw it "
                "(the xz backdoor shipped this way)"
            )
        else:
            reason = "the tagged tree lacks this file"
        return FileResult(path=path, sha256=digest, status="not-in-tree", reason=reason)
