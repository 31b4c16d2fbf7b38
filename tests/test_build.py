"""Building the graph: RDF round trips, networkx agreement, provenance, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import RDF, Graph, Literal, URIRef
from rdflib import Dataset as RDFDataset
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, PROV, SH

from kgraph.build import entity_iri
from kgraph.load import load_dataset, load_shapes
from kgraph.prefixes import KG, KGR, SCHEMA
from kgraph.project import Project
from kgraph.shapes import shacl_validate


@pytest.fixture(scope="module")
def built(mini_built):
    return mini_built


@pytest.mark.parametrize("name,fmt", [("kgraph.ttl", "turtle"), ("kgraph.nt", "nt"), ("kgraph.jsonld", "json-ld"),
                                      ("kgraph.rdf", "xml")])
def test_exports_reparse_isomorphic(built, name, fmt):
    project, result = built
    parsed = Graph().parse(project.out_dir / name, format=fmt)
    assert isomorphic(parsed, result.built.graph)


def test_trig_named_graphs_union_is_the_graph(built):
    project, result = built
    ds = RDFDataset()
    ds.parse(project.out_dir / "kgraph.trig", format="trig")
    union = Graph()
    for s, p, o, _ in ds.quads((None, None, None, None)):
        union.add((s, p, o))
    assert isomorphic(union, result.built.graph)
    names = {str(g.identifier) for g in ds.graphs() if len(g)}
    assert f"{KGR}graph/src-001" in names and f"{KGR}graph/src-002" in names
    src2 = ds.graph(URIRef(f"{KGR}graph/src-002"))
    # the graph of a source holds the triples it asserts, not those of other sources
    assert (entity_iri("ketamine"), KG.treats, entity_iri("ptsd")) in src2
    assert (entity_iri("ketamine"), KG.antagonistOf, entity_iri("nmda-receptor")) not in src2


def test_claim_nodes_carry_provenance(built):
    _, result = built
    g = result.built.graph
    claim = URIRef(f"{KGR}claim/c002-001")
    assert (claim, RDF.type, KG.Claim) in g
    assert g.value(claim, RDF.subject) == entity_iri("ketamine")
    assert g.value(claim, RDF.predicate) == KG.treats
    assert g.value(claim, RDF.object) == entity_iri("ptsd")
    assert g.value(claim, PROV.wasDerivedFrom) == URIRef(f"{KGR}source/src-002")
    assert str(g.value(claim, KG.quote)).startswith("A randomized controlled trial")
    assert g.value(claim, KG.evidenceKind) == KG.CitesRCT
    assert g.value(claim, KG.citesStudy) == entity_iri("beta-rct")


def test_statistics_are_typed(built):
    _, result = built
    g = result.built.graph
    claim = URIRef(f"{KGR}claim/c001-005")
    assert (claim, RDF.type, KG.Statistic) in g
    value = g.value(claim, SCHEMA.value)
    assert isinstance(value, Literal) and value.toPython() == 8
    assert str(g.value(claim, SCHEMA.unitText)) == "percent"
    assert g.value(claim, KG.population) == entity_iri("adults")
    assert (entity_iri("ptsd"), KG.prevalence, value) in g


def test_negated_claim_has_no_direct_triple_of_its_own(built):
    _, result = built
    g = result.built.graph
    negated = URIRef(f"{KGR}claim/c002-003")
    assert str(g.value(negated, KG.modality)) == "negated"
    # the same triple is still asserted, by the other claims that state it
    assert (entity_iri("ketamine"), KG.treats, entity_iri("ptsd")) in g
    G = result.network
    assert "c002-003" not in G.edges["ketamine", "ptsd", "treats"]["claims"]
    assert "c002-003" in G.nodes["ketamine"]["claims"]


def test_networkx_agrees_with_rdf(built):
    project, result = built
    g, G = result.built.graph, result.network
    # nodes: every resource with an entity class of the ontology
    entity_ids = {str(s)[len(str(KGR)):] for s in g.subjects(KG.mentionedIn, None)}
    assert entity_ids <= set(G.nodes)
    assert G.number_of_nodes() == len(set(g.subjects(DCTERMS.identifier, None))
                                      - set(g.subjects(RDF.type, KG.Claim))
                                      - set(g.subjects(RDF.type, KG.SourceDocument)))
    # edges: exactly the direct triples between two entities that a claim describes
    claimed = {(g.value(c, RDF.subject), g.value(c, RDF.predicate), g.value(c, RDF.object))
               for c in g.subjects(RDF.type, KG.Claim)}
    direct = {t for t in claimed if isinstance(t[2], URIRef) and t in g}
    edges = {(entity_iri(s), KG[k], entity_iri(o)) for s, o, k in G.edges(keys=True)}
    assert edges == direct
    # and the counts follow from the curated records themselves
    data, _ = load_dataset(project)
    relations = {(c.subject, c.predicate, c.object) for c in data.claims
                 if c.object is not None and c.modality != "negated"}
    assert G.number_of_nodes() == len(data.entities)
    assert G.number_of_edges() == len(relations) > 0


def test_edge_attributes(built):
    _, result = built
    edge = result.network.edges["ketamine", "ptsd", "treats"]
    assert edge["claims"] == ["c001-003", "c002-001"]
    assert edge["sources"] == ["src-001", "src-002"]
    assert edge["strength"] == 5
    assert edge["label"] == "treats"


def test_node_attributes(built):
    _, result = built
    node = result.network.nodes["ketamine"]
    assert node["type"] == "Drug" and node["label"] == "ketamine"
    assert node["xrefs"] == ["http://purl.obolibrary.org/obo/CHEBI_6121"]
    assert "special-K" in node["synonyms"]
    assert node["sources"] == ["src-001", "src-002"]


def test_graphml_counts(built):
    import networkx as nx

    project, result = built
    H = nx.read_graphml(project.out_dir / "kgraph.graphml", force_multigraph=True)
    assert H.number_of_nodes() == result.network.number_of_nodes()
    assert H.number_of_edges() == result.network.number_of_edges()


def test_stats_json(built):
    project, result = built
    stats = json.loads((project.out_dir / "stats.json").read_text())
    data, _ = load_dataset(project)
    files = {s.id: s.file for s in data.sources}
    assert stats["claims"] == len(data.claims) > 0
    assert stats["claims_by_source"] == dict(Counter(files[c.source] for c in data.claims))
    assert stats["most_connected"][0]["id"] == "ketamine"


def test_shapes_catch_a_claim_without_quote(built):
    project, result = built
    g = Graph()
    for t in result.built.graph:
        g.add(t)
    claim = URIRef(f"{KGR}claim/c001-001")
    g.remove((claim, KG.quote, None))
    g.add((entity_iri("ketamine"), KG.treats, entity_iri("dissociation")))
    problems = shacl_validate(g, load_shapes(project))
    text = "\n".join(str(p) for p in problems)
    assert "kgclaim:c001-001" in text and "verbatim quote" in text
    assert "kgr:ketamine" in text and "only conditions can be treated" in text
    assert sorted(p.code for p in problems) == ["shacl-class", "shacl-min-count"]


def test_shapes_leave_the_data_graph_alone_even_with_rules():
    """shacl_validate validates in place only when the shapes have no rule (sh:rule adds
    triples to the graph it runs on: pySHACL must then work on a copy)."""
    shapes = Graph().parse(format="turtle", data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:T ;
            sh:rule [ a sh:TripleRule ; sh:subject sh:this ; sh:predicate ex:p ; sh:object ex:o ] ;
            sh:property [ sh:path ex:q ; sh:minCount 1 ] .
        """)
    data = Graph().parse(format="turtle", data="@prefix ex: <http://example.org/> . ex:a a ex:T .")
    problems = shacl_validate(data, shapes)
    assert [p.code for p in problems] == ["shacl-min-count"]
    assert len(data) == 1


def _break_everything(g: Graph) -> None:
    """Violations of every kind on the mini graph: each claim and entity gets one, in turn."""
    from rdflib.namespace import RDFS, SKOS

    claims = sorted(g.subjects(RDF.type, KG.Claim), key=str)
    entities = sorted({e for e in g.subjects(RDFS.label, None)
                       if str(e).startswith(str(KGR)) and (e, RDF.type, KG.Claim) not in g}, key=str)
    for i, claim in enumerate(claims):
        kind = i % 6
        if kind == 0:  # two quotes, one not a string: max-count and datatype, the same message
            g.add((claim, KG.quote, Literal(12)))
        elif kind == 1:  # a short quote and a modality out of the list, twice for the claim
            g.set((claim, KG.quote, Literal("ab")))
            g.add((claim, KG.modality, Literal("maybe")))
        elif kind == 2:  # a literal subject: node kind and class, the same message
            g.set((claim, RDF.subject, Literal("lit")))
        elif kind == 3:
            g.remove((claim, PROV.wasDerivedFrom, None))
            g.add((claim, KG.citesStudy, entities[i % len(entities)]))
        elif kind == 4:
            g.add((claim, KG.flag, Literal("odd")))
            g.add((claim, KG.year, Literal("20x1")))
        else:
            g.remove((claim, DCTERMS.identifier, None))
            g.add((claim, KG.location, claims[0]))
    for i, entity in enumerate(entities):
        kind = i % 4
        if kind == 0:
            g.remove((entity, RDFS.label, None))
        elif kind == 1:
            g.add((entity, RDFS.label, Literal("second label")))
            g.add((entity, SKOS.exactMatch, Literal("not an IRI")))
        elif kind == 2:
            g.add((entity, KG.telephone, Literal("call me")))
            g.add((entity, KG.prevalence, Literal(150)))
        else:
            g.add((entity, KG.treats, entities[0]))


def test_flattened_shapes_give_the_same_problems(built, monkeypatch):
    """pySHACL on flatten_shapes reports exactly what it reports on the shapes as written:
    the same problems (file and line, message, code) in the same order, on a graph with
    violations of every shape, several on one node, ties in the sort order among them."""
    from kgraph.shapes import flatten_shapes

    project, result = built
    g = Graph()
    for t in result.built.graph:
        g.add(t)
    _break_everything(g)
    data, _ = load_dataset(project)
    shapes = load_shapes(project)
    import kgraph.shapes

    flattened = []
    monkeypatch.setattr(kgraph.shapes, "flatten_shapes", lambda s: flattened.append(s) or flatten_shapes(s))
    fast = shacl_validate(g, shapes, data)
    assert flattened == [shapes]  # the build's check runs on the flattened shapes
    reference = shacl_validate(g, shapes, data, flatten=False)
    assert fast == reference
    assert len(fast) > 40 and len({p.code for p in fast}) >= 8
    keys = [(str(p.where), p.message) for p in fast]
    assert len(set(keys)) < len(keys)  # ties, whose order only pySHACL's gives
    shapes = load_shapes(project)
    flat = flatten_shapes(shapes)  # flattened indeed: the claim shape's properties stand alone
    assert not list(flat.objects(KG.ClaimShape, SH.property))
    assert len(flat) == len(shapes) and set(shapes.objects(KG.ClaimShape, SH.property))  # input untouched


#: a shape that looks at other nodes' data (sh:node): the parts validator validates the whole
NOT_LOCAL = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix kg: <https://w3id.org/kgraph/ontology#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
kg:SubjectNamed a sh:NodeShape ; sh:targetClass kg:Claim ;
    sh:property [ sh:path rdf:subject ; sh:node kg:Labelled ] .
kg:Labelled a sh:NodeShape ; sh:property [ sh:path rdfs:label ; sh:minCount 1 ; sh:message "unnamed" ] .
"""


@pytest.mark.parametrize(("batch", "workers"), [(40, 0), (10**9, 0), (40, 1), (40, 2)])
@pytest.mark.parametrize("local", [True, False])
def test_the_parts_validator_finds_what_the_whole_graph_gives(built, batch, workers, local, monkeypatch):
    """The build validates its graph part by part (kgraph.shapes.PartsValidator, issue 10):
    on parts with violations of every shape, the computed evidence's included, it reports
    exactly what pySHACL reports on the whole graph, in batches of a few claims or of all,
    validated here or by forked workers, one or two at a time; with a shape that looks
    beyond a node's own values, by validating the parts gathered."""
    from kgraph.assess import load_priors
    from kgraph.build import PartMemory, graph_parts
    from kgraph.evidence_graph import compute_evidence, evidence_parts
    from kgraph.load import load_ontology, vocabulary
    from kgraph.shapes import PartsValidator

    project, _ = built
    data, _ = load_dataset(project)
    ontology = load_ontology(project)
    vocab = vocabulary(ontology)
    shapes = load_shapes(project)
    if not local:
        shapes.parse(data=NOT_LOCAL, format="turtle")
    evidence = compute_evidence(data, vocab, load_priors(project.data_dir))
    parts = [*graph_parts(data, vocab, ontology), *evidence_parts(evidence, data, vocab, nodes=7)]
    assert len([name for name, _ in parts if name is not None and "evidence" in name]) > 1
    owner = {}
    for i, (_, part) in enumerate(parts):
        for subject in part.subjects():
            owner.setdefault(subject, i)
    whole = Graph()
    for _, part in parts:
        for triple in part:
            whole.add(triple)
    _break_everything(whole)
    assessment = sorted(whole.subjects(RDF.type, KG.Assessment))[0]
    whole.add((assessment, KG.belief, Literal("2.5", datatype=URIRef("http://www.w3.org/2001/XMLSchema#decimal"))))
    whole.remove((assessment, KG.level, None))
    # an entity that names a claim: the claim's type goes with it into the entities' unit
    whole.add((entity_iri("ketamine"), KG.treats, sorted(whole.subjects(RDF.type, KG.Claim))[0]))
    # the broken graph, parted again: each triple in the part of its subject
    broken = [(name, Graph(store=PartMemory())) for name, _ in parts]
    for triple in whole:
        broken[owner.get(triple[0], 1)][1].add(triple)
    reference = shacl_validate(whole, shapes, data, vocab=vocab)
    validator = PartsValidator(shapes, ontology, data, vocab, batch=batch, workers=workers)
    assert validator.split == local
    import kgraph.shapes

    results = []
    real = kgraph.shapes._run_all

    def counting(graph, shapes):
        found, conforms = real(graph, shapes)
        results.extend(found)
        # a unit holds claims or computed evidence, not both (their shapes would validate
        # the claims the evidence names, and throw the results away)
        assert not (validator.split and (None, KG.quote, None) in graph and (None, KG.belief, None) in graph)
        return found, conforms

    monkeypatch.setattr(kgraph.shapes, "_run_all", counting)
    for name, part in broken:
        validator.feed(name, part)
    found = validator.finish()
    # no unit validated the nodes of another (which its types bring in) for nothing (the
    # units the workers validated are counted in the workers)
    assert len(results) == len(found) or (workers and local)
    assert found == reference
    assert len(found) > 40 and len({p.code for p in found}) >= 8
    assert any("assessment" in str(p.where) for p in found)
    assert local or any(p.code == "shacl-node" for p in found)


def test_flatten_leaves_what_it_would_change():
    """A node shape that another shape uses (sh:node) or that has a severity of its own
    keeps its properties: moving them would change the report."""
    from kgraph.shapes import flatten_shapes

    shapes = Graph().parse(format="turtle", data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:Outer a sh:NodeShape ; sh:targetClass ex:A ; sh:property [ sh:path ex:p ; sh:node ex:Inner ] .
        ex:Inner a sh:NodeShape ; sh:targetClass ex:B ; sh:property [ sh:path ex:q ; sh:minCount 1 ] .
        ex:Mild a sh:NodeShape ; sh:targetClass ex:C ; sh:severity sh:Warning ;
            sh:property [ sh:path ex:r ; sh:minCount 1 ] .
        """)
    data = Graph().parse(format="turtle", data="""
        @prefix ex: <http://example.org/> . ex:a a ex:A ; ex:p ex:x . ex:c a ex:C .""")
    problems = shacl_validate(data, shapes)
    assert [(p.where, p.code) for p in problems] == [
        ("<http://example.org/a>", "shacl-node"), ("<http://example.org/c>", "shacl-min-count"),
        ("<http://example.org/x>", "shacl-min-count")]
    assert problems == shacl_validate(data, shapes, flatten=False)
    # a violation of a property of a node shape whose severity is Warning conforms
    alone = Graph().parse(format="turtle", data="@prefix ex: <http://example.org/> . ex:c a ex:C .")
    assert shacl_validate(alone, shapes) == shacl_validate(alone, shapes, flatten=False) == []
    flat = flatten_shapes(shapes)
    ex = "http://example.org/"
    assert {str(s) for s in flat.subjects(SH.property, None)} == {ex + "Inner", ex + "Mild"}


@pytest.mark.slow
def test_build_is_deterministic_across_hash_seeds(mini_root, tmp_path):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "kgraph", "build", "-q", "--out", str(out), "--corpus",
                        str(mini_root / "corpus")], cwd=mini_root, env=env, check=True, capture_output=True)
        outs.append(out)
    # the published names (the build folders behind them, .builds/<id>, are not compared)
    names = sorted(p.name for p in outs[0].iterdir() if not p.name.startswith(".") and p.is_file())
    assert "kgraph.trig" in names and "build-info.json" in names
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    from kgraph import store as S

    dumps = [S.serialize_quads(S.open_store(out).quads_for_pattern(None, None, None), "nquads") for out in outs]
    assert dumps[0] == dumps[1]  # the stores (their directories have names of their own)


def test_packaged_ontology_fallback(tmp_path):
    project = Project.at(tmp_path)  # no ontology/ here: the one shipped with kgraph is used
    assert project.ontology_file.is_file()
    assert project.shapes_file.is_file()


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """kgraph built as a wheel (pip builds it with hatchling in an isolated environment)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(out)],
                   check=True, capture_output=True, timeout=300)
    (found,) = out.glob("kgraph-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_holds_the_package_data(wheel):
    """The editable install reads ontology/ from the repository, so only a wheel shows
    whether the ontology, the named queries and the templates are shipped."""
    names = set(zipfile.ZipFile(wheel).namelist())
    package = REPO / "src" / "kgraph"
    expected = {f"kgraph/ontology/{p.name}" for p in (REPO / "ontology").glob("*.ttl")}
    expected |= {f"kgraph/queries/{p.name}" for p in (package / "queries").glob("*.rq")}
    expected |= {f"kgraph/templates/{p.name}" for p in (package / "templates").iterdir() if p.is_file()}
    expected |= {f"kgraph/{p.name}" for p in package.glob("*.py")}
    assert {"kgraph/ontology/kgraph.ttl", "kgraph/ontology/shapes.ttl", "kgraph/templates/viz.html"} <= expected
    assert sorted(expected - names) == []


@pytest.mark.slow
def test_the_installed_wheel_finds_its_own_data(wheel, tmp_path):
    """Unpacked away from the repository, kgraph reads its ontology, queries and templates
    from inside the package (importlib.resources), not from a fallback path."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import kgraph, kgraph.project as p\n"
        "from importlib import resources\n"
        "from kgraph.assets import template\n"
        "assert kgraph.__file__.startswith(%r), kgraph.__file__\n"
        "d = p.packaged_ontology_dir()\n"
        "assert str(d).startswith(%r) and (d / 'kgraph.ttl').is_file(), d\n"
        "assert sorted(q.name for q in resources.files('kgraph').joinpath('queries').iterdir())\n"
        "assert '{{data}}' in template('viz.html')\n"
    ) % (str(site), str(site))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_write_files_is_all_or_none(tmp_path, monkeypatch):
    """A failure while writing the third file leaves every old file as it was and no
    temporary folder behind."""
    from kgraph.errors import OutputError
    from kgraph.export import write_files

    old = {"a.txt": b"old a", "b.txt": b"old b", "c.txt": b"old c"}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    real_write = Path.write_bytes
    calls = []

    def failing_write(self, data):
        calls.append(self.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(OutputError, match="No space left on device"):
        write_files(tmp_path, {name: b"new " + name.encode() for name in [*old, "d.txt"]})
    monkeypatch.undo()
    assert calls == ["a.txt", "b.txt", "c.txt"]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old


def test_write_atomic_gives_ordinary_permissions(tmp_path):
    from kgraph.export import write_atomic

    umask = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "page.html", b"<p>hi</p>")
    finally:
        os.umask(umask)
    assert path.read_bytes() == b"<p>hi</p>"
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary file left


# --------------------------------------------------------------------------- one vocabulary

@pytest.mark.parametrize("curie", ["kg:Drug", "kgr:ketamine", "kgclaim:c001-001", "kgsrc:src-001", "rdfs:label",
                                   "schema:telephone", "CHEBI:6121", "MESH:D003863", "HGNC:4584", "DOI:10.1000/x1"])
def test_expand_and_contract_are_inverse(curie):
    from kgraph.prefixes import contract, expand

    assert contract(expand(curie)) == curie


def test_the_prefix_table_is_the_one_the_graph_and_pages_use(built):
    from kgraph.prefixes import DISPLAY_PREFIXES, PREFIXES, contract, js_table, xref_iri

    _, result = built
    bound = {prefix: str(ns) for prefix, ns in result.built.graph.namespaces()}
    assert {**PREFIXES, **DISPLAY_PREFIXES}.items() <= bound.items()
    assert xref_iri("CHEBI:6121") == "http://purl.obolibrary.org/obo/CHEBI_6121"
    assert contract("http://id.nlm.nih.gov/mesh/D003863", display=True) == "MeSH:D003863"
    assert contract("https://example.org/x") is None
    # the scripts' table contracts as Python does: the first (longest) namespace that matches
    for iri in ("https://w3id.org/kgraph/id/claim/c1", "https://w3id.org/kgraph/id/x", "https://doi.org/10.1/x"):
        prefix, namespace = next(pair for pair in js_table() if iri.startswith(pair[1]))
        assert f"{prefix}:{iri[len(namespace):]}" == contract(iri, display=True)


def test_did_you_mean():
    from kgraph.names import did_you_mean

    assert did_you_mean("Receptr", ["Receptor", "Drug", "Person"]) == "Did you mean Receptor?"
    assert did_you_mean("zzz", ["Receptor"]) == ""
    assert did_you_mean("hasSideEfect", ["hasSideEffect", "treats"], sep=" or ") == "Did you mean hasSideEffect?"


def test_subclasses_are_transitive_and_reflexive(built):
    from kgraph.hierarchy import subclasses, superclasses

    _, result = built
    g = result.built.graph
    below = subclasses(g, KG.Entity)
    assert KG.Entity in below and KG.Drug in below and KG.MentalDisorder in below
    assert KG.Condition in superclasses(g, KG.MentalDisorder) and KG.Entity in superclasses(g, KG.MentalDisorder)


def test_the_build_pauses_the_cycle_collector_and_restores_it():
    import gc

    from kgraph.pipeline import cycle_collector_paused

    assert gc.isenabled()
    with pytest.raises(KeyError), cycle_collector_paused():
        assert not gc.isenabled()
        raise KeyError("a failing step")
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what the build made is left out of later collections
    with cycle_collector_paused():
        assert gc.get_freeze_count() == 0  # ... until the next build: an old graph can be freed
    gc.unfreeze()
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_the_build_counts_its_steps_up_to_what_it_built(mini):
    """The progress counts (claims, quads, files) end at what the build made, and never run backwards."""
    from kgraph.pipeline import build

    steps: list[str] = []
    counts: dict[str, list[tuple[int, int, str]]] = {}
    result = build(mini, step=steps.append, count=lambda done, total, what: counts.setdefault(
        steps[-1], []).append((done, total, what)))
    data, _ = load_dataset(mini)
    claims = counts["Building the RDF graph"]
    assert claims[-1] == (len(data.claims), len(data.claims), "claims")
    quads = counts["Writing the store"]
    store_quads = sum(1 for _ in result.built.dataset.quads((None, None, None, None)))
    loaded = store_quads + len(result.built.graph)  # each quad in its graph, each triple in the union
    assert quads[-1] == (loaded, loaded, "quads")
    files = counts["Reading the written files back"]
    written = [p for p in result.written if p.is_file()]
    assert files[-1][0] == files[-1][1] >= len([p for p in written if p.parent == written[0].parent]) > 0
    for series in counts.values():
        assert [d for d, _, _ in series] == sorted(d for d, _, _ in series)
        assert all(d <= t for d, t, _ in series)


def test_the_union_is_a_read_only_view_of_every_graph():
    # one copy of the triples in memory (issue 10): the union reads the dataset's store
    from rdflib import Dataset as RDFDataset

    from kgraph.build import union_graph

    ds = RDFDataset()
    s, p = URIRef("urn:s"), URIRef("urn:p")
    ds.add((s, p, Literal("default")))
    ds.graph(URIRef("urn:g1")).add((s, p, Literal("both")))
    ds.graph(URIRef("urn:g2")).add((s, p, Literal("both")))
    union = union_graph(ds)
    ds.graph(URIRef("urn:g2")).add((s, p, Literal("later")))
    copy = Graph()
    for graph in ds.graphs():
        for triple in graph:
            copy.add(triple)
    assert len(union) == len(copy) == 3 and set(union) == set(copy)
    assert set(union.objects(s, p)) == {Literal("default"), Literal("both"), Literal("later")}
    assert (s, p, Literal("both")) in union and (s, p, Literal("none")) not in union
    assert union.namespace_manager.store is not ds.store  # its prefixes are its own
    with pytest.raises(TypeError, match="read-only"):
        union.add((s, p, Literal("x")))


@pytest.mark.parametrize("failing", ["main", "writing", "store"])
def test_a_build_that_fails_beside_its_store_thread_leaves_no_store(mini, monkeypatch, failing):
    """The store is loaded by a thread while the files are made (kgraph.pipeline): whichever
    side fails, the error reaches the caller, no temporary or unlinked store is left, and
    the published build is untouched."""
    from kgraph import pipeline
    from kgraph.errors import OutputError
    from kgraph.store import STORE_PREFIX

    pipeline.build(mini)
    out = mini.out_dir
    before = sorted(p.name for p in out.iterdir())
    published = (out / "kgraph.nt").read_bytes()
    if failing == "main":
        def broken(*_args, **_kwargs):
            raise RuntimeError("a bug while writing the files")

        monkeypatch.setattr(pipeline, "exports_of_lines", broken)
        expected = pytest.raises(RuntimeError, match="a bug while writing")
    elif failing == "writing":  # an RDF file's function fails as it is written, inside publish
        real_exports = pipeline.exports_of_lines

        def failing_file(*args, **kwargs):
            makers = real_exports(*args, **kwargs)
            makers["kgraph.rdf"] = broken_file
            return makers

        def broken_file():
            raise RuntimeError("a bug while writing kgraph.rdf")

        monkeypatch.setattr(pipeline, "exports_of_lines", failing_file)
        expected = pytest.raises(RuntimeError, match="a bug while writing")
    else:
        real = pipeline.stage_statements

        def full_disk(out_dir, *args, **kwargs):
            real(out_dir, *args, **kwargs).discard()
            raise OutputError("cannot write the store: no space left on device")

        monkeypatch.setattr(pipeline, "stage_statements", full_disk)
        expected = pytest.raises(OutputError, match="no space left")
    with expected:
        pipeline.build(mini)
    assert sorted(p.name for p in out.iterdir()) == before
    assert not [p for p in out.iterdir() if p.name.startswith(STORE_PREFIX) and p.name not in before]
    assert (out / "kgraph.nt").read_bytes() == published


def test_a_build_frees_each_part_of_its_graph_and_writes_the_same_files(mini, monkeypatch):
    """The build makes, validates and serialises its RDF graph part by part (issue 10): each
    part's triples are freed once its batch of the SHACL step is validated (an rdflib graph
    refers to itself, and the build pauses the cyclic collector): with batches of one part,
    before the next part is made; so are the units the SHACL step validates (here, where
    there are no workers to validate them); with
    ``keep_graph=False`` (what `kgraph build` does) no graph of them all is gathered. The
    files are the same either way."""
    from kgraph import pipeline, shapes

    def published(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")}

    kept = pipeline.build(mini, out_dir=mini.root / "kept")
    assert kept.built is not None
    parts, held = [], []
    real = pipeline.part_block

    def noting(name, part):
        held.append(sum(len(p) for p in parts))  # what the parts before this one still hold
        parts.append(part)
        return real(name, part)

    validated = []
    real_run = shapes._run_all
    monkeypatch.setattr(shapes, "_run_all", lambda g, s: validated.append(g) or real_run(g, s))
    monkeypatch.setattr(pipeline, "part_block", noting)
    monkeypatch.setattr(shapes, "BATCH_TRIPLES", 1)
    monkeypatch.setattr(shapes, "_worker_count", lambda: 0)  # every unit validated here, to be seen
    freed = pipeline.build(mini, out_dir=mini.root / "freed", keep_graph=False)
    assert freed.built is None and len(parts) > 5 and validated
    assert set(held) == {0} and sum(len(p) for p in parts) == 0
    assert sum(len(g) for g in validated) == 0
    assert freed.stats == kept.stats
    files = published(mini.root / "freed")
    assert files == published(mini.root / "kept") and "kgraph.nt" in files and "kgraph.html" in files


def test_the_built_store_keeps_one_object_per_term(built):
    # issue 10: every claim names its entities anew; the store keeps one copy of each term
    _, result = built
    terms = [t for triple in result.built.graph for t in triple]
    assert len(terms) > 100
    assert len({id(t) for t in terms}) == len(set(terms))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "add", "remove", "clear"]), st.integers(0, 1), st.integers(0, 1),
                          st.one_of(st.none(), st.integers(0, 1))), max_size=30))
def test_a_part_store_holds_and_counts_what_rdflibs_memory_would(operations):
    """kgraph.build.PartMemory (the parts' and SHACL units' store, issue 10) counts its
    triples as it goes; after any adds (repeats included), removals by pattern and clears it
    holds and counts what a graph on rdflib's own Memory store holds."""
    from kgraph.build import PartMemory

    ours, reference = Graph(store=PartMemory()), Graph()
    for op, s, p, o in operations:
        triple = (URIRef(f"urn:s{s}"), URIRef(f"urn:p{p}"), Literal(o) if o is not None else None)
        for g in (ours, reference):
            if op == "clear":
                g.remove((None, None, None)) if g is reference else g.store.clear()
            elif op == "remove":
                g.remove(triple)
            elif o is not None:
                g.add(triple)
        assert len(ours) == len(reference)
        assert set(ours) == set(reference)
