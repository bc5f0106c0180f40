"""Which admitted seeds a run may use: the policy decides per seed wheel, the cycle check
decides where a seed is needed (:mod:`fromsource.bootstrap.seedplan`), and the trust base
lists what the run rested on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from packaging.utils import parse_wheel_filename

from fromsource.bootstrap.report import RefusedSeed, TrustEntry
from fromsource.bootstrap.state import RunContext
from fromsource.fileutil import sha256_file
from fromsource.graph import Node
from fromsource.seeds import SeedCheck, check_seed
from fromsource.seedstore import SeedStore
from fromsource.wheelstore import read_wheel_info


class SeedChoice:
    """The accepted seed of each node (checked once), and the cycles each seed serves."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.store = SeedStore(ctx.ws)
        self.checks: dict[Node, tuple[Path | None, list[SeedCheck]]] = {}
        self.seeded: dict[Node, frozenset[Node]] = {}  # seed -> members of the cycles it serves
        self.cycle_of: dict[Node, frozenset[Node]] = {}  # member -> its seeded cycle

    def accepted(self, node: Node) -> Path | None:
        """The admitted seed of exactly this version that the policy accepts, if any."""
        if node not in self.checks:
            self.checks[node] = self._check(node)
        return self.checks[node][0]

    def _check(self, node: Node) -> tuple[Path | None, list[SeedCheck]]:
        policy = self.ctx.policy
        found: Path | None = None
        checks: list[SeedCheck] = []
        for wheel in self.store.for_project(node.name):
            # The version from the file name: the seed's bytes are read only once the
            # policy has checked their digest against the evidence.
            if str(parse_wheel_filename(wheel.name)[1]) != node.version:
                continue
            if policy is None:
                checks.append(
                    SeedCheck(
                        wheel.name, sha256_file(wheel), (), ("no --policy given to decide on its evidence",)
                    )
                )
                continue
            # A source seed must be assembled from the very sdist this run builds.
            package = self.ctx.packages.get(node)
            check = check_seed(
                wheel,
                policy,
                [self.store.evidence_file(wheel.name)],
                sdist_dirs=(self.ctx.ws.sources,),
                expected_sdist=package.sha256 if package else None,
            )
            checks.append(check)
            if check.accepted and found is None:
                found = wheel
        return found, checks

    def refusals(self, node: Node) -> list[str]:
        """Why each admitted seed of ``node`` was refused (for the cycle message)."""
        return [
            f"seed {check.wheel} refused: {problem}"
            for check in self.checks.get(node, (None, []))[1]
            for problem in check.problems
        ]

    def origin(self, node: Node) -> str | None:
        found, checks = self.checks.get(node, (None, []))
        return next((c.origin for c in checks if found is not None and c.wheel == found.name), None)

    def serve(self, seeded: Mapping[Node, frozenset[Node]]) -> None:
        """Record the seeds the cycle check chose and the cycle members each one serves."""
        for seed, members in seeded.items():
            self.seeded[seed] = members
            for member in members:
                self.cycle_of[member] = self.cycle_of.get(member, frozenset()) | members

    def stands_in(self, dep: Node, package: Node) -> bool:
        """Whether ``dep``'s seed stands in for it in ``package``'s build environment."""
        return package in self.seeded.get(dep, frozenset())

    def trust_entries(self) -> list[TrustEntry]:
        entries = []
        for node in sorted(self.seeded):
            seed = self.accepted(node)
            checks = self.checks.get(node, (None, []))[1]
            evidence = tuple(
                f"{e.kind}: {e.detail}" for c in checks if seed and c.wheel == seed.name for e in c.evidence
            )
            entries.append(
                TrustEntry(
                    kind="seed",
                    name=str(node),
                    wheel=seed.name if seed else None,
                    sha256=self.ctx.digest(seed) if seed else None,
                    evidence=evidence,
                    origin=self.origin(node),
                    cycle=tuple(sorted(str(m) for m in self.seeded[node])),
                )
            )
        return entries

    def refused(self) -> tuple[RefusedSeed, ...]:
        """Admitted seeds of packages in the graph that no cycle needed."""
        refused = []
        for wheel in self.store.wheels():
            info = read_wheel_info(wheel)
            node = Node(info.name, str(info.version))
            if node in self.ctx.packages and node not in self.seeded:
                refused.append(
                    RefusedSeed(
                        seed=wheel.name,
                        reason=f"{node} is in no build cycle; a seed is only used where a cycle forces it",
                    )
                )
        return tuple(refused)
