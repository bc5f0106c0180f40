"""Who may have published a file: Trusted Publisher specs and plain sigstore identities.

A spec is one string a policy or a command line can carry::

    github:OWNER/REPO/WORKFLOW.yml[@ENVIRONMENT]
    gitlab:NAMESPACE/PROJECT/CI-FILE.yml[@ENVIRONMENT]   (subgroups allowed; a CI file in a
                                                        directory: NAMESPACE/PROJECT//DIR/FILE.yml)
    google:SERVICE-ACCOUNT@PROJECT.iam.gserviceaccount.com

The certificate checks themselves are pypi-attestations' publisher policies; this module only
parses, prints and compares specs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from fromsource.errors import InputError

if TYPE_CHECKING:
    from pypi_attestations import GitHubPublisher, GitLabPublisher, GooglePublisher
    from sigstore.verify.policy import VerificationPolicy

Kind = Literal["github", "gitlab", "google"]
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_WORKFLOW = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml$")


@dataclass(frozen=True, slots=True, kw_only=True)
class PublisherSpec:
    """A Trusted Publisher: repository and workflow (GitHub, GitLab) or service account."""

    kind: Kind
    repository: str = ""  # OWNER/REPO or NAMESPACE/.../PROJECT
    workflow: str = ""  # file name (GitHub) or path inside the repository (GitLab)
    environment: str | None = None
    email: str = ""

    def __str__(self) -> str:
        if self.kind == "google":
            return f"google:{self.email}"
        env = f"@{self.environment}" if self.environment else ""
        sep = "//" if "/" in self.workflow else "/"
        return f"{self.kind}:{self.repository}{sep}{self.workflow}{env}"

    def to_publisher(self) -> GitHubPublisher | GitLabPublisher | GooglePublisher:
        from pypi_attestations import GitHubPublisher, GitLabPublisher, GooglePublisher

        if self.kind == "github":
            return GitHubPublisher(
                repository=self.repository, workflow=self.workflow, environment=self.environment
            )
        if self.kind == "gitlab":
            return GitLabPublisher(
                repository=self.repository, workflow_filepath=self.workflow, environment=self.environment
            )
        return GooglePublisher(email=self.email)

    def policy(self) -> VerificationPolicy:
        # pypi-attestations' own certificate policy for this publisher kind; Attestation.verify
        # reaches it the same way, but that method cannot take a pinned trusted root.
        return self.to_publisher()._as_policy()

    def matches_claim(self, claimed: object) -> bool:
        """Does the index's (unsigned) publisher object name this publisher?"""
        kind = getattr(claimed, "kind", "")
        if kind.lower() != self.kind:
            return False
        if self.kind == "google":
            return bool(getattr(claimed, "email", "") == self.email)
        workflow = getattr(claimed, "workflow", None) or getattr(claimed, "workflow_filepath", "")
        return bool(
            str(getattr(claimed, "repository", "")).lower() == self.repository.lower()
            and workflow == self.workflow
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SigstoreIdentity:
    """A plain sigstore identity: certificate SAN and OIDC issuer."""

    san: str
    issuer: str

    def __str__(self) -> str:
        return f"{self.san} (issuer {self.issuer})"

    def policy(self) -> VerificationPolicy:
        from sigstore.verify.policy import Identity

        return Identity(identity=self.san, issuer=self.issuer)


Expected = PublisherSpec | SigstoreIdentity


def _segments_ok(parts: list[str]) -> bool:
    return all(_SEGMENT.match(p) and p not in {".", ".."} for p in parts)


def parse_publisher(spec: str) -> PublisherSpec:
    """Parse ``KIND:...``; :class:`InputError` names what is wrong with the spec."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise InputError(f"publisher {spec!r} is not KIND:..., e.g. github:OWNER/REPO/WORKFLOW.yml")
    if kind == "google":
        if not re.fullmatch(r"[^@\s/]+@[^@\s/]+\.[^@\s/]+", rest):
            raise InputError(f"publisher {spec!r}: google:EMAIL needs a service account email")
        return PublisherSpec(kind="google", email=rest)
    if kind == "github":
        body, _, env = rest.partition("@")
        parts = body.split("/")
        if len(parts) != 3 or not _segments_ok(parts) or not _WORKFLOW.match(parts[2]):
            raise InputError(f"publisher {spec!r}: expected github:OWNER/REPO/WORKFLOW.yml[@ENV]")
        if "@" in rest and not _SEGMENT.match(env):
            raise InputError(f"publisher {spec!r}: the environment after @ is empty or invalid")
        return PublisherSpec(
            kind="github", repository=f"{parts[0]}/{parts[1]}", workflow=parts[2], environment=env or None
        )
    if kind == "gitlab":
        body, _, env = rest.partition("@")
        # GitLab's own build-config URI separates project and CI file path with "//"; without
        # it the last segment is the file and everything before it the project path.
        project, dslash, path = body.partition("//")
        if not dslash:
            project, _, path = body.rpartition("/")
        parts, file_parts = project.split("/"), path.split("/")
        if len(parts) < 2 or not _segments_ok(parts + file_parts) or not _WORKFLOW.match(file_parts[-1]):
            raise InputError(
                f"publisher {spec!r}: expected gitlab:NAMESPACE/PROJECT/CI-FILE.yml "
                "(or NAMESPACE/PROJECT//DIR/CI-FILE.yml)"
            )
        if "@" in rest and not _SEGMENT.match(env):
            raise InputError(f"publisher {spec!r}: the environment after @ is empty or invalid")
        return PublisherSpec(kind="gitlab", repository=project, workflow=path, environment=env or None)
    raise InputError(f"unknown publisher kind {kind!r} in {spec!r} (use github:, gitlab:, google:)")
