"""One pass over a document: sentences, entity mentions and value mentions per sentence.

Training and extraction both read documents through :func:`analyse`, so the features
a model learns from are exactly the ones it later sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kgraph.extract.gazetteer import Gazetteer, Mention
from kgraph.extract.newents import _STOP as STOP
from kgraph.extract.newents import EntityCues, NewEntity, find_new_entities
from kgraph.extract.text import Sentence, Token, sentences, tokens
from kgraph.extract.values import ValueMention, find_learned_phrases, find_phrases, find_values


@dataclass
class SentenceInfo:
    sent: Sentence
    tokens: list[Token]
    mentions: list[Mention]
    values: list[ValueMention]


@dataclass
class DocAnalysis:
    text: str
    sentences: list[SentenceInfo]
    new_entities: dict[str, NewEntity] = field(default_factory=dict)

    def mentions(self) -> list[Mention]:
        return [m for s in self.sentences for m in s.mentions]


def analyse(text: str, gazetteer: Gazetteer, *, new_entities: bool = True, heads: EntityCues | dict[str, str] | None = None,
            progress=None) -> DocAnalysis:
    """Split ``text`` into sentences and find what each one mentions.

    ``progress``, when given, is called as ``progress(done, total)`` (in sentences).
    """
    sents = sentences(text)
    endings = heads.value_endings if isinstance(heads, EntityCues) else frozenset()
    all_tokens = tokens(text)
    gaz = gazetteer
    found: dict[str, NewEntity] = {}
    if new_entities:
        gaz = gazetteer.copy()
        for ne in find_new_entities(text, all_tokens, gazetteer, heads):
            found[ne.id] = ne
            for name in [ne.label, *ne.synonyms]:
                gaz.add(ne.id, ne.type, name)
    mentions = gaz.find(text, all_tokens)
    if any(ne.by == "rule:extension" for ne in found.values()):
        mentions = _with_extended_names(mentions, gazetteer.find(text, all_tokens), found)
    # a local abbreviation, "Long Name (LN)", names the long form's entity from then on
    mentions = _with_local_abbreviations(text, all_tokens, mentions, gaz)
    known = set(gazetteer.types)
    mentions = [m if m.entity in known else
                Mention(m.start, m.end, m.entity, m.type, known=False, by=found[m.entity].by
                        if m.entity in found else "abbreviation")
                for m in mentions]
    out = []
    mi = 0
    tok_i = 0
    for n, s in enumerate(sents):
        while mi < len(mentions) and mentions[mi].end <= s.start:
            mi += 1
        ms = []
        j = mi
        while j < len(mentions) and mentions[j].start < s.end:
            if mentions[j].end <= s.end:
                ms.append(mentions[j])
            j += 1
        while tok_i < len(all_tokens) and all_tokens[tok_i].end <= s.start:
            tok_i += 1
        k = tok_i
        toks = []
        while k < len(all_tokens) and all_tokens[k].start < s.end:
            toks.append(all_tokens[k])
            k += 1
        vals = [v for v in find_values(text, s.start, s.end)
                if not any(m.start < v.end and v.start < m.end for m in ms)]
        vals += find_phrases(text, s.start, s.end)
        if endings:
            vals += [v for v in find_learned_phrases(text, toks, endings, STOP)
                     if not any(v.start < w.end and w.start < v.end for w in vals)]
        out.append(SentenceInfo(s, toks, ms, vals))
        if progress is not None:
            progress(n + 1, len(sents))
    return DocAnalysis(text, out, found)


def _with_extended_names(mentions: list[Mention], base: list[Mention], found: dict[str, NewEntity]
                         ) -> list[Mention]:
    """Keep the known name inside a new, more specific one: "generalized anxiety disorder"
    is new, but what a sentence says of it may be said of anxiety disorders (and a
    wrongly extended name, "older dissociative anesthetics", still names the known one)."""
    outer = [m for m in mentions if m.entity in found and found[m.entity].by == "rule:extension"]
    inner = [b for b in base for m in outer if m.start < b.start and b.end <= m.end]
    return sorted(mentions + inner, key=lambda m: (m.start, -m.end))


def _with_local_abbreviations(text: str, toks: list[Token], mentions: list[Mention],
                              gaz: Gazetteer) -> list[Mention]:
    """Add mentions of abbreviations the text defines right after a known name."""
    import re

    extra: dict[str, tuple[str, str]] = {}
    for m in mentions:
        after = re.match(r"\s*\(([A-Z][A-Za-z0-9-]{1,9})\)", text[m.end:m.end + 14])
        if after and after.group(1) not in extra:
            extra[after.group(1)] = (m.entity, m.type)
    if not extra:
        return mentions
    local = Gazetteer()
    for abbr, (eid, typ) in extra.items():
        local.add(eid, typ, abbr)
    taken = [(m.start, m.end) for m in mentions]
    for lm in local.find(text, toks):
        if not any(lm.start < b and a < lm.end for a, b in taken):
            mentions.append(lm)
    return sorted(mentions, key=lambda m: m.start)
