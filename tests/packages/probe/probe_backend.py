"""A tiny in-tree PEP 517 backend that records what the build sandbox looks like.

The wheel it builds holds probe/sandbox.json: environment variable names, network
interfaces visible, SOURCE_DATE_EPOCH. Tests read it to check isolation for real.
"""

import base64
import hashlib
import json
import os
import zipfile

NAME, VERSION = "probe", "1.0"


def get_requires_for_build_wheel(config_settings=None):
    return []


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    # /proc/net/dev follows the process's network namespace (/sys/class/net does not).
    with open("/proc/net/dev") as dev:
        interfaces = sorted(line.split(":")[0].strip() for line in dev.readlines()[2:])
    probe = {
        "env": sorted(os.environ),
        "path0": os.environ.get("PATH", "").split(os.pathsep)[0],
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "interfaces": interfaces,
    }
    dist_info = f"{NAME}-{VERSION}.dist-info"
    files = {
        "probe/__init__.py": b"",
        "probe/sandbox.json": json.dumps(probe, sort_keys=True).encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: probe\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join(_record_line(p, d) for p, d in files.items()) + f"\n{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    filename = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return filename
