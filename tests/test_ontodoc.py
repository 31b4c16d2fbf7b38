"""Ontology documentation (``kgraph docs``, ``/ontology``) and the dataset's VoID/DCAT description."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rdflib import OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS
from starlette import testclient as starlette_testclient
from typer.testing import CliRunner

from kgraph.ontodoc import csp_hash, ontology_doc, render_docs
from kgraph.prefixes import KG
from kgraph.serve import ServeOptions, create_app

REPO = Path(__file__).resolve().parent.parent
VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
CC_BY = URIRef("https://creativecommons.org/licenses/by/4.0/")
BASE = "http://127.0.0.1"


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.scripts = 0
        self.style = ""
        self._in_style = False
        self.csp = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        if tag == "script":
            self.scripts += 1
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a["content"]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


@pytest.fixture(scope="module")
def ontology():
    return Graph().parse(REPO / "ontology" / "kgraph.ttl")


@pytest.fixture(scope="module")
def page(ontology):
    html = render_docs(ontology)
    parsed = _Page()
    parsed.feed(html)
    return html, parsed


def test_every_term_has_an_anchor(ontology, page):
    _, parsed = page
    terms = {str(s)[len(str(KG)):] for t in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
             for s in ontology.subjects(RDF.type, t) if str(s).startswith(str(KG))}
    assert len(terms) > 100
    assert terms <= parsed.ids
    # every in-page link lands on an anchor
    assert {h[1:] for h in parsed.hrefs if h.startswith("#")} <= parsed.ids


def test_hierarchy_domains_ranges_inverses_alignments(ontology):
    doc = ontology_doc(ontology)
    classes = {c.name: c for c in doc.classes}
    props = {p.name: p for p in doc.properties}
    assert "kg:Intervention" in [r.curie for r in classes["Drug"].parents]
    assert "kg:Drug" in [r.curie for r in classes["Intervention"].children]
    assert classes["Drug"].depth == classes["Intervention"].depth + 1
    assert ("exact match", "biolink:Drug") in [(h, r.curie) for h, r in classes["Drug"].alignments]
    treats = props["treats"]
    assert [r.curie for r in treats.domain] and [r.curie for r in treats.range]
    assert "kg:increasedBy" in [r.curie for r in props["increases"].inverse]
    assert "kg:increases" in [r.curie for r in props["increasedBy"].inverse]  # stated on one side only
    assert "transitive" in props["partOf"].characteristics
    assert [e.strength for e in doc.evidence] == sorted((e.strength for e in doc.evidence), reverse=True)
    assert doc.evidence[0].strength == 5 and doc.license == str(CC_BY)


def test_page_is_self_contained_and_its_csp_allows_only_its_style(page):
    html, parsed = page
    assert parsed.scripts == 0
    assert "<link" not in html  # no stylesheet to fetch: works from file://
    assert csp_hash(parsed.style) in parsed.csp and "default-src 'none'" in parsed.csp


def test_data_strings_are_escaped():
    g = Graph()
    g.add((KG.Evil, RDF.type, OWL.Class))
    g.add((KG.Evil, RDFS.label, Literal('<script>alert("x")</script>')))
    g.add((KG.Evil, RDFS.comment, Literal("a & b <img src=x onerror=alert(1)>")))
    html = render_docs(g)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&amp; b" in html


def test_docs_command_writes_the_page(tmp_path, monkeypatch):
    from kgraph.cli import app

    monkeypatch.chdir(REPO)
    out = tmp_path / "onto.html"
    result = CliRunner().invoke(app, ["docs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert 'id="Drug"' in out.read_text(encoding="utf-8")
    bad = CliRunner().invoke(app, ["docs", "--out", str(tmp_path / "missing" / "x.html")])
    assert bad.exit_code != 0 and "does not exist" in bad.output and "Traceback" not in bad.output


@pytest.mark.browser
def test_page_in_chromium_from_file(browser, tmp_path, ontology):
    path = tmp_path / "ontology.html"
    path.write_text(render_docs(ontology), encoding="utf-8")
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri() + "#Drug")
    # the inline style applied (CSP hash accepted): a term is a bordered card
    assert page.eval_on_selector("#Drug", "e => getComputedStyle(e).borderTopStyle") == "solid"
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def client(mini_built):
    _, result = mini_built
    app = create_app(result.built.graph, result.network, ServeOptions(timeout=5))
    with starlette_testclient.TestClient(app, base_url=BASE) as c:
        yield c


def test_served_ontology_page(client):
    r = client.get("/ontology")
    assert r.status_code == 200 and 'id="Drug"' in r.text
    assert "style-src 'sha256-" in r.headers["content-security-policy"]


def test_entity_page_links_its_type_to_the_ontology(client):
    r = client.get("/id/ketamine", headers={"Accept": "text/html"})
    assert 'href="/ontology#Drug"' in r.text


def _check_void(g: Graph, graph_size: int) -> URIRef:
    dataset = next(g.subjects(RDF.type, VOID.Dataset))
    assert (dataset, RDF.type, DCAT.Dataset) in g
    assert (dataset, DCTERMS.license, CC_BY) in g
    assert int(g.value(dataset, VOID.triples)) == graph_size
    assert g.value(dataset, DCTERMS.rights) is not None
    return dataset


def test_well_known_void(client, mini_built):
    _, result = mini_built
    r = client.get("/.well-known/void")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
    g = Graph().parse(data=r.text, format="turtle")
    dataset = _check_void(g, len(result.built.graph))
    assert str(g.value(dataset, VOID.sparqlEndpoint)) == f"{BASE}/sparql"
    downloads = sorted(str(o) for o in g.objects(None, DCAT.downloadURL))
    assert f"{BASE}/download/kgraph.cyjs" in downloads
    for url in downloads:
        got = client.get(url.removeprefix(BASE))
        assert got.status_code == 200 and got.content, url
    doc = json.loads(client.get("/download/kgraph.cyjs").text)
    assert len(doc["elements"]["nodes"]) == result.network.number_of_nodes()
    assert client.get("/download/nothing.csv").status_code == 404


def test_build_writes_void(mini_built):
    project, result = mini_built
    g = Graph().parse(project.out_dir / "void.ttl")
    dataset = _check_void(g, len(result.built.graph))
    titles = {str(g.value(d, DCTERMS.title)) for d in g.objects(dataset, DCAT.distribution)}
    assert {"kgraph.ttl", "kgraph_nodes.tsv", "kgraph.cyjs"} <= titles
    assert int(g.value(dataset, VOID.entities)) >= result.network.number_of_nodes()
    built = result.built.graph
    assert int(g.value(dataset, VOID.distinctSubjects)) == len(set(built.subjects()))
    assert int(g.value(dataset, VOID.distinctObjects)) == len(set(built.objects()))
    assert int(g.value(dataset, VOID.properties)) == len(set(built.predicates()))


def test_sparql_endpoint_takes_printed_prefixes(client):
    """What the results print (kgclaim:, kgsrc:) is predeclared at /sparql too."""
    query = "SELECT ?src WHERE { kgclaim:c001-001 prov:wasDerivedFrom ?src . ?src a kg:SourceDocument }"
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.text
    [row] = r.json()["results"]["bindings"]
    source = row["src"]["value"].rsplit("/", 1)[-1]
    ask = f"ASK {{ kgclaim:c001-001 prov:wasDerivedFrom kgsrc:{source} }}"
    r = client.get("/sparql", params={"query": ask}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200 and r.json()["boolean"] is True


def test_void_sizes_from_the_lines_equal_those_of_a_walk_of_the_graph(mini_built):
    # the build counts from its sorted N-Triples lines (kgraph.void.sizes_of_lines), not by
    # walking the rdflib graph: the same figures, here with literals that hold spaces, a
    # language, a datatype and " ." and blank nodes beside the mini build
    from rdflib import BNode, Literal, URIRef

    from kgraph.prefixes import KGR
    from kgraph.store import dataset_lines, quads_from_dataset
    from kgraph.void import sizes, sizes_of_lines

    _, result = mini_built
    assert sizes_of_lines(dataset_lines(quads_from_dataset(result.built.dataset)).triples) == sizes(result.built.graph)
    g = Graph()
    s, p = URIRef(f"{KGR}x"), URIRef("http://x/p")
    for o in (Literal("a b ."), Literal("a b .", lang="en"), Literal("8.0", datatype=URIRef("http://x/d")),
              Literal("8", datatype=URIRef("http://x/d")), BNode("b1"), URIRef(f"{KGR}y")):
        g.add((s, p, o))
    g.add((BNode("b2"), RDF.type, URIRef("http://x/C")))
    import pyoxigraph as ox

    from kgraph.store import sorted_lines, term_to_ox

    lines = sorted_lines((ox.Triple(term_to_ox(a), term_to_ox(b), term_to_ox(c)) for a, b, c in g), distinct=True)
    assert sizes_of_lines(lines) == sizes(g)
