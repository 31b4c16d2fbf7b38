"""How long `--reason` takes the first time (closure computed) and afterwards (read back
from the N-Triples cache of kgraph.reason.entail_cached), on a built graph.

    PYTHONPATH=src python3 benchmarks/reason_bench.py [--graph-dir output] [--regime owl-rl]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from rdflib import Graph

from kgraph.reason import REGIMES, entail_cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph-dir", type=Path, default=Path("output"))
    parser.add_argument("--regime", choices=REGIMES, action="append")
    args = parser.parse_args()
    graph = Graph().parse(args.graph_dir / "kgraph.nt", format="nt")
    print(f"closure benchmark: {len(graph)} triples (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}); seconds")
    print(f"{'regime':8} {'first (compute)':>16} {'cached (read)':>14} {'triples':>8}")
    with tempfile.TemporaryDirectory(prefix="kgraph-reason-bench-") as cache:
        for regime in args.regime or REGIMES:
            started = time.perf_counter()
            entail_cached(graph, regime, Path(cache), "bench")
            first = time.perf_counter() - started
            started = time.perf_counter()
            closed = entail_cached(graph, regime, Path(cache), "bench")
            again = time.perf_counter() - started
            print(f"{regime:8} {first:16.2f} {again:14.2f} {len(closed):8}")


if __name__ == "__main__":
    main()
