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


def evidence_graph(evidence: ComputedEvidence, data: Dataset, vocab: Vocabulary) -> Graph:
    """The assessments, contradictions and red flags as triples (see the module docstring)."""
    from kgraph.build import claim_iri, claim_value, entity_iri

    g = Graph()
    claims = {c.id: c for c in data.claims}
    for a in evidence.assessments.values():
        node = assessment_iri(a)
        prop = vocab.properties[a.predicate]
        g.add((node, RDF.type, KG.Assessment))
        g.add((node, KG.assessedSubject, entity_iri(a.subject)))
        g.add((node, KG.assessedPredicate, prop.iri))
        if a.object is not None:
            g.add((node, KG.assessedObject, entity_iri(a.object)))
        else:
            # the same literal as the direct triple, so that the two join in SPARQL
            first = claims[a.contributions[0].claim]
            g.add((node, KG.assessedObject, claim_value(first, prop.range)))
        g.add((node, KG.belief, _decimal(a.belief)))
        g.add((node, KG.level, Literal(a.level)))
        g.add((node, KG.support, _decimal(a.support)))
        g.add((node, KG.opposition, _decimal(a.opposition)))
        g.add((node, KG.publisherCount, Literal(len(a.publishers))))
        g.add((node, KG.explanation, Literal(a.explanation)))
        if a.strongest is not None:
            g.add((node, KG.strongestEvidence, vocab.evidence_kinds[a.strongest].iri))
        for cid in a.supporting:
            g.add((node, KG.supportingClaim, claim_iri(cid)))
        for cid in a.opposing:
            g.add((node, KG.opposingClaim, claim_iri(cid)))
    for x in evidence.contradictions:
        node = URIRef(f"{KGR}contradiction/{x.rule}/{x.claims[0]}/{x.claims[1]}")
        g.add((node, RDF.type, KG.Contradiction))
        for cid in x.claims:
            g.add((node, KG.conflictingClaim, claim_iri(cid)))
        g.add((node, KG.contradictionRule, Literal(x.rule)))
        g.add((node, KG.scope, Literal(x.scope)))
        g.add((node, KG.reason, Literal(x.reason)))
    for f in evidence.red_flags:
        node = URIRef(f"{KGR}redflag/{f.claim}/{f.rule}")
        g.add((node, RDF.type, KG.RedFlag))
        g.add((node, KG.flaggedClaim, claim_iri(f.claim)))
        g.add((node, KG.redFlagRule, Literal(f.rule)))
        g.add((node, KG.matchedText, Literal(f.match)))
        g.add((node, RDFS.label, Literal(f.rule_label)))
    return g


def add_evidence(built, data: Dataset, vocab: Vocabulary, priors: Priors) -> ComputedEvidence:
    """Compute the evidence and add it to a :class:`~kgraph.build.BuiltGraph`: the named
    graph ``kgr:graph/evidence`` and the union graph."""
    evidence = compute_evidence(data, vocab, priors)
    triples = evidence_graph(evidence, data, vocab)
    named = built.dataset.graph(EVIDENCE_GRAPH)
    for triple in triples:
        named.add(triple)
        built.graph.add(triple)
    # described in the default graph like the source graphs are (and so in the union too)
    label = (EVIDENCE_GRAPH, RDFS.label, Literal("assessments, contradictions and red flags computed by kgraph"))
    built.dataset.add(label)
    built.graph.add(label)
    return evidence
