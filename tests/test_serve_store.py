"""`kgraph serve` answering through the build's Oxigraph store (issue 10): GRAPH over the
per-source named graphs, FROM / FROM NAMED and the protocol's default-graph-uri /
named-graph-uri per source, remote graphs and SERVICE refused, Update 403; the named
questions byte for byte what rdflib's engine answers; heavy queries still stopped.
"""

from __future__ import annotations

import json

import pytest
from starlette import testclient as starlette_testclient

from kgraph.serve import ServeOptions, create_app
from kgraph.store import CATALOG_GRAPH, read_info

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BASE = "http://127.0.0.1"
JSON = {"Accept": "application/sparql-results+json"}
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
PER_GRAPH = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


@pytest.fixture(scope="module")
def served(mini_built):
    project, result = mini_built
    info = read_info(project.out_dir)
    app = create_app(result.built.graph, result.network, ServeOptions(timeout=60, max_wait=30), store=info)
    with starlette_testclient.TestClient(app, base_url=BASE) as client:
        yield client, info


def _sources(info) -> list[str]:
    return [g for g in info.counts if "/graph/" in g and g != CATALOG_GRAPH and g.rsplit("/", 1)[1].startswith("src")]


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


def _count(client, **params) -> int:
    return int(_rows(client.get("/sparql", params={"query": COUNT, **params}, headers=JSON))[0]["n"])


def test_graph_ranges_over_the_stores_named_graphs(served):
    client, info = served
    rows = _rows(client.get("/sparql", params={"query": PER_GRAPH}, headers=JSON))
    assert {r["g"]: int(r["n"]) for r in rows} == {g: n for g, n in info.counts.items() if g}
    assert len(_sources(info)) >= 2  # the fixture has several sources: per-source answers differ


def test_default_graph_uri_selects_one_source(served):
    client, info = served
    assert _count(client) == info.triples  # no dataset: the union
    for source in _sources(info):
        assert _count(client, **{"default-graph-uri": source}) == info.counts[source], source
    first, second = _sources(info)[:2]
    both = _count(client, **{"default-graph-uri": [first, second]})
    assert max(info.counts[first], info.counts[second]) <= both <= info.counts[first] + info.counts[second]


def test_named_graph_uri_limits_graph(served):
    client, info = served
    source = _sources(info)[0]
    r = client.get("/sparql", params={"query": PER_GRAPH, "named-graph-uri": source}, headers=JSON)
    assert {row["g"]: int(row["n"]) for row in _rows(r)} == {source: info.counts[source]}


def test_the_dataset_parameters_work_in_a_post_form_too(served):
    client, info = served
    source = _sources(info)[1]
    r = client.post("/sparql", data={"query": COUNT, "default-graph-uri": source}, headers=JSON)
    assert int(_rows(r)[0]["n"]) == info.counts[source]
    # and beside a query sent as the body (the parameters are then in the URL)
    r = client.post("/sparql", params={"default-graph-uri": source}, content=COUNT,
                    headers={**JSON, "Content-Type": "application/sparql-query"})
    assert int(_rows(r)[0]["n"]) == info.counts[source]


def test_from_and_from_named_select_sources(served):
    client, info = served
    first, second = _sources(info)[:2]
    r = client.get("/sparql", params={"query": COUNT.replace("WHERE", f"FROM <{first}> WHERE")}, headers=JSON)
    assert int(_rows(r)[0]["n"]) == info.counts[first]
    text = f"SELECT ?g (COUNT(*) AS ?n) FROM NAMED <{second}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g"
    assert _rows(client.get("/sparql", params={"query": text}, headers=JSON)) == [
        {"g": second, "n": str(info.counts[second])}]
    # the protocol's parameters win over FROM (SPARQL 1.1 Protocol, 2.1.4)
    r = client.get("/sparql", params={"query": COUNT.replace("WHERE", f"FROM <{first}> WHERE"),
                                      "default-graph-uri": second}, headers=JSON)
    assert int(_rows(r)[0]["n"]) == info.counts[second]


@pytest.mark.parametrize("params,status,words", [
    ({"query": "SELECT * FROM <http://127.0.0.1:9/data.ttl> WHERE { ?s ?p ?o }"}, 400, "not a graph of the store"),
    ({"query": "SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }"}, 400, "not a graph"),
    ({"query": COUNT, "default-graph-uri": "http://127.0.0.1:9/data.ttl"}, 400, "no graph"),
    ({"query": COUNT, "named-graph-uri": "file:///etc/passwd"}, 400, "no graph"),
    ({"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"}, 400, "SERVICE is refused"),
    ({"query": "LOAD <http://127.0.0.1:9/data.ttl>"}, 403, "read-only"),
    ({"query": "INSERT DATA { <http://e/a> <http://e/b> <http://e/c> }"}, 403, "read-only"),
    ({"update": "DROP ALL"}, 403, "read-only"),
])
def test_remote_graphs_service_and_update_are_refused(served, params, status, words):
    client, info = served
    r = client.get("/sparql", params=params)
    assert r.status_code == status, r.text
    assert words in r.text
    assert _count(client) == info.triples  # nothing was loaded or changed


def test_service_description_lists_the_named_graphs(served):
    from rdflib import Graph, Namespace

    client, info = served
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    sd = Namespace("http://www.w3.org/ns/sparql-service-description#")
    graph = Graph().parse(data=r.text, format="turtle")
    names = {str(o) for o in graph.objects(None, sd.name)}
    assert names == {g for g in info.counts if g}


def test_a_syntax_error_is_a_400_with_where_it_is(served):
    client, _ = served
    r = client.get("/sparql", params={"query": "SELECT ?x WHERE { ?x a kg:Drug . FILTER( }"})
    assert r.status_code == 400 and "line 1, column" in r.text


def test_an_app_without_a_store_refuses_the_dataset_parameters(mini_built):
    _, result = mini_built
    app = create_app(result.built.graph, result.network, ServeOptions(timeout=60, max_wait=30))
    with starlette_testclient.TestClient(app, base_url=BASE) as client:
        r = client.get("/sparql", params={"query": COUNT, "default-graph-uri": "https://w3id.org/kgraph/id/graph/x"})
        assert r.status_code == 400 and "default-graph-uri" in r.text


# --------------------------------------------------------------------------- same answers as rdflib's

@pytest.fixture(scope="module")
def corpus_clients(corpus_built):
    project, result = corpus_built
    options = ServeOptions(timeout=120, max_wait=120, max_results=100_000)
    store_app = create_app(result.built.graph, result.network, options, store=read_info(project.out_dir))
    rdflib_app = create_app(result.built.graph, result.network, options)
    with starlette_testclient.TestClient(store_app, base_url=BASE) as ours, \
            starlette_testclient.TestClient(rdflib_app, base_url=BASE) as theirs:
        yield ours, theirs


@pytest.mark.slow
def test_named_questions_answer_byte_for_byte_as_rdflib(corpus_clients):
    from kgraph.sparql.named import named_queries

    ours, theirs = corpus_clients
    for name, named in named_queries().items():
        for fmt in ("json", "csv", "tsv", "xml"):
            got = ours.get("/sparql", params={"query": named.text, "format": fmt})
            expected = theirs.get("/sparql", params={"query": named.text, "format": fmt})
            assert got.status_code == expected.status_code == 200, (name, got.text[:300])
            assert got.headers["content-type"] == expected.headers["content-type"]
            assert got.content == expected.content, (name, fmt)
        assert json.loads(ours.get("/sparql", params={"query": named.text}).content)["results"]["bindings"], name


@pytest.mark.parametrize("text", [
    "CONSTRUCT { ?d rdfs:label ?l } WHERE { ?d a kg:Drug ; rdfs:label ?l }",
    "DESCRIBE kgr:ketamine",
    "ASK { kgr:ketamine kg:treats ?c }",
])
def test_other_forms_answer_as_rdflib(corpus_clients, text):
    ours, theirs = corpus_clients
    for accept in ("*/*", "application/n-triples", "text/csv"):
        got, expected = (c.get("/sparql", params={"query": text}, headers={"Accept": accept}) for c in (ours, theirs))
        assert (got.status_code, got.headers.get("content-type")) == (expected.status_code,
                                                                      expected.headers.get("content-type"))
        if not text.startswith("DESCRIBE"):  # DESCRIBE's answer is the engine's choice
            assert got.content == expected.content, accept


# --------------------------------------------------------------------------- hostile clients (issue 14)

@pytest.mark.slow
def test_a_light_query_is_answered_while_two_heavy_ones_run_in_the_store(mini_built):
    import threading
    import time
    import urllib.error
    import urllib.request

    from live_server import serving

    heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"

    def post(port: int, query: str) -> tuple[int, str, float]:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/sparql", data=query.encode(),
                                     headers={"Content-Type": "application/sparql-query"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read().decode(), time.monotonic() - started
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), time.monotonic() - started

    project, result = mini_built
    options = ServeOptions(timeout=6.0, max_concurrent=2, reserve=1, max_wait=2.0)
    with serving(result.built.graph, result.network, options, store=read_info(project.out_dir)) as (_, port, app):
        pool = app.state.kgraph.pool
        before = {w.process.pid for w in pool._workers}
        answers: list = []
        # two different texts: the same one, asked twice at once, would be computed once
        heavies = [heavy, heavy.replace("?o }", "?o2 }")]
        threads = [threading.Thread(target=lambda q=q: answers.append(post(port, q)), daemon=True) for q in heavies]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while pool.busy < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.busy == 2
        light = [post(port, "ASK { ?s ?p ?o }") for _ in range(3)]
        assert [a[0] for a in light] == [200] * 3 and max(a[2] for a in light) < 3.0, light
        for thread in threads:
            thread.join(60)
        assert [a[0] for a in answers] == [503, 503] and all("stopped after 6 s" in a[1] for a in answers), answers
        deadline = time.monotonic() + 20
        while pool.busy and time.monotonic() < deadline:
            time.sleep(0.05)
        after = {w.process.pid for w in pool._workers}
        assert len(after) == 3 and len(before - after) == 2  # the stopped workers were replaced


def test_a_repeated_question_is_answered_without_a_worker(mini_built):
    """The store never changes under a server: the same request gets the same bytes from
    the answer cache, even with every worker gone; another request needs a worker."""
    project, result = mini_built
    app = create_app(result.built.graph, result.network, ServeOptions(timeout=60, max_wait=0.5),
                     store=read_info(project.out_dir))
    with starlette_testclient.TestClient(app, base_url=BASE) as client:
        first = client.get("/sparql", params={"query": PER_GRAPH}, headers=JSON)
        assert first.status_code == 200
        app.state.kgraph.pool.close()
        again = client.get("/sparql", params={"query": PER_GRAPH}, headers=JSON)
        assert (again.status_code, again.content) == (200, first.content)
        other = client.get("/sparql", params={"query": PER_GRAPH}, headers={"Accept": "text/csv"})
        assert other.status_code == 503  # not the same answer: it needed a worker
        assert app.state.kgraph.answers.size > 0
        # other Accept headers that choose the same format for a SELECT: the same answer
        for accept in ("*/*", "application/sparql-results+json, application/n-triples;q=0.9",
                       "text/turtle, application/sparql-results+json;q=0.5"):
            same = client.get("/sparql", params={"query": PER_GRAPH}, headers={"Accept": accept})
            assert (same.status_code, same.content) == (200, first.content), accept
        assert client.get("/sparql", params={"query": PER_GRAPH}).content == first.content  # no Accept


def test_a_server_answers_sparql_before_making_its_pages(mini_built):
    """Given Later parts, SPARQL is answered from the store without making the rdflib
    graph, the network or the evidence (90 s at x100); the first page that needs them
    makes each once, and every page after it reuses them."""
    from kgraph.evidence_report import load_evidence
    from kgraph.serve import Later

    project, result = mini_built
    made: list[str] = []

    def later(name, value):
        return Later(lambda: made.append(name) or value)

    app = create_app(later("graph", result.built.graph), later("network", result.network),
                     ServeOptions(timeout=60, max_wait=30),
                     evidence=later("evidence", load_evidence(project)), store=read_info(project.out_dir))
    with starlette_testclient.TestClient(app, base_url=BASE) as client:
        assert _rows(client.get("/sparql", params={"query": COUNT}, headers=JSON))
        assert client.get("/").status_code == 200
        assert client.get("/nothing-here", headers={"Accept": "text/html"}).status_code == 404
        assert made == []
        page = client.get("/graph")
        assert page.status_code == 200 and "ketamine" in page.text
        assert sorted(made) == ["evidence", "graph", "network"]
        for path in ("/query", "/id/ketamine", "/report/ptsd", "/ontology", "/.well-known/void",
                     "/download/kgraph.graphml"):
            assert client.get(path, headers={"Accept": "text/html" if "/." not in path else "text/turtle"}
                              ).status_code == 200, path
        assert sorted(made) == ["evidence", "graph", "network"]  # made once


def test_a_part_that_fails_is_an_error_page_and_is_tried_again():
    from kgraph.errors import KgraphError
    from kgraph.serve import Later

    calls = []

    def make():
        calls.append(1)
        if len(calls) == 1:
            raise KgraphError("the data do not validate", "Run kgraph validate.")
        return "made"

    part = Later(make)
    with pytest.raises(KgraphError):
        part.get()
    assert not part.ready and part.get() == "made" and part.ready and part.get() == "made"
    assert calls == [1, 1]
    assert Later.of(part) is part and Later.of(3).ready and Later.of(3).get() == 3


def test_the_warm_up_answers_every_named_question_before_it_is_asked(mini_built):
    """With warm=True the server asks each named question once at start-up: afterwards
    they are answered from the cache, with every worker gone."""
    import time

    from kgraph.sparql.named import named_queries

    project, result = mini_built
    app = create_app(result.built.graph, result.network, ServeOptions(timeout=60, max_wait=30, warm=True),
                     store=read_info(project.out_dir))
    questions = [q.text for q in named_queries().values()]
    with starlette_testclient.TestClient(app, base_url=BASE) as client:
        answers = app.state.kgraph.answers
        deadline = time.monotonic() + 300
        while len(answers._kinds) < len(questions) and time.monotonic() < deadline:
            time.sleep(0.1)
        app.state.kgraph.pool.close()
        for text in questions:
            response = client.get("/sparql", params={"query": text}, headers=JSON)
            assert response.status_code == 200, text


def test_the_same_question_asked_at_once_is_computed_once(mini_built):
    import asyncio

    from kgraph.serve import AnswerCache

    cache = AnswerCache(1 << 20)
    calls = []

    async def compute():
        calls.append(1)
        await asyncio.sleep(0.05)
        return ("text/plain", b"answer")

    async def ask_many():
        return await asyncio.gather(*(cache.answer(("q", None), compute) for _ in range(5)))

    from live_server import run_async

    assert run_async(ask_many()) == [("text/plain", b"answer")] * 5
    assert calls == [1] and cache.get(("q", None)) == ("text/plain", b"answer")
