"""The extractor library: trained on the mini fixture, run on a made-up clinic page."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgraph.extract import Extraction, Extractor
from kgraph.extract.gazetteer import Gazetteer
from kgraph.extract.modality import ModalityTagger
from kgraph.extract.text import sentences
from kgraph.extract.values import find_values
from kgraph.model import (
    ENTITY_QUALIFIERS,
    MODALITIES,
    NUMBER_QUALIFIERS,
    TEXT_QUALIFIERS,
    YEAR_QUALIFIERS,
)

HERE = Path(__file__).resolve().parent
MINI = HERE / "fixtures" / "mini"
GAMMA = (HERE / "fixtures" / "extract" / "gamma.txt").read_text(encoding="utf-8")
QUALIFIER_KEYS = {*ENTITY_QUALIFIERS, *TEXT_QUALIFIERS, *YEAR_QUALIFIERS, *NUMBER_QUALIFIERS}


@pytest.fixture(scope="module")
def extractor(mini_data) -> Extractor:
    return Extractor.train(*mini_data)


@pytest.fixture(scope="module")
def gamma(extractor) -> Extraction:
    return extractor.extract(GAMMA, source_id="src-009")


def triples(result: Extraction) -> set[tuple]:
    return {(c["subject"], c["predicate"], c.get("object", c.get("value")), c["modality"]) for c in result.claims}


def test_expected_candidates(gamma):
    found = triples(gamma)
    assert ("ketamine", "antagonistOf", "nmda-receptor", "asserted") in found  # "NMDA receptors"
    assert ("ketamine", "treats", "ptsd", "hedged") in found  # "may relieve"
    assert ("ketamine", "treats", "ptsd", "negated") in found  # "does not relieve"
    assert ("ketamine", "hasSideEffect", "dissociation", "asserted") in found
    prevalence = [c for c in gamma.claims if c["predicate"] == "prevalence"]
    assert [(c["subject"], c["value"], c["unit"]) for c in prevalence] == [("ptsd", 7, "percent")]
    assert prevalence[0]["qualifiers"] == {"population": "adults"}
    assert gamma.title == "Gamma Wellness: Ketamine Care for Post-Traumatic Stress"


def test_new_entities(gamma):
    new = {e["label"]: e for e in gamma.entities}
    assert new["Dr. Maria Lopez"]["type"] == "Person"
    assert new["Riverside Institute of Neuroscience"]["type"] == "ResearchInstitution"
    for e in gamma.entities:
        assert set(e) == {"id", "type", "label", "synonyms", "mentions"}
        assert all(GAMMA[s:t].replace("\n", " ").startswith(e["label"].split()[0]) for s, t in e["mentions"])
    known = {m["id"] for m in gamma.mentions}
    assert not known & {e["id"] for e in gamma.entities}


def test_claims_follow_the_contract(extractor, gamma, mini_data):
    data, vocab, _ = mini_data
    types = {e.id: e.type for e in data.entities} | {e["id"]: e["type"] for e in gamma.entities}
    assert gamma.claims
    for c in gamma.claims:
        assert "id" not in c and c["status"] == "candidate"
        assert GAMMA[c["start"]:c["end"]] == c["quote"]
        assert c["evidence"] in vocab.evidence_kinds
        assert c["modality"] in MODALITIES
        assert set(c.get("qualifiers", {})) <= QUALIFIER_KEYS
        assert 0 <= c["confidence"] <= 1 and c["by"].startswith("classifier:")
        assert ("object" in c) != ("value" in c)
        prop = vocab.properties[c["predicate"]]
        assert vocab.is_a(types[c["subject"]], prop.domain)
        if "object" in c:
            assert prop.kind == "object" and vocab.is_a(types[c["object"]], prop.range)
        else:
            assert prop.kind == "datatype"


def test_it_learns_from_the_curated_claims(mini_data):
    """Without the curated 'blocks' claim, the extractor no longer proposes antagonistOf."""
    data, vocab, texts = mini_data
    fewer = replace(data, claims=[c for c in data.claims if c.predicate != "antagonistOf"])
    found = triples(Extractor.train(fewer, vocab, texts).extract(GAMMA, source_id="src-009"))
    assert not any(p == "antagonistOf" for _, p, _, _ in found)


def test_a_sentence_the_page_repeats_is_proposed_once(extractor, gamma):
    """Scraped pages repeat blocks, sometimes with other capitals or line breaks: the same
    claim read off the same words again is one candidate (the first), not two."""
    line = "Ketamine blocks the NMDA receptors."
    again = GAMMA + "\n" + line.upper().replace(" THE ", " the\n") + "\n"
    result = extractor.extract(again, source_id="src-009")
    blocks = [c for c in result.claims if c["predicate"] == "antagonistOf"]
    assert [GAMMA[c["start"]:c["end"]] for c in blocks] == [line]
    assert triples(result) == triples(gamma)


_NOISE = st.lists(st.sampled_from([" ", "  ", "\n", " \n", "\u2019", "\u201c", "\u201d", "\t", "-"]),
                  min_size=0, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=_NOISE, positions=st.lists(st.integers(min_value=0, max_value=10_000), min_size=0, max_size=12))
def test_quotes_are_exact_substrings(extractor, noise, positions):
    text = GAMMA
    for piece, pos in zip(noise, positions):
        spaces = [i for i, ch in enumerate(text) if ch == " "]
        at = spaces[pos % len(spaces)]
        text = text[:at] + piece + text[at:]
    result = extractor.extract(text, source_id="src-009")
    for c in result.claims:
        assert text[c["start"]:c["end"]] == c["quote"]
        assert c["quote"] == c["quote"].strip()
    for e in result.entities:
        assert all(0 <= s < t <= len(text) for s, t in e["mentions"])


@pytest.mark.parametrize("written", [
    "post-traumatic stress disorder", "Post-Traumatic Stress Disorders", "POST-TRAUMATIC STRESS DISORDER",
    "post traumatic\nstress disorder", "post\u2010traumatic stress  disorder", "PTSD", "PTSD\u2019s", "PTSDs",
    "post-traumatic \u201cstress\u201d disorder", 'post-"traumatic" stress disorder',
])
def test_recognition_tolerance(mini_data, written):
    data = mini_data[0]
    gaz = Gazetteer.from_entities(data.entities)
    text = f"Patients with {written} came."
    found = gaz.find(text)
    assert [m.entity for m in found] == ["ptsd"]
    assert text[found[0].start:found[0].end].startswith(written[:4])


@pytest.mark.parametrize("written", ["ptsd", "Ptsd", "nmda"])
def test_abbreviations_keep_their_capitals(mini_data, written):
    gaz = Gazetteer.from_entities(mini_data[0].entities)
    assert gaz.find(f"Patients with {written} came.") == []


@pytest.fixture(scope="module")
def tagger() -> ModalityTagger:
    return ModalityTagger()


@pytest.mark.parametrize("sentence, target, expected", [
    ("Ketamine is not a cure for depression.", "depression", "negated"),
    ("Ketamine does not relieve PTSD in everyone.", "PTSD", "negated"),
    ("This therapy is not suitable for everyone with anxiety.", "anxiety", "negated"),
    ("Ketamine may help with anxiety.", "anxiety", "hedged"),
    ("Some studies suggest ketamine relieves pain.", "pain", "hedged"),
    ("Ketamine has the potential to ease depression.", "depression", "hedged"),
    ("Ketamine relieves pain within hours.", "pain", "asserted"),
])
def test_negation_and_hedging(tagger, sentence, target, expected):
    s = sentence.index(target)
    ctx = tagger.tag(sentence, [(s, s + len(target))])[(s, s + len(target))]
    got = "negated" if ctx.negated else "hedged" if ctx.uncertain else "asserted"
    assert got == expected


@pytest.mark.parametrize("text, kind, value, unit", [
    ("a prevalence of 8.7% in adults", "percent", 8.7, "percent"),
    ("approximately 21 to 29 percent of patients", "percent", 21, "percent"),
    ("affecting 40 million adults", "count", 40_000_000, "people"),
    ("relief within hours of the infusion", "duration", "within hours", None),
    ("it persisted for up to two weeks", "duration", "for up to two weeks", None),
    ("first synthesized in 1962 by a chemist", "year", 1962, None),
    ("developed in the 1960s", "decade", "1960s", None),
    ("call (505) 639-4973 today", "phone", "(505) 639-4973", None),
    ("one in 11 people", "ratio", 9.1, "percent"),
])
def test_values(text, kind, value, unit):
    found = find_values(text)
    assert [(v.kind, v.value, v.unit) for v in found] == [(kind, value, unit)]


def test_sentences_keep_abbreviations_and_headings():
    text = "A Heading\n\nDr. Lopez said so. It works! Does it?\nNext line"
    got = [text[s.start:s.end] for s in sentences(text)]
    assert got == ["A Heading", "Dr. Lopez said so.", "It works!", "Does it?", "Next line"]


def test_predicates_respect_domain_and_range(extractor, mini_data):
    vocab = mini_data[1]
    assert "treats" in extractor.valid_predicates("Drug", "entity", "MentalDisorder")
    assert "treats" not in extractor.valid_predicates("MentalDisorder", "entity", "Drug")
    assert "prevalence" in extractor.valid_predicates("MentalDisorder", "percent")
    assert "prevalence" not in extractor.valid_predicates("Drug", "percent")
    for subject in ("Drug", "MentalDisorder", "Clinic", "Receptor"):
        for obj in ("Drug", "MentalDisorder", "Receptor", "Population"):
            for name in extractor.valid_predicates(subject, "entity", obj):
                prop = vocab.properties[name]
                assert vocab.is_a(subject, prop.domain) and vocab.is_a(obj, prop.range)
