"""Hostile inputs for the edge probes: an HTTP server on 127.0.0.1 that misbehaves on
purpose, a memory-limited CLI runner, and zip files with a second reading."""

from __future__ import annotations

import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# route path -> handler(request) that writes the whole answer itself
Route = Callable[[BaseHTTPRequestHandler], None]

_LAUNCHER = (
    "import resource, runpy, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "sys.argv[0] = 'fromsource'\n"
    "runpy.run_module('fromsource', run_name='__main__', alter_sys=True)\n"
)


def run_cli(
    *args: str, memory: int | None = None, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``fromsource ARGS`` in a fresh interpreter, under an address-space limit if given."""
    if memory is None:
        command = [sys.executable, "-m", "fromsource", *args]
    else:
        command = [sys.executable, "-c", _LAUNCHER, str(memory), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def endless(content_type: str, *, declare: int | None = None) -> Route:
    """A body that never ends (or declares ``declare`` bytes and then never ends)."""

    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        if declare is not None:
            request.send_header("Content-Length", str(declare))
        request.end_headers()
        block = b"<a>" * (1 << 16)
        try:
            while True:
                request.wfile.write(block)
        except OSError:
            return  # the client hung up: what a cap does

    return handler


def answer(
    body: bytes, content_type: str = "text/html", status: int = 200, headers: dict[str, str] | None = None
) -> Route:
    def handler(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(body)

    return handler


def redirect(location: str) -> Route:
    return answer(b"", status=302, headers={"Location": location})


@contextmanager
def hostile_server(routes: dict[str, Route]) -> Iterator[str]:
    """Serve ``routes`` on 127.0.0.1 (HTTP/1.0: close-delimited bodies); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            route = routes.get(self.path)
            if route is None:
                answer(b"not found", "text/plain", 404)(self)
            else:
                route(self)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that stops reading at its cap

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def local_entry(name: str, data: bytes) -> bytes:
    """One complete stored zip entry (local header and data), as a hidden prefix."""
    raw = name.encode()
    header = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, zlib.crc32(data), len(data), len(data), len(raw), 0
    )
    return header + raw + data


def prepend_entry(wheel: Path, dest: Path, name: str, data: bytes) -> Path:
    """``wheel`` with a complete extra entry before its first one, in no central directory.

    zipfile does not see it (it shifts every offset past the prefix); a reader that walks
    local headers from byte 0 sees it first.
    """
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / wheel.name
    out.write_bytes(local_entry(name, data) + wheel.read_bytes())
    with zipfile.ZipFile(out) as check:  # still "valid" to zipfile: that is the point
        assert name not in check.namelist()
        assert check.testzip() is None
    return out


def rename_local_header(wheel: Path, dest: Path, old: str, new: str) -> Path:
    """``wheel`` with one local header naming ``new`` while the central directory says ``old``."""
    assert len(old) == len(new)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as archive:
        offset = archive.getinfo(old).header_offset
    start = offset + 30
    assert data[start : start + len(old)] == old.encode()
    data[start : start + len(old)] = new.encode()
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / wheel.name
    out.write_bytes(bytes(data))
    return out
