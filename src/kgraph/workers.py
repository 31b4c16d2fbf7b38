"""A pool of forked query workers for the server.

`kgraph query` forks one process per query (:func:`kgraph.query.run_query`), which is
cheap once. A server answering many queries pays that fork each time; here a few
workers are forked when the server starts, each holding the graph (shared copy-on-write)
and answering queries one after another. A worker whose query passes the time limit is
killed -- which stops the work, not only the response -- and replaced by a fresh fork.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgraph.errors import QueryError, ServerBusy

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from rdflib import Graph

    from kgraph.query import PreparedQuery, QueryResult


@dataclass
class _Worker:
    process: "BaseProcess"
    conn: "Connection"


def _serve_queries(graph: "Graph", conn: "Connection") -> None:
    """The worker's loop: receive query texts, answer each with ("ok", result) or ("error", text)."""
    from kgraph.query import evaluate, forbid_network, prepare_query

    forbid_network()
    prepared: dict[str, Any] = {}
    while True:
        try:
            text = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if text not in prepared:
                if len(prepared) > 256:
                    prepared.clear()
                prepared[text] = prepare_query(text)
            outcome: tuple[str, Any] = ("ok", evaluate(graph, prepared[text]))
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(outcome)


class QueryPool:
    """``size`` forked workers answering queries over ``graph``, one query each at a time."""

    def __init__(self, graph: "Graph", size: int):
        import multiprocessing

        self._graph = graph
        self._context = multiprocessing.get_context("fork")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[int] = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve_queries, args=(self._graph, child), daemon=True)
        process.start()
        child.close()
        with self._lock:
            self._all.add(process.pid)
        return _Worker(process, parent)

    def _retire(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
        with self._lock:
            self._all.discard(worker.process.pid)

    def run(self, prepared: "PreparedQuery", timeout: float, wait: float | None = None) -> "QueryResult":
        """Answer ``prepared`` within ``timeout`` seconds, waiting at most ``wait`` for a free worker."""
        from kgraph.query import timed_out

        try:
            worker = self._idle.get(timeout=timeout if wait is None else wait)
        except queue.Empty:
            raise ServerBusy("the server is busy: every query worker is taken.",
                             "Try again in a moment.") from None
        replacement = worker
        try:
            worker.conn.send(prepared.text)
            if not worker.conn.poll(timeout):
                self._retire(worker)
                replacement = self._spawn()
                raise timed_out(timeout)
            status, payload = worker.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._retire(worker)
            replacement = self._spawn()
            raise QueryError("the query worker ended without an answer.",
                             "It may have run out of memory; narrow the query or add a LIMIT.") from None
        finally:
            if not self._closed:
                self._idle.put(replacement)
        if status == "error":
            raise QueryError(f"the query failed while running: {payload}",
                             "Check the query; the named questions are working examples.")
        return payload

    def close(self) -> None:
        """Stop every worker."""
        self._closed = True
        while True:
            try:
                self._retire(self._idle.get_nowait())
            except queue.Empty:
                break

    @property
    def pids(self) -> set[int]:
        with self._lock:
            return set(self._all)
