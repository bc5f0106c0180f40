"""Externals: pre-built wheels the policy names (by digest or by publisher) that a run uses
instead of building, and the policy lines suggested for what keeps a requested requirement
from installing. Downloads go through the index seam."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from fromsource.alternatives import Alternative
from fromsource.bootstrap.report import TrustEntry
from fromsource.bootstrap.state import PackageState, RunContext
from fromsource.errors import FromsourceError
from fromsource.graph import Node
from fromsource.index import WheelCandidate
from fromsource.policy import external_policy_line
from fromsource.publishers import PublisherGate
from fromsource.wheelstore import best_wheel


class Externals:
    def __init__(self, ctx: RunContext, publishers: PublisherGate | None) -> None:
        self.ctx = ctx
        self.publishers = publishers

    def find(self, node: Node) -> tuple[Path, str] | None:
        """A pre-built wheel the policy names for exactly this package, with its sha256.

        Taken from WORKSPACE/externals/ or, when absent there, fetched from the index with
        the policy's digest checked before and after the download.
        """
        policy = self.ctx.policy
        if policy is None:
            return None
        for digest, filename in sorted(policy.externals.items()):
            try:
                info = parse_wheel_filename(filename)
            except InvalidWheelFilename:
                continue
            if info[0] == canonicalize_name(node.name) and str(info[1]) == node.version:
                return self._named(node, filename, digest)
        spec = policy.externals_by_publisher.get(canonicalize_name(node.name))
        if spec is None or self.publishers is None:
            return None
        # Any wheel of this release its publisher published: new releases need no policy edit.
        self.ctx.reporter.discovering(f"fetching external {node} published by {spec}")
        candidate = best_wheel(self.ctx.index.wheel_candidates(node.name), Version(node.version))
        if candidate is None:
            raise FromsourceError(
                f"the policy admits {node} as an external published by {spec}, "
                "but the index has no wheel of it for this environment"
            )
        path = self.ctx.index.fetch_wheel(candidate, self.ctx.ws.externals)
        digest = self.ctx.digest(path)
        self.publishers.verify_file(node.name, candidate, path, digest, spec)
        return path, digest

    def _named(self, node: Node, filename: str, digest: str) -> tuple[Path, str]:
        ctx = self.ctx
        path = ctx.ws.externals / filename
        if not path.is_file():
            ctx.reporter.discovering(f"fetching external {filename}")
            published = [c for c in ctx.index.wheel_candidates(node.name) if c.filename == filename]
            if not published:
                raise FromsourceError(
                    f"the policy names external {filename} for {node}, but it is neither in "
                    f"{ctx.ws.externals}/ nor on the index",
                    hint=f"put that wheel into {ctx.ws.externals}/ (its sha256 must be {digest})",
                )
            path = ctx.index.fetch_wheel(published[0], ctx.ws.externals, expected_sha256=digest)
        if ctx.digest(path) != digest:
            raise FromsourceError(f"{path} does not have the sha256 the policy names ({digest}); refusing it")
        assert ctx.policy is not None  # noqa: S101 - only called under a policy
        spec = ctx.policy.external_publishers.get(digest)
        if spec is not None and self.publishers is not None:  # digest and publisher
            self.publishers.verify_file(node.name, self._published_wheel(node, filename), path, digest, spec)
        return path, digest

    def _published_wheel(self, node: Node, filename: str) -> WheelCandidate | None:
        """The index's entry for an external wheel, for its provenance link (if reachable)."""
        try:
            return next(
                (c for c in self.ctx.index.wheel_candidates(node.name) if c.filename == filename), None
            )
        except FromsourceError:
            return None

    def trust_entries(self) -> list[TrustEntry]:
        return [
            TrustEntry(
                kind="external",
                name=str(package.node),
                wheel=package.wheel.name,
                sha256=package.wheel_sha256,
                evidence=self._evidence(package),
            )
            for package in sorted(self.ctx.packages.values(), key=lambda p: p.node)
            if package.status == "external" and package.wheel is not None
        ]

    def _evidence(self, package: PackageState) -> tuple[str, ...]:
        policy = self.ctx.policy
        assert policy is not None  # noqa: S101 - externals exist only under a policy
        evidence = []
        if package.wheel_sha256 in policy.externals:
            evidence.append(f"named by sha256 in {policy.source}")
        spec = policy.external_publishers.get(
            package.wheel_sha256 or ""
        ) or policy.externals_by_publisher.get(canonicalize_name(package.node.name))
        if spec is not None:
            evidence.append(f"published by {spec} (verified; policy {policy.source})")
        return tuple(evidence)

    def suggest(
        self, blocking: set[str], alternatives: Sequence[Alternative] = ()
    ) -> tuple[dict[str, str], ...]:
        """Policy lines admitting published wheels for what keeps a requested requirement
        from installing (``blocking``: "name version" labels), the fewest: a skipped
        package's own wheel rather than its build tools' when that wheel is compiled (it could
        not be read anyway); a pure-Python package that waits only for its build tools gets
        the tools instead, so it is still built from source. Nothing where another version
        builds (``alternatives``)."""
        by_label = {str(p.node): p for p in self.ctx.packages.values()}
        other_version = {a.package for a in alternatives}
        lines: dict[str, str] = {}
        todo, seen = sorted(blocking), set()
        while todo:
            label = todo.pop(0)
            package = by_label.get(label)
            if label in seen or package is None or label in other_version:
                continue
            seen.add(label)
            if package.status not in ("failed", "skipped"):
                continue
            try:
                wheel = best_wheel(
                    self.ctx.index.wheel_candidates(package.node.name), Version(package.node.version)
                )
            except FromsourceError:
                wheel = None
            blocked_by = list(package.report.blocked_by) if package.report is not None else []
            pure = wheel is not None and all(t.platform == "any" for t in wheel.tags)
            if (
                wheel is not None
                and wheel.sha256
                and not (package.status == "skipped" and pure and blocked_by)
            ):
                lines[label] = external_policy_line(wheel)
            else:  # no usable wheel of its own, or pure Python: unblock its build
                todo += blocked_by
        return tuple({"package": label, "line": line} for label, line in sorted(lines.items()))
