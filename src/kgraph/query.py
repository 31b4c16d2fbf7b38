"""Ask the graph in SPARQL: read-only, nothing fetched from elsewhere, within a time limit.

The steps, each a function of its own:

* :func:`prepare_query` parses the text with the standard prefixes predeclared (the
  ``PREFIXES`` of :mod:`kgraph.project`) and refuses what a read-only, offline query must
  not do: SPARQL Update, ``SERVICE`` (rdflib would open a network connection), ``FROM`` /
  ``FROM NAMED`` (rdflib loads those IRIs over the network or from files when given a
  dataset) and ``GRAPH`` (the graph is the union of all sources; claims name their source
  with ``prov:wasDerivedFrom``). The checks walk the parsed algebra, not the text.
* :func:`run_query` evaluates it over a graph in a forked worker process that is killed
  when the time limit passes (rdflib evaluates in pure Python, so a thread could not be
  stopped); the worker also refuses any socket, in case a query slipped past the checks.
* :func:`serialize_result` writes a result in one of the formats of
  :data:`kgraph.export.FORMATS` (W3C SPARQL 1.1 results CSV/TSV/JSON/XML, or RDF for
  CONSTRUCT and DESCRIBE); :func:`display_rows` gives short, readable cells for a table.

The named queries are ``.rq`` files shipped in ``kgraph/queries`` (package data); the
first line of each is a ``#`` comment describing it.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from kgraph.errors import QueryError, QueryTimeout, UpdateRefused
from kgraph.project import PREFIXES

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.plugins.sparql.sparql import Query

    from kgraph.export import Format

#: Seconds a query may run before it is stopped (``kgraph query --timeout``).
DEFAULT_TIMEOUT = 30.0
QUERY_KINDS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
#: The format kind (see :class:`kgraph.export.Format`) each query kind is written in.
RESULT_KIND = {"SELECT": "results", "ASK": "results", "CONSTRUCT": "graph", "DESCRIBE": "graph"}

#: Namespaces a user may reach for that are not predeclared, to suggest a PREFIX line.
WELL_KNOWN_PREFIXES = {
    "foaf": "http://xmlns.com/foaf/0.1/",
    "biolink": "https://w3id.org/biolink/vocab/",
    "sh": "http://www.w3.org/ns/shacl#",
    "obo": "http://purl.obolibrary.org/obo/",
}
#: Common spellings of the predeclared prefixes.
PREFIX_ALIASES = {"dc": "dcterms", "dct": "dcterms", "sdo": "schema", "kgraph": "kg", "ont": "kg", "onto": "kg"}
#: Extra prefixes used when displaying IRIs (claims and sources have IRIs below kgr:).
DISPLAY_PREFIXES = {"kgclaim": f"{PREFIXES['kgr']}claim/", "kgsrc": f"{PREFIXES['kgr']}source/"}


# --------------------------------------------------------------------------- named queries

@dataclass(frozen=True)
class NamedQuery:
    """A query shipped with kgraph: its name (the file stem), a line of description, the text."""

    name: str
    description: str
    text: str


def named_queries() -> dict[str, NamedQuery]:
    """Every named query, by name, in name order."""
    found = {}
    for entry in resources.files("kgraph").joinpath("queries").iterdir():
        if entry.name.endswith(".rq"):
            text = entry.read_text(encoding="utf-8")
            first = text.splitlines()[0] if text else ""
            name = entry.name[:-3]
            found[name] = NamedQuery(name, first.lstrip("#").strip(), text)
    return dict(sorted(found.items()))


def named_query(name: str) -> NamedQuery:
    """The named query called ``name``; an unknown name lists the available ones."""
    queries = named_queries()
    if name in queries:
        return queries[name]
    close = difflib.get_close_matches(name, list(queries), n=3, cutoff=0.5)
    guess = f" Did you mean {', '.join(close)}?" if close else ""
    raise QueryError(f"no named query '{name}'.{guess}",
                     f"Available: {', '.join(queries)}. `kgraph queries` describes each.")


def read_query_file(path: Path) -> str:
    """The text of a query file (``kgraph query -f q.rq``)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QueryError(f"query file not found: {path}", "Check the path given to -f.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"cannot read query file {path}: {exc}", "Pass a UTF-8 text file with -f.") from None


# --------------------------------------------------------------------------- preparing

@dataclass(frozen=True)
class PreparedQuery:
    """A parsed query that passed the safety checks."""

    text: str
    kind: str  # one of QUERY_KINDS
    query: "Query"
    #: whether the query fixes the order of its rows (else rows are sorted, for stable output)
    ordered: bool
    #: remarks worth showing when nothing matches (a prefix kgraph did not predeclare, ...)
    notes: tuple[str, ...] = ()
    #: ``SELECT *``: rdflib picks the column order by hash; kgraph orders them by first use
    star: bool = False


def prepare_query(text: str) -> PreparedQuery:
    """Parse ``text`` and check that it only reads the graph; raise :class:`QueryError` if not."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    if not text.strip():
        raise QueryError("the query is empty", "Give a SPARQL query inline, with -f FILE, on stdin (-) or --name NAME.")
    try:
        parsed = parseQuery(text)
    except ParseException as exc:
        if _is_update(text):
            raise UpdateRefused("SPARQL Update (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, ...) is refused: "
                                "kgraph queries only read the graph.",
                                "Change the data in data/*.yaml and run `kgraph build` instead.") from None
        raise _syntax_error(text, exc) from None
    except RecursionError:
        raise _too_deep() from None
    try:
        query = translateQuery(parsed, initNs=PREFIXES)
    except RecursionError:
        raise _too_deep() from None
    except Exception as exc:  # noqa: BLE001 - rdflib reports query mistakes as bare Exception
        raise _translation_error(text, exc) from None
    _refuse_unsafe(query)
    kind = query.algebra.name.removesuffix("Query").upper()
    if kind == "CONSTRUCT" and query.algebra.get("template") is None:
        _construct_where_template(query)
    ordered = _is_ordered(query.algebra)
    star = kind == "SELECT" and "projection" not in parsed[1]
    return PreparedQuery(text=text, kind=kind, query=query, ordered=ordered, notes=_borrowed_prefixes(text, query),
                         star=star)


def _too_deep() -> QueryError:
    return QueryError("the query is nested too deeply (or is too long) for the SPARQL parser",
                      "Flatten nested brackets and groups, or split the query into smaller ones.")


def _construct_where_template(query) -> None:
    """Give ``CONSTRUCT WHERE { ... }`` its template (the pattern's triples).

    rdflib finds it only when nothing (LIMIT, ORDER BY, DISTINCT) wraps the pattern, and
    otherwise fails with a TypeError.
    """
    node = query.algebra.get("p")
    while getattr(node, "name", None) in ("Slice", "Project", "Distinct", "Reduced", "OrderBy", "ToMultiSet"):
        node = node.get("p")
    if getattr(node, "name", None) == "BGP":  # the grammar allows nothing else in the short form
        query.algebra["template"] = list(node.triples)


def _is_ordered(algebra) -> bool:
    """Whether the outermost query has ORDER BY (an ordered sub-query does not order the answer)."""
    node = algebra.get("p")
    while node is not None and getattr(node, "name", None) in ("Project", "Slice", "Distinct", "Reduced"):
        node = node.get("p")
    return getattr(node, "name", None) == "OrderBy"


#: The first keyword of every SPARQL Update operation.
UPDATE_KEYWORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")


def _is_update(text: str) -> bool:
    """Whether ``text`` (which is not a valid query) is SPARQL Update, valid or not."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        parseUpdate(text)
        return True
    except ParseException:
        pass
    body = re.sub(r"(?im)^\s*(#.*|(PREFIX\s+[\w-]*:\s*<[^>]*>|BASE\s+<[^>]*>)\s*)$", "", text)
    first = re.match(r"\s*([A-Za-z]+)", body)
    return bool(first) and first.group(1).upper() in UPDATE_KEYWORDS


def _syntax_error(text: str, exc) -> QueryError:
    line, column = exc.lineno, exc.col
    found = exc.pstr[exc.loc:exc.loc + 30].split("\n")[0].strip() or "the end of the query"
    source_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    pointer = f"\n  {line:>4} | {source_line}\n       | {' ' * (column - 1)}^"
    return QueryError(f"SPARQL syntax error at line {line}, column {column}, at '{found}'{pointer}",
                      "Check brackets, the dots between triple patterns and the quotes there; "
                      "`kgraph queries` lists working examples.")


def _translation_error(text: str, exc: Exception) -> QueryError:
    message = str(exc)
    match = re.match(r"Unknown namespace prefix\s*:\s*(\S+)", message)
    if not match:
        return QueryError(f"the query cannot be run: {message}", "Check the query against the SPARQL 1.1 grammar.")
    prefix = match.group(1)
    where = _locate(text, re.compile(rf"(?<![\w:<#/-]){re.escape(prefix)}:"))
    declared = set(PREFIXES) | set(re.findall(r"(?i)PREFIX\s+([\w-]*):", text))
    hints = []
    if prefix in PREFIX_ALIASES:
        hints.append(f"Did you mean {PREFIX_ALIASES[prefix]}:?")
    else:
        close = difflib.get_close_matches(prefix, sorted(declared), n=2, cutoff=0.5)
        if close:
            hints.append(f"Did you mean {' or '.join(p + ':' for p in close)}?")
    if prefix in WELL_KNOWN_PREFIXES:
        hints.append(f"Or declare it: PREFIX {prefix}: <{WELL_KNOWN_PREFIXES[prefix]}>")
    hints.append(f"Predeclared prefixes: {', '.join(PREFIXES)}.")
    return QueryError(f"unknown prefix '{prefix}:'{where}", " ".join(hints))


def _borrowed_prefixes(text: str, query: "Query") -> tuple[str, ...]:
    """Notes on prefixes neither predeclared nor declared that rdflib resolved on its own.

    rdflib binds some thirty prefixes by default; ``dc:`` among them is Dublin Core 1.1,
    not the ``dcterms:`` the graph uses, so such a query silently matches nothing.
    """
    declared = set(re.findall(r"(?i)PREFIX\s+([\w-]*):", text))
    bound = {prefix: str(ns) for prefix, ns in query.prologue.namespace_manager.namespaces()}
    code = re.sub(r'<[^>\s]*>|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*', " ", text)
    used = set(re.findall(r"(?<![\w:?$.-])([A-Za-z][\w-]*):", code))
    notes = []
    for prefix in sorted(used - set(PREFIXES) - declared):
        if prefix in bound:
            note = f"{prefix}: is not predeclared by kgraph; rdflib reads it as <{bound[prefix]}>."
            if prefix in PREFIX_ALIASES:
                alias = PREFIX_ALIASES[prefix]
                note += f" Did you mean {alias}: <{PREFIXES[alias]}>?"
            notes.append(note)
    return tuple(notes)


def _locate(text: str, pattern: re.Pattern) -> str:
    match = pattern.search(text)
    if not match:
        return ""
    line = text.count("\n", 0, match.start()) + 1
    column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return f" at line {line}, column {column}"


def _refuse_unsafe(query: "Query") -> None:
    algebra = query.algebra
    if algebra.get("datasetClause"):
        raise QueryError("FROM and FROM NAMED are refused: kgraph never loads data named in a query.",
                         "Remove them; the query runs over the built graph (all sources together).")
    for node in _walk(algebra):
        if node.name == "ServiceGraphPattern":
            raise QueryError("SERVICE is refused: kgraph queries never contact other endpoints.",
                             "Remove the SERVICE block; only the local graph can be queried.")
        if node.name == "Graph":
            raise QueryError("GRAPH patterns are not supported: the graph is the union of all sources.",
                             "Ask for a claim's source with prov:wasDerivedFrom instead "
                             "(`kgraph query --name treats` shows how).")


def _walk(node: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """Every algebra node (CompValue) below ``node``, filter expressions and sub-queries included."""
    from rdflib.plugins.sparql.parserutils import CompValue

    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, CompValue):
        yield node
        for value in node.values():
            yield from _walk(value, seen)
    elif isinstance(node, (list, tuple)) or type(node).__name__ == "ParseResults":
        for item in node:
            yield from _walk(item, seen)


# --------------------------------------------------------------------------- running

@dataclass
class QueryResult:
    """The answer to a query: rows (SELECT), a boolean (ASK) or a graph (CONSTRUCT, DESCRIBE)."""

    kind: str
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    boolean: bool | None = None
    graph: "Graph | None" = None

    @property
    def empty(self) -> bool:
        """True for a SELECT without rows or a CONSTRUCT/DESCRIBE without triples."""
        if self.kind == "SELECT":
            return not self.rows
        if self.graph is not None:
            return len(self.graph) == 0
        return False


def run_query(graph: "Graph", prepared: PreparedQuery, *, timeout: float | None = DEFAULT_TIMEOUT) -> QueryResult:
    """Evaluate ``prepared`` over ``graph``; stop it and raise :class:`QueryError` after ``timeout`` s.

    The query runs in a forked process, killed at the deadline (about 10 ms of overhead).
    Where fork is unavailable (Windows, or ``timeout=None``) it runs in this process; a
    thread then waits for it, and past the deadline it is abandoned rather than killed.
    """
    if timeout is None:
        return evaluate(graph, prepared)
    if _can_fork():
        outcome = _run_forked(graph, prepared, timeout)
    else:
        outcome = _run_in_thread(graph, prepared, timeout)
    if outcome[0] == "error":
        raise QueryError(f"the query failed while running: {outcome[1]}",
                         "Check the query; `kgraph queries` lists working examples.")
    return outcome[1]


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def timed_out(timeout: float) -> QueryError:
    """The error for a query stopped after ``timeout`` seconds."""
    return QueryTimeout(f"the query was stopped after {timeout:g} s without an answer.",
                      "Narrow it (fewer unbound triple patterns, a LIMIT) or allow longer with --timeout SECONDS.")


def _run_forked(graph: "Graph", prepared: PreparedQuery, timeout: float) -> tuple[str, Any]:
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    # The forked child shares the parsed graph; only the answer travels back (pickled).
    worker = context.Process(target=_worker, args=(graph, prepared, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise timed_out(timeout)
        return receiver.recv()
    except EOFError:
        worker.join()
        raise QueryError(f"the query process ended without an answer (exit code {worker.exitcode}).",
                         "It may have run out of memory; narrow the query or add a LIMIT.") from None
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()


def _worker(graph: "Graph", prepared: PreparedQuery, sender) -> None:
    forbid_network()
    try:
        outcome: tuple[str, Any] = ("ok", evaluate(graph, prepared))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    sender.send(outcome)
    sender.close()


def forbid_network() -> None:
    """In the worker only (audit hooks cannot be removed): any socket use is an error."""
    import rdflib.plugins.sparql

    rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False

    def hook(event: str, args: tuple) -> None:
        if event.startswith("socket.") or event == "urllib.Request":
            raise PermissionError(f"network access is refused in kgraph queries ({event})")

    sys.addaudithook(hook)


def _run_in_thread(graph: "Graph", prepared: PreparedQuery, timeout: float) -> tuple[str, Any]:
    import threading

    box: dict[str, tuple[str, Any]] = {}

    def target() -> None:
        try:
            box["outcome"] = ("ok", evaluate(graph, prepared))
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            box["outcome"] = ("error", f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise timed_out(timeout)
    return box["outcome"]


def evaluate(graph: "Graph", prepared: PreparedQuery) -> QueryResult:
    """Evaluate ``prepared`` over ``graph`` in this process (no time limit; used by the workers)."""
    _skip_unbound_in_distinct_aggregates()
    answer = graph.query(prepared.query)
    kind = prepared.kind
    if kind == "ASK":
        return QueryResult(kind, boolean=bool(answer.askAnswer))
    if kind == "SELECT":
        variables = [str(v) for v in answer.vars or []]
        rows = [tuple(row) for row in answer]
        if prepared.star:
            order = sorted(range(len(variables)), key=lambda i: (_first_use(prepared.text, variables[i]), variables[i]))
            variables = [variables[i] for i in order]
            rows = [tuple(row[i] for i in order) for row in rows]
        if not prepared.ordered:
            rows.sort(key=lambda row: tuple(term.n3() if term is not None else "" for term in row))
        return QueryResult(kind, variables=variables, rows=rows)
    result_graph = answer.graph
    from kgraph.build import bind_prefixes

    bind_prefixes(result_graph)
    return QueryResult(kind, graph=result_graph)


def _first_use(text: str, variable: str) -> int:
    match = re.search(rf"[?$]{re.escape(variable)}\b", text)
    return match.start() if match else len(text)


def _skip_unbound_in_distinct_aggregates() -> None:
    """Make ``GROUP_CONCAT(DISTINCT ?x)`` skip solutions where ``?x`` is unbound.

    rdflib 7 raises NotBoundError there instead (RDFLib/rdflib#882), so any aggregate over
    an OPTIONAL that did not always match fails; SPARQL 1.1 (18.5.1) says to leave such
    values out, which is what rdflib already does for COUNT. Applied in the query worker.
    """
    from rdflib.plugins.sparql import aggregates
    from rdflib.plugins.sparql.sparql import NotBoundError

    original = aggregates.Accumulator.use_row
    if getattr(original, "skips_unbound", False):
        return

    def use_row(self, row) -> bool:
        try:
            return original(self, row)
        except NotBoundError:
            return False

    use_row.skips_unbound = True  # type: ignore[attr-defined]
    aggregates.Accumulator.use_row = use_row


# --------------------------------------------------------------------------- output

def result_formats(kind: str) -> list["Format"]:
    """The formats a result of query kind ``kind`` can be written in."""
    from kgraph.export import FORMATS

    return [f for f in FORMATS if f.kind == RESULT_KIND[kind]]


def choose_format(kind: str, name: str | None, output: Path | None) -> "Format | None":
    """The format named ``name``, or guessed from the output file's suffix, for a ``kind`` answer.

    None means that no format was asked for: show the answer readably.
    """
    from kgraph.export import find_format

    wanted = RESULT_KIND[kind]
    allowed = ", ".join(f.aliases[0] if f.aliases else f.name for f in result_formats(kind))
    if name is not None:
        fmt = find_format(name, {wanted})
        if fmt is None:
            raise QueryError(f"format '{name}' cannot hold the answer of a {kind} query",
                             f"Choose one of: {allowed}.")
        return fmt
    if output is not None:
        fmt = find_format(output.suffix.lstrip("."), {wanted})
        if fmt is None:
            raise QueryError(f"cannot tell the format of a {kind} answer from the file name {output.name}",
                             f"Pass --format, one of: {allowed}.")
        return fmt
    return None


def serialize_result(result: QueryResult, fmt: "Format") -> bytes:
    """The result in ``fmt``: W3C SPARQL results for SELECT/ASK, RDF for CONSTRUCT/DESCRIBE."""
    if fmt.kind == "graph":
        from kgraph.export import serialize_graph

        return serialize_graph(result.graph, fmt)
    writer = {"csv": _to_csv, "tsv": _to_tsv, "json": _to_json, "srx": _to_xml}[fmt.name]
    return writer(result)


def _to_csv(result: QueryResult) -> bytes:
    # W3C SPARQL 1.1 results CSV: plain values, CRLF line ends. CSV and TSV have no form
    # for a boolean; ASK answers follow Apache Jena's convention (one column _askResult).
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if result.kind == "ASK":
        writer.writerows([["_askResult"], ["true" if result.boolean else "false"]])
    else:
        writer.writerow(result.variables)
        writer.writerows([_csv_term(t) for t in row] for row in result.rows)
    return out.getvalue().encode("utf-8")


def _csv_term(term) -> str:
    from rdflib import BNode

    if term is None:
        return ""
    return f"_:{term}" if isinstance(term, BNode) else str(term)


def _to_tsv(result: QueryResult) -> bytes:
    # W3C SPARQL 1.1 results TSV: ?-prefixed header, terms in N-Triples form.
    if result.kind == "ASK":
        lines = ["?_askResult", "true" if result.boolean else "false"]
    else:
        lines = ["\t".join(f"?{v}" for v in result.variables)]
        lines += ["\t".join(_nt_term(t) for t in row) for row in result.rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _nt_term(term) -> str:
    from rdflib import BNode, Literal

    if term is None:
        return ""
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        text = str(term)
        for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            text = text.replace(raw, escaped)
        if term.language:
            return f'"{text}"@{term.language}'
        if term.datatype is not None:
            return f'"{text}"^^<{term.datatype}>'
        return f'"{text}"'
    return f"<{term}>"


def _to_json(result: QueryResult) -> bytes:
    # W3C SPARQL 1.1 results JSON, written here (not by rdflib) for stable, indented output.
    if result.kind == "ASK":
        doc: dict[str, Any] = {"head": {}, "boolean": bool(result.boolean)}
    else:
        doc = {"head": {"vars": result.variables},
               "results": {"bindings": [{v: _json_term(t) for v, t in zip(result.variables, row) if t is not None}
                                        for row in result.rows]}}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _json_term(term) -> dict[str, str]:
    from rdflib import BNode, Literal

    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    if isinstance(term, Literal):
        node = {"type": "literal", "value": str(term)}
        if term.language:
            node["xml:lang"] = term.language
        elif term.datatype is not None:
            node["datatype"] = str(term.datatype)
        return node
    return {"type": "uri", "value": str(term)}


def _to_xml(result: QueryResult) -> bytes:
    from rdflib import Variable
    from rdflib.query import Result

    answer = Result(result.kind)
    if result.kind == "ASK":
        answer.askAnswer = bool(result.boolean)
    else:
        answer.vars = [Variable(v) for v in result.variables]
        answer.bindings = [{Variable(v): t for v, t in zip(result.variables, row) if t is not None}
                           for row in result.rows]
    return answer.serialize(format="xml", encoding="utf-8")


def display_rows(result: QueryResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of short strings for a table: IRIs as prefix:name, literals as text."""
    namespaces = sorted({**PREFIXES, **DISPLAY_PREFIXES}.items(), key=lambda item: -len(item[1]))
    return result.variables, [[display_term(t, namespaces) for t in row] for row in result.rows]


def display_term(term, namespaces: list[tuple[str, str]] | None = None) -> str:
    """``kgr:ketamine`` for an IRI in a known namespace, the text of a literal, "" for unbound."""
    from rdflib import BNode, Literal

    if term is None:
        return ""
    if isinstance(term, Literal):
        return str(term)
    if isinstance(term, BNode):
        return f"_:{term}"
    text = str(term)
    for prefix, namespace in namespaces or sorted({**PREFIXES, **DISPLAY_PREFIXES}.items(),
                                                   key=lambda item: -len(item[1])):
        if text.startswith(namespace) and re.fullmatch(r"[\w.-]*", text[len(namespace):]):
            return f"{prefix}:{text[len(namespace):]}"
    return text
