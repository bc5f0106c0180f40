"""Shared fixtures: real sdists from tests/data, fixture projects, built workspaces."""

from __future__ import annotations

import functools
import gc
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

from fromsource.attest.keys import KeyPair

DATA = Path(__file__).parent / "data"
PACKAGES = Path(__file__).parent / "packages"
SHARED_MEMORY = "/dev/shm"  # a tmpfs where the system has one
ROOM_NEEDED = 2 << 30  # bytes free on it for the suite's files (a container's 64 MiB is not)


def _in_memory() -> bool:
    try:
        free = os.statvfs(SHARED_MEMORY)
    except OSError:
        return False
    return os.access(SHARED_MEMORY, os.W_OK | os.X_OK) and free.f_bavail * free.f_frsize >= ROOM_NEEDED


def pytest_configure(config: pytest.Config) -> None:
    """Test files (workspaces, build venvs, unpacked sdists) in memory where the system has a
    writable /dev/shm with room: builds fsync and delete thousands of small files, which costs
    whole seconds on a disk mounted with discard. pytest's own temporary root, so its numbered
    directories, locks and retention work as usual; an explicit one is left alone."""
    in_memory = _in_memory()
    if "PYTEST_DEBUG_TEMPROOT" not in os.environ and in_memory:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = SHARED_MEMORY
    # Under PYTHONDONTWRITEBYTECODE every interpreter the suite starts (pytest-xdist workers,
    # command-line runs, build pool and Dask workers: hundreds) compiles every module it
    # imports again. They share compiled modules under pytest's own cache directory instead,
    # kept from one run to the next (a prefix replaces every __pycache__, the standard
    # library's and site-packages' too, so a fresh one each run would compile those every
    # time); the source tree stays as the variable asks. Builds never see it (their
    # environment is scrubbed). xdist workers inherit the result.
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and "PYTHONPYCACHEPREFIX" not in os.environ:
        del os.environ["PYTHONDONTWRITEBYTECODE"]
        os.environ["PYTHONPYCACHEPREFIX"] = str(_pycache_prefix(config, in_memory))


def _pycache_prefix(config: pytest.Config, in_memory: bool) -> Path:
    """``.pytest_cache/pycache`` where pytest keeps its cache; else a directory of this run."""
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        try:
            return Path(cache.mkdir("pycache"))
        except OSError:  # a read-only checkout: pytest itself only warns there
            pass
    prefix = tempfile.mkdtemp(prefix="fromsource-pycache-", dir=SHARED_MEMORY if in_memory else None)
    config.add_cleanup(functools.partial(shutil.rmtree, prefix, ignore_errors=True))
    return Path(prefix)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported and collected so far (about 150,000 objects) lives to the end of
    the run: moved out of the cyclic collector's sight, its full collections no longer walk it
    again and again (the two workers spent 6.5 s in the collector, 3.3 s after this)."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the module's Dask LocalCluster run on one pytest-xdist worker (``--dist
    loadgroup``), so the suite starts that cluster once rather than once per worker."""
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("dask-local-cluster"))


def make_sdist(project_dir: Path, dest_dir: Path, name: str, version: str) -> Path:
    """Pack a fixture project directory as ``name-version.tar.gz`` (one top-level dir)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    sdist = dest_dir / f"{name}-{version}.tar.gz"
    top = f"{name}-{version}"
    with tarfile.open(sdist, "w:gz") as tar:
        for path in sorted(project_dir.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{top}/{path.relative_to(project_dir).as_posix()}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return sdist


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    from fromsource.attest.keys import generate_keypair

    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def built_workspace(tmp_path_factory: pytest.TempPathFactory, keypair: KeyPair) -> Path:
    """flit-core then packaging, built from their real sdists: the two-link chain."""
    from fromsource.attest.keys import load_signer
    from fromsource.build import build_sdist
    from fromsource.workspace import Workspace

    root = tmp_path_factory.mktemp("ws") / "work"
    ws = Workspace(root)
    signer = load_signer(keypair.private_path)
    build_sdist(DATA / "flit_core-3.12.0.tar.gz", ws, signer)
    build_sdist(DATA / "packaging-24.2.tar.gz", ws, signer)
    return root


@pytest.fixture
def workspace_copy(built_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the built workspace that a test may tamper with."""
    dest = tmp_path / "work"
    shutil.copytree(built_workspace, dest, ignore=shutil.ignore_patterns("builds"))
    return dest
