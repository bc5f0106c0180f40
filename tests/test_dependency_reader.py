"""The as-written shortcut of the dependency reader never disagrees with the full reading.

``dependency_reader._as_written`` accepts sdist, wheel and interpreter entries exactly as the
builder writes them, for speed; the full reading (``_dependency``) alone defines the rules.
Hypothesis mutates real entries (as ``Dependency.to_dict`` writes them) and checks that the
shortcut either declines or returns exactly what the full reading returns without a problem.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fromsource.attest.dependency_reader import _as_written, _dependency
from fromsource.attest.provenance import KIND_INTERPRETER, KIND_SDIST, KIND_WHEEL, Dependency
from fromsource.attest.shape import Problems

ENTRIES = [
    Dependency(name="demo-1.0.tar.gz", sha256="a" * 64, kind=KIND_SDIST),
    Dependency(name="demo-1.0.tar.gz", sha256="a" * 64, kind=KIND_SDIST, uri="http://127.0.0.1/d.tar.gz"),
    Dependency(
        name="flit_core-3.12.0-py3-none-any.whl",
        sha256="b" * 64,
        kind=KIND_WHEEL,
        edge="build-system",
        attestation_sha256="c" * 64,
    ),
    Dependency(
        name="seedy-1.0-py3-none-any.whl",
        sha256="d" * 64,
        kind=KIND_WHEEL,
        edge="backend",
        seed=True,
        attestation_sha256="e" * 64,
    ),
    Dependency(name="python-3.11.7", sha256="f" * 64, kind=KIND_INTERPRETER, implementation="cpython"),
]

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(
        [
            "",
            "a" * 64,
            "A" * 64,
            "a" * 63,
            "build-system",
            "install",
            "other",
            "wheel",
            "sdist",
            "interpreter",
            "external",
            "x/y-1.0-py3-none-any.whl",
            ".hidden-1.0.tar.gz",
            "demo-1.0.tar.gz",
            "demo-1.0-py3-none-any.whl",
            "python-3.11",
            "python-3.11.7",
            "cpython",
        ]
    ),
    st.just([]),
    st.just({}),
    st.just({"sha256": "a" * 64}),
    st.just({"sha256": "a" * 64, "sha512": "b" * 128}),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    return found


@st.composite
def mutated_entries(draw: st.DrawFn) -> dict[str, Any]:
    entry = copy.deepcopy(draw(st.sampled_from(ENTRIES)).to_dict())
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(entry)))
        if not path:
            continue
        parent = entry
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["drop", "change", "add"]))
        if action == "drop":
            parent.pop(path[-1], None)
        elif action == "change":
            parent[path[-1]] = copy.deepcopy(draw(ODD_VALUES))
        else:
            parent[draw(st.sampled_from(["uri", "external", "seed", "extra", "kind"]))] = copy.deepcopy(
                draw(ODD_VALUES)
            )
    return entry


def _full(entry: object) -> tuple[Dependency | None, list[str]]:
    problems = Problems()
    return _dependency(entry, "$.entry", problems), problems.items


@pytest.mark.parametrize("dep", ENTRIES, ids=lambda d: d.name + (" uri" if d.uri else ""))
def test_entries_as_written_take_the_shortcut_and_read_the_same(dep: Dependency) -> None:
    entry = dep.to_dict()
    assert _as_written(entry) == dep
    assert _full(entry) == (dep, [])


def test_an_external_wheel_or_publisher_evidence_goes_the_full_way() -> None:
    external = Dependency(
        name="x-1.0-py3-none-any.whl", sha256="a" * 64, kind=KIND_WHEEL, edge="install", external=True
    )
    assert _as_written(external.to_dict()) is None
    assert _full(external.to_dict()) == (external, [])


@settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated_entries())
def test_the_shortcut_never_disagrees_with_the_full_reading(entry: dict[str, Any]) -> None:
    fast = _as_written(copy.deepcopy(entry))
    if fast is not None:
        assert _full(entry) == (fast, [])
