"""An index page's sdists, remembered by the digest of the page's bytes.

A re-run fetches every listing again (new releases must be seen), but most pages come back
byte for byte the same, and reading one (JSON, its depth check, pypi-simple's model of every
file) costs far more than fetching it. Entries live in ``WORKSPACE/cache/listings/`` named
by the project and the sha256 of the page's final URL, content type and body, so any change
to the page is a new entry (replacing the project's old one). When the index says how long
a page stays fresh (``Cache-Control: max-age``, which pip's HTTP cache honours too), an entry
younger than that answers without any request. It is the workspace's own
state (as trusted as ``sources/`` and the signing key beside it); an entry that does not
read strictly counts as absent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from fromsource.cachefile import read_cache, write_cache
from fromsource.index.model import SdistCandidate

FORMAT = "fromsource.listing"
FORMAT_VERSION = 1
_TEXT = ("filename", "url")
_OPTIONAL_TEXT = ("sha256", "requires_python", "provenance_url", "unverified")


def page_key(url: str, content_type: str, body: bytes) -> str:
    """What an entry is named by: the page's final URL (relative links resolve against it),
    its content type and its bytes."""
    digest = hashlib.sha256()
    for part in (url.encode(), b"\0", content_type.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


class ListingCache:
    """Sdist candidates and file counts of pages by :func:`page_key`, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, project: NormalizedName, key: str) -> Path:
        return self.directory / f"{project}-{key}.json"

    def get(self, key: str, project: NormalizedName) -> tuple[list[SdistCandidate], int] | None:
        """(sdists, files) of the page with this key, if it was read before."""
        data = read_cache(self._path(project, key), "listing cache")
        try:
            return None if data is None else _read(data, key, project)
        except (ValueError, InvalidVersion):
            return None

    def fresh(
        self, project: NormalizedName, url: str, now: float
    ) -> tuple[str, list[SdistCandidate], int] | None:
        """(key, sdists, files) of the project's page fetched from ``url`` while the index's
        ``max-age`` for it has not run out; else None (fetch it)."""
        for path in self._entries(project):
            data = read_cache(path, "listing cache")
            key = path.name[len(project) + 1 : -len(".json")]
            if not isinstance(data, dict) or data.get("url") != url:
                continue
            fresh_until = data.get("fresh_until")
            if not isinstance(fresh_until, float) or fresh_until <= now:
                continue
            try:
                sdists, files = _read(data, key, project)
            except (ValueError, InvalidVersion):
                continue
            return key, sdists, files
        return None

    def _entries(self, project: NormalizedName) -> list[Path]:
        # The same length: the same project ("foo-*" also matches "foo-bar-<key>").
        length = len(self._path(project, "0" * 64).name)
        if not self.directory.is_dir():
            return []
        return [p for p in self.directory.glob(f"{project}-*.json") if len(p.name) == length]

    def put(
        self,
        key: str,
        project: NormalizedName,
        sdists: list[SdistCandidate],
        files: int,
        *,
        url: str,
        fresh_until: float | None = None,
    ) -> None:
        """Remember a page read from ``url``; the project's older pages are dropped (one
        entry each). ``fresh_until``: when the index's ``max-age`` for it runs out."""
        path = self._path(project, key)
        for old in self._entries(project):
            if old != path:
                old.unlink(missing_ok=True)
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "key": key,
            "url": url,
            "fresh_until": fresh_until,
            "files": files,
            "sdists": [
                {
                    "name": c.name,
                    "version": str(c.version),
                    "filename": c.filename,
                    "url": c.url,
                    "sha256": c.sha256,
                    "requires_python": c.requires_python,
                    "yanked": c.yanked,
                    "provenance_url": c.provenance_url,
                    "unverified": c.unverified,
                }
                for c in sdists
            ],
        }
        write_cache(path, doc)


def _read(data: Any, key: str, project: NormalizedName) -> tuple[list[SdistCandidate], int]:
    """The strict reading of an entry; ValueError on anything unexpected."""
    fields = {"format", "format_version", "key", "url", "fresh_until", "files", "sdists"}
    if not isinstance(data, dict) or set(data) != fields:
        raise ValueError("not a listing entry")
    if (data["format"], data["format_version"], data["key"]) != (FORMAT, FORMAT_VERSION, key):
        raise ValueError("another format, version or page")
    if type(data["files"]) is not int or not isinstance(data["sdists"], list):
        raise ValueError("files or sdists of the wrong type")
    if not isinstance(data["url"], str) or not (
        data["fresh_until"] is None or isinstance(data["fresh_until"], float)
    ):
        raise ValueError("url or fresh_until of the wrong type")
    found = []
    fields = {"name", "version", "yanked", *_TEXT, *_OPTIONAL_TEXT}
    for entry in data["sdists"]:
        if not isinstance(entry, dict) or set(entry) != fields or entry["name"] != project:
            raise ValueError("an sdist entry with other fields or of another project")
        if not all(isinstance(entry[f], str) for f in ("version", *_TEXT)):
            raise ValueError("an sdist entry's text fields are not text")
        if not all(entry[f] is None or isinstance(entry[f], str) for f in _OPTIONAL_TEXT):
            raise ValueError("an sdist entry's optional fields are not text")
        if not isinstance(entry["yanked"], bool):
            raise ValueError("yanked is not a boolean")
        found.append(
            SdistCandidate(
                name=project,
                version=Version(entry["version"]),
                filename=entry["filename"],
                url=entry["url"],
                sha256=entry["sha256"],
                requires_python=entry["requires_python"],
                yanked=entry["yanked"],
                provenance_url=entry["provenance_url"],
                unverified=entry["unverified"],
            )
        )
    return found, data["files"]
