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
