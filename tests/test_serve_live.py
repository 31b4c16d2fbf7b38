"""The server on real loopback sockets: standard SPARQL clients, the query page in
headless Chromium, refused updates, a runaway query that does not stop other clients from
being answered, and `kgraph serve` itself.

The app runs in this process (uvicorn in a thread, on a port the system picks) over the
corpus graph built once for the session, so no test waits for a second interpreter to
load the graph; only the last test starts the real command. Time limits are generous
and nothing depends on how fast the machine is: a busy machine makes the tests slower,
never red.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import pytest
from conftest import REPO
from live_server import serving
from rdflib import Graph
from rdflib.compare import isomorphic

from kgraph.formats import FORMATS_BY_NAME
from kgraph.serve import ServeOptions
from kgraph.sparql.execute import run_query
from kgraph.sparql.named import named_queries
from kgraph.sparql.prepare import prepare_query
from kgraph.sparql.results import serialize_result

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

#: generous: on a loaded 2-core machine a named query over the corpus can take seconds
PATIENT = 120.0


@contextmanager
def _serving(graph, network, options: ServeOptions):
    """The app on 127.0.0.1 (a free port) in a thread of this process; yields (base URL, app)."""
    with serving(graph, network, options) as (host, port, app):
        yield f"http://{host}:{port}", app


@pytest.fixture(scope="module")
def corpus(corpus_built):
    _, result = corpus_built
    return result


@pytest.fixture(scope="module")
def server(corpus):
    with _serving(corpus.built.graph, corpus.network, ServeOptions(timeout=PATIENT, max_concurrent=2)) as (base, _):
        yield base


def _get(url: str, accept: str = "application/sparql-results+json", timeout: float = PATIENT):
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


def _rows(results: dict) -> set:
    return {tuple(sorted((k, v["value"]) for k, v in b.items())) for b in results["results"]["bindings"]}


#: every named question, and graph-shaped questions (no named question is a CONSTRUCT or DESCRIBE)
INTEROP = {name: q.text for name, q in named_queries().items()} | {
    "construct-treats": "CONSTRUCT { ?d kg:treats ?c } WHERE { ?d kg:treats ?c }",
    "construct-where-labels": "CONSTRUCT WHERE { ?e a kg:Drug ; rdfs:label ?l }",
    "describe-ketamine": "DESCRIBE kgr:ketamine",
    "ask-treats": "ASK { kgr:ketamine kg:treats ?c }",
}


def test_the_interop_table_covers_every_query_form():
    assert {prepare_query(text).kind for text in INTEROP.values()} == {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}


@pytest.mark.parametrize("name", sorted(INTEROP))
def test_sparqlwrapper_and_sparqlstore_agree_with_kgraph(server, corpus, name):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore
    from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

    text = INTEROP[name]
    prepared = prepare_query(text)
    local = run_query(corpus.built.graph, prepared, timeout=PATIENT)
    client = SPARQLWrapper(f"{server}/sparql")
    client.setTimeout(int(PATIENT))
    client.setQuery(text)
    is_graph = prepared.kind in ("CONSTRUCT", "DESCRIBE")
    # "xml" makes SPARQLStore accept results XML or RDF/XML: the server picks by the query form
    store = Graph(store=SPARQLStore(f"{server}/sparql", returnFormat="xml" if is_graph else "json",
                                    timeout=PATIENT))
    if is_graph:
        client.setReturnFormat(TURTLE)
        remote = Graph().parse(data=client.query().convert(), format="turtle")
        assert isomorphic(remote, local.graph)
        assert len(local.graph) > 0
        # rdflib's SPARQLStore: the same graph through another client, as RDF/XML
        assert isomorphic(store.query(text).graph, local.graph)
        return
    client.setReturnFormat(JSON)
    remote = client.query().convert()
    expected = json.loads(serialize_result(local, FORMATS_BY_NAME["json"]))
    if prepared.kind == "ASK":
        assert remote["boolean"] == expected["boolean"] == local.boolean
        assert store.query(text).askAnswer == local.boolean
        return
    assert _rows(remote) == _rows(expected)
    assert remote["head"]["vars"] == local.variables
    via_store = [tuple(row) for row in store.query(text)]
    assert sorted(via_store, key=repr) == sorted(local.rows, key=repr)


def test_update_refused_and_graph_unchanged(server):
    count = urllib.parse.quote("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    _, before = _get(f"{server}/sparql?query={count}")
    body = urllib.parse.urlencode({"update": "INSERT DATA { <urn:x> <urn:y> <urn:z> }"}).encode()
    req = urllib.request.Request(f"{server}/sparql", data=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=PATIENT)
    assert refused.value.code == 403
    assert "read-only" in refused.value.read().decode()
    _, after = _get(f"{server}/sparql?query={count}")
    assert json.loads(after) == json.loads(before)


def test_runaway_query_times_out_while_others_are_answered(corpus):
    """A query past its limit is stopped (503 without Retry-After: it would be stopped again);
    meanwhile other clients are answered."""
    limit = 5
    slow = urllib.parse.quote("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
    quick = urllib.parse.quote("SELECT ?l WHERE { kgr:ketamine rdfs:label ?l }")
    with _serving(corpus.built.graph, corpus.network, ServeOptions(timeout=limit, max_concurrent=2)) as (base, app):
        pool = app.state.kgraph.pool
        outcome: dict = {}

        def run_slow() -> None:
            try:
                _get(f"{base}/sparql?query={slow}")
                outcome["status"] = 200
            except urllib.error.HTTPError as exc:
                outcome.update(status=exc.code, body=exc.read().decode(), retry=exc.headers.get("Retry-After"))
            outcome["done"] = time.monotonic()

        runaway = threading.Thread(target=run_slow)
        runaway.start()
        deadline = time.monotonic() + PATIENT
        while pool.busy == 0 and "done" not in outcome and time.monotonic() < deadline:
            time.sleep(0.02)  # until a worker holds the runaway query: then it is running
        answered = []
        for _ in range(3):
            status, body = _get(f"{base}/sparql?query={quick}")
            answered.append((status, "ketamine" in body, time.monotonic()))
        runaway.join(PATIENT)
        assert [(s, found) for s, found, _ in answered] == [(200, True)] * 3
        # every quick answer came while the runaway query was still running
        assert all(at < outcome["done"] for _, _, at in answered)
        assert outcome["status"] == 503 and outcome["retry"] is None
        assert f"stopped after {limit} s" in outcome["body"]
        assert _get(f"{base}/sparql?query={quick}")[0] == 200  # and a fresh worker took its place


@pytest.mark.browser
def test_query_page_runs_a_query_in_chromium(server, browser, tmp_path):
    from kgraph.formats import downloads

    outside: list[str] = []
    context = browser.new_context()
    context.set_default_timeout(PATIENT * 1000)
    try:
        page = context.new_page()

        def guard(route):
            if route.request.url.startswith(server):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.goto(f"{server}/query")
        # (wait_for_function would evaluate a string, which the page's CSP rightly forbids)
        page.wait_for_selector(f"#examples option:nth-child({len(named_queries()) + 1})", state="attached")
        page.fill("#sparql", "SELECT ?label WHERE { ?d a kg:Drug ; rdfs:label ?label } ORDER BY ?label")
        page.click("#run")
        page.wait_for_selector("#results table")
        cells = page.locator("#results td").all_text_contents()
        assert "ketamine" in cells and "morphine" in cells
        assert "results in" in page.text_content("#status")
        links = page.locator("#downloads a")
        assert links.all_text_contents() == [f["label"] for f in downloads()["results"]]
        assert [links.nth(i).get_attribute("download") for i in range(links.count())] == \
               [f"result.{f['extension']}" for f in downloads()["results"]]
        # a named question from the list, then a CONSTRUCT drawn as a graph
        page.select_option("#examples", index=1)
        assert page.input_value("#sparql").startswith("#")
        page.fill("#sparql", "CONSTRUCT { kgr:ketamine kg:antagonistOf ?r . ?r rdfs:label ?l } "
                             "WHERE { kgr:ketamine kg:antagonistOf ?r . ?r rdfs:label ?l }")
        page.click("#run")
        page.wait_for_selector("#network canvas")
        assert "NMDA receptor" in page.text_content("#results")
        assert page.locator("#downloads a").all_text_contents() == [f["label"] for f in downloads()["graph"]]
        page.screenshot(path=str(tmp_path / "query-page.png"))
    finally:
        context.close()
    assert outside == []


def test_kgraph_serve_command_answers_on_the_port_it_reports(corpus_built):
    """The real command: binds a free port (--port 0), says which, answers, stops on SIGTERM."""
    project, _ = corpus_built
    proc = subprocess.Popen(
        [sys.executable, "-m", "kgraph", "serve", "--port", "0", "--graph-dir", str(project.out_dir)],
        cwd=REPO, env=_this_source(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # printed once the graph is loaded, before serving
        match = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None else "")
        base = match.group(1)
        deadline = time.monotonic() + PATIENT
        while True:
            try:
                status, body = _get(f"{base}/sparql?query=" + urllib.parse.quote("ASK { kgr:ketamine ?p ?o }"))
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert status == 200 and json.loads(body)["boolean"] is True
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _this_source() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


@pytest.mark.browser
def test_query_page_links_ontology_terms_to_the_docs(server, browser):
    """kg: terms in results link to /ontology#Term on this server; printed kgclaim: ids parse."""
    context = browser.new_context()
    context.set_default_timeout(PATIENT * 1000)
    try:
        page = context.new_page()
        page.goto(f"{server}/query")
        page.fill("#sparql", "SELECT ?type WHERE { kgr:ketamine a ?type . kgclaim:c000-001 a kg:Claim }")
        page.click("#run")
        page.wait_for_selector("#results table")
        link = page.locator("#results td a", has_text="kg:Drug")
        assert link.get_attribute("href") == "/ontology#Drug"
        link.click()
        page.wait_for_selector("#Drug")
        assert page.url == f"{server}/ontology#Drug"
    finally:
        context.close()
