"""An in-tree PEP 517 backend for bootstrap's fixture projects (needs nothing installed).

``tiny.json`` next to it says what to build: name, version, Requires-Dist lines, extras,
what ``get_requires_for_build_wheel`` returns, modules that must be importable (the build
requirements, proving the environment holds them), blocking until killed, a failure, output
that differs on every build (``unstable``), or a gate (a directory the test made, holding the
FIFO ``started``): the build makes the FIFO ``gate-open`` in its source tree, writes the tree's
path as one line into ``started`` and blocks reading ``gate-open`` until the test writes a line
there. Blocking opens and reads on both sides: nothing waits on a clock.
"""

# Each hook runs in a fresh interpreter and the suite calls hundreds: only what
# pyproject-hooks' own runner has already imported is imported here at module level (zipfile,
# hashlib and base64 would add about a third to every call on a slow machine).
import json
import os


def _config():
    with open("tiny.json", encoding="utf-8") as handle:
        return json.load(handle)


def get_requires_for_build_wheel(config_settings=None):
    return list(_config().get("backend_requires", []))


def _record_line(path, data):
    import binascii
    import hashlib

    digest = binascii.b2a_base64(hashlib.sha256(data).digest(), newline=False)
    encoded = digest.translate(bytes.maketrans(b"+/", b"-_")).rstrip(b"=").decode()  # urlsafe, unpadded
    return f"{path},sha256={encoded},{len(data)}"


def _write_zip(target, files, stamp):
    """A stored (uncompressed) zip with a local header per file, then the central directory:
    the bytes zipfile writes for ``ZipInfo(path, date_time=stamp)``, without importing it."""
    import struct
    import zlib

    year, month, day, hour, minute, second = stamp
    dos_time, dos_date = hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day
    local, central = bytearray(), bytearray()
    for path, data in files.items():
        name, crc, size = path.encode(), zlib.crc32(data), len(data)
        fields = (dos_time, dos_date, crc, size, size, len(name))
        attributes = 0o600 << 16  # what zipfile gives an entry written with writestr
        central += struct.pack(
            "<4s2B5H3L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, *fields, 0, 0, 0, 0, attributes, len(local)
        )
        central += name
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, *fields, 0) + name + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(files), len(files), len(central), len(local), 0)
    with open(target, "wb") as out:
        out.write(bytes(local + central) + end)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    config = _config()
    import importlib
    import re
    import sys
    import time

    for module in config.get("imports", []):
        importlib.import_module(module)  # fails the build if the environment lacks it
    if config.get("block"):
        # Mid-build until killed: the marker tells the test (outside the sandbox) we are here.
        with open("blocked", "w", encoding="utf-8") as marker:
            marker.write("blocked\n")
        import signal

        while True:
            signal.pause()  # no clock: only the signal that kills the run ends this
    if config.get("gate"):
        os.mkfifo("gate-open")
        with open(os.path.join(config["gate"], "started"), "w", encoding="utf-8") as started:
            started.write(os.getcwd() + "\n")
        with open("gate-open", encoding="utf-8") as gate:
            if not gate.readline():
                raise SystemExit("tinybackend: the gate closed without opening")
    if config.get("fail"):
        print("tinybackend: failing on purpose", file=sys.stderr)
        raise SystemExit(1)
    name, version = config["name"], config["version"]
    stem = re.sub(r"[-_.]+", "_", name).lower()
    dist_info = f"{stem}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Provides-Extra: {extra}" for extra in config.get("extras", [])]
    metadata += [f"Requires-Dist: {line}" for line in config.get("requires", [])]
    files = {
        f"{stem}/__init__.py": f"VERSION = {version!r}\n".encode()
        + (f"BUILD = {os.urandom(8).hex()!r}\n".encode() if config.get("unstable") else b""),
        f"{dist_info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tinybackend\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "\n".join(_record_line(p, d) for p, d in files.items()) + f"\n{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    filename = f"{stem}-{version}-py3-none-any.whl"
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    stamp = time.gmtime(max(epoch, 315532800))[:6]
    _write_zip(os.path.join(wheel_directory, filename), files, stamp)
    return filename
