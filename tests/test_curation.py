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

DENIAL = re.compile(r"\b(not|no|never|without|none|neither|nor)\b|n[’']t\b", re.IGNORECASE)
SUBGROUP = re.compile(r"\bfor (some|many)\b|\bsome individuals\b|\bfor everyone\b|\bmay not\b"
                      r"|\bnot sufficiently\b|\bfails? to\b|\blimited effectiveness\b", re.IGNORECASE)


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


# R4 ---------------------------------------------------------------------------------

PATIENTS_REPORT = re.compile(r"\bpatients\b[^.]{0,40}?\breport\b", re.IGNORECASE)


def test_patients_report_is_a_clinic_statement():
    """R4: what patients are said to report is the clinic's own statement, marked as such."""
    found = [c for c in claims() if PATIENTS_REPORT.search(c["quote"])]
    assert len({c["source"] for c in found}) >= 3
    assert [where(c) for c in found if c["evidence"] != "clinic-statement"
            or not PATIENTS_REPORT.search(str(c["qualifiers"].get("context", "")))] == []


# R5 ---------------------------------------------------------------------------------

UNITS = {"prevalence": "percent", "treatmentRate": "percent", "nonResponseRate": "percent",
         "partialResponseRate": "percent", "misuseRate": "percent", "effectOnSymptoms": "percent",
         "affectedCount": "people", "deathCount": "people", "relativeRisk": "ratio",
         "combinedExperienceYears": "years"}


def test_one_unit_per_measure():
    """R5: every claim of a measure has that measure's unit; percentages to one decimal."""
    numeric = [c for c in claims() if isinstance(c.get("value"), (int, float)) and "unit" in c]
    assert {c["predicate"] for c in numeric} <= set(UNITS), "a new measure needs a unit in R5"
    assert [where(c) for c in numeric if c["unit"] != UNITS[c["predicate"]]] == []
    assert [where(c) for c in numeric if c["unit"] == "percent"
            and round(float(c["value"]), 1) != float(c["value"])] == []
    # and so every claim of the same statistic agrees in unit
    units = defaultdict(set)
    for c in numeric:
        units[(c["subject"], c["predicate"])].add(c["unit"])
    assert {k: u for k, u in units.items() if len(u) > 1} == {}


FRACTION = re.compile(r"\b(1|one) (?:in|out of) (\d+)\b", re.IGNORECASE)
THIRD = re.compile(r"\b(a|one) third\b", re.IGNORECASE)


def test_fractions_are_percentages_to_one_decimal():
    """R5: "1 in 11" is 9.1 percent wherever it is said, "a third" 33.3."""
    checked = 0
    for c in claims():
        if c.get("unit") != "percent":
            continue
        m = FRACTION.search(c["quote"])
        if m:
            assert float(c["value"]) == round(100 / int(m.group(2)), 1), where(c)
            checked += 1
        elif THIRD.search(c["quote"]):
            assert float(c["value"]) == 33.3, where(c)
            checked += 1
    assert checked >= 3


def test_statistic_qualifiers_use_the_fixed_vocabulary():
    """R5: periods come from one vocabulary; no country the page does not name."""
    numeric = [c for c in claims() if c.get("predicate") in UNITS]
    assert [where(c) for c in numeric if c["qualifiers"].get("period") not in (None, "lifetime", "12 months")] == []
    us_words = re.compile(r"\bU\. ?S\.|United States|American|\bin the U", re.IGNORECASE)
    for c in numeric:
        q = c["qualifiers"]
        says_us = q.get("location") == "united-states" or str(q.get("population", "")).startswith("us-")
        if says_us:
            # the sentence the quote comes from must name the country
            text = sentence_of(c)
            assert us_words.search(text), where(c)


@cache
def corpus_text(source: str) -> str:
    from conftest import CORPUS
    files = {s["id"]: s["file"] for s in yaml.safe_load((DATA / "sources.yaml").read_text(encoding="utf-8"))}
    return (CORPUS / files[source]).read_text(encoding="utf-8")


def sentence_of(c: dict) -> str:
    """The sentence(s) of the page that the quote spans ("U.S." and "Dr." do not end one)."""
    text = corpus_text(c["source"])
    at, end = text.index(c["quote"]), text.index(c["quote"]) + len(c["quote"])
    bounds = [0] + [m.end() for m in SENTENCE_END.finditer(text)] + [len(text)]
    start = max(b for b in bounds if b <= at)
    stop = min(b for b in bounds if b >= end)
    return text[start:stop]


SENTENCE_END = re.compile(r"(?<!\bU\.)(?<!\bS\.)(?<!\bDr\.)(?<=[.!?])\s+(?=[A-Z])|\n")


# R6 ---------------------------------------------------------------------------------

def test_onset_and_duration_are_said_of_ketamine():
    """R6: no onset/duration claim about a ketamine therapy has the therapy as subject."""
    therapies = {c["subject"] for c in claims() if c["predicate"] == "involvesDrug" and c.get("object") == "ketamine"}
    assert "ketamine-infusion-therapy" in therapies
    timing = [c for c in claims() if c["predicate"] in ("onsetOfEffect", "durationOfEffect")]
    assert [where(c) for c in timing if c["subject"] in therapies - {"ketamine-booster-treatment"}] == []
    assert sum(c["subject"] == "ketamine" for c in timing) >= 20


# R7 ---------------------------------------------------------------------------------

GENERIC = re.compile(r"traditional (pharmacological )?treatments|other (therapies|treatments)|conventional treatments"
                     r"|currently available treatments|traditional agents", re.IGNORECASE)


def test_unnamed_comparators_are_conventional_treatment():
    """R7: a generic "traditional treatments" is never read as a named drug class."""
    bad, mapped = [], 0
    for c in claims():
        if not GENERIC.search(c["quote"]):
            continue
        refs = {c["subject"], c.get("object"), c["qualifiers"].get("comparator")}
        if "antidepressant" in refs and not re.search(r"anti-?depress", c["quote"], re.IGNORECASE):
            bad.append(where(c))
        mapped += "conventional-treatment" in refs
    assert bad == []
    assert mapped >= 5


# R8 ---------------------------------------------------------------------------------

TIME = re.compile(r"\b(minutes?|hours?|days?|weeks?|months?|years?|immediate(ly)?|rapid(ly)?|quick(ly)?|fast"
                  r"|slow|lasting|long-term|short-lived|post-infusion)\b", re.IGNORECASE)
HARMS = {"hasSideEffect", "hasRisk", "contraindicatedFor"}


def test_timing_qualifiers_only_on_effects():
    """R8: no side effect or risk carries an onset/duration qualifier."""
    assert [where(c) for c in claims() if c["predicate"] in HARMS
            and ({"onset", "duration"} & set(c["qualifiers"]))] == []


def test_timing_values_are_times():
    """R8: every onset/duration value, as value or qualifier, is a time."""
    values = [(c, str(c["value"])) for c in claims() if c["predicate"] in ("onsetOfEffect", "durationOfEffect")]
    values += [(c, str(c["qualifiers"][q])) for c in claims() for q in ("onset", "duration") if q in c["qualifiers"]]
    assert len(values) >= 40
    assert [(where(c), v) for c, v in values if not TIME.search(v)] == []


# R9 ---------------------------------------------------------------------------------

def test_statistics_of_a_page_are_distinct():
    """R9: no two statistics of a page are the same triple with the same qualifiers."""
    seen = defaultdict(list)
    for c in claims():
        if c["predicate"] in UNITS:
            q = c["qualifiers"]
            seen[(c["source"], c["subject"], c["predicate"], float(c["value"]),
                  *(str(q.get(k)) for k in ("population", "location", "period", "condition", "comparator")))].append(c["id"])
    assert {k: ids for k, ids in seen.items() if len(ids) > 1} == {}


ABNORMAL = re.compile(r"\b(maladaptive|overactive|hyperactiv\w*)\b", re.IGNORECASE)


def test_abnormal_states_are_not_normal_functions():
    """R9: a process the page calls maladaptive/overactive is recorded as that state."""
    found = [c for c in claims() if c["predicate"] in ("decreases", "modulates") and ABNORMAL.search(c["quote"])
             and c.get("object") in entities() and entities()[c["object"]]["type"] == "Mechanism"]
    assert found
    bad = [where(c) for c in found
           if not ABNORMAL.search(entities()[c["object"]]["label"] + " " + " ".join(entities()[c["object"]].get("synonyms", [])))]
    assert bad == []


# R10 --------------------------------------------------------------------------------

def test_history_start_for_a_condition_lines_up():
    """R10: every page dating ketamine's PTSD history says it with inUseSince + condition ptsd."""
    starts = [c for c in claims() if c["predicate"] == "inUseSince" and c["subject"] == "ketamine"
              and c["qualifiers"].get("condition") == "ptsd"]
    assert {"src-000", "src-001", "src-004"} <= {c["source"] for c in starts}
    assert len({str(c["value"]) for c in starts}) >= 3  # and they disagree
    # a sentence about ketamine and PTSD history is not recorded without its condition
    stray = [where(c) for c in claims() if c["predicate"] == "inUseSince" and "PTSD" in c["quote"]
             and c["qualifiers"].get("condition") != "ptsd"]
    assert stray == []


SERIES = re.compile(r"\bseries of (\w+) infusions\b", re.IGNORECASE)


def test_initial_series_lines_up():
    """R10: each page's initial series is a treatmentCourse of the same subject, no condition."""
    mentioned = {c["source"] for c in claims() if SERIES.search(c["quote"])}
    courses = [c for c in claims() if c["predicate"] == "treatmentCourse" and SERIES.search(c["quote"])]
    assert len(mentioned) >= 2 and {c["source"] for c in courses} == mentioned
    assert {c["subject"] for c in courses} == {"ketamine-infusion-therapy"}
    assert [where(c) for c in courses if "condition" in c["qualifiers"]] == []
    assert len({c["value"] for c in courses}) == len(courses)  # six vs several, side by side


# R11 --------------------------------------------------------------------------------

@cache
def xrefs() -> dict[str, list[dict]]:
    return yaml.safe_load((DATA / "xrefs.yaml").read_text(encoding="utf-8"))


def test_xrefs_say_where_they_were_checked():
    """R11: every identifier records where it was looked up."""
    rows = [(e, x) for e, xs in xrefs().items() for x in xs]
    assert len(rows) >= 130
    assert [(e, x["id"]) for e, x in rows if len(str(x.get("checked", "")).strip()) < 20
            or x.get("match") not in ("exact", "close")] == []


def test_one_exact_identifier_per_prefix_and_entity():
    """R11: one exact identifier per prefix per entity; one entity per exact identifier."""
    per_prefix, owners = defaultdict(list), defaultdict(list)
    for e, xs in xrefs().items():
        for x in xs:
            if x["match"] == "exact":
                per_prefix[(e, x["id"].split(":")[0])].append(x["id"])
                owners[x["id"]].append(e)
    assert {k: v for k, v in per_prefix.items() if len(v) > 1} == {}
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


def test_genes_are_not_exact_for_proteins():
    """R11: a gene identifier is at most a close match for a protein."""
    proteins = [e for e, ent in entities().items() if ent["type"] == "Protein" and e in xrefs()]
    assert proteins
    assert [(e, x["id"]) for e in proteins for x in xrefs()[e]
            if x["id"].startswith("HGNC:") and x["match"] == "exact"] == []


MONDO_ID = re.compile(r"MONDO:\d{7}")


def test_identifier_cluster_agrees_with_mondo():
    """R11: a MeSH/DOID exact match checked against MONDO's mappings names the entity's exact MONDO class."""
    checked = 0
    for e, xs in xrefs().items():
        exact_mondo = {x["id"] for x in xs if x["id"].startswith("MONDO:") and x["match"] == "exact"}
        for x in xs:
            if x["match"] == "exact" and x["id"].split(":")[0] in ("MESH", "DOID"):
                named = set(MONDO_ID.findall(x["checked"]))
                if named:
                    checked += 1
                    assert named & exact_mondo, (e, x["id"], named, exact_mondo)
    assert checked >= 5


# R12 --------------------------------------------------------------------------------

LIFE = {"quality-of-life": re.compile(r"quality of life|normal life|sense of well-being", re.IGNORECASE),
        "social-relationships": re.compile(r"relationships", re.IGNORECASE),
        "coping": re.compile(r"\bto cope and\b", re.IGNORECASE)}


def test_impact_on_life_is_claimed():
    """R12: every page sentence about quality of life, relationships or coping has a claim about it."""
    sources = yaml.safe_load((DATA / "sources.yaml").read_text(encoding="utf-8"))
    missing = []
    for src in sources:
        quotes = [c for c in claims() if c["source"] == src["id"]]
        for line in corpus_text(src["id"]).splitlines():
            for concept, pattern in LIFE.items():
                for m in pattern.finditer(line):
                    if not any(c.get("object") == concept and c["quote"] in line
                               and line.index(c["quote"]) <= m.start() < line.index(c["quote"]) + len(c["quote"])
                               for c in quotes):
                        missing.append((src["id"], concept, line[max(0, m.start() - 60):m.end() + 20]))
    assert missing == []


def test_listed_causes_are_claims():
    """R12: a definition's list of traumatic events also stands as causedBy claims."""
    for c in claims():
        if c["subject"] == "traumatic-event" and c["predicate"] == "definition":
            causes = {d["object"] for d in claims() if d["predicate"] == "causedBy" and d["subject"] == "ptsd"
                      and d["source"] == c["source"] and d["quote"] == c["quote"]}
            assert len(causes) >= 3, where(c)


def test_publishers_say_what_they_treat():
    """R12: every publisher offering a ketamine therapy says (in a claim) that it treats PTSD."""
    sources = {s["id"]: s["publisher"] for s in yaml.safe_load((DATA / "sources.yaml").read_text(encoding="utf-8"))}
    therapies = {c["subject"] for c in claims() if c["predicate"] == "involvesDrug" and c.get("object") == "ketamine"}
    offering = {c["subject"] for c in claims() if c["predicate"] == "offersTherapy" and c.get("object") in therapies
                and c.get("modality") != "negated"}
    publishers = set(sources.values()) & offering
    assert len(publishers) >= 3
    treating = {c["subject"] for c in claims() if c["predicate"] == "offersTreatmentFor" and c.get("object") == "ptsd"}
    assert publishers - treating == set()


def test_side_by_side_risks_are_distinct():
    """R12: risks named in one list are separate entities, none a synonym of another."""
    labels = {}
    for e in entities().values():
        if e["type"] == "SideEffect":
            for name in [e["label"], *e.get("synonyms", [])]:
                labels.setdefault(name.lower(), set()).add(e["id"])
    risky = [c for c in claims() if c["predicate"] == "hasRisk"]
    for c in risky:
        named = {w for w in ("tolerance", "dependence", "addiction", "abuse") if w in c["quote"].lower()}
        entity_names = {n for n, ids in labels.items() if c["object"] in ids}
        assert not (named - {c["object"].split("-")[0]}) & entity_names, where(c)
    assert {"tolerance", "dependence", "addiction"} <= {c["object"] for c in risky}
