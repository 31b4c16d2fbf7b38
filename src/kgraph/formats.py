"""The one registry of the file formats kgraph reads and writes, and content negotiation.

Modelled on oxigraph's ``RdfFormat``: each :class:`Format` has a name, a media type and
the other media types that mean it, a file extension, its W3C IRI and a kind. The build
outputs (:mod:`kgraph.export`), ``kgraph query --format`` (choices and help text), the
HTTP ``format`` parameter and ``Accept`` negotiation of ``kgraph serve``, the service
description and the downloads of the query page are all derived from :data:`FORMATS`.

A name can mean different formats for different kinds of answer -- "xml" is RDF/XML for
a graph and SPARQL results XML for a SELECT; "json" is SPARQL results JSON for a SELECT and
JSON-LD for a graph -- so every lookup takes the kinds it may answer with.

This module imports nothing heavy: ``kgraph query`` and ``kgraph --help`` read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kgraph.errors import NotAcceptable

#: What a format holds: an RDF graph, named graphs, SPARQL results (SELECT / ASK), or
#: the entity network (networkx).
KINDS = ("graph", "dataset", "results", "network")
#: The format kind each SPARQL query form is answered in.
RESULT_KIND = {"SELECT": "results", "ASK": "results", "CONSTRUCT": "graph", "DESCRIBE": "graph"}
W3C = "http://www.w3.org/ns/formats/"


@dataclass(frozen=True)
class Format:
    """One file format: how it is named, typed, stored and serialised."""

    name: str
    label: str
    kind: str
    media_type: str
    #: file extension, without the dot
    extension: str
    #: the W3C IRI of the format (``http://www.w3.org/ns/formats/...``), if it has one
    iri: str | None
    #: rdflib's serializer name (graph serializer, or result serializer for "results")
    rdflib_name: str | None
    #: other names a user may give (``--format`` / ``?format=``) for it
    aliases: tuple[str, ...] = ()
    #: other media types that ask for it in an Accept header or ``?format=``
    media_aliases: tuple[str, ...] = ()
    #: the files a build writes in this format, when not the one ``kgraph.<extension>``
    files: tuple[str, ...] = ()

    @property
    def file_names(self) -> tuple[str, ...]:
        """The file names of this format in a build's output folder."""
        return self.files or ("kgraph" + self.suffix,)

    @property
    def suffix(self) -> str:
        return "." + self.extension

    @property
    def description(self) -> str:
        return self.label

    @property
    def content_type(self) -> str:
        """The Content-Type header of an HTTP answer in this format."""
        return self.media_type + ("; charset=utf-8" if self.media_type.startswith("text/") else "")

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that selects this format (its name, aliases and extension)."""
        return tuple(dict.fromkeys((self.name, *self.aliases, self.extension)))

    @property
    def shown(self) -> str:
        """The name shown in help and hints: results XML is asked for as "xml", not "srx"."""
        return "xml" if self.name == "srx" else self.name


#: Every format kgraph reads or writes.
FORMATS: tuple[Format, ...] = (
    Format("turtle", "Turtle", "graph", "text/turtle", "ttl", W3C + "Turtle", "turtle",
           ("n3",), ("application/x-turtle",)),
    Format("nt", "N-Triples", "graph", "application/n-triples", "nt", W3C + "N-Triples", "nt",
           ("ntriples", "n-triples"), ("text/plain",)),
    Format("jsonld", "JSON-LD", "graph", "application/ld+json", "jsonld", W3C + "JSON-LD", "json-ld",
           ("json-ld", "json"), ("application/json",)),
    Format("xml", "RDF/XML", "graph", "application/rdf+xml", "rdf", W3C + "RDF_XML", "pretty-xml",
           ("rdfxml", "rdf+xml", "rdf/xml"), ("application/xml", "text/xml")),
    Format("trig", "TriG, one named graph per source", "dataset", "application/trig", "trig", W3C + "TriG",
           "trig"),
    Format("graphml", "GraphML of the entity network", "network", "application/graphml+xml", "graphml", None,
           None),
    # The entity network for graph tools outside RDF (kgraph.interchange writes them).
    Format("kgx", "KGX TSV (Biolink nodes and edges)", "network", "text/tab-separated-values", "tsv", None, None,
           ("biolink",), files=("kgraph_nodes.tsv", "kgraph_edges.tsv")),
    Format("neo4j", "Neo4j import CSVs and a LOAD CSV script", "network", "text/csv", "csv", None, None,
           files=("kgraph-neo4j-nodes.csv", "kgraph-neo4j-relationships.csv", "kgraph-neo4j.cypher")),
    Format("cytoscape", "Cytoscape.js JSON of the entity network", "network", "application/json", "cyjs", None,
           None, ("cytoscapejs", "cyjs")),
    Format("csv", "SPARQL results CSV", "results", "text/csv", "csv", W3C + "SPARQL_Results_CSV", "csv"),
    Format("tsv", "SPARQL results TSV", "results", "text/tab-separated-values", "tsv",
           W3C + "SPARQL_Results_TSV", None),
    Format("json", "SPARQL results JSON", "results", "application/sparql-results+json", "srj",
           W3C + "SPARQL_Results_JSON", "json", ("sparql-results+json",), ("application/json",)),
    Format("srx", "SPARQL results XML", "results", "application/sparql-results+xml", "srx",
           W3C + "SPARQL_Results_XML", "xml", ("xml", "sparql-results+xml"), ("application/xml", "text/xml")),
)
FORMATS_BY_NAME = {f.name: f for f in FORMATS}
#: The default answer of each kind when a client accepts anything.
DEFAULT = {"results": FORMATS_BY_NAME["json"], "graph": FORMATS_BY_NAME["turtle"]}


def of_kind(*kinds: str) -> list[Format]:
    return [f for f in FORMATS if f.kind in kinds]


def _first_match(kinds: Iterable[str], *tests) -> Format | None:
    """The first format of ``kinds`` passing the first test, else the second, ...: a format's
    own name (or media type) wins over another format's alias."""
    candidates = of_kind(*kinds)
    for test in tests:
        for fmt in candidates:
            if test(fmt):
                return fmt
    return None


def from_name(name: str, kinds: Iterable[str] = KINDS) -> Format | None:
    """The format of one of ``kinds`` called ``name`` (any case), by name first, then alias or extension."""
    wanted = name.strip().lower()
    return _first_match(kinds, lambda f: f.name == wanted, lambda f: wanted in f.names)


def from_media_type(media_type: str, kinds: Iterable[str] = KINDS) -> Format | None:
    """The format of one of ``kinds`` with this media type (its own first, then an alias)."""
    wanted = media_type.split(";")[0].strip().lower()
    return _first_match(kinds, lambda f: f.media_type == wanted, lambda f: wanted in f.media_aliases)


def from_extension(extension: str, kinds: Iterable[str] = KINDS) -> Format | None:
    """The format of one of ``kinds`` for a file extension (``.csv`` or ``csv``), aliases included."""
    return from_name(extension.lstrip("."), kinds)


def names_for(*kinds: str) -> list[str]:
    """What a user types to choose each format of ``kinds``: ``xml`` for results XML, else its name."""
    return [f.shown for f in of_kind(*kinds)]


def accepted_names(*kinds: str) -> list[str]:
    """Every name (aliases and extensions included) that selects a format of ``kinds``."""
    return sorted({n for f in of_kind(*kinds) for n in f.names})


def format_help() -> str:
    """The ``--format`` help of ``kgraph query``, written from the registry."""
    results = ", ".join(names_for("results"))
    graph = ", ".join(names_for("graph"))
    return (f"{results} (SPARQL results) for SELECT and ASK; {graph} for CONSTRUCT and DESCRIBE "
            "[default: a table on a terminal, tab-separated when piped].")


# --------------------------------------------------------------------------- negotiation

def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Media ranges of an Accept header (RFC 9110, 12.5.1), best first (q-values, then order).

    Ranges with ``q=0`` are kept: they *exclude* what they match (see :func:`negotiate`).
    A bare ``*`` (sent by some clients) means ``*/*``; a malformed q-value counts as 0.
    """
    if header is None or not header.strip():
        return [("*/*", 1.0)]
    ranges = []
    for index, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        if media == "*":
            media = "*/*"
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0 or q != q:
                    q = 0.0
        ranges.append((media, q, index))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(m, q) for m, q, _ in ranges]


def _quality(fmt: Format, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The q-value the most specific matching range gives ``fmt`` (and that range's rank)."""
    best: tuple[int, float, int] | None = None  # (specificity, q, rank)
    types = (fmt.media_type, *fmt.media_aliases)
    for rank, (media, q) in enumerate(ranges):
        if media in types:
            specificity = 3 if media == fmt.media_type else 2
        elif media.endswith("/*") and fmt.media_type.startswith(media[:-1]):
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, q, rank)
    return (best[1], best[2]) if best else (0.0, len(ranges))


def _from_param(kind: str, values: list[str]) -> Format | None:
    """The first ``format`` value naming a format of ``kind``: a name, a media type, or a
    comma-separated list of media types (SPARQLWrapper sends ``format=json-ld`` and then
    ``format=application/ld+json,application/x-json+ld``)."""
    for value in values:
        fmt = from_name(value, [kind])
        if fmt is not None:
            return fmt
        for media in value.split(","):
            if media.strip():
                fmt = from_media_type(media, [kind])
                if fmt is not None:
                    return fmt
    return None


def negotiate(kind: str, accept: str | None, format_param: str | list[str] | None = None) -> Format:
    """The format to answer a ``kind`` result in; :class:`NotAcceptable` (406) if none.

    Precedence (documented in the README and the service's error texts):

    1. the ``format`` (or ``output``/``results``) parameter values, in the order sent: the
       first one that names a format able to hold this answer wins;
    2. else the ``Accept`` header: the format with the highest q-value, by its most
       specific matching range (``q=0`` excludes; ``*/*`` and ``*`` give the default:
       SPARQL results JSON, or Turtle for a graph); ties go to the client's order;
    3. a parameter that fits nothing is an error only when the Accept header does not
       choose a format either (a missing Accept header or ``*/*`` alone chooses nothing).
    """
    values = [format_param] if isinstance(format_param, str) else [v for v in (format_param or []) if v]
    fmt = _from_param(kind, values)
    if fmt is not None:
        return fmt
    ranges = parse_accept(accept)
    if values and all(media == "*/*" for media, _ in ranges):
        raise NotAcceptable(f"format '{values[0]}' is not available for this query",
                            f"Use one of {', '.join(accepted_names(kind))}.")
    default = DEFAULT[kind]
    candidates = [default] + [f for f in of_kind(kind) if f is not default]
    scored = [(_quality(f, ranges), position, f) for position, f in enumerate(candidates)]
    scored = [(q, rank, position, f) for (q, rank), position, f in scored if q > 0]
    if scored:
        return min(scored, key=lambda s: (-s[0], s[1], s[2]))[3]
    offered = ", ".join(f.media_type for f in of_kind(kind))
    raise NotAcceptable(f"none of the requested media types ({accept}) can carry this result",
                        f"Accept one of: {offered}.")


def prefers_html(accept: str | None) -> bool:
    """Whether a client (a browser) asks for HTML before anything else."""
    ranges = [r for r in parse_accept(accept) if r[1] > 0]
    return bool(ranges) and ranges[0][0] in ("text/html", "application/xhtml+xml")


def downloads() -> dict[str, list[dict[str, str]]]:
    """The download links of the query page, by result kind (shipped to its script)."""
    return {kind: [{"name": f.name, "label": f.label.removeprefix("SPARQL results "), "extension": f.extension}
                   for f in of_kind(kind)] for kind in ("results", "graph")}


# --------------------------------------------------------------------------- line-safe text

#: Characters rdflib writes raw into N-Triples, Turtle and TriG that Unicode-aware tools
#: take for line breaks (Python's str.splitlines, editors, JavaScript's line terminators)
#: or that are invisible controls: written as \uXXXX escapes instead (issue 15). An
#: escape is valid wherever they can occur (inside literals and IRIs); tab, LF and CR are
#: left to rdflib, which escapes them where the syntax needs it.
LINE_SAFE = {code: f"\\u{code:04X}" for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85,
                                                   0x2028, 0x2029)}
_LINE_UNSAFE = re.compile("[" + "".join(re.escape(chr(code)) for code in LINE_SAFE) + "]")


def line_safe(text: str) -> str:
    """``text`` (N-Triples, Turtle or TriG) with every character of :data:`LINE_SAFE` escaped."""
    # a regular expression, not str.translate: 0.23 s instead of 2.7 s for the 23 MB of
    # N-Triples at ten times the corpus, where such characters are rare
    return _LINE_UNSAFE.sub(lambda match: LINE_SAFE[ord(match.group())], text)
