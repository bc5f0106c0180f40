"""Property test: a statement verify does not fully understand is never valid.

Start from the real, signed flit-core -> packaging chain (packaging's statement re-signed with
one entry of each native kind added, as a compiled wheel's would carry). Hypothesis picks a field or list entry
of one of the two statements and drops, duplicates, retypes or renames it, adds a field or entry
next to it, or changes its value keeping its type; the result is signed again with the trusted
builder key (and, for flit-core, packaging's pin on flit-core's attestation is updated and
re-signed), so only the statement reader and the chain checks stand between the mutation and a
"valid" verdict. Verify must never say valid, except for the mutations on the documented
neutral list (docs/provenance.md, "Neutral mutations").
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fromsource.attest import dsse
from fromsource.attest.keys import KeyPair, load_public_key, load_signer
from fromsource.fileutil import sha256_file
from fromsource.verify import Locations, Verifier

PACKAGING = "packaging-24.2-py3-none-any.whl"
FLIT = "flit_core-3.12.0-py3-none-any.whl"
EXAMPLES = int(os.environ.get("FROMSOURCE_MUTATIONS", "2000"))
# The examples run as this many seeded shards, which pytest-xdist spreads over the cores.
SHARDS = 4

JsonPath = tuple[str | int, ...]

# Values of every JSON type; a retype picks one whose type differs from the original's.
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _json_type(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)  # true, false and null are each their own case
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def sites(value: Any, path: JsonPath = ()) -> list[JsonPath]:
    """Every field and list entry below the root, parents before children."""
    found: list[JsonPath] = []
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        found.append((*path, key))
        found.extend(sites(child, (*path, key)))
    return found


def get(doc: Any, path: JsonPath) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@dataclass(frozen=True)
class Mutation:
    target: str  # PACKAGING or FLIT: whose statement
    op: str  # drop | duplicate | retype | rename | add | change
    path: JsonPath
    value: Any = None  # retype, change, add: the new value; duplicate of a key: the second value
    new_key: str = ""  # rename, add to an object

    def apply(self, statement: dict[str, Any]) -> bytes:
        """The mutated statement as the exact payload bytes to sign."""
        doc = _copy_along(statement, self.path[:-1])
        parent, last = get(doc, self.path[:-1]), self.path[-1]
        duplicate_key = None
        if self.op == "drop":
            del parent[last]
        elif self.op in ("retype", "change"):
            parent[last] = self.value
        elif self.op == "rename":
            parent[self.new_key] = parent.pop(last)
        elif self.op == "add" and isinstance(parent, list):
            assert isinstance(last, int)
            parent.insert(last, self.value)
        elif self.op == "add":
            parent[self.new_key] = self.value
        elif isinstance(parent, list):  # duplicate a list entry
            assert isinstance(last, int)
            parent.insert(last, copy.deepcopy(parent[last]))
        else:  # the same key twice in one object: only raw JSON can say that
            duplicate_key = (self.path, self.value)
        return _encode(doc, (), duplicate_key)


def _copy_along(doc: Any, path: JsonPath) -> Any:
    """A copy of ``doc`` in which the containers along ``path`` are new (the only ones a
    mutation changes); everything else is shared with ``doc``, which stays as it was."""
    root = copy.copy(doc)
    node = root
    for step in path:
        node[step] = copy.copy(node[step])
        node = node[step]
    return root


def _encode(value: Any, path: JsonPath, duplicate: tuple[JsonPath, Any] | None) -> bytes:
    """Canonical JSON, except that ``duplicate``'s key is written a second time with its value."""
    if isinstance(value, dict):
        parts = [
            json.dumps(k).encode() + b":" + _encode(v, (*path, k), duplicate)
            for k, v in sorted(value.items())
        ]
        if duplicate is not None and duplicate[0][:-1] == path:
            parts.append(json.dumps(duplicate[0][-1]).encode() + b":" + dsse.canonical_json(duplicate[1]))
        return b"{" + b",".join(parts) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(_encode(v, (*path, i), duplicate) for i, v in enumerate(value)) + b"]"
    return dsse.canonical_json(value)


# Fields whose value verify records but cannot check against anything else: a new value of the
# same type is a different claim the trusted key vouches for (docs/provenance.md).
_DEFINITION = ("predicate", "buildDefinition")
_DEPS = (*_DEFINITION, "resolvedDependencies")
INFORMATIONAL = {
    (*_DEFINITION, "externalParameters", "requirement"),
    (*_DEFINITION, "internalParameters", "isolation"),
    (*_DEFINITION, "internalParameters", "sourceDateEpoch"),
    ("predicate", "runDetails", "builder", "version", "fromsource"),
    ("predicate", "runDetails", "metadata", "invocationId"),
    ("predicate", "runDetails", "metadata", "startedOn"),
    ("predicate", "runDetails", "metadata", "finishedOn"),
    ("predicate", "runDetails", "byproducts", 0, "digest", "sha256"),
}
_SANDBOX = (*_DEFINITION, "internalParameters", "sandbox")


# Native entries (system-library, compiler, toolchain, crate): verify shows what they record but
# cannot check it, so any other well-formed value is another claim the key vouches for.
NATIVE_KINDS = ("system-library", "compiler", "toolchain", "crate")
NATIVE_ENTRIES = [
    {
        "name": "libyaml-0.so.2",
        "uri": "file:///usr/lib/x86_64-linux-gnu/libyaml-0.so.2.0.9",
        "digest": {"sha256": "1" * 64},
        "annotations": {
            "kind": "system-library",
            "soname": "libyaml-0.so.2",
            "path": "/lib/x86_64-linux-gnu/libyaml-0.so.2",
            "neededBy": ["yaml/_yaml.so"],
            "package": {
                "manager": "dpkg",
                "name": "libyaml-0-2",
                "version": "0.2.5-1",
                "architecture": "amd64",
            },
        },
    },
    {
        "name": "gcc-12.2.0",
        "uri": "file:///usr/bin/gcc-12",
        "digest": {"sha256": "2" * 64},
        "annotations": {"kind": "compiler", "compiler": "gcc", "version": "12.2.0", "command": "cc"},
    },
    {
        "name": "rustc-1.95.0",
        "uri": "file:///opt/rust/bin/rustc",
        "digest": {"sha256": "3" * 64},
        "annotations": {
            "kind": "toolchain",
            "toolchain": "rust",
            "program": "rustc",
            "version": "rustc 1.95.0",
        },
    },
    {
        "name": "tinyadd-0.1.0.crate",
        "uri": "file:///registry/tinyadd-0.1.0.crate",
        "digest": {"sha256": "4" * 64},
        "annotations": {
            "kind": "crate",
            "crate": "tinyadd",
            "version": "0.1.0",
            "lockSource": "registry+file:///index",
        },
    },
]


def _plain(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value != ""
        and "/" not in value
        and "\\" not in value
        and not value.startswith(".")
        and "\x00" not in value
    )


def _native_neutral(mutation: Mutation, statement: dict[str, Any]) -> bool:
    """For a mutation inside a native entry: whether the entry stays well formed."""
    path = mutation.path
    rest = path[len(_DEPS) + 1 :]
    entry = get(statement, path[: len(_DEPS) + 1])
    value = mutation.value
    if mutation.op == "drop":
        # an optional key, or one of the linking members
        return rest in (("annotations", "package"), ("annotations", "package", "architecture")) or (
            len(rest) == 3 and rest[1] == "neededBy"
        )
    if mutation.op == "add" and len(rest) == 3 and rest[1] == "neededBy":
        return isinstance(value, str) and value != "" and value not in entry["annotations"]["neededBy"]
    if mutation.op != "change":
        return False
    if rest == ("name",):
        return _plain(value)
    if rest == ("uri",) or (
        len(rest) == 2 and rest[0] == "annotations" and rest[1] not in ("kind", "neededBy")
    ):
        return isinstance(value, str) and value != ""
    if rest == ("annotations", "neededBy"):
        return (
            isinstance(value, list)
            and all(isinstance(v, str) and v for v in value)
            and len(set(value)) == len(value)
        )
    if len(rest) == 3 and rest[1] == "neededBy":
        others = [v for i, v in enumerate(entry["annotations"]["neededBy"]) if i != rest[2]]
        return isinstance(value, str) and value != "" and value not in others
    if len(rest) == 3 and rest[1] == "package":
        return rest[2] != "manager" and isinstance(value, str) and value != ""
    if rest == ("digest", "sha256"):
        return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    return False


def neutral(mutation: Mutation, statement: dict[str, Any]) -> bool:
    """The documented neutral list: mutations that leave another well-formed claim.

    - dropping a ``wheel`` entry of ``resolvedDependencies``: the trusted key then vouches for a
      build with fewer wheels, a claim verify cannot tell from a true one;
    - dropping, adding or changing a root of an ``internalParameters.sandbox`` list, or a
      namespace other than ``net``, or changing the sandbox's ``version``: likewise;
    - changing the value of an informational field (``INFORMATIONAL``), of the interpreter
      entry, or the ``edge`` of a wheel, keeping its type.
    """
    path = mutation.path
    if mutation.op == "drop" and path[:-1] == _DEPS:
        return bool(get(statement, path)["annotations"]["kind"] in ("wheel", *NATIVE_KINDS))
    if (
        len(path) > len(_DEPS) + 1
        and path[: len(_DEPS)] == _DEPS
        and get(statement, path[: len(_DEPS) + 1])["annotations"]["kind"] in NATIVE_KINDS
    ):
        return _native_neutral(mutation, statement)
    if path[:-1] == _SANDBOX and path[-1] in ("readOnly", "readWrite"):
        return mutation.op == "change"  # another list of roots: what the signer says it used
    if path[:-2] == _SANDBOX and isinstance(path[-1], int) and mutation.op in ("drop", "add", "change"):
        # one root or namespace more, less or other; never without the network namespace
        return mutation.op == "add" or path[-2] != "namespaces" or get(statement, path) != "net"
    if path == (*_SANDBOX, "namespaces") and mutation.op == "change":
        return isinstance(mutation.value, list) and "net" in mutation.value
    if mutation.op != "change":
        return False
    if path in INFORMATIONAL or path == (*_SANDBOX, "version"):
        return True
    if path[:-1] == _DEPS or path[: len(_DEPS)] != _DEPS:
        return False
    entry = get(statement, path[: len(_DEPS) + 1])
    rest = path[len(_DEPS) + 1 :]
    kind = entry["annotations"]["kind"]
    return kind == "interpreter" or (kind == "wheel" and rest == ("annotations", "edge"))


@dataclass
class Chain:
    ws: Path
    signer: Any
    public_key: Any
    statements: dict[str, dict[str, Any]]
    originals: dict[str, bytes]
    dirty: set[str] = field(default_factory=set)  # attestations not as built (writes are slow here)
    sites: dict[str, list[JsonPath]] = field(default_factory=dict)  # of each statement, listed once

    def att(self, wheel: str) -> Path:
        return self.ws / "attestations" / f"{wheel}.intoto.jsonl"

    def sign(self, payload: bytes) -> bytes:
        from securesystemslib.dsse import Envelope

        envelope = Envelope(payload=payload, payload_type=dsse.PAYLOAD_TYPE, signatures={})
        envelope.sign(self.signer)
        return json.dumps(envelope.to_dict(), sort_keys=True).encode() + b"\n"

    def write(self, wheel: str, data: bytes) -> None:
        self.att(wheel).write_bytes(data)
        self.dirty.add(wheel)

    def restore(self) -> None:
        for wheel in sorted(self.dirty):
            self.att(wheel).write_bytes(self.originals[wheel])
        self.dirty.clear()

    def verify(self) -> bool:
        verifier = Verifier([self.public_key], Locations((self.ws / "wheels",), (self.ws / "attestations",)))
        return verifier.verify_wheel(self.ws / "wheels" / PACKAGING).ok


@pytest.fixture(scope="module")
def chain(built_workspace: Path, keypair: KeyPair, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    ws = tmp_path_factory.mktemp("mutations") / "work"
    shutil.copytree(built_workspace, ws, ignore=shutil.ignore_patterns("builds"))
    statements, originals = {}, {}
    for wheel in (PACKAGING, FLIT):
        data = (ws / "attestations" / f"{wheel}.intoto.jsonl").read_bytes()
        originals[wheel] = data
        statements[wheel] = json.loads(base64.b64decode(json.loads(data)["payload"]))
    made = Chain(
        ws, load_signer(keypair.private_path), load_public_key(keypair.public_path), statements, originals
    )
    statements[PACKAGING]["predicate"]["buildDefinition"]["resolvedDependencies"] += copy.deepcopy(
        NATIVE_ENTRIES
    )
    originals[PACKAGING] = made.sign(dsse.canonical_json(statements[PACKAGING]))
    made.att(PACKAGING).write_bytes(originals[PACKAGING])
    made.sites.update((wheel, sites(statement)) for wheel, statement in statements.items())
    return made


@st.composite
def mutations(draw: st.DrawFn, chain: Chain) -> Mutation:
    target = draw(st.sampled_from([PACKAGING, FLIT]))
    statement = chain.statements[target]
    path = draw(st.sampled_from(chain.sites[target]))
    parent, original = get(statement, path[:-1]), get(statement, path)
    ops = ["drop", "duplicate", "retype", "add", "change"] + (["rename"] if isinstance(parent, dict) else [])
    op = draw(st.sampled_from(ops))
    if op == "add":
        value = draw(JSON_VALUES)
        if isinstance(parent, list):
            return Mutation(target, op, path, value=value)
        return Mutation(
            target,
            op,
            path,
            value=value,
            new_key=draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in parent)),
        )
    if op == "change":
        return Mutation(target, op, path, value=draw(_same_type(original)))
    if op == "retype" or (op == "duplicate" and isinstance(parent, dict)):
        kind = _json_type(original)
        value = draw(JSON_VALUES.filter(lambda v: _json_type(v) != kind) if op == "retype" else JSON_VALUES)
        return Mutation(target, op, path, value=value)
    if op == "rename":
        new_key = draw(
            st.one_of(
                st.sampled_from([str(path[-1]).upper(), f"{path[-1]}_", f"x-{path[-1]}"]),
                st.text(min_size=1, max_size=12),
            ).filter(lambda k: k not in parent)
        )
        return Mutation(target, op, path, new_key=new_key)
    return Mutation(target, op, path)


def _same_type(original: Any) -> st.SearchStrategy[Any]:
    """Another value of the original's type; for strings, also near-misses of the original."""
    if isinstance(original, bool):
        return st.just(not original)
    if isinstance(original, int):
        return st.integers(-1, 2**40).filter(lambda v: v != original)
    if isinstance(original, str):
        hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
        nearby = st.sampled_from([original.upper(), original + "x", original[:-1], " " + original, ""])
        return st.one_of(hexes, nearby, st.text(max_size=20)).filter(lambda v: v != original)
    if isinstance(original, list):
        return st.lists(JSON_VALUES, max_size=3).filter(lambda v: v != original)
    return st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3).filter(lambda v: v != original)


def test_the_unmutated_chain_is_valid(chain: Chain) -> None:
    chain.restore()
    assert chain.verify()


def test_mutation_machinery_reproduces_the_signed_bytes(chain: Chain) -> None:
    # With nothing changed, the encoder gives the exact payload that was signed.
    for wheel, statement in chain.statements.items():
        assert _encode(statement, (), None) == base64.b64decode(json.loads(chain.originals[wheel])["payload"])


def _check(chain: Chain, mutation: Mutation) -> None:
    if mutation.target == PACKAGING:
        chain.restore()  # flit-core as built; packaging is overwritten below
    statement = chain.statements[mutation.target]
    chain.write(mutation.target, chain.sign(mutation.apply(statement)))
    if mutation.target == FLIT:
        # Re-pin packaging on the mutated flit-core attestation, so only the mutation can fail.
        top = copy.deepcopy(chain.statements[PACKAGING])
        for dep in top["predicate"]["buildDefinition"]["resolvedDependencies"]:
            if dep["name"] == FLIT:
                dep["annotations"]["attestationSha256"] = sha256_file(chain.att(FLIT))
        chain.write(PACKAGING, chain.sign(dsse.canonical_json(top)))
    valid = chain.verify()
    assert not valid or neutral(mutation, statement), f"verify accepted {mutation}"


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_mutation_is_rejected_unless_neutral(chain: Chain, shard: int) -> None:
    counted = {"seen": 0}
    examples = -(-EXAMPLES // SHARDS)  # together at least EXAMPLES

    @seed(shard)  # reproducible, and each shard draws other mutations
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutations(chain))
    def run(mutation: Mutation) -> None:
        counted["seen"] += 1
        _check(chain, mutation)

    try:
        run()
    finally:
        chain.restore()
    assert counted["seen"] >= examples


@pytest.mark.parametrize(
    "mutation",
    [
        Mutation(PACKAGING, "drop", ("predicate", "buildDefinition", "resolvedDependencies", 1)),
        Mutation(PACKAGING, "drop", ("predicate", "buildDefinition", "resolvedDependencies", 3)),
        Mutation(
            PACKAGING,
            "change",
            ("predicate", "buildDefinition", "resolvedDependencies", 4, "annotations", "version"),
            value="13.0.0",
        ),
    ],
)
def test_a_neutral_mutation_does_verify(chain: Chain, mutation: Mutation) -> None:
    # The neutral list is not a blind spot of the test: these really do verify.
    assert neutral(mutation, chain.statements[mutation.target])
    chain.write(PACKAGING, chain.sign(mutation.apply(chain.statements[PACKAGING])))
    try:
        assert chain.verify()
    finally:
        chain.restore()
