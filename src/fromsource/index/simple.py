"""A PEP 691 (JSON) / PEP 503 (HTML) simple-API index over HTTP, parsed by pypi-simple."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import requests
from packaging.utils import (
    InvalidName,
    NormalizedName,
    canonicalize_name,
)

from fromsource.errors import BrokenTransferError, FromsourceError, IndexError_
from fromsource.fetch import (
    DEFAULT_RULES,
    Fetcher,
    FetchRules,
    check_status,
    insecure_reason,
)
from fromsource.fileutil import sha256_file
from fromsource.index.download import (
    PUBLISHED,
    cache_path,
    cached_ok,
    claim_of,
    expecting,
    write_verified,
)
from fromsource.index.listingcache import ListingCache, page_key
from fromsource.index.model import (
    Fetchable,
    ProjectNotFoundError,
    SdistCandidate,
    WheelCandidate,
    parse_sdist,
    wheel_candidate,
)
from fromsource.pipconfig import default_index_url
from fromsource.untrusted import load_json

if TYPE_CHECKING:
    from pypi_simple import ProjectPage

# pypi-simple's ACCEPT_JSON_PREFERRED, spelled out (tests compare them): importing pypi-simple
# loads its whole page model, which a re-run whose pages are all remembered never needs.
ACCEPT_JSON_PREFERRED = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.5, text/html;q=0.01"
)
# Listings fetched at once by prefetch (an index serves each in tens of milliseconds).
PREFETCH_WORKERS = 8


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
        digest: Callable[[Path], str] = sha256_file,
        listings: ListingCache | None = None,
    ) -> None:
        self.url = (url or default_index_url()).rstrip("/") + "/"
        self.listings = listings  # pages read before, by the digest of their bytes
        self.digest = digest  # of cached downloads; a stat cache spares re-hashing on re-runs
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self.rules = rules
        self._fetcher = Fetcher(
            self._session, rules, timeout=timeout, retries=retries, backoff=backoff, sleep=sleep
        )
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._pages: dict[NormalizedName, _Listing] = {}
        self._missing: dict[NormalizedName, str] = {}  # projects the index answered 404 for

    def __enter__(self) -> SimpleIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
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
        return list(self._listing(name).wheels())

    def prefetch(self, names: Iterable[str], workers: int = PREFETCH_WORKERS) -> None:
        """Fetch the listings of ``names`` concurrently (a re-run knows its projects from the
        last graph); a listing that fails is left for the lazy fetch to raise in context."""
        wanted = set()
        for name in names:  # names from workspace files: only project names become URLs
            with contextlib.suppress(InvalidName):
                wanted.add(canonicalize_name(name, validate=True))
        todo = sorted(wanted - set(self._pages))
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(self._listing, name) for name in todo]:
                with contextlib.suppress(FromsourceError):
                    future.result()

    def page_digest(self, name: str) -> str:
        """The digest of the project's page as fetched this run (see ``listingcache``);
        ``absent`` for a project the index does not have."""
        try:
            return self._listing(name).digest
        except ProjectNotFoundError:
            return "absent"

    def listed(self) -> list[str]:
        """The projects whose listings this index read (for the next run's prefetch)."""
        return sorted({*self._pages, *self._missing})

    def _fetch_page(self, key: NormalizedName, url: str) -> tuple[bytes, str, str, float | None]:
        """A project page's body, content type, final URL and when it stops being fresh."""
        with self._fetcher.open(url, accept=ACCEPT_JSON_PREFERRED) as response:
            if response.status_code == 404:
                raise ProjectNotFoundError(f"project {key!r} not found on {self.url} (404)")
            check_status(response, url)
            body = b"".join(
                self._fetcher.chunks(response, limit=self.rules.max_page_bytes, what="index page")
            )
            return (
                body,
                response.headers.get("Content-Type", "text/html"),
                response.url,
                _fresh_until(response.headers),
            )

    def _listing(self, name: str) -> _Listing:
        key = canonicalize_name(name)
        if key in self._pages:
            return self._pages[key]
        if key in self._missing:  # asked once per run, like any listing
            raise ProjectNotFoundError(self._missing[key])
        url = f"{self.url}{key}/"
        unverified = insecure_reason(url)
        fresh = self.listings.fresh(key, url, time.time()) if self.listings is not None else None
        if fresh is not None:  # the index said the page stays fresh this long: no request
            page_id, sdists, files = fresh
            self._check_count(files, url)

            def fetched_wheels() -> list[WheelCandidate]:
                body, content_type, base, _ = self._fetch_page(key, url)
                return _wheels(key, _parse_page(content_type, base, body, key, url)[1](), unverified)

            self._pages[key] = _Listing(sdists, fetched_wheels, page_id)
            return self._pages[key]
        try:
            body, content_type, base, fresh_until = self._fetch_page(key, url)
        except ProjectNotFoundError as exc:
            self._missing[key] = exc.message
            raise
        page_id = page_key(base, content_type, body)
        cached = self.listings.get(page_id, key) if self.listings is not None else None
        if cached is None:
            sdist_page, _, files = _parse_page(content_type, base, body, key, url)
            self._check_count(files, url)
            sdists = _sdists(key, sdist_page, unverified)
        else:
            sdists, files = cached
            self._check_count(files, url)  # the limit may be lower than when it was read
        if self.listings is not None and (cached is None or fresh_until is not None):
            self.listings.put(page_id, key, sdists, files, url=url, fresh_until=fresh_until)

        def wheels() -> list[WheelCandidate]:
            return _wheels(key, _parse_page(content_type, base, body, key, url)[1](), unverified)

        self._pages[key] = _Listing(sdists, wheels, page_id)
        return self._pages[key]

    def _check_count(self, files: int, url: str) -> None:
        if files > self.rules.max_files_per_page:
            raise IndexError_(
                f"{url} lists {files} files (limit {self.rules.max_files_per_page} files per page)"
            )

    def fetch(self, candidate: SdistCandidate, dest_dir: Path) -> Path:
        return self._download(candidate, dest_dir)

    def fetch_wheel(
        self, candidate: WheelCandidate, dest_dir: Path, *, expected_sha256: str | None = None
    ) -> Path:
        return self._download(
            expecting(candidate, expected_sha256), dest_dir, claim=claim_of(expected_sha256)
        )

    def fetch_provenance(self, candidate: SdistCandidate | WheelCandidate, limit: int) -> bytes | None:
        url = candidate.provenance_url
        if url is None:
            return None
        with self._fetcher.open(url, accept="application/json") as response:
            if response.status_code == 404:
                return None
            check_status(response, url)
            return b"".join(self._fetcher.chunks(response, limit=limit, what="provenance"))

    def _download(self, candidate: Fetchable, dest_dir: Path, *, claim: str = PUBLISHED) -> Path:
        dest = cache_path(candidate, dest_dir)
        if candidate.unverified is not None and not self.rules.allow_unverified:
            raise IndexError_(
                f"refusing {candidate.filename}: its integrity cannot be checked ({candidate.unverified})",
                hint="use an index that publishes sha256 digests over https, or pass "
                "--allow-unverified-sources (the provenance then records it)",
            )
        if cached_ok(candidate, dest, self.digest):
            return dest
        for attempt in _attempts(self._retries):
            try:
                with self._fetcher.open(candidate.url) as response:
                    if response.status_code == 404:
                        raise IndexError_(f"{candidate.filename}: {candidate.url} answered 404")
                    check_status(response, candidate.url)
                    chunks = self._fetcher.chunks(
                        response, limit=self.rules.max_download_bytes, what="download"
                    )
                    write_verified(candidate, chunks, dest, claim)
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


class _Listing:
    """A project's sdists, and its wheels read only when asked for: most listings are mostly
    wheels, and only externals and published comparisons need them."""

    def __init__(
        self, sdists: list[SdistCandidate], wheels: Callable[[], list[WheelCandidate]], digest: str
    ) -> None:
        self.sdists = sdists
        self.digest = digest
        self._read_wheels = wheels
        self._wheels: list[WheelCandidate] | None = None

    def wheels(self) -> list[WheelCandidate]:
        if self._wheels is None:
            self._wheels = self._read_wheels()
        return self._wheels


def _parse_page(
    content_type: str, base: str, body: bytes, project: str, url: str
) -> tuple[ProjectPage, Callable[[], ProjectPage], int]:
    """pypi-simple's reading of a page whose bytes were read (bounded) by the fetcher (its
    final URL ``base``): the sdists' page, the wheels' page (parsed when called) and the
    number of files listed."""
    from pypi_simple import ProjectPage, UnsupportedRepoVersionError

    kind, _, params = content_type.partition(";")
    kind = kind.strip().lower()
    charset = next(
        (
            p.split("=", 1)[1].strip().strip('"')
            for p in params.split(";")
            if p.strip().lower().startswith("charset=")
        ),
        None,
    )

    def guarded(read: Callable[[], ProjectPage]) -> ProjectPage:
        try:
            return read()
        except (
            UnsupportedRepoVersionError,
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            RecursionError,
        ) as exc:
            raise IndexError_(f"{url} is not a usable simple-API page: {exc}") from exc

    if kind == "application/vnd.pypi.simple.v1+json":
        data = load_json(body, source=url, error=IndexError_)
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, list):  # pypi-simple says what is wrong with it
            page = guarded(lambda: ProjectPage.from_json_data(data, base))
            return page, lambda: page, len(page.packages)
        # Only the sdists are parsed now (a page lists wheels by the hundred).
        wheels = [f for f in files if _is_wheel_entry(f)]
        rest = [f for f in files if not _is_wheel_entry(f)]
        sdist_page = guarded(lambda: ProjectPage.from_json_data({**data, "files": rest}, base))
        return (
            sdist_page,
            lambda: guarded(lambda: ProjectPage.from_json_data({**data, "files": wheels}, base)),
            len(files),
        )
    if kind in ("application/vnd.pypi.simple.v1+html", "text/html"):
        page = guarded(
            lambda: ProjectPage.from_html(project=project, html=body, base_url=base, from_encoding=charset)
        )
        return page, lambda: page, len(page.packages)
    raise IndexError_(f"{url} answered with content type {content_type!r}, not a simple-API page")


def _fresh_until(headers: Mapping[str, str]) -> float | None:
    """When a page stops being fresh by its ``Cache-Control: max-age`` (less its ``Age``);
    None when the index does not say, or says not to store or reuse it."""
    control = headers.get("Cache-Control", "").lower()
    if "no-store" in control or "no-cache" in control:
        return None
    match = re.search(r"(?:^|[,\s])max-age=(\d+)", control)
    if match is None:
        return None
    age = headers.get("Age", "0").strip()
    remaining = int(match.group(1)) - (int(age) if age.isdigit() else 0)
    return time.time() + remaining if remaining > 0 else None


def _is_wheel_entry(entry: object) -> bool:
    return isinstance(entry, dict) and str(entry.get("filename", "")).endswith(".whl")


def _unverified(page_reason: str | None, url: str, sha256: str | None) -> str | None:
    reasons = [
        r
        for r in (
            page_reason and f"index page {page_reason}",
            insecure_reason(url),
            None if sha256 else "the index publishes no sha256 for it",
        )
        if r
    ]
    return "; ".join(dict.fromkeys(reasons)) or None


def _sdists(name: NormalizedName, page: ProjectPage, page_reason: str | None = None) -> list[SdistCandidate]:
    found = []
    for package in page.packages:
        if package.package_type != "sdist":
            continue
        parsed = parse_sdist(package.filename)
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


def _wheels(name: NormalizedName, page: ProjectPage, page_reason: str | None = None) -> list[WheelCandidate]:
    found = []
    for package in page.packages:
        if package.package_type != "wheel":
            continue
        candidate = wheel_candidate(
            package.filename,
            package.url,
            package.digests.get("sha256"),
            requires_python=package.requires_python,
            yanked=package.is_yanked,
            provenance_url=package.provenance_url,
        )
        if candidate is not None and candidate.name == name:
            found.append(
                replace(candidate, unverified=_unverified(page_reason, candidate.url, candidate.sha256))
            )
    return found
