"""Policies: TOML files naming trusted keys and the rules a chain must meet.

Loading reports every error with its location (``[trust].builder_keys[1]: ...``), not
the first. Evaluation helpers return lists of violations; the caller decides severity.

    version = 1
    expires = 2027-06-30T00:00:00Z      # optional; a policy past its expiry is refused

    [trust]
    builder_keys = ["keys/builder.pub"]   # paths relative to this file
    reviewer_keys = []
    threshold = 1                          # distinct trusted keys that must sign

    [build]
    require_isolation = true               # attestations must record network isolation
    require_sandbox = true                 # ... and the bubblewrap filesystem sandbox
    allow_unverified_sources = false       # sdists no sha256/https vouched for (default: refused)
    toolchains = ["rust"]                  # bound read-only into builds (fromsource.toolchains)

    [seeds]
    evidence = ["source", "provenance", "review"]  # which evidence admits a seed
    allow = []                             # optional allow-list of project names
    binary_digests = []                    # sha256 of binary seeds admitted by name

    [sigstore]                             # optional; default: the root inside sigstore
    trusted_root = "roots/production.json" # the sigstore trusted root, pinned by digest
    trusted_root_sha256 = "6494e2..."

    [publishers]                           # project -> the publisher its sdists must come from
    pypi-attestations = "github:trailofbits/pypi-attestations/release.yml"

    [sources]
    require_origin = ["requests"]          # or true: sdists must match their tagged tree
    repositories = { requests = "https://github.com/psf/requests" }  # or a local path
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from securesystemslib.signer import Key

from fromsource.attest.keys import load_public_key
from fromsource.attest.publisher import PublisherSpec, parse_publisher
from fromsource.attest.trustroot import TrustRootPin
from fromsource.errors import FromsourceError, PolicyError, PolicyFileError
from fromsource.toolchains import KNOWN as KNOWN_TOOLCHAINS
from fromsource.untrusted import MAX_POLICY_BYTES, load_toml, read_file

if TYPE_CHECKING:  # index imports this module
    from fromsource.index import WheelCandidate

# source: re-assembled from its sdist; provenance: built by a trusted builder; review: a
# pre-built wheel a trusted reviewer found readable (or a binary pinned by digest).
EVIDENCE_KINDS = frozenset({"source", "provenance", "review"})
_TOP_KEYS = {
    "version",
    "expires",
    "trust",
    "build",
    "seeds",
    "externals",
    "sigstore",
    "publishers",
    "sources",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    source: str
    builder_keys: tuple[Key, ...]
    reviewer_keys: tuple[Key, ...] = ()
    threshold: int = 1
    expires: datetime | None = None
    require_isolation: bool = False
    require_sandbox: bool = False
    allow_unverified_sources: bool = False  # fetch and accept sources nothing vouched for
    toolchains: tuple[str, ...] = ()
    crates_registry: str | None = None  # a directory (resolved against the policy's) or URL
    seed_evidence: frozenset[str] = EVIDENCE_KINDS
    seed_allow: frozenset[str] | None = None
    binary_seed_digests: frozenset[str] = frozenset()
    externals: dict[str, str] = field(default_factory=dict)  # sha256 -> file name
    trusted_root: TrustRootPin | None = None  # None: the root inside the sigstore package
    publishers: dict[str, PublisherSpec] = field(default_factory=dict)  # by canonical name
    # [[externals.wheels]] with a publisher: beside a sha256 (both must hold), keyed by digest;
    # instead of one ({project, publisher}: any release it publishes), keyed by project.
    external_publishers: dict[str, PublisherSpec] = field(default_factory=dict)
    externals_by_publisher: dict[str, PublisherSpec] = field(default_factory=dict)
    # [sources]: True (every sdist), a set of canonical project names, or None (no origin check)
    require_origin: bool | frozenset[str] | None = None
    repositories: dict[str, str] = field(default_factory=dict)  # project -> URL or path

    def requires_origin(self, project: str) -> bool:
        if isinstance(self.require_origin, frozenset):
            return canonicalize_name(project) in self.require_origin
        return self.require_origin is True

    def expired(self, now: datetime | None = None) -> bool:
        """True from the ``expires`` instant on: a policy is valid strictly before it."""
        if self.expires is None:
            return False
        return (now or datetime.now(UTC)) >= self.expires

    def check_current(self, now: datetime | None = None) -> None:
        if self.expired(now):
            assert self.expires is not None  # noqa: S101 - expired() implies it
            raise PolicyError(
                f"policy {self.source} expired at {self.expires.isoformat()}",
                hint="renew the policy (a new expires date, reviewed keys) before relying on it",
            )


class _Errors:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _table(data: dict[str, Any], name: str, errors: _Errors, allowed: set[str]) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        errors.add(f"[{name}]", "must be a table")
        return {}
    for key in sorted(set(value) - allowed):
        errors.add(f"[{name}].{key}", "unknown key")
    return value


def _str_list(table: dict[str, Any], key: str, where: str, errors: _Errors) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.add(f"{where}.{key}", "must be a list of strings")
        return []
    return value


def _bool(table: dict[str, Any], key: str, where: str, errors: _Errors) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        errors.add(f"{where}.{key}", "must be true or false")
        return False
    return value


def _keys(paths: list[str], base: Path, where: str, errors: _Errors) -> tuple[Key, ...]:
    keys = []
    for index, raw in enumerate(paths):
        try:
            keys.append(load_public_key((base / raw) if not Path(raw).is_absolute() else Path(raw)))
        except FromsourceError as exc:
            errors.add(f"{where}[{index}]", str(exc))
    return tuple(keys)


def load_policy(path: Path) -> Policy:
    """Parse and check a policy file; raise :class:`PolicyError` listing every error."""
    raw = read_file(path, limit=MAX_POLICY_BYTES, what="policy", error=PolicyFileError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyFileError(f"policy {path} is not UTF-8: {exc}") from exc
    data = load_toml(text, source=f"policy {path}", error=PolicyFileError)
    errors = _Errors(str(path))
    for key in sorted(set(data) - _TOP_KEYS):
        errors.add(key, "unknown key")
    if data.get("version") != 1:
        errors.add("version", "must be 1")
    expires = data.get("expires")
    if expires is not None and (not isinstance(expires, datetime) or expires.tzinfo is None):
        errors.add("expires", "must be a TOML offset date-time, e.g. 2027-06-30T00:00:00Z")
        expires = None
    trust = _table(data, "trust", errors, {"builder_keys", "reviewer_keys", "threshold"})
    build = _table(
        data,
        "build",
        errors,
        {"require_isolation", "require_sandbox", "allow_unverified_sources", "toolchains", "crates_registry"},
    )
    seeds = _table(data, "seeds", errors, {"evidence", "allow", "binary_digests"})
    externals = _table(data, "externals", errors, {"wheels"})
    require_origin, repositories = _sources(
        _table(data, "sources", errors, {"require_origin", "repositories"}), path.parent, errors
    )
    base = path.parent
    builder_keys = _keys(
        _str_list(trust, "builder_keys", "[trust]", errors), base, "[trust].builder_keys", errors
    )
    reviewer_keys = _keys(
        _str_list(trust, "reviewer_keys", "[trust]", errors), base, "[trust].reviewer_keys", errors
    )
    threshold = trust.get("threshold", 1)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        errors.add("[trust].threshold", "must be an integer >= 1")
        threshold = 1
    elif builder_keys and threshold > len({k.keyid for k in builder_keys}):
        errors.add("[trust].threshold", f"{threshold} exceeds the number of distinct builder keys")
    require_isolation = _bool(build, "require_isolation", "[build]", errors)
    require_sandbox = _bool(build, "require_sandbox", "[build]", errors)
    allow_unverified = _bool(build, "allow_unverified_sources", "[build]", errors)
    granted = _str_list(build, "toolchains", "[build]", errors)
    registry = build.get("crates_registry")
    if registry is not None and not isinstance(registry, str):
        errors.add("[build].crates_registry", "must be a string (a directory or a URL)")
        registry = None
    if isinstance(registry, str) and "://" not in registry and not Path(registry).is_absolute():
        registry = str(path.parent / registry)
    for bad in sorted(set(granted) - set(KNOWN_TOOLCHAINS)):
        errors.add("[build].toolchains", f"unknown toolchain {bad!r} (known: {', '.join(KNOWN_TOOLCHAINS)})")
    evidence = set(_str_list(seeds, "evidence", "[seeds]", errors) or EVIDENCE_KINDS)
    for bad in sorted(evidence - EVIDENCE_KINDS):
        errors.add("[seeds].evidence", f"unknown evidence kind {bad!r} (use source, provenance, review)")
    allow = _str_list(seeds, "allow", "[seeds]", errors) if "allow" in seeds else None
    digests = _str_list(seeds, "binary_digests", "[seeds]", errors)
    for digest in digests:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            errors.add("[seeds].binary_digests", f"{digest!r} is not a lowercase sha256 hex digest")
    external_map: dict[str, str] = {}
    wheels = externals.get("wheels", [])
    if not isinstance(wheels, list):
        errors.add("[externals].wheels", "must be an array of tables")
        wheels = []
    external_publishers: dict[str, PublisherSpec] = {}
    by_publisher: dict[str, PublisherSpec] = {}
    for index, entry in enumerate(wheels):
        where = f"[externals].wheels[{index}]"
        if not isinstance(entry, dict):
            errors.add(where, "must be a table")
            continue
        for key in sorted(set(entry) - {"file", "sha256", "publisher", "project"}):
            errors.add(f"{where}.{key}", "unknown key")
        spec = None
        if "publisher" in entry:
            try:
                spec = parse_publisher(entry["publisher"]) if isinstance(entry["publisher"], str) else None
            except FromsourceError as exc:
                errors.add(f"{where}.publisher", exc.message)
                continue
            if spec is None:
                errors.add(f"{where}.publisher", "must be a publisher spec string")
                continue
        if "project" in entry:
            if spec is None or not isinstance(entry["project"], str) or "file" in entry or "sha256" in entry:
                errors.add(
                    where,
                    "{project, publisher} admits any wheel its publisher publishes; "
                    "it takes no file or sha256",
                )
                continue
            by_publisher[canonicalize_name(entry["project"])] = spec
            continue
        if not isinstance(entry.get("sha256"), str) or not isinstance(entry.get("file"), str):
            errors.add(where, "needs string keys file and sha256 (or project and publisher)")
            continue
        if not _is_sha256(entry["sha256"]):
            errors.add(f"{where}.sha256", "must be a lowercase sha256 hex digest")
            continue
        external_map[entry["sha256"]] = entry["file"]
        if spec is not None:
            external_publishers[entry["sha256"]] = spec
    trusted_root = _sigstore_table(data, base, errors)
    publishers = _publishers_table(data, errors)
    if errors.items:
        raise PolicyFileError(
            f"policy {path} has {len(errors.items)} error(s):\n  " + "\n  ".join(errors.items)
        )
    return Policy(
        source=str(path),
        builder_keys=builder_keys,
        reviewer_keys=reviewer_keys,
        threshold=threshold,
        expires=expires,
        require_isolation=require_isolation,
        require_sandbox=require_sandbox,
        allow_unverified_sources=allow_unverified,
        toolchains=tuple(sorted(set(granted))),
        crates_registry=registry,
        seed_evidence=frozenset(evidence),
        seed_allow=frozenset(canonicalize_name(n) for n in allow) if allow is not None else None,
        binary_seed_digests=frozenset(digests),
        externals=external_map,
        trusted_root=trusted_root,
        publishers=publishers,
        external_publishers=external_publishers,
        externals_by_publisher=by_publisher,
        require_origin=require_origin,
        repositories=repositories,
    )


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _sigstore_table(data: dict[str, Any], base: Path, errors: _Errors) -> TrustRootPin | None:
    table = _table(data, "sigstore", errors, {"trusted_root", "trusted_root_sha256"})
    if not table:
        return None
    raw, digest = table.get("trusted_root"), table.get("trusted_root_sha256")
    if not isinstance(raw, str) or not raw:
        errors.add("[sigstore].trusted_root", "must be the path of a sigstore trusted root JSON")
        return None
    if not _is_sha256(digest):
        errors.add("[sigstore].trusted_root_sha256", "must be the root's lowercase sha256 hex digest")
        return None
    path = Path(raw) if Path(raw).is_absolute() else base / raw
    return TrustRootPin(path=path, sha256=str(digest), source=f"policy {base}")


def _publishers_table(data: dict[str, Any], errors: _Errors) -> dict[str, PublisherSpec]:
    table = data.get("publishers", {})
    if not isinstance(table, dict):
        errors.add("[publishers]", 'must be a table of project = "publisher spec"')
        return {}
    found: dict[str, PublisherSpec] = {}
    for project, spec in table.items():
        if not isinstance(spec, str):
            errors.add(f"[publishers].{project}", "must be a publisher spec string")
            continue
        try:
            found[canonicalize_name(project)] = parse_publisher(spec)
        except FromsourceError as exc:
            errors.add(f"[publishers].{project}", exc.message)
    return found


def _sources(
    table: dict[str, Any], base: Path, errors: _Errors
) -> tuple[bool | frozenset[str] | None, dict[str, str]]:
    required = table.get("require_origin")
    origin: bool | frozenset[str] | None = None
    if isinstance(required, bool):
        origin = required or None
    elif isinstance(required, list) and all(isinstance(v, str) for v in required):
        origin = frozenset(canonicalize_name(v) for v in required)
    elif required is not None:
        errors.add("[sources].require_origin", "must be true, false or a list of project names")
    repositories: dict[str, str] = {}
    raw = table.get("repositories", {})
    if not isinstance(raw, dict):
        errors.add("[sources].repositories", "must be a table of project = URL or path")
        raw = {}
    for name, where in raw.items():
        if not isinstance(where, str) or not where:
            errors.add(f"[sources].repositories.{name}", "must be a URL or a path")
            continue
        # A path is relative to the policy file, like key paths.
        repositories[canonicalize_name(name)] = where if "://" in where else str(base / where)
    return origin, repositories


# ---------------------------------------------- rendering entries for a policy


def external_policy_line(candidate: WheelCandidate, sha256: str | None = None) -> str:
    """The inline TOML table that admits ``candidate`` as an external, e.g.

    ``{ file = "pkg-1.0-cp39-abi3-manylinux_2_34_x86_64.whl", sha256 = "..." }``, an entry of
    ``wheels`` in a policy's ``[externals]`` table. ``sha256`` (of the fetched file) is needed
    when the index publishes none.
    """
    digest = (sha256 or candidate.sha256 or "").lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{candidate.filename}: no sha256 known; fetch the wheel to compute it")
    return f"{{ file = {_toml_string(candidate.filename)}, sha256 = {_toml_string(digest)} }}"


def external_policy_block(lines: Iterable[str]) -> str:
    """A policy fragment holding :func:`external_policy_line` entries, ready to paste."""
    body = "".join(f"  {line},\n" for line in lines)
    return f"[externals]\nwheels = [\n{body}]\n"


def _toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
