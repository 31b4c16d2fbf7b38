"""Open the built graph for reading, rebuilding it first when its inputs changed.

``kgraph build`` records a fingerprint of its inputs (every data and ontology file) in
``output/build-info.json``. Commands that read the graph (stats, query, show, ...)
compare it with the current files: when they match, the graph is parsed from
``output/kgraph.nt``; when not (or when the build is missing), the graph is rebuilt and
written first, so a user never queries stale data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import networkx as nx
from rdflib import Graph

from kgraph.project import Project

BUILD_INFO = "build-info.json"
GRAPH_FILE = "kgraph.nt"


def input_files(project: Project) -> list[Path]:
    """Every file a build reads (data YAML, ontology and shapes), in a stable order."""
    files = sorted(p for p in project.data_dir.rglob("*.yaml") if p.is_file())
    files += [p for p in (project.ontology_file, project.shapes_file) if p.is_file()]
    return files


def fingerprint(project: Project) -> str:
    """SHA-256 over the names and contents of the build's input files."""
    from kgraph import __version__

    digest = hashlib.sha256(f"kgraph {__version__}\n".encode())
    for path in input_files(project):
        try:
            name = path.relative_to(project.data_dir.parent)
        except ValueError:
            name = Path(path.name)
        digest.update(f"{name.as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode())
    return digest.hexdigest()


def build_info(project: Project) -> bytes:
    """The content of ``build-info.json`` for the current inputs (no timestamps: deterministic)."""
    return (json.dumps({"inputs_sha256": fingerprint(project), "graph": GRAPH_FILE}, indent=2, sort_keys=True)
            + "\n").encode()


def is_fresh(project: Project, out_dir: Path | None = None) -> bool:
    """Whether the built graph in the output directory matches the current inputs."""
    out = out_dir or project.out_dir
    info, graph = out / BUILD_INFO, out / GRAPH_FILE
    if not (info.is_file() and graph.is_file()):
        return False
    try:
        recorded = json.loads(info.read_text(encoding="utf-8")).get("inputs_sha256")
    except (OSError, ValueError):
        return False
    return recorded == fingerprint(project)


@dataclass
class Graphs:
    """The graph as RDF and as a networkx network, and whether it was rebuilt to get it."""

    graph: Graph
    network: nx.MultiDiGraph
    rebuilt: bool


def load_graphs(project: Project, *, rebuild: bool = False, step: Callable[[str], None] | None = None) -> Graphs:
    """The current graph: parsed from the output directory, or rebuilt when stale."""
    from kgraph.network import to_networkx

    if not rebuild and is_fresh(project):
        graph = Graph()
        graph.parse(project.out_dir / GRAPH_FILE, format="nt")
        return Graphs(graph=graph, network=to_networkx(graph), rebuilt=False)
    from kgraph.pipeline import build

    result = build(project, step=step or (lambda _: None))
    return Graphs(graph=result.built.graph, network=result.network, rebuilt=True)
