"""The pinned sigstore trusted root that publisher evidence is verified against.

sigstore's ``offline=True`` copies its embedded root into the user's cache directory and then
trusts whatever file it finds there. fromsource never reads that directory: the root is a
file named by path and sha256 (the policy's ``[sigstore]`` table), by default the production
root shipped inside the installed sigstore package, read once, checked against its digest and
parsed from those very bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from fromsource.errors import TrustRootError
from fromsource.untrusted import read_file

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot

# A trusted root is a few kilobytes; anything far larger is not one.
MAX_TRUSTED_ROOT_BYTES = 1 << 20
# Where the sigstore package keeps the production instance's embedded root.
_PACKAGED_ROOT = ("_store", "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev", "trusted_root.json")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustRootPin:
    """A trusted root file and the sha256 it must have (``None``: the packaged default)."""

    path: Path
    sha256: str | None = None
    source: str = "sigstore package"


@dataclass(frozen=True, slots=True, kw_only=True)
class PinnedRoot:
    path: Path
    sha256: str
    source: str
    root: TrustedRoot

    def describe(self) -> dict[str, str]:
        return {"path": str(self.path), "sha256": self.sha256, "source": self.source}


def packaged_root_pin() -> TrustRootPin:
    """The production trusted root embedded in the installed sigstore package."""
    path = Path(str(resources.files("sigstore").joinpath(*_PACKAGED_ROOT)))
    return TrustRootPin(path=path, sha256=None, source="sigstore package")


def load_pinned_root(pin: TrustRootPin | None = None) -> PinnedRoot:
    """Read the root once, check its digest, parse the same bytes (no second open)."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootMessage

    pin = pin or packaged_root_pin()
    data = read_file(pin.path, limit=MAX_TRUSTED_ROOT_BYTES, what="trusted root", error=TrustRootError)
    digest = hashlib.sha256(data).hexdigest()
    if pin.sha256 is not None and digest != pin.sha256:
        raise TrustRootError(
            f"trusted root {pin.path} has sha256 {digest}, the policy pins {pin.sha256}",
            hint="the root file changed: review it, then update [sigstore].trusted_root_sha256",
        )
    try:
        # What TrustedRoot.from_file does, but on the bytes just hashed.
        root = TrustedRoot(TrustedRootMessage.from_json(data))
    except (ValueError, SigstoreError) as exc:
        raise TrustRootError(f"{pin.path} is not a sigstore trusted root: {_first_line(exc)}") from exc
    return PinnedRoot(path=pin.path, sha256=digest, source=pin.source, root=root)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
