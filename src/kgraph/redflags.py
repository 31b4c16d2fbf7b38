"""Claims whose wording goes beyond their evidence: rule-based red flags (issue 12).

Each rule reads a claim's verbatim quote (and what the other claims say of its subject)
and fires with the words that matched. The rules, by id:

* ``cure`` -- "cure(s/d)" or "curative", unless denied ("not a cure") or part of the
  standard disclaimer ("not intended to diagnose, treat, cure, or prevent");
* ``gold-standard`` -- "gold standard" said of a treatment the page's own publisher (or
  one of its brands) offers;
* ``fda-approved`` -- "FDA approved" where the claim itself, or a ``regulatoryStatus``
  claim about the same treatment or its drug, says the status is investigational,
  off-label or not evaluated;
* ``no-side-effects`` -- "no side effects", "without side effects", "side-effect free";
* ``permanent`` -- "permanent(ly)" or "forever", unless denied;
* ``absolute-language`` -- absolute or superlative words ("always", "guaranteed",
  "breakthrough", "revolutionary", "the best") in a clinic statement that cites nothing,
  attributes it to no one and is not hedged;
* ``factual-error`` -- the curators flagged the claim as a factual error (with their note).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from kgraph.assess import FACTUAL_ERROR
from kgraph.model import Claim, Dataset


@dataclass(frozen=True)
class Rule:
    id: str
    label: str


RULES = (
    Rule("cure", "promises a cure"),
    Rule("gold-standard", "calls its own treatment the gold standard"),
    Rule("fda-approved", "says FDA approved where the status is investigational or off-label"),
    Rule("no-side-effects", "says there are no side effects"),
    Rule("permanent", "promises a permanent effect"),
    Rule("absolute-language", "absolute or superlative words in an uncited clinic statement"),
    Rule("factual-error", "flagged by the curators as a factual error"),
)
RULE_LABELS = {r.id: r.label for r in RULES}


@dataclass(frozen=True)
class RedFlag:
    claim: str
    quote: str
    rule: str
    #: the words that made the rule fire (the curators' note for ``factual-error``)
    match: str
    source: str
    subject: str
    predicate: str
    object: str | None

    @property
    def rule_label(self) -> str:
        return RULE_LABELS[self.rule]


_NEGATION = re.compile(r"\b(not|no|never|nor|without|neither|isn['’]t|aren['’]t|won['’]t|cannot|can['’]t)\b")
_CURE = re.compile(r"\b(cur(e|es|ed|ing)|curative)\b", re.IGNORECASE)
_DISCLAIMER = re.compile(r"not intended to (diagnose|treat)", re.IGNORECASE)
_GOLD = re.compile(r"\bgold[- ]standard\b", re.IGNORECASE)
_FDA = re.compile(r"\bFDA[- ](has )?approv\w*|\bapproved by the (U\.?S\.? )?(FDA|Food and Drug Administration)"
                  r"|\b(FDA|Food and Drug Administration) (has |had )?approved\b", re.IGNORECASE)
_OFF_LABEL = re.compile(r"investigational|off[- ]label|not (been )?(evaluated|approved)|unapproved|experimental",
                        re.IGNORECASE)
_NO_SIDE_EFFECTS = re.compile(
    r"\b(no|zero|without( any)?|free (of|from)( any)?)\s+(known\s+|serious\s+|significant\s+|major\s+|adverse\s+)?"
    r"side[- ]effects?\b|\bside[- ]effect[- ]free\b|\bno adverse effects\b", re.IGNORECASE)
_PERMANENT = re.compile(r"\b(permanent(ly)?|forever)\b", re.IGNORECASE)
_ABSOLUTE = re.compile(
    r"\b(always|guarantee[ds]?|100 ?%|completely|totally|miracle|miraculous|breakthrough|groundbreaking|"
    r"revolutioni[sz]\w*|revolutionary|game[- ]changer|unparalleled|unprecedented|life[- ]changing|"
    r"the best|safest|fastest|most effective|(clinically|scientifically) proven|proven to (cure|work))\b", re.IGNORECASE)


def _denied(text: str, start: int) -> bool:
    """Whether one of the four words before ``start`` denies what follows."""
    before = " ".join(text[:start].split()[-4:]).casefold()
    return bool(_NEGATION.search(before))


def _first_undenied(pattern: re.Pattern, text: str) -> str | None:
    for m in pattern.finditer(text):
        if not _denied(text, m.start()):
            return m.group(0)
    return None


class _Context:
    """What other claims say, for the rules that need it."""

    def __init__(self, data: Dataset):
        claims = [c for c in data.claims if c.modality != "negated" and c.flag != FACTUAL_ERROR]
        self.publishers = {s.id: s.publisher for s in data.sources}
        parts: dict[str, set[str]] = defaultdict(set)  # organization -> its brands and parts
        involves: dict[str, set[str]] = defaultdict(set)  # therapy -> drugs
        offers: dict[str, set[str]] = defaultdict(set)
        statuses: dict[str, list[str]] = defaultdict(list)
        for c in claims:
            if c.predicate == "partOf" and c.object:
                parts[c.object].add(c.subject)
            elif c.predicate == "involvesDrug" and c.object:
                involves[c.subject].add(c.object)
            elif c.predicate == "offersTherapy" and c.object:
                offers[c.subject].add(c.object)
            elif c.predicate == "regulatoryStatus":
                statuses[c.subject].append(f"{c.value} {c.quote}")
        self.parts, self.involves, self.offers, self.statuses = parts, involves, offers, statuses

    def offered_by_publisher(self, claim: Claim) -> bool:
        publisher = self.publishers.get(claim.source)
        if publisher is None:
            return False
        orgs, todo = {publisher}, [publisher]
        while todo:
            for part in self.parts.get(todo.pop(), ()):
                if part not in orgs:
                    orgs.add(part)
                    todo.append(part)
        offered = {t for org in orgs for t in self.offers.get(org, ())}
        offered |= {d for t in offered for d in self.involves.get(t, ())}
        return claim.subject in offered

    def status_texts(self, subject: str) -> list[str]:
        related = {subject, *self.involves.get(subject, ())}
        related |= {t for t, drugs in self.involves.items() if subject in drugs}
        return [text for s in sorted(related) for text in self.statuses.get(s, ())]


def _check(claim: Claim, ctx: _Context) -> list[tuple[str, str]]:
    quote = claim.quote
    fired: list[tuple[str, str]] = []
    if claim.flag == FACTUAL_ERROR:
        fired.append(("factual-error", claim.note or "flagged as a factual error"))
    if claim.modality == "negated":
        return fired
    if (claim.predicate != "notCureFor" and not _DISCLAIMER.search(quote)
            and (hit := _first_undenied(_CURE, quote)) is not None):
        fired.append(("cure", hit))
    if (hit := _first_undenied(_GOLD, quote)) is not None and ctx.offered_by_publisher(claim):
        fired.append(("gold-standard", hit))
    if (hit := _first_undenied(_FDA, quote)) is not None:
        own = f"{claim.value or ''} {quote}"
        if _OFF_LABEL.search(own) or any(_OFF_LABEL.search(t) for t in ctx.status_texts(claim.subject)):
            fired.append(("fda-approved", hit))
    if m := _NO_SIDE_EFFECTS.search(quote):
        fired.append(("no-side-effects", m.group(0)))
    if (hit := _first_undenied(_PERMANENT, quote)) is not None:
        fired.append(("permanent", hit))
    if (claim.evidence == "clinic-statement" and not claim.cites and not claim.attributed_to
            and claim.modality == "asserted"):
        words = []
        for m in _ABSOLUTE.finditer(quote):
            if not _denied(quote, m.start()) and m.group(0).casefold() not in (w.casefold() for w in words):
                words.append(m.group(0))
        if words:
            fired.append(("absolute-language", ", ".join(words)))
    return fired


def find_red_flags(data: Dataset) -> list[RedFlag]:
    """Every red flag of every claim, by claim id then rule."""
    ctx = _Context(data)
    order = {r.id: i for i, r in enumerate(RULES)}
    flags = []
    for claim in sorted(data.claims, key=lambda c: c.id):
        for rule, match in sorted(_check(claim, ctx), key=lambda t: order[t[0]]):
            flags.append(RedFlag(claim=claim.id, quote=claim.quote, rule=rule, match=match, source=claim.source,
                                 subject=claim.subject, predicate=claim.predicate, object=claim.object))
    return flags
