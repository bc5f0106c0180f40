"""An in-tree PEP 517 backend that compiles one C extension with the system ``cc``.

It stands for setuptools' build_ext without needing setuptools in the build environment:
the compiler, headers and libm come from the system, which is what the provenance of a
compiled wheel must record.
"""

import base64
import hashlib
import importlib.machinery
import os
import subprocess
import sys
import sysconfig
import time
import zipfile

NAME, VERSION = "cosine", "1.0"


def get_requires_for_build_wheel(config_settings=None):
    return []


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _extra_link_args():
    """Linker arguments a test puts beside the source (a library of its own)."""
    if not os.path.exists("link.txt"):
        return []
    with open("link.txt") as handle:
        return handle.read().split()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    target = os.path.abspath("build/" + NAME + suffix)
    os.makedirs("build", exist_ok=True)
    subprocess.run(
        [
            "cc",
            "-shared",
            "-fPIC",
            "-O2",
            "-I" + sysconfig.get_paths()["include"],
            "cosine.c",
            "-o",
            target,
            "-lm",
            *_extra_link_args(),
        ],
        check=True,
    )
    with open(target, "rb") as handle:
        module = handle.read()
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"{python}-{python}-{platform}"
    dist_info = f"{NAME}-{VERSION}.dist-info"
    files = {
        NAME + suffix: module,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: cbackend\nRoot-Is-Purelib: false\nTag: {tag}\n"
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
