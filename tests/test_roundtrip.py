"""What goes in comes out (issue 15): any string a curator can type is either written in
every format so that rdflib and Oxigraph read back exactly the graph that was built, or
refused by validation with its file, line and code point.

The property tests generate labels, descriptions, synonyms, quotes, notes, text values,
qualifiers and numbers from the whole of Unicode (controls, line separators,
surrogates, noncharacters, bidirectional marks, emoji, very long strings).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import xml.parsers.expat
from decimal import Decimal
from pathlib import Path

import pyoxigraph
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rdflib import XSD, Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDF

from kgraph.build import ONTOLOGY_GRAPH, BuiltGraph, build_graph
from kgraph.export import build_files
from kgraph.load import load_dataset, load_ontology, vocabulary
from kgraph.network import to_networkx
from kgraph.prefixes import SCHEMA
from kgraph.project import Project
from kgraph.stats import compute_stats
from kgraph.validate import check_grounding, validate_dataset

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "mini"

#: characters that broke a writer, a reader or a line-based tool before (issue 15)
NASTY = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x1b", "\x00", "\x7f",
         "\ufffe", "\uffff", "\ud800", "\udfff", "\u200f", "\u202e", "\u2066", "\ufeff", "\U0001F600",
         "\U0010FFFD", "\t", "\r", "\n", "\r\n", '"', "'", "\\", '"""', "'''", "<", ">", "&", "]]>", "@prefix",
         "\n@prefix x: <http://x/> .\n", "}", "{", " .", "#", "%", "\\u0041", "\\n"]



def xml_char(char: str) -> bool:
    """XML 1.0's Char production (written out here, not taken from kgraph): what every
    format kgraph writes can hold; anything else must be refused."""
    code = ord(char)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


raw_text = st.lists(st.one_of(st.sampled_from(NASTY), st.characters(exclude_categories=()),
                              st.text(st.characters(exclude_categories=()), max_size=8)),
                    max_size=12).map("".join)
#: text every format can hold (the characters XML 1.0 forbids are dropped)
text = raw_text.map(lambda value: "".join(c for c in value if xml_char(c)))
long_text = st.builds(lambda base, n: base * n, st.sampled_from(["ab\u2028", "\x85é😀 \u202e"]),
                      st.integers(500, 3000))
field = st.one_of(text, text, long_text)
FIELDS = ("label", "synonym", "description", "quote", "note", "value", "qualifier")
ENTITY_FIELDS = ("label", "synonym", "description")
#: one character XML 1.0 forbids, put into one field at some position (or none)
bad_char = st.one_of(st.sampled_from([c for c in NASTY if len(c) == 1 and not xml_char(c)]),
                     st.characters(exclude_categories=()).filter(lambda c: not xml_char(c)))
injection = st.one_of(st.none(), st.tuples(st.sampled_from(FIELDS), bad_char, st.integers(0, 10**6)))


def yaml_string(value: str) -> str:
    """A YAML double-quoted scalar holding exactly ``value`` (every other character escaped)."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= ord(char) < 0x7F:
            out.append(char)
        else:
            out.append(f"\\U{ord(char):08X}")
    return '"' + "".join(out) + '"'


def _edit(path: Path, old: str, new: str) -> None:
    text_ = path.read_text(encoding="utf-8")
    assert old in text_, f"fixture changed: {old!r} not in {path}"
    path.write_text(text_.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def ontology():
    project = Project.at(REPO)
    graph = load_ontology(project)
    return graph, vocabulary(graph)


def _project(root: Path, fields: dict[str, str], number) -> Project:
    shutil.copytree(FIXTURE, root)
    entities, claims = root / "data" / "entities" / "all.yaml", root / "data" / "claims" / "001.yaml"
    _edit(entities, "  label: ketamine\n  synonyms: [Ketamine, special-K]\n  description: A dissociative anaesthetic.\n",
          f"  label: {yaml_string(fields['label'])}\n  synonyms: [{yaml_string(fields['synonym'])}]\n"
          f"  description: {yaml_string(fields['description'])}\n")
    _edit(claims, '    quote: "the relief can last weeks"\n',
          f"    quote: {yaml_string(fields['quote'])}\n    note: {yaml_string(fields['note'])}\n")
    _edit(claims, "    value: weeks\n", f"    value: {yaml_string(fields['value'])}\n")
    _edit(claims, "{onset: within hours,", f"{{onset: {yaml_string(fields['qualifier'])},")
    _edit(claims, "    value: 8\n", f"    value: {number}\n")
    # the quote must be in its source: append it (a lone surrogate cannot be UTF-8: the
    # corpus file is then not UTF-8 either, and says so)
    with open(root / "corpus" / "alpha.txt", "a", encoding="utf-8", errors="surrogatepass") as fh:
        fh.write("\n" + fields["quote"] + "\n")
    return Project.at(root, ontology_dir=REPO / "ontology", corpus_dir=root / "corpus")


def _yaml_number(value) -> str:
    """The YAML 1.1 spelling PyYAML reads back as this number (a float needs its dot)."""
    if isinstance(value, float) and value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text_ = repr(value)
    mantissa, e, exponent = text_.partition("e")
    if isinstance(value, float) and "." not in mantissa:
        text_ = f"{mantissa}.0{e}{exponent}"
    return text_


def _rdflib_values(graph) -> set[tuple]:
    """Triples as plain values (IRI text; literal text, datatype and language; blank
    nodes as one mark), so that rdflib and Oxigraph parses compare without shared code."""
    def term(t):
        if isinstance(t, URIRef):
            return ("iri", str(t))
        if isinstance(t, Literal):
            datatype = str(t.datatype) if t.datatype else (str(RDF.langString) if t.language else str(XSD.string))
            return ("literal", str(t), datatype, t.language or "")
        return ("blank",)
    return {tuple(term(t) for t in triple) for triple in graph}


def _oxigraph_values(quads) -> set[tuple]:
    def term(t):
        if isinstance(t, pyoxigraph.NamedNode):
            return ("iri", t.value)
        if isinstance(t, pyoxigraph.Literal):
            return ("literal", t.value, t.datatype.value, t.language or "")
        return ("blank",)
    return {(term(q.subject), term(q.predicate), term(q.object)) for q in quads}


RDF_FILES = {"kgraph.nt": ("nt", "N_TRIPLES"), "kgraph.ttl": ("turtle", "TURTLE"), "kgraph.rdf": ("xml", "RDF_XML"),
             "kgraph.jsonld": ("json-ld", "JSON_LD"), "kgraph.trig": ("trig", "TRIG")}


def _without_ontology(built: BuiltGraph) -> BuiltGraph:
    """The built graph without the (constant, large) ontology graph, to keep examples fast."""
    ds = Dataset()
    for prefix, namespace in built.dataset.namespaces():
        ds.bind(prefix, namespace)
    union = Graph()
    for prefix, namespace in built.graph.namespaces():
        union.bind(prefix, namespace)
    for s, p, o, g in built.dataset.quads((None, None, None, None)):
        if g == ONTOLOGY_GRAPH:
            continue
        ds.graph(g).add((s, p, o)) if g is not None else ds.add((s, p, o))
        union.add((s, p, o))
    return BuiltGraph(dataset=ds, graph=union)


def store_files(built: BuiltGraph) -> dict[str, bytes]:
    """The RDF files as ``kgraph build`` writes them: from its Oxigraph store."""
    from kgraph.store import export_files, quads_from_dataset, store_quads

    store = pyoxigraph.Store()
    store.extend(store_quads(quads_from_dataset(built.dataset)))
    return export_files(store)


def assert_round_trips(built: BuiltGraph, files: dict[str, bytes], strings: list[str]) -> None:
    """Every RDF file reads back, with rdflib and with Oxigraph, as exactly the built graph."""
    wanted = _rdflib_values(built.graph)
    for name, (rdflib_format, ox_format) in RDF_FILES.items():
        data = files[name]
        if rdflib_format == "trig":
            parsed = Dataset()
            parsed.parse(data=data, format="trig")
            by_rdflib = _rdflib_values((s, p, o) for s, p, o, _ in parsed.quads((None, None, None, None)))
        else:
            by_rdflib = _rdflib_values(Graph().parse(data=data, format=rdflib_format))
        by_oxigraph = _oxigraph_values(pyoxigraph.parse(data, format=getattr(pyoxigraph.RdfFormat, ox_format),
                                                        base_iri="https://w3id.org/kgraph/"))
        assert by_rdflib == wanted, f"{name} read by rdflib differs: {sorted(by_rdflib ^ wanted)[:3]}"
        assert by_oxigraph == wanted, f"{name} read by Oxigraph differs: {sorted(by_oxigraph ^ wanted)[:3]}"
        if name in ("kgraph.nt", "kgraph.trig"):
            # line-based tools (grep, wc -l, editors) must see one statement per line:
            # no character a Unicode-aware reader treats as a line break is left raw
            for breaker in ("\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"):
                assert breaker not in data.decode("utf-8"), f"{name} holds a raw {breaker!r}"
    literals = {t[2][1] for t in wanted if t[2][0] == "literal"}
    for value in strings:
        assert value in literals
    xml.parsers.expat.ParserCreate().Parse(files["kgraph.graphml"], True)
    import networkx as nx

    network = nx.read_graphml(io.BytesIO(files["kgraph.graphml"]))
    assert strings[0] in {data.get("label") for _, data in network.nodes(data=True)}
    json.loads(files["stats.json"])


# slow: each example loads, validates and builds a project and writes every file twice (the fast
# default suite has test_integrity's table of characters every format can write)
@pytest.mark.slow
@settings(max_examples=25, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(label=field, synonym=text, description=field, quote=field, note=text, value=text, qualifier=text,
       bad=injection,
       number=st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                        st.decimals(places=3, allow_nan=False, allow_infinity=False).map(float)))
def test_any_string_is_written_and_read_back_whole_or_refused(ontology, label, synonym, description, quote, note,
                                                              value, qualifier, bad, number):
    onto, vocab = ontology
    # a letter first: an empty label or quote is refused for another reason (tested elsewhere)
    fields = {"label": "L" + label, "synonym": "S" + synonym, "description": "D" + description,
              "quote": "Q" + quote, "note": "N" + note, "value": "V" + value, "qualifier": "O" + qualifier}
    if bad is not None:
        name, char, position = bad
        position %= len(fields[name]) + 1
        fields[name] = fields[name][:position] + char + fields[name][position:]
    with tempfile.TemporaryDirectory() as tmp:
        project = _project(Path(tmp) / "mini", fields, _yaml_number(number))
        data, problems = load_dataset(project)
        problems += validate_dataset(data, vocab)
        problems += check_grounding(data, project.corpus_dir)[0]
    errors = [p for p in problems if p.level == "error"]
    finite = not isinstance(number, float) or abs(number) != float("inf") and number == number
    if bad is None and finite:
        assert not errors, [str(p) for p in errors]
    else:
        assert errors
        codes = {p.code for p in errors}
        assert codes <= {"forbidden-character", "corpus-file-not-utf8", "not-finite"}, [str(p) for p in errors]
        messages = "\n".join(str(p) for p in errors)
        if bad is not None:
            where = "data/entities/all.yaml:" if name in ENTITY_FIELDS else "data/claims/001.yaml:"
            assert any(p.code == "forbidden-character" and f"U+{ord(char):04X}" in p.message
                       and str(p.where).startswith(where) for p in errors), messages
        if not finite:
            assert "not a finite number" in messages
        return

    full = build_graph(data, vocab, onto)
    network = to_networkx(full.graph)  # the network needs the ontology's classes
    built = _without_ontology(full)
    files = build_files(built, network, compute_stats(len(built.graph), network))
    assert_round_trips(built, files, list(fields.values()))  # rdflib's writers (serve, query)
    assert_round_trips(built, {**files, **store_files(built)}, list(fields.values()))  # the build's
    statistic = list(built.graph.objects(None, SCHEMA.value))
    assert [Decimal(str(t)) for t in statistic] == [Decimal(repr(number)) if isinstance(number, float)
                                                    else Decimal(number)]


@pytest.mark.slow
def test_the_xss_fixture_builds_and_every_file_reads_back(tmp_path, monkeypatch):
    """The project's own fixture holds U+2028: `kgraph build` used to write an unreadable
    kgraph.nt and exit 0 (issue 15)."""
    from typer.testing import CliRunner

    from kgraph.cli import app
    from kgraph.pipeline import build

    root = tmp_path / "xss"
    shutil.copytree(REPO / "tests" / "fixtures" / "xss", root)
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["build", "--corpus", str(root / "corpus"), "--ontology", str(REPO / "ontology")])
    assert result.exit_code == 0, result.output
    project = Project.at(root, ontology_dir=REPO / "ontology", corpus_dir=root / "corpus")
    built = build(project, write=False).built
    files = {name: (root / "output" / name).read_bytes() for name in [*RDF_FILES, "kgraph.graphml", "stats.json"]}
    label = next(str(o) for o in built.graph.objects(URIRef("https://w3id.org/kgraph/id/ketamine"),
                                                      URIRef("http://www.w3.org/2000/01/rdf-schema#label")))
    assert_round_trips(built, files, [label])


# --------------------------------------------------------------------------- query answers

ANSWER_STRINGS = ["line\u2028separator", "para\u2029graph", "next\x85line", "tab\tand\rreturn\r\nand\nnewline",
                  'quotes " \' """ and \\ backslash', "\n@prefix x: <http://x/> .\n", "rtl \u202eevil\u202c \u200f",
                  "emoji \U0001F600 and \U0010FFFD", "del \x7f c1 \x9f", "<tag> & ]]>", "ends with \\"]


def _answer_values(data: bytes, fmt_name: str) -> list[set]:
    """The values in a SELECT answer, read by rdflib and by Oxigraph (two readers)."""
    from rdflib.query import Result

    ox_format = {"json": "JSON", "srx": "XML", "tsv": "TSV"}.get(fmt_name)
    by_oxigraph = None if ox_format is None else {
        solution["o"].value
        for solution in pyoxigraph.parse_query_results(data, format=getattr(pyoxigraph.QueryResultsFormat, ox_format))}
    if fmt_name == "tsv":
        # rdflib's TSV reader knows no \uXXXX escape (valid in SPARQL TSV, which has terms
        # in Turtle syntax) and splits lines at U+2028: Oxigraph only, and line-safe
        assert not any(c in data.decode("utf-8") for c in "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e")
        return [by_oxigraph]
    rdflib_name = {"json": "json", "srx": "xml", "csv": "csv"}[fmt_name]
    # CSV cannot tell an empty string from an unbound value: rdflib reads both as None
    by_rdflib = {"" if row[1] is None else str(row[1]) for row in Result.parse(io.BytesIO(data), format=rdflib_name)}
    if fmt_name == "csv":  # Oxigraph refuses to read CSV results (lossy): Python's csv reader
        import csv

        return [by_rdflib, {row["o"] for row in csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))}]
    return [by_rdflib, by_oxigraph]


@settings(max_examples=40, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(text, min_size=1, max_size=5))
def test_every_answer_format_holds_any_writable_string(values):
    from kgraph.formats import FORMATS
    from kgraph.sparql.results import QueryResult, serialize_result

    values = [*values, *ANSWER_STRINGS]
    subject = URIRef("https://w3id.org/kgraph/id/ketamine")
    rows = [(subject, Literal(v)) for v in values]
    select = QueryResult(kind="SELECT", variables=["s", "o"], rows=rows)
    graph = Graph()
    for i, v in enumerate(values):
        graph.add((subject, URIRef(f"https://w3id.org/kgraph/ontology#p{i}"), Literal(v)))
    construct = QueryResult(kind="CONSTRUCT", graph=graph)
    for fmt in FORMATS:
        if fmt.kind == "results":
            data = serialize_result(select, fmt)
            for read in _answer_values(data, fmt.name):
                # CSV keeps no line ends apart (RFC 4180 readers may turn CR LF into LF)
                want = {v.replace("\r\n", "\n") for v in values} if fmt.name == "csv" else set(values)
                got = {v.replace("\r\n", "\n") for v in read} if fmt.name == "csv" else read
                assert got == want, f"{fmt.name}: {sorted(got ^ want)[:3]}"
        elif fmt.kind == "graph":
            data = serialize_result(construct, fmt)
            by_rdflib = _rdflib_values(Graph().parse(data=data, format=fmt.rdflib_name.replace("pretty-", "")))
            by_oxigraph = _oxigraph_values(pyoxigraph.parse(data, format=pyoxigraph.RdfFormat.from_media_type(
                fmt.media_type)))
            assert by_rdflib == by_oxigraph == _rdflib_values(graph), fmt.name


def test_served_answers_read_back_whole(tmp_path):
    """/sparql and /id/ answer in every format of the registry; each answer, for an entity
    whose label and description hold line separators and controls, reads back whole."""
    from starlette.testclient import TestClient

    from kgraph.formats import FORMATS
    from kgraph.serve import ServeOptions, create_app

    fields = {"label": "L\u2028abel \U0001F600", "synonym": "S\x85yn", "description": "D\u2029\n@prefix x: <y> .",
              "quote": "Q\tquote \"x\" \\", "note": "N\u202enote", "value": "V\rvalue", "qualifier": "O\x7f"}
    project = _project(tmp_path / "mini", fields, "8")
    onto = load_ontology(project)
    vocab = vocabulary(onto)
    data, problems = load_dataset(project)
    assert not [p for p in problems + validate_dataset(data, vocab) if p.level == "error"]
    built = build_graph(data, vocab, onto)
    app = create_app(built.graph, to_networkx(built.graph), ServeOptions(timeout=10, max_results=10_000))
    ketamine = URIRef("https://w3id.org/kgraph/id/ketamine")
    wanted = _rdflib_values((ketamine, p, o) for p, o in built.graph.predicate_objects(ketamine))
    construct = "CONSTRUCT { kgr:ketamine ?p ?o } WHERE { kgr:ketamine ?p ?o }"
    select = "SELECT ?s ?o WHERE { BIND(kgr:ketamine AS ?s) kgr:ketamine ?p ?o }"
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for fmt in FORMATS:
            if fmt.kind == "graph":
                for path, params in (("/sparql", {"query": construct}), ("/id/ketamine", {})):
                    r = client.get(path, params=params, headers={"Accept": fmt.media_type})
                    assert r.status_code == 200 and r.headers["content-type"].startswith(fmt.media_type), path
                    got = _oxigraph_values(pyoxigraph.parse(r.content, format=pyoxigraph.RdfFormat.from_media_type(
                        fmt.media_type)))
                    rdflib_got = _rdflib_values(Graph().parse(data=r.content,
                                                              format=fmt.rdflib_name.replace("pretty-", "")))
                    if path == "/sparql":
                        assert got == rdflib_got == wanted, fmt.name
                    else:  # /id/ adds the claims about it
                        assert wanted <= got and wanted <= rdflib_got, fmt.name
            elif fmt.kind == "results":
                r = client.get("/sparql", params={"query": select}, headers={"Accept": fmt.media_type})
                assert r.status_code == 200, fmt.name
                expected = {t[2][1] for t in wanted}
                for read in _answer_values(r.content, fmt.name):
                    got = {v.replace("\r\n", "\n") for v in read}
                    assert got == {v.replace("\r\n", "\n") for v in expected}, (fmt.name, got ^ expected)
