"""Belief per relation (issue 12): properties of the score, the priors table, the levels."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgraph.assess import LEVELS, assess, assess_claims, load_priors
from kgraph.errors import DataError
from kgraph.model import Claim, Dataset, Location, Source

PRIORS = load_priors()
KINDS = sorted(PRIORS.evidence)
#: source -> publisher: src-a and src-b are two pages of one publisher
PUBLISHERS = {"src-a": "clinic-1", "src-b": "clinic-1", "src-c": "clinic-2", "src-d": "lab-3"}


def make_claim(n: int, source: str = "src-a", evidence: str = "clinic-statement", modality: str = "asserted",
               flag: str | None = None, subject: str = "ketamine", predicate: str = "treats",
               obj: str | None = "ptsd", value=None, **extra) -> Claim:
    return Claim(id=f"c-{n:03d}", source=source, subject=subject, predicate=predicate, quote=f"quote {n}",
                 evidence=evidence, loc=Location("test.yaml", n), object=obj, value=value, modality=modality,
                 flag=flag, note="wrong" if flag else None, **extra)


claim_specs = st.tuples(st.sampled_from(sorted(PUBLISHERS)), st.sampled_from(KINDS),
                        st.sampled_from(["asserted", "hedged"]))


def claims_from(specs, start: int = 0) -> list[Claim]:
    return [make_claim(start + i, source=s, evidence=k, modality=m) for i, (s, k, m) in enumerate(specs)]


def belief(claims: list[Claim]) -> float:
    return assess_claims(claims, PUBLISHERS, PRIORS).belief


@settings(max_examples=150, deadline=None)
@given(st.lists(claim_specs, max_size=7), st.sampled_from(sorted(PUBLISHERS)), st.sampled_from(["asserted", "hedged"]),
       st.lists(st.tuples(st.sampled_from(sorted(PUBLISHERS)), st.sampled_from(KINDS)), max_size=3))
def test_a_claim_citing_an_rct_never_lowers_a_belief(specs, source, modality, against):
    base = claims_from(specs) + [make_claim(50 + i, source=s, evidence=k, modality="negated")
                                 for i, (s, k) in enumerate(against)]
    if not base:
        return
    rct = make_claim(99, source=source, evidence="cites-rct", modality=modality)
    assert belief(base + [rct]) >= belief(base)


@settings(max_examples=150, deadline=None)
@given(st.lists(claim_specs, min_size=1, max_size=6), st.sampled_from(KINDS), st.sampled_from(["asserted", "hedged"]))
def test_a_repeat_from_the_same_publisher_adds_less_than_a_new_publisher(specs, kind, modality):
    base = claims_from(specs)
    known = base[0].source
    repeat = make_claim(99, source=known, evidence=kind, modality=modality)
    fresh = make_claim(99, source="src-new", evidence=kind, modality=modality)
    with_repeat, with_fresh = belief(base + [repeat]), belief(base + [fresh])
    assert with_repeat <= with_fresh
    if with_fresh < 0.999:  # below that, floating point cannot tell the two apart
        assert with_repeat < with_fresh


@settings(max_examples=150, deadline=None)
@given(st.lists(claim_specs, min_size=1, max_size=6), st.sampled_from(sorted(PUBLISHERS)), st.sampled_from(KINDS),
       st.sampled_from(["negated", "flagged", "flagged-hedged"]))
def test_a_denial_or_a_flagged_error_never_raises_a_belief(specs, source, kind, what):
    base = claims_from(specs)
    if what == "negated":
        added = make_claim(99, source=source, evidence=kind, modality="negated")
    else:
        added = make_claim(99, source=source, evidence=kind, flag="factual-error",
                           modality="hedged" if what == "flagged-hedged" else "asserted")
    assert belief(base + [added]) <= belief(base)
    assert belief(base + [added]) < belief(base) or belief(base) == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(claim_specs, min_size=1, max_size=8))
def test_belief_stays_between_zero_and_one(specs):
    a = assess_claims(claims_from(specs), PUBLISHERS, PRIORS)
    assert 0 <= a.belief <= 1 and a.level in LEVELS


def test_pages_of_one_publisher_are_not_independent():
    one = make_claim(1, source="src-a")
    same_publisher = make_claim(2, source="src-b")
    other_publisher = make_claim(2, source="src-c")
    assert belief([one, same_publisher]) < belief([one, other_publisher])


def test_a_hedged_claim_counts_less():
    assert belief([make_claim(1, modality="hedged")]) < belief([make_claim(1)])


def test_a_flagged_claim_counts_against_not_for():
    a = assess_claims([make_claim(1, flag="factual-error")], PUBLISHERS, PRIORS)
    assert a.belief == 0 and a.supporting == [] and a.opposing == ["c-001"]
    assert "factual error" in a.explanation


@pytest.mark.parametrize(("claims", "level"), [
    ([make_claim(1, evidence="cites-rct")], "high"),
    ([make_claim(1, evidence="cites-rct", modality="hedged")], "moderate"),
    ([make_claim(1, evidence="cites-study")], "moderate"),
    ([make_claim(1, evidence="clinic-statement"), make_claim(2, source="src-c"), make_claim(3, source="src-d")],
     "very low"),
    # the strongest evidence sets the level, however many weaker claims there are
    ([make_claim(1, evidence="expert-statement"), make_claim(2, source="src-c", evidence="clinic-statement")], "low"),
    # strong opposition lowers it one step
    ([make_claim(1, evidence="cites-rct"), make_claim(2, source="src-c", evidence="cites-rct", modality="negated")],
     "moderate"),
])
def test_level_comes_from_the_strongest_evidence(claims, level):
    assert assess_claims(claims, PUBLISHERS, PRIORS).level == level


def test_the_explanation_names_each_claims_contribution():
    claims = [make_claim(1, evidence="cites-rct"), make_claim(2, source="src-b"), make_claim(3, modality="negated",
                                                                                       source="src-c")]
    a = assess_claims(claims, PUBLISHERS, PRIORS)
    roles = {c.claim: c.role for c in a.contributions}
    assert roles == {"c-001": "supports", "c-002": "supports", "c-003": "opposes"}
    repeat = next(c for c in a.contributions if c.claim == "c-002")
    assert repeat.weight == pytest.approx(PRIORS.repeat_weight) and "repeat" in repeat.why
    assert "c-001" in a.explanation and "c-003" in a.explanation


def test_value_claims_are_one_relation_whatever_the_number_spelling():
    data = Dataset(sources=[Source("src-a", "a.txt", None, "clinic-1", [], "", Location("s"))], entities=[], xrefs=[],
                   claims=[make_claim(1, predicate="prevalence", obj=None, value=9),
                           make_claim(2, predicate="prevalence", obj=None, value=9.0)])
    assessments = assess(data, PRIORS)
    assert list(assessments) == [("ketamine", "prevalence", "9")]


# --------------------------------------------------------------------------- the priors table

def test_every_evidence_kind_of_the_ontology_has_a_prior():
    from kgraph.load import load_ontology, vocabulary
    from kgraph.project import Project

    vocab = vocabulary(load_ontology(Project.at(Path(__file__).resolve().parent.parent)))
    assert set(vocab.evidence_kinds) == set(PRIORS.evidence)
    # the errors are ordered like the ontology's strengths: stronger evidence, smaller error
    by_strength = sorted(vocab.evidence_kinds.values(), key=lambda k: k.strength)
    for weaker, stronger in itertools.pairwise(by_strength):
        if weaker.strength < stronger.strength:
            assert PRIORS.evidence[weaker.notation].error > PRIORS.evidence[stronger.notation].error


def test_data_folder_overrides_the_priors(tmp_path):
    (tmp_path / "evidence-priors.yaml").write_text("evidence:\n  clinic-statement:\n    error: 0.5\nrepeat_weight: 0.1\n")
    priors = load_priors(tmp_path)
    assert priors.evidence["clinic-statement"].error == 0.5
    assert priors.evidence["clinic-statement"].level == PRIORS.evidence["clinic-statement"].level
    assert priors.repeat_weight == 0.1 and priors.hedged_weight == PRIORS.hedged_weight
    assert assess_claims([make_claim(1)], PUBLISHERS, priors).belief == pytest.approx(0.5)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("evidence:\n  clinic-statement:\n    error: 1.5\n", 3, "error must be a number"),
    ("evidence:\n  made-up-kind:\n    error: 0.5\n", 2, "unknown evidence kind 'made-up-kind'"),
    ("evidence:\n  cites-rct:\n    level: great\n", 3, "level must be one of"),
    ("hedged_weight: 0.5\nrepeat: 2\n", 2, "unknown key 'repeat'"),
    ("hedged_weight: yes\n", 1, "'hedged_weight' must be a number"),
])
def test_a_bad_priors_file_is_named_with_its_line(tmp_path, text, line, words):
    path = tmp_path / "evidence-priors.yaml"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_priors(tmp_path)
    assert f"{path}:{line}:" in str(err.value) and words in str(err.value)


def test_a_kind_without_a_prior_is_a_clear_error():
    with pytest.raises(DataError, match="no error prior for the evidence kind 'tarot'"):
        assess_claims([make_claim(1, evidence="tarot")], PUBLISHERS, PRIORS)


def test_the_shipped_table_documents_every_number():
    from importlib import resources

    text = (resources.files("kgraph") / "evidence-priors.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(("error:", "hedged_weight:", "repeat_weight:", "factual_error_weight:",
                                    "opposition_downgrade:")):
            before = [x.strip() for x in lines[max(0, i - 3):i]]
            assert any(x.startswith("#") for x in before), f"line {i + 1} has no comment saying why: {line}"


def test_corpus_priors_copy_is_used(tmp_path):
    """A copy of the packaged table in data/ gives the same beliefs (the override path works end to end)."""
    from importlib import resources

    shutil.copyfile(str(resources.files("kgraph") / "evidence-priors.yaml"), tmp_path / "evidence-priors.yaml")
    assert load_priors(tmp_path).evidence == PRIORS.evidence
