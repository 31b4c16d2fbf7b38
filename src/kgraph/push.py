"""``kgraph push``: put the built graph into a running triple store.

Through the SPARQL 1.1 Graph Store HTTP Protocol (W3C), which Oxigraph, Apache Jena
Fuseki, GraphDB, Virtuoso, QLever and others speak: one named graph per source, plus the
entities, the ontology and the catalog graph (:data:`kgraph.store.CATALOG_GRAPH`), each sent
as N-Triples (``text/turtle``: N-Triples is Turtle, and every store reads Turtle) in batches
of ``batch`` triples. ``replace`` PUTs the first batch of each graph (replacing what the graph
held) and POSTs the rest; without it every batch is POSTed (merged into the graph).
``graph`` sends the whole graph (the union of all sources) into that one named graph instead.

Credentials come from the environment, never from the command line (where ``ps`` shows them):

* ``KGRAPH_PUSH_TOKEN`` -- sent as ``Authorization: Bearer <token>``;
* ``KGRAPH_PUSH_USER`` and ``KGRAPH_PUSH_PASSWORD`` -- HTTP Basic, or Digest when the
  store asks for it (Virtuoso's ``/sparql-graph-crud-auth`` does); ``KGRAPH_PUSH_AUTH=basic``
  or ``digest`` forces one.

A request that fails with a 5xx status, 429 or a connection error is retried with
exponential back-off (``retries`` times; resending a batch is harmless, as RDF graphs are
sets). After the push, the triples of every graph are counted through the store's SPARQL
query endpoint (``query_url``, guessed from the Graph Store URL for the stores above) and
compared with what was sent.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyoxigraph as ox

from kgraph.errors import KgraphError

ENV_TOKEN = "KGRAPH_PUSH_TOKEN"
ENV_USER = "KGRAPH_PUSH_USER"
ENV_PASSWORD = "KGRAPH_PUSH_PASSWORD"
ENV_AUTH = "KGRAPH_PUSH_AUTH"
DEFAULT_BATCH = 50_000
#: HTTP statuses worth retrying: the store is busy or restarting, not refusing the data.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The Graph Store endpoints of well-known stores, and their SPARQL query endpoints.
ENDPOINT_HINT = ("the Graph Store endpoint, e.g. Oxigraph http://HOST:7878/store, Fuseki http://HOST:3030/DATASET/data, "
                 "GraphDB http://HOST:7200/repositories/REPO/rdf-graphs/service, "
                 "Virtuoso http://HOST:8890/sparql-graph-crud-auth, QLever http://HOST:7001/")


class PushError(KgraphError):
    """The graph could not be pushed to the triple store."""


class PushAuthError(PushError):
    """The store refused the request for want of (valid) credentials."""


class PushMismatch(PushError):
    """After the push, the store holds other counts of triples than were sent."""


@dataclass(frozen=True)
class GraphPlan:
    """One named graph to send: its IRI in the store, and where its triples come from."""

    iri: str
    #: the graph of the local store to read ("" for the default graph, the union)
    local: str
    triples: int


@dataclass
class GraphResult:
    iri: str
    sent: int
    remote: int
    requests: int


@dataclass
class PushReport:
    url: str
    query_url: str
    replace: bool
    graphs: list[GraphResult] = field(default_factory=list)
    retries: int = 0
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(g.sent for g in self.graphs)

    @property
    def notes(self) -> list[str]:
        """Graphs that hold more than was sent (a merge into triples already there)."""
        return [f"{g.iri} holds {g.remote} triples, {g.remote - g.sent} more than were sent: it held others "
                f"before (push --replace makes it hold exactly these)" for g in self.graphs if g.remote > g.sent]


# --------------------------------------------------------------------------- configuration

def auth_from_env(environ: Mapping[str, str] | None = None) -> httpx.Auth | None:
    """The credentials named by the environment (see the module docs), or None."""
    env = os.environ if environ is None else environ
    token = env.get(ENV_TOKEN, "").strip()
    user, password = env.get(ENV_USER, ""), env.get(ENV_PASSWORD, "")
    scheme = env.get(ENV_AUTH, "").strip().lower()
    if token and user:
        raise PushError(f"both {ENV_TOKEN} and {ENV_USER} are set", "Set one way of logging in, not both.")
    if token:
        return _Bearer(token)
    if not user:
        if password:
            raise PushError(f"{ENV_PASSWORD} is set but {ENV_USER} is not", f"Set {ENV_USER} too.")
        return None
    if scheme not in ("", "auto", "basic", "digest"):
        raise PushError(f"{ENV_AUTH}={scheme!r} is not a known scheme", "Use basic or digest (or leave it unset).")
    if scheme == "basic":
        return httpx.BasicAuth(user, password)
    if scheme == "digest":
        return httpx.DigestAuth(user, password)
    return _BasicOrDigest(user, password)


class _Bearer(httpx.Auth):
    def __init__(self, token: str):
        self._header = f"Bearer {token}"

    def auth_flow(self, request):
        request.headers["Authorization"] = self._header
        yield request


class _BasicOrDigest(httpx.Auth):
    """Basic, unless the store refuses it with a Digest challenge or none at all: Digest from then on.

    (Virtuoso answers Basic credentials with a bare 401; Digest starts with a request
    without credentials, answered by the challenge.)"""

    requires_request_body = True

    def __init__(self, user: str, password: str):
        self._basic = httpx.BasicAuth(user, password)
        self._digest = httpx.DigestAuth(user, password)
        self._use_digest = False

    def auth_flow(self, request):
        if not self._use_digest:
            response = yield next(self._basic.auth_flow(request))
            challenge = response.headers.get("www-authenticate", "")
            if response.status_code != 401 or challenge.lower().startswith("basic"):
                return
            self._use_digest = True
            request.headers.pop("Authorization", None)
        yield from self._digest.auth_flow(request)


def guess_query_url(url: str) -> str:
    """The SPARQL query endpoint that goes with a Graph Store endpoint (same URL when unknown)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    for store_suffix, query_suffix in (("/store", "/query"),  # Oxigraph
                                       ("/sparql-graph-crud-auth", "/sparql"),  # Virtuoso
                                       ("/sparql-graph-crud", "/sparql"),
                                       ("/rdf-graphs/service", ""),  # GraphDB / RDF4J: the repository
                                       ("/data", "/sparql"),  # Fuseki
                                       ("/get", "/sparql")):
        if path.endswith(store_suffix):
            path = path[: -len(store_suffix)] + query_suffix
            return urlunsplit((parts.scheme, parts.netloc, path or "/", "", ""))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PushError(f"{what} {url!r} is not an http(s) URL", f"Give {ENDPOINT_HINT}.")


# --------------------------------------------------------------------------- what to send

def plan(store: ox.Store, graph: str | None = None) -> list[GraphPlan]:
    """The graphs to push: every named graph of the store, or the union into ``graph``."""
    from kgraph.store import count_triples

    counts = count_triples(store)
    if graph is not None:
        if not _is_iri(graph):
            raise PushError(f"--graph {graph!r} is not an absolute IRI", "Give one such as https://example.org/kgraph.")
        return [GraphPlan(graph, "", counts.get("", 0))]
    return [GraphPlan(iri, iri, n) for iri, n in counts.items() if iri]


def _is_iri(text: str) -> bool:
    parts = urlsplit(text)
    return bool(parts.scheme) and not any(c in text for c in " <>\"{}|\\^`")


def batches(store: ox.Store, local: str, size: int) -> Iterator[bytes]:
    """The triples of one local graph as N-Triples, ``size`` triples per piece."""
    from kgraph.store import graph_triples

    piece: list[ox.Triple] = []
    for triple in graph_triples(store, local or None):
        piece.append(triple)
        if len(piece) >= size:
            yield ox.serialize(piece, format=ox.RdfFormat.N_TRIPLES)
            piece = []
    if piece:
        yield ox.serialize(piece, format=ox.RdfFormat.N_TRIPLES)


# --------------------------------------------------------------------------- pushing

@dataclass
class _Session:
    client: httpx.Client
    url: str
    retries: int
    backoff: float
    sleep: Callable[[float], None]
    retried: int = 0

    def request(self, method: str, url: str, what: str, **kwargs) -> httpx.Response:
        """Send with retries on 5xx, 429 and connection errors; raise a clear error otherwise."""
        attempt = 0
        while True:
            problem = ""
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                response = None
            if response is not None and response.status_code not in RETRY_STATUSES:
                return response
            if attempt >= self.retries:
                if response is None:
                    raise PushError(f"cannot reach {url} ({problem}) after {attempt + 1} attempts, {what}",
                                    f"Check that the triple store is running and that the URL is {ENDPOINT_HINT}.")
                raise PushError(f"{url} answered HTTP {response.status_code} {_excerpt(response)} "
                                f"after {attempt + 1} attempts, {what}",
                                "The store is failing or overloaded: look at its log, then push again "
                                "(pushing twice is harmless).")
            delay = min(self.backoff * (2 ** attempt), 30.0)
            if response is not None:
                delay = max(delay, _retry_after(response))
            attempt += 1
            self.retried += 1
            self.sleep(delay)


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("retry-after", "0")), 30.0)
    except ValueError:
        return 0.0


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:300]
    return f"({text})" if text else ""


def _with_graph(url: str, iri: str) -> str:
    from urllib.parse import quote

    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}graph={quote(iri, safe='')}"


def _refused(response: httpx.Response, url: str, what: str) -> PushError:
    status = response.status_code
    if status in (401, 403):
        given = "refused the credentials" if "authorization" in response.request.headers else "needs credentials"
        return PushAuthError(f"{url} {given} (HTTP {status}) {what}",
                             f"Set {ENV_USER} and {ENV_PASSWORD} (Basic or Digest) or {ENV_TOKEN} (Bearer) to an "
                             "account allowed to write, e.g. Virtuoso's SPARQL_UPDATE role.")
    if status == 404:
        return PushError(f"{url} has no Graph Store (HTTP 404) {what}", f"Give {ENDPOINT_HINT}.")
    if status == 405:
        return PushError(f"{url} does not accept {response.request.method} (HTTP 405) {what}",
                         f"It is read-only or not a Graph Store endpoint; give {ENDPOINT_HINT}.")
    if status == 413:
        return PushError(f"{url} refused a request as too large (HTTP 413) {what}",
                         "Send fewer triples per request with --batch.")
    return PushError(f"{url} answered HTTP {status} {_excerpt(response)} {what}",
                     "Check the URL and the store's log.")


def push(store: ox.Store, url: str, *, graph: str | None = None, replace: bool = False,
         query_url: str | None = None, auth: httpx.Auth | None = None, batch: int = DEFAULT_BATCH,
         retries: int = 5, backoff: float = 0.5, timeout: float = 300.0,
         progress: Callable[[str, int, int], None] | None = None,
         transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep) -> PushReport:
    """Push the graphs of ``store`` to the Graph Store at ``url``, then check the counts.

    ``progress(graph_iri, triples_sent, triples_of_graph)`` follows each request. Raises
    :class:`PushError` (naming the URL) when the store cannot be reached or refuses,
    :class:`PushMismatch` when the counts differ afterwards.
    """
    _check_url(url, "the Graph Store URL")
    query_url = query_url or guess_query_url(url)
    _check_url(query_url, "the query URL")
    if batch < 1:
        raise PushError(f"--batch {batch} is not a positive number of triples", "Give --batch 50000, say.")
    graphs = plan(store, graph)
    started = time.perf_counter()
    report = PushReport(url=url, query_url=query_url, replace=replace)
    timeouts = httpx.Timeout(timeout, connect=min(timeout, 30.0))
    with httpx.Client(auth=auth, timeout=timeouts, transport=transport, follow_redirects=False,
                      headers={"User-Agent": "kgraph-push"}) as client:
        session = _Session(client, url, retries, backoff, sleep)
        for item in graphs:
            target = _with_graph(url, item.iri)
            sent = requests = 0
            first = True
            pieces: Iterable[bytes] = batches(store, item.local, batch)
            if replace and item.triples == 0:
                pieces = [b""]  # an empty graph replaces the remote one with nothing
            for body in pieces:
                method = "PUT" if replace and first else "POST"
                what = f"while sending graph <{item.iri}>"
                response = session.request(method, target, what, content=body,
                                           headers={"Content-Type": "text/turtle; charset=utf-8"})
                if response.status_code >= 300:
                    raise _refused(response, url, what)
                first = False
                requests += 1
                sent += body.count(b"\n")
                if progress is not None:
                    progress(item.iri, sent, item.triples)
            report.graphs.append(GraphResult(item.iri, sent, -1, requests))
        for result in report.graphs:
            result.remote = remote_count(session, query_url, result.iri)
        report.retries = session.retried
    report.seconds = time.perf_counter() - started
    wrong = [g for g in report.graphs if g.remote < g.sent or (replace and g.remote != g.sent)]
    if wrong:
        lines = "; ".join(f"<{g.iri}> sent {g.sent}, the store holds {g.remote}" for g in wrong)
        raise PushMismatch(f"after pushing to {url}, the counts differ: {lines}",
                           "Push again with --replace; if they still differ, the store changed the data "
                           "(look at its log) or --query-url does not query the same store.")
    return report


def remote_count(session: _Session, query_url: str, iri: str) -> int:
    """The number of triples in graph ``iri``, counted by the store's SPARQL endpoint."""
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"
    return int(select_one(session, query_url, query, f"while counting the triples of <{iri}>"))


def select_one(session: _Session, query_url: str, query: str, what: str) -> str:
    """The single value a one-row SELECT answers (through the SPARQL 1.1 Protocol)."""
    response = session.request("POST", query_url, what, data={"query": query},
                               headers={"Accept": "application/sparql-results+json"})
    if response.status_code >= 300:
        error = _refused(response, query_url, what)
        raise type(error)(error.message, f"Is {query_url} the store's SPARQL query endpoint? "
                                         "If not, pass it with --query-url.")
    try:
        bindings = response.json()["results"]["bindings"]
        return next(iter(bindings[0].values()))["value"]
    except (ValueError, KeyError, IndexError, StopIteration, TypeError, json.JSONDecodeError):
        raise PushError(f"{query_url} did not answer with SPARQL JSON results {what}",
                        "Pass the store's SPARQL query endpoint with --query-url.") from None
