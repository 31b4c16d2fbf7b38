"""The entity network in the formats of graph tools outside RDF (issue 13).

* KGX TSV (``kgraph_nodes.tsv``, ``kgraph_edges.tsv``): Biolink categories on nodes,
  Biolink predicates on edges, with ``primary_knowledge_source``, ``publications`` and the
  claims' quotes as ``supporting_text`` -- loadable by ``kgx transform`` and the Biolink tools;
* Neo4j: ``neo4j-admin database import`` CSVs (``:ID``, ``:LABEL``, ``:START_ID``,
  ``:END_ID``, ``:TYPE`` headers) and a Cypher ``LOAD CSV`` script for a running server;
* Cytoscape.js JSON (``kgraph.cyjs``: ``elements.nodes`` / ``elements.edges``, each with
  ``data`` and, for nodes, the layout ``position``), which Cytoscape desktop also opens;
* GraphML with unique edge ids, a weight, colours and the layout positions.

The Biolink terms come from the ontology's ``skos:exactMatch`` / ``skos:closeMatch``
alignments (the nearest aligned superclass for a class without one), so the ontology stays
the one place they are stated. Every file is deterministic: rows in id order, the layout
seeded (:data:`kgraph.viz.SEED`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from io import BytesIO, StringIO
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

from rdflib import RDFS, SKOS, Graph, URIRef

from kgraph.linefiles import write_text
from kgraph.network import local_name
from kgraph.prefixes import ALIGNED_PREFIXES, KG, KGR, KGSRC, contract
from kgraph.store import indented_json

if TYPE_CHECKING:
    import networkx as nx

BIOLINK = ALIGNED_PREFIXES["biolink"]
#: The KGX knowledge source of every edge. An InfoRes id of our own: kgraph is not in the
#: InfoRes catalogue, the clinic pages the claims come from have no InfoRes id either.
KNOWLEDGE_SOURCE = "infores:kgraph"
#: Biolink 4 deprecated the "increases/decreases amount or activity of" predicates for
#: biolink:affects with qualifiers (checked against biolink-model.yaml 4.4.4).
QUALIFIERS = {
    "increases": {"object_aspect_qualifier": "activity_or_abundance", "object_direction_qualifier": "increased"},
    "decreases": {"object_aspect_qualifier": "activity_or_abundance", "object_direction_qualifier": "decreased"},
}

KGX_NODE_COLUMNS = ("id", "category", "name", "description", "xref", "synonym", "provided_by", "iri")
KGX_EDGE_COLUMNS = ("id", "subject", "predicate", "object", "category", "original_predicate",
                    "object_aspect_qualifier", "object_direction_qualifier", "knowledge_level", "agent_type",
                    "primary_knowledge_source", "publications", "supporting_text", "has_evidence_count")
NEO4J_NODES = "kgraph-neo4j-nodes.csv"
NEO4J_EDGES = "kgraph-neo4j-relationships.csv"
NEO4J_CYPHER = "kgraph-neo4j.cypher"
#: neo4j-admin's default array delimiter
NEO4J_ARRAY = ";"


@dataclass(frozen=True)
class Alignment:
    """Biolink terms and drawing styles of the network's classes and predicates."""

    categories: dict[str, str]
    predicates: dict[str, str]
    labels: dict[str, tuple[str, ...]]
    colours: dict[str, str]


def _biolink(graph: Graph, term: URIRef) -> str | None:
    for match in (SKOS.exactMatch, SKOS.closeMatch):
        for o in sorted(graph.objects(term, match)):
            if str(o).startswith(BIOLINK):
                return "biolink:" + str(o)[len(BIOLINK):]
    return None


def alignment(graph: Graph) -> Alignment:
    """Biolink category per entity type, predicate per kg: property, Neo4j labels and colours."""
    from kgraph.view import entity_types
    from kgraph.viz import _group_styles

    types = entity_types(graph)
    categories: dict[str, str] = {}
    for name, etype in types.items():
        # the type itself first, then its superclasses from the nearest up
        found = next((c for n in (*reversed(etype.lineage),) if (c := _biolink(graph, KG[n]))), None)
        categories[name] = found or _biolink(graph, KG.Entity) or "biolink:NamedThing"
    predicates: dict[str, str] = {}
    for prop in sorted(set(graph.subjects(RDFS.domain, None)) | set(graph.subjects(RDFS.range, None))):
        if not str(prop).startswith(str(KG)):
            continue
        found = None
        for p in [prop, *sorted(graph.transitive_objects(prop, RDFS.subPropertyOf))]:
            if (found := _biolink(graph, p)) is not None:
                break
        predicates[local_name(prop)] = found or "biolink:related_to"
    styles = _group_styles(types)
    return Alignment(categories=categories, predicates=predicates,
                     labels={n: ("Entity", *t.lineage) for n, t in types.items()},
                     colours={n: styles[t.group][0] for n, t in types.items()})


def _category(al: Alignment, type_name: str) -> str:
    return al.categories.get(type_name, "biolink:NamedThing")


def _predicate(al: Alignment, pred: str) -> str:
    return al.predicates.get(pred, "biolink:related_to")


def edge_id(s: str, pred: str, o: str) -> str:
    """One id per (subject, predicate, object): the network has one edge for each."""
    return f"{s}|{pred}|{o}"


def _curie(node: str) -> str:
    return f"kgr:{node}"


def _one_line(text: str) -> str:
    """A TSV/CSV cell on one line; "|" is KGX's list delimiter, so it is replaced in text."""
    return re.sub(r"\s+", " ", text).replace("|", "/").strip()


def _publications(G: nx.MultiDiGraph, claims: list[dict]) -> list[str]:
    """The studies the claims cite (their DOI / PMID), then the source documents (IRIs)."""
    pubs: set[str] = set()
    for c in claims:
        for study in c["cites"]:
            for iri in G.nodes[study]["xrefs"] if study in G else ():
                curie = contract(iri)
                if curie and curie.split(":")[0] in ("DOI", "PMID"):
                    prefix, _, local = curie.partition(":")
                    pubs.add(("doi" if prefix == "DOI" else prefix) + ":" + local)
    sources = sorted({str(KGSRC[c["source"]]) for c in claims})
    return sorted(pubs) + sources


def _tsv(columns: tuple[str, ...], rows: list[dict]) -> bytes:
    out = StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8")


def kgx(G: nx.MultiDiGraph, al: Alignment) -> dict[str, bytes]:
    """KGX TSV: ``kgraph_nodes.tsv`` and ``kgraph_edges.tsv`` (lists joined by ``|``)."""
    claims = G.graph.get("claims", {})
    nodes = []
    for n, a in sorted(G.nodes(data=True)):
        nodes.append({
            "id": _curie(n), "category": _category(al, a["type"]), "name": _one_line(a["label"]),
            "description": _one_line(a.get("description", "")),
            "xref": "|".join(c for iri in a["xrefs"] if (c := contract(iri))),
            "synonym": "|".join(_one_line(s) for s in a["synonyms"]),
            "provided_by": KNOWLEDGE_SOURCE, "iri": str(KGR[n]),
        })
    edges = []
    for s, o, k, a in sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[2], e[1])):
        backing = [claims[c] for c in a["claims"] if c in claims]
        edges.append({
            "id": edge_id(s, k, o), "subject": _curie(s), "predicate": _predicate(al, k), "object": _curie(o),
            "category": "biolink:Association", "original_predicate": f"kg:{k}",
            **QUALIFIERS.get(k, {}),
            # curated by people from what the pages assert
            "knowledge_level": "knowledge_assertion", "agent_type": "manual_agent",
            "primary_knowledge_source": KNOWLEDGE_SOURCE,
            "publications": "|".join(_publications(G, backing)),
            "supporting_text": "|".join(_one_line(c["quote"]) for c in backing),
            "has_evidence_count": str(len(backing)),
        })
    return {"kgraph_nodes.tsv": _tsv(KGX_NODE_COLUMNS, nodes), "kgraph_edges.tsv": _tsv(KGX_EDGE_COLUMNS, edges)}


def neo4j_type(pred: str) -> str:
    """A relationship type the Neo4j way: ``hasMechanism`` -> ``HAS_MECHANISM``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", pred).upper()


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _array(values) -> str:
    return NEO4J_ARRAY.join(str(v).replace(NEO4J_ARRAY, ",") for v in values)


NEO4J_NODE_HEADER = ["id:ID", ":LABEL", "name", "type", "category", "description", "xrefs:string[]",
                     "synonyms:string[]", "iri"]
NEO4J_EDGE_HEADER = [":START_ID", ":END_ID", ":TYPE", "id", "predicate", "label", "biolink", "strength:int",
                     "weight:int", "claims:string[]", "sources:string[]", "evidence:string[]"]


def neo4j(G: nx.MultiDiGraph, al: Alignment) -> dict[str, bytes]:
    """CSVs for ``neo4j-admin database import full`` and a Cypher script loading the same files."""
    nodes = [[n, _array(al.labels.get(a["type"], ("Entity", a["type"]))), a["label"], a["type"],
              _category(al, a["type"]), a.get("description", ""), _array(a["xrefs"]), _array(a["synonyms"]),
              str(KGR[n])] for n, a in sorted(G.nodes(data=True))]
    edges = [[s, o, neo4j_type(k), edge_id(s, k, o), f"kg:{k}", a["label"], _predicate(al, k), str(a["strength"]),
              str(len(a["claims"])), _array(a["claims"]), _array(a["sources"]), _array(a["evidence"])]
             for s, o, k, a in sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[2], e[1]))]
    return {NEO4J_NODES: _csv(NEO4J_NODE_HEADER, nodes), NEO4J_EDGES: _csv(NEO4J_EDGE_HEADER, edges),
            NEO4J_CYPHER: _cypher(G, al).encode("utf-8")}


def _cypher(G: nx.MultiDiGraph, al: Alignment) -> str:
    """``LOAD CSV`` statements reading the import CSVs (put them in the server's import folder).

    Cypher cannot take a label or a relationship type from a column, so there is one
    statement per entity type and per relationship type, both taken from the data.
    """
    def arr(col: str) -> str:
        return f"CASE WHEN row.`{col}` = '' THEN [] ELSE split(row.`{col}`, '{NEO4J_ARRAY}') END"

    lines = ["// kgraph: load the entity network into Neo4j 5 (cypher-shell -f kgraph-neo4j.cypher).",
             f"// Copy {NEO4J_NODES} and {NEO4J_EDGES} into the server's import folder first.",
             "CREATE CONSTRAINT kgraph_entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE;", ""]
    for type_name in sorted({a["type"] for _, a in G.nodes(data=True)}):
        labels = ":".join(f"`{label}`" for label in al.labels.get(type_name, ("Entity", type_name)))
        lines.append(
            f"LOAD CSV WITH HEADERS FROM 'file:///{NEO4J_NODES}' AS row WITH row WHERE row.type = '{type_name}'\n"
            f"MERGE (n:{labels} {{id: row.`id:ID`}})\n"
            "SET n.name = row.name, n.type = row.type, n.category = row.category, n.description = row.description,\n"
            f"    n.xrefs = {arr('xrefs:string[]')}, n.synonyms = {arr('synonyms:string[]')}, n.iri = row.iri;")
    lines.append("")
    for rel in sorted({neo4j_type(k) for _, _, k in G.edges(keys=True)}):
        lines.append(
            f"LOAD CSV WITH HEADERS FROM 'file:///{NEO4J_EDGES}' AS row WITH row WHERE row.`:TYPE` = '{rel}'\n"
            "MATCH (a:Entity {id: row.`:START_ID`}), (b:Entity {id: row.`:END_ID`})\n"
            f"MERGE (a)-[r:`{rel}` {{id: row.id}}]->(b)\n"
            "SET r.predicate = row.predicate, r.label = row.label, r.biolink = row.biolink,\n"
            "    r.strength = toInteger(row.`strength:int`), r.weight = toInteger(row.`weight:int`),\n"
            f"    r.claims = {arr('claims:string[]')}, r.sources = {arr('sources:string[]')},\n"
            f"    r.evidence = {arr('evidence:string[]')};")
    return "\n".join(lines) + "\n"


def _positions(G: nx.MultiDiGraph) -> dict:
    from kgraph.layout import force_layout
    from kgraph.viz import SEED

    return force_layout(G, seed=SEED)


def _edge_colour(strength: int) -> str:
    from kgraph.viz import STRENGTH_STYLES

    return STRENGTH_STYLES.get(strength, STRENGTH_STYLES[0])[1]


def cytoscape(G: nx.MultiDiGraph, al: Alignment, positions: dict | None = None) -> bytes:
    """Cytoscape.js elements JSON (also read by Cytoscape desktop and networkx's cytoscape_graph)."""
    out = BytesIO()
    write_cytoscape(out, G, al, positions)
    return out.getvalue()


#: where the nodes and the edges go in the document :func:`write_cytoscape` lays out
_SLOTS = {"nodes": "@@kgraph-nodes@@", "edges": "@@kgraph-edges@@"}


def write_cytoscape(out: BinaryIO, G: nx.MultiDiGraph, al: Alignment, positions: dict | None = None) -> None:
    """:func:`cytoscape` written to ``out`` a node or an edge at a time (x1000: the file
    and its elements, whole, took 2 GB)."""
    positions = _positions(G) if positions is None else positions

    def nodes() -> Iterator[dict]:
        for n, a in sorted(G.nodes(data=True)):
            x, y = positions.get(n, (0, 0))
            yield {"data": {"id": n, "value": n, "name": a["label"], "label": a["label"], "type": a["type"],
                            "type_label": a["type_label"], "category": _category(al, a["type"]),
                            "color": al.colours.get(a["type"], "#888888"), "description": a.get("description", ""),
                            "xrefs": a["xrefs"], "synonyms": a["synonyms"], "sources": a["sources"],
                            "iri": str(KGR[n])},
                   "position": {"x": x, "y": y}}

    def edges() -> Iterator[dict]:
        for s, o, k, a in sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[2], e[1])):
            yield {"data": {"id": edge_id(s, k, o), "key": edge_id(s, k, o), "source": s, "target": o,
                            "predicate": k, "label": a["label"], "biolink": _predicate(al, k),
                            "weight": a["strength"], "strength": a["strength"], "color": _edge_colour(a["strength"]),
                            "claims": a["claims"], "sources": a["sources"], "evidence": a["evidence"]}}

    made = {"nodes": (G.number_of_nodes(), nodes), "edges": (G.number_of_edges(), edges)}
    doc = {"format_version": "1.0", "generated_by": "kgraph", "target_cytoscapejs_version": "~3",
           "data": {"name": "kgraph"}, "directed": True, "multigraph": True,
           "elements": {name: [slot] if made[name][0] else [] for name, slot in _SLOTS.items()}}
    # indented, and each node and edge on a line of its own: a file a diff can compare, written by
    # json's C encoder (with an indent, json.dumps runs its pure-Python one: 8 s at x100); the
    # document is laid out with a slot for each list, whose items are written into it
    text = indented_json(doc, indent=" ", depth=3) + "\n"

    def pieces() -> Iterator[str]:
        rest = text
        for name, slot in sorted(_SLOTS.items(), key=lambda item: text.find(f'"{item[1]}"')):
            if not made[name][0]:
                continue
            head, rest = rest.split(f'"{slot}"')
            pad = head[head.rindex("\n") + 1:]
            yield head
            for i, item in enumerate(made[name][1]()):
                yield ("" if i == 0 else ",\n" + pad) + indented_json(item, pad, indent=" ", depth=0)
        yield rest

    write_text(out, pieces())


def graphml(G: nx.MultiDiGraph, al: Alignment, positions: dict | None = None) -> bytes:
    """GraphML with unique edge ids (``s|predicate|o``), ``weight`` (the evidence strength),
    colours (of the view) and the layout's ``x`` / ``y``; lists joined by ``|``."""
    out = BytesIO()
    write_graphml(out, G, al, positions)
    return out.getvalue()


def write_graphml(out: BinaryIO, G: nx.MultiDiGraph, al: Alignment, positions: dict | None = None) -> None:
    """:func:`graphml` written to ``out`` (networkx's lxml writer writes as it goes)."""
    import networkx as nx

    positions = _positions(G) if positions is None else positions
    H = nx.MultiDiGraph()
    for n, a in sorted(G.nodes(data=True)):
        x, y = positions.get(n, (0, 0))
        H.add_node(n, **{k: _scalar(v) for k, v in a.items()}, category=_category(al, a["type"]),
                   color=al.colours.get(a["type"], "#888888"), x=float(x), y=float(y))
    for s, o, k, a in sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[2], e[1])):
        # the id also as data: python-igraph 1.0's reader fills its edge "id" with vertex ids
        H.add_edge(s, o, key=edge_id(s, k, o), edge_id=edge_id(s, k, o), **{name: _scalar(v) for name, v in a.items()},
                   biolink=_predicate(al, k), weight=int(a["strength"]), color=_edge_colour(a["strength"]))
    nx.write_graphml(H, out, encoding="utf-8", prettyprint=True)
    H.clear()  # emptied (kgraph.pipeline.cycle_collector_paused)


def _scalar(value):
    if isinstance(value, (list, tuple, set)):
        return "|".join(str(v) for v in value)
    return value


def network_files(graph: Graph, G: nx.MultiDiGraph, positions: dict | None = None) -> dict[str, bytes]:
    """Every file of the network exports, by file name (``graph`` holds the ontology;
    ``positions``, ``G``'s :func:`kgraph.layout.force_layout`, when the caller has them)."""
    files = {}
    for name, write in each_network_file(graph, G, positions):
        out = BytesIO()
        write(out)
        files[name] = out.getvalue()
    return files


def each_network_file(graph: Graph, G: nx.MultiDiGraph, positions: dict | None = None
                      ) -> Iterator[tuple[str, Callable[[BinaryIO], None]]]:
    """:func:`network_files` one at a time, each as a function that writes it to a binary
    file: a caller that writes each away holds none of them whole (x1000: the GraphML
    alone is 340 MB, the Cytoscape JSON 400 MB)."""
    al = alignment(graph)
    positions = _positions(G) if positions is None else positions
    yield "kgraph.graphml", lambda out: write_graphml(out, G, al, positions)
    for name, data in kgx(G, al).items():
        yield name, lambda out, data=data: out.write(data)
    for name, data in neo4j(G, al).items():
        yield name, lambda out, data=data: out.write(data)
    yield "kgraph.cyjs", lambda out: write_cytoscape(out, G, al, positions)
