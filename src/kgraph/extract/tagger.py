"""A learned name tagger: which words of a text are (part of) a name of some kind.

Trained on the training texts, where every mention of a curated entity is a positive
example of its type and every other word a negative one. Its features leave the word
itself out (its suffixes, shape and neighbours stay): a new page's names are words the
curated data has not seen, so what it must learn is what a name *looks like* and where
names stand ("side effects include ...", "... in the prefrontal cortex"), not which words
the curated names use.
"""

from __future__ import annotations

import re

from kgraph.extract.text import Token

OTHER = "-"
#: at most this many words in a tagged name
MAX_WORDS = 4


def _shape(t: Token) -> str:
    w = t.text
    if w.isdigit():
        return "digit"
    if w.isupper():
        return "upper"
    if w[0].isupper():
        return "cap"
    return "lower"


def _gap(text: str, a: int, b: int) -> str:
    g = text[a:b]
    if not g.strip():
        return "nl" if "\n" in g else "sp"
    for ch, name in ((",", "comma"), ("(", "open"), (")", "close"), (":", "colon"), (";", "semi"),
                     (".", "stop"), ("-", "hyphen"), ("/", "slash"), ("’", "apos"), ("'", "apos")):
        if ch in g:
            return name
    return "other"


def token_features(text: str, toks: list[Token], i: int, stop: set[str]) -> dict[str, float]:
    t = toks[i]
    n = t.norm
    f: dict[str, float] = {"bias": 1, "shape=" + _shape(t): 1, "suf3=" + n[-3:]: 1, "suf4=" + n[-4:]: 1,
                           "suf2=" + n[-2:]: 1, "len=" + str(min(len(n), 10) // 3): 1}
    if t.text != n and t.text.casefold() != n:
        f["plural"] = 1
    prev = toks[i - 1] if i else None
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    gp = _gap(text, prev.end, t.start) if prev else "nl"
    gn = _gap(text, t.end, nxt.start) if nxt else "nl"
    f["gp=" + gp] = 1
    f["gn=" + gn] = 1
    if prev is not None and gp in ("sp", "hyphen"):
        f["p1=" + prev.norm] = 1
        f["p1stop=" + str(prev.norm in stop)] = 1
        f["p1shape=" + _shape(prev)] = 1
        if i >= 2 and _gap(text, toks[i - 2].end, prev.start) in ("sp", "hyphen"):
            f["p2=" + toks[i - 2].norm] = 1
    if nxt is not None and gn in ("sp", "hyphen"):
        f["n1=" + nxt.norm] = 1
        f["n1stop=" + str(nxt.norm in stop)] = 1
        f["n1shape=" + _shape(nxt)] = 1
    return f


class NameTagger:
    """Word -> the type of name it belongs to (or :data:`OTHER`), then runs of tagged
    words -> names."""

    def __init__(self, model, stop: set[str], min_proba: float = 0.5):
        self._model = model
        self._stop = stop
        self.min_proba = min_proba

    @classmethod
    def train(cls, texts: list[str], tokenised: list[list[Token]], mentions: list[list], stop: set[str],
              C: float = 0.3) -> NameTagger | None:
        """``mentions[k]``: the known mentions (start, end, type) of ``texts[k]``."""
        from kgraph.extract.extractor import _LinearModel

        X, y = [], []
        for text, toks, ms in zip(texts, tokenised, mentions):
            spans = sorted(ms)
            j = 0
            for i, t in enumerate(toks):
                if t.norm in stop or not t.text[0].isalpha():
                    continue
                while j < len(spans) and spans[j][1] <= t.start:
                    j += 1
                label = spans[j][2] if j < len(spans) and spans[j][0] <= t.start else OTHER
                X.append(token_features(text, toks, i, stop))
                y.append(label)
        if len(set(y)) < 2:
            return None
        return cls(_LinearModel(C=C).fit(X, y), stop)

    def names(self, text: str, toks: list[Token], taken: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
        """(start, end, type) of each run of tagged words outside ``taken`` spans."""
        free = [i for i, t in enumerate(toks) if t.norm not in self._stop and t.text[0].isalpha() and
                not any(a < t.end and t.start < b for a, b in taken)]
        if not free:
            return []
        probs = self._model.predict_proba([token_features(text, toks, i, self._stop) for i in free])
        classes = self._model.classes_
        other = classes.index(OTHER)
        tagged: dict[int, str] = {}
        for i, row in zip(free, probs):
            if 1 - row[other] >= self.min_proba:
                tagged[i] = classes[max((k for k in range(len(classes)) if k != other), key=lambda k: row[k])]
        out = []
        i = 0
        while i < len(toks):
            if i not in tagged:
                i += 1
                continue
            j = i
            while j + 1 in tagged and j + 1 - i < MAX_WORDS and \
                    re.fullmatch(r"[ \-]{1,2}", text[toks[j].end:toks[j + 1].start]):
                j += 1
            out.append((toks[i].start, toks[j].end, tagged[j]))
            i = j + 1
        return out
