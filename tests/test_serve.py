"""`kgraph serve` in-process, with Starlette's test client, over the tiny fixture graph."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from starlette import testclient as starlette_testclient

from kgraph.formats import negotiate, parse_accept
from kgraph.project import KGR
from kgraph.serve import ServeOptions, create_app


BASE = "http://127.0.0.1"  # the test client's default Host, "testserver", is refused like any other
SELECT_LABELS = "SELECT ?e ?label WHERE { ?e a kg:Drug ; rdfs:label ?label }"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@pytest.fixture(scope="module")
def built(mini_built):
    _, result = mini_built
    return result


@pytest.fixture(scope="module")
def client(built):
    app = create_app(built.built.graph, built.network, ServeOptions(timeout=5, max_results=500))
    with starlette_testclient.TestClient(app, base_url=BASE) as c:
        yield c


def _count(client) -> int:
    r = client.get("/sparql", params={"query": COUNT}, headers={"Accept": "application/sparql-results+json"})
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("accept,media", [
    ("application/sparql-results+json", "application/sparql-results+json"),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("application/json", "application/sparql-results+json"),
    ("*/*", "application/sparql-results+json"),
    ("text/csv;q=0.5, application/sparql-results+xml", "application/sparql-results+xml"),
])
def test_select_content_negotiation(client, accept, media):
    r = client.get("/sparql", params={"query": SELECT_LABELS}, headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media


def test_select_results_in_each_format_agree(client):
    as_json = client.get("/sparql", params={"query": SELECT_LABELS, "format": "json"}).json()
    assert as_json["head"]["vars"] == ["e", "label"]
    assert [b["label"]["value"] for b in as_json["results"]["bindings"]] == ["ketamine"]
    text = client.get("/sparql", params={"query": SELECT_LABELS, "format": "csv"}).text
    assert list(csv.reader(io.StringIO(text))) == [["e", "label"], [f"{KGR}ketamine", "ketamine"]]
    tsv = client.get("/sparql", params={"query": SELECT_LABELS, "format": "tsv"}).text.splitlines()
    assert tsv[0] == "?e\t?label" and tsv[1] == f"<{KGR}ketamine>\t\"ketamine\""
    xml = client.get("/sparql", params={"query": SELECT_LABELS, "format": "xml"}).text
    ns = {"s": "http://www.w3.org/2005/sparql-results#"}
    root = ET.fromstring(xml)
    assert [v.get("name") for v in root.find("s:head", ns)] == ["e", "label"]


def test_post_forms(client):
    form = client.post("/sparql", data={"query": SELECT_LABELS}, headers={"Accept": "text/csv"})
    direct = client.post("/sparql", content=SELECT_LABELS.encode(),
                         headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"})
    assert form.status_code == direct.status_code == 200
    assert form.text == direct.text
    other = client.post("/sparql", content=b"x", headers={"Content-Type": "text/plain"})
    assert other.status_code == 415 and "application/sparql-query" in other.text


def test_ask(client):
    r = client.get("/sparql", params={"query": "ASK { kgr:ketamine kg:treats kgr:ptsd }"})
    assert r.json() == {"head": {}, "boolean": True}


@pytest.mark.parametrize("fmt,parse_as", [("turtle", "turtle"), ("nt", "nt"), ("jsonld", "json-ld"), ("xml", "xml")])
def test_construct_formats_parse_back(client, built, fmt, parse_as):
    query = "CONSTRUCT { ?s kg:treats ?o } WHERE { ?s kg:treats ?o }"
    r = client.get("/sparql", params={"query": query, "format": fmt})
    assert r.status_code == 200
    g = Graph().parse(data=r.text, format=parse_as)
    expected = Graph()
    for t in built.built.graph.triples((None, URIRef("https://w3id.org/kgraph/ontology#treats"), None)):
        expected.add(t)
    assert isomorphic(g, expected)


def test_construct_by_accept(client):
    r = client.get("/sparql", params={"query": "DESCRIBE kgr:ketamine"}, headers={"Accept": "application/ld+json"})
    assert r.headers["content-type"] == "application/ld+json"
    assert len(Graph().parse(data=r.text, format="json-ld")) > 5


def test_unacceptable_format(client):
    r = client.get("/sparql", params={"query": SELECT_LABELS}, headers={"Accept": "image/png"})
    assert r.status_code == 406 and "application/sparql-results+json" in r.text
    r = client.get("/sparql", params={"query": SELECT_LABELS, "format": "pdf"})
    assert r.status_code == 406 and "csv" in r.text


def test_bad_query_is_400_with_the_parse_error(client):
    r = client.get("/sparql", params={"query": "SELECT ?s WHERE { ?s ?p }"})
    assert r.status_code == 400
    assert "syntax error at line 1, column" in r.text


@pytest.mark.parametrize("request_kwargs", [
    {"method": "POST", "content": b"INSERT DATA { <urn:a> <urn:b> <urn:c> }",
     "headers": {"Content-Type": "application/sparql-update"}},
    {"method": "POST", "data": {"update": "DELETE WHERE { ?s ?p ?o }"}},
    {"method": "POST", "data": {"query": "DELETE WHERE { ?s ?p ?o }"}},
    {"method": "GET", "params": {"query": "CLEAR ALL"}},
    {"method": "GET", "params": {"update": "DROP ALL"}},
])
def test_updates_are_refused_and_change_nothing(client, request_kwargs):
    before = _count(client)
    kwargs = dict(request_kwargs)
    r = client.request(kwargs.pop("method"), "/sparql", **kwargs)
    assert r.status_code == 403
    assert "refused" in r.text
    assert _count(client) == before


@pytest.mark.parametrize("query,word", [
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * FROM <http://127.0.0.1:9/data.ttl> WHERE { ?s ?p ?o }", "FROM"),
    ("SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }", "FROM"),
])
def test_remote_and_file_access_refused(client, query, word):
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 400
    assert word in r.text and "refused" in r.text


def test_result_size_limit(client):
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert r.status_code == 413
    assert "LIMIT" in r.text
    assert client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 10"}).status_code == 200


def test_query_length_limit(built):
    app = create_app(built.built.graph, built.network, ServeOptions(max_query_bytes=100))
    with starlette_testclient.TestClient(app, base_url=BASE) as c:
        r = c.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } " + "#" * 200})
        assert r.status_code == 413


def test_timeout_stops_the_query(built):
    app = create_app(built.built.graph, built.network, ServeOptions(timeout=0.5, max_results=10))
    with starlette_testclient.TestClient(app, base_url=BASE) as c:
        slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
        r = c.get("/sparql", params={"query": slow})
        assert r.status_code == 503
        assert "stopped after 0.5 s" in r.text


def test_service_description(client):
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    g = Graph().parse(data=r.text, format="turtle")
    sd = "http://www.w3.org/ns/sparql-service-description#"
    endpoint = URIRef(f"{BASE}/sparql")
    assert (endpoint, URIRef(sd + "supportedLanguage"), URIRef(sd + "SPARQL11Query")) in g
    formats = set(g.objects(endpoint, URIRef(sd + "resultFormat")))
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in formats
    browser = client.get("/sparql", headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303 and browser.headers["location"] == "/query"


def test_entity_iris_resolve(client, built):
    html = client.get("/id/ketamine", headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Ketamine can relieve PTSD within hours" in html.text
    assert "alpha.txt" in html.text and "CHEBI_6121" in html.text
    turtle = client.get("/id/ketamine", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=turtle.text, format="turtle")
    assert (URIRef(f"{KGR}ketamine"), URIRef("http://www.w3.org/2000/01/rdf-schema#label"), None) in g
    jsonld = client.get("/id/ketamine", headers={"Accept": "application/ld+json"})
    assert isomorphic(Graph().parse(data=jsonld.text, format="json-ld"), g)
    claim = client.get("/id/claim/c001-001", headers={"Accept": "text/turtle"})
    assert "Ketamine blocks the NMDA receptor." in claim.text
    assert client.get("/id/source/src-001", headers={"Accept": "text/html"}).status_code == 200
    assert client.get("/id/no-such-thing").status_code == 404


def test_pages_and_assets_are_local(client):
    import re

    for path in ("/", "/query", "/graph", "/id/ketamine"):
        r = client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200 and "Content-Security-Policy" in r.headers
        refs = re.findall(r"<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)=[\"']([^\"']+)", r.text)
        remote = [ref for ref in refs if re.match(r"(?i)([a-z][a-z0-9+.-]*:)?//", ref)]
        assert remote == [], path
    assert "default-src 'none'" in client.get("/query").headers["Content-Security-Policy"]
    for asset in ("/static/query.js", "/static/vis-network.min.js", "/static/app.css"):
        assert client.get(asset).status_code == 200
    for sneaky in ("/static/..%2fcli.py", "/static/%2e%2e%2fserve.py", "/static/query.html"):
        assert client.get(sneaky).status_code == 404
    names = json.loads(client.get("/queries.json").text)
    assert len(names) >= 15 and all(q["description"] for q in names)


def test_serve_reports_a_taken_port(monkeypatch):
    import socket

    from typer.testing import CliRunner

    from kgraph.cli import app as cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output


def test_host_header_is_checked(client):
    r = client.get("/sparql", params={"query": SELECT_LABELS}, headers={"Host": "evil.example"})
    assert r.status_code == 400


def test_cors_off_by_default_and_on_for_one_origin(built, client):
    r = client.get("/sparql", params={"query": SELECT_LABELS}, headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers
    app = create_app(built.built.graph, built.network, ServeOptions(cors="https://yasgui.example"))
    with starlette_testclient.TestClient(app, base_url=BASE) as c:
        ok = c.get("/sparql", params={"query": SELECT_LABELS}, headers={"Origin": "https://yasgui.example"})
        assert ok.headers["access-control-allow-origin"] == "https://yasgui.example"
        other = c.get("/sparql", params={"query": SELECT_LABELS}, headers={"Origin": "https://other.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("header,expected", [
    (None, [("*/*", 1.0)]),
    ("text/csv;q=0.2, application/json", [("application/json", 1.0), ("text/csv", 0.2)]),
    ("a/b;q=0, c/d", [("c/d", 1.0)]),
])
def test_parse_accept(header, expected):
    assert parse_accept(header) == expected


def test_negotiate_by_format_parameter():
    assert negotiate("results", None, "json").media_type == "application/sparql-results+json"
    assert negotiate("graph", None, "json").media_type == "application/ld+json"
    assert negotiate("graph", "text/html", "n3").media_type == "text/turtle"


def test_concurrent_distinct_queries_are_all_answered(client):
    """Parsing runs in threads; rdflib's parser (pyparsing) must never see two at once."""
    from concurrent.futures import ThreadPoolExecutor

    queries = [f"SELECT ?l WHERE {{ ?e rdfs:label ?l }} LIMIT {n}" for n in range(1, 25)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda q: client.get("/sparql", params={"query": q}).status_code, queries))
    assert statuses == [200] * len(queries)
