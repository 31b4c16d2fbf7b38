"""Entailment: the graph plus what RDFS or OWL 2 RL says follows from it (with owlrl).

``kgraph query --reason rdfs`` finds instances of subclasses (``?x a kg:Condition``
matches every ``kg:MentalDisorder``) and sub-properties (``kg:antagonistOf`` is a
``kg:targets``); ``--reason owl-rl`` adds inverse, symmetric and transitive properties
(``kg:treatedBy``, ``kg:comorbidWith`` both ways, ``kg:partOf`` chains). The ontology is
part of the built graph, so no other input is needed.

A closure of the corpus graph takes seconds; it is computed when a query asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgraph.errors import QueryError

if TYPE_CHECKING:
    from rdflib import Graph

REGIMES = ("rdfs", "owl-rl")


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
