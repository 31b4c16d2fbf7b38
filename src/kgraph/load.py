"""Read the curated YAML files and the ontology.

Loading is forgiving: a record with a missing or mistyped field is reported as a
:class:`~kgraph.validate.Problem` and skipped, so that one run shows every problem.
Only a file that cannot be parsed at all stops its own loading (again as a problem).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import yaml
from rdflib import OWL, RDF, RDFS, SKOS, Graph, URIRef
from rdflib.exceptions import ParserError

from kgraph.errors import DataError
from kgraph.hierarchy import superclasses as superclasses_of
from kgraph.model import (
    Claim,
    Dataset,
    Entity,
    EvidenceKindInfo,
    Location,
    PropertyInfo,
    Source,
    Vocabulary,
    Xref,
)
from kgraph.prefixes import KG
from kgraph.project import Project
from kgraph.report import Problem


class _Map(dict):
    """A YAML mapping that remembers its line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _Seq(list):
    line: int = 0


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records line numbers (1-based) on mappings and sequences."""

    def construct_mapping(self, node, deep=False):
        mapping = _Map(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {
            str(k.value): k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)
        }
        return mapping

    def construct_sequence(self, node, deep=False):
        seq = _Seq(super().construct_sequence(node, deep=True))
        seq.line = node.start_mark.line + 1
        return seq


# Dates stay text ("2021-01-05"): the ontology types them (xsd:date, xsd:gYear), and an
# impossible date must not crash the loader.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence)


def read_yaml(path: Path, display: str) -> Any:
    """Parse one YAML file; a syntax error becomes a :class:`DataError` with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path=display,
                        hint="Save the file as UTF-8.") from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or str(exc)
        raise DataError(f"malformed YAML: {what}", path=display, line=line,
                        hint="Fix the YAML syntax at that line (indentation, quotes, colons).") from None
    except yaml.YAMLError as exc:
        raise DataError(f"malformed YAML: {exc}", path=display,
                        hint="Fix the YAML syntax.") from None
    except ValueError as exc:  # a value PyYAML cannot construct (e.g. a huge or odd number)
        raise DataError(f"malformed YAML value: {exc}", path=display,
                        hint="Quote the value to keep it as text.") from None


# --------------------------------------------------------------------------- records

class _Fields:
    """Typed access to a mapping's fields that records problems instead of raising."""

    def __init__(self, mapping: _Map, loc: Location, what: str, problems: list[Problem]):
        self.m, self.loc, self.what, self.problems = mapping, loc, what, problems
        self.ok = True

    def at(self, key: str) -> Location:
        return Location(self.loc.path, getattr(self.m, "key_lines", {}).get(key, self.loc.line))

    def _bad(self, key: str, message: str, hint: str) -> None:
        self.ok = False
        self.problems.append(Problem("error", self.at(key), f"{self.what}: {message}", hint, code="bad-field"))

    def text(self, key: str, required: bool = True, strict: bool = False) -> str | None:
        """A text field; ``strict`` refuses numbers too (ids, quotes: 2021 must be "2021")."""
        value = self.m.get(key)
        if value is None:
            if required:
                self._bad(key, f"missing field '{key}'", f"Add '{key}: ...' to the record.")
            return None
        allowed = (str,) if strict else (str, int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            self._bad(key, f"'{key}' must be text, not {type(value).__name__} {value!r}",
                      f"Write '{key}' as a string in quotes, e.g. {key}: \"{value}\".")
            return None
        return str(value)

    def texts(self, key: str) -> list[str]:
        value = self.m.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            self._bad(key, f"'{key}' must be a list of strings", f"Write '{key}: [a, b]'.")
            return []
        return [str(v) for v in value]

    def unknown(self, allowed: set[str]) -> None:
        for key in self.m:
            if key not in allowed:
                self.problems.append(Problem(
                    "error", self.at(str(key)), f"{self.what}: unknown field '{key}'",
                    f"Allowed fields: {', '.join(sorted(allowed))}.", code="unknown-field"))
                self.ok = False


def _records(doc: Any, display: str, problems: list[Problem], what: str) -> list[_Map]:
    if doc is None:
        return []
    if not isinstance(doc, list):
        problems.append(Problem("error", Location(display, getattr(doc, "line", 1)),
                                f"expected a list of {what} records", "Start each record with '- id: ...'.",
                                code="not-a-list"))
        return []
    out = []
    for item in doc:
        if not isinstance(item, dict):
            problems.append(Problem("error", Location(display, getattr(doc, "line", None)),
                                    f"a {what} record must be a mapping, got {item!r}",
                                    "Write each record as '- id: ...' followed by its fields.",
                                    code="record-not-a-mapping"))
            continue
        out.append(item)
    return out


ENTITY_FIELDS = {"id", "type", "label", "synonyms", "abbreviations", "description"}
SOURCE_FIELDS = {"id", "file", "sha256", "publisher", "titles", "description"}
CLAIM_FIELDS = {"id", "subject", "predicate", "object", "value", "unit", "quote", "evidence",
                "qualifiers", "cites", "attributed_to", "modality", "flag", "note"}
XREF_FIELDS = {"id", "match", "checked"}


def _entity(m: _Map, display: str, problems: list[Problem]) -> Entity | None:
    loc = Location(display, m.line)
    f = _Fields(m, loc, f"entity '{m.get('id', '?')}'", problems)
    f.unknown(ENTITY_FIELDS)
    ent = Entity(
        id=f.text("id", strict=True) or "", type=f.text("type", strict=True) or "",
        label=f.text("label", strict=True) or "",
        synonyms=f.texts("synonyms"), abbreviations=f.texts("abbreviations"),
        description=f.text("description") or "", loc=loc,
    )
    return ent if f.ok else None


def _source(m: _Map, display: str, problems: list[Problem]) -> Source | None:
    loc = Location(display, m.line)
    f = _Fields(m, loc, f"source '{m.get('id', '?')}'", problems)
    f.unknown(SOURCE_FIELDS)
    src = Source(
        id=f.text("id") or "", file=f.text("file") or "", sha256=f.text("sha256", required=False),
        publisher=f.text("publisher") or "", titles=f.texts("titles"),
        description=f.text("description", required=False) or "", loc=loc,
    )
    return src if f.ok else None


def _claim(m: _Map, source: str, display: str, problems: list[Problem]) -> Claim | None:
    loc = Location(display, m.line)
    f = _Fields(m, loc, f"claim '{m.get('id', '?')}'", problems)
    f.unknown(CLAIM_FIELDS)
    qualifiers = m.get("qualifiers") or {}
    if not isinstance(qualifiers, dict):
        f._bad("qualifiers", "'qualifiers' must be a mapping", "Write 'qualifiers: {key: value}'.")
        qualifiers = {}
    has_object, has_value = m.get("object") is not None, "value" in m and m.get("value") is not None
    if has_object == has_value:
        f._bad("object" if has_object else "predicate",
               "needs exactly one of 'object' (an entity id) or 'value' (a literal)",
               "Use 'object:' for relations between entities, 'value:' for numbers, dates and text.")
    value = m.get("value")
    if has_value and not isinstance(value, (str, int, float)) or isinstance(value, bool):
        f._bad("value", f"'value' must be a number or text, not {type(value).__name__}",
               "Write a single number, year or string.")
    claim = Claim(
        id=f.text("id", strict=True) or "", source=source, subject=f.text("subject", strict=True) or "",
        predicate=f.text("predicate", strict=True) or "", quote=f.text("quote", strict=True) or "",
        evidence=f.text("evidence", strict=True) or "", loc=loc,
        object=f.text("object", required=False, strict=True) if has_object else None,
        value=value if has_value else None, unit=f.text("unit", required=False),
        qualifiers=dict(qualifiers), cites=f.texts("cites"), attributed_to=f.texts("attributed_to"),
        modality=f.text("modality", required=False) or "asserted",
        flag=f.text("flag", required=False), note=f.text("note", required=False),
        field_lines=dict(getattr(m, "key_lines", {})),
    )
    return claim if f.ok else None


# --------------------------------------------------------------------------- files

def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def _display(project: Project, path: Path) -> str:
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)


def _read_each(paths: list[Path], project: Project, problems: list[Problem],
               handle: Callable[[Any, str], None]) -> None:
    for path in paths:
        display = _display(project, path)
        try:
            handle(read_yaml(path, display), display)
        except DataError as exc:
            problems.append(Problem("error", Location(display, exc.line), exc.detail, exc.hint or "",
                                    code="unreadable-yaml"))


def load_dataset(project: Project) -> tuple[Dataset, list[Problem]]:
    """Read every data file; return the records and the problems found reading them."""
    data_dir = project.data_dir
    if not data_dir.is_dir():
        raise DataError(f"data directory not found: {data_dir}",
                        hint="Run kgraph from the project root or pass --data DIR.")
    problems: list[Problem] = []
    sources: list[Source] = []
    entities: list[Entity] = []
    xrefs: list[Xref] = []
    claims: list[Claim] = []

    sources_file = data_dir / "sources.yaml"
    if not sources_file.is_file():
        problems.append(Problem("error", Location(_display(project, sources_file)), "file missing",
                                "Create data/sources.yaml listing the corpus documents.", code="file-missing"))

    def on_sources(doc: Any, display: str) -> None:
        for m in _records(doc, display, problems, "source"):
            if (s := _source(m, display, problems)) is not None:
                sources.append(s)

    def on_entities(doc: Any, display: str) -> None:
        for m in _records(doc, display, problems, "entity"):
            if (e := _entity(m, display, problems)) is not None:
                entities.append(e)

    def on_xrefs(doc: Any, display: str) -> None:
        if doc is None:
            return
        if not isinstance(doc, dict):
            problems.append(Problem("error", Location(display, 1), "expected a mapping from entity id to identifiers",
                                    "Write 'entity-id:' followed by '- id: PREFIX:LOCAL' items.",
                                    code="xrefs-not-a-mapping"))
            return
        for entity_id, items in doc.items():
            line = doc.key_lines.get(str(entity_id), doc.line)
            if not isinstance(items, list):
                problems.append(Problem("error", Location(display, line),
                                        f"cross-references of '{entity_id}' must be a list", "Write '- id: ...' items.",
                                        code="xrefs-not-a-list"))
                continue
            for item in items:
                loc = Location(display, getattr(item, "line", line))
                if not isinstance(item, dict):
                    problems.append(Problem("error", loc, f"cross-reference of '{entity_id}' must be a mapping",
                                            "Write '- id: PREFIX:LOCAL' with 'match' and 'checked'.",
                                            code="xref-not-a-mapping"))
                    continue
                f = _Fields(item, loc, f"cross-reference of '{entity_id}'", problems)
                f.unknown(XREF_FIELDS)
                x = Xref(entity=str(entity_id), curie=f.text("id") or "",
                         match=f.text("match", required=False) or "exact",
                         checked=f.text("checked") or "", loc=loc)
                if f.ok:
                    xrefs.append(x)

    def on_claims(doc: Any, display: str) -> None:
        if doc is None:
            problems.append(Problem("error", Location(display, 1), "the claims file is empty",
                                    "Start it with 'source: src-NNN' and 'claims:', or delete the file.",
                                    code="empty-claims-file"))
            return
        if not isinstance(doc, dict) or "claims" not in doc or "source" not in doc:
            problems.append(Problem("error", Location(display, getattr(doc, "line", 1)),
                                    "expected a mapping with 'source:' and 'claims:'",
                                    "Start the file with 'source: src-NNN' then 'claims:' and the list.",
                                    code="claims-file-shape"))
            return
        source = str(doc["source"])
        for m in _records(doc["claims"], display, problems, "claim"):
            if (c := _claim(m, source, display, problems)) is not None:
                claims.append(c)

    if sources_file.is_file():
        _read_each([sources_file], project, problems, on_sources)
    _read_each(_yaml_files(data_dir / "entities"), project, problems, on_entities)
    xrefs_file = data_dir / "xrefs.yaml"
    if xrefs_file.is_file():
        _read_each([xrefs_file], project, problems, on_xrefs)
    _read_each(_yaml_files(data_dir / "claims"), project, problems, on_claims)
    return Dataset(sources=sources, entities=entities, xrefs=xrefs, claims=claims), problems


# --------------------------------------------------------------------------- ontology

def load_ontology(project: Project) -> Graph:
    """Parse the OWL ontology (Turtle)."""
    return _parse_turtle(project.ontology_file, "the ontology")


def load_shapes(project: Project) -> Graph:
    """Parse the SHACL shapes (Turtle)."""
    return _parse_turtle(project.shapes_file, "the SHACL shapes")


def _parse_turtle(path: Path, what: str) -> Graph:
    if not path.is_file():
        raise DataError(f"{what} file not found", path=path,
                        hint="Run kgraph from the project root or pass --ontology DIR.")
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except (ParserError, SyntaxError, ValueError) as exc:
        text = str(exc)
        # rdflib's Turtle errors read "... at line N of <>"
        match = re.search(r"line (\d+)", text)
        line = int(match.group(1)) if match else None
        raise DataError(f"{what} is not valid Turtle: {text.strip().splitlines()[0]}", path=path, line=line,
                        hint="Fix the Turtle syntax at that line.") from None
    return graph


def vocabulary(ontology: Graph) -> Vocabulary:
    """Extract the classes, properties and evidence kinds that data may use."""
    ns = str(KG)

    def local(iri: URIRef) -> str | None:
        s = str(iri)
        return s[len(ns):] if s.startswith(ns) else None

    def text(subject, predicate) -> str:
        value = ontology.value(subject, predicate)
        return str(value) if value is not None else ""

    classes: dict[str, URIRef] = {}
    for cls in ontology.subjects(RDF.type, OWL.Class):
        if isinstance(cls, URIRef) and (name := local(cls)):
            classes[name] = cls
    superclasses = {iri: superclasses_of(ontology, iri) for iri in classes.values()}

    properties: dict[str, PropertyInfo] = {}
    for kind, owl_type in (("object", OWL.ObjectProperty), ("datatype", OWL.DatatypeProperty)):
        for prop in ontology.subjects(RDF.type, owl_type):
            if isinstance(prop, URIRef) and (name := local(prop)):
                dom, rng = ontology.value(prop, RDFS.domain), ontology.value(prop, RDFS.range)
                properties[name] = PropertyInfo(
                    name=name, iri=prop, kind=kind, label=text(prop, RDFS.label) or name,
                    comment=text(prop, RDFS.comment),
                    domain=dom if isinstance(dom, URIRef) else None,
                    range=rng if isinstance(rng, URIRef) else None,
                )
    evidence: dict[str, EvidenceKindInfo] = {}
    for kind in ontology.subjects(RDF.type, KG.EvidenceKind):
        notation = text(kind, SKOS.notation)
        if notation:
            strength = ontology.value(kind, KG.strength)
            evidence[notation] = EvidenceKindInfo(notation=notation, iri=kind, label=text(kind, RDFS.label),
                                                  strength=int(strength) if strength is not None else 0)
    labels = {name: text(iri, RDFS.label) or name for name, iri in classes.items()}
    return Vocabulary(classes=classes, superclasses=superclasses, properties=properties,
                      evidence_kinds=evidence, class_labels=labels)
