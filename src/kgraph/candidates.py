"""The candidates file: what ``kgraph extract`` proposes and ``kgraph review`` decides on.

One YAML file per document (``data/candidates/<source-id>.yaml``), beside the text its
offsets refer to (``<source-id>.txt``)::

    source:                       # the proposed record for data/sources.yaml
      id: src-005
      file: documents/src-005.txt # where kgraph review stores the text
      sha256: "..."               # of that text
      original: "article.html"    # the document as given, and its digest
      original_sha256: "..."
      text: "src-005.txt"         # the text, beside this file (null: re-read the original)
      title: "..."
      publisher: gamma-clinic     # an entity id: existing, or one of `entities:`
    entities:                     # new entities (not in data/entities yet)
      - id: gamma-clinic
        type: Clinic
        label: "Gamma Clinic"
        synonyms: []
        mentions: [[0, 12]]       # character offsets in the text
        status: candidate
    claims:                       # in the data/claims format, plus offsets and provenance
      - id: x3f9a0c12de           # stable: a digest of the sentence and the statement
        subject: ketamine
        predicate: treats
        object: ptsd
        quote: "..."              # exactly text[start:end]
        start: 120
        end: 160
        evidence: clinic-statement
        modality: asserted
        confidence: 0.82
        by: "..."                 # the rule or model that proposed it
        status: candidate

A candidate's id is a digest of the sentence it was read from and of its statement
(subject, predicate, object or value), so re-extracting the same or an edited document
gives an unchanged sentence's candidates the same ids: review decisions are kept by id.

Files are written deterministically (same candidates, same bytes); every string is
double-quoted, so no value changes type on the way back (``no``, ``2021``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgraph.documents import DOCUMENTS_DIR, safe_file_name, sha256_text
from kgraph.errors import DataError
from kgraph.load import CLAIM_FIELDS, read_yaml
from kgraph.model import Claim, Dataset, Entity, Location, Source, Vocabulary
from kgraph.report import Problem
from kgraph.validate import SLUG, validate_dataset

#: Where candidates files live, inside the data folder. load_dataset never reads it.
CANDIDATES_DIR = "candidates"
DECISIONS_SUFFIX = ".decisions.yaml"
SOURCE_ID = re.compile(r"^src-([0-9]{3,})$")
CANDIDATE_ID = re.compile(r"^x[0-9a-f]{10}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

SOURCE_KEYS = ("id", "file", "sha256", "original", "original_sha256", "text", "title", "publisher")
ENTITY_KEYS = ("id", "type", "label", "synonyms", "abbreviations", "description", "mentions", "status")
CLAIM_KEYS = ("id", "subject", "predicate", "object", "value", "unit", "quote", "start", "end", "evidence",
              "modality", "qualifiers", "cites", "attributed_to", "flag", "note", "confidence", "by", "status")
assert set(CLAIM_KEYS) >= CLAIM_FIELDS  # a data/claims field the candidates could not carry would be lost


class CandidatesError(DataError):
    """A candidates file is not valid: every problem, each with its file and line."""

    def __init__(self, problems: list[Problem], display: str):
        lines = [f"{display}: {len(problems)} problem(s) in the candidates file:"]
        lines += [f"  {p.where}: {p.message}" + (f" -- {p.hint}" if p.hint else "") for p in problems]
        super().__init__("\n".join(lines), hint="Fix the lines named above (or extract the document again).")
        self.problems = problems


@dataclass
class CandidateSet:
    """A candidates file as read (or about to be written)."""

    source: dict[str, Any]
    entities: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    #: the text the offsets refer to
    text: str
    display: str = "<candidates>"
    #: line of each record (entity or claim id -> line), and of each field ((id, key) -> line)
    lines: dict[Any, int] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return self.source["id"]

    def line(self, record_id: str | None = None, key: str | None = None) -> Location:
        line = self.lines.get((record_id, key)) or self.lines.get(record_id) or None
        return Location(self.display, line)


# --------------------------------------------------------------------------- ids

def source_number(source_id: str) -> int | None:
    m = SOURCE_ID.match(source_id)
    return int(m.group(1)) if m else None


def claims_file_name(source_id: str) -> str:
    """data/claims/<NNN>.yaml holds the claims of src-NNN."""
    return f"{source_id.removeprefix('src-')}.yaml"


def sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (or sentences) of ``text`` around ``[start, end)``: from after the
    previous line break or sentence end to the next one."""
    left = max(text.rfind("\n", 0, start), _last_sentence_end(text, start)) + 1
    right = len(text)
    newline = text.find("\n", end)
    if newline != -1:
        right = newline
    # from the quote's last character: a quote may end with its sentence's full stop
    m = re.compile(r"[.!?][\"”’)]*(?=\s|$)").search(text, max(start, end - 1), right)
    if m:
        right = m.end()
    right = max(right, end)  # a quote may run past a sentence end
    return left, right


def _last_sentence_end(text: str, before: int) -> int:
    """Index of the last whitespace after a sentence end before ``before`` (-1 if none)."""
    found = -1
    for m in re.finditer(r"[.!?][\"”’)]*(\s)", text[:before]):
        found = m.start(1)
    return found


def candidate_key(sentence: str, claim: dict[str, Any]) -> str:
    """The stable id of a candidate: its sentence and statement, nothing else (not its
    evidence or confidence, which a better extractor may change)."""
    value = claim.get("value")
    statement = [sentence.strip(), claim.get("subject"), claim.get("predicate"), claim.get("object"),
                 None if value is None else str(value), claim.get("unit")]
    digest = hashlib.sha256(json.dumps(statement, ensure_ascii=False).encode("utf-8")).hexdigest()
    return "x" + digest[:10]


def claim_sentence(text: str, claim: dict[str, Any]) -> str:
    start, end = sentence_span(text, claim["start"], claim["end"])
    return text[start:end]


# --------------------------------------------------------------------------- YAML out

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")  # \Z: "$" also matches before a final line feed
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def yaml_scalar(value: Any, *, quoted: bool = False) -> str:
    """One scalar in YAML: identifiers plain, other text double-quoted (JSON escapes, plus
    the characters YAML reads as line breaks or refuses)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if not quoted and _PLAIN.match(text) and text.casefold() not in _YAML_WORDS:
        return text
    out = json.dumps(text, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if (0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029\ufeff") else c for c in out)


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yaml_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    return yaml_scalar(value)


def yaml_record(record: dict[str, Any], keys: tuple[str, ...], indent: int, *,
                quoted: tuple[str, ...] = ()) -> list[str]:
    """One record as a YAML list item (``- key: value`` lines), fields in ``keys`` order,
    None values left out; lists and mappings in flow style."""
    lines = []
    pad = " " * indent
    for key in keys:
        if key not in record or record[key] is None:
            continue
        value = record[key]
        text = _flow(value) if isinstance(value, (list, dict)) else yaml_scalar(value, quoted=key in quoted)
        lines.append(f"{pad}{'- ' if not lines else '  '}{key}: {text}")
    return lines


_QUOTED = ("quote", "label", "title", "original", "text", "sha256", "original_sha256", "by", "note", "description",
           "unit")


def dump_candidates(cset: CandidateSet) -> str:
    """The candidates file's text (deterministic)."""
    src = cset.source
    out = [f"# Candidates proposed by kgraph extract for {src['id']}: nothing here is curated data yet.",
           f"# Review them with: kgraph review {src['id']}",
           "source:"]
    for key in SOURCE_KEYS:
        if key in src:
            out.append(f"  {key}: {yaml_scalar(src[key], quoted=key in _QUOTED)}")
    out.append("entities:" + ("" if cset.entities else " []"))
    for ent in cset.entities:
        out += yaml_record(ent, ENTITY_KEYS, 2, quoted=_QUOTED)
    out.append("claims:" + ("" if cset.claims else " []"))
    for claim in cset.claims:
        out += yaml_record(claim, CLAIM_KEYS, 2, quoted=_QUOTED)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- YAML in

def text_path(candidates_path: Path, source: dict[str, Any]) -> Path | None:
    name = source.get("text")
    return candidates_path.parent / name if isinstance(name, str) and safe_file_name(name) else None


def read_candidates(path: Path, display: str | None = None) -> CandidateSet:
    """Read a candidates file and its text, with the line of every record and field.

    Only the shape is checked here (a mapping with source, entities, claims, and the
    text found); :func:`validate_candidates` checks the content.
    """
    display = display or str(path)
    if not path.is_file():
        raise DataError("candidates file not found", path=display,
                        hint="Run kgraph extract on the document first (kgraph review lists what is pending).")
    doc = read_yaml(path, display)
    if not isinstance(doc, dict) or not isinstance(doc.get("source"), dict):
        raise DataError("not a candidates file: expected 'source:', 'entities:' and 'claims:'", path=display,
                        line=getattr(doc, "line", 1), hint="Extract the document again with kgraph extract.")
    lines: dict[Any, int] = {}
    source = dict(doc["source"])
    for key, line in getattr(doc["source"], "key_lines", {}).items():
        lines[("source", key)] = line
    lines["source"] = doc.key_lines.get("source", 1)
    records: dict[str, list[dict]] = {}
    for part in ("entities", "claims"):
        items = doc.get(part)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise DataError(f"'{part}' must be a list", path=display, line=doc.key_lines.get(part),
                            hint=f"Write '{part}:' followed by '- id: ...' items, or '{part}: []'.")
        records[part] = []
        for item in items:
            if not isinstance(item, dict):
                raise DataError(f"each of '{part}' must be a mapping, got {item!r}", path=display,
                                line=getattr(items, "line", None), hint="Write each as '- id: ...' and its fields.")
            rid = str(item.get("id"))
            lines.setdefault(rid, item.line)
            for key, line in item.key_lines.items():
                lines.setdefault((rid, key), line)
            records[part].append(dict(item))
    text = _read_text(path, display, source, lines)
    return CandidateSet(source=source, entities=records["entities"], claims=records["claims"], text=text,
                        display=display, lines=lines)


def _read_text(path: Path, display: str, source: dict, lines: dict) -> str:
    """The text the offsets refer to: beside the file, or re-read from the original."""
    from kgraph.documents import DocumentError, read_document

    stored = text_path(path, source)
    if source.get("text") is not None and stored is None:
        raise DataError(f"source.text '{source.get('text')}' is not a plain file name", path=display,
                        line=lines.get(("source", "text")), hint="Name a file beside the candidates file.")
    if stored is not None and stored.is_file():
        try:
            text = stored.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise DataError("the text beside it is not UTF-8", path=str(stored),
                            hint="Extract the document again.") from None
        where = f"text {stored.name}"
    else:
        original = source.get("original")
        if not isinstance(original, str) or not Path(original).is_file():
            raise DataError("the document's text is missing (neither the text file beside it nor the original "
                            f"{original!r} is there)", path=display, line=lines.get(("source", "text")),
                            hint="Extract the document again with kgraph extract.")
        try:
            text = read_document(Path(original)).text
        except DocumentError as exc:
            raise DataError(f"cannot re-read the original: {exc.message}", path=display,
                            line=lines.get(("source", "original")), hint="Extract the document again.") from None
        where = f"original {original}"
    if sha256_text(text) != source.get("sha256"):
        raise DataError(f"the {where} has changed since extraction (sha256 differs)", path=display,
                        line=lines.get(("source", "sha256")),
                        hint="Extract the document again: the offsets no longer fit the text.")
    return text


# --------------------------------------------------------------------------- checks

def validate_candidates(cset: CandidateSet, dataset: Dataset, vocab: Vocabulary) -> list[Problem]:
    """Every problem of a candidates file, checked against the curated data and the
    ontology as if its candidates were curated: the same checks as kgraph validate
    (types, predicates with their domains and ranges, values, evidence kinds,
    qualifiers, references), plus offsets and quotes against the text."""
    problems: list[Problem] = []

    def bad(where: Location, message: str, hint: str = "") -> None:
        problems.append(Problem("error", where, message, hint, code="bad-candidate"))

    src = cset.source
    sid = src.get("id")
    where = cset.line("source", "id")
    if not isinstance(sid, str) or source_number(sid) is None:
        bad(where, f"source id {sid!r} is not of the form src-NNN", "Use the next free number, e.g. src-005.")
        sid = "src-???"
    elif sid in dataset.source_index() and dataset.source_index()[sid].sha256 != src.get("sha256"):
        old = dataset.source_index()[sid]
        if old.file != src.get("file"):
            bad(where, f"source id '{sid}' is taken by {old.file} ({old.loc})", "Extract the document again.")
    if src.get("file") != f"{DOCUMENTS_DIR}/{sid}.txt":
        bad(cset.line("source", "file"), f"source file must be '{DOCUMENTS_DIR}/{sid}.txt', not {src.get('file')!r}",
            "Keep the file kgraph extract proposed.")
    for key in ("sha256", "original_sha256"):
        if not isinstance(src.get(key), str) or not HEX64.match(src[key]):
            bad(cset.line("source", key), f"source {key} must be 64 hex digits", "Extract the document again.")
    publisher = src.get("publisher")
    if publisher is not None and not isinstance(publisher, str):
        bad(cset.line("source", "publisher"), "source publisher must be an entity id", "Write e.g. publisher: alpha-clinic.")
    for key in src:
        if key not in SOURCE_KEYS:
            bad(cset.line("source", key), f"source: unknown field '{key}'", f"Allowed: {', '.join(SOURCE_KEYS)}.")

    existing = dataset.entity_index()
    entities: list[Entity] = []
    for rec, eid, loc in _records(cset.entities, "entity", ENTITY_KEYS, SLUG, cset, bad,
                                  "entity id {!r} is not a slug", "Use lowercase letters, digits and single hyphens."):
        if eid in existing:
            bad(loc, f"entity '{eid}' is already in the data ({existing[eid].loc})",
                "Use the existing entity's id in the claims and drop this record, or rename it.")
        for m in rec.get("mentions") or []:
            if not (isinstance(m, list) and len(m) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in m)
                    and 0 <= m[0] < m[1] <= len(cset.text)):
                bad(cset.line(eid, "mentions"), f"entity '{eid}': mention {m!r} is not [start, end] inside the text",
                    f"Give character offsets between 0 and {len(cset.text)}.")
        _status(rec, eid, cset, bad)
        entities.append(Entity(id=eid, type=str(rec.get("type") or ""), label=str(rec.get("label") or ""),
                               synonyms=_strings(rec.get("synonyms")), abbreviations=_strings(rec.get("abbreviations")),
                               description=str(rec.get("description") or ""),
                               # the data's checks of an entity are about its type: point there
                               loc=cset.line(eid, "type")))

    claims: list[Claim] = []
    seen: dict[str, Location] = {}
    for rec, cid, loc in _records(cset.claims, "claim", CLAIM_KEYS, CANDIDATE_ID, cset, bad,
                                  "candidate id {!r} is not valid", "Keep the id kgraph extract gave (x and 10 hex digits)."):
        if cid in seen:
            bad(loc, f"duplicate candidate id '{cid}' (first at {seen[cid]})", "Remove one of the two.")
            continue
        seen[cid] = loc
        claim = _claim(rec, cid, sid, cset, bad)
        if claim is not None:
            claims.append(claim)
    if problems:
        return problems

    proposal = Source(id=sid, file=src["file"], sha256=src["sha256"], publisher=publisher or "", titles=[],
                      description="", loc=cset.line("source", "publisher"))
    merged = Dataset(sources=[s for s in dataset.sources if s.id != sid] + [proposal],
                     # the curated claims cannot make a candidate wrong: without them it is 10x faster
                     entities=dataset.entities + entities, xrefs=[], claims=claims)
    for p in validate_dataset(merged, vocab):
        if p.level != "error" or getattr(p.where, "path", None) != cset.display:
            continue
        # candidate ids are not curated claim ids (review gives those); checked above
        if re.match(r"claim id 'x[0-9a-f]{10}' is not valid", p.message):
            continue
        if publisher is None and "unknown publisher" in p.message:
            continue  # a missing publisher is for the review to settle
        problems.append(p)
    return problems


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if isinstance(value, str) else []


def _records(records: list[dict], what: str, allowed: tuple[str, ...], id_form: re.Pattern, cset: CandidateSet,
             bad, malformed: str, hint: str) -> Iterator[tuple[dict, str, Location]]:
    """Each candidate record with its id and line, its fields checked; a record whose id is
    not of ``id_form`` is reported (``malformed``, with ``{!r}`` where the id goes) and skipped."""
    for rec in records:
        rid = rec.get("id")
        loc = cset.line(str(rid))
        _unknown_keys(rec, allowed, f"{what} '{rid}'", cset, bad)
        if isinstance(rid, str) and id_form.match(rid):
            yield rec, rid, loc
        else:
            bad(loc, malformed.format(rid), hint)


def _unknown_keys(rec: dict, allowed: tuple[str, ...], what: str, cset: CandidateSet, bad) -> None:
    for key in rec:
        if key not in allowed:
            bad(cset.line(str(rec.get("id")), str(key)), f"{what}: unknown field '{key}'", f"Allowed: {', '.join(allowed)}.")


def _status(rec: dict, rid: str, cset: CandidateSet, bad) -> None:
    if rec.get("status", "candidate") != "candidate":
        bad(cset.line(rid, "status"), f"'{rid}': status must be 'candidate', not {rec.get('status')!r}",
            "Decide with kgraph review (accept, edit, reject) rather than in this file.")


def _claim(rec: dict, cid: str, sid: str, cset: CandidateSet, bad) -> Claim | None:
    ok = True
    start, end, quote = rec.get("start"), rec.get("end"), rec.get("quote")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in (start, end)) or not 0 <= start < end <= len(cset.text):
        bad(cset.line(cid, "start"), f"claim '{cid}': start/end must be offsets in the text (0 to {len(cset.text)})",
            "Give the character offsets of the quote.")
        ok = False
    elif not isinstance(quote, str) or cset.text[start:end] != quote:
        found = cset.text[start:end]
        bad(cset.line(cid, "quote"), f"claim '{cid}': the quote is not the text at {start}-{end} (which reads {found!r})",
            "Copy the quote exactly from the text, or fix start and end.")
        ok = False
    confidence = rec.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                                   or not 0 <= confidence <= 1):
        bad(cset.line(cid, "confidence"), f"claim '{cid}': confidence must be a number from 0 to 1", "")
        ok = False
    _status(rec, cid, cset, bad)
    for key in ("subject", "predicate", "evidence"):
        if not isinstance(rec.get(key), str):
            bad(cset.line(cid, key), f"claim '{cid}': '{key}' must be text", f"Write '{key}: ...'.")
            ok = False
    if (rec.get("object") is None) == (rec.get("value") is None):
        bad(cset.line(cid), f"claim '{cid}' needs exactly one of 'object' and 'value'",
            "Use 'object:' for an entity, 'value:' for a literal.")
        ok = False
    qualifiers = rec.get("qualifiers") or {}
    if not isinstance(qualifiers, dict):
        bad(cset.line(cid, "qualifiers"), f"claim '{cid}': 'qualifiers' must be a mapping", "Write {key: value}.")
        ok = False
    if not ok:
        return None
    lines = {key: line for (rid, key), line in ((k, v) for k, v in cset.lines.items() if isinstance(k, tuple))
             if rid == cid}
    return Claim(id=cid, source=sid, subject=rec["subject"], predicate=rec["predicate"], quote=quote,
                 evidence=rec["evidence"], loc=cset.line(cid), object=rec.get("object"), value=rec.get("value"),
                 unit=rec.get("unit"), qualifiers=dict(qualifiers), cites=_strings(rec.get("cites")),
                 attributed_to=_strings(rec.get("attributed_to")), modality=rec.get("modality") or "asserted",
                 flag=rec.get("flag"), note=rec.get("note"), field_lines=lines)


def settle_known_entities(cset: CandidateSet, dataset: Dataset) -> list[str]:
    """Drop the candidate entities the data has gained since extraction (same id, same
    type and label: another document's review added them); the claims keep the id.
    Returns the ids dropped."""
    existing = dataset.entity_index()
    known = []
    for ent in cset.entities:
        have = existing.get(str(ent.get("id")))
        if have is not None and have.type == ent.get("type") and have.label.casefold() == str(ent.get("label")).casefold():
            known.append(have.id)
    cset.entities = [e for e in cset.entities if e.get("id") not in known]
    return known


def check_candidates(cset: CandidateSet, dataset: Dataset, vocab: Vocabulary) -> None:
    """Raise :class:`CandidatesError` listing every problem, if there is any."""
    problems = validate_candidates(cset, dataset, vocab)
    if problems:
        raise CandidatesError(problems, cset.display)
