"""A VoID + DCAT description of the dataset: what it is, its licence, its size, its files.

Written by ``kgraph build`` as ``void.ttl`` and served by ``kgraph serve`` at
``/.well-known/void`` (there with the SPARQL endpoint of the server).

The curated data (entities, claims, quotes' locations, cross-references) is published
under CC BY 4.0; the corpus pages it quotes are third-party texts, not redistributed:
each claim carries only a short verbatim quote and the name of its source file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import OWL, RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from kgraph.build import bind_prefixes
from kgraph.linefiles import each_line
from kgraph.prefixes import KG, KGR

VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DATASET = KGR["dataset"]
#: The licence of the curated data (stated in README.md and data/README.md as well).
LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
RIGHTS = ("The curated data is CC BY 4.0. The corpus documents it quotes are third-party web pages: "
          "they are not redistributed, and each claim quotes only a short passage of its source.")
TITLE = "kgraph: claims about ketamine therapy"
DESCRIPTION = ("A knowledge graph of the claims five clinic web pages make about ketamine therapy (PTSD, "
               "depression, anxiety, OCD, chronic pain): entities, relations, and for every claim its source "
               "document, verbatim quote and kind of evidence.")


@dataclass(frozen=True)
class Sizes:
    """The counts of a VoID description of the union graph."""

    triples: int
    subjects: int
    objects: int
    properties: int
    #: distinct classes (objects of rdf:type but owl:Class and owl:ObjectProperty)
    classes: int
    #: distinct IRIs in kgraph's namespace that are subjects
    entities: int
    claims: int


def sizes(graph: Graph) -> Sizes:
    """The :class:`Sizes` of ``graph``, in one walk of it."""
    subjects, predicates, objects = set(), set(), set()
    for s, p, o in graph:  # one walk of the graph, not one per position
        subjects.add(s)
        predicates.add(p)
        objects.add(o)
    classes = {o for o in graph.objects(None, RDF.type) if o not in (OWL.Class, OWL.ObjectProperty)}
    entities = {s for s in subjects if isinstance(s, URIRef) and str(s).startswith(str(KGR))}
    claims = set(graph.subjects(RDF.type, KG.Claim))
    return Sizes(len(graph), len(subjects), len(objects), len(predicates), len(classes), len(entities), len(claims))


def sizes_of_lines(lines: bytes | Path) -> Sizes:
    """The :class:`Sizes` of a graph given as its distinct N-Triples lines
    (:attr:`kgraph.store.DatasetLines.triples`): what the build has at hand, read in a
    tenth of the time of a walk of the rdflib graph. Terms are told apart by their
    N-Triples form, as rdflib tells them apart (its terms compare by lexical form)."""
    rdf_type = f"<{RDF.type}>".encode()
    not_classes = {f"<{OWL.Class}>".encode(), f"<{OWL.ObjectProperty}>".encode()}
    claim = f"<{KG.Claim}>".encode()
    entity = f"<{KGR}".encode()
    subjects, predicates, objects, classes, claims = set(), set(), set(), set(), set()
    triples = 0
    for line in each_line(lines):
        if not line:
            continue
        triples += 1
        # "s p o .": a subject and a predicate hold no space (IRIs, blank node labels)
        s, p, rest = line.split(b" ", 2)
        o = rest[:-2]
        subjects.add(s)
        predicates.add(p)
        objects.add(o)
        if p == rdf_type:
            if o not in not_classes:
                classes.add(o)
            if o == claim:
                claims.add(s)
    entities = sum(1 for s in subjects if s.startswith(entity))
    return Sizes(triples, len(subjects), len(objects), len(predicates), len(classes), entities, len(claims))


def describe(graph: Graph | Sizes, files: dict[str, str] | None = None, *, endpoint: str | None = None) -> Graph:
    """The VoID/DCAT graph of ``graph`` (the built union, or its :class:`Sizes`); ``files`` maps
    the build's file names to their media types (distributions); ``endpoint`` the SPARQL
    endpoint, if served."""
    counts = graph if isinstance(graph, Sizes) else sizes(graph)
    out = Graph()
    bind_prefixes(out)
    out.bind("void", VOID)
    out.bind("dcat", DCAT)
    d = DATASET
    for t in (VOID.Dataset, DCAT.Dataset):
        out.add((d, RDF.type, t))
    out.add((d, DCTERMS.title, Literal(TITLE, lang="en")))
    out.add((d, DCTERMS.description, Literal(DESCRIPTION, lang="en")))
    out.add((d, DCTERMS.license, LICENSE))
    out.add((d, DCTERMS.rights, Literal(RIGHTS, lang="en")))
    out.add((d, VOID.uriSpace, Literal(str(KGR))))
    out.add((d, VOID.vocabulary, URIRef(str(KG))))
    out.add((d, DCTERMS.conformsTo, URIRef(str(KG).rstrip("#"))))
    out.add((d, VOID.triples, Literal(counts.triples, datatype=XSD.integer)))
    out.add((d, VOID.distinctSubjects, Literal(counts.subjects, datatype=XSD.integer)))
    out.add((d, VOID.distinctObjects, Literal(counts.objects, datatype=XSD.integer)))
    out.add((d, VOID.properties, Literal(counts.properties, datatype=XSD.integer)))
    out.add((d, VOID.classes, Literal(counts.classes, datatype=XSD.integer)))
    out.add((d, VOID.entities, Literal(counts.entities, datatype=XSD.integer)))
    part = KGR["dataset/claims"]
    out.add((d, VOID.classPartition, part))
    out.add((part, VOID["class"], KG.Claim))
    out.add((part, VOID.entities, Literal(counts.claims, datatype=XSD.integer)))
    if endpoint:
        out.add((d, VOID.sparqlEndpoint, URIRef(endpoint)))
    for name, media in sorted((files or {}).items()):
        dist = KGR[f"dataset/{name}"]
        out.add((d, DCAT.distribution, dist))
        out.add((dist, RDF.type, DCAT.Distribution))
        out.add((dist, DCTERMS.title, Literal(name)))
        out.add((dist, DCAT.mediaType, Literal(media)))
        out.add((dist, DCTERMS.license, LICENSE))
        if name.endswith((".nt", ".ttl")):
            out.add((d, VOID.dataDump, dist))
    return out


def void_turtle(graph: Graph | Sizes, files: dict[str, str] | None = None, *, endpoint: str | None = None) -> bytes:
    """:func:`describe` as Turtle, the same graph always giving the same bytes."""
    from kgraph.export import serialize_graph
    from kgraph.formats import FORMATS_BY_NAME

    return serialize_graph(describe(graph, files, endpoint=endpoint), FORMATS_BY_NAME["turtle"])


def build_media_types(names) -> dict[str, str]:
    """The media type of each file of a build, from the format registry."""
    from kgraph.formats import FORMATS

    types = {}
    for name in names:
        if name.endswith(".cypher"):
            types[name] = "text/plain"
            continue
        for fmt in FORMATS:
            if name in fmt.file_names:
                types[name] = fmt.media_type
                break
        else:
            if name.endswith(".html"):
                types[name] = "text/html"
            elif name.endswith(".json"):
                types[name] = "application/json"
    return types
