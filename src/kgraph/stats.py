"""Counts that describe a built graph: per type, predicate, source and evidence kind."""

from __future__ import annotations

from collections import Counter

import networkx as nx


def compute_stats(triples: int, G: nx.MultiDiGraph, top: int = 10) -> dict:
    """A small JSON-able summary of the graph (deterministic: sorted keys and ties);
    ``triples``: how many the RDF graph holds (the union)."""
    claims = G.graph.get("claims", {})
    degree = sorted(((n, G.degree(n)) for n in G.nodes), key=lambda t: (-t[1], t[0]))
    return {
        "triples": triples,
        "entities": G.number_of_nodes(),
        "relations": G.number_of_edges(),
        "claims": len(claims),
        "statistics": sum(1 for c in claims.values() if isinstance(c["value"], (int, float))),
        "flagged_claims": sum(1 for c in claims.values() if c["flag"]),
        "entities_by_type": dict(sorted(Counter(d["type"] for _, d in G.nodes(data=True)).items())),
        "claims_by_predicate": dict(sorted(Counter(c["predicate"] for c in claims.values()).items())),
        "claims_by_source": dict(sorted(Counter(c["source_file"] for c in claims.values()).items())),
        "claims_by_evidence": dict(sorted(Counter(c["evidence_label"] for c in claims.values()).items())),
        "most_connected": [
            {"id": n, "label": G.nodes[n]["label"], "type": G.nodes[n]["type"], "degree": d}
            for n, d in degree[:top]
        ],
    }
