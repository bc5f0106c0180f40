"""The conflict-free replay agrees with resolvelib wherever it does not give up, and gives
up exactly where resolvelib has to backtrack."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible

from fromsource.conflictfree import resolve_conflict_free
from fromsource.index import LocalDirIndex, SdistCandidate
from fromsource.resolve import (
    Candidate,
    MetadataNeeded,
    MetadataPending,
    SdistMetadata,
    SdistProvider,
    resolve,
)
from test_resolve import LINUX_311, backtracking_index
from tinyindex import make_sdist

NAMES = ("alpha", "beta", "gamma", "delta", "eps")
VERSIONS = ("1.0", "2.0", "3.0")


def _provider(index_dir: Path, sources: Path) -> SdistProvider:
    index = LocalDirIndex(index_dir)
    return SdistProvider(index, SdistMetadata(index, sources), environment=LINUX_311)


def _by_resolvelib(provider: SdistProvider, wanted: list[Requirement]) -> dict[str, Candidate] | None:
    try:
        return dict(Resolver(provider, BaseReporter()).resolve(wanted, max_rounds=500).mapping)
    except ResolutionImpossible:
        return None
    except RecursionError:  # resolvelib 1.2 on some runtime cycles (its result builder recurses)
        assume(False)
        raise


def _pins(chosen: list[Candidate]) -> dict[str, str]:
    return {f"{c.name}{sorted(c.extras) if c.extras else ''}": str(c.version) for c in chosen}


requirement = st.tuples(
    st.sampled_from(NAMES),
    st.sampled_from(("", ">=2", "<3", "==1.0", "==2.0", "==3.0", "!=3.0", "<2")),
)
# What each version of each project requires (every project has every version).
releases = st.lists(
    st.lists(requirement, max_size=2),
    min_size=len(NAMES) * len(VERSIONS),
    max_size=len(NAMES) * len(VERSIONS),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(releases, st.lists(requirement, min_size=1, max_size=3))
def test_the_replay_pins_what_resolvelib_pins(
    requires: list[list[tuple[str, str]]], top: list[tuple[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        releases = [(n, v) for n in NAMES for v in VERSIONS]
        for (project, version), deps in zip(releases, requires, strict=True):
            make_sdist(root / "index", project, version, [f"{n}{s}" for n, s in deps if n != project])
        wanted = [Requirement(f"{n}{s}") for n, s in top]
        provider = _provider(root / "index", root / "sources")
        replayed = resolve_conflict_free(provider, wanted, 500)
        expected = _by_resolvelib(provider.fresh(), wanted)
        if replayed is not None:
            assert expected is not None
            assert _pins(replayed) == _pins(list(expected.values()))


def test_gives_up_where_resolvelib_backtracks(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    backtracking_index(idx)
    wanted = [Requirement("app")]

    assert resolve_conflict_free(_provider(idx, tmp_path / "s"), wanted, 500) is None
    # resolve() falls back to resolvelib and still finds the answer
    index = LocalDirIndex(idx)
    result = resolve(
        wanted, index=index, metadata=SdistMetadata(index, tmp_path / "s"), environment=LINUX_311
    )
    assert {n: str(p.version) for n, p in result.packages.items()} == {
        "a": "1.0",
        "app": "1.0",
        "b": "1.0",
        "shared": "1.0",
    }


def test_a_diamond_without_conflict_is_replayed(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "app", "1.0", ["left", "right==1.0"])
    make_sdist(idx, "left", "1.0", ["shared>=1"])
    make_sdist(idx, "right", "1.0", ["shared<3"])
    for version in ("1.0", "2.0", "3.0"):
        make_sdist(idx, "shared", version)
    provider = _provider(idx, tmp_path / "s")

    replayed = resolve_conflict_free(provider, [Requirement("app")], 500)

    assert replayed is not None
    # resolvelib's order: the exact pin right==1.0 first, then by name; shared comes last,
    # when both of its requirements are known.
    assert _pins(replayed) == {"app": "1.0", "left": "1.0", "right": "1.0", "shared": "2.0"}
    assert [str(c.name) for c in replayed] == ["app", "right", "left", "shared"]


def test_every_pending_sdist_is_named_at_once(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "app", "1.0", ["one", "two", "static"])
    make_sdist(idx, "one", "1.0", dynamic=["Requires-Dist"])
    make_sdist(idx, "two", "1.0", dynamic=["Requires-Dist"])
    make_sdist(idx, "static", "1.0")
    index = LocalDirIndex(idx)
    known: dict[str, list[Requirement]] = {}

    def metadata_for(candidate: SdistCandidate) -> list[Requirement]:
        if candidate.name not in known:
            raise MetadataPending(candidate)
        return known[candidate.name]

    metadata = SdistMetadata(index, tmp_path / "sources", metadata_for)
    with pytest.raises(MetadataNeeded) as needed:
        resolve(["app"], index=index, metadata=metadata, environment=LINUX_311)
    assert sorted(c.filename for c in needed.value.candidates) == ["one-1.0.tar.gz", "two-1.0.tar.gz"]
    known.update(one=[Requirement("static")], two=[])

    result = resolve(["app"], index=index, metadata=metadata, environment=LINUX_311)

    assert sorted(result.packages) == ["app", "one", "static", "two"]
    assert [str(r) for r in result.packages[NormalizedName("one")].requires] == ["static"]
