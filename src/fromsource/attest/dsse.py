"""DSSE envelopes around in-toto Statements, one envelope per line in ``.intoto.jsonl``.

Signing and verification go through securesystemslib's DSSE implementation. Verification
works on the exact payload bytes carried in the envelope and returns them, so nothing is
re-serialised between checking a signature and reading what it covers.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from securesystemslib import exceptions as sslib_exceptions
from securesystemslib.dsse import Envelope
from securesystemslib.signer import Key, Signer

from fromsource.errors import VerificationError
from fromsource.untrusted import MAX_ATTESTATION_BYTES, load_json

PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_ENVELOPE_BYTES = MAX_ATTESTATION_BYTES


def canonical_json(data: Any) -> bytes:
    """Stable serialisation for payloads: sorted keys, no whitespace, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(statement: dict[str, Any], signer: Signer) -> bytes:
    """Return one ``.intoto.jsonl`` line (with trailing newline) holding the signed envelope."""
    envelope = Envelope(payload=canonical_json(statement), payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(signer)
    return json.dumps(envelope.to_dict(), sort_keys=True).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class VerifiedStatement:
    """A statement whose envelope verified, with the keyids that signed it."""

    statement: dict[str, Any]
    payload: bytes
    keyids: tuple[str, ...]


def parse_envelopes(data: bytes, source: str) -> list[Envelope]:
    """Parse every non-empty line of an ``.intoto.jsonl`` file into an envelope."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise VerificationError(f"{source}: attestation file is larger than {MAX_ENVELOPE_BYTES} bytes")
    envelopes = []
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = load_json(line, source="the line", error=VerificationError)
            if not isinstance(raw, dict):
                raise TypeError("not a JSON object")
            envelopes.append(Envelope.from_dict(raw))
        except (VerificationError, ValueError, TypeError, KeyError, binascii.Error, AttributeError) as exc:
            raise VerificationError(f"{source}:{lineno}: not a DSSE envelope ({exc})") from exc
    if not envelopes:
        raise VerificationError(f"{source}: holds no envelope")
    return envelopes


def verify(envelope: Envelope, keys: Sequence[Key], threshold: int = 1) -> VerifiedStatement:
    """Check payload type and signatures, then decode the statement from the signed bytes."""
    if envelope.payload_type != PAYLOAD_TYPE:
        raise VerificationError(f"payloadType is {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}")
    if not keys:
        raise VerificationError("no trusted keys to verify against")
    try:
        accepted = envelope.verify(list(keys), threshold)
    except (sslib_exceptions.VerificationError, ValueError) as exc:
        raise VerificationError(f"signature not valid for any trusted key ({exc})") from exc
    statement = load_json(
        envelope.payload, source="signed payload", error=VerificationError, unique_keys=True
    )
    if not isinstance(statement, dict):
        raise VerificationError("signed payload is not a JSON object")
    return VerifiedStatement(statement, envelope.payload, tuple(sorted(accepted)))
