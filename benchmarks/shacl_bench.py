"""The SHACL check at scale: the build's parts validator and pySHACL on the whole graph.

    python benchmarks/shacl_bench.py [--size 10] [--violations 0.05] [--seed 1] [--as-written]

Generates the scale benchmark's data K times the corpus (benchmarks/scale_bench.py) into a
temporary folder, builds the RDF graph part by part as ``kgraph build`` does, breaks a share
of the claims and entities (``--violations``, 0 for none), then validates it three ways side
by side: :class:`kgraph.shapes.PartsValidator` fed the broken graph's parts (what the build
does), and :func:`kgraph.shapes.shacl_validate` on the whole graph on the flattened shapes
and, with ``--as-written``, on the shapes as written (slow): wall and CPU time of each, and
whether the lists of problems are the same, in the same order.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))


def break_some(g, share: float, seed: int) -> int:
    """Violations of many shapes on ``share`` of the claims and entities; how many."""
    from rdflib import RDF, RDFS, Literal
    from rdflib.namespace import DCTERMS, PROV, SKOS

    from kgraph.prefixes import KG, KGR

    rnd = random.Random(seed)
    claims = sorted(g.subjects(RDF.type, KG.Claim), key=str)
    entities = sorted({e for e in g.subjects(RDFS.label, None)
                       if str(e).startswith(str(KGR)) and (e, RDF.type, KG.Claim) not in g}, key=str)
    claim_breaks = [
        lambda c: g.add((c, KG.quote, Literal(12))),
        lambda c: (g.set((c, KG.quote, Literal("ab"))), g.add((c, KG.modality, Literal("maybe")))),
        lambda c: g.set((c, RDF.subject, Literal("lit"))),
        lambda c: (g.remove((c, PROV.wasDerivedFrom, None)), g.add((c, KG.citesStudy, rnd.choice(entities)))),
        lambda c: (g.add((c, KG.flag, Literal("odd"))), g.add((c, KG.year, Literal("20x1")))),
        lambda c: (g.remove((c, DCTERMS.identifier, None)), g.add((c, KG.location, rnd.choice(claims)))),
    ]
    entity_breaks = [
        lambda e: g.remove((e, RDFS.label, None)),
        lambda e: (g.add((e, RDFS.label, Literal("second label"))), g.add((e, SKOS.exactMatch, Literal("x")))),
        lambda e: (g.add((e, KG.telephone, Literal("call me"))), g.add((e, KG.prevalence, Literal(150)))),
        lambda e: g.add((e, KG.treats, rnd.choice(entities))),
    ]
    n = 0
    for nodes, breaks in ((claims, claim_breaks), (entities, entity_breaks)):
        for node in nodes:
            if rnd.random() < share:
                rnd.choice(breaks)(node)
                n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10, help="K times the corpus (default 10)")
    parser.add_argument("--violations", type=float, default=0.05, help="share of nodes broken (default 0.05)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-written", action="store_true", help="also the shapes as written (slow)")
    args = parser.parse_args()

    import scale_bench
    from rdflib import Graph

    from kgraph.assess import load_priors
    from kgraph.build import graph_parts
    from kgraph.evidence_graph import compute_evidence, evidence_parts
    from kgraph.load import load_shapes
    from kgraph.pipeline import check
    from kgraph.project import Project
    from kgraph.shapes import PartsValidator, shacl_validate

    root = Path(tempfile.mkdtemp(prefix=f"kgraph-shacl-x{args.size}-"))
    try:
        scale_bench.generate(args.size, root)
        project = Project.at(root)
        checked = check(project, quotes=False, shacl=False)
        data, vocab, ontology = checked.data, checked.vocab, checked.ontology
        evidence = compute_evidence(data, vocab, load_priors(project.data_dir))
        parts = [*graph_parts(data, vocab, ontology), *evidence_parts(evidence, data, vocab)]
        owner = {}
        whole = Graph()
        for i, (_, part) in enumerate(parts):
            for triple in part:
                owner.setdefault(triple[0], i)
                whole.add(triple)
        broken = break_some(whole, args.violations, args.seed)
        # the broken graph, parted again: each triple in the part of its subject
        again = [(name, Graph()) for name, _ in parts]
        del parts
        for triple in whole:
            again[owner.get(triple[0], 1)][1].add(triple)
        print(f"x{args.size}: {len(whole)} triples in {len(again)} parts, {broken} nodes broken, "
              f"load average {os.getloadavg()[0]:.2f}")
        shapes = load_shapes(project)

        def by_parts():
            validator = PartsValidator(shapes, ontology, data, vocab)
            for name, part in again:
                validator.feed(name, part)
            return validator.finish()

        ways = {"parts (the build)": by_parts,
                "whole, flattened": lambda: shacl_validate(whole, shapes, data, vocab=vocab)}
        if args.as_written:
            ways["whole, as written"] = lambda: shacl_validate(whole, shapes, data, flatten=False, vocab=vocab)
        found = {}
        for name, way in ways.items():
            wall, cpu = time.perf_counter(), time.process_time()
            found[name] = way()
            print(f"{name:18}  wall {time.perf_counter() - wall:7.2f} s  "
                  f"cpu {time.process_time() - cpu:7.2f} s  {len(found[name])} problems", flush=True)
        first = next(iter(found.values()))
        print("same problems in the same order:", all(f == first for f in found.values()))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
