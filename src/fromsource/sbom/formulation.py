"""The SBOM's ``formulation``: one workflow for the workspace, one task per attested build.

cyclonedx-python-lib does not model it, so it is added to that library's JSON output. Inputs
of a task are the sdist and every build-environment wheel; outputs are the wheel and its
attestation; ``taskDependencies`` say which build used which built wheel.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from fromsource.archives import iter_members
from fromsource.build import LEGACY_BACKEND, parse_build_system
from fromsource.errors import FromsourceError
from fromsource.fileutil import sha256_file
from fromsource.sbom.collect import Collector
from fromsource.sbom.model import NS, Artifact, BuildStep, prop


class Formulation:
    """Tasks and their dependencies for the builds ``facts`` collected."""

    def __init__(self, facts: Collector, refs: Mapping[Artifact, str], url: Callable[[Path], str]) -> None:
        self.facts, self.refs, self._url = facts, refs, url

    def formula(self) -> dict[str, Any]:
        builds = sorted(self.facts.builds.values(), key=lambda b: (b.wheel, b.invocation_id))
        tasks, task_deps = [], []
        for build in builds:
            tasks.append(self._task(build))
            needs = sorted(
                {
                    self.task_ref(made)
                    for e in build.env
                    if (made := self.facts.producer(e.artifact, e.attestation_sha256))
                }
            )
            task_deps.append({"ref": self.task_ref(build), **({"dependsOn": needs} if needs else {})})
        uid = uuid.uuid5(uuid.NAMESPACE_URL, "fromsource:" + ",".join(b.invocation_id for b in builds))
        workflow: dict[str, Any] = {
            "bom-ref": "workflow:fromsource",
            "uid": f"urn:uuid:{uid}",
            "name": f"fromsource builds in workspace {self.facts.ws.root.name}",
            "description": "Every wheel built from its sdist by fromsource, one task per build; "
            "taskDependencies say which build used which built wheel.",
            "taskTypes": ["build"],
            "tasks": tasks,
            "taskDependencies": task_deps,
        }
        graph = self.facts.ws.graph_file
        if graph.is_file():
            workflow["properties"] = [
                {"name": f"{NS}build-graph", "value": f"{self._url(graph)} sha256:{sha256_file(graph)}"}
            ]
        return {"bom-ref": "formula:fromsource", "workflows": [workflow]}

    def task_ref(self, build: BuildStep) -> str:
        """``build:<component>``; a second build of the same bytes (a stage-1 twin) adds its id."""
        ref = _task_ref(self.refs[build.wheel])
        primary = self.facts.primary.get(build.wheel)
        return ref if primary == build.attestation_sha256 else f"{ref}@{build.invocation_id}"

    def _task(self, build: BuildStep) -> dict[str, Any]:
        ref = self.refs[build.wheel]
        inputs: list[dict[str, Any]] = [
            {"resource": {"ref": self.refs[build.sdist]}, "properties": [prop("input", "sdist")]}
        ]
        for env in build.env:
            props = [prop("edge", env.edge), prop("seed", str(env.seed).lower())]
            if env.attestation_sha256:
                props.append(prop("recorded-attestation-sha256", env.attestation_sha256))
            inputs.append({"resource": {"ref": self.refs[env.artifact]}, "properties": props})
        outputs: list[dict[str, Any]] = [
            {"type": "artifact", "resource": {"ref": ref}},
            {
                "type": "attestation",
                "resource": {
                    "externalReference": {
                        "type": "attestation",
                        "url": self._url(build.attestation),
                        "hashes": [{"alg": "SHA-256", "content": build.attestation_sha256}],
                    }
                },
            },
        ]
        sdist_file = self.facts.sdist_file(build.sdist)
        step_props = [prop("requirement", build.requirement), prop("isolation", build.isolation)]
        if sdist_file is not None:
            step_props.append(prop("build-backend", read_backend(sdist_file)))
        if build.source_date_epoch is not None:
            step_props.append(prop("source-date-epoch", str(build.source_date_epoch)))
        task: dict[str, Any] = {
            "bom-ref": self.task_ref(build),
            "uid": build.invocation_id,
            "name": f"build {build.wheel.name}",
            "taskTypes": ["build"],
            "inputs": inputs,
            "outputs": outputs,
            "steps": [
                {
                    "name": "fromsource build",
                    "description": "PEP 517 get_requires_for_build_wheel and build_wheel in a fresh "
                    "venv holding only the input wheels",
                    "commands": [{"executed": f"fromsource build sources/{build.sdist.name}"}],
                    "properties": step_props,
                }
            ],
        }
        if build.interpreter is not None:
            task["resourceReferences"] = [{"ref": self.refs[build.interpreter]}]
        if build.started_on:
            task["timeStart"] = build.started_on
        if build.finished_on:
            task["timeEnd"] = build.finished_on
        if build.log_sha256:
            task["properties"] = [prop("build-log-sha256", build.log_sha256)]
        return task


def _task_ref(component_ref: str) -> str:
    return f"build:{component_ref}"


def read_backend(sdist: Path) -> str:
    """The PEP 517 backend named by the sdist's ``pyproject.toml`` (PEP 517's default if none)."""
    for member in iter_members(sdist):  # stops at the file; extraction is not needed
        parts = PurePosixPath(member.name).parts
        if len(parts) == 2 and parts[1] == "pyproject.toml":
            try:
                return parse_build_system(member.data).backend
            except FromsourceError:
                return LEGACY_BACKEND
    return LEGACY_BACKEND
