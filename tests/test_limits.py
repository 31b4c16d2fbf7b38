"""Endpoint limits on real loopback sockets (issue 16): every malformed request gets its 4xx
and no traceback, bodies and headers are capped while reading, idle and slow connections are
closed by the server, a memory bomb ends in a clear refusal, workers hold no sockets and die
with their parent, every answer parses back, and the Accept table of RFC 9110.

Servers run in this process (uvicorn in a thread, kgraph's connection limits included) over
the tiny fixture graph. Timing bounds are generous: a busy machine makes these slower, not red.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import REPO
from live_server import raw_exchange, serving, status_of

from kgraph.formats import negotiate
from kgraph.serve import ServeOptions

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def built(mini_built):
    return mini_built[1]


FAST = dict(header_timeout=1.0, body_timeout=1.0, keep_alive=1.0, timeout=20.0, max_concurrent=1, reserve=1)


@pytest.fixture(scope="module")
def live(built):
    with serving(built.built.graph, built.network, ServeOptions(**FAST)) as (host, port, app):
        yield port


def _request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


GET = "GET {target} HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n"
POST = "POST /sparql HTTP/1.1\nHost: 127.0.0.1\nConnection: close\nContent-Type: {ctype}\nContent-Length: {length}\n"

MALFORMED = {
    "bad UTF-8 percent-escape": (_request(GET.format(target="/sparql?query=%FF%FE")), 400),
    "malformed percent-escape": (_request(GET.format(target="/sparql?query=ASK%zz%7B%7D")), 400),
    "unknown content type": (_request(POST.format(ctype="text/plain", length=6), b"ASK {}"), 415),
    "body not UTF-8": (_request(POST.format(ctype="application/sparql-query", length=4), b"\xff\xfe{}"), 400),
    "form body not UTF-8": (_request(POST.format(ctype="application/x-www-form-urlencoded", length=10),
                                     b"query=%FF{"), 400),
    "form body with raw bytes": (_request(POST.format(ctype="application/x-www-form-urlencoded", length=8),
                                          b"query=\xe9\xe9"), 400),
    "declared 1 GB body": (_request(POST.format(ctype="application/sparql-query", length=1 << 30)), 413),
    "bad Content-Length": (_request(POST.format(ctype="application/sparql-query", length="ten")), 400),
    "huge header": (_request(GET.format(target="/sparql?query=ASK%7B%7D") + "X-Big: " + "a" * 40_000 + "\n"), 431),
    "garbage request line": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "unknown method": (_request(GET.replace("GET", "PUT").format(target="/sparql")), 405),
    "query too long": (_request(GET.format(target="/sparql?query=" + "%23" * 25_000)), 413),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_every_malformed_request_gets_its_4xx_and_no_traceback(live, name, caplog):
    data, status = MALFORMED[name]
    with caplog.at_level(logging.WARNING):
        response = raw_exchange(live, data)
    assert status_of(response) == status, response[:300]
    assert not [r for r in caplog.records if r.exc_info or "Exception in ASGI" in r.getMessage()]


def test_a_slow_body_gets_408(live, caplog):
    with caplog.at_level(logging.WARNING), socket.create_connection(("127.0.0.1", live), timeout=30) as conn:
        conn.sendall(_request(POST.format(ctype="application/sparql-query", length=100), b"ASK {"))
        started = time.monotonic()
        response = conn.recv(65536)
    assert status_of(response) == 408
    assert time.monotonic() - started < 15
    assert not [r for r in caplog.records if r.exc_info]


def test_a_truncated_body_is_no_traceback(live, caplog):
    with caplog.at_level(logging.WARNING):
        with socket.create_connection(("127.0.0.1", live), timeout=30) as conn:
            conn.sendall(_request(POST.format(ctype="application/sparql-query", length=100), b"ASK {"))
            conn.shutdown(socket.SHUT_WR)
            conn.recv(65536)
        time.sleep(0.5)
    assert not [r for r in caplog.records if r.exc_info or "Exception in ASGI" in r.getMessage()]


@pytest.mark.parametrize("drip", [False, True], ids=["silent", "one header line a while"])
def test_idle_and_slow_header_connections_are_closed_by_the_server(live, drip):
    conns = [socket.create_connection(("127.0.0.1", live), timeout=30) for _ in range(20)]
    try:
        started = time.monotonic()
        if drip:
            for conn in conns:
                conn.sendall(b"GET /sparql HTTP/1.1\r\n")
        closed = 0
        for conn in conns:
            while time.monotonic() - started < 20:
                if drip:
                    try:
                        conn.sendall(b"X-A: b\r\n")
                    except OSError:
                        closed += 1
                        break
                conn.settimeout(0.2)
                try:
                    if conn.recv(1024) == b"":
                        closed += 1
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed += 1
                    break
        assert closed == len(conns)
        assert time.monotonic() - started < 20
    finally:
        for conn in conns:
            conn.close()


def test_a_1gb_streamed_body_is_refused_while_reading(live):
    """Chunked (no Content-Length): the server must stop reading at the limit, not buffer 1 GB."""
    import resource

    def rss_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)

    before = rss_mb()
    head = ("POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sparql-query\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    chunk = b"%x\r\n" % (1 << 16) + b"#" * (1 << 16) + b"\r\n"
    sent = 0
    response = b""
    with socket.create_connection(("127.0.0.1", live), timeout=30) as conn:
        conn.sendall(head)
        conn.settimeout(0.0)
        try:
            while sent < (1 << 30):
                try:
                    conn.sendall(chunk)
                    sent += len(chunk)
                except BlockingIOError:
                    time.sleep(0.01)
                try:
                    response += conn.recv(65536)
                    if response:
                        break
                except BlockingIOError:
                    pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        conn.settimeout(10)
        try:
            response += conn.recv(65536)
        except OSError:
            pass
    assert status_of(response) == 413, response[:200]
    assert sent < (1 << 30)  # refused long before the end
    assert rss_mb() - before < 50
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # (the call works here)


def _get(port: int, query: str, accept: str = "", **params) -> tuple[int, dict, bytes]:
    url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": query, **params}, doseq=True)
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _bomb(levels: int) -> str:
    binds = " ".join(f"BIND(CONCAT(?a{i}, ?a{i}) AS ?a{i + 1})" for i in range(levels))
    return f'SELECT (STRLEN(?a{levels}) AS ?n) WHERE {{ BIND("0123456789abcdef" AS ?a0) {binds} }}'


def test_a_memory_bomb_is_refused_within_the_time_limit_and_the_worker_replaced(built):
    options = ServeOptions(**{**FAST, "timeout": 60.0, "worker_memory": 256 << 20, "reserve": 0})
    with serving(built.built.graph, built.network, options) as (_, port, app):
        started = time.monotonic()
        status, headers, body = _get(port, _bomb(30))  # 16 GB if nothing stopped it
        elapsed = time.monotonic() - started
        assert status == 503, body
        assert "memory" in body.decode() and "Retry-After" not in headers
        assert "syntax" not in body.decode()
        assert elapsed < 60
        assert _get(port, "ASK { ?s ?p ?o }")[0] == 200  # a fresh worker answers


def test_workers_hold_no_sockets(live):
    import stat

    from kgraph.sparql.execute import _Worker

    worker = _Worker(None)
    try:
        fds = os.listdir(f"/proc/{worker.process.pid}/fd")
        deadline = time.monotonic() + 10
        sockets = pipes = None
        while time.monotonic() < deadline:  # the fence runs right after the fork
            sockets, pipes = [], []
            for fd in os.listdir(f"/proc/{worker.process.pid}/fd"):
                try:
                    mode = os.stat(f"/proc/{worker.process.pid}/fd/{fd}").st_mode
                except OSError:
                    continue
                if stat.S_ISSOCK(mode):
                    sockets.append(fd)
                elif stat.S_ISFIFO(mode) and int(fd) > 2:
                    pipes.append(fd)
            if not sockets and len(pipes) == 2:
                break
            time.sleep(0.1)
        # the server's socket and its clients' are /dev/null there; its own two pipes to the parent only
        assert fds and sockets == [] and pipes is not None and len(pipes) == 2
    finally:
        worker.kill()


ORPHAN_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    import networkx as nx
    from rdflib import Graph
    from kgraph.serve import ServeOptions, create_app, listen, run
    options = ServeOptions(max_concurrent=2, reserve=1, timeout=300)
    app = create_app(Graph(), nx.MultiDiGraph(), options)
    sock = listen("127.0.0.1", int(sys.argv[1]))
    def report():
        while app.state.kgraph.pool is None:
            time.sleep(0.05)
        print(json.dumps([w.process.pid for w in app.state.kgraph.pool._workers]), flush=True)
    threading.Thread(target=report, daemon=True).start()
    run(app, sock, options)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_the_socket_listens_before_the_server_starts():
    """A client connecting while the server starts (workers spawning) waits in the backlog:
    it is not refused (the orphan test below once got ECONNREFUSED under load)."""
    from kgraph.serve import listen

    sock = listen("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname(), timeout=5):
            pass
    finally:
        sock.close()


def test_workers_die_with_their_parent_and_the_port_is_free_at_once(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    server = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT, str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        line = server.stdout.readline()
        pids = json.loads(line)
        assert len(pids) == 3 and all(_alive(p) for p in pids)
        # a query in flight: a client holding a connection while its worker runs
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        client.sendall(b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        server.kill()
        server.wait(30)
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids)
        client.close()
        again = socket.socket()
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))  # nothing holds the port any more
        again.close()
    finally:
        if server.poll() is None:
            server.kill()


# --------------------------------------------------------------------------- answers

def test_100_flat_triple_patterns_are_accepted_and_depth_is_limited(live):
    flat = "SELECT * WHERE { " + " . ".join(f"?s ?p{i} ?o{i}" for i in range(100)) + " } LIMIT 1"
    status, _, body = _get(live, flat)
    assert status == 200, body
    deep = "SELECT * WHERE { " + "{ " * 80 + "?s ?p ?o" + " }" * 80 + " }"
    status, _, body = _get(live, deep)
    assert status == 400 and b"81 levels deep" in body


def test_a_bom_before_the_query_is_tolerated(live):
    assert _get(live, "\ufeffASK { ?s ?p ?o }")[0] == 200


def test_graph_inside_filter_exists_is_refused_by_the_check(live):
    status, _, body = _get(live, "SELECT * WHERE { ?s ?p ?o FILTER EXISTS { GRAPH ?g { ?s ?p ?o } } } LIMIT 1")
    assert status == 400 and b"GRAPH patterns are not supported" in body


@pytest.mark.parametrize("query,fmt,status,word", [
    ("CONSTRUCT { <http://e.org/a> <http://example.org/123> 1 } WHERE {}", "xml", 406, b"predicate"),
    ("CONSTRUCT { <http://e.org/a> <http://example.org/123> 1 } WHERE {}", "nt", 200, b""),
    ('SELECT (IRI("http://e.org/a b") AS ?x) WHERE {}', "json", 400, b"not a valid IRI"),
    ('CONSTRUCT { ?x <http://e.org/p> 1 } WHERE { BIND(IRI("http://e.org/a b") AS ?x) }', "nt", 400,
     b"not a valid IRI"),
    ('SELECT ?x WHERE { BIND("a\\u0001b" AS ?x) }', "xml", 406, b"control character"),
    ('SELECT ?x WHERE { BIND("a\\u0001b" AS ?x) }', "json", 200, b""),
])
def test_unrepresentable_answers_are_honest_errors(live, query, fmt, status, word):
    got, _, body = _get(live, query, format=fmt)
    assert got == status, body
    assert word in body


ANSWERS = [
    ("SELECT ?s ?o WHERE { ?s rdfs:label ?o } LIMIT 20", ["json", "xml", "csv", "tsv"]),
    ('SELECT ?x ?y WHERE { BIND("tab\\there \\"q\\" <>&" AS ?x) BIND(<http://e.org/x> AS ?y) }',
     ["json", "xml", "csv", "tsv"]),
    ("ASK { ?s ?p ?o }", ["json", "xml", "csv", "tsv"]),
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 50", ["turtle", "nt", "jsonld", "xml"]),
    ('CONSTRUCT { <http://e.org/a> <http://e.org/p> "x\\ny\\"z"@en, "<&>" } WHERE {}',
     ["turtle", "nt", "jsonld", "xml"]),
]


@pytest.mark.parametrize("query,formats", ANSWERS)
def test_every_format_answer_parses_back(live, query, formats):
    import pyoxigraph
    from rdflib import Graph

    for fmt in formats:
        status, headers, body = _get(live, query, format=fmt)
        assert status == 200, (fmt, body)
        if query.startswith("CONSTRUCT"):
            name = {"turtle": "turtle", "nt": "nt", "jsonld": "json-ld", "xml": "xml"}[fmt]
            assert len(Graph().parse(data=body, format=name)) > 0
            if fmt != "jsonld":
                media = headers["content-type"].split(";")[0]
                assert list(pyoxigraph.parse(body, format=pyoxigraph.RdfFormat.from_media_type(media)))
        else:
            results = {"json": pyoxigraph.QueryResultsFormat.JSON, "xml": pyoxigraph.QueryResultsFormat.XML,
                       "tsv": pyoxigraph.QueryResultsFormat.TSV}
            if fmt in results:
                parsed = pyoxigraph.parse_query_results(body, format=results[fmt])
                assert parsed is not None
            else:
                import csv
                import io

                rows = list(csv.reader(io.StringIO(body.decode())))
                assert rows and (rows[0] in (["true"], ["false"]) or rows[0][0] == "s" or rows[0][0] == "x")


# --------------------------------------------------------------------------- negotiation

@pytest.mark.parametrize("kind,accept,params,expected", [
    ("graph", "application/ld+json,application/x-json+ld", ["json-ld", "application/ld+json,application/x-json+ld"],
     "jsonld"),  # SPARQLWrapper's JSON-LD request
    ("results", "application/sparql-results+json,application/json", ["json"], "json"),  # SPARQLWrapper JSON
    ("results", "text/tab-separated-values", ["tsv", "text/tab-separated-values"], "tsv"),
    ("graph", "text/turtle;q=0, */*", [], "nt"),  # q=0 excludes, even through */*
    ("results", "application/sparql-results+json;q=0, application/sparql-results+xml;q=0.1, */*;q=0.05", [], "srx"),
    ("graph", "*", [], "turtle"),
    ("results", "*", [], "json"),
    ("results", "*/*", [], "json"),
    ("results", None, [], "json"),
    ("graph", "text/*", [], "turtle"),
    ("results", "text/*;q=0.5, application/sparql-results+xml", [], "srx"),
    ("graph", "application/json", [], "jsonld"),
    ("graph", "text/html, text/turtle;q=0.9", ["n3"], "turtle"),  # the parameter first
    ("results", "text/csv", ["bogus"], "csv"),  # an unusable parameter gives way to an explicit Accept
])
def test_accept_table(kind, accept, params, expected):
    assert negotiate(kind, accept, params).name == expected


@pytest.mark.parametrize("kind,accept,params", [
    ("graph", "text/turtle;q=0", []),
    ("results", "image/png", []),
    ("results", None, ["bogus"]),
    ("results", "*/*", ["bogus"]),
])
def test_accept_table_refusals(kind, accept, params):
    from kgraph.errors import NotAcceptable

    with pytest.raises(NotAcceptable):
        negotiate(kind, accept, params)


def test_sparqlwrapper_gets_json_ld_and_ask_csv(live):
    SPARQLWrapper = pytest.importorskip("SPARQLWrapper")
    from rdflib import Graph

    endpoint = SPARQLWrapper.SPARQLWrapper(f"http://127.0.0.1:{live}/sparql")
    endpoint.setQuery("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 5")
    endpoint.setReturnFormat(SPARQLWrapper.JSONLD)
    result = endpoint.query()
    assert result.response.headers["Content-Type"].startswith("application/ld+json")
    assert len(Graph().parse(data=result.response.read(), format="json-ld")) > 0
    endpoint.setQuery("ASK { ?s ?p ?o }")
    endpoint.setReturnFormat(SPARQLWrapper.CSV)
    assert endpoint.query().response.read().strip() == b"true"


def test_cli_refuses_an_infinite_timeout():
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for value in ("inf", "nan"):
        run = subprocess.run([sys.executable, "-m", "kgraph", "serve", "--timeout", value, "--port", "0"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode != 0 and "Traceback" not in run.stderr
        assert "timeout" in run.stderr.lower() or "number of seconds" in run.stderr
