"""An adversarial corpus for verify: every hostile case is rejected with a precise reason.

Each case starts from a private copy of the real flit-core -> packaging workspace, changes
one thing, and states in one line why verify must refuse it. Content changes are re-signed
with the trusted key, so the signature is valid and only the check under test can catch them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from securesystemslib.dsse import Envelope

from fromsource.attest import dsse
from fromsource.attest.keys import KeyPair, generate_keypair, load_public_key, load_signer
from fromsource.cli import main
from fromsource.errors import PolicyError, VerificationError
from fromsource.fileutil import sha256_file
from fromsource.policy import Policy
from fromsource.verify import ChainNode, Locations, Verifier

PACKAGING = "packaging-24.2-py3-none-any.whl"
FLIT = "flit_core-3.12.0-py3-none-any.whl"


@dataclass
class Ctx:
    ws: Path
    key_dir: Path
    tmp: Path

    def att(self, wheel: str = PACKAGING) -> Path:
        return self.ws / "attestations" / f"{wheel}.intoto.jsonl"

    def statement(self, wheel: str = PACKAGING) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(
            base64.b64decode(json.loads(self.att(wheel).read_text())["payload"])
        )
        return loaded

    def resign(self, statement: dict[str, Any], wheel: str = PACKAGING, signer: Any = None) -> None:
        self.att(wheel).write_bytes(dsse.sign(statement, signer or load_signer(self.key_dir / "builder.key")))

    def edit(self, change: Callable[[dict[str, Any]], None], wheel: str = PACKAGING) -> None:
        statement = self.statement(wheel)
        change(statement)
        self.resign(statement, wheel)

    def raw_envelope(self, wheel: str = PACKAGING) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.att(wheel).read_text())
        return loaded

    def write_envelope(self, envelope: Any, wheel: str = PACKAGING) -> None:
        self.att(wheel).write_text(json.dumps(envelope) + "\n")


def _definition(s: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = s["predicate"]["buildDefinition"]
    return definition


def _dep(s: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in _definition(s)["resolvedDependencies"] if d["name"] == name)


def _other_key_signs(c: Ctx) -> None:
    other = generate_keypair(c.tmp / "other")
    c.resign(c.statement(), signer=load_signer(other.private_path))


def _keyid_lies(c: Ctx) -> None:
    # Signed by another key, but the signature claims the trusted keyid.
    other = generate_keypair(c.tmp / "liar")
    envelope = Envelope(
        payload=dsse.canonical_json(c.statement()), payload_type=dsse.PAYLOAD_TYPE, signatures={}
    )
    envelope.sign(load_signer(other.private_path))
    raw = envelope.to_dict()
    raw["signatures"][0]["keyid"] = load_public_key(c.key_dir / "builder.pub").keyid
    c.write_envelope(raw)


def _flip_payload(c: Ctx) -> None:
    raw = c.raw_envelope()
    payload = bytearray(base64.b64decode(raw["payload"]))
    payload[50] ^= 1
    raw["payload"] = base64.b64encode(bytes(payload)).decode()
    c.write_envelope(raw)


def _strip_signatures(c: Ctx) -> None:
    raw = c.raw_envelope()
    raw["signatures"] = []
    c.write_envelope(raw)


def _payload_type(c: Ctx) -> None:
    envelope = Envelope(
        payload=dsse.canonical_json(c.statement()), payload_type="application/json", signatures={}
    )
    envelope.sign(load_signer(c.key_dir / "builder.key"))
    c.write_envelope(envelope.to_dict())


def _signed_bytes(payload: bytes) -> Callable[[Ctx], object]:
    def change(c: Ctx) -> None:
        envelope = Envelope(payload=payload, payload_type=dsse.PAYLOAD_TYPE, signatures={})
        envelope.sign(load_signer(c.key_dir / "builder.key"))
        c.write_envelope(envelope.to_dict())

    return change


def _write(data: bytes) -> Callable[[Ctx], object]:
    return lambda c: c.att().write_bytes(data)


def _dependency_cycle(c: Ctx) -> None:
    # flit-core's attestation now claims packaging was in its build env; packaging's
    # attestation is updated to pin the new flit attestation: a closed loop, all signed.
    flit = c.statement(FLIT)
    packaging_wheel = c.ws / "wheels" / PACKAGING
    _definition(flit)["resolvedDependencies"].append(
        {
            "name": PACKAGING,
            "digest": {"sha256": sha256_file(packaging_wheel)},
            "annotations": {
                "kind": "wheel",
                "edge": "build-system",
                "seed": False,
                "attestationSha256": sha256_file(c.att()),
            },
        }
    )
    c.resign(flit, FLIT)
    c.edit(lambda s: _dep(s, FLIT)["annotations"].update(attestationSha256=sha256_file(c.att(FLIT))))


def _deps(s: dict[str, Any]) -> list[dict[str, Any]]:
    deps: list[dict[str, Any]] = _definition(s)["resolvedDependencies"]
    return deps


def _of_kind(s: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(d for d in _deps(s) if d["annotations"]["kind"] == kind)


def _duplicate_key(c: Ctx) -> None:
    # The same key twice in one object: parsers disagree on which value wins.
    payload = dsse.canonical_json(c.statement()).replace(
        b'"isolation":', b'"isolation":"none","isolation":', 1
    )
    _signed_bytes(payload)(c)


def _sdist_swapped(c: Ctx) -> None:
    # Another sdist in resolvedDependencies than the one externalParameters names.
    def change(s: dict[str, Any]) -> None:
        _of_kind(s, "sdist").update(name="packaging-24.1.tar.gz", digest={"sha256": "3" * 64})

    c.edit(change)


def _isolation(level: str, *, keep_sandbox: bool = False) -> Callable[[dict[str, Any]], None]:
    def edit(statement: dict[str, Any]) -> None:
        internal = _definition(statement)["internalParameters"]
        internal["isolation"] = level
        if not keep_sandbox:
            internal.pop("sandbox", None)

    return edit


def _unlink(rel: str) -> Callable[[Ctx], object]:
    return lambda c: (c.ws / rel).unlink()


# (id, why it must fail, change, expected reason fragment)
Case = tuple[str, str, Callable[[Ctx], object], str]  # id, why, the change, the reason expected
CASES: list[Case] = [
    ("untrusted-signer", "signed by a key nobody trusts", _other_key_signs, "signature not valid"),
    (
        "keyid-lies",
        "a signature claiming a trusted keyid but made by another key",
        _keyid_lies,
        "signature not valid",
    ),
    ("payload-flipped", "one payload bit changed after signing", _flip_payload, "signature not valid"),
    ("no-signatures", "an envelope with its signatures removed", _strip_signatures, "signature not valid"),
    ("payload-type", "signed, but not declared as an in-toto payload", _payload_type, "payloadType"),
    ("payload-not-json", "signed bytes that are not JSON", _signed_bytes(b"\xff\xfe not json"), "not JSON"),
    (
        "payload-json-list",
        "signed JSON that is not a statement object",
        _signed_bytes(b"[1, 2]"),
        "not a JSON object",
    ),
    (
        "statement-type",
        "an in-toto v0.1 statement type",
        lambda c: c.edit(lambda s: s.update(_type="https://in-toto.io/Statement/v0.1")),
        "_type",
    ),
    (
        "other-predicate",
        "a valid signature over another predicate type (cosign CVE-2022-35929)",
        lambda c: c.edit(lambda s: s.update(predicateType="https://cyclonedx.org/bom")),
        "predicateType",
    ),
    (
        "slsa-v02",
        "SLSA v0.2 provenance is another format",
        lambda c: c.edit(lambda s: s.update(predicateType="https://slsa.dev/provenance/v0.2")),
        "predicateType",
    ),
    (
        "subject-digest",
        "the subject digest is another wheel's",
        lambda c: c.edit(lambda s: s["subject"][0]["digest"].update(sha256="0" * 64)),
        "subject digest",
    ),
    (
        "subject-digest-type",
        "subject digest is a string, not an object",
        lambda c: c.edit(lambda s: s["subject"][0].update(digest="abc")),
        "$.subject[0].digest: expected an object",
    ),
    (
        "subject-name",
        "the statement is about another file",
        lambda c: c.edit(lambda s: s["subject"][0].update(name="evil-1.0-py3-none-any.whl")),
        "subject must name",
    ),
    (
        "subject-duplicate",
        "the same subject listed twice",
        lambda c: c.edit(lambda s: s["subject"].append(dict(s["subject"][0]))),
        "subject must name",
    ),
    (
        "subject-ambiguous",
        "one attestation claiming two wheels",
        lambda c: c.edit(lambda s: s["subject"].append({"name": "x.whl", "digest": {"sha256": "1" * 64}})),
        "subject must name",
    ),
    (
        "subject-empty",
        "no subject at all",
        lambda c: c.edit(lambda s: s.update(subject=[])),
        "$.subject: a subject must name exactly the one wheel built, holds 0",
    ),
    (
        "subject-not-objects",
        "subjects that are strings",
        lambda c: c.edit(lambda s: s.update(subject=["x"])),
        "$.subject[0]: expected an object",
    ),
    (
        "build-type",
        "an unknown buildType we cannot interpret",
        lambda c: c.edit(lambda s: _definition(s).update(buildType="https://example.invalid/other/v1")),
        "buildType",
    ),
    (
        "external-param",
        "an externalParameter the verifier does not understand",
        lambda c: c.edit(lambda s: _definition(s)["externalParameters"].update(patch="x")),
        "externalParameters.patch: unknown field",
    ),
    (
        "no-build-definition",
        "a predicate without buildDefinition",
        lambda c: c.edit(lambda s: s["predicate"].pop("buildDefinition")),
        "$.predicate.buildDefinition: missing",
    ),
    (
        "deps-not-list",
        "resolvedDependencies of the wrong type",
        lambda c: c.edit(lambda s: _definition(s).update(resolvedDependencies={"a": 1})),
        "resolvedDependencies: expected an array",
    ),
    (
        "dep-no-digest",
        "a dependency entry without a digest",
        lambda c: c.edit(lambda s: _dep(s, FLIT).pop("digest")),
        "resolvedDependencies[1].digest: missing",
    ),
    (
        "dep-not-object",
        "a dependency entry that is a string",
        lambda c: c.edit(lambda s: _definition(s)["resolvedDependencies"].append("x")),
        "resolvedDependencies[3]: expected an object",
    ),
    (
        "dep-digest",
        "the build env wheel recorded with another digest",
        lambda c: c.edit(lambda s: _dep(s, FLIT)["digest"].update(sha256="2" * 64)),
        "sha256 is",
    ),
    (
        "dep-path-traversal",
        "a dependency name that walks out of the workspace",
        lambda c: c.edit(lambda s: _dep(s, FLIT).update(name="../../" + FLIT)),
        "not a plain file name",
    ),
    ("dep-absent", "a dependency wheel that is not there", _unlink(f"wheels/{FLIT}"), "not found"),
    (
        "dep-unattested",
        "a dependency wheel without any attestation",
        _unlink(f"attestations/{FLIT}.intoto.jsonl"),
        "no attestation found",
    ),
    (
        "dep-attestation-swapped",
        "the dependency's attestation replaced after use",
        lambda c: c.edit(lambda s: s["predicate"]["runDetails"]["metadata"].update(invocationId="x"), FLIT),
        "attestation file differs",
    ),
    (
        "dep-attestation-unpinned",
        "a wheel dependency without attestationSha256",
        lambda c: c.edit(lambda s: _dep(s, FLIT)["annotations"].pop("attestationSha256")),
        "annotations.attestationSha256: missing",
    ),
    (
        "dep-wheel-bytes",
        "the dependency wheel's bytes changed",
        lambda c: (c.ws / "wheels" / FLIT).write_bytes(b"PK" + b"\0" * 100),
        "sha256 is",
    ),
    ("provenance-cycle", "a chain that loops back on itself", _dependency_cycle, "provenance cycle"),
    (
        "wheel-bytes",
        "the wheel changed after it was attested",
        lambda c: (c.ws / "wheels" / PACKAGING).write_bytes(b"PK\x03\x04 evil"),
        "subject digest",
    ),
    (
        "dep-unknown-kind",
        "a dependency of a kind verify does not know",
        lambda c: c.edit(lambda s: _dep(s, FLIT)["annotations"].update(kind="plugin")),
        "is not one of sdist, wheel, interpreter",
    ),
    (
        "dep-edge-retyped",
        "a wheel edge of the wrong type",
        lambda c: c.edit(lambda s: _dep(s, FLIT)["annotations"].update(edge=5)),
        "annotations.edge: 5 is not one of",
    ),
    (
        "dep-seed-retyped",
        "a seed flag that is a string",
        lambda c: c.edit(lambda s: _dep(s, FLIT)["annotations"].update(seed="false")),
        "annotations.seed: expected true or false",
    ),
    (
        "dep-annotation-unknown",
        "an annotation verify does not understand",
        lambda c: c.edit(lambda s: _dep(s, FLIT)["annotations"].update(patched=True)),
        "annotations.patched: unknown field",
    ),
    (
        "dep-kind-missing",
        "a dependency without a kind",
        lambda c: c.edit(lambda s: _dep(s, FLIT)["annotations"].pop("kind")),
        "annotations.kind",
    ),
    (
        "dep-wheel-twice",
        "one wheel listed twice in the environment",
        lambda c: c.edit(lambda s: _deps(s).append(dict(_dep(s, FLIT)))),
        "is already entry",
    ),
    (
        "dep-uri-on-wheel",
        "a uri on a wheel entry (only a fetched sdist has one)",
        lambda c: c.edit(lambda s: _dep(s, FLIT).update(uri="https://example.invalid/x.whl")),
        "unknown field for a wheel entry",
    ),
    (
        "dep-external-unnamed",
        "a wheel marked external that no policy names",
        lambda c: c.edit(
            lambda s: _dep(s, FLIT)["annotations"].update(external=True, attestationSha256=None)
        ),
        "no policy names its sha256",
    ),
    (
        "sdist-missing",
        "no sdist entry: the chain would end nowhere",
        lambda c: c.edit(lambda s: _deps(s).remove(_of_kind(s, "sdist"))),
        "exactly one sdist entry, holds 0",
    ),
    (
        "sdist-twice",
        "two sdist entries",
        lambda c: c.edit(lambda s: _deps(s).append(dict(_of_kind(s, "sdist")))),
        "exactly one sdist entry, holds 2",
    ),
    (
        "sdist-not-the-external",
        "an sdist entry that is not externalParameters.sdist",
        _sdist_swapped,
        "differs from externalParameters.sdist",
    ),
    (
        "sdist-param-missing",
        "externalParameters without the sdist",
        lambda c: c.edit(lambda s: _definition(s)["externalParameters"].pop("sdist")),
        "externalParameters.sdist: missing",
    ),
    (
        "interpreter-missing",
        "no interpreter entry",
        lambda c: c.edit(lambda s: _deps(s).remove(_of_kind(s, "interpreter"))),
        "exactly one interpreter entry, holds 0",
    ),
    (
        "interpreter-twice",
        "two interpreters",
        lambda c: c.edit(lambda s: _deps(s).append(dict(_of_kind(s, "interpreter")))),
        "exactly one interpreter entry, holds 2",
    ),
    (
        "internal-param-unknown",
        "an internalParameter verify does not understand",
        lambda c: c.edit(lambda s: _definition(s)["internalParameters"].update(network="on")),
        "internalParameters.network: unknown field",
    ),
    (
        "isolation-unknown",
        "an isolation level verify does not know",
        lambda c: c.edit(lambda s: _definition(s)["internalParameters"].update(isolation="vm")),
        "isolation: 'vm' is not one of",
    ),
    (
        "bwrap-without-sandbox",
        "isolation bwrap that does not state its sandbox",
        lambda c: c.edit(_isolation("bwrap")),
        "sandbox: missing",
    ),
    (
        "sandbox-unknown-field",
        "a sandbox with a field verify does not understand",
        lambda c: c.edit(
            lambda s: _definition(s)["internalParameters"].update(
                isolation="bwrap",
                sandbox={
                    "tool": "bwrap",
                    "version": "0.8.0",
                    "readOnly": ["/usr"],
                    "readWrite": [],
                    "namespaces": ["net"],
                    "network": "host",
                },
            )
        ),
        "sandbox.network: unknown field",
    ),
    (
        "sandbox-without-bwrap",
        "a sandbox claimed for another isolation",
        lambda c: c.edit(
            lambda s: _definition(s)["internalParameters"].update(
                isolation="unshare-net",
                sandbox={
                    "tool": "bwrap",
                    "version": "0.8.0",
                    "readOnly": [],
                    "readWrite": [],
                    "namespaces": [],
                },
            )
        ),
        "not 'bwrap'",
    ),
    (
        "sandbox-without-net",
        "a bwrap sandbox that kept the host's network",
        lambda c: c.edit(
            lambda s: _definition(s)["internalParameters"].update(
                isolation="bwrap",
                sandbox={
                    "tool": "bwrap",
                    "version": "0.8.0",
                    "readOnly": ["/usr"],
                    "readWrite": [],
                    "namespaces": ["user", "pid"],
                },
            )
        ),
        "lacks 'net'",
    ),
    (
        "sdist-publisher-evidence-malformed",
        "publisher evidence with a key verify does not know",
        lambda c: c.edit(
            lambda s: _of_kind(s, "sdist")["annotations"].update(
                publisherEvidence={
                    "publisher": "github:o/r/release.yml",
                    "attestationSha256": "5" * 64,
                    "attestationKind": "sigstore-bundle",
                    "logIndex": 1,
                    "signer": "x",
                    "verified": True,
                }
            )
        ),
        "publisherEvidence.verified: unknown field",
    ),
    (
        "sdist-unverified",
        "an sdist fetched without an integrity check, not allowed",
        lambda c: c.edit(
            lambda s: _of_kind(s, "sdist")["annotations"].update(
                unverified="the index publishes no sha256 for it"
            )
        ),
        "without an integrity check",
    ),
    (
        "sdist-unverified-retyped",
        "the unverified reason as a number",
        lambda c: c.edit(lambda s: _of_kind(s, "sdist")["annotations"].update(unverified=5)),
        "annotations.unverified: expected a string",
    ),
    (
        "epoch-retyped",
        "sourceDateEpoch as a string",
        lambda c: c.edit(lambda s: _definition(s)["internalParameters"].update(sourceDateEpoch="1")),
        "sourceDateEpoch: expected an integer",
    ),
    (
        "statement-unknown-field",
        "an unknown top-level statement field",
        lambda c: c.edit(lambda s: s.update(extra={})),
        "$.extra: unknown field",
    ),
    (
        "builder-id",
        "another builder id",
        lambda c: c.edit(
            lambda s: s["predicate"]["runDetails"]["builder"].update(id="https://example.invalid/builder")
        ),
        "builder.id",
    ),
    (
        "byproducts-extra",
        "a second byproduct",
        lambda c: c.edit(
            lambda s: s["predicate"]["runDetails"]["byproducts"].append(
                {"name": "x", "digest": {"sha256": "4" * 64}}
            )
        ),
        "must hold exactly the build log",
    ),
    (
        "digest-uppercase",
        "a digest in upper-case hex (one file, two spellings)",
        lambda c: c.edit(
            lambda s: s["subject"][0]["digest"].update(sha256=s["subject"][0]["digest"]["sha256"].upper())
        ),
        "64 lower-case hex",
    ),
    (
        "digest-second-algorithm",
        "a digest set with an algorithm verify does not check",
        lambda c: c.edit(lambda s: s["subject"][0]["digest"].update(md5="0" * 32)),
        "digest.md5: unknown field",
    ),
    ("json-duplicate-key", "a payload with one key twice", _duplicate_key, "appears twice"),
    ("malformed-json", "a truncated attestation line", _write(b'{"payload": "abc'), "not a DSSE envelope"),
    ("json-array", "an envelope that is a list", _write(b"[1, 2, 3]\n"), "not a DSSE envelope"),
    (
        "bad-base64",
        "a payload that is not base64",
        _write(b'{"payload": "***", "payloadType": "application/vnd.in-toto+json", "signatures": []}\n'),
        "not a DSSE envelope",
    ),
    (
        "missing-fields",
        "an envelope without payloadType",
        _write(b'{"payload": "e30=", "signatures": []}\n'),
        "not a DSSE envelope",
    ),
    ("empty-file", "an attestation file with no envelope", _write(b"\n\n"), "holds no envelope"),
    (
        "oversized",
        "an attestation file too large to be honest",
        _write(b" " * (dsse.MAX_ENVELOPE_BYTES + 1)),
        "larger than",
    ),
    ("binary-garbage", "random binary instead of JSON", _write(bytes(range(256)) * 4), "not a DSSE envelope"),
]


@pytest.fixture
def ctx(workspace_copy: Path, keypair: KeyPair, tmp_path: Path) -> Ctx:
    return Ctx(workspace_copy, keypair.private_path.parent, tmp_path)


def _verify(c: Ctx, **kwargs: Any) -> ChainNode:
    verifier = Verifier(
        [load_public_key(c.key_dir / "builder.pub")],
        Locations((c.ws / "wheels",), (c.ws / "attestations",)),
        **kwargs,
    )
    return verifier.verify_wheel(c.ws / "wheels" / PACKAGING)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("case", "why", "change", "reason"), CASES, ids=[c[0] for c in CASES])
def test_hostile_case_is_rejected(
    ctx: Ctx, case: str, why: str, change: Callable[[Ctx], object], reason: str
) -> None:
    change(ctx)
    node = _verify(ctx)
    assert not node.ok, f"{case} ({why}) was accepted"
    problems = node.all_problems()
    assert any(reason in p for p in problems), (why, problems)


# The statement-reading classes all go through the CLI too; plus a few envelope ones.
_CLI_CASES = {"keyid-lies", "bad-base64", "oversized", "provenance-cycle", "subject-not-objects"} | {
    c[0]
    for c in CASES
    if c[0].startswith(
        (
            "dep-",
            "sdist-",
            "interpreter-",
            "internal-",
            "isolation-",
            "bwrap-",
            "sandbox-",
            "epoch-",
            "statement-",
            "builder-",
            "byproducts-",
            "digest-",
            "json-",
        )
    )
}


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in _CLI_CASES], ids=lambda c: c[0])
def test_hostile_case_through_the_cli_exits_1_without_traceback(ctx: Ctx, case: Case) -> None:
    case[2](ctx)
    result = CliRunner().invoke(
        main,
        [
            "verify",
            str(ctx.ws / "wheels" / PACKAGING),
            "-w",
            str(ctx.ws),
            "--trusted-key",
            str(ctx.key_dir / "builder.pub"),
            "--json",
        ],
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert any(case[3] in p for p in report["problems"]), report["problems"]


def test_isolation_rule(ctx: Ctx) -> None:
    ctx.edit(_isolation("none"))
    assert _verify(ctx).ok
    node = _verify(ctx, require_isolation=True)
    assert any("requires network isolation" in p for p in node.all_problems())


def test_sandbox_rule(ctx: Ctx) -> None:
    built_under_bwrap = _definition(ctx.statement())["internalParameters"]["isolation"] == "bwrap"
    assert _verify(ctx, require_sandbox=True).ok is built_under_bwrap
    ctx.edit(_isolation("unshare-net"))
    assert _verify(ctx, require_isolation=True).ok
    node = _verify(ctx, require_sandbox=True)
    assert any("requires the filesystem sandbox ('bwrap')" in p for p in node.all_problems())


@pytest.mark.parametrize(
    "edit",
    [_isolation("none", keep_sandbox=True), _isolation("bwrap", keep_sandbox=False)],
    ids=["sandbox-without-bwrap", "bwrap-without-sandbox"],
)
def test_isolation_claims_must_agree(ctx: Ctx, edit: Callable[[dict[str, Any]], None]) -> None:
    if _definition(ctx.statement())["internalParameters"].get("isolation") != "bwrap":
        pytest.skip("the workspace was not built under bwrap here")
    ctx.edit(edit)
    problems = _verify(ctx).all_problems()
    assert any("internalParameters.sandbox" in p for p in problems), problems


def test_depth_limit(ctx: Ctx) -> None:
    assert _verify(ctx, max_depth=1).ok  # boundary: packaging (0) -> flit-core (1)
    node = _verify(ctx, max_depth=0)
    assert any("exceeds limits" in p for p in node.all_problems())


def _multi_signed(ctx: Ctx, signers: list[Any]) -> None:
    envelope = Envelope(
        payload=dsse.canonical_json(ctx.statement()), payload_type=dsse.PAYLOAD_TYPE, signatures={}
    )
    for signer in signers:
        envelope.sign(signer)
    ctx.write_envelope(envelope.to_dict())


def test_threshold_counts_distinct_keys(ctx: Ctx) -> None:
    trusted = load_signer(ctx.key_dir / "builder.key")
    second = generate_keypair(ctx.tmp / "second")
    keys = [load_public_key(ctx.key_dir / "builder.pub"), load_public_key(second.public_path)]
    locations = Locations((ctx.ws / "wheels",), (ctx.ws / "attestations",))
    # flit-core keeps its one signature; give it the second one too so the chain can pass.
    _multi_signed(ctx, [trusted, load_signer(second.private_path)])
    flit_statement = ctx.statement(FLIT)
    envelope = Envelope(
        payload=dsse.canonical_json(flit_statement), payload_type=dsse.PAYLOAD_TYPE, signatures={}
    )
    envelope.sign(trusted)
    envelope.sign(load_signer(second.private_path))
    ctx.att(FLIT).write_text(json.dumps(envelope.to_dict()) + "\n")
    ctx.edit(lambda s: _dep(s, FLIT)["annotations"].update(attestationSha256=sha256_file(ctx.att(FLIT))))
    _multi_signed(ctx, [trusted, load_signer(second.private_path)])
    assert Verifier(keys, locations, threshold=2).verify_wheel(ctx.ws / "wheels" / PACKAGING).ok

    # The same key signing twice, and listed twice, still counts once.
    _multi_signed(ctx, [trusted, trusted])
    doubled = [keys[0], keys[0], keys[1]]
    node = Verifier(doubled, locations, threshold=2).verify_wheel(ctx.ws / "wheels" / PACKAGING)
    assert any("signature not valid" in p for p in node.all_problems())
    with pytest.raises(VerificationError, match="exceeds the 1 distinct"):
        Verifier([keys[0], keys[0]], locations, threshold=2)


def test_second_envelope_in_file_may_be_the_valid_one(ctx: Ctx, keypair: KeyPair) -> None:
    good = ctx.att().read_bytes()
    other = generate_keypair(ctx.tmp / "o")
    bad = dsse.sign(ctx.statement(), load_signer(other.private_path))
    ctx.att().write_bytes(bad + good)
    assert _verify(ctx).ok


def test_policy_expiry_boundary() -> None:
    expires = datetime(2027, 1, 1, tzinfo=UTC)
    policy = Policy(source="p.toml", builder_keys=(), expires=expires)
    assert not policy.expired(expires - timedelta(microseconds=1))
    assert policy.expired(expires)  # the boundary instant itself is already expired
    with pytest.raises(PolicyError, match="expired"):
        policy.check_current(expires)
    policy.check_current(expires - timedelta(seconds=1))
