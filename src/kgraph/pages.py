"""The HTML pages of ``kgraph serve``: Jinja2 templates with one base layout, autoescaped.

The templates are package data (``kgraph/templates/*.html``, all extending ``base.html``);
every value from the graph reaches the page through autoescaping. This module turns
the network's entities and claims into plain values for them; :mod:`kgraph.serve` sends
the pages with their security headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import networkx as nx
    from jinja2 import Environment
    from rdflib import Graph


class Pages:
    """The page renderer of one server (its own Jinja2 environment; templates parsed once)."""

    def __init__(self, network: nx.MultiDiGraph | None, reports=None):
        """``network`` None: only the pages that show none of it (the app, errors)."""
        from jinja2 import (
            Environment,
            PackageLoader,
            StrictUndefined,
            select_autoescape,
        )

        self.network = network
        #: :class:`kgraph.viz.Reports` when the server has evidence reports
        self.reports = reports
        self.env: Environment = Environment(
            loader=PackageLoader("kgraph", "templates"),
            autoescape=select_autoescape(["html"], default_for_string=True, default=True),
            undefined=StrictUndefined, trim_blocks=False, keep_trailing_newline=True)

    def render(self, name: str, **values: Any) -> str:
        return self.env.get_template(name).render(**values)

    def app(self) -> str:
        return self.render("app.html", title="kgraph", current="/")

    def query(self, prefixes: list[str], downloads: dict, curies: list[list[str]]) -> str:
        """The query page; its script gets the download formats and the prefix map as data."""
        # labels: results show an entity's label next to its id (issue 13); the predeclared
        # prefix names feed the editor's completion
        labels = {node: data["label"] for node, data in sorted(self.network.nodes(data=True)) if "label" in data}
        return self.render("query.html", title="SPARQL query", current="/query", prefixes=prefixes,
                           page_data={"downloads": downloads, "prefixes": curies, "labels": labels,
                                      "predeclared": list(prefixes)})

    def error(self, status: int, reason: str, message: str, hint: str | None) -> str:
        return self.render("error.html", title=f"{status} {reason}", current="", status=status, reason=reason,
                           message=message, hint=hint)

    def entity(self, path: str, iri: str, described: Graph) -> str:
        """The page of an entity of the network, or of another IRI (a claim, a source) from its triples."""
        G = self.network
        if path in G:
            node = _node_view(G, path)
            reports = self.reports
            node["report"] = (f"{reports.base}{quote(path)}" if reports is not None and path in reports.entities
                              else None)
            return self.render("entity.html", title=node["label"], current="", iri=iri, node=node, rows=[])
        from rdflib import URIRef

        from kgraph.network import local_name

        rows = [(local_name(p), _term_ref(G, o)) for _, p, o in sorted(described.triples((URIRef(iri), None, None)))]
        return self.render("entity.html", title=path, current="", iri=iri, node=None, rows=rows)


def _term_ref(G, term) -> dict[str, str | None]:
    """A value on a claim or source page: IRIs of this graph link to their page (with the
    entity's label), web IRIs link out, anything else (literals, other schemes) is text."""
    from rdflib import URIRef

    from kgraph.prefixes import KG, KGR, contract

    text = str(term)
    if not isinstance(term, URIRef):
        return {"href": None, "label": text, "iri": None}
    if text.startswith(str(KG)):  # an ontology term: its entry in this server's /ontology page
        return {"href": f"/ontology#{quote(text[len(str(KG)):])}", "label": contract(text) or text, "iri": text}
    if text.startswith(str(KGR)):
        local = text[len(str(KGR)):]
        label = G.nodes[local]["label"] if local in G else (contract(text, display=True) or text)
        return {"href": f"/id/{quote(local, safe='/')}", "label": label, "iri": text}
    if text.startswith(("http://", "https://")):
        return {"href": text, "label": contract(text, display=True) or text, "iri": text}
    return {"href": None, "label": text, "iri": None}


def _ref(G, node_id) -> dict[str, str | None]:
    """A link to an entity's page, or plain text for what is not an entity."""
    if node_id in G:
        return {"href": f"/id/{quote(node_id)}", "label": G.nodes[node_id]["label"]}
    return {"href": None, "label": str(node_id)}


def _node_view(G, path: str) -> dict[str, Any]:
    node = G.nodes[path]
    relations = [{"arrow": "→", "label": data["label"], "other": _ref(G, other)}
                 for _, other, _, data in sorted(G.out_edges(path, keys=True, data=True))]
    relations += [{"arrow": "←", "label": data["label"], "other": _ref(G, other)}
                  for other, _, _, data in sorted(G.in_edges(path, keys=True, data=True))]
    claims = G.graph.get("claims", {})
    return {
        "label": node["label"],
        "type_label": node["type_label"],
        "type": node["type"],
        "description": node.get("description"),
        "synonyms": node.get("synonyms") or [],
        # only web links are links; any other scheme is shown as text
        "xrefs": [{"label": x, "href": x if str(x).startswith(("http://", "https://")) else None}
                  for x in node.get("xrefs") or []],
        "relations": relations,
        "claims": [_claim_view(claims[cid], G) for cid in node.get("claims", [])],
        "groups": _claim_groups(G, [claims[cid] for cid in node.get("claims", [])]),
    }


def _claim_groups(G, claims: list[dict]) -> list[dict[str, Any]]:
    """The claims grouped by the relation they state, best-backed relation first (issue 12);
    within a relation, strongest evidence first."""
    from kgraph.assess import belief_text
    from kgraph.network import relation_id

    assessments = G.graph.get("assessments", {})
    groups: dict[str, list[dict]] = {}
    for c in claims:
        key = relation_id(c["subject"], c["predicate"], c["object"] if c["object"] is not None else c["value"])
        groups.setdefault(key, []).append(c)
    out = []
    for key, members in groups.items():
        assessed = assessments.get(key)
        members.sort(key=lambda c: (-c.get("strength", 0), c["id"]))
        out.append({
            "belief": assessed["belief"] if assessed else None,
            "belief_text": belief_text(assessed["belief"]) if assessed else None,
            "level": assessed["level"] if assessed else None,
            "explanation": assessed["explanation"] if assessed else "",
            "claims": [_claim_view(c, G) for c in members],
        })
    out.sort(key=lambda g: (-(g["belief"] if g["belief"] is not None else -1), g["claims"][0]["id"]))
    return out


def _source_name(G, source_id: str, file: str) -> str:
    """A source by its publisher and title ("Privvy, “Ketamine Therapy: ...” (src-002)"), not its file name."""
    d = G.graph.get("sources", {}).get(source_id)
    if not d:
        return f"{file} ({source_id})"
    publisher = f"{d['publisher_label']}, " if d.get("publisher_label") else ""
    return f"{publisher}“{d['title']}” ({source_id})"


def _claim_view(claim: dict, G) -> dict[str, Any]:
    obj = claim["object"]
    if obj in G:
        target = _ref(G, obj)
    else:
        target = {"href": None, "label": f"{claim['value']}" + (f" {claim['unit']}" if claim.get("unit") else "")}
    return {
        "id": claim["id"],
        "href": f"/id/claim/{quote(claim['id'])}",
        "subject": _ref(G, claim["subject"]),
        "predicate": claim["predicate_label"],
        "object": target,
        "modality": claim["modality"],
        "flag": claim.get("flag"),
        "quote": claim["quote"],
        "source_file": claim["source_file"],
        "source": _source_name(G, claim["source"], claim["source_file"]),
        "evidence": claim["evidence_label"],
        "note": claim.get("note"),
    }
