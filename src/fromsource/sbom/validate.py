"""Checking an SBOM: the CycloneDX 1.6 JSON schema, then references that name nothing.

The schema is the one cyclonedx-python-lib ships, checked with jsonschema (draft 7) and a
format checker that checks the schema's ``iri-reference`` fields itself. jsonschema checks
that format only through rfc3987-syntax, which builds 39 grammars whenever jsonschema is
imported (a second) and parses each IRI with an Earley parser (about 20 ms each: 3.9 s for
an SBOM of 200 components). Here an IRI is mapped to a URI as RFC 3987
section 3.1 maps it (each allowed non-ASCII character percent-encoded as UTF-8) and matched
against RFC 3986's URI-reference grammar (rfc3986-validator's expression), in microseconds.
``uniqueItems`` is checked by a key per item rather than jsonschema's comparison of every
pair of objects (components are objects): linear, where 2,000 components took 3 s.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fromsource.errors import InputError

if TYPE_CHECKING:
    from jsonschema import Draft7Validator, ValidationError

# RFC 3987 section 2.2: the non-ASCII characters an IRI may hold (ucschar), and those it may
# hold in its query only (iprivate).
_UCSCHAR = (
    (0xA0, 0xD7FF),
    (0xF900, 0xFDCF),
    (0xFDF0, 0xFFEF),
    *((plane << 16, (plane << 16) | 0xFFFD) for plane in range(1, 14)),
    (0xE1000, 0xEFFFD),
)
_IPRIVATE = ((0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))
# Section 4.1: no bidirectional formatting characters (LRM, RLM, LRE, RLE, PDF, LRO, RLO).
_BIDI_FORMATTING = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e")
_CYCLONEDX_SCHEMAS = "http://cyclonedx.org/schema/"


def validate(text: str) -> list[str]:
    """Every problem of an SBOM: CycloneDX 1.6 JSON schema errors, then dangling references."""
    document = json.loads(text)
    found = []
    for error in _validator().iter_errors(document):
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        found.append(f"{where}: {error.message}")
    if found:
        return found
    # The schema cannot tell whether a "ref" names a bom-ref in the document; check that too.
    defined: set[str] = set()
    used: set[str] = set()
    _walk_refs(document, defined, used)
    return [f"reference {ref!r} names no bom-ref in the document" for ref in sorted(used - defined)]


def is_iri_reference(value: str) -> bool:
    """Whether ``value`` is an IRI reference (RFC 3987): its URI mapping is a URI reference and
    every non-ASCII character is one an IRI may hold there (private-use ones in the query, no
    bidirectional formatting characters anywhere)."""
    from rfc3986_validator import validate_rfc3986

    mapped = []
    part = "path"  # then "query" after "?", "fragment" after "#"
    for char in value:
        point = ord(char)
        if point < 0x80:
            if char == "#":
                part = "fragment"
            elif char == "?" and part == "path":
                part = "query"
            mapped.append(char)
        elif char in _BIDI_FORMATTING:
            return False
        elif _within(point, _UCSCHAR) or (part == "query" and _within(point, _IPRIVATE)):
            mapped.append(quote(char, safe=""))
        else:
            return False
    return validate_rfc3986("".join(mapped), rule="URI_reference") is not None


def _within(point: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= point <= high for low, high in ranges)


@functools.cache
def _validator() -> Draft7Validator:
    # The schema files cyclonedx-python-lib ships and validates with itself.
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON
    from jsonschema import Draft7Validator, FormatChecker, validators
    from referencing import Registry
    from referencing.jsonschema import DRAFT7

    def load(path: str | None) -> Any:
        if path is None:
            raise InputError("cyclonedx-python-lib does not ship the CycloneDX 1.6 JSON schema")
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    registry: Registry[Any] = Registry().with_resources(
        (f"{_CYCLONEDX_SCHEMAS}{name}", DRAFT7.create_resource(load(path)))
        for name, path in (
            ("spdx.SNAPSHOT.schema.json", SPDX_JSON),
            ("cryptography-defs.SNAPSHOT.schema.json", CRYPTOGRAPHY_DEFS),
            ("jsf-0.82.SNAPSHOT.schema.json", JSF),
        )
    )
    formats = FormatChecker()  # date-time and the rest, as jsonschema checks them
    formats.checks("iri-reference")(lambda value: not isinstance(value, str) or is_iri_reference(value))
    checked = validators.extend(Draft7Validator, {"uniqueItems": _unique_items})
    return checked(load(BOM_JSON_STRICT[SchemaVersion.V1_6]), registry=registry, format_checker=formats)


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    from jsonschema import ValidationError

    if unique and validator.is_type(instance, "array") and (repeat := first_repeat(instance)):
        yield ValidationError(f"items {repeat[0]} and {repeat[1]} are equal in an array of unique items")


def first_repeat(items: list[Any]) -> tuple[int, int] | None:
    """The first item equal (as JSON Schema compares) to an earlier one: both indexes."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        key = json.dumps(_comparable(item), sort_keys=True)
        if key in seen:
            return seen[key], index
        seen[key] = index
    return None


def _comparable(value: Any) -> Any:
    """A JSON value as JSON Schema compares values: 1 and 1.0 alike, true and 1 not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def _walk_refs(node: Any, defined: set[str], used: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "bom-ref" and isinstance(value, str):
                defined.add(value)
            elif key == "ref" and isinstance(value, str):
                used.add(value)
            elif key == "dependsOn" and isinstance(value, list):
                used.update(v for v in value if isinstance(v, str))
            else:
                _walk_refs(value, defined, used)
    elif isinstance(node, list):
        for item in node:
            _walk_refs(item, defined, used)
