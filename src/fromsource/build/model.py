"""What a build is asked for and what it hands back: settings, environment wheels, results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fromsource.attest.provenance import Dependency, Sandbox
from fromsource.sandbox import SandboxMode

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BuildSettings:
    require_isolation: bool = False  # refuse to build with the network reachable
    sandbox: SandboxMode = "auto"  # the filesystem sandbox: see fromsource.sandbox
    toolchains: tuple[str, ...] = ()  # granted by the policy: see fromsource.toolchains
    crates_registry: str | None = None  # where Rust crates come from: see fromsource.crates
    hook_timeout: float | None = 3600.0
    # After a successful build, remove the venv and unpacked source (the log stays).
    keep_build_dirs: bool = False


@dataclass(frozen=True, slots=True)
class EnvWheel:
    """One exact wheel for a build environment, named by path and expected digest."""

    path: Path
    sha256: str
    edge: str  # build-system | backend | install
    seed: bool = False  # a seed standing in for a from-source build inside its cycle
    external: bool = False  # a pre-built wheel the policy names by digest; no provenance
    # sha256 of its attestation, when the caller knows it (a worker holds no attestations).
    attestation_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class BuildResult:
    name: str
    version: str
    wheel: Path
    wheel_sha256: str
    attestation: Path
    isolation: str
    dependencies: tuple[Dependency, ...]
    log: Path
    seconds: float
    # Wall seconds per phase: extract, environment, install, get_requires, build_wheel, attest.
    timings: dict[str, float]
    # What get_requires_for_build_wheel returned (the backend edges of the build graph).
    backend_requires: tuple[str, ...] = ()
    # What the build was not isolated from (empty under bwrap): the CLI warns with it.
    not_isolated: str = ""


@dataclass(frozen=True, slots=True)
class UnsignedBuild:
    """What the build step produced, before anything is signed: all a worker hands back.

    ``wheel`` and ``log`` are paths where the step left them (``out/`` of its build
    directory); whoever signs checks the wheel again
    (:func:`fromsource.build.output.check_built_wheel`).
    """

    name: str
    version: str
    wheel: Path
    log: Path
    sdist_sha256: str
    dependencies: tuple[Dependency, ...]  # the wheels installed, as recorded
    interpreter: Dependency
    isolation: str
    sandbox: Sandbox | None  # internalParameters.sandbox (bwrap's description)
    source_date_epoch: int
    started_on: str
    finished_on: str
    seconds: float
    timings: dict[str, float]
    natives: tuple[Dependency, ...] = ()  # toolchains, crates, system libraries it used
    backend_requires: tuple[str, ...] = ()
