"""Work done by a child of this process, made by ``os.fork``, while the process goes on.

The child sees the process's objects as they are (the graph's parts, the network), without
copying them out: the fork copies only the pages the child writes to. Nothing comes back
but JSON, through a pipe, from a child this process made -- never a pickle, never a file
a user could write. The build forks only while it has no other thread.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable


def _name_process(what: str) -> None:
    """Name the child after its work where ``ps`` and ``top`` show it (Linux: 15 bytes)."""
    try:
        with open("/proc/self/comm", "w", encoding="ascii", errors="replace") as fh:
            fh.write(("kg " + what)[:15])
    except OSError:
        pass


class Forked:
    """``work()`` run in a forked child; :meth:`result` is what it returned (lists for tuples).

    ``what`` names the work in the error a failure raises. Like a :class:`subprocess.Popen`
    it has :meth:`poll`, :meth:`kill` and :meth:`wait`, so that
    :meth:`kgraph.linefiles.Scratch.adopt` stops it when a build ends early.
    """

    def __init__(self, work: Callable[[], object], what: str = "a worker") -> None:
        self.what = what
        self.returncode: int | None = None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            status = 0
            try:
                os.close(read)
                _name_process(what)
                out = json.dumps(["ok", work()])
            except BaseException:
                status, out = 1, json.dumps(["error", traceback.format_exc()])
            try:
                with os.fdopen(write, "w", encoding="utf-8") as fh:
                    fh.write(out)
            finally:
                os._exit(status)
        os.close(write)
        self.pid, self._read = pid, read

    def result(self):
        """What ``work()`` returned; raises RuntimeError, with the child's traceback, when it failed."""
        with os.fdopen(self._read, "r", encoding="utf-8") as fh:
            self._read = None
            out = fh.read()
        self.wait()
        answer = json.loads(out) if out else ["error", f"it ended with status {self.returncode} and no answer"]
        if answer[0] != "ok":
            raise RuntimeError(f"{self.what} failed:\n{answer[1]}")
        return answer[1]

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        import signal

        if self._read is not None:
            os.close(self._read)
            self._read = None
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()


def can_fork() -> bool:
    return hasattr(os, "fork")
