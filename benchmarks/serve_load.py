"""Bounded load run against `kgraph serve` on loopback (a script, not a test).

Starts the server on a free 127.0.0.1 port over the built corpus graph, then runs
CLIENTS concurrent clients that each send REQUESTS SPARQL queries (a mix of entity
look-ups, ASK, a claim listing and named questions), and prints a table: throughput,
latency percentiles and errors. Everything stays on this machine and stops by itself.

    python benchmarks/serve_load.py [--clients 16] [--requests 500]

The clients all come from 127.0.0.1, which the server counts as one client: more than its
per-client limit (16 queries in flight, PoolLimits.per_client) are answered 503 by design,
so the default is that limit.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

QUERIES = [
    "SELECT ?l WHERE { kgr:ketamine rdfs:label ?l }",
    "ASK { kgr:ketamine kg:antagonistOf kgr:nmda-receptor }",
    "SELECT ?c ?q WHERE { ?c rdf:subject kgr:ketamine ; rdf:predicate kg:treats ; kg:quote ?q } LIMIT 20",
    "SELECT ?o WHERE { kgr:ptsd ?p ?o } LIMIT 50",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    sys.path.insert(0, str(REPO / "src"))
    from kgraph.sparql.execute import PoolLimits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=PoolLimits.per_client,
                        help="concurrent clients (default: the server's per-client limit)")
    parser.add_argument("--requests", type=int, default=500, help="requests per client")
    parser.add_argument("--named", action="store_true", help="mix in every named question too")
    parser.add_argument("--no-cache", action="store_true",
                        help="serve with --cache-mb 0: every request is evaluated (the answer cache off)")
    args = parser.parse_args()

    from kgraph.sparql.named import named_queries

    queries = list(QUERIES)
    if args.named:
        queries += [q.text for q in named_queries().values()]
    urls = []
    port = free_port()
    base = f"http://127.0.0.1:{port}/sparql"
    for q in queries:
        urls.append(f"{base}?query={urllib.parse.quote(q)}")

    subprocess.run([sys.executable, "-m", "kgraph", "build", "-q"], cwd=REPO, check=True, capture_output=True)
    # the server's messages go to a file: an unread pipe would fill up and stall it
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([sys.executable, "-m", "kgraph", "serve", "--port", str(port),
                               *(["--cache-mb", "0"] if args.no_cache else [])], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(urls[0], timeout=10).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.2)

        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def client(index: int) -> None:
            for i in range(args.requests):
                url = urls[(index + i) % len(urls)]
                start = time.perf_counter()
                detail = ""
                try:
                    req = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
                    with urllib.request.urlopen(req, timeout=60) as r:
                        r.read()
                        ok = r.status == 200
                except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                    ok, detail = False, repr(exc)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        errors.append(detail or "status")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.seek(0)
        server_errors = log.read().decode("utf-8", "replace").count("Traceback")

    latencies.sort()
    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    rows = [
        ("clients x requests", f"{args.clients} x {args.requests}"),
        ("answer cache", "off" if args.no_cache else "on (64 MB)"),
        ("distinct queries", str(len(urls))),
        ("total requests", str(len(latencies))),
        ("wall time (s)", f"{wall:.1f}"),
        ("throughput (req/s)", f"{len(latencies) / wall:.1f}"),
        ("latency p50 (ms)", f"{pct(0.50):.0f}"),
        ("latency p95 (ms)", f"{pct(0.95):.0f}"),
        ("latency max (ms)", f"{latencies[-1] * 1000:.0f}"),
        ("mean (ms)", f"{statistics.mean(latencies) * 1000:.0f}"),
        ("errors", str(len(errors))),
        ("server tracebacks", str(server_errors)),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure'.ljust(width)} | value")
    print(f"{'-' * width}-|------")
    for k, v in rows:
        print(f"{k.ljust(width)} | {v}")
    if errors:
        print("first errors:", errors[:3])


if __name__ == "__main__":
    main()
