"""``--rebuild``: build the sdist and compare the metadata it produces with the wheel's.

When the sdist's PKG-INFO is not authoritative for Requires-Dist (Metadata-Version before
2.2, or the field marked Dynamic), only a build says what the sdist really produces. The
sdist is built with :func:`fromsource.build.build_sdist` into a temporary workspace whose
build requirements come from ``--workspace DIR``'s wheels (with their attestations, as any
fromsource build demands); the built wheel's METADATA then settles the question. Signing
uses a throwaway key: the built wheel is discarded.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fromsource.archives import open_zip
from fromsource.errors import BuildError


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        dest.hardlink_to(src)
    except OSError:
        shutil.copy2(src, dest)


def _seed(temporary: Path, workspace: Path | None) -> None:
    """Offer ``workspace``'s wheels and their attestations to the temporary workspace."""
    from fromsource.attest.locate import attestation_of
    from fromsource.workspace import Workspace

    target = Workspace(temporary).create()
    if workspace is None:
        return
    source = Workspace(workspace)
    for wheel in source.wheel_files():
        _link_or_copy(wheel, target.wheels / wheel.name)
        attestation = attestation_of(wheel, source.attestations)
        if attestation.is_file():
            _link_or_copy(attestation, target.attestation_for(wheel.name))


def built_metadata(sdist: Path, workspace: Path | None = None) -> bytes:
    """The METADATA of the wheel that building ``sdist`` produces.

    Raises :class:`~fromsource.errors.MissingRequirementError` when a build requirement
    has no (attested) wheel in ``workspace``'s wheels/, and
    :class:`~fromsource.errors.BuildError` when the build fails.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from securesystemslib.signer import CryptoSigner

    from fromsource.attest.keys import public_key_from_crypto
    from fromsource.build import build_sdist
    from fromsource.workspace import Workspace

    key = Ed25519PrivateKey.generate()
    signer = CryptoSigner(key, public_key_from_crypto(key.public_key()))
    with tempfile.TemporaryDirectory(prefix="fromsource-rebuild-") as tmp:
        root = Path(tmp) / "workspace"
        _seed(root, workspace)
        result = build_sdist(sdist, Workspace(root), signer, update_index=False, output_dir=Path(tmp))
        with open_zip(result.wheel) as built:
            names = [n for n in built.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise BuildError(f"{result.wheel.name}: the built wheel has no single METADATA")
            return built.read(names[0])
