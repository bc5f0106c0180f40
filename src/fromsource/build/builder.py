"""The build step of one sdist: extraction, environment, hooks, a checked wheel and its log.

The steps follow DESIGN.md "Building one package": safe extraction, ``[build-system]``
(:mod:`~fromsource.build.build_system`), an isolated venv fed only with workspace wheels
(:mod:`~fromsource.build.environment`), PEP 517 hooks in a sandbox
(:mod:`~fromsource.build.hooks`), the wheel checked (:mod:`~fromsource.build.output`), then
signed (:mod:`~fromsource.build.signing`), attestation before wheel.
"""

from __future__ import annotations

import shutil
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from securesystemslib.signer import Signer

from fromsource import crates, toolchains
from fromsource.archives import extract_sdist
from fromsource.attest.provenance import Dependency
from fromsource.attest.shape import timestamp_now
from fromsource.build.build_system import read_build_system
from fromsource.build.environment import EnvironmentWheels, interpreter_dependency
from fromsource.build.hooks import BackendHooks, rust_note
from fromsource.build.model import BuildResult, BuildSettings, EnvWheel, Progress, UnsignedBuild
from fromsource.build.output import check_built_wheel, output_wheel
from fromsource.build.signing import attest_build
from fromsource.buildenv import BuildEnv, scrubbed_environment
from fromsource.errors import InputError
from fromsource.fileutil import sha256_file
from fromsource.native import native_dependencies
from fromsource.sandbox import BuildSandbox, choose_level
from fromsource.workspace import Workspace

# Zip cannot store times before 1980; clamp so backends honouring SOURCE_DATE_EPOCH work.
_ZIP_EPOCH = 315532800
_WORK_DIRS = ("src", "env", "out", "home", "tmp", "sandbox-etc")


def sdist_identity(sdist: Path) -> tuple[str, str]:
    try:
        name, version = parse_sdist_filename(sdist.name)
    except InvalidSdistFilename as exc:
        raise InputError(
            f"{sdist.name} is not an sdist file name (expected NAME-VERSION.tar.gz or .zip)"
        ) from exc
    return str(name), str(version)


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
        self.who = f"{self.name} {self.version}"
        self.requirement = requirement or f"{canonicalize_name(self.name)}=={self.version}"
        self.sdist_uri = sdist_uri
        self.sdist_unverified = sdist_unverified
        # Stage-1 builds (output_dir set) keep their own build directory and log.
        stage = "-stage1" if output_dir is not None else ""
        self.dir = workspace.builds / f"{canonicalize_name(self.name)}-{self.version}{stage}"
        self.output_dir = output_dir
        self.log_path = self.dir / "build.log"
        self.timings: dict[str, float] = {}
        self.env_wheels = tuple(env_wheels) if env_wheels is not None else None
        self.update_index = update_index
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
        for sub in _WORK_DIRS:
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
        wheels = EnvironmentWheels(
            self.workspace.wheels, self.workspace.attestations, self.env_wheels, self.who
        )
        wheels.choose_build_system(build_system.requires)
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
        with self.log_path.open("wb") as log:
            self._install(env, wheels)
            hooks = BackendHooks(
                root,
                build_system,
                python=env.python,
                sandbox=sandbox,
                environ=environ,
                log=log,
                log_path=self.log_path,
                timeout=self.settings.hook_timeout,
                who=self.who,
                failure_note=lambda: rust_note(self.sdist, self.settings.toolchains),
            )
            self.progress("get_requires_for_build_wheel")
            with self._phase("get_requires"):
                extra_reqs = hooks.get_requires_for_build_wheel()
            wheels.choose_backend(extra_reqs)
            self._install(env, wheels)
            self.progress("build_wheel")
            with self._phase("build_wheel"):
                wheel_name = hooks.build_wheel(self.dir / "out")
        # The hooks have exited: nothing but this build could write out/, and the name and
        # file are checked before anything reads them (a link could point anywhere).
        built = output_wheel(self.dir / "out", wheel_name, self.who)
        check_built_wheel(built, self.name, self.version)
        return UnsignedBuild(
            name=self.name,
            version=self.version,
            wheel=built,
            log=self.log_path,
            sdist_sha256=sdist_sha,
            dependencies=wheels.dependencies(),
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
            for sub in _WORK_DIRS:
                shutil.rmtree(self.dir / sub, ignore_errors=True)

    def _install(self, env: BuildEnv, wheels: EnvironmentWheels) -> None:
        for name, sel in wheels.pending():
            wheels.record(name, sel)  # before installing: what is attested is what went in
            self.progress(f"installing {sel.wheel.path.name}")
            with self._phase("install"):
                env.install(sel.wheel.path)


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
    _prepare(sdist, workspace)
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
    _prepare(sdist, workspace)
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


def _prepare(sdist: Path, workspace: Workspace) -> None:
    if not sdist.is_file():
        raise InputError(f"sdist {sdist} does not exist or is not a file")
    workspace.create()
