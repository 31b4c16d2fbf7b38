"""Documentation of the ontology as one HTML page (``kgraph docs``, ``/ontology`` of ``kgraph serve``).

Classes with their hierarchy, properties with domains, ranges and inverses, the
alignments to other vocabularies, and the evidence kinds with their strengths -- read
from the ontology graph, rendered through an autoescaped Jinja2 template
(``templates/ontology.html``). The page is self-contained (its style inline, allowed by a
hash in its Content-Security-Policy), so it works offline from ``file://`` as well as
served. Each term has the anchor of its local name: ``/ontology#Drug``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from rdflib import OWL, RDF, RDFS, SKOS, Graph, URIRef
from rdflib.namespace import DCTERMS

from kgraph.prefixes import ALIGNED_PREFIXES, KG, contract

ONTOLOGY_IRI = URIRef(str(KG).rstrip("#"))
#: Where ``kgraph serve`` shows the page; kg: terms in the apps link to DOC_PATH#Term.
DOC_PATH = "/ontology"
_ALIGN = ((SKOS.exactMatch, "exact match"), (SKOS.closeMatch, "close match"))
_CHARACTERISTICS = ((OWL.FunctionalProperty, "functional"), (OWL.TransitiveProperty, "transitive"),
                    (OWL.SymmetricProperty, "symmetric"), (OWL.InverseFunctionalProperty, "inverse functional"))


@dataclass(frozen=True)
class Ref:
    """A term as shown: its CURIE and, for a kg: term, the anchor on this page."""

    curie: str
    anchor: str | None
    href: str | None


@dataclass
class Term:
    name: str
    iri: str
    label: str
    comment: str
    kind: str
    parents: list[Ref] = field(default_factory=list)
    children: list[Ref] = field(default_factory=list)
    alignments: list[tuple[str, Ref]] = field(default_factory=list)
    domain: list[Ref] = field(default_factory=list)
    range: list[Ref] = field(default_factory=list)
    inverse: list[Ref] = field(default_factory=list)
    characteristics: list[str] = field(default_factory=list)
    used_by: list[Ref] = field(default_factory=list)
    depth: int = 0


@dataclass
class EvidenceKindDoc:
    name: str
    notation: str
    label: str
    strength: int
    comment: str


@dataclass
class OntologyDoc:
    title: str
    description: str
    version: str
    license: str | None
    classes: list[Term]
    properties: list[Term]
    evidence: list[EvidenceKindDoc]


def _ref(iri) -> Ref:
    text = str(iri)
    if text.startswith(str(KG)):
        name = text[len(str(KG)):]
        return Ref(f"kg:{name}", name, f"#{name}")
    curie = contract(text)
    for prefix, namespace in ALIGNED_PREFIXES.items():
        if curie is None and text.startswith(namespace):
            curie = f"{prefix}:{text[len(namespace):]}"
    return Ref(curie or text, None, text if text.startswith(("http://", "https://")) else None)


def _text(graph: Graph, s, p) -> str:
    value = graph.value(s, p)
    return str(value) if value is not None else ""


def _kg_terms(graph: Graph, *types) -> list[URIRef]:
    found = {s for t in types for s in graph.subjects(RDF.type, t)
             if isinstance(s, URIRef) and str(s).startswith(str(KG))}
    return sorted(found)


def _term(graph: Graph, iri: URIRef, kind: str) -> Term:
    name = str(iri)[len(str(KG)):]
    term = Term(name=name, iri=str(iri), label=_text(graph, iri, RDFS.label) or name,
                comment=_text(graph, iri, RDFS.comment), kind=kind)
    for p, how in _ALIGN:
        term.alignments += [(how, _ref(o)) for o in sorted(graph.objects(iri, p))]
    return term


def _class_depths(graph: Graph, classes: list[URIRef]) -> dict[URIRef, int]:
    """Depth below the nearest root among the kg: classes (a class with two kg: parents: the first)."""
    inside = set(classes)
    depths: dict[URIRef, int] = {}

    def depth(c: URIRef, seen: frozenset = frozenset()) -> int:
        if c in depths:
            return depths[c]
        parents = sorted(p for p in graph.objects(c, RDFS.subClassOf) if p in inside and p not in seen)
        depths[c] = 0 if not parents else depth(parents[0], seen | {c}) + 1
        return depths[c]

    for c in classes:
        depth(c)
    return depths


def _tree_order(graph: Graph, classes: list[URIRef]) -> list[URIRef]:
    """The classes depth first (roots in name order, children under their first kg: parent)."""
    inside = set(classes)
    first_parent = {c: min((p for p in graph.objects(c, RDFS.subClassOf) if p in inside), default=None)
                    for c in classes}
    order: list[URIRef] = []

    def walk(c: URIRef) -> None:
        if c in order:
            return
        order.append(c)
        for child in sorted(k for k, p in first_parent.items() if p == c):
            walk(child)

    for root in sorted(c for c, p in first_parent.items() if p is None):
        walk(root)
    order += [c for c in classes if c not in order]  # cycles, if any
    return order


def ontology_doc(graph: Graph) -> OntologyDoc:
    """What the page shows, read from a graph holding the ontology."""
    class_iris = _kg_terms(graph, OWL.Class)
    depths = _class_depths(graph, class_iris)
    classes: dict[URIRef, Term] = {}
    for c in _tree_order(graph, class_iris):
        term = _term(graph, c, "class")
        term.depth = depths.get(c, 0)
        term.parents = [_ref(p) for p in sorted(graph.objects(c, RDFS.subClassOf)) if isinstance(p, URIRef)]
        term.children = [_ref(s) for s in sorted(graph.subjects(RDFS.subClassOf, c)) if s in depths]
        classes[c] = term

    prop_iris = _kg_terms(graph, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)
    properties = []
    for p in prop_iris:
        kinds = set(graph.objects(p, RDF.type))
        kind = ("object property" if OWL.ObjectProperty in kinds else
                "datatype property" if OWL.DatatypeProperty in kinds else "annotation property")
        term = _term(graph, p, kind)
        term.parents = [_ref(o) for o in sorted(graph.objects(p, RDFS.subPropertyOf))]
        term.children = [_ref(s) for s in sorted(graph.subjects(RDFS.subPropertyOf, p))]
        term.domain = [_ref(o) for o in sorted(graph.objects(p, RDFS.domain))]
        term.range = [_ref(o) for o in sorted(graph.objects(p, RDFS.range))]
        inverse = set(graph.objects(p, OWL.inverseOf)) | set(graph.subjects(OWL.inverseOf, p))
        term.inverse = [_ref(o) for o in sorted(inverse)]
        term.characteristics = [label for cls, label in _CHARACTERISTICS if cls in kinds]
        properties.append(term)
        for d in graph.objects(p, RDFS.domain):
            if d in classes:
                classes[d].used_by.append(_ref(p))

    evidence = sorted(
        (EvidenceKindDoc(name=str(k)[len(str(KG)):], notation=_text(graph, k, SKOS.notation),
                         label=_text(graph, k, RDFS.label), strength=int(graph.value(k, KG.strength) or 0),
                         comment=_text(graph, k, RDFS.comment))
         for k in graph.subjects(RDF.type, KG.EvidenceKind) if str(k).startswith(str(KG))),
        key=lambda e: (-e.strength, e.name))
    licence = graph.value(ONTOLOGY_IRI, DCTERMS.license)
    return OntologyDoc(title=_text(graph, ONTOLOGY_IRI, DCTERMS.title) or "kgraph ontology",
                       description=_text(graph, ONTOLOGY_IRI, DCTERMS.description),
                       version=_text(graph, ONTOLOGY_IRI, OWL.versionInfo),
                       license=str(licence) if licence is not None else None,
                       classes=list(classes.values()), properties=properties, evidence=evidence)


def _style() -> str:
    from importlib import resources

    return resources.files("kgraph").joinpath("templates", "ontology.css").read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(*, header: bool = False) -> str:
    """The page's CSP: no script, no request, only its own inline style. ``frame-ancestors``
    only in the HTTP header (browsers ignore it, with an error, in a meta element)."""
    return (f"default-src 'none'; style-src {csp_hash(_style())}; img-src data:; base-uri 'none'; "
            "form-action 'none'" + ("; frame-ancestors 'self'" if header else ""))


def render_docs(graph: Graph) -> str:
    """The HTML page documenting the ontology in ``graph`` (deterministic)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("kgraph", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                      keep_trailing_newline=True)
    return env.get_template("ontology.html").render(doc=ontology_doc(graph), style=_style(),
                                                    csp=content_security_policy())
