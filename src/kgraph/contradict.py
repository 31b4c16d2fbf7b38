"""Where the claims disagree: contradictions computed from the curated claims (issue 12).

Two claims about the same subject and predicate contradict each other when

* **onset** -- their onsets (``onsetOfEffect``) lie on time scales that do not meet
  ("within hours" vs "weeks"; "within" reaches down to immediate, "rapid" spans minutes
  to days, "slow" weeks to months);
* **duration** -- their durations (``durationOfEffect``) are time intervals that do not
  overlap ("up to two weeks" vs "several weeks"; "weeks" vs "up to two weeks" touch, so
  they do not contradict);
* **statistic** -- they give figures for the same statistic, unit, population, period,
  year and place (a claim without a place fits any) whose ranges do not overlap; a figure
  is its rounding interval, widened by 10% when the text says "approximately", open
  towards zero for "up to" and towards infinity for "at least"/"over";
* **date** -- they date the same thing (``firstSynthesized``, ``inUseSince``,
  ``emergedIn``, ``publicationDate``; same ``during`` event and same condition, so that
  "in use for PTSD since 2000" is not compared with "in use as an anaesthetic since the
  1960s") to years that do not overlap ("1960s" is 1960-1969);
* **denial** -- one states the relation and another denies it (``modality: negated``).

Claims about different conditions (``qualifiers.condition``) are not compared; a claim
without a condition is compared with all. Claims flagged ``factual-error`` are left out:
the curators already say what is wrong with them (see :mod:`kgraph.redflags`). Vague
values ("lasting relief", "long-term benefits") are never compared.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from kgraph.assess import FACTUAL_ERROR, relation_key
from kgraph.model import Claim, Dataset

HOUR = 1.0
UNITS = {"minute": HOUR / 60, "hour": HOUR, "day": 24 * HOUR, "week": 168 * HOUR, "month": 730 * HOUR,
         "year": 8760 * HOUR}
#: Time scales in order; onsets on scales that do not meet contradict each other.
SCALES = ("minutes", "hours", "days", "weeks", "months", "years")
_SCALE_OF_UNIT = {"minute": 0, "hour": 1, "day": 2, "week": 3, "month": 4, "year": 5}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1}
#: Vague amounts, as multiples of the unit: "a few weeks" is 2-5 weeks, "several" 3-9.
_AMOUNTS = {"a few": (2, 5), "few": (2, 5), "several": (3, 9), "a couple of": (2, 2), "couple of": (2, 2)}
#: How many of a unit a bare plural ("hours", "weeks") reaches before the next unit is used.
_PLURAL_MAX = {"minute": 60, "hour": 24, "day": 14, "week": 12, "month": 12, "year": 100}
#: Words with a scale but no unit.
_SCALE_WORDS = (
    (re.compile(r"\b(immediate(ly)?|instant(ly|aneous(ly)?)?|right away)\b"), (0, 0)),
    (re.compile(r"\b(rapid(ly)?|quick(ly)?|fast(-acting)?|swift(ly)?)\b"), (0, 2)),
    (re.compile(r"\bslow(ly)?\b"), (3, 4)),
)
_QUANTITY = re.compile(
    r"(?:(?P<num>\d+(?:\.\d+)?)|(?P<amount>a few|few|several|a couple of|couple of)|"
    r"(?P<word>one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|an|a))?\s*"
    r"\b(?P<unit>minute|hour|day|week|month|year)(?P<plural>s)?\b")
#: A comparison ends the part of a value that is about the subject.
_COMPARISON = re.compile(r"\b(rather than|compared (to|with)|unlike|instead of|than)\b")
_UPPER = re.compile(r"\b(up to|within|at most|no more than|less than|as long as)\b")
_LOWER = re.compile(r"\b(at least|more than|over|beyond|longer than)\b")

DATE_PREDICATES = ("firstSynthesized", "inUseSince", "emergedIn", "publicationDate")
#: Periods written differently that mean the same.
_PERIODS = {"12 months": "12 months", "12-month": "12 months", "every year": "12 months",
            "yearly": "12 months", "annually": "12 months", "annual": "12 months", "past year": "12 months",
            "any given 12-month period": "12 months", "lifetime": "lifetime", "in their lifetime": "lifetime"}


@dataclass(frozen=True)
class Contradiction:
    """Two claims that cannot both be right, and why."""

    rule: str
    subject: str
    predicate: str
    claims: tuple[str, str]
    quotes: tuple[str, str]
    sources: tuple[str, str]
    #: "within one page", "across pages of one publisher" or "across publishers"
    scope: str
    reason: str


# --------------------------------------------------------------------------- parsing

def _about_subject(text: str) -> str:
    text = str(text).casefold()
    match = _COMPARISON.search(text)
    return text[:match.start()] if match else text


def time_interval(text: str) -> tuple[float, float] | None:
    """The time span a duration or onset text gives, in hours (None when it gives none)."""
    text = _about_subject(text)
    spans = []
    for m in _QUANTITY.finditer(text):
        unit = UNITS[m["unit"]]
        if m["num"]:
            n = float(m["num"])
            spans.append((n * unit, n * unit))
        elif m["amount"]:
            lo, hi = _AMOUNTS[m["amount"]]
            spans.append((lo * unit, hi * unit))
        elif m["word"]:
            n = _NUMBER_WORDS[m["word"]]
            spans.append((n * unit, n * unit))
        elif m["plural"]:
            # bare "weeks": two or more, up to where the next unit takes over
            spans.append((2 * unit, _PLURAL_MAX[m["unit"]] * unit))
        else:
            spans.append((unit, unit))
    if any(p.search(text) for p, _ in _SCALE_WORDS[:1]):
        spans.append((0.0, 1.0))
    if not spans:
        return None
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    first = _QUANTITY.search(text)
    before = text[:first.start()] if first else text
    if _UPPER.search(before):
        lo = 0.0
    if _LOWER.search(before):
        hi = math.inf
    return lo, hi


def time_scales(text: str) -> tuple[int, int] | None:
    """The range of time scales (indices into :data:`SCALES`) an onset text names."""
    text = _about_subject(text)
    found = [_SCALE_OF_UNIT[m["unit"]] for m in _QUANTITY.finditer(text)]
    for pattern, (lo, hi) in _SCALE_WORDS:
        if pattern.search(text):
            found += [lo, hi]
    if not found:
        return None
    lo, hi = min(found), max(found)
    first = _QUANTITY.search(text)
    if _UPPER.search(text[:first.start()] if first else text):
        lo = 0
    return lo, hi


def _scale_text(scales: tuple[int, int]) -> str:
    lo, hi = scales
    return SCALES[lo] if lo == hi else f"{SCALES[lo]} to {SCALES[hi]}"


def _hours_text(span: tuple[float, float]) -> str:
    def one(h: float) -> str:
        if math.isinf(h):
            return "no limit"
        # the largest unit of which there are at least two (a year, not 12 months, below)
        for unit, at_least in (("year", 2), ("month", 6), ("week", 2), ("day", 2), ("hour", 1)):
            if h >= at_least * UNITS[unit]:
                n = round(h / UNITS[unit], 1)
                return f"{n:g} {unit}{'s' * (n != 1)}"
        return f"{h * 60:g} minutes" if h else "0"
    lo, hi = span
    return one(lo) if lo == hi else f"{one(lo)} to {one(hi)}"


def year_interval(text) -> tuple[int, int] | None:
    """The years a date text covers: "1962" -> 1962-1962, "1960s" -> 1960-1969, "2021-01-05" -> 2021."""
    text = str(text).strip()
    if m := re.fullmatch(r"(?:the\s+)?(\d{3})0s", text):
        start = int(m[1]) * 10
        return start, start + 9
    if m := re.match(r"(\d{4})(?:-\d{2}(?:-\d{2})?)?$", text):
        return int(m[1]), int(m[1])
    return None


def figure_interval(claim: Claim) -> tuple[float, float] | None:
    """The range a statistic's figure stands for (see the module docstring)."""
    value = claim.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    text = repr(float(value)) if isinstance(value, float) else str(value)
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    half = 0.5 * 10 ** -decimals
    lo, hi = value - half, value + half
    bound = str(claim.qualifiers.get("bound", "")).casefold()
    if "max_value" in claim.qualifiers:
        hi = float(claim.qualifiers["max_value"]) + half
    if bound in ("approximately", "about", "around", "estimated", "roughly", "nearly", "almost"):
        lo, hi = lo - abs(value) * 0.1, hi + abs(value) * 0.1
    elif bound in ("up to", "at most", "as many as", "less than", "under"):
        lo = -math.inf if value < 0 else 0.0
    elif bound in ("at least", "over", "more than", "above"):
        hi = math.inf
    return lo, hi


def _period(claim: Claim):
    period = claim.qualifiers.get("period")
    return None if period is None else _PERIODS.get(str(period).casefold(), str(period).casefold())


def _overlap(a, b) -> bool:
    # intervals that touch overlap; the slack absorbs float error (3.5 + 0.05 vs 3.6 - 0.05)
    finite = [abs(x) for x in (*a, *b) if not math.isinf(x)]
    slack = 1e-9 * (1 + max(finite, default=0))
    return a[0] <= b[1] + slack and b[0] <= a[1] + slack


# --------------------------------------------------------------------------- rules

def _same_condition(a: Claim, b: Claim) -> bool:
    ca, cb = a.qualifiers.get("condition"), b.qualifiers.get("condition")
    return ca is None or cb is None or ca == cb


def _disjoint(a: Claim, b: Claim, interval, shown, what: str, verdict: str) -> str | None:
    """The reason two claims' values disagree, when ``interval`` reads both and they do not overlap."""
    sa, sb = interval(a.value), interval(b.value)
    if sa is None or sb is None or _overlap(sa, sb):
        return None
    return f"{what} \"{a.value}\" ({shown(sa)}) and \"{b.value}\" ({shown(sb)}) {verdict}"


def _onset(a: Claim, b: Claim) -> str | None:
    return _disjoint(a, b, time_scales, _scale_text, "onset", "are on time scales that do not meet")


def _duration(a: Claim, b: Claim) -> str | None:
    return _disjoint(a, b, time_interval, _hours_text, "duration", "do not overlap")


def _statistic(a: Claim, b: Claim) -> str | None:
    if a.unit != b.unit:
        return None
    for key in ("population", "year", "comparator", "during"):
        if a.qualifiers.get(key) != b.qualifiers.get(key):
            return None
    if _period(a) != _period(b):
        return None
    la, lb = a.qualifiers.get("location"), b.qualifiers.get("location")
    if la is not None and lb is not None and la != lb:
        return None
    fa, fb = figure_interval(a), figure_interval(b)
    if fa is None or fb is None or _overlap(fa, fb):
        return None
    same = ", ".join(f"{k} {a.qualifiers[k]}" for k in ("population", "period", "year", "location")
                     if a.qualifiers.get(k) is not None)
    return (f"{a.predicate} {a.value} {a.unit or ''} vs {b.value} {b.unit or ''}".replace("  ", " ")
            + f" for the same {same or 'statistic'}: the figures do not agree within rounding"
            + (" or the stated bound" if a.qualifiers.get("bound") or b.qualifiers.get("bound") else ""))


def _date(a: Claim, b: Claim) -> str | None:
    # a use for one condition and the drug's use in general are different events
    if any(a.qualifiers.get(k) != b.qualifiers.get(k) for k in ("during", "condition")):
        return None
    ya, yb = year_interval(a.value), year_interval(b.value)
    if ya is None or yb is None or _overlap(ya, yb):
        return None
    def said(c: Claim) -> str:
        context = c.qualifiers.get("context")
        return f"\"{c.value}\"" + (f" ({context})" if context else "")

    return f"{a.predicate} dated {said(a)} and {said(b)}: the years do not overlap"


_VALUE_RULES = {"onsetOfEffect": ("onset", _onset), "durationOfEffect": ("duration", _duration),
                **{p: ("date", _date) for p in DATE_PREDICATES}}


def _scope(a: Claim, b: Claim, publishers: dict[str, str]) -> str:
    if a.source == b.source:
        return "within one page"
    if publishers.get(a.source, a.source) == publishers.get(b.source, b.source):
        return "across pages of one publisher"
    return "across publishers"


def _make(rule: str, a: Claim, b: Claim, reason: str, publishers: dict[str, str]) -> Contradiction:
    return Contradiction(rule=rule, subject=a.subject, predicate=a.predicate, claims=(a.id, b.id),
                         quotes=(a.quote, b.quote), sources=(a.source, b.source),
                         scope=_scope(a, b, publishers), reason=reason)


def find_contradictions(data: Dataset) -> list[Contradiction]:
    """Every pair of claims that contradict each other, by rule, subject and claim ids."""
    publishers = {s.id: s.publisher for s in data.sources}
    claims = [c for c in data.claims if c.flag != FACTUAL_ERROR]
    found: list[Contradiction] = []

    by_property: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for c in claims:
        if c.object is None and c.modality != "negated":
            by_property[(c.subject, c.predicate)].append(c)
    for (_, predicate), group in sorted(by_property.items()):
        rule = _VALUE_RULES.get(predicate)
        for a, b in combinations(sorted(group, key=lambda c: c.id), 2):
            if not _same_condition(a, b):
                continue
            if rule is not None:
                name, check = rule
                reason = check(a, b)
            elif isinstance(a.value, (int, float)) and isinstance(b.value, (int, float)):
                name, reason = "statistic", _statistic(a, b)
            else:
                continue
            if reason:
                found.append(_make(name, a, b, reason, publishers))

    by_relation: dict[tuple[str, str, str], list[Claim]] = defaultdict(list)
    for c in claims:
        by_relation[relation_key(c)].append(c)
    for _, group in sorted(by_relation.items()):
        denials = sorted((c for c in group if c.modality == "negated"), key=lambda c: c.id)
        statements = sorted((c for c in group if c.modality != "negated"), key=lambda c: c.id)
        for a in statements:
            for d in denials:
                if not _same_condition(a, d):
                    continue
                hedge = " (hedged)" if a.modality == "hedged" else ""
                context = d.qualifiers.get("context") or d.qualifiers.get("dose_schedule")
                reason = (f"{a.id} states it{hedge}; {d.id} denies it"
                          + (f" ({context})" if context else ""))
                found.append(_make("denial", a, d, reason, publishers))
    return sorted(found, key=lambda x: (x.rule, x.subject, x.predicate, x.claims))
