"""The curation rules of data/CURATION.md ("Rules"), checked on the curated YAML itself.

Read straight from data/ with PyYAML (not through kgraph.load), so these tests guard the
data whatever the loader does; each test names the rule it checks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache

import yaml

from conftest import REPO

DATA = REPO / "data"


@cache
def claims() -> tuple[dict, ...]:
    out = []
    for path in sorted((DATA / "claims").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for c in doc["claims"]:
            out.append({**c, "source": doc["source"], "qualifiers": c.get("qualifiers") or {}})
    return tuple(out)


@cache
def entities() -> dict[str, dict]:
    out = {}
    for path in sorted((DATA / "entities").glob("*.yaml")):
        for e in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            out[e["id"]] = e
    return out


def where(c: dict) -> str:
    return f"{c['id']} ({c['source']}): {c['quote']!r}"


# R1 ---------------------------------------------------------------------------------

DENIAL = re.compile(r"\b(not|no|never|without|none|neither|nor)\b|n[’']t\b", re.I)
SUBGROUP = re.compile(r"\bfor (some|many)\b|\bsome individuals\b|\bfor everyone\b|\bmay not\b"
                      r"|\bnot sufficiently\b|\bfails? to\b|\blimited effectiveness\b", re.I)


def test_negated_claims_quote_a_denial():
    """R1: a negated claim quotes a denial, not hedged wording about a group."""
    bad = [where(c) for c in claims() if c.get("modality") == "negated"
           and (not DENIAL.search(c["quote"]) or SUBGROUP.search(c["quote"]))]
    assert bad == []
    assert any(c.get("modality") == "negated" for c in claims())


def test_insufficient_for_names_the_group():
    """R1: a statement that a treatment does not help some people names that group."""
    found = [c for c in claims() if c["predicate"] == "insufficientFor"]
    assert found
    assert [where(c) for c in found if c["qualifiers"].get("population") != "treatment-nonresponders"
            or c.get("modality") == "negated"] == []


# R2, R3 -----------------------------------------------------------------------------

#: What counts as naming where the truth is documented.
SOURCE = re.compile(r"\bPMID \d{6,8}\b|\bDOI 10\.\d{4,}/\S+|\bDSM-(5|IV|III)\b|\bICD-1[01]\b|\bNICE\b"
                    r"|\bMeSH\b|\b(MONDO|GO|UBERON|HP):\d{7}\b|\bFDA\b|\bNIMH\b")


def test_factual_errors_name_where_the_truth_is_documented():
    """R2: each factual-error flag has a note naming a checkable source."""
    flagged = [c for c in claims() if c.get("flag") == "factual-error"]
    assert len(flagged) >= 20
    assert [where(c) for c in flagged if not SOURCE.search(c.get("note") or "")] == []
    assert {c.get("flag") for c in claims()} <= {None, "factual-error"}


CLASSIFYING = {"subtypeOf", "memberOfClass", "replaced", "inUseSince", "firstSynthesized", "emergedIn"}


def test_same_false_statement_is_flagged_everywhere():
    """R3: a flagged classification or history claim is flagged wherever it recurs."""
    groups = defaultdict(list)
    for c in claims():
        if c["predicate"] in CLASSIFYING:
            key = (c["subject"], c["predicate"], str(c.get("object", c.get("value"))),
                   c["qualifiers"].get("condition"))
            groups[key].append(c)
    mixed = {key: sorted((c["id"], c.get("flag")) for c in cs) for key, cs in groups.items()
             if len({c.get("flag") for c in cs}) > 1}
    assert mixed == {}
    assert any(len(cs) > 1 and cs[0].get("flag") for cs in groups.values())
