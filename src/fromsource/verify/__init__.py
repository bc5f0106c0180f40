"""Verify a wheel's chain of signed provenance back to sdists.

For each wheel: find its attestation envelopes, check one verifies against the trusted
keys and states exactly this wheel (digest) as built by our buildType, then follow every
wheel in ``resolvedDependencies`` the same way. Every problem is collected; nothing stops
at the first.

    chain     the tree it produces (``ChainNode``), pure data for the CLI to render
    files     where to look (``Locations``) and each file met, looked up and read once
    ends      where a chain may end: sdists, seeds, externals under the policy
    verifier  the walk itself (``Verifier``)
"""

from fromsource.verify.chain import KIND_EXTERNAL, KIND_SEED, ChainNode, native_detail
from fromsource.verify.files import Locations
from fromsource.verify.verifier import MAX_DEPTH, MAX_NODES, Verifier

__all__ = [
    "KIND_EXTERNAL",
    "KIND_SEED",
    "MAX_DEPTH",
    "MAX_NODES",
    "ChainNode",
    "Locations",
    "Verifier",
    "native_detail",
]
