"""Scheduling: hand each package whose build environment is resolved and built to the
executor (or reuse an attested wheel built from the same inputs), and take back outcomes.
Members of a seeded cycle are built twice: stage 1 with seeds, stage 2 from stage-1 wheels."""

from __future__ import annotations

import functools
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from packaging.utils import canonicalize_name
from securesystemslib.signer import Key

from fromsource.backgroundwrites import write_now_or_later
from fromsource.bootstrap.discovery import Discovery
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, Executor
from fromsource.bootstrap.incremental import (
    Fingerprint,
    Reusable,
    save_backend_requires,
)
from fromsource.bootstrap.passes import PassSet
from fromsource.bootstrap.report import DONE, PackageReport
from fromsource.bootstrap.reuse import Shortcuts
from fromsource.bootstrap.seeding import SeedChoice
from fromsource.bootstrap.stage2 import finish_stage2
from fromsource.bootstrap.state import DEAD, PackageState, RunContext, parse_all
from fromsource.build import BuildSettings, EnvWheel
from fromsource.errors import ExecutorError, InputError
from fromsource.failures import Failure
from fromsource.graph import Node
from fromsource.resolve import Resolution, ResolvedPackage
from fromsource.untrusted import log_tail

# Ready packages waiting, per build slot, before builds are queued at the executor beyond the
# slots (see handed_over_at_most).
DEEP_BACKLOG = 4


def handed_over_at_most(jobs: int, queued: int, waiting: int) -> int:
    """Builds in flight at most: one per slot (``jobs``), and ``queued`` more (waiting at the
    executor, see :func:`~fromsource.bootstrap.executor.queued_per_slot`) only while the ready
    packages ``waiting`` for a slot are :data:`DEEP_BACKLOG` times the slots. With fewer, the
    build handed over early may be less urgent than one the next finished build makes ready,
    and the run waits on it: on the requests closure, `dask-local:2` runs took 1.14 to 1.20
    times their own lower bound when builds were queued once more waited than there were
    slots, 1.11 to 1.13 without queueing, and 13% longer when queued always."""
    return jobs + queued if queued and waiting >= DEEP_BACKLOG * jobs else jobs


class Scheduler:
    def __init__(
        self,
        ctx: RunContext,
        discovery: Discovery,
        seeds: SeedChoice,
        *,
        executor: Executor,
        jobs: int,
        queued_per_slot: int = 0,
        settings: BuildSettings,
        fingerprint: Fingerprint,
        keys: list[Key],
        retry_failed: bool = False,
    ) -> None:
        self.ctx = ctx
        self.discovery = discovery
        self.seeds = seeds
        self.executor = executor
        self.jobs = jobs
        self.queued = jobs * queued_per_slot
        self.settings = settings
        self.running: dict[Future[BuildOutcome], PackageState] = {}
        self.shortcuts = Shortcuts(
            ctx, settings=settings, fingerprint=fingerprint, keys=keys, retry_failed=retry_failed
        )
        self._passes = PassSet(ctx.packages, lambda: discovery.version, self._needed_by)
        self._deps: dict[Node, tuple[Resolution, list[PackageState]]] = {}

    def environment_of(self, package: PackageState) -> Resolution | None:
        """The resolved environment ``package`` builds in, once all of it is known."""
        if package.bs_env is None:
            return None
        if package.backend is None or not self.ctx.wanted(package.backend):
            return package.bs_env
        return package.full_env

    def _needed_by(self) -> dict[Node, list[Node]]:
        needed: dict[Node, list[Node]] = {}
        for package in self.ctx.packages.values():
            env = self.environment_of(package)
            for dep in self._deps_of(package, env) if env is not None else ():
                needed.setdefault(dep.node, []).append(package.node)
        return needed

    def _deps_of(self, package: PackageState, env: Resolution) -> list[PackageState]:
        known = self._deps.get(package.node)
        if known is None or known[0] is not env:
            known = (env, [self.ctx.packages[self._node_of(p)] for p in env.packages.values()])
            self._deps[package.node] = known
        return known[1]

    def schedule(self) -> bool:
        """Reuse or submit every package that is ready; whether anything changed."""
        progressed = False
        at_most = handed_over_at_most(self.jobs, self.queued, self._passes.waiting_for_slot())
        for package in self._passes.current(at_most - len(self.running)):
            if package.status != "waiting":
                continue
            if len(self.running) >= at_most and package.stale_env is not None:
                self._passes.wait_for_slot(package)  # ready and checked for reuse already
                continue
            env = self.environment_of(package)
            if env is None:
                continue
            stage1 = package.node in self.seeds.cycle_of and package.stage1_wheel is None
            deps = self._deps_of(package, env)
            dead = [d for d in deps if d.status in DEAD]
            if dead:
                self.ctx.skip(package, dead)
                progressed = True
                continue
            if self.ctx.stopping or not self._all_ready(deps, package, stage1):
                continue
            wheels = self._env_wheels(package, env, stage1)
            if package.stale_env != wheels:
                reusable = self.shortcuts.reusable(package, wheels, stage1)
                package.stale_env = wheels
                if reusable is not None:
                    self._reuse(package, reusable, stage1)
                    progressed = True
                    continue
                # Needs no build slot: a failure remembered for exactly these inputs.
                remembered = self.shortcuts.failed_before(package, wheels, stage1)
                if remembered is not None:
                    _failed_earlier(self.ctx, package, remembered)
                    progressed = True
                    continue
            if len(self.running) >= at_most:
                self._passes.wait_for_slot(package)
                continue
            self._submit(package, wheels, stage1)
            progressed = True
        return progressed

    def _reuse(self, package: PackageState, reusable: Reusable, stage1: bool) -> None:
        if stage1:
            package.stage1_wheel, package.stage1_sha256 = reusable.wheel, reusable.sha256
            return
        package.wheel, package.wheel_sha256 = reusable.wheel, reusable.sha256
        report = PackageReport(
            name=package.node.display_name,
            version=package.node.version,
            status="reused",
            wheel=reusable.wheel,
            attestation=reusable.attestation,
        )
        self.ctx.finish(package, finish_stage2(self.ctx, self.seeds, package, report))

    def _all_ready(self, deps: list[PackageState], package: PackageState, stage1: bool) -> bool:
        for dep in deps:
            if not self._ready(dep, package, stage1):
                self._passes.park(package, dep)  # looked at again once dep changes
                return False
        return True

    def _ready(self, dep: PackageState, package: PackageState, stage1: bool) -> bool:
        members = self.seeds.cycle_of.get(package.node, frozenset())
        if stage1 and self.seeds.stands_in(dep.node, package.node):
            return True
        if dep.node in members:  # inside a seeded cycle, stages use stage-1 wheels
            return dep.stage1_wheel is not None
        return dep.status in DONE

    def _node_of(self, package: ResolvedPackage) -> Node:
        return self.ctx.packages[Node(package.name, str(package.version))].node

    def _env_wheels(
        self, package: PackageState, env: Resolution, stage1: bool = False
    ) -> tuple[EnvWheel, ...]:
        bs_names = {canonicalize_name(r.name) for r in self.ctx.wanted(package.build_system.requires)}
        backend_names = {canonicalize_name(r.name) for r in self.ctx.wanted(package.backend or ())}
        members = self.seeds.cycle_of.get(package.node, frozenset())
        wheels = []
        for name, resolved in sorted(env.packages.items()):
            dep = self.ctx.packages[self._node_of(resolved)]
            edge = "build-system" if name in bs_names else "backend" if name in backend_names else "install"
            if stage1 and self.seeds.stands_in(dep.node, package.node):
                seed = self.seeds.accepted(dep.node)
                if seed is None:
                    raise AssertionError(f"{dep.node} was seeded without an accepted seed")
                wheels.append(EnvWheel(seed, self.ctx.digest(seed), edge, seed=True))
            elif dep.node in members:
                if dep.stage1_wheel is None or dep.stage1_sha256 is None:
                    raise AssertionError(f"{dep.node} has no stage-1 wheel yet")
                wheels.append(EnvWheel(dep.stage1_wheel, dep.stage1_sha256, edge))
            else:
                if dep.wheel is None or dep.wheel_sha256 is None:
                    raise AssertionError(f"{dep.node} is not built yet")
                wheels.append(EnvWheel(dep.wheel, dep.wheel_sha256, edge, external=dep.status == "external"))
        return tuple(wheels)

    def _submit(self, package: PackageState, wheels: tuple[EnvWheel, ...], stage1: bool) -> None:
        node = package.node
        request = BuildRequest(
            name=node.name,
            version=node.version,
            sdist=package.path.absolute(),
            sdist_sha256=package.sha256,
            sdist_uri=package.sdist.url,
            sdist_unverified=package.sdist.unverified,
            requirement=f"{node.name}=={node.version}",
            env=wheels,
            workspace=self.ctx.ws.root.absolute(),
            settings=self.settings,
            key=self.ctx.key,
            stage1=stage1,
            sdist_annotations=package.sdist_annotations,
        )
        package.status = "running"
        package.running_stage1 = stage1
        package.started = time.perf_counter()
        self.ctx.reporter.started(node.display_name + (" (stage 1)" if stage1 else ""), node.version)
        self.running[self.executor.submit(request)] = package

    def any_done(self) -> bool:
        """Whether a running build has finished (collecting it would not wait)."""
        return any(future.done() for future in self.running)

    def collect(self) -> None:
        """Wait for at least one running build and take in what finished."""
        done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: self.running[f].node):
            package = self.running.pop(future)
            try:
                outcome = future.result()
            except (ExecutorError, InputError):  # the cluster is gone or unusable: stop
                raise
            except Exception as exc:  # the executor itself broke (a worker died, say)
                outcome = BuildOutcome(error=f"the executor failed: {type(exc).__name__}: {exc}")
            self._outcome(package, outcome)

    def _outcome(self, package: PackageState, outcome: BuildOutcome) -> None:
        ctx, node = self.ctx, package.node
        package.earlier_seconds += outcome.seconds
        if outcome.needs is not None:
            _save_hint(self.ctx, package, outcome.needs)
            package.status = "waiting"
            self.discovery.learn_backend(package, outcome.needs)
            return
        if not outcome.ok:
            self._failed(package, outcome)
            return
        if outcome.wheel is None or outcome.attestation is None or outcome.wheel_sha256 is None:
            raise AssertionError("a successful build outcome without its files")
        ctx.digest.forget(outcome.wheel)
        ctx.digest.forget(outcome.attestation)
        # The wheel listing is not renewed: a wheel this round builds is never reused in it
        # (each package and stage is built once); listing after every build is n².
        self.shortcuts.built(package)
        _save_hint(self.ctx, package, outcome.backend_requires)
        env = self.environment_of(package)
        if outcome.backend_requires and env is not None:
            nodes = {name: self._node_of(p) for name, p in env.packages.items()}
            backend = parse_all(outcome.backend_requires, f"{node} backend")
            self.discovery.edges_to(package, backend, nodes, "backend")
        if package.running_stage1:  # stage 2 follows once the whole cycle has a stage 1
            package.stage1_wheel, package.stage1_sha256 = outcome.wheel, outcome.wheel_sha256
            package.status = "waiting"
            ctx.reporter.discovering(f"{node}: stage 1 built with seeds; stage 2 next")
            return
        package.wheel, package.wheel_sha256 = outcome.wheel, outcome.wheel_sha256
        report = PackageReport(
            name=node.display_name,
            version=node.version,
            status="built",
            wheel=outcome.wheel,
            attestation=outcome.attestation,
            log=outcome.log,
            seconds=package.earlier_seconds,  # every attempt's, this one's included
            other_results=outcome.other_results,
        )
        ctx.finish(package, finish_stage2(ctx, self.seeds, package, report))

    def _failed(self, package: PackageState, outcome: BuildOutcome) -> None:
        if outcome.remember:
            self.shortcuts.failed(package, outcome)
        report = PackageReport(
            name=package.node.display_name,
            version=package.node.version,
            status="failed",
            log=outcome.log,
            seconds=time.perf_counter() - package.started,
            error=(outcome.error or "build failed").splitlines()[0],
            log_tail=log_tail(outcome.log),
        )
        self.ctx.finish(package, report)
        if not self.ctx.keep_going:
            self.ctx.stopping = True


def _failed_earlier(ctx: RunContext, package: PackageState, failure: Failure) -> None:
    """Report a failure remembered for exactly these inputs, without building again."""
    report = PackageReport(
        name=package.node.display_name,
        version=package.node.version,
        status="failed",
        log=Path(failure.log) if failure.log else None,
        error=f"failed earlier with the same inputs: {failure.error}",
        log_tail=failure.log_tail or "",
        remembered=True,
    )
    ctx.finish(package, report)
    if not ctx.keep_going:
        ctx.stopping = True


def _save_hint(ctx: RunContext, package: PackageState, requires: tuple[str, ...]) -> None:
    """What the backend asked for, for the next run (read back only by a later round)."""
    node = package.node
    write_now_or_later(
        ctx.writes,
        functools.partial(save_backend_requires, ctx.ws, node.name, node.version, package.sha256, requires),
    )
