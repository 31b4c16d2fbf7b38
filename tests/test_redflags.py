"""Red flags (issue 12): a fixture per rule, and the near misses that must not fire."""

from __future__ import annotations

import pytest

from kgraph.model import Claim, Dataset, Location, Source
from kgraph.redflags import RULES, find_red_flags

SOURCES = [Source("src-a", "a.txt", None, "clinic-1", ["A clinic page"], "", Location("sources.yaml")),
           Source("src-b", "b.txt", None, "lab-2", ["A lab page"], "", Location("sources.yaml"))]
#: what the fixture clinic sells: its brand offers the infusion therapy, which involves ketamine
CONTEXT = [
    ("clinic-brand", "partOf", "clinic-1"),
    ("clinic-brand", "offersTherapy", "ketamine-infusion-therapy"),
    ("ketamine-infusion-therapy", "involvesDrug", "ketamine"),
]


def claim(quote: str, n: int = 1, subject: str = "ketamine-infusion-therapy", predicate: str = "treats",
          obj: str | None = "ptsd", value=None, evidence: str = "clinic-statement", modality: str = "asserted",
          source: str = "src-a", **extra) -> Claim:
    return Claim(id=f"c-{n:03d}", source=source, subject=subject, predicate=predicate, quote=quote, evidence=evidence,
                 loc=Location("claims.yaml", n), object=obj, value=value, modality=modality, **extra)


def flags(*claims: Claim, context=CONTEXT):
    background = [claim(f"context {i}", n=900 + i, subject=s, predicate=p, obj=o)
                  for i, (s, p, o) in enumerate(context)]
    found = find_red_flags(Dataset(sources=SOURCES, entities=[], xrefs=[], claims=[*claims, *background]))
    return [f for f in found if not f.claim.startswith("c-9")]


def rules(*claims: Claim, **kw) -> set[str]:
    return {f.rule for f in flags(*claims, **kw)}


@pytest.mark.parametrize(("quote", "kw", "expected"), [
    # cure
    ("Ketamine can cure depression for good.", {}, {"cure"}),
    ("a curative treatment", {}, {"cure"}),
    ("ketamine infusions are not a cure for PTSD", {"predicate": "notCureFor"}, set()),
    ("It is not a cure, but it helps.", {}, set()),
    ("not intended to diagnose, treat, cure, or prevent any disease", {"predicate": "regulatoryStatus", "obj": None,
                                                                       "value": "not evaluated"}, set()),
    ("a secure clinic for the curious", {}, set()),
    # gold standard, said of what the page's publisher sells (through its brand)
    ("Why Ketamine Therapy Is Becoming the Gold Standard", {}, {"gold-standard"}),
    ("ketamine is the gold-standard option", {"subject": "ketamine"}, {"gold-standard"}),
    ("prolonged exposure remains a gold standard for PTSD", {"subject": "prolonged-exposure-therapy"}, set()),
    ("Ketamine therapy is not the gold standard", {}, set()),
    # FDA approved where the status is investigational or off-label
    ("the FDA approved ketamine as an “investigational new drug,”", {"subject": "ketamine"}, {"fda-approved"}),
    ("Esketamine is FDA approved for depression", {"subject": "esketamine"}, set()),
    ("Ketamine is not FDA approved for PTSD", {"subject": "ketamine"}, set()),
    # no side effects
    ("a treatment with no side effects", {}, {"no-side-effects"}),
    ("completely free of side effects", {"evidence": "cites-study"}, {"no-side-effects"}),
    ("generally well-tolerated, with minimal side effects reported", {}, set()),
    ("side effects include mild dissociation", {}, set()),
    # permanent
    ("ketamine offers permanent relief", {}, {"permanent"}),
    ("the relief is not permanent", {}, set()),
    # absolute words in an uncited clinic statement
    ("Ketamine always works, guaranteed.", {}, {"absolute-language"}),
    ("a groundbreaking, revolutionary treatment", {}, {"absolute-language"}),
    ("Ketamine always works, guaranteed.", {"modality": "hedged"}, set()),
    ("Ketamine always works, guaranteed.", {"evidence": "cites-rct"}, set()),
    ("Ketamine always works, guaranteed.", {"cites": ["some-trial"]}, set()),
    ("Ketamine always works, guaranteed.", {"attributed_to": ["dr-someone"]}, set()),
    ("it does not always work", {}, set()),
    ("treatments have proven effective for many", {}, set()),
    # a denial is not an overclaim
    ("there is no permanent cure", {"modality": "negated"}, set()),
    ("a permanent cure, guaranteed", {"modality": "negated"}, set()),
])
def test_rules(quote, kw, expected):
    assert rules(claim(quote, **kw)) == expected


def test_fda_approved_against_another_claims_status():
    approved = claim("Ketamine is FDA-approved for depression", n=1, subject="ketamine")
    assert rules(approved) == set()
    status = claim("used off-label for depression", n=2, subject="ketamine-infusion-therapy",
                   predicate="regulatoryStatus", obj=None, value="off-label")
    assert rules(approved, status) == {"fda-approved"}


def test_gold_standard_needs_the_publishers_own_offer():
    quote = "Why Ketamine Therapy Is Becoming the Gold Standard"
    assert rules(claim(quote), context=[]) == set()
    assert rules(claim(quote, source="src-b")) == set()  # the lab does not sell it


def test_curated_factual_errors_with_their_note():
    found = flags(claim("During Operation Iraqi Freedom in the 1990s", flag="factual-error",
                        note="Operation Iraqi Freedom began in 2003."))
    assert [(f.rule, f.match, f.quote) for f in found] == [
        ("factual-error", "Operation Iraqi Freedom began in 2003.", "During Operation Iraqi Freedom in the 1990s")]


def test_each_flag_names_claim_quote_and_rule():
    found = flags(claim("a groundbreaking cure with no side effects", n=7))
    assert {f.rule for f in found} == {"cure", "no-side-effects", "absolute-language"}
    for f in found:
        assert f.claim == "c-007" and f.quote == "a groundbreaking cure with no side effects" and f.rule_label
        assert f.match.casefold() in f.quote.casefold()


def test_every_rule_is_documented_in_the_module():
    import kgraph.redflags as module

    for rule in RULES:
        assert f"``{rule.id}``" in module.__doc__


def test_the_corpus_flags():
    """On the real pages: the gold-standard headline, the investigational 'approval' and every curated error."""
    from pathlib import Path

    from kgraph.load import load_dataset
    from kgraph.project import Project

    data, _ = load_dataset(Project.at(Path(__file__).resolve().parent.parent))
    found = find_red_flags(data)
    by_rule = {}
    for f in found:
        by_rule.setdefault(f.rule, set()).add(f.claim)
    flagged = {c.id for c in data.claims if c.flag == "factual-error"}
    assert by_rule["factual-error"] == flagged
    assert any("Gold Standard" in c.quote for c in data.claims if c.id in by_rule["gold-standard"])
    assert any("investigational" in c.quote for c in data.claims if c.id in by_rule["fda-approved"])
    assert "cure" not in by_rule  # the corpus only says ketamine is "not a cure"
