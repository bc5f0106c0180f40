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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

import requests
from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from pypi_simple import (
    ACCEPT_JSON_PREFERRED,
    ProjectPage,
    UnsupportedRepoVersionError,
)

from fromsource.errors import ArchiveError, BrokenTransferError, IndexError_, InputError
from fromsource.fetch import (
    DEFAULT_RULES,
    Fetcher,
    FetchRules,
    check_status,
    insecure_reason,
)
from fromsource.fileutil import atomic_write_chunks, sha256_file
from fromsource.pipconfig import default_index_url
from fromsource.pkginfo import read_pkg_info
from fromsource.policy import external_policy_line
from fromsource.untrusted import load_json
from fromsource.wheelstore import best_wheel

_CHUNK = 1 << 16
_PUBLISHED = "the index publishes"


class ProjectNotFoundError(IndexError_):
    """The index has no page for the project (HTTP 404, or no sdist in a directory)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SdistCandidate:
    """One sdist file an index offers."""

    name: NormalizedName
    version: Version
    filename: str
    url: str
    sha256: str | None  # None only when the index publishes no sha256
    requires_python: str | None = None
    yanked: bool = False
    provenance_url: str | None = None  # PEP 740 provenance object the index links, if any
    unverified: str | None = None  # why nothing vouches for the bytes (no sha256, plain http)

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.filename})"


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelCandidate:
    """One published wheel file an index offers (a possible *external*, never a build)."""

    name: NormalizedName
    version: Version
    filename: str
    url: str
    sha256: str | None  # None only when the index publishes no sha256
    tags: frozenset[Tag]
    build_tag: BuildTag = ()
    requires_python: str | None = None
    yanked: bool = False
    provenance_url: str | None = None  # PEP 740 provenance the index links, if any
    unverified: str | None = None  # why nothing vouches for the bytes (no sha256, plain http)

    @property
    def pure(self) -> bool:
        """True when every tag is ``*-none-any`` (no compiled code for one platform)."""
        return all(t.abi == "none" and t.platform == "any" for t in self.tags)

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.filename})"


class Index(Protocol):
    """A source of sdists (and, for externals, wheels).

    Implementations: :class:`SimpleIndex`, :class:`LocalDirIndex`, :class:`MultiIndex`.
    """

    def candidates(self, name: str) -> list[SdistCandidate]:
        """Every sdist of ``name``; raises :class:`ProjectNotFoundError` if there is none."""
        ...

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        """The verified sdist at ``dest_dir / candidate.filename`` (reused when cached)."""
        ...

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        """Every published wheel of ``name`` (possibly none).

        Raises :class:`ProjectNotFoundError` only when the index has no page for the project.
        """
        ...

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        """The verified wheel at ``dest_dir / candidate.filename`` (reused when cached).

        With ``expected_sha256`` (a policy's digest) the file must have exactly that digest,
        and a different digest published by the index is refused before downloading.
        """
        ...

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate,
                         limit: int) -> bytes | None:
        """The PEP 740 provenance object the index links for ``candidate`` (at most
        ``limit`` bytes, else :class:`IndexError_`), or ``None`` when it links none."""
        ...


# ------------------------------------------------------------------------- simple index


class SimpleIndex:
    """A PEP 691 (JSON) / PEP 503 (HTML) index, parsed by pypi-simple.

    Connection errors, timeouts and 5xx answers are retried with exponential backoff.
    Pass ``session`` to share connections; a session created here is closed by
    :meth:`close` (or the ``with`` statement).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        rules: FetchRules = DEFAULT_RULES,
    ) -> None:
        self.url = (url or default_index_url()).rstrip("/") + "/"
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self.rules = rules
        self._fetcher = Fetcher(self._session, rules, timeout=timeout, retries=retries,
                                backoff=backoff, sleep=sleep)
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._pages: dict[NormalizedName, _Listing] = {}

    def __enter__(self) -> SimpleIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __repr__(self) -> str:
        return f"SimpleIndex({self.url!r})"

    def candidates(self, name: str) -> list[SdistCandidate]:
        return list(self._listing(name).sdists)

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        return list(self._listing(name).wheels)

    def _listing(self, name: str) -> _Listing:
        key = canonicalize_name(name)
        if key not in self._pages:
            url = f"{self.url}{key}/"
            with self._fetcher.open(url, accept=ACCEPT_JSON_PREFERRED) as response:
                if response.status_code == 404:
                    raise ProjectNotFoundError(f"project {key!r} not found on {self.url} (404)")
                check_status(response, url)
                body = b"".join(self._fetcher.chunks(
                    response, limit=self.rules.max_page_bytes, what="index page"))
                page = _parse_page(response, body, key, url)
            if len(page.packages) > self.rules.max_files_per_page:
                raise IndexError_(f"{url} lists {len(page.packages)} files (limit "
                                  f"{self.rules.max_files_per_page} files per page)")
            unverified = insecure_reason(url)
            self._pages[key] = _Listing(_sdists(key, page, unverified),
                                        _wheels(key, page, unverified))
        return self._pages[key]

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        return self._download(candidate, dest_dir)

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        return self._download(_expecting(candidate, expected_sha256), dest_dir,
                              claim=_claim(expected_sha256))

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate,
                         limit: int) -> bytes | None:
        url = candidate.provenance_url
        if url is None:
            return None
        with self._fetcher.open(url, accept="application/json") as response:
            if response.status_code == 404:
                return None
            check_status(response, url)
            return b"".join(self._fetcher.chunks(response, limit=limit, what="provenance"))

    def _download(self, candidate: _Fetchable, dest_dir: Path, *, claim: str = _PUBLISHED
                  ) -> Path:
        dest = _cache_path(candidate, dest_dir)
        if candidate.unverified is not None and not self.rules.allow_unverified:
            raise IndexError_(
                f"refusing {candidate.filename}: its integrity cannot be checked "
                f"({candidate.unverified})",
                hint="use an index that publishes sha256 digests over https, or pass "
                "--allow-unverified-sources (the provenance then records it)",
            )
        if _cached_ok(candidate, dest):
            return dest
        for attempt in _attempts(self._retries):
            try:
                with self._fetcher.open(candidate.url) as response:
                    if response.status_code == 404:
                        raise IndexError_(f"{candidate.filename}: {candidate.url} answered 404")
                    check_status(response, candidate.url)
                    chunks = self._fetcher.chunks(response, limit=self.rules.max_download_bytes,
                                                  what="download")
                    _write_verified(candidate, chunks, dest, claim)
                return dest
            except BrokenTransferError:  # broke off mid-body: retry; anything else is final
                if attempt.last:
                    raise
                self._sleep(self._backoff * 2**attempt.number)
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class _Attempt:
    number: int
    last: bool


def _attempts(retries: int) -> Iterator[_Attempt]:
    for number in range(retries + 1):
        yield _Attempt(number, number == retries)


@dataclass(frozen=True, slots=True)
class _Listing:
    sdists: list[SdistCandidate]
    wheels: list[WheelCandidate]


def _parse_page(response: requests.Response, body: bytes, project: str, url: str
                ) -> ProjectPage:
    """pypi-simple's reading of a page whose bytes were read (bounded) by the fetcher."""
    content_type = response.headers.get("Content-Type", "text/html")
    kind, _, params = content_type.partition(";")
    kind = kind.strip().lower()
    charset = next((p.split("=", 1)[1].strip().strip('"') for p in params.split(";")
                    if p.strip().lower().startswith("charset=")), None)
    try:
        if kind == "application/vnd.pypi.simple.v1+json":
            data = load_json(body, source=url, error=IndexError_)
            page = ProjectPage.from_json_data(data, response.url)
        elif kind in ("application/vnd.pypi.simple.v1+html", "text/html"):
            page = ProjectPage.from_html(project=project, html=body, base_url=response.url,
                                         from_encoding=charset)
        else:
            raise IndexError_(f"{url} answered with content type {content_type!r}, "
                              "not a simple-API page")
    except (UnsupportedRepoVersionError, ValueError, TypeError, KeyError, AttributeError,
            RecursionError) as exc:
        raise IndexError_(f"{url} is not a usable simple-API page: {exc}") from exc
    return page


def _unverified(page_reason: str | None, url: str, sha256: str | None) -> str | None:
    reasons = [r for r in (page_reason and f"index page {page_reason}", insecure_reason(url),
                           None if sha256 else "the index publishes no sha256 for it") if r]
    return "; ".join(dict.fromkeys(reasons)) or None


def _sdists(name: NormalizedName, page: ProjectPage, page_reason: str | None = None
            ) -> list[SdistCandidate]:
    found = []
    for package in page.packages:
        if package.package_type != "sdist":
            continue
        parsed = _parse_sdist(package.filename)
        if parsed is None or parsed[0] != name:
            continue
        found.append(
            SdistCandidate(
                name=name,
                version=parsed[1],
                filename=package.filename,
                url=package.url,
                sha256=package.digests.get("sha256"),
                requires_python=package.requires_python,
                yanked=package.is_yanked,
                provenance_url=package.provenance_url,
                unverified=_unverified(page_reason, package.url, package.digests.get("sha256")),
            )
        )
    return found


def _wheels(name: NormalizedName, page: ProjectPage, page_reason: str | None = None
            ) -> list[WheelCandidate]:
    found = []
    for package in page.packages:
        if package.package_type != "wheel":
            continue
        candidate = _wheel_candidate(
            package.filename, package.url, package.digests.get("sha256"),
            requires_python=package.requires_python, yanked=package.is_yanked,
            provenance_url=package.provenance_url,
        )
        if candidate is not None and candidate.name == name:
            found.append(replace(candidate, unverified=_unverified(
                page_reason, candidate.url, candidate.sha256)))
    return found


def _wheel_candidate(
    filename: str, url: str, sha256: str | None, *, requires_python: str | None = None,
    yanked: bool = False, provenance_url: str | None = None,
) -> WheelCandidate | None:
    try:
        name, version, build_tag, tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return None
    return WheelCandidate(
        name=name, version=version, filename=filename, url=url,
        sha256=sha256.lower() if sha256 else None, tags=tags, build_tag=build_tag,
        requires_python=requires_python, yanked=yanked, provenance_url=provenance_url,
    )


def _parse_sdist(filename: str) -> tuple[NormalizedName, Version] | None:
    try:
        return parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return None


# ---------------------------------------------------------------------- local directory


class LocalDirIndex:
    """A flat directory of sdists (``--find-links DIR``), for offline and frozen runs.

    Digests are computed from the files; ``Requires-Python`` is read from each PKG-INFO
    (sdists only: a wheel's is not read). ``*.whl`` files are listed by
    :meth:`wheel_candidates` only.
    """

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise InputError(f"--find-links {path}: not a directory")
        self.path = path
        self._cache: dict[NormalizedName, list[SdistCandidate]] = {}
        self._wheel_cache: dict[NormalizedName, list[WheelCandidate]] = {}

    def __repr__(self) -> str:
        return f"LocalDirIndex({str(self.path)!r})"

    def candidates(self, name: str) -> list[SdistCandidate]:
        key = canonicalize_name(name)
        if key not in self._cache:
            found = [self._candidate(key, version, path)
                     for path, (pname, version) in self._sdists() if pname == key]
            if not found:
                raise ProjectNotFoundError(f"no sdist of {key!r} in {self.path}")
            self._cache[key] = found
        return list(self._cache[key])

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        key = canonicalize_name(name)
        if key not in self._wheel_cache:
            found = []
            for path in sorted(self.path.glob("*.whl")):
                if not path.is_file():
                    continue
                candidate = _wheel_candidate(path.name, path.resolve().as_uri(), None)
                if candidate is not None and candidate.name == key:
                    found.append(replace(candidate, sha256=sha256_file(path)))
            self._wheel_cache[key] = found
        return list(self._wheel_cache[key])

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        return self._copy(candidate, dest_dir)

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        return self._copy(_expecting(candidate, expected_sha256), dest_dir,
                          claim=_claim(expected_sha256))

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate,
                         limit: int) -> bytes | None:
        # A provenance object kept beside the file (<file>.provenance) plays the index's link.
        source = self.path / f"{candidate.filename}.provenance"
        if not source.is_file():
            return None
        with source.open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise IndexError_(f"{source}: provenance is larger than {limit} bytes")
        return data

    def _copy(self, candidate: _Fetchable, dest_dir: Path, *, claim: str = _PUBLISHED) -> Path:
        dest = _cache_path(candidate, dest_dir)
        source = self.path / dest.name
        if _cached_ok(candidate, dest):
            return dest
        try:
            with source.open("rb") as handle:
                _write_verified(candidate, iter(lambda: handle.read(_CHUNK), b""), dest, claim)
        except FileNotFoundError as exc:
            raise IndexError_(f"{source} disappeared from the --find-links directory") from exc
        return dest

    def _sdists(self) -> Iterator[tuple[Path, tuple[NormalizedName, Version]]]:
        for path in sorted(self.path.iterdir()):
            parsed = _parse_sdist(path.name)
            if parsed is not None and path.is_file():
                yield path, parsed

    def _candidate(self, name: NormalizedName, version: Version, path: Path) -> SdistCandidate:
        try:
            info = read_pkg_info(path)
        except ArchiveError:
            info = None  # unreadable here: the build reports it with full context
        return SdistCandidate(
            name=name,
            version=version,
            filename=path.name,
            url=path.resolve().as_uri(),
            sha256=sha256_file(path),
            requires_python=info.requires_python if info else None,
        )


# --------------------------------------------------------------------------- several


class MultiIndex:
    """Several indexes searched together; the first to list a filename serves it."""

    def __init__(self, indexes: Iterable[Index]) -> None:
        self.indexes = list(indexes)
        self._origin: dict[SdistCandidate, Index] = {}
        self._wheel_origin: dict[WheelCandidate, Index] = {}

    def __repr__(self) -> str:
        return f"MultiIndex({self.indexes!r})"

    def candidates(self, name: str) -> list[SdistCandidate]:
        # No sdist anywhere and some index said "not found": that is the error to show.
        return _merge(self.indexes, lambda i: i.candidates(name), self._origin, strict=False)

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        index = self._origin.get(candidate)
        if index is None:
            raise IndexError_(f"{candidate.filename} was not listed by any configured index")
        return index.fetch(candidate, dest_dir)

    def wheel_candidates(self, name: str) -> list[WheelCandidate]:
        # A local directory of sdists lists no wheels: only every index missing is an error.
        return _merge(self.indexes, lambda i: i.wheel_candidates(name), self._wheel_origin,
                      strict=True)

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        index = self._wheel_origin.get(candidate)
        if index is None:
            raise IndexError_(f"{candidate.filename} was not listed by any configured index")
        return index.fetch_wheel(candidate, dest_dir, expected_sha256=expected_sha256)

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate,
                         limit: int) -> bytes | None:
        index = (self._origin.get(candidate) if isinstance(candidate, SdistCandidate)
                 else self._wheel_origin.get(candidate))
        return index.fetch_provenance(candidate, limit) if index is not None else None


def open_index(
    index_url: str | None = None, find_links: Sequence[Path] = (), *, no_index: bool = False,
    rules: FetchRules = DEFAULT_RULES,
) -> Index:
    """The index a command's ``--index-url`` / ``--find-links`` / ``--no-index`` describe.

    Local directories come first, so a frozen directory wins over the network. Release the
    HTTP sessions with :func:`close_index`.
    """
    indexes: list[Index] = [LocalDirIndex(path) for path in find_links]
    if not no_index:
        indexes.append(SimpleIndex(index_url, rules=rules))
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


def fetch_sdist(name: str, version: str, index_url: str | None, dest_dir: Path, *,
                rules: FetchRules = DEFAULT_RULES) -> Path:
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


# ------------------------------------------------------------------- published wheels


_C = TypeVar("_C", SdistCandidate, WheelCandidate)


def _merge(indexes: Sequence[Index], listing: Callable[[Index], list[_C]],
           origin: dict[_C, Index], *, strict: bool) -> list[_C]:
    """Candidates of every index, first listing of a file name wins; ``origin`` records which
    index to fetch each from. A miss raises when every index missed (``strict``) or when
    nothing was found and some index missed."""
    seen: set[str] = set()
    found: list[_C] = []
    misses: list[str] = []
    for index in indexes:
        try:
            listed = listing(index)
        except ProjectNotFoundError as exc:
            misses.append(exc.message)
            continue
        for candidate in listed:
            if candidate.filename not in seen:
                seen.add(candidate.filename)
                found.append(candidate)
                origin[candidate] = index
    if misses and (len(misses) == len(indexes) if strict else not found):
        raise ProjectNotFoundError("; ".join(misses))
    return found


def _expecting(candidate: WheelCandidate, expected: str | None) -> WheelCandidate:
    """``candidate`` to be checked against ``expected`` (a policy's digest) when given."""
    if expected is None:
        return candidate
    expected = expected.lower()
    if candidate.sha256 is not None and candidate.sha256.lower() != expected:
        raise IndexError_(
            f"{candidate.filename}: expected sha256 {expected}, but {candidate.url} is "
            f"published with sha256 {candidate.sha256}",
            hint="the policy names another file than the index serves under this name",
        )
    return replace(candidate, sha256=expected, unverified=None)  # the caller's digest vouches


# ----------------------------------------------------------------- download and caching


def _claim(expected_sha256: str | None) -> str:
    return _PUBLISHED if expected_sha256 is None else "the caller expects"

_Fetchable = SdistCandidate | WheelCandidate


def _cache_path(candidate: _Fetchable, dest_dir: Path) -> Path:
    name = candidate.filename
    # An index controls this name: refuse anything that would leave dest_dir.
    if not name or name != Path(name).name or name.startswith("."):
        kind = "sdist" if isinstance(candidate, SdistCandidate) else "wheel"
        raise IndexError_(f"refusing {kind} filename {name!r} from {candidate.url}")
    return dest_dir / name


def _cached_ok(candidate: _Fetchable, dest: Path) -> bool:
    # Without a published digest nothing can vouch for a cached copy: fetch again.
    return candidate.sha256 is not None and dest.is_file() and sha256_file(dest) == (
        candidate.sha256.lower()
    )


def _write_verified(
    candidate: _Fetchable, chunks: Iterable[bytes], dest: Path, claim: str = _PUBLISHED
) -> None:
    """Stream ``chunks`` to ``dest`` atomically, refusing them on a digest mismatch."""

    def check(got: str) -> None:
        if candidate.sha256 is not None and got != candidate.sha256.lower():
            raise IndexError_(
                f"hash mismatch for {candidate.filename} from {candidate.url}: "
                f"{claim} sha256 {candidate.sha256}, the download has {got}",
                hint="the file changed after the index listed it, or something tampered with it",
            )

    atomic_write_chunks(dest, chunks, check=check, suffix=".part")


# best_wheel and the policy lines are re-exported until bootstrap imports them from their homes.
__all__ = [
    "Index",
    "LocalDirIndex",
    "MultiIndex",
    "ProjectNotFoundError",
    "SdistCandidate",
    "SimpleIndex",
    "WheelCandidate",
    "best_wheel",
    "close_index",
    "external_policy_line",
    "fetch_sdist",
    "open_index",
    "preferred_sdist",
]
