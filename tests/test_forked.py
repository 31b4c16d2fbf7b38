"""kgraph.forked: work in a forked child, its answer back as JSON."""

from __future__ import annotations

import os
import sys

import pytest

from kgraph.forked import Forked, can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="no os.fork here")


def test_a_child_answers_in_json_and_names_itself_after_its_work():
    def work():
        name = ""
        if sys.platform.startswith("linux"):
            with open("/proc/self/comm", encoding="ascii") as fh:
                name = fh.read().strip()
        return {"pid": os.getpid(), "name": name, "pair": (1, "two")}

    answer = Forked(work, "a SHACL worker").result()
    assert answer["pid"] != os.getpid()
    assert answer["pair"] == [1, "two"]  # JSON: a tuple comes back a list
    if sys.platform.startswith("linux"):
        assert answer["name"] == "kg a SHACL work"  # what ps shows: 15 bytes


def test_a_child_that_fails_raises_with_its_traceback():
    def work():
        raise ZeroDivisionError("in the child")

    with pytest.raises(RuntimeError, match="(?s)a worker failed:.*ZeroDivisionError: in the child"):
        Forked(work).result()
