"""How fast the HTML view opens (issue 4): a benchmark to run by hand, not a test.

For the corpus graph and synthetic graphs of 1,000 and 5,000 nodes, side by side in one
run of headless Chromium (Debian's /usr/bin/chromium, every request blocked):

* render  -- seconds kgraph takes to write the page (layout included);
* size    -- the page in MB;
* interactive -- seconds from navigation until vis-network first drew the graph;
* stabilised  -- seconds until the layout settled (physics done, or drawn at precomputed
  positions);
* select  -- milliseconds to select a node (neighbourhood highlight and details panel).

Targets: corpus interactive in under 2 s; 5,000 nodes usable in under 10 s.

Usage:

    python benchmarks/viz_bench.py [--runs 3] [--screenshot docs/kgraph-screenshot.png]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
from playwright.sync_api import sync_playwright

from kgraph.pipeline import build
from kgraph.project import Project
from kgraph.view import ViewOptions, entity_types
from kgraph.viz import render_view

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def synthetic_network(n: int, like: nx.MultiDiGraph, seed: int = 7) -> nx.MultiDiGraph:
    """A graph of ``n`` entities shaped like the corpus graph: its types and predicates,
    about as many relations per entity, a few hubs (preferential attachment), one or two
    claims with a quote behind each relation."""
    rng = random.Random(seed)
    types = sorted({(a["type"], a["type_label"]) for _, a in like.nodes(data=True)})
    predicates = sorted({(a["predicate"], a["label"]) for *_, a in like.edges(data=True)})
    kinds = sorted({(c["evidence"], c["evidence_label"], c["strength"]) for c in like.graph["claims"].values()})
    ratio = like.number_of_edges() / like.number_of_nodes()
    G = nx.MultiDiGraph()
    for i in range(n):
        kind, label = rng.choice(types)
        G.add_node(f"e{i:05d}", label=f"{label} {i}", type=kind, type_label=label, description=f"Synthetic {label}.",
                   synonyms=[f"synonym {i}"], xrefs=[], sources=["src-000"], claims=[])
    targets: list[str] = ["e00000"]
    claims: dict[str, dict] = {}
    nodes = list(G.nodes)
    while G.number_of_edges() < int(n * ratio):
        s = rng.choice(nodes)
        o = rng.choice(targets) if rng.random() < 0.7 else rng.choice(nodes)
        if s == o:
            continue
        predicate, label = rng.choice(predicates)
        if G.has_edge(s, o, key=predicate):
            continue
        ids = []
        for _ in range(rng.choice((1, 1, 2))):
            evidence, evidence_label, strength = rng.choice(kinds)
            cid = f"c{len(claims):06d}"
            claims[cid] = {"id": cid, "subject": s, "predicate": predicate, "predicate_label": label, "object": o,
                           "value": None, "unit": None, "quote": f"A sentence of about this length saying that "
                           f"{G.nodes[s]['label']} {label} {G.nodes[o]['label']}.", "source": "src-000",
                           "source_file": "synthetic.txt", "evidence": evidence, "evidence_label": evidence_label,
                           "strength": strength, "modality": "asserted", "flag": None, "note": None, "cites": [],
                           "attributed_to": [], "qualifiers": {}}
            ids.append(cid)
            G.nodes[s]["claims"].append(cid)
            G.nodes[o]["claims"].append(cid)
        strength = max(claims[c]["strength"] for c in ids)
        G.add_edge(s, o, key=predicate, predicate=predicate, label=label, claims=ids, sources=["src-000"],
                   evidence=sorted({claims[c]["evidence"] for c in ids}), strength=strength)
        targets += [s, o]
    G.graph["claims"] = claims
    return G


def _only(route, url: str, blocked: list[str]) -> None:
    """Let the page itself load; block and record every other request."""
    if route.request.url == url:
        route.continue_()
    else:
        blocked.append(route.request.url)
        route.abort()


def measure(page, path: Path) -> dict:
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-stabilised=true]", state="attached", timeout=300_000)
    interactive, stabilised = page.evaluate("() => [kgraph.state.interactive, kgraph.state.stabilised]")
    select = page.evaluate("""() => {
        const ids = kgraph.nodes.getIds(), id = ids[Math.floor(ids.length / 2)];
        const t0 = performance.now();
        kgraph.selectEntity(id);
        kgraph.network.redraw();
        return performance.now() - t0; }""")
    drawn = page.evaluate("() => kgraph.network.body.nodeIndices.length")
    return {"interactive": interactive / 1000, "stabilised": stabilised / 1000, "select": select, "drawn": drawn}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="page loads per graph (the median is shown)")
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the corpus graph here")
    args = parser.parse_args()

    corpus = build(Project.at(REPO), write=False)
    types = entity_types(corpus.built.graph)
    cases = [
        ("corpus", corpus.network, ViewOptions()),
        ("synthetic 1,000", synthetic_network(1000, corpus.network), ViewOptions()),
        ("synthetic 1,000 (physics)", synthetic_network(1000, corpus.network), ViewOptions(physics_limit=1000)),
        ("synthetic 5,000", synthetic_network(5000, corpus.network), ViewOptions()),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        blocked: list[str] = []
        for i, (name, network, options) in enumerate(cases):
            start = time.perf_counter()
            page_html = render_view(network, options, types=types)
            rendered = time.perf_counter() - start
            path = Path(tmp) / f"view-{i}.html"
            path.write_text(page_html.html, encoding="utf-8")
            runs = []
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                uri = path.as_uri()
                context.route("**/*", lambda route, uri=uri: _only(route, uri, blocked))
                page = context.new_page()
                runs.append(measure(page, path))
                if name == "corpus" and args.screenshot and len(runs) == 1:
                    page.evaluate("() => kgraph.selectEntity('ketamine')")
                    page.wait_for_timeout(800)
                    page.evaluate("() => kgraph.network.fit({animation: false})")
                    page.wait_for_timeout(200)
                    args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(args.screenshot))
                context.close()
            assert all(r["drawn"] == network.number_of_nodes() for r in runs)
            rows.append({"graph": name, "nodes": network.number_of_nodes(), "edges": network.number_of_edges(),
                         "layout": "precomputed" if page_html.precomputed_layout else "physics",
                         "render": rendered, "size": len(page_html.html.encode("utf-8")) / 1e6,
                         **{k: statistics.median(r[k] for r in runs) for k in ("interactive", "stabilised", "select")}})
        browser.close()

    header = ["graph", "nodes", "edges", "layout", "render s", "HTML MB", "interactive s", "stabilised s", "select ms"]
    table = [[r["graph"], f"{r['nodes']:,}", f"{r['edges']:,}", r["layout"], f"{r['render']:.2f}", f"{r['size']:.2f}",
              f"{r['interactive']:.2f}", f"{r['stabilised']:.2f}", f"{r['select']:.0f}"] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    print(f"kgraph viz benchmark: headless Chromium, median of {args.runs} page loads, every request blocked")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table:
        print("| " + " | ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) + " |")
    print(f"requests blocked: {len(blocked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
