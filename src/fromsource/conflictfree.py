"""The resolution resolvelib reaches when nothing conflicts, found without its per-round scan.

resolvelib re-checks every criterion against its pin in every round: a resolution of n
packages costs n rounds of O(n) work, which is most of a 2,000-package bootstrap. When no
requirement ever contradicts an earlier choice, its rounds are a plain sequence: pin the
most preferred unpinned name (exact ``==`` pins first, then by name) to the first candidate
``find_matches`` offers for everything required of it so far, and add that candidate's
dependencies. :func:`resolve_conflict_free` replays exactly that sequence with a heap, and
gives up (returns ``None``) at the first step where resolvelib would do anything else: a
name with no candidate left, a new requirement a pin does not satisfy, too many rounds. The
caller then runs resolvelib from the start, so results and conflict reports are resolvelib's.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from packaging.requirements import Requirement

if TYPE_CHECKING:
    from fromsource.resolve import Candidate, SdistProvider


def _is_exact_pin(requirement: Requirement) -> bool:
    # The provider's preference: an exact pin (not a wildcard) is settled first.
    return any(
        spec.operator in ("==", "===") and not spec.version.endswith(".*") for spec in requirement.specifier
    )


class _Bail(Exception):
    """resolvelib would leave the conflict-free path here."""


class _Replay:
    def __init__(self, provider: SdistProvider) -> None:
        self.provider = provider
        self.required: dict[str, list[Requirement]] = {}
        self.candidates: dict[str, list[Candidate]] = {}
        self.exact: dict[str, bool] = {}
        self.pins: dict[str, Candidate] = {}
        self.queue: list[tuple[bool, str]] = []

    def add(self, requirement: Requirement) -> None:
        """resolvelib's ``_add_to_criteria``: merge, and find the candidates again."""
        identifier = self.provider.identify(requirement)
        merged = [*self.required.get(identifier, ()), requirement]
        matches = self.provider.find_matches(identifier, {identifier: iter(merged)}, {identifier: iter(())})
        if not matches:
            raise _Bail  # resolvelib rejects the candidate being pinned, or the whole request
        pin = self.pins.get(identifier)
        if pin is not None and not self.provider.is_satisfied_by(requirement, pin):
            raise _Bail  # an earlier choice no longer fits: resolvelib would re-pin it
        self.required[identifier] = merged
        self.candidates[identifier] = matches
        if pin is None:
            exact = self.exact.get(identifier, False) or _is_exact_pin(requirement)
            self.exact[identifier] = exact
            heapq.heappush(self.queue, (not exact, identifier))

    def run(self, wanted: list[Requirement], max_rounds: int) -> list[Candidate]:
        for requirement in wanted:
            self.add(requirement)
        rounds = 0
        while self.queue:
            _, identifier = heapq.heappop(self.queue)
            if identifier in self.pins:
                continue  # a stale entry: it was queued again under a better preference
            rounds += 1
            if rounds > max_rounds:
                raise _Bail
            candidate = self.candidates[identifier][0]
            self.pins[identifier] = candidate
            for dependency in self.provider.get_dependencies(candidate):
                self.add(dependency)
        return list(self.pins.values())


def resolve_conflict_free(
    provider: SdistProvider, wanted: list[Requirement], max_rounds: int
) -> list[Candidate] | None:
    """The candidates resolvelib would pin, or ``None`` where it would have to backtrack."""
    try:
        return _Replay(provider).run(wanted, max_rounds)
    except _Bail:
        return None
