"""The computed evidence as RDF: assessments, contradictions and red flags (issue 12).

Written by the build into its own named graph, ``kgr:graph/evidence``, so that the
curated claims and what kgraph computes from them stay apart:

* one ``kg:Assessment`` per relation (``kgr:assessment/<subject>/<predicate>/<object>``,
  ``.../v-<hash>`` for a value) with ``kg:assessedSubject`` / ``kg:assessedPredicate`` /
  ``kg:assessedObject`` (not ``rdf:subject``: queries over claims must not match it),
  ``kg:belief``, ``kg:level``, ``kg:support``, ``kg:opposition``,
  ``kg:supportingClaim``, ``kg:opposingClaim``, ``kg:strongestEvidence``,
  ``kg:publisherCount`` and ``kg:explanation``;
* one ``kg:Contradiction`` per pair of claims (``kgr:contradiction/<rule>/<a>/<b>``) with
  two ``kg:conflictingClaim``, ``kg:contradictionRule``, ``kg:scope`` and ``kg:reason``;
* one ``kg:RedFlag`` per claim and rule (``kgr:redflag/<claim>/<rule>``) with
  ``kg:flaggedClaim``, ``kg:redFlagRule`` and ``kg:matchedText``.

The ontology documents every one of these terms (the end of ``ontology/kgraph.ttl``) and
``ontology/shapes.ttl`` checks them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from rdflib import RDF, RDFS, Graph, Literal, URIRef

from kgraph.assess import Assessment, Priors, assess
from kgraph.contradict import Contradiction, find_contradictions
from kgraph.model import Dataset, Vocabulary
from kgraph.prefixes import KG, KGR
from kgraph.redflags import RedFlag, find_red_flags

EVIDENCE_GRAPH = URIRef(f"{KGR}graph/evidence")
#: Decimal places of the belief, support and opposition written to RDF (stable output).
DIGITS = 4


def assessment_iri(a: Assessment) -> URIRef:
    if a.object is not None:
        tail = a.object
    else:
        tail = "v-" + hashlib.sha256((a.value or "").encode("utf-8")).hexdigest()[:12]
    return URIRef(f"{KGR}assessment/{a.subject}/{a.predicate}/{tail}")


def _decimal(x: float) -> Literal:
    from kgraph.build import decimal_literal

    return decimal_literal(round(x, DIGITS))


@dataclass
class ComputedEvidence:
    assessments: dict[tuple[str, str, str], Assessment]
    contradictions: list[Contradiction]
    red_flags: list[RedFlag]


def compute_evidence(data: Dataset, vocab: Vocabulary, priors: Priors) -> ComputedEvidence:
    return ComputedEvidence(assessments=assess(data, priors, vocab), contradictions=find_contradictions(data),
                            red_flags=find_red_flags(data))


#: evidence nodes per part of :func:`evidence_parts` (at x100, 573,900 triples in ~100,000 nodes;
#: pySHACL took 1.3 GB more to validate 260,000 of them at once)
PART_NODES = 5_000


def evidence_parts(evidence: ComputedEvidence, data: Dataset, vocab: Vocabulary, *,
                   nodes: int = PART_NODES) -> Iterator[tuple[URIRef | None, Graph]]:
    """The computed evidence as parts of the built RDF (:func:`kgraph.build.graph_parts`):
    graphs of ``kgr:graph/evidence``, ``nodes`` assessments, contradictions and red flags
    at a time (each node's triples in one part), then the default graph's description of it."""
    from kgraph.build import graph_of

    held: list[list[tuple]] = []
    for node_triples in _evidence_nodes(evidence, data, vocab):
        held.append(node_triples)
        if len(held) == nodes:
            yield EVIDENCE_GRAPH, graph_of(t for node in held for t in node)
            held = []
    if held:
        yield EVIDENCE_GRAPH, graph_of(t for node in held for t in node)
    del held
    # described in the default graph like the source graphs are (and so in the union too)
    yield None, graph_of([(EVIDENCE_GRAPH, RDFS.label,
                            Literal("assessments, contradictions and red flags computed by kgraph"))])


def _evidence_nodes(evidence: ComputedEvidence, data: Dataset, vocab: Vocabulary) -> Iterator[list[tuple]]:
    """The triples of each assessment, contradiction and red flag, node by node."""
    from kgraph.build import claim_iri, claim_value, entity_iri

    decimals: dict[float, Literal] = {}  # beliefs repeat; an rdflib Literal costs ~0.1 ms

    def decimal(x: float) -> Literal:
        found = decimals.get(x)
        if found is None:
            found = decimals[x] = _decimal(x)
        return found

    claims = {c.id: c for c in data.claims}
    for a in evidence.assessments.values():
        node = assessment_iri(a)
        prop = vocab.properties[a.predicate]
        triples = [(node, RDF.type, KG.Assessment), (node, KG.assessedSubject, entity_iri(a.subject)),
                   (node, KG.assessedPredicate, prop.iri)]
        add = triples.append
        if a.object is not None:
            add((node, KG.assessedObject, entity_iri(a.object)))
        else:
            # the same literal as the direct triple, so that the two join in SPARQL
            first = claims[a.contributions[0].claim]
            add((node, KG.assessedObject, claim_value(first, prop.range)))
        add((node, KG.belief, decimal(a.belief)))
        add((node, KG.level, Literal(a.level)))
        add((node, KG.support, decimal(a.support)))
        add((node, KG.opposition, decimal(a.opposition)))
        add((node, KG.publisherCount, Literal(len(a.publishers))))
        add((node, KG.explanation, Literal(a.explanation)))
        if a.strongest is not None:
            add((node, KG.strongestEvidence, vocab.evidence_kinds[a.strongest].iri))
        for cid in a.supporting:
            add((node, KG.supportingClaim, claim_iri(cid)))
        for cid in a.opposing:
            add((node, KG.opposingClaim, claim_iri(cid)))
        yield triples
    for x in evidence.contradictions:
        node = URIRef(f"{KGR}contradiction/{x.rule}/{x.claims[0]}/{x.claims[1]}")
        yield [(node, RDF.type, KG.Contradiction), *((node, KG.conflictingClaim, claim_iri(cid)) for cid in x.claims),
               (node, KG.contradictionRule, Literal(x.rule)), (node, KG.scope, Literal(x.scope)),
               (node, KG.reason, Literal(x.reason))]
    for f in evidence.red_flags:
        node = URIRef(f"{KGR}redflag/{f.claim}/{f.rule}")
        yield [(node, RDF.type, KG.RedFlag), (node, KG.flaggedClaim, claim_iri(f.claim)),
               (node, KG.redFlagRule, Literal(f.rule)), (node, KG.matchedText, Literal(f.match)),
               (node, RDFS.label, Literal(f.rule_label))]
