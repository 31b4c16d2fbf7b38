"""Check the curated data: every problem is collected, none stops the others.

Checks: record shape (in :mod:`kgraph.load`), id syntax and duplicates, references
between records, known classes/predicates/evidence kinds, value types against the
ontology's ranges, subjects and objects against its domains and ranges, cross-reference
syntax, and -- when a corpus directory is given -- that every quote occurs verbatim in
its source file (the grounding check). SHACL runs on the built graph (:mod:`kgraph.shapes`).
Every problem carries a stable ``code`` (e.g. ``quote-not-found``) and a ``level``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from rdflib import XSD

from kgraph.model import MODALITIES
from kgraph.names import close_names, did_you_mean
from kgraph.prefixes import XREFS
from kgraph.report import Problem

if TYPE_CHECKING:
    from kgraph.model import Dataset, Location, Vocabulary

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CLAIM_ID = re.compile(r"^c[0-9]{3}-[0-9]{3,}$")
YEAR = re.compile(r"^-?[0-9]{4}$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

def validate_dataset(dataset: Dataset, vocab: Vocabulary) -> list[Problem]:
    """Every structural and semantic check that needs no corpus."""
    problems: list[Problem] = []
    add = problems.append

    # ids: syntax and duplicates
    for kind, records, pattern, hint in (
        ("entity", dataset.entities, SLUG, "Use lowercase letters, digits and single hyphens."),
        ("source", dataset.sources, SLUG, "Use lowercase letters, digits and single hyphens, e.g. src-005."),
        ("claim", dataset.claims, CLAIM_ID, "Use c<NNN>-<number>, e.g. c004-017."),
    ):
        first: dict[str, Location] = {}
        for rec in records:
            if not pattern.match(rec.id):
                add(Problem("error", rec.loc, f"{kind} id '{rec.id}' is not valid", hint, code="invalid-id"))
            if rec.id in first:
                add(Problem("error", rec.loc, f"duplicate {kind} id '{rec.id}' (first defined at {first[rec.id]})",
                            f"Rename one of them or merge the two {kind} records.", code="duplicate-id"))
            else:
                first[rec.id] = rec.loc

    entities = dataset.entity_index()
    sources = dataset.source_index()
    labels = {e.id: e.label for e in dataset.entities}

    def suggest(name: str) -> str:
        return did_you_mean(name, entities) or "Add the entity to data/entities/ or fix the id."

    # entities
    for ent in dataset.entities:
        if ent.type not in vocab.classes:
            add(Problem("error", ent.loc, f"entity '{ent.id}' has unknown type '{ent.type}'",
                        did_you_mean(ent.type, vocab.classes)
                        or "Use a class of ontology/kgraph.ttl, e.g. Drug, Condition, Person.", code="unknown-type"))
        if not ent.label.strip():
            add(Problem("error", ent.loc, f"entity '{ent.id}' has an empty label", "Give it a preferred name.",
                        code="empty-label"))
        if not ent.description.strip():
            add(Problem("warning", ent.loc, f"entity '{ent.id}' has no description", "Add a one-line description.",
                        code="no-description"))

    # a name (label, synonym, abbreviation) shared by two entities makes lookups ambiguous
    owners: dict[str, list] = defaultdict(list)
    for ent in dataset.entities:
        for name in {n.casefold() for n in (ent.label, *ent.synonyms, *ent.abbreviations)}:
            owners[name].append(ent)
    for name, ents in sorted(owners.items()):
        if len({e.id for e in ents}) > 1:
            later = ents[-1]
            add(Problem("warning", later.loc, f"name '{name}' is used by entities {', '.join(e.id for e in ents)}",
                        "Keep each label, synonym and abbreviation on one entity, so lookups by name are unambiguous.",
                        code="shared-name"))

    # sources
    for src in dataset.sources:
        if (why := unsafe_source_path(src.file)) is not None:
            add(Problem("error", src.loc, f"source '{src.id}': file '{src.file}' {why}",
                        "Name the file relative to the corpus folder, e.g. file: clinic-page.txt.",
                        code="source-path-outside-corpus"))
        if src.publisher not in entities:
            add(Problem("error", src.loc, f"source '{src.id}' names unknown publisher '{src.publisher}'",
                        suggest(src.publisher), code="unknown-publisher"))

    # cross-references
    for x in dataset.xrefs:
        if x.entity not in entities:
            add(Problem("error", x.loc, f"cross-reference for unknown entity '{x.entity}'", suggest(x.entity),
                        code="xref-unknown-entity"))
        prefix, _, local = x.curie.partition(":")
        scheme = XREFS.get(prefix)
        if scheme is None:
            add(Problem("error", x.loc, f"unknown identifier prefix '{prefix}' in '{x.curie}'",
                        f"Use one of {', '.join(XREFS)}.", code="unknown-xref-prefix"))
        elif not scheme.well_formed(local):
            add(Problem("error", x.loc, f"'{x.curie}' is not a well-formed {prefix} identifier",
                        "Check the identifier in its public source.", code="malformed-xref"))
        if x.match not in ("exact", "close"):
            add(Problem("error", x.loc, f"match must be 'exact' or 'close', not '{x.match}'", "Fix 'match:'.",
                        code="bad-xref-match"))

    # every source should say something
    with_claims = {c.source for c in dataset.claims}
    for src in dataset.sources:
        if src.id not in with_claims:
            add(Problem("warning", src.loc, f"source '{src.id}' ({src.file}) has no claims",
                        "Curate its claims into data/claims/, or remove the source.", code="source-without-claims"))

    # claims
    for c in dataset.claims:
        if c.source not in sources:
            add(Problem("error", c.loc, f"claim '{c.id}' cites unknown source '{c.source}'",
                        f"Use one of {', '.join(sorted(sources))} in the file's 'source:'.", code="unknown-source"))
        for field_name, ref in c.entity_refs():
            if ref not in entities:
                add(Problem("error", c.where(field_name.split(".")[0]),
                            f"claim '{c.id}': {field_name} refers to unknown entity '{ref}'", suggest(ref),
                            code="unknown-entity"))
        ev = c.evidence
        if ev not in vocab.evidence_kinds:
            add(Problem("error", c.where("evidence"), f"claim '{c.id}': unknown evidence kind '{ev}'",
                        f"Use one of {', '.join(vocab.evidence_kinds)}.", code="unknown-evidence"))
        if c.modality not in MODALITIES:
            add(Problem("error", c.where("modality"), f"claim '{c.id}': unknown modality '{c.modality}'",
                        f"Use one of: {', '.join(MODALITIES)}.", code="unknown-modality"))
        if c.flag and not c.note:
            add(Problem("error", c.where("flag"), f"claim '{c.id}' is flagged '{c.flag}' without a note",
                        "Explain the flag in 'note:'.", code="flag-without-note"))
        if not c.quote.strip():
            add(Problem("error", c.where("quote"), f"claim '{c.id}' has an empty quote", "Copy the sentence.",
                        code="empty-quote"))
        problems.extend(_check_qualifiers(c))
        for cited in c.cites:
            ent = entities.get(cited)
            if ent and not vocab.is_a(ent.type, vocab.classes.get("Study")):
                add(Problem("error", c.where("cites"), f"claim '{c.id}' cites '{cited}', which is a {ent.type}, not a Study",
                            "Only studies can be cited; use attributed_to for people and organizations.",
                            code="cites-non-study"))
        problems.extend(_check_predicate(c, vocab, entities, labels))
    return problems


def _check_qualifiers(c) -> list[Problem]:
    from kgraph.model import (
        ENTITY_QUALIFIERS,
        NUMBER_QUALIFIERS,
        TEXT_QUALIFIERS,
        YEAR_QUALIFIERS,
    )

    out = []
    known = {**ENTITY_QUALIFIERS, **TEXT_QUALIFIERS, **YEAR_QUALIFIERS, **NUMBER_QUALIFIERS}
    for key, value in c.qualifiers.items():
        where = c.where("qualifiers")
        if key not in known:
            out.append(Problem("error", where, f"claim '{c.id}': unknown qualifier '{key}'",
                               f"Use one of {', '.join(sorted(known))}.", code="unknown-qualifier"))
        elif key in YEAR_QUALIFIERS and not YEAR.match(str(value)):
            out.append(Problem("error", where, f"claim '{c.id}': qualifier '{key}' must be a year, not {value!r}",
                               "Write a four-digit year.", code="qualifier-not-a-year"))
        elif key in NUMBER_QUALIFIERS and (isinstance(value, bool) or not isinstance(value, (int, float))):
            out.append(Problem("error", where, f"claim '{c.id}': qualifier '{key}' must be a number, not {value!r}",
                               "Write a number without unit.", code="qualifier-not-a-number"))
        elif (key in ENTITY_QUALIFIERS or key in TEXT_QUALIFIERS) and not isinstance(value, str):
            out.append(Problem("error", where, f"claim '{c.id}': qualifier '{key}' must be text, not {value!r}",
                               "Write a single string or entity id.", code="qualifier-not-text"))
    return out


def _type_mismatch(c, role: str, expected: str, code: str, vocab: Vocabulary, entities) -> list[Problem]:
    """The claim's ``role`` ("subject" or "object") is an entity of a type that is not ``expected``."""
    eid = getattr(c, role)
    entity = entities.get(eid)
    if not entity or entity.type not in vocab.classes or vocab.is_a(entity.type, expected):
        return []
    article = "an" if role == "object" else "a"
    return [Problem("error", c.where(role),
                    f"claim '{c.id}': '{c.predicate}' expects {article} {role} of type {_local(expected)}, "
                    f"but '{eid}' is a {entity.type}",
                    f"Pick another predicate or {role}, or change the entity's type.", code=code)]


def _check_predicate(c, vocab: Vocabulary, entities, labels) -> list[Problem]:
    out: list[Problem] = []
    prop = vocab.properties.get(c.predicate)
    if prop is None:
        return [Problem("error", c.where("predicate"), f"claim '{c.id}': unknown predicate '{c.predicate}'",
                        did_you_mean(c.predicate, vocab.properties) or "Use a property of ontology/kgraph.ttl.",
                        code="unknown-predicate")]
    out += _type_mismatch(c, "subject", prop.domain, "domain-mismatch", vocab, entities)
    if prop.kind == "object":
        if c.object is None:
            out.append(Problem("error", c.where("value"),
                               f"claim '{c.id}': '{c.predicate}' relates two entities; it needs 'object:', not 'value:'",
                               "Put the entity id in 'object:'.", code="object-needed"))
            return out
        out += _type_mismatch(c, "object", prop.range, "range-mismatch", vocab, entities)
        return out
    if c.value is None:
        out.append(Problem("error", c.where("object"),
                           f"claim '{c.id}': '{c.predicate}' takes a value, not an entity",
                           "Put the literal in 'value:' (a number, year, date or text).", code="value-needed"))
        return out
    problem = value_type_problem(c.value, prop.range)
    if problem:
        out.append(Problem("error", c.where("value"), f"claim '{c.id}': {c.predicate} {problem}",
                           "Write the value in the form the predicate's range needs.", code="bad-value"))
    if prop.range == XSD.decimal and not c.unit:
        out.append(Problem("error", c.where("value"), f"claim '{c.id}': a number needs a 'unit'",
                           "Add 'unit:' (percent, people, ratio, years, ...).", code="unit-missing"))
    return out


def value_type_problem(value, range_iri) -> str | None:
    """Why ``value`` does not fit the datatype ``range_iri`` (None when it fits)."""
    if range_iri == XSD.decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"needs a number, got {value!r}"
    elif range_iri == XSD.gYear:
        if not YEAR.match(str(value)):
            return f"needs a four-digit year, got {value!r}"
    elif range_iri == XSD.date:
        if not DATE.match(str(value)):
            return f"needs a date YYYY-MM-DD, got {value!r}"
    elif range_iri == XSD.anyURI:
        if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9+.-]*:\S+$", value):
            return f"needs a URL, got {value!r}"
    elif range_iri in (XSD.string, None) and not isinstance(value, str):
        return f"needs text, got {value!r} (quote it)"
    return None


def _local(iri) -> str:
    return str(iri).rsplit("#", 1)[-1] if iri is not None else "anything"


def unsafe_source_path(name: str) -> str | None:
    """Why a source's ``file:`` could name something outside the corpus folder (None if it cannot)."""
    if not name.strip():
        return "is empty"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if "\\" in name:
        return "contains a backslash"
    if ".." in Path(name).parts:
        return "climbs out of the corpus folder with '..'"
    return None


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every symlink followed, is inside ``root``."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def check_grounding(dataset: Dataset, corpus_dir: Path,
                    data_dir: Path | None = None) -> tuple[list[Problem], int, int]:
    """Check every quote against its source file.

    Returns the problems, the number of quotes checked and the number found verbatim.
    Whitespace is compared exactly: a quote with a different space is not grounded.
    A ``file`` of ``documents/<name>`` is read from ``data_dir`` (added by kgraph review).
    """
    from kgraph.documents import source_path

    problems: list[Problem] = []
    texts: dict[str, str | None] = {}
    for src in dataset.sources:
        # never read (and so never quote back) a file outside the corpus (issue 15)
        if unsafe_source_path(src.file) is not None:
            texts[src.id] = None  # reported by validate_dataset
            continue
        path = source_path(src.file, corpus_dir, data_dir)
        if path is None:
            problems.append(Problem("error", src.loc, f"source '{src.id}': file '{src.file}' is not allowed",
                                    "Give a file name in the corpus folder, or documents/<name> for a document "
                                    "in data/documents/.", code="source-file-not-allowed"))
            texts[src.id] = None
            continue
        folder = path.parent  # the corpus folder, or data/documents/
        if not _inside(path, folder):
            named = f"the corpus folder {corpus_dir}" if folder == corpus_dir else f"its folder {folder}"
            problems.append(Problem("error", src.loc, f"source '{src.id}': {src.file} is a link to a file "
                                    f"outside {named}",
                                    "Copy the document into the corpus folder instead of linking to it.",
                                    code="source-path-outside-corpus"))
            texts[src.id] = None
            continue
        if not path.is_file():
            problems.append(Problem("error", src.loc, f"source '{src.id}': file {src.file} not found in {path.parent}",
                                    "Pass the corpus directory with --corpus DIR.", code="corpus-file-missing"))
            texts[src.id] = None
            continue
        raw = path.read_bytes()
        if src.sha256 and hashlib.sha256(raw).hexdigest() != src.sha256:
            problems.append(Problem("warning", src.loc, f"source '{src.id}': {src.file} has changed since it was curated "
                                    "(sha256 differs)", "Re-check its claims, then update sha256 in sources.yaml.",
                                    code="corpus-file-changed"))
        try:
            texts[src.id] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem("error", src.loc, f"source '{src.id}': {src.file} is not UTF-8 text "
                                    f"(byte {exc.start})", "Save the corpus file as UTF-8.",
                                    code="corpus-file-not-utf8"))
            texts[src.id] = None
    checked = grounded = 0
    by_source: dict[str, int] = Counter()
    for c in dataset.claims:
        text = texts.get(c.source)
        if text is None:
            continue
        checked += 1
        by_source[c.source] += 1
        if c.quote in text:
            grounded += 1
            continue
        src_file = dataset.source_index()[c.source].file
        hint = "Copy the passage exactly from the file (curly quotes, spacing)."
        near = _nearest_sentence(c.quote, text)
        if near:
            hint += f" Closest passage: \"{near}\""
        problems.append(Problem("error", c.where("quote"),
                                f"claim '{c.id}': quote not found verbatim in {src_file}", hint,
                                code="quote-not-found"))
    return problems, checked, grounded


def _nearest_sentence(quote: str, text: str) -> str | None:
    candidates = [s.strip() for line in text.splitlines() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]
    best = close_names(quote, candidates, n=1, cutoff=0.5)
    if not best:
        return None
    return best[0] if len(best[0]) <= 160 else best[0][:157] + "..."
