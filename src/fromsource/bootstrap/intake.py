"""Reading an sdist into the graph: fetch it, read its ``[build-system]`` and the project's
own spelling, and apply the policy's checks that come before anything of it is built
(externals, publishers, origin)."""

from __future__ import annotations

from pathlib import Path

from packaging.utils import canonicalize_name

from fromsource.bootstrap.externals import Externals
from fromsource.bootstrap.state import PackageState, RunContext
from fromsource.build import parse_build_system
from fromsource.errors import FromsourceError
from fromsource.graph import Node
from fromsource.index import SdistCandidate
from fromsource.publishers import PublisherGate


class Intake:
    def __init__(self, ctx: RunContext, externals: Externals, publishers: PublisherGate | None) -> None:
        self.ctx = ctx
        self.externals = externals
        self.publishers = publishers

    def read(self, sdist: SdistCandidate) -> PackageState:
        """The new package's state; ``wheel`` is set when the policy names an external."""
        ctx = self.ctx
        ctx.reporter.discovering(f"reading {sdist.filename}")
        path = ctx.index.fetch(sdist, ctx.ws.sources)
        facts = ctx.facts(path)
        display, pyproject = (facts.pkg_info.name if facts.pkg_info else None), facts.pyproject
        try:
            build_system = parse_build_system(pyproject)
        except FromsourceError as exc:
            raise FromsourceError(f"{sdist.filename}: {exc.message}") from exc
        node = Node(sdist.name, str(sdist.version), display or sdist.name)
        package = PackageState(node, sdist, path, ctx.digest(path), build_system)
        external = self.externals.find(node)
        if external is not None:  # used, not built: its build requirements are not needed
            package.wheel, package.wheel_sha256 = external
            ctx.ws.publish_external(external[0])  # the output index must be installable
            return package
        if self.publishers is not None and self.publishers.required(node.name):
            # before anything of this sdist is built
            package.sdist_annotations = self.publishers.check(node.name, sdist, path, package.sha256)
        self._check_origin(sdist.name, path)  # likewise, when the policy asks
        return package

    def _check_origin(self, name: str, path: Path) -> None:
        """[sources].require_origin: the sdist must match its tagged tree before it is built."""
        policy = self.ctx.policy
        if policy is not None and policy.requires_origin(name):
            from fromsource.origin.store import require_origin  # git: only when asked for

            self.ctx.reporter.discovering(f"checking the origin of {path.name}")
            require_origin(
                self.ctx.ws,
                path,
                self.ctx.digest(path),
                signer=self.ctx.signer,
                repository=policy.repositories.get(canonicalize_name(name)),
            )
