"""Draw the graph: one self-contained HTML page that works offline (issue 4).

:func:`kgraph.view.select_view` cuts the part of the network a user asked for;
:func:`render_view` lays it out and turns it into the page (the payload, then the page).
The nodes and edges are built with pyvis, but the page comes from kgraph's own template
(``templates/viz.*``, read by :mod:`kgraph.assets`): pyvis's template links Bootstrap and
more from CDNs. The vis-network library that pyvis ships is inlined, and a
Content-Security-Policy with the hash of each inline script and style forbids every other load.

Every string from the data reaches the page inside one JSON block
(``<script type="application/json">``) with ``<``, ``>``, ``&`` and the JavaScript line
separators escaped, and the page's script writes it with ``textContent`` only, so a
label such as ``<script>`` shows literally and runs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import networkx as nx

from kgraph.assess import belief_text
from kgraph.assets import template, vis_asset
from kgraph.layout import Positions, force_layout
from kgraph.linefiles import write_text
from kgraph.network import ClaimRecord, relation_id
from kgraph.prefixes import contract
from kgraph.view import (
    EntityType,
    View,
    ViewError,
    ViewOptions,
    complete_types,
    select_view,
    source_documents,
)

#: The page ``kgraph build`` writes next to the graph files, and ``kgraph viz``'s default.
VIEW_FILE = "kgraph.html"
#: Where ``kgraph viz`` writes a focused or filtered view by default.
PARTIAL_VIEW_FILE = "kgraph-view.html"
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
#: Edge width for belief 0 and belief 1: a relation's width grows with its belief (issue 12).
BELIEF_WIDTH = (0.8, 6.0)
#: Width and colour of an edge by the strength (1-5) of the strongest evidence behind it
#: (the width only when the graph has no beliefs).
STRENGTH_STYLES = {0: (1.0, "#c9ccd1"), 1: (1.0, "#b3b7bd"), 2: (1.8, "#8e949b"), 3: (2.6, "#686e75"),
                   4: (3.4, "#43484e"), 5: (4.2, "#1f2124")}
@dataclass
class Rendered:
    """A rendered page and what it shows."""

    html: str
    nodes: int
    edges: int
    precomputed_layout: bool
    crowded: bool


def render_html(network: nx.MultiDiGraph, options: ViewOptions | None = None, *,
                types: dict[str, EntityType] | None = None, reports: Reports | None = None,
                positions: Positions | None = None) -> str:
    """The page for a view of the network (see :func:`render_view`)."""
    return render_view(network, options, types=types, reports=reports, positions=positions).html


def write_html(out: BinaryIO, network: nx.MultiDiGraph, *, types: dict[str, EntityType] | None = None,
               positions: Positions | None = None) -> None:
    """:func:`render_html` of the whole network, written to ``out`` (UTF-8) a piece at a
    time, its data made as it is written (:func:`_payload`): neither the page nor its data
    is ever whole in memory. The data is ASCII (JSON's escapes), the library's script is not."""
    payload, view, *_ = _view_payload(network, None, types=types, reports=None, positions=positions)
    write_text(out, _page_pieces(payload))
    if view.network is not network:  # a copy: emptied (kgraph.pipeline.cycle_collector_paused)
        view.network.clear()


@dataclass(frozen=True)
class Reports:
    """Where evidence reports are served (``kgraph serve``: ``/report/``) and for which
    entities; the details panel links to them. A page written to a file has none."""

    base: str
    entities: tuple[str, ...]


def render_view(network: nx.MultiDiGraph, options: ViewOptions | None = None, *,
                types: dict[str, EntityType] | None = None, reports: Reports | None = None,
                positions: Positions | None = None) -> Rendered:
    """Select the view, lay it out and render the page.

    ``types`` (from :func:`entity_types`) groups subclasses under their top-level class
    for colours, the legend and ``--types``; without it each type is its own group.
    ``positions``, the network's :func:`kgraph.layout.force_layout` when the caller has it
    (the build lays the network out once, for the page and the network files), are used
    when the view is the whole network.
    """
    payload, view, precomputed, crowded = _view_payload(network, options, types=types, reports=reports,
                                                        positions=positions)
    return Rendered(html=_page(payload), nodes=view.network.number_of_nodes(), edges=view.network.number_of_edges(),
                    precomputed_layout=precomputed, crowded=crowded)


def _view_payload(network: nx.MultiDiGraph, options: ViewOptions | None, *, types: dict[str, EntityType] | None,
                  reports: Reports | None, positions: Positions | None) -> tuple[dict, View, bool, bool]:
    """The page's data for a view (:func:`render_view`), the view, and whether its layout is
    precomputed and it is crowded."""
    options = options or ViewOptions()
    types = complete_types(network, types or {})
    view = select_view(network, options, types=types)
    precomputed = view.network.number_of_nodes() > options.physics_limit
    crowded = view.network.number_of_nodes() > options.crowded
    payload = _payload(network, view, types, precomputed=precomputed, crowded=crowded, positions=positions)
    if reports is not None:
        payload["report_base"] = reports.base
        payload["reportable"] = sorted(set(reports.entities) & set(view.network.nodes))
    return payload, view, precomputed, crowded


# -- the page ------------------------------------------------------------------------

def _payload(network: nx.MultiDiGraph, view: View, types: dict[str, EntityType], *, precomputed: bool,
             crowded: bool, positions: Positions | None = None) -> dict:
    """Everything the page's script needs, as one JSON-ready dict whose large members (an
    entry per entity, relation, claim, vis-network node and edge) are made as they are
    written (:class:`_Entries`, :class:`_Items`, :func:`_json_pieces`): at x1000 the whole
    of them took 3 GB while the build wrote an 0.9 GB page."""
    G = view.network
    styles = _group_styles(types)
    whole = G.number_of_nodes() == network.number_of_nodes() and G.number_of_edges() == network.number_of_edges()
    vis_nodes, vis_edges = _vis_data(network, G, types, styles, positions if whole else None)

    def entity(node: str) -> dict:
        attrs = G.nodes[node]
        return {
            "label": attrs["label"], "type": attrs["type"], "type_label": attrs["type_label"],
            "description": attrs.get("description", ""), "synonyms": attrs.get("synonyms", []),
            "xrefs": [{"iri": iri, "name": _xref_name(iri)} for iri in attrs.get("xrefs", [])],
            "sources": attrs.get("sources", []), "claims": attrs.get("claims", []),
            "degree": network.degree(node),
        }

    edges = {f"{s}|{key}|{o}": (s, o, key) for s, o, key in G.edges(keys=True)}

    def relation(rid: str) -> dict:
        s, o, key = edges[rid]
        a = G.edges[s, o, key]
        return {"from": s, "to": o, "label": a["label"], "claims": a["claims"], "strength": a["strength"],
                "belief": a.get("belief"), "level": a.get("level"),
                "explanation": _assessment(network, s, key, o).get("explanation", "")}

    # Claims grouped by the relation they state, each group with its belief (issue 12).
    def claim_relation(c: ClaimRecord) -> str:
        return relation_id(c["subject"], c["predicate"], c["object"] if c["object"] is not None else c["value"])

    def claim(cid: str) -> dict:
        c = view.claims[cid]
        return {**_claim_record(c), "relation": claim_relation(c)}

    found = network.graph.get("assessments", {})
    assessed = sorted({rid for rid in map(claim_relation, view.claims.values()) if found.get(rid)})
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
        "entities": _Entries(G.nodes, entity),
        "relations": _Entries(edges, relation),
        "claims": _Entries(view.claims, claim),
        "assessments": _Entries(assessed, lambda rid: {k: found[rid][k] for k in ("belief", "level", "explanation")}),
        "names": names,
        "documents": _documents(network, view),
    }


class _Entries:
    """A JSON object of one entry per key, each value made by ``value(key)`` as it is
    written; the keys in JSON's ``sort_keys`` order."""

    def __init__(self, keys: Iterable[str], value: Callable[[str], object]) -> None:
        self.keys = sorted(keys)
        self.value = value


class _Items:
    """A JSON array whose items ``items()`` makes, one at a time, as it is written."""

    def __init__(self, items: Callable[[], Iterator[object]]) -> None:
        self.items = items


def _json_pieces(value: object) -> Iterator[str]:
    """``value`` as :func:`_json_for_script` writes it, in pieces: what it gives for a plain
    dict or list, :class:`_Entries` and :class:`_Items` standing for their dict and list."""
    if isinstance(value, dict) and _is_lazy(value):
        value = _Entries(value, value.__getitem__)
    if isinstance(value, _Entries):
        yield "{"
        for i, key in enumerate(value.keys):
            item = value.value(key)
            head = ("," if i else "") + _json_text(key) + ":"
            if _is_lazy(item):
                yield head
                yield from _json_pieces(item)
            else:
                yield head + _json_text(item)
        yield "}"
    elif isinstance(value, _Items):
        yield "["
        for i, item in enumerate(value.items()):
            yield ("," if i else "") + _json_text(item)
        yield "]"
    else:
        yield _json_text(value)


def _is_lazy(value: object) -> bool:
    """Whether ``value`` is, or holds, an :class:`_Entries` or :class:`_Items`."""
    if isinstance(value, (_Entries, _Items)):
        return True
    return isinstance(value, dict) and any(_is_lazy(v) for v in value.values())


def _json_text(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return text


def _vis_data(network: nx.MultiDiGraph, G: nx.MultiDiGraph, types: dict[str, EntityType],
              styles: dict[str, tuple[str, str]], positions: Positions | None = None) -> tuple[_Items, _Items]:
    """vis-network's nodes and edges for the view ``G`` (a view holds a subset of the
    network's nodes and edges: with as many of each, it is the network), built with pyvis
    one at a time as the page is written (pyvis keeps every node and edge it is given)."""
    from pyvis.network import Network  # imports IPython: only when drawing

    positions = force_layout(G, seed=SEED) if positions is None else positions

    def nodes() -> Iterator[dict]:
        net = Network(directed=True)
        net.node_ids = _IdList()
        for node, attrs in G.nodes(data=True):
            colour, shape = styles[types[attrs["type"]].group]
            options = {"size": _node_size(network.degree(node)),
                       "title": f"{attrs['label']} ({attrs['type_label']})", "color": _node_colour(colour)}
            if node in positions:
                options["x"], options["y"] = positions[node]
            if attrs.get("candidate"):  # kgraph build --with-candidates: not reviewed yet
                options["color"] = _node_colour(_paler(colour))
                options["shapeProperties"] = {"borderDashes": [4, 3]}
                options["title"] += " - candidate"
            net.add_node(node, label=attrs["label"], shape=shape, **options)
            del net.node_map[node]
            yield net.nodes.pop()

    def edges() -> Iterator[dict]:
        net = Network(directed=True)
        net.node_ids = _IdList()
        net.node_ids.extend(G.nodes)  # what add_edge checks its ends against
        # Edges between the same two nodes curve apart, each a little more than the last.
        parallel = Counter(frozenset((s, o)) for s, o in G.edges())
        seen: Counter = Counter()
        for s, o, key, attrs in G.edges(keys=True, data=True):
            width, colour = _edge_style(attrs["strength"], attrs.get("belief"))
            pair = frozenset((s, o))
            smooth = ({"enabled": True, "type": "curvedCW", "roundness": round(0.15 * (seen[pair] + 1), 2)}
                      if parallel[pair] > 1 else {"enabled": False})
            seen[pair] += 1
            extra = {"dashes": True} if attrs.get("candidate") else {}
            if extra:
                colour = _paler(colour)
            net.add_edge(s, o, id=f"{s}|{key}|{o}", label=attrs["label"], width=width, color={"color": colour},
                         smooth=smooth, title=f"{G.nodes[s]['label']} {attrs['label']} {G.nodes[o]['label']}"
                         + (f" (belief {belief_text(attrs['belief'])}, {attrs['level']})" if "belief" in attrs else ""),
                         **extra)
            yield net.edges.pop()

    return _Items(nodes), _Items(edges)


def _edge_style(strength: int, belief: float | None = None) -> tuple[float, str]:
    """Width from the relation's belief when the graph has one (issue 12), else from the
    strongest evidence; colour from the strongest evidence."""
    width, colour = STRENGTH_STYLES.get(strength, STRENGTH_STYLES[0])
    if belief is not None:
        width = round(BELIEF_WIDTH[0] + (BELIEF_WIDTH[1] - BELIEF_WIDTH[0]) * belief, 2)
    return width, colour


def _assessment(network: nx.MultiDiGraph, s: str, predicate: str, o: str) -> dict:
    return network.graph.get("assessments", {}).get(relation_id(s, predicate, o), {})


def _documents(network: nx.MultiDiGraph, view: View) -> dict[str, dict]:
    """Each source document of the view by id, named by its title and publisher."""
    described = network.graph.get("sources", {})
    out = {}
    for sid, file in sorted(source_documents(view.claims).items()):
        d = described.get(sid, {})
        out[sid] = {"file": file, "title": d.get("title") or file, "publisher": d.get("publisher_label") or ""}
    return out


def _paler(colour: str) -> str:
    """``colour`` (#rrggbb) mixed 55% with white: how candidates are drawn."""
    channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * 0.55):02x}" for c in channels)


class _IdList(list):
    """pyvis keeps node ids in a list and searches it for every node and edge added,
    which took a second for 5,000 nodes; this list answers ``in`` from a set."""

    def __init__(self):
        super().__init__()
        self._members: set = set()

    def append(self, item) -> None:
        super().append(item)
        self._members.add(item)

    def extend(self, items) -> None:
        for item in items:
            self.append(item)

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


def _entity_refs(claim: ClaimRecord) -> list[str]:
    refs = [claim.get("subject"), claim.get("object"), *claim.get("cites", []), *claim.get("attributed_to", [])]
    refs += [v for v in claim.get("qualifiers", {}).values()]
    return [r for r in refs if isinstance(r, str)]


def _claim_record(claim: ClaimRecord) -> dict:
    keys = ("subject", "predicate_label", "object", "value", "unit", "quote", "source", "source_file", "evidence_label",
            "strength", "modality", "flag", "note", "cites", "attributed_to", "qualifiers")
    return {k: claim.get(k) for k in keys}


def _xref_name(iri: str) -> str:
    """A short name for an external identifier: "CHEBI:6121" for an OBO IRI, "MeSH:D003863"."""
    return contract(iri, display=True) or iri


def _page(payload: dict) -> str:
    """The template with the library, the page's code and the data inlined."""
    return "".join(_page_pieces(payload))


def _page_pieces(payload: dict) -> Iterator[str]:
    """:func:`_page` as the pieces that, joined, make it: the template's text and what is
    inlined in it, in order, the data (:func:`_json_pieces`) made as it is written."""
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
    parts = {**scripts, **styles, "csp": csp}
    for name in ("vis_js", "app_js"):
        if "</script" in parts[name].casefold():
            raise ViewError(f"the inlined {name} contains '</script'", "Report this as a bug in kgraph.")
    split = re.split(r"\{\{(\w+)\}\}", template("viz.html"))  # text, name, text, name ... text
    for i, piece in enumerate(split):
        if i % 2 == 0:
            yield piece
        elif piece == "data":
            yield from _json_pieces(payload)
        else:
            yield parts[piece]


def _json_for_script(payload: dict) -> str:
    """JSON that cannot end its <script> element or be read as markup: ASCII (every other
    character, U+2028 and U+2029 among them, as JSON's escape), with ``&``, ``<`` and ``>``
    escaped too."""
    return "".join(_json_pieces(payload))


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


