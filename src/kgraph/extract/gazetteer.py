"""Recognise known entities by their labels, synonyms and abbreviations.

Matching works on normalised tokens (:func:`kgraph.extract.text.norm_token`), so it
tolerates case, plurals, hyphens, curly apostrophes, quotation marks and line breaks. Short all-capital
abbreviations ("PTSD", "ED") must keep their capitals, or ordinary words would match.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from kgraph.extract.text import Token, tokens


@dataclass(frozen=True)
class Mention:
    """A span of the text naming an entity (known, or a new candidate)."""

    start: int
    end: int
    entity: str  # entity id
    type: str  # ontology class local name
    known: bool = True
    by: str = "gazetteer"


@dataclass
class Name:
    norms: tuple[str, ...]
    entity: str
    type: str
    cased: bool  # an abbreviation: capitals must match


def _is_abbreviation(name: str) -> bool:
    letters = re.sub(r"[^A-Za-z]", "", name)
    return 1 < len(letters) <= 6 and letters.isupper()


@dataclass
class Gazetteer:
    #: first normalised token -> names starting with it, longest first
    index: dict[str, list[Name]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def add(self, entity: str, type_: str, name: str, *, label: bool = False) -> None:
        norms = tuple(t.norm for t in tokens(name))
        if not norms or (len(norms) == 1 and len(norms[0]) < 2):
            return
        self.types.setdefault(entity, type_)
        if label or entity not in self.labels:
            self.labels[entity] = name
        bucket = self.index.setdefault(norms[0], [])
        if any(n.norms == norms and n.entity == entity for n in bucket):
            return
        bucket.append(Name(norms, entity, type_, _is_abbreviation(name)))
        # longest first; among equals the entity added first (the most used) wins
        bucket.sort(key=lambda n: -len(n.norms))

    @classmethod
    def from_entities(cls, entities, priority: dict[str, int] | None = None) -> Gazetteer:
        """Index ``entities`` (model.Entity); ``priority`` (higher first) breaks ties."""
        priority = priority or {}
        gaz = cls()
        for e in sorted(entities, key=lambda e: (-priority.get(e.id, 0), e.id)):
            gaz.add(e.id, e.type, e.label, label=True)
            for name in [*e.synonyms, *e.abbreviations]:
                gaz.add(e.id, e.type, name)
        return gaz

    def copy(self) -> Gazetteer:
        return Gazetteer({k: list(v) for k, v in self.index.items()}, dict(self.types), dict(self.labels))

    def find(self, text: str, toks: list[Token] | None = None) -> list[Mention]:
        """Non-overlapping mentions, leftmost-longest."""
        toks = tokens(text) if toks is None else toks
        out: list[Mention] = []
        i = 0
        while i < len(toks):
            hit = None
            for name in self.index.get(toks[i].norm, ()):
                n = len(name.norms)
                if i + n > len(toks):
                    continue
                if any(toks[i + k].norm != name.norms[k] for k in range(n)):
                    continue
                if not _adjacent(text, toks[i:i + n]):
                    continue
                if name.cased and not _capitals_match(toks[i:i + n]):
                    continue
                hit = (name, n)
                break
            if hit:
                name, n = hit
                out.append(Mention(toks[i].start, toks[i + n - 1].end, name.entity, name.type))
                i += n
            else:
                i += 1
        return out


def _adjacent(text: str, toks: list[Token]) -> bool:
    """Tokens of one name are separated only by spaces, hyphens, slashes, apostrophes or
    quotation marks (single-dose “booster” treatments), or by the full stop of a short
    capitalised abbreviation ("Dr. Lopez", "S. Charney")."""
    return all(re.fullmatch(r"[\s\-‐‑–/'’‘“”\"]{1,3}", text[a.end:b.start]) or
               (len(a.text) <= 3 and a.text[0].isupper() and re.fullmatch(r"\.\s{1,2}", text[a.end:b.start]))
               for a, b in itertools.pairwise(toks))


def _capitals_match(toks: list[Token]) -> bool:
    return all(t.text.rstrip("s").isupper() or t.text.isdigit() for t in toks)
