"""The PEP 517 hooks of one unpacked sdist, each call inside the build sandbox.

pyproject-hooks calls them through our runner (:func:`fromsource.buildenv.make_runner`:
bubblewrap, the scrubbed environment, output appended to the build log). This module turns
what goes wrong in a hook into a :class:`~fromsource.errors.BuildError` that names the hook
and ends with the log's tail, and keeps the backend's warnings in the log, not on our stderr.
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pyproject_hooks
from packaging.requirements import InvalidRequirement, Requirement

from fromsource import toolchains
from fromsource.build.build_system import BuildSystem
from fromsource.buildenv import make_runner
from fromsource.errors import BuildError, MissingRequirementError
from fromsource.sandbox import BuildSandbox
from fromsource.untrusted import log_tail


class BackendHooks:
    """``get_requires_for_build_wheel`` and ``build_wheel`` of one build, as it runs them."""

    def __init__(
        self,
        source: Path,
        build_system: BuildSystem,
        *,
        python: Path,
        sandbox: BuildSandbox,
        environ: Mapping[str, str],
        log: IO[bytes],
        log_path: Path,
        timeout: float | None,
        who: str,
        failure_note: Callable[[], str] = lambda: "",
    ) -> None:
        """``who``: "name version" for the messages; ``failure_note``: why a failed hook
        failed, when the reason may be ours (asked only after a failure)."""
        self._log = log
        self._log_path = log_path
        self._who = who
        self._failure_note = failure_note
        self._caller = pyproject_hooks.BuildBackendHookCaller(
            str(source.absolute()),
            build_system.backend,
            backend_path=list(build_system.backend_path) if build_system.backend_path else None,
            runner=make_runner(log, sandbox=sandbox, env=environ, timeout=timeout),
            python_executable=str(python),
        )

    def get_requires_for_build_wheel(self) -> list[Requirement]:
        extra = self._call(self._caller.get_requires_for_build_wheel, "get_requires_for_build_wheel")
        try:
            return [Requirement(r) for r in extra]
        except InvalidRequirement as exc:
            raise BuildError(f"backend returned an invalid requirement: {exc}") from exc

    def build_wheel(self, out: Path) -> object:
        """What the backend returned: a name to check (:mod:`fromsource.build.output`)."""
        return self._call(lambda: self._caller.build_wheel(str(out.absolute())), "build_wheel")

    def _call(self, call: Callable[[], Any], hook: str) -> Any:
        who, log = self._who, self._log_path
        try:
            # pyproject-hooks re-raises the backend's warnings in this process; they belong
            # in the build log, not on our stderr.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = call()
            if caught:
                self._log.writelines(
                    f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n".encode() for w in caught
                )
                self._log.flush()
            return result
        except subprocess.CalledProcessError as exc:
            raise BuildError(
                f"{who}: {hook} failed (exit {exc.returncode}){self._failure_note()}; "
                f"log: {log}\n{log_tail(log)}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise BuildError(f"{who}: {hook} timed out; log: {log}") from exc
        except pyproject_hooks.BackendUnavailable as exc:
            raise MissingRequirementError(
                f"{who}: build backend {exc.backend_name!r} cannot be "
                f"imported in the build environment; log: {log}",
                hint="its wheel must be in the workspace and named in [build-system] requires",
            ) from exc
        except pyproject_hooks.HookMissing as exc:
            raise BuildError(f"{who}: backend lacks hook {exc.hook_name}") from exc


def rust_note(sdist: Path, granted: Sequence[str]) -> str:
    """Why a Rust build failed, when the reason is ours rather than the compiler's."""
    member = toolchains.needs_rust(sdist)
    if member is None:
        return ""
    if "rust" not in granted:
        return (
            f"; it builds Rust code ({member}) and no rust toolchain is granted to "
            'builds: add toolchains = ["rust"] to the policy\'s [build] table'
        )
    return (
        f"; it builds Rust code ({member}): a crate it depends on must be in the "
        "build, which has no network (fromsource does not fetch crates yet)"
    )
