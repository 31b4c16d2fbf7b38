"""SPARQL over the on-disk store (:mod:`kgraph.store`), answered by Oxigraph.

The same contract as rdflib's path (:mod:`kgraph.sparql`) -- read-only, nothing fetched
from elsewhere, within a time and a memory limit -- with Oxigraph's engine:

* :func:`prepare` checks the text without rdflib: SPARQL Update is refused; ``SERVICE``
  is refused before Oxigraph sees the query (Oxigraph would open a connection to the
  service); ``FROM`` / ``FROM NAMED`` and the protocol's ``default-graph-uri`` /
  ``named-graph-uri`` may only name the store's own graphs (one per source, entities,
  evidence, ontology, catalog): they select those graphs, never load anything. The checks
  work on the text with its comments, strings and IRIs blanked out, so a keyword inside a
  string or an IRI does not count. Syntax errors and unknown prefixes are reported with
  line and column, as rdflib's path does. Oxigraph parses only in a worker (see
  :func:`prepare` for why).
* :class:`StoreEngine` is the worker body of :class:`kgraph.sparql.execute.QueryPool`
  (``kgraph serve``) and of :func:`run` (``kgraph query``): each forked, fenced worker
  opens the store read-only (milliseconds) and is killed at the time limit, which stops
  the work inside the engine.
* Answers are :class:`kgraph.sparql.results.QueryResult` objects with rdflib terms equal
  to those of the built files (see :func:`kgraph.store.term_from_ox`), rows sorted when
  the query does not order them, ``SELECT *`` columns in order of first use: the same
  answers as rdflib's. :func:`show` makes ``kgraph query``'s table without rdflib.

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
from kgraph.sparql.prepare import HTTP_EXAMPLES
from kgraph.store import StoreError

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


class StoreUnreadable(StoreError):
    """The worker could not open the store (a damaged database): rebuilding it helps."""


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
            named_graph_uri: Iterable[str] = (), timeout: float = 30.0, parse: str = "worker") -> StoreQuery:
    """Check ``text`` against a store holding the named ``graphs``; raise :class:`QueryError` if
    it must not run. The protocol parameters, when given, choose the dataset (over FROM).

    ``graphs=None`` checks everything but the graphs named (before the store is opened, so
    that a mistake is reported before any rebuild). The text-level checks run here; the
    text is parsed by Oxigraph (over an empty store) as ``parse`` says: ``"worker"`` in a
    killable worker within ``timeout`` seconds, ``"here"`` in this process (a worker's own
    check, only when the text is not a query: else evaluating parses it) or ``"no"`` (it is
    parsed where it is evaluated, :func:`run`). Never in a server or CLI process itself:
    Oxigraph's parser takes quadratic time and stack on a long chain such as ``1+1+...+1``
    (it crashes the process past some 8,000 terms).
    """
    from kgraph.sparql.prepare import _check_depth

    known = None if graphs is None else set(graphs)
    # a byte-order mark (Windows editors write one) is not SPARQL but means nothing either
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise QueryError("the query is empty", "Give a SPARQL query inline, with -f FILE, on stdin (-) or --name NAME.",
                         http_hint="Send it as the query parameter (GET ?query=...) or as the POST body.")
    _check_depth(text)
    code = blank_opaque(text)
    kind = _kind(code)
    if kind in UPDATE_KEYWORDS:
        raise UpdateRefused("SPARQL Update (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, ...) is refused: "
                            "a kgraph query only reads the graph.",
                            "Change the data in data/*.yaml and run `kgraph build` instead.",
                            http_hint="This endpoint is read-only; the graph is changed by rebuilding it "
                                      "from its data files.")
    if match := _SERVICE.search(code):
        raise QueryError(f"SERVICE is refused{_position(text, match.start())}: kgraph queries never contact "
                         "other endpoints.", "Remove the SERVICE block; only the local graph can be queried.")
    borrowed, notes = _borrowed_prefixes(text, code)
    from_default, from_named = _dataset_clause(text, code, known)
    defaults, named = list(default_graph_uri), list(named_graph_uri)
    for iri in defaults + named:
        if known is not None and iri not in known:
            raise QueryError(f"the store has no graph <{iri}>", _graphs_hint(known))
    if kind not in QUERY_KINDS:
        # a mistake in the first word (whatever ``parse`` says): the parser tells where
        unchecked = StoreQuery(text=text, kind=kind, ordered=False, star=False, borrowed=borrowed)
        if parse == "here":
            on_deep_stack(lambda: _parse_only(ox.Store(), unchecked))
        else:
            _in_worker(StoreEngine(None), ("info", unchecked, None), timeout)
        raise QueryError("the text is not a SELECT, ASK, CONSTRUCT or DESCRIBE query",
                         "Check the query against the SPARQL 1.1 grammar.")
    if defaults or named:
        default_graphs, named_graphs = tuple(defaults) or None, tuple(named) or None
    else:
        default_graphs = tuple(from_default) if from_default or from_named else None
        named_graphs = tuple(from_named) if from_default or from_named else None
    query = StoreQuery(text=text, kind=kind, ordered=_outer_order_by(code), star=kind == "SELECT"
                       and bool(_STAR.search(code)), default_graphs=default_graphs, named_graphs=named_graphs,
                       borrowed=borrowed, notes=notes)
    if parse == "worker":  # over an empty store: nothing is evaluated that could take time
        _in_worker(StoreEngine(None), ("info", query, None), timeout)
    return query


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


def explained_syntax_error(text: str, exc: SyntaxError) -> QueryError:
    """kgraph's error for a text Oxigraph could not parse, in a worker (no deadline of its own):
    rdflib's parser is asked too, as it points at the mistake more precisely."""
    from kgraph.sparql.prepare import prepare_query

    try:
        prepare_query(text)
    except QueryError as rdflib_error:
        if rdflib_error.message.startswith(("SPARQL syntax error", "unknown prefix")):
            return rdflib_error
    return _syntax_error(text, str(exc))


def _syntax_error(text: str, message: str) -> QueryError:
    match = re.match(r"error at (\d+):(\d+): (.*)", message, re.DOTALL)
    if not match:
        return QueryError(f"SPARQL syntax error: {message}", "Check the query against the SPARQL 1.1 grammar.",
                          http_hint=HTTP_EXAMPLES)
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
                      "`kgraph queries` lists working examples.",
                      http_hint="Check brackets, the dots between triple patterns and the quotes there. "
                                + HTTP_EXAMPLES)


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

#: Stack of the thread a worker evaluates in: Oxigraph parses and evaluates expressions
#: recursively, and crashes the process (SIGSEGV) on the 8 MB default past ~8,000 terms of
#: ``1+1+...+1`` -- a query under the server's 20 KB limit. 256 MB is address space only
#: (untouched pages cost nothing), counted in the worker's memory cap.
EVALUATION_STACK = 256 << 20


def evaluate(store: ox.Store, query: StoreQuery) -> Any:
    """Answer ``query`` over ``store`` in this process (no time limit); a QueryResult."""
    from kgraph.sparql.results import QueryResult
    from kgraph.store import term_from_ox

    answer = _ox_answer(store, query)
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
        return _as_result(query, variables, (tuple(solution[i] for i in range(len(variables))) for solution in answer))
    from rdflib import Graph

    from kgraph.build import bind_prefixes

    graph = Graph()
    bind_prefixes(graph)
    for triple in answer:
        graph.add((conv(triple.subject), conv(triple.predicate), conv(triple.object)))
    return QueryResult(query.kind, graph=graph)


def _as_result(query: StoreQuery, variables: list[str], ox_rows: Iterable[tuple]) -> Any:
    """A SELECT's QueryResult from Oxigraph's rows: rdflib terms, rdflib's order."""
    from kgraph.sparql.execute import _first_use
    from kgraph.sparql.results import QueryResult
    from kgraph.store import term_from_ox

    memo: dict[Any, Any] = {None: None}

    def conv(term: Any) -> Any:
        found = memo.get(term)
        if found is None and term is not None:
            found = memo[term] = term_from_ox(term)
        return found

    rows = [tuple(conv(term) for term in row) for row in ox_rows]
    if query.star:
        order = sorted(range(len(variables)), key=lambda i: (_first_use(query.text, variables[i]), variables[i]))
        variables = [variables[i] for i in order]
        rows = [tuple(row[i] for i in order) for row in rows]
    if not query.ordered:
        rows.sort(key=lambda row: tuple(term.n3() if term is not None else "" for term in row))
    return QueryResult("SELECT", variables=variables, rows=rows)


# --------------------------------------------------------------------------- shown without rdflib

@dataclass(frozen=True)
class Shown:
    """A SELECT or ASK answer as ``kgraph query`` shows it (table cells, or true/false), and
    in CSV or TSV when asked, made from Oxigraph's terms without rdflib (importing it costs
    ~0.1 s): the very cells, row order and bytes that :mod:`kgraph.sparql.results` gives
    for :func:`evaluate`'s answer (see :func:`show`)."""

    kind: str
    variables: list[str]
    cells: list[list[str]]
    boolean: bool | None = None
    #: the answer in the format asked for (CSV or TSV), else None
    data: bytes | None = None

    @property
    def empty(self) -> bool:
        return self.kind == "SELECT" and not self.cells

    @property
    def size(self) -> int:
        return len(self.cells) if self.kind == "SELECT" else 1


XSD = "http://www.w3.org/2001/XMLSchema#"
#: literal datatypes whose lexical forms rdflib keeps as the store gives them (decimals in
#: kgraph's form, :func:`kgraph.store.kgraph_decimal`); with any other, a row is not shown
#: without rdflib (rdflib rewrites some lexical forms: "1.5E0" as a double is "1.5")
_KEPT = {
    XSD + "string": None,
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString": None,
    XSD + "decimal": None,
    XSD + "integer": re.compile(r"-?(0|[1-9][0-9]*)"),
    XSD + "boolean": re.compile(r"true|false"),
    XSD + "anyURI": None,
    # rdflib 7 keeps gYear lexical forms as given (no Python value); kg:year, the publication
    # years: a look-up of an entity no longer imports rdflib in both processes (0.4 s, issue 10)
    XSD + "gYear": None,
}
#: the formats :func:`show` writes itself
SHOWN_FORMATS = ("csv", "tsv")


def show(store: ox.Store, query: StoreQuery, fmt: str | None = None) -> Shown | Any:
    """The answer to a SELECT or ASK as :class:`Shown` (with its bytes in ``fmt``, "csv" or
    "tsv", if given); any other answer (or one holding a literal rdflib would write
    differently) as :func:`evaluate`'s QueryResult."""
    from kgraph.sparql import results as R

    if query.kind == "ASK":
        value = bool(_ox_answer(store, query))
        data = {"csv": R.csv_boolean, "tsv": R.tsv_boolean}[fmt](value) if fmt else None
        return Shown("ASK", [], [], boolean=value, data=data)
    if query.kind != "SELECT":
        return evaluate(store, query)
    from kgraph.store import kgraph_decimal

    answer = _ox_answer(store, query)
    variables = [v.value for v in answer.variables]
    rows = [tuple(solution[i] for i in range(len(variables))) for solution in answer]
    namespaces = R.display_namespaces()
    memo: dict[Any, tuple[str, str, str, str] | None] = {None: ("", "", "", "")}

    def forms(term: Any) -> tuple[str, str, str, str] | None:
        """rdflib's n3() of the term (the sort key), its table cell, CSV field and TSV field;
        None: not without rdflib."""
        if isinstance(term, ox.NamedNode):
            return f"<{term.value}>", R.display_iri(term.value, namespaces), R.csv_cell(term.value), f"<{term.value}>"
        if isinstance(term, ox.BlankNode):
            return f"_:{term.value}", f"_:{term.value}", R.csv_cell(f"_:{term.value}"), f"_:{term.value}"
        datatype = term.datatype.value
        if datatype not in _KEPT or (_KEPT[datatype] is not None and not _KEPT[datatype].fullmatch(term.value)):
            return None
        lexical = kgraph_decimal(term.value) if datatype == XSD + "decimal" else term.value
        quoted = rdflib_quoted(lexical)
        if term.language:
            key, written = f"{quoted}@{term.language}", None
        elif datatype == XSD + "string":
            key, written = quoted, None
        else:
            key, written = f"{quoted}^^<{datatype}>", datatype
        return key, lexical, R.csv_cell(lexical), R.tsv_literal(lexical, term.language, written)

    shown_rows = []
    for row in rows:
        row_forms = []
        for term in row:
            if term not in memo:
                memo[term] = forms(term)
            found = memo[term]
            if found is None:
                return _as_result(query, variables, rows)
            row_forms.append(found)
        shown_rows.append(row_forms)
    order = list(range(len(variables)))
    if query.star:
        from kgraph.sparql.execute import _first_use

        order.sort(key=lambda i: (_first_use(query.text, variables[i]), variables[i]))
    shown_rows = [[row[i] for i in order] for row in shown_rows]
    if not query.ordered:
        shown_rows.sort(key=lambda row: tuple(f[0] for f in row))
    variables = [variables[i] for i in order]
    data = None
    if fmt == "csv":
        data = R.csv_document(variables, [[f[2] for f in row] for row in shown_rows])
    elif fmt == "tsv":
        data = R.tsv_document(variables, [[f[3] for f in row] for row in shown_rows])
    return Shown("SELECT", variables, [[f[1] for f in row] for row in shown_rows], data=data)


def rdflib_quoted(lexical: str) -> str:
    """A literal's lexical form quoted as rdflib's ``Literal.n3()`` quotes it."""
    if "\n" in lexical:
        encoded = lexical.replace("\\", "\\\\")
        if '"""' in lexical:
            encoded = encoded.replace('"""', '\\"\\"\\"')
        if encoded[-1] == '"' and encoded[-2] != "\\":
            encoded = encoded[:-1] + "\\" + '"'
        return '"""%s"""' % encoded.replace("\r", "\\r")
    return '"%s"' % lexical.replace("\n", "\\n").replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")


def _ox_answer(store: ox.Store, query: StoreQuery) -> Any:
    """Oxigraph's answer (lazy for SELECT and CONSTRUCT); its syntax errors as kgraph's."""
    options: dict[str, Any] = {"prefixes": query.prefixes}
    if query.default_graphs is not None:
        options["default_graph"] = [ox.NamedNode(g) for g in query.default_graphs]
    if query.named_graphs is not None:
        options["named_graphs"] = [ox.NamedNode(g) for g in query.named_graphs]
    try:
        return store.query(query.text, **options)
    except SyntaxError as exc:
        raise explained_syntax_error(query.text, exc) from None


def _parse_only(store: ox.Store, query: StoreQuery) -> None:
    """Parse ``query`` (Oxigraph plans it; over an empty store nothing is computed), raising
    kgraph's syntax error. Oxigraph's lazy answer is dropped here, in the thread that made
    it: pyoxigraph refuses to drop it on another one."""
    answer = _ox_answer(store, query)
    del answer


def on_deep_stack(work: Any) -> Any:
    """``work()`` in a thread with :data:`EVALUATION_STACK` of stack; its result or its exception."""
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["ok"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            box["error"] = exc

    previous = threading.stack_size(EVALUATION_STACK)
    try:
        thread = threading.Thread(target=target, name="kgraph-evaluate", daemon=True)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["ok"]


class StoreEngine:
    """The engine of :class:`kgraph.sparql.execute.QueryPool` workers (and of :func:`run`):
    Oxigraph over the store at ``path``, opened read-only by each worker after its fork.

    ``graphs`` are the store's named graphs (what FROM and the protocol's dataset may name);
    ``path=None`` answers over an empty store (to check a text: mode "info").
    Requests are ``(mode, query, options)`` as for rdflib's engine: the query is a text
    (checked here, in the worker) or a :class:`StoreQuery` already checked by the caller.
    """

    def __init__(self, path: Path | None, graphs: Iterable[str] | None = None):
        self.path = None if path is None else str(path)
        self.graphs = None if graphs is None else tuple(graphs)
        self.store: ox.Store | None = None
        #: why the store could not be opened (every answer is then this error)
        self.unreadable: StoreUnreadable | None = None

    def preload(self) -> None:
        """Before the server forks its workers: what every worker needs, imported once."""
        import rdflib.plugins.sparql.parser  # noqa: F401 - explains syntax errors
        import rdflib.term  # noqa: F401

        import kgraph.build  # noqa: F401
        import kgraph.sparql.results  # noqa: F401
        import kgraph.store  # noqa: F401

    def start(self) -> None:
        import os

        # an allocation past the memory cap aborts the worker (reported as out of memory);
        # RUST_BACKTRACE=1 would add some 50 lines of Rust stack to the terminal or log
        os.environ["RUST_BACKTRACE"] = "0"
        try:
            self.store = ox.Store() if self.path is None else ox.Store.read_only(self.path)
        except OSError as exc:  # reported by each answer: a worker must not die of it
            self.unreadable = StoreUnreadable(f"cannot open the store {self.path}: {exc}",
                                              "Run `kgraph build` to write it again.")

    def answer(self, known: dict, mode: str, query: StoreQuery | str, options: Any) -> Any:
        from kgraph.sparql.execute import WORKER_CACHE, QueryInfo, serialize_answer

        if self.unreadable is not None:
            raise self.unreadable
        if isinstance(query, str):
            defaults, named = getattr(options, "dataset", ((), ()))
            key = (query, defaults, named)
            checked = known.get(key)
            if checked is None:
                if len(known) >= WORKER_CACHE:
                    known.clear()
                checked = known[key] = prepare(query, self.graphs, default_graph_uri=defaults,
                                               named_graph_uri=named, parse="here")
            query = checked
        if mode == "info":
            on_deep_stack(lambda: _parse_only(self.store, query))
            return QueryInfo(query.kind, query.notes)
        if mode == "show":  # options: the format to write (csv, tsv) or None
            return on_deep_stack(lambda: show(self.store, query, options))
        result = on_deep_stack(lambda: evaluate(self.store, query))
        if mode == "serialize":
            return serialize_answer(result, options)
        return result


def run(store_path: Path, query: StoreQuery, *, timeout: float | None, mode: str = "result",
        fmt: str | None = None) -> Any:
    """Answer ``query`` over the store at ``store_path`` within ``timeout`` seconds: a
    QueryResult, or with ``mode="show"`` what :func:`show` gives (in ``fmt``).

    A forked worker (fenced as the server's, :func:`kgraph.sparql.execute.fence_worker`)
    opens the store read-only and evaluates; past the deadline it is killed, which stops
    the engine's work. Without fork (or ``timeout=None``) it runs here.
    """
    from kgraph.sparql.execute import _can_fork

    engine = StoreEngine(store_path)
    if timeout is None or not _can_fork():
        engine.start()
        return engine.answer({}, mode, query, fmt)
    return _in_worker(engine, (mode, query, fmt), timeout)


def _in_worker(engine: StoreEngine, request: tuple, timeout: float) -> Any:
    from kgraph.sparql.execute import _check_timeout, _Worker

    _check_timeout(timeout)
    worker = _Worker(engine)
    try:
        return worker.ask(request, timeout)
    finally:
        worker.kill()
