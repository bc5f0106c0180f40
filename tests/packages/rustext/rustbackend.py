"""An in-tree PEP 517 backend that compiles a Rust cdylib with cargo (offline, no crates).

It stands for setuptools-rust or maturin without their wheels: what matters here is whether
the build can see a Rust toolchain at all, and what its provenance records about it.
"""

import base64
import hashlib
import os
import subprocess
import sysconfig
import time
import zipfile


def _identity():
    # Name and version from the sdist's own PKG-INFO: one backend serves every Rust fixture.
    with open("PKG-INFO", encoding="utf-8") as handle:
        fields = dict(line.split(": ", 1) for line in handle.read().splitlines() if ": " in line)
    return fields["Name"], fields["Version"]


NAME, VERSION = _identity()
LOADER = b'''"""rustadd: an add function compiled from Rust."""
import ctypes
import pathlib

_lib = ctypes.CDLL(str(pathlib.Path(__file__).with_name("_native.so")))
_lib.rustadd_add.argtypes = (ctypes.c_int64, ctypes.c_int64)
_lib.rustadd_add.restype = ctypes.c_int64


def add(a, b):
    return _lib.rustadd_add(a, b)
'''


def get_requires_for_build_wheel(config_settings=None):
    return []


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    subprocess.run(["cargo", "build", "--release", "--offline", "--locked"], check=True)
    with open("target/release/librustadd.so", "rb") as handle:
        native = handle.read()
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"py3-none-{platform}"
    dist_info = f"{NAME}-{VERSION}.dist-info"
    files = {
        f"{NAME}/__init__.py": LOADER,
        f"{NAME}/_native.so": native,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: rustbackend\nRoot-Is-Purelib: false\nTag: {tag}\n"
        ).encode(),
    }
    record = "\n".join(_record_line(p, d) for p, d in files.items()) + f"\n{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    filename = f"{NAME}-{VERSION}-{tag}.whl"
    stamp = time.gmtime(max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800))[:6]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for path, data in files.items():
            wheel.writestr(zipfile.ZipInfo(path, date_time=stamp), data)
    return filename
