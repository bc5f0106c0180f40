"""The tree verification produces: one node per artifact of a chain, with what was found.

Pure data: the verifier builds it, the CLI renders it (text, or :meth:`ChainNode.to_dict`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from fromsource.attest.provenance import KIND_WHEEL, Dependency

KIND_SEED = "seed"
KIND_EXTERNAL = "external"


@dataclass
class ChainNode:
    """One artifact in a provenance chain and what was found about it.

    Chains are DAGs (one wheel is often in many build environments): nodes are shared, and
    every walk below visits each node once, so reports stay linear in the chain's size.
    """

    name: str
    kind: str  # wheel | sdist
    sha256: str | None
    attestation: str | None = None
    keyids: tuple[str, ...] = ()
    edge: str | None = None
    problems: list[str] = field(default_factory=list)
    children: list[ChainNode] = field(default_factory=list)
    evidence: tuple[str, ...] = ()  # seeds and externals: what the policy accepted
    origin: str | None = None  # seeds: source | built | reviewed | binary (seeds.seed_origin)
    detail: tuple[str, ...] = ()  # native inputs: what was recorded (package, path, version)

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        # The attestation tells apart a stage-2 wheel and its byte-identical stage-1 twin.
        return (self.name, self.sha256, self.attestation)

    @functools.cached_property
    def ok(self) -> bool:
        # Children are complete before their parent is, so caching is safe.
        return not self.problems and all(child.ok for child in self.children)

    def labelled(self, edge: str | None, extra_problem: str | None = None) -> ChainNode:
        """A copy of this node as another dependent sees it: its own edge, and perhaps one
        more problem (the memoised node stays as it is)."""
        problems = self.problems if extra_problem is None else [*self.problems, extra_problem]
        return ChainNode(
            self.name,
            self.kind,
            self.sha256,
            self.attestation,
            self.keyids,
            edge,
            problems,
            self.children,
            self.evidence,
            self.origin,
            self.detail,
        )

    def all_problems(self) -> list[str]:
        found: list[str] = []
        seen: set[int] = set()
        stack: list[ChainNode] = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            found.extend(f"{node.name}: {p}" for p in node.problems if f"{node.name}: {p}" not in found)
            stack.extend(reversed(node.children))
        return found

    def to_dict(self, _shown: set[tuple[str, str | None, str | None]] | None = None) -> dict[str, Any]:
        """JSON shape; a wheel already shown earlier appears as ``{"ref": true}`` without children."""
        shown = set() if _shown is None else _shown
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "sha256": self.sha256,
            "edge": self.edge,
            "valid": self.ok,
            "problems": list(self.problems),
            "evidence": list(self.evidence),
            **({"origin": self.origin} if self.origin else {}),
        }
        if self.detail:
            out["detail"] = list(self.detail)
        if self.kind == KIND_WHEEL and self.key in shown and not self.problems:
            return {**out, "ref": True}
        shown.add(self.key)
        return {
            **out,
            "ref": False,
            "attestation": self.attestation,
            "keyids": list(self.keyids),
            "children": [c.to_dict(shown) for c in self.children],
        }


def native_detail(dep: Dependency) -> tuple[str, ...]:
    """What a native-input, toolchain or crate entry records, as short phrases for the tree."""
    detail = []
    if dep.version is not None:
        detail.append(f"version {dep.version}")
    if dep.package is not None:
        detail.append(f"{dep.package.manager} {dep.package.name} {dep.package.version}")
    if dep.path is not None:
        detail.append(dep.path)
    return tuple(detail)
