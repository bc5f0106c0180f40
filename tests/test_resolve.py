from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from fromsource.errors import InputError, ResolutionError
from fromsource.index import LocalDirIndex, SdistCandidate
from fromsource.resolve import Resolution, SdistMetadata, resolve
from fromsource.target import TargetEnvironment, load_constraints, parse_constraints
from tinyindex import make_sdist

LINUX_311 = TargetEnvironment.current(
    sys_platform="linux",
    platform_system="Linux",
    os_name="posix",
    python_version="3.11",
    python_full_version="3.11.7",
)


class MarkedIndex(LocalDirIndex):
    """A local index that can mark releases yanked, as a remote index would."""

    def __init__(self, path: Path, yanked: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__(path)
        self.yanked = yanked

    def candidates(self, name: str) -> list[SdistCandidate]:
        return [replace(c, yanked=c.filename in self.yanked) for c in super().candidates(name)]


def run(
    tmp_path: Path,
    requirements: list[str],
    *,
    index: LocalDirIndex | None = None,
    constraints: list[Requirement] | None = None,
    environment: TargetEnvironment = LINUX_311,
) -> Resolution:
    index = index or LocalDirIndex(tmp_path / "index")
    return resolve(
        requirements,
        index=index,
        metadata=SdistMetadata(index, tmp_path / "sources"),
        constraints=constraints or [],
        environment=environment,
    )


def pins(resolution: Resolution) -> dict[str, str]:
    return {name: str(v) for name, v in resolution.pins().items()}


def test_diamond_picks_a_shared_version(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "app", "1.0", ["left", "right"])
    make_sdist(idx, "left", "1.0", ["shared>=1"])
    make_sdist(idx, "right", "1.0", ["shared<3"])
    for version in ("1.0", "2.0", "3.0"):
        make_sdist(idx, "shared", version)

    result = run(tmp_path, ["app"])

    assert pins(result) == {"app": "1.0", "left": "1.0", "right": "1.0", "shared": "2.0"}
    assert result.roots == ("app",)
    assert [str(r) for r in result.packages[NormalizedName("app")].requires] == ["left", "right"]
    assert result.packages[NormalizedName("shared")].sdist.filename == "shared-2.0.tar.gz"
    assert (tmp_path / "sources" / "app-1.0.tar.gz").is_file()  # fetched to read PKG-INFO


def backtracking_index(idx: Path) -> None:
    """``app`` needs ``a`` and ``b``: the newest ``a`` pins a ``shared`` that ``b`` refuses."""
    make_sdist(idx, "app", "1.0", ["a", "b"])
    make_sdist(idx, "a", "2.0", ["shared==2"])
    make_sdist(idx, "a", "1.0", ["shared==1"])
    make_sdist(idx, "b", "1.0", ["shared<2"])
    make_sdist(idx, "shared", "1.0")
    make_sdist(idx, "shared", "2.0")


def test_backtracks_past_the_newest_version(tmp_path: Path) -> None:
    backtracking_index(tmp_path / "index")

    assert pins(run(tmp_path, ["app"])) == {"a": "1.0", "app": "1.0", "b": "1.0", "shared": "1.0"}


def test_extras_are_propagated(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "app", "1.0", ["lib[fast]>=1"])
    make_sdist(idx, "other", "1.0", ["lib"])
    make_sdist(
        idx,
        "lib",
        "1.0",
        ["base", 'speedup; extra == "fast"', 'docs; extra == "doc"'],
        extras=["fast", "doc"],
    )
    make_sdist(idx, "base", "1.0")
    make_sdist(idx, "speedup", "1.0")

    with_extra = run(tmp_path, ["app"])
    assert pins(with_extra) == {"app": "1.0", "base": "1.0", "lib": "1.0", "speedup": "1.0"}
    assert with_extra.packages[NormalizedName("lib")].extras == {"fast"}
    assert {r.name for r in with_extra.packages[NormalizedName("lib")].requires} == {"base", "speedup"}

    without = run(tmp_path, ["other"])
    assert pins(without) == {"base": "1.0", "lib": "1.0", "other": "1.0"}
    assert without.packages[NormalizedName("lib")].extras == frozenset()


def test_markers_are_evaluated_for_the_target(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(
        idx,
        "app",
        "1.0",
        [
            'winonly; sys_platform == "win32"',
            'old; python_version < "3.8"',
            "everywhere",
        ],
    )
    for name in ("winonly", "old", "everywhere"):
        make_sdist(idx, name, "1.0")

    assert set(pins(run(tmp_path, ["app"]))) == {"app", "everywhere"}
    windows = TargetEnvironment.current(sys_platform="win32", python_version="3.11")
    assert set(pins(run(tmp_path, ["app"], environment=windows))) == {
        "app",
        "everywhere",
        "winonly",
    }
    # a top-level requirement whose marker is false is dropped, not resolved
    assert run(tmp_path, ['winonly; sys_platform == "win32"']).packages == {}


def test_constraints_narrow_versions(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "app", "1.0", ["shared"])
    make_sdist(idx, "shared", "1.0")
    make_sdist(idx, "shared", "2.0")
    constraints_file = tmp_path / "constraints.txt"
    constraints_file.write_text(
        '# pinned for the release\nShared<2  # old API\nunused==9 ; sys_platform == "win32"\n'
    )

    constraints = load_constraints(constraints_file)

    assert pins(run(tmp_path, ["app"], constraints=constraints))["shared"] == "1.0"
    assert pins(run(tmp_path, ["app"]))["shared"] == "2.0"
    with pytest.raises(ResolutionError, match="shared"):
        run(tmp_path, ["app"], constraints=parse_constraints("shared>5"))


def test_constraints_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"c\.txt:2: a constraint takes no extras"):
        parse_constraints("ok\nlib[x]<2\n", "c.txt")
    with pytest.raises(InputError, match="options such as -r"):
        parse_constraints("-r other.txt")
    with pytest.raises(InputError, match="cannot read constraints file"):
        load_constraints(tmp_path / "absent.txt")


def test_conflict_reports_the_chains(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "app", "1.0", ["left", "right"])
    make_sdist(idx, "left", "1.0", ["shared<2"])
    make_sdist(idx, "right", "1.0", ["shared>=2"])
    make_sdist(idx, "shared", "1.0")
    make_sdist(idx, "shared", "2.0")

    with pytest.raises(ResolutionError) as info:
        run(tmp_path, ["app"])

    message = info.value.message
    assert message.startswith("cannot resolve shared: no sdist satisfies all of:")
    assert "requested app -> app 1.0 requires left -> left 1.0 requires shared<2" in message
    assert "requested app -> app 1.0 requires right -> right 1.0 requires shared>=2" in message
    assert "sdists of shared for Python 3.11.7: 1.0, 2.0" in message


def test_top_level_conflict_and_missing_project(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "app", "1.0", ["ghost>=1"])
    make_sdist(idx, "lib", "1.0")

    with pytest.raises(ResolutionError, match="requested lib==2"):
        run(tmp_path, ["lib==2"])
    with pytest.raises(ResolutionError) as info:
        run(tmp_path, ["app"])
    assert "requested app -> app 1.0 requires ghost>=1" in info.value.message
    assert "no sdist of 'ghost'" in info.value.message


def test_yanked_skipped_unless_pinned(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "lib", "1.0")
    make_sdist(idx, "lib", "2.0")
    index = MarkedIndex(idx, yanked={"lib-2.0.tar.gz"})

    assert pins(run(tmp_path, ["lib"], index=index)) == {"lib": "1.0"}
    assert pins(run(tmp_path, ["lib>=1"], index=index)) == {"lib": "1.0"}
    assert pins(run(tmp_path, ["lib==2.0"], index=index)) == {"lib": "2.0"}
    with pytest.raises(ResolutionError, match=r"yanked: 2\.0"):
        run(tmp_path, ["lib>1"], index=index)


def test_requires_python_is_respected(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "lib", "1.0", requires_python=">=3.8")
    make_sdist(idx, "lib", "2.0", requires_python=">=3.13")

    assert pins(run(tmp_path, ["lib"])) == {"lib": "1.0"}
    newer = TargetEnvironment.current(python_version="3.13", python_full_version="3.13.1")
    assert pins(run(tmp_path, ["lib"], environment=newer)) == {"lib": "2.0"}


def test_prereleases_only_when_asked(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "lib", "1.0")
    make_sdist(idx, "lib", "2.0b1")
    make_sdist(idx, "beta-only", "1.0rc1")

    assert pins(run(tmp_path, ["lib"])) == {"lib": "1.0"}
    assert pins(run(tmp_path, ["lib>=2.0b1"])) == {"lib": "2.0b1"}
    assert pins(run(tmp_path, ["beta-only"])) == {"beta-only": "1.0rc1"}


def test_dynamic_metadata_uses_the_callback(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    make_sdist(idx, "old-style", "1.0", ["ignored"], metadata_version="2.1")
    make_sdist(idx, "dynamic", "1.0", ["ignored"], dynamic=["Requires-Dist"])
    make_sdist(idx, "dep", "1.0")
    index = LocalDirIndex(idx)
    asked: list[str] = []

    def metadata_for(candidate: SdistCandidate) -> list[Requirement]:
        asked.append(candidate.filename)
        return [Requirement("dep")]

    result = resolve(
        ["old-style", "dynamic"],
        index=index,
        metadata=SdistMetadata(index, tmp_path / "sources", metadata_for),
        environment=LINUX_311,
    )

    assert pins(result) == {"dep": "1.0", "dynamic": "1.0", "old-style": "1.0"}
    assert sorted(asked) == ["dynamic-1.0.tar.gz", "old_style-1.0.tar.gz"]
    with pytest.raises(ResolutionError, match="does not declare Requires-Dist statically"):
        run(tmp_path, ["old-style"])


def test_invalid_requirement_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    with pytest.raises(InputError, match="invalid requirement"):
        run(tmp_path, ["not a requirement!"])


def test_target_environment_python_version() -> None:
    assert LINUX_311.python_version == Version("3.11.7")
    assert LINUX_311.accepts_python(">=3.8,<4")
    assert not LINUX_311.accepts_python(">=3.12")
    assert LINUX_311.accepts_python("garbage")  # ignored, as installers do


@pytest.mark.network
def test_requests_install_set_from_the_default_index(tmp_path: Path) -> None:
    """Resolve requests 2.32.3's runtime set from sdists on the default index."""
    from fromsource.index import SimpleIndex
    from fromsource.pkginfo import read_pkg_info

    with SimpleIndex() as index:

        def declared(candidate: SdistCandidate) -> list[Requirement]:
            # Test shortcut: trust pre-2.2 PKG-INFO instead of building the wheel.
            info = read_pkg_info(index.fetch(candidate, tmp_path / "sources"))
            assert info is not None
            return [Requirement(r) for r in info.requires_dist]

        result = resolve(
            ["requests==2.32.3"],
            index=index,
            metadata=SdistMetadata(index, tmp_path / "sources", declared),
        )

    assert set(result.packages) == {"certifi", "charset-normalizer", "idna", "requests", "urllib3"}
    assert all(p.sdist.filename.endswith((".tar.gz", ".zip")) for p in result.packages.values())
