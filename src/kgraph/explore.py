"""Graph questions without SPARQL, on the networkx network (:mod:`kgraph.network`).

* :func:`describe_entity` -- everything about one entity (``kgraph show``);
* :func:`neighbors` -- the entities within a few relations of one (``kgraph neighbors``);
* :func:`shortest_paths` -- how two entities are connected (``kgraph path``);
* :func:`centrality` -- the most central entities (``kgraph central``).

Entities are found by :func:`kgraph.lookup.find_entity` (id, label or synonym). Every
function returns data; :mod:`kgraph.cli` prints it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgraph.errors import QueryError
from kgraph.lookup import find_entity, normalize
from kgraph.names import did_you_mean

if TYPE_CHECKING:
    import networkx as nx
    from rdflib import Graph

    from kgraph.network import ClaimRecord

CENTRALITY_MEASURES = ("degree", "pagerank", "betweenness")


@dataclass(frozen=True)
class Relation:
    """One relation (network edge) as seen from an entity: ``out`` to ``other`` or ``in`` from it."""

    predicate: str
    label: str
    direction: str  # "out" or "in"
    other: str
    other_label: str
    sources: tuple[str, ...]
    evidence: tuple[str, ...]
    claims: tuple[str, ...]


@dataclass
class EntityReport:
    """What ``kgraph show`` prints about one entity."""

    id: str
    label: str
    type: str
    type_label: str
    description: str
    synonyms: list[str]
    xrefs: list[str]
    sources: list[str]
    outgoing: list[Relation]
    incoming: list[Relation]
    #: the claim records (see :mod:`kgraph.network`) that mention the entity, by id
    claims: list[ClaimRecord] = field(default_factory=list)


def describe_entity(G: "nx.MultiDiGraph", name: str) -> EntityReport:
    """Everything the network knows about the entity called ``name``."""
    node = find_entity(G, name)
    attrs = G.nodes[node]
    relations = _relations(G, node)
    all_claims = G.graph.get("claims", {})
    return EntityReport(
        id=node,
        label=attrs.get("label", node),
        type=attrs.get("type", ""),
        type_label=attrs.get("type_label", ""),
        description=attrs.get("description", ""),
        synonyms=list(attrs.get("synonyms", [])),
        xrefs=list(attrs.get("xrefs", [])),
        sources=list(attrs.get("sources", [])),
        outgoing=[r for r in relations if r.direction == "out"],
        incoming=[r for r in relations if r.direction == "in"],
        claims=[all_claims[c] for c in attrs.get("claims", []) if c in all_claims],
    )


def claim_statement(G: "nx.MultiDiGraph", claim: ClaimRecord) -> str:
    """A claim as a short sentence: "ketamine -- blocks (antagonist of) -> NMDA receptor"."""
    subject = _label(G, claim["subject"])
    if claim["object"] is not None:
        target = _label(G, claim["object"])
    else:
        target = f"{claim['value']} {claim['unit']}" if claim.get("unit") else str(claim["value"])
    negation = "not " if claim.get("modality") == "negated" else ""
    return f"{subject} — {negation}{claim['predicate_label']} → {target}"


def report_text(G: "nx.MultiDiGraph", report: EntityReport) -> str:
    """The report as ``kgraph show`` prints it: header, relations out and in, claims with quotes."""
    lines = [f"{report.label} ({report.id}): {report.type_label}"]
    lines += [f"  {report.description}"] if report.description else []
    for title, values in (("synonyms", report.synonyms), ("identifiers", report.xrefs),
                          ("mentioned in", report.sources)):
        if values:
            lines.append(f"  {title}: {', '.join(values)}")
    for title, relations in (("Relations out", report.outgoing), ("Relations in", report.incoming)):
        lines.append(f"{title} ({len(relations)}):")
        for r in relations:
            ends = (report.label, r.other_label) if r.direction == "out" else (r.other_label, report.label)
            lines.append(f"  {ends[0]} → {r.label} → {ends[1]}   [{', '.join(r.sources)}]")
    lines.append(f"Claims ({len(report.claims)}):")
    for c in report.claims:
        marks = [c["modality"]] if c["modality"] != "asserted" else []
        marks += [c["flag"]] if c["flag"] else []
        lines += [f"  {c['id']}  {claim_statement(G, c)}",
                  f"      {' · '.join([c['source_file'], c['evidence_label'], *marks])}",
                  f"      “{c['quote']}”"]
    return "\n".join(lines)


@dataclass(frozen=True)
class Neighbor:
    """An entity within reach: how far, and the relations from the entity it was reached from."""

    id: str
    label: str
    type: str
    distance: int
    parent: str
    relations: tuple[Relation, ...]


def neighbors(G: "nx.MultiDiGraph", name: str, *, depth: int = 1, predicate: str | None = None) -> list[Neighbor]:
    """Entities within ``depth`` relations of ``name`` (either direction), nearest first.

    ``predicate`` (a predicate's local name or label, e.g. "treats") follows only those relations.
    """
    start = find_entity(G, name)
    wanted = resolve_predicate(G, predicate) if predicate else None
    found: list[Neighbor] = []
    seen = {start}
    frontier = [start]
    for distance in range(1, depth + 1):
        reached: dict[str, list[Relation]] = {}
        parents: dict[str, str] = {}
        for node in frontier:
            for relation in _relations(G, node):
                if wanted is not None and relation.predicate != wanted:
                    continue
                if relation.other in seen and relation.other not in reached:
                    continue
                if parents.setdefault(relation.other, node) == node:
                    reached.setdefault(relation.other, []).append(relation)
        for other in sorted(reached, key=lambda n: (normalize(_label(G, n)), n)):
            attrs = G.nodes[other]
            found.append(Neighbor(other, attrs.get("label", other), attrs.get("type", ""), distance,
                                  parents[other], tuple(reached[other])))
        seen.update(reached)
        frontier = sorted(reached)
        if not frontier:
            break
    return found


def resolve_predicate(G: "nx.MultiDiGraph", name: str) -> str:
    """The local name of the relation called ``name`` (local name or label, ignoring case)."""
    predicates = {attrs["predicate"]: attrs.get("label", attrs["predicate"]) for _, _, attrs in G.edges(data=True)}
    wanted = normalize(name)
    for local, label in sorted(predicates.items()):
        if wanted in (normalize(local), normalize(label)):
            return local
    hint = did_you_mean(name, sorted(predicates), cutoff=0.5)
    raise QueryError(f"no relation called '{name}' in the graph",
                     f"{hint + ' ' if hint else ''}Relations: {', '.join(sorted(predicates))}.")


@dataclass(frozen=True)
class Step:
    """One hop of a path: from ``source`` to ``target`` over the relations between them."""

    source: str
    target: str
    #: (predicate label, "out" if source -> target else "in") for every relation between them
    relations: tuple[tuple[str, str], ...]


def shortest_paths(G: "nx.MultiDiGraph", start: str, end: str, *, max_paths: int = 5,
                   directed: bool = False) -> list[list[Step]]:
    """Up to ``max_paths`` shortest relation paths from ``start`` to ``end`` ([] if none).

    Relations are followed in either direction unless ``directed`` is true.
    """
    import networkx as nx

    a, b = find_entity(G, start), find_entity(G, end)
    if a == b:
        return [[]]
    view = G if directed else G.to_undirected(as_view=True)
    try:
        node_paths = list(itertools.islice(nx.all_shortest_paths(view, a, b), max_paths))
    except nx.NetworkXNoPath:
        return []
    return [[_step(G, u, v, directed) for u, v in zip(path, path[1:])] for path in node_paths]


def _step(G: "nx.MultiDiGraph", u: str, v: str, directed: bool) -> Step:
    relations = [(attrs.get("label", key), "out") for key, attrs in sorted(G.get_edge_data(u, v, default={}).items())]
    if not directed:
        relations += [(attrs.get("label", key), "in")
                      for key, attrs in sorted(G.get_edge_data(v, u, default={}).items())]
    return Step(u, v, tuple(relations))


def format_path(G: "nx.MultiDiGraph", path: list[Step]) -> str:
    """"ketamine → blocks (antagonist of) → NMDA receptor"; ← marks a relation followed backwards."""
    if not path:
        return ""
    text = _label(G, path[0].source)
    for step in path:
        labels = " / ".join(label for label, _ in step.relations)
        directions = {direction for _, direction in step.relations}
        arrow = "→" if directions == {"out"} else "←" if directions == {"in"} else "↔"
        text += f" {arrow} {labels} {arrow} {_label(G, step.target)}"
    return text


@dataclass(frozen=True)
class Ranked:
    id: str
    label: str
    type: str
    score: float


def centrality(G: "nx.MultiDiGraph", *, by: str = "degree", types: set[str] | None = None,
               top: int = 10) -> list[Ranked]:
    """The ``top`` entities by ``by`` (degree, pagerank or betweenness), of ``types`` only if given.

    Degree counts every relation in and out; PageRank follows relations in their direction
    (what many things point to ranks high); betweenness treats them as undirected (what
    lies on many shortest connections).
    """
    import networkx as nx

    if by == "degree":
        scores = {n: float(d) for n, d in G.degree()}
    elif by == "pagerank":
        scores = pagerank(nx.DiGraph(G))
    elif by == "betweenness":
        scores = nx.betweenness_centrality(nx.Graph(G.to_undirected(as_view=True)))
    else:
        raise QueryError(f"unknown centrality measure '{by}'", f"Use one of: {', '.join(CENTRALITY_MEASURES)}.")
    ranked = sorted(((n, s) for n, s in scores.items() if types is None or G.nodes[n].get("type") in types),
                    key=lambda item: (-item[1], item[0]))
    return [Ranked(n, G.nodes[n].get("label", n), G.nodes[n].get("type", ""), s) for n, s in ranked[:top]]


def pagerank(G: "nx.DiGraph", alpha: float = 0.85, tol: float = 1e-10, max_iter: int = 200) -> dict[str, float]:
    """PageRank by power iteration, as ``networkx.pagerank`` computes it (unweighted).

    networkx's own needs SciPy, which kgraph does not depend on for this one measure.
    Dangling nodes (no relations out) spread their rank evenly over all nodes.
    """
    nodes = sorted(G)
    if not nodes:
        return {}
    n = len(nodes)
    rank = dict.fromkeys(nodes, 1.0 / n)
    out_degree = {node: G.out_degree(node) for node in nodes}
    for _ in range(max_iter):
        dangling = alpha * sum(rank[node] for node in nodes if out_degree[node] == 0) / n
        new = dict.fromkeys(nodes, (1.0 - alpha) / n + dangling)
        for node in nodes:
            if out_degree[node]:
                share = alpha * rank[node] / out_degree[node]
                for target in G.successors(node):
                    new[target] += share
        if sum(abs(new[node] - rank[node]) for node in nodes) < n * tol:
            return new
        rank = new
    return rank


def entity_types(graph: "Graph", name: str) -> set[str]:
    """Local names of the entity class called ``name`` (local name or label) and its subclasses."""
    from rdflib import RDFS

    from kgraph.hierarchy import subclasses
    from kgraph.network import local_name
    from kgraph.prefixes import KG

    classes = subclasses(graph, KG.Entity)
    wanted = normalize(name)
    match = [c for c in sorted(classes)
             if wanted in (normalize(local_name(c)), normalize(str(graph.value(c, RDFS.label) or "")))]
    if not match:
        names = sorted(local_name(c) for c in classes)
        hint = did_you_mean(name, names, cutoff=0.5)
        raise QueryError(f"no entity type called '{name}'", f"{hint + ' ' if hint else ''}Types: {', '.join(names)}.")
    return {local_name(sub) for c in match for sub in subclasses(graph, c)}


def _relations(G: "nx.MultiDiGraph", node: str) -> list[Relation]:
    found = []
    for _, other, key, attrs in G.out_edges(node, keys=True, data=True):
        found.append(_relation(G, attrs, key, "out", other))
    for other, _, key, attrs in G.in_edges(node, keys=True, data=True):
        found.append(_relation(G, attrs, key, "in", other))
    return sorted(found, key=lambda r: (r.direction != "out", r.label, normalize(r.other_label), r.other))


def _relation(G: "nx.MultiDiGraph", attrs: dict, key: str, direction: str, other: str) -> Relation:
    return Relation(predicate=attrs.get("predicate", key), label=attrs.get("label", key), direction=direction,
                    other=other, other_label=_label(G, other), sources=tuple(attrs.get("sources", [])),
                    evidence=tuple(attrs.get("evidence", [])), claims=tuple(attrs.get("claims", [])))


def _label(G: "nx.MultiDiGraph", node: str | None) -> str:
    if node is None:
        return ""
    return G.nodes[node].get("label", node) if node in G else node
