"""How fast `kgraph query` answers, from a shell: wall time including interpreter start.

    python benchmarks/query_bench.py [--repeat N] [--root DIR]

Runs in a copy of the built graph (DIR/output, built first if needed) so that the
project's own output/.cache is left alone. Prints four tables:

1. start-up: `python -c pass`, `kgraph --help`;
2. every named query (`kgraph query --name NAME --format csv`), with its row count;
3. loading the graph in-process: N-Triples parse vs the pickle cache (default and
   SimpleMemory stores), and the fork kgraph uses to enforce --timeout;
4. cold (no cache) vs warm runs, with and without --reason.

Times are the minimum and median wall time of N runs, and the minimum CPU time (user +
system of the command and the worker it forks): on a busy machine the wall time grows with
the load, the CPU time much less, and it is what the wall time comes to on an idle one.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


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

    from kgraph.buildinfo import BUILD_INFO, GRAPH_FILE, is_fresh
    from kgraph.project import Project
    from kgraph.sparql.named import named_queries

    project = Project.at(root)
    if not is_fresh(project):
        print("building the graph first ...", file=sys.stderr)
        subprocess.run([*kgraph, "build", "--quiet"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="kgraph-bench-"))
    try:
        for name in (BUILD_INFO, GRAPH_FILE):
            shutil.copy2(project.out_dir / name, work / name)
        out = ["--graph-dir", str(work)]

        print(f"kgraph query benchmark: {root} (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f}, {args.repeat} runs each, times in ms)")

        # warm the cache once, as any second query would find it
        subprocess.run([*kgraph, "query", "--name", "treats", *out], cwd=root, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = []
        for label, cmd in (("python -c pass", [sys.executable, "-c", "pass"]),
                           ("kgraph --help", [*kgraph, "--help"]),
                           ("kgraph queries", [*kgraph, "queries"])):
            best, median, cpu, _ = wall(cmd, root, args.repeat)
            rows.append([label, ms(best), ms(median), ms(cpu)])
        table("1. start-up", ["command", "min", "median", "cpu"], rows)

        rows = []
        for name in named_queries():
            best, median, cpu, answer = wall([*kgraph, "query", "--name", name, "--format", "csv", *out], root,
                                             args.repeat)
            rows.append([name, ms(best), ms(median), ms(cpu), str(max(answer.count(b"\r\n") - 1, 0))])
        table("2. kgraph query --name NAME --format csv (warm cache)", ["query", "min", "median", "cpu", "rows"],
              rows)
        for column, what in ((1, "wall min"), (3, "cpu")):
            values = sorted(float(r[column]) for r in rows)
            print(f"   {what}: fastest {values[0]:.0f} ms, median {statistics.median(values):.0f} ms, "
                  f"slowest {values[-1]:.0f} ms")

        rows = []
        from rdflib import Graph

        from kgraph.export import sorted_copy
        from kgraph.sparql.execute import run_query
        from kgraph.sparql.prepare import prepare_query

        nt = work / GRAPH_FILE
        parsed = Graph().parse(nt, format="nt")
        default_pickle = pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)
        simple = sorted_copy(parsed)
        simple_pickle = pickle.dumps(simple, protocol=pickle.HIGHEST_PROTOCOL)
        rows.append(["parse kgraph.nt (rdflib Memory store)", *map(ms, in_process(
            lambda: Graph().parse(nt, format="nt"), args.repeat)), f"{nt.stat().st_size // 1024} KiB"])
        rows.append(["unpickle, Memory store", *map(ms, in_process(
            lambda: pickle.loads(default_pickle), args.repeat)), f"{len(default_pickle) // 1024} KiB"])
        rows.append(["unpickle, SimpleMemory store (the cache)", *map(ms, in_process(
            lambda: pickle.loads(simple_pickle), args.repeat)), f"{len(simple_pickle) // 1024} KiB"])
        ask = prepare_query("ASK { kgr:ketamine kg:treats kgr:ptsd }")
        rows.append(["ASK in this process (no time limit)", *map(ms, in_process(
            lambda: run_query(simple, ask, timeout=None), args.repeat * 4)), ""])
        rows.append(["ASK in a forked worker (--timeout)", *map(ms, in_process(
            lambda: run_query(simple, ask, timeout=30), args.repeat * 4)), ""])
        table("3. in-process steps", ["step", "min", "median", "size"], rows)

        rows = []
        for label, extra in (("treats", []), ("treats --reason rdfs", ["--reason", "rdfs"]),
                             ("treats --reason owl-rl", ["--reason", "owl-rl"])):
            shutil.rmtree(work / ".cache", ignore_errors=True)
            cold, _, cold_cpu, _ = wall([*kgraph, "query", "--name", "treats", *extra, *out], root, 1)
            best, median, cpu, _ = wall([*kgraph, "query", "--name", "treats", *extra, *out], root, args.repeat)
            rows.append([label, ms(cold), ms(cold_cpu), ms(best), ms(median), ms(cpu)])
        table("4. cold (no cache: parse, or compute the closure) vs warm",
              ["query", "cold", "cold cpu", "warm min", "warm median", "warm cpu"], rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
