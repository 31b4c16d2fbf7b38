"""Node positions computed in Python, so that a page never waits for a layout (issue 4).

Views too large for the browser's physics are drawn at these positions with physics off;
smaller views start from them and settle in a short physics run.

Each connected component is laid out on its own, then the components are packed in rows,
largest first. A component starts from Pivot MDS (Brandes & Pich, 2006: shortest-path
distances from a few pivot nodes, computed by networkx, projected to the plane), which
gets the overall shape right without the folds a random start leaves, and is then
refined by a force-directed pass (Fruchterman-Reingold) that evens out local distances.

networkx's own ``spring_layout`` took 87 s for 5,000 nodes on the development machine
(its large-graph paths loop over the nodes in Python), so the refinement is vectorised,
and each step's repulsion comes from a random sample of the nodes, scaled up to stand
for all of them. Every random choice is seeded and ties are broken by node id: the same
graph always gets the same positions, hence a byte-identical page.
"""

from __future__ import annotations

import math
from typing import Hashable

import networkx as nx
import numpy as np

#: Distance between two linked nodes, in vis-network's pixel units.
EDGE_LENGTH = 100.0
#: Free space around each packed component, in edge lengths.
MARGIN = 2.0

Positions = dict[Hashable, tuple[int, int]]


def force_layout(G: nx.Graph, *, seed: int = 1, iterations: int = 120, sample: int = 128) -> Positions:
    """Positions ``{node: (x, y)}`` in whole pixels (edge direction is ignored).

    The same nodes and edges and the same seed give the same positions, whatever order
    the nodes were added in.
    """
    undirected = nx.Graph()
    undirected.add_nodes_from(sorted(G.nodes, key=str))
    undirected.add_edges_from((u, v) for u, v in G.edges() if u != v)
    components = sorted((sorted(c, key=str) for c in nx.connected_components(undirected)),
                        key=lambda c: (-len(c), str(c[0])))
    rng = np.random.default_rng(seed)
    placed = [_component_layout(undirected, nodes, rng, iterations, sample) for nodes in components]
    undirected.clear()  # emptied (kgraph.pipeline.cycle_collector_paused)
    return {node: (round(float(x) * EDGE_LENGTH), round(float(y) * EDGE_LENGTH))
            for node, (x, y) in _pack(placed).items()}


def _component_layout(G: nx.Graph, nodes: list, rng: np.random.Generator, iterations: int,
                      sample: int) -> tuple[list, np.ndarray]:
    """One component's positions in edge lengths, centred on the origin."""
    n = len(nodes)
    if n <= 2:
        return nodes, np.array([[float(i), 0.0] for i in range(n)])
    index = {node: i for i, node in enumerate(nodes)}
    pairs = np.array(sorted((min(index[u], index[v]), max(index[u], index[v])) for u, v in G.subgraph(nodes).edges()),
                     dtype=np.intp)
    pos = _pivot_mds(G, nodes, index)
    edge_lengths = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T)
    pos /= max(float(np.median(edge_lengths)), 1e-9)  # one edge length apart, as the refinement wants
    pos += rng.normal(scale=0.05, size=pos.shape)  # separates nodes MDS puts on one spot
    _refine(pos, pairs[:, 0], pairs[:, 1], rng, iterations, sample)
    return nodes, pos - pos.mean(axis=0)


def _pivot_mds(G: nx.Graph, nodes: list, index: dict, pivots: int = 40) -> np.ndarray:
    """Classical MDS of the hop distances to a few far-apart pivots (farthest-first)."""
    n = len(nodes)
    k = min(pivots, n)
    dist = np.zeros((n, k))
    nearest = np.full(n, np.inf)
    pivot = max(range(n), key=lambda i: (G.degree(nodes[i]), -i))
    for j in range(k):
        for node, d in nx.single_source_shortest_path_length(G, nodes[pivot]).items():
            dist[index[node], j] = d
        nearest = np.minimum(nearest, dist[:, j])
        pivot = int(np.argmax(nearest))
    squared = dist ** 2
    centred = -0.5 * (squared - squared.mean(axis=0) - squared.mean(axis=1)[:, None] + squared.mean())
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    pos = u[:, :2] * s[:2]
    if pos.shape[1] < 2:
        pos = np.column_stack([pos, np.zeros(n)])
    return pos


def _refine(pos: np.ndarray, src: np.ndarray, dst: np.ndarray, rng: np.random.Generator, iterations: int,
            sample: int) -> None:
    """Fruchterman-Reingold steps in place: edges pull (d^2), nodes push (1/d), cooling."""
    n = len(pos)
    x, y = pos[:, 0].copy(), pos[:, 1].copy()
    temperature, floor = 1.0, 0.01
    cooling = (floor / temperature) ** (1 / iterations) if iterations else 1.0
    for _ in range(iterations):
        others = np.arange(n) if n <= sample else rng.choice(n, size=sample, replace=False)
        dx = x[:, None] - x[None, others]
        dy = y[:, None] - y[None, others]
        inv = dx * dx + dy * dy
        inv[inv == 0] = np.inf  # a node does not push itself
        np.reciprocal(inv, out=inv)
        scale = n / len(others)
        fx = (dx * inv).sum(axis=1) * scale
        fy = (dy * inv).sum(axis=1) * scale
        ex, ey = x[src] - x[dst], y[src] - y[dst]
        pull = np.hypot(ex, ey)
        fx += np.bincount(dst, ex * pull, n) - np.bincount(src, ex * pull, n)
        fy += np.bincount(dst, ey * pull, n) - np.bincount(src, ey * pull, n)
        length = np.maximum(np.hypot(fx, fy), 1e-9)
        step = np.minimum(length, temperature) / length
        x += fx * step
        y += fy * step
        temperature *= cooling
    pos[:, 0], pos[:, 1] = x, y


def _pack(placed: list[tuple[list, np.ndarray]]) -> dict:
    """Components side by side in rows (largest first), rows about as wide as the whole is tall."""
    if not placed:
        return {}
    boxes = [(nodes, pos - pos.min(axis=0), np.ptp(pos, axis=0) + MARGIN) for nodes, pos in placed]
    width = max(math.sqrt(sum(w * h for _, _, (w, h) in boxes)), max(w for _, _, (w, _) in boxes))
    out: dict = {}
    x = y = row_height = 0.0
    for nodes, pos, (w, h) in boxes:
        if x > 0 and x + w > width:
            x, y, row_height = 0.0, y + row_height, 0.0
        for node, (px, py) in zip(nodes, pos):
            out[node] = (px + x, py + y)
        x += w
        row_height = max(row_height, h)
    centre = np.mean(list(out.values()), axis=0)
    return {node: (px - centre[0], py - centre[1]) for node, (px, py) in out.items()}
