"""Run a prepared query over a graph: read-only, offline, within a time limit.

rdflib evaluates in pure Python, so a thread running a query cannot be stopped. A query
therefore runs in a forked worker process, killed when its time is up; the worker also
refuses any socket, in case a query slipped past the checks of :mod:`~kgraph.sparql.prepare`.

* :func:`run_query` (``kgraph query``) forks one worker for one query (about 10 ms);
* :class:`QueryPool` (``kgraph serve``) forks a few workers when the server starts, each
  answering queries one after another; a worker past its time limit is killed -- which
  stops the work, not only the response -- and replaced by a fresh fork.

Both speak one worker protocol (:class:`_Worker`): the parent sends the query text, the
worker answers ``("ok", QueryResult)`` or ``("error", text)``. The graph is shared with
the forked worker (copy-on-write); only the answer travels back, pickled.
"""

from __future__ import annotations

import contextlib
import contextvars
import queue
import re
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kgraph.errors import QueryError, QueryTimeout, ServerBusy
from kgraph.sparql.results import QueryResult

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from rdflib import Graph

    from kgraph.sparql.prepare import PreparedQuery

#: Seconds a query may run before it is stopped (``kgraph query --timeout``).
DEFAULT_TIMEOUT = 30.0
#: Prepared queries a pool worker keeps (it parses each text it is sent once).
WORKER_CACHE = 256


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
            rows.sort(key=lambda row: tuple(term.n3() if term is not None else "" for term in row))
        return QueryResult(kind, variables=variables, rows=rows)
    from kgraph.build import bind_prefixes

    bind_prefixes(result_graph)
    return QueryResult(kind, graph=result_graph)


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
    import rdflib.plugins.sparql

    rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False

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
                                  f"queries after {timeout:g} s.")


def _failed(outcome: tuple[str, Any]) -> QueryResult:
    """The result of a worker's answer, or the QueryError it reports."""
    status, payload = outcome
    if status == "error":
        raise QueryError(f"the query failed while running: {payload}",
                         "Check the query; `kgraph queries` lists working examples.",
                         http_hint="Check the query; the named questions at /queries.json are working examples.")
    return payload


def _ended(detail: str = "") -> QueryError:
    return QueryError(f"the query process ended without an answer{detail}.",
                      "It may have run out of memory; narrow the query or add a LIMIT.")


# --------------------------------------------------------------------------- the worker protocol

def _answer(graph: Graph, prepared: PreparedQuery) -> tuple[str, Any]:
    try:
        return "ok", evaluate(graph, prepared)
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it
        return "error", f"{type(exc).__name__}: {exc}"


def _worker_main(graph: Graph, conn: Connection, known: dict[str, PreparedQuery]) -> None:
    """A worker's loop: receive a query text, answer it; until the parent closes the pipe.

    ``known`` are queries the parent prepared before the fork (shared, not parsed again).
    """
    from kgraph.sparql.prepare import prepare_query

    forbid_network()
    while True:
        try:
            text = conn.recv()
        except (EOFError, OSError):
            return
        if text not in known:
            if len(known) >= WORKER_CACHE:
                known.clear()
            try:
                known[text] = prepare_query(text)
            except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
                continue
        conn.send(_answer(graph, known[text]))


class _Worker:
    """One forked worker process and its end of the pipe."""

    def __init__(self, graph: Graph, known: dict[str, PreparedQuery] | None = None):
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(graph, child, dict(known or {})), daemon=True)
        self.process.start()
        child.close()

    def ask(self, prepared: PreparedQuery, timeout: float) -> QueryResult:
        """The answer within ``timeout`` s; past it the worker is killed (the caller replaces it)."""
        try:
            self.conn.send(prepared.text)
            if not self.conn.poll(timeout):
                self.kill()
                raise timed_out(timeout)
            outcome = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise _ended(f" (exit code {self.process.exitcode})") from None
        return _failed(outcome)

    def kill(self) -> None:
        """Stop the process (it may be answering: the parent's ask() then sees the pipe end)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


# --------------------------------------------------------------------------- one query

def run_query(graph: Graph, prepared: PreparedQuery, *, timeout: float | None = DEFAULT_TIMEOUT) -> QueryResult:
    """Evaluate ``prepared`` over ``graph``; stop it and raise :class:`QueryTimeout` after ``timeout`` s.

    The query runs in a forked worker, killed at the deadline. Where fork is unavailable
    (Windows) it runs in a thread of this process, abandoned (not killed) past the
    deadline; with ``timeout=None`` it runs here, unbounded.
    """
    if timeout is None:
        return evaluate(graph, prepared)
    if not _can_fork():
        return _run_in_thread(graph, prepared, timeout)
    worker = _Worker(graph, {prepared.text: prepared})
    try:
        return worker.ask(prepared, timeout)
    finally:
        worker.kill()


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _run_in_thread(graph: Graph, prepared: PreparedQuery, timeout: float) -> QueryResult:
    box: dict[str, tuple[str, Any]] = {}
    thread = threading.Thread(target=lambda: box.setdefault("outcome", _answer(graph, prepared)), daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise timed_out(timeout)
    return _failed(box["outcome"])


# --------------------------------------------------------------------------- the server's pool

class QueryPool:
    """``size`` forked workers answering queries over ``graph``, one query each at a time."""

    def __init__(self, graph: Graph, size: int):
        self._graph = graph
        self.size = size
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: set[_Worker] = set()  # idle or answering: close() stops them all
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._idle.put(self._spawn())

    @property
    def busy(self) -> int:
        """How many workers are answering a query now."""
        return self.size - self._idle.qsize()

    def _spawn(self) -> _Worker:
        worker = _Worker(self._graph)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)

    def run(self, prepared: PreparedQuery, timeout: float, wait: float | None = None) -> QueryResult:
        """Answer ``prepared`` within ``timeout`` s, waiting at most ``wait`` (default ``timeout``) for a worker."""
        try:
            worker = self._idle.get(timeout=timeout if wait is None else wait)
        except queue.Empty:
            raise ServerBusy("the server is busy: every query worker is taken.", "Try again in a moment.",
                             http_hint="Try again in a few seconds (see Retry-After).") from None
        try:
            return worker.ask(prepared, timeout)
        finally:
            if self._closed or not worker.process.is_alive():  # killed at its deadline, died, or closing
                self._retire(worker)
                if not self._closed:
                    self._idle.put(self._spawn())
            else:
                self._idle.put(worker)

    def close(self) -> None:
        """Stop every worker, those answering a query too."""
        self._closed = True
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            self._retire(worker)
