"""The libyaml (C) loader gives the data, line numbers and errors of the pure-Python one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO

from kgraph import load as L
from kgraph.errors import DataError

pytestmark = pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML without libyaml")
PY_LOADER = L.line_loader(yaml.SafeLoader)


def lines(node):
    """The data with every mapping's and sequence's line numbers, for comparison."""
    if isinstance(node, dict):
        return ("map", getattr(node, "line", None), dict(getattr(node, "key_lines", {})),
                {k: lines(v) for k, v in node.items()})
    if isinstance(node, list):
        return ("seq", getattr(node, "line", None), [lines(v) for v in node])
    return (type(node).__name__, node)


def test_fast_loader_is_libyaml():
    assert issubclass(L._LineLoader, yaml.CSafeLoader)


@pytest.mark.parametrize("path", sorted((REPO / "data").rglob("*.yaml")), ids=lambda p: p.name)
def test_same_data_and_lines_as_pure_python(path: Path):
    text = path.read_text(encoding="utf-8")
    fast = yaml.load(text, Loader=L._LineLoader)
    slow = yaml.load(text, Loader=PY_LOADER)
    assert lines(fast) == lines(slow)
    assert fast  # the file has records


@pytest.mark.parametrize("text", [
    "- id: a\n  label: [unclosed\n- id: b\n",
    "- id: a\n   label: bad indent\n",
    "key: \"unterminated\n",
    "- id: a\n  published: 2021-02-30\n",
])
def test_same_errors_with_lines(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        expected = yaml.load(text, Loader=PY_LOADER)
    except yaml.MarkedYAMLError as exc:
        with pytest.raises(DataError) as raised:
            L.read_yaml(path, "bad.yaml")
        assert raised.value.line == (exc.problem_mark or exc.context_mark).line + 1
    else:
        assert lines(L.read_yaml(path, "bad.yaml")) == lines(expected)
