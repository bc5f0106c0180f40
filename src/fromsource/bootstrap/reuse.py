"""The shortcuts a re-run takes instead of a build: reusing a wheel attested for exactly the
same inputs (:func:`~fromsource.bootstrap.incremental.find_reusable`), and reporting a failure
remembered for exactly the same inputs (:mod:`fromsource.failures`) unless ``--retry-failed``."""

from __future__ import annotations

from securesystemslib.signer import Key

from fromsource.attest.locate import attestation_of
from fromsource.attest.shape import timestamp_now
from fromsource.bootstrap.executor import BuildOutcome
from fromsource.bootstrap.incremental import Fingerprint, Reusable, WheelListing, find_reusable
from fromsource.bootstrap.state import PackageState, RunContext
from fromsource.build import BuildSettings, EnvWheel
from fromsource.failures import Failure, FailureMemory, failure_key, system_state
from fromsource.untrusted import log_tail


class Shortcuts:
    def __init__(
        self,
        ctx: RunContext,
        *,
        settings: BuildSettings,
        fingerprint: Fingerprint,
        keys: list[Key],
        retry_failed: bool,
    ) -> None:
        self.ctx = ctx
        self.settings = settings
        self.fingerprint = fingerprint
        self.keys = keys
        self.retry_failed = retry_failed
        self.failures = FailureMemory(ctx.ws.cache / "failures")
        self._system: list[str] | None = None  # package databases' digests, read once
        self.wheels = WheelListing(ctx.ws.wheels)  # listed once per round

    def reusable(self, package: PackageState, wheels: tuple[EnvWheel, ...], stage1: bool) -> Reusable | None:
        return find_reusable(
            self.ctx.ws,
            package.node.name,
            package.node.version,
            sdist_sha256=package.sha256,
            env=wheels,
            fingerprint=self.fingerprint,
            keys=self.keys,
            digest=self.ctx.digest,
            directory=self.ctx.ws.stage1 if stage1 else None,
            sdist_annotations=package.sdist_annotations,
            stale=lambda why: self.ctx.reporter.note(f"{package.node}: rebuilding, {why}"),
            listing=self.wheels,
        )

    def failed_before(
        self, package: PackageState, wheels: tuple[EnvWheel, ...], stage1: bool
    ) -> Failure | None:
        """The failure remembered for exactly these inputs (none with --retry-failed)."""
        package.failure_key = self._failure_key(package, wheels, stage1)
        return None if self.retry_failed else self.failures.recall(package.failure_key)

    def built(self, package: PackageState) -> None:
        """Built now (--retry-failed, or a flaky build): forget an earlier failure."""
        if package.failure_key is not None:
            self.failures.forget(package.failure_key)

    def failed(self, package: PackageState, outcome: BuildOutcome) -> None:
        """Remember a build failure for exactly these inputs."""
        if package.failure_key is None:
            return
        failure = Failure(
            name=package.node.name,
            version=package.node.version,
            error=(outcome.error or "build failed").splitlines()[0],
            log=str(outcome.log) if outcome.log else None,
            log_tail=log_tail(outcome.log),
            failed_on=timestamp_now(),
        )
        self.failures.remember(package.failure_key, failure)

    def _failure_key(self, package: PackageState, wheels: tuple[EnvWheel, ...], stage1: bool) -> str:
        """The digest of everything this build's result depends on (fromsource.failures)."""
        if self._system is None:
            self._system = system_state(self.ctx.digest)
        return failure_key(
            name=package.node.name + (" (stage 1)" if stage1 else ""),
            version=package.node.version,
            sdist_sha256=package.sha256,
            env=[
                (
                    w.path.name,
                    w.sha256,
                    None if w.external else self.ctx.digest(attestation_of(w.path, self.ctx.ws.attestations)),
                )
                for w in wheels
            ],
            fingerprint=(
                self.fingerprint.isolation,
                self.fingerprint.interpreter_sha256,
                self.fingerprint.builder_version,
            ),
            settings=repr(
                (
                    self.settings.sandbox,
                    self.settings.require_isolation,
                    self.settings.toolchains,
                    self.settings.crates_registry,
                    sorted(package.sdist_annotations.items()),
                )
            ),
            system=self._system,
        )
