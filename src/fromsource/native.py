"""Native inputs of a compiled wheel: the system libraries its extension modules link, and the
C compiler, resolved to the files on this machine and, where dpkg knows them, to packages.

Two builds of lxml against different libxml2 versions produce different wheels from the same
sdist and the same Python environment; only these records tell them apart, and only they
let a libxml2 advisory be traced to the wheels built against it. The ELF dynamic section is
read with pyelftools; sonames are resolved as the dynamic loader would (RPATH, RUNPATH,
the ld.so cache, the default directories) at the end of the build, on the machine that built.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from fromsource.archives import iter_members
from fromsource.attest.provenance import (
    KIND_COMPILER,
    KIND_SYSTEM_LIBRARY,
    KIND_TOOLCHAIN,
    Dependency,
    SystemPackage,
)
from fromsource.fileutil import sha256_file

ELF_MAGIC = b"\x7fELF"
_TOOL_TIMEOUT = 30.0
# Directories the loader searches after the cache (glibc's defaults, multiarch first).
# Runs a tool and returns its stdout, or None when it is missing or fails (tests pass their own).
Runner = Callable[[Sequence[str]], "str | None"]
_DEFAULT_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ElfLinks:
    """What one ELF file asks the dynamic loader for."""

    needed: tuple[str, ...]
    search: tuple[str, ...]  # RPATH and RUNPATH entries, in order
    elf_class: int  # 32 or 64
    machine: str  # e_machine, e.g. EM_X86_64


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemLibrary:
    soname: str
    path: str  # where the loader finds the soname (often a link)
    file: str  # the regular file it resolves to, whose digest this is
    sha256: str
    needed_by: tuple[str, ...]  # wheel members (extension modules) that link it
    package: SystemPackage | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Compiler:
    name: str  # gcc, clang, ...
    command: str  # what was looked up on PATH
    path: str  # the resolved binary
    version: str
    sha256: str
    package: SystemPackage | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeInputs:
    libraries: tuple[SystemLibrary, ...]
    compiler: Compiler | None
    unresolved: tuple[str, ...]  # sonames neither in the wheel nor found on this machine


# ------------------------------------------------------------------------ ELF


def read_links(data: bytes) -> ElfLinks:
    """DT_NEEDED, DT_RPATH and DT_RUNPATH of an ELF file; ValueError if it is not one."""
    try:
        elf = ELFFile(io.BytesIO(data))
        needed: list[str] = []
        search: list[str] = []
        for section in elf.iter_sections():
            if not isinstance(section, DynamicSection):
                continue
            for tag in section.iter_tags():
                # pyelftools sets needed/rpath/runpath on the tag by its type, untyped.
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    needed.append(str(tag.needed))  # type: ignore[attr-defined]
                elif kind == "DT_RPATH":
                    search += str(tag.rpath).split(":")  # type: ignore[attr-defined]
                elif kind == "DT_RUNPATH":
                    search += str(tag.runpath).split(":")  # type: ignore[attr-defined]
        return ElfLinks(
            needed=tuple(needed),
            search=tuple(s for s in search if s),
            elf_class=elf.elfclass,
            machine=str(elf["e_machine"]),
        )
    except (ELFError, ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a readable ELF file: {exc}") from exc


def extension_modules(wheel: Path) -> Iterator[tuple[str, ElfLinks]]:
    """Every ELF member of a wheel (extension modules and bundled libraries) and its links."""
    for member in iter_members(wheel):
        if member.data[:4] != ELF_MAGIC:
            continue
        try:
            yield member.name, read_links(member.data)
        except ValueError:
            continue  # a file that merely starts with the magic; nothing a loader would use


# ------------------------------------------------------------------------ the loader's search


def parse_ld_cache(output: str) -> dict[tuple[str, int], str]:
    """(soname, ELF class) -> path from ``ldconfig -p`` output (first entry wins, as for
    the loader). 64-bit entries carry a flag such as ``x86-64`` or ``AArch64``."""
    cache: dict[tuple[str, int], str] = {}
    for line in output.splitlines():
        match = re.match(r"\s*(\S+) \(([^)]*)\).* => (\S+)\s*$", line)
        if match:
            bits = 64 if "64" in match.group(2) else 32
            cache.setdefault((match.group(1), bits), match.group(3))
    return cache


def ld_cache(run: Runner | None = None) -> dict[tuple[str, int], str]:
    runner = run or _run
    return parse_ld_cache(runner(["ldconfig", "-p"]) or runner(["/sbin/ldconfig", "-p"]) or "")


def find_soname(
    soname: str,
    search: Sequence[str],
    cache: dict[tuple[str, int], str],
    elf_class: int = 64,
    default_dirs: Sequence[str] = _DEFAULT_DIRS,
) -> Path | None:
    """The file the loader would map for ``soname`` (``$ORIGIN`` entries are skipped: they
    point into the wheel, which :func:`collect` handles)."""
    if "/" in soname:
        return Path(soname) if Path(soname).is_file() else None
    dirs = [d for d in search if "$ORIGIN" not in d and "${ORIGIN}" not in d]
    for directory in dirs:
        candidate = Path(directory) / soname
        if candidate.is_file():
            return candidate
    cached = cache.get((soname, elf_class))
    if cached is not None and Path(cached).is_file():
        return Path(cached)
    for directory in default_dirs:
        candidate = Path(directory) / soname
        if candidate.is_file():
            return candidate
    return None


# ------------------------------------------------------------------------ dpkg


def _run(argv: Sequence[str]) -> str | None:
    """stdout of a tool, or None when it is missing or fails."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # Some tools (dpkg -S) exit non-zero when only part of what was asked is known.
    return done.stdout if done.returncode == 0 or done.stdout else None


def _usrmerge_aliases(path: str) -> list[str]:
    """dpkg records a file under the path its package ships, /lib or /usr/lib."""
    out = [path]
    for short, long in (("/lib/", "/usr/lib/"), ("/bin/", "/usr/bin/"), ("/lib64/", "/usr/lib64/")):
        if path.startswith(short):
            out.append(long + path[len(short) :])
        elif path.startswith(long):
            out.append(short + path[len(long) :])
    return out


def dpkg_packages(paths: Iterable[str], run: Runner | None = None) -> dict[str, SystemPackage]:
    """path -> the Debian package owning it (``dpkg -S``) and its version (``dpkg-query``),
    two tool calls in all."""
    runner = run or _run
    aliases = {alias: path for path in paths for alias in _usrmerge_aliases(path)}
    if not aliases or (run is None and shutil.which("dpkg") is None):
        return {}
    owners: dict[str, str] = {}
    # Unknown paths make dpkg -S exit 1; the lines it printed for the others still count.
    for line in (runner(["dpkg", "-S", *sorted(aliases)]) or "").splitlines():
        package, _, owned = line.partition(": ")
        path = aliases.get(owned.strip())
        if path is None or "," in package or package.startswith("diversion"):
            continue
        owners.setdefault(path, package.strip())
    if not owners:
        return {}
    versions: dict[str, tuple[str, str]] = {}
    query = runner(
        [
            "dpkg-query",
            "-W",
            "-f=${binary:Package}\\t${Version}\\t${Architecture}\\n",
            *sorted(set(owners.values())),
        ]
    )
    for line in (query or "").splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[1]:
            versions[fields[0]] = (fields[1], fields[2])
    found: dict[str, SystemPackage] = {}
    for path, package in owners.items():
        if package not in versions:
            continue
        version, arch = versions[package]
        found[path] = SystemPackage(
            manager="dpkg", name=package.partition(":")[0], version=version, architecture=arch or None
        )
    return found


# ------------------------------------------------------------------------ compiler


def find_compiler(path_env: str | None = None, run: Runner | None = None) -> Compiler | None:
    """The C compiler ``cc`` resolves to on PATH (what setuptools and most backends call)."""
    runner = run or _run
    for command in ("cc", "gcc", "clang"):
        found = shutil.which(command, path=path_env)
        if found is None:
            continue
        binary = Path(found).resolve()
        version = (runner([found, "-dumpfullversion", "-dumpversion"]) or "").strip()
        banner = (runner([found, "--version"]) or "").splitlines()
        first = banner[0] if banner else ""
        name = (
            "clang"
            if "clang" in first or "clang" in binary.name
            else "gcc"
            if "gcc" in binary.name or "GCC" in first or "Free Software" in " ".join(banner)
            else binary.name
        )
        if not version:
            match = re.search(r"(\d+\.\d+(?:\.\d+)?)", first)
            version = match.group(1) if match else "unknown"
        return Compiler(
            name=name, command=command, path=str(binary), version=version, sha256=sha256_file(binary)
        )
    return None


# ------------------------------------------------------------------------ together


def collect(wheel: Path, *, run: Runner | None = None, path_env: str | None = None) -> NativeInputs | None:
    """The native inputs of ``wheel``, or None for a wheel without ELF files (pure Python)."""
    modules = list(extension_modules(wheel))
    if not modules:
        return None
    bundled = {PurePosixPath(name).name for name, _ in modules}  # auditwheel's .libs
    cache = ld_cache(run)
    needers: dict[str, list[str]] = {}
    search: dict[str, ElfLinks] = {}
    for name, links in modules:
        for soname in links.needed:
            if soname in bundled:
                continue
            needers.setdefault(soname, []).append(name)
            search.setdefault(soname, links)
    located: dict[str, Path] = {}
    unresolved = []
    for soname in sorted(needers):
        path = find_soname(soname, search[soname].search, cache, search[soname].elf_class)
        if path is None:
            unresolved.append(soname)
        else:
            located[soname] = path
    compiler = find_compiler(path_env, run)
    owned = dpkg_packages(
        [
            *(str(p) for p in located.values()),
            *(str(p.resolve()) for p in located.values()),
            *([compiler.path] if compiler else []),
        ],
        run,
    )
    libraries = []
    for soname, path in sorted(located.items()):
        real = path.resolve()
        libraries.append(
            SystemLibrary(
                soname=soname,
                path=str(path),
                file=str(real),
                sha256=sha256_file(real),
                needed_by=tuple(sorted(needers[soname])),
                package=owned.get(str(path)) or owned.get(str(real)) or _owned_alias(owned, str(path)),
            )
        )
    if compiler is not None and compiler.path in owned:
        compiler = Compiler(
            name=compiler.name,
            command=compiler.command,
            path=compiler.path,
            version=compiler.version,
            sha256=compiler.sha256,
            package=owned[compiler.path],
        )
    return NativeInputs(libraries=tuple(libraries), compiler=compiler, unresolved=tuple(unresolved))


def _owned_alias(owned: dict[str, SystemPackage], path: str) -> SystemPackage | None:
    for alias in _usrmerge_aliases(path):
        if alias in owned:
            return owned[alias]
    return None


def native_dependencies(wheel: Path, run: Runner | None = None) -> tuple[Dependency, ...]:
    """resolvedDependencies entries for a wheel's native inputs (none for a pure wheel)."""
    found = collect(wheel, run=run)
    if found is None:
        return ()
    deps = [
        Dependency(
            name=library.soname,
            sha256=library.sha256,
            kind=KIND_SYSTEM_LIBRARY,
            uri=f"file://{library.file}",
            soname=library.soname,
            path=library.path,
            needed_by=library.needed_by,
            package=library.package,
        )
        for library in found.libraries
    ]
    compiler = found.compiler
    if compiler is not None:
        deps.append(
            Dependency(
                name=f"{compiler.name}-{compiler.version}",
                sha256=compiler.sha256,
                kind=KIND_COMPILER,
                uri=f"file://{compiler.path}",
                compiler=compiler.name,
                version=compiler.version,
                command=compiler.command,
                package=compiler.package,
            )
        )
    return tuple(deps)


# ------------------------------------------------------------------------ reuse


def changed_inputs(
    natives: Iterable[Dependency],
    digest: Callable[[Path], str] = sha256_file,
    path_env: str | None = None,
) -> list[str]:
    """Why this machine no longer offers the native inputs a wheel was built with: a
    recorded system library whose file (where the loader found it) is gone or has other
    bytes, a compiler that ``cc`` no longer resolves to, a toolchain program that changed.
    Empty: all the same. ``digest`` is meant to be a stat cache, so a no-op re-run hashes
    nothing. Crates are not checked here: the sdist's Cargo.lock fixes their digests.

    Only the recorded paths are checked: a library installed later earlier on the loader's
    search path is not noticed (finding that needs the extension's RPATH from the wheel).
    """
    reasons = []
    for dep in natives:
        if dep.kind == KIND_SYSTEM_LIBRARY and dep.path is not None:
            now = _digest_or_none(Path(dep.path), digest)
            if now != dep.sha256:
                reasons.append(f"{dep.soname or dep.name} at {dep.path} " + _changed(now, dep.sha256))
        elif dep.kind == KIND_COMPILER and dep.command is not None:
            found = shutil.which(dep.command, path=path_env)
            recorded = _file_of(dep.uri)
            if found is None:
                reasons.append(f"compiler {dep.command} is no longer on PATH")
            elif recorded is not None and Path(found).resolve() != recorded:
                reasons.append(f"compiler {dep.command} is now {Path(found).resolve()}, not {recorded}")
            else:
                now = _digest_or_none(Path(found).resolve(), digest)
                if now != dep.sha256:
                    reasons.append(f"compiler {dep.command} ({found}) " + _changed(now, dep.sha256))
        elif dep.kind == KIND_TOOLCHAIN:
            recorded = _file_of(dep.uri)
            if recorded is not None:
                now = _digest_or_none(recorded, digest)
                if now != dep.sha256:
                    reasons.append(f"toolchain program {recorded} " + _changed(now, dep.sha256))
    return reasons


def _digest_or_none(path: Path, digest: Callable[[Path], str]) -> str | None:
    try:
        return digest(path)
    except OSError:
        return None


def _changed(now: str | None, recorded: str) -> str:
    return "is gone" if now is None else f"changed (sha256 {recorded[:12]}... then, {now[:12]}... now)"


def _file_of(uri: str | None) -> Path | None:
    return Path(uri[len("file://") :]) if uri is not None and uri.startswith("file://") else None
