"""Hedging and negation with medspaCy's ConText on a blank spaCy pipeline (no model).

ConText's packaged rules come from clinical notes ("denies", "no evidence of"); clinic
pages hedge and deny in their own words ("may help", "has the potential to", "some
studies suggest", "not a cure", "not suitable for everyone"), added here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: (phrase, ConText category, direction)
CLINIC_RULES = [
    ("may", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("might", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("could", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("can help", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("may help", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("potential", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("potentially", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("promising", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("suggest", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("suggests", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("some studies suggest", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("is thought to", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("are thought to", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("believed to", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("researchers believe", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("it is surmised", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("appears to", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("seems to", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("likely", "POSSIBLE_EXISTENCE", "BIDIRECTIONAL"),
    ("not fully understood", "POSSIBLE_EXISTENCE", "BACKWARD"),
    ("not a cure", "NEGATED_EXISTENCE", "BIDIRECTIONAL"),
    ("not suitable", "NEGATED_EXISTENCE", "BIDIRECTIONAL"),
    ("not appropriate", "NEGATED_EXISTENCE", "BIDIRECTIONAL"),
    ("does not", "NEGATED_EXISTENCE", "FORWARD"),
    ("do not", "NEGATED_EXISTENCE", "FORWARD"),
    ("is not", "NEGATED_EXISTENCE", "FORWARD"),
    ("are not", "NEGATED_EXISTENCE", "FORWARD"),
    ("not", "NEGATED_EXISTENCE", "FORWARD"),
    ("never", "NEGATED_EXISTENCE", "FORWARD"),
    ("have not been", "NEGATED_EXISTENCE", "FORWARD"),
    ("has not been", "NEGATED_EXISTENCE", "FORWARD"),
    ("not intended to", "NEGATED_EXISTENCE", "FORWARD"),
    ("is not administering", "NEGATED_EXISTENCE", "BIDIRECTIONAL"),
]


@dataclass(frozen=True)
class SpanContext:
    negated: bool
    uncertain: bool
    hypothetical: bool


class ModalityTagger:
    """ConText over one sentence at a time, targets given as character spans."""

    def __init__(self):
        import spacy
        from medspacy.context import ConText, ConTextRule

        self.nlp = spacy.blank("en")
        self.context = ConText(self.nlp, rules="default")
        self.context.add([ConTextRule(lit, cat, direction=d) for lit, cat, d in CLINIC_RULES])

    def tag(self, sentence: str, spans: list[tuple[int, int]]) -> dict[tuple[int, int], SpanContext]:
        """ConText attributes of each span (offsets relative to ``sentence``)."""
        from spacy.tokens import Span
        from spacy.util import filter_spans

        doc = self.nlp.make_doc(sentence)
        for i, tok in enumerate(doc):  # one sentence: ConText scopes need the boundary set
            tok.is_sent_start = i == 0
        ents, keys = [], {}
        for s, e in spans:
            span = doc.char_span(s, e, label="TARGET", alignment_mode="expand")
            if span is not None:
                ents.append(span)
                keys[(span.start, span.end)] = (s, e)
        doc.ents = [Span(doc, x.start, x.end, label="TARGET") for x in filter_spans(ents)]
        doc = self.context(doc)
        out = {}
        for ent in doc.ents:
            key = keys.get((ent.start, ent.end))
            if key is not None:
                out[key] = SpanContext(bool(ent._.is_negated), bool(ent._.is_uncertain),
                                       bool(ent._.is_hypothetical))
        # a span dropped by filter_spans (overlap) reads as plain
        for s, e in spans:
            out.setdefault((s, e), SpanContext(False, False, False))
        return out
