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

#: what str.splitlines() breaks a line at: a name never runs across one ("Explained\fKetamine")
_BREAKS = "\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"[{_BREAKS}]")
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
_STOP = {"a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "with", "by", "from", "as", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did", "not", "no", "this", "that", "these", "those", "it", "its", "their", "his", "her", "our", "your", "we", "you", "they", "he", "she", "them", "us", "can", "may", "might", "will", "would", "should", "could", "must", "also", "such", "than", "then", "so", "but", "if", "when", "which", "who", "whom", "whose", "what", "where", "how", "why", "all", "any", "some", "many", "most", "more", "less", "other", "only", "very", "into", "about", "over", "under", "between", "through", "during", "after", "before", "up", "down", "out", "new", "one", "two", "three", "each", "both", "including", "include", "includes", "like", "well", "often", "still", "even", "just", "much", "unlike", "however", "despite", "while", "because", "since", "although", "though", "whether",
         "among", "beyond", "without", "within", "against", "toward", "towards", "across", "around", "via",
         "versus", "vs", "per", "upon", "onto"}


#: what the learned tagger's names are proposed by
TAGGER = "model:tagger"
#: rules for capitalised proper names
_PROPER = {"rule:title", "rule:degree", "rule:journal", "rule:organization", "rule:brand", "rule:place",
           "rule:capitalised"}


@dataclass
class NewEntity:
    id: str
    type: str
    label: str
    synonyms: list[str] = field(default_factory=list)
    by: str = "rule"


@dataclass
class EntityCues:
    """What the curated data teaches about names it does not know yet."""

    #: head noun (last word of a name) -> the type most known names with it have
    heads: dict[str, str] = field(default_factory=dict)
    #: words the training texts put right before known names ("treat", "reduce",
    #: "experience", "various"): the start of a phrase, never part of a name
    context: frozenset[str] = frozenset()
    #: a list header's head noun -> the type of the known names the training texts list
    #: after it ("side effects include drowsiness ...": SideEffect)
    list_heads: dict[str, str] = field(default_factory=dict)
    #: how the curated short descriptive values end (see values.learned_endings)
    value_endings: frozenset[tuple[str, ...]] = frozenset()
    #: every word the training texts put right before a known name without making a
    #: longer known name ("chronic PTSD", "severe anxiety"): it qualifies the name and
    #: is no part of it, so it never extends a known name into a new one
    qualifiers: frozenset[str] = frozenset()
    #: types whose known names include more specific names built on other known names of
    #: the type ("social anxiety disorder" on "anxiety disorder"): only names of these
    #: types are extended into new ones ("IV ketamine" is still ketamine)
    extensible: frozenset[str] = frozenset()
    #: a learned tagger of name-like words (:class:`kgraph.extract.tagger.NameTagger`)
    tagger: object | None = None


def learn_cues(labels: dict[str, str], types: dict[str, str], texts: list[str], gazetteer,
               *, min_count: int = 1, tag: bool = True) -> EntityCues:
    """Head nouns from the known names; context words from the texts they occur in."""
    heads = head_types(labels, types)
    known_words = {n for names in gazetteer.index.values() for name in names for n in name.norms}
    before: Counter = Counter()
    for text in texts:
        toks = tokens(text)
        starts = {t.start: i for i, t in enumerate(toks)}
        for m in gazetteer.find(text, toks):
            i = starts.get(m.start)
            if i:
                prev = toks[i - 1]
                if prev.text.islower() and re.fullmatch(r"[ \t]{1,2}", text[prev.end:m.start]):
                    before[prev.norm] += 1
    context = frozenset(w for w, n in before.items() if n >= min_count and w not in known_words)
    qualifiers = frozenset(w for w, n in before.items() if n >= min_count)
    listed: dict[str, Counter] = defaultdict(Counter)
    for text in texts:
        found = {m.start: m for m in gazetteer.find(text)}
        for m in _LIST_HEADER.finditer(text):
            item = found.get(m.end())
            header = tokens(m.group(1))
            if item is not None and header:
                listed[header[-1].norm][item.type] += 1
    list_heads = {h: c.most_common(1)[0][0] for h, c in listed.items()
                  if c.most_common(1)[0][1] / sum(c.values()) >= 0.6 and h not in _STOP}
    tagger = None
    if tag:
        from kgraph.extract.tagger import NameTagger

        tokenised = [tokens(text) for text in texts]
        found = [[(m.start, m.end, m.type) for m in gazetteer.find(text, toks)]
                 for text, toks in zip(texts, tokenised)]
        tagger = NameTagger.train(texts, tokenised, found, _STOP)
    return EntityCues(heads, context, list_heads, qualifiers=qualifiers,
                      extensible=extensible_types(labels, types), tagger=tagger)


def extensible_types(labels: dict[str, str], types: dict[str, str]) -> frozenset[str]:
    """Types with a known name that is another known name of the type with words before it."""
    names = {(tuple(t.norm for t in tokens(label)), types[k]) for k, label in labels.items()}
    return frozenset(typ for norms, typ in names
                     if any((norms[k:], typ) in names for k in range(1, len(norms))))


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


def find_new_entities(text: str, toks: list[Token], gazetteer, cues: EntityCues | dict[str, str] | None = None
                      ) -> list[NewEntity]:
    """Entity candidates in ``text`` whose names the gazetteer does not know.

    A candidate never overlaps a known name (the known mention is what a claim needs:
    "PTSD symptoms" stays "PTSD") and never runs across a line break (a heading is not
    part of the next paragraph's name).
    """
    if isinstance(cues, dict):
        cues = EntityCues(cues)
    cues = cues or EntityCues()
    heads = cues.heads
    known = gazetteer.find(text, toks)
    known_spans = [(m.start, m.end) for m in known]
    found: dict[str, NewEntity] = {}
    spans: list[tuple[int, int, str]] = []  # every proposed span, with its entity's type

    def propose(label: str, typ: str, by: str, start: int, end: int, synonyms=()) -> None:
        label = label.strip(" ,.;:’'")
        if len(label) < 3 or _LINE_BREAK.search(text, start, end):
            return
        inside = [(a, b) for a, b in known_spans if a < end and start < b]
        if by == "rule:extension" and inside == [(a, b) for a, b in inside if start < a and b == end]:
            inside = []  # "generalized anxiety disorder" around a known "anxiety disorder"
        if inside and (by not in _PROPER or any(a <= start and end <= b for a, b in inside)):
            return  # a proper name may contain a known word ("National Institute on Drug Abuse")
        whole = gazetteer.find(label)
        if whole and whole[0].start == 0 and whole[0].end == len(label):
            return  # a known name after all (say, a plural or another spelling)
        eid = slug(label)
        if eid in gazetteer.types:
            return
        ne = found.setdefault(eid, NewEntity(eid, typ, label, [], by))
        spans.append((start, end, ne.type))
        for s in synonyms:
            if s not in ne.synonyms and s != ne.label:
                ne.synonyms.append(s)

    for typ, by, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            label = re.sub(r"\s+", " ", m.group())
            start = m.start()
            if typ == "Organization":
                lead = re.match(r"(?:(?:The|the|At|In|Our|A)\s+)+", label)
                if lead:
                    label, start = label[lead.end():], start + lead.end()
                head = next((w for w in reversed(label.split()) if w in _ORG_HEADS), None)
                if head is None or label in _ORG_HEADS or not _name_like(label):
                    continue
                typ_here = _ORG_HEADS[head]
            else:
                typ_here = typ
            propose(label, typ_here, by, start, m.end())

    # a capitalised name after a lower-case word, typed by its last word: a learned head
    # noun or a known one-word name ("Prolonged Exposure Therapy", "Ketamine-Assisted
    # Psychotherapy"); in a heading too, where the type is what keeps "Improved Outcomes" out
    single_types = {name.norms[0]: name.type for names in gazetteer.index.values() for name in names
                    if len(name.norms) == 1 and not name.cased}
    for line in re.finditer(rf"[^{_BREAKS}]+", text):
        for m in re.finditer(r"(?:(?<=[a-z,;(] )|(?<=vs\. ))[A-Z][a-z]+(?:-[A-Z][a-z]+)?(?:\s[A-Z][a-z]+(?:-[A-Z][a-z]+)?)+\b",
                             line.group()):
            last = norm_token(re.split(r"[\s-]", m.group())[-1])
            typ = heads.get(last) or single_types.get(last)
            a, b = line.start() + m.start(), line.start() + m.end()
            # a known name inside may only be its head or part of a compound ("Ketamine-Assisted"):
            # "Anxiety Symptoms" and "Chronic Pain Without Opioids" are headings about known things
            if any(norm_token(w) in cues.context or norm_token(w) in _STOP for w in re.split(r"[\s-]", m.group())):
                continue  # "Better Understand Depression": a heading's verb phrase
            if typ and not any(x < b and a < y and y != b and text[y:y + 1] != "-" for x, y in known_spans):
                propose(m.group(), typ, "rule:capitalised", a, b)

    # a brand written in one word with inner capitals ("PointHealth"): an organization
    for m in re.finditer(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b", text):
        propose(m.group(), "Organization", "rule:brand", m.start(), m.end())
    # "in City, State": places
    for m in re.finditer(r"\b(?:in|of|near|at)\s+([A-Z][a-z]+(?:\s[A-Z][a-z]+)?),\s([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b",
                         text):
        for g in (1, 2):
            propose(m.group(g), "Place", "rule:place", m.start(g), m.end(g))

    # "Long Name (LN)": a defined abbreviation, typed by the long name's head noun
    for m in re.finditer(r"\(([A-Z][A-Za-z0-9-]{1,9})\)", text):
        abbr = m.group(1)
        letters = [c for c in abbr if c.isupper()]
        before = [t for t in toks if t.end <= m.start() and t.end > m.start() - 120]
        take = before[-len(letters) - 3:]
        # longest suffix of the preceding words whose initials give the abbreviation
        for k in range(min(len(take), len(letters) + 3), 0, -1):
            cand = take[-k:]
            while cand and cand[0].norm in _STOP:
                cand = cand[1:]  # "and post-traumatic stress disorder (PTSD)"
            initials = "".join(t.text[0].upper() for t in cand if t.norm not in _STOP)
            if cand and initials == "".join(letters):
                long = text[cand[0].start:cand[-1].end]
                typ = heads.get(cand[-1].norm)
                if typ:
                    propose(re.sub(r"\s+", " ", long), typ, "rule:abbreviation", cand[0].start,
                            cand[-1].end, [abbr])
                break

    known_words = {n for names in gazetteer.index.values() for name in names for n in name.norms}

    def modifier(t: Token) -> bool:
        # no tagger: a verb or adverb ("administered", "reducing", "rapidly") is told
        # apart from an adjective only when known names use the word
        if t.norm in _STOP or t.norm in cues.context or not t.text[0].isalnum():
            return False
        return t.norm in known_words or not t.norm.endswith(("ed", "ing", "ly"))

    # phrases ending in a learned head noun ("... receptor", "... disorder", "... cortex")
    if heads:
        known_single = {name.norms[0] for names in gazetteer.index.values() for name in names
                        if len(name.norms) == 1}
        for i, t in enumerate(toks):
            typ = heads.get(t.norm)
            if not typ or t.norm in known_single:
                continue
            j = i
            while j > 0 and i - j < 3 and modifier(toks[j - 1]) and \
                    re.fullmatch(r"[ \-]{1,2}", text[toks[j - 1].end:toks[j].start]):
                j -= 1
            if j == i:
                continue
            label = text[toks[j].start:t.end]
            propose(re.sub(r"\s+", " ", label), typ, "rule:head-noun", toks[j].start, t.end)

    # a known name with modifiers before it that make a more specific one ("generalized
    # anxiety disorder" when only "anxiety disorder" is known, "prolonged exposure therapy"
    # when "therapy" is): the known name's type. Words the training texts put before
    # known names ("chronic PTSD") qualify them and never start one.
    by_start = {t.start: i for i, t in enumerate(toks)}
    for m in known:
        i = by_start.get(m.start)
        if i is None or m.type not in cues.extensible or text[m.start:m.end].isupper():
            continue  # an abbreviation ("PTSD") is a name of its own
        j = i
        while j > 0 and i - j < 2 and _extends(toks[j - 1], toks[j - 2] if j >= 2 else None, text, modifier, cues) and \
                re.fullmatch(r"[ \-]{1,2}", text[toks[j - 1].end:toks[j].start]) and \
                not any(a <= toks[j - 1].start < b for a, b in known_spans):
            j -= 1
        # the phrase must open where a noun phrase can: after a determiner, preposition or
        # conjunction ("with", "such as", "or"), a comma or bracket, or at a line's start
        # ("to treat depression", "data suggests ketamine": a verb before the name)
        if j == i or not _opens_phrase(text, toks[j - 1] if j else None, toks[j]):
            continue
        label = text[toks[j].start:m.end]
        propose(re.sub(r"\s+", " ", label), m.type, "rule:extension", toks[j].start, m.end)

    # the other items of a list whose items are of one type ("drowsiness, dizziness and
    # nausea" after "side effects include"; "analgesia and sedation"): that type
    typed = sorted([(m.start, m.end, m.type) for m in known] + spans)
    _list_items(text, toks, typed, heads, modifier, propose, cues.list_heads)
    # runs of words the learned tagger takes for a name ("emergence reactions",
    # "hippocampus"), where no rule found one: proposed for review, too unsure for claims
    if cues.tagger is not None:
        for a, b, typ in cues.tagger.names(text, toks, known_spans + [(x, y) for x, y, _ in spans]):
            propose(re.sub(r"\s+", " ", text[a:b]), typ, TAGGER, a, b)
    return list(found.values())


#: words after which a noun phrase begins (no "to": "to treat depression")
_OPENERS = {"a", "an", "the", "of", "in", "on", "at", "for", "with", "by", "from", "as", "and", "or", "than",
            "including", "like", "among", "this", "these", "those", "their", "its", "our", "his", "her",
            "your", "some", "many", "most", "other", "both", "each", "any", "all", "between", "into", "about",
            "without", "within", "against", "via", "versus", "vs", "such", "nor", "either", "neither"}


def _opens_phrase(text: str, prev: Token | None, first: Token) -> bool:
    gap = text[prev.end if prev else 0:first.start]
    return prev is None or bool(re.search(r"[,;:(/\n\u2022]\s*$", gap)) or \
        (prev.norm in _OPENERS and prev.text[0].islower())


def _extends(t: Token, prev: Token | None, text: str, modifier, cues: EntityCues) -> bool:
    """Whether ``t`` may start or continue a more specific name before a known one."""
    if t.norm in cues.qualifiers or t.norm in _STOP or not t.text[0].isalpha():
        return False
    if modifier(t):
        return True
    # a participle ("generalized", "prolonged") right after a stop word or a comma opens a
    # noun phrase; elsewhere it is most likely a verb ("ketamine reduced anxiety")
    return t.norm.endswith("ed") and (prev is None or prev.norm in _STOP or
                                      bool(re.search(r"[,;:(]\s*$", text[prev.end:t.start])))


def _name_like(label: str) -> bool:
    """An organization's name: every word capitalised except short connectors."""
    words = label.split()
    return all(w[0].isupper() or w in {"of", "on", "for", "and", "at", "the", "in", "de"} for w in words) and \
        words[0][0].isupper()


#: "side effects include ...", "disorders such as ...": a header, then a list
_LIST_HEADER = re.compile(r"\b([a-z]+(?:[ \-][a-z]+)?)\s+(?:such as|including|like|include|includes|e\.g\.,?)\s+")
_SEP = re.compile(r"\s*(?:,\s*(?:(?:and|or)\s+)?|\s(?:and|or)\s+|/)")


def _list_items(text: str, toks: list[Token], typed: list[tuple[int, int, str]], heads: dict[str, str],
                modifier, propose, list_heads: dict[str, str]) -> None:
    """Propose the untyped items of comma/and lists next to typed ones."""
    starts = {t.start: i for i, t in enumerate(toks)}
    by_start = {a: (a, b, t) for a, b, t in typed}

    def item_at(pos: int) -> tuple[int, int] | None:
        """The item (1-3 words, no stop word or known name) starting at ``pos``."""
        i = starts.get(pos)
        if i is None:
            return None
        j = i
        while j < len(toks) and j - i < 3 and modifier(toks[j]) and (j == i or re.fullmatch(r"[ \-]{1,2}",
                                                                      text[toks[j - 1].end:toks[j].start])):
            j += 1
        if j == i:
            return None
        end = toks[j - 1].end
        # the item must end at a separator or the clause's end
        if not re.match(r"\s*(?:[,.;:)]|\s(?:and|or|in|for|with|during|among|from|at)\s|$)", text[end:end + 8]):
            return None
        return toks[i].start, end

    def items_after(pos: int):
        while True:
            m = _SEP.match(text, pos)
            if not m or "\n" in m.group():
                return
            nxt = m.end()
            hit = by_start.get(nxt)
            if hit:
                yield hit
                pos = hit[1]
                continue
            span = item_at(nxt)
            if span is None:
                return
            yield (*span, None)
            pos = span[1]

    seen: set[int] = set()
    for a, b, typ in typed:
        if a in seen:
            continue
        # the list this item opens (walk back to its first item is not needed: a list is
        # proposed from its first typed item rightwards and from a header leftwards)
        chain = [(a, b, typ), *items_after(b)]
        seen.update(x[0] for x in chain)
        types = {t for _, _, t in chain if t}
        if len(chain) < 2 or len(types) != 1:
            continue
        (only,) = types
        for x0, x1, t in chain:
            if t is None:
                propose(text[x0:x1], only, "rule:list", x0, x1)
    # "side effects include drowsiness, dizziness and nausea": the header's head noun types them
    for m in _LIST_HEADER.finditer(text):
        header = tokens(m.group(1))
        typ = (heads.get(header[-1].norm) or list_heads.get(header[-1].norm)) if header else None
        if not typ:
            continue
        first = item_at(m.end())
        if first is None:
            continue
        chain = [(*first, None), *items_after(first[1])]
        if len(chain) < 2:
            continue
        for x0, x1, t in chain:
            if t is None:
                propose(text[x0:x1], typ, "rule:list", x0, x1)


__all__ = ["EntityCues", "NewEntity", "find_new_entities", "head_types", "learn_cues", "norm_token"]
