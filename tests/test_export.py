"""export.write_files: all the build's files or none, even when a rename fails half-way."""

from __future__ import annotations

import os

import pytest

from kgraph import export
from kgraph.errors import OutputError

OLD = {"a.ttl": b"old a\n", "b.nt": b"old b\n", "c.jsonld": b"old c\n"}
NEW = {"a.ttl": b"new a\n", "b.nt": b"new b\n", "c.jsonld": b"new c\n", "d.trig": b"new d\n"}


def _contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_all_files_are_written(tmp_path):
    written = export.write_files(tmp_path, NEW)
    assert [p.name for p in written] == list(NEW)
    assert _contents(tmp_path) == NEW  # and no temporary folder left behind


@pytest.mark.parametrize("fail_at", [1, 3, 4])
def test_a_failed_rename_leaves_the_old_files(tmp_path, monkeypatch, fail_at):
    for name, data in OLD.items():
        (tmp_path / name).write_bytes(data)
    real = os.replace
    placed = []

    def replace(src, dst):
        if os.path.dirname(os.fspath(dst)) == os.fspath(tmp_path):  # a new file going into place
            placed.append(dst)
            if len(placed) == fail_at:
                raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(export.os, "replace", replace)
    with pytest.raises(OutputError, match="No space left on device"):
        export.write_files(tmp_path, NEW)
    monkeypatch.setattr(export.os, "replace", real)
    assert _contents(tmp_path) == OLD
