"""The source-seed predicate: a wheel assembled from an sdist's own files, and how.

The subject is the wheel; the predicate names the sdist (by sha256), the assembly recipe and
its layout and excludes, so anyone holding the sdist re-assembles the wheel and compares
bytes: the evidence does not rest on the key that signed it.
Schema: attestations/source-seed.schema.json; meaning: docs/source-seeds.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fromsource.attest import shape
from fromsource.attest.provenance import STATEMENT_TYPE
from fromsource.errors import SeedAssemblyError, StatementError
from fromsource.seedassembly import ASSEMBLY, AssembledSeed, Placement

SOURCE_SEED = "https://fromsource.dev/attestations/source-seed/v1"


def source_seed_statement(seed: AssembledSeed, *, tool_version: str, assembled_on: str) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": seed.filename, "digest": {"sha256": seed.sha256}}],
        "predicateType": SOURCE_SEED,
        "predicate": {
            "sdist": {"name": seed.sdist_name, "digest": {"sha256": seed.sdist_sha256}},
            "assembly": ASSEMBLY,
            "layout": [{"source": p.source, "destination": p.destination} for p in seed.layout],
            "exclude": list(seed.exclude),
            "layoutInferred": seed.inferred,
            "files": len(seed.files),
            "tool": {"name": "fromsource", "version": tool_version},
            "assembledOn": assembled_on,
        },
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSeedClaim:
    """What a source-seed statement claims; true only once re-assembly reproduces it."""

    wheel_name: str
    wheel_sha256: str
    sdist_name: str
    sdist_sha256: str
    layout: tuple[Placement, ...]
    exclude: tuple[str, ...]
    inferred: bool
    tool_version: str

    @classmethod
    def from_statement(cls, statement: object) -> SourceSeedClaim:
        """Read a decoded statement strictly against attestations/source-seed.schema.json.

        Raises :class:`~fromsource.errors.StatementError` listing every problem with its path.
        """
        p = shape.Problems()
        claim = _read(statement, p)
        if p or claim is None:
            raise StatementError(
                f"not a {SOURCE_SEED} statement this reader fully understands:", p.items or ["$: unreadable"]
            )
        return claim


def _read(statement: object, p: shape.Problems) -> SourceSeedClaim | None:
    read = shape.statement_about_one(statement, p, STATEMENT_TYPE, SOURCE_SEED)
    if read is None:
        return None
    top, subject = read
    w = "$.predicate"
    pred = shape.obj(
        top.get("predicate"),
        w,
        p,
        ("sdist", "assembly", "layout", "exclude", "layoutInferred", "files", "tool", "assembledOn"),
    )
    if pred is None:
        return None
    sdist = shape.obj(pred.get("sdist"), f"{w}.sdist", p, ("name", "digest"))
    sdist_name = sdist_sha = None
    if sdist is not None:
        sdist_name = shape.string(sdist.get("name"), f"{w}.sdist.name", p)
        if sdist_name is not None and ("/" in sdist_name or sdist_name.startswith(".")):
            p.add(f"{w}.sdist.name", "must be a plain file name")
            sdist_name = None
        sdist_sha = shape.digest(sdist.get("digest"), f"{w}.sdist.digest", p)
    if not shape.const(pred.get("assembly"), f"{w}.assembly", p, ASSEMBLY):
        return None  # a recipe this fromsource does not know cannot be re-assembled
    layout: list[Placement] = []
    entries = shape.array(pred.get("layout"), f"{w}.layout", p)
    if entries is not None and not entries:
        p.add(f"{w}.layout", "must hold at least one placement")
    for index, item in enumerate(entries or ()):
        where = f"{w}.layout[{index}]"
        entry = shape.obj(item, where, p, ("source", "destination"))
        if entry is None:
            continue
        source = shape.string(entry.get("source"), f"{where}.source", p)
        destination = shape.string(entry.get("destination"), f"{where}.destination", p)
        if source is None or destination is None:
            continue
        try:
            layout.append(Placement.parse(f"{source}={destination}"))
        except SeedAssemblyError as exc:
            p.add(where, exc.message)
    exclude = []
    for index, item in enumerate(shape.array(pred.get("exclude"), f"{w}.exclude", p) or ()):
        glob = shape.string(item, f"{w}.exclude[{index}]", p)
        if glob is not None:
            exclude.append(glob)
    inferred = shape.boolean(pred.get("layoutInferred"), f"{w}.layoutInferred", p)
    shape.integer(pred.get("files"), f"{w}.files", p, minimum=1)
    tool = shape.obj(pred.get("tool"), f"{w}.tool", p, ("name", "version"))
    version = None
    if tool is not None:
        shape.const(tool.get("name"), f"{w}.tool.name", p, "fromsource")
        version = shape.string(tool.get("version"), f"{w}.tool.version", p)
    shape.string(pred.get("assembledOn"), f"{w}.assembledOn", p)
    if (
        subject is None
        or sdist_name is None
        or sdist_sha is None
        or inferred is None
        or version is None
        or not layout
    ):
        return None
    return SourceSeedClaim(
        wheel_name=subject[0],
        wheel_sha256=subject[1],
        sdist_name=sdist_name,
        sdist_sha256=sdist_sha,
        layout=tuple(layout),
        exclude=tuple(exclude),
        inferred=inferred,
        tool_version=version,
    )
