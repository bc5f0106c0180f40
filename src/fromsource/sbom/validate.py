"""Checking an SBOM: the CycloneDX 1.6 JSON schema, then references that name nothing."""

from __future__ import annotations

import json
from typing import Any

from fromsource.errors import InputError


def validate(text: str) -> list[str]:
    """Every problem of an SBOM: CycloneDX 1.6 JSON schema errors, then dangling references."""
    from cyclonedx.exception import MissingOptionalDependencyException
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    except MissingOptionalDependencyException as exc:
        raise InputError(
            f"cannot validate: {exc}", hint="install cyclonedx-python-lib[json-validation]"
        ) from exc
    found = []
    for error in errors or ():
        where = "/".join(str(p) for p in error.data.absolute_path) or "(document)"
        found.append(f"{where}: {error.data.message}")
    if found:
        return found
    # The schema cannot tell whether a "ref" names a bom-ref in the document; check that too.
    document = json.loads(text)
    defined: set[str] = set()
    used: set[str] = set()
    _walk_refs(document, defined, used)
    return [f"reference {ref!r} names no bom-ref in the document" for ref in sorted(used - defined)]


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
