"""The one HTTP path: index pages and downloads, bounded and with scheme and host rules.

An index or mirror is untrusted: it may answer with a page that never ends, a download that
never ends, a redirect loop, a redirect to another scheme or to this machine, or plain HTTP
that anyone on the path can rewrite. :class:`Fetcher` is the only code that talks HTTP:

- pages are read into memory up to :attr:`FetchRules.max_page_bytes`, downloads streamed
  up to :attr:`FetchRules.max_download_bytes`; both are checked against ``Content-Length``
  first and against the bytes actually received while streaming;
- redirects are followed by hand, at most :attr:`FetchRules.max_redirects`, each hop
  checked: ``http``/``https`` only, never from https down to http, never from another host
  to a loopback address;
- plain ``http`` to a host that is not loopback is refused unless
  :attr:`FetchRules.allow_unverified` (the user's explicit opt-in);
- every transport failure is an :class:`~fromsource.errors.IndexError_`, never an exception
  of the HTTP library.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from fromsource.errors import BrokenTransferError, IndexError_

__all__ = [
    "DEFAULT_RULES",
    "FetchRules",
    "Fetcher",
    "check_status",
    "insecure_reason",
    "is_loopback",
    "transport_error",
]

_CHUNK = 1 << 16
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchRules:
    """Limits and the integrity opt-in for everything fetched over HTTP."""

    max_page_bytes: int = 32 * _MIB
    max_download_bytes: int = 1024 * _MIB
    max_files_per_page: int = 100_000
    max_redirects: int = 5
    # Accept sources whose integrity nothing vouches for: no sha256 from the index, or plain
    # HTTP to another machine. Provenance records it; see docs/security.md.
    allow_unverified: bool = False


DEFAULT_RULES = FetchRules()


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_reason(url: str) -> str | None:
    """Why fetching ``url`` cannot be integrity-checked in transit, or None when it can."""
    parts = urlsplit(url)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"fetched over plain http from {parts.hostname}"
    return None


class Fetcher:
    """GET with bounded bodies, checked redirects and retries (connection errors, 5xx)."""

    def __init__(
        self,
        session: requests.Session,
        rules: FetchRules = DEFAULT_RULES,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session, self.rules = session, rules
        self._timeout, self._retries, self._backoff, self._sleep = timeout, retries, backoff, sleep

    def check_url(self, url: str, *, came_from: str | None = None) -> None:
        """Refuse a URL (or a redirect hop to it) that breaks the scheme and host rules."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise IndexError_(
                f"refusing to fetch {url!r}: only http(s) URLs with a host are "
                "fetched" + (f" (redirected from {came_from})" if came_from else "")
            )
        if came_from is not None:
            before = urlsplit(came_from)
            if before.scheme == "https" and parts.scheme == "http":
                raise IndexError_(
                    f"refusing the redirect from {came_from} to {url}: https must not be downgraded to http"
                )
            if is_loopback(parts.hostname) and not is_loopback(before.hostname):
                raise IndexError_(
                    f"refusing the redirect from {came_from} to {url}: "
                    "a remote server may not send us to this machine"
                )
        reason = insecure_reason(url)
        if reason is not None and not self.rules.allow_unverified:
            raise IndexError_(
                f"refusing {url}: plain http to {parts.hostname} can be rewritten by anyone on the path",
                hint="use an https index URL, or pass --allow-unverified-sources (recorded "
                "in the provenance) if you accept that",
            )

    @contextlib.contextmanager
    def open(self, url: str, *, accept: str | None = None) -> Iterator[requests.Response]:
        """A streaming response after checked redirects; always closed. Status not checked."""
        headers = {"Accept": accept} if accept else {}
        hops = 0
        current = url
        self.check_url(current)
        while True:
            response = self._get_once(current, headers)
            if response.status_code not in _REDIRECTS:
                break
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise IndexError_(f"{current} answered a redirect without a Location")
            hops += 1
            if hops > self.rules.max_redirects:
                raise IndexError_(
                    f"{url}: more than {self.rules.max_redirects} redirects (redirect limit)",
                    hint="the index may be redirecting in a loop",
                )
            target = urljoin(current, location)
            self.check_url(target, came_from=current)
            current = target
        try:
            yield response
        finally:
            response.close()

    def _get_once(self, url: str, headers: dict[str, str]) -> requests.Response:
        """One GET (no redirects followed), retried on connection errors, timeouts and 5xx."""
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self.session.get(
                    url, headers=headers, timeout=self._timeout, stream=True, allow_redirects=False
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise transport_error(url, exc) from exc
            except (requests.RequestException, ValueError) as exc:  # bad URL, odd scheme
                raise transport_error(url, exc) from exc
            else:
                if response.status_code < 500 or last:
                    return response
                response.close()
            self._sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def chunks(self, response: requests.Response, *, limit: int, what: str) -> Iterator[bytes]:
        """The body of ``response``, refusing it beyond ``limit`` bytes (declared or received)."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_big(response.url, what, limit, f"it declares {declared} bytes")
        received = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                received += len(chunk)
                if received > limit:
                    raise _too_big(response.url, what, limit, "more arrived")
                yield chunk
        except requests.RequestException as exc:
            raise BrokenTransferError(
                f"the transfer of {response.url} broke off: {exc}", hint="check the network; it was retried"
            ) from exc


def check_status(response: requests.Response, url: str) -> None:
    if response.status_code >= 400:
        raise IndexError_(
            f"{url} answered HTTP {response.status_code} {response.reason}",
            hint="check --index-url; 5xx answers were retried"
            if response.status_code >= 500
            else "check --index-url and any credentials it needs",
        )


def _too_big(url: str, what: str, limit: int, detail: str) -> IndexError_:
    option = {"index page": "--max-page-size", "download": "--max-download-size"}.get(what)
    return IndexError_(
        f"{url}: {what} larger than the {limit}-byte limit ({detail})",
        hint=f"raise {option} if this is expected" if option else None,
    )


def transport_error(url: str, exc: Exception) -> IndexError_:
    if isinstance(exc, requests.Timeout):
        return IndexError_(f"timed out fetching {url}", hint="retry later or raise the timeout")
    return IndexError_(f"cannot fetch {url}: {exc}", hint="check the network and --index-url")
