"""Check an sdist against its project's tagged source tree.

1. The repository (``repo`` or PKG-INFO's project URLs) and the ref (``ref`` or the tag that
   spells the version) are found; only that ref is fetched, shallow, by the git binary.
2. The sdist is streamed once through :mod:`fromsource.archives` (the same safe reader as
   builds); each member is matched against the tree by git blob id. (Without ``repo`` and
   ``ref`` both given, the archive is first read up to PKG-INFO to find them.)
3. What does not match is read from git in one batch and classified
   (:mod:`fromsource.origin.compare`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.metadata import parse_email
from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from fromsource.archives import DEFAULT_LIMITS, Limits, Link, iter_entries, iter_members
from fromsource.errors import ArchiveError, OriginError
from fromsource.fileutil import sha256_file
from fromsource.origin.compare import Comparer, Comparison
from fromsource.origin.git import Git
from fromsource.origin.locate import choose_ref, remote_of, repository_from_metadata


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginReport:
    sdist: str
    sdist_sha256: str
    name: str
    version: str
    repository: str  # the URL, or the absolute path of a local repository
    ref: str  # full ref name (refs/tags/v1.2.3) or the commit id asked for
    commit: str
    object_format: str
    comparison: Comparison

    @property
    def matches(self) -> bool:
        return self.comparison.matches

    @property
    def ref_name(self) -> str:
        return self.ref.removeprefix("refs/tags/").removeprefix("refs/heads/")

    def finding_lines(self) -> list[str]:
        return [f"{f.path}: {f.status}: {f.reason}" for f in self.comparison.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "fromsource.origin-report",
            "format_version": 1,
            "sdist": {"name": self.sdist, "sha256": self.sdist_sha256},
            "project": {"name": self.name, "version": self.version},
            "repository": self.repository,
            "ref": self.ref,
            "commit": self.commit,
            "objectFormat": self.object_format,
            "matches": self.matches,
            "counts": self.comparison.counts(),
            "filesDigest": self.comparison.files_digest(),
            "findings": [f.to_dict() for f in self.comparison.findings],
            "files": [f.to_dict() for f in self.comparison.files],
            "treeOnly": list(self.comparison.tree_only),
        }


@dataclass(frozen=True, slots=True)
class _Metadata:
    name: str
    version: str
    project_urls: dict[str, str]
    home_page: str | None


def _read_metadata(sdist: Path, limits: Limits) -> _Metadata:
    """Name, version and project URLs from ``<top>/PKG-INFO`` (the file name as fallback)."""
    data = None
    for member in iter_members(sdist, limits):  # abandoned at PKG-INFO
        if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
            data = member.data
            break
    return _metadata(sdist, data)


def _metadata(sdist: Path, data: bytes | None) -> _Metadata:
    raw = parse_email(data)[0] if data is not None else {}
    name, version = raw.get("name"), raw.get("version")
    if not name or not version:
        try:
            parsed_name, parsed_version = parse_sdist_filename(sdist.name)
        except InvalidSdistFilename as exc:
            raise OriginError(
                f"{sdist.name}: no PKG-INFO with Name and Version, and the file name is not an sdist's"
            ) from exc
        name, version = name or str(parsed_name), version or str(parsed_version)
    return _Metadata(name, version, dict(raw.get("project_urls", {})), raw.get("home_page"))


def check_origin(
    sdist: Path, *, repo: str | None = None, ref: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> OriginReport:
    """Compare ``sdist`` with the tree at ``ref`` of ``repo``; raise OriginError when
    that cannot be done (no repository, no such ref), return the report otherwise."""
    if not sdist.is_file():
        raise OriginError(f"sdist {sdist} does not exist")
    # With both given, PKG-INFO is read during the one pass over the archive; otherwise it is
    # needed first (stopping at it) to find the repository or the tag.
    meta = _read_metadata(sdist, limits) if repo is None or ref is None else None
    if repo is not None:
        repository = repo
    else:
        assert meta is not None  # noqa: S101 - read above when repo is None
        repository = repository_from_metadata(meta.project_urls, meta.home_page)
    remote = remote_of(repository)
    with tempfile.TemporaryDirectory(prefix="fromsource-origin-") as scratch:
        git = Git(Path(scratch), remote)
        refs = git.remote_refs()
        git.init("sha256" if any(len(oid) == 64 for oid in refs.values()) else "sha1")
        full_ref = choose_ref(refs, meta.name if meta else "", meta.version if meta else "", ref)
        commit = git.fetch(full_ref, refs)
        comparer = Comparer(git.tree(commit), object_format=git.object_format)
        top: str | None = None
        pkg_info: bytes | None = None
        for member in iter_entries(sdist, limits):
            head, _, rest = member.name.partition("/")
            if top is None:
                top = head
            if head != top or not rest:
                raise ArchiveError(
                    f"{sdist.name}: an sdist holds one top-level directory; found {top!r} and {member.name!r}"
                )
            if isinstance(member, Link):
                target = member.target.removeprefix(f"{top}/") if member.hard else member.target
                comparer.add_link(rest, target, hard=member.hard)
                continue
            if rest == "PKG-INFO":
                pkg_info = member.data
            comparer.add(rest, member.data, member.mode)
        meta = meta or _metadata(sdist, pkg_info)
        comparison = comparer.finish(git, commit, name=meta.name, version=meta.version)
    return OriginReport(
        sdist=sdist.name,
        sdist_sha256=sha256_file(sdist),
        name=meta.name,
        version=meta.version,
        repository=remote if "://" not in remote else repository,
        ref=full_ref,
        commit=commit,
        object_format=git.object_format,
        comparison=comparison,
    )
