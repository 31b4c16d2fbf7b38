"""Read the curated YAML files and the ontology.

Loading is forgiving: a record with a missing or mistyped field is reported as a
:class:`~kgraph.validate.Problem` and skipped, so that one run shows every problem.
Only a file that cannot be parsed at all stops its own loading (again as a problem).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rdflib import OWL, RDF, RDFS, SKOS, Graph, URIRef
from rdflib.exceptions import ParserError

from kgraph.cache import BuildCache, digest, problems_from_json, problems_to_json
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


#: Curated records need four levels; far deeper nesting is a mistake (or an attack on
#: PyYAML's recursive composer, which a few thousand levels crash).
MAX_DEPTH = 64


class _TooDeep(yaml.MarkedYAMLError):
    pass


class _Lines:
    """Mixed into a safe loader: records line numbers (1-based) on mappings and sequences."""

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


class _LineLoader(_Lines, yaml.SafeLoader):
    """The pure-Python safe loader with line numbers, and a guard against deep nesting."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(problem=f"nested more than {MAX_DEPTH} levels deep",
                               problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


#: libyaml's C parser, when PyYAML was built with it: 5-6x faster on big data folders, the
#: same data and line numbers (tests/test_yaml_fast.py). Its composer recurses in C, so the
#: nesting depth is checked first on its event stream (libyaml parses events iteratively).
_FastLineLoader = type("_FastLineLoader", (_Lines, yaml.CSafeLoader), {}) if hasattr(yaml, "CSafeLoader") else None

# Dates stay text ("2021-01-05"): the ontology types them (xsd:date, xsd:gYear), and an
# impossible date must not crash the loader.
for _loader in (_LineLoader, _FastLineLoader):
    if _loader is None:
        continue
    _loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _loader.construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _loader.construct_sequence)


def _shallow(text: str) -> bool:
    """Whether the document nests at most MAX_DEPTH collections (libyaml's event stream)."""
    parser = yaml.cyaml.CParser(text)
    depth = 0
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return False
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    finally:
        parser.dispose()
    return True


def _checked_document(loader, display: str) -> tuple[Any, list[Problem]]:
    """The one document of ``loader`` and the problems :class:`_Checks` finds in it."""
    node = loader.get_single_node()
    if node is None:
        return None, []
    checks = _Checks(loader, display)
    checks.walk(node, "")
    return loader.construct_document(node), checks.problems


def _read_fast(text: str, display: str) -> tuple[Any, list[Problem]] | None:
    """The document and its problems through libyaml, or None when anything is amiss (the
    pure-Python loader then reads it again and reports the problem exactly)."""
    if _FastLineLoader is None:
        return None
    loader = None
    try:
        if not _shallow(text):
            return None
        loader = _FastLineLoader(text)
        return _checked_document(loader, display)
    except (yaml.YAMLError, ValueError):
        return None
    finally:
        if loader is not None:
            loader.dispose()


# Characters no XML 1.0 document can hold, not even as a character reference (&#x1B; is
# not well-formed): RDF/XML and GraphML could not be written, so they are refused where
# they enter. C0 controls but tab, LF and CR; lone surrogates (a YAML "\ud800" escape
# makes one; no UTF-8 file can write it); the noncharacters U+FFFE and U+FFFF.
# U+2028, U+2029 and U+0085 are allowed: every writer can escape them.
FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_CONTROL_NAMES = (
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BACKSPACE", "TAB", "LF", "VERTICAL-TAB",
    "FORM-FEED", "CR", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM",
    "SUB", "ESCAPE", "FILE-SEPARATOR", "GROUP-SEPARATOR", "RECORD-SEPARATOR", "UNIT-SEPARATOR",
)


def describe_char(char: str) -> str:
    """``U+001B (ESCAPE)``: a code point and what it is, for messages."""
    code = ord(char)
    if code < 0x20:
        name = _CONTROL_NAMES[code]
    elif 0xD800 <= code <= 0xDFFF:
        name = "a lone surrogate, half of a UTF-16 pair"
    else:
        name = unicodedata.name(char, "a noncharacter")
    return f"U+{code:04X} ({name})"


def forbidden_char_problem(text: str) -> tuple[str, str] | None:
    """(what is wrong, what to do) when ``text`` holds a character kgraph cannot write."""
    match = FORBIDDEN_CHARS.search(text)
    if match is None:
        return None
    char = match.group()
    where = f"at position {match.start() + 1}"
    if 0xD800 <= ord(char) <= 0xDFFF:
        return (f"holds {describe_char(char)} {where}, which is not a character",
                "Write the character itself, or escape it whole as \\UXXXXXXXX, not as two \\u halves.")
    return (f"holds {describe_char(char)} {where}, which RDF/XML and GraphML cannot hold",
            "Delete it (it is invisible in most editors), or use a space.")


class _Checks:
    """Problems of a parsed YAML document that PyYAML accepts: duplicate keys (it keeps
    the last one), characters kgraph cannot write, and numbers that are not finite."""

    def __init__(self, loader: Any, display: str):
        self.loader, self.display = loader, display
        self.problems: list[Problem] = []
        self.seen: set[int] = set()

    def add(self, line: int, message: str, hint: str, code: str) -> None:
        self.problems.append(Problem("error", Location(self.display, line), message, hint, code=code))

    def walk(self, node: yaml.Node, field: str) -> None:
        if id(node) in self.seen:  # an alias: checked where it was defined (and no blow-up)
            return
        self.seen.add(id(node))
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            self.scalar(node, field, line)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                # a list of records starts the field names afresh ("quote", not "claims.quote")
                self.walk(item, "" if isinstance(item, yaml.MappingNode) else field)
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                key_line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if (key.tag, key.value) in first:
                        self.add(key_line, f"duplicate key '{name}' (first at line {first[key.tag, key.value]}); "
                                 "YAML would keep only the last one",
                                 "Remove one of the two, or rename it.", "duplicate-key")
                    else:
                        first[key.tag, key.value] = key_line
                    if (bad := forbidden_char_problem(name)) is not None:
                        self.add(key_line, f"key '{name.encode('unicode_escape').decode()}' {bad[0]}", bad[1],
                                 "forbidden-character")
                else:
                    self.walk(key, field)
                self.walk(value, f"{field}.{name}" if field else name)

    def scalar(self, node: yaml.ScalarNode, field: str, line: int) -> None:
        what = f"field '{field}'" if field else "a value"
        if (bad := forbidden_char_problem(node.value)) is not None:
            self.add(line, f"{what} {bad[0]}", bad[1], "forbidden-character")
        if node.tag == "tag:yaml.org,2002:float":
            number = self.loader.construct_yaml_float(node)
            if not math.isfinite(number):
                self.add(line, f"{what} is {node.value}, not a finite number",
                         f"Write a number, or quote it to keep it as text: \"{node.value}\".", "not-finite")


def read_yaml_checked(path: Path, display: str, *, fast: bool = True) -> tuple[Any, list[Problem]]:
    """Parse one YAML file and check what PyYAML lets through (see :class:`_Checks`).

    A file that cannot be parsed at all raises :class:`DataError` with its line.
    ``fast`` tries libyaml first; ``fast=False`` reads with the pure-Python parser only.
    """
    return _parse_checked(_utf8(path.read_bytes(), display), display, fast=fast)


def _utf8(data: bytes, display: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path=display,
                        hint="Save the file as UTF-8.") from None


def read_yaml_cached(path: Path, display: str, cache: BuildCache) -> tuple[Any, list[Problem]]:
    """:func:`read_yaml_checked` through the build's cache (:mod:`kgraph.cache`): a file
    whose name and bytes were parsed before is not parsed again."""
    if not cache.enabled:
        return read_yaml_checked(path, display)
    data = path.read_bytes()
    key = digest("yaml", display, data)
    found = cache.get("yaml", key)
    if found is not None and (decoded := _from_json(found)) is not None:
        return decoded
    doc, problems = _parse_checked(_utf8(data, display), display, fast=True)
    if (encoded := _to_json(doc, problems)) is not None:
        cache.put("yaml", key, encoded)
    return doc, problems


def _to_json(doc: Any, problems: list[Problem]) -> Any | None:
    """A parsed document (and its problems) as JSON, or None if it holds anything else than
    mappings, sequences and JSON's scalars (binary, sets, ...: such a file is parsed each time)."""

    def encode(node: Any) -> Any:
        kind = type(node)
        if kind is _Map:
            return {"m": node.line, "k": node.key_lines, "i": [[encode(k), encode(v)] for k, v in node.items()]}
        if kind is _Seq:
            return {"s": node.line, "i": [encode(v) for v in node]}
        if node is None or kind in (str, int, float, bool):
            return node
        raise TypeError(kind)

    try:
        return {"doc": encode(doc), "problems": problems_to_json(problems)}
    except (TypeError, ValueError, RecursionError):  # another type, or an alias cycle
        return None


def _from_json(value: Any) -> tuple[Any, list[Problem]] | None:
    """What :func:`_to_json` encoded, or None if ``value`` is not such an encoding."""

    def decode(node: Any) -> Any:
        if isinstance(node, dict):
            items = node["i"]
            if "m" in node:
                mapping = _Map((decode(k), decode(v)) for k, v in items)
                mapping.line = int(node["m"])
                mapping.key_lines = {str(k): int(v) for k, v in node["k"].items()}
                return mapping
            seq = _Seq(decode(v) for v in items)
            seq.line = int(node["s"])
            return seq
        if isinstance(node, list):
            raise ValueError("a bare list")
        return node

    if not isinstance(value, dict):
        return None
    problems = problems_from_json(value.get("problems"))
    try:
        doc = decode(value.get("doc"))
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        return None
    return (doc, problems) if problems is not None else None


def _parse_checked(text: str, display: str, *, fast: bool) -> tuple[Any, list[Problem]]:
    if fast and (done := _read_fast(text, display)) is not None:
        return done
    loader = None
    try:
        loader = _LineLoader(text)  # refuses a raw control character right away
        return _checked_document(loader, display)
    except _TooDeep as exc:
        raise DataError(f"malformed YAML: {exc.problem}", path=display, line=exc.problem_mark.line + 1,
                        hint="Curated records are at most four levels deep; check the indentation and "
                             "brackets above that line.") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or str(exc)
        raise DataError(f"malformed YAML: {what}", path=display, line=line,
                        hint="Fix the YAML syntax at that line (indentation, quotes, colons).") from None
    except yaml.reader.ReaderError as exc:
        # a raw control character in the file itself (PyYAML refuses it before parsing)
        line = text.count("\n", 0, exc.position) + 1
        raise DataError(f"the file holds {describe_char(chr(exc.character))} (raw), which YAML does not allow",
                        path=display, line=line,
                        hint="Delete it (it is invisible in most editors).") from None
    except yaml.YAMLError as exc:
        raise DataError(f"malformed YAML: {exc}", path=display,
                        hint="Fix the YAML syntax.") from None
    except ValueError as exc:  # a value PyYAML cannot construct (e.g. a huge or odd number)
        raise DataError(f"malformed YAML value: {exc}", path=display,
                        hint="Quote the value to keep it as text.") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: Path, display: str) -> Any:
    """Parse one YAML file; any problem becomes a :class:`DataError` with its line."""
    doc, problems = read_yaml_checked(path, display)
    if problems:
        first = problems[0]
        raise DataError(first.message, path=display, line=getattr(first.where, "line", None), hint=first.hint)
    return doc


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


#: the folders of data/ that hold records, and the files at its top
RECORD_DIRS = ("entities", "claims")
# evidence-priors.yaml: the project's own error priors, read by kgraph.assess (issue 12)
TOP_FILES = ("sources.yaml", "xrefs.yaml", "evidence-priors.yaml")
#: Folders of kgraph extract and review (issue 11): the texts of added documents, and
#: the candidates and decisions; read by grounding and review, never as records.
TOOL_DIRS = ("documents", "candidates")


def _layout_problems(project: Project) -> list[Problem]:
    """A missing record folder, or a file the loader would skip: both would silently
    drop data from the graph (issue 15), so both are errors.

    Hidden files (.gitkeep, editor swap files) and Markdown notes are left alone.
    """
    data_dir = project.data_dir
    problems: list[Problem] = []

    def skipped(path: Path, why: str, hint: str) -> None:
        problems.append(Problem("error", Location(_display(project, path)), f"{why}; kgraph would not read it",
                                hint, code="unexpected-file"))

    def ignorable(path: Path) -> bool:
        return path.name.startswith(".") or (path.is_file() and path.suffix.lower() == ".md")

    for name in RECORD_DIRS:
        folder = data_dir / name
        if not folder.is_dir():
            problems.append(Problem("error", Location(_display(project, folder)), "folder missing",
                                    f"Create data/{name}/ with the {name} records (*.yaml); without it the "
                                    f"graph would have no {name}.", code="folder-missing"))
            continue
        for path in sorted(folder.iterdir()):
            if ignorable(path) or (path.suffix == ".yaml" and path.is_file()):
                continue
            if path.is_dir():
                skipped(path, "a folder inside data/" + name, f"Move its files into data/{name}/ itself.")
            elif path.suffix.lower() in (".yml", ".yaml"):
                skipped(path, f"'{path.suffix}' is not the '.yaml' suffix", f"Rename it to {path.stem}.yaml.")
            else:
                skipped(path, f"not a .yaml file in data/{name}/", "Rename it to .yaml or move it out of data/.")
    for path in sorted(data_dir.iterdir()):
        if ignorable(path) or path.name in TOP_FILES or path.name in RECORD_DIRS or \
                (path.name in TOOL_DIRS and path.is_dir()):
            continue
        if path.suffix.lower() in (".yml", ".yaml") and path.stem in ("sources", "xrefs"):
            skipped(path, f"'{path.suffix}' is not the '.yaml' suffix", f"Rename it to {path.stem}.yaml.")
        else:
            skipped(path, "a file kgraph does not know at the top of data/",
                    "Entities go in data/entities/, claims in data/claims/; move it there or out of data/.")
    return problems


def _display(project: Project, path: Path) -> str:
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)


def _read_each(paths: list[Path], project: Project, problems: list[Problem],
               handle: Callable[[Any, str], None], cache: BuildCache) -> None:
    for path in paths:
        display = _display(project, path)
        try:
            doc, found = read_yaml_cached(path, display, cache)
            problems.extend(found)
            handle(doc, display)
        except DataError as exc:
            problems.append(Problem("error", Location(display, exc.line), exc.detail, exc.hint or "",
                                    code="unreadable-yaml"))


def load_dataset(project: Project, cache: BuildCache | None = None) -> tuple[Dataset, list[Problem]]:
    """Read every data file; return the records and the problems found reading them.

    With a ``cache`` (the build's), a file parsed by an earlier build is not parsed again."""
    cache = cache if cache is not None else BuildCache(None)
    data_dir = project.data_dir
    if not data_dir.is_dir():
        raise DataError(f"data directory not found: {data_dir}",
                        hint="Run kgraph from the project root or pass --data DIR.")
    problems: list[Problem] = _layout_problems(project)
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
        _read_each([sources_file], project, problems, on_sources, cache)
    if (data_dir / "entities").is_dir():
        _read_each(_yaml_files(data_dir / "entities"), project, problems, on_entities, cache)
    xrefs_file = data_dir / "xrefs.yaml"
    if xrefs_file.is_file():
        _read_each([xrefs_file], project, problems, on_xrefs, cache)
    if (data_dir / "claims").is_dir():
        _read_each(_yaml_files(data_dir / "claims"), project, problems, on_claims, cache)
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
    _check_turtle(path, what)
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


def _check_turtle(path: Path, what: str) -> None:
    """Refuse a Turtle file rdflib would crash on (a truncated file can raise IndexError
    inside its parser) or whose literals kgraph could not write back.

    Oxigraph's parser is strict and reports line and column; it reads the file first.
    """
    import pyoxigraph

    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} is not UTF-8 text (byte {exc.start})", path=path,
                        hint="Save the file as UTF-8.") from None
    try:
        quads = list(pyoxigraph.parse(data, format=pyoxigraph.RdfFormat.TURTLE, base_iri=path.resolve().as_uri()))
    except SyntaxError as exc:
        message = str(exc.msg if hasattr(exc, "msg") else exc)
        message = re.sub(r"^Parser error at line \d+ (column \d+|between columns \d+ and \d+): ", "", message)
        raise DataError(f"{what} is not valid Turtle: {message}", path=path, line=exc.lineno,
                        hint="Fix the Turtle syntax at that line (a file cut short ends in the middle of a "
                             "statement).") from None
    for quad in quads:
        if isinstance(quad.object, pyoxigraph.Literal):
            bad = forbidden_char_problem(quad.object.value)
            if bad is not None:
                line = next((n for n, ln in enumerate(text.split("\n"), 1) if FORBIDDEN_CHARS.search(ln)), None)
                raise DataError(f"{what}: the literal of <{quad.subject.value}> <{quad.predicate.value}> {bad[0]}",
                                path=path, line=line, hint=bad[1])


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
