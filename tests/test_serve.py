"""`kgraph serve` in-process, with Starlette's test client, over the tiny fixture graph."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import xml.etree.ElementTree as ET

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from starlette import testclient as starlette_testclient

from kgraph.formats import from_media_type, from_name, negotiate, parse_accept
from kgraph.prefixes import KGR
from kgraph.serve import ServeOptions, create_app

BASE = "http://127.0.0.1"  # the test client's default Host, "testserver", is refused like any other
SELECT_LABELS = "SELECT ?e ?label WHERE { ?e a kg:Drug ; rdfs:label ?label }"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@pytest.fixture(scope="module")
def built(mini_built):
    _, result = mini_built
    return result


@pytest.fixture(scope="module")
def store(mini_built):
    from kgraph.store import read_info

    return read_info(mini_built[0].out_dir)


@pytest.fixture(scope="module")
def client(built, store):
    # generous limits: on a busy machine a whole-graph SELECT must reach its 413 (too many
    # results), not a time-out or a busy 503; the time-out tests build their own apps.
    # Answered through the build's store, as `kgraph serve` answers.
    app = create_app(built.built.graph, built.network, ServeOptions(timeout=60, max_results=500, max_wait=30),
                     store=store)
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


def _json_labels(text):
    return [b["label"]["value"] for b in json.loads(text)["results"]["bindings"]]


def _csv_rows(text):
    return list(csv.reader(io.StringIO(text)))


def _xml_vars(text):
    root = ET.fromstring(text)
    return [v.get("name") for v in root.find("s:head", {"s": "http://www.w3.org/2005/sparql-results#"})]


@pytest.mark.parametrize("fmt,read,expected", [
    ("json", _json_labels, ["ketamine"]),
    ("csv", _csv_rows, [["e", "label"], [f"{KGR}ketamine", "ketamine"]]),
    ("tsv", lambda t: t.splitlines(), ["?e\t?label", f"<{KGR}ketamine>\t\"ketamine\""]),
    ("xml", _xml_vars, ["e", "label"]),
])
def test_select_results_in_each_format_agree(client, fmt, read, expected):
    r = client.get("/sparql", params={"query": SELECT_LABELS, "format": fmt})
    assert r.status_code == 200
    assert read(r.text) == expected


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
    # max_wait: on a busy machine the fresh worker may take seconds to start; the query waits for it
    # timeout 3 s: the query below never ends (a cube of all triples), and the one after it
    # must be answered within the same limit by a fresh worker, on a busy machine too
    app = create_app(built.built.graph, built.network, ServeOptions(timeout=3, max_results=10, max_wait=60))
    with starlette_testclient.TestClient(app, base_url=BASE) as c:
        slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
        r = c.get("/sparql", params={"query": slow})
        assert r.status_code == 503
        assert "retry-after" not in r.headers  # the same query would time out again
        assert "stopped after 3 s" in r.text
        assert c.get("/sparql", params={"query": SELECT_LABELS}).status_code == 200  # a fresh worker answers


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
    # sources by publisher and title, not file name (issue 12)
    assert "Alpha Clinic, “Alpha Clinic page” (src-001)" in html.text and "CHEBI_6121" in html.text
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
    ("a/b;q=0, c/d", [("c/d", 1.0), ("a/b", 0.0)]),  # kept: q=0 excludes what it matches
    ("*", [("*/*", 1.0)]),
    ("a/b; Q = 0.5", [("a/b", 0.5)]),
])
def test_parse_accept(header, expected):
    assert parse_accept(header) == expected


def test_negotiate_by_format_parameter():
    assert negotiate("results", None, "json").media_type == "application/sparql-results+json"
    assert negotiate("graph", None, "json").media_type == "application/ld+json"
    assert negotiate("graph", "text/html", "n3").media_type == "text/turtle"


@pytest.mark.parametrize("lookup, value, expected", [
    # a format's own name or media type wins over another format's alias
    (from_name, "json", "json"),  # not JSON-LD, whose alias it also is
    (from_name, "XML", "xml"),
    (from_name, "ttl", "turtle"),
    (from_media_type, "application/json; charset=utf-8", "cytoscape"),  # its own; JSON-LD's alias
    (from_media_type, "application/xml", "xml"),
    (from_media_type, "text/plain", "nt"),
    (from_name, "nonsense", None),
    (from_media_type, "text/nonsense", None),
])
def test_format_lookup_prefers_own_names(lookup, value, expected):
    found = lookup(value)
    assert (found.name if found else None) == expected


def test_the_serve_options_give_the_pool_its_limits():
    from kgraph.sparql.execute import PoolLimits

    assert ServeOptions().pool_limits == PoolLimits()  # one set of defaults
    given = ServeOptions(max_concurrent=1, reserve=0, fast_timeout=0.25, max_wait=0.5, per_client=3,
                         worker_memory=None)
    assert given.pool_limits == PoolLimits(size=1, reserve=0, fast_timeout=0.25, max_wait=0.5, per_client=3,
                                           memory=None)


def test_the_server_process_never_parses_a_query(built, monkeypatch):
    """Parsing happens in the workers (under the deadline): the server's own parser is never called."""
    import rdflib.plugins.sparql.parser as parser

    app = create_app(built.built.graph, built.network, ServeOptions(timeout=30, max_concurrent=1))
    with starlette_testclient.TestClient(app, base_url=BASE) as c:  # workers forked before the patch
        def refuse(text):
            raise AssertionError("the server process parsed a query")

        monkeypatch.setattr(parser, "parseQuery", refuse)
        r = c.get("/sparql", params={"query": SELECT_LABELS + " LIMIT 1"})
    assert r.status_code == 200, r.text


def test_busy_server_answers_503_with_retry_after(built):
    """With its one worker taken, a query waits max_wait, then gets 503 and Retry-After."""
    import threading

    app = create_app(built.built.graph, built.network,
                     ServeOptions(timeout=20, max_concurrent=1, reserve=0, max_wait=0.2))
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    with starlette_testclient.TestClient(app, base_url=BASE) as c:
        pool = app.state.kgraph.pool
        runaway = threading.Thread(target=lambda: c.get("/sparql", params={"query": slow}), daemon=True)
        runaway.start()
        try:
            for _ in range(600):  # until the runaway query holds the worker (no guessing with sleeps)
                if pool.busy == 1:
                    break
                threading.Event().wait(0.05)
            assert pool.busy == 1
            r = c.get("/sparql", params={"query": SELECT_LABELS})
        finally:
            # stop the runaway query now rather than after 20 s: its worker dies as a crashed
            # one would (the pool's close() from this thread would race the request's own
            # clean-up of that worker: both close its pipe)
            for worker in list(pool._workers):
                os.kill(worker.process.pid, signal.SIGKILL)
        runaway.join(30)
        assert r.status_code == 503
        # honest: the runaway worker is free by its deadline, 20 s after it started at the latest
        assert 1 <= int(r.headers["retry-after"]) <= 20 and r.headers["cache-control"] == "no-store"
        assert "busy" in r.text
        assert not runaway.is_alive()


@pytest.mark.parametrize("path,params,accept,headers", [
    ("/sparql", {"query": SELECT_LABELS}, "application/sparql-results+json",
     {"vary": "Accept", "cache-control": "no-store"}),
    ("/sparql", {"query": "DESCRIBE kgr:ketamine"}, "text/turtle", {"vary": "Accept", "cache-control": "no-store"}),
    ("/sparql", {"query": "SELEC"}, "text/plain", {"cache-control": "no-store"}),
    ("/sparql", {}, "text/turtle", {"vary": "Accept"}),
    ("/id/ketamine", {}, "text/turtle", {"vary": "Accept"}),
    ("/id/ketamine", {}, "text/html", {"vary": "Accept"}),
    ("/static/query.js", {}, "*/*", {"cache-control": "max-age=3600"}),
])
def test_cache_headers(client, path, params, accept, headers):
    r = client.get(path, params=params, headers={"Accept": accept})
    for name, value in headers.items():
        assert r.headers.get(name) == value, (path, name)


# --------------------------------------------------------------------------- one registry

def _every_answer_name():
    from kgraph.formats import of_kind

    return [(fmt, name) for fmt in of_kind("results", "graph") for name in fmt.names]


@pytest.mark.parametrize("fmt,name", _every_answer_name(), ids=lambda v: getattr(v, "name", v))
def test_every_registry_name_works_over_http(client, fmt, name):
    query = SELECT_LABELS if fmt.kind == "results" else "DESCRIBE kgr:ketamine"
    r = client.get("/sparql", params={"query": query, "format": name})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == fmt.media_type


@pytest.mark.parametrize("fmt", [f for f, _ in _every_answer_name() if _ == f.name], ids=lambda f: f.name)
def test_every_media_type_of_the_registry_is_negotiated(client, fmt):
    query = SELECT_LABELS if fmt.kind == "results" else "DESCRIBE kgr:ketamine"
    r = client.get("/sparql", params={"query": query}, headers={"Accept": fmt.media_type})
    assert r.headers["content-type"].split(";")[0] == fmt.media_type


def test_service_description_lists_the_registry_formats(client):
    from kgraph.formats import of_kind

    g = Graph().parse(data=client.get("/sparql", headers={"Accept": "text/turtle"}).text, format="turtle")
    listed = {str(o) for o in g.objects(URIRef(f"{BASE}/sparql"),
                                        URIRef("http://www.w3.org/ns/sparql-service-description#resultFormat"))}
    assert listed == {f.iri for f in of_kind("results", "graph")}


def test_query_page_downloads_come_from_the_registry(client):
    import re

    from kgraph.formats import downloads
    from kgraph.prefixes import js_table

    page = client.get("/query").text
    block = re.search(r'<script type="application/json" id="kgraph-data">(.*?)</script>', page, re.S)
    payload = json.loads(block.group(1))
    assert {k: payload[k] for k in ("downloads", "prefixes")} == {"downloads": downloads(), "prefixes": js_table()}
    # labels beside ids in results, and the prefix names the editor completes (issue 13)
    assert payload["labels"]["ketamine"] == "ketamine" and "kg" in payload["predeclared"]
    assert [d["name"] for d in downloads()["results"]] == ["csv", "tsv", "json", "srx"]


# --------------------------------------------------------------------------- errors over HTTP

@pytest.mark.parametrize("request_kwargs,status", [
    ({"params": {"query": "SELEC ?x"}}, 400),
    ({"params": {"query": ""}}, 400),
    ({"params": {"query": "SELECT * FROM <http://remote.example/g> WHERE { ?s ?p ?o }"}}, 400),
    ({"params": {"query": "SELECT ?s WHERE { ?s kgg:p ?o }"}}, 400),
    ({"params": {"query": "ASK { ?s ?p ?o }", "default-graph-uri": "http://remote.example/g"}}, 400),
    ({"params": {"query": "DELETE WHERE { ?s ?p ?o }"}}, 403),
    ({"params": {"update": "DROP ALL"}}, 403),
    ({"params": {"query": SELECT_LABELS, "format": "pdf"}}, 406),
    ({"params": {"query": "SELECT * WHERE { ?s ?p ?o }", "format": "csv"}}, 413),
    ({"path": "/id/no-such-thing"}, 404),
    ({"path": "/static/nothing.js"}, 404),
])
@pytest.mark.parametrize("accept", ["text/plain", "text/html"])
def test_http_errors_give_http_advice_not_command_lines(client, request_kwargs, status, accept):
    kwargs = dict(request_kwargs)
    r = client.get(kwargs.pop("path", "/sparql"), headers={"Accept": accept}, **kwargs)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html" if accept == "text/html" else "text/plain")
    for cli_advice in ("`kgraph", "kgraph build", "kgraph queries", "--timeout", "--name", "-f FILE", "--format"):
        assert cli_advice not in r.text, cli_advice
    if accept == "text/html":
        assert "Content-Security-Policy" in r.headers and "<script" not in r.text


def test_error_pages_escape_what_the_client_sent(client):
    r = client.get("/sparql", params={"query": "SELECT <script>alert(1)</script>"}, headers={"Accept": "text/html"})
    assert r.status_code == 400
    assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text


def test_claim_and_source_pages_link_their_iris(client):
    import re

    page = client.get("/id/claim/c001-001", headers={"Accept": "text/html"}).text
    links = dict((text, href) for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', page))
    # subject and object are entities of the graph: their page, under their label
    assert links.get("ketamine") == "/id/ketamine" and links.get("NMDA receptor") == "/id/nmda-receptor", links
    assert any(href == "/id/source/src-001" for href in links.values()), links
    assert any(href.startswith("/ontology#") for href in links.values()), links  # kg: terms, offline
    source = client.get("/id/source/src-001", headers={"Accept": "text/html"}).text
    assert re.search(r'<a href="(/id/|https?://)', source.split("<table>", 1)[1]), source


def test_unknown_paths_get_the_styled_error_page(client):
    r = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert '<link rel="stylesheet" href="/static/app.css">' in r.text and 'class="bar"' in r.text
    assert "no page at /no/such/page" in r.text and 'href="/query"' in r.text
    plain = client.get("/no/such/page", headers={"Accept": "text/plain"})
    assert plain.status_code == 404 and "no page at /no/such/page" in plain.text
    escaped = client.get("/<script>x</script>", headers={"Accept": "text/html"})
    assert escaped.status_code == 404 and "<script>x" not in escaped.text
