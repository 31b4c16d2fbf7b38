"""Open the built graph for reading, rebuilding it first when its inputs changed.

``kgraph build`` records a fingerprint of its inputs in ``output/build-info.json``
(:mod:`kgraph.buildinfo`). Commands that read the graph (stats, query, show, ...)
compare it with the current files: when they match, the graph is parsed from
``output/kgraph.nt``; when not (or when the build is missing), the graph is rebuilt and
written first, so a user never queries stale data.

Parsing N-Triples and building the networkx view take longer than a query itself, so
the parsed graph, its network and its RDFS / OWL-RL closures are cached in
``output/.cache/`` as pickles, keyed by the build's fingerprint and the library
versions (issue 3: ``kgraph query`` answers in well under a second). The cache is
trusted like ``__pycache__``: it is written by kgraph into your own output folder.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdflib import Graph

from kgraph.buildinfo import BUILD_INFO, GRAPH_FILE, is_fresh
from kgraph.project import Project
from kgraph.publish import current_dir

if TYPE_CHECKING:  # networkx takes ~0.3 s to import; `kgraph query` never needs it
    import networkx as nx

CACHE_DIR = ".cache"


class GraphCache:
    """Pickles of what was derived from one built graph, in ``<out>/.cache/``.

    The key covers the build's input fingerprint, the graph file's size and time, and the
    versions of Python, rdflib and networkx, so a stale or foreign pickle is never read.
    """

    def __init__(self, out_dir: Path, built_dir: Path | None = None):
        self.directory = out_dir / CACHE_DIR
        # the key is of one published build (``built_dir``, default: the current one)
        self.key = _cache_key(built_dir or current_dir(out_dir))

    def path(self, kind: str) -> Path:
        return self.directory / f"{kind}-{self.key}.pickle"

    def get(self, kind: str, compute: Callable[[], Any]) -> Any:
        """The cached object of this kind, or ``compute()`` saved for next time."""
        path = self.path(kind)
        if path.is_file():
            try:
                return _unpickle(path)
            except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
                pass  # unreadable or from an incompatible version: compute it again
        value = compute()
        self.put(kind, value)
        return value

    def put(self, kind: str, value: Any) -> None:
        """Save atomically and remove the pickles of this kind from older builds."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for old in self.directory.glob(f"{kind}-*.pickle"):
                old.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{kind}.", dir=self.directory)
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path(kind))
        except OSError:
            pass  # a read-only output folder only costs speed


def _unpickle(path: Path) -> Any:
    # Unpickling makes ~100,000 objects, none of them garbage: pausing the cyclic
    # garbage collector meanwhile halves the time (95 -> 50 ms for the corpus graph).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    finally:
        if was_enabled:
            gc.enable()


def _cache_key(out_dir: Path) -> str:
    import rdflib

    try:
        recorded = json.loads((out_dir / BUILD_INFO).read_text(encoding="utf-8")).get("inputs_sha256", "")
        stat = (out_dir / GRAPH_FILE).stat()
        built = f"{recorded} {stat.st_size} {stat.st_mtime_ns}"
    except (OSError, ValueError):
        built = "unbuilt"
    nx_version = _distribution_version("networkx")
    versions = f"python {sys.version} rdflib {rdflib.__version__} networkx {nx_version}"
    return hashlib.sha256(f"{built}\n{versions}".encode()).hexdigest()[:16]


def _distribution_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "none"


class Graphs:
    """The graph as RDF, its networkx network and closures (made on first use, cached),
    and whether the graph was rebuilt to get it."""

    def __init__(self, graph: Graph, network: nx.MultiDiGraph | None = None, rebuilt: bool = False,
                 cache: GraphCache | None = None):
        self.graph = graph
        self.rebuilt = rebuilt
        self._network = network
        self._cache = cache

    @property
    def network(self) -> nx.MultiDiGraph:
        if self._network is None:
            from kgraph.network import to_networkx

            self._network = self._cached("network", lambda: to_networkx(self.graph))
        return self._network

    def entailed(self, regime: str, step: Callable[[str], None] | None = None) -> Graph:
        """The graph plus what ``regime`` ("rdfs" or "owl-rl") entails; see :mod:`kgraph.reason`.

        ``step`` is told when the closure has to be computed (seconds) rather than read.
        """
        from kgraph.reason import entail

        def compute() -> Graph:
            if step is not None:
                step(f"Computing the {regime.upper()} closure of the graph (once per build)")
            return entail(self.graph, regime)

        return self._cached(f"entailed-{regime}", compute)

    def _cached(self, kind: str, compute: Callable[[], Any]) -> Any:
        return self._cache.get(kind, compute) if self._cache is not None else compute()


def load_graphs(project: Project, *, rebuild: bool = False, step: Callable[[str], None] | None = None,
                warn: Callable[[str], None] | None = None) -> Graphs:
    """The current graph: read from the output directory (or its cache), or rebuilt when stale.

    The graph's triples are stored in sorted order (a ``SimpleMemory`` store, which keeps
    insertion order and unpickles 2-3 times faster than the default one), so that query
    answers come out in the same order whether the graph was parsed, cached or rebuilt.

    When the graph must be rebuilt but the output folder cannot be written (read-only),
    the graph built in memory is used and ``warn`` (default: ``step``) is told.
    """
    from kgraph.export import sorted_copy

    # one resolution of the publish pointer: the graph read is the build just checked,
    # even when another build publishes meanwhile
    built_dir = current_dir(project.out_dir)
    if not rebuild and is_fresh(project, built_dir):
        cache = GraphCache(project.out_dir, built_dir)
        graph = cache.get("graph", lambda: sorted_copy(_parse_graph(built_dir / GRAPH_FILE)))
        return Graphs(graph, rebuilt=False, cache=cache)
    from kgraph.pipeline import build

    note = step or (lambda _: None)
    result = build(project, step=note, keep_unwritten=True)
    if result.write_error is not None:
        # a read-only output folder: answer from the graph built in memory (issue 15)
        (warn or note)(f"warning: the graph in {project.out_dir} is stale and could not be rewritten "
             f"({result.write_error.message}); using the graph built in memory")
        return Graphs(sorted_copy(result.built.graph), result.network, rebuilt=True, cache=None)
    cache = GraphCache(project.out_dir)
    graph = sorted_copy(result.built.graph)
    cache.put("graph", graph)
    cache.put("network", result.network)
    return Graphs(graph, result.network, rebuilt=True, cache=cache)


def _parse_graph(path: Path) -> Graph:
    graph = Graph()
    graph.parse(path, format="nt")
    return graph
