"""Long encoded literals: whether base64/hex text could hide code a loader would run.

Used by both parsers of the hidden-code check (:mod:`fromsource.inspect.codecheck` on
``ast``, :mod:`fromsource.inspect.cstcheck` on libcst): a literal is flagged only when it is
one long run of the base64/hex alphabet that decodes, at some alignment, to source text, a
compressed or archive stream, serialised code or an executable. Digits of pi, test vectors
and keys decode to random bytes and are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LONG_ENCODED = 1000  # characters of base64/hex alphabet in one literal
ENCODED = re.compile(r"[A-Za-z0-9+/=_-]+")


def looks_encoded(value: str | bytes) -> bool:
    """One long run of the base64/hex alphabet, in lines of at least 40, that may hide code."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    packed = compact(text)
    if len(packed) < LONG_ENCODED:
        return False
    runs = ENCODED.findall(packed)
    longest_line = max((len(line.strip()) for line in text.splitlines()), default=0)
    return len(runs) == 1 and len(runs[0]) == len(packed) and longest_line >= 40 and may_hide_code(packed)


# What a decoded payload must look like to run: source text, a compressed or archive stream,
# serialised code, or an executable. Multi-byte magics, so random bytes rarely match.
_LOADABLE_MAGIC = (
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x5d\x00\x00",
    b"PK\x03\x04",
    b"\x7fELF",
    b"MZ",
    b"\xcf\xfa\xed\xfe",
    b"\xce\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
_HEX = re.compile(r"[0-9a-fA-F]+")
_SAMPLE = 1 << 16


def may_hide_code(compact: str) -> bool:
    """Whether base64/hex text decodes, at any alignment, to something a loader could run.

    Random-looking bytes (digits of pi, test vectors, keys) are data: to run, they would need
    a decoding step before ``exec``, which the ``exec-decoded`` rule looks for.
    """
    return any(_loadable(data) for data in _decodings(compact[: _SAMPLE * 2]))


def _decodings(compact: str) -> Iterator[bytes]:
    import base64
    import binascii

    if _HEX.fullmatch(compact):
        for start in (0, 1):  # a leading nibble would shift every byte
            text = compact[start:]
            yield bytes.fromhex(text[: len(text) // 2 * 2])
    standard = compact.replace("-", "+").replace("_", "/").replace("=", "")
    for start in range(4):  # leading characters shift the base64 quanta
        text = standard[start:]
        try:
            yield base64.b64decode(text[: len(text) // 4 * 4])
        except (binascii.Error, ValueError):
            continue


def _loadable(data: bytes) -> bool:
    import zlib

    sample = data[:4096]
    if not sample:
        return False
    if data.startswith(_LOADABLE_MAGIC):
        return True
    if data[:1] in (b"\xe3", b"c") and data[2:5] == b"\0\0\0":  # a marshalled code object
        return True
    if len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:  # a pickle, protocol 2 to 5
        return True
    printable = sum(1 for b in sample if 32 <= b < 127 or b in (9, 10, 13))
    if printable >= 0.95 * len(sample):  # source code, a shell script
        return True
    if len(data) > 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:  # zlib header
        try:
            return bool(zlib.decompressobj().decompress(data[:4096], 64))
        except zlib.error:
            return False
    return False


def compact(value: str | bytes) -> str:
    """The text without any whitespace (encoded payloads are often wrapped)."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return "".join(text.split())
