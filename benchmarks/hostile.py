"""Hostile-client battery against `kgraph serve` on loopback (a script, not a test; issue 14/16).

Starts the server on a free 127.0.0.1 port over the built corpus graph, then runs each
attack for a bounded time while a light client sends one ASK every second:

* 4 parse bombs (``FILTER(1+1+...+1)``, ~18 KB: minutes in rdflib's parser);
* 4 heavy joins (a 4-way cross product);
* 200 idle sockets held open (the server must close them itself);
* 20 slow-body clients (one byte a second);
* 4 memory bombs (nested doubling CONCAT, 2 GB+ if unchecked).

It prints, per attack: light-query p50/p95/max, how long each heavy request took until it
was stopped (limit + 2 s is the target), idle sockets the server closed, then the server's
RSS before and after and the tracebacks in its log. Everything stays on this machine and
stops by itself (about two minutes).

    python benchmarks/hostile.py [--timeout 10] [--seconds 15]
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
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIGHT = "ASK { kgr:ketamine ?p ?o }"
PARSE_BOMB = "SELECT * WHERE { ?s ?p ?o FILTER(" + "+".join(["1"] * 9000) + ") } LIMIT 1"
HEAVY_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def memory_bomb(levels: int = 27) -> str:
    binds = " ".join(f"BIND(CONCAT(?a{i}, ?a{i}) AS ?a{i + 1})" for i in range(levels))
    return f'SELECT (STRLEN(?a{levels}) AS ?n) WHERE {{ BIND("0123456789abcdef" AS ?a0) {binds} }}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, query: str, timeout: float = 120) -> tuple[int, float]:
    # the query as the body (a form would triple every '+' of a parse bomb into %2B)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/sparql", data=query.encode(),
                                 headers={"Content-Type": "application/sparql-query"})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status, time.monotonic() - start
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, time.monotonic() - start
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, time.monotonic() - start


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def light_client(port: int, stop: threading.Event, latencies: list[float], failures: list[int]) -> None:
    while not stop.is_set():
        status, elapsed = post(port, LIGHT, timeout=30)
        latencies.append(elapsed)
        if status != 200:
            failures.append(status)
        stop.wait(max(0.0, 1.0 - elapsed))


def run_attack(port: int, name: str, attack, seconds: float) -> dict:
    latencies: list[float] = []
    failures: list[int] = []
    stop = threading.Event()
    light = threading.Thread(target=light_client, args=(port, stop, latencies, failures))
    result: dict = {"attack": name}
    light.start()
    try:
        attack(result, seconds)
    finally:
        stop.set()
        light.join(60)
    latencies.sort()
    result["light n"] = len(latencies)
    result["light p50 ms"] = f"{statistics.median(latencies) * 1000:.0f}" if latencies else "-"
    result["light p95 ms"] = f"{latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] * 1000:.0f}" \
        if latencies else "-"
    result["light max ms"] = f"{latencies[-1] * 1000:.0f}" if latencies else "-"
    result["light errors"] = str(len(failures)) + (f" {sorted(set(failures))}" if failures else "")
    result["_light"] = latencies
    result["_failures"] = len(failures)
    return result


def heavy(port: int, query: str, count: int):
    def attack(result: dict, seconds: float) -> None:
        answers: list[tuple[int, float]] = []
        # each attacker's text its own (a trailing comment): the server computes an answer
        # once for identical requests that arrive together, which would spare it the attack
        threads = [threading.Thread(target=lambda q=f"{query}\n# attacker {i}": answers.append(post(port, q)))
                   for i in range(count)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join(300)
        time.sleep(2)  # a little calm after, still measured
        result["heavy statuses"] = " ".join(str(s) for s, _ in sorted(answers))
        result["heavy stopped after s"] = " ".join(f"{e:.1f}" for _, e in sorted(answers, key=lambda a: a[1]))
        result.setdefault("_heavy", []).extend(e for _, e in answers)
    return attack


def idle_sockets(port: int, count: int):
    def attack(result: dict, seconds: float) -> None:
        conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
        started = time.monotonic()
        closed = 0
        for conn in conns:
            conn.settimeout(max(0.1, seconds - (time.monotonic() - started)))
            try:
                if conn.recv(1) == b"":
                    closed += 1
            except (TimeoutError, OSError):
                pass
            conn.close()
        result["idle closed by server"] = f"{closed}/{count} in {time.monotonic() - started:.1f} s"
    return attack


def slow_bodies(port: int, count: int):
    def attack(result: dict, seconds: float) -> None:
        statuses: list[int] = []

        def client() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=seconds + 30) as conn:
                conn.sendall(b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/sparql-query\r\n"
                             b"Content-Length: 1000\r\n\r\n")
                deadline = time.monotonic() + seconds
                try:
                    while time.monotonic() < deadline:
                        conn.sendall(b"#")
                        conn.settimeout(1.0)
                        try:
                            data = conn.recv(200)
                            statuses.append(int(data.split(b" ")[1]) if data.startswith(b"HTTP/") else 0)
                            return
                        except TimeoutError:
                            continue
                except OSError:
                    statuses.append(0)

        threads = [threading.Thread(target=client) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 60)
        result["slow bodies answered"] = " ".join(f"{s}x{statuses.count(s)}" for s in sorted(set(statuses)))
    return attack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=10.0, help="the server's query time limit")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the socket attacks")
    args = parser.parse_args()

    port = free_port()
    subprocess.run([sys.executable, "-m", "kgraph", "build", "-q"], cwd=REPO, check=True, capture_output=True)
    log = tempfile.TemporaryFile()  # a file: an unread pipe would fill up and stall the server
    server = subprocess.Popen([sys.executable, "-m", "kgraph", "serve", "--port", str(port),
                               "--timeout", str(args.timeout)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    rows = []
    try:
        deadline = time.monotonic() + 120
        while post(port, LIGHT, timeout=10)[0] != 200:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        for _ in range(5):
            post(port, LIGHT)
        rss_before = rss_mb(server.pid)
        attacks = [
            ("none (baseline)", lambda result, seconds: time.sleep(5)),
            ("4 parse bombs", heavy(port, PARSE_BOMB, 4)),
            ("4 heavy joins", heavy(port, HEAVY_JOIN, 4)),
            ("4 bombs + 4 joins", lambda result, seconds: _both(port, result, seconds)),
            ("200 idle sockets", idle_sockets(port, 200)),
            ("20 slow bodies", slow_bodies(port, 20)),
            ("4 memory bombs", heavy(port, memory_bomb(), 4)),
        ]
        for name, attack in attacks:
            rows.append(run_attack(port, name, attack, args.seconds))
            print(f"done: {name}", file=sys.stderr)
        time.sleep(3)
        rss_after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    columns = ["attack", "light n", "light p50 ms", "light p95 ms", "light max ms", "light errors",
               "heavy statuses", "heavy stopped after s", "idle closed by server", "slow bodies answered"]
    for column in columns:
        print(f"{column:<22} | " + " | ".join(str(r.get(column, "")) for r in rows))
    print(f"{'server RSS MB':<22} | before {rss_before:.0f}, after {rss_after:.0f} "
          f"({(rss_after - rss_before) / rss_before * 100:+.1f}%)")
    print(f"{'server tracebacks':<22} | {text.count('Traceback')}")
    print(f"{'server log lines':<22} | {len(text.splitlines())}")
    print(f"targets: light p95 < 1000 ms and max < 3000 ms; heavy stopped within {args.timeout:g} + 2 s; "
          "0 tracebacks; RSS within 10%")
    checks = verdict(rows, args.timeout, text.count("Traceback"), rss_before, rss_after)
    for name, ok in checks:
        print(f"  {'met ' if ok else 'MISSED'}  {name}")
    print("all targets met" if all(ok for _, ok in checks) else "some targets missed")
    sys.exit(0 if all(ok for _, ok in checks) else 1)


def verdict(rows: list[dict], timeout: float, tracebacks: int, rss_before: float, rss_after: float) -> list:
    """Each target of the issue, and whether this run met it."""
    checks = []
    for r in rows:
        light = r["_light"]
        p95 = light[min(len(light) - 1, int(0.95 * len(light)))] if light else float("inf")
        checks.append((f"{r['attack']}: light p95 < 1 s, max < 3 s, no error",
                       p95 < 1.0 and (light[-1] if light else float("inf")) < 3.0 and not r["_failures"]))
        if r.get("_heavy"):
            checks.append((f"{r['attack']}: every heavy query stopped within {timeout:g} + 2 s",
                           max(r["_heavy"]) <= timeout + 2))
    checks.append(("0 tracebacks in the server log", tracebacks == 0))
    checks.append(("server RSS back within 10%", rss_after <= rss_before * 1.1))
    return checks


def _both(port: int, result: dict, seconds: float) -> None:
    bombs, joins = {}, {}
    threads = [threading.Thread(target=heavy(port, PARSE_BOMB, 4), args=(bombs, seconds)),
               threading.Thread(target=heavy(port, HEAVY_JOIN, 4), args=(joins, seconds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    result["heavy statuses"] = bombs.get("heavy statuses", "") + " / " + joins.get("heavy statuses", "")
    result["heavy stopped after s"] = bombs.get("heavy stopped after s", "") + " / " + \
        joins.get("heavy stopped after s", "")
    result["_heavy"] = bombs.get("_heavy", []) + joins.get("_heavy", [])


if __name__ == "__main__":
    main()
