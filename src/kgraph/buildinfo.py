"""The build's output contract: which file holds the graph, and how a build records its inputs.

``kgraph build`` (:mod:`kgraph.pipeline`) writes ``build-info.json`` beside the graph;
:mod:`kgraph.graphstore` reads it to decide whether the built graph is still current.
Both depend on this module and not on each other. Both files are read from the published
build folder (:func:`kgraph.publish.current_dir`), so they always belong to one build.

The counts it records (claims, entities, triples) let the next build notice a graph that
shrank: losing more than :data:`SHRINK_LIMIT` of the claims is an error unless asked for
(``kgraph build --allow-shrink``), so a missing or renamed data file is never silent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kgraph.errors import DataError
from kgraph.project import Project
from kgraph.publish import current_dir

BUILD_INFO = "build-info.json"
GRAPH_FILE = "kgraph.nt"
#: the largest share of the previous build's claims a build may lose without --allow-shrink
SHRINK_LIMIT = 0.2


def input_files(project: Project) -> list[Path]:
    """Every file a build reads (data YAML, ontology, shapes, packaged priors), in a stable order."""
    # data/candidates/ is kgraph extract's and review's, never read by a build
    files = sorted(p for p in project.data_dir.rglob("*.yaml")
                   if p.is_file() and p.relative_to(project.data_dir).parts[0] != "candidates")
    files += [p for p in (project.ontology_file, project.shapes_file) if p.is_file()]
    # the packaged error priors shape the evidence graph too (issue 12)
    from importlib import resources

    from kgraph.project import PRIORS_FILE

    packaged = Path(str(resources.files("kgraph") / PRIORS_FILE))
    if packaged.is_file():
        files.append(packaged)
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


def build_info(project: Project, graph_bytes: bytes, counts: dict[str, int] | None = None) -> bytes:
    """The content of ``build-info.json``: the inputs' fingerprint, the written graph's
    digest and ``counts`` (claims, entities, triples); no timestamps: deterministic."""
    info = {"inputs_sha256": fingerprint(project), "graph": GRAPH_FILE,
            "graph_sha256": hashlib.sha256(graph_bytes).hexdigest()}
    if counts is not None:
        info["counts"] = dict(counts)
    return (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()


def recorded_info(out_dir: Path) -> dict:
    """The published build's ``build-info.json`` ({} when there is none or it is unreadable)."""
    try:
        info = json.loads((current_dir(out_dir) / BUILD_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def check_shrink(out_dir: Path, claims: int, *, limit: float = SHRINK_LIMIT) -> None:
    """Refuse a build with no claims, or one that loses more than ``limit`` of the claims
    of the build published in ``out_dir`` (raises :class:`DataError`)."""
    if claims == 0:
        raise DataError("the data has no claims: the graph would be empty",
                        hint="Check that data/claims/ holds the claim files (*.yaml); "
                             "run kgraph build --allow-shrink to build it anyway.")
    counts = recorded_info(out_dir).get("counts")
    before = counts.get("claims") if isinstance(counts, dict) else None
    if not isinstance(before, int) or isinstance(before, bool) or before <= 0:
        return
    lost = before - claims
    if lost > limit * before:
        raise DataError(f"the graph would lose {lost} of the {before} claims of the last build in {out_dir} "
                        f"({lost / before:.0%}; more than {limit:.0%})",
                        hint="Check that no claim file was deleted, renamed or emptied by mistake; "
                             "run kgraph build --allow-shrink if the loss is intended.")


def is_fresh(project: Project, out_dir: Path | None = None) -> bool:
    """Whether the built graph in the output directory matches the current inputs."""
    out = current_dir(out_dir or project.out_dir)
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
