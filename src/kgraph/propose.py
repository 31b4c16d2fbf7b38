"""``kgraph extract``: new documents in, one candidates file per document out.

:func:`plan_extraction` reads every document and settles its source id and output
before any extraction runs, so bad input stops the run with nothing written.
:func:`propose` turns one document's :class:`~kgraph.extract.Extraction` into a
:class:`~kgraph.candidates.CandidateSet`: stable candidate ids, decided candidates left
out (so a rejection is never proposed again), entity ids kept clear of the curated ones,
the publisher resolved to an entity, and every candidate checked like curated data.

Source ids: a document already under review (its digest or its path matches a pending
candidates file or a decisions record) keeps its id; a new one gets the next free
``src-NNN``. A document whose digest is a curated source's and that was not added by
review is refused: it is already in the graph.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgraph.candidates import (
    CANDIDATE_ID,
    CandidateSet,
    candidate_key,
    claim_sentence,
    dump_candidates,
    source_number,
    validate_candidates,
)
from kgraph.documents import (
    DOCUMENTS_DIR,
    Document,
    DocumentError,
    collect_documents,
    read_document,
    source_path,
)
from kgraph.errors import DataError, OutputError
from kgraph.load import forbidden_char_problem, read_yaml
from kgraph.model import Dataset, Vocabulary
from kgraph.project import Project
from kgraph.review import (
    candidates_dir,
    decided_ids,
    decisions_path,
    pending_files,
    read_memory,
)
from kgraph.validate import SLUG

STDOUT = "-"


@dataclass
class Planned:
    """One document to extract: its source id and where its candidates go."""

    document: Document
    source_id: str
    #: the candidates file (None: standard output)
    out: Path | None
    #: why the id was reused ("" for a new document)
    reused: str = ""
    memory: dict[str, Any] = field(default_factory=lambda: {"claims": [], "entities": []})


@dataclass
class Proposed:
    planned: Planned
    candidates: CandidateSet
    #: candidates left out because they were decided before
    decided: int
    #: candidates left out because the data or ontology refuse them (problem messages)
    dropped: list[str]


def plan_extraction(project: Project, paths: list[Path], dataset: Dataset, *, out: str | None = None) -> list[Planned]:
    """Read every document and choose its source id and candidates file."""
    files = collect_documents(paths)
    if out == STDOUT and len(files) > 1:
        raise OutputError(f"--out - writes one document's candidates to stdout, but {len(files)} documents were given",
                          "Give one document, or --out FOLDER.")
    documents = [read_document(p) for p in files]
    pending = _pending_sources(project)
    by_sha: dict[str, Any] = {}
    for src in dataset.sources:
        if src.sha256:
            by_sha.setdefault(src.sha256, src)
        # a record without sha256: the digest of its file, when it can be read
        path = source_path(src.file, project.corpus_dir, project.data_dir)
        if path is not None and path.is_file():
            by_sha.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), src)
    taken = {n for s in dataset.sources if (n := source_number(s.id)) is not None}
    taken |= {n for info in pending if (n := source_number(str(info["id"]))) is not None}
    claims_dir = project.data_dir / "claims"
    taken |= {int(p.stem) for p in claims_dir.glob("*.yaml") if p.stem.isdigit()} if claims_dir.is_dir() else set()
    seen: dict[str, Path] = {}
    planned: list[Planned] = []
    for doc in documents:
        if doc.sha256 in seen or doc.original_sha256 in seen:
            raise DocumentError(f"the same document as {seen.get(doc.sha256) or seen.get(doc.original_sha256)}",
                                path=doc.path, hint="Give each document once.")
        seen[doc.sha256] = seen[doc.original_sha256] = doc.path
        sid, why = _known_id(doc, pending, by_sha, project)
        if sid is None:
            number = max(taken, default=-1) + 1
            taken.add(number)
            sid = f"src-{number:03d}"
        planned.append(Planned(document=doc, source_id=sid, out=None, reused=why))
    folder = project.data_dir / "candidates"
    if out is not None and out != STDOUT:
        target = Path(out)
        if target.suffix == ".yaml" and not target.is_dir():
            if len(planned) > 1:
                raise OutputError(f"--out {out} is one file, but {len(planned)} documents were given",
                                  "Give a folder for several documents (--out candidates/).")
            planned[0].out = target
            folder = None
        else:
            folder = target
    elif out == STDOUT:
        folder = None
    for p in planned:
        if folder is not None:
            p.out = folder / f"{p.source_id}.yaml"
        if p.out is not None and p.out.parent.exists() and not p.out.parent.is_dir():
            raise OutputError(f"{p.out.parent} is not a folder", "Give a folder for --out.")
        memory_file = decisions_path(p.out) if p.out is not None else candidates_dir(project) / f"{p.source_id}.decisions.yaml"
        p.memory = read_memory(memory_file)
        if not p.memory["claims"] and p.out is not None:  # decisions kept in data/candidates for --out elsewhere
            p.memory = read_memory(candidates_dir(project) / f"{p.source_id}.decisions.yaml")
    return planned


def _pending_sources(project: Project) -> list[dict[str, Any]]:
    """The source records of pending candidates files and of decisions records."""
    found = []
    folder = candidates_dir(project)
    for path in pending_files(project):
        doc = read_yaml(path, str(path))
        if not isinstance(doc, dict) or not isinstance(doc.get("source"), dict) or "id" not in doc["source"]:
            raise DataError("not a candidates file (no source.id)", path=path,
                            hint="Delete it, or extract its document again.")
        found.append(dict(doc["source"]))
    for path in sorted(folder.glob("*.decisions.yaml")) if folder.is_dir() else ():
        memory = read_memory(path)
        if memory.get("source"):
            found.append({"id": memory["source"], "original": memory.get("original")})
    return found


def _known_id(doc: Document, pending: list[dict], by_sha: dict, project: Project) -> tuple[str | None, str]:
    """The source id a document already has, and why (None for a new document)."""
    for info in pending:
        if info.get("sha256") in (doc.sha256,) or info.get("original_sha256") == doc.original_sha256:
            return str(info["id"]), f"the same document as the pending {info['id']}"
    curated = by_sha.get(doc.sha256) or by_sha.get(doc.original_sha256)
    if curated is not None:
        reviewed = (candidates_dir(project) / f"{curated.id}.decisions.yaml").is_file()
        if not reviewed:
            raise DocumentError(f"already added: the same text as source '{curated.id}' ({curated.file}, {curated.loc})",
                                path=doc.path, hint="Nothing to extract; its claims are curated in data/claims/.")
        return curated.id, f"already added as {curated.id}: only candidates not decided before are proposed"
    resolved = str(doc.path.resolve())
    for info in pending:
        if info.get("original") == resolved:
            return str(info["id"]), f"a new version of {info['id']} ({doc.path.name})"
    return None, ""


def training_texts(project: Project, dataset: Dataset) -> dict[str, str]:
    """source id -> text, for every curated source whose file can be read."""
    texts = {}
    for src in dataset.sources:
        path = source_path(src.file, project.corpus_dir, project.data_dir)
        if path is not None and path.is_file():
            try:
                texts[src.id] = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
    return texts


def propose(planned: Planned, extraction, dataset: Dataset, vocab: Vocabulary) -> Proposed:
    """The candidates of one document, from the extractor's output."""
    doc, sid = planned.document, planned.source_id
    text = doc.text
    existing = dataset.entity_index()
    rejected_entities = {str(r["id"]) for r in planned.memory.get("entities", []) if r.get("decision") == "rejected"}
    renamed: dict[str, str] = {}
    entities: list[dict[str, Any]] = []
    names = _names(dataset)
    for ent in extraction.entities:
        eid = str(ent.get("id"))
        label = str(ent.get("label") or eid)
        known = names.get(_norm(label))
        if known is not None:  # the extractor proposed an entity the data has: use that one
            renamed[eid] = known
            continue
        new_id = eid if SLUG.match(eid) else _slug(label)
        while new_id in existing or new_id in {e["id"] for e in entities}:
            new_id = _bump(new_id)
        renamed[eid] = new_id
        if eid in rejected_entities or new_id in rejected_entities:
            continue
        entities.append({"id": new_id, "type": ent.get("type"), "label": label,
                         "synonyms": sorted({str(s) for s in ent.get("synonyms") or [] if str(s) != label}),
                         "mentions": [list(m) for m in ent.get("mentions") or []], "status": "candidate"})
    publisher = _publisher(extraction.publisher, doc, text, existing, names, renamed, entities, vocab)

    def ref(value):
        return renamed.get(value, value) if isinstance(value, str) else value

    # a character the graph's formats cannot hold (a stray control character of a converted
    # page) would make the candidates file unreadable: such candidates are left out
    entities[:] = [e for e in entities if forbidden_char_problem(e["label"] + "".join(e["synonyms"])) is None]
    if publisher is not None and publisher not in existing and publisher not in {e["id"] for e in entities}:
        publisher = None
    decided = decided_ids(planned.memory)
    claims: list[dict[str, Any]] = []
    skipped = 0
    seen: set[str] = set()
    for raw in extraction.claims:
        claim = {k: v for k, v in dict(raw).items() if v is not None and k != "id"}
        for key in ("subject", "object"):
            if key in claim:
                claim[key] = ref(claim[key])
        for key in ("cites", "attributed_to"):
            if key in claim:
                claim[key] = [ref(v) for v in (claim[key] if isinstance(claim[key], list) else [claim[key]])]
        if "qualifiers" in claim:
            claim["qualifiers"] = {k: ref(v) for k, v in claim["qualifiers"].items()} or None
        claim["status"] = "candidate"
        uses = {claim.get("subject"), claim.get("object"), *claim.get("cites", []), *claim.get("attributed_to", [])}
        if uses & rejected_entities:
            skipped += 1
            continue
        try:
            key = candidate_key(claim_sentence(text, claim), claim)
        except (KeyError, TypeError):
            key = candidate_key(str(claim.get("quote")), claim)
        if key in decided:
            skipped += 1
            continue
        if any(forbidden_char_problem(v) for v in _strings_of(claim)):
            continue
        if key in seen:
            continue
        seen.add(key)
        claims.append({"id": key, **claim})
    source = {"id": sid, "file": f"{DOCUMENTS_DIR}/{sid}.txt", "sha256": doc.sha256,
              "original": str(doc.path.resolve()), "original_sha256": doc.original_sha256,
              "text": f"{planned.out.stem}.txt" if planned.out is not None else None,
              "title": _clean_title(extraction.title or doc.title), "publisher": publisher}
    cset = CandidateSet(source=source, entities=entities, claims=claims, text=text,
                        display=str(planned.out or "<stdout>"))
    dropped = _drop_invalid(cset, dataset, vocab)
    used = {v for c in cset.claims for v in (c.get("subject"), c.get("object"), *c.get("cites", []),
                                                 *c.get("attributed_to", []), *(c.get("qualifiers") or {}).values())}
    # entities no claim uses stay proposed only if they were mentioned: the curator may want them
    cset.entities = [e for e in cset.entities if e["id"] in used or e["id"] == publisher or e["mentions"]]
    return Proposed(planned=planned, candidates=cset, decided=skipped, dropped=dropped)


def _strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _strings_of(v)]
    if isinstance(value, list):
        return [t for v in value for t in _strings_of(v)]
    return []


def _clean_title(title: str | None) -> str | None:
    return title if title is None or forbidden_char_problem(title) is None else None


def _drop_invalid(cset: CandidateSet, dataset: Dataset, vocab: Vocabulary) -> list[str]:
    """Leave out the candidates the data or ontology refuse; their problems are returned.

    The extractor should not propose them; if it does, a curator must not be asked to
    accept a claim that could never validate."""
    dropped: list[str] = []
    for _ in range(len(cset.claims) + len(cset.entities) + 1):
        problems = validate_candidates(cset, dataset, vocab)
        if not problems:
            return dropped
        bad_claims = {cid for p in problems for cid in re.findall(r"claim '(x[0-9a-f]{10})'", p.message)}
        bad_entities = {eid for p in problems for eid in re.findall(r"entity '([^']+)'", p.message)}
        for p in problems:
            dropped.append(p.message)
        if not bad_claims and not bad_entities:
            raise DataError("the extractor's candidates do not validate:\n" + "\n".join(f"  {p}" for p in problems),
                            hint="Report this as a bug in kgraph's extractor.")
        cset.claims = [c for c in cset.claims if c["id"] not in bad_claims]
        cset.entities = [e for e in cset.entities if e["id"] not in bad_entities]
        if bad_entities:
            cset.claims = [c for c in cset.claims if not (set(map(str, (c.get("subject"), c.get("object"))))
                                                            & bad_entities)]
        if cset.source.get("publisher") in bad_entities:
            cset.source["publisher"] = None
    return dropped


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", name.casefold().replace("’", "'")).strip()


def _names(dataset: Dataset) -> dict[str, str]:
    """Normalised label, synonym and abbreviation -> entity id (first one wins)."""
    out: dict[str, str] = {}
    for ent in dataset.entities:
        for name in (ent.label, *ent.synonyms, *ent.abbreviations):
            out.setdefault(_norm(name), ent.id)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "entity"


def _bump(slug: str) -> str:
    m = re.match(r"^(.*)-(\d+)$", slug)
    return f"{m.group(1)}-{int(m.group(2)) + 1}" if m else f"{slug}-2"


def _publisher(guess: str | None, doc: Document, text: str, existing, names, renamed, entities, vocab) -> str | None:
    """The publisher as an entity id: the extractor's guess or the page's site name,
    matched to an entity of the data or a candidate; else a new organization candidate."""
    for name in (guess, doc.publisher):
        if not name:
            continue
        if name in existing:
            return name
        if name in renamed:
            return renamed[name]
        if (known := names.get(_norm(name))) is not None:
            return known
        for ent in entities:
            if _norm(ent["label"]) == _norm(name) or ent["id"] == name:
                return ent["id"]
    name = guess or doc.publisher
    if not name or "Organization" not in vocab.classes:
        return None
    new_id = _slug(name)
    while new_id in existing or new_id in {e["id"] for e in entities}:
        new_id = _bump(new_id)
    mentions = [[m.start(), m.end()] for m in re.finditer(re.escape(name), text)]
    entities.append({"id": new_id, "type": "Organization", "label": name, "synonyms": [], "mentions": mentions,
                     "status": "candidate"})
    return new_id


def extract_documents(project: Project, paths: list[Path], *, out: str | None = None,
                      progress: Callable[[int, int, Path], None] | None = None,
                      step: Callable[[str], None] | None = None) -> list[Proposed]:
    """Plan, train the extractor on the curated data, and propose candidates for every
    document (nothing is written here: see :func:`candidate_files`)."""
    from kgraph.load import load_dataset, load_ontology, vocabulary
    from kgraph.review import recover

    recover(project)
    vocab = vocabulary(load_ontology(project))
    dataset, problems = load_dataset(project)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        from kgraph.errors import ValidationFailed
        from kgraph.report import Report

        raise ValidationFailed(Report(problems=errors))
    planned = plan_extraction(project, paths, dataset, out=out)
    for folder in sorted({p.out.parent for p in planned if p.out is not None}):
        recover(project, folder)  # an extract into --out killed after its journal was written
    from kgraph.extract import (
        Extractor,  # after the documents are read: bad input stops the run early
    )

    if step is not None:
        step("Training the extractor on the curated data")
    # A document under review is curated only in part: its unclaimed sentences are not
    # negative examples, so the extractor learns from the other sources.
    again = {p.source_id for p in planned}
    training = Dataset(sources=[s for s in dataset.sources if s.id not in again], entities=dataset.entities,
                       xrefs=dataset.xrefs, claims=[c for c in dataset.claims if c.source not in again])
    extractor = Extractor.train(training, vocab, training_texts(project, training))
    results = []
    for i, plan in enumerate(planned):
        if progress is not None:
            progress(i, len(planned), plan.document.path)
        extraction = extractor.extract(plan.document.text, source_id=plan.source_id)
        results.append(propose(plan, extraction, dataset, vocab))
    if progress is not None:
        progress(len(planned), len(planned), planned[-1].document.path)
    return results


def candidate_files(results: list[Proposed]) -> dict[Path, bytes | None]:
    """The candidates files and their texts (beside them) to write; None removes a
    candidates file left from an earlier run when nothing is left to review."""
    files: dict[Path, bytes | None] = {}
    for r in results:
        path = r.planned.out
        if path is None:
            continue
        text = path.with_name(f"{path.stem}.txt")
        if not r.candidates.claims:  # nothing to review: no file to review it in
            if path.is_file():
                files[path] = files[text] = None
            continue
        files[path] = dump_candidates(r.candidates).encode("utf-8")
        files[text] = r.candidates.text.encode("utf-8")
    return files


def write_candidate_files(files: dict[Path, bytes | None], journal: Path) -> list[Path]:
    """Write every candidates file and its text as one step (see
    :func:`kgraph.review.commit_files`): a run killed before its journal is written leaves
    the old files, one killed after it is finished by the next ``extract`` or ``review``."""
    from kgraph.review import commit_files

    for path in files:
        if not path.parent.is_dir():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create {path.parent}: {exc.strerror}", "Give another --out.") from None
    commit_files(files, journal, what="the candidates")
    return sorted(path for path, data in files.items() if data is not None)


__all__ = ["CANDIDATE_ID", "Planned", "Proposed", "candidate_files", "extract_documents", "plan_extraction",
           "propose", "training_texts", "write_candidate_files"]
