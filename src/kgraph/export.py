"""Serialise the graph in the formats of :mod:`kgraph.formats`: deterministic bytes, atomic writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rdflib import Dataset as RDFDataset
from rdflib import Graph
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

from kgraph.build import BuiltGraph, bind_prefixes
from kgraph.errors import OutputError
from kgraph.formats import FORMATS_BY_NAME, Format, line_safe, of_kind

if TYPE_CHECKING:  # networkx takes ~0.3 s to import; only GraphML needs it (not `kgraph query`)
    import networkx as nx


#: The files ``kgraph build`` writes (besides stats.json and the HTML view), by format name.
BUILD_FORMATS = ("turtle", "nt", "jsonld", "xml", "trig", "graphml", "kgx", "neo4j", "cytoscape")


def sorted_copy(graph: Graph) -> Graph:
    """A copy whose triples were inserted in a stable order.

    rdflib's default store keeps triples in sets, whose order changes with Python's hash
    seed; SimpleMemory keeps insertion order, which the serialisers then follow.
    """
    out = Graph(store="SimpleMemory")
    bind_prefixes(out)
    for prefix, namespace in graph.namespaces():
        if prefix and prefix not in dict(out.namespaces()):
            out.bind(prefix, namespace, override=False)
    for triple in sorted(graph, key=lambda t: tuple(term.n3() for term in t)):
        out.add(triple)
    return out


def serialize_graph(graph: Graph, fmt: Format) -> bytes:
    """Serialise an RDF graph to bytes; the same graph always gives the same bytes."""
    if fmt.name == "nt":
        # one triple per line: rdflib escapes LF and CR in literals, so only "\n" separates
        # them (str.splitlines would also cut at U+2028, U+0085, ... inside a literal)
        lines = line_safe(graph.serialize(format="nt", encoding="utf-8").decode("utf-8")).split("\n")
        return ("\n".join(sorted(line for line in lines if line.strip())) + "\n").encode("utf-8")
    if fmt.name == "jsonld":
        from kgraph.prefixes import PREFIXES

        text = sorted_copy(graph).serialize(format="json-ld", context=dict(PREFIXES), auto_compact=True)
        # rdflib emits nodes and multi-valued properties in hash order: sort them.
        doc = _sort_jsonld(json.loads(text))
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    data = sorted_copy(graph).serialize(format=fmt.rdflib_name, encoding="utf-8")
    if fmt.name == "xml":
        data = _xml_exact(_sort_xmlns(data))
    elif fmt.name == "turtle":
        data = line_safe(data.decode("utf-8")).encode("utf-8")
    return data


def _sort_jsonld(node):
    if isinstance(node, dict):
        return {k: (v if k == "@list" else _sort_jsonld(v)) if k != "@list" else [_sort_jsonld(i) for i in v]
                for k, v in node.items()}
    if isinstance(node, list):
        items = [_sort_jsonld(i) for i in node]
        return sorted(items, key=lambda i: json.dumps(i, sort_keys=True, ensure_ascii=False))
    return node


_CDATA = re.compile(rb"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)


def _xml_exact(data: bytes) -> bytes:
    """RDF/XML whose every value reads back whole (issue 15).

    rdflib writes a literal holding both "<" and "&" as a CDATA section, where a CR cannot
    be escaped and every XML reader turns it into LF: such sections become escaped text,
    and every raw CR becomes ``&#13;`` (CR occurs only inside values there).
    """
    def escaped(match: re.Match) -> bytes:
        return match.group(1).replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")

    return _CDATA.sub(escaped, data).replace(b"\r", b"&#13;")


def _sort_xmlns(data: bytes) -> bytes:
    """rdflib writes the root element's namespace declarations in hash order: sort them.

    Only the declarations right after ``<rdf:RDF`` are touched: a literal further down
    may hold a line that looks like one.
    """
    lines = data.decode("utf-8").split("\n")
    root = next((i for i, line in enumerate(lines[:5]) if line.lstrip().startswith("<rdf:RDF")), None)
    idx: list[int] = []
    if root is not None:
        i = root + 1
        while i < len(lines) and lines[i].strip().startswith("xmlns:"):
            idx.append(i)
            i += 1
    if idx:
        first, last = idx[0], idx[-1]
        block = lines[first:last + 1]
        tail = ">" if block[-1].rstrip().endswith(">") else ""
        cleaned = sorted(line.rstrip().removesuffix(">") for line in block)
        cleaned[-1] += tail
        lines[first:last + 1] = cleaned
    return "\n".join(lines).encode("utf-8")


def serialize_dataset(ds: RDFDataset) -> bytes:
    """TriG with the named graphs in IRI order (the default graph first).

    rdflib orders the graphs of a TriG file by hash; each graph is therefore written on
    its own (Turtle sorts its subjects) and the pieces are joined in a stable order.
    """
    prefixes: set[str] = set()
    bodies: list[str] = []
    graphs = sorted(ds.graphs(), key=lambda g: (g.identifier != DATASET_DEFAULT_GRAPH_ID, str(g.identifier)))
    for graph in graphs:
        if len(graph) == 0:
            continue
        single = RDFDataset()
        bind_prefixes(single)
        target = single.graph(graph.identifier)  # the default graph's identifier gives the default graph
        for triple in graph:
            target.add(triple)
        lines = line_safe(single.serialize(format="trig")).split("\n")
        # rdflib writes every @prefix line first: only those leading lines are prefixes (a
        # long literal's line below may start with "@prefix" too)
        head = 0
        while head < len(lines) and (lines[head].startswith("@prefix") or not lines[head].strip()):
            head += 1
        prefixes.update(line for line in lines[:head] if line.startswith("@prefix"))
        bodies.append("\n".join(lines[head:]).strip("\n"))
    return ("\n".join(sorted(prefixes)) + "\n\n" + "\n\n".join(bodies) + "\n").encode("utf-8")


def serialize(graph: Graph, fmt: Format) -> bytes:
    """A graph (or a dataset, for a "dataset" format) in ``fmt``."""
    if fmt.kind == "dataset":
        return serialize_dataset(graph)
    if fmt.kind != "graph":
        raise ValueError(f"{fmt.name} is not an RDF format")
    return serialize_graph(graph, fmt)


def serialize_network(G: nx.MultiDiGraph, graph: Graph) -> bytes:
    """GraphML of the network (``graph`` holds the ontology: Biolink terms, colours)."""
    from kgraph.interchange import alignment, graphml

    return graphml(G, alignment(graph))


def network_file_names() -> list[str]:
    """The files of the network exports (:func:`kgraph.interchange.network_files`), from the registry."""
    return [name for fmt in of_kind("network") for name in fmt.file_names]


def build_files(built: BuiltGraph | Graph, network: nx.MultiDiGraph, stats: dict, *, rdf: bool = True,
                sizes=None, positions: dict | None = None, exports: dict | None = None) -> dict[str, bytes]:
    """Every file of ``kgraph build`` (but the HTML view), as bytes, by file name.

    ``rdf=False`` leaves out the RDF files (the build writes those from its store, with
    Oxigraph's serialisers: :func:`kgraph.store.export_files`). ``sizes``
    (:class:`kgraph.void.Sizes`) are the union graph's counts and ``positions`` the network's
    layout (:func:`kgraph.layout.force_layout`) when the caller has them, ``exports`` the
    network files when the caller made them (then taken as they are). With ``rdf=False``
    and ``sizes``, ``built`` may be any graph that holds the ontology (what the network
    files and the VoID description read of it): the build's RDF graph can be freed first.
    """
    from kgraph.interchange import network_files

    files: dict[str, bytes] = {}
    graph = built if isinstance(built, Graph) else built.graph
    if isinstance(built, Graph) and (rdf or sizes is None):
        raise TypeError("the RDF files and their sizes need the BuiltGraph")
    if exports is None:
        exports = network_files(graph, network, positions)
    for name in BUILD_FORMATS:
        fmt = FORMATS_BY_NAME[name]
        if fmt.kind != "network" and not rdf:
            continue
        if fmt.kind == "network":
            files.update({file: exports[file] for file in fmt.file_names})
        else:
            files["kgraph" + fmt.suffix] = serialize(built.dataset if fmt.kind == "dataset" else built.graph, fmt)
    files["stats.json"] = (json.dumps(stats, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    from kgraph.void import build_media_types, void_turtle

    # every file of the build, the RDF ones too when the store writes them
    names = [n for name in BUILD_FORMATS for n in FORMATS_BY_NAME[name].file_names] + ["stats.json"]
    files["void.ttl"] = void_turtle(graph if sizes is None else sizes, build_media_types(names))
    return files


def write_files(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write all files or none.

    They are written to a temporary folder first; then the files they replace are moved
    aside into it and the new ones renamed into place. If a rename fails, the new files
    are taken out and the old ones put back, so a build never leaves a mix of versions.
    (Between the two steps a file is briefly absent: a reader then finds no build rather
    than half of one.)
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".kgraph-tmp-", dir=out_dir))
    except OSError as exc:
        raise _cannot_write(out_dir, exc) from None
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        old = tmp / ".replaced"
        old.mkdir()
        aside: list[str] = []
        placed: list[str] = []
        try:
            for name in files:
                if (out_dir / name).exists():
                    os.replace(out_dir / name, old / name)
                    aside.append(name)
            for name in files:
                os.replace(tmp / name, out_dir / name)
                placed.append(name)
        except OSError:
            for name in placed:
                if name not in aside:
                    (out_dir / name).unlink(missing_ok=True)
            for name in aside:
                os.replace(old / name, out_dir / name)
            raise
        return [out_dir / name for name in files]
    except OSError as exc:
        raise _cannot_write(out_dir, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}",
                       "Choose a folder you can write to (--out / --output).")


def write_atomic(path: Path, data: bytes) -> Path:
    """Write one file atomically (temporary file in the same folder, then rename)."""
    if path.is_dir():
        raise OutputError(f"{path} is a folder", "Give a file name, e.g. --output result.csv.")
    if not path.parent.is_dir():
        raise OutputError(f"the folder {path.parent} does not exist", "Create it first, or write somewhere else.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
