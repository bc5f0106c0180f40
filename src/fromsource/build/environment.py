"""What one build environment is made of, as the provenance records it.

The wheels are either exactly those the caller names (bootstrap's planner resolved them;
each digest is checked here) or the install closure picked from the workspace's wheels
(:class:`fromsource.wheelstore.WheelStore`). Each wheel is recorded before it is installed,
so what is attested is what went in. The interpreter is recorded by its binary's digest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import Requirement

from fromsource.attest.locate import attestation_of
from fromsource.attest.provenance import KIND_INTERPRETER, KIND_WHEEL, Dependency
from fromsource.build.model import EnvWheel
from fromsource.errors import BackendRequirementsMissing, BuildError, MissingRequirementError
from fromsource.fileutil import sha256_file
from fromsource.wheelstore import Selected, WheelStore, read_wheel_info


class EnvironmentWheels:
    """The wheels chosen for one build and the record of those installed so far."""

    def __init__(self, wheels: Path, attestations: Path, given: Sequence[EnvWheel] | None, who: str) -> None:
        """``wheels``/``attestations``: the workspace's; ``given``: the exact environment, or
        None to pick from ``wheels``; ``who``: "name version", for the messages."""
        self._attestations = attestations
        self._who = who
        self._exact = given is not None
        self._given: dict[Path, EnvWheel] = {}
        self.chosen: dict[str, Selected] = {}
        self.installed: dict[str, Dependency] = {}
        if given is None:
            self._store = WheelStore.scan(wheels)
            return
        # Every given wheel, digest-checked, chosen with the edge the caller assigned;
        # the caller resolved the environment, so nothing is scanned.
        for wheel in given:
            if not wheel.path.is_file() or sha256_file(wheel.path) != wheel.sha256:
                raise BuildError(
                    f"{who}: build-environment wheel {wheel.path.name} is "
                    f"missing or does not have sha256 {wheel.sha256}"
                )
            info = read_wheel_info(wheel.path)
            self.chosen[info.name] = Selected(info, wheel.edge)
            self._given[wheel.path] = wheel
        self._store = WheelStore(sel.wheel for sel in self.chosen.values())

    def choose_build_system(self, requires: Iterable[Requirement]) -> None:
        """The closure of ``[build-system]`` requires (an exact environment has it all)."""
        if not self._exact:
            self.chosen = self._store.closure(
                requires, edge="build-system", requested_by=f"{self._who} ([build-system] requires)"
            )

    def choose_backend(self, requires: Sequence[Requirement]) -> None:
        """Add what ``get_requires_for_build_wheel`` asked for, and its closure."""
        try:
            self.chosen = self._store.closure(
                requires,
                edge="backend",
                chosen=self.chosen,
                requested_by=f"{self._who} (backend get_requires_for_build_wheel)",
            )
        except MissingRequirementError as exc:
            if not self._exact:
                raise
            raise BackendRequirementsMissing(
                exc.message, tuple(str(r) for r in requires), hint=exc.hint
            ) from exc

    def pending(self) -> list[tuple[str, Selected]]:
        """Chosen and not yet installed, by name."""
        return [(name, sel) for name, sel in sorted(self.chosen.items()) if name not in self.installed]

    def record(self, name: str, sel: Selected) -> Dependency:
        """Record ``sel`` as installed; call it before installing the wheel."""
        given = self._given.get(sel.wheel.path)
        external = given is not None and given.external
        # An exact environment's digests were checked against the files just before.
        digest = given.sha256 if given is not None else sha256_file(sel.wheel.path)
        attestation = None
        if not external:
            attestation = (
                given.attestation_sha256
                if given is not None and given.attestation_sha256
                else self._attestation_digest(sel.wheel.path)
            )
        dependency = self.installed[name] = Dependency(
            name=sel.wheel.path.name,
            sha256=digest,
            kind=KIND_WHEEL,
            edge=sel.edge,
            seed=given is not None and given.seed,
            attestation_sha256=attestation,
            external=external,
        )
        return dependency

    def dependencies(self) -> tuple[Dependency, ...]:
        """The installed wheels as the provenance lists them (by name)."""
        return tuple(dep for _, dep in sorted(self.installed.items()))

    def _attestation_digest(self, wheel: Path) -> str:
        path = attestation_of(wheel, self._attestations)
        if not path.is_file():
            raise MissingRequirementError(
                f"{wheel.name} is in the workspace without an attestation; only wheels "
                "fromsource built may enter a build environment",
                hint=f"remove it and build its sdist with fromsource build (looked for {path})",
            )
        return sha256_file(path)


def interpreter_dependency() -> Dependency:
    """The interpreter running this build: version and the digest of its binary."""
    return Dependency(
        name=f"python-{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}",
        sha256=sha256_file(Path(sys.executable).resolve()),
        kind=KIND_INTERPRETER,
        implementation=sys.implementation.name,
    )
