"""Pure classification of wheel members against sdist members (no I/O, no libcst).

Paths: wheel members are named as in the zip; sdist members relative to the sdist's top
directory (``coherent_build-0.19.1/pyproject.toml`` -> ``pyproject.toml``).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fromsource.inspect.model import KIND_COMPILED, KIND_DATA, KIND_PYTHON, KIND_TEXT

COMPILED_SUFFIXES = (".so", ".pyd", ".pyc", ".pyo", ".dll", ".dylib", ".exe", ".a", ".o", ".lib")
PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")
_MACHO = (
    b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe", b"\xbe\xba\xfe\xca",
)  # fmt: skip
# Control bytes that text does not hold (tab, newlines, form feed and ESC are allowed).
_BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def executable_format(data: bytes) -> str | None:
    """The executable format the bytes start with, by magic number, if any."""
    if data.startswith(b"\x7fELF"):
        return "ELF"
    if data[:4] in _MACHO:
        return "Mach-O"
    if data.startswith(b"MZ") and len(data) >= 0x40:
        offset = int.from_bytes(data[0x3C:0x40], "little")
        if data[offset : offset + 4] == b"PE\x00\x00":
            return "PE"
    return None


def is_text(data: bytes) -> bool:
    """UTF-8 (or plain ASCII) without NUL or unusual control characters."""
    if _BINARY_CONTROLS.search(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def kind_of(path: str, data: bytes) -> tuple[str, str | None]:
    """What the bytes are: (kind, why) where ``why`` names a compiled format."""
    fmt = executable_format(data)
    if fmt is not None:
        return KIND_COMPILED, f"{fmt} executable"
    lower = path.lower()
    if lower.endswith(COMPILED_SUFFIXES):
        return KIND_COMPILED, f"{posixpath.splitext(lower)[1]} file"
    if not is_text(data):
        return KIND_DATA, None
    if lower.endswith(PYTHON_SUFFIXES) or (data.startswith(b"#!") and b"python" in data[:128]):
        return KIND_PYTHON, None
    return KIND_TEXT, None


@dataclass(frozen=True, slots=True)
class WheelLayout:
    """Where a wheel's members install."""

    dist_info: str  # "name-1.0.dist-info"
    data_dir: str  # "name-1.0.data"

    def locate(self, member: str) -> tuple[str, str] | None:
        """``(scheme, install_path)``, or None for the wheel's own metadata."""
        top, _, rest = member.partition("/")
        if top == self.dist_info:
            return None
        if top == self.data_dir and rest:
            scheme, _, sub = rest.partition("/")
            if scheme in {"purelib", "platlib"}:
                return "purelib", sub
            return scheme, sub
        return "purelib", member


def strip_top(names: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The sdist's top directory and a map from stripped to original name."""
    names = list(names)
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        top = tops.pop()
        return top, {n.split("/", 1)[1]: n for n in names}
    return "", {n: n for n in names}


class SdistIndex:
    """Look-ups over an sdist's files: by content hash and by path suffix."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        self.by_hash: dict[str, list[str]] = defaultdict(list)
        self.by_base: dict[str, list[str]] = defaultdict(list)
        self.hashes: dict[str, str] = {}
        for path, data in files.items():
            digest = sha256(data)
            self.hashes[path] = digest
            self.by_hash[digest].append(path)
            self.by_base[posixpath.basename(path)].append(path)
        self.prefixes: list[tuple[str, str]] = []  # (wheel prefix, sdist prefix) learnt

    def counterparts(self, install_path: str) -> list[str]:
        """Sdist paths that are the install path under some source root, nearest first."""
        found = [
            p
            for p in self.by_base.get(posixpath.basename(install_path), ())
            if p == install_path or p.endswith("/" + install_path)
        ]
        return sorted(found, key=lambda p: (p.count("/"), p))

    def same_bytes(self, digest: str, install_path: str) -> list[str]:
        """Sdist paths holding exactly these bytes, same file name first."""
        base = posixpath.basename(install_path)
        return sorted(
            self.by_hash.get(digest, ()),
            key=lambda p: (posixpath.basename(p) != base, p.count("/"), p),
        )

    def learn_relocations(self, pairs: Iterable[tuple[str, str]]) -> None:
        """From (install path, sdist path) pairs of relocated files, learn prefix moves.

        coherent.build's wheel installs the sdist's ``backend.py`` as
        ``coherent/build/backend.py``: the move ``coherent/build/`` <- ``""`` then also
        finds the counterpart of a file whose bytes changed on the way.
        """
        moves: Counter[tuple[str, str]] = Counter()
        for install_path, sdist_path in pairs:
            a, b = install_path.split("/"), sdist_path.split("/")
            n = 0
            while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
                n += 1
            if n:
                wheel_prefix = "/".join(a[: len(a) - n])
                sdist_prefix = "/".join(b[: len(b) - n])
                moves[(wheel_prefix, sdist_prefix)] += 1
        self.prefixes = [move for move, _ in moves.most_common()]

    def moved_counterpart(self, install_path: str) -> str | None:
        for wheel_prefix, sdist_prefix in self.prefixes:
            head = wheel_prefix + "/" if wheel_prefix else ""
            if install_path.startswith(head):
                rest = install_path[len(head) :]
                candidate = f"{sdist_prefix}/{rest}" if sdist_prefix else rest
                if candidate in self.files:
                    return candidate
        return None


def top_level_name(install_path: str) -> str:
    """The importable top-level name a purelib path installs (``six.py`` -> ``six``)."""
    first = install_path.split("/", 1)[0]
    if "/" in install_path:
        return first
    return first.split(".", 1)[0]


def sdist_top_levels(index: SdistIndex, project: str) -> set[str]:
    """Top-level names the sdist vouches for: top_level.txt, the project name."""
    names = {project.lower().replace("-", "_").split(".", 1)[0]}
    for path, data in index.files.items():
        if path.endswith(".egg-info/top_level.txt") and path.count("/") <= 2:
            text = data.decode("utf-8", "replace")
            names.update(line.strip() for line in text.splitlines() if line.strip())
    return names
