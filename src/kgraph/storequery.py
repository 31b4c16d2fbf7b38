"""SPARQL over the on-disk store (:mod:`kgraph.store`), answered by Oxigraph.

The same contract as :mod:`kgraph.query` -- read-only, nothing fetched from elsewhere,
within a time limit -- with Oxigraph's engine instead of rdflib's:

* :func:`prepare` checks the text without rdflib: SPARQL Update is refused; ``SERVICE``
  is refused before Oxigraph sees the query (Oxigraph would open a connection to the
  service); ``FROM`` / ``FROM NAMED`` and the protocol's ``default-graph-uri`` /
  ``named-graph-uri`` may only name the store's own graphs (one per source, entities,
  ontology, catalog): they select those graphs, never load anything. The checks work on
  the text with its comments, strings and IRIs blanked out, so a keyword inside a string
  or an IRI does not count. Syntax errors and unknown prefixes are reported with line and
  column, as :mod:`kgraph.query` does.
* :func:`run` evaluates in a forked process that opens the store read-only (milliseconds)
  and is killed at the time limit: that stops the work inside the engine.
* Answers are :class:`kgraph.query.QueryResult` objects with rdflib terms equal to those of
  the built files (see :func:`kgraph.store.term_from_ox`), rows sorted when the query does
  not order them, ``SELECT *`` columns in order of first use: the same answers as rdflib's.

Without ``FROM`` or ``default-graph-uri`` a query runs over the store's default graph,
the union of all graphs (what ``kgraph.nt`` holds); ``GRAPH ?g`` ranges over the named graphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from kgraph.errors import QueryError, UpdateRefused
from kgraph.prefixes import QUERY_PREFIXES as PREFIXES

QUERY_KINDS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_KEYWORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")

#: Comments, strings and IRIs: blanked out before looking for keywords.
_OPAQUE = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|<[^<>\"{}|^`\\\x00-\x20]*>"
    r"|#[^\n]*",
    re.DOTALL,
)
_KEYWORD_EDGE_BEFORE = r"(?<![\w:?$.\-])"
_KEYWORD_EDGE_AFTER = r"(?![\w:\-])"
_SERVICE = re.compile(_KEYWORD_EDGE_BEFORE + r"SERVICE" + _KEYWORD_EDGE_AFTER, re.IGNORECASE)
_FROM = re.compile(_KEYWORD_EDGE_BEFORE + r"FROM(\s+NAMED" + _KEYWORD_EDGE_AFTER + r")?", re.IGNORECASE)
_FIRST_KEYWORD = re.compile(r"[A-Za-z]+")
_PROLOGUE = re.compile(r"\s*(?:(?:PREFIX\s+[\w.\-]*:\s*|BASE\s+)\s*)", re.IGNORECASE)
_DECLARED = re.compile(r"(?i)PREFIX\s+([\w.\-]*):")
_PREFIXED = re.compile(r"(?<![\w?$:.\-])([A-Za-z][\w.\-]*)?:(?=[\w%\\]|\s|[;,.)\]}]|$)")
_ORDER_BY = re.compile(_KEYWORD_EDGE_BEFORE + r"ORDER\s+BY" + _KEYWORD_EDGE_AFTER, re.IGNORECASE)
_STAR = re.compile(_KEYWORD_EDGE_BEFORE + r"SELECT\s+(?:(?:DISTINCT|REDUCED)\s+)?\*", re.IGNORECASE)


@dataclass(frozen=True)
class StoreQuery:
    """A query checked for the store, with the graphs it is answered over."""

    text: str
    kind: str
    #: whether the outermost query has ORDER BY (else rows are sorted, for stable output)
    ordered: bool
    star: bool
    #: the graphs merged into the default graph (None: the store's default graph, the union)
    default_graphs: tuple[str, ...] | None = None
    #: the graphs GRAPH may range over (None: every named graph of the store)
    named_graphs: tuple[str, ...] | None = None
    #: prefixes neither predeclared nor declared that rdflib binds by default (dc:, foaf:, ...)
    borrowed: tuple[tuple[str, str], ...] = ()
    #: remarks worth showing when nothing matches (as :class:`kgraph.sparql.prepare.PreparedQuery`)
    notes: tuple[str, ...] = ()

    @property
    def prefixes(self) -> dict[str, str]:
        return {**PREFIXES, **dict(self.borrowed)}


def blank_opaque(text: str) -> str:
    """``text`` with comments, strings and IRIs replaced by spaces (same length, same lines)."""
    return _OPAQUE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def prepare(text: str, graphs: Iterable[str] | None, *, default_graph_uri: Iterable[str] = (),
            named_graph_uri: Iterable[str] = (), timeout: float = 30.0) -> StoreQuery:
    """Check ``text`` against a store holding the named ``graphs``; raise :class:`QueryError` if
    it must not run. The protocol parameters, when given, choose the dataset (over FROM).

    ``graphs=None`` checks everything but the graphs named (before the store is opened, so
    that a mistake is reported before any rebuild). rdflib's parser, asked only to explain
    a mistake, runs in a killable worker within ``timeout`` seconds.
    """
    known = None if graphs is None else set(graphs)
    if not text.strip():
        raise QueryError("the query is empty", "Give a SPARQL query inline, with -f FILE, on stdin (-) or --name NAME.")
    code = blank_opaque(text)
    kind = _kind(code)
    if kind in UPDATE_KEYWORDS:
        raise UpdateRefused("SPARQL Update (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, ...) is refused: "
                            "kgraph queries only read the graph.",
                            "Change the data in data/*.yaml and run `kgraph build` instead.")
    if match := _SERVICE.search(code):
        raise QueryError(f"SERVICE is refused{_position(text, match.start())}: kgraph queries never contact "
                         "other endpoints.", "Remove the SERVICE block; only the local graph can be queried.")
    borrowed, notes = _borrowed_prefixes(text, code)
    from_default, from_named = _dataset_clause(text, code, known)
    defaults, named = list(default_graph_uri), list(named_graph_uri)
    for iri in defaults + named:
        if known is not None and iri not in known:
            raise QueryError(f"the store has no graph <{iri}>", _graphs_hint(known))
    _syntax_check(text, {**PREFIXES, **dict(borrowed)}, timeout)
    if kind not in QUERY_KINDS:
        raise QueryError("the text is not a SELECT, ASK, CONSTRUCT or DESCRIBE query",
                         "Check the query against the SPARQL 1.1 grammar.")
    if defaults or named:
        default_graphs, named_graphs = tuple(defaults) or None, tuple(named) or None
    else:
        default_graphs = tuple(from_default) if from_default or from_named else None
        named_graphs = tuple(from_named) if from_default or from_named else None
    return StoreQuery(text=text, kind=kind, ordered=_outer_order_by(code), star=kind == "SELECT"
                      and bool(_STAR.search(code)), default_graphs=default_graphs, named_graphs=named_graphs,
                      borrowed=borrowed, notes=notes)


def _kind(code: str) -> str:
    rest = code
    while True:
        match = _PROLOGUE.match(rest)
        if not match:
            break
        rest = rest[match.end():]
    word = _FIRST_KEYWORD.search(rest)
    return word.group(0).upper() if word else ""


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f" at line {line}, column {column}"


def _graphs_hint(known: set[str] | None) -> str:
    return ("kgraph never loads data named in a query; FROM, FROM NAMED and default-graph-uri only select "
            f"the store's own graphs: {', '.join(f'<{g}>' for g in sorted(known or ()))}.")


def _dataset_clause(text: str, code: str, known: set[str] | None) -> tuple[list[str], list[str]]:
    defaults: list[str] = []
    named: list[str] = []
    declared = _declared_prefixes(text)
    for match in _FROM.finditer(code):
        rest = text[match.end():].lstrip()
        iri_match = re.match(r"<([^>]*)>", rest) or re.match(r"([A-Za-z][\w.\-]*)?:([\w.\-]*)", rest)
        if iri_match is None:
            raise QueryError(f"FROM without a graph IRI{_position(text, match.start())}", _graphs_hint(known))
        if iri_match.group(0).startswith("<"):
            iri = iri_match.group(1)
        else:
            namespace = declared.get(iri_match.group(1) or "")
            iri = f"{namespace}{iri_match.group(2)}" if namespace else iri_match.group(0)
        if known is not None and iri not in known:
            raise QueryError(f"FROM <{iri}> is refused{_position(text, match.start())}: it is not a graph of "
                             "the store.", _graphs_hint(known))
        (named if match.group(1) else defaults).append(iri)
    return defaults, named


def _declared_prefixes(text: str) -> dict[str, str]:
    prefixes = dict(PREFIXES)
    for match in re.finditer(r"(?i)PREFIX\s+([\w.\-]*):\s*<([^>]*)>", text):
        prefixes[match.group(1)] = match.group(2)
    return prefixes


def _borrowed_prefixes(text: str, code: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Prefixes used but neither predeclared nor declared: rdflib binds some thirty by default
    (``dc:`` is Dublin Core 1.1, not ``dcterms:``); those are borrowed from rdflib, with its
    note, so that the query means what it meant; any other is kgraph's unknown-prefix error."""
    declared = set(PREFIXES) | set(_DECLARED.findall(text))
    used = {match.group(1) or "" for match in _PREFIXED.finditer(code)}
    undeclared = sorted(p for p in used - declared if not p.startswith("_") and p.upper() not in ("PREFIX", "BASE"))
    if not undeclared:
        return (), ()
    from rdflib import Graph

    from kgraph.sparql.prepare import PREFIX_ALIASES, _translation_error

    # what rdflib's SPARQL parser binds before reading a query: a new graph's namespaces
    bound = {prefix: str(ns) for prefix, ns in Graph().namespace_manager.namespaces()}
    notes = []
    for prefix in undeclared:
        if prefix not in bound:
            raise _translation_error(text, Exception(f"Unknown namespace prefix : {prefix}"))
        note = f"{prefix}: is not predeclared by kgraph; rdflib reads it as <{bound[prefix]}>."
        if prefix in PREFIX_ALIASES:
            alias = PREFIX_ALIASES[prefix]
            note += f" Did you mean {alias}: <{PREFIXES[alias]}>?"
        notes.append(note)
    return tuple((p, bound[p]) for p in undeclared), tuple(notes)


def _syntax_check(text: str, prefixes: dict[str, str], timeout: float) -> None:
    """Parse with Oxigraph (over an empty store: nothing is evaluated that could take time).

    On a syntax error, rdflib's parser is asked too: it points at the mistake more precisely
    (Oxigraph often reports where it gave up, the end of the group).
    """
    try:
        ox.Store().query(text, prefixes=prefixes)
    except SyntaxError as exc:
        from kgraph.sparql.execute import query_info

        query_info(text, timeout=timeout)  # raises kgraph's syntax error when rdflib finds one too
        raise _syntax_error(text, str(exc)) from None


def _syntax_error(text: str, message: str) -> QueryError:
    match = re.match(r"error at (\d+):(\d+): (.*)", message, re.DOTALL)
    if not match:
        return QueryError(f"SPARQL syntax error: {message}", "Check the query against the SPARQL 1.1 grammar.")
    line, column = int(match.group(1)), int(match.group(2))
    expected = " ".join(match.group(3).split())
    if len(expected) > 120:
        expected = expected[:117] + "..."
    lines = text.splitlines()
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    found = source_line[column - 1:column + 29].strip() or "the end of the line"
    pointer = f"\n  {line:>4} | {source_line}\n       | {' ' * (column - 1)}^"
    return QueryError(f"SPARQL syntax error at line {line}, column {column}, at '{found}' ({expected}){pointer}",
                      "Check brackets, the dots between triple patterns and the quotes there; "
                      "`kgraph queries` lists working examples.")


def _outer_order_by(code: str) -> bool:
    depth = 0
    depths = []
    for char in code:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        depths.append(depth)
    return any(depths[m.start()] == 0 for m in _ORDER_BY.finditer(code))


# --------------------------------------------------------------------------- evaluating

def evaluate(store: ox.Store, query: StoreQuery) -> Any:
    """Answer ``query`` over ``store`` in this process (no time limit); a QueryResult."""
    from kgraph.sparql.execute import _first_use
    from kgraph.sparql.results import QueryResult
    from kgraph.store import term_from_ox

    options: dict[str, Any] = {"prefixes": query.prefixes}
    if query.default_graphs is not None:
        options["default_graph"] = [ox.NamedNode(g) for g in query.default_graphs]
    if query.named_graphs is not None:
        options["named_graphs"] = [ox.NamedNode(g) for g in query.named_graphs]
    answer = store.query(query.text, **options)
    memo: dict[Any, Any] = {}

    def conv(term: Any) -> Any:
        if term is None:
            return None
        found = memo.get(term)
        if found is None:
            found = memo[term] = term_from_ox(term)
        return found

    if query.kind == "ASK":
        return QueryResult("ASK", boolean=bool(answer))
    if query.kind == "SELECT":
        variables = [v.value for v in answer.variables]
        rows = [tuple(conv(solution[i]) for i in range(len(variables))) for solution in answer]
        if query.star:
            order = sorted(range(len(variables)), key=lambda i: (_first_use(query.text, variables[i]), variables[i]))
            variables = [variables[i] for i in order]
            rows = [tuple(row[i] for i in order) for row in rows]
        if not query.ordered:
            rows.sort(key=lambda row: tuple(term.n3() if term is not None else "" for term in row))
        return QueryResult("SELECT", variables=variables, rows=rows)
    from rdflib import Graph

    from kgraph.build import bind_prefixes

    graph = Graph()
    bind_prefixes(graph)
    for triple in answer:
        graph.add((conv(triple.subject), conv(triple.predicate), conv(triple.object)))
    return QueryResult(query.kind, graph=graph)


def run(store_path: Path, query: StoreQuery, *, timeout: float | None) -> Any:
    """Answer ``query`` over the store at ``store_path`` within ``timeout`` seconds.

    A forked process opens the store read-only and evaluates; past the deadline it is
    killed, which stops the engine's work. Without fork (or ``timeout=None``) it runs here.
    """
    import multiprocessing

    if timeout is None or "fork" not in multiprocessing.get_all_start_methods():
        return evaluate(ox.Store.read_only(str(store_path)), query)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_worker, args=(str(store_path), query, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            from kgraph.sparql.execute import timed_out

            raise timed_out(timeout)
        status, payload = receiver.recv()
    except EOFError:
        worker.join()
        raise QueryError(f"the query process ended without an answer (exit code {worker.exitcode}).",
                         "It may have run out of memory; narrow the query or add a LIMIT.") from None
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()
    if status == "error":
        raise QueryError(f"the query failed while running: {payload}",
                         "Check the query; `kgraph queries` lists working examples.")
    return payload


def _worker(store_path: str, query: StoreQuery, sender) -> None:
    from kgraph.sparql.execute import WORKER_MEMORY, fence_worker

    # the same fences as the server's workers (issue 16): inherited sockets released, gone
    # with the parent, memory capped, no network
    fence_worker(keep={sender.fileno()}, memory=WORKER_MEMORY, warm_up=False)
    try:
        outcome: tuple[str, Any] = ("ok", evaluate(ox.Store.read_only(store_path), query))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    sender.send(outcome)
    sender.close()


# --------------------------------------------------------------------------- a pool for the server

class StoreQueryPool:
    """``size`` forked workers, each with the store open read-only, answering one query at a
    time; a worker past the time limit is killed (stopping the engine) and replaced.

    The interface of :class:`kgraph.workers.QueryPool`, for :class:`StoreQuery` objects.
    """

    def __init__(self, store_path: Path, size: int):
        import multiprocessing
        import queue
        import threading

        self._path = str(store_path)
        self._context = multiprocessing.get_context("fork")
        self._idle: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._all: set[int] = set()
        self._closed = False
        for _ in range(size):
            self._idle.put(self._spawn())

    def _spawn(self):
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve_store_queries, args=(self._path, child), daemon=True)
        process.start()
        child.close()
        with self._lock:
            self._all.add(process.pid)
        return process, parent

    def _retire(self, worker) -> None:
        process, conn = worker
        if process.is_alive():
            process.kill()
        process.join()
        conn.close()
        with self._lock:
            self._all.discard(process.pid)

    def run(self, query: StoreQuery, timeout: float, wait: float | None = None) -> Any:
        """Answer ``query`` within ``timeout`` s, waiting at most ``wait`` s for a free worker."""
        import queue

        from kgraph.errors import ServerBusy
        from kgraph.sparql.execute import timed_out

        try:
            worker = self._idle.get(timeout=timeout if wait is None else wait)
        except queue.Empty:
            raise ServerBusy("the server is busy: every query worker is taken.", "Try again in a moment.") from None
        replacement = worker
        try:
            worker[1].send(query)
            if not worker[1].poll(timeout):
                self._retire(worker)
                replacement = self._spawn()
                raise timed_out(timeout)
            status, payload = worker[1].recv()
        except (EOFError, OSError):
            self._retire(worker)
            replacement = self._spawn()
            raise QueryError("the query worker ended without an answer.",
                             "It may have run out of memory; narrow the query or add a LIMIT.") from None
        finally:
            if not self._closed:
                self._idle.put(replacement)
        if status == "error":
            raise QueryError(f"the query failed while running: {payload}",
                             "Check the query; the named questions are working examples.")
        return payload

    def close(self) -> None:
        import queue

        self._closed = True
        while True:
            try:
                self._retire(self._idle.get_nowait())
            except queue.Empty:
                break

    @property
    def pids(self) -> set[int]:
        with self._lock:
            return set(self._all)


def _serve_store_queries(store_path: str, conn) -> None:
    from kgraph.sparql.execute import WORKER_MEMORY, fence_worker

    fence_worker(keep={conn.fileno()}, memory=WORKER_MEMORY, warm_up=False)
    store = ox.Store.read_only(store_path)
    while True:
        try:
            query = conn.recv()
        except (EOFError, OSError):
            return
        try:
            outcome: tuple[str, Any] = ("ok", evaluate(store, query))
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(outcome)
