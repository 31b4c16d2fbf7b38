"""Turn validated data into RDF: the knowledge graph with a claim node behind every fact.

Named graphs (written to ``kgraph.trig``):

* ``kgr:graph/ontology`` -- the OWL ontology;
* ``kgr:graph/entities`` -- entities, their labels, descriptions and cross-references,
  the source documents;
* ``kgr:graph/<source>`` -- for each source document, its claims and the direct triples
  it asserts (a triple stated by two sources is in both graphs); each such graph is
  described in the default graph with ``prov:wasDerivedFrom`` its document.

The union of all of them is the graph written to Turtle, N-Triples, JSON-LD and RDF/XML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from rdflib import RDF, RDFS, SKOS, XSD, Graph, Literal, Namespace, URIRef
from rdflib import Dataset as RDFDataset
from rdflib.namespace import DCTERMS, PROV
from rdflib.plugins.stores.memory import Memory, SimpleMemory
from rdflib.store import Store

from kgraph.model import (
    ENTITY_QUALIFIERS,
    NUMBER_QUALIFIERS,
    TEXT_QUALIFIERS,
    YEAR_QUALIFIERS,
    Claim,
    Dataset,
    Vocabulary,
)
from kgraph.prefixes import (
    DISPLAY_PREFIXES,
    KG,
    KGCLAIM,
    KGGRAPH,
    KGR,
    KGSRC,
    PREFIXES,
    SCHEMA,
    xref_iri,
)

ONTOLOGY_GRAPH = KGGRAPH.ontology
ENTITY_GRAPH = KGGRAPH.entities


def entity_iri(entity_id: str) -> URIRef:
    return KGR[entity_id]


def claim_iri(claim_id: str) -> URIRef:
    return KGCLAIM[claim_id]


def source_iri(source_id: str) -> URIRef:
    return KGSRC[source_id]


def source_graph_iri(source_id: str) -> URIRef:
    return KGGRAPH[source_id]


def bind_prefixes(graph: Graph) -> None:
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, Namespace(ns), override=True, replace=True)
    for prefix, ns in DISPLAY_PREFIXES.items():
        graph.bind(prefix, Namespace(ns))


def decimal_literal(value) -> Literal:
    """An xsd:decimal in canonical lexical form ("8.0", "0.5"), so that every
    serialisation round-trips to the same term."""
    number = Decimal(str(value))
    text = format(number, "f")
    if "." not in text:
        text += ".0"
    else:
        text = text.rstrip("0")
        text = text + "0" if text.endswith(".") else text
    return Literal(text, datatype=XSD.decimal)


def claim_value(claim: Claim, range_iri) -> Literal:
    """The literal of a value claim, typed by the predicate's range."""
    value = claim.value
    if range_iri == XSD.decimal:
        return decimal_literal(value)
    if range_iri in (XSD.gYear, XSD.date, XSD.anyURI):
        return Literal(str(value), datatype=range_iri)
    return Literal(str(value))


class UnionStore(Store):
    """The union of a graph-aware :class:`~rdflib.plugins.stores.memory.Memory` store's graphs,
    read-only: a triple of several graphs once, as a copy of them all would hold it.

    The Memory store already keeps every triple in its context ``None`` (the union); asking it
    with that context gives the union without a second copy of 1.4M triples (issue 10: the
    copy doubled the build's memory). The prefixes are this view's own, as a copy's would be.
    """

    context_aware = True  # as the Memory store of a copy is (pySHACL wraps it in a Dataset)
    formula_aware = False
    graph_aware = True
    transaction_aware = False

    def __init__(self, store: Memory) -> None:
        super().__init__()
        self._store = store
        self._prefixes = Memory()

    def triples(self, triple_pattern, context=None):
        return self._store.triples(triple_pattern, None)

    def __len__(self, context=None) -> int:
        return self._store.__len__(None)

    def contexts(self, triple=None):
        return iter(())

    def add(self, triple, context, quoted=False) -> None:
        raise TypeError("the union of the built graphs is read-only: add to BuiltGraph.dataset")

    addN = add  # noqa: N815 - rdflib's name

    def remove(self, triple, context=None) -> None:
        raise TypeError("the union of the built graphs is read-only: remove from BuiltGraph.dataset")

    def bind(self, prefix, namespace, override=True) -> None:
        self._prefixes.bind(prefix, namespace, override=override)

    def namespace(self, prefix):
        return self._prefixes.namespace(prefix)

    def prefix(self, namespace):
        return self._prefixes.prefix(namespace)

    def namespaces(self):
        return self._prefixes.namespaces()


def union_graph(ds: RDFDataset) -> Graph:
    """A read-only :class:`~rdflib.Graph` over the union of ``ds``'s graphs (the default graph
    included), seeing whatever is added to them later."""
    union = Graph(store=UnionStore(ds.store))
    bind_prefixes(union)
    return union


class _Interning:
    """Keeps one object per distinct term: a build makes a new URIRef or Literal each time it
    names an entity, claim or value, and the store would keep every copy in its triples
    (issue 10: most of the terms of a claim's triples are repeats). The terms are equal
    either way; only their number of copies differs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._terms: dict = {}

    def add(self, triple, context, quoted=False) -> None:
        terms = self._terms
        s, p, o = triple
        super().add((terms.setdefault(s, s), terms.setdefault(p, p), terms.setdefault(o, o)), context, quoted)

    def clear(self) -> None:
        """Forget every triple, graph and term at once, as a new store."""
        self.__init__()


class InterningMemory(_Interning, Memory):
    """rdflib's Memory store (graphs of a dataset) with its terms interned."""


class PartMemory(_Interning, SimpleMemory):
    """The store of one graph (a part of the build, a unit of the SHACL check): rdflib's
    SimpleMemory, which keeps no record of the graphs each triple is in, with its terms
    interned. At x100 the parts' adds and look-ups were 60% of the graph steps' CPU in
    Memory, whose bookkeeping of contexts a single graph does not need: SimpleMemory adds
    1.5x and looks up 2.5x as fast.

    It says it is context- and graph-aware, as pySHACL (0.40) asks of a data graph's store
    before it wraps the graph (in an rdflib Dataset that hands every call to the graph): the
    store holds the one graph it was made for, and answers every look-up of that graph (the
    context it is asked for) from all its triples."""

    context_aware = True
    graph_aware = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._count = 0  # SimpleMemory would count its triples by walking them all

    def add(self, triple, context, quoted=False) -> None:
        s, p, o = triple
        if o not in self._SimpleMemory__spo.get(s, {}).get(p, ()):  # rdflib 7's index
            self._count += 1
        super().add(triple, context, quoted)

    def remove(self, triple_pattern, context=None) -> None:
        self._count -= sum(1 for _ in self.triples(triple_pattern))
        super().remove(triple_pattern, context)

    def __len__(self, context=None) -> int:
        return self._count

    def add_graph(self, graph) -> None:
        """(The one graph is always there.)"""


def release(graph: Graph) -> None:
    """Free the triples of a graph made by :func:`graph_parts` (or of any graph on an
    :class:`InterningMemory`) once it is done with; the graph is empty afterwards.

    An rdflib graph refers to itself (its store keeps it as a context), and so do the
    objects pySHACL makes around a graph it validates: only the cyclic collector would
    free them, which the build pauses (:func:`kgraph.pipeline.cycle_collector_paused`), and
    at x100 the parts of the graph would all wait for the build's end (2.4 GB)."""
    graph.store.clear()


@dataclass
class BuiltGraph:
    """The built RDF: named graphs and their union (a view of them: add to ``dataset``)."""

    dataset: RDFDataset
    graph: Graph


def build_graph(data: Dataset, vocab: Vocabulary, ontology: Graph,
                count: Callable[[int, int, str], None] | None = None) -> BuiltGraph:
    """Build the RDF dataset from validated data (call :func:`kgraph.validate` first);
    ``count`` is told how many claims are done, source by source. The graphs are those of
    :func:`graph_parts`, in one dataset."""
    ds = empty_dataset()
    for name, part in graph_parts(data, vocab, ontology, count=count):
        add_part(ds, name, part)
    return BuiltGraph(dataset=ds, graph=union_graph(ds))


def empty_dataset() -> RDFDataset:
    """A dataset to gather parts of :func:`graph_parts` in: terms interned, kgraph's prefixes."""
    ds = RDFDataset(store=InterningMemory())
    bind_prefixes(ds)
    return ds


def add_part(ds: RDFDataset, name: URIRef | None, part: Graph) -> None:
    """Add one part of :func:`graph_parts` to the dataset (``None``: its default graph)."""
    target = ds if name is None else ds.graph(name)
    for triple in part:
        target.add(triple)


def graph_parts(data: Dataset, vocab: Vocabulary, ontology: Graph,
                count: Callable[[int, int, str], None] | None = None) -> Iterator[tuple[URIRef | None, Graph]]:
    """The built RDF one graph at a time, as (graph name, a graph of its triples): the
    ontology, the entities, the default graph (``None``: what describes the source graphs),
    then each source's claims. A graph may come in several parts (the evidence does, see
    :func:`kgraph.evidence_graph.evidence_parts`); each part is a graph of its own, so that
    a build that serialises and validates them as they come never holds all of them
    (issue 10: at x100 the dataset took 2.4 GB). A claim node's triples are all in one part,
    its source's; an entity's label, type and names are in the entities' graph. A caller
    done with a part may :func:`release` it."""
    yield ONTOLOGY_GRAPH, graph_of(ontology)

    claims_of: dict[str, list[Claim]] = {}
    mentioned: set[tuple[str, str]] = set()
    for c in data.claims:
        claims_of.setdefault(c.source, []).append(c)
        for _, ref in c.entity_refs():
            mentioned.add((ref, c.source))
    yield ENTITY_GRAPH, _entity_graph(data, vocab, mentioned)
    yield None, graph_of(triple for src in data.sources for triple in (
        (source_graph_iri(src.id), PROV.wasDerivedFrom, source_iri(src.id)),
        (source_graph_iri(src.id), RDFS.label, Literal(f"claims of {src.file}"))))

    total, done = len(data.claims), 0
    for source, claims in claims_of.items():
        if count is not None:
            count(done, total, "claims")
        yield source_graph_iri(source), _claims_graph(claims, vocab)
        done += len(claims)
    if count is not None:
        count(total, total, "claims")


def _claims_graph(claims: list[Claim], vocab: Vocabulary) -> Graph:
    g = _graph()
    for c in claims:
        _add_claim(g, c, vocab)
    return g


def graph_of(triples) -> Graph:
    """A graph for one part, of ``triples``."""
    g = _graph()
    for triple in triples:
        g.add(triple)
    return g


def _graph() -> Graph:
    """A graph for one part: terms interned (:class:`PartMemory`), kgraph's prefixes."""
    g = Graph(store=PartMemory())
    bind_prefixes(g)
    return g


def _entity_graph(data: Dataset, vocab: Vocabulary, mentioned: set[tuple[str, str]]) -> Graph:
    ents = _graph()
    for e in data.entities:
        s = entity_iri(e.id)
        ents.add((s, RDF.type, vocab.classes[e.type]))
        ents.add((s, RDFS.label, Literal(e.label)))
        ents.add((s, DCTERMS.identifier, Literal(e.id)))
        if e.description:
            ents.add((s, DCTERMS.description, Literal(e.description)))
        for syn in e.synonyms:
            ents.add((s, SKOS.altLabel, Literal(syn)))
        for abbr in e.abbreviations:
            ents.add((s, KG.abbreviation, Literal(abbr)))
            ents.add((s, SKOS.altLabel, Literal(abbr)))
    for x in data.xrefs:
        match = SKOS.exactMatch if x.match == "exact" else SKOS.closeMatch
        ents.add((entity_iri(x.entity), match, URIRef(xref_iri(x.curie))))

    for src in data.sources:
        s = source_iri(src.id)
        ents.add((s, RDF.type, KG.SourceDocument))
        ents.add((s, DCTERMS.identifier, Literal(src.file)))
        ents.add((s, RDFS.label, Literal(src.file)))
        for title in src.titles:
            ents.add((s, DCTERMS.title, Literal(title)))
        if src.description:
            ents.add((s, DCTERMS.description, Literal(src.description)))
        ents.add((s, DCTERMS.publisher, entity_iri(src.publisher)))
        ents.add((entity_iri(src.publisher), KG.publisherOf, s))
        if src.sha256:
            ents.add((s, KG.sha256, Literal(src.sha256)))
    for ref, src_id in sorted(mentioned):
        ents.add((entity_iri(ref), KG.mentionedIn, source_iri(src_id)))
        ents.add((source_iri(src_id), KG.mentions, entity_iri(ref)))
    return ents


def _add_claim(g: Graph, c: Claim, vocab: Vocabulary) -> None:
    prop = vocab.properties[c.predicate]
    node = claim_iri(c.id)
    subject = entity_iri(c.subject)
    obj = entity_iri(c.object) if c.object is not None else claim_value(c, prop.range)
    if c.modality != "negated":
        g.add((subject, prop.iri, obj))
    g.add((node, RDF.type, KG.Claim))
    if isinstance(obj, Literal) and obj.datatype == XSD.decimal:
        g.add((node, RDF.type, KG.Statistic))
        g.add((node, SCHEMA.value, obj))
    g.add((node, RDF.subject, subject))
    g.add((node, RDF.predicate, prop.iri))
    g.add((node, RDF.object, obj))
    g.add((node, DCTERMS.identifier, Literal(c.id)))
    g.add((node, PROV.wasDerivedFrom, source_iri(c.source)))
    g.add((node, KG.quote, Literal(c.quote)))
    g.add((node, KG.evidenceKind, vocab.evidence_kinds[c.evidence].iri))
    g.add((node, KG.modality, Literal(c.modality)))
    if c.unit:
        g.add((node, SCHEMA.unitText, Literal(c.unit)))
    for cited in c.cites:
        g.add((node, KG.citesStudy, entity_iri(cited)))
    for who in c.attributed_to:
        g.add((node, KG.attributedTo, entity_iri(who)))
    if c.flag:
        g.add((node, KG.flag, Literal(c.flag)))
    if c.note:
        g.add((node, KG.curatorNote, Literal(c.note)))
    for key, value in c.qualifiers.items():
        if key in ENTITY_QUALIFIERS:
            g.add((node, KG[ENTITY_QUALIFIERS[key]], entity_iri(value)))
        elif key in TEXT_QUALIFIERS:
            g.add((node, KG[TEXT_QUALIFIERS[key]], Literal(str(value))))
        elif key in YEAR_QUALIFIERS:
            g.add((node, KG[YEAR_QUALIFIERS[key]], Literal(str(value), datatype=XSD.gYear)))
        elif key in NUMBER_QUALIFIERS:
            g.add((node, KG[NUMBER_QUALIFIERS[key]], decimal_literal(value)))
