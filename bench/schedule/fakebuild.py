"""The benchmark's fake build step, for both executors (see run.py).

A module of its own, not run.py, so that the functions the executors send to their workers
are pickled by reference (``fakebuild.fake_build_on_worker``), as the real build step
(``fromsource.remote.build_on_worker``) is: a function of ``__main__`` is pickled by value,
its code and globals, on every Dask submit and again when the scheduler sends it on.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import Future
from pathlib import Path

from securesystemslib.signer import CryptoSigner

from fromsource.attest.keys import load_signer
from fromsource.attest.locate import attestation_of
from fromsource.attest.provenance import KIND_WHEEL, Dependency
from fromsource.bootstrap.executor import BuildOutcome, BuildRequest, LocalExecutor
from fromsource.build import UnsignedBuild, attest_build, interpreter_dependency
from fromsource.fileutil import sha256_file
from fromsource.remote import RemoteBuild, RemoteResult
from fromsource.store import open_store
from fromsource.workspace import Workspace


def _tiny_config(sdist: Path) -> dict:
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/tiny.json"))
        handle = tar.extractfile(member)
        assert handle is not None
        return json.loads(handle.read())


def fake_wheel(sdist: Path, out: Path) -> Path:
    """What tinybackend would build, without a venv or a hook process."""
    config = _tiny_config(sdist)
    name, version = config["name"], config["version"]
    stem = name.replace("-", "_").replace(".", "_").lower()
    dist_info = f"{stem}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in config["requires"]]
    files = {
        f"{stem}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fake\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + f"\n{dist_info}/RECORD,,\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{stem}-{version}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data)
    wheel.write_bytes(buffer.getvalue())
    return wheel


@functools.cache
def _signer(key: Path) -> CryptoSigner:
    return load_signer(key)  # once per worker, as run_build does


@functools.cache
def _interpreter() -> Dependency:
    return interpreter_dependency()


def _unsigned(
    name: str,
    version: str,
    wheel: Path,
    log: Path,
    sdist_sha: str,
    deps: tuple[Dependency, ...],
    seconds: float,
) -> UnsignedBuild:
    return UnsignedBuild(
        name=name,
        version=version,
        wheel=wheel,
        log=log,
        sdist_sha256=sdist_sha,
        dependencies=deps,
        interpreter=_interpreter(),
        isolation="none",
        sandbox=None,
        source_date_epoch=315532800,
        started_on="1980-01-01T00:00:00Z",
        finished_on="1980-01-01T00:00:00Z",
        seconds=seconds,
        timings={},
    )


def fake_run_build(request: BuildRequest) -> BuildOutcome:
    """The local executor's job with a fake build step; signs like run_build does."""
    start = time.perf_counter()
    ws = Workspace(request.workspace)
    directory = ws.builds / f"{request.name}-{request.version}{'-stage1' if request.stage1 else ''}"
    wheel = fake_wheel(request.sdist, directory / "out")
    log = directory / "build.log"
    log.write_bytes(b"")
    deps = tuple(
        Dependency(
            name=w.path.name,
            sha256=w.sha256,
            kind=KIND_WHEEL,
            edge=w.edge,
            seed=w.seed,
            attestation_sha256=sha256_file(attestation_of(w.path, ws.attestations)),
        )
        for w in sorted(request.env, key=lambda w: w.path.name)
    )
    unsigned = _unsigned(
        request.name, request.version, wheel, log, request.sdist_sha256, deps, time.perf_counter() - start
    )
    signed = attest_build(
        unsigned,
        ws,
        _signer(request.key),
        requirement=request.requirement,
        sdist=request.sdist,
        sdist_uri=None,
        update_index=False,
        output_dir=ws.stage1 if request.stage1 else None,
    )
    return BuildOutcome(
        wheel=signed.wheel,
        wheel_sha256=signed.wheel_sha256,
        attestation=signed.attestation,
        log=log,
        seconds=signed.seconds,
    )


class FakeLocalExecutor(LocalExecutor):
    """LocalExecutor's pool (workers forked from a fork server, started at once) running
    :func:`fake_run_build`."""

    def submit(self, request: BuildRequest) -> Future[BuildOutcome]:
        return self._pool.submit(fake_run_build, request)


def fake_build_on_worker(task: RemoteBuild) -> RemoteResult:
    """A worker's fake build step: store in, store out, as build_on_worker does."""
    from fromsource.coordinator import expected_dependencies as _expected_dependencies

    start = time.perf_counter()
    store = open_store(task.store)
    root = Path(tempfile.gettempdir()) / f"fake-worker-{os.getpid()}"
    sdist = store.fetch(task.sdist_sha256, root / task.sdist_sha256 / task.sdist_name)
    wheel = fake_wheel(sdist, root / "out" / task.key)
    log = root / "empty.log"
    log.write_bytes(b"")
    unsigned = _unsigned(
        task.name,
        task.version,
        wheel,
        log,
        task.sdist_sha256,
        _expected_dependencies(task),
        time.perf_counter() - start,
    )
    return RemoteResult(
        worker={"name": str(os.getpid()), "host": "", "address": ""},
        log_sha256=store.put_file(log),
        wheel_name=wheel.name,
        wheel_sha256=store.put_file(wheel),
        build=unsigned,
    )
