"""Where the extractor loses the curated claims of a held-out document.

    PYTHONPATH=src python3 benchmarks/extract_losses.py [--root DIR] [--corpus DIR] [--show BUCKET]

For each corpus document, the extractor is trained on the other documents (as in
``extract_eval.py``'s leave-one-document-out run), and each curated claim of the
held-out document is put in the first bucket that explains why it was not proposed:

- ``subject unknown (held-out only)`` / ``object unknown (held-out only)``: an entity
  only the held-out document's claims use, and new-entity detection did not find it in
  the quoted sentences;
- ``subject not mentioned`` / ``object not mentioned``: the entity is known, but the
  quoted sentences do not name it (anaphora: "it", "this treatment", "our clinic") and
  it was not offered as an implicit subject;
- ``value not parsed``: a value claim whose value no pattern finds in the quote;
- ``cross-sentence``: both ends are named, but not in one sentence;
- ``ontology forbids``: a pair in one sentence, but the curated predicate is not
  allowed for the candidate's types (or the pair's types allow no predicate at all);
- ``classifier rejected``: the pair was scored below the threshold (a list item may still
  be proposed as a copy of its neighbour's accepted claim: the buckets are read before
  the one-subject choice and the list copies);
- ``wrong predicate``: accepted, with another predicate;
- ``found``: proposed with the curated predicate (strict match, before de-duplication).

The last line is the ceiling of the candidate pairs: the share of curated claims whose
pair is a candidate in its sentence (the last three buckets), and the strict F1 a
classifier that took exactly those, with the right predicates, would score.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict

from extract_eval import held_out_dataset, overlaps, quote_spans

from kgraph.extract import Extractor
from kgraph.extract.analysis import analyse
from kgraph.extract.extractor import NONE, value_matches
from kgraph.extract.gazetteer import Gazetteer
from kgraph.load import load_dataset, load_ontology, vocabulary
from kgraph.project import Project

BUCKETS = ["subject unknown (held-out only)", "subject not mentioned", "object unknown (held-out only)",
           "object not mentioned", "value not parsed", "cross-sentence", "ontology forbids",
           "classifier rejected", "wrong predicate", "found", "quote not found"]


def aliases(text: str, doc, full_gaz: Gazetteer, known: set[str]) -> dict[str, str]:
    """New candidate id -> the curated entity whose mentions it covers most."""
    gold = [g for g in full_gaz.find(text) if g.entity not in known]
    votes: dict[str, Counter] = defaultdict(Counter)
    for m in doc.mentions():
        if not m.known:
            for g in gold:
                if overlaps((m.start, m.end), (g.start, g.end)):
                    votes[m.entity][g.entity] += 1
    return {k: v.most_common(1)[0][0] for k, v in votes.items()}


def classify_document(extractor: Extractor, text: str, claims, full_gaz: Gazetteer, known: set[str]):
    doc = analyse(text, extractor.gazetteer, heads=extractor.heads)
    alias = aliases(text, doc, full_gaz, known)
    cands = list(extractor._candidates(doc))
    X = [extractor._features(c, text) for c in cands]
    probs = extractor._relation.claim_proba(X) if cands else []
    kept = [i for i, p in enumerate(probs) if p >= extractor.min_confidence]
    pred_rows = extractor._relation.predicate_proba([X[i] for i in kept]) if kept else []
    chosen = {i: extractor._choose_predicate(cands[i], extractor._relation.predicates, row)
              for i, row in zip(kept, pred_rows)}

    def ent(m) -> str:
        return alias.get(m.entity, m.entity)

    out = []
    for claim in claims:
        spans = quote_spans(text, claim.quote)
        if not spans:
            out.append((claim, "quote not found"))
            continue
        sents = [s for s in doc.sentences if any(overlaps((s.sent.start, s.sent.end), sp) for sp in spans)]
        # a candidate's SentenceInfo may be a copy (without the tagger's names): compare sentences
        starts = {s.sent.start for s in sents}
        named = {ent(m) for s in sents for m in s.mentions}

        def side(eid: str, role: str, named=named, starts=starts) -> str | None:
            if eid in named:
                return None
            if any(ent(c.subject) == eid and c.info.sent.start in starts for c in cands if role == "subject"):
                return None
            return f"{role} unknown (held-out only)" if eid not in known else f"{role} not mentioned"

        why = side(claim.subject, "subject")
        if why is None:
            if claim.object is not None:
                why = side(claim.object, "object")
            elif not any(value_matches(claim.value, v.value) for s in sents for v in s.values):
                why = "value not parsed"
        if why is None:
            def same(c, claim=claim, starts=starts) -> bool:
                if ent(c.subject) != claim.subject or c.info.sent.start not in starts:
                    return False
                if claim.object is not None:
                    return c.kind == "entity" and ent(c.obj) == claim.object
                return c.kind != "entity" and value_matches(claim.value, c.obj.value)

            idx = [i for i, c in enumerate(cands) if same(c)]
            if not idx:
                why = "cross-sentence"
            else:
                allowed = [i for i in idx if claim.predicate in extractor.valid_predicates(
                    cands[i].subject.type, cands[i].kind,
                    cands[i].obj.type if cands[i].kind == "entity" else None)]
                if not allowed:
                    why = "ontology forbids"
                elif not any(i in chosen and chosen[i] != NONE for i in allowed):
                    why = "classifier rejected"
                elif any(chosen.get(i) == claim.predicate for i in allowed):
                    why = "found"
                else:
                    why = "wrong predicate"
        out.append((claim, why))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--show", action="append", default=[], help="list the claims of this bucket")
    args = ap.parse_args(argv)
    project = Project.at(args.root, corpus_dir=args.corpus)
    if not project.corpus_available:
        print(f"corpus not found: {project.corpus_dir} (pass --corpus DIR)", file=sys.stderr)
        return 2
    data, _ = load_dataset(project)
    vocab = vocabulary(load_ontology(project))
    texts = {s.id: (project.corpus_dir / s.file).read_text(encoding="utf-8") for s in data.sources}
    full_gaz = Gazetteer.from_entities(data.entities)
    total: Counter = Counter()
    per_doc: dict[str, Counter] = {}
    shown = []
    for source in data.sources:
        train = held_out_dataset(data, source.id)
        ex = Extractor.train(train, vocab, {k: v for k, v in texts.items() if k != source.id})
        known = {e.id for e in train.entities}
        rows = classify_document(ex, texts[source.id], [c for c in data.claims if c.source == source.id],
                                 full_gaz, known)
        per_doc[source.id] = Counter(why for _, why in rows)
        total += per_doc[source.id]
        shown += [(source.id, c, why) for c, why in rows if why in args.show]
    n = sum(total.values())
    docs = list(per_doc)
    print("bucket\tclaims\tshare\t" + "\t".join(docs))
    for b in BUCKETS:
        if total[b]:
            print(f"{b}\t{total[b]}\t{total[b] / n:.3f}\t" + "\t".join(str(per_doc[d][b]) for d in docs))
    print(f"total\t{n}")
    # what the candidate pairs allow at best: every claim whose pair is proposed in its
    # sentence taken with its curated predicate, and nothing else
    reach = sum(total[b] for b in ("classifier rejected", "wrong predicate", "found"))
    if n:
        r = reach / n
        print(f"within reach of the candidate pairs: {reach} of {n} ({r:.3f}); a perfect classifier over them "
              f"scores strict F1 {2 * r / (1 + r):.3f}")
    for sid, c, why in shown:
        target = c.object if c.object is not None else repr(c.value)
        print(f"\n[{why}] {sid} {c.id}: {c.subject} {c.predicate} {target}\n    {c.quote}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
