"""The ``git`` binary, driven for exactly what an origin check needs.

One commit of one repository is fetched (``--depth 1``, that ref only) into a private bare
repository, then listed (``ls-tree``) and read (``cat-file --batch``, ``archive`` for
export-subst). Nothing here parses git's storage itself. A local path is fetched the same way,
which works offline and never runs anything configured inside that repository's worktree.

git runs with an allow-listed environment: no system or global configuration, no terminal
prompt (a code host asks for credentials for a repository that does not exist), only the
transports named in ``GIT_ALLOW_PROTOCOL``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fromsource.errors import OriginError

_TIMEOUT = 600  # seconds for a fetch; listing is quick
_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_PASS_THROUGH = (
    "PATH",
    "LANG",
    "LC_ALL",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
_TARGET = "refs/fromsource/origin"


@dataclass(frozen=True, slots=True)
class TreeEntry:
    mode: str  # "100644", "100755", "120000" (symlink), "160000" (submodule)
    oid: str


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _PASS_THROUGH}
    env.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_ALLOW_PROTOCOL": "https:http:git:file",
        }
    )
    return env


def blob_id(data: bytes, object_format: str = "sha1") -> str:
    """The id git gives a blob of these bytes, so equal files are found without reading git."""
    digest = hashlib.new(object_format)
    digest.update(b"blob %d\x00" % len(data))
    digest.update(data)
    return digest.hexdigest()


class Git:
    """A private bare repository in ``directory`` and the remote it fetches from."""

    def __init__(self, directory: Path, remote: str) -> None:
        self.dir = directory
        self.remote = remote
        self.env = _environment(directory)
        self.object_format = "sha1"

    def run(
        self, *args: str, stdin: bytes | None = None, what: str = "git", timeout: float = _TIMEOUT
    ) -> bytes:
        command = [
            "git",
            "-c",
            "credential.helper=",
            "-c",
            "core.hooksPath=/dev/null",
            "--git-dir",
            str(self.dir / "repo.git"),
            *args,
        ]
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, env=self.env, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            raise OriginError(
                "the git binary is not installed", hint="install git; origin checks use it to fetch"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise OriginError(f"{what} timed out after {timeout:.0f} s") from exc
        if done.returncode != 0:
            lines = [
                ln.strip()
                for ln in done.stderr.decode("utf-8", "replace").splitlines()
                if ln.strip() and not ln.startswith("hint:")
            ]
            fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))] or lines
            raise OriginError(f"{what} failed: {fatal[0] if fatal else f'exit {done.returncode}'}")
        return done.stdout

    def init(self, object_format: str = "sha1") -> Git:
        """Create the private repository, in the remote's object format (sha1 or sha256)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run(
            "init",
            "--quiet",
            "--bare",
            "--template=",
            f"--object-format={object_format}",
            str(self.dir / "repo.git"),
            what="git init",
        )
        self.object_format = object_format
        return self

    def remote_refs(self) -> dict[str, str]:
        """Every ref the remote advertises -> the commit it names (tags peeled).

        Works before :meth:`init`, whose object format can then follow the remote's."""
        raw = self.run("ls-remote", "--", self.remote, what=f"listing the refs of {self.remote}", timeout=120)
        refs: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").splitlines():
            oid, _, name = line.partition("\t")
            if name.endswith("^{}"):
                refs[name[:-3]] = oid  # the peeled commit wins over the tag object
            else:
                refs.setdefault(name, oid)
        return refs

    def fetch(self, ref: str, refs: Mapping[str, str] | None = None) -> str:
        """Fetch ``ref`` (a full ref name or a commit id) only, shallow; return the commit.

        A local repository's objects are borrowed instead (``objects/info/alternates``): no
        pack is built or copied, and nothing of that repository but its objects is read.
        """
        objects = _local_objects(self.remote)
        oid = (refs or {}).get(ref, ref if is_commit_id(ref) else None)
        if objects is not None and oid is not None:
            alternates = self.dir / "repo.git" / "objects" / "info" / "alternates"
            alternates.parent.mkdir(parents=True, exist_ok=True)
            alternates.write_text(f"{objects}\n")
            self.run("update-ref", _TARGET, oid, what=f"resolving {ref} in {self.remote}")
        else:
            self.run(
                "fetch",
                "--quiet",
                "--depth",
                "1",
                "--no-tags",
                "--",
                self.remote,
                f"+{ref}:{_TARGET}",
                what=f"fetching {ref} from {self.remote}",
            )
        found = (
            self.run(
                "rev-parse",
                "--show-object-format",
                "--verify",
                f"{_TARGET}^{{commit}}",
                what=f"resolving {ref}",
            )
            .decode()
            .split()
        )
        self.object_format, commit = found[0], found[-1]
        return commit

    def tree(self, commit: str) -> dict[str, TreeEntry]:
        raw = self.run("ls-tree", "-r", "-z", "--full-tree", commit, what="listing the tree")
        entries: dict[str, TreeEntry] = {}
        for record in raw.split(b"\x00"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, _kind, oid = meta.decode().split(" ")
            entries[path.decode("utf-8", "surrogateescape")] = TreeEntry(mode, oid)
        return entries

    def blobs(self, oids: Iterable[str]) -> dict[str, bytes]:
        """Contents of the given blobs, read in one ``cat-file --batch`` call."""
        wanted = sorted(set(oids))
        if not wanted:
            return {}
        raw = self.run(
            "cat-file", "--batch", stdin="".join(f"{o}\n" for o in wanted).encode(), what="reading blobs"
        )
        found: dict[str, bytes] = {}
        position = 0
        for oid in wanted:
            end = raw.index(b"\n", position)
            header = raw[position:end].decode().split(" ")
            if len(header) != 3:
                raise OriginError(f"git cat-file: {oid} is missing from the fetched commit")
            size = int(header[2])
            found[oid] = raw[end + 1 : end + 1 + size]
            position = end + 1 + size + 1  # content, then a newline
        return found

    def archived(self, commit: str, paths: Iterable[str]) -> Mapping[str, bytes]:
        """The given files as ``git archive`` writes them (export-subst applied)."""
        wanted = sorted(set(paths))
        if not wanted:
            return {}
        raw = self.run("archive", "--format=tar", commit, "--", *wanted, what="git archive")
        found: dict[str, bytes] = {}
        # Our own git's output for paths of the fetched tree: no links, no escapes to fear.
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for info in tar:
                if info.isreg() and info.name in wanted:
                    handle = tar.extractfile(info)
                    if handle is not None:
                        found[info.name] = handle.read()
        return found


def _local_objects(remote: str) -> Path | None:
    """The object directory of a local repository (worktree or bare), else None."""
    if "://" in remote:
        return None
    root = Path(remote)
    for objects in (root / ".git" / "objects", root / "objects"):
        if objects.is_dir() and not objects.is_symlink():
            return objects.resolve()
    return None


def is_commit_id(ref: str) -> bool:
    return bool(_HEX.match(ref))
