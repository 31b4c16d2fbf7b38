"""Open the built graph for reading, rebuilding it first when its inputs changed.

``kgraph build`` writes a persistent Oxigraph store, ``output/store`` (:mod:`kgraph.store`),
marked with a fingerprint of its inputs (every data and ontology file, see
:mod:`kgraph.buildinfo`). Commands that read the graph (stats, query, show, ...) compare
it with the current files: when they match, the store is opened read-only (milliseconds,
whatever the size); when not (or when the store is missing or damaged), the graph is
rebuilt and written first, so a user never queries stale data.

Nothing is unpickled or parsed: SPARQL goes to the store itself
(:mod:`kgraph.storequery`); the rdflib graph and the networkx network that some
commands need are made from the store on first use (:class:`kgraph.store.StoreGraphs`).
"""

from __future__ import annotations

from typing import Callable

from kgraph.project import Project
from kgraph.store import StoreGraphs, open_current

#: What :func:`load_graphs` returns (the name the commands and tests know).
Graphs = StoreGraphs


def load_graphs(project: Project, *, rebuild: bool = False, step: Callable[[str], None] | None = None,
                warn: Callable[[str], None] | None = None,
                before_rebuild: Callable[[], None] | None = None, opened: bool = True) -> StoreGraphs:
    """The current build's store, opened read-only; rebuilt first when stale (or ``rebuild``).

    When the graph must be rebuilt but the output folder cannot be written (read-only),
    a store of the graph built in memory is written to a temporary folder and used, and
    ``warn`` (default: ``step``) is told. ``before_rebuild`` is called first when a rebuild
    is needed (``kgraph query`` checks its text then, not after a minute of building).
    ``opened=False`` leaves opening the store to the caller (:func:`kgraph.store.open_current`).
    """
    return open_current(project, rebuild=rebuild, step=step, warn=warn, before_rebuild=before_rebuild,
                        opened=opened)
