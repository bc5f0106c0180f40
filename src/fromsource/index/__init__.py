"""Where sdists come from: a simple-API index (PEP 691 JSON, PEP 503 HTML) or a directory.

Sdists are what gets built. Published wheels are listed and fetched only for *externals*:
wheels that cannot be built where the bootstrap runs and that a policy names by exact
sha256 (``[externals] wheels = [{ file = ..., sha256 = ... }]``). :func:`wheelstore.best_wheel`
picks the wheel of a version this interpreter would install and
:func:`policy.external_policy_line` renders the policy entry that would admit it; nothing here
decides that a wheel may be used. The default index comes from :mod:`fromsource.pipconfig`.

Every download is checked against the digest the index publishes (or the digest the caller
expects), written atomically under its original filename, and re-verified when a cached
copy is reused.

Modules: ``model`` (candidates and the ``Index`` interface), ``simple`` (the HTTP index),
``local`` (directories, several indexes together), ``download`` (checked, atomic downloads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from packaging.version import Version

from fromsource.errors import IndexError_, InputError
from fromsource.fetch import DEFAULT_RULES, FetchRules
from fromsource.fileutil import sha256_file
from fromsource.index.listingcache import ListingCache
from fromsource.index.local import LocalDirIndex, MultiIndex
from fromsource.index.model import Index, ProjectNotFoundError, SdistCandidate, WheelCandidate
from fromsource.index.simple import SimpleIndex


def open_index(
    index_url: str | None = None,
    find_links: Sequence[Path] = (),
    *,
    no_index: bool = False,
    rules: FetchRules = DEFAULT_RULES,
    digest: Callable[[Path], str] = sha256_file,
    cache: Path | None = None,
) -> Index:
    """The index a command's ``--index-url`` / ``--find-links`` / ``--no-index`` describe.

    Local directories come first, so a frozen directory wins over the network. Release the
    HTTP sessions with :func:`close_index`. ``digest`` hashes cached downloads (a stat cache
    on re-runs); ``cache`` is a directory of pages read before (see ``listingcache``).
    """
    indexes: list[Index] = [LocalDirIndex(path, digest=digest) for path in find_links]
    if not no_index:
        listings = ListingCache(cache) if cache is not None else None
        indexes.append(SimpleIndex(index_url, rules=rules, digest=digest, listings=listings))
    if not indexes:
        raise InputError("--no-index needs at least one --find-links directory")
    return indexes[0] if len(indexes) == 1 else MultiIndex(indexes)


def close_index(index: Index) -> None:
    """Close every HTTP session an index (or a :class:`MultiIndex`) holds."""
    if isinstance(index, SimpleIndex):
        index.close()
    elif isinstance(index, MultiIndex):
        for inner in index.indexes:
            close_index(inner)


def prefetch(index: Index, names: Iterable[str]) -> None:
    """Fetch the listings of ``names`` from every HTTP index at once (a re-run knows its
    projects from the last graph); other indexes have nothing to fetch ahead."""
    if isinstance(index, SimpleIndex):
        index.prefetch(names)
    elif isinstance(index, MultiIndex):
        for inner in index.indexes:
            prefetch(inner, names)


def page_digest(index: Index, name: str) -> str | None:
    """What the index says of ``name`` now, as a digest (its pages' bytes); None when an
    index in it has no pages to digest (a directory: its files are compared instead)."""
    if isinstance(index, SimpleIndex):
        return index.page_digest(name)
    if isinstance(index, MultiIndex):
        parts = [page_digest(inner, name) for inner in index.indexes]
        return None if any(p is None for p in parts) else ",".join(p for p in parts if p)
    return None


def listed_projects(index: Index) -> list[str]:
    """The projects whose listings the HTTP indexes in ``index`` read this run."""
    if isinstance(index, SimpleIndex):
        return index.listed()
    if isinstance(index, MultiIndex):
        return sorted({name for inner in index.indexes for name in listed_projects(inner)})
    return []


def fetch_sdist(
    name: str, version: str, index_url: str | None, dest_dir: Path, *, rules: FetchRules = DEFAULT_RULES
) -> Path:
    """Fetch the sdist of exactly ``name==version`` (yanked allowed: it is pinned)."""
    wanted = Version(version)
    with SimpleIndex(index_url, rules=rules) as index:
        listed = index.candidates(name)
        matches = [c for c in listed if c.version == wanted]
        if not matches:
            versions = ", ".join(str(v) for v in sorted({c.version for c in listed})[-5:])
            raise IndexError_(
                f"{index.url} has no sdist of {name} {version}",
                hint=f"sdists there: {versions}" if versions else "the project has no sdists",
            )
        return index.fetch(preferred_sdist(matches), dest_dir)


def preferred_sdist(candidates: Sequence[SdistCandidate]) -> SdistCandidate:
    """Among sdists of one version, the ``.tar.gz`` (PEP 625's format) over a ``.zip``."""
    return min(candidates, key=lambda c: (not c.filename.endswith(".tar.gz"), c.filename))


__all__ = [
    "Index",
    "LocalDirIndex",
    "MultiIndex",
    "ProjectNotFoundError",
    "SdistCandidate",
    "SimpleIndex",
    "WheelCandidate",
    "close_index",
    "fetch_sdist",
    "listed_projects",
    "open_index",
    "page_digest",
    "preferred_sdist",
    "prefetch",
]
