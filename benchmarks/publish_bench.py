"""What the safety of a build costs (issue 15): reading every file back, and the atomic publish.

    python benchmarks/publish_bench.py [--repeat N] [--root DIR]

Builds the project at DIR (default: this repository) in memory once, then times, N times
each (minimum and median wall time): serialising every file, reading them all back with
Oxigraph (kgraph.reparse), and publishing them into a fresh temporary output folder
(kgraph.publish: write + fsync, pointer switch, links), against the whole build.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _times(fn, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()

    from kgraph.export import build_files
    from kgraph.pipeline import build
    from kgraph.project import Project
    from kgraph.publish import publish
    from kgraph.reparse import check_build_folder
    from kgraph.store import quads_from_dataset

    project = Project.at(args.root)
    start = time.perf_counter()
    result = build(project, write=False)
    whole = time.perf_counter() - start
    triples = len(result.built.graph)
    quads = sum(1 for _ in result.built.dataset.quads((None, None, None, None)))
    files = build_files(result.built, result.network, result.stats)
    expected = list(quads_from_dataset(result.built.dataset))
    size = sum(len(data) for data in files.values())

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "output"
        folder = publish(out, files).directory
        rows = [
            ("build in memory (load, validate, SHACL, network)", (whole, whole)),
            ("serialise every file", _times(lambda: build_files(result.built, result.network, result.stats),
                                            args.repeat)),
            ("read every file back (Oxigraph, exact)", _times(lambda: check_build_folder(
                folder, triples=triples, quads=quads, expected=expected), args.repeat)),
            ("publish (write + fsync, switch, links, cleanup)", _times(lambda: publish(out, files), args.repeat)),
        ]
    print(f"{triples} triples, {quads} quads, {len(files)} files, {size / 1e6:.1f} MB; {args.repeat} runs\n")
    print(f"{'step':<52} {'min':>9} {'median':>9}")
    for name, (best, median) in rows:
        print(f"{name:<52} {best * 1000:>7.0f}ms {median * 1000:>7.0f}ms")


if __name__ == "__main__":
    main()
