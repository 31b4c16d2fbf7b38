"""Parse a SPARQL query and check, on its parsed algebra, that it only reads the local graph.

:func:`prepare_query` parses the text with the standard prefixes predeclared (the
``QUERY_PREFIXES`` of :mod:`kgraph.prefixes`, claim and source prefixes included) and refuses what a read-only, offline query must
not do: SPARQL Update, ``SERVICE`` (rdflib would open a network connection), ``FROM`` /
``FROM NAMED`` (rdflib loads those IRIs over the network or from files when given a
dataset) and ``GRAPH`` (the graph is the union of all sources; claims name their source
with ``prov:wasDerivedFrom``). The checks walk the parsed algebra, not the text.

Errors carry a command-line hint and, where that hint names a command or an option, an
HTTP one (``http_hint``) for the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgraph.errors import QueryError, UpdateRefused
from kgraph.names import close_names
from kgraph.prefixes import QUERY_PREFIXES as PREFIXES
from kgraph.prefixes import WELL_KNOWN_PREFIXES

if TYPE_CHECKING:
    from rdflib.plugins.sparql.sparql import Query

#: Common spellings of the predeclared prefixes.
PREFIX_ALIASES = {"dc": "dcterms", "dct": "dcterms", "sdo": "schema", "kgraph": "kg", "ont": "kg", "onto": "kg"}
#: Where an HTTP client finds working examples (instead of `kgraph queries`).
HTTP_EXAMPLES = "The named questions at /queries.json (or in the list on /query) are working examples."

@dataclass(frozen=True)
class PreparedQuery:
    """A parsed query that passed the safety checks."""

    text: str
    kind: str  # SELECT, ASK, CONSTRUCT or DESCRIBE (the keys of kgraph.formats.RESULT_KIND)
    query: Query
    #: whether the query fixes the order of its rows (else rows are sorted, for stable output)
    ordered: bool
    #: remarks worth showing when nothing matches (a prefix kgraph did not predeclare, ...)
    notes: tuple[str, ...] = ()
    #: ``SELECT *``: rdflib picks the column order by hash; kgraph orders them by first use
    star: bool = False


def prepare_query(text: str) -> PreparedQuery:
    """Parse ``text`` and check that it only reads the graph; raise :class:`QueryError` if not."""
    if not text.strip():
        raise QueryError("the query is empty", "Give a SPARQL query inline, with -f FILE, on stdin (-) or --name NAME.",
                         http_hint="Send it as the query parameter (GET ?query=...) or as the POST body.")
    # a byte-order mark (Windows editors write one) is not SPARQL but means nothing either
    text = text.removeprefix("\ufeff")
    _check_depth(text)
    # rdflib's parser is pyparsing's, which keeps state in grammar objects shared by the
    # process: two threads must never parse at once. kgraph parses in single-threaded
    # worker processes only (kgraph.sparql.execute), so no lock is needed -- or held.
    parsed = _parse(text)
    query = _translate(text, parsed)
    _refuse_unsafe(query)
    kind = query.algebra.name.removesuffix("Query").upper()
    if kind == "CONSTRUCT" and query.algebra.get("template") is None:
        _construct_where_template(query)
    ordered = _is_ordered(query.algebra)
    star = kind == "SELECT" and "projection" not in parsed[1]
    return PreparedQuery(text=text, kind=kind, query=query, ordered=ordered, notes=_borrowed_prefixes(text, query),
                         star=star)


def _parse(text: str):
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        return parseQuery(text)
    except ParseException as exc:
        if _is_update(text):
            raise UpdateRefused("SPARQL Update (INSERT, DELETE, LOAD, CLEAR, CREATE, DROP, ...) is refused: "
                                "a kgraph query only reads the graph.",
                                "Change the data in data/*.yaml and run `kgraph build` instead.",
                                http_hint="This endpoint is read-only; the graph is changed by rebuilding it "
                                          "from its data files.") from None
        raise _syntax_error(text, exc) from None
    except RecursionError:
        raise too_deep() from None


def _translate(text: str, parsed) -> Query:
    from rdflib.plugins.sparql.algebra import translateQuery

    try:
        return translateQuery(parsed, initNs=PREFIXES)
    except RecursionError:
        raise too_deep() from None
    except Exception as exc:  # noqa: BLE001 - rdflib reports query mistakes as bare Exception
        raise _translation_error(text, exc) from None


#: deepest bracket nesting accepted: the parser recurses per level (and per triple pattern
#: of a block, which the worker's raised recursion limit allows for: width is not depth)
MAX_DEPTH = 64
_SKIPPED = re.compile(r'<[^<>\s]*>|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|'
                      r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*')


def nesting_depth(text: str) -> tuple[int, int]:
    """The deepest nesting of (), {} and [] outside IRIs, strings and comments, and where it is."""
    code = _SKIPPED.sub(lambda m: " " * len(m.group()), text)
    depth = deepest = where = 0
    for index, char in enumerate(code):
        if char in "({[":
            depth += 1
            if depth > deepest:
                deepest, where = depth, index
        elif char in ")}]":
            depth = max(0, depth - 1)
    return deepest, where


def _check_depth(text: str) -> None:
    deepest, where = nesting_depth(text)
    if deepest > MAX_DEPTH:
        line = text.count("\n", 0, where) + 1
        column = where - (text.rfind("\n", 0, where) + 1) + 1
        raise QueryError(f"the query nests brackets {deepest} levels deep (at line {line}, column {column}); "
                         f"at most {MAX_DEPTH} are accepted",
                         "Flatten nested brackets and groups, or split the query into smaller ones.")


def too_deep() -> QueryError:
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
                      "`kgraph queries` lists working examples.",
                      http_hint="Check brackets, the dots between triple patterns and the quotes there. "
                                + HTTP_EXAMPLES)


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
        close = close_names(prefix, sorted(declared), n=2, cutoff=0.5)
        if close:
            hints.append(f"Did you mean {' or '.join(p + ':' for p in close)}?")
    if prefix in WELL_KNOWN_PREFIXES:
        hints.append(f"Or declare it: PREFIX {prefix}: <{WELL_KNOWN_PREFIXES[prefix]}>")
    hints.append(f"Predeclared prefixes: {', '.join(PREFIXES)}.")
    return QueryError(f"unknown prefix '{prefix}:'{where}", " ".join(hints))


def _borrowed_prefixes(text: str, query: Query) -> tuple[str, ...]:
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


def _refuse_unsafe(query: Query) -> None:
    algebra = query.algebra
    if algebra.get("datasetClause"):
        raise QueryError("FROM and FROM NAMED are refused: kgraph never loads data named in a query.",
                         "Remove them; the query runs over the built graph (all sources together).")
    for node in _walk(algebra):
        if node.name == "ServiceGraphPattern":
            raise QueryError("SERVICE is refused: kgraph queries never contact other endpoints.",
                             "Remove the SERVICE block; only the local graph can be queried.")
        # "GraphGraphPattern" is how a GRAPH inside FILTER (NOT) EXISTS stays: rdflib leaves
        # those patterns untranslated until evaluation
        if node.name in ("Graph", "GraphGraphPattern"):
            raise QueryError("GRAPH patterns are not supported: the graph is the union of all sources.",
                             "Ask for a claim's source with prov:wasDerivedFrom instead "
                             "(`kgraph query --name treats` shows how).",
                             http_hint="Ask for a claim's source with prov:wasDerivedFrom instead "
                                       "(the named question 'treats' shows how).")


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
