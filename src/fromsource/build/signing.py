"""Signing a finished build: its SLSA provenance assembled and signed, then the attestation
written before the wheel, so no reader ever finds a wheel without its provenance.

The build step itself (:mod:`fromsource.build.builder`) signs nothing: it may have run on a
keyless worker, and whoever holds the key checks its output before calling this.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer

from fromsource import __version__
from fromsource.attest import dsse
from fromsource.attest.locate import attestation_name
from fromsource.attest.provenance import (
    BUILDER_ID,
    KIND_SDIST,
    BuildRecord,
    Dependency,
    PublisherEvidence,
)
from fromsource.build.model import BuildResult, UnsignedBuild
from fromsource.fileutil import atomic_copy, atomic_write_bytes, move_into_place, sha256_file
from fromsource.sandbox import not_isolated
from fromsource.workspace import Workspace


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
    wheel_sha256: str | None = None,
    move_wheel: bool = False,
) -> BuildResult:
    """Sign the provenance of an unsigned build and put wheel and attestation in place.

    The caller has checked ``unsigned.wheel`` (locally, the build step did; for a worker's
    build, the coordinator re-hashed and re-checked it). ``move_wheel``: the caller wrote
    ``unsigned.wheel`` itself and drops it after, so it is renamed into place, not copied
    (a wheel a build backend wrote is always copied: the backend may still hold it open).
    ``wheel_sha256`` / ``log_sha256``: digests the caller has just checked, not hashed again.
    """
    built = unsigned.wheel
    wheel_sha = wheel_sha256 or sha256_file(built)
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
    # Not fsynced: reuse checks the signature and every digest, so a file a power cut
    # truncated is rebuilt, never trusted.
    atomic_write_bytes(attestation, envelope, durable=False)
    if move_wheel:
        move_into_place(built, wheel_dest)
    else:
        atomic_copy(built, wheel_dest, durable=False)
    source_copy = workspace.sources / sdist.name
    if not source_copy.exists():
        atomic_copy(sdist, source_copy, durable=False)
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
