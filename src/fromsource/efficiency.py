"""(pure) How well a run scheduled its builds: the wall time against a lower bound.

No schedule of the same builds on ``workers`` parallel slots can finish sooner than
``max(critical path, total build seconds / workers)``: the chain of builds that each need
the previous one, and the work spread perfectly. Discovery, resolution, signing and
waiting all show up as the gap between the wall time and that bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fromsource.graph import BuildGraph, Node, _tarjan


@dataclass(frozen=True, slots=True, kw_only=True)
class Efficiency:
    workers: int
    builds: int
    build_seconds: float  # what the build tasks took in their slots, every attempt, summed
    critical_path_seconds: float
    wall_seconds: float

    @property
    def lower_bound_seconds(self) -> float:
        return max(self.critical_path_seconds, self.build_seconds / max(1, self.workers))

    @property
    def ratio(self) -> float | None:
        """Wall time over the lower bound (1.0 is a perfect schedule); None: nothing built."""
        bound = self.lower_bound_seconds
        return self.wall_seconds / bound if bound > 0 else None

    def to_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "workers": self.workers,
            "builds": self.builds,
            "build_seconds": round(self.build_seconds, 3),
            "critical_path_seconds": round(self.critical_path_seconds, 3),
            "lower_bound_seconds": round(self.lower_bound_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "wall_over_bound": round(ratio, 3) if ratio is not None else None,
        }


def critical_path(graph: BuildGraph, seconds: Mapping[Node, float]) -> float:
    """The longest chain of needs-to-build, weighted by each node's build seconds.

    A cycle (built in two stages with seeds) counts as its slowest member: whatever the
    order inside it, that one build lies on the path, so the result stays a lower bound.
    """
    needs = {n: graph.needs_to_build(n) for n in graph.nodes}
    # Tarjan yields components dependencies-first (a component after all it reaches).
    finish: dict[Node, float] = {}
    longest = 0.0
    for component in _tarjan(needs):
        members = set(component)
        before = max((finish[d] for m in component for d in needs[m] if d not in members), default=0.0)
        done = before + max((seconds.get(m, 0.0) for m in component), default=0.0)
        for member in component:
            finish[member] = done
        longest = max(longest, done)
    return longest


def measure(
    graph: BuildGraph, seconds: Mapping[Node, float], *, workers: int, wall_seconds: float
) -> Efficiency:
    return Efficiency(
        workers=workers,
        builds=len(seconds),
        build_seconds=sum(seconds.values()),
        critical_path_seconds=critical_path(graph, seconds),
        wall_seconds=wall_seconds,
    )
