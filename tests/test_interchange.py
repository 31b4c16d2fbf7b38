"""The network exports (KGX, Neo4j, Cytoscape.js, GraphML), each read by its consumer where installed."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from rdflib import Graph, URIRef

from kgraph.formats import FORMATS_BY_NAME, of_kind
from kgraph.interchange import BIOLINK, QUALIFIERS, alignment, network_files

BIOLINK_TERMS = Path(__file__).parent / "fixtures" / "biolink-4.4.4-terms.txt"
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"
REPO = Path(__file__).resolve().parent.parent


def _consumer(module: str, *, in_test_extra: bool = True):
    """Import a consumer, or skip when it is not installed here (fail under CI when the
    [test] extra installs it)."""
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("CI") and in_test_extra:
            pytest.fail(f"{module} is not installed -- the CI variable is set, so the consumer test must run")
        pytest.skip(f"{module} is not installed (pip install {module})")


def _biolink_terms() -> set[str]:
    terms = set()
    for line in BIOLINK_TERMS.read_text().splitlines():
        if line.startswith(("class ", "slot ")):
            terms.add("biolink:" + line.split()[1])
        elif line.startswith("enum "):
            terms.add(line.split()[2])
    return terms


@pytest.fixture(scope="module")
def built(mini_built):
    return mini_built


def _tsv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _network_file_names() -> list[str]:
    return [name for fmt in of_kind("network") for name in fmt.file_names]


def test_registry_lists_every_network_export(built):
    project, _ = built
    for fmt in ("graphml", "kgx", "neo4j", "cytoscape"):
        for name in FORMATS_BY_NAME[fmt].file_names:
            assert (project.out_dir / name).is_file(), name


def test_exports_are_deterministic(built):
    _, result = built
    first = network_files(result.built.graph, result.network)
    again = network_files(result.built.graph, result.network)
    assert sorted(first) == sorted(_network_file_names())
    assert first == again


def test_ontology_biolink_terms_exist_in_the_model():
    """Every Biolink term of the ontology's alignments is a (non-deprecated) Biolink 4 element."""
    onto = Graph().parse(REPO / "ontology" / "kgraph.ttl")
    used = {"biolink:" + str(o)[len(BIOLINK):] for o in onto.objects() if isinstance(o, URIRef)
            and str(o).startswith(BIOLINK)}
    assert "biolink:treats" in used
    assert used - _biolink_terms() == set()


def test_kgx_nodes_and_edges(built):
    project, result = built
    terms = _biolink_terms()
    nodes = _tsv(project.out_dir / "kgraph_nodes.tsv")
    edges = _tsv(project.out_dir / "kgraph_edges.tsv")
    G = result.network
    assert len(nodes) == G.number_of_nodes() and len(edges) == G.number_of_edges()
    ids = {n["id"] for n in nodes}
    assert len(ids) == len(nodes)
    assert {n["category"] for n in nodes} <= terms
    by_id = {n["id"]: n for n in nodes}
    assert by_id["kgr:ketamine"]["category"] == "biolink:Drug"
    assert by_id["kgr:ketamine"]["xref"] == "CHEBI:6121"
    assert len({e["id"] for e in edges}) == len(edges)
    claims = G.graph["claims"]
    for e in edges:
        assert e["subject"] in ids and e["object"] in ids
        assert e["predicate"] in terms and e["category"] in terms
        assert e["knowledge_level"] in terms and e["agent_type"] in terms
        assert re.fullmatch(r"infores:[a-z0-9_.-]+", e["primary_knowledge_source"])
        s, p, o = e["id"].split("|")
        backing = G.edges[s, o, p]["claims"]
        assert e["supporting_text"].split("|") == [" ".join(claims[c]["quote"].split()) for c in backing]
        sources = {f"https://w3id.org/kgraph/id/source/{claims[c]['source']}" for c in backing}
        assert sources <= set(e["publications"].split("|"))
    treats = [e for e in edges if e["original_predicate"] == "kg:treats"]
    assert treats and {e["predicate"] for e in treats} == {"biolink:treats"}
    for e in edges:
        qualifiers = QUALIFIERS.get(e["original_predicate"].removeprefix("kg:"), {})
        for column, value in qualifiers.items():
            assert e[column] == value and value in terms


def test_kgx_loads_in_kgx(built, tmp_path):
    project, result = built
    # not in the [test] extra: kgx pulls some sixty packages (linkml, pydantic, Sphinx, ...)
    _consumer("kgx", in_test_extra=False)
    from kgx.transformer import Transformer

    t = Transformer()
    t.transform({"filename": [str(project.out_dir / "kgraph_nodes.tsv"), str(project.out_dir / "kgraph_edges.tsv")],
                 "format": "tsv"})
    assert t.store.graph.number_of_nodes() == result.network.number_of_nodes()
    assert t.store.graph.number_of_edges() == result.network.number_of_edges()


def test_graphml_in_igraph_and_networkx(built):
    import networkx as nx

    project, result = built
    path = project.out_dir / "kgraph.graphml"
    H = nx.read_graphml(path, force_multigraph=True)
    assert H.number_of_nodes() == result.network.number_of_nodes()
    assert H.number_of_edges() == result.network.number_of_edges()
    keys = [k for _, _, k in H.edges(keys=True)]
    assert len(set(keys)) == len(keys), "edge ids must be unique"
    for _, _, attrs in H.edges(data=True):
        assert isinstance(attrs["weight"], int) and re.fullmatch(r"#[0-9a-f]{6}", attrs["color"])
    for _, attrs in H.nodes(data=True):
        assert isinstance(attrs["x"], float) and isinstance(attrs["y"], float)
        assert re.fullmatch(r"#[0-9a-f]{6}", attrs["color"])
    assert len({(a["x"], a["y"]) for _, a in H.nodes(data=True)}) == H.number_of_nodes()

    igraph = _consumer("igraph")
    g = igraph.Graph.Read_GraphML(str(path))
    assert g.vcount() == result.network.number_of_nodes() and g.ecount() == result.network.number_of_edges()
    assert len(set(g.es["edge_id"])) == g.ecount()
    assert set(g.es["weight"]) <= {0, 1, 2, 3, 4, 5} and "x" in g.vs.attributes()


def test_graphml_edge_ids_unique_on_the_corpus(corpus_built):
    """The real data has dozens of ``treats`` edges: their ids must still differ (igraph)."""
    igraph = _consumer("igraph")
    project, result = corpus_built
    g = igraph.Graph.Read_GraphML(str(project.out_dir / "kgraph.graphml"))
    treats = [e for e in g.es if e["predicate"] == "treats"]
    assert len(treats) > 1
    assert len(set(g.es["edge_id"])) == g.ecount() == result.network.number_of_edges()
    xml_ids = [e.get("id") for e in ElementTree.parse(project.out_dir / "kgraph.graphml").iter(GRAPHML + "edge")]
    assert len(set(xml_ids)) == len(xml_ids) == g.ecount()


def test_cytoscape_json(built):
    import networkx as nx

    project, result = built
    doc = json.loads((project.out_dir / "kgraph.cyjs").read_text(encoding="utf-8"))
    nodes, edges = doc["elements"]["nodes"], doc["elements"]["edges"]
    ids = [n["data"]["id"] for n in nodes]
    assert len(set(ids)) == len(ids) == result.network.number_of_nodes()
    assert len({e["data"]["id"] for e in edges}) == len(edges) == result.network.number_of_edges()
    for n in nodes:
        assert set(n["position"]) == {"x", "y"}
    for e in edges:
        assert e["data"]["source"] in ids and e["data"]["target"] in ids
    # networkx's reader of the Cytoscape JSON format
    H = nx.cytoscape_graph(doc)
    assert H.number_of_nodes() == len(nodes) and H.number_of_edges() == len(edges)
    assert H.nodes["ketamine"]["category"] == "biolink:Drug"


NEO4J_FIELD = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*)?(?::(?:ID|LABEL|START_ID|END_ID|TYPE|IGNORE|"
                         r"string|int|long|float|double|boolean)(?:\[\])?)?")


def test_neo4j_import_csvs(built):
    """Header syntax of ``neo4j-admin database import`` and references between the files."""
    project, result = built
    with (project.out_dir / "kgraph-neo4j-nodes.csv").open(newline="", encoding="utf-8") as fh:
        nodes = list(csv.reader(fh))
    with (project.out_dir / "kgraph-neo4j-relationships.csv").open(newline="", encoding="utf-8") as fh:
        rels = list(csv.reader(fh))
    for header in (nodes[0], rels[0]):
        for field in header:
            assert NEO4J_FIELD.fullmatch(field), field
    assert "id:ID" in nodes[0] and ":LABEL" in nodes[0]
    assert rels[0][:3] == [":START_ID", ":END_ID", ":TYPE"]
    ids = {row[0] for row in nodes[1:]}
    assert len(ids) == len(nodes) - 1 == result.network.number_of_nodes()
    assert len(rels) - 1 == result.network.number_of_edges()
    for row in rels[1:]:
        assert row[0] in ids and row[1] in ids and re.fullmatch(r"[A-Z][A-Z0-9_]*", row[2])
    label = nodes[0].index(":LABEL")
    assert all(row[label].split(";")[0] == "Entity" for row in nodes[1:])

    cypher = (project.out_dir / "kgraph-neo4j.cypher").read_text(encoding="utf-8")
    statements = [s for s in cypher.split(";") if "LOAD CSV" in s]
    types = {row[2] for row in rels[1:]}
    entity_types = {row[nodes[0].index("type")] for row in nodes[1:]}
    assert len(statements) == len(types) + len(entity_types)
    for t in types:
        assert f"[r:`{t}`" in cypher


def test_alignment_falls_back_to_superclass(built):
    _, result = built
    al = alignment(result.built.graph)
    # kg:Receptor has no alignment of its own: kg:Protein's biolink:Protein
    assert al.categories["Receptor"] == "biolink:Protein"
    assert al.predicates["treats"] == "biolink:treats"


def test_exports_are_identical_across_hash_seeds(mini_root):
    """Same data, two interpreters with different hash seeds: byte-identical exports."""
    import subprocess
    import sys

    code = ("import hashlib, sys\nfrom kgraph.project import Project\nfrom kgraph.pipeline import build\n"
            "from kgraph.interchange import network_files\nfrom kgraph.void import void_turtle\n"
            "root = sys.argv[1]\nr = build(Project.at(root, corpus_dir=root + '/corpus'), write=False)\n"
            "files = {**network_files(r.built.graph, r.network), 'void.ttl': void_turtle(r.built.graph)}\n"
            "for name in sorted(files):\n    print(name, hashlib.sha256(files[name]).hexdigest())\n")
    digests = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO / "src")}
        run = subprocess.run([sys.executable, "-c", code, str(mini_root)], env=env, capture_output=True, text=True,
                             check=True)
        digests.append(run.stdout)
    assert digests[0] == digests[1] and "kgraph.cyjs" in digests[0]


@pytest.mark.parametrize("extra,edges", [(1500, True), (2, False), (0, False)])
def test_the_cytoscape_file_is_written_an_element_at_a_time(built, extra, edges, traced_write):
    """The Cytoscape JSON is written a node or an edge at a time (x1000 whole: 2 GB of a
    0.4 GB file), in the layout of the whole document (each element on a line of its own),
    with no edges or no nodes too."""
    import hashlib
    import io

    from kgraph.interchange import write_cytoscape
    from kgraph.store import indented_json

    project, result = built
    G = result.network.copy() if edges else type(result.network)()
    model = dict(result.network.nodes["ketamine"])
    for i in range(extra):
        G.add_node(f"x-{i}", **{**model, "label": f"Entity {i} “é”", "description": "d" * 20000})
    al = alignment(Graph())
    size, digest, peak = traced_write(lambda out: write_cytoscape(out, G, al, {}))
    whole = io.BytesIO()
    write_cytoscape(whole, G, al, {})
    text = whole.getvalue().decode("utf-8")
    assert digest == hashlib.sha256(whole.getvalue()).digest()
    doc = json.loads(text)
    assert text == indented_json(doc, indent=" ", depth=3) + "\n"
    assert len(doc["elements"]["nodes"]) == G.number_of_nodes()
    assert len(doc["elements"]["edges"]) == G.number_of_edges()
    if extra > 1000:
        assert peak < size / 3, (peak, size)
