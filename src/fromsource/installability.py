"""Whether each requested requirement can be installed from the run's wheels/simple/ index.

A package counted as built is not the same as a requirement a user can install: its runtime
dependencies may have failed. After every bootstrap run each requested requirement's install
closure (from the top-level resolution) is checked against the pages and files of
``wheels/simple/``; what is missing is named with the reason it is missing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename

from fromsource.resolve import Resolution
from fromsource.workspace import Workspace

if TYPE_CHECKING:
    from fromsource.bootstrap import PackageReport


@dataclass(frozen=True, slots=True, kw_only=True)
class Need:
    """A package of a requirement's install closure that the index lacks, and why."""

    package: str  # "name version"
    status: str  # failed | skipped | cancelled | missing
    reason: str
    blocked_by: tuple[str, ...] = ()  # for skipped: the builds it waited for

    def __str__(self) -> str:
        return f"{self.package} ({self.status}: {self.reason})"


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallVerdict:
    requirement: str
    closure: tuple[str, ...]  # "name version" of every package pip would install
    needs: tuple[Need, ...]

    @property
    def installable(self) -> bool:
        return not self.needs

    def describe(self) -> str:
        if self.installable:
            return "installable"
        return "not installable: needs " + ", ".join(map(str, self.needs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "installable": self.installable,
            "closure": list(self.closure),
            "needs": [{"package": n.package, "status": n.status, "reason": n.reason} for n in self.needs],
        }


def install_closure(top: Resolution, name: NormalizedName) -> list[NormalizedName]:
    """``name`` and everything it needs at run time, within the top-level resolution."""
    seen: set[NormalizedName] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in top.packages:
            continue
        seen.add(current)
        todo += [canonicalize_name(r.name) for r in top.packages[current].requires]
    return sorted(seen)


def in_simple_index(workspace: Workspace, filename: str) -> bool:
    """The index page of the wheel's project links it and the linked file is there."""
    project = canonicalize_name(parse_wheel_filename(filename)[0])
    page = workspace.simple / project / "index.html"
    try:
        text = page.read_text("utf-8")
    except OSError:
        return False
    if f'href="../../{filename}#' in text:
        return (workspace.wheels / filename).is_file()
    if f'href="{filename}#' in text:
        return (workspace.simple / project / filename).is_file()
    return False


def _reason(report: PackageReport) -> str:
    if report.status == "skipped":
        return "its build needs " + ", ".join(report.blocked_by)
    lines = (report.error or "").strip().splitlines()
    return lines[0] if lines else report.status


def check(
    requirements: Sequence[str],
    top: Resolution | None,
    reports: Iterable[PackageReport],
    workspace: Workspace,
) -> tuple[InstallVerdict, ...]:
    """One verdict per requested requirement (in the order asked)."""
    if top is None:
        return ()
    by_node = {(canonicalize_name(r.name), r.version): r for r in reports}
    # Closures overlap (a backend or a base library is in most): each wheel is looked up once.
    indexed = functools.cache(functools.partial(in_simple_index, workspace))
    verdicts = []
    for text in requirements:
        name = canonicalize_name(Requirement(text).name)
        closure = install_closure(top, name)
        needs = []
        labels = []
        for member in closure:
            package = top.packages[member]
            label = f"{package.sdist.name} {package.version}"
            report = by_node.get((member, str(package.version)))
            if report is not None:
                label = f"{report.name} {report.version}"
            labels.append(label)
            if report is None:
                needs.append(Need(package=label, status="missing", reason="not in the run"))
            elif report.wheel is None or report.status not in ("built", "reused", "external"):
                needs.append(
                    Need(
                        package=label,
                        status=report.status,
                        reason=_reason(report),
                        blocked_by=tuple(report.blocked_by),
                    )
                )
            elif not indexed(report.wheel.name):
                needs.append(
                    Need(
                        package=label,
                        status="missing",
                        reason=f"{report.wheel.name} is not in {workspace.simple}",
                    )
                )
        verdicts.append(InstallVerdict(requirement=text, closure=tuple(labels), needs=tuple(needs)))
    return tuple(verdicts)


def runtime_blockers(verdicts: Iterable[InstallVerdict]) -> set[str]:
    """The "name version" labels that keep some requested requirement from installing.

    A package skipped only because other packages of the same closure did not build is left
    out: it builds once those are externals. Suggesting it would replace, say, the very
    requirement the user asked to build from source by its published wheel.
    """
    blockers = set()
    for verdict in verdicts:
        missing = {need.package for need in verdict.needs}
        blockers |= {
            need.package
            for need in verdict.needs
            if not (need.status == "skipped" and need.blocked_by and set(need.blocked_by) <= missing)
        }
    return blockers
