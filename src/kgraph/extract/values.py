"""Literal values a claim can carry: percentages, counts, ratios, years, decades,
dates, durations ("within hours", "up to two weeks"), phone numbers and websites."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
    "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100,
}
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9}

_NUM = r"\d+(?:[.,]\d+)*"
_QTY = (r"(?:" + _NUM + r"|a few|several|a couple of|a matter of|a|an|" +
        "|".join(_NUMBER_WORDS) + r")")
_TUNIT = r"(?:minutes?|hours?|days?|weeks?|months?|years?)"
_TPREFIX = (r"(?:within|up to|for up to|in as little as|as little as|in a matter of|over|for|after|"
            r"anywhere from|from|in|as long as|at least|immediately after)")
_TCORE = rf"(?:{_QTY}\s+)?{_TUNIT}(?:\s+(?:or|to|and)\s+(?:even\s+)?(?:{_QTY}\s+)?{_TUNIT})*"
_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("phone", re.compile(r"\(?\b\d{3}\)?[ .-]\d{3}-\d{4}\b")),
    ("url", re.compile(r"\b(?:https?://)?(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|gov|edu|health|clinic)\b(?:/[^\s)]*)?",
                       re.IGNORECASE)),
    ("date", re.compile(r"\b(?:" + "|".join(m.capitalize() for m in _MONTHS) + r")\s+\d{1,2},\s+\d{4}\b")),
    ("percent", re.compile(rf"\b({_NUM})(?:\s*(?:to|-|–)\s*({_NUM}))?\s*(?:%|percent\b|per cent\b)")),
    ("ratio", re.compile(r"\b(twice|three times|four times|(?:one|1) (?:in|out of) (?:\d+|"
                         + "|".join(_NUMBER_WORDS) + r"))\b", re.IGNORECASE)),
    ("count", re.compile(rf"\b({_NUM})(?:\s*(?:to|-|–)\s*({_NUM}))?\s*(thousand|million|billion)?\s+"
                         r"(?:people|adults|americans|patients|individuals|veterans|children|women|men|deaths|cases)\b",
                         re.IGNORECASE)),
    ("decade", re.compile(r"\b(1[89]\d0|20[0-2]0)s\b")),
    ("year", re.compile(r"\b(?:in|since|of|by|from)\s+((?:19|20)\d{2})\b(?!s)")),
    ("duration", re.compile(rf"\b(?:{_TPREFIX}\s+)?{_TCORE}\b(?:\s+(?:post-infusion|after (?:the )?(?:first )?(?:treatment|infusion)))?",
                            re.IGNORECASE)),
    ("speed", re.compile(r"\b(?:rapid(?:ly)?|immediate(?:ly)?|quick(?:ly)?|fast-acting|slow|short-lived|lasting)\b", re.IGNORECASE)),
]


#: Descriptive phrases a string property can take: what something "is" ("PTSD is a
#: psychiatric condition that ..."), an apposition ("glutamate, the brain's primary
#: excitatory neurotransmitter,") and a title after a degree ("Jane Doe, MD, Professor of
#: Psychiatry at ..."). They may contain names, unlike the other values.
_PHRASES = [
    re.compile(r"\b(?:is|are|was|were)\s+((?:a|an|the)\s+[^.;:!?()]{6,200}?)(?=\s*(?:[.;:!?]|,\s|$))"),
    re.compile(r"[\w)],\s+((?:a|an|the)\s+[^,.;:!?()]{6,120}?)(?=\s*,)"),
    re.compile(r",\s+(?:MD|M\.D\.|PhD|Ph\.D\.|DO|MPH|PsyD),\s+([A-Z][^,.;:()]{3,100}?)(?=\s+(?:at|of the|in)\s|\s*[,.;(])"),
]


def find_phrases(text: str, start: int = 0, end: int | None = None) -> list[ValueMention]:
    """Descriptive phrases in ``text[start:end]`` (kind ``phrase``; the value is the text)."""
    end = len(text) if end is None else end
    out: list[ValueMention] = []
    for pattern in _PHRASES:
        for m in pattern.finditer(text, start, end):
            s, e = m.span(1)
            if "\n" in text[s:e] or any(v.start < e and s < v.end for v in out):
                continue
            out.append(ValueMention(s, e, "phrase", re.sub(r"\s+", " ", text[s:e])))
    return sorted(out, key=lambda v: v.start)


@dataclass(frozen=True)
class ValueMention:
    start: int
    end: int
    kind: str
    value: Any
    unit: str | None = None
    max_value: float | None = None


def _number(s: str) -> float:
    return float(s.replace(",", ""))


def _clean(n: float) -> int | float:
    return int(n) if float(n).is_integer() else round(n, 2)


def find_values(text: str, start: int = 0, end: int | None = None) -> list[ValueMention]:
    """Value mentions in ``text[start:end]``, non-overlapping (earlier patterns win)."""
    end = len(text) if end is None else end
    taken: list[tuple[int, int]] = []
    out: list[ValueMention] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text, start, end):
            s, e = m.span()
            if s == e or any(s < b and a < e for a, b in taken):
                continue
            vm = _interpret(kind, m)
            if vm is None:
                continue
            taken.append((s, e))
            out.append(vm)
    return sorted(out, key=lambda v: v.start)


def _interpret(kind: str, m: re.Match) -> ValueMention | None:
    s, e, surface = m.start(), m.end(), m.group()
    if kind == "phone":
        return ValueMention(s, e, kind, surface)
    if kind == "url":
        if "." not in surface or surface[0].isdigit():
            return None
        url = surface if surface.lower().startswith("http") else "https://" + surface
        return ValueMention(s, e, kind, url)
    if kind == "date":
        month, day, year = re.match(r"(\w+)\s+(\d+),\s+(\d+)", surface).groups()
        return ValueMention(s, e, kind, f"{year}-{_MONTHS.index(month.lower()) + 1:02d}-{int(day):02d}")
    if kind == "percent":
        lo, hi = _number(m.group(1)), m.group(2)
        return ValueMention(s, e, kind, _clean(lo), "percent", _clean(_number(hi)) if hi else None)
    if kind == "count":
        scale = _SCALE.get((m.group(3) or "").lower(), 1)
        lo, hi = _number(m.group(1)) * scale, m.group(2)
        return ValueMention(s, e, kind, _clean(lo), "people", _clean(_number(hi) * scale) if hi else None)
    if kind == "ratio":
        words = surface.lower().split()
        if words[0] == "twice":
            return ValueMention(s, e, kind, 2, "ratio")
        if words[1] == "times":
            return ValueMention(s, e, kind, _NUMBER_WORDS[words[0]], "ratio")
        n = words[-1]
        n = int(n) if n.isdigit() else _NUMBER_WORDS[n]
        # one decimal, as curators write a share ("one in 11" is 9.1 %, "a third" 33.3 %)
        return ValueMention(s, e, kind, _clean(round(100 / n, 1)), "percent")
    if kind == "decade":
        return ValueMention(m.start(), m.end(), kind, m.group())
    if kind == "year":
        return ValueMention(m.start(1), m.end(1), kind, int(m.group(1)))
    if kind == "duration":
        return ValueMention(s, e, kind, surface)
    if kind == "speed":
        return ValueMention(s, e, kind, surface.lower())
    return None


def learned_endings(values: list[str]) -> frozenset[tuple[str, ...]]:
    """The last two words of the curated short descriptive values that no pattern reads
    ("favorable safety profile", "minimal side effects", "generally well-tolerated"): a
    phrase of a new page ending the same way is a value of the same kind."""
    from kgraph.extract.text import tokens

    out = set()
    for v in values:
        toks = tokens(v)
        if 1 <= len(toks) <= 4 and not find_values(v):
            out.add(tuple(t.norm for t in toks[-2:]))
    return frozenset(out)


def find_learned_phrases(text: str, toks, endings: frozenset[tuple[str, ...]], stop: set[str]) -> list[ValueMention]:
    """Phrases of the tokens ``toks`` (one sentence) that end like a curated value, with
    up to three lower-case modifiers before the ending (kind ``phrase``)."""
    out: list[ValueMention] = []
    if not endings:
        return out
    norms = [t.norm for t in toks]
    for n in (2, 1):
        for i in range(len(toks) - n + 1):
            if tuple(norms[i:i + n]) not in endings or \
                    any(not re.fullmatch(r"[ \-]", text[a.end:b.start]) for a, b in zip(toks[i:i + n - 1], toks[i + 1:i + n])):
                continue
            j = i
            while j > 0 and i - j < 3 and toks[j - 1].text.islower() and len(toks[j - 1].text) > 1 and \
                    norms[j - 1] not in stop and re.fullmatch(r"[ \-]", text[toks[j - 1].end:toks[j].start]):
                j -= 1
            s, e = toks[j].start, toks[i + n - 1].end
            if not any(v.start < e and s < v.end for v in out):
                out.append(ValueMention(s, e, "phrase", re.sub(r"\s+", " ", text[s:e])))
    return sorted(out, key=lambda v: v.start)
