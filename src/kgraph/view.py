"""Which part of the graph to show: the view options, their lookups and the selection.

:func:`select_view` cuts the part of the network a user asked for (``--focus``,
``--types``, ``--source``, ``--predicate``, ``--evidence``). It needs networkx only, not
the drawing: :mod:`kgraph.viz` draws the view, and the server can reuse the selection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import networkx as nx
from rdflib import RDFS, Graph

from kgraph.errors import KgraphError
from kgraph.explore import resolve_predicate
from kgraph.hierarchy import class_tree
from kgraph.lookup import find_entity
from kgraph.names import close_names
from kgraph.network import ClaimRecord, local_name
from kgraph.prefixes import KG

#: Above this many nodes, positions are computed in Python and the browser's physics is
#: off: the physics run to settle 1,000 nodes took 2-4 s (benchmarks/viz_bench.py).
PHYSICS_LIMIT = 500
#: Above this many nodes the page says the view is too large to read and suggests --focus.
CROWDED = 400

class ViewError(KgraphError):
    """A view cannot be drawn: an option names nothing in the graph, or leaves nothing."""


@dataclass(frozen=True)
class ViewOptions:
    """What part of the graph to draw; the defaults draw all of it."""

    focus: str | None = None
    depth: int = 1
    types: tuple[str, ...] = ()
    source: str | None = None
    predicate: str | None = None
    evidence: str | None = None
    physics_limit: int = PHYSICS_LIMIT
    crowded: int = CROWDED

    @property
    def is_whole_graph(self) -> bool:
        return not (self.focus or self.types or self.source or self.predicate or self.evidence)


@dataclass(frozen=True)
class EntityType:
    """An entity class: its local name, label and superclasses from the top-level one down."""

    name: str
    label: str
    lineage: tuple[str, ...]

    @property
    def group(self) -> str:
        return self.lineage[0]


@dataclass
class View:
    """The part of the network to draw, with the claims that back it."""

    network: nx.MultiDiGraph
    claims: dict[str, ClaimRecord]
    focus: str | None
    filters: list[str] = field(default_factory=list)


def entity_types(graph: Graph) -> dict[str, EntityType]:
    """Every subclass of kg:Entity in an RDF graph that holds the ontology, by local name."""
    types: dict[str, EntityType] = {}
    for cls, path in class_tree(graph, KG.Entity):
        name = local_name(cls)
        label = graph.value(cls, RDFS.label)
        types.setdefault(name, EntityType(name, str(label) if label is not None else name,
                                          tuple(local_name(c) for c in path)))
    return types


def select_view(network: nx.MultiDiGraph, options: ViewOptions, *,
                types: dict[str, EntityType] | None = None) -> View:
    """The nodes, edges and claims of the view ``options`` asks for.

    ``--source`` and ``--evidence`` keep the claims from that document or of that kind,
    and the edges they back; ``--predicate`` keeps the edges of that predicate. With any
    of them, the nodes are the ends of the edges kept. ``--types`` keeps the nodes of
    those types or their subtypes. ``--focus`` then keeps the entity and what lies within
    ``--depth`` edges of it (either direction); the focus itself is never filtered out.
    """
    types = complete_types(network, types or {})
    claims: dict[str, ClaimRecord] = network.graph.get("claims", {})
    filters: list[str] = []
    if options.depth < 0:
        raise ViewError(f"--depth {options.depth} is negative", "Give 0 (the entity alone) or more.")
    wanted_source = wanted_kind = wanted_predicate = None
    if options.source:
        wanted_source = _source_id(claims, options.source)
        filters.append(f"source: {source_documents(claims).get(wanted_source, wanted_source)}")
    if options.evidence:
        kinds = {c["evidence"]: c["evidence_label"] for c in claims.values()}
        wanted_kind = _choose("--evidence", options.evidence, "evidence kind", kinds)
        filters.append(f"evidence: {kinds[wanted_kind]}")
    if options.predicate:
        wanted_predicate = resolve_predicate(network, options.predicate)
        label = next(a["label"] for *_, a in network.edges(data=True) if a["predicate"] == wanted_predicate)
        filters.append(f"predicate: {label}")
    wanted_types: set[str] = set()
    for name in options.types:
        chosen = _choose("--types", name, "entity type", {t.name: t.label for t in types.values()})
        wanted_types.add(chosen)
    if wanted_types:
        filters.append("types: " + ", ".join(sorted(types[t].label for t in wanted_types)))
    focus = find_entity(network, options.focus) if options.focus else None

    def kept_claims(ids: list[str]) -> list[str]:
        if wanted_source is None and wanted_kind is None:
            return list(ids)
        return [cid for cid in ids if (wanted_source is None or claims[cid]["source"] == wanted_source)
                and (wanted_kind is None or claims[cid]["evidence"] == wanted_kind)]

    edge_filtered = wanted_source or wanted_kind or wanted_predicate
    view = nx.MultiDiGraph()
    edges = []
    for s, o, key, attrs in network.edges(keys=True, data=True):
        kept = kept_claims(attrs["claims"])
        if kept and (wanted_predicate is None or attrs["predicate"] == wanted_predicate):
            edges.append((s, o, key, _restrict(attrs, kept, claims)))
    candidates = {n for s, o, *_ in edges for n in (s, o)} if edge_filtered else set(network.nodes)
    if wanted_types:
        candidates = {n for n in candidates if wanted_types & set(types[network.nodes[n]["type"]].lineage)}
    if focus is not None:
        candidates.add(focus)
    for node in sorted(candidates):
        attrs = network.nodes[node]
        view.add_node(node, **{**attrs, "claims": kept_claims(attrs.get("claims", []))})
    for s, o, key, attrs in edges:
        if s in candidates and o in candidates:
            view.add_edge(s, o, key=key, **attrs)
    if focus is not None:
        reach = nx.single_source_shortest_path_length(view.to_undirected(as_view=True), focus, cutoff=options.depth)
        # built node by node: networkx's subgraph views iterate a set (hash order)
        focused = nx.MultiDiGraph()
        focused.add_nodes_from((n, view.nodes[n]) for n in view.nodes if n in reach)
        focused.add_edges_from((s, o, k, a) for s, o, k, a in view.edges(keys=True, data=True)
                               if s in reach and o in reach)
        view = focused
        filters.insert(0, f"focus: {network.nodes[focus]['label']} (depth {options.depth})")
    if view.number_of_nodes() == 0 and filters:  # (an empty graph draws an empty page)
        raise ViewError(f"no entity is left to draw ({'; '.join(filters)})",
                        "Loosen --types, --source, --predicate or --evidence.")
    used = {cid for *_, a in view.edges(data=True) for cid in a["claims"]}
    used.update(cid for _, a in view.nodes(data=True) for cid in a["claims"])
    return View(network=view, claims={cid: claims[cid] for cid in sorted(used) if cid in claims}, focus=focus,
                filters=filters)


def _restrict(attrs: dict, kept: list[str], claims: dict[str, ClaimRecord]) -> dict:
    """An edge's attributes recomputed from the claims kept (unchanged when all are)."""
    if len(kept) == len(attrs["claims"]):
        return dict(attrs)
    records = [claims[cid] for cid in kept]
    return {**attrs, "claims": kept, "sources": sorted({c["source"] for c in records}),
            "evidence": sorted({c["evidence"] for c in records}), "strength": max(c["strength"] for c in records)}


def _key(text: str) -> str:
    """How option values are compared: "cites-rct", "CitesRCT" and "cites RCT" are one."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


def _choose(option: str, wanted: str, what: str, names: dict[str, str]) -> str:
    """The name (of ``names``: name -> label) that ``wanted`` means, by name or label."""
    by_key: dict[str, str] = {}
    for name, label in sorted(names.items()):
        by_key.setdefault(_key(name), name)
        by_key.setdefault(_key(label), name)
    if _key(wanted) in by_key:
        return by_key[_key(wanted)]
    close = close_names(_key(wanted), sorted(by_key))
    shown = sorted({by_key[k] for k in close})
    hint = f"Did you mean {' or '.join(shown)}? " if shown else ""
    known = [name if _key(label) == _key(name) else f"{name} ({label})" for name, label in sorted(names.items())]
    listed = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "")
    raise ViewError(f"{option} {wanted!r} matches no {what} in the graph",
                    f"{hint}Known: {listed}.")


def source_documents(claims: dict[str, ClaimRecord]) -> dict[str, str]:
    return {c["source"]: c["source_file"] for c in claims.values()}


def _source_id(claims: dict[str, ClaimRecord], wanted: str) -> str:
    """A source document named by id ("src-001"), file name, or a part of either that
    only one document has ("001")."""
    documents = source_documents(claims)
    names = {sid: sid for sid in documents}
    for sid, file in documents.items():
        names[file] = sid
        names[file.rsplit(".", 1)[0]] = sid
    key = _key(wanted)
    if key and not any(_key(name) == key for name in names):
        partial = {sid for name, sid in names.items() if key in _key(name)}
        if len(partial) == 1:
            return partial.pop()
    return _choose("--source", wanted, "source document", {sid: file for sid, file in documents.items()})


def complete_types(network: nx.MultiDiGraph, types: dict[str, EntityType]) -> dict[str, EntityType]:
    """``types`` plus every type of the network it lacks (as a group of its own)."""
    out = dict(types)
    for _, attrs in network.nodes(data=True):
        name = attrs["type"]
        if name not in out:
            out[name] = EntityType(name, attrs.get("type_label") or name, (name,))
    return out
