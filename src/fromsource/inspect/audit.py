"""The pure core of ``inspect``: wheel members and sdist members in, a :class:`Report` out.

No I/O here: :func:`fromsource.inspect.inspect_wheel` reads the archives and calls
:func:`audit`. Modules are parsed (``ast``; libcst only for syntax the interpreter does not
know) only when a modified, generated or suspicious module needs it.
"""

from __future__ import annotations

import configparser
import dataclasses
import difflib
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from fromsource.errors import InputError
from fromsource.inspect import lint
from fromsource.inspect.classify import (
    SdistIndex,
    WheelLayout,
    kind_of,
    sdist_top_levels,
    sha256,
    strip_top,
    top_level_name,
)
from fromsource.inspect.metadata import compare_metadata, compare_rebuilt, entry_points
from fromsource.inspect.model import (
    CHANGE_CODE,
    CHANGE_CODE_MODULE,
    CHANGE_FORMATTING,
    CHANGE_LITERAL_MODULE,
    CHANGE_LITERALS,
    CHANGE_TEXT,
    CHANGE_TEXT_FILE,
    CHANGE_UNPARSABLE,
    CHANGE_WHITESPACE,
    COMPILED,
    GENERATED,
    IDENTICAL,
    KIND_COMPILED,
    KIND_DATA,
    KIND_PYTHON,
    MODIFIED,
    NOT_READABLE,
    OPAQUE,
    READABLE,
    RELOCATED,
    UNSETTLED,
    FileResult,
    Finding,
    MetadataResult,
    Report,
)
from fromsource.wheelrecord import check_record

MAX_DIFF_LINES = 5000
_FROM_SDIST = (IDENTICAL, RELOCATED, MODIFIED)
_STARTUP_HOOKS = frozenset({"sitecustomize", "usercustomize"})


@dataclass
class _Pending:
    path: str
    scheme: str
    install_path: str
    data: bytes
    digest: str
    kind: str
    why: str | None


@dataclass
class _State:
    files: dict[str, FileResult] = field(default_factory=dict)
    vouched_tops: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dangerous: list[Finding] = field(default_factory=list)
    lint: list[Finding] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n


def find_dist_info(wheel_name: str, names: list[str]) -> str:
    """The wheel's own ``*.dist-info`` directory (the one holding METADATA)."""
    candidates = sorted(
        {
            n.split("/", 1)[0]
            for n in names
            if n.count("/") == 1 and n.endswith("/METADATA") and n.split("/")[0].endswith(".dist-info")
        }
    )
    if not candidates:
        raise InputError(f"{wheel_name} is not a wheel: no *.dist-info/METADATA at its root")
    wanted = canonicalize_name(wheel_name.split("-", 1)[0])
    for candidate in candidates:
        if canonicalize_name(candidate.split("-", 1)[0]) == wanted:
            return candidate
    return candidates[0]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _diff(old: bytes, new: bytes, old_name: str, new_name: str) -> str:
    lines = list(
        difflib.unified_diff(
            _decode(old).splitlines(keepends=True),
            _decode(new).splitlines(keepends=True),
            fromfile=f"sdist/{old_name}",
            tofile=f"wheel/{new_name}",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _result(p: _Pending, status: str, **extra: str | None) -> FileResult:
    return FileResult(
        path=p.path,
        install_path=p.install_path,
        scheme=p.scheme,
        status=status,
        kind=p.kind,
        sha256=p.digest,
        size=len(p.data),
        sdist_path=extra.get("sdist_path"),
        change=extra.get("change"),
        diff=extra.get("diff"),
    )


def _modified(p: _Pending, counterpart: str, index: SdistIndex, state: _State) -> FileResult:
    old = index.files[counterpart]
    old_kind, _ = kind_of(counterpart, old)
    if KIND_DATA in (p.kind, old_kind):
        state.reasons.append(f"{p.path}: opaque data that differs from the sdist's {counterpart}")
        return _result(p, OPAQUE, sdist_path=counterpart, change=CHANGE_CODE)
    diff = _diff(old, p.data, counterpart, p.path)
    if p.kind == KIND_PYTHON:
        from fromsource.inspect import codecheck  # parsed: only changed modules

        state.count("parsed", 2)
        change = codecheck.classify_change(old, p.data)
    elif _decode(old).split() == _decode(p.data).split():
        change = CHANGE_WHITESPACE
    else:
        change = CHANGE_TEXT
    where = f"{p.path} (from the sdist's {counterpart})"
    if change in (CHANGE_FORMATTING, CHANGE_LITERALS, CHANGE_WHITESPACE):
        state.notes.append(f"{where}: modified, {change}")
    elif change == CHANGE_UNPARSABLE:
        state.reasons.append(f"{where}: modified, and one side does not parse")
    elif change == CHANGE_TEXT:
        state.reasons.append(f"{where}: modified text, not the sdist's bytes")
    else:
        state.reasons.append(f"{where}: modified, code changed")
    return _result(p, MODIFIED, sdist_path=counterpart, change=change, diff=diff)


def _generated(p: _Pending, state: _State) -> FileResult:
    if p.kind == KIND_DATA:
        state.reasons.append(f"{p.path}: opaque data absent from the sdist")
        return _result(p, OPAQUE)
    if p.kind == KIND_PYTHON:
        from fromsource.inspect import codecheck  # parsed: only generated modules

        state.count("parsed")
        literal_only = codecheck.is_literal_only(p.data)
        if literal_only is None:
            change = CHANGE_UNPARSABLE
            state.reasons.append(f"{p.path}: generated module that does not parse")
        elif literal_only:
            change = CHANGE_LITERAL_MODULE
            state.notes.append(f"{p.path}: generated, literal-only module")
        else:
            change = CHANGE_CODE_MODULE
            state.reasons.append(f"{p.path}: generated module holds code (not in the sdist)")
        return _result(p, GENERATED, change=change)
    if p.scheme == "scripts":
        state.reasons.append(f"{p.path}: generated script (not in the sdist)")
    else:
        state.notes.append(f"{p.path}: generated text file")
    return _result(p, GENERATED, change=CHANGE_TEXT_FILE)


def _classify(wheel: Mapping[str, bytes], layout: WheelLayout, index: SdistIndex, state: _State) -> None:
    pending: list[_Pending] = []
    relocations: list[tuple[str, str]] = []
    for path in sorted(wheel):
        located = layout.locate(path)
        if located is None:
            continue
        scheme, install_path = located
        data = wheel[path]
        kind, why = kind_of(path, data)
        p = _Pending(path, scheme, install_path, data, sha256(data), kind, why)
        if kind == KIND_COMPILED:
            same = index.same_bytes(p.digest, install_path)
            state.reasons.append(f"{path}: compiled ({why})")
            state.files[path] = _result(p, COMPILED, sdist_path=same[0] if same else None)
            continue
        direct = [c for c in index.counterparts(install_path) if index.hashes[c] == p.digest]
        if direct:
            if scheme == "purelib":
                state.vouched_tops.add(top_level_name(install_path))
            status = OPAQUE if kind == KIND_DATA else IDENTICAL
            state.files[path] = _result(p, status, sdist_path=direct[0])
            continue
        if not index.counterparts(install_path):
            same = index.same_bytes(p.digest, install_path)
            if same:
                relocations.append((install_path, same[0]))
                status = OPAQUE if kind == KIND_DATA else RELOCATED
                state.files[path] = _result(p, status, sdist_path=same[0])
                continue
        pending.append(p)
    index.learn_relocations(relocations)
    for p in pending:
        counterparts = index.counterparts(p.install_path)
        if counterparts:
            if p.scheme == "purelib":
                state.vouched_tops.add(top_level_name(p.install_path))
            state.files[p.path] = _modified(p, counterparts[0], index, state)
            continue
        moved = index.moved_counterpart(p.install_path)
        if moved is not None:
            state.files[p.path] = _modified(p, moved, index, state)
        else:
            state.files[p.path] = _generated(p, state)
    for result in state.files.values():
        if result.status == OPAQUE and result.sdist_path and result.change is None:
            state.notes.append(f"{result.path}: opaque data, byte-identical to {result.sdist_path}")


def _lint(
    wheel: Mapping[str, bytes],
    index: SdistIndex,
    state: _State,
    *,
    parse_all: bool,
    prefilter: Mapping[str, bool],
) -> None:
    covered: set[str] = set()
    jobs: list[lint.Job] = []
    for result in state.files.values():
        if result.sdist_path and result.status in (IDENTICAL, RELOCATED):
            covered.add(result.sdist_path)
        if result.kind != KIND_PYTHON:
            continue
        deep = result.status in (MODIFIED, GENERATED) and result.change != CHANGE_UNPARSABLE
        jobs.append((result.path, wheel[result.path], deep, parse_all, prefilter.get(result.path)))
    state.count("python_files", len(jobs))
    results = lint.lint_many(jobs)
    for path, *_rest in jobs:
        findings, parsed = results[path]
        if parsed:
            state.count("parsed")
        state.lint.extend(findings)
        state.reasons.extend(f"{f}" for f in findings)
    for path, data in index.files.items():
        if path in covered or not path.endswith((".py", ".pyi")) or not lint.suspect(data):
            continue
        state.count("sdist_only_suspects")
        from fromsource.inspect import codecheck

        state.count("parsed")
        for finding in codecheck.deep_lint(path, data):
            if finding.rule != "does-not-parse":  # test fixtures may be broken on purpose
                state.notes.append(f"sdist only (not in the wheel): {finding}")


def _shared_from_sdist(r: FileResult) -> bool:
    """A ``.data/data`` file that only documents or describes: under ``share/`` (man pages, docs,
    icons, desktop files, jupyter kernels) and the sdist's own bytes. Anything else there can
    land on ``sys.path`` (``lib/...``) or ``PATH`` (``bin/``) and stays dangerous."""
    from_sdist = r.status in (IDENTICAL, RELOCATED) or (
        r.status == OPAQUE and r.sdist_path is not None and r.change is None
    )
    return r.install_path.startswith("share/") and from_sdist and not r.install_path.endswith(".pth")


def _dangerous(
    wheel: Mapping[str, bytes], dist_info: str, index: SdistIndex, project: str, state: _State
) -> None:
    allowed = sdist_top_levels(index, project) | state.vouched_tops
    by_install = {r.install_path: r for r in state.files.values() if r.scheme == "purelib"}

    def flag(rule: str, path: str, message: str) -> None:
        finding = Finding(rule=rule, path=path, message=message)
        state.dangerous.append(finding)
        state.reasons.append(f"dangerous: {finding}")

    for r in state.files.values():
        if r.install_path.endswith(".pth"):
            flag("pth", r.path, ".pth file: runs code at interpreter start-up")
        if r.scheme == "purelib":
            top = top_level_name(r.install_path)
            if "/" not in r.install_path and top in _STARTUP_HOOKS:
                flag("startup-hook", r.path, f"{top}: runs at interpreter start-up")
            elif top not in allowed:
                flag(
                    "outside-namespace",
                    r.path,
                    f"installs top-level {top!r}, which is not one of the sdist's packages",
                )
        elif r.scheme == "scripts":
            if r.kind in (KIND_DATA, KIND_COMPILED):
                flag("binary-script", r.path, "binary script")
        elif r.scheme == "headers":
            state.notes.append(f"{r.path}: C header installed with the package")
        elif r.scheme == "data" and _shared_from_sdist(r):
            state.notes.append(
                f"{r.path}: installs under the prefix's share/, {r.status} from the sdist's {r.sdist_path}"
            )
        elif r.scheme == "data":
            flag(
                "outside-namespace",
                r.path,
                "installs into the environment's prefix (.data/data), "
                "not as a file of the sdist under share/",
            )
        else:
            flag("outside-namespace", r.path, f"unknown .data scheme {r.scheme!r}")
    ep_path = f"{dist_info}/entry_points.txt"
    if ep_path not in wheel:
        return
    try:
        points = entry_points(wheel[ep_path])
    except configparser.Error as exc:
        flag("entry-point", ep_path, f"entry_points.txt does not parse: {exc}")
        return
    for point in points:
        stem = point.module.replace(".", "/")
        found = by_install.get(f"{stem}.py") or by_install.get(f"{stem}/__init__.py")
        if found is None or found.status not in _FROM_SDIST:
            flag(
                "entry-point",
                ep_path,
                f"[{point.group}] {point.name} names module {point.module!r}, which the sdist does not have",
            )


def audit(
    wheel_name: str,
    wheel: Mapping[str, bytes],
    sdist_name: str,
    sdist: Mapping[str, bytes],
    *,
    parse_all: bool = False,
    rebuild: Callable[[], bytes] | None = None,
    prefilter: Mapping[str, bool] | None = None,
) -> Report:
    """Classify, lint and check one wheel against its sdist (members already read).

    ``rebuild`` returns the METADATA of a wheel built from the sdist; it is called only
    when PKG-INFO is not authoritative for Requires-Dist, and settles it.
    """
    dist_info = find_dist_info(wheel_name, list(wheel))
    layout = WheelLayout(dist_info=dist_info, data_dir=dist_info[: -len(".dist-info")] + ".data")
    top, _names = strip_top(sdist)
    prefix = f"{top}/" if top else ""
    index = SdistIndex({name[len(prefix) :]: data for name, data in sdist.items()})
    state = _State()
    _classify(wheel, layout, index, state)
    meta = compare_metadata(
        wheel[f"{dist_info}/METADATA"],
        index.files.get("PKG-INFO"),
        metadata_path=f"{dist_info}/METADATA",
        pkg_info_path=f"{prefix}PKG-INFO",
    )
    if rebuild is not None and not meta.pkg_info_authoritative and "PKG-INFO" in index.files:
        problems, note = compare_rebuilt(
            wheel[f"{dist_info}/METADATA"], rebuild(), metadata_path=f"{dist_info}/METADATA"
        )
        meta = dataclasses.replace(  # the rebuild settles every open difference, one way or the other
            meta,
            rebuilt="differs" if problems else "same",
            problems=(*meta.problems, *problems),
            notes=(*meta.notes, note),
            unsettled=(),
        )
    record = [
        Finding(rule="record", path=p.path, message=p.message, line=p.line)
        for p in check_record(wheel, dist_info)
    ]
    meta = dataclasses.replace(meta, problems=(*meta.problems, *record))
    _check_filename(wheel_name, meta, state)
    state.reasons.extend(str(p) for p in meta.problems)
    state.notes.extend(meta.notes)
    _lint(wheel, index, state, parse_all=parse_all, prefilter=prefilter or {})
    project = meta.sdist_name or meta.name or wheel_name.split("-", 1)[0]
    _dangerous(wheel, dist_info, index, project, state)
    reasons = tuple(dict.fromkeys(state.reasons))
    state.stats["wheel_members"] = len(wheel)
    state.stats["sdist_members"] = len(sdist)
    return Report(
        wheel=wheel_name,
        wheel_sha256="",
        sdist=sdist_name,
        sdist_sha256="",
        verdict=NOT_READABLE if reasons else UNSETTLED if meta.unsettled else READABLE,
        reasons=reasons,
        notes=tuple(dict.fromkeys(state.notes)),
        files=tuple(state.files[k] for k in sorted(state.files)),
        dangerous=tuple(state.dangerous),
        lint=tuple(state.lint),
        metadata=meta,
        stats=dict(sorted(state.stats.items())),
    )


def _check_filename(wheel_name: str, meta: MetadataResult, state: _State) -> None:
    parts = posixpath.basename(wheel_name).split("-")
    if len(parts) < 5 or not wheel_name.endswith(".whl"):
        return
    if canonicalize_name(parts[0]) != canonicalize_name(meta.name):
        state.reasons.append(f"{wheel_name}: file name says {parts[0]!r}, METADATA {meta.name!r}")
    try:
        from packaging.version import Version

        same = Version(parts[1]) == Version(meta.version)
    except ValueError:
        same = parts[1] == meta.version
    if not same:
        state.reasons.append(f"{wheel_name}: file name says version {parts[1]!r}, METADATA {meta.version!r}")
