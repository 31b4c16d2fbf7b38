"""Text units for extraction: tokens with offsets, paragraphs and sentences.

Everything here keeps character offsets into the original text, never a cleaned copy:
a quote is always ``text[start:end]``. Tolerance (case, curly quotes, hyphens, line
breaks, plurals) lives in :func:`norm_token`, applied alike to names and to text.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

#: A word: letters and digits (Unicode). Hyphens, apostrophes (straight or curly),
#: spaces and line breaks all separate words, so "post-traumatic", "post traumatic"
#: and "post-\ntraumatic" give the same tokens.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Token:
    text: str  # as written
    norm: str  # case-folded, singular
    start: int
    end: int


def norm_token(word: str) -> str:
    """Case-fold and strip a plural ending, so 'Disorders' and 'disorder' agree."""
    w = word.casefold()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("sses", "xes", "ches", "shes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ys")):
        return w[:-1]
    return w


def tokens(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """The words of ``text[start:end]``, with offsets into ``text``."""
    return [Token(m.group(), norm_token(m.group()), m.start(), m.end())
            for m in _WORD.finditer(text, start, len(text) if end is None else end)]


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    paragraph: int  # index of its paragraph

    def text(self, doc: str) -> str:
        return doc[self.start:self.end]


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph, trimmed of surrounding whitespace.

    Saved pages hold one paragraph per line; hard-wrapped text holds short lines with
    blank lines between paragraphs, where a single line break is only a space.
    """
    lines = [m for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    wrapped = bool(re.search(r"\n[ \t\r]*\n", text)) and lines and \
        statistics.median(len(m.group()) for m in lines) < 90
    splitter = re.compile(r"\n[ \t\r]*\n\s*" if wrapped else r"\n+")
    out, pos = [], 0
    for m in list(splitter.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        chunk = text[pos:end]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk.rstrip())
        if trail > lead:
            out.append((pos + lead, pos + trail))
        if m:
            pos = m.end()
    return out


# Sentence ends: ., ! or ? (then closing quotes/brackets), then space and an upper-case
# letter, digit or opening quote. Abbreviations like "Dr." and "e.g." do not end one.
_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ABBREV = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|St|vs|etc|No|Inc|Jr|Sr|Fig|al|approx|U\.S|e\.g|i\.e)|\b[A-Z])\.$")


def sentences(text: str) -> list[Sentence]:
    """Sentences of every paragraph (a heading is a sentence of its own)."""
    out = []
    for p, (ps, pe) in enumerate(paragraphs(text)):
        pos = ps
        for m in _END.finditer(text, ps, pe):
            if _ABBREV.search(text, max(ps, m.start() - 6), m.start() + 1):
                continue
            out.append(Sentence(pos, m.end(), p))
            pos = m.end()
            while pos < pe and text[pos].isspace():
                pos += 1
        if pos < pe:
            out.append(Sentence(pos, pe, p))
    return out


def slug(label: str) -> str:
    """An entity id from a label: lowercase ASCII words joined by hyphens."""
    words = re.findall(r"[a-z0-9]+", label.casefold())
    return "-".join(words)[:80].strip("-") or "entity"
