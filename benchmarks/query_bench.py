"""How fast `kgraph query` answers, from a shell: wall time including interpreter start.

    python benchmarks/query_bench.py [--repeat N] [--root DIR]

Reads the built graph of DIR (built first if its store is stale). Prints three tables:

1. start-up: `python -c pass`, `kgraph --help`;
2. side by side, in the same run: `kgraph query` (the table it prints, and --format csv)
   against a bare pyoxigraph script that opens the same store read-only and prints the
   rows, and one that parses kgraph.nt into memory first (issue 10's baseline), for a
   look-up, a 2-hop and a GROUP BY; the ratio is kgraph's table over the bare store script
   (target: <= 0.3 s and <= 2x on the corpus);
3. every named query (`kgraph query --name NAME --format csv`), with its row count.

Times are the minimum and median wall time of N runs, and the minimum CPU time (user +
system of the command and the worker it forks): on a busy machine the wall time grows with
the load, the CPU time much less, and it is what the wall time comes to on an idle one.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUERIES = {
    "look-up": "SELECT ?p ?o WHERE { kgr:ketamine ?p ?o } LIMIT 5",
    "2-hop": "SELECT DISTINCT ?c ?m WHERE { ?d kg:treats ?c . ?d kg:hasMechanism ?m }",
    "GROUP BY": "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n)",
}
#: the bare script: open the store (or parse the N-Triples), query, print one line per row
BARE = """import sys, pyoxigraph as ox
if sys.argv[1] == "store":
    store = ox.Store.read_only(sys.argv[2])
else:
    store = ox.Store()
    store.bulk_load(path=sys.argv[2], format=ox.RdfFormat.N_TRIPLES)
prefixes = {"kg": "https://w3id.org/kgraph/ontology#", "kgr": "https://w3id.org/kgraph/id/"}
for row in store.query(sys.argv[3], prefixes=prefixes):
    print("\t".join(str(t) for t in row))
"""


def wall(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, float, float, bytes]:
    """Minimum and median wall time, minimum CPU time (user + system, the command and its
    children: what the wall time would be on an idle machine), and the last output."""
    times, cpu, out = [], [], b""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode not in (0, 1):
            raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}")
        out = done.stdout
    return min(times), statistics.median(times), min(cpu), out


def in_process(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    root = args.root.resolve()
    kgraph = [sys.executable, "-m", "kgraph"]

    # an installed package has its bytecode; a checkout run with PYTHONDONTWRITEBYTECODE=1
    # (as here) would compile every module on every run (60 ms of the 0.2 s measured)
    import compileall
    import importlib.util

    from kgraph.project import Project
    from kgraph.sparql.named import named_queries
    from kgraph.store import is_current, read_info

    compileall.compile_dir(Path(importlib.util.find_spec("kgraph").origin).parent, quiet=1)
    project = Project.at(root)
    if not is_current(project):
        print("building the graph first ...", file=sys.stderr)
        subprocess.run([*kgraph, "build", "--quiet"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    store = str(read_info(project.out_dir).path)
    nt = str(project.out_dir / "kgraph.nt")
    out = ["--graph-dir", str(project.out_dir)]
    print(f"kgraph query benchmark: {root} (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, {args.repeat} runs each, times in ms)")

    rows = []
    for label, cmd in (("python -c pass", [sys.executable, "-c", "pass"]),
                       ("python -c 'import pyoxigraph'", [sys.executable, "-c", "import pyoxigraph"]),
                       ("kgraph --help", [*kgraph, "--help"])):
        best, median, cpu, _ = wall(cmd, root, args.repeat)
        rows.append([label, ms(best), ms(median), ms(cpu)])
    table("1. start-up", ["command", "min", "median", "cpu"], rows)

    rows = []
    for label, text in QUERIES.items():
        runs = {
            "kgraph query": [*kgraph, "query", text, *out],
            "kgraph query --format csv": [*kgraph, "query", text, "--format", "csv", *out],
            "bare pyoxigraph, store": [sys.executable, "-c", BARE, "store", store, text],
            "bare pyoxigraph, parse .nt": [sys.executable, "-c", BARE, "nt", nt, text],
        }
        # interleaved, so that a change in the machine's load hits every column alike
        timed: dict[str, list] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, cmd in runs.items():
                timed[name].append(wall(cmd, root, 1))
        best = {name: min(t[0] for t in results) for name, results in timed.items()}
        cpu = {name: min(t[2] for t in results) for name, results in timed.items()}
        for name in runs:
            ratio = best[name] / best["bare pyoxigraph, store"]
            rows.append([f"{label}: {name}", ms(best[name]), ms(statistics.median(t[0] for t in timed[name])),
                         ms(cpu[name]), f"{ratio:.2f}x"])
    table("2. kgraph query vs a bare pyoxigraph script (same run, interleaved)",
          ["query: command", "min", "median", "cpu", "vs bare store"], rows)

    rows = []
    for name in named_queries():
        best, median, cpu, answer = wall([*kgraph, "query", "--name", name, "--format", "csv", *out], root,
                                         args.repeat)
        rows.append([name, ms(best), ms(median), ms(cpu), str(max(answer.count(b"\r\n") - 1, 0))])
    table("3. kgraph query --name NAME --format csv", ["query", "min", "median", "cpu", "rows"], rows)
    for column, what in ((1, "wall min"), (3, "cpu")):
        values = sorted(float(r[column]) for r in rows)
        print(f"   {what}: fastest {values[0]:.0f} ms, median {statistics.median(values):.0f} ms, "
              f"slowest {values[-1]:.0f} ms")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
