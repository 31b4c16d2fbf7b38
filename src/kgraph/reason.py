"""Entailment: the graph plus what RDFS or OWL 2 RL says follows from it (with owlrl).

``kgraph query --reason rdfs`` finds instances of subclasses (``?x a kg:Condition``
matches every ``kg:MentalDisorder``) and sub-properties (``kg:antagonistOf`` is a
``kg:targets``); ``--reason owl-rl`` adds inverse, symmetric and transitive properties
(``kg:treatedBy``, ``kg:comorbidWith`` both ways, ``kg:partOf`` chains). The ontology is
part of the built graph, so no other input is needed.

A closure of the corpus graph takes up to a minute (OWL-RL) or seconds (RDFS), so
:func:`entail_cached` keeps it as N-Triples beside the build's store, keyed by the build's
fingerprint (issue 13: ``--reason owl-rl`` took 62 s every first time). N-Triples, never a
pickle: the cache lives in a user-writable folder, and reading it back must not run code.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from kgraph.errors import QueryError

if TYPE_CHECKING:
    from typing import Callable

    from rdflib import Graph

REGIMES = ("rdfs", "owl-rl")


def entail_cached(graph: "Graph", regime: str, cache_dir: Path, key: str,
                  step: "Callable[[str], None] | None" = None) -> "Graph":
    """:func:`entail`, read from ``cache_dir`` when this build's closure was made before.

    ``key`` names the build (its input fingerprint); the file name also covers the regime
    and the owlrl and rdflib versions. A damaged file is computed again; a folder that
    cannot be written only costs speed.
    """
    path = closure_path(cache_dir, key, regime)
    if path.is_file():
        try:
            return _read_ntriples(path)
        except Exception:  # noqa: BLE001 - any damage to a cache file means: compute it again
            path.unlink(missing_ok=True)
    if step is not None:
        step(f"Computing the {regime.upper()} closure of the graph (once per build)")
    closed = entail(graph, regime)
    _write_ntriples(closed, path, regime)
    return closed


def closure_path(cache_dir: Path, key: str, regime: str) -> Path:
    """Where :func:`entail_cached` keeps the closure of the build ``key`` under ``regime``."""
    from importlib.metadata import version

    import rdflib

    text = f"{key} {regime} owlrl {version('owlrl')} rdflib {rdflib.__version__}"
    return cache_dir / f"entailed-{regime}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.nt"


def _read_ntriples(path: Path) -> "Graph":
    from rdflib import Graph

    from kgraph.build import bind_prefixes

    # the file was written in sorted order; SimpleMemory keeps it, so answers come out
    # in the same order as from a fresh closure
    out = Graph(store="SimpleMemory")
    bind_prefixes(out)
    out.parse(path, format="nt")
    return out


def _write_ntriples(closed: "Graph", path: Path, regime: str) -> None:
    from kgraph.export import serialize_graph
    from kgraph.formats import FORMATS_BY_NAME

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"entailed-{regime}-*.nt"):
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".entailed-{regime}.", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(serialize_graph(closed, FORMATS_BY_NAME["nt"]))
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def entail(graph: "Graph", regime: str) -> "Graph":
    """A new graph: ``graph`` and its closure under ``regime`` ("rdfs" or "owl-rl"), in sorted order."""
    import owlrl
    from rdflib import Graph

    if regime == "rdfs":
        semantics = _rdfs_without_literal_copies()
    elif regime == "owl-rl":
        semantics = owlrl.OWLRL_Semantics
    else:
        raise QueryError(f"unknown reasoning regime '{regime}'", f"Use one of: {', '.join(REGIMES)}.")
    closed = Graph()
    closed.addN((s, p, o, closed) for s, p, o in graph)
    # Axiomatic and datatype triples (rdf:_1 a rdfs:ContainerMembershipProperty, ...)
    # say nothing about the data and would double the size of every answer.
    owlrl.DeductiveClosure(semantics, axiomatic_triples=False, datatype_axioms=False).expand(closed)
    # OWL-RL also derives generalised triples with a literal subject ("5" a xsd:integer): not
    # RDF, not writable as N-Triples (so not cacheable), and no question here asks for them
    from rdflib import Literal

    for triple in [t for t in closed if isinstance(t[0], Literal)]:
        closed.remove(triple)
    from kgraph.export import sorted_copy

    return sorted_copy(closed)


def _rdfs_without_literal_copies():
    """owlrl's RDFS semantics without its one-time "equal literal values" rule.

    That rule compares every literal with every other (quadratic: 16 of 26 seconds on the
    corpus graph) to copy triples onto literals of equal value but different spelling
    ("5"^^xsd:integer and "5.0"^^xsd:decimal); such copies answer no question kgraph asks.
    """
    import owlrl

    class RDFSWithoutLiteralCopies(owlrl.RDFS_Semantics):
        def one_time_rules(self) -> None:
            pass

    return RDFSWithoutLiteralCopies
