"""The one prefix map: every CURIE kgraph writes or reads is expanded and contracted here.

``PREFIXES`` are bound in every graph kgraph writes; ``DISPLAY_PREFIXES`` shorten claim
and source IRIs; both are predeclared in queries (``QUERY_PREFIXES``), so that a printed
``kgclaim:c001-001`` can be pasted back into one; ``XREFS`` are the
external identifier schemes a curator may cross-reference, each with the pattern of its
local part, its standard IRI form and the short name shown on pages. :func:`js_table`
is the same table for the pages' scripts, so no script carries prefix logic of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: The namespaces as rdflib ``Namespace`` objects (``KG``, ``KGR``, ...), made on first use
#: (:func:`__getattr__`): importing rdflib costs ~0.1 s, which ``kgraph query`` over the
#: store never needs.
NAMESPACES: dict[str, str] = {
    "KG": "https://w3id.org/kgraph/ontology#",
    "KGR": "https://w3id.org/kgraph/id/",
    "SCHEMA": "https://schema.org/",
    "KGCLAIM": "https://w3id.org/kgraph/id/claim/",
    "KGSRC": "https://w3id.org/kgraph/id/source/",
    #: Named graphs (not bound as a prefix: the written files name them in full).
    "KGGRAPH": "https://w3id.org/kgraph/id/graph/",
}


def __getattr__(name: str) -> Any:
    if name in NAMESPACES:
        from rdflib import Namespace

        value = globals()[name] = Namespace(NAMESPACES[name])
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Prefixes bound in every graph kgraph writes and predeclared in queries (in this order).
PREFIXES: dict[str, str] = {
    "kg": NAMESPACES["KG"],
    "kgr": NAMESPACES["KGR"],
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "dcterms": "http://purl.org/dc/terms/",
    "schema": NAMESPACES["SCHEMA"],
}
#: Also bound in the written graphs, but not predeclared in queries: claim and source IRIs.
DISPLAY_PREFIXES: dict[str, str] = {"kgclaim": NAMESPACES["KGCLAIM"], "kgsrc": NAMESPACES["KGSRC"]}
#: Vocabularies the ontology aligns its terms to, beyond those above (its documentation
#: and the network exports name their terms with these prefixes).
ALIGNED_PREFIXES: dict[str, str] = {"foaf": "http://xmlns.com/foaf/0.1/", "biolink": "https://w3id.org/biolink/vocab/"}
#: Namespaces a query writer may reach for that kgraph does not predeclare (a PREFIX line
#: is suggested for them when a query uses one undeclared).
WELL_KNOWN_PREFIXES: dict[str, str] = {**ALIGNED_PREFIXES, "sh": "http://www.w3.org/ns/shacl#",
                                       "obo": "http://purl.obolibrary.org/obo/"}
#: Predeclared in every query (``kgraph query``, ``/sparql``, the query page): whatever
#: kgraph prints can be pasted back into a query.
QUERY_PREFIXES: dict[str, str] = {**PREFIXES, **DISPLAY_PREFIXES}

_OBO = "http://purl.obolibrary.org/obo/{prefix}_{local}"


@dataclass(frozen=True)
class XrefScheme:
    """An external identifier scheme: ``PREFIX:LOCAL`` as curated, and its IRI form."""

    prefix: str
    #: the local part must match this (fully)
    pattern: str
    #: the standard IRI, with ``{prefix}`` and ``{local}`` to fill in
    template: str
    #: the prefix as people write it on a page ("MeSH", "doi")
    label: str

    @property
    def stem(self) -> str:
        """The IRI up to the local part."""
        return self.template.format(prefix=self.prefix, local="")

    def iri(self, local: str) -> str:
        return self.template.format(prefix=self.prefix, local=local)

    def well_formed(self, local: str) -> bool:
        return re.fullmatch(self.pattern, local) is not None


XREFS: dict[str, XrefScheme] = {s.prefix: s for s in (
    XrefScheme("CHEBI", r"[0-9]+", _OBO, "CHEBI"),
    XrefScheme("MONDO", r"[0-9]{7}", _OBO, "MONDO"),
    XrefScheme("DOID", r"[0-9]+", _OBO, "DOID"),
    XrefScheme("HP", r"[0-9]{7}", _OBO, "HP"),
    XrefScheme("UBERON", r"[0-9]{7}", _OBO, "UBERON"),
    XrefScheme("GO", r"[0-9]{7}", _OBO, "GO"),
    XrefScheme("NCIT", r"C[0-9]+", _OBO, "NCIT"),
    XrefScheme("DRUGBANK", r"DB[0-9]{5}", "https://go.drugbank.com/drugs/{local}", "DrugBank"),
    XrefScheme("PUBCHEM.COMPOUND", r"[0-9]+", "https://pubchem.ncbi.nlm.nih.gov/compound/{local}", "PubChem"),
    XrefScheme("MESH", r"[A-Z][0-9]{6,9}", "http://id.nlm.nih.gov/mesh/{local}", "MeSH"),
    XrefScheme("HGNC", r"[0-9]+", "https://identifiers.org/hgnc:{local}", "hgnc"),
    XrefScheme("UNIPROT", r"[A-Z0-9]{6,10}", "http://purl.uniprot.org/uniprot/{local}", "UniProt"),
    XrefScheme("WIKIDATA", r"Q[0-9]+", "http://www.wikidata.org/entity/{local}", "Wikidata"),
    XrefScheme("DOI", r"10\.[0-9]{4,9}/\S+", "https://doi.org/{local}", "doi"),
    XrefScheme("PMID", r"[0-9]+", "https://pubmed.ncbi.nlm.nih.gov/{local}", "PMID"),
    XrefScheme("ROR", r"0[a-z0-9]{6}[0-9]{2}", "https://ror.org/{local}", "ROR"),
)}


def _namespaces() -> list[tuple[str, str]]:
    """(prefix, namespace) of every prefix, longest namespace first (the most specific wins)."""
    pairs = [*PREFIXES.items(), *DISPLAY_PREFIXES.items(), *((s.prefix, s.stem) for s in XREFS.values())]
    return sorted(pairs, key=lambda pair: (-len(pair[1]), pair[0]))


def expand(curie: str) -> str:
    """The IRI of a CURIE (``kg:Drug``, ``CHEBI:6121``); KeyError for an unknown prefix."""
    prefix, _, local = curie.partition(":")
    if prefix in XREFS:
        return XREFS[prefix].iri(local)
    return {**PREFIXES, **DISPLAY_PREFIXES}[prefix] + local


def contract(iri: str, *, display: bool = False) -> str | None:
    """The CURIE of an IRI, or None when no prefix covers it.

    ``display`` gives cross-references the prefix people write ("MeSH:D003863" rather
    than "MESH:D003863").
    """
    text = str(iri)
    for prefix, namespace in _namespaces():
        if text.startswith(namespace):
            shown = XREFS[prefix].label if display and prefix in XREFS else prefix
            return f"{shown}:{text[len(namespace):]}"
    return None


def xref_iri(curie: str) -> str:
    """The standard IRI of a validated cross-reference CURIE such as ``CHEBI:6121``."""
    prefix, _, local = curie.partition(":")
    return XREFS[prefix].iri(local)


def js_table() -> list[list[str]]:
    """``[[prefix, namespace], ...]`` longest namespace first, for a page's script to
    contract IRIs exactly as :func:`contract` does (cross-references by their label)."""
    return [[XREFS[p].label if p in XREFS else p, ns] for p, ns in _namespaces()]


def sparql_prologue(text: str) -> str:
    """The ``PREFIX`` lines a query needs to run outside kgraph (no predeclared prefixes):
    one for each of :data:`QUERY_PREFIXES` it uses and does not declare itself."""
    code = re.sub(r'<[^>\s]*>|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*', " ", text)
    declared = {m.lower() for m in re.findall(r"(?i)PREFIX\s+([\w-]*):", code)}
    used = set(re.findall(r"(?<![\w:?$.-])([A-Za-z][\w-]*):", code))
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in QUERY_PREFIXES.items() if p in used and p not in declared)
