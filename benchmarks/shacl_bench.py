"""The SHACL check at scale: pySHACL on the flattened shapes against the shapes as written.

    python benchmarks/shacl_bench.py [--size 10] [--violations 0.05] [--seed 1]

Generates the scale benchmark's data K times the corpus (benchmarks/scale_bench.py) into a
temporary folder, builds the RDF graph as ``kgraph build`` does, breaks a share of the
claims and entities (``--violations``, 0 for none), then runs
:func:`kgraph.shapes.shacl_validate` with and without ``flatten`` side by side: wall and
CPU time of each, and whether the two lists of problems are the same, in the same order.
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
    args = parser.parse_args()

    import scale_bench

    from kgraph.assess import load_priors
    from kgraph.build import build_graph
    from kgraph.evidence_graph import add_evidence
    from kgraph.load import load_shapes
    from kgraph.pipeline import check
    from kgraph.project import Project
    from kgraph.shapes import shacl_validate

    root = Path(tempfile.mkdtemp(prefix=f"kgraph-shacl-x{args.size}-"))
    try:
        scale_bench.generate(args.size, root)
        project = Project.at(root)
        checked = check(project, quotes=False, shacl=False)
        built = build_graph(checked.data, checked.vocab, checked.ontology)
        add_evidence(built, checked.data, checked.vocab, load_priors(project.data_dir))
        broken = break_some(built.graph, args.violations, args.seed)
        print(f"x{args.size}: {len(built.graph)} triples, {broken} nodes broken, "
              f"load average {os.getloadavg()[0]:.2f}")
        shapes = load_shapes(project)
        found = {}
        for flatten in (True, False):
            wall, cpu = time.perf_counter(), time.process_time()
            found[flatten] = shacl_validate(built.graph, shapes, checked.data, flatten=flatten)
            print(f"{'flattened' if flatten else 'as written':10}  wall {time.perf_counter() - wall:7.2f} s  "
                  f"cpu {time.process_time() - cpu:7.2f} s  {len(found[flatten])} problems", flush=True)
        print("same problems in the same order:", found[True] == found[False])
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
