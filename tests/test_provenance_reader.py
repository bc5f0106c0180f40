"""The strict statement readers: BuildRecord.from_statement and SeedReview.from_statement."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fromsource.attest.provenance import (
    KIND_COMPILER,
    KIND_CRATE,
    KIND_INTERPRETER,
    KIND_SDIST,
    KIND_SYSTEM_LIBRARY,
    KIND_TOOLCHAIN,
    KIND_WHEEL,
    BuildRecord,
    Dependency,
    Sandbox,
    SystemPackage,
)
from fromsource.attest.seed_review import SeedReview, review_statement
from fromsource.errors import StatementError, VerificationError

WHEEL = "demo-1.0-py3-none-any.whl"


def _record(**changes: Any) -> BuildRecord:
    values: dict[str, Any] = {
        "wheel_name": WHEEL,
        "wheel_sha256": "a" * 64,
        "requirement": "demo==1.0",
        "sdist": Dependency(
            name="demo-1.0.tar.gz",
            sha256="b" * 64,
            kind=KIND_SDIST,
            uri="http://127.0.0.1/files/demo-1.0.tar.gz",
        ),
        "wheels": (
            Dependency(
                name="flit_core-3.12.0-py3-none-any.whl",
                sha256="c" * 64,
                kind=KIND_WHEEL,
                edge="build-system",
                attestation_sha256="d" * 64,
            ),
            Dependency(
                name="ext-2.0-py3-none-any.whl",
                sha256="e" * 64,
                kind=KIND_WHEEL,
                edge="install",
                external=True,
            ),
        ),
        "interpreter": Dependency(
            name="python-3.11.7", sha256="f" * 64, kind=KIND_INTERPRETER, implementation="cpython"
        ),
        "isolation": "bwrap",
        "source_date_epoch": 1_700_000_000,
        "builder_version": "0.1.0",
        "invocation_id": "i",
        "started_on": "2026-01-01T00:00:00Z",
        "finished_on": "2026-01-01T00:00:01Z",
        "log_sha256": "0" * 64,
        "sandbox": Sandbox(
            tool="bwrap",
            version="0.8.0",
            read_only=("/usr",),
            read_write=("/build",),
            namespaces=("net", "pid"),
        ),
    }
    values.update(changes)
    return BuildRecord(**values)


def test_what_is_written_reads_back_as_the_same_record() -> None:
    record = _record()
    assert BuildRecord.from_statement(record.statement()) == record
    plain = _record(isolation="unshare-net", sandbox=None)
    assert BuildRecord.from_statement(plain.statement()) == plain


def test_a_real_attestation_reads(built_workspace: Path) -> None:
    line = (built_workspace / "attestations" / "packaging-24.2-py3-none-any.whl.intoto.jsonl").read_bytes()
    record = BuildRecord.from_statement(json.loads(base64.b64decode(json.loads(line)["payload"])))
    assert record.sdist.name == "packaging-24.2.tar.gz"
    assert [w.name for w in record.wheels] == ["flit_core-3.12.0-py3-none-any.whl"]
    assert record.interpreter.implementation == "cpython"


def test_every_problem_is_reported_with_its_path() -> None:
    statement = _record().statement()
    definition = statement["predicate"]["buildDefinition"]
    definition["externalParameters"]["patch"] = "x"
    definition["internalParameters"]["sandbox"]["readOnly"] = ["/usr", "/usr"]
    definition["resolvedDependencies"][1]["annotations"]["edge"] = "later"
    definition["resolvedDependencies"][2]["annotations"]["attestationSha256"] = "1" * 64
    definition["resolvedDependencies"].append(copy.deepcopy(definition["resolvedDependencies"][0]))
    statement["predicate"]["runDetails"]["metadata"]["startedOn"] = 5
    with pytest.raises(StatementError) as caught:
        BuildRecord.from_statement(statement)
    reasons = caught.value.reasons
    where = "$.predicate.buildDefinition"
    expected = [
        f"{where}.externalParameters.patch: unknown field",
        f"{where}.internalParameters.sandbox.readOnly[1]: '/usr' is listed twice",
        f"{where}.resolvedDependencies[1].annotations.edge: 'later' is not one of build-system, backend, install",
        f"{where}.resolvedDependencies[2].annotations.attestationSha256: an external wheel has no attestation to pin",
        f"{where}.resolvedDependencies: must hold exactly one sdist entry, holds 2 ([0], [4])",
        "$.predicate.runDetails.metadata.startedOn: expected a string, got a number",
    ]
    assert sorted(reasons) == sorted(expected)
    assert isinstance(caught.value, VerificationError)  # exit code 1 through the CLI


def test_sdist_must_be_the_one_external_parameters_names() -> None:
    statement = _record().statement()
    statement["predicate"]["buildDefinition"]["externalParameters"]["sdist"].pop("uri")
    with pytest.raises(StatementError, match=r"differs from externalParameters\.sdist"):
        BuildRecord.from_statement(statement)


@pytest.mark.parametrize("value", [None, "statement", 3, [], {}])
def test_not_a_statement_at_all(value: object) -> None:
    with pytest.raises(StatementError):
        BuildRecord.from_statement(value)


def test_subject_problems_name_the_mismatch() -> None:
    record = _record()
    assert record.subject_problems(WHEEL, "a" * 64) == []
    assert (
        "subject must name exactly other-1.0-py3-none-any.whl"
        in record.subject_problems("other-1.0-py3-none-any.whl", "a" * 64)[0]
    )
    assert "subject digest does not match" in record.subject_problems(WHEEL, "9" * 64)[0]


def _review(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "wheel_name": WHEEL,
        "wheel_sha256": "a" * 64,
        "sdist_name": "demo-1.0.tar.gz",
        "sdist_sha256": "b" * 64,
        "verdict": "readable",
        "admission": "readable",
        "counts": {"identical": 3},
        "reasons": [],
        "notes": ["n"],
        "report_name": f"{WHEEL}.inspect.json",
        "report_sha256": "c" * 64,
        "tool_version": "0.1.0",
        "reviewed_on": "2026-01-01T00:00:00Z",
    }
    values.update(changes)
    return review_statement(**values)


def test_seed_review_reads_and_refuses_what_it_does_not_understand() -> None:
    review = SeedReview.from_statement(_review())
    assert (review.wheel_name, review.admission, review.verdict) == (WHEEL, "readable", "readable")
    unsettled = _review(verdict="unsettled")
    with pytest.raises(StatementError, match=r"\$\.predicate\.verdict: 'unsettled' is not one of"):
        SeedReview.from_statement(unsettled)
    mismatch = _review(verdict="not-readable")
    with pytest.raises(StatementError, match="cannot be admitted as 'readable'"):
        SeedReview.from_statement(mismatch)
    extra = _review()
    extra["predicate"]["override"] = True
    with pytest.raises(StatementError, match=r"\$\.predicate\.override: unknown field"):
        SeedReview.from_statement(extra)
    counts = _review(counts={"identical": -1})
    with pytest.raises(StatementError, match=r"counts\.identical"):
        SeedReview.from_statement(counts)


def test_one_locator_sidecar_first_each_file_once(tmp_path: Path) -> None:
    from fromsource.attest.locate import attestation_files, attestation_of

    wheels, attestations = tmp_path / "wheels", tmp_path / "attestations"
    wheels.mkdir()
    attestations.mkdir()
    wheel = wheels / WHEEL
    assert attestation_files(wheel, [attestations]) == []
    assert attestation_of(wheel, attestations) == attestations / f"{WHEEL}.intoto.jsonl"  # for the error
    (attestations / f"{WHEEL}.intoto.jsonl").write_text("{}")
    (wheels / f"{WHEEL}.intoto.jsonl").write_text("{}")
    found = attestation_files(wheel, [attestations, wheels, attestations / ".." / "attestations"])
    assert found == [wheels / f"{WHEEL}.intoto.jsonl", attestations / f"{WHEEL}.intoto.jsonl"]
    assert attestation_of(wheel, attestations) == wheels / f"{WHEEL}.intoto.jsonl"


def test_publisher_evidence_round_trips_and_is_read_strictly() -> None:
    from fromsource.attest.provenance import PublisherEvidence

    evidence = PublisherEvidence(
        publisher="gitlab:facutuesca/gitlab-oidc-project/.gitlab-ci.yml",
        attestation_sha256="7" * 64,
        attestation_kind="pep740-provenance",
        log_index=149945774,
        signer="https://gitlab.example/ci.yml@refs/heads/main",
    )
    record = _record(
        sdist=Dependency(
            name="demo-1.0.tar.gz", sha256="b" * 64, kind=KIND_SDIST, publisher_evidence=evidence
        )
    )
    assert BuildRecord.from_statement(record.statement()) == record
    assert PublisherEvidence.from_annotations({"publisherEvidence": evidence.to_dict()}) == evidence
    assert PublisherEvidence.from_annotations({}) is None

    statement = record.statement()
    where = "$.predicate.buildDefinition.resolvedDependencies[0].annotations.publisherEvidence"
    entry = statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["annotations"][
        "publisherEvidence"
    ]
    entry.update(publisher="github:only-two/parts", logIndex=-1, attestationKind="email", extra=1)
    with pytest.raises(StatementError) as caught:
        BuildRecord.from_statement(statement)
    paths = sorted(r.split(":", 1)[0] for r in caught.value.reasons)
    assert paths == sorted(f"{where}.{k}" for k in ("attestationKind", "extra", "logIndex", "publisher"))
    with pytest.raises(StatementError, match=r"annotations\.other: unknown field"):
        PublisherEvidence.from_annotations({"other": 1})


# ------------------------------------------------------------------ native inputs (issue 16)

NATIVES = (
    Dependency(
        name="libyaml-0.so.2",
        sha256="1" * 64,
        kind=KIND_SYSTEM_LIBRARY,
        uri="file:///usr/lib/x86_64-linux-gnu/libyaml-0.so.2.0.9",
        soname="libyaml-0.so.2",
        path="/lib/x86_64-linux-gnu/libyaml-0.so.2",
        needed_by=("yaml/_yaml.cpython-311-x86_64-linux-gnu.so",),
        package=SystemPackage(manager="dpkg", name="libyaml-0-2", version="0.2.5-1", architecture="amd64"),
    ),
    Dependency(
        name="gcc-12.2.0",
        sha256="2" * 64,
        kind=KIND_COMPILER,
        uri="file:///usr/bin/x86_64-linux-gnu-gcc-12",
        compiler="gcc",
        version="12.2.0",
        command="cc",
        package=SystemPackage(manager="dpkg", name="gcc-12", version="12.2.0-14"),
    ),
    Dependency(
        name="rustc-1.95.0",
        sha256="3" * 64,
        kind=KIND_TOOLCHAIN,
        uri="file:///opt/rust/bin/rustc",
        toolchain="rust",
        program="rustc",
        version="rustc 1.95.0 (59807616e 2026-04-14)",
    ),
    Dependency(
        name="tinyadd-0.1.0.crate",
        sha256="4" * 64,
        kind=KIND_CRATE,
        uri="file:///registry/tinyadd-0.1.0.crate",
        crate="tinyadd",
        version="0.1.0",
        lock_source="registry+file:///index",
    ),
)


def test_native_inputs_round_trip() -> None:
    record = _record(natives=NATIVES)
    statement = record.statement()
    kinds = [
        d["annotations"]["kind"] for d in statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    ]
    assert kinds == [
        "sdist",
        "wheel",
        "wheel",
        "interpreter",
        "system-library",
        "compiler",
        "toolchain",
        "crate",
    ]
    assert BuildRecord.from_statement(statement) == record


@pytest.mark.parametrize(
    ("index", "change", "reason"),
    [
        (4, lambda d: d["annotations"].update(rpath="/x"), ".annotations.rpath: unknown field"),
        (4, lambda d: d.pop("uri"), ".uri: missing (a system-library entry names the file it was)"),
        (4, lambda d: d["annotations"]["package"].update(manager="rpm"), ".annotations.package.manager: "),
        (4, lambda d: d["annotations"].update(neededBy="one.so"), ".annotations.neededBy"),
        (5, lambda d: d["annotations"].pop("version"), ".annotations.version"),
        (6, lambda d: d.update(name="../rustc"), ".name: '../rustc' is not a plain file name"),
        (7, lambda d: d["annotations"].update(lockSource=7), ".annotations.lockSource"),
        (7, lambda d: d["digest"].update(sha256="nope"), ".digest"),
    ],
)
def test_native_entries_are_read_strictly(index: int, change: Any, reason: str) -> None:
    statement = _record(natives=NATIVES).statement()
    change(statement["predicate"]["buildDefinition"]["resolvedDependencies"][index])
    with pytest.raises(StatementError) as caught:
        BuildRecord.from_statement(statement)
    where = f"$.predicate.buildDefinition.resolvedDependencies[{index}]"
    assert any(r.startswith(where + reason) for r in caught.value.reasons), caught.value.reasons


def test_a_native_entry_listed_twice_is_a_problem() -> None:
    statement = _record(natives=NATIVES).statement()
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    deps.append(copy.deepcopy(deps[4]))
    with pytest.raises(StatementError, match=r"system-library libyaml-0\.so\.2 is already entry"):
        BuildRecord.from_statement(statement)
