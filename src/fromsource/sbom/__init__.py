"""CycloneDX 1.6 SBOM of a workspace: what was shipped and how each piece was made.

Components (wheels, sdists, seeds, interpreters), their hashes and purls, the metadata and
the runtime ``dependencies`` graph are built with cyclonedx-python-lib. ``formulation``,
which that library does not model, is added to its JSON output: one workflow for the
workspace, one task per attested build (inputs: the sdist and every build-environment wheel;
output: the wheel and its attestation), so a reader holding only the SBOM can follow any
shipped wheel back to sdists and seeds. Field meanings are in docs/how-to/sbom.md.

Everything is read from the workspace's attestation payloads; nothing here verifies
signatures (the CLI runs :class:`fromsource.verify.Verifier` first when given keys).

Modules: ``model`` (the facts), ``collect`` (reading the workspace), ``document``
(components and dependencies), ``formulation`` (tasks), ``validate`` (schema and references).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fromsource.errors import InputError
from fromsource.fileutil import sha256_file
from fromsource.sbom.collect import Collector, wheels_in
from fromsource.sbom.document import Document
from fromsource.sbom.model import SBOM_PREDICATE, Artifact, Sbom, SbomError, SbomOptions
from fromsource.sbom.validate import validate
from fromsource.wheelstore import WheelInfo, WheelStore, read_wheel_info
from fromsource.workspace import Workspace


def build_sbom(workspace: Workspace, wheels: Sequence[Path], options: SbomOptions) -> Sbom:
    """Describe ``wheels`` (default: every wheel in the workspace) and how they were built."""
    if not workspace.root.is_dir():
        raise InputError(
            f"workspace {workspace.root} does not exist",
            hint="pass --workspace DIR of a workspace that fromsource built into",
        )
    for wheel in wheels:
        if not wheel.is_file() or not wheel.name.endswith(".whl"):
            raise InputError(f"{wheel} is not a wheel file")
    built = workspace.wheel_files()
    requested = list(wheels) or built
    # Externals (policy-named pre-built wheels) satisfy runtime requirements too.
    present = [*built, *wheels_in(workspace.externals)]
    if not requested:
        raise InputError(
            f"no wheels in {workspace.wheels}",
            hint="build or bootstrap into this workspace first, or name WHEEL files",
        )
    infos = {p.resolve(): read_wheel_info(p) for p in [*present, *requested]}
    roots = [infos[p.resolve()] for p in requested]
    # What ships: the named wheels and what installing them pulls in.
    shipped_paths = sorted(runtime_graph(roots, list(infos.values()))[0], key=lambda p: p.name)
    collector = Collector(workspace, options.externals)
    by_artifact = {Artifact(info.path.name, sha256_file(info.path)): info for info in infos.values()}
    # Stage-1 wheels are never shipped, but builds may name them: keep their files at hand.
    collector.files.update((Artifact(p.name, sha256_file(p)), p) for p in wheels_in(workspace.stage1))
    collector.files.update((a, info.path) for a, info in by_artifact.items())
    shipped = [a for a, info in by_artifact.items() if info.path in shipped_paths]
    collector.explain(shipped)
    if collector.problems:
        raise SbomError("cannot follow the provenance of every wheel:", collector.problems)
    # Runtime edges of every wheel described (shipped or build-only) whose file is at hand:
    # CycloneDX reads a component without dependsOn as having no dependencies.
    described = set(shipped) | {e.artifact for b in collector.builds.values() for e in b.env}
    edges, unresolved = runtime_graph(
        [i for a, i in by_artifact.items() if a in described], list(infos.values())
    )
    collector.warnings += [
        f"{path.name} requires {req}, which no wheel here provides"
        for path in shipped_paths
        for req in sorted(unresolved.get(path, ()))
    ]
    return Document(collector, sorted(shipped), edges, unresolved, options).render()


def runtime_graph(
    roots: Sequence[WheelInfo],
    available: Sequence[WheelInfo],
    environment: Mapping[str, str] | None = None,
) -> tuple[dict[Path, set[Path]], dict[Path, set[str]]]:
    """Requires-Dist of ``roots`` and their closure, resolved against ``available``
    (:meth:`WheelStore.runtime_graph`)."""
    return WheelStore(available, environment=environment).runtime_graph(roots)


__all__ = ["SBOM_PREDICATE", "Sbom", "SbomError", "SbomOptions", "build_sbom", "runtime_graph", "validate"]
