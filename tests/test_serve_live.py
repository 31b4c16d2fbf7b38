"""A real `kgraph serve` on loopback, started by the test: standard SPARQL clients, the
query page in headless Chromium, refused updates, and a runaway query that does not
stop other clients from being answered."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic
from typer.testing import CliRunner

from conftest import REPO
from kgraph.cli import app
from kgraph.sparql.named import named_queries

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(corpus_built):
    project, _ = corpus_built
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kgraph", "serve", "--port", str(port), "--out", str(project.out_dir),
         "--timeout", "3"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/sparql?query=ASK%7B%7D", timeout=2):
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"kgraph serve did not start: {proc.stderr.read()}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _get(url: str, accept: str = "application/sparql-results+json", timeout: float = 30):
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


def _rows(results: dict) -> set:
    return {tuple(sorted((k, v["value"]) for k, v in b.items())) for b in results["results"]["bindings"]}


def _kgraph_answer(project, name: str, fmt: str, tmp_path):
    out = tmp_path / f"{name}.{fmt}"
    result = CliRunner().invoke(app, ["query", "--name", name, "--format", fmt, "--output", str(out),
                                      "--out", str(project.out_dir)])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def test_sparqlwrapper_and_sparqlstore_agree_with_kgraph_query(server, corpus_built, tmp_path, monkeypatch):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore
    from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

    project, _ = corpus_built
    monkeypatch.chdir(REPO)
    store_graph = Graph(store=SPARQLStore(f"{server}/sparql", returnFormat="json"))
    checked = 0
    for name, q in named_queries().items():
        is_graph = any(word in q.text.upper().split() for word in ("CONSTRUCT", "DESCRIBE"))
        client = SPARQLWrapper(f"{server}/sparql")
        client.setQuery(q.text)
        if is_graph:
            client.setReturnFormat(TURTLE)
            remote = Graph().parse(data=client.query().convert(), format="turtle")
            local = Graph().parse(data=_kgraph_answer(project, name, "turtle", tmp_path), format="turtle")
            assert isomorphic(remote, local), name
        else:
            client.setReturnFormat(JSON)
            remote = client.query().convert()
            local = json.loads(_kgraph_answer(project, name, "json", tmp_path))
            if "boolean" in local:
                assert remote["boolean"] == local["boolean"], name
            else:
                assert _rows(remote) == _rows(local), name
                # rdflib's SPARQLStore: the same rows again, through another client
                via_store = store_graph.query(q.text)
                assert len(list(via_store)) == len(local["results"]["bindings"]), name
        checked += 1
    assert checked >= 15


def test_update_refused_and_graph_unchanged(server):
    count = urllib.parse.quote("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    _, before = _get(f"{server}/sparql?query={count}")
    body = urllib.parse.urlencode({"update": "INSERT DATA { <urn:x> <urn:y> <urn:z> }"}).encode()
    req = urllib.request.Request(f"{server}/sparql", data=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 403
    assert "read-only" in refused.value.read().decode()
    _, after = _get(f"{server}/sparql?query={count}")
    assert json.loads(after) == json.loads(before)


def test_runaway_query_times_out_while_others_are_answered(server):
    slow = urllib.parse.quote("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
    outcome: dict = {}

    def run_slow() -> None:
        try:
            _get(f"{server}/sparql?query={slow}", timeout=60)
            outcome["status"] = 200
        except urllib.error.HTTPError as exc:
            outcome["status"] = exc.code
            outcome["body"] = exc.read().decode()

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(0.3)
    quick = urllib.parse.quote("SELECT ?l WHERE { kgr:ketamine rdfs:label ?l }")
    answered_during = 0
    for _ in range(5):
        status, body = _get(f"{server}/sparql?query={quick}")
        assert status == 200 and "ketamine" in body
        if thread.is_alive():
            answered_during += 1
    thread.join(30)
    assert answered_during >= 1  # other clients were answered while the runaway query ran
    assert outcome["status"] == 503
    assert "stopped after 3 s" in outcome["body"]
    # and the server is still healthy afterwards
    assert _get(f"{server}/sparql?query={quick}")[0] == 200


def test_query_page_runs_a_query_in_chromium(server, browser, tmp_path):
    outside: list[str] = []
    context = browser.new_context()
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
        page.wait_for_selector("#examples option:nth-child(16)", state="attached")
        page.fill("#sparql", "SELECT ?label WHERE { ?d a kg:Drug ; rdfs:label ?label } ORDER BY ?label")
        page.click("#run")
        page.wait_for_selector("#results table")
        cells = page.locator("#results td").all_text_contents()
        assert "ketamine" in cells and "morphine" in cells
        assert "results in" in page.text_content("#status")
        assert page.locator("#downloads a").count() == 4
        # a named question from the list, then a CONSTRUCT drawn as a graph
        page.select_option("#examples", index=1)
        assert page.input_value("#sparql").startswith("#")
        page.fill("#sparql", "CONSTRUCT { kgr:ketamine kg:antagonistOf ?r . ?r rdfs:label ?l } "
                             "WHERE { kgr:ketamine kg:antagonistOf ?r . ?r rdfs:label ?l }")
        page.click("#run")
        page.wait_for_selector("#network canvas")
        assert "NMDA receptor" in page.text_content("#results")
        page.screenshot(path=str(tmp_path / "query-page.png"))
    finally:
        context.close()
    assert outside == []
