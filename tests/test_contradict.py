"""Contradictions (issue 12): one fixture per rule, and the near misses that must not fire."""

from __future__ import annotations

import pytest

from kgraph.contradict import (
    find_contradictions,
    time_interval,
    time_scales,
    year_interval,
)
from kgraph.model import Claim, Dataset, Location, Source

SOURCES = [Source(sid, f"{sid}.txt", None, pub, [f"title of {sid}"], "", Location("sources.yaml"))
           for sid, pub in (("src-a", "clinic-1"), ("src-b", "clinic-1"), ("src-c", "lab-2"))]


def claim(n: int, predicate: str, value=None, obj=None, subject="ketamine", source="src-a", unit=None,
          qualifiers=None, modality="asserted", flag=None) -> Claim:
    return Claim(id=f"c-{n:03d}", source=source, subject=subject, predicate=predicate, quote=f"quote {n}",
                 evidence="clinic-statement", loc=Location("claims.yaml", n), object=obj, value=value, unit=unit,
                 qualifiers=dict(qualifiers or {}), modality=modality, flag=flag)


def found(*claims: Claim):
    return find_contradictions(Dataset(sources=SOURCES, entities=[], xrefs=[], claims=list(claims)))


def value_pair(predicate, a, b, qa=None, qb=None, **kw):
    return found(claim(1, predicate, a, qualifiers=qa, **kw), claim(2, predicate, b, source="src-c", qualifiers=qb))


@pytest.mark.parametrize(("a", "b", "fires"), [
    ("within hours", "weeks", True),
    ("in a matter of hours", "weeks or months", True),
    ("rapid", "slow", True),
    ("immediately after treatment", "within a few days", False),  # "within" reaches down to immediate
    ("within hours", "24 hours post-infusion", False),
    ("in a matter of hours rather than weeks", "within hours", False),
    ("in a matter of hours rather than weeks", "weeks or months", True),  # the comparison is not the claim
    ("often within hours or days", "in as little as several hours", False),
    ("fast-acting", "within hours", False),
    ("lasting relief", "weeks", False),  # no time scale: never compared
    ("weeks", "lasting relief", False),  # either way round
])
def test_onset(a, b, fires):
    hits = value_pair("onsetOfEffect", a, b)
    assert bool(hits) == fires
    if fires:
        assert hits[0].rule == "onset" and a in hits[0].reason and b in hits[0].reason


@pytest.mark.parametrize(("a", "b", "fires"), [
    ("up to two weeks", "several weeks", True),
    ("a few days", "several months", True),
    ("up to 14 weeks", "several weeks", False),
    ("can last weeks", "up to two weeks", False),  # "weeks" starts at two: they touch
    ("weeks to months", "several weeks", False),
    ("lasting relief", "up to two weeks", False),
    ("long-term benefits", "a few days", False),
    ("a few days", "long-term benefits", False),  # either way round
])
def test_duration(a, b, fires):
    hits = value_pair("durationOfEffect", a, b)
    assert bool(hits) == fires
    if fires:
        assert hits[0].rule == "duration" and "do not overlap" in hits[0].reason


@pytest.mark.parametrize(("predicate", "a", "b", "reason"), [
    ("onsetOfEffect", "within hours", "weeks",
     'onset "within hours" (minutes to hours) and "weeks" (weeks) are on time scales that do not meet'),
    ("durationOfEffect", "a few days", "several months",
     'duration "a few days" (2 days to 5 days) and "several months" (13 weeks to 9 months) do not overlap'),
])
def test_the_reason_shows_both_values_and_how_they_were_read(predicate, a, b, reason):
    assert [h.reason for h in value_pair(predicate, a, b)] == [reason]


def test_onsets_for_different_conditions_are_not_compared():
    assert value_pair("onsetOfEffect", "within hours", "weeks", {"condition": "depression"}, {"condition": "ptsd"}) == []
    # one without a condition is compared with any
    assert value_pair("onsetOfEffect", "within hours", "weeks", None, {"condition": "ptsd"})


def test_onsets_of_different_subjects_are_not_compared():
    assert found(claim(1, "onsetOfEffect", "within hours"),
                 claim(2, "onsetOfEffect", "weeks", subject="antidepressant")) == []


@pytest.mark.parametrize(("a", "qa", "b", "qb", "fires"), [
    (8.7, {"period": "lifetime"}, 3.5, {"period": "lifetime"}, True),
    (3.5, {"period": "12 months"}, 3.7, {"period": "every year"}, True),  # one period, two spellings
    (8.7, {"period": "lifetime"}, 3.5, {"period": "12 months"}, False),
    (3.5, {"period": "12 months"}, 3.6, {"period": "12 months"}, False),  # within rounding
    (9, {"bound": "approximately"}, 9.09, {}, False),
    (9.5, {"bound": "approximately"}, 10.2, {}, False),  # "approximately" widens the figure by 10%
    (9.5, {}, 10.2, {}, True),
    (40, {"bound": "up to"}, 35, {}, False),
    (8.7, {"population": "us-adults"}, 3.5, {"population": "veterans"}, False),
    (8.7, {"year": 2019}, 3.5, {"year": 2020}, False),
    (8.7, {"location": "united-states"}, 3.5, {}, True),  # a figure without a place fits any place
    (8.7, {"location": "united-states"}, 3.5, {"location": "canada"}, False),
    (50000000, {"bound": "range", "max_value": 100000000}, 70000000, {}, False),
])
def test_statistic(a, qa, b, qb, fires):
    hits = found(claim(1, "prevalence", a, qualifiers=qa, unit="percent"),
                 claim(2, "prevalence", b, qualifiers=qb, unit="percent", source="src-c"))
    assert bool(hits) == fires
    if fires:
        assert hits[0].rule == "statistic" and str(a) in hits[0].reason and str(b) in hits[0].reason


def test_statistics_in_different_units_are_not_compared():
    assert found(claim(1, "relativeRisk", 2, unit="ratio"), claim(2, "relativeRisk", 80, unit="percent")) == []


@pytest.mark.parametrize(("a", "b", "fires"), [
    ("1970s", "1960s", True),
    ("1962", "1970", True),
    ("1962", "1960s", False),
    ("2021-01-05", "2021", False),
    ("early on", "1960s", False),
])
def test_date(a, b, fires):
    hits = value_pair("inUseSince", a, b)
    assert bool(hits) == fires
    if fires:
        assert hits[0].rule == "date"


def test_dates_of_different_events_are_not_compared():
    assert value_pair("inUseSince", "2000", "1960s", {"condition": "ptsd"}, None) == []
    assert value_pair("emergedIn", "1990s", "2003", {"during": "gulf-war"}, {"during": "operation-iraqi-freedom"}) == []
    assert value_pair("emergedIn", "1990s", "2003", {"during": "operation-iraqi-freedom"},
                      {"during": "operation-iraqi-freedom"})


def test_asserted_and_denied_on_one_page_and_across_pages():
    stated = claim(1, "hasSideEffect", obj="dissociation")
    same_page = claim(2, "hasSideEffect", obj="dissociation", modality="negated",
                      qualifiers={"dose_schedule": "low doses"})
    same_publisher = claim(3, "hasSideEffect", obj="dissociation", modality="negated", source="src-b")
    other = claim(4, "hasSideEffect", obj="dissociation", modality="negated", source="src-c")
    hits = found(stated, same_page, same_publisher, other)
    assert [(h.rule, h.claims, h.scope) for h in hits] == [
        ("denial", ("c-001", "c-002"), "within one page"),
        ("denial", ("c-001", "c-003"), "across pages of one publisher"),
        ("denial", ("c-001", "c-004"), "across publishers"),
    ]
    assert hits[0].quotes == ("quote 1", "quote 2") and "low doses" in hits[0].reason


def test_a_denial_of_another_relation_is_no_contradiction():
    assert found(claim(1, "hasSideEffect", obj="dissociation"),
                 claim(2, "hasSideEffect", obj="nausea", modality="negated")) == []
    assert found(claim(1, "hasSideEffect", obj="dissociation"),
                 claim(2, "hasRisk", obj="dissociation", modality="negated")) == []


def test_flagged_claims_are_left_to_the_red_flags():
    assert found(claim(1, "hasSideEffect", obj="dissociation", flag="factual-error"),
                 claim(2, "hasSideEffect", obj="dissociation", modality="negated")) == []
    assert value_pair("onsetOfEffect", "within hours", "weeks", flag="factual-error") == []


@pytest.mark.parametrize(("text", "span"), [
    ("up to two weeks", (0, 336)),
    ("several weeks", (504, 1512)),
    ("24 hours post-infusion", (24, 24)),
    ("at least 3 days", (72, float("inf"))),
    ("lasting relief", None),
])
def test_time_interval(text, span):
    assert time_interval(text) == span


def test_time_scales_and_years():
    assert time_scales("within minutes or hours") == (0, 1)
    assert time_scales("weeks or even months") == (3, 4)
    assert year_interval("1960s") == (1960, 1969) and year_interval("1962") == (1962, 1962)
    assert year_interval("recently") is None


def test_the_corpus_disagreement_on_how_long_relief_lasts_is_found():
    """"up to two weeks" (002) and "several weeks" (003) for ketamine and PTSD: the issue's own example."""
    from pathlib import Path

    from kgraph.load import load_dataset
    from kgraph.project import Project

    data, _ = load_dataset(Project.at(Path(__file__).resolve().parent.parent))
    durations = {(c.source, c.value): c.id for c in data.claims
                 if c.subject == "ketamine" and c.predicate == "durationOfEffect"
                 and c.qualifiers.get("condition") == "ptsd"}
    hits = [x for x in find_contradictions(data) if x.rule == "duration"]
    pairs = {frozenset(x.claims) for x in hits}
    wanted = {durations[k] for k in durations if k[1] in ("up to two weeks", "several weeks")}
    assert len(wanted) == 2 and frozenset(wanted) in pairs
