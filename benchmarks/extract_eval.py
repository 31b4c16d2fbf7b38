"""How well `kgraph extract` proposes what curators wrote: leave-one-document-out.

    PYTHONPATH=src python3 benchmarks/extract_eval.py [--root DIR] [--corpus DIR]
        [--json FILE] [--pages N] [--no-speed] [--show-errors DOC] [--curve]

(``--show-errors src-004`` lists the held-out document's candidates that match no curated
claim, and those with the wrong predicate; ``extract_losses.py`` lists the claims missed.)

For each of the corpus documents, the extractor is trained (and its gazetteer built)
from the other documents' curated data only: an entity that only the held-out document's
claims use is unknown, as it would be for a new page. Its candidates are scored against
the held-out document's curated claims:

- entity mentions: precision/recall against every mention of a curated entity in the
  text (found with the full gazetteer), split into entities the training data knew and
  entities only the held-out document uses (those must come from new-entity detection;
  a new candidate counts when it covers a mention of such an entity);
- claims, strict (same subject, predicate and object, or value) and relaxed (same subject
  and object or value, any predicate); a candidate also has to be grounded where the
  curated claim is (its quote overlaps the curated quote), so a right triple read off
  the wrong sentence does not count. Values match when numbers are equal, or when texts
  overlap ("within hours" ~ "often within hours or days");
- evidence-kind and modality accuracy on relaxed-matched claims; quotes verbatim.

Then the same with the model trained on all documents (in-sample: an upper bound, not
the figure that counts), with ``--curve`` the held-out scores trained on 1, 2 ... of the
other documents (does more curated data help?) with the line through it against
log2(training documents) and where that line reaches the targets, and a speed run over N pages made from shuffled corpus
paragraphs (pages/s, peak memory).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from kgraph.extract import Extractor
from kgraph.extract.extractor import value_matches
from kgraph.extract.gazetteer import Gazetteer
from kgraph.extract.text import paragraphs
from kgraph.load import load_dataset, load_ontology, vocabulary
from kgraph.model import Dataset
from kgraph.project import Project

TARGETS = {"strict_f1": 0.50, "relaxed_f1": 0.65, "entity_recall": 0.90, "evidence_accuracy": 0.80}


def held_out_dataset(data: Dataset, source_id: str) -> Dataset:
    """The curated data without one document: its claims, its source, and the entities
    only its claims use."""
    train_claims = [c for c in data.claims if c.source != source_id]
    held_refs = {r for c in data.claims if c.source == source_id for _, r in c.entity_refs()}
    train_refs = {r for c in train_claims for _, r in c.entity_refs()}
    only_held = held_refs - train_refs
    return Dataset(sources=[s for s in data.sources if s.id != source_id],
                   entities=[e for e in data.entities if e.id not in only_held],
                   xrefs=[], claims=train_claims)


def trained_without(data: Dataset, vocab, texts: dict[str, str], held: str) -> tuple[Extractor, set[str]]:
    """The extractor trained on ``data`` without the document ``held`` (its text, claims and
    the entities only they use), and the entities it knows."""
    train = held_out_dataset(data, held)
    extractor = Extractor.train(train, vocab, {k: v for k, v in texts.items() if k != held})
    return extractor, {e.id for e in train.entities}


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    while quote and (i := text.find(quote, pos)) >= 0:
        spans.append((i, i + len(quote)))
        pos = i + 1
    return spans


def score_document(text: str, gold_claims, result, full_gaz: Gazetteer, known: set[str]) -> dict:
    """Counts for one document (summed over documents before computing rates)."""
    # --- entity mentions
    gold_mentions = full_gaz.find(text)
    predicted = [(c["id"], tuple(span)) for c in result.entities for span in c["mentions"]]
    predicted += [(m["id"], (m["start"], m["end"])) for m in result.mentions]
    # a new candidate stands for the curated entity whose mention it covers most
    alias: dict[str, str] = {}
    votes: dict[str, Counter] = defaultdict(Counter)
    new_ids = {e["id"] for e in result.entities}
    for eid, span in predicted:
        if eid in new_ids:
            for g in gold_mentions:
                if g.entity not in known and overlaps(span, (g.start, g.end)):
                    votes[eid][g.entity] += 1
    for eid, v in votes.items():
        alias[eid] = v.most_common(1)[0][0]
    c = Counter()
    for eid, span in predicted:
        target = alias.get(eid, eid)
        c["ent_pred"] += 1
        if any(g.entity == target and overlaps(span, (g.start, g.end)) for g in gold_mentions):
            c["ent_pred_ok"] += 1
    for g in gold_mentions:
        part = "known" if g.entity in known else "unknown"
        c[f"ent_gold_{part}"] += 1
        if any(alias.get(eid, eid) == g.entity and overlaps(span, (g.start, g.end)) for eid, span in predicted):
            c[f"ent_gold_{part}_ok"] += 1

    # --- claims
    def key_of(claim: dict) -> dict:
        out = dict(claim)
        out["subject"] = alias.get(claim["subject"], claim["subject"])
        if "object" in claim:
            out["object"] = alias.get(claim["object"], claim["object"])
        return out

    preds = [key_of(p) for p in result.claims]
    gold = [(g, quote_spans(text, g.quote)) for g in gold_claims]
    per_pred = defaultdict(Counter)
    for g, _ in gold:
        per_pred[g.predicate]["gold"] += 1
    for p in preds:
        per_pred[p["predicate"]]["pred"] += 1
        c["verbatim_ok"] += int(text[p["start"]:p["end"]] == p["quote"])
    c["pred"] = len(preds)
    c["gold"] = len(gold)

    def same_target(p: dict, g) -> bool:
        if g.object is not None:
            return p.get("object") == g.object
        return "value" in p and value_matches(g.value, p["value"])

    def match(strict: bool) -> list[tuple[int, int]]:
        pairs, used = [], set()
        for i, p in enumerate(sorted(preds, key=lambda p: -p["confidence"])):
            for j, (g, spans) in enumerate(gold):
                if j in used or g.subject != p["subject"] or not same_target(p, g):
                    continue
                if strict and g.predicate != p["predicate"]:
                    continue
                if not any(overlaps((p["start"], p["end"]), s) for s in spans):
                    continue
                used.add(j)
                pairs.append((i, j))
                break
        return pairs

    ordered = sorted(preds, key=lambda p: -p["confidence"])
    strict = match(True)
    relaxed = match(False)
    c["strict_ok"] = len(strict)
    c["relaxed_ok"] = len(relaxed)
    for _i, j in strict:
        per_pred[gold[j][0].predicate]["ok"] += 1
    strict_hit = {i for i, _ in strict}
    relaxed_hit = {i: j for i, j in relaxed}
    errors = []
    for i, p in enumerate(ordered):
        if i in strict_hit:
            continue
        target = p.get("object", p.get("value"))
        if i in relaxed_hit:
            why = f"wrong predicate (curated: {gold[relaxed_hit[i]][0].predicate})"
        else:
            why = "no curated claim"
        errors.append(f"[{why}] {p['subject']} {p['predicate']} {target}  ({p['confidence']:.2f}, {p['by']})\n"
                      f"    {p['quote']}")
    for i, j in relaxed:
        p, g = ordered[i], gold[j][0]
        c["evidence_ok"] += int(p["evidence"] == g.evidence)
        c["modality_ok"] += int(p["modality"] == g.modality)
    return {"counts": c, "per_predicate": per_pred, "errors": errors}


def rates(c: Counter) -> dict[str, float]:
    def div(a, b):
        return a / b if b else 0.0

    def f1(p, r):
        return div(2 * p * r, p + r)

    sp, sr = div(c["strict_ok"], c["pred"]), div(c["strict_ok"], c["gold"])
    rp, rr = div(c["relaxed_ok"], c["pred"]), div(c["relaxed_ok"], c["gold"])
    gold_ents = c["ent_gold_known"] + c["ent_gold_unknown"]
    return {
        "entity_precision": div(c["ent_pred_ok"], c["ent_pred"]),
        "entity_recall": div(c["ent_gold_known_ok"] + c["ent_gold_unknown_ok"], gold_ents),
        "entity_recall_known": div(c["ent_gold_known_ok"], c["ent_gold_known"]),
        "entity_recall_unknown": div(c["ent_gold_unknown_ok"], c["ent_gold_unknown"]),
        "strict_precision": sp, "strict_recall": sr, "strict_f1": f1(sp, sr),
        "relaxed_precision": rp, "relaxed_recall": rr, "relaxed_f1": f1(rp, rr),
        "evidence_accuracy": div(c["evidence_ok"], c["relaxed_ok"]),
        "modality_accuracy": div(c["modality_ok"], c["relaxed_ok"]),
        "quotes_verbatim": div(c["verbatim_ok"], c["pred"]) if c["pred"] else 1.0,
        "candidates": c["pred"], "curated": c["gold"],
    }


def evaluate(project: Project, data: Dataset, vocab, texts: dict[str, str], *, lodo: bool,
             min_confidence: float | None = None, show_errors: str | None = None) -> dict:
    full_gaz = Gazetteer.from_entities(data.entities)
    total, per_doc = Counter(), {}
    per_pred: dict[str, Counter] = defaultdict(Counter)
    train_seconds = []
    in_sample = None
    if not lodo:
        started = time.perf_counter()
        in_sample = Extractor.train(data, vocab, texts)
        train_seconds.append(time.perf_counter() - started)
    for source in data.sources:
        if lodo:
            started = time.perf_counter()
            extractor, known = trained_without(data, vocab, texts, source.id)
            train_seconds.append(time.perf_counter() - started)
        else:
            extractor, known = in_sample, {e.id for e in data.entities}
        if min_confidence is not None:
            extractor.min_confidence = min_confidence
        result = extractor.extract(texts[source.id], source_id=source.id)
        scored = score_document(texts[source.id], [c for c in data.claims if c.source == source.id],
                                result, full_gaz, known)
        total += scored["counts"]
        if source.id == show_errors:
            print(f"=== {source.id} ({'held out' if lodo else 'in sample'}): "
                  f"{len(scored['errors'])} candidates not strictly matched\n")
            print("\n\n".join(scored["errors"]) + "\n")
        per_doc[source.id] = rates(scored["counts"])
        for p, cnt in scored["per_predicate"].items():
            per_pred[p] += cnt
    return {"overall": rates(total), "per_document": per_doc, "per_predicate": per_pred,
            "train_seconds": max(train_seconds)}


def learning_curve(data: Dataset, vocab, texts: dict[str, str], samples: int = 2) -> list[dict]:
    """Held-out scores by the number of training documents: for each document and each k
    below the number of documents, the extractor trained on k of the others (the first
    ``samples`` sets of k, in id order) and scored on it, the counts summed over them. More
    curated documents should mean better candidates; this shows by how much."""
    import itertools

    full_gaz = Gazetteer.from_entities(data.entities)
    ids = sorted(s.id for s in data.sources)
    rows = []
    for k in range(1, len(ids)):
        total, runs = Counter(), 0
        for held in ids:
            others = [i for i in ids if i != held]
            for chosen in itertools.islice(itertools.combinations(others, k), samples):
                keep = {held, *chosen}
                sub = Dataset(sources=[s for s in data.sources if s.id in keep], entities=data.entities, xrefs=[],
                              claims=[c for c in data.claims if c.source in keep])
                extractor, known = trained_without(sub, vocab, {i: texts[i] for i in keep}, held)
                result = extractor.extract(texts[held], source_id=held)
                total += score_document(texts[held], [c for c in data.claims if c.source == held], result,
                                        full_gaz, known)["counts"]
                runs += 1
        rows.append({"training_documents": k, "runs": runs, **rates(total)})
    return rows


def curve_trend(rows: list[dict], key: str, target: float) -> dict | None:
    """A least-squares line through the learning curve's ``key`` against log2(training
    documents), and the documents that line reaches ``target`` at (None when it does not
    rise). An extrapolation from a few points, to read as an order of magnitude."""
    import math

    pts = [(math.log2(r["training_documents"]), r[key]) for r in rows]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0
    intercept = my - slope * mx
    needed = 2 ** ((target - intercept) / slope) if slope > 0 else None
    return {"metric": key, "target": target, "per_doubling": slope, "at_one_document": intercept,
            "documents_for_target": needed}


def predicate_rows(per_pred: dict[str, Counter], top: list[str]) -> dict[str, dict]:
    out = {}
    for p in top:
        c = per_pred.get(p, Counter())
        prec = c["ok"] / c["pred"] if c["pred"] else 0.0
        rec = c["ok"] / c["gold"] if c["gold"] else 0.0
        out[p] = {"curated": c["gold"], "candidates": c["pred"], "precision": prec, "recall": rec,
                  "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}
    return out


def speed(data: Dataset, vocab, texts: dict[str, str], pages: int, console) -> dict:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    rng = random.Random(11)
    paras = [t[s:e] for t in texts.values() for s, e in paragraphs(t)]
    docs = []
    for _ in range(pages):
        k = rng.randint(8, 20)
        docs.append("\n\n".join(rng.sample(paras, min(k, len(paras)))) + "\n")
    started = time.perf_counter()
    extractor = Extractor.train(data, vocab, texts)
    train = time.perf_counter() - started
    cpu0 = time.process_time()
    started = time.perf_counter()
    claims = 0
    with Progress(TextColumn("extracting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("pages", total=pages)
        for i, doc in enumerate(docs):
            claims += len(extractor.extract(doc, source_id=f"page-{i}").claims)
            bar.advance(task)
    seconds = time.perf_counter() - started
    return {"pages": pages, "characters": sum(map(len, docs)), "train_seconds": train,
            "seconds": seconds, "cpu_seconds": time.process_time() - cpu0,
            "pages_per_second": pages / seconds, "claims": claims,
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def report(results: dict, console) -> None:
    from rich.table import Table

    lodo, ins = results["lodo"]["overall"], results["in_sample"]["overall"]
    names = [
        ("entity mention precision", "entity_precision", None),
        ("entity mention recall", "entity_recall", "entity_recall"),
        ("  known entities", "entity_recall_known", None),
        ("  held-out-only entities", "entity_recall_unknown", None),
        ("claims strict P", "strict_precision", None), ("claims strict R", "strict_recall", None),
        ("claims strict F1", "strict_f1", "strict_f1"),
        ("claims relaxed P", "relaxed_precision", None), ("claims relaxed R", "relaxed_recall", None),
        ("claims relaxed F1", "relaxed_f1", "relaxed_f1"),
        ("evidence-kind accuracy", "evidence_accuracy", "evidence_accuracy"),
        ("modality accuracy", "modality_accuracy", None),
        ("quotes verbatim", "quotes_verbatim", None),
        ("candidates / curated", None, None),
    ]
    plain = not console.is_terminal
    rows = []
    for label, key, target in names:
        if key is None:
            a = f"{lodo['candidates']} / {lodo['curated']}"
            b = f"{ins['candidates']} / {ins['curated']}"
            t = ""
        else:
            a, b = f"{lodo[key]:.3f}", f"{ins[key]:.3f}"
            t = f">= {TARGETS[target]:.2f}" if target else ("= 1.000" if key == "quotes_verbatim" else "")
        rows.append((label, a, b, t))
    per_doc = results["lodo"]["per_document"]
    if plain:
        print("metric\tlodo\tin_sample\ttarget")
        for r in rows:
            print("\t".join(r))
        print("\npredicate\tcurated\tcandidates\tP\tR\tF1\tin_sample_F1")
        for p, r in results["lodo"]["top_predicates"].items():
            i = results["in_sample"]["top_predicates"][p]
            print(f"{p}\t{r['curated']}\t{r['candidates']}\t{r['precision']:.3f}\t{r['recall']:.3f}\t"
                  f"{r['f1']:.3f}\t{i['f1']:.3f}")
        print("\ndocument\tstrict_f1\trelaxed_f1\tentity_recall\tevidence_accuracy")
        for d, r in per_doc.items():
            print(f"{d}\t{r['strict_f1']:.3f}\t{r['relaxed_f1']:.3f}\t{r['entity_recall']:.3f}\t"
                  f"{r['evidence_accuracy']:.3f}")
    else:
        t = Table(title="Extraction vs curated claims (5 documents)")
        for col in ("metric", "leave-one-document-out", "in-sample", "target"):
            t.add_column(col, justify="left" if col == "metric" else "right")
        for label, a, b, tgt in rows:
            t.add_row(label, a, b, tgt)
        console.print(t)
        t = Table(title="Strict scores, the 15 most frequent curated predicates (LODO)")
        for col in ("predicate", "curated", "candidates", "P", "R", "F1", "in-sample F1"):
            t.add_column(col, justify="left" if col == "predicate" else "right")
        for p, r in results["lodo"]["top_predicates"].items():
            i = results["in_sample"]["top_predicates"][p]
            t.add_row(p, str(r["curated"]), str(r["candidates"]), f"{r['precision']:.2f}", f"{r['recall']:.2f}",
                      f"{r['f1']:.2f}", f"{i['f1']:.2f}")
        console.print(t)
        t = Table(title="Per held-out document")
        for col in ("document", "curated", "candidates", "strict F1", "relaxed F1", "entity R", "evidence acc"):
            t.add_column(col, justify="left" if col == "document" else "right")
        for d, r in per_doc.items():
            t.add_row(d, str(r["curated"]), str(r["candidates"]), f"{r['strict_f1']:.2f}", f"{r['relaxed_f1']:.2f}",
                      f"{r['entity_recall']:.2f}", f"{r['evidence_accuracy']:.2f}")
        console.print(t)
    if results.get("curve"):
        print("\nlearning curve (held-out scores by training documents)")
        print("training_documents\truns\tstrict_P\tstrict_R\tstrict_F1\trelaxed_F1\tentity_R")
        for r in results["curve"]:
            print(f"{r['training_documents']}\t{r['runs']}\t{r['strict_precision']:.3f}\t{r['strict_recall']:.3f}\t"
                  f"{r['strict_f1']:.3f}\t{r['relaxed_f1']:.3f}\t{r['entity_recall']:.3f}")
        for t in results.get("curve_trend", []):
            docs = t["documents_for_target"]
            print(f"trend of {t['metric']}: {t['per_doubling']:+.3f} per doubling of the training documents; "
                  f"{t['target']:.2f} at ~{docs:.0f} training documents" if docs else
                  f"trend of {t['metric']}: not rising")
    s = results.get("speed")
    line = (f"training {results['lodo']['train_seconds']:.1f} s (slowest LODO fold)")
    if s:
        line += (f"; speed: {s['pages']} pages ({s['characters'] / 1e6:.1f} M characters) in {s['seconds']:.1f} s"
                 f" = {s['pages_per_second']:.1f} pages/s (CPU {s['cpu_seconds']:.1f} s), "
                 f"{s['claims']} candidates, peak memory {s['peak_memory_mb']:.0f} MB")
    print(line)


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".", help="project root (data/, ontology/)")
    ap.add_argument("--corpus", default=None, help="corpus folder (default ../shared/corpus)")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    ap.add_argument("--pages", type=int, default=1000, help="pages in the speed run")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed run")
    ap.add_argument("--min-confidence", type=float, default=None,
                    help="override Extractor.min_confidence (to study the precision/recall trade-off)")
    ap.add_argument("--curve", action="store_true",
                    help="also the learning curve: held-out scores trained on 1, 2 ... of the other documents")
    ap.add_argument("--show-errors", metavar="DOC", default=None,
                    help="list this held-out document's candidates that match no curated claim")
    args = ap.parse_args(argv)
    console = Console(stderr=False)
    project = Project.at(args.root, corpus_dir=args.corpus)
    if not project.corpus_available:
        print(f"corpus not found: {project.corpus_dir} (pass --corpus DIR)", file=sys.stderr)
        return 2
    data, problems = load_dataset(project)
    if any(p.level == "error" for p in problems):
        print("the curated data has errors: run kgraph validate", file=sys.stderr)
        return 2
    vocab = vocabulary(load_ontology(project))
    texts = {s.id: (project.corpus_dir / s.file).read_text(encoding="utf-8") for s in data.sources}
    if args.show_errors is not None and args.show_errors not in texts:
        print(f"--show-errors: no source {args.show_errors!r} (one of {', '.join(sorted(texts))})", file=sys.stderr)
        return 2
    top = [p for p, _ in Counter(c.predicate for c in data.claims).most_common(15)]
    results = {}
    for name, lodo in (("lodo", True), ("in_sample", False)):
        r = evaluate(project, data, vocab, texts, lodo=lodo, min_confidence=args.min_confidence,
                     show_errors=args.show_errors if lodo else None)
        r["top_predicates"] = predicate_rows(r.pop("per_predicate"), top)
        results[name] = r
    if args.curve:
        results["curve"] = learning_curve(data, vocab, texts)
        results["curve_trend"] = [t for key in ("strict_f1", "relaxed_f1")
                                  if (t := curve_trend(results["curve"], key, TARGETS[key])) is not None]
    if not args.no_speed:
        results["speed"] = speed(data, vocab, texts, args.pages, console)
    report(results, console)
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
