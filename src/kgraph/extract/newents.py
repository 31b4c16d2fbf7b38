"""Candidates for entities that ``data/entities`` does not know yet.

Two sources: surface patterns for names that announce their kind (a title "Dr.", a
degree "MD", "Journal of ...", an organization word such as "Institute", a defined
abbreviation "(ABC)"), and head nouns learned from the curated entities: when most known
entities whose label ends in "disorder" are MentalDisorders, a new "... disorder" phrase
is proposed as one.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from kgraph.extract.text import Token, norm_token, slug, tokens

_CAP = r"[A-Z][A-Za-z’'\-]+"
_CONNECT = r"(?:of|on|for|and|at|the|in|de)"
_ORG_HEADS = {
    "Clinic": "Clinic", "Clinics": "Clinic", "Center": "Organization", "Centers": "Organization",
    "Centre": "Organization", "Institute": "ResearchInstitution", "Institutes": "ResearchInstitution",
    "University": "ResearchInstitution", "Hospital": "Organization", "School": "ResearchInstitution",
    "Association": "ProfessionalAssociation", "Society": "ProfessionalAssociation",
    "College": "ProfessionalAssociation", "Foundation": "Organization", "Administration": "GovernmentAgency",
    "Agency": "GovernmentAgency", "Department": "GovernmentAgency", "System": "Organization",
    "Alliance": "Organization", "Health": "Organization", "Medicine": "ResearchInstitution",
}
_PATTERNS = [
    ("Person", "rule:title", re.compile(rf"\b(?:Dr|Prof|Professor)\.?\s+(?:{_CAP}\s+){{0,2}}{_CAP}")),
    ("Person", "rule:degree", re.compile(rf"\b{_CAP}(?:\s+[A-Z]\.)?(?:\s+{_CAP}){{1,2}}(?=,\s+(?:MD|M\.D\.|PhD|Ph\.D\.|DO|MPH|RN|PsyD)\b)")),
    ("Journal", "rule:journal", re.compile(rf"\b(?:(?:{_CAP}\s+){{0,3}}Journal\s+of(?:\s+(?:the\s+)?{_CAP})+|JAMA(?:\s+{_CAP})?|The\s+Lancet(?:\s+{_CAP})?)")),
    ("Organization", "rule:organization", re.compile(
        rf"\b(?:{_CAP}\s+(?:{_CONNECT}\s+)?){{0,6}}(?:{'|'.join(_ORG_HEADS)})(?:\s+(?:{_CONNECT}\s+)+(?:{_CAP}\s*)+)?")),
]
_STOP = {"a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "with", "by", "from", "as", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did", "not", "no", "this", "that", "these", "those", "it", "its", "their", "his", "her", "our", "your", "we", "you", "they", "he", "she", "them", "us", "can", "may", "might", "will", "would", "should", "could", "must", "also", "such", "than", "then", "so", "but", "if", "when", "which", "who", "whom", "whose", "what", "where", "how", "why", "all", "any", "some", "many", "most", "more", "less", "other", "only", "very", "into", "about", "over", "under", "between", "through", "during", "after", "before", "up", "down", "out", "new", "one", "two", "three", "each", "both", "including", "include", "includes", "like", "well", "often", "still", "even", "just", "much", "unlike", "however", "despite", "while", "because", "since", "although", "though", "whether"}


@dataclass
class NewEntity:
    id: str
    type: str
    label: str
    synonyms: list[str] = field(default_factory=list)
    by: str = "rule"


def head_types(labels: dict[str, str], types: dict[str, str], *, min_count: int = 2,
               purity: float = 0.6) -> dict[str, str]:
    """Head noun (last word of a label) -> the type most known entities with it have."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for eid, label in labels.items():
        toks = tokens(label)
        if len(toks) >= 1 and toks[-1].norm not in _STOP and len(toks[-1].norm) > 3:
            counts[toks[-1].norm][types[eid]] += 1
    out = {}
    for head, c in counts.items():
        typ, n = c.most_common(1)[0]
        if n >= min_count and n / sum(c.values()) >= purity:
            out[head] = typ
    return out


def find_new_entities(text: str, toks: list[Token], gazetteer, heads: dict[str, str] | None = None
                      ) -> list[NewEntity]:
    """Entity candidates in ``text`` whose names the gazetteer does not know."""
    known_spans = [(m.start, m.end) for m in gazetteer.find(text, toks)]
    found: dict[str, NewEntity] = {}

    def propose(label: str, typ: str, by: str, start: int, end: int, synonyms=()) -> None:
        label = label.strip(" ,.;:’'")
        if len(label) < 3 or any(a <= start and end <= b for a, b in known_spans):
            return
        whole = gazetteer.find(label)
        if whole and whole[0].start == 0 and whole[0].end == len(label):
            return  # a known name after all (say, a plural or another spelling)
        eid = slug(label)
        if eid in gazetteer.types:
            return
        ne = found.setdefault(eid, NewEntity(eid, typ, label, [], by))
        for s in synonyms:
            if s not in ne.synonyms and s != ne.label:
                ne.synonyms.append(s)

    for typ, by, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            label = re.sub(r"\s+", " ", m.group())
            if typ == "Organization":
                label = re.sub(r"^(?:The|the|At|In|Our|A)\s+", "", label)
                head = next((w for w in reversed(label.split()) if w in _ORG_HEADS), None)
                if head is None or label in _ORG_HEADS:
                    continue
                typ_here = _ORG_HEADS[head]
            else:
                typ_here = typ
            propose(label, typ_here, by, m.start(), m.end())

    # "Long Name (LN)": a defined abbreviation, typed by the long name's head noun
    for m in re.finditer(r"\(([A-Z][A-Za-z0-9-]{1,9})\)", text):
        abbr = m.group(1)
        letters = [c for c in abbr if c.isupper()]
        before = [t for t in toks if t.end <= m.start() and t.end > m.start() - 120]
        take = before[-len(letters) - 3:]
        # longest suffix of the preceding words whose initials give the abbreviation
        for k in range(min(len(take), len(letters) + 3), 0, -1):
            cand = take[-k:]
            initials = "".join(t.text[0].upper() for t in cand if t.norm not in _STOP)
            if initials == "".join(letters):
                long = text[cand[0].start:cand[-1].end]
                head = cand[-1].norm
                typ = (heads or {}).get(head)
                if typ:
                    propose(re.sub(r"\s+", " ", long), typ, "rule:abbreviation", cand[0].start,
                            cand[-1].end, [abbr])
                break

    # phrases ending in a learned head noun ("... receptor", "... disorder", "... cortex")
    if heads:
        known_words = {n for names in gazetteer.index.values() for name in names for n in name.norms}
        known_single = {name.norms[0] for names in gazetteer.index.values() for name in names
                        if len(name.norms) == 1}

        def modifier(t: Token) -> bool:
            # no tagger: a verb or adverb ("administered", "reducing", "rapidly") is told
            # apart from an adjective only when known names use the word
            if t.norm in _STOP or not t.text[0].isalnum():
                return False
            return t.norm in known_words or not t.norm.endswith(("ed", "ing", "ly"))

        for i, t in enumerate(toks):
            typ = heads.get(t.norm)
            if not typ or t.norm in known_single:
                continue
            j = i
            while j > 0 and i - j < 3 and modifier(toks[j - 1]) and \
                    re.fullmatch(r"[\s\-]{1,2}", text[toks[j - 1].end:toks[j].start]):
                j -= 1
            if j == i:
                continue
            label = text[toks[j].start:t.end]
            propose(re.sub(r"\s+", " ", label), typ, "rule:head-noun", toks[j].start, t.end)
    return list(found.values())


__all__ = ["NewEntity", "find_new_entities", "head_types", "norm_token"]
