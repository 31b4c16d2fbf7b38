"""The one subclass closure: which classes lie below (or above) a class in the ontology.

Every module that asks "is this a kind of X?" of an RDF graph holding the ontology
(the vocabulary, the network, the views, ``--type`` filters) asks it here.
"""

from __future__ import annotations

from collections.abc import Iterator

from rdflib import RDFS, Graph, URIRef


def subclasses(graph: Graph, cls: URIRef) -> set[URIRef]:
    """``cls`` and every class below it (``rdfs:subClassOf``, transitive and reflexive)."""
    return {c for c in graph.transitive_subjects(RDFS.subClassOf, cls) if isinstance(c, URIRef)}


def superclasses(graph: Graph, cls: URIRef) -> set[URIRef]:
    """``cls`` and every class above it (transitive and reflexive)."""
    return {c for c in graph.transitive_objects(cls, RDFS.subClassOf) if isinstance(c, URIRef)}


def class_tree(graph: Graph, root: URIRef) -> Iterator[tuple[URIRef, tuple[URIRef, ...]]]:
    """Every class below ``root`` once, depth first in IRI order, with its path down from
    (not including) ``root``: a class with two parents is placed under the first."""
    seen: set[URIRef] = set()

    def walk(cls: URIRef, path: tuple[URIRef, ...]) -> Iterator[tuple[URIRef, tuple[URIRef, ...]]]:
        for sub in sorted(graph.subjects(RDFS.subClassOf, cls)):
            if isinstance(sub, URIRef) and sub not in seen:
                seen.add(sub)
                yield sub, (*path, sub)
                yield from walk(sub, (*path, sub))

    yield from walk(root, ())
