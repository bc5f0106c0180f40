"""Test helpers: tiny sdists made on the fly, and a simple-API server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import html
import io
import json
import tarfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name


def make_sdist(
    directory: Path,
    name: str,
    version: str,
    requires: Sequence[str] = (),
    *,
    requires_python: str | None = None,
    metadata_version: str = "2.2",
    dynamic: Sequence[str] = (),
    extras: Sequence[str] = (),
) -> Path:
    """Write ``<name>-<version>.tar.gz`` holding a PKG-INFO and a flit-style pyproject."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Python: {requires_python}"] if requires_python else []
    lines += [f"Provides-Extra: {e}" for e in extras]
    lines += [f"Requires-Dist: {r}" for r in requires]
    lines += [f"Dynamic: {d}" for d in dynamic]
    files = {
        "PKG-INFO": "\n".join(lines) + "\n",
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\n',
    }
    path = directory / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{member}")
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Release:
    """One file the test server lists; ``published_sha256`` may lie on purpose."""

    path: Path
    published_sha256: str | None = None
    yanked: bool = False
    requires_python: str | None = None
    provenance: Path | None = None  # a PEP 740 provenance object, linked from the JSON page


@dataclass
class FakeServer:
    """State of a running test index; tests read ``hits`` and tweak ``fail``."""

    url: str
    projects: dict[str, list[Release]]
    fmt: str  # "json" or "html"
    hits: list[str] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    # path -> answered only once the event is set (every held answer is released on exit)
    hold: dict[str, threading.Event] = field(default_factory=dict)
    cache_control: str | None = None  # sent with project pages when set


def _page(server: FakeServer, project: str, base: str) -> tuple[str, bytes]:
    releases = server.projects[project]
    if server.fmt == "json":
        files = []
        for r in releases:
            entry: dict[str, object] = {
                "filename": r.path.name,
                "url": f"{base}files/{r.path.name}",
                "hashes": {"sha256": r.published_sha256} if r.published_sha256 else {},
                "yanked": r.yanked,
            }
            if r.requires_python:
                entry["requires-python"] = r.requires_python
            if r.provenance is not None:
                entry["provenance"] = f"{base}provenance/{r.path.name}"
            files.append(entry)
        doc = {"meta": {"api-version": "1.0"}, "name": project, "files": files}
        return "application/vnd.pypi.simple.v1+json", json.dumps(doc).encode()
    links = []
    for r in releases:
        fragment = f"#sha256={r.published_sha256}" if r.published_sha256 else ""
        attrs = ' data-yanked=""' if r.yanked else ""
        if r.requires_python:
            attrs += f' data-requires-python="{html.escape(r.requires_python)}"'
        # relative links, as real indexes often serve them
        links.append(f'<a href="../../files/{r.path.name}{fragment}"{attrs}>{r.path.name}</a>')
    body = "<!DOCTYPE html><html><body>" + "<br/>".join(links) + "</body></html>"
    return "text/html", body.encode()


@contextmanager
def serve(projects: dict[str, list[Release]], fmt: str = "json") -> Iterator[FakeServer]:
    """Serve ``/simple/<project>/`` and ``/files/<name>`` on 127.0.0.1 in a thread."""
    state = FakeServer("", projects, fmt)
    files = {r.path.name: r.path for releases in projects.values() for r in releases}
    provenance = {
        r.path.name: r.provenance
        for releases in projects.values()
        for r in releases
        if r.provenance is not None
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.hits.append(self.path)
            held = state.hold.get(self.path)
            if held is not None:
                held.wait()
            queued = state.fail.get(self.path)
            if queued:
                self._send(queued.pop(0), "text/plain", b"injected failure")
                return
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in state.projects:
                ctype, body = _page(state, parts[1], state.url)
                self._send(200, ctype, body, state.cache_control)
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in files:
                self._send(200, "application/octet-stream", files[parts[1]].read_bytes())
            elif len(parts) == 2 and parts[0] == "provenance" and parts[1] in provenance:
                self._send(200, "application/json", provenance[parts[1]].read_bytes())
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, ctype: str, body: bytes, cache_control: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if cache_control is not None:
                self.send_header("Cache-Control", cache_control)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that timed out on purpose closes before the answer

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        for held in state.hold.values():
            held.set()
        server.shutdown()
        server.server_close()
        thread.join()
