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
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import RDF, Graph

from kgraph import store as S
from kgraph import storequery as SQ
from kgraph.errors import OutputError, QueryError, QueryTimeout, ResourceLimit, UpdateRefused
from kgraph.prefixes import KG
from kgraph.sparql.named import named_queries

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


def test_quads_load_in_batches_all_of_them(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "BULK_BATCH", 3)  # 16 quads to load: batches of 3, 3, ..., 1
    calls = []
    real = ox.Store.bulk_extend
    monkeypatch.setattr(ox.Store, "bulk_extend", lambda self, batch: calls.append(len(batch)) or real(self, batch))
    info = S.write_store(tmp_path, S.store_quads(quads("a", 5) + quads("b", 3)))
    assert calls == [3, 3, 3, 3, 3, 1]
    assert info.counts == {"": 5, EX + "a": 5, EX + "b": 3}
    assert sorted(map(str, S.open_store(tmp_path))) == sorted(set(map(str, S.store_quads(quads("a", 5) + quads("b", 3)))))


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


# the later kills fall in the last part of a long write: seconds each, so slow
@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, pytest.param(1.5, marks=pytest.mark.slow),
                                   pytest.param(3.0, marks=pytest.mark.slow)])
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


def test_a_write_error_is_reported_and_leaves_no_temporary_store(tmp_path):
    def failing():
        yield from S.store_quads(quads("new", 10))
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match=r"No space left on device \(writing the store\)"):
        S.stage_store(tmp_path, failing())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(S.TMP_PREFIX)] == []



def test_literals_of_one_text_but_another_datatype_or_language_stay_apart():
    # each converter memoises its terms: a memo keyed on the text alone would give the
    # second "8" the first one's datatype or language
    from rdflib import XSD, Dataset, Literal, URIRef

    s, p, g = URIRef("http://example.org/s"), URIRef("http://example.org/p"), URIRef("http://example.org/g")
    values = [Literal("8"), Literal("8", datatype=XSD.integer), Literal("8", lang="en"), Literal("8", lang="fr")]
    ds = Dataset()
    for v in values:
        ds.graph(g).add((s, p, v))
    quads = list(S.quads_from_dataset(ds))
    assert sorted(str(q.object) for q in quads) == sorted(
        ['"8"', f'"8"^^<{XSD.integer}>', '"8"@en', '"8"@fr'])
    store = ox.Store()
    store.extend(quads)
    back = {o for _, _, o in S.memory_graph(store, str(g))}
    assert {(str(o), o.datatype, o.language) for o in back} == {(str(v), v.datatype, v.language) for v in values}


_EX = "http://example.org/"
_terms = st.sampled_from(["a", "ab", "a b", "b", "é", "a\"", "a\\n", "", "x\u2028y", "\u0085", "z\r"])
_objects = st.one_of(
    st.builds(lambda t: ("iri", t), st.sampled_from(["a", "ab", "b", "a/b"])),
    st.builds(lambda t, lang: ("lit", t, lang), _terms, st.sampled_from([None, "en", "en-gb"])),
)
_statements = st.lists(st.tuples(st.sampled_from([None, "g1", "g2", "g10"]), st.sampled_from(["s", "s1", "t"]),
                                 st.sampled_from(["p", "p2"]), _objects, st.integers(0, 2)), max_size=40)


def _parts(statements):
    """The dataset of ``statements`` and its parts' blocks (graph, block), as the build makes
    them: a graph, the default one too, may come in several parts."""
    from rdflib import Dataset, Graph, Literal, URIRef

    ds = Dataset()
    parts: dict[tuple, Graph] = {}
    for graph, s, p, o, part in statements:
        obj = URIRef(_EX + o[1]) if o[0] == "iri" else Literal(o[1], lang=o[2])
        triple = (URIRef(_EX + s), URIRef(_EX + p), obj)
        target = ds.default_graph if graph is None else ds.graph(URIRef(_EX + graph))
        target.add(triple)
        parts.setdefault((graph, part), Graph()).add(triple)
    blocks = []
    for (graph, _), part in sorted(parts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        name = None if graph is None else URIRef(_EX + graph)
        blocks.append((name, S.part_block(name, part)))
    return ds, blocks


@settings(max_examples=150, deadline=None)
@given(_statements)
def test_the_blocks_of_the_parts_merge_into_the_lines_of_the_whole_dataset(statements):
    # the build serialises its graph part by part and merges the blocks: the same bytes as
    # the lines of all the quads at once, whatever the graphs and parts share; in memory,
    # and (what the build does at scale) appended to one file and merged from it, a little
    # of each block at a time, into files, with the TriG order too
    from kgraph import linefiles as L

    ds, blocks = _parts(statements)
    expected = S.dataset_lines(S.quads_from_dataset(ds))
    assert S.lines_of_blocks([(name is None, block) for name, block in blocks if block]) == expected
    with L.Scratch() as scratch:
        block_file = L.BlockFile(scratch.file("blocks"))
        for name, block in blocks:
            block_file.add(b"" if name is None else f"<{name}>".encode(), block)
        lines = S.lines_of_block_file(block_file, scratch)
        block_file.close()
        got = [L.read_all(part) for part in (lines.quads, lines.default, lines.triples, lines.graph_major)]
        assert got[:3] == [expected.quads, expected.default, expected.triples]
        assert got[3] == S.graph_major_lines(expected)
        assert (lines.count, lines.triple_count) == (expected.count, expected.triple_count)


@given(st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.integers(min_value=1, max_value=40))
def test_the_store_is_loaded_in_chunks_of_whole_lines(lines, size):
    # Oxigraph's bulk loader is given at most BULK_CHUNK bytes at once (its memory grows
    # with its input): every line once, whole, in order
    text = b"".join(line + b"\n" for line in lines)
    chunks = list(S.line_chunks(text, size))
    assert b"".join(chunks) == text
    for chunk in chunks:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= size or chunk.count(b"\n") == 1


def test_a_store_loaded_in_chunks_holds_every_statement(tmp_path, monkeypatch):
    lines = b"".join(f"<{_EX}s{i}> <{_EX}p> \"{i}\" <{_EX}g{i % 3}> .\n".encode() for i in range(500))
    triples = b"".join(f"<{_EX}s{i}> <{_EX}p> \"{i}\" .\n".encode() for i in range(500))
    monkeypatch.setattr(S, "BULK_CHUNK", 1000)  # 20-odd chunks of each
    staged = S.stage_statements(tmp_path, S.DatasetLines(lines, b"", triples))
    try:
        assert staged.counts == {"": 500, **{f"{_EX}g{g}": 167 - (g == 2) for g in range(3)}}
    finally:
        staged.discard()


# --------------------------------------------------------------------------- the built graph

@pytest.fixture(scope="module", params=["mini", pytest.param("corpus", marks=pytest.mark.slow)])
def built_store(request):
    """The store a build wrote, opened read-only: the tiny project's (fast), and the real
    data's (slow: parsing and serialising 15,000 triples in each test)."""
    project, result = request.getfixturevalue(f"{request.param}_built")
    return project, result, S.open_store(project.out_dir)


def test_store_holds_the_built_graph(built_store):
    _, result, store = built_store
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


def test_same_ntriples_as_rdflib_from_the_same_triples(built_store):
    project, _, _ = built_store
    nt = project.out_dir / "kgraph.nt"
    parsed = ox.parse(path=str(nt), format=ox.RdfFormat.N_TRIPLES)
    assert S.serialize_triples(parsed, "nt") == nt.read_bytes()


@pytest.mark.parametrize("fmt", ["turtle", "xml", "jsonld", "nt"])
def test_serialisations_are_deterministic_and_equivalent(built_store, fmt):
    _, result, store = built_store
    triples = list(S.graph_triples(store))
    data = S.serialize_triples(triples, fmt)
    assert S.serialize_triples(reversed(triples), fmt) == data  # input order does not matter
    rdflib_name = {"turtle": "turtle", "xml": "xml", "jsonld": "json-ld", "nt": "nt"}[fmt]
    again = Graph().parse(data=data, format=rdflib_name)
    assert {_value_key(t) for t in again} == {_value_key(t) for t in result.built.graph}


def test_trig_is_deterministic_and_holds_every_graph(built_store):
    _, _, store = built_store
    all_quads = list(store.quads_for_pattern(None, None, None))
    data = S.serialize_quads(all_quads, "trig")
    assert S.serialize_quads(reversed(all_quads), "trig") == data
    back = list(ox.parse(data, format=ox.RdfFormat.TRIG))
    assert set(back) == set(all_quads)
    assert S.serialize_quads(all_quads, "nquads").count(b"\n") == len(set(all_quads))


# --------------------------------------------------------------------------- SPARQL over the store


SOURCE_GRAPHS = "https://w3id.org/kgraph/id/graph/src-"


def _both(project):
    graph = Graph().parse(project.out_dir / "kgraph.nt", format="nt")
    return graph, S.open_store(project.out_dir), S.read_info(project.out_dir)


@pytest.fixture(scope="module")
def both(built_store):
    """The rdflib graph parsed from kgraph.nt, and the store with its graphs (the tiny
    project's and, slow, the real data's): for answers that depend on the data."""
    return _both(built_store[0])


@pytest.fixture(scope="module")
def mini_both(mini_built):
    """The same for the tiny project alone: for refusals and limits, which do not depend on the data."""
    return _both(mini_built[0])


def answers(result):
    return (result.kind, result.variables, result.rows, result.boolean,
            None if result.graph is None else sorted(result.graph))


@pytest.mark.parametrize("name", sorted(named_queries()))
def test_named_questions_same_answers_as_rdflib(both, built_store, name, request):
    from kgraph.sparql.execute import evaluate
    from kgraph.sparql.prepare import prepare_query

    if name == "people" and not any(built_store[1].built.graph.subjects(RDF.type, KG.Person)):
        # rdflib 7 answers a GROUP BY over no solutions with one row of unbound keys when
        # a COALESCE wraps an aggregate (Oxigraph, rightly, with none): kgraph's rdflib
        # path (serve) shows that row for a graph without people
        request.applymarker(pytest.mark.xfail(strict=True, reason="rdflib: a row for an empty GROUP BY"))
    graph, _, info = both
    text = named_queries()[name].text
    expected = evaluate(graph, prepare_query(text))
    got = SQ.run(info.path, SQ.prepare(text, [g for g in info.counts if g]), timeout=120)
    assert answers(got) == answers(expected)


@pytest.mark.slow
def test_tables_shown_without_rdflib_are_rdflib_tables(both):
    """``kgraph query``'s table, made from Oxigraph's terms (SQ.show), is the table of rdflib's
    answer: the same cells in the same order, for every named question."""
    from kgraph.formats import from_name
    from kgraph.sparql.execute import evaluate
    from kgraph.sparql.prepare import prepare_query
    from kgraph.sparql.results import display_rows, serialize_result

    graph, store, info = both
    graphs = [g for g in info.counts if g]
    shown = 0
    # (on a graph without people rdflib answers 'people' with a row of unbound keys: see above)
    has_people = any(graph.subjects(RDF.type, KG.Person))
    texts = [q.text for n, q in named_queries().items() if n != "people" or has_people] + ["ASK { kgr:ketamine kg:treats ?c }",
                                                          "SELECT * WHERE { ?c kg:quote ?q ; kg:belief ?b }",
                                                          "SELECT ?s ?y WHERE { ?s kg:year ?y }",
                                                          "SELECT ?s ?c WHERE { ?s rdfs:comment ?c }"]
    for text in texts:
        checked = SQ.prepare(text, graphs)
        got = SQ.show(store, checked)
        expected = evaluate(graph, prepare_query(text))
        if isinstance(got, SQ.Shown):
            shown += 1
            assert (got.kind, got.boolean) == (expected.kind, expected.boolean), text
            assert (got.variables, got.cells) == display_rows(expected), text
            for fmt in SQ.SHOWN_FORMATS:  # and the bytes kgraph query --format csv|tsv writes
                assert SQ.show(store, checked, fmt).data == serialize_result(expected, from_name(fmt)), (text, fmt)
        else:
            assert answers(got) == answers(expected), text
    assert shown >= len(texts) * 3 // 4  # the fast path is the usual one


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8")), st.sampled_from([None, "en"]))
def test_literals_are_quoted_as_rdflib_quotes_them(text, lang):
    from rdflib import Literal

    expected = Literal(text, lang=lang).n3()
    assert SQ.rdflib_quoted(text) + (f"@{lang}" if lang else "") == expected


def _pattern_pool(graph):
    from rdflib import RDF

    predicates = sorted({p for _, p, _ in graph if p != RDF.type})
    classes = sorted({o for _, _, o in graph.triples((None, RDF.type, None))})
    return predicates, classes


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(data=st.data())
def test_random_basic_graph_patterns_same_answers(both, data):
    """Chains and stars of 1-3 triple patterns over the graph's own predicates and classes."""
    from kgraph.sparql.execute import evaluate
    from kgraph.sparql.prepare import prepare_query

    graph, store, info = both
    predicates, classes = _pattern_pool(graph)
    n = data.draw(st.integers(1, 3))
    patterns, variables = [], ["?v0"]
    if data.draw(st.booleans()):
        patterns.append(f"?v0 a {data.draw(st.sampled_from(classes)).n3()}")
    for i in range(1, n + 1):
        subject = data.draw(st.sampled_from(variables))
        predicate = data.draw(st.sampled_from(predicates)).n3()
        obj = f"?v{i}"
        if data.draw(st.booleans()):
            patterns.append(f"{subject} {predicate} {obj}")
        else:
            patterns.append(f"{obj} {predicate} {subject}")
        variables.append(obj)
    distinct = "DISTINCT " if data.draw(st.booleans()) else ""
    text = f"SELECT {distinct}{' '.join(variables)} WHERE {{ {' . '.join(patterns)} }}"
    expected = evaluate(graph, prepare_query(text))
    got = SQ.evaluate(store, SQ.prepare(text, [g for g in info.counts if g]))
    assert answers(got) == answers(expected), text


def test_graph_and_dataset_per_source(both):
    _, store, info = both
    graphs = [g for g in info.counts if g]
    source = min(g for g in graphs if g.startswith(SOURCE_GRAPHS))  # the first source's graph
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"

    def n(query):
        return int(SQ.evaluate(store, query).rows[0][0])

    assert n(SQ.prepare(count, graphs)) == info.counts[""]
    assert n(SQ.prepare(count, graphs, default_graph_uri=[source])) == info.counts[source]
    assert n(SQ.prepare(count.replace("WHERE", f"FROM <{source}> WHERE"), graphs)) == info.counts[source]
    per_graph = SQ.evaluate(store, SQ.prepare(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", graphs))
    assert {str(g): int(c) for g, c in per_graph.rows} == {g: c for g, c in info.counts.items() if g}
    only = SQ.evaluate(store, SQ.prepare("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", graphs,
                                         named_graph_uri=[source]))
    assert [str(r[0]) for r in only.rows] == [source]


@pytest.mark.parametrize(("text", "error", "says"), [
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", QueryError, "SERVICE is refused"),
    ("select * where { service silent <http://x.example/> { ?s ?p ?o } }", QueryError, "SERVICE is refused"),
    ("SELECT * FROM <http://remote.example/data.ttl> WHERE { ?s ?p ?o }", QueryError, "not a graph of the store"),
    ("SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }", QueryError, "not a graph"),
    ("LOAD <http://remote.example/data.ttl>", UpdateRefused, "Update"),
    ("INSERT DATA { kgr:a kg:treats kgr:b }", UpdateRefused, "Update"),
    ("PREFIX x: <http://x/> DELETE WHERE { ?s ?p ?o }", UpdateRefused, "Update"),
    ("SELECT ?s WHERE { ?s kgx:treats ?o }", QueryError, "unknown prefix 'kgx:'"),
    ("SELECT ?s WHERE {\n  ?s kg:treats ?o\n", QueryError, "line 3"),
    ("", QueryError, "empty"),
])
def test_refused_and_wrong_queries(mini_both, text, error, says):
    _, _, info = mini_both
    with pytest.raises(error) as raised:
        SQ.prepare(text, [g for g in info.counts if g])
    assert says in str(raised.value)


def test_keywords_inside_strings_and_iris_do_not_count(mini_both):
    _, store, info = mini_both
    text = ('SELECT ?q WHERE { ?c kg:quote ?q FILTER(CONTAINS(?q, "SERVICE") || ?q = "FROM <x>" '
            '|| ?c = <https://example.org/SERVICE>) } # SERVICE in a comment')
    assert SQ.evaluate(store, SQ.prepare(text, [g for g in info.counts if g])).kind == "SELECT"


def test_unknown_dataset_graph_is_refused(mini_both):
    _, _, info = mini_both
    with pytest.raises(QueryError, match="no graph <https://example.org/nope>"):
        SQ.prepare("ASK { ?s ?p ?o }", [g for g in info.counts if g], default_graph_uri=["https://example.org/nope"])


def test_timeout_stops_the_engine(mini_both):
    _, _, info = mini_both
    endless = SQ.prepare("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
                         [g for g in info.counts if g])
    began = time.monotonic()
    with pytest.raises(QueryTimeout):
        SQ.run(info.path, endless, timeout=1.0)
    assert time.monotonic() - began < 60
    import multiprocessing

    assert multiprocessing.active_children() == []  # the worker was killed, not left running


@pytest.mark.slow  # the worker doubles its strings until the cap stops it: tens of seconds
def test_a_memory_bomb_ends_in_a_message_not_a_swollen_worker(mini_both):
    """Store workers carry the server's fences (issue 16): the address space is capped, so
    27 doublings of a string (1 GiB, and its copies) end the worker: without the cap it answers."""
    _, _, info = mini_both
    binds = ['BIND("abcdefgh" AS ?v0)'] + [f"BIND(CONCAT(?v{i}, ?v{i}) AS ?v{i + 1})" for i in range(27)]
    bomb = SQ.prepare("SELECT (STRLEN(?v27) AS ?n) WHERE { " + " ".join(binds) + " }",
                      [g for g in info.counts if g])
    with pytest.raises(ResourceLimit, match="memory limit"):
        SQ.run(info.path, bomb, timeout=120)


def test_pool_answers_and_survives_a_timeout(mini_both):
    """The server's pool (kgraph.sparql.execute.QueryPool) with the store's engine."""

    from live_server import run_async

    from kgraph.sparql.execute import PoolLimits, QueryPool

    graph, _, info = mini_both
    graphs = [g for g in info.counts if g]
    pool = QueryPool(SQ.StoreEngine(info.path, graphs), PoolLimits(size=2, reserve=0, max_wait=30))

    def ask(text: str, timeout: float = 60):
        return run_async(pool.run("result", text, None, timeout=timeout))

    try:
        assert ask("ASK { kgr:ketamine kg:treats ?c }").boolean is True
        before = {w.process.pid for w in pool._workers}
        with pytest.raises(QueryTimeout):
            ask("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", timeout=1.0)
        after = {w.process.pid for w in pool._workers}
        assert len(after) == 2 and after != before  # the stuck worker was killed and replaced
        assert int(ask("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0][0]) == len(graph)
    finally:
        pool.close()


def test_exported_files_hold_what_rdflib_writes(built_store):
    """Every RDF file of the build, written from the store, holds the triples (TriG: the
    quads) of the file rdflib wrote; N-Triples byte for byte; twice the same bytes."""
    from rdflib import Dataset

    project, result, store = built_store
    files = S.export_files(store)
    assert S.export_files(store) == files
    # what the build does: the same files from the quads it loaded the store with
    assert S.export_dataset(S.quads_from_dataset(result.built.dataset)) == files
    out = project.out_dir
    assert files["kgraph.nt"] == (out / "kgraph.nt").read_bytes()
    for name, fmt in (("kgraph.ttl", "turtle"), ("kgraph.rdf", "xml"), ("kgraph.jsonld", "json-ld")):
        assert set(Graph().parse(data=files[name], format=fmt)) == set(Graph().parse(out / name, format=fmt)), name

    def quads_of(**source):
        ds = Dataset()
        ds.parse(format="trig", **source)
        return {(s, p, o, str(getattr(c, "identifier", c))) for s, p, o, c in ds.quads((None, None, None, None))}

    assert quads_of(data=files["kgraph.trig"]) == quads_of(source=str(out / "kgraph.trig"))


# --------------------------------------------------------------------------- the build writes the store

def _dump(out: Path) -> bytes:
    store = S.open_store(out)
    return S.serialize_quads(store.quads_for_pattern(None, None, None), "nquads")


def _kgraph(root: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    # build writes the folder (--out); reading commands name it with --graph-dir
    where = "--out" if args[0] == "build" else "--graph-dir"
    return subprocess.Popen([sys.executable, "-m", "kgraph", *args, "--data", str(root / "data"),
                             where, str(root / "output")], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)


def _build(root: Path) -> None:
    process = _kgraph(root, "build", "--quiet", "--corpus", str(root / "corpus"))
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """The mini project built as it is (old) and with a changed label (new), as store dumps."""
    import shutil

    from conftest import FIXTURE

    dumps = []
    for version in ("old", "new"):
        root = tmp_path_factory.mktemp(version) / "mini"
        shutil.copytree(FIXTURE, root)
        shutil.copytree(REPO / "ontology", root / "ontology")
        if version == "new":
            _change_label(root)
        _build(root)
        dumps.append(_dump(root / "output"))
    assert dumps[0] != dumps[1]
    return dumps


def _change_label(root: Path) -> None:
    entities = root / "data" / "entities" / "all.yaml"
    entities.write_text(entities.read_text(encoding="utf-8").replace("label: ketamine", "label: ketamine (new)", 1),
                        encoding="utf-8")


def test_build_writes_the_store_and_readers_use_it(mini_built):
    project, result = mini_built
    info = S.read_info(project.out_dir)
    assert info is not None and info.triples == len(result.built.graph)
    assert S.is_current(project)
    from kgraph.graphstore import load_graphs

    graphs = load_graphs(project)
    assert not graphs.rebuilt and graphs.path == info.path
    assert set(graphs.graph) == set(result.built.graph)


@pytest.mark.slow  # two builds and a rebuilding query, each its own interpreter, per moment
@pytest.mark.parametrize("delay", [0.5, 2.0, 4.0, 7.0])
def test_build_killed_leaves_the_old_store_or_the_new(tmp_path, two_versions, delay):
    import shutil

    from conftest import FIXTURE

    old, new = two_versions
    root = tmp_path / "mini"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(REPO / "ontology", root / "ontology")
    _build(root)
    assert _dump(root / "output") == old
    _change_label(root)
    process = _kgraph(root, "build", "--quiet", "--corpus", str(root / "corpus"))
    time.sleep(delay)
    process.kill()  # SIGKILL: no clean-up of any kind
    process.wait(timeout=60)
    assert _dump(root / "output") in (old, new)
    # the next reader sees the new data: the old store is stale for the changed inputs
    reader = _kgraph(root, "query", "ASK { kgr:ketamine rdfs:label \"ketamine (new)\" }", "--exit-status")
    _, err = reader.communicate(timeout=600)
    assert reader.returncode == 0, err
    assert _dump(root / "output") == new
    assert not [p for p in (root / "output").iterdir() if p.name.startswith(S.TMP_PREFIX)]
