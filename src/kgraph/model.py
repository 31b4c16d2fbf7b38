"""The curated data as Python objects: what :mod:`kgraph.load` returns.

Every record remembers where it came from (:class:`Location`), so that any problem
found later can name the file and line.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rdflib import URIRef

# re-exported: test_named_queries imports xref_iri from here


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A file and line (1-based) in the data directory."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(slots=True)
class Entity:
    id: str
    type: str
    label: str
    synonyms: list[str]
    abbreviations: list[str]
    description: str
    loc: Location


@dataclass(slots=True)
class Xref:
    entity: str
    curie: str
    match: str  # "exact" or "close"
    checked: str
    loc: Location


@dataclass(slots=True)
class Source:
    id: str
    file: str
    sha256: str | None
    publisher: str
    titles: list[str]
    description: str
    loc: Location


#: Qualifier keys whose values are entity ids, with the ontology property they map to.
ENTITY_QUALIFIERS = {
    "population": "population",
    "comparator": "comparator",
    "condition": "condition",
    "location": "location",
    "during": "during",
}
#: Qualifier keys whose values are text.
TEXT_QUALIFIERS = {
    "onset": "onset",
    "duration": "duration",
    "dose_schedule": "doseSchedule",
    "period": "period",
    "bound": "bound",
    "context": "context",
    "role": "role",
}
#: Qualifier keys with a typed value.
YEAR_QUALIFIERS = {"year": "year"}
NUMBER_QUALIFIERS = {"max_value": "maxValue"}

#: How a claim states its fact: as said, with a hedge ("may", "can help"), or denied.
MODALITIES = ("asserted", "hedged", "negated")

class FieldLines(Mapping):
    """Field name -> line, as a read-only mapping that costs ~150 bytes, not a dict's ~850:
    the field names are one tuple shared by every record that has them in that order, the
    lines an array (at x1000, 607,000 claims' dicts of lines took half a gigabyte)."""

    __slots__ = ("_keys", "_lines")
    _shared: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __init__(self, lines: Mapping[str, int] | None = None) -> None:
        items = list((lines or {}).items())
        keys = tuple(k for k, _ in items)
        self._keys = FieldLines._shared.setdefault(keys, keys)
        self._lines = array("q", [v for _, v in items])

    def __getitem__(self, key: str) -> int:
        try:
            return self._lines[self._keys.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


@dataclass(slots=True)
class Claim:
    id: str
    source: str
    subject: str
    predicate: str
    quote: str
    evidence: str
    loc: Location
    object: str | None = None
    value: Any = None
    unit: str | None = None
    qualifiers: dict[str, Any] = field(default_factory=dict)
    cites: list[str] = field(default_factory=list)
    attributed_to: list[str] = field(default_factory=list)
    modality: str = "asserted"
    flag: str | None = None
    note: str | None = None
    #: line of each field, for precise messages (a :class:`FieldLines`; a dict is taken)
    field_lines: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.field_lines, FieldLines):
            self.field_lines = FieldLines(self.field_lines)

    def where(self, key: str | None = None) -> Location:
        """The location of one field of the claim (or of the claim itself)."""
        if key and key in self.field_lines:
            return Location(self.loc.path, self.field_lines[key])
        return self.loc

    def entity_refs(self) -> list[tuple[str, str]]:
        """(field, entity id) for every entity the claim refers to."""
        refs = [("subject", self.subject)]
        if self.object is not None:
            refs.append(("object", self.object))
        refs += [(f"qualifiers.{k}", v) for k, v in self.qualifiers.items() if k in ENTITY_QUALIFIERS]
        refs += [("cites", c) for c in self.cites]
        refs += [("attributed_to", a) for a in self.attributed_to]
        return refs


@dataclass
class PropertyInfo:
    """What the ontology says of one property."""

    name: str
    iri: URIRef
    kind: str  # "object" or "datatype"
    label: str
    comment: str
    domain: URIRef | None
    range: URIRef | None


@dataclass
class EvidenceKindInfo:
    notation: str
    iri: URIRef
    label: str
    strength: int


@dataclass
class Vocabulary:
    """The terms of the ontology that curated data may use."""

    classes: dict[str, URIRef]
    #: class IRI -> every superclass IRI (reflexive, transitive)
    superclasses: dict[URIRef, set[URIRef]]
    properties: dict[str, PropertyInfo]
    evidence_kinds: dict[str, EvidenceKindInfo]
    class_labels: dict[str, str]

    def is_a(self, class_name: str, target: URIRef | None) -> bool:
        """Whether instances of ``class_name`` fit ``target`` (None fits anything)."""
        if target is None:
            return True
        iri = self.classes.get(class_name)
        return iri is not None and target in self.superclasses.get(iri, {iri})


@dataclass
class Dataset:
    """Everything curated: sources, entities, cross-references and claims."""

    sources: list[Source]
    entities: list[Entity]
    xrefs: list[Xref]
    claims: list[Claim]

    def entity_index(self) -> dict[str, Entity]:
        return {e.id: e for e in self.entities}

    def source_index(self) -> dict[str, Source]:
        return {s.id: s for s in self.sources}
