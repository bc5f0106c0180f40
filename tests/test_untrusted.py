"""The bounded reader and the fetch rules, checked on their own."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from fromsource.errors import IndexError_, InputError, KeyFileError
from fromsource.fetch import Fetcher, FetchRules, insecure_reason
from fromsource.untrusted import check_depth, load_json, load_toml, read_file


def test_read_file_takes_exactly_the_limit_and_refuses_one_byte_more(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_file(path, limit=100, what="file") == b"x" * 100
    with pytest.raises(InputError, match=r"file .* is larger than 99 bytes \(size limit\)"):
        read_file(path, limit=99, what="file")


def test_read_file_uses_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"cannot read public key .*missing"):
        read_file(tmp_path / "missing", limit=10, what="public key", error=KeyFileError)
    with pytest.raises(KeyFileError, match="is a directory, not a regular file"):
        read_file(tmp_path, limit=10, what="public key", error=KeyFileError)


def test_depth_is_counted_on_lists_and_tables() -> None:
    check_depth([[["leaf"]]], source="s", max_depth=3)
    with pytest.raises(InputError, match="nested deeper than 2 levels"):
        check_depth({"a": {"b": {}}}, source="s", max_depth=2)
    assert load_json(b'{"a": [1]}', source="s") == {"a": [1]}
    with pytest.raises(InputError, match="s is not JSON"):
        load_json(b"{", source="s")
    assert load_toml("a = 1", source="t") == {"a": 1}
    with pytest.raises(InputError, match="t is not valid TOML"):
        load_toml("a = ", source="t")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://mirror.example/simple/", "fetched over plain http from mirror.example"),
        ("http://127.0.0.1:8080/simple/", None),
        ("http://[::1]/simple/", None),
        ("http://localhost/simple/", None),
        ("https://mirror.example/simple/", None),
    ],
)
def test_insecure_reason(url: str, reason: str | None) -> None:
    assert insecure_reason(url) == reason


def test_redirect_rules() -> None:
    with requests.Session() as session:
        fetcher = Fetcher(session, FetchRules(allow_unverified=True))
        with pytest.raises(IndexError_, match="https must not be downgraded to http"):
            fetcher.check_url("http://a.example/x", came_from="https://a.example/y")
        with pytest.raises(IndexError_, match="may not send us to this machine"):
            fetcher.check_url("https://127.0.0.1/x", came_from="https://a.example/y")
        with pytest.raises(IndexError_, match="only http"):
            fetcher.check_url("file:///etc/passwd", came_from="https://a.example/y")
        fetcher.check_url("https://files.example/x", came_from="https://a.example/y")
        strict = Fetcher(session)
        with pytest.raises(IndexError_, match=r"plain http to a\.example"):
            strict.check_url("http://a.example/simple/")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1048576", 1048576), ("64K", 65536), ("32M", 32 * 1024**2), ("2GiB", 2 * 1024**3)],
)
def test_size_values(value: str, expected: int) -> None:
    import click

    from fromsource.cli._common import _size

    assert _size(click.Context(click.Command("x")), click.Option(["--s"]), value) == expected


@pytest.mark.parametrize("value", ["0", "12Q", "-1", "M"])
def test_bad_size_is_a_usage_error(tmp_path: Path, value: str) -> None:
    from click.testing import CliRunner

    from fromsource.cli import main

    result = CliRunner().invoke(
        main, ["bootstrap", "x", "-w", str(tmp_path / "w"), "--max-download-size", value]
    )
    assert result.exit_code == 2
    assert "is not a size" in result.output
    assert not (tmp_path / "w").exists()  # refused before the command ran


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(JSON_VALUES, st.integers(0, 6))
def test_depth_limit_is_exactly_the_nesting_of_containers(value: object, limit: int) -> None:
    if _depth(value) > limit:
        with pytest.raises(InputError, match=f"nested deeper than {limit} levels"):
            check_depth(value, source="s", max_depth=limit)
    else:
        check_depth(value, source="s", max_depth=limit)


def test_read_file_reads_past_the_size_a_file_claims() -> None:
    # procfs files claim size 0 and deliver more: the read does not stop at the claim.
    data = read_file(Path("/proc/self/status"), limit=1 << 20, what="status")
    assert data.startswith(b"Name:") and len(data) > 100
    with pytest.raises(InputError, match="larger than 10 bytes"):
        read_file(Path("/proc/self/status"), limit=10, what="status")
