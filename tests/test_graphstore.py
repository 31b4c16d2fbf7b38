"""Reading commands open the build's store: never stale, never a pickle, rebuilt when needed."""

from __future__ import annotations

import pickle
import shutil

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from kgraph import store as S
from kgraph.graphstore import load_graphs
from kgraph.pipeline import build


@pytest.fixture
def built(mini):
    build(mini)
    return mini


def test_first_load_opens_the_store_without_rebuilding_or_unpickling(built, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle.load called on a reading path")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    graphs = load_graphs(built)
    assert not graphs.rebuilt
    assert graphs.path == S.linked_dir(built.out_dir)
    assert isomorphic(graphs.graph, Graph().parse(built.out_dir / "kgraph.nt"))
    assert graphs.triples == len(graphs.graph)
    assert graphs.network.has_edge("ketamine", "nmda-receptor", "antagonistOf")
    assert not list(built.out_dir.rglob("*.pickle"))


def test_changed_data_rebuilds_files_and_store(built):
    before = load_graphs(built).path
    entities = built.data_dir / "entities" / "all.yaml"
    entities.write_text(entities.read_text(encoding="utf-8").replace("label: Alpha Clinic", "label: Alpha Care"),
                        encoding="utf-8")
    graphs = load_graphs(built)
    assert graphs.rebuilt and graphs.path != before
    assert "Alpha Care" in {str(o) for o in graphs.graph.objects()}
    assert "Alpha Care" in (built.out_dir / "kgraph.nt").read_text(encoding="utf-8")
    assert not load_graphs(built).rebuilt


def test_rebuilt_and_opened_graphs_list_triples_in_the_same_order(mini):
    rebuilt = load_graphs(mini)
    assert rebuilt.rebuilt
    opened = load_graphs(mini)
    assert not opened.rebuilt and list(opened.graph) == list(rebuilt.graph)


@pytest.mark.parametrize("damage", ["info", "database", "link"])
def test_a_damaged_or_missing_store_is_rebuilt(built, damage):
    directory = S.linked_dir(built.out_dir)
    if damage == "info":
        (directory / S.INFO_FILE).write_text("{not json", encoding="utf-8")
    elif damage == "database":
        for path in directory.iterdir():
            if path.name != S.INFO_FILE:
                path.unlink() if path.is_file() else shutil.rmtree(path)
    else:
        (built.out_dir / S.STORE_LINK).unlink()
    graphs = load_graphs(built)
    assert graphs.rebuilt and graphs.triples > 100
    assert not load_graphs(built).rebuilt
