"""PyYAML built against the system's libyaml: its provenance, verify and the SBOM name libyaml
(soname, file digest, Debian package and version) and the compiler.

Cython, PyYAML's build requirement, enters as a digest-pinned external (its own build from
source compiles for many minutes; it is a build tool here, not what is under test). The
digest is read from the index at test time, as the externals hint would print it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packageurl import PackageURL
from packaging.version import Version

from fromsource.index import close_index, open_index
from fromsource.policy import external_policy_line
from fromsource.wheelstore import best_wheel

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        not Path("/usr/include/yaml.h").is_file()
        or shutil.which("cc") is None
        or shutil.which("dpkg") is None,
        reason="needs libyaml-dev, a C compiler and dpkg (Debian)",
    ),
]

CYTHON = "3.1.2"


def _fromsource(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fromsource", *args], capture_output=True, text=True, timeout=900, check=False
    )


def test_pyyaml_records_libyaml_and_the_compiler(tmp_path: Path) -> None:
    index = open_index()
    try:
        wheel = best_wheel(index.wheel_candidates("cython"), Version(CYTHON))
    finally:
        close_index(index)
    assert wheel is not None
    ws = tmp_path / "ws"
    (tmp_path / "constraints.txt").write_text(f"cython=={CYTHON}\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(f"version = 1\n[externals]\nwheels = [{external_policy_line(wheel)}]\n")
    run = _fromsource(
        "bootstrap",
        "pyyaml==6.0.2",
        "-w",
        str(ws),
        "-j",
        "2",
        "--json",
        "-c",
        str(tmp_path / "constraints.txt"),
        "--policy",
        str(policy),
    )
    assert run.returncode == 0, run.stderr[-4000:]
    summary = json.loads(run.stdout)
    assert summary["installable"] == [
        {"requirement": "pyyaml==6.0.2", "installable": True, "closure": ["PyYAML 6.0.2"], "needs": []}
    ]

    (built,) = (ws / "wheels").glob("pyyaml-6.0.2-*.whl")
    envelope = json.loads((ws / "attestations" / f"{built.name}.intoto.jsonl").read_text())
    deps = json.loads(base64.b64decode(envelope["payload"]))["predicate"]["buildDefinition"][
        "resolvedDependencies"
    ]
    (libyaml,) = [d for d in deps if d["name"] == "libyaml-0.so.2"]
    notes = libyaml["annotations"]
    assert notes["kind"] == "system-library" and notes["soname"] == "libyaml-0.so.2"
    assert any(m.startswith("yaml/_yaml.") for m in notes["neededBy"])
    library = Path(libyaml["uri"].removeprefix("file://"))
    assert libyaml["digest"]["sha256"] == hashlib.sha256(library.read_bytes()).hexdigest()
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libyaml-0-2"], capture_output=True, text=True, check=True
    ).stdout
    assert notes["package"]["name"] == "libyaml-0-2" and notes["package"]["version"] == version
    (compiler,) = [d for d in deps if d["annotations"]["kind"] == "compiler"]
    assert compiler["annotations"]["compiler"] in ("gcc", "clang")

    key = ws / "keys" / "builder.pub"
    trusting = tmp_path / "verify-policy.toml"  # the external is trusted where a policy names it
    trusting.write_text(
        f'version = 1\n[trust]\nbuilder_keys = ["{key}"]\n'
        f"[externals]\nwheels = [{external_policy_line(wheel)}]\n"
    )
    shown = _fromsource("verify", str(built), "-w", str(ws), "--policy", str(trusting))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    line = next(x for x in shown.stdout.splitlines() if "system-library libyaml-0.so.2" in x)
    assert f"dpkg libyaml-0-2 {version}" in line
    assert any(" compiler " in x for x in shown.stdout.splitlines())

    sbom = tmp_path / "sbom.json"
    made = _fromsource(
        "sbom", str(built), "-w", str(ws), "-o", str(sbom), "--validate", "--policy", str(trusting)
    )
    assert made.returncode == 0, made.stderr
    document = json.loads(sbom.read_text())
    (component,) = [c for c in document["components"] if c["name"] == "libyaml-0.so.2"]
    purl = PackageURL.from_string(component["purl"])
    assert (purl.type, purl.namespace, purl.name, purl.version) == ("deb", "debian", "libyaml-0-2", version)
    wheel_ref = next(c["bom-ref"] for c in document["components"] if c["bom-ref"].endswith(built.name))
    (deps_of,) = [d for d in document["dependencies"] if d["ref"] == wheel_ref]
    assert component["bom-ref"] in deps_of["dependsOn"]
