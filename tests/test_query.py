"""SPARQL over the built graph: parsing with predeclared prefixes, refusals, time limit,
result formats (parsed back), reasoning."""

from __future__ import annotations

import io
import json
import multiprocessing
import socket
import threading
import time

import pytest
from rdflib import Graph, Literal, Variable
from rdflib.compare import isomorphic
from rdflib.query import Result

from kgraph.errors import QueryError
from kgraph.formats import FORMATS_BY_NAME
from kgraph.prefixes import KG, KGR
from kgraph.sparql.execute import run_query
from kgraph.sparql.named import named_queries, named_query
from kgraph.sparql.prepare import PreparedQuery, prepare_query
from kgraph.sparql.results import choose_format, display_rows, serialize_result


@pytest.fixture(scope="module")
def graph(mini_built):
    return mini_built[1].built.graph


def ask(graph, text, **kwargs):
    return run_query(graph, prepare_query(text), **kwargs)


# --------------------------------------------------------------------------- preparing

@pytest.mark.parametrize("text,kind", [
    ("SELECT ?s WHERE { ?s kg:treats ?o }", "SELECT"),
    ("ASK { kgr:ketamine kg:treats kgr:ptsd }", "ASK"),
    ("CONSTRUCT { ?s kg:treats ?o } WHERE { ?s kg:treats ?o }", "CONSTRUCT"),
    ("DESCRIBE kgr:ketamine", "DESCRIBE"),
])
def test_query_kinds_come_from_the_algebra(text, kind):
    assert prepare_query(text).kind == kind


def test_standard_prefixes_are_predeclared(graph):
    result = ask(graph, "SELECT ?c WHERE { kgr:ketamine kg:treats ?c . ?c a kg:MentalDisorder ; "
                        "rdfs:label ?l ; skos:altLabel ?a ; dcterms:identifier ?i }")
    assert result.rows == [(KGR["ptsd"],)]


def test_own_prefix_declarations_override_predeclared_ones(graph):
    result = ask(graph, "PREFIX kg: <http://example.org/other#> SELECT ?s WHERE { ?s kg:treats ?o }")
    assert result.rows == []


@pytest.mark.parametrize("text,expected", [
    ("SELECT ?x WHERE {\n  ?x a ?y \n  FILTER(?x = }", ["line 3, column 3", "FILTER(?x = }", "^"]),
    ("SELEC ?x WHERE { ?x ?p ?o }", ["line 1, column 1", "SELEC ?x"]),
    ("SELECT ?x WHERE { ?x kg:treats \"unclosed }", ["line 1", "syntax error"]),
])
def test_syntax_error_shows_line_column_and_text(text, expected):
    with pytest.raises(QueryError) as info:
        prepare_query(text)
    for part in expected:
        assert part in str(info.value)


def test_syntax_error_points_at_the_line():
    with pytest.raises(QueryError) as info:
        prepare_query("SELECT ?x WHERE {\n  ?x a ?y .\n  ?x kg:treats ?z ?w .\n}")
    message = str(info.value)
    assert "line 3" in message and "?x kg:treats ?z ?w ." in message


@pytest.mark.parametrize("prefix,suggestion", [
    ("kgg", "kg:"), ("dct", "dcterms:"), ("skoss", "skos:"), ("kgraph", "kg:"), ("sdo", "schema:"),
])
def test_unknown_prefix_suggests_the_right_one(prefix, suggestion):
    with pytest.raises(QueryError) as info:
        prepare_query(f"SELECT ?s WHERE {{\n  ?s {prefix}:treats ?o }}")
    message = str(info.value)
    assert f"unknown prefix '{prefix}:' at line 2, column 6" in message
    assert f"Did you mean {suggestion}" in message


def test_unknown_prefix_without_close_match_lists_the_predeclared_ones():
    with pytest.raises(QueryError, match="Predeclared prefixes: kg, kgr, rdf"):
        prepare_query("SELECT ?s WHERE { ?s zzzzz:p ?o }")


def test_prefix_rdflib_knows_but_kgraph_does_not_gets_a_note(graph):
    prepared = prepare_query("SELECT ?s WHERE { ?s dc:title ?t }")
    assert any("dc: is not predeclared" in n and "dcterms:" in n for n in prepared.notes)
    assert run_query(graph, prepared).empty
    assert prepare_query("SELECT ?s WHERE { ?s dcterms:title ?t }").notes == ()


def test_empty_query_is_refused():
    with pytest.raises(QueryError, match="empty"):
        prepare_query("  \n")


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("update", [
    "INSERT DATA { kgr:ketamine kg:treats kgr:cancer }",
    "DELETE WHERE { ?s ?p ?o }",
    "DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "LOAD <http://example.org/data.ttl>",
    "CLEAR ALL",
    "DROP GRAPH <http://example.org/g>",
    "PREFIX ex: <http://example.org/>\nCREATE GRAPH ex:g",
    "# a broken update is still an update\nPREFIX ex: <http://example.org/>\nINSERT DATA { ex:a ex:b ",
])
def test_updates_are_refused(update):
    with pytest.raises(QueryError, match="SPARQL Update .* is refused"):
        prepare_query(update)


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o FILTER EXISTS { SERVICE <http://example.org/sparql> { ?s ?p ?x } } }",
    "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } } } }",
    "ASK { OPTIONAL { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } } }",
])
def test_service_is_refused_wherever_it_hides(text):
    with pytest.raises(QueryError, match="SERVICE is refused"):
        prepare_query(text)


@pytest.mark.parametrize("text", [
    "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }",
    "SELECT * FROM NAMED <http://example.org/g> WHERE { ?s ?p ?o }",
    "CONSTRUCT { ?s ?p ?o } FROM <https://example.org/data.ttl> WHERE { ?s ?p ?o }",
])
def test_from_clauses_are_refused(text):
    with pytest.raises(QueryError, match="FROM and FROM NAMED are refused"):
        prepare_query(text)


def test_graph_patterns_are_refused_with_advice():
    with pytest.raises(QueryError, match="GRAPH patterns") as info:
        prepare_query("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert "prov:wasDerivedFrom" in str(info.value)


class _Listener:
    """A local TCP server that counts the connections it gets."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def test_the_worker_refuses_the_network_even_past_the_checks(graph):
    """Defence in depth: a SERVICE query that skipped prepare_query still cannot connect."""
    from rdflib.plugins.sparql import prepareQuery

    listener = _Listener()
    try:
        text = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{listener.port}/sparql> {{ ?s ?p ?o }} }}"
        unchecked = PreparedQuery(text=text, kind="SELECT", query=prepareQuery(text), ordered=False)
        with pytest.raises(QueryError, match="network access is refused"):
            run_query(graph, unchecked, timeout=10)
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()


# --------------------------------------------------------------------------- time limit

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def test_a_runaway_query_is_stopped_and_its_process_killed(graph):
    started = time.monotonic()
    with pytest.raises(QueryError) as info:
        ask(graph, RUNAWAY, timeout=0.5)
    elapsed = time.monotonic() - started
    assert "stopped after 0.5 s" in str(info.value) and "--timeout" in str(info.value)
    assert elapsed < 5
    assert multiprocessing.active_children() == []


def test_without_fork_a_thread_keeps_the_time_limit(graph, monkeypatch):
    import kgraph.sparql.execute as execute

    monkeypatch.setattr(execute, "_can_fork", lambda: False)
    assert ask(graph, "ASK { kgr:ketamine kg:treats kgr:ptsd }", timeout=10).boolean is True
    started = time.monotonic()
    with pytest.raises(QueryError, match="stopped after 0.3 s"):
        ask(graph, RUNAWAY, timeout=0.3)
    assert time.monotonic() - started < 5


def test_runtime_errors_become_query_errors(graph):
    with pytest.raises(QueryError, match="failed while running"):
        run_query(graph, _broken_query(), timeout=10)


def _broken_query() -> PreparedQuery:
    """A query rdflib accepts but cannot evaluate over a plain graph (GRAPH needs a dataset)."""
    from rdflib.plugins.sparql import prepareQuery

    text = "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"
    return PreparedQuery(text=text, kind="SELECT", query=prepareQuery(text), ordered=False)


GAPPY_AGGREGATE = """SELECT ?e (GROUP_CONCAT(DISTINCT ?syn; separator="|") AS ?s) WHERE {
                       ?e a kg:Drug . OPTIONAL { ?e kg:nothing ?syn } } GROUP BY ?e"""


@pytest.mark.parametrize("timeout", [10, None], ids=["worker", "in-process"])
def test_unbound_values_in_distinct_aggregates_are_skipped(graph, timeout):
    # rdflib alone raises NotBoundError here (RDFLib/rdflib#882)
    result = ask(graph, GAPPY_AGGREGATE, timeout=timeout)
    assert result.rows == [(KGR["ketamine"], Literal(""))]


def test_the_aggregate_fix_leaves_rdflib_alone_elsewhere(graph):
    """kgraph's fix applies to its own evaluation only, not to every rdflib user in the process."""
    from rdflib.plugins.sparql.sparql import NotBoundError

    from kgraph.sparql.execute import evaluate

    prepared = prepare_query(GAPPY_AGGREGATE)
    assert evaluate(graph, prepared).rows == [(KGR["ketamine"], Literal(""))]
    with pytest.raises(NotBoundError):
        list(graph.query(prepared.query))


# --------------------------------------------------------------------------- results

SELECT_WITH_GAPS = """SELECT ?claim ?value ?unit ?population WHERE {
    ?claim rdf:predicate ?p ; rdf:object ?value .
    FILTER (isLiteral(?value))
    OPTIONAL { ?claim schema:unitText ?unit }
    OPTIONAL { ?claim kg:population ?population }
} ORDER BY ?claim"""


def _parse_back(data: bytes, fmt: str) -> Result:
    return Result.parse(io.BytesIO(data), format=fmt)


@pytest.mark.parametrize("fmt,parser", [("json", "json"), ("xml", "xml"), ("csv", "csv")])
def test_select_results_parse_back(graph, fmt, parser):
    result = ask(graph, SELECT_WITH_GAPS)
    data = serialize_result(result, choose_format("SELECT", fmt, None))
    parsed = _parse_back(data, parser)
    assert [str(v) for v in parsed.vars] == result.variables
    rows = [tuple(row.get(Variable(v)) for v in result.variables) for row in parsed.bindings]
    if fmt == "csv":  # CSV keeps only lexical forms
        assert [tuple(str(t) if t is not None else "" for t in row) for row in rows] == \
               [tuple(str(t) if t is not None else "" for t in row) for row in result.rows]
    else:
        assert rows == result.rows


def test_json_results_follow_the_w3c_layout(graph):
    result = ask(graph, SELECT_WITH_GAPS)
    doc = json.loads(serialize_result(result, choose_format("SELECT", "json", None)))
    assert doc["head"]["vars"] == ["claim", "value", "unit", "population"]
    prevalence = next(b for b in doc["results"]["bindings"] if b["claim"]["value"].endswith("c001-005"))
    assert prevalence["claim"]["type"] == "uri"
    assert prevalence["value"]["datatype"] == "http://www.w3.org/2001/XMLSchema#decimal"
    assert prevalence["unit"] == {"type": "literal", "value": "percent"}
    telephone = next(b for b in doc["results"]["bindings"] if b["claim"]["value"].endswith("c001-006"))
    assert "unit" not in telephone  # unbound: left out, as the W3C format says


def test_tsv_results_use_ntriples_terms(graph):
    result = ask(graph, SELECT_WITH_GAPS)
    lines = serialize_result(result, choose_format("SELECT", "tsv", None)).decode().splitlines()
    assert lines[0] == "?claim\t?value\t?unit\t?population"
    prevalence = next(line.split("\t") for line in lines if "c001-005" in line)
    assert prevalence[0] == f"<{KGR}claim/c001-005>"
    assert prevalence[1].endswith("^^<http://www.w3.org/2001/XMLSchema#decimal>")
    assert prevalence[2] == '"percent"' and prevalence[3] == f"<{KGR}adults>"
    assert all(len(line.split("\t")) == 4 for line in lines)


def test_csv_uses_crlf_and_quotes_commas(graph):
    result = ask(graph, 'SELECT ?q ?n WHERE { BIND("a, \\"b\\"" AS ?q) BIND(3 AS ?n) }')
    data = serialize_result(result, choose_format("SELECT", "csv", None))
    assert data == b'q,n\r\n"a, ""b""",3\r\n'


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_ask_results(graph, fmt):
    result = ask(graph, "ASK { kgr:ketamine kg:antagonistOf kgr:nmda-receptor }")
    assert result.boolean is True
    data = serialize_result(result, choose_format("ASK", fmt, None))
    if fmt in ("json", "xml"):
        assert _parse_back(data, fmt).askAnswer is True
    else:
        assert data.decode().split()[-1] == "true"


@pytest.mark.parametrize("fmt,rdflib_name", [("turtle", "turtle"), ("nt", "nt"), ("jsonld", "json-ld"),
                                             ("xml", "xml")])
def test_construct_results_are_rdf(graph, fmt, rdflib_name):
    text = "CONSTRUCT { ?s kg:treats ?o } WHERE { ?s kg:treats ?o }"
    result = ask(graph, text)
    expected = Graph()
    for triple in graph.triples((None, KG.treats, None)):
        expected.add(triple)
    data = serialize_result(result, choose_format("CONSTRUCT", fmt, None))
    assert isomorphic(Graph().parse(data=data, format=rdflib_name), expected)


def test_describe_gives_the_resource_description(graph):
    result = ask(graph, "DESCRIBE kgr:ketamine")
    assert (KGR["ketamine"], KG.antagonistOf, KGR["nmda-receptor"]) in result.graph


@pytest.mark.parametrize("kind,name,output,expected", [
    ("SELECT", "xml", None, "srx"),
    ("CONSTRUCT", "xml", None, "xml"),
    ("SELECT", "json", None, "json"),
    ("DESCRIBE", "json", None, "jsonld"),
    ("SELECT", None, "a.csv", "csv"),
    ("SELECT", None, "a.json", "json"),
    ("SELECT", None, "a.srj", "json"),
    ("ASK", None, "a.srx", "srx"),
    ("DESCRIBE", None, "a.ttl", "turtle"),
    ("CONSTRUCT", None, "a.rdf", "xml"),
    ("SELECT", None, None, None),
])
def test_format_is_chosen_by_name_alias_or_suffix(kind, name, output, expected):
    from pathlib import Path

    fmt = choose_format(kind, name, Path(output) if output else None)
    assert (fmt.name if fmt else None) == expected


@pytest.mark.parametrize("kind,name,output,message", [
    ("SELECT", "turtle", None, "csv, tsv, json, xml"),
    ("CONSTRUCT", "csv", None, "turtle, nt, jsonld, xml"),
    ("SELECT", None, "a.txt", "from the file name a.txt"),
    ("SELECT", None, "answers", "from the file name answers"),
])
def test_a_format_that_cannot_hold_the_answer_is_refused(kind, name, output, message):
    from pathlib import Path

    with pytest.raises(QueryError, match=message):
        choose_format(kind, name, Path(output) if output else None)


def test_results_formats_are_in_the_one_registry():
    for name in ("csv", "tsv", "json", "srx"):
        assert FORMATS_BY_NAME[name].kind == "results"


def test_unordered_rows_are_sorted_for_stable_output(graph):
    result = ask(graph, "SELECT ?s ?p WHERE { ?s ?p kgr:ptsd }")
    assert result.rows == sorted(result.rows, key=lambda r: tuple(t.n3() for t in r))


@pytest.mark.parametrize("text,ordered", [
    ("SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s", True),
    ("SELECT DISTINCT ?s WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 3", True),
    ("SELECT ?s WHERE { { SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 3 } }", False),
    ("SELECT ?s WHERE { ?s ?p ?o }", False),
])
def test_only_an_outer_order_by_orders_the_answer(text, ordered):
    assert prepare_query(text).ordered is ordered


def test_display_rows_are_short(graph):
    result = ask(graph, "SELECT ?c ?s ?q ?x WHERE { ?c rdf:subject ?s ; kg:quote ?q ; prov:wasDerivedFrom ?src "
                        "OPTIONAL { ?c kg:nothing ?x } } ORDER BY ?c LIMIT 1")
    header, rows = display_rows(result)
    assert header == ["c", "s", "q", "x"]
    assert rows[0][:2] == ["kgclaim:c001-001", "kgr:ketamine"]
    assert rows[0][2] == "Ketamine blocks the NMDA receptor." and rows[0][3] == ""


# --------------------------------------------------------------------------- reasoning

def test_rdfs_finds_instances_of_subclasses_and_superproperties(mini_built):
    from kgraph.reason import entail

    graph = mini_built[1].built.graph
    text = "SELECT ?x WHERE { ?x a kg:Condition }"
    assert ask(graph, text).rows == []
    closed = entail(graph, "rdfs")
    assert (KGR["ptsd"],) in ask(closed, text).rows
    # kg:antagonistOf is a sub-property of kg:targets
    assert ask(closed, "ASK { kgr:ketamine kg:targets kgr:nmda-receptor }").boolean
    assert not ask(graph, "ASK { kgr:ketamine kg:targets kgr:nmda-receptor }").boolean


def test_owl_rl_adds_inverse_properties(mini_built):
    from kgraph.reason import entail

    closed = entail(mini_built[1].built.graph, "owl-rl")
    assert ask(closed, "ASK { kgr:ptsd kg:treatedBy kgr:ketamine }").boolean
    assert ask(closed, "ASK { kgr:nmda-receptor kg:antagonizedBy kgr:ketamine }").boolean
    assert ask(closed, "ASK { kgr:ptsd a kg:Condition }").boolean


def test_unknown_regime_is_refused(mini_built):
    from kgraph.reason import entail

    with pytest.raises(QueryError, match="rdfs, owl-rl"):
        entail(mini_built[1].built.graph, "magic")


# --------------------------------------------------------------------------- named queries

def test_there_are_at_least_15_named_queries_each_described():
    queries = named_queries()
    assert len(queries) >= 15
    for q in queries.values():
        assert q.text.startswith("# ") and len(q.description) > 20, q.name
        prepare_query(q.text)  # each parses and passes the safety checks


def test_unknown_named_query_lists_the_available_ones():
    with pytest.raises(QueryError) as info:
        named_query("treatz")
    message = str(info.value)
    assert "no named query 'treatz'" in message and "Did you mean treats?" in message
    for name in named_queries():
        assert name in message


def test_named_queries_are_package_data():
    from importlib import resources

    names = {p.name for p in resources.files("kgraph").joinpath("queries").iterdir()}
    assert "treats.rq" in names and "mechanism-chain.rq" in names


@pytest.mark.parametrize("text", [
    "ASK { FILTER(" + "(" * 400 + "1" + ")" * 400 + ") }",
    "SELECT * WHERE " + "{ " * 400 + "?s ?p ?o" + " }" * 400,
])
def test_too_deeply_nested_queries_are_refused_not_crashed(text):
    with pytest.raises(QueryError, match=r"nests brackets \d+ levels deep"):
        prepare_query(text)


def test_construct_where_short_form_with_limit(graph):
    result = ask(graph, "CONSTRUCT WHERE { ?s kg:treats ?o } LIMIT 1")
    assert len(result.graph) == 1
    assert next(iter(result.graph))[1] == KG.treats
    ordered = ask(graph, "CONSTRUCT WHERE { ?s kg:treats ?o } ORDER BY ?s")
    assert len(ordered.graph) == len(list(graph.triples((None, KG.treats, None))))


def test_select_star_columns_follow_the_query_not_the_hash_seed(graph):
    result = ask(graph, "SELECT * WHERE { ?drug kg:treats ?condition . ?condition rdfs:label ?name }")
    assert result.variables == ["drug", "condition", "name"]
    assert all(row[2] == Literal("post-traumatic stress disorder") for row in result.rows)


def test_update_and_timeout_have_their_own_error_types(graph):
    from kgraph.errors import QueryTimeout, UpdateRefused

    with pytest.raises(UpdateRefused):
        prepare_query("DELETE WHERE { ?s ?p ?o }")
    with pytest.raises(QueryTimeout):
        ask(graph, "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", timeout=0.3)
