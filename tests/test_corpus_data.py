"""The curated data itself: valid, grounded in the corpus, complete, and able to answer."""

from __future__ import annotations

import json
import os
from collections import defaultdict

import pytest
from conftest import CORPUS, REPO
from typer.testing import CliRunner

from kgraph.cli import app
from kgraph.load import load_dataset, load_ontology, vocabulary
from kgraph.pipeline import check
from kgraph.project import Project

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir() and not os.environ.get("CI"),
                                  reason="../shared/corpus not present (it is in CI)")


@pytest.fixture(scope="module")
def dataset():
    data, problems = load_dataset(Project.at(REPO))
    assert problems == []
    return data


@pytest.mark.slow
@needs_corpus
def test_every_quote_is_grounded_and_data_is_valid():
    result = check(Project.at(REPO), require_corpus=True)
    assert [str(p) for p in result.report.problems] == []
    assert result.report.quotes_checked == len(result.data.claims) > 500
    assert result.report.quotes_grounded == result.report.quotes_checked


@needs_corpus
def test_every_article_of_every_document_is_covered(dataset):
    """Each article (delimited by the titles in sources.yaml) has claims quoting it."""
    claims_by_source = defaultdict(list)
    for c in dataset.claims:
        claims_by_source[c.source].append(c)
    for src in dataset.sources:
        text = (CORPUS / src.file).read_text(encoding="utf-8")
        starts = sorted(text.index(t) for t in src.titles)
        bounds = list(zip(starts, starts[1:] + [len(text)]))
        per_article = [0] * len(bounds)
        for c in claims_by_source[src.id]:
            pos = text.index(c.quote)
            for i, (a, b) in enumerate(bounds):
                if a <= pos < b:
                    per_article[i] += 1
        assert all(n >= 15 for n in per_article), (src.file, per_article)


def test_predicates_and_types_used_are_in_the_ontology(dataset):
    vocab = vocabulary(load_ontology(Project.at(REPO)))
    assert {c.predicate for c in dataset.claims} <= set(vocab.properties)
    assert {e.type for e in dataset.entities} <= set(vocab.classes)


def test_known_errors_in_the_sources_are_flagged_not_corrected(dataset):
    flagged = {c.id: c for c in dataset.claims if c.flag == "factual-error"}
    quotes = " ".join(c.quote for c in flagged.values())
    assert "During Operation Iraqi Freedom in the 1990s" in quotes
    assert "chronic regional pain syndrome" in quotes
    assert all(c.note for c in flagged.values())


def test_disagreeing_sources_stay_side_by_side(dataset):
    durations = defaultdict(set)
    for c in dataset.claims:
        if c.predicate == "durationOfEffect":
            durations[c.source].add(str(c.value))
    assert len(durations) >= 3  # several sources say how long relief lasts ...
    assert len(set().union(*durations.values())) >= 3  # ... and they say different things


@pytest.fixture(scope="module")
def corpus_graph(corpus_built):
    return corpus_built


@needs_corpus
def test_the_graph_answers_what_a_reader_asks(corpus_graph, dataset):
    _, result = corpus_graph
    G = result.network
    claims = G.graph["claims"]
    treats_ptsd = [c for c in claims.values() if c["predicate"] == "treats" and c["object"] == "ptsd"
                   and c["subject"] in ("ketamine", "ketamine-infusion-therapy")]
    assert {c["source"] for c in treats_ptsd} == {s.id for s in dataset.sources}  # every page claims it
    assert G.has_edge("ketamine", "nmda-receptor", "antagonistOf")
    assert G.has_edge("feder-2021-rct", "american-journal-of-psychiatry", "publishedIn")
    assert G.has_edge("feder-2021-rct", "adriana-feder", "leadAuthor")
    # the 2021 trial backs claims of document 000 as a cited randomized controlled trial
    rct_backed = [c for c in claims.values() if c["evidence"] == "CitesRCT" and "feder-2021-rct" in c["cites"]]
    assert rct_backed and {c["source"] for c in rct_backed} == {"src-000"}
    side_effects = {o for _, o, k in G.out_edges("ketamine", keys=True) if k == "hasSideEffect"}
    assert {"dissociation", "nausea", "dizziness"} <= side_effects


def test_stats_command_plain_and_json(corpus_graph, monkeypatch):
    project, result = corpus_graph
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    out = ["--graph-dir", str(project.out_dir)]
    plain = runner.invoke(app, ["stats", "--top", "3", *out])
    assert plain.exit_code == 0, plain.output
    lines = plain.output.splitlines()
    assert f"total\tclaims\t{result.stats['claims']}" in lines
    assert sum(1 for line in lines if line.startswith("most connected\t")) == 3
    as_json = runner.invoke(app, ["stats", "--json", *out])
    data = json.loads(as_json.output)
    assert data["claims"] == result.stats["claims"]
    assert sum(data["claims_by_source"].values()) == data["claims"]
    assert data["most_connected"][0]["id"] == "ketamine"


COMMANDS = sorted((c.name or c.callback.__name__).replace("_", "-") for c in app.registered_commands)


def test_the_command_table_is_not_empty():
    assert {"build", "validate", "query", "viz"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output, f"kgraph {name} --help has no example"
    example = result.output.split("Example:", 1)[1]
    assert f"kgraph {name}" in example, f"kgraph {name} --help: the example does not run kgraph {name}"
