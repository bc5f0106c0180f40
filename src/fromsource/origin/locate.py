"""Where an sdist's source lives: its repository and the ref of its release (pure).

The repository comes from PKG-INFO's ``Project-URL`` (labels Source, Repository, Code,
GitHub, GitLab, Homepage, normalised as PEP 753 does) or ``Home-page``, on a known code host only: a URL on
any other host could be anything, and a user can always name the repository with ``--repo``.
The ref is the tag that spells the version the usual ways.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from fromsource.errors import OriginError
from fromsource.origin.git import is_commit_id

# Labels normalised as PEP 753 does, most specific first; a code host's own name is a
# common label for the repository (attrs: "GitHub").
_LABELS = ("source", "sourcecode", "repository", "repo", "code", "github", "gitlab", "homepage")
KNOWN_HOSTS = frozenset(
    {
        "github.com",
        "gitlab.com",
        "codeberg.org",
        "bitbucket.org",
        "git.sr.ht",
        "foss.heptapod.net",
        "salsa.debian.org",
    }
)
_URL_SCHEMES = frozenset({"https", "http", "git", "file"})


def _label(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def repository_url(url: str) -> str | None:
    """The clone URL of a project page on a known code host, else None."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.scheme not in {"https", "http"} or host not in KNOWN_HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if "-" in segments:  # GitLab: /group/sub/project/-/tree/main
        segments = segments[: segments.index("-")]
    elif host not in {"gitlab.com", "salsa.debian.org"}:
        segments = segments[:2]  # owner/repo, then pages of it (tree/main, issues...)
    if len(segments) < 2:
        return None
    segments[-1] = segments[-1].removesuffix(".git")
    return f"https://{host}/{'/'.join(segments)}"


def repository_from_metadata(project_urls: Mapping[str, str], home_page: str | None) -> str:
    """The repository PKG-INFO names, or OriginError listing what was looked at."""
    by_label: dict[str, str] = {}
    for text, link in project_urls.items():
        by_label.setdefault(_label(text), link)
    looked = []
    for label in _LABELS:
        url: str | None = by_label.get(label)
        if url is None and label == "homepage":
            url = home_page
        if url:
            looked.append(url)
            found = repository_url(url)
            if found is not None:
                return found
    raise OriginError(
        "PKG-INFO names no repository on a known code host"
        + (
            f" (looked at {', '.join(looked)})"
            if looked
            else " (no Source, Repository, Code or Homepage URL)"
        ),
        hint="name it with --repo URL or --repo PATH",
    )


def remote_of(repo: str) -> str:
    """What to hand ``git fetch``: a URL of an allowed scheme, or an existing directory."""
    if "://" in repo:
        scheme = repo.split("://", 1)[0].lower()
        if scheme not in _URL_SCHEMES:
            raise OriginError(
                f"repository URL {repo!r}: scheme {scheme!r} is not allowed "
                f"(use one of {', '.join(sorted(_URL_SCHEMES))}, or a path)"
            )
        return repo
    path = Path(repo)
    if not path.is_dir():
        raise OriginError(f"no repository at {repo}: not a directory")
    return str(path.absolute())


def tag_candidates(name: str, version: str) -> list[str]:
    """Tag spellings of a release: v1.2.3, 1.2.3, NAME-1.2.3, NAME-v1.2.3 (a few NAMEs)."""
    names = [name, canonicalize_name(name), canonicalize_name(name).replace("-", "_")]
    found: list[str] = []
    for tag in (
        f"v{version}",
        version,
        *(f"{n}-{p}{version}" for n in dict.fromkeys(names) for p in ("", "v")),
    ):
        if tag not in found:
            found.append(tag)
    return found


def choose_ref(refs: Mapping[str, str], name: str, version: str, wanted: str | None) -> str:
    """The full ref (or commit id) to fetch; OriginError when none or several fit."""
    if wanted is not None:
        for full in (wanted, f"refs/tags/{wanted}", f"refs/heads/{wanted}"):
            if full in refs:
                return full
        if is_commit_id(wanted):
            return wanted
        raise OriginError(
            f"the repository has no ref {wanted!r} (tried {wanted}, refs/tags/{wanted}, refs/heads/{wanted})"
        )
    tried = tag_candidates(name, version)
    lower = {ref.lower(): ref for ref in refs if ref.startswith("refs/tags/")}
    matches = [lower[f"refs/tags/{t}".lower()] for t in tried if f"refs/tags/{t}".lower() in lower]
    if not matches:
        raise OriginError(
            f"no tag for {name} {version}: tried {', '.join(tried)}", hint="name the ref with --ref"
        )
    if len({refs[m] for m in matches}) > 1:
        listed = ", ".join(f"{m.removeprefix('refs/tags/')} ({refs[m][:12]})" for m in matches)
        raise OriginError(f"ambiguous tags for {name} {version}: {listed}", hint="name the ref with --ref")
    return matches[0]
