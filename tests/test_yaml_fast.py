"""The libyaml (C) loader gives the data, line numbers and problems of the pure-Python one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO

from kgraph import load as L
from kgraph.errors import DataError

pytestmark = pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML without libyaml")


def lines(node):
    """The data with every mapping's and sequence's line numbers, for comparison."""
    if isinstance(node, dict):
        return ("map", getattr(node, "line", None), dict(getattr(node, "key_lines", {})),
                {k: lines(v) for k, v in node.items()})
    if isinstance(node, list):
        return ("seq", getattr(node, "line", None), [lines(v) for v in node])
    return (type(node).__name__, node)


def test_the_fast_path_is_libyaml(tmp_path, monkeypatch):
    path = tmp_path / "ok.yaml"
    path.write_text("- id: a\n  label: b\n", encoding="utf-8")
    used = []
    real = L._FastLineLoader.get_single_node
    monkeypatch.setattr(L._FastLineLoader, "get_single_node", lambda self: used.append(1) or real(self))
    doc, problems = L.read_yaml_checked(path, "ok.yaml")
    assert used and problems == [] and doc[0].line == 1 and doc[0].key_lines == {"id": 1, "label": 2}


@pytest.mark.parametrize("path", sorted((REPO / "data").rglob("*.yaml")), ids=lambda p: p.name)
def test_same_data_and_lines_as_pure_python(path: Path):
    fast, fast_problems = L.read_yaml_checked(path, path.name)
    slow, slow_problems = L.read_yaml_checked(path, path.name, fast=False)
    assert lines(fast) == lines(slow) and fast_problems == slow_problems
    assert fast  # the file has records


@pytest.mark.parametrize("text", [
    "- id: a\n  label: [unclosed\n- id: b\n",
    "- id: a\n   label: bad indent\n",
    "key: \"unterminated\n",
    "- id: a\n  published: 2021-02-30\n",
    "- id: a\n  id: b\n",  # a duplicate key: a problem, not an exception
    "- id: a\n  label: \"bell \\a\"\n",  # a control character by escape
    "- id: a\n  label: bell \x07\n",  # raw
    "- x: .inf\n",
    "[" * 200 + "]" * 200 + "\n",  # deeper than MAX_DEPTH: refused before libyaml composes it
])
def test_same_problems_and_errors_with_lines(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")

    def outcome(fast):
        try:
            doc, problems = L.read_yaml_checked(path, "bad.yaml", fast=fast)
        except DataError as exc:
            return ("error", exc.message, exc.line)
        return ("ok", lines(doc), [(p.message, getattr(p.where, "line", None)) for p in problems])

    assert outcome(True) == outcome(False)


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize("text, problem", [
    ("- id: a\n  id: b\n", ("duplicate key 'id' (first at line 1); YAML would keep only the last one", 2)),
    ("- id: a\n  label: \"bell \\a\"\n",
     ("field 'label' holds U+0007 (BEL) at position 6, which RDF/XML and GraphML cannot hold", 2)),
    ("- x: .inf\n", ("field 'x' is .inf, not a finite number", 1)),
])
def test_each_reader_reports_the_problem(tmp_path, text, problem, fast):
    # not only that the two readers agree: both would agree on finding nothing
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = L.read_yaml_checked(path, "bad.yaml", fast=fast)
    assert [(p.message, p.where.line) for p in problems] == [problem]
