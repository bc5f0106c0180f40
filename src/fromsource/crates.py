"""Rust crates as materials: fetched before the network-less build, checked against the
sdist's ``Cargo.lock``, vendored into the build tree and recorded in the provenance.

A Rust extension's sdist pins its crates in ``Cargo.lock`` (name, version, the registry and
the sha256 of the ``.crate`` file). Inside the sandbox cargo has no network, so before the
hooks run every registry crate is fetched from the configured registry, its sha256 compared
with the lock file's, unpacked (with the same safe extraction as sdists) into
``<sdist root>/.fromsource-crates/NAME-VERSION/`` and announced to cargo through
``<sdist root>/.cargo/config.toml`` (source replacement of the default registry by that
directory). Each crate becomes a ``crate`` entry of ``resolvedDependencies``.

The registry is a local directory of ``.crate`` files (``NAME-VERSION.crate``, or
``NAME/NAME-VERSION.crate``) or a base URL under which ``NAME/NAME-VERSION.crate`` is
downloaded (a mirror laid out like the public registry's static download host).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fromsource.archives import extract_sdist
from fromsource.attest.provenance import KIND_CRATE, Dependency
from fromsource.errors import ArchiveError, BuildError
from fromsource.fileutil import atomic_write_bytes, sha256_file

VENDOR_DIR = ".fromsource-crates"
_MAX_CRATE = 256 * 1024 * 1024
_TIMEOUT = 60.0


class CrateError(BuildError):
    """No Cargo.lock, a crate the registry lacks or cannot serve, or a checksum mismatch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedCrate:
    name: str
    version: str
    source: str  # registry+URL as Cargo.lock records it
    checksum: str

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.crate"


def find_lock(root: Path) -> Path | None:
    """The ``Cargo.lock`` next to the sdist's (shallowest) ``Cargo.toml``, if any."""
    manifests = sorted(root.rglob("Cargo.toml"), key=lambda p: (len(p.parts), str(p)))
    manifests = [m for m in manifests if VENDOR_DIR not in m.parts and "target" not in m.parts]
    if not manifests:
        return None
    for manifest in manifests:
        for directory in (manifest.parent, *manifest.parent.parents):
            if (directory / "Cargo.lock").is_file():
                return directory / "Cargo.lock"
            if directory == root:
                break
    raise CrateError(
        f"{manifests[0].relative_to(root.parent)} has no Cargo.lock: its crates "
        "are not pinned, so they cannot be fetched and checked before the build"
    )


def read_lock(path: Path) -> list[LockedCrate]:
    """The registry crates of a ``Cargo.lock`` (path and workspace members need nothing)."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CrateError(f"cannot read {path.name}: {exc}") from exc
    crates = []
    for index, package in enumerate(data.get("package", [])):
        if not isinstance(package, dict):
            raise CrateError(f"{path.name}: package #{index} is not a table")
        source = package.get("source")
        if source is None:
            continue  # a member of the sdist's own cargo workspace
        name, version = package.get("name"), package.get("version")
        if not isinstance(source, str) or not source.startswith("registry+"):
            raise CrateError(
                f"{path.name}: {name} {version} comes from {source!r}; only "
                "registry crates can be fetched and checked"
            )
        checksum = package.get("checksum")
        if not (
            isinstance(name, str)
            and isinstance(version, str)
            and isinstance(checksum, str)
            and len(checksum) == 64
            and all(c in "0123456789abcdef" for c in checksum)
        ):
            raise CrateError(f"{path.name}: {name} {version} has no valid sha256 checksum")
        if "/" in name or "/" in version or name.startswith(".") or version.startswith("."):
            raise CrateError(f"{path.name}: {name!r} {version!r} is not a crate name and version")
        crates.append(LockedCrate(name=name, version=version, source=source, checksum=checksum))
    sources = {c.source for c in crates}
    if len(sources) > 1:
        raise CrateError(
            f"{path.name}: crates from several registries ({', '.join(sorted(sources))}) "
            "are not supported; only the default registry's are vendored"
        )
    return crates


def _fetch(crate: LockedCrate, registry: str, dest: Path) -> tuple[Path, str]:
    """The crate file and where it came from."""
    if "://" not in registry:
        base = Path(registry)
        for candidate in (base / crate.filename, base / crate.name / crate.filename):
            if candidate.is_file():
                return candidate, candidate.absolute().as_uri()
        raise CrateError(f"crate {crate.filename} is not in the registry directory {registry}")
    url = f"{registry.rstrip('/')}/{crate.name}/{crate.filename}"
    import requests  # here: the build side (pool and Dask workers) never needs HTTP otherwise

    try:
        with requests.get(url, stream=True, timeout=_TIMEOUT) as response:
            if response.status_code != 200:
                raise CrateError(
                    f"crate registry {registry} answered HTTP {response.status_code} for {crate.filename}"
                )
            data = bytearray()
            for chunk in response.iter_content(1 << 20):
                data += chunk
                if len(data) > _MAX_CRATE:
                    raise CrateError(f"{crate.filename} from {registry} exceeds {_MAX_CRATE} bytes")
    except requests.RequestException as exc:
        raise CrateError(
            f"crate registry {registry} is unreachable ({type(exc).__name__}) fetching {crate.filename}"
        ) from exc
    path = dest / crate.filename
    atomic_write_bytes(path, bytes(data))
    return path, url


def vendor(root: Path, registry: str | None, cache: Path) -> tuple[Dependency, ...]:
    """Fetch, check and vendor the crates of the sdist tree ``root``; their provenance entries.

    Nothing happens for an sdist without a ``Cargo.toml``. ``cache`` keeps fetched crates
    (by file name; the checksum is checked on every use).
    """
    lock = find_lock(root)
    if lock is None:
        return ()
    crates = read_lock(lock)
    if not crates:
        return ()
    if registry is None:
        raise CrateError(
            f"{lock.relative_to(root.parent)} pins {len(crates)} crate(s) and no crate "
            "registry is configured: set [build].crates_registry in the policy"
        )
    cache.mkdir(parents=True, exist_ok=True)
    vendored = root / VENDOR_DIR
    deps = []
    for crate in crates:
        path, uri = _fetch(crate, registry, cache)
        actual = sha256_file(path)
        if actual != crate.checksum:
            raise CrateError(
                f"crate {crate.filename} from {registry} has sha256 {actual}, but "
                f"{lock.name} pins {crate.checksum}; refusing it"
            )
        try:
            top = extract_sdist(path, vendored / f".{crate.name}-{crate.version}")
        except ArchiveError as exc:
            raise CrateError(f"crate {crate.filename}: {exc.message}") from exc
        if top.name != f"{crate.name}-{crate.version}":
            raise CrateError(
                f"crate {crate.filename} unpacks to {top.name}, not {crate.name}-{crate.version}"
            )
        final = vendored / top.name
        top.rename(final)
        top.parent.rmdir()
        # cargo's directory source: the package checksum ties it to Cargo.lock's.
        (final / ".cargo-checksum.json").write_text(json.dumps({"files": {}, "package": crate.checksum}))
        deps.append(
            Dependency(
                name=crate.filename,
                sha256=actual,
                kind=KIND_CRATE,
                uri=uri,
                crate=crate.name,
                version=crate.version,
                lock_source=crate.source,
            )
        )
    config = root / ".cargo" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    existing = config.read_text("utf-8") if config.is_file() else ""
    if "[source.crates-io]" in existing or "[net]" in existing:
        raise CrateError(
            f"the sdist's {config.relative_to(root.parent)} already configures "
            "[source.crates-io] or [net]; fromsource cannot vendor its crates"
        )
    config.write_text(
        existing + "\n# Written by fromsource: crates vendored before the build.\n"
        '[source.crates-io]\nreplace-with = "fromsource-vendored"\n'
        f"[source.fromsource-vendored]\ndirectory = {json.dumps(str(vendored))}\n"
        "[net]\noffline = true\n"
    )
    return tuple(deps)
