"""Run a query over a graph: read-only, offline, within a time and a memory limit.

rdflib parses and evaluates in pure Python, so a thread running a query cannot be
stopped -- and its parser (pyparsing) can take minutes on a short hostile query such as
``FILTER(1+1+...+1)``. Every step of a query therefore runs in a forked worker process
killed when its time is up: parsing, the safety checks, algebra translation, evaluation
and (for the server) serialisation of the answer. Nothing is parsed in the parent, so no
lock is held there that one client could keep.

* :func:`run_query` (``kgraph query``) forks one worker for one query (about 10 ms);
  :func:`query_info` forks one to parse a text under the same deadline (kind and notes);
* :class:`QueryPool` (``kgraph serve``) forks workers when the server starts: ``size``
  *full* workers that run a query up to the server's time limit, and ``reserve`` *fast*
  workers that answer any query within ``fast_timeout`` (a lookup takes milliseconds), so
  cheap questions keep being answered while heavy ones hold every full worker. Admission
  is bounded: a request waits at most ``max_wait`` seconds for a worker, a client has at
  most ``per_client`` requests in flight and at most ``max_queue`` wait in all; beyond
  that the answer is :class:`ServerBusy` with an honest ``Retry-After`` (the soonest
  deadline of a busy worker). A worker past its deadline, out of memory or dead is
  killed -- which stops the work, not only the response -- and replaced by a fresh fork.

A worker is fenced in: it refuses any socket (in case a query slipped past the checks of
:mod:`~kgraph.sparql.prepare`), replaces every socket and pipe it inherited (the server's
listening socket, client connections, its siblings' pipes) with /dev/null so that clients, a
restarted server and the parent never wait on it, lowers its address-space limit (``RLIMIT_AS``) to what
it had plus ``memory`` bytes once its engine has started, and exits within a second when its parent dies (a watchdog
thread; ``PR_SET_PDEATHSIG`` would fire when the *thread* that forked it ends).

What a worker answers with is its *engine*: :class:`RdflibEngine` (rdflib over an
in-memory graph, shared with the forked worker copy-on-write) or
:class:`kgraph.storequery.StoreEngine` (Oxigraph over the build's store, opened by each
worker). The pool, its admission control and the fences are the same for both.

Protocol (:class:`_Worker`, forked with :func:`os.fork`, two pipes): the parent sends
``(mode, text, options)``; the worker answers ``("ok", payload)`` or ``("error", KgraphError)``;
only the answer travels back, pickled.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import pickle
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgraph.errors import KgraphError, QueryError, QueryTimeout, RequestTooLarge, ResourceLimit, ServerBusy
from kgraph.sparql.results import QueryResult

if TYPE_CHECKING:
    from rdflib import Graph

    from kgraph.sparql.prepare import PreparedQuery

#: Seconds a query may run before it is stopped (``kgraph query --timeout``).
DEFAULT_TIMEOUT = 30.0
#: Prepared queries a pool worker keeps (it parses each text it is sent once).
WORKER_CACHE = 256
#: Bytes of memory a query worker may allocate beyond what it inherited (RLIMIT_AS).
WORKER_MEMORY = 1 << 30


# --------------------------------------------------------------------------- evaluating

def evaluate(graph: Graph, prepared: PreparedQuery) -> QueryResult:
    """Evaluate ``prepared`` over ``graph`` in this process, with no time limit."""
    with conformant_aggregates():
        answer = graph.query(prepared.query)
        kind = prepared.kind
        if kind == "ASK":
            return QueryResult(kind, boolean=bool(answer.askAnswer))
        if kind == "SELECT":
            variables = [str(v) for v in answer.vars or []]
            rows = [tuple(row) for row in answer]
        else:
            result_graph = answer.graph
    if kind == "SELECT":
        if prepared.star:
            order = sorted(range(len(variables)), key=lambda i: (_first_use(prepared.text, variables[i]), variables[i]))
            variables = [variables[i] for i in order]
            rows = [tuple(row[i] for i in order) for row in rows]
        if not prepared.ordered:
            rows.sort(key=lambda row: tuple(_sort_key(term) for term in row))
        return QueryResult(kind, variables=variables, rows=rows)
    from kgraph.build import bind_prefixes

    bind_prefixes(result_graph)
    return QueryResult(kind, graph=result_graph)


def _sort_key(term) -> str:
    if term is None:
        return ""
    try:
        return term.n3()
    except Exception:  # noqa: BLE001 - rdflib refuses n3() of an invalid IRI (e.g. with a space);
        return f"<{term}>"  # the writer then reports it (kgraph.sparql.results.check_expressible)


def _first_use(text: str, variable: str) -> int:
    match = re.search(rf"[?$]{re.escape(variable)}\b", text)
    return match.start() if match else len(text)


#: Set while kgraph evaluates a query in this thread (see conformant_aggregates).
_CONFORMANT = contextvars.ContextVar("kgraph_conformant_aggregates", default=False)


@contextlib.contextmanager
def conformant_aggregates() -> Iterator[None]:
    """Within this block (this thread only), ``GROUP_CONCAT(DISTINCT ?x)`` skips solutions
    where ``?x`` is unbound, as SPARQL 1.1 (18.5.1) says and rdflib does for COUNT.

    rdflib 7 raises NotBoundError there instead (RDFLib/rdflib#882), so any aggregate over
    an OPTIONAL that did not always match fails. rdflib has no per-query hook for it (its
    evaluator names the Aggregator class directly), so a wrapper is put on
    ``Accumulator.use_row`` once; it changes nothing unless the context variable set here
    is on, so every other rdflib user in the process -- and other threads -- see rdflib
    exactly as it is.
    """
    _install_use_row_wrapper()
    token = _CONFORMANT.set(True)
    try:
        yield
    finally:
        _CONFORMANT.reset(token)


def _install_use_row_wrapper() -> None:
    from rdflib.plugins.sparql import aggregates
    from rdflib.plugins.sparql.sparql import NotBoundError

    original = aggregates.Accumulator.use_row
    if getattr(original, "kgraph_scoped", False):
        return

    def use_row(self, row) -> bool:
        if not _CONFORMANT.get():
            return original(self, row)
        try:
            return original(self, row)
        except NotBoundError:
            return False

    use_row.kgraph_scoped = True  # type: ignore[attr-defined]
    aggregates.Accumulator.use_row = use_row


def forbid_network() -> None:
    """In a worker process only (audit hooks cannot be removed): any socket use is an error."""
    # rdflib's engine is told too, if this worker has it (:meth:`RdflibEngine.start`); a
    # store worker does not import it (125 ms)
    if "rdflib.plugins.sparql" in sys.modules:
        sys.modules["rdflib.plugins.sparql"].SPARQL_LOAD_GRAPHS = False

    def hook(event: str, args: tuple) -> None:
        if event.startswith("socket.") or event == "urllib.Request":
            raise PermissionError(f"network access is refused in kgraph queries ({event})")

    sys.addaudithook(hook)


# --------------------------------------------------------------------------- errors

def timed_out(timeout: float) -> QueryTimeout:
    """The error for a query stopped after ``timeout`` seconds."""
    return QueryTimeout(f"the query was stopped after {timeout:g} s without an answer.",
                        "Narrow it (fewer unbound triple patterns, a LIMIT) or allow longer with --timeout SECONDS.",
                        http_hint=f"Narrow it (fewer unbound triple patterns, a LIMIT): this server stops "
                                  f"queries after {timeout:g} s, so sending it again will not help.")


def out_of_memory(memory: int | None, detail: str = "") -> ResourceLimit:
    limit = f" of {memory / (1 << 20):.0f} MB" if memory else ""
    return ResourceLimit(f"the query was stopped: it needed more than the memory limit{limit} of one query{detail}.",
                         "Narrow it: long strings built by nested CONCAT/REPEAT-like expressions or huge "
                         "intermediate results exhaust memory; add a LIMIT.",
                         http_hint="Narrow it (shorter computed strings, a LIMIT); the server refuses queries "
                                   "that outgrow its per-query memory limit, so sending it again will not help.")


def ended(memory: int | None, code: int | None) -> KgraphError:
    """The error for a worker that ended without an answer (exit ``code``)."""
    import signal

    # (Oxigraph aborts, SIGABRT, when an allocation fails under the memory cap: that is memory)
    if code in (-signal.SIGSEGV, -signal.SIGBUS):
        return ResourceLimit("the query was stopped: the SPARQL engine could not handle it (its process "
                             f"crashed, exit code {code}); very long or deeply nested expressions do that.",
                             "Shorten or split the expressions of the query.",
                             http_hint="Shorten or split the expressions of the query; sending it again "
                                       "will not help.")
    return out_of_memory(memory, f" (the query process ended with exit code {code})")


def _failed(exc: Exception) -> QueryError:
    return QueryError(f"the query failed while running: {type(exc).__name__}: {exc}",
                      "Check the query; `kgraph queries` lists working examples.",
                      http_hint="Check the query; the named questions at /queries.json are working examples.")


# --------------------------------------------------------------------------- inside a worker

@dataclass(frozen=True)
class Serialize:
    """Options of a server request: the worker negotiates the format and writes the bytes."""

    accept: str | None
    #: the ``format`` (``output``, ``results``) parameter values, in the order sent
    format: tuple[str, ...] | str | None
    max_results: int
    max_bytes: int
    #: the protocol's default-graph-uri and named-graph-uri values (the store's graphs only)
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()

    @property
    def dataset(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.default_graphs, self.named_graphs


@dataclass(frozen=True)
class QueryInfo:
    """What :func:`query_info` learns from parsing a text: its form and remarks."""

    kind: str
    notes: tuple[str, ...]


def serialize_answer(result: QueryResult, want: Serialize) -> tuple[str, bytes]:
    """``(content type, body)`` of ``result`` as the request asks: negotiated, checked, capped."""
    from kgraph.formats import RESULT_KIND, negotiate
    from kgraph.sparql.results import check_expressible, serialize_result

    fmt = negotiate(RESULT_KIND[result.kind], want.accept, want.format)
    if result.size > want.max_results:
        raise RequestTooLarge(
            f"the result has {result.size} rows or triples, more than the limit of {want.max_results}",
            "Add a LIMIT, or narrow the query.")
    check_expressible(result, fmt)
    data = serialize_result(result, fmt)
    if len(data) > want.max_bytes:
        raise ResourceLimit(f"the answer is {len(data)} bytes, more than the limit of {want.max_bytes} bytes",
                            "Add a LIMIT, or select fewer or shorter values.")
    return fmt.content_type, data


class RdflibEngine:
    """What a worker answers with: rdflib's engine over an in-memory ``graph`` (shared with
    the forked workers, copy-on-write). Every engine has the same three methods:
    :meth:`preload` (in the parent, before any fork), :meth:`start` (in a fresh worker,
    after its fences) and :meth:`answer` (one request); :class:`kgraph.storequery.StoreEngine`
    answers through the on-disk store instead."""

    def __init__(self, graph: Graph | None):
        self.graph = graph

    def preload(self) -> None:
        # imported (not used) here, before any fork: building rdflib's SPARQL grammar costs
        # about a second of CPU, which every fresh worker -- one after each stopped query --
        # would otherwise pay again while a client waits
        import rdflib.plugins.sparql.algebra  # noqa: F401
        import rdflib.plugins.sparql.evaluate  # noqa: F401
        import rdflib.plugins.sparql.parser  # noqa: F401

        import kgraph.sparql.prepare  # noqa: F401

    def start(self) -> None:
        import rdflib.plugins.sparql

        rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False  # FROM never loads (it is refused anyway)
        _warm_up()

    def answer(self, known: dict, mode: str, text: str, options: Any) -> Any:
        """One request in the worker: parse (cached), then answer as ``mode`` says."""
        from kgraph.sparql.prepare import prepare_query

        if isinstance(options, Serialize) and (options.default_graphs or options.named_graphs):
            raise QueryError("default-graph-uri and named-graph-uri are refused: this server answers over "
                             "one graph built in memory, without the store's named graphs.",
                             "Leave them out; the query runs over the whole graph (all sources together).")
        prepared = known.get(text)
        if prepared is None:
            if len(known) >= WORKER_CACHE:
                known.clear()
            prepared = known[text] = prepare_query(text)
        if mode == "info":
            return QueryInfo(prepared.kind, prepared.notes)
        result = evaluate(self.graph, prepared)
        if mode == "serialize":
            return serialize_answer(result, options)
        return result


def _reply(engine, known, request, memory: int | None) -> tuple[str, Any]:
    try:
        return "ok", engine.answer(known, *request)
    except KgraphError as exc:
        return "error", exc
    except MemoryError:
        return "error", out_of_memory(memory)
    except RecursionError:
        from kgraph.sparql.prepare import too_deep

        return "error", too_deep()
    except Exception as exc:  # noqa: BLE001 - a failing query is reported to the client, not a server bug
        return "error", _failed(exc)


def _worker_main(engine, conn: _Channel, known: dict, memory: int | None, nice: int) -> None:
    """A worker's loop: receive a request, answer it; until the parent closes the pipe.

    ``known`` are queries the parent prepared before the fork (shared, not parsed again).
    """
    fence_worker(keep=set(conn.fds), memory=None, nice=nice)
    engine.start()
    if memory:
        # capped after the engine starts: the limit is for what queries allocate. Opening the
        # store reserves some 650 MB of address space at x100 (RocksDB's threads and their
        # malloc arenas), which left a GROUP BY over the union a few MB short (issue 10)
        _limit_memory(memory)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        status, payload = _reply(engine, known, request, memory)
        try:
            conn.send((status, payload))
        except MemoryError:  # pickling a huge answer: say so in a small message, then go
            conn.send(("error", out_of_memory(memory, " (writing the answer)")))
        if isinstance(payload, ResourceLimit):
            return  # memory may be fragmented or half-freed: the parent forks a fresh worker


def fence_worker(*, keep: set[int], memory: int | None, nice: int = 0) -> None:
    """Everything a worker does once, right after the fork (see the module notes)."""
    _release_inherited_sockets(keep)
    _exit_with_parent(os.getppid())
    if memory:
        _limit_memory(memory)
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    # the SPARQL grammar recurses once per triple pattern of a block: 100 flat patterns pass
    # Python's default limit of 1000 frames. Depth is capped by prepare.MAX_DEPTH instead.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    forbid_network()


def _warm_up() -> None:
    """Parse one small query now: the first parse in a process costs far more than the next."""
    from kgraph.sparql.prepare import prepare_query

    with contextlib.suppress(Exception):
        prepare_query("SELECT ?s WHERE { ?s rdfs:label ?l FILTER(?l = 'x') } LIMIT 1")


def _release_inherited_sockets(keep: set[int]) -> None:
    """Point every inherited socket and pipe (but ``keep``, and standard input, output and
    error when they are pipes) at /dev/null.

    Sockets: the server's, its clients'. Pipes: those of the worker's siblings, which would
    otherwise keep a dead sibling's pipe open, so that the parent waited for its answer until
    the deadline. Closing them would free their numbers for files the worker opens later,
    which the parent's objects (copied by the fork) would then close when collected; a
    /dev/null duplicate keeps the number taken and lets the real socket or pipe go.
    """
    import stat

    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    try:
        fds = [int(name) for name in os.listdir(fd_dir)]
    except OSError:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            if fd in keep or fd == devnull:
                continue
            try:
                mode = os.fstat(fd).st_mode
                if stat.S_ISSOCK(mode) or (stat.S_ISFIFO(mode) and fd > 2):
                    os.dup2(devnull, fd)
            except OSError:
                continue
    finally:
        os.close(devnull)


def _exit_with_parent(parent: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="kgraph-parent-watchdog", daemon=True).start()


def _limit_memory(memory: int) -> None:
    """Cap the address space at what the worker inherited plus ``memory`` bytes."""
    try:
        import resource
    except ImportError:  # not on Windows (where the worker is a thread anyway)
        return
    try:
        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + memory
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or limit < soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# --------------------------------------------------------------------------- the parent's side

class _Channel:
    """One end of a worker's two pipes: pickled messages, each after its length.

    Pipes, not multiprocessing's socket pair: a worker refuses every socket, and importing
    multiprocessing cost a tenth of a ``kgraph query`` look-up (issue 10).
    """

    _HEADER = 8

    def __init__(self, read_fd: int, write_fd: int):
        self.fds = (read_fd, write_fd)
        self.closed = False

    def send(self, message: Any) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        # the length, then the data itself (not a copy of both: an answer may be most of the memory cap)
        for part in (len(data).to_bytes(self._HEADER, "big"), data):
            view = memoryview(part)
            while view:
                view = view[os.write(self.fds[1], view):]

    def recv(self) -> Any:
        size = int.from_bytes(self._read(self._HEADER), "big")
        return pickle.loads(self._read(size))

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = os.read(self.fds[0], min(left, 1 << 20))
            if not chunk:
                raise EOFError("the other end closed the pipe")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def poll(self, timeout: float) -> bool:
        """Whether a message (or the end of the pipe) arrived within ``timeout`` seconds."""
        import select

        poller = select.poll()
        poller.register(self.fds[0], select.POLLIN)
        return bool(poller.poll(timeout * 1000))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in self.fds:
                os.close(fd)


#: signal.SIGKILL, the same number on every POSIX system (importing signal takes 1-2 ms)
_SIGKILL = 9


class _Process:
    """A forked child by its pid, with the part of multiprocessing.Process the pool uses."""

    def __init__(self, pid: int):
        self.pid = pid
        #: the exit status once reaped (minus the signal's number when killed by one)
        self.exitcode: int | None = None

    def _reap(self, flags: int) -> None:
        if self.exitcode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:
                return
            if pid:
                self.exitcode = os.waitstatus_to_exitcode(status)

    def is_alive(self) -> bool:
        self._reap(os.WNOHANG)
        return self.exitcode is None

    def kill(self) -> None:
        if self.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, _SIGKILL)

    def join(self) -> None:
        self._reap(0)


def _fork_worker(engine: Any, known: dict, memory: int | None, nice: int) -> tuple[_Process, _Channel]:
    """A forked worker running :func:`_worker_main`, and this process's end of its pipes."""
    child_reads, parent_writes = os.pipe()
    parent_reads, child_writes = os.pipe()
    # what is buffered now would be written twice, once by the worker (as multiprocessing does)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code
        code = 1
        try:
            os.close(parent_reads)
            os.close(parent_writes)
            if sys.stdin is not None:  # as multiprocessing: the worker reads no terminal
                with contextlib.suppress(OSError, ValueError):
                    sys.stdin.close()
                    sys.stdin = open(os.devnull)
            _worker_main(engine, _Channel(child_reads, child_writes), known, memory, nice)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - a bug in the worker: its traceback, exit 1
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)
    os.close(child_reads)
    os.close(child_writes)
    return _Process(pid), _Channel(parent_reads, parent_writes)


class _Worker:
    """One forked worker process and this process's end of its pipes."""

    def __init__(self, engine: Any = None, known: dict | None = None, *, memory: int | None = WORKER_MEMORY,
                 nice: int = 0):
        """``engine``: an engine (see :class:`RdflibEngine`), or an rdflib graph (or None) for rdflib's."""
        import atexit

        if not hasattr(engine, "answer"):
            engine = RdflibEngine(engine)
        self.memory = memory
        self.process, self.conn = _fork_worker(engine, dict(known or {}), memory, nice)
        self.retired = False
        # kill() may run in two threads at once (a query past its deadline, and close() from
        # the server's shutdown): the pipe must be closed once, or a second close could hit a
        # descriptor number reused meanwhile by another file
        self._kill_lock = threading.Lock()
        # a worker left running when this process exits is stopped then (as multiprocessing's
        # daemon processes); its watchdog would notice within a second anyway
        atexit.register(self._stop)

    def ask(self, request: tuple, timeout: float) -> Any:
        """The answer within ``timeout`` s; past it the worker is killed (the caller replaces it)."""
        try:
            self.conn.send(request)
            if not self.conn.poll(timeout):
                self.kill()
                raise timed_out(timeout)
            status, payload = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise ended(self.memory, self.process.exitcode) from None
        if status == "error":
            if isinstance(payload, ResourceLimit):
                self.kill()
            raise payload
        return payload

    @property
    def alive(self) -> bool:
        return not self.retired and self.process.is_alive()

    def kill(self) -> None:
        """Stop the process (it may be answering: the parent's ask() then sees the pipe end)."""
        import atexit

        atexit.unregister(self._stop)
        self._stop()

    def _stop(self) -> None:
        with self._kill_lock:
            self.retired = True
            self.process.kill()
            self.process.join()
            self.conn.close()


# --------------------------------------------------------------------------- one query

def run_query(graph: Graph, query: PreparedQuery | str, *, timeout: float | None = DEFAULT_TIMEOUT,
              memory: int | None = WORKER_MEMORY) -> QueryResult:
    """Evaluate ``query`` (a text, or a :class:`PreparedQuery`) over ``graph``; stop it and
    raise :class:`QueryTimeout` after ``timeout`` s -- parsing a text included.

    The query runs in a forked worker, killed at the deadline. Where fork is unavailable
    (Windows) it runs in a thread of this process, abandoned (not killed) past the
    deadline; with ``timeout=None`` it runs here, unbounded.
    """
    from kgraph.sparql.prepare import prepare_query

    text = query if isinstance(query, str) else query.text
    known = {} if isinstance(query, str) else {text: query}
    if timeout is None:
        return evaluate(graph, known.get(text) or prepare_query(text))
    _check_timeout(timeout)
    if not _can_fork():
        return _run_in_thread(lambda: RdflibEngine(graph).answer(known, "result", text, None), timeout)
    worker = _Worker(RdflibEngine(graph), known, memory=memory)
    try:
        return worker.ask(("result", text, None), timeout)
    finally:
        worker.kill()


def query_info(text: str, *, timeout: float = DEFAULT_TIMEOUT) -> QueryInfo:
    """Parse and check ``text`` within ``timeout`` s (in a killable worker): its form and notes."""
    _check_timeout(timeout)
    if not _can_fork():
        return _run_in_thread(lambda: RdflibEngine(None).answer({}, "info", text, None), timeout)
    worker = _Worker(RdflibEngine(None))
    try:
        return worker.ask(("info", text, None), timeout)
    finally:
        worker.kill()


def _check_timeout(timeout: float) -> None:
    if not (math.isfinite(timeout) and timeout > 0):
        raise QueryError(f"the time limit must be a positive number of seconds, not {timeout}",
                         "Pass --timeout SECONDS, e.g. --timeout 30.")


def _can_fork() -> bool:
    return hasattr(os, "fork")


def _run_in_thread(work, timeout: float):
    box: dict[str, tuple[str, Any]] = {}

    def target() -> None:
        try:
            box["outcome"] = ("ok", work())
        except KgraphError as exc:
            box["outcome"] = ("error", exc)
        except Exception as exc:  # noqa: BLE001 - reported as the query's failure
            box["outcome"] = ("error", _failed(exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise timed_out(timeout)
    status, payload = box["outcome"]
    if status == "error":
        raise payload
    return payload


# --------------------------------------------------------------------------- the server's pool

@dataclass(frozen=True)
class PoolLimits:
    """How :class:`QueryPool` admits queries (the defaults of ``kgraph serve``)."""

    #: full workers: each runs one query at a time, up to the server's time limit
    size: int = 4
    #: fast workers, for any query that answers within ``fast_timeout``
    reserve: int = 2
    #: short, so that a heavy query in a fast worker holds it for half a second at most
    fast_timeout: float = 0.5
    #: seconds a request waits for a worker before a 503
    max_wait: float = 2.0
    #: requests (running or waiting) one client may have at once
    per_client: int = 16
    #: requests waiting for a worker, all clients together
    max_queue: int = 64
    #: bytes each worker may allocate beyond what it inherited
    memory: int | None = WORKER_MEMORY


def _demote(worker: _Worker) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, worker.process.pid, 19)
        worker.demoted = True


class QueryPool:
    """Worker processes answering queries through an engine, with admission control (async API).

    Not thread-safe: every method but :meth:`close` runs on the server's event loop.
    """

    #: texts stopped at the fast lane's deadline go to the full workers only, for a while
    #: (they may only have been unlucky on a loaded machine)
    HEAVY_MEMORY = 1024
    HEAVY_SECONDS = 60.0
    #: seconds after which a running query's worker drops to the lowest CPU priority (nice
    #: 19 weighs 15 against 1024 for nice 0), so lookups in other workers get the CPU at
    #: once; a demoted worker is replaced after its query (priority cannot be raised again)
    DEMOTE_AFTER = 0.5
    #: texts answered by a worker within ``fast_timeout`` are remembered as light for a while:
    #: the last idle fast worker is kept for them, so a burst of unknown (possibly heavy)
    #: queries cannot take every reserve worker from the look-ups that keep coming
    LIGHT_MEMORY = 4096

    def __init__(self, engine: Any, limits: PoolLimits | None = None):
        """``engine`` answers in the workers (:class:`RdflibEngine`, or
        :class:`kgraph.storequery.StoreEngine` over the store); an rdflib graph means rdflib's."""
        if not hasattr(engine, "answer"):
            engine = RdflibEngine(engine)
        engine.preload()
        self._engine = engine
        self.limits = limits = limits or PoolLimits()
        self._idle: dict[str, list[_Worker]] = {"full": [], "fast": []}
        self._deadlines: dict[_Worker, float] = {}  # busy full workers -> when they are free at the latest
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()  # only for _workers: close() may run on another thread
        self._closed = False
        self._waiting = 0
        self._clients: dict[str, int] = {}
        self._heavy: OrderedDict[Any, float] = OrderedDict()
        self._light: OrderedDict[Any, float] = OrderedDict()
        self._changed = None  # an asyncio.Condition, made on the event loop
        self._threads = None
        for _ in range(limits.size):
            self._idle["full"].append(self._spawn("full"))
        for _ in range(limits.reserve):
            self._idle["fast"].append(self._spawn("fast"))

    @property
    def busy(self) -> int:
        """How many full workers are answering a query now."""
        return self.limits.size - len(self._idle["full"])

    def _spawn(self, lane: str) -> _Worker:
        # full workers run at a lower priority: the fast lane and the server's own loop win the CPU
        worker = _Worker(self._engine, memory=self.limits.memory)
        worker.lane = lane
        with self._lock:
            self._workers.add(worker)
        return worker

    def _busy_error(self, why: str) -> ServerBusy:
        now = time.monotonic()
        soonest = min(self._deadlines.values(), default=now + 1.0)
        retry = max(1, math.ceil(soonest - now))
        return ServerBusy(f"the server is busy: {why}.", "Try again in a moment.",
                          http_hint=f"Try again in {retry} s (see Retry-After): a worker is free by then at the latest.",
                          retry_after=retry)

    async def run(self, mode: str, text: str, options: Any, *, timeout: float, client: str = "") -> Any:
        """Answer one request (see :meth:`RdflibEngine.answer`) within ``timeout`` s, or raise why not."""
        import asyncio

        import anyio

        limits = self.limits
        if self._changed is None:
            self._changed = asyncio.Condition()
            self._threads = anyio.CapacityLimiter(limits.size + limits.reserve + 2)
        if self._clients.get(client, 0) >= limits.per_client:
            raise self._busy_error(f"this client already has {limits.per_client} queries running or waiting")
        if self._waiting >= limits.max_queue:
            raise self._busy_error(f"{limits.max_queue} queries are already waiting for a worker")
        self._clients[client] = self._clients.get(client, 0) + 1
        # what the light and heavy memories know a query by: its text and the dataset asked for
        key = (text, getattr(options, "dataset", None))
        try:
            worker = await self._acquire(key)
            lane_timeout = timeout if worker.lane == "full" else min(timeout, limits.fast_timeout)
            demote = None
            if worker.lane == "full":
                self._deadlines[worker] = time.monotonic() + lane_timeout
                demote = asyncio.get_running_loop().call_later(self.DEMOTE_AFTER, _demote, worker)
            try:
                started = time.monotonic()
                answer = await anyio.to_thread.run_sync(worker.ask, (mode, text, options), lane_timeout,
                                                        limiter=self._threads)
                if time.monotonic() - started < limits.fast_timeout:
                    self._remember(self._light, key, self.LIGHT_MEMORY)
                return answer
            except QueryTimeout:
                if lane_timeout >= timeout:
                    raise
                self._remember(self._heavy, key, self.HEAVY_MEMORY)
                self._light.pop(key, None)
                raise self._busy_error(f"every full worker is taken, and this query needs more than the "
                                       f"{limits.fast_timeout:g} s the reserve worker gives a query") from None
            finally:
                if demote is not None:
                    demote.cancel()
                await self._release(worker)
        finally:
            self._clients[client] -= 1
            if not self._clients[client]:
                del self._clients[client]

    @staticmethod
    def _remember(seen: OrderedDict[Any, float], key: Any, limit: int) -> None:
        seen[key] = time.monotonic()
        seen.move_to_end(key)
        while len(seen) > limit:
            seen.popitem(last=False)

    def _may_take_fast(self, key: Any) -> bool:
        idle = len(self._idle["fast"])
        if not idle or self._known_heavy(key):
            return False
        # the last idle fast worker goes to known look-ups only (unless there is just one)
        return idle > 1 or self.limits.reserve < 2 or key in self._light

    def _known_heavy(self, key: Any) -> bool:
        since = self._heavy.get(key)
        if since is None:
            return False
        if time.monotonic() - since > self.HEAVY_SECONDS:
            del self._heavy[key]
            return False
        return True

    async def _acquire(self, key: Any) -> _Worker:
        import asyncio

        if self._closed:
            raise self._busy_error("the server is shutting down")
        deadline = time.monotonic() + self.limits.max_wait
        async with self._changed:
            self._waiting += 1
            try:
                while True:
                    if self._idle["full"]:
                        return self._idle["full"].pop()
                    if self._may_take_fast(key):
                        return self._idle["fast"].pop()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closed:
                        raise self._busy_error("every query worker is taken")
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), remaining)
            finally:
                self._waiting -= 1

    async def _release(self, worker: _Worker) -> None:
        import anyio

        self._deadlines.pop(worker, None)
        if getattr(worker, "demoted", False) and worker.alive:
            worker.kill()
        if not worker.alive:  # killed at its deadline or for memory, or died
            with self._lock:
                self._workers.discard(worker)
            if self._closed:
                return
            worker = await anyio.to_thread.run_sync(self._spawn, worker.lane, limiter=self._threads)
        if self._closed:
            worker.kill()
            return
        async with self._changed:
            self._idle[worker.lane].append(worker)
            self._changed.notify_all()

    def close(self) -> None:
        """Stop every worker, those answering a query too."""
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.kill()
