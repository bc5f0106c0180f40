"""Which packages a scheduling pass looks at, in which order, so a pass costs what changed.

The planner runs a pass after every finished build; looking at every package each time
makes a run of n packages cost n² (a 2,000-package run spent most of its time there). A
pass looks at the packages not finished yet, minus those *parked*: a package whose build
environment waits on a dependency is set aside until that dependency's state (status,
stage-1 wheel) changes, or until discovery changes the graph (a build environment may have
changed with it).

The order is a list schedule's: the package the longest chain of waiting builds hangs on
first (a free slot spent elsewhere lengthens the run by that chain), then by node. It is
recomputed when the graph changes, not in every pass.

A package that is ready and waits only for a build slot is queued in that order, out of
the passes: a pass takes back as many of the first as there are free slots. With a few
slots and thousands of ready packages, a pass then costs the slots, not the packages.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from pathlib import Path

from fromsource.bootstrap.report import DONE
from fromsource.bootstrap.state import DEAD, PackageState
from fromsource.graph import Node

_Signature = tuple[str, Path | None]


def _signature(package: PackageState) -> _Signature:
    return package.status, package.stage1_wheel


class PassSet:
    def __init__(
        self,
        packages: dict[Node, PackageState],
        graph_version: Callable[[], int],
        needed_by: Callable[[], dict[Node, list[Node]]],
    ) -> None:
        self._packages = packages
        self._graph_version = graph_version
        self._needed_by = needed_by  # node -> the packages whose build environment holds it
        self._chain: dict[Node, int] = {}
        self._seen_version = -1
        self._known = 0
        self._open: list[PackageState] = []
        self._parked: dict[Node, tuple[_Signature, list[PackageState]]] = {}  # by blocker
        self._parked_nodes: set[Node] = set()
        self._slot_queue: list[PackageState] = []  # ready, in scheduling order

    def park(self, package: PackageState, blocker: PackageState) -> None:
        """Leave ``package`` out of passes until ``blocker`` changes."""
        if package.node in self._parked_nodes:
            return
        self._parked.setdefault(blocker.node, (_signature(blocker), []))[1].append(package)
        self._parked_nodes.add(package.node)

    def wait_for_slot(self, package: PackageState) -> None:
        """Leave ready ``package`` out of passes until it is among the first to get a slot."""
        if package.node in self._parked_nodes:
            return
        bisect.insort(self._slot_queue, package, key=self._order)
        self._parked_nodes.add(package.node)

    def waiting_for_slot(self) -> int:
        """How many ready packages wait for a build slot."""
        return len(self._slot_queue)

    def current(self, free_slots: int) -> list[PackageState]:
        """The packages this pass looks at, in scheduling order; ``free_slots``: how many
        builds can start in it (that many of the packages queued for a slot come back)."""
        version = self._graph_version()
        changed = version != self._seen_version
        self._seen_version = version
        woken = self._wake(everything=changed)
        # The graph changed: the order may have, so the whole queue comes back.
        taken = len(self._slot_queue) if changed else max(0, free_slots)
        woken += self._slot_queue[:taken]
        del self._slot_queue[:taken]
        self._parked_nodes.difference_update(p.node for p in woken)
        if changed:
            self._chain = chain_lengths(self._needed_by())
        if changed or len(self._packages) != self._known:
            self._known = len(self._packages)
            self._open = sorted(
                (p for p in self._packages.values() if p.node not in self._parked_nodes), key=self._order
            )
        elif woken:
            self._open = sorted([*self._open, *woken], key=self._order)
        self._open = [
            p
            for p in self._open
            if p.status not in DONE and p.status not in DEAD and p.node not in self._parked_nodes
        ]
        return self._open

    def _order(self, package: PackageState) -> tuple[int, Node]:
        return -self._chain.get(package.node, 0), package.node

    def _wake(self, *, everything: bool) -> list[PackageState]:
        if everything:  # discovery changed the graph: look at everything again
            blockers = list(self._parked)
        else:
            blockers = [n for n, (sig, _) in self._parked.items() if _signature(self._packages[n]) != sig]
        woken = []
        for node in blockers:
            for package in self._parked.pop(node)[1]:
                self._parked_nodes.discard(package.node)
                woken.append(package)
        return woken


def chain_lengths(needed_by: dict[Node, list[Node]]) -> dict[Node, int]:
    """For each node, the most builds in one chain that wait on it (0: nothing does).

    Iterative depth-first, memoised; an edge back into the chain being walked (a seeded
    cycle) counts nothing."""
    length: dict[Node, int] = {}
    on_path: set[Node] = set()
    for start in needed_by:
        if start in length:
            continue
        stack: list[tuple[Node, int]] = [(start, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                on_path.add(node)
            users = needed_by.get(node, [])
            if index < len(users):
                stack.append((node, index + 1))
                user = users[index]
                if user not in length and user not in on_path:
                    stack.append((user, 0))
                continue
            on_path.discard(node)
            length[node] = max((length.get(u, 0) + 1 for u in users if u in length), default=0)
    return length
