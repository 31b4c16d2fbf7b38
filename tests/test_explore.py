"""Graph questions without SPARQL: finding entities, show, neighbors, paths, centrality."""

from __future__ import annotations

import networkx as nx
import pytest

from kgraph.errors import EntityNotFound, QueryError
from kgraph.explore import (
    centrality,
    claim_statement,
    describe_entity,
    entity_types,
    format_path,
    neighbors,
    resolve_predicate,
    shortest_paths,
)
from kgraph.lookup import find_entity, suggest_entities


@pytest.fixture(scope="module")
def mini_G(mini_built):
    return mini_built[1].network


@pytest.fixture(scope="module")
def corpus_G(corpus_built):
    return corpus_built[1].network


# --------------------------------------------------------------------------- lookup

@pytest.mark.parametrize("name,expected", [
    ("nmda-receptor", "nmda-receptor"),      # id
    ("NMDA receptor", "nmda-receptor"),      # label
    ("nmda receptor", "nmda-receptor"),      # any case
    ("NMDA", "nmda-receptor"),               # abbreviation
    ("Special-K", "ketamine"),               # synonym
    ("KETAMINE", "ketamine"),
    ("  post-traumatic   stress disorder ", "ptsd"),
    ("post_traumatic stress disorder", "ptsd"),
])
def test_find_entity_by_id_label_or_synonym(mini_G, name, expected):
    assert find_entity(mini_G, name) == expected


def test_id_wins_over_a_synonym():
    G = nx.MultiDiGraph()
    G.add_node("pain", label="pain", synonyms=[])
    G.add_node("chronic-pain", label="chronic pain", synonyms=["pain"])
    assert find_entity(G, "pain") == "pain"


def test_ambiguous_name_lists_the_candidates():
    G = nx.MultiDiGraph()
    G.add_node("a", label="A one", synonyms=["shared"])
    G.add_node("b", label="B two", synonyms=["Shared"])
    with pytest.raises(EntityNotFound) as info:
        find_entity(G, "shared")
    assert "A one (a)" in str(info.value) and "B two (b)" in str(info.value) and "by its id" in str(info.value)


def test_unknown_entity_gets_did_you_mean(mini_G):
    with pytest.raises(EntityNotFound) as info:
        find_entity(mini_G, "ketamin")
    message = str(info.value)
    assert "no entity called 'ketamin'" in message
    assert "Did you mean: ketamine (ketamine)" in message


def test_suggestions_are_closest_labels(corpus_G):
    assert suggest_entities(corpus_G, "glutamat receptor")[0] == "glutamate receptor (glutamate-receptor)"
    assert suggest_entities(corpus_G, "zzzzqqq") == []


# --------------------------------------------------------------------------- show

def test_describe_entity_has_everything(mini_G):
    report = describe_entity(mini_G, "Ketamine")
    assert (report.id, report.label, report.type, report.type_label) == ("ketamine", "ketamine", "Drug", "drug")
    assert report.description == "A dissociative anaesthetic."
    assert "special-K" in report.synonyms
    assert report.xrefs == ["http://purl.obolibrary.org/obo/CHEBI_6121"]
    assert report.sources == ["src-001", "src-002"]
    out = {(r.predicate, r.other) for r in report.outgoing}
    assert out == {("antagonistOf", "nmda-receptor"), ("promotes", "glutamate-release"), ("treats", "ptsd"),
                   ("hasSideEffect", "dissociation")}
    assert report.incoming == []
    treats = next(r for r in report.outgoing if r.predicate == "treats")
    assert treats.sources == ("src-001", "src-002") and set(treats.claims) == {"c001-003", "c002-001"}
    claims = {c["id"]: c for c in report.claims}
    assert "c002-003" in claims  # the negated claim is shown too
    assert claims["c002-001"]["quote"].startswith("A randomized controlled trial")


def test_relations_in(mini_G):
    report = describe_entity(mini_G, "PTSD")
    assert [(r.direction, r.predicate, r.other) for r in report.incoming] == [("in", "treats", "ketamine")]


def test_claim_statement_reads_as_a_sentence(mini_G):
    claims = mini_G.graph["claims"]
    assert claim_statement(mini_G, claims["c001-001"]) == "ketamine — blocks (antagonist of) → NMDA receptor"
    assert claim_statement(mini_G, claims["c001-005"]) == "post-traumatic stress disorder — prevalence → 8 percent"
    assert claim_statement(mini_G, claims["c002-003"]).startswith("ketamine — not treats")


# --------------------------------------------------------------------------- neighbors

def test_neighbors_at_depth_one(mini_G):
    found = neighbors(mini_G, "ketamine")
    assert {n.id for n in found} == {"nmda-receptor", "glutamate-release", "ptsd", "dissociation"}
    assert all(n.distance == 1 and n.parent == "ketamine" for n in found)


@pytest.mark.parametrize("predicate", ["treats", "TREATS", "treats "])
def test_neighbors_over_one_predicate(mini_G, predicate):
    assert [n.id for n in neighbors(mini_G, "ketamine", predicate=predicate)] == ["ptsd"]


def test_predicate_by_label(mini_G):
    assert resolve_predicate(mini_G, "blocks (antagonist of)") == "antagonistOf"


def test_unknown_predicate_suggests(mini_G):
    with pytest.raises(QueryError) as info:
        neighbors(mini_G, "ketamine", predicate="treat")
    assert "no relation called 'treat'" in str(info.value) and "Did you mean treats" in str(info.value)


@pytest.mark.parametrize("start,depth", [("ketamine", 2), ("NMDA receptor", 2), ("glutamate", 3)])
def test_neighbors_match_breadth_first_search(corpus_G, start, depth):
    node = find_entity(corpus_G, start)
    expected = nx.single_source_shortest_path_length(corpus_G.to_undirected(as_view=True), node, cutoff=depth)
    found = neighbors(corpus_G, start, depth=depth)
    assert {n.id: n.distance for n in found} == {n: d for n, d in expected.items() if n != node}
    for n in found:  # each is reached over a real relation from its parent
        assert all(corpus_G.has_edge(n.parent, n.id, r.predicate) if r.direction == "out"
                   else corpus_G.has_edge(n.id, n.parent, r.predicate) for r in n.relations)


# --------------------------------------------------------------------------- path

def test_path_follows_the_mechanism(corpus_G):
    paths = shortest_paths(corpus_G, "ketamine", "BDNF release", directed=True)
    assert paths
    length = nx.shortest_path_length(corpus_G, "ketamine", "bdnf-release")
    for steps in paths:
        assert len(steps) == length
        assert steps[0].source == "ketamine" and steps[-1].target == "bdnf-release"
        assert all(corpus_G.has_edge(s.source, s.target) for s in steps)
    text = [format_path(corpus_G, p) for p in paths]
    assert any(t.startswith("ketamine → has mechanism → NMDA receptor blockade → leads to →") for t in text)


def test_undirected_path_marks_backward_relations(corpus_G):
    paths = shortest_paths(corpus_G, "NMDA receptor", "glutamate", max_paths=10)
    assert paths and len(paths) <= 10
    assert all(len(p) == nx.shortest_path_length(corpus_G.to_undirected(as_view=True), "nmda-receptor", "glutamate")
               for p in paths)
    assert any("←" in format_path(corpus_G, p) for p in paths)


def test_max_limits_the_number_of_paths(corpus_G):
    assert len(shortest_paths(corpus_G, "ketamine", "chronic pain", max_paths=1)) == 1


def test_no_path(mini_G):
    assert shortest_paths(mini_G, "ketamine", "synaptogenesis") == []


# --------------------------------------------------------------------------- centrality

def test_degree_centrality(corpus_G):
    ranked = centrality(corpus_G, by="degree", top=5)
    assert ranked[0].id == "ketamine"
    assert [r.score for r in ranked] == sorted((float(d) for _, d in corpus_G.degree()), reverse=True)[:5]


def _known_graph() -> nx.MultiDiGraph:
    """Three leaves into a hub, a cycle hub -> d -> e -> hub, a tail e -> g -> h: each
    measure ranks it differently (PageRank puts e first, betweenness and degree the hub)."""
    G = nx.MultiDiGraph()
    for s, o in [("a", "hub"), ("b", "hub"), ("c", "hub"), ("hub", "d"), ("d", "e"), ("e", "hub"), ("f", "e"),
                 ("e", "g"), ("g", "h")]:
        for node in (s, o):
            G.add_node(node, label=node.upper(), type="Concept")
        G.add_edge(s, o, key="relatedTo", predicate="relatedTo")
    return G


def _networkx_scores(G: nx.MultiDiGraph, by: str) -> dict[str, float]:
    # networkx's public pagerank needs SciPy; _pagerank_python is its reference implementation
    from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

    if by == "pagerank":
        return _pagerank_python(nx.DiGraph(G), tol=1e-12, max_iter=1000)
    if by == "betweenness":
        return nx.betweenness_centrality(nx.Graph(G.to_undirected()))
    return {n: float(d) for n, d in G.degree()}


@pytest.mark.parametrize("by,expected", [
    ("pagerank", ["e", "hub", "d", "h", "g"]),
    ("betweenness", ["hub", "e", "g", "a", "b"]),  # ties (0.0) in id order
    ("degree", ["hub", "e", "d", "g", "a"]),
])
def test_centrality_matches_networkx_on_a_known_graph(by, expected):
    G = _known_graph()
    ranked = centrality(G, by=by, top=5)
    assert [r.id for r in ranked] == expected
    theirs = _networkx_scores(G, by)
    assert [r.score for r in ranked] == pytest.approx([theirs[n] for n in expected], abs=1e-6)
    assert [r.label for r in ranked] == [n.upper() for n in expected]


@pytest.mark.parametrize("by", ["pagerank", "betweenness"])
def test_other_measures_rank_by_score(corpus_G, by):
    ranked = centrality(corpus_G, by=by, top=8)
    assert len(ranked) == 8
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_pagerank_agrees_with_networkx(corpus_G):
    # networkx's public pagerank needs SciPy (not a kgraph dependency); its pure-Python
    # reference implementation is the same algorithm
    from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

    from kgraph.explore import pagerank

    simple = nx.DiGraph(corpus_G)
    ours, theirs = pagerank(simple), _pagerank_python(simple, tol=1e-12)
    assert ours.keys() == theirs.keys()
    assert max(abs(ours[n] - theirs[n]) for n in ours) < 1e-6


def test_central_of_a_type_includes_subtypes(corpus_built):
    graph, G = corpus_built[1].built.graph, corpus_built[1].network
    types = entity_types(graph, "condition")
    assert {"Condition", "MentalDisorder", "PainCondition", "Symptom"} <= types
    ranked = centrality(G, by="degree", types=types, top=3)
    assert ranked[0].id == "ptsd" and all(r.type in types for r in ranked)


def test_unknown_type_suggests(corpus_built):
    with pytest.raises(QueryError, match="Did you mean Condition"):
        entity_types(corpus_built[1].built.graph, "Conditon")
