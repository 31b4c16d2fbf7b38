"""A curator's decisions on candidates, and moving the accepted ones into the curated data.

:func:`apply_review` turns a candidates file and a set of decisions (accept, edit,
reject, skip; per claim and per entity) into the new contents of every file it touches:

* ``data/claims/<NNN>.yaml`` -- accepted claims appended, with new ids ``c<NNN>-<k>``
  after the file's last one (ids are never reused or renumbered: they are IRIs);
* ``data/entities/<kind>.yaml`` -- accepted entities appended to the file that already
  holds entities of that type (or of the nearest related type), or ``<type>.yaml``;
* ``data/sources.yaml`` and ``data/documents/<source-id>.txt`` -- the new source record
  and its text (on the first acceptance; a new version of the document updates both);
* ``data/candidates/<source-id>.decisions.yaml`` -- every decision, kept so that
  ``kgraph extract`` never proposes a decided candidate (same sentence, same statement)
  again; the candidates file keeps only the undecided (skipped) candidates.

Existing files are only appended to (their bytes are kept: they are reviewed in diffs).
Before anything is written the result is validated like ``kgraph validate`` (in a
scratch copy of the data); then :func:`commit_files` writes every file as one step: all
temporary files first, then a journal, then the renames. A review killed before the
journal leaves the old state; after it, :func:`recover` (run by extract and review)
finishes the renames: the new state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgraph.candidates import (
    CANDIDATES_DIR,
    DECISIONS_SUFFIX,
    CandidateSet,
    check_candidates,
    claim_sentence,
    claims_file_name,
    dump_candidates,
    read_candidates,
    settle_known_entities,
    source_number,
    yaml_record,
    yaml_scalar,
)
from kgraph.documents import DOCUMENTS_DIR
from kgraph.errors import DataError, KgraphError
from kgraph.load import CLAIM_FIELDS, read_yaml
from kgraph.model import Dataset, Vocabulary
from kgraph.project import Project
from kgraph.validate import SLUG

ACTIONS = ("accept", "edit", "reject", "skip")
JOURNAL = ".review-journal.json"
#: Fields of a curated claim, in the order the data/claims files write them.
CLAIM_ORDER = ("id", "subject", "predicate", "object", "value", "unit", "quote", "evidence", "modality", "qualifiers",
               "cites", "attributed_to", "flag", "note")
ENTITY_ORDER = ("id", "type", "label", "synonyms", "abbreviations", "description")
EDITABLE_CLAIM = tuple(k for k in CLAIM_ORDER if k != "id")
EDITABLE_ENTITY = ENTITY_ORDER


class ReviewError(KgraphError):
    """The decisions cannot be applied: they name no candidate, or the result would not validate.

    A refusal about the data under review, so the data's exit status (3, see EXIT_CODES).
    """

    exit_code = 3


@dataclass(frozen=True)
class Choice:
    """One decision: ``action`` is accept, edit, reject or skip; ``changes`` the edited fields."""

    action: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decisions:
    """What the curator decided on one candidates file."""

    claims: dict[str, Choice] = field(default_factory=dict)
    entities: dict[str, Choice] = field(default_factory=dict)
    #: changes to the proposed source record: publisher, title, description
    source: dict[str, Any] = field(default_factory=dict)
    #: what happens to candidates not named (skip by default)
    default: str = "skip"


@dataclass
class ReviewResult:
    """What a review did (or would do): the ids given, and the files to write."""

    source_id: str
    accepted: list[tuple[str, str]]  # candidate id -> curated claim id
    rejected: list[str]
    skipped: list[str]
    entities_added: list[str]
    source_added: bool
    files: dict[Path, bytes | None]  # None deletes the file
    #: the ids of the candidates file's claims and entities
    candidates: list[str] = field(default_factory=list)
    candidate_entities: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- where

def candidates_dir(project: Project) -> Path:
    return project.data_dir / CANDIDATES_DIR


def decisions_path(candidates_path: Path) -> Path:
    return candidates_path.with_name(candidates_path.name.removesuffix(".yaml") + DECISIONS_SUFFIX)


def pending_files(project: Project) -> list[Path]:
    """The candidates files in data/candidates/, by name."""
    folder = candidates_dir(project)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.yaml") if not p.name.endswith(DECISIONS_SUFFIX) and p.is_file())


def find_candidates(project: Project, wanted: str) -> Path:
    """A candidates file named by source id (``src-005``) or by path."""
    path = Path(wanted)
    if path.suffix == ".yaml" or path.is_file():
        return path
    named = candidates_dir(project) / f"{wanted}.yaml"
    if named.is_file():
        return named
    known = ", ".join(p.stem for p in pending_files(project)) or "none"
    # an unknown name, like an unknown entity: a usage error (exit 2), not bad data
    raise KgraphError(f"no candidates for '{wanted}' in {candidates_dir(project)}",
                      f"Pending: {known}. Run kgraph extract FILE first.")


# --------------------------------------------------------------------------- decisions in

def read_decisions(path: Path, display: str | None = None) -> Decisions:
    """A decisions file (``--decisions``)::

        default: skip            # or accept / reject: candidates not named below
        source: {publisher: gamma-clinic}
        claims:
          x3f9a0c12de: accept
          x77b0e5a1c4: reject
          x0c1d2e3f4a: {edit: {predicate: treats, modality: hedged}}
        entities:
          nausea: {edit: {type: SideEffect}}
    """
    display = display or str(path)
    doc = read_yaml(path, display)
    if not isinstance(doc, dict):
        raise DataError("a decisions file is a mapping with 'claims:' (and 'entities:', 'source:', 'default:')",
                        path=display, line=getattr(doc, "line", 1), hint="See kgraph review --help.")
    for key in doc:
        if key not in ("claims", "entities", "source", "default"):
            raise DataError(f"unknown key '{key}'", path=display, line=doc.key_lines.get(str(key)),
                            hint="Use claims, entities, source and default.")
    default = doc.get("default", "skip")
    if default not in ("skip", "accept", "reject"):
        raise DataError(f"default must be skip, accept or reject, not {default!r}", path=display,
                        line=doc.key_lines.get("default"), hint="Write default: skip.")
    out = Decisions(default=default)
    for part, allowed in (("claims", EDITABLE_CLAIM), ("entities", EDITABLE_ENTITY)):
        items = doc.get(part) or {}
        if not isinstance(items, dict):
            raise DataError(f"'{part}' must map ids to decisions", path=display, line=doc.key_lines.get(part),
                            hint=f"Write '{part}:' then 'ID: accept' lines.")
        for rid, value in items.items():
            line = items.key_lines.get(str(rid))
            getattr(out, part)[str(rid)] = _choice(value, allowed, display, line)
    source = doc.get("source") or {}
    if not isinstance(source, dict) or any(k not in ("publisher", "title", "description") for k in source):
        raise DataError("'source' may set publisher, title and description", path=display,
                        line=doc.key_lines.get("source"), hint="Write source: {publisher: an-entity-id}.")
    out.source = dict(source)
    return out


def _choice(value: Any, allowed: tuple[str, ...], display: str, line: int | None) -> Choice:
    if isinstance(value, str) and value in ("accept", "reject", "skip"):
        return Choice(value)
    if isinstance(value, dict) and list(value) == ["edit"] and isinstance(value["edit"], dict):
        changes = dict(value["edit"])
        for key in changes:
            if key not in allowed:
                raise DataError(f"cannot edit '{key}'", path=display, line=line,
                                hint=f"Editable fields: {', '.join(allowed)}.")
        return Choice("edit", changes)
    raise DataError(f"a decision is accept, reject, skip or {{edit: {{field: value}}}}, not {value!r}",
                    path=display, line=line, hint="Example: x3f9a0c12de: {edit: {predicate: treats}}")


# --------------------------------------------------------------------------- memory

def read_memory(path: Path) -> dict[str, Any]:
    """The remembered decisions of one source ({} when there are none yet)."""
    if not path.is_file():
        return {"claims": [], "entities": []}
    doc = read_yaml(path, str(path))
    if not isinstance(doc, dict):
        raise DataError("not a decisions record", path=path, hint="Restore it from version control.")
    return {"source": doc.get("source"), "original": doc.get("original"),
            "claims": [dict(r) for r in doc.get("claims") or []], "entities": [dict(r) for r in doc.get("entities") or []]}


def decided_ids(memory: dict[str, Any]) -> set[str]:
    return {str(r.get("id")) for r in memory.get("claims", [])}


def dump_memory(source_id: str, original: str | None, memory: dict[str, Any]) -> str:
    out = [f"# Decisions of kgraph review on the candidates of {source_id}. kgraph extract reads this:",
           "# a candidate decided here (same sentence, same statement) is never proposed again.",
           f"source: {yaml_scalar(source_id)}",
           f"original: {yaml_scalar(original, quoted=True)}",
           "claims:" + ("" if memory["claims"] else " []")]
    for rec in memory["claims"]:
        out += yaml_record(rec, ("id", "decision", "claim", "statement", "sentence"), 2,
                           quoted=("statement", "sentence"))
    out.append("entities:" + ("" if memory["entities"] else " []"))
    for rec in memory["entities"]:
        out += yaml_record(rec, ("id", "decision", "entity"), 2)
    return "\n".join(out) + "\n"


def statement(claim: dict[str, Any]) -> str:
    obj = claim.get("object")
    if obj is None:
        obj = f"{claim.get('value')}" + (f" {claim['unit']}" if claim.get("unit") else "")
    return f"{claim.get('subject')} {claim.get('predicate')} {obj}"


# --------------------------------------------------------------------------- applying

def apply_review(project: Project, candidates_path: Path, decisions: Decisions, *,
                 dataset: Dataset, vocab: Vocabulary, validate: bool = True, strict: bool = True,
                 display: str | None = None) -> ReviewResult:
    """The files a review writes (nothing is written here); validated before it returns
    (unless ``validate`` is false: :func:`review_all` validates once for all). ``strict``
    refuses decisions about ids that are not candidates of this file."""
    display = display or _display(project, candidates_path)
    cset = read_candidates(candidates_path, display)
    settle_known_entities(cset, dataset)
    check_candidates(cset, dataset, vocab)
    sid = cset.source_id
    ids = {c["id"] for c in cset.claims}
    ent_ids = {e["id"] for e in cset.entities}
    for cid in decisions.claims if strict else ():
        if cid not in ids:
            raise ReviewError(f"the decisions name claim '{cid}', which is not a candidate of {sid}",
                              f"Candidates: {', '.join(sorted(ids)) or 'none'}.")
    for eid in decisions.entities if strict else ():
        if eid not in ent_ids:
            raise ReviewError(f"the decisions name entity '{eid}', which is not a candidate of {sid}",
                              f"Candidate entities: {', '.join(sorted(ent_ids)) or 'none'}.")

    existing = dataset.entity_index()
    entity_recs = {e["id"]: dict(e) for e in cset.entities}
    renamed: dict[str, str] = {}
    rejected_entities: set[str] = set()
    for eid, choice in decisions.entities.items():
        if eid not in entity_recs:  # (another file's, in review_all)
            continue
        if choice.action == "reject":
            rejected_entities.add(eid)
        elif choice.action == "edit":
            rec = {**entity_recs[eid], **choice.changes}
            new_id = str(rec["id"])
            if not SLUG.match(new_id) or new_id in existing or (new_id != eid and new_id in entity_recs):
                raise ReviewError(f"entity '{eid}': new id '{new_id}' is not a free slug",
                                  "Choose lowercase letters, digits and hyphens not used by another entity.")
            renamed[eid] = new_id
            entity_recs[eid] = rec

    def ref(value):
        return renamed.get(value, value) if isinstance(value, str) else value

    source_rec = {**cset.source, **{k: v for k, v in decisions.source.items() if k != "title"}}
    if "title" in decisions.source:
        source_rec["title"] = decisions.source["title"]
    publisher = ref(source_rec.get("publisher"))

    accepted: list[tuple[dict, dict]] = []  # (candidate, curated claim record)
    rejected, skipped = [], []
    for cand in cset.claims:
        choice = decisions.claims.get(cand["id"], Choice(decisions.default))
        if choice.action in ("accept", "edit"):
            rec = {k: cand.get(k) for k in CLAIM_FIELDS if k != "id"}
            rec.update(choice.changes)
            if "value" in choice.changes:  # an edit turns a relation into a value claim, or back
                rec["object"] = None
            elif "object" in choice.changes:
                rec["value"] = rec["unit"] = None
            for key in ("subject", "object"):
                rec[key] = ref(rec.get(key))
            rec["cites"] = [ref(v) for v in _as_list(rec.get("cites"))] or None
            rec["attributed_to"] = [ref(v) for v in _as_list(rec.get("attributed_to"))] or None
            rec["qualifiers"] = {k: ref(v) for k, v in (rec.get("qualifiers") or {}).items()} or None
            if rec.get("modality") == "asserted":
                rec["modality"] = None
            uses = {rec.get("subject"), rec.get("object"), *_as_list(rec.get("cites")),
                    *_as_list(rec.get("attributed_to")), *(rec.get("qualifiers") or {}).values()}
            if uses & {renamed.get(e, e) for e in rejected_entities}:
                rejected.append(cand["id"])  # it needs an entity the curator rejected
                continue
            if not isinstance(rec.get("quote"), str) or rec["quote"] not in cset.text:
                raise ReviewError(f"claim '{cand['id']}': the edited quote is not in the text of {sid}",
                                  "Copy the quote exactly from the document's text.")
            accepted.append((cand, rec))
        elif choice.action == "reject":
            rejected.append(cand["id"])
        else:
            skipped.append(cand["id"])

    # entities: those accepted explicitly, and those an accepted claim or the source needs
    needed = {publisher} if accepted else set()
    for _, rec in accepted:
        needed |= {rec.get("subject"), rec.get("object"), *_as_list(rec.get("cites")),
                   *_as_list(rec.get("attributed_to")), *(rec.get("qualifiers") or {}).values()}
    new_entities = []
    for eid, rec in entity_recs.items():
        final = renamed.get(eid, eid)
        choice = decisions.entities.get(eid)
        if eid in rejected_entities:
            continue
        if final in needed or (choice is not None and choice.action in ("accept", "edit")):
            ent = {k: rec.get(k) for k in ENTITY_ORDER} | {"id": final}
            ent["synonyms"] = ent.get("synonyms") or None
            ent["abbreviations"] = ent.get("abbreviations") or None
            # the data needs a description; until the curator writes one, say where it came from
            ent["description"] = ent.get("description") or default_description(ent, sid, vocab)
            new_entities.append(ent)
    added_ids = {e["id"] for e in new_entities}
    sources = dataset.source_index()
    source_exists = sid in sources
    if accepted and not source_exists and (publisher is None or (publisher not in existing and publisher not in added_ids)):
        raise ReviewError(f"{sid} has no known publisher ({publisher!r}): the source record needs one",
                          f"Set it in the decisions (source: {{publisher: an-entity-id}}) or in {display} "
                          "(source.publisher), to an existing entity or one of the candidate entities.")

    files: dict[Path, bytes | None] = {}
    data = project.data_dir
    number = source_number(sid)
    claim_ids: list[tuple[str, str]] = []
    if accepted:
        used = [int(c.id.rsplit("-", 1)[1]) for c in dataset.claims if c.source == sid and re.match(r"^c\d+-\d+$", c.id)]
        next_k = max(used, default=0) + 1
        lines = []
        for cand, rec in accepted:
            cid = f"c{number:03d}-{next_k:03d}"
            next_k += 1
            claim_ids.append((cand["id"], cid))
            lines += yaml_record({"id": cid, **rec}, CLAIM_ORDER, 2, quoted=("quote", "note", "unit"))
        path = data / "claims" / claims_file_name(sid)
        files[path] = _append(path, lines, header=f"source: {sid}\nclaims:\n")
    by_file: dict[Path, list[str]] = {}
    for ent in new_entities:
        path = data / "entities" / _entity_file(ent["type"], dataset, vocab)
        by_file.setdefault(path, []).extend(yaml_record(ent, ENTITY_ORDER, 0, quoted=("label", "description")))
    for path, lines in by_file.items():
        files[path] = _append(path, lines, header="")

    source_added = False
    stored_text = cset.text.encode("utf-8")
    if accepted and not source_exists:
        titles = [source_rec["title"]] if source_rec.get("title") else []
        original = Path(str(source_rec.get("original") or "")).name
        record = {"id": sid, "file": source_rec["file"], "sha256": source_rec["sha256"], "publisher": publisher,
                  "titles": titles, "description": source_rec.get("description")
                  or f"Added with kgraph extract and review from {original}."}
        lines = yaml_record(record, ("id", "file", "sha256", "publisher", "titles", "description"), 0,
                            quoted=("sha256", "description"))
        files[data / "sources.yaml"] = _append(data / "sources.yaml", lines, header="")
        files[data / source_rec["file"]] = stored_text
        source_added = True
    elif source_exists and sources[sid].sha256 != source_rec["sha256"]:
        # a new version of a document added before: its text and digest follow
        if sources[sid].file != source_rec["file"]:
            raise ReviewError(f"{sid} is a corpus source ({sources[sid].file}); its candidates cannot replace it",
                              "Extract the new document without reusing the id.")
        files[data / "sources.yaml"] = _replace_sha(data / "sources.yaml", sources[sid], source_rec["sha256"])
        files[data / source_rec["file"]] = stored_text

    # the memory of decisions, and the candidates left
    mem_path = decisions_path(candidates_path)
    memory = read_memory(mem_path)
    given = dict(claim_ids)
    for cand in cset.claims:
        if cand["id"] in skipped:
            continue
        choice = decisions.claims.get(cand["id"], Choice(decisions.default))
        decision = "rejected" if cand["id"] in rejected else "edited" if choice.action == "edit" else "accepted"
        memory["claims"].append({"id": cand["id"], "decision": decision, "claim": given.get(cand["id"]),
                                 "statement": statement(cand), "sentence": claim_sentence(cset.text, cand)})
    for eid in entity_recs:
        final = renamed.get(eid, eid)
        if eid in rejected_entities:
            memory["entities"].append({"id": eid, "decision": "rejected"})
        elif final in added_ids:
            memory["entities"].append({"id": eid, "decision": "accepted", "entity": final})
    files[mem_path] = dump_memory(sid, cset.source.get("original"), memory).encode("utf-8")
    left = [c for c in cset.claims if c["id"] in skipped]
    if left:
        keep_entities = [e for e in cset.entities if e["id"] not in rejected_entities
                         and renamed.get(e["id"], e["id"]) not in added_ids]
        rest = CandidateSet(source={**cset.source, "publisher": source_rec.get("publisher"),
                                    "title": source_rec.get("title")},
                            entities=keep_entities, claims=left, text=cset.text)
        files[candidates_path] = dump_candidates(rest).encode("utf-8")
    else:
        files[candidates_path] = None
        from kgraph.candidates import text_path

        if (stored := text_path(candidates_path, cset.source)) is not None and stored.is_file():
            files[stored] = None

    result = ReviewResult(source_id=sid, accepted=claim_ids, rejected=rejected, skipped=skipped,
                          entities_added=sorted(added_ids), source_added=source_added, files=files,
                          candidates=sorted(ids), candidate_entities=sorted(ent_ids))
    if validate:
        _validate_result(project, files)
    return result


def default_description(entity: dict[str, Any], source_id: str, vocab: Vocabulary) -> str:
    kind = vocab.class_labels.get(str(entity.get("type")), str(entity.get("type")))
    return f"{kind[:1].upper()}{kind[1:]} named in {source_id} (description to be written; added by kgraph review)."


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _display(project: Project, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.root))
    except ValueError:
        return str(path)


def _append(path: Path, lines: list[str], *, header: str) -> bytes:
    """The file with ``lines`` appended (its existing bytes unchanged)."""
    old = path.read_bytes() if path.is_file() else header.encode("utf-8")
    if old and not old.endswith(b"\n"):
        old += b"\n"
    if path.is_file() and path.parent.name == "claims":
        doc = read_yaml(path, str(path))
        if not isinstance(doc, dict) or list(doc)[-1:] != ["claims"]:
            raise ReviewError(f"{path}: 'claims:' is not the last key of the file, so claims cannot be appended",
                              "Move the claims list to the end of the file, then review again.")
        if not doc.get("claims"):  # "claims: []" or an empty list: append under a fresh key
            text = re.sub(rb"(?m)^claims:.*$", b"claims:", old)
            old = text
    return old + ("\n".join(lines) + "\n").encode("utf-8")


def _replace_sha(path: Path, source, sha256: str) -> bytes:
    doc = read_yaml(path, str(path))
    lines = path.read_bytes().decode("utf-8").split("\n")
    for rec in doc:
        if isinstance(rec, dict) and rec.get("id") == source.id and "sha256" in rec.key_lines:
            n = rec.key_lines["sha256"] - 1
            lines[n] = re.sub(r"sha256:.*$", f"sha256: {yaml_scalar(sha256, quoted=True)}", lines[n])
            return "\n".join(lines).encode("utf-8")
    raise ReviewError(f"{path}: source '{source.id}' has no sha256 line to update", "Add 'sha256:' to its record.")


def _entity_file(type_name: str, dataset: Dataset, vocab: Vocabulary) -> str:
    """The entities file for a new entity of ``type_name``: the file holding most entities
    of that type, else of the most specific related type, else ``<type>.yaml``."""
    files: dict[str, Counter] = {}
    for ent in dataset.entities:
        name = Path(ent.loc.path).name
        if name.startswith("staging-"):
            continue
        files.setdefault(ent.type, Counter())[name] += 1
    if type_name in files:
        return files[type_name].most_common(1)[0][0]
    iri = vocab.classes.get(type_name)
    ancestors = vocab.superclasses.get(iri, set()) if iri is not None else set()
    best: tuple[int, str] | None = None
    for other, counter in files.items():
        other_iri = vocab.classes.get(other)
        if other_iri is None:
            continue
        shared = len(ancestors & vocab.superclasses.get(other_iri, set()))
        if shared and (best is None or shared > best[0]):
            best = (shared, counter.most_common(1)[0][0])
    if best is not None and best[0] > 2:  # more in common than kg:Entity and one level
        return best[1]
    return re.sub(r"(?<!^)(?=[A-Z])", "-", type_name).lower() + ".yaml"


def _scratch_copy(data: Path, scratch: Path, *, candidates: bool) -> None:
    """A copy of the data folder to try a review on: the YAML files, the stored
    documents and, with ``candidates``, data/candidates/."""
    scratch.mkdir(parents=True, exist_ok=True)
    for part in ("sources.yaml", "xrefs.yaml"):
        if (data / part).is_file():
            shutil.copy2(data / part, scratch / part)
    for part in ("entities", "claims"):
        (scratch / part).mkdir(parents=True, exist_ok=True)
        for p in (data / part).glob("*.yaml") if (data / part).is_dir() else ():
            shutil.copy2(p, scratch / part / p.name)
    (scratch / DOCUMENTS_DIR).mkdir(parents=True, exist_ok=True)
    if (data / DOCUMENTS_DIR).is_dir():
        # copies, not links: validate refuses a source file that links out of its folder
        for p in (data / DOCUMENTS_DIR).iterdir():
            if p.is_file() and not p.is_symlink():
                shutil.copy2(p, scratch / DOCUMENTS_DIR / p.name)
    if candidates and (data / CANDIDATES_DIR).is_dir():
        shutil.copytree(data / CANDIDATES_DIR, scratch / CANDIDATES_DIR, symlinks=True)


def _trial(project: Project, scratch: Path) -> Project:
    return Project.at(project.root, data_dir=scratch, ontology_dir=project.ontology_dir,
                      corpus_dir=project.corpus_dir, out_dir=scratch.parent / "out")


def _check_scratch(project: Project, scratch: Path, changed: set[str]) -> None:
    """Validate the scratch data like kgraph validate; refuse on errors in ``changed``
    files (paths relative to the data folder)."""
    from kgraph.pipeline import check

    report = check(_trial(project, scratch), quotes=True, shacl=True).report
    errors = [p for p in report.errors if _touches(p, scratch, changed)]
    if errors:
        listed = "\n".join(f"  {_strip(p, scratch)}" for p in errors)
        raise ReviewError(f"the reviewed data would not validate; nothing was written:\n{listed}",
                          "Edit the candidates named (kgraph review, edit) or reject them, then review again.")


def _validate_result(project: Project, files: dict[Path, bytes | None]) -> None:
    """Validate the data as it would be after writing ``files`` (a scratch copy)."""
    data = project.data_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="kgraph-review-") as tmp:
        scratch = Path(tmp) / "data"
        _scratch_copy(data, scratch, candidates=False)
        for path, content in files.items():
            try:
                rel = path.resolve().relative_to(data)
            except ValueError:
                continue
            if rel.parts[0] == CANDIDATES_DIR:
                continue
            target = scratch / rel
            target.unlink(missing_ok=True)
            if content is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        _check_scratch(project, scratch, {str(p.resolve().relative_to(data)) for p in files
                                          if p.resolve().is_relative_to(data)})


def review_all(project: Project, paths: list[Path], decisions: Decisions, *,
               vocab: Vocabulary) -> tuple[list[ReviewResult], dict[Path, bytes | None]]:
    """Apply the same decisions (``--accept-all``, ``--decisions``) to several candidates
    files of data/candidates/ and validate once: each review is applied in turn to a
    scratch copy of the data, the result is checked, and the files that differ are
    returned to be committed as one step. (Validating each of 600 documents' reviews
    would take a full check each.)"""
    from kgraph.load import load_dataset

    data = project.data_dir.resolve()
    folder = (data / CANDIDATES_DIR).resolve()
    for path in paths:
        if not path.resolve().is_relative_to(folder):
            raise ReviewError(f"{path} is not in {folder}: several files are reviewed together only there",
                              "Review it on its own: kgraph review FILE.")
    results: list[ReviewResult] = []
    claim_ids: set[str] = set()
    entity_ids: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="kgraph-review-") as tmp:
        scratch = Path(tmp) / "data"
        _scratch_copy(data, scratch, candidates=True)
        trial = _trial(project, scratch)
        for path in paths:
            rel = path.resolve().relative_to(data)
            dataset, _ = load_dataset(trial)
            result = apply_review(trial, scratch / rel, decisions, dataset=dataset, vocab=vocab, validate=False,
                                  strict=False, display=str(Path(data.name) / rel))
            claim_ids |= set(result.candidates)
            entity_ids |= set(result.candidate_entities)
            commit_files(result.files, scratch / CANDIDATES_DIR / JOURNAL)
            result.files = {data / p.relative_to(scratch): c for p, c in result.files.items()}
            results.append(result)
        for what, named, known in (("claim", decisions.claims, claim_ids), ("entity", decisions.entities, entity_ids)):
            unknown = sorted(set(named) - known)
            if unknown:
                raise ReviewError(f"the decisions name {what} '{unknown[0]}', which is not a candidate of "
                                  f"{', '.join(r.source_id for r in results)}", "Check the ids in the decisions file.")
        files = _differences(scratch, data)
        _check_scratch(project, scratch, {str(p.relative_to(data)) for p in files})
    return results, files


def _differences(scratch: Path, data: Path) -> dict[Path, bytes | None]:
    """What writing the scratch copy back changes in the data folder."""
    out: dict[Path, bytes | None] = {}
    for path in sorted(scratch.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        real = data / path.relative_to(scratch)
        content = path.read_bytes()
        if not real.is_file() or real.read_bytes() != content:
            out[real] = content
    for part in ("entities", "claims", CANDIDATES_DIR, DOCUMENTS_DIR):
        for real in sorted((data / part).glob("*")) if (data / part).is_dir() else ():
            if real.is_file() and not os.path.lexists(scratch / real.relative_to(data)):
                out[real] = None
    return out


def _touches(problem, scratch: Path, shown: set[str]) -> bool:
    path = str(getattr(problem.where, "path", problem.where))
    rel = path.split(str(scratch) + "/", 1)[-1] if str(scratch) in path else path.removeprefix("data/")
    return rel in shown or not getattr(problem.where, "path", None)


def _strip(problem, scratch: Path) -> str:
    return str(problem).replace(str(scratch) + "/", "data/")


# --------------------------------------------------------------------------- writing

def commit_files(files: dict[Path, bytes | None], journal: Path, *, what: str = "the reviewed data") -> None:
    """Write (or delete) every file as one step: temporary files beside their targets,
    then a journal of the renames (atomically), then the renames, then the journal goes.
    :func:`recover` completes a commit whose journal was written."""
    from kgraph.errors import OutputError
    from kgraph.export import write_atomic

    renames, deletes, made = [], [], []
    try:
        for path, content in sorted(files.items(), key=lambda kv: str(kv[0])):
            if content is None:
                deletes.append(str(path))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            made.append(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            renames.append([tmp, str(path)])
        journal.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(journal, json.dumps({"renames": renames, "deletes": deletes}, indent=1).encode("utf-8"))
    except OSError as exc:
        for tmp in made:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {what}: {exc}", "Check the permissions of the folder named.") from None
    except BaseException:
        for tmp in made:
            Path(tmp).unlink(missing_ok=True)
        raise
    _finish(journal)


def _finish(journal: Path) -> None:
    plan = json.loads(journal.read_text(encoding="utf-8"))
    for tmp, target in plan["renames"]:
        if Path(tmp).exists():
            os.replace(tmp, target)
    for target in plan["deletes"]:
        Path(target).unlink(missing_ok=True)
    journal.unlink()


def recover(project: Project, folder: Path | None = None) -> bool:
    """Finish a review (or extract) commit that was interrupted after its journal was
    written in ``folder`` (default: the candidates folder)."""
    journal = (folder or candidates_dir(project)) / JOURNAL
    if not journal.is_file():
        return False
    _finish(journal)
    return True


def journal_for(paths) -> Path:
    """Where a commit of ``paths`` keeps its journal: their common folder."""
    return Path(os.path.commonpath([str(Path(p).parent) for p in paths])) / JOURNAL


def review(project: Project, candidates_path: Path, decisions: Decisions, *, dataset: Dataset,
           vocab: Vocabulary) -> ReviewResult:
    """Apply the decisions and write the result (see the module docstring)."""
    result = apply_review(project, candidates_path, decisions, dataset=dataset, vocab=vocab)
    commit_files(result.files, candidates_dir(project) / JOURNAL)
    return result
