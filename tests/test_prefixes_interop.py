"""One prefix table: what kgraph prints parses back; named questions and README examples run elsewhere.

The named questions and the README's SPARQL examples are run through pyoxigraph directly,
with no predeclared prefix, and must give the same rows as through kgraph.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgraph.prefixes import QUERY_PREFIXES, contract, sparql_prologue
from kgraph.sparql.execute import run_query
from kgraph.sparql.named import named_queries
from kgraph.sparql.prepare import prepare_query

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
NUMERIC = ("integer", "decimal", "double", "float", "long", "int")


@pytest.fixture(scope="module")
def corpus(corpus_built):
    import pyoxigraph

    project, result = corpus_built
    store = pyoxigraph.Store()
    store.load((project.out_dir / "kgraph.nt").read_bytes(), format=pyoxigraph.RdfFormat.N_TRIPLES)
    return project, result.built.graph, store


def _norm_rdflib(term):
    from rdflib import BNode, Literal

    if term is None:
        return None
    if isinstance(term, BNode):
        return ("bnode",)
    if isinstance(term, Literal):
        return _literal(str(term), str(term.datatype) if term.datatype else None, term.language)
    return ("iri", str(term))


def _norm_oxigraph(term):
    import pyoxigraph

    if term is None:
        return None
    if isinstance(term, pyoxigraph.BlankNode):
        return ("bnode",)
    if isinstance(term, pyoxigraph.Literal):
        datatype = term.datatype.value
        if term.language or datatype.endswith("#string") or datatype.endswith("#langString"):
            datatype = None
        return _literal(term.value, datatype, term.language)
    return ("iri", term.value)


def _literal(value: str, datatype: str | None, language: str | None):
    # numbers compared by value: engines differ in the lexical form of an AVG or a sum
    if datatype and datatype.rsplit("#", 1)[-1] in NUMERIC:
        return ("number", round(Decimal(value), 6))
    return ("literal", value, language)


def _kgraph_rows(graph, text: str) -> Counter:
    result = run_query(graph, prepare_query(text))
    if result.kind == "ASK":
        return Counter([result.boolean])
    return Counter(tuple(_norm_rdflib(t) for t in row) for row in result.rows)


def _oxigraph_rows(store, text: str) -> Counter:
    import pyoxigraph

    answer = store.query(text)  # no prefixes predeclared: the text must declare its own
    if isinstance(answer, pyoxigraph.QueryBoolean):
        return Counter([bool(answer)])
    names = [v.value for v in answer.variables]
    return Counter(tuple(_norm_oxigraph(solution[name]) for name in names) for solution in answer)


def test_printed_prefixes_work_in_queries(corpus):
    _, graph, _ = corpus
    claim = next(iter(run_query(graph, prepare_query("SELECT ?c WHERE { ?c a kg:Claim } LIMIT 1")).rows))[0]
    printed = contract(str(claim))
    assert printed.startswith("kgclaim:")
    rows = run_query(graph, prepare_query(f"SELECT ?q WHERE {{ {printed} kg:quote ?q }}")).rows
    assert len(rows) == 1
    source = run_query(graph, prepare_query(f"SELECT ?s WHERE {{ {printed} prov:wasDerivedFrom ?s }}")).rows[0][0]
    assert contract(str(source)).startswith("kgsrc:")
    assert run_query(graph, prepare_query(f"ASK {{ {printed} prov:wasDerivedFrom {contract(str(source))} }}")).boolean


def test_every_prefix_kgraph_prints_is_predeclared():
    assert {"kgclaim", "kgsrc", "kg", "kgr"} <= set(QUERY_PREFIXES)


@pytest.mark.parametrize("name", sorted(named_queries()))
def test_named_question_runs_unchanged_in_oxigraph(corpus, name):
    _, graph, store = corpus
    text = named_queries()[name].text
    assert sparql_prologue(text) == "", f"{name}.rq uses a prefix it does not declare"
    expected = _kgraph_rows(graph, text)
    assert _oxigraph_rows(store, text) == expected


def _readme_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_sparql_examples_run_in_oxigraph(corpus):
    _, graph, store = corpus
    blocks = _readme_blocks("sparql")
    assert len(blocks) >= 3
    for text in blocks:
        assert sparql_prologue(text) == "", f"README example uses an undeclared prefix:\n{text}"
        expected = _kgraph_rows(graph, text)
        assert sum(expected.values()) > 0, text
        assert _oxigraph_rows(store, text) == expected, text


def _readme_query_commands() -> list[list[str]]:
    commands = []
    for block in _readme_blocks("sh"):
        pending = ""
        for line in block.splitlines():
            if not pending and not line.startswith("kgraph query"):
                continue
            pending += line + "\n"
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # a quoted query going on over the next lines
                continue
            commands.append(words[1:])
            pending = ""
        assert not pending, f"unterminated command in README.md: {pending}"
    return commands


def test_readme_has_query_examples():
    commands = _readme_query_commands()
    assert len(commands) >= 3 and any("kgclaim:" in " ".join(c) for c in commands)


# --reason entails the whole corpus graph first: seconds, so slow
@pytest.mark.parametrize("args", [pytest.param(a, marks=pytest.mark.slow) if "--reason" in a else a
                                  for a in _readme_query_commands()], ids=lambda a: " ".join(a)[:60])
def test_readme_query_example_runs(corpus, monkeypatch, args):
    from kgraph.cli import app

    project, _, _ = corpus
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, [*args, "--graph-dir", str(project.out_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.strip()
