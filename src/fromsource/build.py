"""Build one sdist into a wheel and sign its SLSA provenance.

The steps follow DESIGN.md "Building one package": safe extraction, ``[build-system]``,
an isolated venv fed only with workspace wheels, PEP 517 hooks in a sandbox, then the
attestation is written before the wheel so a wheel never appears without it.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import pyproject_hooks
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from securesystemslib.signer import Signer

from fromsource import __version__, crates, toolchains
from fromsource.archives import check_wheel_record, extract_sdist
from fromsource.attest import dsse
from fromsource.attest.locate import attestation_name, attestation_of
from fromsource.attest.provenance import (
    BUILDER_ID,
    KIND_INTERPRETER,
    KIND_SDIST,
    KIND_WHEEL,
    BuildRecord,
    Dependency,
    PublisherEvidence,
    Sandbox,
)
from fromsource.attest.shape import timestamp_now
from fromsource.buildenv import BuildEnv, make_runner, scrubbed_environment
from fromsource.errors import (
    BackendRequirementsMissing,
    BuildError,
    InputError,
    MissingRequirementError,
)
from fromsource.fileutil import atomic_copy, atomic_write_bytes, sha256_file
from fromsource.native import native_dependencies
from fromsource.sandbox import BuildSandbox, SandboxMode, choose_level, not_isolated
from fromsource.untrusted import load_toml, log_tail
from fromsource.wheelstore import Selected, WheelStore, read_wheel_info
from fromsource.workspace import Workspace

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
LEGACY_REQUIRES = ("setuptools>=40.8.0",)
# Zip cannot store times before 1980; clamp so backends honouring SOURCE_DATE_EPOCH work.
_ZIP_EPOCH = 315532800

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BuildSystem:
    requires: tuple[Requirement, ...]
    backend: str
    backend_path: tuple[str, ...] | None


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
    directory); whoever signs checks the wheel again (:func:`check_built_wheel`).
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


def sdist_identity(sdist: Path) -> tuple[str, str]:
    try:
        name, version = parse_sdist_filename(sdist.name)
    except InvalidSdistFilename as exc:
        raise InputError(
            f"{sdist.name} is not an sdist file name (expected NAME-VERSION.tar.gz or .zip)"
        ) from exc
    return str(name), str(version)


def read_build_system(source_root: Path) -> BuildSystem:
    """``[build-system]`` of an unpacked sdist, with PEP 517's legacy default."""
    pyproject = source_root / "pyproject.toml"
    return parse_build_system(pyproject.read_bytes() if pyproject.is_file() else None)


def parse_build_system(pyproject: bytes | None) -> BuildSystem:
    """``[build-system]`` from ``pyproject.toml`` bytes (``None``: the sdist has none)."""
    table: dict[str, Any] = {}
    if pyproject is not None:
        try:
            text = pyproject.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BuildError(f"pyproject.toml of the sdist is not UTF-8: {exc}") from exc
        table = load_toml(text, source="pyproject.toml of the sdist", error=BuildError).get(
            "build-system", {}
        )
        if not isinstance(table, dict):
            raise BuildError("[build-system] of the sdist's pyproject.toml is not a table")
    if "build-backend" not in table:
        requires = table.get("requires", list(LEGACY_REQUIRES))
        backend, backend_path = LEGACY_BACKEND, None
    else:
        requires = table.get("requires", [])
        backend, backend_path = table["build-backend"], table.get("backend-path")
    try:
        parsed = tuple(Requirement(r) for r in requires)
    except (InvalidRequirement, TypeError) as exc:
        raise BuildError(f"invalid [build-system] requires: {exc}") from exc
    return BuildSystem(parsed, backend, tuple(backend_path) if backend_path else None)


def _source_date_epoch(root: Path) -> int:
    """Newest mtime of the unpacked sdist's regular files: derived from the input, so rebuilds
    agree. Directories are left out: those the archive does not list get the extraction time."""
    newest = max(
        (st.st_mtime for st in (p.lstat() for p in root.rglob("*")) if stat.S_ISREG(st.st_mode)),
        default=_ZIP_EPOCH,
    )
    return max(int(newest), _ZIP_EPOCH)


class _Builder:
    """One build's state; ``run`` does the steps in order."""

    def __init__(
        self,
        sdist: Path,
        workspace: Workspace,
        signer: Signer | None,
        *,
        requirement: str | None,
        sdist_uri: str | None,
        settings: BuildSettings,
        sdist_unverified: str | None = None,
        progress: Progress,
        env_wheels: Sequence[EnvWheel] | None = None,
        update_index: bool = True,
        output_dir: Path | None = None,
        sdist_annotations: Mapping[str, Any] | None = None,
    ) -> None:
        self.sdist = sdist
        self.sdist_annotations = dict(sdist_annotations or {})
        self.workspace = workspace
        self.signer = signer
        self.settings = settings
        self.progress = progress
        self.name, self.version = sdist_identity(sdist)
        self.requirement = requirement or f"{canonicalize_name(self.name)}=={self.version}"
        self.sdist_uri = sdist_uri
        self.sdist_unverified = sdist_unverified
        # Stage-1 builds (output_dir set) keep their own build directory and log.
        stage = "-stage1" if output_dir is not None else ""
        self.dir = workspace.builds / f"{canonicalize_name(self.name)}-{self.version}{stage}"
        self.output_dir = output_dir
        self._flags: dict[Path, EnvWheel] = {}
        self.log_path = self.dir / "build.log"
        self.timings: dict[str, float] = {}
        self.env_wheels = tuple(env_wheels) if env_wheels is not None else None
        self.update_index = update_index
        self._log: IO[bytes] | None = None  # the open build log while hooks run
        self.granted: tuple[toolchains.Toolchain, ...] = ()  # toolchains bound into the sandbox
        self.crates: tuple[Dependency, ...] = ()  # Rust crates vendored into the source tree
        self.source_date_epoch = _ZIP_EPOCH

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def run(self) -> BuildResult:
        if self.signer is None:
            raise AssertionError("a build that signs needs a signer")
        unsigned = self.build_unsigned()
        with self._phase("attest"):
            result = attest_build(
                unsigned,
                self.workspace,
                self.signer,
                requirement=self.requirement,
                sdist=self.sdist,
                sdist_uri=self.sdist_uri,
                output_dir=self.output_dir,
                update_index=self.update_index,
                sdist_annotations=self.sdist_annotations,
                sdist_unverified=self.sdist_unverified,
            )
        self.remove_build_dirs()
        return replace(result, timings=self.timings)

    def build_unsigned(self) -> UnsignedBuild:
        """Every step up to a checked wheel and its log; signs nothing, needs no key."""
        started, t0 = timestamp_now(), time.perf_counter()
        capability = choose_level(
            self.settings.sandbox, require_network_isolation=self.settings.require_isolation
        )
        sdist_sha = sha256_file(self.sdist)
        for sub in ("src", "env", "out", "home", "tmp", "sandbox-etc"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.progress(f"extracting {self.sdist.name}")
        with self._phase("extract"):
            root = extract_sdist(self.sdist, self.dir / "src")
        build_system = read_build_system(root)
        if "rust" in self.settings.toolchains:  # fetched here: the build has no network
            self.crates = crates.vendor(
                root, self.settings.crates_registry, self.workspace.sources / "crates"
            )
        who = f"{self.name} {self.version}"
        if self.env_wheels is not None:
            store, chosen = self._exact_environment(self.env_wheels)
        else:
            store = WheelStore.scan(self.workspace.wheels)
            chosen = store.closure(
                build_system.requires, edge="build-system", requested_by=f"{who} ([build-system] requires)"
            )
        with self._phase("environment"):
            env = BuildEnv.create(self.dir / "env")
        for sub in ("home", "tmp", "out"):
            (self.dir / sub).mkdir()
        # Taken before any hook runs: a backend cannot move it, and rebuilds agree on it.
        self.source_date_epoch = _source_date_epoch(root)
        self.granted = toolchains.find_all(self.settings.toolchains)
        environ = scrubbed_environment(
            self.dir / "home",
            self.dir / "tmp",
            self.source_date_epoch,
            scripts=Path(env.scheme["scripts"]),
            tool_paths=[t.bin for t in self.granted],
        )
        sandbox = BuildSandbox.for_build(
            capability,
            env=env.root,
            writable=[self.dir / sub for sub in ("src", "out", "home", "tmp")],
            etc_dir=self.dir / "sandbox-etc",
            granted=[t.root for t in self.granted],
        )
        installed: dict[str, Dependency] = {}
        with self.log_path.open("wb") as log:
            self._log = log
            self._install(env, chosen, installed)
            hooks = pyproject_hooks.BuildBackendHookCaller(
                str(root.absolute()),
                build_system.backend,
                backend_path=list(build_system.backend_path) if build_system.backend_path else None,
                runner=make_runner(log, sandbox=sandbox, env=environ, timeout=self.settings.hook_timeout),
                python_executable=str(env.python),
            )
            self.progress("get_requires_for_build_wheel")
            with self._phase("get_requires"):
                extra = self._hook(hooks.get_requires_for_build_wheel, "get_requires_for_build_wheel")
            try:
                extra_reqs = [Requirement(r) for r in extra]
            except InvalidRequirement as exc:
                raise BuildError(f"backend returned an invalid requirement: {exc}") from exc
            try:
                chosen = store.closure(
                    extra_reqs,
                    edge="backend",
                    chosen=chosen,
                    requested_by=f"{who} (backend get_requires_for_build_wheel)",
                )
            except MissingRequirementError as exc:
                if self.env_wheels is None:
                    raise
                raise BackendRequirementsMissing(
                    exc.message, tuple(str(r) for r in extra), hint=exc.hint
                ) from exc
            self._install(env, chosen, installed)
            self.progress("build_wheel")
            with self._phase("build_wheel"):
                wheel_name = self._hook(
                    lambda: hooks.build_wheel(str((self.dir / "out").absolute())), "build_wheel"
                )
        # The hooks have exited: nothing but this build could write out/, and the name and
        # file are checked before anything reads them (a link could point anywhere).
        built = self._output_wheel(wheel_name)
        check_built_wheel(built, self.name, self.version)
        return UnsignedBuild(
            name=self.name,
            version=self.version,
            wheel=built,
            log=self.log_path,
            sdist_sha256=sdist_sha,
            dependencies=tuple(dep for _, dep in sorted(installed.items())),
            interpreter=interpreter_dependency(),
            isolation=sandbox.level,
            sandbox=sandbox.describe(),
            source_date_epoch=self.source_date_epoch,
            started_on=started,
            finished_on=timestamp_now(),
            seconds=time.perf_counter() - t0,
            timings=self.timings,
            natives=(
                *(d for t in self.granted for d in t.dependencies()),
                *self.crates,
                *native_dependencies(built),
            ),
            backend_requires=tuple(str(r) for r in extra_reqs),
        )

    def remove_build_dirs(self) -> None:
        """Drop the venv, unpacked source and outputs of a finished build; keep its log."""
        if not self.settings.keep_build_dirs:
            for sub in ("src", "env", "out", "home", "tmp", "sandbox-etc"):
                shutil.rmtree(self.dir / sub, ignore_errors=True)

    def _output_wheel(self, wheel_name: object) -> Path:
        """The wheel ``build_wheel`` named: one path component naming a regular file of out/.

        Checked by what the name *is* (a single component, lstat'ed), not by a list of bad
        spellings; the hooks have exited, and with bwrap's PID namespace nothing of theirs
        survives to swap the file afterwards.
        """
        out = self.dir / "out"
        name = Path(wheel_name) if isinstance(wheel_name, str) and "\0" not in wheel_name else None
        # PEP 517 asks for the basename; some backends (coherent.build) return the full path
        # into the output directory, which names the same file.
        if name is not None and name.is_absolute() and name.parent == out.absolute():
            name = Path(name.name)
        if name is None or str(name) != name.name or name.name in ("", ".", ".."):
            raise BuildError(
                f"{self.name} {self.version}: build_wheel returned {wheel_name!r}, "
                "not a file name in its output directory"
            )
        built = out / name
        try:
            regular = stat.S_ISREG(built.lstat().st_mode)
        except OSError:
            regular = False
        if not regular:
            raise BuildError(
                f"{self.name} {self.version}: build_wheel named {str(name)!r}, which "
                "is not a regular file in its output directory"
            )
        return built

    def _exact_environment(self, env_wheels: tuple[EnvWheel, ...]) -> tuple[WheelStore, dict[str, Selected]]:
        """Every given wheel, digest-checked, chosen with the edge the caller assigned.

        The caller (bootstrap's planner) resolved the environment; nothing is scanned.
        """
        chosen: dict[str, Selected] = {}
        for wheel in env_wheels:
            if not wheel.path.is_file() or sha256_file(wheel.path) != wheel.sha256:
                raise BuildError(
                    f"{self.name} {self.version}: build-environment wheel {wheel.path.name} is "
                    f"missing or does not have sha256 {wheel.sha256}"
                )
            info = read_wheel_info(wheel.path)
            chosen[info.name] = Selected(info, wheel.edge)
            self._flags[wheel.path] = wheel
        return WheelStore(sel.wheel for sel in chosen.values()), chosen

    def _install(self, env: BuildEnv, chosen: dict[str, Selected], installed: dict[str, Dependency]) -> None:
        for name, sel in sorted(chosen.items()):
            if name in installed:
                continue
            # Record digests before installing: what is attested is what went in.
            flags = self._flags.get(sel.wheel.path)
            external = flags is not None and flags.external
            # An exact environment's digests were checked against the files just before.
            digest = flags.sha256 if flags is not None else sha256_file(sel.wheel.path)
            attestation = None
            if not external:
                attestation = (
                    flags.attestation_sha256
                    if flags is not None and flags.attestation_sha256
                    else self._attestation_digest(sel.wheel.path)
                )
            installed[name] = Dependency(
                name=sel.wheel.path.name,
                sha256=digest,
                kind=KIND_WHEEL,
                edge=sel.edge,
                seed=flags is not None and flags.seed,
                attestation_sha256=attestation,
                external=external,
            )
            self.progress(f"installing {sel.wheel.path.name}")
            with self._phase("install"):
                env.install(sel.wheel.path)

    def _hook(self, call: Callable[[], Any], hook: str) -> Any:
        try:
            # pyproject-hooks re-raises the backend's warnings in this process; they belong
            # in the build log, not on our stderr.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = call()
            if caught and self._log is not None:
                self._log.writelines(
                    f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n".encode() for w in caught
                )
                self._log.flush()
            return result
        except subprocess.CalledProcessError as exc:
            raise BuildError(
                f"{self.name} {self.version}: {hook} failed (exit {exc.returncode}){self._rust_note()}; "
                f"log: {self.log_path}\n{log_tail(self.log_path)}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise BuildError(f"{self.name} {self.version}: {hook} timed out; log: {self.log_path}") from exc
        except pyproject_hooks.BackendUnavailable as exc:
            raise MissingRequirementError(
                f"{self.name} {self.version}: build backend {exc.backend_name!r} cannot be "
                f"imported in the build environment; log: {self.log_path}",
                hint="its wheel must be in the workspace and named in [build-system] requires",
            ) from exc
        except pyproject_hooks.HookMissing as exc:
            raise BuildError(f"{self.name} {self.version}: backend lacks hook {exc.hook_name}") from exc

    def _rust_note(self) -> str:
        """Why a Rust build failed, when the reason is ours rather than the compiler's."""
        member = toolchains.needs_rust(self.sdist)
        if member is None:
            return ""
        if "rust" not in self.settings.toolchains:
            return (
                f"; it builds Rust code ({member}) and no rust toolchain is granted to "
                'builds: add toolchains = ["rust"] to the policy\'s [build] table'
            )
        return (
            f"; it builds Rust code ({member}): a crate it depends on must be in the "
            "build, which has no network (fromsource does not fetch crates yet)"
        )

    def _attestation_digest(self, wheel: Path) -> str:
        path = attestation_of(wheel, self.workspace.attestations)
        if not path.is_file():
            raise MissingRequirementError(
                f"{wheel.name} is in the workspace without an attestation; only wheels "
                "fromsource built may enter a build environment",
                hint=f"remove it and build its sdist with fromsource build (looked for {path})",
            )
        return sha256_file(path)


def check_built_wheel(wheel: Path, name: str, version: str) -> None:
    """The wheel is named for exactly this sdist's project and version; its RECORD holds."""
    try:
        wheel_name, wheel_version, _, _ = parse_wheel_filename(wheel.name)
    except Exception as exc:
        raise BuildError(f"backend produced {wheel.name!r}, not a valid wheel name") from exc
    if wheel_name != canonicalize_name(name) or str(wheel_version) != version:
        raise BuildError(f"backend built {wheel.name} from the sdist of {name} {version}")
    check_wheel_record(wheel)


def interpreter_dependency() -> Dependency:
    """The interpreter running this build: version and the digest of its binary."""
    return Dependency(
        name=f"python-{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}",
        sha256=sha256_file(Path(sys.executable).resolve()),
        kind=KIND_INTERPRETER,
        implementation=sys.implementation.name,
    )


def attest_build(
    unsigned: UnsignedBuild,
    workspace: Workspace,
    signer: Signer,
    *,
    requirement: str,
    sdist: Path,
    sdist_uri: str | None,
    output_dir: Path | None = None,
    update_index: bool = True,
    sdist_annotations: Mapping[str, Any] | None = None,
    sdist_unverified: str | None = None,
    builder_id: str = BUILDER_ID,
    worker: dict[str, str] | None = None,
    log_sha256: str | None = None,
) -> BuildResult:
    """Sign the provenance of an unsigned build and put wheel and attestation in place.

    The caller has checked ``unsigned.wheel`` (locally, :meth:`_Builder.build_unsigned`
    did; for a worker's build, the coordinator re-hashed and re-checked it).
    """
    built = unsigned.wheel
    wheel_sha = sha256_file(built)
    record = BuildRecord(
        wheel_name=built.name,
        wheel_sha256=wheel_sha,
        requirement=requirement,
        sdist=Dependency(
            name=sdist.name,
            sha256=unsigned.sdist_sha256,
            kind=KIND_SDIST,
            uri=sdist_uri,
            unverified=sdist_unverified or None,
            publisher_evidence=PublisherEvidence.from_annotations(sdist_annotations or {}),
        ),
        wheels=unsigned.dependencies,
        interpreter=unsigned.interpreter,
        isolation=unsigned.isolation,
        sandbox=unsigned.sandbox,
        source_date_epoch=unsigned.source_date_epoch,
        natives=unsigned.natives,
        builder_version=__version__,
        invocation_id=str(uuid.uuid4()),
        started_on=unsigned.started_on,
        finished_on=unsigned.finished_on,
        log_sha256=log_sha256 or sha256_file(unsigned.log),
        builder_id=builder_id,
        worker=worker,
    )
    envelope = dsse.sign(record.statement(), signer)
    if output_dir is not None:  # stage 1: wheel with a sidecar, outside wheels/
        attestation = output_dir / attestation_name(built.name)
        wheel_dest = output_dir / built.name
    else:
        attestation = workspace.attestation_for(built.name)
        wheel_dest = workspace.wheels / built.name
    # Attestation first, wheel second: a reader never finds a wheel without provenance.
    atomic_write_bytes(attestation, envelope)
    atomic_copy(built, wheel_dest)
    source_copy = workspace.sources / sdist.name
    if not source_copy.exists():
        atomic_copy(sdist, source_copy)
    if update_index and output_dir is None:  # bootstrap's planner does it once
        workspace.update_simple_index()
    return BuildResult(
        name=unsigned.name,
        version=unsigned.version,
        wheel=wheel_dest,
        wheel_sha256=wheel_sha,
        attestation=attestation,
        isolation=unsigned.isolation,
        dependencies=unsigned.dependencies,
        log=unsigned.log,
        seconds=unsigned.seconds,
        timings=unsigned.timings,
        backend_requires=unsigned.backend_requires,
        not_isolated=not_isolated(unsigned.isolation),
    )


def build_sdist(
    sdist: Path,
    workspace: Workspace,
    signer: Signer,
    *,
    requirement: str | None = None,
    sdist_uri: str | None = None,
    sdist_unverified: str | None = None,
    settings: BuildSettings | None = None,
    progress: Progress | None = None,
    env_wheels: Sequence[EnvWheel] | None = None,
    update_index: bool = True,
    output_dir: Path | None = None,
    sdist_annotations: Mapping[str, Any] | None = None,
) -> BuildResult:
    """Build ``sdist`` into a wheel in ``workspace`` and write its signed attestation.

    By default the build environment is picked from the workspace's wheels. With
    ``env_wheels`` it is exactly those wheels (digests checked), which makes the build a
    function of its declared inputs; if the backend then asks for more than they provide,
    :class:`~fromsource.errors.BackendRequirementsMissing` says what it asked for.
    With ``output_dir`` (stage 1 of a seeded cycle) the wheel and its attestation, as a
    sidecar, go there instead of wheels/ and attestations/. ``sdist_unverified`` (why
    nothing vouched for a fetched sdist's bytes) is recorded on the sdist dependency.
    """
    if not sdist.is_file():
        raise InputError(f"sdist {sdist} does not exist or is not a file")
    workspace.create()
    builder = _Builder(
        sdist,
        workspace,
        signer,
        requirement=requirement,
        sdist_uri=sdist_uri,
        sdist_unverified=sdist_unverified,
        settings=settings or BuildSettings(),
        progress=progress or (lambda _m: None),
        env_wheels=env_wheels,
        update_index=update_index,
        output_dir=output_dir,
        sdist_annotations=sdist_annotations,
    )
    return builder.run()


def build_unsigned(
    sdist: Path,
    workspace: Workspace,
    *,
    env_wheels: Sequence[EnvWheel],
    requirement: str | None = None,
    settings: BuildSettings | None = None,
    stage1: bool = False,
) -> tuple[UnsignedBuild, Callable[[], None]]:
    """The build step alone, as a worker without a key runs it: exact environment in,
    checked wheel and log out (in ``workspace``'s build directory), nothing signed.

    Returns the build and a function that removes its build directories (the log stays;
    :attr:`BuildSettings.keep_build_dirs` keeps them), to call once the outputs are stored.
    """
    if not sdist.is_file():
        raise InputError(f"sdist {sdist} does not exist or is not a file")
    workspace.create()
    builder = _Builder(
        sdist,
        workspace,
        None,
        requirement=requirement,
        sdist_uri=None,
        settings=settings or BuildSettings(),
        progress=lambda _m: None,
        env_wheels=env_wheels,
        update_index=False,
        output_dir=workspace.stage1 if stage1 else None,
    )
    return builder.build_unsigned(), builder.remove_build_dirs
