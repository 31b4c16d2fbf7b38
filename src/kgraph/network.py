"""The knowledge graph as a networkx ``MultiDiGraph``, read back from the RDF.

Nodes are entities (attributes: ``label``, ``type``, ``type_label``, ``description``,
``synonyms``, ``xrefs``, ``sources``). Edges are relations asserted by at least one
non-negated claim between two entities, one edge per (subject, predicate, object), keyed
by the predicate; attributes: ``predicate``, ``label``, ``claims`` (ids), ``sources``,
``evidence`` (kinds), ``strength`` (the strongest evidence behind the edge), and, when the
graph holds the build's ``kg:Assessment`` nodes (issue 12), ``belief`` (0-1) and ``level``
(high / moderate / low / very low). Every claim, including value claims (statistics, dates)
and negated ones, is kept in ``G.graph["claims"]`` keyed by id, and listed on the nodes it
mentions. ``G.graph["sources"]`` describes each source document (file, titles, publisher
and its label) by source id. ``G.graph["assessments"]`` holds every assessment, value relations included, as
:class:`AssessmentRecord` keyed by ``relation_id(subject, predicate, object or value)``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypedDict

import networkx as nx
from rdflib import RDF, RDFS, SKOS, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV

from kgraph.hierarchy import subclasses
from kgraph.model import (
    ENTITY_QUALIFIERS,
    NUMBER_QUALIFIERS,
    TEXT_QUALIFIERS,
    YEAR_QUALIFIERS,
)
from kgraph.prefixes import KG, KGR, SCHEMA

#: The qualifier properties, text-valued first, then the entity-valued ones.
_ENTITY_QUALIFIERS = tuple(ENTITY_QUALIFIERS.values())
_QUALIFIERS = (*TEXT_QUALIFIERS.values(), *YEAR_QUALIFIERS.values(), *NUMBER_QUALIFIERS.values(), *_ENTITY_QUALIFIERS)
_QUALIFIER_IRIS = tuple((q, KG[q]) for q in _QUALIFIERS)


class ClaimRecord(TypedDict):
    """One claim as the network carries it (``G.graph["claims"][id]``), read back from the RDF.

    Entity references are entity ids; ``source`` is the source id, ``source_file`` its file.
    """

    id: str
    subject: str | None
    predicate: str
    predicate_label: str
    object: str | None
    value: Any
    unit: str | None
    quote: str
    source: str
    source_file: str
    evidence: str
    evidence_label: str
    strength: int
    modality: str
    flag: str | None
    note: str | None
    cites: list[str]
    attributed_to: list[str]
    #: ontology property name -> entity id or text
    qualifiers: dict[str, str | None]


class AssessmentRecord(TypedDict):
    """How well one relation is backed (``G.graph["assessments"][relation_id]``)."""

    subject: str | None
    predicate: str
    object: str | None
    value: Any
    belief: float
    level: str
    explanation: str
    supporting: list[str]
    opposing: list[str]


def relation_id(subject, predicate: str, obj) -> str:
    """The key of a relation in ``G.graph["assessments"]``: "subject predicate object" (tab-separated)."""
    return f"{subject}\t{predicate}\t{obj}"


def local_name(iri) -> str:
    text = str(iri)
    for sep in ("#", "/"):
        if sep in text:
            text = text.rsplit(sep, 1)[-1]
    return text


def entity_id(iri) -> str | None:
    """The slug of an entity IRI (None for claims, sources and other IRIs)."""
    text = str(iri)
    if not text.startswith(str(KGR)):
        return None
    rest = text[len(str(KGR)):]
    return None if "/" in rest else rest


def _text(graph: Graph, s, p) -> str:
    value = graph.value(s, p)
    return str(value) if value is not None else ""


def _values_of(graph: Graph, node) -> dict:
    """Every property of ``node`` in ``graph`` -> its values, in the graph's order (the first
    is what ``graph.value`` gives): one walk of the node's triples instead of one look-up
    per property (at x100 the network's reading of the claims took 38 s of a build)."""
    values: dict = {}
    for p, o in graph.predicate_objects(node):
        values.setdefault(p, []).append(o)
    return values


def _one(values: dict, p):
    """The first value of ``p`` in :func:`_values_of`'s ``values`` (None: none)."""
    found = values.get(p)
    return found[0] if found else None


def _one_text(values: dict, p) -> str:
    """:func:`_one` as text ("" for none), as :func:`_text` gives it."""
    found = values.get(p)
    return str(found[0]) if found else ""


def to_networkx(graph: Graph) -> nx.MultiDiGraph:
    """Build the entity graph from the built RDF (see the module docstring)."""
    builder = NetworkBuilder()
    builder.feed(graph)
    return builder.finish()


class NetworkBuilder:
    """:func:`to_networkx` fed one graph at a time: the union, or the parts of a build
    (:func:`kgraph.build.graph_parts`: the ontology, the entities, each source's claims,
    the evidence), so that no graph of them all is needed (issue 10).

    Each part must hold all the triples of the nodes it describes: an entity's type, label,
    names and cross-references (the entities' graph), a claim node's (its source's graph),
    an assessment's (the evidence). The first graph fed holds the ontology (the union does;
    so does the first part of a build): it says which classes are entities, and the labels
    of classes, properties and evidence kinds.
    """

    def __init__(self) -> None:
        self._entity_classes: set | None = None
        self._labels: dict = {}
        self._strength: dict = {}
        self._source_ids: dict = {}
        self._sources: dict = {}  # source node -> what G.graph["sources"] says of it
        self._entities: list[tuple] = []  # (IRI, class, id, attributes)
        self._claims: list[tuple] = []  # (node, record)
        self._claim_ids: dict = {}
        self._assessments: dict[str, AssessmentRecord] = {}

    def feed(self, graph: Graph) -> None:
        """Read what ``graph`` holds of entities, sources, claims and assessments."""
        if self._entity_classes is None:
            self._entity_classes = subclasses(graph, KG.Entity)
        self._labels.update((s, str(o)) for s, o in graph.subject_objects(RDFS.label))
        self._strength.update((s, int(o)) for s, o in graph.subject_objects(KG.strength))
        documents = sorted(graph.subjects(RDF.type, KG.SourceDocument))
        self._source_ids.update((s, _text(graph, s, DCTERMS.identifier)) for s in documents)
        labels = self._labels
        for node in documents:
            publisher = graph.value(node, DCTERMS.publisher)
            titles = sorted(str(t) for t in graph.objects(node, DCTERMS.title))
            file = _text(graph, node, DCTERMS.identifier)
            self._sources[node] = {
                "file": file, "titles": titles, "title": titles[0] if titles else file,
                "publisher": entity_id(publisher) if publisher is not None else None,
                "publisher_label": labels.get(publisher, entity_id(publisher) or "") if publisher is not None else "",
            }
        for s, cls in sorted(graph.subject_objects(RDF.type)):
            ent = entity_id(s)
            if ent is None or cls not in self._entity_classes:
                continue
            self._entities.append((s, cls, ent, {
                "label": labels.get(s, ent),
                "type": local_name(cls),
                "type_label": labels.get(cls, local_name(cls)),
                "description": _text(graph, s, DCTERMS.description),
                "synonyms": sorted(str(o) for o in graph.objects(s, SKOS.altLabel)),
                "xrefs": sorted(str(o) for p in (SKOS.exactMatch, SKOS.closeMatch) for o in graph.objects(s, p)),
                "sources": sorted(local_name(o) for o in graph.objects(s, KG.mentionedIn)),
            }))
        for node in graph.subjects(RDF.type, KG.Claim):
            record = self._claim(graph, node)
            self._claim_ids[node] = record["id"]
            self._claims.append((node, record))
        for node in graph.subjects(RDF.type, KG.Assessment):
            self._assessment(graph, node)

    def _claim(self, graph: Graph, node) -> ClaimRecord:
        labels = self._labels
        values = _values_of(graph, node)

        def one(p):
            return _one(values, p)

        def text(p) -> str:
            return _one_text(values, p)

        subj, pred, obj = one(RDF.subject), one(RDF.predicate), one(RDF.object)
        src = one(PROV.wasDerivedFrom)
        kind = one(KG.evidenceKind)
        return {
            "id": text(DCTERMS.identifier),
            "subject": entity_id(subj),
            "predicate": local_name(pred),
            "predicate_label": labels.get(pred, local_name(pred)),
            "object": entity_id(obj) if isinstance(obj, URIRef) else None,
            "value": _literal_value(obj) if isinstance(obj, Literal) else None,
            "unit": text(SCHEMA.unitText) or None,
            "quote": text(KG.quote),
            "source": local_name(src),
            "source_file": self._source_ids.get(src, ""),
            "evidence": local_name(kind),
            "evidence_label": labels.get(kind, local_name(kind)),
            "strength": self._strength.get(kind, 0),
            "modality": text(KG.modality) or "asserted",
            "flag": text(KG.flag) or None,
            "note": text(KG.curatorNote) or None,
            "cites": sorted(entity_id(o) for o in values.get(KG.citesStudy, ())),
            "attributed_to": sorted(entity_id(o) for o in values.get(KG.attributedTo, ())),
            "qualifiers": {
                q: (entity_id(v) if isinstance(v, URIRef) else str(v))
                for q, iri in _QUALIFIER_IRIS if (v := one(iri)) is not None
            },
        }

    def _claim_id(self, graph: Graph, node) -> str:
        return self._claim_ids.get(node) or _text(graph, node, DCTERMS.identifier) or local_name(node)

    def _assessment(self, graph: Graph, node) -> None:
        values = _values_of(graph, node)

        def one(p):
            return _one(values, p)

        subj, pred, obj = one(KG.assessedSubject), one(KG.assessedPredicate), one(KG.assessedObject)
        belief, level = one(KG.belief), one(KG.level)
        if subj is None or pred is None or obj is None or belief is None:
            return
        ent = entity_id(obj) if isinstance(obj, URIRef) else None
        value = _literal_value(obj) if isinstance(obj, Literal) else None
        record: AssessmentRecord = {
            "subject": entity_id(subj), "predicate": local_name(pred), "object": ent, "value": value,
            "belief": float(belief.toPython()), "level": str(level or ""),
            "explanation": _one_text(values, KG.explanation),
            "supporting": sorted(self._claim_id(graph, c) for c in values.get(KG.supportingClaim, ())),
            "opposing": sorted(self._claim_id(graph, c) for c in values.get(KG.opposingClaim, ())),
        }
        self._assessments[relation_id(record["subject"], record["predicate"], ent if ent is not None else value)] = record

    def finish(self) -> nx.MultiDiGraph:
        """The network of everything fed."""
        G = nx.MultiDiGraph()
        for _s, _cls, ent, attrs in sorted(self._entities, key=lambda e: (e[0], e[1])):
            if ent not in G:
                G.add_node(ent, **attrs, claims=[])
        claims: dict[str, ClaimRecord] = {}
        edges: dict[tuple[str, str, str], dict] = {}
        node_claims: dict[str, set[str]] = defaultdict(set)
        for _node, record in sorted(self._claims, key=lambda c: c[0]):
            cid = record["id"]
            claims[cid] = record
            for ref in [record["subject"], record["object"], *record["cites"], *record["attributed_to"],
                        *(v for q, v in record["qualifiers"].items() if q in _ENTITY_QUALIFIERS)]:
                if ref in G:
                    node_claims[ref].add(cid)
            if record["object"] is not None and record["modality"] != "negated":
                key = (record["subject"], record["predicate"], record["object"])
                edge = edges.setdefault(key, {"predicate": record["predicate"], "label": record["predicate_label"],
                                              "claims": [], "sources": set(), "evidence": set(), "strength": 0})
                edge["claims"].append(cid)
                edge["sources"].add(record["source"])
                edge["evidence"].add(record["evidence"])
                edge["strength"] = max(edge["strength"], record["strength"])
        assessments = dict(sorted(self._assessments.items()))
        for (s, p, o), attrs in sorted(edges.items()):
            if s in G and o in G:
                assessed = assessments.get(relation_id(s, p, o))
                belief = {"belief": assessed["belief"], "level": assessed["level"]} if assessed else {}
                G.add_edge(s, o, key=p, **{**attrs, "sources": sorted(attrs["sources"]),
                                           "evidence": sorted(attrs["evidence"]), **belief})
        for ent, cids in node_claims.items():
            G.nodes[ent]["claims"] = sorted(cids)
        G.graph["claims"] = claims
        G.graph["assessments"] = assessments
        G.graph["sources"] = {local_name(node): source for node, source in sorted(self._sources.items())}
        return G


def _literal_value(obj: Literal):
    if obj.datatype == XSD.decimal:
        number = obj.toPython()
        return int(number) if number == number.to_integral_value() else float(number)
    return str(obj)


def for_graphml(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose attributes are all scalars (GraphML cannot store lists or dicts)."""
    H = nx.MultiDiGraph()
    for n, attrs in G.nodes(data=True):
        H.add_node(n, **{k: _scalar(v) for k, v in attrs.items()})
    for s, o, k, attrs in G.edges(keys=True, data=True):
        H.add_edge(s, o, key=k, **{a: _scalar(v) for a, v in attrs.items()})
    return H


def _scalar(value):
    if isinstance(value, (list, tuple, set)):
        return "|".join(str(v) for v in value)
    return value
