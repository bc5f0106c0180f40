"""The cycle check: every time the graph grows, each cycle of needs-to-build is broken with
the fewest accepted seeds (:mod:`fromsource.bootstrap.seedplan`) or the run stops, before
anything in the cycle is built, with the commands that would break it."""

from __future__ import annotations

from collections.abc import Sequence

from fromsource.bootstrap.discovery import Discovery
from fromsource.bootstrap.seeding import SeedChoice
from fromsource.bootstrap.seedplan import plan_seeds
from fromsource.bootstrap.state import DEAD, RunContext
from fromsource.errors import CycleError
from fromsource.graph import Cycle, Node
from fromsource.seedassembly import suggested_arguments

HINT = (
    "a source seed needs no pre-built file: assemble it, then re-run with a --policy "
    "whose [seeds].evidence includes source. Otherwise get the published wheel "
    "(pip download --no-deps --only-binary :all: NAME==VERSION), admit it with the "
    "command above, and re-run with --policy naming the reviewer's public key in "
    "[trust].reviewer_keys"
)


class CycleGuard:
    def __init__(self, ctx: RunContext, discovery: Discovery, seeds: SeedChoice) -> None:
        self.ctx = ctx
        self.discovery = discovery
        self.seeds = seeds
        self.checked_version = -1

    def check(self) -> None:
        """Break every cycle with the fewest accepted seeds, or stop with what would."""
        if self.checked_version == self.discovery.version:
            return
        self.checked_version = self.discovery.version
        graph = self.discovery.current_graph(provisional=True)
        cycles = graph.cycles()
        if not cycles:
            return
        in_cycles = {n for c in cycles for n in c.members}
        available = {n for n in in_cycles if self.seeds.accepted(n) is not None}
        plan = plan_seeds(graph, available, self.seeds.seeded)
        self.seeds.serve(plan.seeded)
        if plan.unbroken:
            self.ctx.stopping = True
            raise CycleError(self._message(plan.unbroken), hint=HINT)

    def _message(self, unbroken: Sequence[tuple[Cycle, tuple[Node, ...]]]) -> str:
        ws = self.ctx.ws
        lines = [
            "the build graph has cycles that no accepted seed breaks, so nothing in them "
            "can be built from source:"
        ]
        for cycle, needed in unbroken:
            lines.append(f"  {cycle.cycle_path()}")
            names = " and ".join(str(n) for n in needed)
            lines.append(
                f"    a seed of {names} would break it; assemble one from its sdist (no pre-built artifact):"
            )
            for node in needed:
                package = self.ctx.packages[node]
                args = suggested_arguments(package.path)
                args = "--layout SRC=DEST " if args is None else f"{args} " if args else ""
                lines.append(
                    f"      fromsource seed assemble {package.path} {args}--key KEY --workspace {ws.root}"
                )
            lines.append("    or review the published wheel and admit it:")
            for node in needed:
                package = self.ctx.packages[node]
                wheel = f"{node.name.replace('-', '_').replace('.', '_')}-{node.version}-py3-none-any.whl"
                lines.append(
                    f"      fromsource seed admit {wheel} --sdist {package.path} "
                    f"--key REVIEWER_KEY --workspace {ws.root}"
                )
                lines += [f"      ({refusal})" for refusal in self.seeds.refusals(node)]
        return "\n".join(lines)

    def check_stuck(self) -> None:
        """After the loop: anything still waiting must be explained, never dropped."""
        if self.ctx.stopping:
            return
        packages = self.ctx.packages
        waiting = [p for p in packages.values() if p.status == "waiting"]
        stuck_tasks = [
            t for t in self.discovery.tasks if not any(packages[b].status in DEAD for b in t.blocked_on)
        ]
        if waiting or stuck_tasks:
            # Unreachable if the cycle check is complete; say so rather than lose packages.
            names = ", ".join(sorted(str(p.node) for p in waiting)) or "the top-level resolution"
            raise CycleError(f"no progress possible for {names}: they wait on each other")
