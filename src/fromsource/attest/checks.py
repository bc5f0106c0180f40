"""Checks of a provenance statement's content, shared by verify and seed admission.

Statements are attacker-controlled JSON until proven otherwise: every field is type-checked
before use, and every problem is returned rather than the first raised.
"""

from __future__ import annotations

from typing import Any

from fromsource.attest.provenance import (
    BUILD_TYPE,
    EXTERNAL_PARAMETER_KEYS,
    ISOLATION_BWRAP,
    KIND_SDIST,
    NETWORK_ISOLATED,
    SLSA_PROVENANCE,
    STATEMENT_TYPE,
    UNVERIFIED,
)


def get_path(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` or None when any step is missing or not an object."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def check_statement(statement: dict[str, Any], wheel_name: str, digest: str, *,
                    require_isolation: bool = False, require_sandbox: bool = False,
                    allow_unverified_sources: bool = False) -> list[str]:
    """Every reason the statement does not attest this wheel's build; empty when it does.

    Attacker-controlled JSON: every field is type-checked before use.
    """
    problems: list[str] = []
    if statement.get("_type") != STATEMENT_TYPE:
        problems.append(f"statement _type is {statement.get('_type')!r}, expected {STATEMENT_TYPE}")
    if statement.get("predicateType") != SLSA_PROVENANCE:
        problems.append(
            f"predicateType is {statement.get('predicateType')!r}, expected {SLSA_PROVENANCE}"
        )
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        problems.append("statement has no subject")
    else:
        matching = [s for s in subjects if get_path(s, "name") == wheel_name]
        if len(matching) != 1 or len(subjects) != 1:
            problems.append(f"subject must name exactly {wheel_name}, once")
        elif get_path(matching[0], "digest", "sha256") != digest:
            problems.append(f"subject digest does not match the wheel's sha256 {digest}")
    definition = get_path(statement, "predicate", "buildDefinition")
    if not isinstance(definition, dict):
        problems.append("predicate has no buildDefinition")
        return problems
    if definition.get("buildType") != BUILD_TYPE:
        problems.append(f"buildType {definition.get('buildType')!r} is not {BUILD_TYPE}")
    external = definition.get("externalParameters")
    if not isinstance(external, dict):
        problems.append("externalParameters missing")
    else:
        unknown = sorted(set(external) - EXTERNAL_PARAMETER_KEYS)
        if unknown:
            problems.append(f"unknown externalParameters: {', '.join(unknown)}")
    problems += check_isolation(get_path(definition, "internalParameters"),
                                require_isolation=require_isolation, require_sandbox=require_sandbox)
    dependencies = definition.get("resolvedDependencies", [])
    if not isinstance(dependencies, list):
        problems.append("resolvedDependencies is not a list")
    elif not allow_unverified_sources:
        for dep in dependencies:
            reason = get_path(dep, "annotations", UNVERIFIED)
            if get_path(dep, "annotations", "kind") == KIND_SDIST and reason is not None:
                problems.append(
                    f"sdist {get_path(dep, 'name')!r} was built without an integrity check "
                    f"({reason}); the policy does not allow unverified sources "
                    "([build].allow_unverified_sources)")
    return problems


def check_isolation(internal: Any, *, require_isolation: bool, require_sandbox: bool) -> list[str]:
    """What is wrong with the recorded isolation for the policy's ``[build]`` rules.

    A ``bwrap`` level must come with the sandbox description it claims (tool and roots); the
    network rule accepts any level that cut the network, the sandbox rule only ``bwrap``.
    """
    isolation = get_path(internal, "isolation")
    sandbox = get_path(internal, "sandbox")
    problems: list[str] = []
    if isolation == ISOLATION_BWRAP:
        if not isinstance(sandbox, dict) or sandbox.get("tool") != "bwrap" or not all(
                isinstance(sandbox.get(k), list) and all(isinstance(p, str) for p in sandbox[k])
                for k in ("readOnly", "readWrite", "namespaces")):
            problems.append("isolation is bwrap but internalParameters.sandbox does not describe "
                            "a bwrap sandbox (tool, readOnly, readWrite, namespaces)")
    elif sandbox is not None:
        problems.append(f"internalParameters.sandbox is present with isolation {isolation!r}")
    if require_sandbox and isolation != ISOLATION_BWRAP:
        problems.append(f"built with isolation {isolation!r}; the policy requires the "
                        f"filesystem sandbox ({ISOLATION_BWRAP!r})")
    elif require_isolation and isolation not in NETWORK_ISOLATED:
        problems.append(f"built with isolation {isolation!r}; the policy requires network "
                        f"isolation ({', '.join(sorted(NETWORK_ISOLATED))})")
    return problems
