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
* ``/ontology`` the ontology's documentation (:mod:`kgraph.ontodoc`), ``/.well-known/void``
  the VoID/DCAT description of the dataset (:mod:`kgraph.void`), ``/download/<file>`` the
  network exports (:mod:`kgraph.interchange`: KGX, Neo4j, Cytoscape.js, GraphML).

Safe by default: queries go through :mod:`kgraph.sparql.prepare` (no Update -- 403, no
SERVICE, no FROM) and a pool of killable worker processes (:mod:`kgraph.sparql.execute`,
so a time-out stops the work, not only the response); results larger than ``max_results``
are refused; at most ``max_concurrent`` queries run at once and the rest wait. The server
binds 127.0.0.1 unless told otherwise, only answers to the Host names of the address it
serves (so a web page elsewhere cannot reach it by DNS rebinding), and sends no CORS
headers unless ``cors`` names an origin.

Errors are :class:`~kgraph.errors.KgraphError` s carrying their HTTP status; one handler
answers them all (an HTML page for a browser, plain text otherwise).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgraph.errors import (
    KgraphError,
    NotFound,
    RequestTooLarge,
    UnsupportedMediaType,
    UpdateRefused,
)

if TYPE_CHECKING:
    import networkx as nx
    from rdflib import Graph
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from kgraph.pages import Pages
    from kgraph.sparql.execute import QueryPool
    from kgraph.sparql.prepare import PreparedCache

SD_URL = "http://www.w3.org/ns/sparql-service-description#"


@dataclass(frozen=True)
class ServeOptions:
    """How the server behaves; the defaults are the safe ones."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: an origin allowed to call the endpoint from a browser (CORS); None sends no CORS headers
    cors: str | None = None
    timeout: float = 30.0
    max_results: int = 10_000
    #: longer queries are refused (rdflib's parser slows down sharply on very long ones)
    max_query_bytes: int = 20_000
    #: query worker processes (each answers one query at a time)
    max_concurrent: int = 4
    #: seconds a query waits for a free worker before a 503 (None: as long as ``timeout``)
    max_wait: float | None = None


@dataclass
class _State:
    """Everything one app holds: no module-level state, so two apps never share a thing."""

    graph: "Graph"
    network: "nx.MultiDiGraph"
    options: ServeOptions
    limiter: object
    viz_html: str
    named: list[dict]
    pages: "Pages"
    prepared: "PreparedCache"
    pool: "QueryPool | None" = None
    #: pages and files made on first request (the ontology page, the network exports)
    extra: dict = field(default_factory=dict)


def create_app(graph: "Graph", network: "nx.MultiDiGraph", options: ServeOptions | None = None) -> "Starlette":
    """The ASGI app serving ``graph`` (and its ``network``) read-only."""
    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.routing import Route

    from kgraph.formats import downloads
    from kgraph.pages import Pages
    from kgraph.prefixes import QUERY_PREFIXES, js_table
    from kgraph.sparql.execute import QueryPool
    from kgraph.sparql.named import named_queries
    from kgraph.sparql.prepare import PreparedCache
    from kgraph.view import entity_types
    from kgraph.viz import render_html

    options = options or ServeOptions()
    pages = Pages(network)
    state = _State(
        graph=graph, network=network, options=options,
        limiter=anyio.CapacityLimiter(options.max_concurrent * 4),
        viz_html=render_html(network, types=entity_types(graph)),
        named=[{"name": q.name, "description": q.description, "text": q.text} for q in named_queries().values()],
        pages=pages, prepared=PreparedCache(),
    )
    app_page = pages.app()
    query_page = pages.query(list(QUERY_PREFIXES), downloads(), js_table())

    async def sparql(request: "Request") -> "Response":
        return await _sparql(request, state)

    async def entity(request: "Request") -> "Response":
        return _entity(request, state)

    async def handle(request: "Request", exc: Exception) -> "Response":
        return _error_response(request, exc, state)

    routes = [
        Route("/", lambda r: _html(app_page)),
        # the graph page carries its own strict CSP (hashes of its inline code) in a meta tag
        Route("/graph", lambda r: _html(state.viz_html, csp="frame-ancestors 'self'")),
        Route("/query", lambda r: _html(query_page)),
        Route("/queries.json", lambda r: _json(state.named)),
        Route("/static/{name}", _static),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/id/{path:path}", entity),
        # issue 13: the ontology's documentation, the dataset's VoID, the network exports
        Route("/ontology", lambda r: _ontology(state)),
        Route("/.well-known/void", lambda r: _void(r, state)),
        Route("/download/{name}", lambda r: _download(r, state)),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=_allowed_hosts(options.host))]
    if options.cors:
        middleware.append(Middleware(CORSMiddleware, allow_origins=[options.cors], allow_methods=["GET", "POST"],
                                     allow_headers=["Accept", "Content-Type"]))

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # forked before the server starts answering; killed and replaced on time-outs
        state.pool = QueryPool(graph, options.max_concurrent)
        try:
            yield
        finally:
            state.pool.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={KgraphError: handle})
    app.state.kgraph = state
    return app


def _error_response(request: "Request", exc: KgraphError, state: _State) -> "Response":
    """The one rendering of every error: an HTML page for a browser, plain text otherwise."""
    from http import HTTPStatus

    from starlette.responses import PlainTextResponse

    from kgraph.formats import prefers_html

    status = exc.http_status
    headers = {"Cache-Control": "no-store", **exc.headers}
    if prefers_html(request.headers.get("accept")):
        hint = exc.http_hint if exc.http_hint is not None else exc.hint
        page = state.pages.error(status, HTTPStatus(status).phrase, exc.message, hint)
        return _html(page, status=status, headers=headers)
    return PlainTextResponse(exc.http_text() + "\n", status_code=status, headers=headers)


def _allowed_hosts(host: str) -> list[str]:
    if host in ("127.0.0.1", "localhost", "::1"):
        return ["127.0.0.1", "localhost", "[::1]"]
    if host in ("0.0.0.0", "::"):
        return ["*"]
    return [host, "127.0.0.1", "localhost"]


def listen(host: str, port: int):
    """A socket bound to ``host:port`` (port 0: a free one), or a clear error."""
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
    return sock


def run(app: "Starlette", sock) -> None:
    """Serve ``app`` with uvicorn on the bound socket until interrupted."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


# --------------------------------------------------------------------------- /sparql

async def _sparql(request: "Request", state: _State) -> "Response":
    from kgraph.formats import prefers_html

    text, params = await _read_query(request, state.options)
    if text is None:
        if prefers_html(request.headers.get("accept")):
            from starlette.responses import RedirectResponse

            return RedirectResponse("/query", status_code=303)
        return _service_description(request, state)
    return await _answer(text, params, request.headers.get("accept"), state)


async def _read_query(request: "Request", options: ServeOptions) -> tuple[str | None, dict]:
    params = dict(request.query_params)
    text: str | None = params.get("query")
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if len(body) > options.max_query_bytes:
            raise RequestTooLarge(f"the request is larger than {options.max_query_bytes} bytes",
                                  "Send a shorter query.")
        if content_type == "application/sparql-update" or "update" in params:
            raise _update_refused()
        if content_type == "application/sparql-query":
            text = body.decode("utf-8", errors="replace")
        elif content_type == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qs

            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", errors="replace")).items()}
            if "update" in form:
                raise _update_refused()
            params.update(form)
            text = form.get("query", text)
        else:
            raise UnsupportedMediaType(
                f"unsupported content type '{content_type}'",
                "POST application/sparql-query or application/x-www-form-urlencoded (query=...).")
    elif "update" in params:
        raise _update_refused()
    if text is not None and len(text.encode("utf-8")) > options.max_query_bytes:
        raise RequestTooLarge(f"the query is longer than {options.max_query_bytes} bytes", "Send a shorter query.")
    return text, params


def _update_refused() -> UpdateRefused:
    return UpdateRefused("SPARQL Update is refused: this endpoint is read-only.",
                         "The graph is changed by editing its data files and rebuilding it, not over HTTP.")


async def _answer(text: str, params: dict, accept: str | None, state: _State) -> "Response":
    import anyio
    from starlette.responses import Response

    from kgraph.formats import RESULT_KIND, negotiate
    from kgraph.sparql.results import serialize_result

    # parsing can take a while for a long query: off the event loop, so others are answered
    prepared = await anyio.to_thread.run_sync(state.prepared.prepare, text, limiter=state.limiter)
    fmt = negotiate(RESULT_KIND[prepared.kind], accept, params.get("format") or params.get("output"))
    options = state.options
    result = await anyio.to_thread.run_sync(lambda: state.pool.run(prepared, options.timeout, options.max_wait),
                                            limiter=state.limiter)
    if result.size > options.max_results:
        raise RequestTooLarge(
            f"the result has {result.size} rows or triples, more than the limit of {options.max_results}",
            "Add a LIMIT, or narrow the query.")
    return Response(serialize_result(result, fmt), media_type=fmt.content_type,
                    headers={"Vary": "Accept", "Cache-Control": "no-store"})


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
    g.add((default, VOID.triples, Literal(len(state.graph))))
    fmt = negotiate("graph", request.headers.get("accept"), request.query_params.get("format"))
    return Response(serialize_graph(g, fmt), media_type=fmt.content_type, headers={"Vary": "Accept"})


def _ontology(state: _State) -> "Response":
    from kgraph.ontodoc import content_security_policy, render_docs

    if "ontology" not in state.extra:
        state.extra["ontology"] = render_docs(state.graph)
    return _html(state.extra["ontology"], csp=content_security_policy(header=True))


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
    from kgraph.formats import of_kind
    from kgraph.void import build_media_types

    return build_media_types([name for fmt in of_kind("network") for name in fmt.file_names])


def _download(request: "Request", state: _State) -> "Response":
    from starlette.responses import Response

    from kgraph.interchange import network_files

    name = request.path_params["name"]
    types = _download_names()
    if name not in types:
        raise NotFound(f"no download called '{name}'", f"Downloads: {', '.join(sorted(types))}.")
    if "downloads" not in state.extra:
        state.extra["downloads"] = network_files(state.graph, state.network)
    media = types[name] + ("; charset=utf-8" if types[name].startswith(("text/", "application/json")) else "")
    return Response(state.extra["downloads"][name], media_type=media,
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
    fmt_param = request.query_params.get("format")
    if not fmt_param and prefers_html(request.headers.get("accept")):
        return _html(state.pages.entity(path, str(iri), described), headers={"Vary": "Accept"})
    fmt = negotiate("graph", request.headers.get("accept"), fmt_param)
    return Response(serialize_graph(described, fmt), media_type=fmt.content_type, headers={"Vary": "Accept"})


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
