"""The one exception root and its fault domains.

Every exception raised on purpose by fromsource derives from :class:`FromsourceError`.
Each carries the exit code the CLI maps it to, so the library never has to know about
processes or terminals.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INVALID = 1  # verification or policy failure, not-readable verdict
EXIT_INPUT = 2  # usage or input error
EXIT_BUILD = 3  # a build failed


class FromsourceError(Exception):
    """Root of every error fromsource raises on purpose."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(FromsourceError):
    """A file, option or argument the user gave cannot be used."""


class ArchiveError(InputError):
    """An sdist or wheel is corrupt, hostile, or over a limit."""


class ZipLayoutError(ArchiveError):
    """A zip could be read two ways (hidden or disagreeing entries); see ``ziplayout``."""


class KeyFileError(InputError):
    """A key file cannot be read or is not a supported key."""


class PolicyFileError(InputError):
    """A policy file cannot be read or has errors (every one is listed)."""


class SeedAssemblyError(InputError):
    """An sdist cannot be assembled into a source seed (PKG-INFO, layout, links, binaries)."""


class WorkspaceError(FromsourceError):
    """The workspace is unusable (locked by another process, unwritable)."""


class IndexError_(FromsourceError):
    """A package index could not serve what was asked (404, timeout, bad hash)."""


class BrokenTransferError(IndexError_):
    """A connection failed in the middle of a body (worth retrying)."""


class ResolutionError(FromsourceError):
    """Requirements cannot be satisfied together."""

    exit_code = EXIT_INVALID


class BuildError(FromsourceError):
    """A build could not run or its backend failed."""

    exit_code = EXIT_BUILD


class SandboxUnavailable(BuildError):
    """The build sandbox a build must run in cannot be had on this machine."""


class MissingRequirementError(BuildError):
    """A build requirement has no wheel in the workspace."""


class BackendRequirementsMissing(MissingRequirementError):
    """``get_requires_for_build_wheel`` asked for wheels the given environment lacks.

    ``requirements`` is everything the hook returned, so a caller (bootstrap) can resolve
    them, build what is missing and retry with a larger environment.
    """

    def __init__(self, message: str, requirements: tuple[str, ...], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.requirements = requirements


class ExecutorError(FromsourceError):
    """Where builds run failed, not a build: the scheduler was lost, workers kept dying."""

    exit_code = EXIT_BUILD


class StoreError(ExecutorError):
    """The content-addressed store lacks a blob, holds other bytes, or cannot be reached."""


class CycleError(FromsourceError):
    """The build graph has a cycle that no admitted seed breaks."""

    exit_code = EXIT_INVALID


class VerificationError(FromsourceError):
    """Provenance does not verify. ``reasons`` lists every problem found."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or [message]


class StatementError(VerificationError):
    """A signed statement is not one its reader fully understands.

    ``reasons`` holds every problem found, each starting with its JSON path (``$.a.b[0]``).
    """

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message + "".join(f"\n  - {r}" for r in reasons), reasons)


class PolicyError(FromsourceError):
    """A policy file is invalid or a policy rule is violated."""

    exit_code = EXIT_INVALID


class EvidenceFileError(InputError):
    """A publisher-evidence file (PEP 740 attestation, provenance object, sigstore bundle)
    cannot be read: too large, not JSON, or not one of the accepted formats."""


class TrustRootError(InputError):
    """The pinned sigstore trusted root cannot be read, does not match its digest, or is not
    a trusted root."""


class EvidenceError(VerificationError):
    """No publisher evidence verifies for a file; ``reasons`` says why for each candidate."""


class OriginError(InputError):
    """An sdist's origin cannot be checked: no repository, no such ref, git failed."""


class OriginMismatch(PolicyError):
    """The policy requires an sdist to match its tagged tree, and it does not.

    ``findings`` lists every offending file with its reason.
    """

    def __init__(self, message: str, findings: list[str], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.findings = findings
