"""Downloads of index files: digest-checked, written atomically under their own name, and
re-verified when a cached copy is reused."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from fromsource.errors import IndexError_
from fromsource.fileutil import atomic_write_chunks, sha256_file
from fromsource.index.model import Fetchable, SdistCandidate, WheelCandidate

CHUNK = 1 << 16
PUBLISHED = "the index publishes"


def expecting(candidate: WheelCandidate, expected: str | None) -> WheelCandidate:
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


def claim_of(expected_sha256: str | None) -> str:
    return PUBLISHED if expected_sha256 is None else "the caller expects"


def cache_path(candidate: Fetchable, dest_dir: Path) -> Path:
    name = candidate.filename
    # An index controls this name: refuse anything that would leave dest_dir.
    if not name or name != Path(name).name or name.startswith("."):
        kind = "sdist" if isinstance(candidate, SdistCandidate) else "wheel"
        raise IndexError_(f"refusing {kind} filename {name!r} from {candidate.url}")
    return dest_dir / name


def cached_ok(candidate: Fetchable, dest: Path, digest: Callable[[Path], str] = sha256_file) -> bool:
    # Without a published digest nothing can vouch for a cached copy: fetch again.
    return candidate.sha256 is not None and dest.is_file() and digest(dest) == (candidate.sha256.lower())


def write_verified(candidate: Fetchable, chunks: Iterable[bytes], dest: Path, claim: str = PUBLISHED) -> None:
    """Stream ``chunks`` to ``dest`` atomically, refusing them on a digest mismatch."""

    def check(got: str) -> None:
        if candidate.sha256 is not None and got != candidate.sha256.lower():
            raise IndexError_(
                f"hash mismatch for {candidate.filename} from {candidate.url}: "
                f"{claim} sha256 {candidate.sha256}, the download has {got}",
                hint="the file changed after the index listed it, or something tampered with it",
            )

    # A cache: a copy is re-hashed before it is reused, so a power cut costs a download.
    atomic_write_chunks(dest, chunks, check=check, suffix=".part", durable=False)
