"""The one verifier set-up of the commands that check chains (verify, sbom): trusted keys
from ``--trusted-key`` and the policy, the policy's threshold and build rules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fromsource.policy import Policy
    from fromsource.verify import Locations, Verifier


def current_policy(path: Path | None) -> Policy | None:
    """The policy at ``path`` (None without one), refused once it has expired."""
    if path is None:
        return None
    from fromsource.policy import load_policy

    policy = load_policy(path)
    policy.check_current()
    return policy


def verifier_for(
    trusted_keys: Sequence[Path],
    policy: Policy | None,
    locations: Locations,
    *,
    allow_unverified_sources: bool = False,
    check_record: bool = False,
) -> Verifier:
    """A :class:`Verifier` trusting ``trusted_keys`` and the policy's builder keys, under the
    policy's threshold, isolation and sandbox rules (one signature, no rules, without one)."""
    from securesystemslib.signer import Key

    from fromsource.attest.keys import load_public_key
    from fromsource.verify import Verifier

    keys: list[Key] = [load_public_key(k) for k in trusted_keys]
    threshold, require_isolation, require_sandbox = 1, False, False
    if policy is not None:
        keys.extend(policy.builder_keys)
        threshold, require_isolation = policy.threshold, policy.require_isolation
        require_sandbox = policy.require_sandbox
    return Verifier(
        keys,
        locations,
        threshold=threshold,
        require_isolation=require_isolation,
        require_sandbox=require_sandbox,
        policy=policy,
        allow_unverified_sources=allow_unverified_sources,
        check_record=check_record,
    )
