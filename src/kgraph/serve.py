"""``kgraph serve``: a local SPARQL endpoint, Linked Data pages and a browser app.

Routes (:func:`create_app` builds the Starlette app; the CLI hands it to uvicorn):

* ``/sparql`` -- the SPARQL 1.1 Protocol: GET ``?query=``, POST form-encoded or
  ``application/sparql-query``. The result format follows the Accept header or a
  ``format`` (or ``output``) parameter, both resolved through the one format table of
  :mod:`kgraph.export`. Without a query, GET answers the SPARQL service description.
* ``/id/<id>`` (also ``/id/claim/<id>``, ``/id/source/<id>``) -- every IRI of the graph
  resolves: HTML for a browser, Turtle / JSON-LD / N-Triples / RDF/XML for RDF clients.
* ``/`` the interactive graph (from :mod:`kgraph.viz`) and ``/query`` a query page, both
  with assets served from the package: they work with no internet.

Safe by default: queries go through :func:`kgraph.query.prepare_query` (no Update -- 403,
no SERVICE, no FROM) and :func:`kgraph.query.run_query` (a killable worker process per
query, so a time-out stops the work, not only the response); results larger than
``max_results`` are refused; at most ``max_concurrent`` queries run at once and the rest
wait. The server binds 127.0.0.1 unless told otherwise, only answers to the Host names of
the address it serves (so a web page elsewhere cannot reach it by DNS rebinding), and
sends no CORS headers unless ``cors`` names an origin.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from kgraph.errors import KgraphError, QueryError, QueryTimeout, ServerBusy, UpdateRefused
from kgraph.workers import QueryPool

if TYPE_CHECKING:
    import networkx as nx
    from rdflib import Graph
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from kgraph.export import Format

SD_URL = "http://www.w3.org/ns/sparql-service-description#"
#: W3C format IRIs for the service description, by media type.
FORMAT_IRIS = {
    "application/sparql-results+json": "http://www.w3.org/ns/formats/SPARQL_Results_JSON",
    "application/sparql-results+xml": "http://www.w3.org/ns/formats/SPARQL_Results_XML",
    "text/csv": "http://www.w3.org/ns/formats/SPARQL_Results_CSV",
    "text/tab-separated-values": "http://www.w3.org/ns/formats/SPARQL_Results_TSV",
    "text/turtle": "http://www.w3.org/ns/formats/Turtle",
    "application/n-triples": "http://www.w3.org/ns/formats/N-Triples",
    "application/ld+json": "http://www.w3.org/ns/formats/JSON-LD",
    "application/rdf+xml": "http://www.w3.org/ns/formats/RDF_XML",
}
#: Names clients use in a ``format`` parameter, by result kind, beyond kgraph's own.
FORMAT_ALIASES = {
    "results": {"json": "json", "xml": "srx", "csv": "csv", "tsv": "tsv", "srj": "json", "srx": "srx",
                "sparql-results+json": "json", "sparql-results+xml": "srx"},
    "graph": {"turtle": "turtle", "ttl": "turtle", "n3": "turtle", "nt": "nt", "ntriples": "nt",
              "n-triples": "nt", "jsonld": "jsonld", "json-ld": "jsonld", "json": "jsonld", "xml": "xml",
              "rdf": "xml", "rdfxml": "xml", "rdf+xml": "xml", "rdf/xml": "xml"},
}
RESULT_KIND = {"SELECT": "results", "ASK": "results", "CONSTRUCT": "graph", "DESCRIBE": "graph"}
DEFAULT_MEDIA = {"results": "application/sparql-results+json", "graph": "text/turtle"}


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


class HttpError(KgraphError):
    """An error answered with an HTTP status and a plain-text message."""

    def __init__(self, status: int, message: str, hint: str | None = None, headers: dict | None = None):
        super().__init__(message, hint)
        self.status = status
        self.headers = headers or {}


# --------------------------------------------------------------------------- formats

def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Media ranges of an Accept header, best first (q-values, then order)."""
    if not header:
        return [("*/*", 1.0)]
    ranges = []
    for index, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        ranges.append((media, q, index))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(m, q) for m, q, _ in ranges if q > 0]


def negotiate(kind: str, accept: str | None, format_param: str | None) -> "Format":
    """The format to answer a result of ``kind`` ("results" or "graph") in."""
    from kgraph.export import FORMATS, FORMATS_BY_NAME

    candidates = [f for f in FORMATS if f.kind == kind]
    if format_param:
        wanted = format_param.strip().lower()
        name = FORMAT_ALIASES[kind].get(wanted)
        by_media = [f for f in candidates if f.media_type == wanted]
        if name:
            return FORMATS_BY_NAME[name]
        if by_media:
            return by_media[0]
        names = sorted(FORMAT_ALIASES[kind])
        raise HttpError(406, f"format '{format_param}' is not available for this query",
                        f"Use one of {', '.join(names)}.")
    for media, _ in parse_accept(accept):
        if media in ("*/*", "application/*", "text/*"):
            default = DEFAULT_MEDIA[kind]
            if media == "*/*" or default.startswith(media[:-1]):
                return next(f for f in candidates if f.media_type == default)
            match = [f for f in candidates if f.media_type.startswith(media[:-1])]
            if match:
                return match[0]
            continue
        if media == "application/json" and kind == "results":
            return FORMATS_BY_NAME["json"]
        if media == "application/json" and kind == "graph":
            return FORMATS_BY_NAME["jsonld"]
        if media in ("text/plain",) and kind == "graph":
            return FORMATS_BY_NAME["nt"]
        if media in ("application/xml", "text/xml"):
            return FORMATS_BY_NAME["srx" if kind == "results" else "xml"]
        for fmt in candidates:
            if fmt.media_type == media:
                return fmt
    offered = ", ".join(f.media_type for f in candidates)
    raise HttpError(406, f"none of the requested media types ({accept}) can carry this result",
                    f"Accept one of: {offered}.")


# --------------------------------------------------------------------------- the app

@dataclass
class _State:
    graph: "Graph"
    network: "nx.MultiDiGraph"
    options: ServeOptions
    limiter: object
    viz_html: str
    named: list[dict]
    pool: "QueryPool | None" = None


def create_app(graph: "Graph", network: "nx.MultiDiGraph", options: ServeOptions | None = None) -> "Starlette":
    """The ASGI app serving ``graph`` (and its ``network``) read-only."""
    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.routing import Route

    from kgraph.query import named_queries
    from kgraph.viz import entity_types, render_html

    options = options or ServeOptions()
    state = _State(
        graph=graph, network=network, options=options,
        limiter=anyio.CapacityLimiter(options.max_concurrent * 4),
        viz_html=render_html(network, types=entity_types(graph)),
        named=[{"name": q.name, "description": q.description, "text": q.text} for q in named_queries().values()],
    )

    async def sparql(request: "Request") -> "Response":
        return await _sparql(request, state)

    async def entity(request: "Request") -> "Response":
        return _entity(request, state)

    routes = [
        Route("/", lambda r: _page("app.html", {"title": "kgraph"})),
        # the graph page carries its own strict CSP (hashes of its inline code) in a meta tag
        Route("/graph", lambda r: _html(state.viz_html, csp="frame-ancestors 'self'")),
        Route("/query", lambda r: _page("query.html", {"title": "kgraph · SPARQL"})),
        Route("/queries.json", lambda r: _json(state.named)),
        Route("/static/{name}", _static),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/id/{path:path}", entity),
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

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.kgraph = state
    return app


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
    from starlette.responses import PlainTextResponse

    try:
        text, params = await _read_query(request, state.options)
        if text is None:
            if _prefers_html(request):
                from starlette.responses import RedirectResponse

                return RedirectResponse("/query", status_code=303)
            return _service_description(request, state)
        return await _answer(text, params, request.headers.get("accept"), state)
    except HttpError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=exc.status, headers=exc.headers)


async def _read_query(request: "Request", options: ServeOptions) -> tuple[str | None, dict]:
    params = dict(request.query_params)
    text: str | None = params.get("query")
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if len(body) > options.max_query_bytes:
            raise HttpError(413, f"the request is larger than {options.max_query_bytes} bytes",
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
            raise HttpError(415, f"unsupported content type '{content_type}'",
                            "POST application/sparql-query or application/x-www-form-urlencoded (query=...).")
    elif "update" in params:
        raise _update_refused()
    if text is not None and len(text.encode("utf-8")) > options.max_query_bytes:
        raise HttpError(413, f"the query is longer than {options.max_query_bytes} bytes", "Send a shorter query.")
    return text, params


#: pyparsing (under rdflib's SPARQL parser) is not thread-safe: one parse at a time.
_PARSE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=512)
def _prepare(text: str):
    """Parse and check a query once per distinct text (parsing costs more than most answers)."""
    from kgraph.query import prepare_query

    with _PARSE_LOCK:
        return prepare_query(text)


def _update_refused() -> HttpError:
    return HttpError(403, "SPARQL Update is refused: this endpoint is read-only.",
                     "Change the data in data/*.yaml and rebuild with `kgraph build`.")


async def _answer(text: str, params: dict, accept: str | None, state: _State) -> "Response":
    import anyio
    from starlette.responses import Response

    from kgraph.query import serialize_result

    try:
        # parsing can take a while for a long query: off the event loop, so others are answered
        prepared = await anyio.to_thread.run_sync(_prepare, text, limiter=state.limiter)
    except UpdateRefused as exc:
        raise HttpError(403, exc.message, exc.hint) from None
    except QueryError as exc:
        raise HttpError(400, exc.message, exc.hint) from None
    kind = RESULT_KIND[prepared.kind]
    fmt = negotiate(kind, accept, params.get("format") or params.get("output"))
    options = state.options
    try:
        result = await anyio.to_thread.run_sync(
            lambda: state.pool.run(prepared, options.timeout), limiter=state.limiter)
    except (QueryTimeout, ServerBusy) as exc:
        raise HttpError(503, exc.message, exc.hint, headers={"Retry-After": "5"}) from None
    except QueryError as exc:
        raise HttpError(400, exc.message, exc.hint) from None
    size = len(result.rows) if prepared.kind == "SELECT" else len(result.graph or ())
    if size > options.max_results:
        raise HttpError(413, f"the result has {size} rows or triples, more than the limit of {options.max_results}",
                        "Add a LIMIT, or narrow the query.")
    body = serialize_result(result, fmt)
    media = fmt.media_type + ("; charset=utf-8" if fmt.media_type.startswith("text/") else "")
    return Response(body, media_type=media, headers={"Vary": "Accept", "Cache-Control": "no-store"})


def _service_description(request: "Request", state: _State) -> "Response":
    from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
    from starlette.responses import Response

    from kgraph.export import FORMATS, serialize_graph

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
    for fmt in FORMATS:
        if fmt.media_type in FORMAT_IRIS:
            g.add((endpoint, SD.resultFormat, URIRef(FORMAT_IRIS[fmt.media_type])))
    dataset, default = BNode("dataset"), BNode("defaultGraph")
    g.add((endpoint, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, VOID.triples, Literal(len(state.graph))))
    fmt = negotiate("graph", request.headers.get("accept"), request.query_params.get("format"))
    return Response(serialize_graph(g, fmt), media_type=fmt.media_type)


def _prefers_html(request: "Request") -> bool:
    ranges = parse_accept(request.headers.get("accept"))
    return bool(ranges) and ranges[0][0] in ("text/html", "application/xhtml+xml")


# --------------------------------------------------------------------------- /id/...

def _entity(request: "Request", state: _State) -> "Response":
    from rdflib import URIRef
    from starlette.responses import PlainTextResponse, Response

    from kgraph.export import serialize_graph
    from kgraph.project import KGR

    path = request.path_params["path"]
    iri = URIRef(f"{KGR}{path}")
    described = _describe(state.graph, iri)
    if len(described) == 0:
        return PlainTextResponse(f"nothing is known about {iri}\n", status_code=404)
    fmt_param = request.query_params.get("format")
    if not fmt_param and _prefers_html(request):
        return _html(_entity_html(path, iri, state, described))
    try:
        fmt = negotiate("graph", request.headers.get("accept"), fmt_param)
    except HttpError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=exc.status)
    return Response(serialize_graph(described, fmt), media_type=fmt.media_type, headers={"Vary": "Accept"})


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


def _entity_html(path: str, iri, state: _State, described: "Graph") -> str:
    G = state.network
    e = html.escape
    if path in G:
        node = G.nodes[path]
        parts = [f"<h1>{e(node['label'])}</h1>",
                 f"<p class='type'>{e(node['type_label'])} · <code>{e(str(iri))}</code></p>"]
        if node.get("description"):
            parts.append(f"<p>{e(node['description'])}</p>")
        if node.get("synonyms"):
            parts.append("<p><b>Also called:</b> " + e(", ".join(node["synonyms"])) + "</p>")
        if node.get("xrefs"):
            links = " ".join(f"<a href='{e(x)}' rel='noopener'>{e(x)}</a>" for x in node["xrefs"])
            parts.append(f"<p><b>Identifiers:</b> {links}</p>")
        rows = []
        for _, other, key, data in sorted(G.out_edges(path, keys=True, data=True)):
            rows.append((e(data["label"]), other, "→"))
        for other, _, key, data in sorted(G.in_edges(path, keys=True, data=True)):
            rows.append((e(data["label"]), other, "←"))
        if rows:
            parts.append("<h2>Relations</h2><ul>")
            for label, other, arrow in rows:
                parts.append(f"<li>{arrow} {label} <a href='/id/{quote(other)}'>{e(G.nodes[other]['label'])}</a></li>")
            parts.append("</ul>")
        claims = G.graph.get("claims", {})
        cids = node.get("claims", [])
        if cids:
            parts.append(f"<h2>Claims ({len(cids)})</h2>")
            for cid in cids:
                parts.append(_claim_html(claims[cid], G))
        body = "\n".join(parts)
        title = node["label"]
    else:
        from kgraph.network import local_name

        rows = "".join(f"<tr><td>{e(local_name(p))}</td><td>{e(str(o))}</td></tr>"
                       for _, p, o in sorted(described.triples((iri, None, None))))
        body = f"<h1>{e(path)}</h1><p><code>{e(str(iri))}</code></p><table>{rows}</table>"
        title = path
    return _fill("entity.html", {"title": e(title), "body": body})


def _claim_html(claim: dict, G) -> str:
    e = html.escape
    obj = claim["object"]
    target = (f"<a href='/id/{quote(obj)}'>{e(G.nodes[obj]['label'])}</a>" if obj in G
              else e(f"{claim['value']}" + (f" {claim['unit']}" if claim.get("unit") else "")))
    subj = claim["subject"]
    subject = f"<a href='/id/{quote(subj)}'>{e(G.nodes[subj]['label'])}</a>" if subj in G else e(str(subj))
    flags = ""
    if claim["modality"] != "asserted":
        flags += f" <span class='tag'>{e(claim['modality'])}</span>"
    if claim.get("flag"):
        flags += f" <span class='tag warn'>{e(claim['flag'])}</span>"
    note = f"<p class='note'>{e(claim['note'])}</p>" if claim.get("note") else ""
    return (f"<div class='claim' id='{e(claim['id'])}'><p>{subject} <b>{e(claim['predicate_label'])}</b> {target}"
            f"{flags}</p><blockquote>{e(claim['quote'])}</blockquote>"
            f"<p class='meta'>{e(claim['source_file'])} · {e(claim['evidence_label'])} · "
            f"<a href='/id/claim/{quote(claim['id'])}'>{e(claim['id'])}</a></p>{note}</div>")


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


def _fill(name: str, values: dict[str, str]) -> str:
    import re

    from kgraph.viz import template

    return re.sub(r"\{\{(\w+)\}\}", lambda m: values.get(m.group(1), ""), template(name))


def _page(name: str, values: dict[str, str]) -> "Response":
    return _html(_fill(name, values))


def _html(text: str, csp: str = _CSP) -> "Response":
    from starlette.responses import HTMLResponse

    return HTMLResponse(text, headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
                                       "Referrer-Policy": "no-referrer"})


def _json(data) -> "Response":
    from starlette.responses import Response

    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


def _static(request: "Request") -> "Response":
    from starlette.responses import PlainTextResponse, Response

    name = request.path_params["name"]
    if name not in _STATIC:
        return PlainTextResponse("not found\n", status_code=404)
    from kgraph.viz import template, vis_asset

    text = vis_asset(name) if name.startswith("vis-network") else template(name)
    return Response(text, media_type=_STATIC[name], headers={"Cache-Control": "max-age=3600",
                                                             "X-Content-Type-Options": "nosniff"})
