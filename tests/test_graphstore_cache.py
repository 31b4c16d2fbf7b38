"""The graph store's cache: pickles keyed by the build, never stale, never required."""

from __future__ import annotations

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

import kgraph.graphstore as graphstore
from kgraph.graphstore import CACHE_DIR, load_graphs
from kgraph.pipeline import build


@pytest.fixture
def built(mini):
    build(mini)
    return mini


def _pickles(project, kind):
    return sorted((project.out_dir / CACHE_DIR).glob(f"{kind}-*.pickle"))


def test_first_load_parses_and_caches_later_loads_read_the_cache(built, monkeypatch):
    first = load_graphs(built)
    assert not first.rebuilt
    assert isomorphic(first.graph, Graph().parse(built.out_dir / "kgraph.nt"))
    assert len(_pickles(built, "graph")) == 1

    def no_parsing(path):
        raise AssertionError("parsed again although the cache is fresh")

    monkeypatch.setattr(graphstore, "_parse_graph", no_parsing)
    second = load_graphs(built)
    assert list(second.graph) == list(first.graph)  # same triples, same order


def test_network_is_made_on_first_use_and_cached(built):
    graphs = load_graphs(built)
    assert not _pickles(built, "network")
    assert graphs.network.has_edge("ketamine", "nmda-receptor", "antagonistOf")
    assert len(_pickles(built, "network")) == 1
    assert sorted(load_graphs(built).network.edges(keys=True)) == sorted(graphs.network.edges(keys=True))


def test_a_corrupt_cache_is_ignored(built):
    load_graphs(built)
    (pickle_file,) = _pickles(built, "graph")
    pickle_file.write_bytes(b"not a pickle")
    graphs = load_graphs(built)
    assert isomorphic(graphs.graph, Graph().parse(built.out_dir / "kgraph.nt"))


def test_changed_data_gets_a_new_graph_and_cache(built):
    load_graphs(built)
    (old,) = _pickles(built, "graph")
    entities = built.data_dir / "entities" / "all.yaml"
    entities.write_text(entities.read_text(encoding="utf-8").replace("label: Alpha Clinic", "label: Alpha Care"),
                        encoding="utf-8")
    graphs = load_graphs(built)
    assert graphs.rebuilt
    assert "Alpha Care" in {str(o) for o in graphs.graph.objects()}
    (new,) = _pickles(built, "graph")
    assert new != old
    assert not load_graphs(built).rebuilt


def test_rebuilt_and_cached_graphs_list_triples_in_the_same_order(mini):
    rebuilt = load_graphs(mini)
    assert rebuilt.rebuilt
    cached = load_graphs(mini)
    assert not cached.rebuilt and list(cached.graph) == list(rebuilt.graph)


def test_a_damaged_graph_file_is_rebuilt_not_parsed(mini_root):
    from kgraph.buildinfo import is_fresh
    from kgraph.graphstore import load_graphs
    from kgraph.project import Project

    project = Project.at(mini_root, corpus_dir=mini_root / "corpus")
    load_graphs(project)
    assert is_fresh(project)
    nt = project.out_dir / "kgraph.nt"
    nt.write_text(nt.read_text(encoding="utf-8") + "garbage <\n", encoding="utf-8")
    assert not is_fresh(project)
    graphs = load_graphs(project)
    assert graphs.rebuilt and len(graphs.graph) > 100
    assert "garbage" not in nt.read_text(encoding="utf-8")
