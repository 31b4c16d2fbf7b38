"""`kgraph query`, `queries`, `show`, `neighbors`, `path` and `central` from the command line."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from rdflib import Graph
from rdflib.compare import isomorphic
from rdflib.query import Result
from typer.testing import CliRunner

from kgraph.cli import app
from kgraph.prefixes import KG
from kgraph.project import Project
from kgraph.sparql.named import named_queries

runner = CliRunner()


@pytest.fixture(scope="module")
def built_root(built_mini_root: Path) -> Path:
    return built_mini_root


@pytest.fixture
def kgraph(built_root, monkeypatch):
    monkeypatch.chdir(built_root)

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input)

    return run


def _clean_failure(result, *parts: str, code: int = 4) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for part in parts:
        assert part in result.stderr, result.stderr


# --------------------------------------------------------------------------- asking

TREATS = "SELECT ?c WHERE { kgr:ketamine kg:treats ?c }"


def test_inline_query_prints_tab_separated_rows_when_piped(kgraph):
    result = kgraph("query", TREATS)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["c", "kgr:ptsd"]
    assert "Rebuilt" not in result.stderr  # the build in output/ is fresh


def test_query_from_a_file(kgraph, tmp_path):
    path = tmp_path / "q.rq"
    path.write_text(TREATS, encoding="utf-8")
    assert kgraph("query", "-f", str(path)).stdout.splitlines() == ["c", "kgr:ptsd"]


def test_query_from_stdin(kgraph):
    assert kgraph("query", "-", input=TREATS).stdout.splitlines() == ["c", "kgr:ptsd"]


def test_named_query(kgraph):
    result = kgraph("query", "--name", "treats")
    assert result.exit_code == 0
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header == ["treatment", "condition", "source", "evidence", "modality", "quote"]
    # the negated claim of src-002 is left out; the hedged one of src-001 stays
    assert sorted((r[2], r[4]) for r in rows) == [("kgsrc:src-001", "hedged"), ("kgsrc:src-002", "asserted")]


def test_json_output_parses_back(kgraph):
    result = kgraph("query", "--name", "statistics", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["head"]["vars"][:3] == ["subject", "measure", "value"]
    (row,) = doc["results"]["bindings"]
    assert row["value"]["value"] == "8.0" and row["unit"]["value"] == "percent"
    parsed = Result.parse(io.BytesIO(result.stdout_bytes), format="json")
    assert len(parsed.bindings) == 1


def test_xml_output_is_sparql_results_xml(kgraph):
    result = kgraph("query", TREATS, "--format", "xml")
    assert b"http://www.w3.org/2005/sparql-results#" in result.stdout_bytes
    parsed = Result.parse(io.BytesIO(result.stdout_bytes), format="xml")
    assert [str(row[0]) for row in parsed] == ["https://w3id.org/kgraph/id/ptsd"]


def test_output_file_format_from_suffix(kgraph, tmp_path):
    target = tmp_path / "answers" / "treats.csv"
    target.parent.mkdir()  # (a folder that does not exist is refused: tests/test_bad_input.py)
    result = kgraph("query", "--name", "treats", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert "Wrote 2 rows" in result.stderr
    lines = target.read_bytes().split(b"\r\n")
    assert lines[0] == b"treatment,condition,source,evidence,modality,quote"
    assert not list(target.parent.glob(".*"))  # no temporary file left behind


def test_construct_prints_turtle_and_writes_ntriples(kgraph, tmp_path, built_root):
    text = "CONSTRUCT { ?s kg:treats ?o } WHERE { ?s kg:treats ?o }"
    graph = Graph().parse(built_root / "output" / "kgraph.nt")
    expected = Graph()
    for triple in graph.triples((None, KG.treats, None)):
        expected.add(triple)
    shown = kgraph("query", text)
    assert isomorphic(Graph().parse(data=shown.stdout, format="turtle"), expected)
    target = tmp_path / "treats.nt"
    assert kgraph("query", text, "--output", str(target)).exit_code == 0
    assert isomorphic(Graph().parse(target, format="nt"), expected)


def test_describe_as_jsonld(kgraph):
    result = kgraph("query", "DESCRIBE kgr:nmda-receptor", "--format", "jsonld")
    described = Graph().parse(data=result.stdout, format="json-ld")
    assert any(p == KG.abbreviation for _, p, _ in described)


@pytest.mark.parametrize("text,answer,code", [
    ("ASK { kgr:ketamine kg:treats kgr:ptsd }", "true", 0),
    ("ASK { kgr:ketamine kg:treats kgr:dissociation }", "false", 1),
])
def test_ask_and_exit_status(kgraph, text, answer, code):
    plain = kgraph("query", text)
    assert plain.exit_code == 0 and plain.stdout.strip() == answer
    assert kgraph("query", text, "--exit-status").exit_code == code


def test_empty_result_says_so_plainly(kgraph):
    result = kgraph("query", "SELECT ?x WHERE { ?x kg:treats kgr:dissociation }")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No rows: the query matched nothing." in result.stderr


def test_empty_result_explains_a_borrowed_prefix(kgraph):
    result = kgraph("query", "SELECT ?x WHERE { ?x dc:title ?t }")
    assert result.exit_code == 0
    assert "Did you mean dcterms:" in result.stderr


@pytest.mark.slow  # entails the graph (RDFS, then OWL RL) through the CLI; test_query checks both in-process
def test_reasoning_finds_subclass_instances_and_inverses(kgraph, built_root):
    text = "SELECT ?x WHERE { ?x a kg:Condition }"
    assert kgraph("query", text).stdout == ""
    assert kgraph("query", text, "--reason", "rdfs").stdout.splitlines() == ["x", "kgr:ptsd"]
    inverse = "ASK { kgr:ptsd kg:treatedBy kgr:ketamine }"
    assert kgraph("query", inverse).stdout.strip() == "false"
    assert kgraph("query", inverse, "--reason", "owl-rl").stdout.strip() == "true"
    assert not list((built_root / "output").rglob("*.pickle"))  # closures are cached as N-Triples, never pickled
    assert list((built_root / "output").rglob("entailed-owl-rl-*.nt"))


@pytest.mark.slow  # entails the graph twice through the CLI
def test_the_closure_is_cached_as_ntriples(kgraph, built_root):
    # issue 13: --reason owl-rl took a minute each first time; the closure is kept as
    # N-Triples (never a pickle) keyed by the build, and read back on the next query
    ask = "ASK { kgr:ptsd kg:treatedBy kgr:glutamate }"
    first = kgraph("query", ask, "--reason", "owl-rl")
    assert first.stdout.strip() == "false"
    [cached] = (built_root / "output").rglob("entailed-owl-rl-*.nt")
    with cached.open("a", encoding="utf-8") as fh:  # a triple only the cache file holds
        fh.write(f"<{_kgr()}ptsd> <{KG}treatedBy> <{_kgr()}glutamate> .\n")
    second = kgraph("query", ask, "--reason", "owl-rl")
    assert second.stdout.strip() == "true" and "Computing" not in second.stderr
    cached.write_text("not N-Triples <<<\n", encoding="utf-8")  # damaged: made again
    third = kgraph("query", ask, "--reason", "owl-rl")
    assert third.exit_code == 0 and third.stdout.strip() == "false" and "Computing" in third.stderr


def _kgr() -> str:
    from kgraph.prefixes import KGR

    return str(KGR)


# --------------------------------------------------------------------------- bad input

def test_syntax_error_shows_line_column_and_text(kgraph):
    result = kgraph("query", "SELECT ?x WHERE {\n  ?x kg:treats ?y ?z .\n}")
    _clean_failure(result, "SPARQL syntax error at line 2", "?x kg:treats ?y ?z .")


def test_unknown_prefix_suggests(kgraph):
    _clean_failure(kgraph("query", "SELECT ?x WHERE { ?x kgg:treats ?y }"),
                   "unknown prefix 'kgg:' at line 1, column 22", "Did you mean kg:")


def test_unknown_named_query_lists_the_names(kgraph):
    result = kgraph("query", "--name", "side-effect")
    _clean_failure(result, "no named query 'side-effect'", "Did you mean side-effects?")
    for name in named_queries():
        assert name in result.stderr


@pytest.mark.parametrize("text,message", [
    ("DELETE WHERE { ?s ?p ?o }", "SPARQL Update"),
    ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", "SERVICE is refused"),
    ("SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }", "FROM <file:///etc/passwd> is refused"),
])
def test_unsafe_queries_are_refused(kgraph, built_root, text, message):
    before = (built_root / "output" / "kgraph.nt").read_bytes()
    _clean_failure(kgraph("query", text), message)
    assert (built_root / "output" / "kgraph.nt").read_bytes() == before


def test_timeout_stops_the_query(kgraph):
    result = kgraph("query", "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", "--timeout", "0.5")
    _clean_failure(result, "stopped after 0.5 s", "--timeout")


@pytest.mark.parametrize("args,message", [
    ((), "give the query one way"),
    ((TREATS, "--name", "treats"), "got a query and --name"),
    (("-f", "missing.rq"), "query file not found: missing.rq"),
    ((TREATS, "--format", "turtle"), "Choose one of: csv, tsv, json, xml"),
    (("CONSTRUCT WHERE { ?s ?p ?o }", "--format", "csv"), "Choose one of: turtle, nt, jsonld, xml"),
    ((TREATS, "--output", "answers.txt"), "cannot tell the format"),
])
def test_bad_arguments(kgraph, args, message):
    _clean_failure(kgraph("query", *args), message)


def test_invalid_reasoning_regime_is_a_usage_error(kgraph):
    result = kgraph("query", TREATS, "--reason", "magic")
    assert result.exit_code == 2 and "Traceback" not in result.output


# --------------------------------------------------------------------------- stale or missing build

@pytest.mark.slow  # builds, then rebuilds through the CLI: seconds (test_graphstore checks the same in-process)
def test_missing_build_is_made_then_reused(mini_root, monkeypatch):
    monkeypatch.chdir(mini_root)
    first = runner.invoke(app, ["query", TREATS])
    assert first.exit_code == 0, first.output
    assert "Rebuilt the graph first" in first.stderr
    assert first.stdout.splitlines() == ["c", "kgr:ptsd"]
    assert (mini_root / "output" / "kgraph.nt").is_file()
    second = runner.invoke(app, ["query", TREATS])
    assert "Rebuilt" not in second.stderr and second.stdout == first.stdout
    forced = runner.invoke(app, ["query", TREATS, "--rebuild"])
    assert "Rebuilt the graph first" in forced.stderr


@pytest.mark.slow  # builds, then rebuilds through the CLI: seconds (test_graphstore checks the same in-process)
def test_changed_data_is_rebuilt_before_answering(mini_root, monkeypatch):
    monkeypatch.chdir(mini_root)
    label = "SELECT ?l WHERE { kgr:ptsd rdfs:label ?l }"
    assert runner.invoke(app, ["query", label]).stdout.splitlines() == ["l", "post-traumatic stress disorder"]
    entities = mini_root / "data" / "entities" / "all.yaml"
    entities.write_text(entities.read_text(encoding="utf-8").replace(
        "label: post-traumatic stress disorder", "label: posttraumatic stress disorder"), encoding="utf-8")
    result = runner.invoke(app, ["query", label])
    assert "Rebuilt the graph first" in result.stderr
    assert result.stdout.splitlines() == ["l", "posttraumatic stress disorder"]


def test_only_the_worker_opens_the_store(kgraph, monkeypatch):
    """Issue 10: the command and its worker both opened the store (20-30 ms each at x100)."""
    from kgraph import store as S

    def refuse(self):
        raise AssertionError("the command opened the store itself")

    monkeypatch.setattr(S.StoreGraphs, "store", property(refuse))
    result = kgraph("query", TREATS)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["c", "kgr:ptsd"]


def test_a_store_that_cannot_be_opened_is_rebuilt(mini_root, monkeypatch):
    from kgraph import store as S
    from kgraph.pipeline import build

    monkeypatch.chdir(mini_root)
    build(Project.at(mini_root))
    directory = S.linked_dir(mini_root / "output")
    for path in directory.iterdir():  # the database, not its kgraph-store.json
        if path.name != S.INFO_FILE:
            path.unlink() if path.is_file() else shutil.rmtree(path)
    result = runner.invoke(app, ["query", TREATS])
    assert result.exit_code == 0, result.output
    assert "its store could not be opened" in result.stderr
    assert result.stdout.splitlines() == ["c", "kgr:ptsd"]
    again = runner.invoke(app, ["query", TREATS])
    assert "Rebuilt" not in again.stderr and again.stdout == result.stdout


def test_broken_data_is_explained_not_queried(mini_root, monkeypatch):
    monkeypatch.chdir(mini_root)
    claims = mini_root / "data" / "claims" / "002.yaml"
    claims.write_text(claims.read_text(encoding="utf-8").replace("object: synaptogenesis", "object: synaptogenesys"),
                      encoding="utf-8")
    result = runner.invoke(app, ["query", TREATS])
    _clean_failure(result, "002.yaml", "synaptogenesys", code=3)
    assert not (mini_root / "output" / "kgraph.nt").exists()


def test_outside_a_project_is_explained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["query", TREATS], ["show", "ketamine"]):
        _clean_failure(runner.invoke(app, args), "data directory not found", "pass --data DIR", code=3)


# --------------------------------------------------------------------------- named queries list

def test_queries_lists_every_named_query(kgraph):
    result = kgraph("queries")
    lines = result.stdout.splitlines()
    assert lines[0] == "name\tdescription"
    listed = dict(line.split("\t", 1) for line in lines[1:])
    assert listed == {q.name: q.description for q in named_queries().values()}


def test_queries_prints_one(kgraph):
    result = kgraph("queries", "mechanism-chain")
    assert result.stdout == named_queries()["mechanism-chain"].text
    _clean_failure(kgraph("queries", "nope"), "no named query 'nope'")


# --------------------------------------------------------------------------- graph commands

def test_show(kgraph):
    result = kgraph("show", "nmda")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("NMDA receptor (nmda-receptor): receptor\n")
    assert "synonyms: NMDA" in out
    assert "ketamine → blocks (antagonist of) → NMDA receptor   [src-001]" in out
    assert "c001-001  ketamine — blocks (antagonist of) → NMDA receptor" in out
    assert "alpha.txt · clinic statement without citation" in out
    assert "“Ketamine blocks the NMDA receptor.”" in out


def test_show_json(kgraph):
    data = json.loads(kgraph("show", "Ketamine", "--json").stdout)
    assert data["id"] == "ketamine" and data["xrefs"] == ["http://purl.obolibrary.org/obo/CHEBI_6121"]
    assert {c["id"] for c in data["claims"]} >= {"c001-001", "c002-003"}


def test_show_unknown_entity_suggests(kgraph):
    _clean_failure(kgraph("show", "ketamin"), "no entity called 'ketamin'", "Did you mean: ketamine (ketamine)", code=2)


def test_neighbors(kgraph):
    result = kgraph("neighbors", "ketamine", "--predicate", "treats")
    assert result.stdout.splitlines() == [
        "1  ketamine → treats → post-traumatic stress disorder  (ptsd, MentalDisorder)"]
    deeper = kgraph("neighbors", "PTSD", "--depth", "2", "--json")
    assert {(n["id"], n["distance"]) for n in json.loads(deeper.stdout)} == {
        ("ketamine", 1), ("nmda-receptor", 2), ("glutamate-release", 2), ("dissociation", 2)}


def test_path(kgraph):
    result = kgraph("path", "PTSD", "NMDA receptor")
    assert result.stdout.splitlines() == [
        "post-traumatic stress disorder ← treats ← ketamine → blocks (antagonist of) → NMDA receptor"]
    assert kgraph("path", "PTSD", "NMDA receptor", "--directed").stdout == ""
    none = kgraph("path", "ketamine", "synaptogenesis")
    assert none.exit_code == 0 and "No path from 'ketamine' to 'synaptogenesis'" in none.stderr


def test_central(kgraph):
    result = kgraph("central", "--top", "2")
    assert result.stdout.splitlines() == ["id\tlabel\ttype\tdegree", "ketamine\tketamine\tDrug\t4",
                                          "dissociation\tdissociation\tSideEffect\t1"]
    typed = kgraph("central", "--by", "pagerank", "--type", "condition", "--json")
    assert [r["id"] for r in json.loads(typed.stdout)] == ["ptsd"]
    _clean_failure(kgraph("central", "--type", "Conditon"), "no entity type called 'Conditon'")


# --------------------------------------------------------------------------- one format registry

def _answer_names():
    from kgraph.formats import of_kind

    return [(fmt, name) for fmt in of_kind("results", "graph") for name in fmt.names]


@pytest.fixture(scope="module")
def http(built_root):
    """The server's app over the same built graph, to compare its answers with the CLI's."""
    from starlette.testclient import TestClient

    from kgraph.graphstore import load_graphs
    from kgraph.serve import create_app

    graphs = load_graphs(Project.at(built_root))
    with TestClient(create_app(graphs.graph, graphs.network), base_url="http://127.0.0.1") as client:
        yield client


@pytest.mark.parametrize("fmt,name", _answer_names(), ids=lambda v: getattr(v, "name", v))
def test_every_registry_name_gives_the_same_answer_in_the_cli_and_over_http(kgraph, http, fmt, name):
    query = TREATS if fmt.kind == "results" else "DESCRIBE kgr:nmda-receptor"
    result = kgraph("query", query, "--format", name)
    assert result.exit_code == 0, result.output
    answer = http.get("/sparql", params={"query": query, "format": name})
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == fmt.media_type
    assert result.stdout_bytes == answer.content


def test_format_choices_and_help_come_from_the_registry(kgraph):
    import typer.main

    from kgraph.formats import accepted_names, names_for

    command = typer.main.get_command(app).commands["query"]
    (option,) = [p for p in command.params if "--format" in p.opts]
    assert sorted(option.type.choices) == accepted_names("results", "graph")
    shown = " ".join(kgraph("query", "--help").stdout.split())
    assert ", ".join(names_for("results")) in shown and ", ".join(names_for("graph")) in shown


# --------------------------------------------------------------------------- start-up cost

def test_help_imports_neither_rdflib_nor_networkx():
    code = ("import sys; from kgraph.cli import app; "
            "print(sorted(m for m in ('rdflib', 'networkx', 'owlrl', 'pyshacl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=_this_source()).stdout
    assert out.strip() == "[]"


def test_query_does_not_import_networkx(built_root):
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom kgraph.cli import app\n"
            "r = CliRunner().invoke(app, ['query', '--name', 'treats'])\nassert r.exit_code == 0, r.output\n"
            "print('networkx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=built_root, env=_this_source()).stdout
    assert out.strip() == "False"


def _this_source() -> dict:
    """The environment with this checkout's src/ first (a relative PYTHONPATH breaks with cwd)."""
    import os

    return {**os.environ, "PYTHONPATH": str(REPO / "src")}
