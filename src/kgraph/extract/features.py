"""Features of a candidate claim: a sentence and an (entity, entity) or (entity, value) pair."""

from __future__ import annotations

import itertools
import re

from kgraph.extract.analysis import SentenceInfo

_WORDS_STOP = {"the", "a", "an", "of", "and", "to", "in", "is", "are", "for", "with", "that", "as", "its"}

#: Evidence cues: a cue name and what in a sentence (or the paragraph before it) shows it.
EVIDENCE_CUES = {
    "rct": re.compile(r"\brandomi[sz]ed\b|\bcontrolled trial|\bplacebo|\bRCT\b|\bdouble[- ]blind", re.IGNORECASE),
    "review": re.compile(r"\bsystematic review|\bmeta-analys[ie]s|\breview of\b", re.IGNORECASE),
    "journal": re.compile(r"\bjournal\b|\bpublished\b|\bJAMA\b|\bLancet\b", re.IGNORECASE),
    "study_named": re.compile(r"\b(?:a|one|this|the|small|recent|new) (?:\w+ )?(?:study|trial|analysis)\b|"
                              r"\bresearchers (?:at|from)\b|\binvestigators?\b|\bfollow-up\b", re.IGNORECASE),
    "institution": re.compile(r"\b(?:University|Institute|School of Medicine|Mount Sinai|Hospital|Center)\b"),
    "year": re.compile(r"\b(?:19|20)\d{2}\b"),
    "observed": re.compile(r"\bobserv|\bnoticed\b|\bdiscover|\bfield\b|\bsmall study\b|\bdoctors\b", re.IGNORECASE),
    "according": re.compile(r"\baccording to\b|\bstatistics\b|\breports?\b", re.IGNORECASE),
    "quote_marks": re.compile(r"[“”\"]"),
    "speech": re.compile(r"\b(?:said|says|explains?|explained|stated|notes|noted|according to Dr)\b", re.IGNORECASE),
    "studies_show": re.compile(r"\b(?:studies|research|researchers|evidence|scientists|trials)\b|\bhas been shown\b|"
                               r"\bhave been shown\b|\bshown to\b", re.IGNORECASE),
    "we": re.compile(r"\b(?:we|our|us)\b", re.IGNORECASE),
}


def words(info: SentenceInfo, start: int, end: int) -> list[str]:
    return [t.norm for t in info.tokens if t.start >= start and t.end <= end]


def pair_features(info: SentenceInfo, a, b, type_a: list[str], type_b: list[str],
                  b_kind: str, implicit: str = "", doc_text: str | None = None) -> dict[str, float]:
    """``a`` is the subject candidate; ``b`` the object (a Mention) or a ValueMention.

    ``type_a``/``type_b``: the candidate's class and its superclasses (most specific first).
    """
    f: dict[str, float] = {}
    s0, s1 = info.sent.start, info.sent.end
    first, second = (a, b) if a.start <= b.start else (b, a)
    between = words(info, first.end, second.start)
    f["order=" + ("ab" if first is a else "ba")] = 1
    n = len(between)
    f["dist=" + ("0" if n == 0 else "1-2" if n <= 2 else "3-5" if n <= 5 else "6-10" if n <= 10 else "11+")] = 1
    f["kind=" + b_kind] = 1
    if b_kind != "entity":
        # a value's own words and the two before it: "within hours" is an onset, "up to two
        # weeks" or "can last weeks" a duration
        for w in words(info, b.start, b.end)[:6]:
            f["vw=" + w] = 1
        for w in words(info, s0, b.start)[-2:]:
            f["vpre=" + w] = 1
    if implicit:
        # an unmentioned subject: what matters is the object's side and the opening words
        f["implicit=" + implicit] = 1
        f[f"implicit_t={implicit}|{type_a[0]}|{type_b[0]}"] = 1
        for w in words(info, info.sent.start, b.start)[:4]:
            f["open=" + w] = 1
    for ta in type_a[:3]:
        f["ta=" + ta] = 1
        for tb in type_b[:3]:
            f[f"tt={ta}|{tb}"] = 1
    for tb in type_b[:3]:
        f["tb=" + tb] = 1
    ta0, tb0 = type_a[0], type_b[0]
    for w in between:
        if w not in _WORDS_STOP:
            f["bw=" + w] = 1
            f[f"bwt={w}|{ta0}|{tb0}"] = 0.5
    for x, y in itertools.pairwise(between):
        f[f"bb={x}_{y}"] = 1
    if n <= 3:
        f["short=" + "_".join(between)] = 1
    before = words(info, s0, first.start)[-3:]
    after = words(info, second.end, s1)[:3]
    for w in before:
        f["pre=" + w] = 1
    for w in after:
        f["post=" + w] = 1
    # what words leave out: punctuation and other names between the pair ("A, B and C"
    # is a list, rarely a relation between its items), and a heading
    if implicit:
        gap = ""
        inside = 0
    else:
        gap = doc_text[first.end:second.start] if doc_text is not None else ""
        inside = sum(1 for m in info.mentions if first.end <= m.start and m.end <= second.start)
    for ch, name in ((",", "comma"), ("(", "paren"), (")", "paren"), (":", "colon"), (";", "semi"),
                     ("–", "dash"), ("—", "dash")):
        if ch in gap:
            f["gap=" + name] = 1
    f["inside=" + ("0" if inside == 0 else "1" if inside == 1 else "2+")] = 1
    if gap and re.fullmatch(r"[\s,()/]*(?:(?:and|or)\s*)?", gap):
        f["coord"] = 1
        f[f"coord_t={ta0}|{tb0}"] = 1
    if doc_text is not None and not re.search(r"[.!?]\W*$", doc_text[s0:s1]) and len(info.tokens) <= 14:
        f["heading"] = 1
    if info.mentions and not implicit:
        f["a_first=" + str(info.mentions[0] is a or info.mentions[0].start == a.start)] = 1
    others = {m.type for m in info.mentions if m is not a and m is not b}
    for t in others:
        f["other=" + t] = 0.5
    return f


def evidence_features(text: str, info: SentenceInfo, paragraph_before: str, predicate: str,
                      subject_types: list[str], mention_types: set[str],
                      paragraph_types: set[str]) -> dict[str, float]:
    sent = text[info.sent.start:info.sent.end]
    f: dict[str, float] = {"pred=" + predicate: 1}
    for t in subject_types[:3]:
        f["st=" + t] = 1
    for name, cue in EVIDENCE_CUES.items():
        if cue.search(sent):
            f["cue=" + name] = 1
        if paragraph_before and cue.search(paragraph_before):
            f["pcue=" + name] = 0.5
    for t in mention_types:
        f["mt=" + t] = 1
    for t in paragraph_types:
        f["pt=" + t] = 0.5
    for w in {t.norm for t in info.tokens}:
        if w not in _WORDS_STOP:
            f["w=" + w] = 0.2
    return f
