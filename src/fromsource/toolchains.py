"""Toolchains a policy grants to builds by name (``[build].toolchains = ["rust"]``).

A granted toolchain's root is bound read-only into the sandbox and its ``bin`` put on the
build's ``PATH``; each of its programs is recorded in the provenance (kind ``toolchain``)
with its version and digest. Without the grant nothing of it is visible, and a build that
needs it fails with a message saying so rather than the compiler's or rustup's.

``rust``: the sysroot ``rustc --print sysroot`` names (a rustup toolchain directory, or the
system prefix for distribution packages), whose ``bin`` holds the real ``rustc`` and
``cargo``, so rustup's proxies and homes are not needed inside. ``CARGO_HOME`` stays inside
the build's own home.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fromsource.archives import iter_members
from fromsource.attest.provenance import KIND_TOOLCHAIN, Dependency
from fromsource.errors import BuildError, FromsourceError
from fromsource.fileutil import sha256_file

KNOWN = ("rust",)
_PROGRAMS = {"rust": ("rustc", "cargo")}
_TIMEOUT = 60.0


class ToolchainError(BuildError):
    """A toolchain the policy grants is not installed, or one a build needs is not granted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    name: str
    version: str
    path: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Toolchain:
    name: str
    root: str  # bound read-only (unless under /usr, which is always visible)
    bin: str  # put first on PATH
    programs: tuple[Program, ...]

    def dependencies(self) -> tuple[Dependency, ...]:
        return tuple(
            Dependency(
                name=f"{p.name}-{p.version.split()[1] if len(p.version.split()) > 1 else p.version}",
                sha256=p.sha256,
                kind=KIND_TOOLCHAIN,
                uri=f"file://{p.path}",
                toolchain=self.name,
                program=p.name,
                version=p.version,
            )
            for p in self.programs
        )


def _output(argv: list[str]) -> str:
    env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
    for key in ("HOME", "RUSTUP_HOME", "CARGO_HOME", "RUSTUP_TOOLCHAIN"):
        if key in os.environ:
            env[key] = os.environ[key]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"cannot run {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise ToolchainError(f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout.strip()


def find(name: str) -> Toolchain:
    """The installed toolchain called ``name`` (one of :data:`KNOWN`)."""
    if name not in _PROGRAMS:
        raise ToolchainError(f"unknown toolchain {name!r} (known: {', '.join(KNOWN)})")
    sysroot = Path(_output(["rustc", "--print", "sysroot"]))
    bin_dir = sysroot / "bin"
    programs = []
    for program in _PROGRAMS[name]:
        path = bin_dir / program
        if not path.is_file():
            raise ToolchainError(f"the {name} toolchain at {sysroot} has no {program}")
        real = path.resolve()
        programs.append(
            Program(
                name=program,
                version=_output([str(path), "--version"]),
                path=str(real),
                sha256=sha256_file(real),
            )
        )
    return Toolchain(name=name, root=str(sysroot), bin=str(bin_dir), programs=tuple(programs))


def find_all(names: tuple[str, ...]) -> tuple[Toolchain, ...]:
    return tuple(find(n) for n in names)


def needs_rust(sdist: Path) -> str | None:
    """The sdist member that shows the build compiles Rust (a ``Cargo.toml``), if any."""
    try:
        for member in iter_members(sdist):
            if member.name.rsplit("/", 1)[-1] == "Cargo.toml":
                return member.name
    except FromsourceError:
        return None
    return None
