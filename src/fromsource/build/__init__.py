"""Build one sdist into a wheel and sign its SLSA provenance.

The steps follow DESIGN.md "Building one package": safe extraction, ``[build-system]``,
an isolated venv fed only with workspace wheels, PEP 517 hooks in a sandbox, then the
attestation is written before the wheel so a wheel never appears without it.

The package's modules, in the order a build uses them: ``build_system`` (the one
``[build-system]`` reader), ``environment`` (the wheels and interpreter a build records),
``hooks`` (the PEP 517 hooks under the sandbox), ``output`` (the built wheel's checks),
``signing`` (provenance signed, files put in place), ``builder`` (the steps in order), and
``model`` (settings and results). What other modules use is importable from here.
"""

from fromsource.build.build_system import (
    LEGACY_BACKEND,
    LEGACY_REQUIRES,
    BuildSystem,
    parse_build_system,
    read_build_system,
)
from fromsource.build.builder import build_sdist, build_unsigned, sdist_identity
from fromsource.build.environment import interpreter_dependency
from fromsource.build.model import BuildResult, BuildSettings, EnvWheel, Progress, UnsignedBuild
from fromsource.build.output import check_built_wheel
from fromsource.build.signing import attest_build

__all__ = [
    "LEGACY_BACKEND",
    "LEGACY_REQUIRES",
    "BuildResult",
    "BuildSettings",
    "BuildSystem",
    "EnvWheel",
    "Progress",
    "UnsignedBuild",
    "attest_build",
    "build_sdist",
    "build_unsigned",
    "check_built_wheel",
    "interpreter_dependency",
    "parse_build_system",
    "read_build_system",
    "sdist_identity",
]
