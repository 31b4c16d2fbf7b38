"""A real uvicorn server (kgraph's connection limits included) in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

from kgraph.serve import RefusalLogFilter, ServeOptions, create_app, listen, server_config

PATIENT = 120.0


@contextmanager
def serving(graph, network, options: ServeOptions, store=None):
    """Yields (host, port, app) of ``create_app(graph, network, options, store=store)`` served on loopback."""
    import logging

    import uvicorn

    app = create_app(graph, network, options, store=store)
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(server_config(app, options))
    limiter = RefusalLogFilter()
    logging.getLogger("uvicorn.error").addFilter(limiter)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + PATIENT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        yield "127.0.0.1", sock.getsockname()[1], app
    finally:
        server.should_exit = True
        thread.join(PATIENT)
        sock.close()
        logging.getLogger("uvicorn.error").removeFilter(limiter)


def raw_exchange(port: int, data: bytes, timeout: float = 30.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


def run_async(coroutine):
    """``asyncio.run(coroutine)`` in a thread of its own: the main thread may already run an
    event loop (Playwright's sync API keeps one for the session's browser tests)."""
    import asyncio
    import threading

    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
