"""How kgraph scales: build, query and serve synthetic data K times the size of the corpus.

    python benchmarks/scale_bench.py [--sizes 1,10,100] [--x1000] [--repeat 3] [--keep]

For each size K, writes a project in kgraph's own format into a temporary folder: K clones
of every entity (clone i of ``ketamine`` is ``ketamine-k<i>``), 5·K documents (clone i of
each corpus page is the page with a header line of its own, so every quote remains a
substring of its document) and every claim copied onto the clones of its document, its
entity references pointing at the clones of the same clone index. K = 1 is the real data.
Then prints, per size:

1. the build: wall time, CPU and peak RSS after each step (the steps kgraph reports), and
   the CPU and largest peak RSS of the build's worker processes that have ended by then
   (the read-back's interpreters), and the peak of the memory of all its processes at
   once (the sum of their PSS, sampled each second: a forked worker's pages shared with the
   build counted once), once
   the generated files are older than kgraph's racy window (2 s), as real data files are;
2. the size of every output file and of the store;
3. query wall time, interpreter start included, of a look-up, a 2-hop join and a GROUP BY:
   through ``kgraph query`` and through a bare pyoxigraph script on the same data in the
   same run (opening the built store read-only, and parsing kgraph.nt into memory), with
   the ratio;
4. ``kgraph serve`` under concurrent clients on 127.0.0.1: requests/s, p50 / p95
   latency and errors, for the simple queries and for the named questions;
5. (up to --serialisers-up-to) each output format written by rdflib (as the build does)
   and by Oxigraph's serialisers in kgraph.store: time, and whether the bytes or at least
   the triples are the same.

Everything stays on this machine; the temporary folders are removed unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import resource
import shutil
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

import yaml

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"
CORPUS = (REPO.parent / "shared" / "corpus").resolve()

QUERIES = {
    "look-up": "SELECT ?p ?o WHERE { kgr:ketamine ?p ?o }",
    "2-hop": "SELECT ?drug ?condition ?claim WHERE { ?drug a kg:Drug ; kg:treats ?condition . "
             "?claim rdf:subject ?drug ; rdf:object ?condition }",
    "group-by": "SELECT ?predicate (COUNT(?claim) AS ?claims) WHERE { ?claim rdf:predicate ?predicate } "
                "GROUP BY ?predicate ORDER BY DESC(?claims) ?predicate",
}


# --------------------------------------------------------------------------- synthetic data

class _TextLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
    """Safe YAML with dates kept as text (as kgraph reads them)."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Dumper = yaml.CSafeDumper if hasattr(yaml, "CSafeDumper") else yaml.SafeDumper


def _read(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TextLoader)


def _write(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000),
                    encoding="utf-8")


def generate(k: int, root: Path, data: Path = REPO / "data", corpus: Path = CORPUS) -> dict:
    """Write data/ and corpus/ for size ``k`` below ``root``; return counts."""
    sys.path.insert(0, str(SRC))
    from kgraph.model import ENTITY_QUALIFIERS

    out_data, out_corpus = root / "data", root / "corpus"
    entity_files = sorted((data / "entities").glob("*.yaml"))
    entities = {path.name: _read(path) or [] for path in entity_files}
    ids = {e["id"] for records in entities.values() for e in records}

    def clone_id(ref, i):
        return ref if i == 0 or ref not in ids else f"{ref}-k{i}"

    def suffix(text, i):
        return text if i == 0 else f"{text} #{i}"

    for name, records in entities.items():
        cloned = []
        for i in range(k):
            for e in records:
                c = dict(e, id=clone_id(e["id"], i), label=suffix(e["label"], i))
                for key in ("synonyms", "abbreviations"):
                    if e.get(key):
                        c[key] = [suffix(str(s), i) for s in e[key]]
                cloned.append(c)
        _write(out_data / "entities" / name, cloned)

    xrefs = _read(data / "xrefs.yaml") or {}
    _write(out_data / "xrefs.yaml", {clone_id(entity, i): items for i in range(k) for entity, items in xrefs.items()})

    sources = _read(data / "sources.yaml")
    by_source = {}
    for path in sorted((data / "claims").glob("*.yaml")):
        doc = _read(path)
        by_source[doc["source"]] = doc["claims"]
    out_corpus.mkdir(parents=True, exist_ok=True)
    new_sources, claims = [], 0
    for i in range(k):
        for src in sources:
            text = (corpus / src["file"]).read_bytes()
            if i:
                text = f"Synthetic copy {i} of {src['file']} (kgraph scale benchmark)\n\n".encode() + text
            name = src["file"] if i == 0 else f"k{i:04d}_{src['file']}"
            (out_corpus / name).write_bytes(text)
            sid = src["id"] if i == 0 else f"{src['id']}-k{i}"
            new_sources.append(dict(src, id=sid, file=name, sha256=hashlib.sha256(text).hexdigest(),
                                    publisher=clone_id(src["publisher"], i)))
            copied = []
            for claim in by_source.get(src["id"], []):
                c = dict(claim)
                prefix, number = claim["id"].split("-", 1)
                c["id"] = claim["id"] if i == 0 else f"{prefix}-{i:04d}{number}"
                c["subject"] = clone_id(claim["subject"], i)
                if "object" in claim:
                    c["object"] = clone_id(claim["object"], i)
                for key in ("cites", "attributed_to"):
                    if key in claim:
                        value = claim[key]
                        c[key] = ([clone_id(v, i) for v in value] if isinstance(value, list)
                                  else clone_id(value, i))
                if "qualifiers" in claim:
                    c["qualifiers"] = {q: clone_id(v, i) if q in ENTITY_QUALIFIERS else v
                                       for q, v in claim["qualifiers"].items()}
                copied.append(c)
            claims += len(copied)
            stem = Path(src["file"]).stem.split("_")[0]
            _write(out_data / "claims" / f"{stem}-k{i:04d}.yaml", {"source": sid, "claims": copied})
    _write(out_data / "sources.yaml", new_sources)
    return {"entities": len(ids) * k, "documents": len(new_sources), "claims": claims}


# --------------------------------------------------------------------------- measuring

def wait_out_racy_window(root: Path) -> float:
    """Sleep until every input of the generated project is older than kgraph's racy window
    (:data:`kgraph.buildinfo.RACY_NS`), as a project's files are when someone builds it;
    the seconds slept. A build seconds after the files were written trusts none of their
    stats (they could still change unseen), so every later command would hash every input
    again -- a cost of this benchmark, not of kgraph (252 ms instead of 47 at x100)."""
    sys.path.insert(0, str(SRC))
    from kgraph.buildinfo import RACY_NS, file_stat, input_files
    from kgraph.project import Project

    newest = max(max(st[1], st[2]) for st in map(file_stat, input_files(Project.at(root))))
    wait = (newest + RACY_NS) / 1e9 - time.time() + 0.1  # a margin for the clock's granularity
    if wait > 0:
        time.sleep(wait)
    return max(wait, 0.0)


def trusted_inputs(root: Path) -> tuple[int, int]:
    """How many inputs the built store's stat index trusts, of how many (all, after the wait)."""
    sys.path.insert(0, str(SRC))
    from kgraph.store import read_info

    info = read_info(root / "output")
    inputs = info.inputs if info is not None else ()
    return sum(f.stat is not None for f in inputs), len(inputs)


#: Runs the build in a child process and reports, after each step, the time and memory.
BUILD_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from kgraph.pipeline import build
from kgraph.project import Project
root = Path(sys.argv[2])
project = Project.at(root, out_dir=root / "output", corpus_dir=root / "corpus")
marks = []
def mark(name):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # the build's worker processes (SHACL batches, the read-back), once they have ended
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    marks.append({"step": name, "t": time.perf_counter(), "cpu": usage.ru_utime + usage.ru_stime,
                  "maxrss_mb": usage.ru_maxrss / 1024, "workers_cpu": workers.ru_utime + workers.ru_stime,
                  "workers_maxrss_mb": workers.ru_maxrss / 1024})
mark("start")
result = build(project, step=mark, keep_graph=False)  # as `kgraph build` does
mark("end")
print(json.dumps({"marks": marks, "triples": result.stats["triples"]}))
import gc
gc.freeze()  # as `kgraph build` does before it exits (kgraph.cli.build): no collection at exit walks the graph
"""


STEP_COLUMNS = ["step", "wall", "cpu", "peak RSS", "workers cpu", "worker peak RSS"]


class TreeMemory:
    """The memory of a process and all its descendants, sampled every ``every`` seconds by
    a thread: the sum of their PSS (each page shared by forked processes counted once,
    split between them), from Linux's /proc/PID/smaps_rollup. ``peak`` is the largest sum,
    ``at_peak`` who held it (a forked worker names itself: kgraph.forked). Where /proc has
    no smaps_rollup, ``peak`` stays None."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        self.pid, self.every = pid, every
        self.peak: float | None = None
        self.at_peak: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rows = [row for row in map(self._sample, self._tree(self.pid)) if row is not None]
            total = sum(mb for _, mb in rows)
            if rows and (self.peak is None or total > self.peak):
                self.peak, self.at_peak = total, rows
            self._stop.wait(self.every)

    def _tree(self, pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
                children = [int(c) for c in fh.read().split()]
        except OSError:
            return [pid]
        return [pid, *itertools.chain.from_iterable(self._tree(c) for c in children)]

    def _sample(self, pid: int) -> tuple[str, float] | None:
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
                name = fh.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
                pss = next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            return None
        if pid == self.pid:
            name = "build"
        elif "kgraph.reparse" in cmd:
            name = "read-back worker"
        elif "kgraph.store" in cmd:
            name = "store worker"
        return name, pss / 1024


def run_build(root: Path) -> dict:
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", BUILD_CHILD, str(SRC), str(root)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    tree = TreeMemory(child.pid)
    out, err = child.communicate()
    tree.stop()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"build failed:\n{err[-3000:]}")
    report = json.loads(out.strip().splitlines()[-1])
    marks = report["marks"]
    steps = []
    for before, after in itertools.pairwise(marks):
        if before["step"] == "start":
            continue
        steps.append([before["step"], f"{after['t'] - before['t']:.2f}", f"{after['cpu'] - before['cpu']:.2f}",
                      f"{after['maxrss_mb']:.0f}", f"{after['workers_cpu'] - before['workers_cpu']:.2f}",
                      f"{after['workers_maxrss_mb']:.0f}"])
    end = marks[-1]
    steps.append(["(whole process, interpreter start and imports included)", f"{wall:.2f}",
                  f"{end['cpu']:.2f}", f"{end['maxrss_mb']:.0f}", f"{end['workers_cpu']:.2f}",
                  f"{end['workers_maxrss_mb']:.0f}"])
    held: dict[str, float] = {}
    for name, mb in tree.at_peak:
        held[name] = held.get(name, 0.0) + mb
    return {"steps": steps, "wall": wall, "triples": report["triples"], "maxrss": end["maxrss_mb"],
            "workers_maxrss": end["workers_maxrss_mb"], "tree_peak": tree.peak,
            "tree_at_peak": ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(held.items(), key=lambda x: -x[1]))}


def sizes(out: Path) -> list[list[str]]:
    current = out / ".current"
    if current.is_symlink():  # a published build: its files are in the folder the pointer names
        out = current.resolve()
    rows = []
    for entry in sorted(out.iterdir()):
        if entry.is_symlink():
            continue
        if entry.is_dir():
            size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
            name = f"{entry.name}/"
        else:
            size, name = entry.stat().st_size, entry.name
        rows.append([name, f"{size / 1e6:.2f}"])
    return rows


def timed(cmd: list[str], repeat: int, env: dict, stdin: str | None = None) -> tuple[float, float, str, float]:
    """Minimum and median wall time, the last output, and the minimum CPU time (user +
    system of the command and its children: what the wall time comes to on
    an idle machine; on a busy one the wall time grows with the load, the CPU time much less)."""
    times, out, cpu = [], "", []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, input=stdin, check=False)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd[:4])} ...\n{done.stderr[-2000:]}")
        out = done.stdout
    return min(times), statistics.median(times), out, min(cpu)


#: The bare pyoxigraph script the issue compares with: open the built store, query, print CSV.
OX_STORE_SCRIPT = r"""
import sys, pyoxigraph as ox
store = ox.Store.read_only(sys.argv[1])
prefixes = dict(a.split("=", 1) for a in sys.argv[3:])
sys.stdout.buffer.write(store.query(sys.argv[2], prefixes=prefixes).serialize(format=ox.QueryResultsFormat.CSV))
"""
#: The same, parsing kgraph.nt into an in-memory store first (the profile's 10-line script).
OX_NT_SCRIPT = r"""
import sys, pyoxigraph as ox
store = ox.Store()
store.bulk_load(path=sys.argv[1], format=ox.RdfFormat.N_TRIPLES)
prefixes = dict(a.split("=", 1) for a in sys.argv[3:])
sys.stdout.buffer.write(store.query(sys.argv[2], prefixes=prefixes).serialize(format=ox.QueryResultsFormat.CSV))
"""


def store_dir(out: Path) -> Path:
    """The build's store; written here from kgraph.trig (into bench-store/) if the build has none."""
    link = out / "store"
    if link.is_symlink():
        return link.resolve()
    sys.path.insert(0, str(SRC))
    from kgraph import store as S

    return S.write_store(out.parent / "bench-store", S.store_quads(S.quads_from_file(out / "kgraph.trig"))).path


#: Serialises the built graph with rdflib (kgraph.export, what the build does) and with
#: Oxigraph (kgraph.store), and says whether they hold the same triples.
SERIALISE_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import pyoxigraph as ox
from rdflib import Dataset, Graph
from kgraph import store as S
from kgraph.export import serialize_dataset, serialize_graph, sorted_copy
from kgraph.formats import FORMATS_BY_NAME
out = Path(sys.argv[2])
graph = sorted_copy(Graph().parse(out / "kgraph.nt", format="nt"))
dataset = Dataset(); dataset.parse(out / "kgraph.trig", format="trig")
store = ox.Store.read_only(sys.argv[3])
triples = list(S.graph_triples(store))
quads = list(S.named_quads(store))
rows = []
def same(a, b, fmt):
    f = ox.RdfFormat.TRIG if fmt == "trig" else {"nt": ox.RdfFormat.N_TRIPLES, "turtle": ox.RdfFormat.TURTLE,
        "xml": ox.RdfFormat.RDF_XML, "jsonld": ox.RdfFormat.JSON_LD}[fmt]
    def load(data):
        return {(str(q.subject), str(q.predicate), str(q.object)) for q in ox.parse(data, format=f)}
    return load(a) == load(b)
for fmt in ("nt", "turtle", "xml", "jsonld", "trig"):
    t = time.perf_counter()
    mine = serialize_dataset(dataset) if fmt == "trig" else serialize_graph(graph, FORMATS_BY_NAME[fmt])
    t_rdflib = time.perf_counter() - t
    t = time.perf_counter()
    theirs = S.serialize_quads(quads, "trig") if fmt == "trig" else S.serialize_triples(triples, fmt)
    t_ox = time.perf_counter() - t
    rows.append([fmt, f"{t_rdflib:.2f}", f"{t_ox:.2f}", f"{t_rdflib / max(t_ox, 1e-6):.0f}x",
                 "bytes equal" if mine == theirs else ("same triples" if same(mine, theirs, fmt) else "DIFFERENT")])
print(json.dumps(rows))
"""


def serialise_rows(root: Path) -> list[list[str]]:
    out = root / "output"
    done = subprocess.run([sys.executable, "-c", SERIALISE_CHILD, str(SRC), str(out), str(store_dir(out))],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"serialisation comparison failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def project_args(root: Path) -> list[str]:
    """The generated project as the build saw it (Project.at(root): the packaged ontology),
    so that reading commands find its build current instead of rebuilding it."""
    sys.path.insert(0, str(SRC))
    from kgraph.project import Project

    project = Project.at(root)
    return ["--data", str(project.data_dir), "--ontology", str(project.ontology_file.parent),
            "--graph-dir", str(root / "output")]


def query_rows(root: Path, repeat: int, env: dict) -> list[list[str]]:
    # an installed package has its bytecode (pip compiles a wheel's modules): a checkout run
    # with PYTHONDONTWRITEBYTECODE=1 would compile kgraph's modules on every query (60 ms of
    # x100's look-up here), which the bare script, all in Rust, never pays
    import compileall

    sys.path.insert(0, str(SRC))
    from kgraph.prefixes import PREFIXES

    compileall.compile_dir(SRC / "kgraph", quiet=1)
    out = root / "output"
    kgraph = [sys.executable, "-m", "kgraph", "query", *project_args(root), "--format", "csv"]
    prefix_args = [f"{k}={v}" for k, v in PREFIXES.items()]
    store = store_dir(out)
    rows = []
    for label, text in QUERIES.items():
        timed([*kgraph, text], 1, env)  # warm: the first query after a build may fill caches
        best, median, answer, kg_cpu = timed([*kgraph, text], repeat, env)
        n = max(answer.count("\n") - 1, 0)
        row = [label, str(n), f"{best * 1000:.0f}", f"{median * 1000:.0f}", f"{kg_cpu * 1000:.0f}"]
        ox_best, _, _, ox_cpu = timed([sys.executable, "-c", OX_STORE_SCRIPT, str(store), text, *prefix_args],
                                      repeat, env)
        row += [f"{ox_best * 1000:.0f}", f"{ox_cpu * 1000:.0f}", f"{best / ox_best:.1f}x",
                f"{kg_cpu / max(ox_cpu, 1e-3):.1f}x"]
        nt_best, _, _, _ = timed([sys.executable, "-c", OX_NT_SCRIPT, str(out / "kgraph.nt"), text, *prefix_args],
                              repeat, env)
        row += [f"{nt_best * 1000:.0f}", f"{best / nt_best:.1f}x"]
        rows.append(row)
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: serve's --max-results in the load (its default, 10,000, is below some x100 answers)
MAX_RESULTS = 1_000_000


def serve_rows(root: Path, env: dict, clients: int, requests: int) -> list[list[str]]:
    sys.path.insert(0, str(SRC))
    from kgraph.sparql.named import named_queries

    port = free_port()
    base = f"http://127.0.0.1:{port}/sparql"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the server below
    started = time.perf_counter()
    # the named questions' answers have up to 14,100 rows at x100, more than serve's default
    # limit of 10,000 (which refuses them with 413): the limit grows with the data
    server = subprocess.Popen([sys.executable, "-m", "kgraph", "serve", "--port", str(port),
                               "--max-results", str(MAX_RESULTS), *project_args(root)],
                              stdout=subprocess.DEVNULL,
                              stderr=log, env=env)
    rows = []
    try:
        probe = f"{base}?query={urllib.parse.quote(QUERIES['look-up'])}"
        deadline = time.monotonic() + 1800
        while True:
            try:
                urllib.request.urlopen(probe, timeout=30).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("kgraph serve did not start") from None
                time.sleep(0.2)
        startup = time.perf_counter() - started
        simple = [QUERIES["look-up"], "ASK { kgr:ketamine kg:antagonistOf kgr:nmda-receptor }",
                  "SELECT ?l WHERE { kgr:ptsd rdfs:label ?l }"]
        named = [q.text for q in named_queries().values()]
        # one client asks each named question once, while the server's own warm-up asks
        # them too: how long until every one has been answered once
        first = load(base, named, 1, len(named))
        first_answers = time.perf_counter() - started - startup
        rows.append(["named questions, first answer of each", *first])
        for label, texts in (("simple queries", simple), ("named questions", named)):
            rows.append([label, *load(base, texts, clients, requests)])
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.seek(0)
        tracebacks = log.read().decode("utf-8", "replace").count("Traceback")
        log.close()
    for row in rows:
        row.append(str(tracebacks))
    rows.append(["(start-up until the first answer, s)", f"{startup:.1f}", "", "", "", ""])
    rows.append(["(then until each named question answered once, s)", f"{first_answers:.1f}", "", "", "", ""])
    return rows


def load(base: str, texts: list[str], clients: int, requests: int) -> list[str]:
    urls = [f"{base}?query={urllib.parse.quote(t)}" for t in texts]
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client(index: int) -> None:
        nonlocal errors
        for i in range(requests):
            request = urllib.request.Request(urls[(index + i) % len(urls)],
                                             headers={"Accept": "application/sparql-results+json"})
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                    ok = response.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                ok = False
            with lock:
                latencies.append(time.perf_counter() - began)
                errors += not ok

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return [f"{len(latencies) / wall:.0f}", f"{pct(0.5):.0f}", f"{pct(0.95):.0f}", str(errors)]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100", help="comma-separated sizes K (default 1,10,100)")
    parser.add_argument("--x1000", action="store_true", help="also K = 1000 (570k claims; long)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query (the minimum is shown)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="requests per client and kind")
    parser.add_argument("--no-serve", action="store_true", help="skip the serve load")
    parser.add_argument("--serialisers-up-to", type=int, default=10,
                        help="compare rdflib's and Oxigraph's serialisers up to this size (rdflib is slow)")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    args = parser.parse_args()
    ks = [int(s) for s in args.sizes.split(",") if s.strip()] + ([1000] if args.x1000 else [])
    env = dict(os.environ, PYTHONPATH=str(SRC))
    print(f"kgraph scale benchmark (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}); times in s unless said, memory in MB")
    summary = []
    for k in ks:
        root = Path(tempfile.mkdtemp(prefix=f"kgraph-scale-x{k}-"))
        try:
            began = time.perf_counter()
            counts = generate(k, root)
            print(f"\n=== x{k}: {counts['entities']} entities, {counts['documents']} documents, "
                  f"{counts['claims']} claims (generated in {time.perf_counter() - began:.1f} s, {root})")
            waited = wait_out_racy_window(root)
            build = run_build(root)
            trusted, inputs = trusted_inputs(root)
            table(f"x{k} 1. kgraph build ({build['triples']} triples; waited {waited:.1f} s first, so that the "
                  f"stat index trusts {trusted} of {inputs} inputs)", STEP_COLUMNS,
                  build["steps"])
            if build["tree_peak"] is not None:
                print(f"the build's processes together (PSS, sampled each second): peak {build['tree_peak']:.0f} MB "
                      f"({build['tree_at_peak']})")
            table(f"x{k} 2. output sizes", ["file", "MB"], sizes(root / "output"))
            queries = query_rows(root, args.repeat, env)
            table(f"x{k} 3. query wall time in ms, interpreter start included (min of {args.repeat})",
                  ["query", "rows", "kgraph min", "kgraph median", "kgraph cpu", "pyoxigraph store",
                   "pyoxigraph cpu", "ratio wall", "ratio cpu", "pyoxigraph parse nt", "ratio"], queries)
            if k <= args.serialisers_up_to:
                table(f"x{k} 5. serialising the graph: rdflib (the build today) vs Oxigraph (kgraph.store), s",
                      ["format", "rdflib", "oxigraph", "speed-up", "output"], serialise_rows(root))
            serve = []
            if not args.no_serve:
                serve = serve_rows(root, env, args.clients, args.requests)
                table(f"x{k} 4. kgraph serve, {args.clients} clients x {args.requests} requests each",
                      ["load", "req/s", "p50 ms", "p95 ms", "errors", "server tracebacks"], serve)
            summary.append([f"x{k}", str(counts["claims"]), str(build["triples"]), f"{build['wall']:.1f}",
                            f"{build['maxrss']:.0f}", f"{build['workers_maxrss']:.0f}",
                            "-" if build["tree_peak"] is None else f"{build['tree_peak']:.0f}", *[q[2] for q in queries],
                            *([serve[1][1], serve[2][1]] if serve else ["-", "-"])])
        finally:
            if args.keep:
                print(f"(kept {root})")
            else:
                shutil.rmtree(root, ignore_errors=True)
    table("Summary", ["size", "claims", "triples", "build s", "peak MB", "worker peak MB", "all processes peak MB",
                      *[f"{q} ms" for q in QUERIES],
                      "serve simple req/s", "serve named req/s"], summary)


if __name__ == "__main__":
    main()
