"""The coordinator's step for a worker's result: fetch by digest, check, sign.

A worker's word is taken for nothing it stored: the wheel and log are fetched from the store
by digest (re-hashed on read), the wheel's name and RECORD are checked, the worker must
report exactly the build environment it was sent, and only then is the provenance signed
here, naming the worker in ``runDetails.worker``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename
from securesystemslib.signer import CryptoSigner

from fromsource.attest.provenance import (
    DASK_BUILDER_ID,
    ISOLATION_LEVELS,
    KIND_INTERPRETER,
    KIND_WHEEL,
    NATIVE_KINDS,
    Dependency,
    Sandbox,
)
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest
from fromsource.build import UnsignedBuild, attest_build, check_built_wheel
from fromsource.errors import ExecutorError, FromsourceError
from fromsource.fileutil import atomic_write_bytes
from fromsource.remote import RemoteBuild, RemoteResult
from fromsource.store import Store
from fromsource.workspace import Workspace


def accept_result(
    request: BuildRequest,
    task: RemoteBuild,
    result: RemoteResult,
    *,
    store: Store,
    workspace: Workspace,
    signer: CryptoSigner,
) -> BuildOutcome:
    """The signed outcome of a worker's result, or the reason it is refused."""
    stage = "-stage1" if request.stage1 else ""
    directory = workspace.builds / f"{canonicalize_name(request.name)}-{request.version}{stage}"
    log = directory / "build.log"
    try:
        if result.log_sha256 is not None:
            store.fetch(result.log_sha256, log)
        if result.error is not None or result.build is None:
            return BuildOutcome(
                log=log,
                needs=result.needs,
                error=result.error or "the worker returned no wheel",
                seconds=_worker_seconds(result, 0.0),
            )
        if result.wheel_name is None or result.wheel_sha256 is None:
            raise ExecutorError("the worker reported a wheel without its digest")
        try:
            if Path(result.wheel_name).name != result.wheel_name:
                raise ValueError(result.wheel_name)
            parse_wheel_filename(result.wheel_name)
        except (ValueError, TypeError) as exc:
            raise ExecutorError(f"the worker reported {result.wheel_name!r}, not a wheel name") from exc
        _check_report(result.build)
        # Kept build directories keep the wheel in out/, as a local build does; otherwise it
        # is fetched beside the log and renamed into wheels/ (no directory to make and remove).
        keep = request.settings.keep_build_dirs
        fetched = (directory / "out" if keep else directory) / result.wheel_name
        wheel = store.fetch(result.wheel_sha256, fetched)
        check_built_wheel(wheel, request.name, request.version)
        others = _record_result(directory / "tasks.json", task.key, result.wheel_sha256)
        expected = expected_dependencies(task)
        reported = {d.name: d.to_dict() for d in result.build.dependencies}
        if reported != {d.name: d.to_dict() for d in expected}:
            raise ExecutorError(
                f"worker {_identity(result.worker)['name']} reports a build "
                "environment other than the one it was given"
            )
        if result.build.sdist_sha256 != request.sdist_sha256:
            raise ExecutorError(f"worker {_identity(result.worker)['name']} built another sdist")
        signed = attest_build(
            replace(result.build, wheel=wheel, log=log, dependencies=expected),
            workspace,
            signer,
            requirement=request.requirement,
            sdist=request.sdist,
            sdist_uri=request.sdist_uri,
            sdist_annotations=request.sdist_annotations,
            sdist_unverified=request.sdist_unverified,
            output_dir=workspace.stage1 if request.stage1 else None,
            update_index=False,
            builder_id=DASK_BUILDER_ID,
            worker=_identity(result.worker),
            log_sha256=result.log_sha256,
            wheel_sha256=result.wheel_sha256,  # the fetch re-hashed it
            move_wheel=not keep,  # fetched here a moment ago, for this
        )
    except FromsourceError as exc:
        return BuildOutcome(log=log, error=exc.message)
    return BuildOutcome(
        wheel=signed.wheel,
        wheel_sha256=signed.wheel_sha256,
        attestation=signed.attestation,
        log=log,
        seconds=_worker_seconds(result, signed.seconds),
        backend_requires=signed.backend_requires,
        timings=dict(signed.timings),
        other_results=others,
    )


def _worker_seconds(result: RemoteResult, fallback: float) -> float:
    """The worker's time for the whole task (it only feeds the run's efficiency figures;
    a value that is not a sane duration is replaced by ``fallback``)."""
    seconds = result.seconds
    if isinstance(seconds, float | int) and math.isfinite(seconds) and 0 <= seconds < 7 * 86400:
        return max(float(seconds), fallback)
    return fallback


def _identity(reported: Any) -> dict[str, str]:
    """The worker's self-description, as plain short strings (it goes into provenance)."""
    fields = reported if isinstance(reported, dict) else {}
    return {key: str(fields.get(key, ""))[:200] for key in ("address", "host", "name")}


def _check_report(build: Any) -> None:
    """What the coordinator records on the worker's word must at least have its shape."""
    if not (
        isinstance(build, UnsignedBuild)
        and build.isolation in ISOLATION_LEVELS
        and isinstance(build.source_date_epoch, int)
        and (build.sandbox is None or isinstance(build.sandbox, Sandbox))
        and all(isinstance(d, Dependency) and d.kind in NATIVE_KINDS for d in build.natives)
        and isinstance(build.interpreter, Dependency)
        and build.interpreter.kind == KIND_INTERPRETER
        and isinstance(build.started_on, str)
        and isinstance(build.finished_on, str)
    ):
        raise ExecutorError("the worker's report of its build is malformed")


def expected_dependencies(task: RemoteBuild) -> tuple[Dependency, ...]:
    """The wheel entries the coordinator attests: exactly what it sent, sorted by name."""
    deps = {}
    for wheel in task.env:
        name = canonicalize_name(parse_wheel_filename(wheel.filename)[0])
        deps[name] = Dependency(
            name=wheel.filename,
            sha256=wheel.sha256,
            kind=KIND_WHEEL,
            edge=wheel.edge,
            seed=wheel.seed,
            attestation_sha256=None if wheel.external else wheel.attestation_sha256,
            external=wheel.external,
        )
    return tuple(dep for _, dep in sorted(deps.items()))


def _record_result(path: Path, key: str, wheel_sha256: str) -> tuple[str, ...]:
    """Remember which wheel a task produced; return the other wheels it produced before.

    The same inputs building different bytes is a reproducibility finding: every result
    stays in the store (blobs are never replaced) and the run reports them all.
    """
    try:
        seen: dict[str, list[str]] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        seen = {}
    results = [d for d in seen.get(key, []) if isinstance(d, str)]
    if wheel_sha256 not in results:
        seen[key] = [*results, wheel_sha256]
        # a record for the report, rewritten by the next result: no fsync
        atomic_write_bytes(path, json.dumps(seen, indent=1, sort_keys=True).encode() + b"\n", durable=False)
    return tuple(d for d in results if d != wheel_sha256)
