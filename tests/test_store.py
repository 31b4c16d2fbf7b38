"""The on-disk Oxigraph store (kgraph.store): written whole or not at all, opened read-only,
the same triples as the built graph, and deterministic serialisations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from conftest import REPO
from kgraph import store as S
from kgraph.errors import OutputError

EX = "https://example.org/"


def quads(graph: str, n: int, tag: str = "") -> list[ox.Quad]:
    g = ox.NamedNode(EX + graph)
    return [ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p"), ox.Literal(f"{tag}{i}"), g) for i in range(n)]


def counts_of(out: Path) -> dict[str, int]:
    return S.count_triples(S.open_store(out))


def test_write_and_open(tmp_path):
    info = S.write_store(tmp_path, S.store_quads(quads("a", 5) + quads("b", 3)), inputs_sha256="abc")
    assert (tmp_path / "store").is_symlink() and S.linked_dir(tmp_path) == info.path
    assert info.counts == {"": 8 - 3, EX + "a": 5, EX + "b": 3}  # the union is a set: s0..s2 "0".."2" shared
    assert S.read_info(tmp_path) == info
    store = S.open_store(tmp_path)
    assert S.named_graphs(store) == [EX + "a", EX + "b"]
    with pytest.raises(RuntimeError, match="read-write"):
        store.add(ox.Quad(ox.NamedNode(EX + "x"), ox.NamedNode(EX + "p"), ox.Literal("read-only")))


def test_default_graph_triples_go_to_the_catalog(tmp_path):
    described = ox.Quad(ox.NamedNode(EX + "g"), ox.NamedNode(EX + "from"), ox.NamedNode(EX + "doc"), ox.DefaultGraph())
    info = S.write_store(tmp_path, S.store_quads([described, *quads("g", 2)]))
    assert info.counts == {"": 3, S.CATALOG_GRAPH: 1, EX + "g": 2}


def test_a_new_store_replaces_the_old_and_leftovers_are_removed(tmp_path):
    first = S.write_store(tmp_path, S.store_quads(quads("a", 4)))
    second = S.write_store(tmp_path, S.store_quads(quads("b", 2)))
    assert counts_of(tmp_path) == {"": 2, EX + "b": 2}
    assert first.path.is_dir()  # kept one build longer, for a server that has it open
    stale = tmp_path / f"{S.TMP_PREFIX}999999999-dead"  # an unfinished store of a build that died
    stale.mkdir()
    third = S.write_store(tmp_path, S.store_quads(quads("c", 1)))
    assert not stale.exists() and not first.path.exists()
    assert second.path.is_dir() and S.linked_dir(tmp_path) == third.path


def test_missing_or_foreign_store(tmp_path):
    with pytest.raises(S.StoreError, match="kgraph build"):
        S.open_store(tmp_path)
    (tmp_path / "store").mkdir()  # not kgraph's link: never deleted or replaced
    with pytest.raises(OutputError, match="not kgraph's store link"):
        S.write_store(tmp_path, S.store_quads(quads("a", 1)))
    assert (tmp_path / "store").is_dir() and not (tmp_path / "store").is_symlink()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(S.STORE_PREFIX)]


WRITER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import pyoxigraph as ox
from kgraph import store as S
n, tag = int(sys.argv[3]), sys.argv[4]
g = ox.NamedNode("https://example.org/" + tag)
def quads():
    for i in range(n):
        yield ox.Quad(ox.NamedNode(f"https://example.org/s{i}"), ox.NamedNode("https://example.org/p"),
                      ox.Literal(f"{tag} {i} " + "x" * 200), g)
print("writing", flush=True)
S.write_store(sys.argv[2], S.store_quads(quads()))
print("done", flush=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, 1.5, 3.0])
def test_killed_while_writing_leaves_old_or_new(tmp_path, delay):
    """kill -9 at some moment of writing a store: the store is the old one or the new one,
    complete, never a mix; the next write cleans up what the killed one left."""
    old_n, new_n = 1_000, 120_000
    S.write_store(tmp_path, S.store_quads(quads("old", old_n, "old ")))
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(REPO / "src"), str(tmp_path), str(new_n), "new"],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    counts = counts_of(tmp_path)
    assert counts in ({"": old_n, EX + "old": old_n}, {"": new_n, EX + "new": new_n})
    assert S.read_info(tmp_path).counts == counts
    S.write_store(tmp_path, S.store_quads(quads("again", 3)))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(S.TMP_PREFIX)]
    assert leftovers == []


# --------------------------------------------------------------------------- the built graph

@pytest.fixture(scope="module")
def corpus_store(corpus_built):
    project, result = corpus_built
    S.write_store(project.out_dir, S.store_quads(S.quads_from_dataset(result.built.dataset)), inputs_sha256="t")
    return project, result, S.open_store(project.out_dir)


def test_store_holds_the_built_graph(corpus_store):
    project, result, store = corpus_store
    union = {tuple(S.term_from_ox(t) for t in (q.subject, q.predicate, q.object))
             for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    assert len(union) == len(result.built.graph)
    # the store keeps xsd:decimal values canonical ("8" for "8.0"): compare those as numbers
    assert {_value_key(t) for t in union} == {_value_key(t) for t in result.built.graph}
    for graph in result.built.dataset.graphs():
        name = str(graph.identifier)
        if name.startswith("https://w3id.org/kgraph/id/graph/"):
            assert sum(1 for _ in S.graph_triples(store, name)) == len(graph), name


def _value_key(triple):
    from decimal import Decimal

    from rdflib import XSD, Literal

    s, p, o = triple
    if isinstance(o, Literal) and o.datatype == XSD.decimal:
        o = ("decimal", Decimal(str(o)).normalize())
    return (s, p, o)


def test_same_ntriples_as_rdflib_from_the_same_triples(corpus_store):
    project, result, _ = corpus_store
    nt = project.out_dir / "kgraph.nt"
    parsed = ox.parse(path=str(nt), format=ox.RdfFormat.N_TRIPLES)
    assert S.serialize_triples(parsed, "nt") == nt.read_bytes()


@pytest.mark.parametrize("fmt", ["turtle", "xml", "jsonld", "nt"])
def test_serialisations_are_deterministic_and_equivalent(corpus_store, fmt):
    project, result, store = corpus_store
    triples = list(S.graph_triples(store))
    data = S.serialize_triples(triples, fmt)
    assert S.serialize_triples(reversed(triples), fmt) == data  # input order does not matter
    rdflib_name = {"turtle": "turtle", "xml": "xml", "jsonld": "json-ld", "nt": "nt"}[fmt]
    again = Graph().parse(data=data, format=rdflib_name)
    assert {_value_key(t) for t in again} == {_value_key(t) for t in result.built.graph}


def test_trig_is_deterministic_and_holds_every_graph(corpus_store):
    _, result, store = corpus_store
    all_quads = list(store.quads_for_pattern(None, None, None))
    data = S.serialize_quads(all_quads, "trig")
    assert S.serialize_quads(reversed(all_quads), "trig") == data
    back = list(ox.parse(data, format=ox.RdfFormat.TRIG))
    assert set(back) == set(all_quads)
    assert S.serialize_quads(all_quads, "nquads").count(b"\n") == len(set(all_quads))
