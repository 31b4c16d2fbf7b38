"""``kgraph build --with-candidates``: the graph with the pending candidates drawn in.

The preview is one extra page (``kgraph-preview.html``) beside the normal build; the
candidates never enter the RDF, the other files or ``kgraph.html``. Candidate entities
and relations are marked ``candidate`` on the network, which :mod:`kgraph.viz` draws
dashed and paler; candidate claims are listed with "candidate" in their evidence label.
"""

from __future__ import annotations

import networkx as nx

from kgraph.candidates import check_candidates, read_candidates, settle_known_entities
from kgraph.model import Dataset, Vocabulary
from kgraph.project import Project
from kgraph.review import pending_files

PREVIEW_FILE = "kgraph-preview.html"
CANDIDATE_MARK = " (candidate, not reviewed)"


def preview_network(network: nx.MultiDiGraph, project: Project, dataset: Dataset,
                    vocab: Vocabulary) -> tuple[nx.MultiDiGraph, int]:
    """A copy of ``network`` with every pending candidate added; and how many claims."""
    G = network.copy()
    for node in G.nodes:
        G.nodes[node]["claims"] = list(G.nodes[node].get("claims", []))
    claims = dict(G.graph.get("claims", {}))
    added = 0
    for path in pending_files(project):
        cset = read_candidates(path, str(path.relative_to(project.root)) if path.is_relative_to(project.root)
                               else str(path))
        settle_known_entities(cset, dataset)
        check_candidates(cset, dataset, vocab)
        sid = cset.source_id
        for ent in cset.entities:
            if ent["id"] in G:
                continue
            G.add_node(ent["id"], label=ent["label"], type=ent["type"],
                       type_label=vocab.class_labels.get(ent["type"], ent["type"]),
                       description=f"Candidate entity from {sid}{CANDIDATE_MARK}.",
                       synonyms=list(ent.get("synonyms") or []), xrefs=[], sources=[sid], claims=[], candidate=True)
        for c in cset.claims:
            kind = vocab.evidence_kinds[c["evidence"]]
            prop = vocab.properties[c["predicate"]]
            cid = f"{sid}/{c['id']}"
            record = {
                "id": cid, "subject": c["subject"], "predicate": c["predicate"], "predicate_label": prop.label,
                "object": c.get("object"), "value": c.get("value"), "unit": c.get("unit"), "quote": c["quote"],
                "source": sid, "source_file": str(cset.source.get("file")), "evidence": c["evidence"],
                "evidence_label": kind.label + CANDIDATE_MARK, "strength": kind.strength,
                "modality": c.get("modality") or "asserted", "flag": c.get("flag"), "note": c.get("note"),
                "cites": list(c.get("cites") or []), "attributed_to": list(c.get("attributed_to") or []),
                "qualifiers": dict(c.get("qualifiers") or {}), "candidate": True,
            }
            claims[cid] = record
            added += 1
            for ref in {c["subject"], c.get("object"), *record["cites"], *record["attributed_to"]}:
                if ref in G:
                    G.nodes[ref]["claims"].append(cid)
            obj = c.get("object")
            if obj is None or record["modality"] == "negated" or c["subject"] not in G or obj not in G:
                continue
            key = c["predicate"]
            if G.has_edge(c["subject"], obj, key):
                edge = G.edges[c["subject"], obj, key]
                edge["claims"] = [*edge["claims"], cid]
            else:
                G.add_edge(c["subject"], obj, key=key, predicate=key, label=prop.label, claims=[cid], sources=[sid],
                           evidence=[c["evidence"]], strength=kind.strength, candidate=True)
    G.graph["claims"] = claims
    return G, added
