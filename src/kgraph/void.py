"""A VoID + DCAT description of the dataset: what it is, its licence, its size, its files.

Written by ``kgraph build`` as ``void.ttl`` and served by ``kgraph serve`` at
``/.well-known/void`` (there with the SPARQL endpoint of the server).

The curated data (entities, claims, quotes' locations, cross-references) is published
under CC BY 4.0; the corpus pages it quotes are third-party texts, not redistributed:
each claim carries only a short verbatim quote and the name of its source file.
"""

from __future__ import annotations

from rdflib import OWL, RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from kgraph.build import bind_prefixes
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


def describe(graph: Graph, files: dict[str, str] | None = None, *, endpoint: str | None = None) -> Graph:
    """The VoID/DCAT graph of ``graph`` (the built union); ``files`` maps the build's file
    names to their media types (distributions); ``endpoint`` the SPARQL endpoint, if served."""
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
    out.add((d, VOID.triples, Literal(len(graph), datatype=XSD.integer)))
    subjects, predicates, objects = set(), set(), set()
    for s, p, o in graph:  # one walk of the graph, not one per position
        subjects.add(s)
        predicates.add(p)
        objects.add(o)
    out.add((d, VOID.distinctSubjects, Literal(len(subjects), datatype=XSD.integer)))
    out.add((d, VOID.distinctObjects, Literal(len(objects), datatype=XSD.integer)))
    out.add((d, VOID.properties, Literal(len(predicates), datatype=XSD.integer)))
    classes = {o for o in graph.objects(None, RDF.type) if o not in (OWL.Class, OWL.ObjectProperty)}
    out.add((d, VOID.classes, Literal(len(classes), datatype=XSD.integer)))
    entities = {s for s in subjects if isinstance(s, URIRef) and str(s).startswith(str(KGR))}
    out.add((d, VOID.entities, Literal(len(entities), datatype=XSD.integer)))
    claims = set(graph.subjects(RDF.type, KG.Claim))
    part = KGR["dataset/claims"]
    out.add((d, VOID.classPartition, part))
    out.add((part, VOID["class"], KG.Claim))
    out.add((part, VOID.entities, Literal(len(claims), datatype=XSD.integer)))
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


def void_turtle(graph: Graph, files: dict[str, str] | None = None, *, endpoint: str | None = None) -> bytes:
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
