"""``kgraph serve``: a local SPARQL endpoint, Linked Data pages and a browser app.

Routes (:func:`create_app` builds the Starlette app; the CLI hands it to uvicorn):

* ``/sparql`` -- the SPARQL 1.1 Protocol: GET ``?query=``, POST form-encoded or
  ``application/sparql-query``. The result format follows the Accept header or a
  ``format`` (or ``output``) parameter, both resolved through the format registry of
  :mod:`kgraph.formats`. Without a query, GET answers the SPARQL service description.
* ``/id/<id>`` (also ``/id/claim/<id>``, ``/id/source/<id>``) -- every IRI of the graph
  resolves: HTML for a browser (:mod:`kgraph.pages`), RDF in any graph format otherwise.
* ``/`` the interactive graph (from :mod:`kgraph.viz`) and ``/query`` a query page, both
  with assets served from the package: they work with no internet.
* ``/report/<id>`` -- the evidence report of a condition or intervention
  (:mod:`kgraph.evidence_report`; ``?format=json`` for its JSON), when the app was given
  the computed evidence; entity pages and the graph's details panel link to it.
* ``/ontology`` the ontology's documentation (:mod:`kgraph.ontodoc`), ``/.well-known/void``
  the VoID/DCAT description of the dataset (:mod:`kgraph.void`), ``/download/<file>`` the
  network exports (:mod:`kgraph.interchange`: KGX, Neo4j, Cytoscape.js, GraphML).

Queries are answered through the build's Oxigraph store when the app is given one
(``store``; ``kgraph serve`` always is): ``GRAPH`` ranges over its named graphs (one per
source, entities, ontology, catalog), ``FROM`` / ``FROM NAMED`` and the protocol's
``default-graph-uri`` / ``named-graph-uri`` select among them (any other IRI is refused:
nothing is ever loaded), and the default graph is the union (:mod:`kgraph.storequery`).
An app made from an rdflib graph alone answers with rdflib's engine, over that one graph
(``GRAPH``, ``FROM`` and the dataset parameters are then refused).

Safe by default: every step of a query -- parsing and the checks (no Update -- 403, no
SERVICE, no remote FROM), evaluation and writing the answer -- runs in a pool of killable
worker processes with a deadline and a memory limit (:mod:`kgraph.sparql.execute`), so
nothing one client sends can hold the event loop or a lock. Admission is bounded (:class:`~kgraph.sparql.execute.PoolLimits`): a
reserve worker answers cheap queries while heavy ones hold the others; a request waits at
most ``max_wait`` s for a worker, then gets 503 with an honest ``Retry-After``.

Status codes of refusals: 400 a malformed request or query, 403 Update, 404, 406 no
acceptable format (with the reason), 408 a body sent too slowly, 413 a body, query or
result over its limit, 415 a content type the protocol does not define, 431 headers too
large, 503 + ``Retry-After`` busy (retrying later helps), 503 without ``Retry-After`` a
query stopped at its time or memory limit (retrying the same query does not help).

Format precedence: ``format``/``output``/``results`` parameter values first (the first one
naming a format for the answer wins; SPARQLWrapper sends a name and a media-type list),
then the ``Accept`` header per RFC 9110 (see :func:`kgraph.formats.negotiate`).

Connections (:func:`run`): request headers must arrive within ``header_timeout`` s and a
body within ``body_timeout`` s; idle keep-alive connections close after
``keep_alive`` s; at most ``max_connections`` are served at once; each kind of refusal is
logged at most once every ten seconds (with a count), never a traceback per connection.
The server binds 127.0.0.1 unless told otherwise, only answers to the Host names of the
address it serves (so a web page elsewhere cannot reach it by DNS rebinding), and sends
no CORS headers unless ``cors`` names an origin.

Errors are :class:`~kgraph.errors.KgraphError` s carrying their HTTP status; one handler
answers them all (an HTML page for a browser, plain text otherwise).
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from kgraph.errors import (
    KgraphError,
    NotFound,
    RequestTooLarge,
    UnsupportedMediaType,
    UpdateRefused,
)
from kgraph.sparql.execute import PoolLimits

if TYPE_CHECKING:
    import networkx as nx
    from rdflib import Graph
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from kgraph.evidence_report import Evidence
    from kgraph.pages import Pages
    from kgraph.sparql.execute import QueryPool, Serialize
    from kgraph.store import StoreInfo

SD_URL = "http://www.w3.org/ns/sparql-service-description#"
#: Where the evidence reports are (``/report/<entity id>``).
REPORT_BASE = "/report/"


@dataclass(frozen=True)
class ServeOptions:
    """How the server behaves; the defaults are the safe ones."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: an origin allowed to call the endpoint from a browser (CORS); None sends no CORS headers
    cors: str | None = None
    timeout: float = 30.0
    max_results: int = 10_000
    #: largest answer body, in bytes
    max_result_bytes: int = 64 << 20
    #: longer queries (and POST bodies) are refused, while reading
    max_query_bytes: int = 20_000
    #: the query workers' limits, as :class:`~kgraph.sparql.execute.PoolLimits` (which owns
    #: their meaning and defaults) names them: ``size`` full workers, ``memory`` bytes each
    max_concurrent: int = PoolLimits.size
    reserve: int = PoolLimits.reserve
    fast_timeout: float = PoolLimits.fast_timeout
    max_wait: float = PoolLimits.max_wait
    per_client: int = PoolLimits.per_client
    worker_memory: int | None = PoolLimits.memory
    #: seconds for the request headers, then the body, to arrive; idle keep-alive seconds
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    keep_alive: float = 5.0
    #: connections served at once (more get 503); request header bytes (more get 431)
    max_connections: int = 1000
    max_header_bytes: int = 16 * 1024
    #: bytes of answers kept to answer the same request again without a worker (the store
    #: never changes under a running server); 0 turns it off
    answer_cache_bytes: int = 64 << 20
    #: ask every named question once at start-up (one at a time, in a worker), so that the
    #: query page's questions are answered from the answer cache (needs the cache and a store)
    warm: bool = False

    def __post_init__(self) -> None:
        import math

        for name in ("timeout", "fast_timeout", "max_wait", "header_timeout", "body_timeout", "keep_alive"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise KgraphError(f"{name} must be a finite number of seconds, not {value!r}",
                                  "Pass a number such as 30.")
        if self.timeout <= 0:
            raise KgraphError("the query time limit must be more than 0 s", "Pass --timeout 30, for example.")

    @property
    def pool_limits(self) -> PoolLimits:
        """The limits of the server's query pool."""
        return PoolLimits(size=self.max_concurrent, reserve=self.reserve, fast_timeout=self.fast_timeout,
                          max_wait=self.max_wait, per_client=self.per_client, memory=self.worker_memory)


class Later:
    """A part of a server made on first use, once, by whichever thread asks first:
    ``create_app(Later(make), ...)``.

    ``kgraph serve`` answers SPARQL from the store at once and makes the in-memory rdflib
    graph, the network, the evidence and the pages drawn from them only when a page needs
    them (at x100 they took 90 s of its start-up, for no query). A ``make`` that raises is
    tried again by the next request.
    """

    def __init__(self, make: Callable[[], Any]):
        self._make: Callable[[], Any] | None = make
        self._lock = threading.Lock()
        self._value: Any = None

    @classmethod
    def of(cls, value: Any) -> Later:
        """``value`` itself if it is a :class:`Later`, else one that is ready with it."""
        if isinstance(value, Later):
            return value
        ready = cls(lambda: None)
        ready._make, ready._value = None, value
        return ready

    @property
    def ready(self) -> bool:
        return self._make is None

    def get(self) -> Any:
        if self._make is not None:
            with self._lock:
                if self._make is not None:
                    self._value = self._make()
                    self._make = None
        return self._value


@dataclass
class _State:
    """Everything one app holds: no module-level state, so two apps never share a thing.

    ``parts`` are the slower things the pages need, each a :class:`Later` by name: ``graph``
    (rdflib), ``network``, ``evidence`` (None: no reports), ``reports``, ``pages`` (entity and
    query pages), ``viz`` (the graph page), ``query`` (the query page), ``ontology`` (its
    documentation page) and ``downloads`` (the network exports); a route awaits
    :meth:`prepare` for those it reads, so that the first request making one waits in a
    thread, never on the event loop.
    """

    options: ServeOptions
    named: list[dict]
    #: the app, error and other pages that need no part
    templates: "Pages"
    parts: dict[str, Later]
    pool: "QueryPool | None" = None
    #: the store answering SPARQL (None: rdflib's engine over ``graph``)
    store: "StoreInfo | None" = None
    #: answers already sent, when answered by the store (None: no cache)
    answers: "AnswerCache | None" = None

    def part(self, name: str) -> Any:
        return self.parts[name].get()

    async def prepare(self, *names: str) -> None:
        """Make the parts ``names`` that are not ready yet, off the event loop."""
        import anyio

        for name in names:
            if not self.parts[name].ready:
                await anyio.to_thread.run_sync(self.parts[name].get)

    @property
    def graph(self) -> "Graph":
        return self.part("graph")

    @property
    def network(self) -> "nx.MultiDiGraph":
        return self.part("network")

    @property
    def evidence(self) -> "Evidence | None":
        return self.part("evidence")

    @property
    def reportable(self) -> frozenset[str]:
        reports = self.part("reports")
        return frozenset(reports.entities) if reports is not None else frozenset()


def create_app(graph: "Graph | Later", network: "nx.MultiDiGraph | Later", options: ServeOptions | None = None,
               evidence: "Evidence | Later | None" = None, store: "StoreInfo | None" = None) -> "Starlette":
    """The ASGI app serving ``graph`` (and its ``network``) read-only; with ``evidence``
    (:func:`kgraph.evidence_report.load_evidence`) also the evidence reports; with ``store``
    (:func:`kgraph.store.read_info`: the store ``graph`` was read from) SPARQL is answered by
    Oxigraph over the store, its named graphs included. ``graph``, ``network`` and
    ``evidence`` may each be a :class:`Later`, made when a page first needs it."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.routing import Route

    from kgraph.formats import downloads
    from kgraph.pages import Pages
    from kgraph.prefixes import QUERY_PREFIXES, js_table
    from kgraph.sparql.execute import QueryPool, RdflibEngine
    from kgraph.sparql.named import named_queries

    options = options or ServeOptions()
    parts: dict[str, Later] = {"graph": Later.of(graph), "network": Later.of(network),
                               "evidence": Later.of(evidence)}

    def reports():
        from kgraph.evidence_report import reportable
        from kgraph.viz import Reports

        found = parts["evidence"].get()
        return None if found is None else Reports(base=REPORT_BASE, entities=tuple(reportable(found)))

    def viz() -> str:
        from kgraph.view import entity_types
        from kgraph.viz import render_html

        return render_html(parts["network"].get(), types=entity_types(parts["graph"].get()),
                           reports=parts["reports"].get())

    def ontology() -> str:
        from kgraph.ontodoc import render_docs

        return render_docs(parts["graph"].get())

    def network_files() -> dict:
        from kgraph.interchange import network_files

        return network_files(parts["graph"].get(), parts["network"].get())

    parts.update(
        reports=Later(reports), viz=Later(viz), ontology=Later(ontology), downloads=Later(network_files),
        pages=Later(lambda: Pages(parts["network"].get(), reports=parts["reports"].get())),
        query=Later(lambda: parts["pages"].get().query(list(QUERY_PREFIXES), downloads(), js_table())))
    templates = Pages(None)
    state = _State(
        options=options, named=[{"name": q.name, "description": q.description, "text": q.text}
                                for q in named_queries().values()],
        templates=templates, parts=parts, store=store,
        answers=AnswerCache(options.answer_cache_bytes) if store is not None and options.answer_cache_bytes else None,
    )
    app_page = templates.app()

    def needs(*names: str, page: Callable[["Request", _State], "Response"], threaded: bool = False):
        """A route answering with ``page`` once the parts ``names`` are made (in a thread
        with ``threaded``: pages that take a while to assemble)."""
        async def endpoint(request: "Request") -> "Response":
            import anyio

            await state.prepare(*names)
            if threaded:
                return await anyio.to_thread.run_sync(page, request, state)
            return page(request, state)
        return endpoint

    async def sparql(request: "Request") -> "Response":
        return await _sparql(request, state)

    async def handle(request: "Request", exc: Exception) -> "Response":
        return _error_response(request, exc, state)

    async def no_route(request: "Request", exc: Exception) -> "Response":
        # Starlette's own 404 is one unstyled line: answer it like any other error (issue 13)
        return _error_response(request, NotFound(f"no page at {request.url.path}",
                                                 "The graph is at /, the query page at /query, "
                                                 "entity pages at /id/<id>."), state)

    routes = [
        Route("/", lambda r: _html(app_page)),
        # the graph page carries its own strict CSP (hashes of its inline code) in a meta tag
        Route("/graph", needs("viz", page=lambda r, st: _html(st.part("viz"), csp="frame-ancestors 'self'"))),
        Route("/query", needs("query", page=lambda r, st: _html(st.part("query")))),
        Route("/queries.json", lambda r: _json(state.named)),
        Route("/static/{name}", _static),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/id/{path:path}", needs("graph", "pages", page=_entity)),
        # issue 13: the ontology's documentation, the dataset's VoID, the network exports
        Route("/ontology", needs("ontology", page=_ontology)),
        Route("/.well-known/void", needs("graph", page=_void, threaded=True)),
        Route("/download/{name}", needs(page=_download, threaded=True)),
        # a report takes a few milliseconds to a second to assemble: off the event loop
        Route(REPORT_BASE + "{entity}", needs("evidence", "reports", page=_report, threaded=True)),
    ]
    middleware = [Middleware(HeaderLimit, max_bytes=options.max_header_bytes),
                  Middleware(TrustedHostMiddleware, allowed_hosts=_allowed_hosts(options.host))]
    if options.cors:
        middleware.append(Middleware(CORSMiddleware, allow_origins=[options.cors], allow_methods=["GET", "POST"],
                                     allow_headers=["Accept", "Content-Type"]))

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # forked before the server starts answering; killed and replaced on time-outs
        if store is not None:
            from kgraph.storequery import StoreEngine

            engine = StoreEngine(store.path, [g for g in store.counts if g])
        else:
            engine = RdflibEngine(state.graph)
        state.pool = QueryPool(engine, options.pool_limits)
        warming = None
        if options.warm and state.answers is not None:
            import asyncio

            warming = asyncio.ensure_future(_warm(state))
        try:
            yield
        finally:
            if warming is not None:
                warming.cancel()
            state.pool.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={KgraphError: handle, 404: no_route})
    app.state.kgraph = state
    return app


class HeaderLimit:
    """431 for request headers over ``max_bytes`` in all.

    h11 (under uvicorn) bounds headers only while they are incomplete: a large header block
    that arrives in one piece passes it, so the app checks the total too.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > self.max_bytes:
            from starlette.responses import PlainTextResponse

            response = PlainTextResponse(f"the request headers are larger than {self.max_bytes} bytes\n"
                                         "  Send fewer or shorter headers (cookies?).\n", status_code=431,
                                         headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _error_response(request: "Request", exc: KgraphError, state: _State) -> "Response":
    """The one rendering of every error: an HTML page for a browser, plain text otherwise."""
    from http import HTTPStatus

    from starlette.responses import PlainTextResponse

    from kgraph.formats import prefers_html

    status = exc.http_status
    headers = {"Cache-Control": "no-store", **exc.headers}
    if prefers_html(request.headers.get("accept")):
        hint = exc.http_hint if exc.http_hint is not None else exc.hint
        page = state.templates.error(status, HTTPStatus(status).phrase, exc.message, hint)
        return _html(page, status=status, headers=headers)
    return PlainTextResponse(exc.http_text() + "\n", status_code=status, headers=headers)


def _allowed_hosts(host: str) -> list[str]:
    if host in ("127.0.0.1", "localhost", "::1"):
        return ["127.0.0.1", "localhost", "[::1]"]
    if host in ("0.0.0.0", "::"):
        return ["*"]
    return [host, "127.0.0.1", "localhost"]


def listen(host: str, port: int):
    """A socket bound to ``host:port`` (port 0: a free one) and listening, or a clear error.

    It listens at once: a client that connects while the server starts (the query workers
    are started before uvicorn serves) waits in the backlog instead of being refused.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise KgraphError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                          "Choose another --port (0 picks a free one), or stop the program using it.") from None
    sock.listen(2048)  # uvicorn's default backlog (it listens again with its own when it starts)
    return sock


def server_config(app: "Starlette", options: ServeOptions | None = None):
    """uvicorn's configuration with the connection limits of ``options`` (see the module notes)."""
    import uvicorn

    options = options or app.state.kgraph.options
    return uvicorn.Config(app, log_level="warning", access_log=False, http=guarded_protocol(options),
                          timeout_keep_alive=max(1, int(options.keep_alive)),
                          limit_concurrency=options.max_connections,
                          h11_max_incomplete_event_size=options.max_header_bytes)


def run(app: "Starlette", sock, options: ServeOptions | None = None) -> None:
    """Serve ``app`` with uvicorn on the bound socket until interrupted (limits of ``options``)."""
    import logging

    import uvicorn

    server = uvicorn.Server(server_config(app, options))
    limiter = RefusalLogFilter()
    logging.getLogger("uvicorn.error").addFilter(limiter)
    try:
        server.run(sockets=[sock])
    finally:
        logging.getLogger("uvicorn.error").removeFilter(limiter)


class RefusalLogFilter:
    """At most one log line per kind of refusal every ``every`` seconds, with how many were dropped.

    A flood of bad connections otherwise writes one warning each (116,735 in 30 s were seen).
    Records with a traceback always pass: they are bugs.
    """

    def __init__(self, every: float = 10.0):
        self.every = every
        self._last: dict[str, tuple[float, int]] = {}

    def filter(self, record) -> bool:
        import time

        if record.exc_info:
            return True
        key = str(record.msg)
        now = time.monotonic()
        last, dropped = self._last.get(key, (-self.every, 0))
        if now - last < self.every:
            self._last[key] = (last, dropped + 1)
            return False
        self._last[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in the last {now - last:.0f} s)"
        return True


def guarded_protocol(options: ServeOptions):
    """uvicorn's h11 protocol with deadlines on request headers and a 431 for large ones.

    uvicorn closes a keep-alive connection only after a response; a client that connects
    and sends nothing (or a header line every few seconds) would hold its socket forever.
    Here every connection must deliver complete request headers within ``header_timeout``
    seconds of opening, or of the previous response.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_deadline()

        def _arm_header_deadline(self) -> None:
            waiting_for = self.cycle  # the deadline passes once a newer request has arrived
            handle = getattr(self, "_header_deadline", None)
            if handle is not None:
                handle.cancel()

            def expire() -> None:
                if self.cycle is waiting_for and not self.transport.is_closing():
                    self.logger.warning("Closed a connection that sent no complete request headers in time.")
                    self.transport.close()

            self._header_deadline = self.loop.call_later(options.header_timeout, expire)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_deadline()

        def connection_lost(self, exc) -> None:
            handle = getattr(self, "_header_deadline", None)
            if handle is not None:
                handle.cancel()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            buffered, _ = self.conn.trailing_data
            if len(buffered) >= options.max_header_bytes:
                status, text = 431, "Request header fields too large."
            else:
                status, text = 400, "Invalid HTTP request."
            self.logger.warning(f"Refused a request: {text}")
            reason = h11._util.bytesify({400: "Bad Request", 431: "Request Header Fields Too Large"}[status])
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
            try:
                self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers, reason=reason)))
                self.transport.write(self.conn.send(h11.Data(data=(text + "\n").encode())))
                self.transport.write(self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:
                pass  # the client broke the exchange before any response could start
            self.transport.close()

    return GuardedH11Protocol


# --------------------------------------------------------------------------- /sparql

async def _sparql(request: "Request", state: _State) -> "Response":
    from kgraph.formats import prefers_html

    text, params = await _read_query(request, state.options)
    if text is None:
        if prefers_html(request.headers.get("accept")):
            from starlette.responses import RedirectResponse

            return RedirectResponse("/query", status_code=303)
        return _service_description(request, state)
    return await _answer(text, params, request, state)


async def _read_query(request: "Request", options: ServeOptions) -> tuple[str | None, dict[str, list[str]]]:
    """The query text and every parameter (all values, in order), or a 4xx for a bad request."""
    params = _parse_form(request.scope.get("query_string", b""), "the query string")
    text: str | None = params.get("query", [None])[-1]
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/sparql-update" or "update" in params:
            raise _update_refused()
        if content_type not in ("application/sparql-query", "application/x-www-form-urlencoded"):
            raise UnsupportedMediaType(
                f"unsupported content type '{content_type}'",
                "POST application/sparql-query or application/x-www-form-urlencoded (query=...).")
        body = await _read_body(request, options)
        if content_type == "application/sparql-query":
            text = _decode(body, "the request body")
        else:
            form = _parse_form(body, "the form body")
            if "update" in form:
                raise _update_refused()
            for key, values in form.items():
                params.setdefault(key, []).extend(values)
            text = form.get("query", [text])[-1]
    elif "update" in params:
        raise _update_refused()
    if text is not None and len(text.encode("utf-8")) > options.max_query_bytes:
        raise RequestTooLarge(f"the query is longer than {options.max_query_bytes} bytes", "Send a shorter query.")
    return text, params


async def _read_body(request: "Request", options: ServeOptions) -> bytes:
    """The body, read in chunks: refused (413) as soon as it passes the limit, and (408) when
    it does not arrive within ``body_timeout`` s -- never buffered whole first."""
    import anyio

    from kgraph.errors import BadRequest, RequestTimeout

    limit = options.max_query_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadRequest(f"the Content-Length header '{declared[:40]}' is not a number", "Send a valid request.")
        if int(declared) > limit:
            raise RequestTooLarge(f"the request body ({int(declared)} bytes) is larger than {limit} bytes",
                                  "Send a shorter query.")
    chunks, size = [], 0
    try:
        with anyio.fail_after(options.body_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise RequestTooLarge(f"the request body is larger than {limit} bytes", "Send a shorter query.")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {options.body_timeout:g} s",
                             "Send the whole body at once.") from None
    except _client_disconnect():
        raise BadRequest("the client closed the connection before the body was complete",
                         "Send the whole body.") from None
    return b"".join(chunks)


def _client_disconnect():
    from starlette.requests import ClientDisconnect

    return ClientDisconnect


def _decode(data: bytes, what: str) -> str:
    from kgraph.errors import BadRequest

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{what} is not valid UTF-8 (byte {exc.start})",
                         "Send the query encoded as UTF-8.") from None


def _parse_form(data: bytes, what: str) -> dict[str, list[str]]:
    """``a=1&b=2`` (percent-escapes decoded as UTF-8, strictly) as lists of values by name."""
    from urllib.parse import unquote_to_bytes

    from kgraph.errors import BadRequest

    params: dict[str, list[str]] = {}
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest(f"{what} holds bytes that are not percent-encoded",
                         "Percent-encode the query (as a form or URL does).") from None
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in value and not _valid_escapes(value) or "%" in name and not _valid_escapes(name):
            raise BadRequest(f"{what} holds a malformed percent-escape", "Encode '%' as %25.")
        name = _decode(unquote_to_bytes(name.replace("+", " ")), what)
        params.setdefault(name, []).append(_decode(unquote_to_bytes(value.replace("+", " ")), what))
    return params


def _valid_escapes(text: str) -> bool:
    import re

    return re.search(r"%(?![0-9A-Fa-f]{2})", text) is None


def _update_refused() -> UpdateRefused:
    return UpdateRefused("SPARQL Update is refused: this endpoint is read-only.",
                         "The graph is changed by editing its data files and rebuilding it, not over HTTP.")


#: the parameters that name a result format, in the order they are read
FORMAT_PARAMS = ("format", "output", "results")


def format_values(params: dict[str, list[str]]) -> list[str]:
    return [v for name in FORMAT_PARAMS for v in params.get(name, []) if v]


async def _answer(text: str, params: dict[str, list[str]], request: "Request", state: _State) -> "Response":
    from starlette.responses import Response

    from kgraph.sparql.execute import Serialize

    options = state.options
    want = Serialize(accept=request.headers.get("accept"), format=tuple(format_values(params)),
                     max_results=options.max_results, max_bytes=options.max_result_bytes,
                     default_graphs=tuple(params.get("default-graph-uri", ())),
                     named_graphs=tuple(params.get("named-graph-uri", ())))
    client = request.client.host if request.client else ""
    if state.answers is None:
        # parsing, evaluation and serialisation all happen in a worker, under the deadline
        answer = await state.pool.run("serialize", text, want, timeout=options.timeout, client=client)
    else:
        answer = await state.answers.ask(text, want, lambda: state.pool.run(
            "serialize", text, want, timeout=options.timeout, client=client))
    content_type, body = answer
    return Response(body, media_type=content_type, headers={"Vary": "Accept", "Cache-Control": "no-store"})


#: the client name the warm-up's questions are counted under (its own per-client limit)
WARM_CLIENT = "(warm-up)"


async def _warm(state: _State) -> None:
    """Ask each named question once, in name order, as a client accepting anything would
    (SPARQL results JSON; Turtle for a graph), keeping the answers in ``state.answers``.

    One question at a time, so the warm-up holds one worker at most; a question refused as
    busy is asked again a little later, one that fails (time limit) is left out, and those
    left out are named on uvicorn's error log (stderr).
    """
    import asyncio
    import logging

    from kgraph.errors import ServerBusy
    from kgraph.sparql.execute import Serialize

    options, answers = state.options, state.answers
    assert answers is not None
    want = Serialize(accept=None, format=(), max_results=options.max_results, max_bytes=options.max_result_bytes)
    failed = []
    for question in state.named:
        text = question["text"]
        for attempt in range(20):
            try:
                await answers.ask(text, want, lambda text=text: state.pool.run(
                    "serialize", text, want, timeout=options.timeout, client=WARM_CLIENT))
                break
            except ServerBusy:
                await asyncio.sleep(0.5 * (attempt + 1))
            except KgraphError as exc:
                failed.append(f"{question['name']} ({exc.message})")
                break
        else:
            failed.append(f"{question['name']} (the workers stayed busy)")
    if failed:
        logging.getLogger("uvicorn.error").warning("Named questions not kept: " + "; ".join(failed))


class AnswerCache:
    """The answers (content type, body) of the latest requests, up to ``max_bytes`` of bodies
    in all, least recently used first out.

    A server over the store answers the same request with the same bytes for as long as
    it runs (the store is read-only; a rebuild writes a new one), so a repeated question
    -- the query page's named questions, a dashboard's polling -- is answered from here
    without a worker: engine time (about 10 ms a named question on the corpus, far more
    at ten times the size) is what bounds the server's throughput otherwise. Requests for
    an answer being computed wait for it instead of computing it again. Only successful
    answers are kept; an answer larger than an eighth of the budget is not.
    """

    def __init__(self, max_bytes: int):
        from collections import OrderedDict

        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict = OrderedDict()
        self._pending: dict = {}
        #: the kind of answer ("results" or "graph") each query text was seen to give
        self._kinds: dict[str, str] = {}

    def key(self, text: str, want: "Serialize") -> tuple:
        """What ``text`` asked with ``want`` is kept under: once the kind of its answer is
        known, the format negotiated for that kind, not the raw Accept header (a browser's,
        curl's and SPARQLWrapper's Accept choose the same JSON for a SELECT)."""
        from kgraph.errors import NotAcceptable
        from kgraph.formats import negotiate

        kind = self._kinds.get(text)
        if kind is not None:
            try:
                fmt = negotiate(kind, want.accept, want.format)
            except NotAcceptable:
                pass  # the worker says so, as for any other request
            else:
                return (text, kind, fmt.name, want.max_results, want.max_bytes, want.dataset)
        return (text, want)

    async def ask(self, text: str, want: "Serialize", compute) -> tuple[str, bytes]:
        """The answer to ``text`` asked with ``want``: kept, being computed, or ``await compute()``'s."""
        first = text not in self._kinds
        key = self.key(text, want)
        answer = await self.answer(key, compute)
        if first:
            # the first answer to this text: now its kind is known, keep it by format
            from kgraph.formats import of_kind

            kind = next((f.kind for f in of_kind("results", "graph") if f.content_type == answer[0]), None)
            if kind is not None:
                self._kinds[text] = kind
                self.put(self.key(text, want), answer)
                self._drop(key)
        return answer

    def _drop(self, key) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= len(old[1]) + len(key[0])

    def get(self, key):
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    async def answer(self, key, compute):
        """The kept answer for ``key``, or the one being computed, or ``await compute()``'s."""
        import asyncio

        found = self.get(key)
        if found is not None:
            return found
        pending = self._pending.get(key)
        if pending is not None:
            # shielded: a waiter that gives up (its client left) does not cancel the others'
            return await asyncio.shield(pending)
        task = self._pending[key] = asyncio.ensure_future(compute())

        def finished(done: asyncio.Future) -> None:
            # (a callback: the task may end after every waiter gave up)
            self._pending.pop(key, None)
            if not done.cancelled() and done.exception() is None:
                self.put(key, done.result())

        task.add_done_callback(finished)
        return await asyncio.shield(task)

    def put(self, key, answer: tuple[str, bytes]) -> None:
        cost = len(answer[1]) + len(key[0])
        if cost > self.max_bytes // 8 or key in self._entries:
            return
        self._entries[key] = answer
        self.size += cost
        while self.size > self.max_bytes:
            old_key, old = self._entries.popitem(last=False)
            self.size -= len(old[1]) + len(old_key[0])


def _service_description(request: "Request", state: _State) -> "Response":
    from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
    from starlette.responses import Response

    from kgraph.export import serialize_graph
    from kgraph.formats import negotiate, of_kind

    SD = Namespace(SD_URL)
    VOID = Namespace("http://rdfs.org/ns/void#")
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    endpoint = URIRef(str(request.url.replace(query="")))
    g.add((endpoint, RDF.type, SD.Service))
    g.add((endpoint, SD.endpoint, endpoint))
    g.add((endpoint, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((endpoint, SD.feature, SD.UnionDefaultGraph))
    for fmt in of_kind("results", "graph"):
        if fmt.iri:
            g.add((endpoint, SD.resultFormat, URIRef(fmt.iri)))
    dataset, default = BNode("dataset"), BNode("defaultGraph")
    g.add((endpoint, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    if state.store is not None:
        # the store's own graphs, which GRAPH, FROM and named-graph-uri may name
        g.add((default, VOID.triples, Literal(state.store.triples)))
        for index, (name, count) in enumerate((n, c) for n, c in state.store.counts.items() if n):
            if name:
                named, described = BNode(f"named{index}"), BNode(f"graph{index}")
                g.add((dataset, SD.namedGraph, named))
                g.add((named, SD.name, URIRef(name)))
                g.add((named, SD.graph, described))
                g.add((described, RDF.type, SD.Graph))
                g.add((described, VOID.triples, Literal(count)))
    else:
        g.add((default, VOID.triples, Literal(len(state.graph))))
    fmt = negotiate("graph", request.headers.get("accept"), request.query_params.getlist("format"))
    return Response(serialize_graph(g, fmt), media_type=fmt.content_type, headers={"Vary": "Accept"})


def _ontology(request: "Request", state: _State) -> "Response":
    from kgraph.ontodoc import content_security_policy

    return _html(state.part("ontology"), csp=content_security_policy(header=True))


def _void(request: "Request", state: _State) -> "Response":
    """The VoID/DCAT description, with this server's endpoint and downloads (Turtle unless asked)."""
    from rdflib import URIRef
    from starlette.responses import Response

    from kgraph.export import serialize_graph
    from kgraph.formats import negotiate
    from kgraph.void import DATASET, DCAT, describe

    names = _download_names()
    g = describe(state.graph, {n: t for n, t in names.items()}, endpoint=str(request.base_url) + "sparql")
    for name in names:
        g.add((URIRef(f"{DATASET}/{name}"), DCAT.downloadURL, URIRef(f"{request.base_url}download/{name}")))
    fmt = negotiate("graph", request.headers.get("accept"), request.query_params.get("format"))
    return Response(serialize_graph(g, fmt), media_type=fmt.content_type, headers={"Vary": "Accept"})


def _download_names() -> dict[str, str]:
    """The network exports a server offers (file name -> media type), from the format registry."""
    from kgraph.export import network_file_names
    from kgraph.void import build_media_types

    return build_media_types(network_file_names())


def _download(request: "Request", state: _State) -> "Response":
    from starlette.responses import Response

    name = request.path_params["name"]
    types = _download_names()
    if name not in types:
        raise NotFound(f"no download called '{name}'", f"Downloads: {', '.join(sorted(types))}.")
    media = types[name] + ("; charset=utf-8" if types[name].startswith(("text/", "application/json")) else "")
    return Response(state.part("downloads")[name], media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff"})


# --------------------------------------------------------------------------- /id/...

def _entity(request: "Request", state: _State) -> "Response":
    from rdflib import URIRef
    from starlette.responses import Response

    from kgraph.errors import EntityNotFound
    from kgraph.export import serialize_graph
    from kgraph.formats import negotiate, prefers_html
    from kgraph.prefixes import KGR

    path = request.path_params["path"]
    iri = URIRef(f"{KGR}{path}")
    described = _describe(state.graph, iri)
    if len(described) == 0:
        raise EntityNotFound(f"nothing is known about {iri}",
                             "Entity pages are /id/<id>; the query page (/query) finds ids by name.")
    fmt_param = request.query_params.getlist("format")
    if not fmt_param and prefers_html(request.headers.get("accept")):
        return _html(state.part("pages").entity(path, str(iri), described), headers={"Vary": "Accept"})
    fmt = negotiate("graph", request.headers.get("accept"), fmt_param)
    return Response(serialize_graph(described, fmt), media_type=fmt.content_type, headers={"Vary": "Accept"})


# --------------------------------------------------------------------------- /report/<id>

def _report(request: "Request", state: _State) -> "Response":
    from kgraph.evidence_report import entity_report, page_csp, render, render_html

    entity = request.path_params["entity"]
    if state.evidence is None:
        raise NotFound("this server has no evidence reports",
                       "Start it with `kgraph serve` from the project folder (it reads data/ for them).")
    if entity not in state.reportable:
        raise NotFound(f"no evidence report for '{entity}'",
                       "Reports are about conditions and interventions: /report/ptsd, /report/ketamine.")
    report = entity_report(state.evidence, entity)
    if request.query_params.get("format") == "json":
        from starlette.responses import Response

        return Response(render(report, "json"), media_type="application/json")
    # the page carries its own policy (the hash of its one inline style); the header says the same
    return _html(render_html(report, entity_links="/id/"), csp=page_csp() + "; frame-ancestors 'self'")


def _describe(graph: "Graph", iri) -> "Graph":
    """The triples about ``iri``, and the claims (with their provenance) whose subject or object it is."""
    from rdflib import RDF, Graph

    from kgraph.build import bind_prefixes

    out = Graph()
    bind_prefixes(out)
    for triple in graph.triples((iri, None, None)):
        out.add(triple)
    for prop in (RDF.subject, RDF.object):
        for claim in graph.subjects(prop, iri):
            for triple in graph.triples((claim, None, None)):
                out.add(triple)
    return out


# --------------------------------------------------------------------------- pages and assets

_STATIC = {
    "app.css": "text/css",
    "query.css": "text/css",
    "query.js": "text/javascript",
    "vis-network.min.js": "text/javascript",
    "vis-network.css": "text/css",
}
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def _html(text: str, csp: str = _CSP, status: int = 200, headers: dict | None = None) -> "Response":
    from starlette.responses import HTMLResponse

    return HTMLResponse(text, status_code=status,
                        headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "no-referrer", **(headers or {})})


def _json(data) -> "Response":
    from starlette.responses import Response

    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


def _static(request: "Request") -> "Response":
    from starlette.responses import Response

    name = request.path_params["name"]
    if name not in _STATIC:
        raise NotFound(f"no asset called '{name}'", "The pages link every asset they need.")
    from kgraph.assets import template, vis_asset

    text = vis_asset(name) if name.startswith("vis-network") else template(name)
    return Response(text, media_type=_STATIC[name], headers={"Cache-Control": "max-age=3600",
                                                             "X-Content-Type-Options": "nosniff"})
