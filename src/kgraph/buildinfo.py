"""The build's output contract: which file holds the graph, and how a build records its inputs.

``kgraph build`` (:mod:`kgraph.pipeline`) writes ``build-info.json`` beside the graph;
:mod:`kgraph.graphstore` reads it to decide whether the built graph is still current.
Both depend on this module and not on each other. Both files are read from the published
build folder (:func:`kgraph.publish.current_dir`), so they always belong to one build.

The counts it records (claims, entities, triples) let the next build notice a graph that
shrank: losing more than :data:`SHRINK_LIMIT` of the claims is an error unless asked for
(``kgraph build --allow-shrink``), so a missing or renamed data file is never silent.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kgraph.errors import DataError
from kgraph.project import Project
from kgraph.publish import current_dir

BUILD_INFO = "build-info.json"
GRAPH_FILE = "kgraph.nt"
#: the largest share of the previous build's claims a build may lose without --allow-shrink
SHRINK_LIMIT = 0.2


def _yaml_files(folder: str, parts: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """The ``*.yaml`` files below ``folder`` (as ``Path.rglob`` finds them: hidden ones too,
    no folder followed through a link), each with its parts below it, the key that sorts
    them as paths sort; not the top folder ``candidates``. One scandir per folder (issue
    10: a query's look-up at x100 spent 31 ms in rglob and in sorting paths)."""
    try:
        entries = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return  # as rglob: no folder there, nothing found (the load reports a missing data folder)
    with entries:
        for entry in entries:
            name = entry.name
            if not parts and name == "candidates":
                continue
            if entry.is_dir() and not entry.is_symlink():
                yield from _yaml_files(entry.path, (*parts, name))
            elif name.endswith(".yaml") and entry.is_file():
                yield (*parts, name), entry.path


def input_files(project: Project) -> list[Path]:
    """Every file a build reads (data YAML, ontology, shapes, packaged priors), in a stable order."""
    # data/candidates/ is kgraph extract's and review's, never read by a build (_yaml_files)
    files = [Path(path) for _, path in sorted(_yaml_files(str(project.data_dir), ()))]
    files += [p for p in (project.ontology_file, project.shapes_file) if p.is_file()]
    # the packaged error priors shape the evidence graph too (issue 12)
    from importlib import resources

    from kgraph.project import PRIORS_FILE

    packaged = Path(str(resources.files("kgraph") / PRIORS_FILE))
    if packaged.is_file():
        files.append(packaged)
    return files


#: a file whose modification or change time is this close to the start of the check that
#: read it (or later) might be written again within the file system's timestamp granularity
#: without either time changing: its stat is not recorded, and every later check hashes it
#: (the "racy git" problem). 2 s covers coarse kernel clocks, FAT's 2-second mtimes and a
#: small skew between this machine's clock and a network file system's.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class InputFile:
    """One input file as a build read it: the name hashed into the fingerprint, the SHA-256
    of its content, and its stat taken before reading it (None when too recent to trust)."""

    name: str
    sha256: str
    #: (size, mtime_ns, ctime_ns, inode, device); ctime changes on every write, rename and
    #: os.utime, so an edit that restores the size and the mtime still shows
    stat: tuple[int, int, int, int, int] | None = None


@dataclass(frozen=True)
class InputState:
    """The build's inputs: their fingerprint (:func:`fingerprint`) and each file (:class:`InputFile`)."""

    sha256: str
    files: tuple[InputFile, ...]


#: the fields of :attr:`InputFile.stat`, as named in ``kgraph-store.json``
STAT_FIELDS = ("size", "mtime_ns", "ctime_ns", "ino", "dev")


def file_stat(path: Path) -> tuple[int, int, int, int, int]:
    """What :class:`InputFile` records of ``path``'s stat (following symbolic links, as reading does)."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def inputs_json(files: Iterable[InputFile]) -> list[dict]:
    """``files`` as JSON values: name, digest and the stat fields when trusted."""
    return [{"file": f.name, "sha256": f.sha256, **dict(zip(STAT_FIELDS, f.stat or ()))} for f in files]


def inputs_from_json(entries: object) -> tuple[InputFile, ...]:
    """What :func:`inputs_json` wrote; () when absent or malformed (every input is then hashed)."""
    if not isinstance(entries, list):
        return ()
    files = []
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str)
                and isinstance(entry.get("sha256"), str)):
            return ()
        values = tuple(entry.get(key) for key in STAT_FIELDS)
        stat = values if all(type(v) is int for v in values) else None
        files.append(InputFile(entry["file"], entry["sha256"], stat))
    return tuple(files)


def _trusted(stat: tuple[int, int, int, int, int], started_ns: int) -> bool:
    """Whether ``stat`` (taken before reading the file, by a check that began at ``started_ns``)
    identifies the content read: its mtime and ctime are older than the check by more than
    :data:`RACY_NS`, so any later write gives a newer ctime. On Windows st_ctime is the
    creation time, which a write does not change: nothing is trusted there."""
    return os.name != "nt" and max(stat[1], stat[2]) < started_ns - RACY_NS


def input_state(project: Project, known: Iterable[InputFile] = ()) -> InputState:
    """The fingerprint of the build's inputs, with the stat of each file.

    A file whose current stat is that of a trusted entry of ``known`` (what the store of the
    last build recorded, :attr:`kgraph.store.StoreInfo.inputs`) is not read again: its
    recorded digest is used. Any other file -- new, renamed, touched, edited, or too recent
    when the build read it -- is read and hashed, so the result is always the digest of
    the files' current contents (touching a file changes its stat, not the fingerprint).
    """
    from kgraph import __version__

    started = time.time_ns()
    recorded = {(f.name, f.stat): f.sha256 for f in known if f.stat is not None}
    digest = hashlib.sha256(f"kgraph {__version__}\n".encode())
    files = []
    for path in input_files(project):
        try:
            name = path.relative_to(project.data_dir.parent).as_posix()
        except ValueError:
            name = path.name
        stat = file_stat(path)  # before reading: a write after it shows in the next stat
        sha = recorded.get((name, stat))
        if sha is None:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
        files.append(InputFile(name, sha, stat if _trusted(stat, started) else None))
        digest.update(f"{name}\n".encode())
        digest.update(sha.encode())
    return InputState(digest.hexdigest(), tuple(files))


def fingerprint(project: Project) -> str:
    """SHA-256 over the names and contents of the build's input files."""
    return input_state(project).sha256


def build_info(project: Project, graph_sha256: str, counts: dict[str, int] | None = None, *,
               inputs_sha256: str | None = None) -> bytes:
    """The content of ``build-info.json``: the inputs' fingerprint (``inputs_sha256``, the
    one the store records; computed when not given), the written graph's SHA-256 and
    ``counts`` (claims, entities, triples); no timestamps: deterministic."""
    info = {"inputs_sha256": inputs_sha256 or fingerprint(project), "graph": GRAPH_FILE,
            "graph_sha256": graph_sha256}
    if counts is not None:
        info["counts"] = dict(counts)
    return (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()


def recorded_info(out_dir: Path) -> dict:
    """The published build's ``build-info.json`` ({} when there is none or it is unreadable)."""
    try:
        info = json.loads((current_dir(out_dir) / BUILD_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def check_shrink(out_dir: Path, claims: int, *, limit: float = SHRINK_LIMIT) -> None:
    """Refuse a build with no claims, or one that loses more than ``limit`` of the claims
    of the build published in ``out_dir`` (raises :class:`DataError`)."""
    if claims == 0:
        raise DataError("the data has no claims: the graph would be empty",
                        hint="Check that data/claims/ holds the claim files (*.yaml); "
                             "run kgraph build --allow-shrink to build it anyway.")
    counts = recorded_info(out_dir).get("counts")
    before = counts.get("claims") if isinstance(counts, dict) else None
    if not isinstance(before, int) or isinstance(before, bool) or before <= 0:
        return
    lost = before - claims
    if lost > limit * before:
        raise DataError(f"the graph would lose {lost} of the {before} claims of the last build in {out_dir} "
                        f"({lost / before:.0%}; more than {limit:.0%})",
                        hint="Check that no claim file was deleted, renamed or emptied by mistake; "
                             "run kgraph build --allow-shrink if the loss is intended.")


def is_fresh(project: Project, out_dir: Path | None = None) -> bool:
    """Whether the built graph in the output directory matches the current inputs."""
    out = current_dir(out_dir or project.out_dir)
    info, graph = out / BUILD_INFO, out / GRAPH_FILE
    if not (info.is_file() and graph.is_file()):
        return False
    try:
        recorded = json.loads(info.read_text(encoding="utf-8"))
        graph_sha = hashlib.sha256(graph.read_bytes()).hexdigest()
    except (OSError, ValueError, AttributeError):
        return False
    # a graph file overwritten since the build (or a half-copied one) is not fresh either
    return (isinstance(recorded, dict) and recorded.get("inputs_sha256") == fingerprint(project)
            and recorded.get("graph_sha256") == graph_sha)
