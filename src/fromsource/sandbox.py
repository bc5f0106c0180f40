"""The filesystem sandbox around every PEP 517 hook call: bubblewrap, or a named fallback.

A hook runs backend code from an sdist, which is attacker-controlled. Under bubblewrap it
sees a root made of read-only system directories, the interpreter's prefix and its build
environment (read-only), and its own source, output, home and temporary directories
(read-write); nothing else exists for it: not the workspace's keys, wheels, sources or
attestations, not other builds, not the user's home, not the host's /tmp. It runs in new
user, network, PID, IPC and UTS namespaces with no capabilities, and dies with its parent.

Levels, recorded in provenance as ``internalParameters.isolation``:

- ``bwrap``: the above (``internalParameters.sandbox`` lists the roots);
- ``unshare-net``: network cut only, the filesystem is the host's;
- ``none``: neither.

Which level a build gets is chosen by :func:`choose_level` from the requested mode; the
tool is never replaced by a weaker one silently (a warning says what is not isolated).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fromsource.attest.provenance import (
    ISOLATION_BWRAP,
    ISOLATION_NET,
    ISOLATION_NONE,
    NAMESPACES,
    Sandbox,
)
from fromsource.errors import SandboxUnavailable

SandboxMode = Literal["auto", "required", "off"]
SANDBOX_MODES: tuple[SandboxMode, ...] = ("auto", "required", "off")

# Namespaces bwrap creates for each hook (--unshare-all; cgroup where the kernel has it).

# System directories a compiler toolchain needs, bound read-only (symlinks, as on
# merged-/usr systems, are recreated as symlinks). /usr holds gcc, headers and pkg-config data.
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The few files of /etc that dynamic linking, compilers and locale need. Not /etc as a whole:
# it holds /etc/shadow, ssh host keys and credentials of system services.
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/protocols",
    "/etc/services",
    "/etc/os-release",
    "/etc/debian_version",
    "/etc/fedora-release",
    "/etc/redhat-release",
)
HOSTNAME = "fromsource-build"

_NOT_ISOLATED = {
    ISOLATION_NET: "the filesystem (the build can read the user's files and the workspace)",
    ISOLATION_NONE: "the network and the filesystem",
}


@dataclass(frozen=True, slots=True)
class Capability:
    """What this machine offers: the level a build would get and why not better."""

    level: str
    bwrap: str | None  # path of bwrap when it works
    bwrap_version: str | None
    reason: str  # why bwrap is not used; empty when it is


@functools.cache
def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        result = subprocess.run(
            ["unshare", "--net", "--map-root-user", "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _fallback() -> str:
    """The level without bwrap; only probed when bwrap is not used (one process less each run)."""
    return ISOLATION_NET if _unshare_works() else ISOLATION_NONE


@functools.cache
def probe() -> Capability:
    """Try bwrap with the exact namespaces builds use; fall back to ``unshare --net``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Capability(_fallback(), None, None, "bubblewrap (bwrap) is not installed")
    try:
        version = (
            subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10, check=False)
            .stdout.strip()
            .removeprefix("bubblewrap ")
        )
        trial = subprocess.run(
            [bwrap, *_namespace_args(), *_system_args(), "--", "true"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Capability(_fallback(), None, None, f"bwrap does not run: {exc}")
    if trial.returncode != 0:
        detail = trial.stderr.strip().splitlines()[-1:] or [f"exit {trial.returncode}"]
        return Capability(
            _fallback(), None, None, f"bwrap is installed but cannot create namespaces here: {detail[0]}"
        )
    return Capability(ISOLATION_BWRAP, bwrap, version or "unknown", "")


def choose_level(mode: SandboxMode, *, require_network_isolation: bool = False) -> Capability:
    """The capability a build runs with under ``mode``, or :class:`SandboxUnavailable`.

    ``auto`` uses bwrap where it is installed; installed but broken is an error (a machine
    that has the sandbox must not quietly build without it), missing falls back with a
    warning. ``required`` refuses to build without it. ``off`` cuts the network only.
    """
    found = probe()
    if mode == "off":
        found = Capability(
            ISOLATION_NET if _unshare_works() else ISOLATION_NONE,
            None,
            None,
            "the filesystem sandbox is turned off (--sandbox off)",
        )
    elif found.level != ISOLATION_BWRAP and (mode == "required" or shutil.which("bwrap")):
        raise SandboxUnavailable(
            f"the build sandbox is required but unavailable: {found.reason}",
            hint=install_hint(),
        )
    if require_network_isolation and found.level == ISOLATION_NONE:
        raise SandboxUnavailable(
            "network isolation is required but unavailable on this machine",
            hint="allow unprivileged user namespaces (unshare --net --map-root-user)",
        )
    return found


def diagnose() -> dict[str, Any]:
    """What ``fromsource doctor`` reports: the level builds get here and why, and the view."""
    found = probe()
    system = list(_system_paths())
    return {
        "level": found.level,
        "bwrap": {
            "path": found.bwrap or shutil.which("bwrap"),
            "version": found.bwrap_version,
            "works": found.level == ISOLATION_BWRAP,
            "reason": found.reason,
        },
        "network_isolation": found.level != ISOLATION_NONE,
        "not_isolated_from": not_isolated(found.level),
        "read_only": [*system, *interpreter_roots(), "<build environment>"],
        "hidden": list(hidden_site_packages()),
        "read_write": ["<build>/src", "<build>/out", "<build>/home", "<build>/tmp"],
        "namespaces": list(NAMESPACES),
        "hint": "" if found.level == ISOLATION_BWRAP else install_hint(),
    }


def not_isolated(level: str) -> str:
    """What a build at ``level`` is not isolated from; empty for bwrap."""
    return _NOT_ISOLATED.get(level, "")


def install_hint() -> str:
    return (
        "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
        "bubblewrap) and allow user namespaces; fromsource doctor says what is missing"
    )


def _namespace_args() -> list[str]:
    return [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        HOSTNAME,
    ]


def _bind(flag: str, path: str) -> list[str]:
    """Bind ``path`` at the same place; a symlink is recreated instead of followed."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    return [flag, path, path]


@functools.cache
def _system_paths() -> tuple[str, ...]:
    """The system directories and /etc files this host has, bound read-only into builds."""
    return tuple(p for p in (*_SYSTEM_DIRS, *_ETC_FILES) if os.path.lexists(p))


def _system_args() -> list[str]:
    args: list[str] = []
    for path in _system_paths():
        args += _bind("--ro-bind", path)
    # Fresh, empty /tmp and /var/tmp inside the sandbox: never the host's.
    return [*args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]  # noqa: S108


def interpreter_roots() -> tuple[str, ...]:
    """The running interpreter's installation, which a build venv's python links to."""
    # Both spellings of the prefix: the venv's python links to the unresolved one.
    roots = {os.path.abspath(sys.base_prefix), os.path.realpath(sys.base_prefix)}
    # A symlinked python binary may live outside its prefix.
    for exe in (getattr(sys, "_base_executable", sys.executable), sys.executable):
        real = os.path.realpath(exe)
        if not any(real.startswith(root + os.sep) for root in roots):
            roots.add(os.path.dirname(real))
    return tuple(sorted(roots))


@functools.cache
def hidden_site_packages() -> tuple[str, ...]:
    """The base interpreter's own site-packages: a build venv never imports from it, and
    what the user installed there (with any keys or test credentials it ships) stays out of
    sight behind an empty read-only tmpfs."""
    base = {"base": sys.base_prefix, "platbase": sys.base_prefix}
    paths = {sysconfig.get_path(kind, vars=base) for kind in ("purelib", "platlib")}
    return tuple(sorted(p for p in paths if p and os.path.isdir(p)))


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildSandbox:
    """How one build's hooks are confined: the level and, for bwrap, the visible roots."""

    level: str
    read_only: tuple[str, ...] = ()
    read_write: tuple[str, ...] = ()
    bwrap: str | None = None
    version: str | None = None
    etc_dir: str | None = None  # this build's generated passwd, group and hosts

    @classmethod
    def for_build(
        cls,
        capability: Capability,
        *,
        env: Path,
        writable: Sequence[Path],
        etc_dir: Path,
        granted: Sequence[str] = (),
    ) -> BuildSandbox:
        """``granted``: read-only roots of toolchains the policy grants (fromsource.toolchains)."""
        if capability.level != ISOLATION_BWRAP:
            return cls(level=capability.level)
        _write_etc(etc_dir)
        extra = tuple(p for p in granted if not p.startswith(("/usr/", "/bin/", "/lib")))
        read_only = (*interpreter_roots(), str(env.absolute()), *extra)
        return cls(
            level=capability.level,
            read_only=read_only,
            read_write=tuple(str(p.absolute()) for p in writable),
            bwrap=capability.bwrap,
            version=capability.bwrap_version,
            etc_dir=str(etc_dir.absolute()),
        )

    def describe(self) -> Sandbox | None:
        """``internalParameters.sandbox``: exactly what the build could see and write.

        Each path once (an interpreter under /usr is already in /usr's entry): the reader
        refuses a list that names one path twice.
        """
        if self.level != ISOLATION_BWRAP:
            return None
        read_only = (*_system_paths(), "/etc/passwd", "/etc/group", "/etc/hosts", *self.read_only)
        read_write = (*self.read_write, "(hook control directory of pyproject-hooks)")
        return Sandbox(
            tool="bwrap",
            version=self.version or "unknown",
            read_only=tuple(dict.fromkeys(read_only)),
            read_write=tuple(dict.fromkeys(read_write)),
            namespaces=NAMESPACES,
        )

    def command(self, cmd: Sequence[str], cwd: str | None) -> list[str]:
        """``cmd`` (pyproject-hooks' ``[python, script, hook, control_dir]``) confined."""
        if self.level == ISOLATION_NONE:
            return [*_die_with_parent(), *cmd]
        if self.level == ISOLATION_NET:
            return [*_unshare_prefix(), *cmd]
        if self.bwrap is None or self.etc_dir is None:
            raise SandboxUnavailable("a bwrap sandbox needs BuildSandbox.for_build")
        args = [self.bwrap, *_namespace_args(), *_system_args()]
        for name in ("passwd", "group", "hosts"):
            args += ["--ro-bind", f"{self.etc_dir}/{name}", f"/etc/{name}"]
        for path in self.read_only:
            args += ["--ro-bind", path, path]
        hidden = hidden_site_packages()
        for path in hidden:
            args += ["--tmpfs", path]
        for path in self.read_write:
            args += ["--bind", path, path]
        # pyproject-hooks passes its in-process script and a per-call control directory. The
        # script may live in a hidden site-packages (fromsource installed into the base
        # interpreter): its mount point is made in the tmpfs, which turns read-only after.
        if len(cmd) >= 4 and os.path.isfile(cmd[1]) and os.path.isdir(cmd[3]):
            args += ["--ro-bind", cmd[1], cmd[1], "--bind", cmd[3], cmd[3]]
        for path in hidden:
            args += ["--remount-ro", path]
        if cwd is not None:
            args += ["--chdir", cwd]
        return [*args, "--", *cmd]


def _write_etc(etc_dir: Path) -> None:
    """Identity files for the sandbox: the build's own user, no names from the host."""
    etc_dir.mkdir(parents=True, exist_ok=True)
    uid, gid = os.getuid(), os.getgid()
    (etc_dir / "passwd").write_text(f"build:x:{uid}:{gid}:build:/nonexistent:/bin/sh\n")
    (etc_dir / "group").write_text(f"build:x:{gid}:\n")
    (etc_dir / "hosts").write_text(f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n")


@functools.cache
def _die_with_parent() -> tuple[str, ...]:
    """``setpriv --pdeathsig KILL`` where available: a hook never outlives its builder.

    Bootstrap's resume story relies on it: when a run is killed, no orphaned backend keeps
    writing into the build directory the next run reuses.
    """
    return ("setpriv", "--pdeathsig", "KILL") if shutil.which("setpriv") else ()


def _unshare_prefix() -> list[str]:
    # `ip link set lo up` is best effort: without iproute2 the build still runs, offline.
    # --kill-child passes the parent-death signal on to the sandboxed hook process.
    script = 'ip link set lo up 2>/dev/null; exec "$@"'
    unshare = ["unshare", "--net", "--map-root-user"]
    if _die_with_parent():
        unshare = [*_die_with_parent(), "unshare", "--kill-child", "--net", "--map-root-user"]
    return [*unshare, "sh", "-c", script, "sh"]


def run_confined(
    sandbox: BuildSandbox,
    cmd: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    stdout: Any,
    timeout: float | None,
) -> None:
    """Run one hook command confined; ``CalledProcessError`` on a non-zero exit."""
    subprocess.run(
        sandbox.command(cmd, cwd),
        cwd=cwd,
        env=dict(env),
        stdout=stdout,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=timeout,
    )
