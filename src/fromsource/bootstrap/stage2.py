"""Stage 2 of a seeded cycle: each member, rebuilt from stage-1 wheels only, is compared with
its stage-1 wheel, with the seed it replaced, and (for a source seed, where nothing published
was used) with the published wheel; each comparison is signed into
``attestations/WHEEL.rebuild.intoto.jsonl``."""

from __future__ import annotations

from dataclasses import replace

from fromsource import __version__
from fromsource.attest import dsse
from fromsource.attest.equivalence import ROLE_PUBLISHED, ROLE_SEED, ROLE_STAGE1, equivalence_statement
from fromsource.attest.shape import timestamp_now
from fromsource.bootstrap.report import PackageReport
from fromsource.bootstrap.seeding import SeedChoice
from fromsource.bootstrap.state import PackageState, RunContext
from fromsource.compare import Comparison, compare_wheels
from fromsource.fileutil import atomic_write_bytes
from fromsource.published import compare_published
from fromsource.seeds import ORIGIN_SOURCE


def finish_stage2(
    ctx: RunContext, seeds: SeedChoice, package: PackageState, report: PackageReport
) -> PackageReport:
    """``report`` with the stage-2 verdicts for a member of a seeded cycle (else as is)."""
    if package.node not in seeds.cycle_of or package.wheel is None:
        return report
    if package.stage1_wheel is None or package.wheel_sha256 is None:
        raise AssertionError(f"{package.node} finished stage 2 without a stage-1 wheel")
    rebuilt, now = package.wheel_sha256, timestamp_now()

    def signed(comparison: Comparison, reference_sha256: str, role: str) -> bytes:
        statement = equivalence_statement(
            comparison,
            rebuild_sha256=rebuilt,
            reference_sha256=reference_sha256,
            role=role,
            tool_version=__version__,
            compared_on=now,
        )
        return dsse.sign(statement, ctx.signer)

    stage1 = compare_wheels(package.stage1_wheel, package.wheel)
    lines = [signed(stage1, ctx.digest(package.stage1_wheel), ROLE_STAGE1)]
    seed = seeds.accepted(package.node) if package.node in seeds.seeded else None
    seed_equivalent = None
    origin = seeds.origin(package.node) if seed is not None else None
    seed_differences: tuple[str, ...] = ()
    published = None
    if seed is not None:
        against_seed = compare_wheels(seed, package.wheel)
        seed_equivalent = against_seed.equivalent
        seed_differences = tuple(d.name for d in against_seed.differences)
        lines.append(signed(against_seed, ctx.digest(seed), ROLE_SEED))
    if origin == ORIGIN_SOURCE:  # nothing published was used: does it reproduce?
        ctx.reporter.discovering(f"{package.node}: comparing the published wheel with stage 2")
        published, comparison, path = compare_published(
            ctx.index, package.node.name, package.node.version, package.wheel, ctx.ws.published
        )
        if comparison is not None and path is not None and published.sha256 is not None:
            lines.append(signed(comparison, published.sha256, ROLE_PUBLISHED))
    atomic_write_bytes(ctx.ws.attestations / f"{package.wheel.name}.rebuild.intoto.jsonl", b"".join(lines))
    return replace(
        report,
        seed=seed.name if seed is not None else None,
        stage1_wheel=package.stage1_wheel,
        stage1_equivalent=stage1.equivalent,
        seed_equivalent=seed_equivalent,
        seed_origin=origin,
        seed_differences=seed_differences,
        published=published,
    )
