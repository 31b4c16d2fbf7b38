"""The build's output contract: which file holds the graph, and how a build records its inputs.

``kgraph build`` (:mod:`kgraph.pipeline`) writes ``build-info.json`` beside the graph;
:mod:`kgraph.graphstore` reads it to decide whether the built graph is still current.
Both depend on this module and not on each other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kgraph.project import Project

BUILD_INFO = "build-info.json"
GRAPH_FILE = "kgraph.nt"


def input_files(project: Project) -> list[Path]:
    """Every file a build reads (data YAML, ontology and shapes), in a stable order."""
    # data/candidates/ is kgraph extract's and review's, never read by a build
    files = sorted(p for p in project.data_dir.rglob("*.yaml")
                   if p.is_file() and p.relative_to(project.data_dir).parts[0] != "candidates")
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


def build_info(project: Project, graph_bytes: bytes) -> bytes:
    """The content of ``build-info.json``: the inputs' fingerprint and the written graph's
    digest (no timestamps: deterministic)."""
    info = {"inputs_sha256": fingerprint(project), "graph": GRAPH_FILE,
            "graph_sha256": hashlib.sha256(graph_bytes).hexdigest()}
    return (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()


def is_fresh(project: Project, out_dir: Path | None = None) -> bool:
    """Whether the built graph in the output directory matches the current inputs."""
    out = out_dir or project.out_dir
    info, graph = out / BUILD_INFO, out / GRAPH_FILE
    if not (info.is_file() and graph.is_file()):
        return False
    try:
        recorded = json.loads(info.read_text(encoding="utf-8"))
        graph_sha = hashlib.sha256(graph.read_bytes()).hexdigest()
    except (OSError, ValueError, AttributeError):
        return False
    # a graph file overwritten since the build (or a half-copied one) is not fresh either
    return (isinstance(recorded, dict) and recorded.get("inputs_sha256") == fingerprint(project)
            and recorded.get("graph_sha256") == graph_sha)
