"""What a build reuses from the builds before it: the incremental build (issue 10).

A build redoes only the work of the inputs that changed. Two results are kept per input,
keyed by a digest of everything they depend on, in ``<out>/.cache/``:

* ``yaml/`` -- each data file as parsed (:func:`kgraph.load.read_yaml_checked`): the
  document with the line of every mapping, sequence and key, and the problems its checks
  found. Keyed by the file's name and bytes: parsing is a third of loading a large folder.
* ``shacl/`` -- the SHACL problems of each source's claims (:class:`kgraph.shapes.PartsValidator`
  with a cache): keyed by that source's claims, the entities, the ontology and the shapes.
  The claims are most of the SHACL work, and each claim is validated with its own triples
  and the types of what it names (see :mod:`kgraph.shapes`).

Entries are JSON, never pickles or any other format that runs code when read. An entry that
does not read back as what it should be (a killed write, an edit by hand, an older kgraph)
is ignored and made again: the cache can only make a build faster, not different
(tests/test_incremental.py builds with and without it and compares every byte).
Each entry is written whole under a temporary name and renamed (``os.replace``); a build
removes the entries it no longer uses once it has published, so the cache holds one build.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kgraph.model import Location
from kgraph.publish import random_hex
from kgraph.report import Problem

CACHE_DIR = ".cache"
#: the kinds of entries a build keeps
CACHED_KINDS = ("yaml", "shacl")
#: bumped whenever what an entry holds, or what it is computed from, changes meaning
FORMAT = 1


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of kgraph's own installed files (code, templates, packaged data): what a
    build's results depend on besides its inputs. A changed kgraph, released or not, finds
    nothing in the cache of an older one. (A memo: the files do not change under a running
    process; about 100 files, 1 MB, read once: 20 ms.)"""
    from importlib import resources

    from kgraph import __version__

    h = hashlib.sha256(f"kgraph {__version__}\n".encode())
    root = resources.files("kgraph")
    stack = [root]
    found = []
    while stack:
        for entry in stack.pop().iterdir():
            if entry.is_dir():
                if entry.name != "__pycache__":
                    stack.append(entry)
            elif not entry.name.endswith((".pyc", ".pyo")):
                found.append(entry)
    for entry in sorted(found, key=lambda e: str(e)):
        data = entry.read_bytes()
        h.update(f"{str(entry)[len(str(root)):]}\n{len(data)}\n".encode())
        h.update(data)
    return h.hexdigest()


def digest(*parts: str | bytes) -> str:
    """SHA-256 over ``parts`` (each one framed by its length: ("ab", "c") is not ("a", "bc"))
    and kgraph's own files (:func:`code_fingerprint`)."""
    h = hashlib.sha256(f"kgraph-cache {FORMAT} {code_fingerprint()}\n".encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        h.update(f"{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


class BuildCache:
    """The entries of one kind of result (``yaml``, ``shacl``) under ``<out>/.cache/<kind>/``.

    ``folder`` None is a cache that never finds anything and keeps nothing (``build
    --no-cache``, and every command but ``build``). ``found`` and ``looked`` count look-ups per kind.
    """

    def __init__(self, folder: Path | None, *, defer: bool = False) -> None:
        self.folder = folder
        #: per kind, how many look-ups found an entry, and how many there were
        self.found: dict[str, int] = {}
        self.looked: dict[str, int] = {}
        self._used: dict[str, set[str]] = {}
        #: with ``defer``, what :meth:`put` was given, written by :meth:`flush` only
        self._pending: dict[tuple[str, str], bytes] | None = {} if defer else None

    @classmethod
    def of_output(cls, out_dir: Path, *, defer: bool = False) -> BuildCache:
        return cls(out_dir / CACHE_DIR, defer=defer)

    @property
    def hits(self) -> int:
        return sum(self.found.values())

    @property
    def misses(self) -> int:
        return sum(self.looked.values()) - self.hits

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def _path(self, kind: str, key: str) -> Path:
        assert self.folder is not None
        return self.folder / kind / f"{key}.json"

    def get(self, kind: str, key: str) -> Any | None:
        """The value stored under ``key``, or None (never stored, or unreadable)."""
        if self.folder is None:
            return None
        self._used.setdefault(kind, set()).add(key)
        self.looked[kind] = self.looked.get(kind, 0) + 1
        try:
            entry = json.loads(self._path(kind, key).read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
            return None
        self.found[kind] = self.found.get(kind, 0) + 1
        return entry["value"]

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key``; a folder that cannot be written is no error
        (the build goes on without keeping the entry)."""
        if self.folder is None:
            return
        self._used.setdefault(kind, set()).add(key)
        data = json.dumps({"key": key, "value": value}, ensure_ascii=False, separators=(",", ":"))
        encoded = data.encode("utf-8", "surrogatepass")
        if self._pending is not None:
            self._pending[kind, key] = encoded
        else:
            self._write(kind, key, encoded)

    def _write(self, kind: str, key: str, data: bytes) -> None:
        _write_whole(self._path(kind, key), data)

    def flush(self) -> None:
        """Write what :meth:`put` kept back (a build flushes once it knows it leaves an
        output folder behind: one that fails before making it makes no cache either)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        for (kind, key), data in pending.items():
            self._write(kind, key, data)

    def prune(self, kinds: Iterable[str]) -> None:
        """Remove the entries of ``kinds`` that this build did not use (and leftovers of
        killed writes): the cache keeps what the next build can reuse, no more."""
        if self.folder is None:
            return
        for kind in kinds:
            used = self._used.get(kind, set())
            folder = self.folder / kind
            with contextlib.suppress(OSError):
                for entry in folder.iterdir():
                    if entry.name.endswith(".json") and entry.name[:-5] in used:
                        continue
                    with contextlib.suppress(OSError):
                        entry.unlink()


# --------------------------------------------------------------------------- problems as JSON

def problems_to_json(problems: Iterable[Problem]) -> list:
    out = []
    for p in problems:
        where = [p.where.path, p.where.line] if isinstance(p.where, Location) else p.where
        out.append([p.level, where, p.message, p.hint, p.code])
    return out


def problems_from_json(value: Any) -> list[Problem] | None:
    """The problems of :func:`problems_to_json`, or None when ``value`` is not such a list."""
    if not isinstance(value, list):
        return None
    problems = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 5):
            return None
        level, where, message, hint, code = item
        if isinstance(where, list):
            if not (len(where) == 2 and isinstance(where[0], str) and (where[1] is None or type(where[1]) is int)):
                return None
            where = Location(where[0], where[1])
        if not (isinstance(where, (str, Location)) and all(isinstance(x, str) for x in (level, message, hint, code))):
            return None
        problems.append(Problem(level, where, message, hint, code=code))
    return problems


# --------------------------------------------------------------------------- nothing changed

STAMP = "build.json"


def build_stamp(project, inputs_sha256: str) -> str:
    """A digest of everything a build reads: the inputs' fingerprint
    (:func:`kgraph.buildinfo.input_state`: data, ontology, shapes, priors, kgraph's version)
    and the documents the quotes are checked against (the corpus folder, data/documents/)."""
    parts: list[str | bytes] = ["stamp", inputs_sha256, str(project.corpus_dir), str(project.corpus_available)]
    folders = [project.data_dir / "documents"]
    if project.corpus_available:
        folders.insert(0, project.corpus_dir)
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            parts += [path.relative_to(folder).as_posix(), hashlib.sha256(path.read_bytes()).digest()]
    return digest(*parts)


def _published(out_dir: Path) -> tuple[str, list[list]] | None:
    """The build folder ``<out>/.current`` names, and each of its files with its size (-1: a folder)."""
    from kgraph.publish import CURRENT

    pointer = out_dir / CURRENT
    try:
        name = os.readlink(pointer)
        folder = pointer.resolve(strict=True)
        files = sorted([p.name, p.stat().st_size if p.is_file() else -1] for p in folder.iterdir())
    except OSError:
        return None
    return name, files


def write_stamp(out_dir: Path, stamp: str) -> None:
    """Record that the build now published in ``out_dir`` is the one of ``stamp``."""
    published = _published(out_dir)
    if published is None:
        return
    cache = BuildCache.of_output(out_dir)
    assert cache.folder is not None
    _write_whole(cache.folder / STAMP,
                 json.dumps({"stamp": stamp, "build": published[0], "files": published[1]}).encode("utf-8"))


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a temporary file, then a rename); a cache that
    cannot be written is no error: the next build does the work again."""
    tmp = path.with_name(f".{path.name}.{random_hex(8)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def up_to_date(out_dir: Path, stamp: str) -> bool:
    """Whether the build published in ``out_dir`` was made from exactly these inputs
    (``stamp``) and still has every file it was published with, at its size, each one
    under its name in ``out_dir``."""
    try:
        recorded = json.loads((out_dir / CACHE_DIR / STAMP).read_bytes())
    except (OSError, ValueError):
        return False
    published = _published(out_dir)
    return (isinstance(recorded, dict) and published is not None and recorded.get("stamp") == stamp
            and [recorded.get("build"), recorded.get("files")] == [published[0], published[1]]
            # and the names users open (links into the build) are all there
            and all((out_dir / name).exists() for name, _ in published[1]))
