"""The answer to a query: rows, a boolean or a graph; written in a format of
:mod:`kgraph.formats`, or as short display rows for a table.

SPARQL results are serialised by rdflib's result serializers where they follow the W3C
formats (JSON, XML); by hand TSV (rdflib can parse it, not write it), CSV of a SELECT
(rdflib's writer leaves Unicode line separators unquoted, which its own reader then cuts)
and CSV/TSV of an ASK (the W3C CSV/TSV note defines no boolean form; kgraph writes the
bare ``true``/``false`` line Oxigraph writes and reads). Before writing,
:func:`check_expressible` refuses answers a format cannot carry (an IRI with a space, a
control character in XML), and :func:`serialize_result` turns rdflib's refusal of an
RDF/XML predicate with no valid XML name into a 406 with the reason, so no malformed body
(and no 500) is ever sent. Rows arrive here in
a stable order (see :func:`kgraph.sparql.execute.evaluate`), so the bytes are stable too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from kgraph.errors import NotAcceptable, QueryError
from kgraph.formats import RESULT_KIND, Format, from_extension, from_name, names_for
from kgraph.prefixes import DISPLAY_PREFIXES, PREFIXES

if TYPE_CHECKING:
    from rdflib import Graph


@dataclass
class QueryResult:
    """The answer to a query: rows (SELECT), a boolean (ASK) or a graph (CONSTRUCT, DESCRIBE)."""

    kind: str
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    boolean: bool | None = None
    graph: Graph | None = None

    @property
    def empty(self) -> bool:
        """True for a SELECT without rows or a CONSTRUCT/DESCRIBE without triples."""
        if self.kind == "SELECT":
            return not self.rows
        if self.graph is not None:
            return len(self.graph) == 0
        return False

    @property
    def size(self) -> int:
        """Rows of a SELECT, triples of a graph, 1 for an ASK."""
        if self.kind == "SELECT":
            return len(self.rows)
        return len(self.graph) if self.graph is not None else 1


# --------------------------------------------------------------------------- choosing a format

def choose_format(kind: str, name: str | None, output: Path | None) -> Format | None:
    """The format named ``name``, or guessed from the output file's suffix, for a ``kind`` answer.

    None means that no format was asked for: show the answer readably.
    """
    wanted = RESULT_KIND[kind]
    allowed = ", ".join(names_for(wanted))
    if name is not None:
        fmt = from_name(name, [wanted])
        if fmt is None:
            raise QueryError(f"format '{name}' cannot hold the answer of a {kind} query",
                             f"Choose one of: {allowed}.")
        return fmt
    if output is not None:
        fmt = from_extension(output.suffix, [wanted]) if output.suffix else None
        if fmt is None:
            raise QueryError(f"cannot tell the format of a {kind} answer from the file name {output.name}",
                             f"Pass --format, one of: {allowed}.")
        return fmt
    return None


# --------------------------------------------------------------------------- serialising

def serialize_result(result: QueryResult, fmt: Format) -> bytes:
    """The result in ``fmt``: W3C SPARQL results for SELECT/ASK, RDF for CONSTRUCT/DESCRIBE."""
    if fmt.kind == "graph":
        from kgraph.export import serialize_graph

        try:
            return serialize_graph(result.graph, fmt)
        except ValueError as exc:
            if fmt.name != "xml":
                raise
            # RDF/XML writes each predicate as an XML element name, e.g. none for <http://example.org/123>
            raise NotAcceptable(f"{fmt.label} cannot carry this answer (each predicate must end in an XML name): {exc}",
                                "Ask for Turtle, N-Triples or JSON-LD instead.") from None
    if fmt.kind != "results":
        raise ValueError(f"{fmt.name} cannot hold a query result")
    if fmt.name == "tsv":
        return _to_tsv(result)
    if fmt.name == "csv":
        return _ask_to_csv(result) if result.kind == "ASK" else _to_csv(result)
    out = BytesIO()
    _as_rdflib(result).serialize(out, format=fmt.rdflib_name, encoding="utf-8")
    data = out.getvalue()
    if fmt.name == "srx":
        data = _srx_exact(data)
    return data if data.endswith(b"\n") else data + b"\n"


_LITERAL = re.compile(rb"(<literal[^>]*>)(.*?)(</literal>)", re.DOTALL)


def _srx_exact(data: bytes) -> bytes:
    """SPARQL results XML that every reader takes back whole (issue 15).

    rdflib's writer leaves CR raw, which XML readers turn into LF; and Oxigraph's reader
    trims the whitespace around a literal's text. Both are written as character
    references instead (CR occurs only inside values there).
    """
    def exact(match: re.Match) -> bytes:
        text = match.group(2).replace(b"\r", b"&#13;")
        body = text.strip(b" \t\n")
        if body != text:
            start = text.index(body) if body else len(text)
            lead, tail = text[:start], text[start + len(body):]
            text = b"".join(b"&#%d;" % c for c in lead) + body + b"".join(b"&#%d;" % c for c in tail)
        return match.group(1) + text + match.group(3)

    return _LITERAL.sub(exact, data)


def _as_rdflib(result: QueryResult):
    from rdflib import Variable
    from rdflib.query import Result

    answer = Result(result.kind)
    if result.kind == "ASK":
        answer.askAnswer = bool(result.boolean)
    else:
        answer.vars = [Variable(v) for v in result.variables]
        answer.bindings = [{Variable(v): t for v, t in zip(result.variables, row) if t is not None}
                           for row in result.rows]
    return answer


def _ask_to_csv(result: QueryResult) -> bytes:
    return csv_boolean(bool(result.boolean))


def csv_boolean(value: bool) -> bytes:
    # the W3C note has no boolean form and rdflib refuses one; Oxigraph writes (and its
    # TSV reader parses) one bare line, so kgraph writes that, with CSV's CRLF line end
    return b"true\r\n" if value else b"false\r\n"


def _to_csv(result: QueryResult) -> bytes:
    # W3C SPARQL 1.1 results CSV (RFC 4180, CRLF). Written here rather than by rdflib's
    # csv.writer, which leaves U+2028, U+0085, VT, FF ... unquoted: readers that split
    # lines the Unicode way (rdflib's own CSV reader) then cut the value (issue 15).
    from rdflib import BNode

    def text(term) -> str:
        return "" if term is None else f"_:{term}" if isinstance(term, BNode) else str(term)

    return csv_document(result.variables, [[csv_cell(text(t)) for t in row] for row in result.rows])


def csv_cell(text: str) -> str:
    """A CSV field: the text, quoted when it holds a separator, a quote or a line break."""
    from kgraph.formats import line_safe

    if any(c in text for c in ',"\r\n') or line_safe(text) != text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_document(variables: list[str], cells: list[list[str]]) -> bytes:
    lines = [",".join(variables)] + [",".join(row) for row in cells]
    return ("".join(line + "\r\n" for line in lines)).encode("utf-8")


def _to_tsv(result: QueryResult) -> bytes:
    # W3C SPARQL 1.1 results TSV: ?-prefixed header, terms in N-Triples form. Written
    # here: rdflib has a TSV results parser but no serializer.
    if result.kind == "ASK":
        return tsv_boolean(bool(result.boolean))
    return tsv_document(result.variables, [[_nt_term(t) for t in row] for row in result.rows])


def tsv_boolean(value: bool) -> bytes:
    return b"true\n" if value else b"false\n"  # as Oxigraph writes and reads it


def tsv_document(variables: list[str], cells: list[list[str]]) -> bytes:
    lines = ["\t".join(f"?{v}" for v in variables)] + ["\t".join(row) for row in cells]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _nt_term(term) -> str:
    from rdflib import BNode, Literal

    if term is None:
        return ""
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        return tsv_literal(str(term), term.language, None if term.datatype is None else str(term.datatype))
    return f"<{term}>"


def tsv_literal(lexical: str, language: str | None, datatype: str | None) -> str:
    """A literal in N-Triples form, as a TSV field (no raw line separators: issue 15)."""
    from kgraph.formats import line_safe

    text = lexical
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = text.replace(raw, escaped)
    # TSV is read line by line: no raw U+2028, U+0085, ... either (issue 15)
    text = line_safe(text)
    if language:
        return f'"{text}"@{language}'
    if datatype is not None:
        return f'"{text}"^^<{datatype}>'
    return f'"{text}"'


# --------------------------------------------------------------------------- what a format can carry

#: characters an IRI may not hold (RFC 3987 / the IRIREF of N-Triples and Turtle)
_BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')
#: characters XML 1.0 cannot carry at all (not even escaped)
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _terms(result: QueryResult):
    if result.kind == "SELECT":
        for row in result.rows:
            yield from (t for t in row if t is not None)
    elif result.graph is not None:
        for triple in result.graph:
            yield from triple


def check_expressible(result: QueryResult, fmt: Format) -> None:
    """Raise a clear error if ``fmt`` cannot carry ``result`` (rather than send a broken body)."""
    from rdflib import Literal, URIRef

    xml = fmt.name in ("xml", "srx")
    for term in _terms(result):
        if isinstance(term, URIRef):
            if _BAD_IRI.search(term):
                raise QueryError(f"the answer holds <{term}>, which is not a valid IRI (it contains a space, "
                                 "a quote or a bracket), so no RDF or SPARQL results format can carry it",
                                 "Build IRIs from encoded text: IRI(CONCAT(..., ENCODE_FOR_URI(?text))).")
        elif isinstance(term, Literal):
            datatype = term.datatype
            if datatype is not None and _BAD_IRI.search(datatype):
                raise QueryError(f"the answer holds a literal typed <{datatype}>, which is not a valid IRI",
                                 "Use a datatype IRI without spaces, quotes or brackets.")
            if xml and _BAD_XML.search(term):
                raise NotAcceptable(f"a literal of the answer holds a control character that {fmt.label} "
                                    "cannot carry (XML 1.0 forbids it)",
                                    "Ask for JSON, CSV or TSV (SPARQL results) or Turtle, N-Triples or JSON-LD (a graph).")


# --------------------------------------------------------------------------- display

def display_rows(result: QueryResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of short strings for a table: IRIs as prefix:name, literals as text."""
    namespaces = display_namespaces()
    return result.variables, [[display_term(t, namespaces) for t in row] for row in result.rows]


def display_namespaces() -> list[tuple[str, str]]:
    """The namespaces an IRI is shortened with in a table (longest first)."""
    # kgraph's own prefixes only (cross-reference IRIs stay whole in a table, as they are
    # links); longest namespace first, so kgclaim: wins over kgr: for a claim IRI
    return sorted({**PREFIXES, **DISPLAY_PREFIXES}.items(), key=lambda item: -len(item[1]))


def display_term(term, namespaces: list[tuple[str, str]] | None = None) -> str:
    """``kgr:ketamine`` for an IRI in a known namespace, the text of a literal, "" for unbound."""
    from rdflib import BNode, Literal

    if term is None:
        return ""
    if isinstance(term, Literal):
        return str(term)
    if isinstance(term, BNode):
        return f"_:{term}"
    return display_iri(str(term), namespaces)


def display_iri(text: str, namespaces: list[tuple[str, str]] | None = None) -> str:
    """``kgr:ketamine`` for an IRI in a known namespace, else the IRI itself."""
    for prefix, namespace in namespaces or display_namespaces():
        if text.startswith(namespace) and re.fullmatch(r"[\w.-]*", text[len(namespace):]):
            return f"{prefix}:{text[len(namespace):]}"
    return text
