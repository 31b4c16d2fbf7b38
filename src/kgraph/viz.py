"""Draw the graph: one self-contained HTML page that works offline (issue 4).

:func:`select_view` cuts the part of the network a user asked for (``--focus``,
``--types``, ``--source``, ``--predicate``, ``--evidence``); :func:`render_view` turns it
into the page. The nodes and edges are built with pyvis, but the page comes from kgraph's
own template (``templates/viz.*``): pyvis's template links Bootstrap and more from CDNs. The
vis-network library that pyvis ships is inlined, and a Content-Security-Policy with the
hash of each inline script and style forbids every other load.

Every string from the data reaches the page inside one JSON block
(``<script type="application/json">``) with ``<``, ``>``, ``&`` and the JavaScript line
separators escaped, and the page's script writes it with ``textContent`` only, so a
label such as ``<script>`` shows literally and runs nothing.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources

import networkx as nx
from rdflib import RDFS, Graph, URIRef

from kgraph.errors import KgraphError
from kgraph.explore import resolve_predicate
from kgraph.layout import force_layout
from kgraph.lookup import find_entity
from kgraph.network import local_name
from kgraph.project import KG

#: The page ``kgraph build`` writes next to the graph files, and ``kgraph viz``'s default.
VIEW_FILE = "kgraph.html"
#: Where ``kgraph viz`` writes a focused or filtered view by default.
PARTIAL_VIEW_FILE = "kgraph-view.html"
#: Above this many nodes, positions are computed in Python and the browser's physics is
#: off: the physics run to settle 1,000 nodes took 2-4 s (benchmarks/viz_bench.py).
PHYSICS_LIMIT = 500
#: Above this many nodes the page says the view is too large to read and suggests --focus.
CROWDED = 400
#: The vis-network build inside the pyvis package.
VIS_DIR = ("lib", "vis-9.1.2")
#: The same seed for every page: the same graph always gives the same page.
SEED = 20240607

#: Colour and shape of the top-level entity classes of the ontology; their subclasses
#: share them (the legend lists the subclasses under each).
GROUP_STYLES: dict[str, tuple[str, str]] = {
    "Intervention": ("#d62728", "dot"),
    "Condition": ("#1f77b4", "diamond"),
    "SideEffect": ("#ff7f0e", "triangleDown"),
    "Mechanism": ("#2ca02c", "hexagon"),
    "Molecule": ("#17becf", "square"),
    "BrainRegion": ("#8c564b", "square"),
    "Study": ("#9467bd", "star"),
    "Organization": ("#7f7f7f", "square"),
    "Person": ("#e377c2", "dot"),
    "Population": ("#bcbd22", "triangle"),
    "Place": ("#6baed6", "triangle"),
    "Event": ("#e6a03c", "star"),
    "Concept": ("#a5a5a5", "dot"),
    "ClinicalUse": ("#74c476", "diamond"),
    "AssessmentInstrument": ("#9e9ac8", "triangleDown"),
}
#: For classes outside the table (an ontology grown since): taken in order of name.
FALLBACK_STYLES = (("#843c39", "dot"), ("#637939", "diamond"), ("#3182bd", "square"), ("#e7969c", "triangle"),
                   ("#7b4173", "star"), ("#bd9e39", "hexagon"), ("#393b79", "triangleDown"))
#: Width and colour of an edge by the strength (1-5) of the strongest evidence behind it.
STRENGTH_STYLES = {0: (1.0, "#c9ccd1"), 1: (1.0, "#b3b7bd"), 2: (1.8, "#8e949b"), 3: (2.6, "#686e75"),
                   4: (3.4, "#43484e"), 5: (4.2, "#1f2124")}
#: Short names of external identifiers, by IRI prefix.
XREF_PREFIXES = (
    ("http://purl.obolibrary.org/obo/", None),
    ("http://id.nlm.nih.gov/mesh/", "MeSH"),
    ("http://www.wikidata.org/entity/", "Wikidata"),
    ("https://ror.org/", "ROR"),
    ("https://pubmed.ncbi.nlm.nih.gov/", "PMID"),
    ("https://doi.org/", "doi"),
    ("https://pubchem.ncbi.nlm.nih.gov/compound/", "PubChem"),
    ("https://go.drugbank.com/drugs/", "DrugBank"),
    ("http://purl.uniprot.org/uniprot/", "UniProt"),
    ("https://identifiers.org/", ""),
)


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
    claims: dict[str, dict]
    focus: str | None
    filters: list[str] = field(default_factory=list)


@dataclass
class Rendered:
    """A rendered page and what it shows."""

    html: str
    nodes: int
    edges: int
    precomputed_layout: bool
    crowded: bool


def entity_types(graph: Graph) -> dict[str, EntityType]:
    """Every subclass of kg:Entity in an RDF graph that holds the ontology, by local name."""
    types: dict[str, EntityType] = {}

    def walk(cls: URIRef, lineage: tuple[str, ...]) -> None:
        for sub in sorted(graph.subjects(RDFS.subClassOf, cls)):
            name = local_name(sub)
            if isinstance(sub, URIRef) and name not in types:
                label = graph.value(sub, RDFS.label)
                types[name] = EntityType(name, str(label) if label is not None else name, (*lineage, name))
                walk(sub, (*lineage, name))

    walk(KG.Entity, ())
    return types


def render_html(network: nx.MultiDiGraph, options: ViewOptions | None = None, *,
                types: dict[str, EntityType] | None = None) -> str:
    """The page for a view of the network (see :func:`render_view`)."""
    return render_view(network, options, types=types).html


def render_view(network: nx.MultiDiGraph, options: ViewOptions | None = None, *,
                types: dict[str, EntityType] | None = None) -> Rendered:
    """Select the view, lay it out and render the page.

    ``types`` (from :func:`entity_types`) groups subclasses under their top-level class
    for colours, the legend and ``--types``; without it each type is its own group.
    """
    options = options or ViewOptions()
    types = _complete_types(network, types or {})
    view = select_view(network, options, types=types)
    precomputed = view.network.number_of_nodes() > options.physics_limit
    crowded = view.network.number_of_nodes() > options.crowded
    payload = _payload(network, view, types, precomputed=precomputed, crowded=crowded)
    return Rendered(html=_page(payload), nodes=view.network.number_of_nodes(), edges=view.network.number_of_edges(),
                    precomputed_layout=precomputed, crowded=crowded)


# -- choosing the view ---------------------------------------------------------------

def select_view(network: nx.MultiDiGraph, options: ViewOptions, *,
                types: dict[str, EntityType] | None = None) -> View:
    """The nodes, edges and claims of the view ``options`` asks for.

    ``--source`` and ``--evidence`` keep the claims from that document or of that kind,
    and the edges they back; ``--predicate`` keeps the edges of that predicate. With any
    of them, the nodes are the ends of the edges kept. ``--types`` keeps the nodes of
    those types or their subtypes. ``--focus`` then keeps the entity and what lies within
    ``--depth`` edges of it (either direction); the focus itself is never filtered out.
    """
    types = _complete_types(network, types or {})
    claims: dict[str, dict] = network.graph.get("claims", {})
    filters: list[str] = []
    if options.depth < 0:
        raise ViewError(f"--depth {options.depth} is negative", "Give 0 (the entity alone) or more.")
    wanted_source = wanted_kind = wanted_predicate = None
    if options.source:
        wanted_source = _source_id(claims, options.source)
        filters.append(f"source: {_documents(claims).get(wanted_source, wanted_source)}")
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


def _restrict(attrs: dict, kept: list[str], claims: dict[str, dict]) -> dict:
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
    close = difflib.get_close_matches(_key(wanted), sorted(by_key), n=3, cutoff=0.6)
    shown = sorted({by_key[k] for k in close})
    hint = f"Did you mean {' or '.join(shown)}? " if shown else ""
    known = [name if _key(label) == _key(name) else f"{name} ({label})" for name, label in sorted(names.items())]
    listed = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "")
    raise ViewError(f"{option} {wanted!r} matches no {what} in the graph",
                    f"{hint}Known: {listed}.")


def _documents(claims: dict[str, dict]) -> dict[str, str]:
    return {c["source"]: c["source_file"] for c in claims.values()}


def _source_id(claims: dict[str, dict], wanted: str) -> str:
    """A source document named by id ("src-001"), file name, or a part of either that
    only one document has ("001")."""
    documents = _documents(claims)
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


def _complete_types(network: nx.MultiDiGraph, types: dict[str, EntityType]) -> dict[str, EntityType]:
    """``types`` plus every type of the network it lacks (as a group of its own)."""
    out = dict(types)
    for _, attrs in network.nodes(data=True):
        name = attrs["type"]
        if name not in out:
            out[name] = EntityType(name, attrs.get("type_label") or name, (name,))
    return out


# -- the page ------------------------------------------------------------------------

def _payload(network: nx.MultiDiGraph, view: View, types: dict[str, EntityType], *, precomputed: bool,
             crowded: bool) -> dict:
    """Everything the page's script needs, as one JSON-ready dict."""
    G = view.network
    styles = _group_styles(types)
    vis_nodes, vis_edges = _vis_data(network, G, types, styles)
    entities = {}
    for node, attrs in G.nodes(data=True):
        entities[node] = {
            "label": attrs["label"], "type": attrs["type"], "type_label": attrs["type_label"],
            "description": attrs.get("description", ""), "synonyms": attrs.get("synonyms", []),
            "xrefs": [{"iri": iri, "name": _xref_name(iri)} for iri in attrs.get("xrefs", [])],
            "sources": attrs.get("sources", []), "claims": attrs.get("claims", []),
            "degree": network.degree(node),
        }
    relations = {f"{s}|{key}|{o}": {"from": s, "to": o, "label": a["label"], "claims": a["claims"],
                                     "strength": a["strength"]}
                 for s, o, key, a in G.edges(keys=True, data=True)}
    referenced = {ref for c in view.claims.values() for ref in _entity_refs(c)}
    names = {ref: network.nodes[ref]["label"] for ref in sorted(referenced) if ref in network and ref not in G}
    counts = Counter(attrs["type"] for _, attrs in G.nodes(data=True))
    kinds = {(c["evidence"], c["evidence_label"], c["strength"]) for c in view.claims.values()}
    return {
        "summary": {"entities": G.number_of_nodes(), "relations": G.number_of_edges(), "claims": len(view.claims),
                    "documents": len({c["source"] for c in view.claims.values()}),
                    "total_entities": network.number_of_nodes(), "total_relations": network.number_of_edges()},
        "filters": view.filters,
        "focus": view.focus,
        "layout": "precomputed" if precomputed else "physics",
        # Selecting a node fades the others in small views only: restyling 1,000 nodes took
        # vis-network 0.5 s a click; large views mark the neighbourhood instead.
        "fade_others": not precomputed,
        "crowded": crowded,
        "groups": _legend(types, counts, styles),
        "evidence": [{"name": name, "label": label, "strength": strength,
                      "width": _edge_style(strength)[0], "color": _edge_style(strength)[1]}
                     for name, label, strength in sorted(kinds, key=lambda k: (-k[2], k[1]))],
        "vis": {"nodes": vis_nodes, "edges": vis_edges, "options": _vis_options(precomputed)},
        "entities": entities,
        "relations": relations,
        "claims": {cid: _claim_record(c) for cid, c in view.claims.items()},
        "names": names,
        "documents": _documents(view.claims),
    }


def _vis_data(network: nx.MultiDiGraph, G: nx.MultiDiGraph, types: dict[str, EntityType],
              styles: dict[str, tuple[str, str]]) -> tuple[list[dict], list[dict]]:
    """vis-network's nodes and edges for the view ``G``, built with pyvis."""
    from pyvis.network import Network  # imports IPython: only when drawing

    positions = force_layout(G, seed=SEED)
    net = Network(directed=True)
    net.node_ids = _IdList()
    for node, attrs in G.nodes(data=True):
        colour, shape = styles[types[attrs["type"]].group]
        options = {"size": _node_size(network.degree(node)), "title": f"{attrs['label']} ({attrs['type_label']})",
                   "color": _node_colour(colour)}
        if node in positions:
            options["x"], options["y"] = positions[node]
        if attrs.get("candidate"):  # kgraph build --with-candidates: not reviewed yet
            options["color"] = _node_colour(_paler(colour))
            options["shapeProperties"] = {"borderDashes": [4, 3]}
            options["title"] += " - candidate"
        net.add_node(node, label=attrs["label"], shape=shape, **options)
    # Edges between the same two nodes curve apart, each a little more than the last.
    parallel = Counter(frozenset((s, o)) for s, o in G.edges())
    seen: Counter = Counter()
    for s, o, key, attrs in G.edges(keys=True, data=True):
        width, colour = _edge_style(attrs["strength"])
        pair = frozenset((s, o))
        smooth = ({"enabled": True, "type": "curvedCW", "roundness": round(0.15 * (seen[pair] + 1), 2)}
                  if parallel[pair] > 1 else {"enabled": False})
        seen[pair] += 1
        extra = {"dashes": True} if attrs.get("candidate") else {}
        if extra:
            colour = _paler(colour)
        net.add_edge(s, o, id=f"{s}|{key}|{o}", label=attrs["label"], width=width, color={"color": colour},
                     smooth=smooth, title=f"{G.nodes[s]['label']} {attrs['label']} {G.nodes[o]['label']}", **extra)
    return net.nodes, net.edges


def _paler(colour: str) -> str:
    """``colour`` (#rrggbb) mixed 55% with white: how candidates are drawn."""
    channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * 0.55):02x}" for c in channels)


def _edge_style(strength: int) -> tuple[float, str]:
    return STRENGTH_STYLES.get(strength, STRENGTH_STYLES[0])


class _IdList(list):
    """pyvis keeps node ids in a list and searches it for every node and edge added,
    which took a second for 5,000 nodes; this list answers ``in`` from a set."""

    def __init__(self):
        super().__init__()
        self._members: set = set()

    def append(self, item) -> None:
        super().append(item)
        self._members.add(item)

    def __contains__(self, item) -> bool:
        return item in self._members


def _node_size(degree: int) -> float:
    return round(min(8 + 4 * math.sqrt(degree), 44), 1)


def _node_colour(colour: str) -> dict:
    return {"background": colour, "border": "#ffffff",
            "highlight": {"background": colour, "border": "#202124"},
            "hover": {"background": colour, "border": "#202124"}}


def _group_styles(types: dict[str, EntityType]) -> dict[str, tuple[str, str]]:
    groups = sorted({t.group for t in types.values()})
    others = iter(FALLBACK_STYLES * (len(groups) // len(FALLBACK_STYLES) + 1))
    return {g: GROUP_STYLES[g] if g in GROUP_STYLES else next(others) for g in groups}


def _legend(types: dict[str, EntityType], counts: Counter, styles: dict[str, tuple[str, str]]) -> list[dict]:
    """The groups present in the view, each with its types present, largest first."""
    members: dict[str, list[str]] = defaultdict(list)
    for name in counts:
        members[types[name].group].append(name)
    legend = []
    for group, names in members.items():
        colour, shape = styles[group]
        rows = [{"name": n, "label": types[n].label, "count": counts[n]}
                for n in sorted(names, key=lambda n: (-counts[n], types[n].label))]
        legend.append({"name": group, "label": types[group].label if group in types else group, "color": colour,
                       "shape": shape, "count": sum(r["count"] for r in rows), "types": rows})
    return sorted(legend, key=lambda g: (-g["count"], g["label"]))


def _vis_options(precomputed: bool) -> dict:
    """vis-network options: physics that stabilises (then the page turns it off), or none.

    Every view starts from :func:`kgraph.layout.force_layout`'s positions (deterministic,
    and a good start); small views then settle in the browser's physics.
    """
    physics = {"enabled": False} if precomputed else {
        # Starts from the precomputed positions too, so a short run settles it.
        "solver": "forceAtlas2Based",
        "forceAtlas2Based": {"gravitationalConstant": -60, "springLength": 80, "avoidOverlap": 0.3},
        "stabilization": {"enabled": True, "iterations": 100, "updateInterval": 50, "fit": True},
    }
    return {
        "autoResize": True,
        "layout": {"randomSeed": SEED, "improvedLayout": False},
        "physics": physics,
        "nodes": {"borderWidth": 1.5, "font": {"size": 14, "color": "#202124", "strokeWidth": 3,
                                               "strokeColor": "#ffffff"},
                  "widthConstraint": {"maximum": 180}},
        "edges": {"arrows": {"to": {"enabled": True, "scaleFactor": 0.55}}, "selectionWidth": 2,
                  "font": {"size": 10, "color": "#4d5156", "strokeWidth": 3, "strokeColor": "#ffffff",
                           "align": "middle"},
                  "smooth": {"enabled": False}},
        "interaction": {"hover": not precomputed, "tooltipDelay": 300, "hideEdgesOnDrag": precomputed,
                        "hideEdgesOnZoom": precomputed, "keyboard": False, "multiselect": False},
    }


def _entity_refs(claim: dict) -> list[str]:
    refs = [claim.get("subject"), claim.get("object"), *claim.get("cites", []), *claim.get("attributed_to", [])]
    refs += [v for v in claim.get("qualifiers", {}).values()]
    return [r for r in refs if isinstance(r, str)]


def _claim_record(claim: dict) -> dict:
    keys = ("subject", "predicate_label", "object", "value", "unit", "quote", "source", "source_file", "evidence_label",
            "strength", "modality", "flag", "note", "cites", "attributed_to", "qualifiers")
    return {k: claim.get(k) for k in keys}


def _xref_name(iri: str) -> str:
    """A short name for an external identifier: "CHEBI:6121" for an OBO IRI, "MeSH:D003863"."""
    for prefix, name in XREF_PREFIXES:
        if iri.startswith(prefix):
            rest = iri[len(prefix):]
            if name is None:
                return rest.replace("_", ":", 1)
            return f"{name}:{rest}" if name else rest
    return iri


def _page(payload: dict) -> str:
    """The template with the library, the page's code and the data inlined."""
    scripts = {"vis_js": vis_asset("vis-network.min.js"), "app_js": template("viz.js")}
    styles = {"vis_css": vis_asset("vis-network.css"), "app_css": template("viz.css")}
    csp = "; ".join([
        "default-src 'none'",
        "script-src " + " ".join(_csp_hash(text) for text in scripts.values()),
        "style-src " + " ".join(_csp_hash(text) for text in styles.values()),
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
    ])
    parts = {**scripts, **styles, "csp": csp, "data": _json_for_script(payload)}
    for name in ("vis_js", "app_js"):
        if "</script" in parts[name].casefold():
            raise ViewError(f"the inlined {name} contains '</script'", "Report this as a bug in kgraph.")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], template("viz.html"))


def _json_for_script(payload: dict) -> str:
    """JSON that cannot end its <script> element or be read as markup."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@functools.lru_cache(maxsize=None)
def template(name: str) -> str:
    """A template or script shipped in ``kgraph/templates`` (package data, read once)."""
    return (resources.files("kgraph") / "templates" / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def vis_asset(name: str) -> str:
    """vis-network's script or style sheet, read (once) from the installed pyvis package."""
    path = resources.files("pyvis").joinpath(*VIS_DIR, name)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ViewError(f"vis-network not found in the installed pyvis: {path}",
                        "Reinstall kgraph's dependencies: pip install 'pyvis>=0.3.2,<0.4'.") from exc
    # The source map is not shipped; its comment would only make developer tools look for it.
    return re.sub(r"\s*//# sourceMappingURL=\S*\s*$", "\n", text)
