"""The build's lines in files (kgraph.linefiles, issue 10): the block file merges into the
same lines as the blocks in memory, files are read in whole lines, the writers that stream
the RDF files escape what the whole-file serialisers escape, and the scratch folder goes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kgraph import linefiles as L
from kgraph import store as S

_EX = "http://example.org/"


def test_a_block_is_read_back_a_little_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "READ_CHUNK", 7)  # lines cut between reads
    blocks = L.BlockFile(tmp_path / "blocks")
    first = b"".join(b"<%s%d> <p> <o> .\n" % (_EX.encode(), i) for i in range(30))
    blocks.add(b"", first)
    blocks.add(b"<g>", b"<s> <p> \"x\" <g> .\n")
    assert list(blocks.lines(0)) == first[:-1].split(b"\n")
    assert list(blocks.lines(1)) == [b"<s> <p> \"x\" <g> ."]
    blocks.close()


_lines = st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30)


@given(_lines, st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=30))
def test_a_file_of_lines_is_read_in_chunks_of_whole_lines(tmp_path_factory, lines, size, read):
    # the store is loaded from the files of lines, BULK_CHUNK bytes at a time; the file is
    # read FILE_CHUNK bytes at a time (here a few, so that lines are cut between reads)
    text = b"".join(line + b"\n" for line in lines)
    path = tmp_path_factory.mktemp("lines") / "lines.nq"
    path.write_bytes(text)
    kept, L.FILE_CHUNK = L.FILE_CHUNK, read
    try:
        chunks = list(L.chunks(path, size))
    finally:
        L.FILE_CHUNK = kept
    assert b"".join(chunks) == text
    for chunk in chunks:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= size or chunk.count(b"\n") == 1
    assert L.count_lines(path) == len(lines) == L.count_lines(text)
    assert L.sha256(path) == L.sha256(text)


@given(st.text(alphabet=st.sampled_from(["a", "é", "\u2028", "\u2029", "\u0085", "\n", "\x0b", "€", "𝄞"]),
               max_size=40), st.lists(st.integers(min_value=0, max_value=160), max_size=6))
def test_the_line_safe_writer_escapes_characters_cut_between_writes(text, cuts):
    from kgraph.formats import line_safe

    data = text.encode("utf-8")
    out = io.BytesIO()
    writer = S.LineSafeWriter(out)
    start = 0
    for cut in sorted(c for c in cuts if c <= len(data)) + [len(data)]:
        writer.write(data[start:cut])
        start = cut
    writer.close()
    assert out.getvalue() == line_safe(text).encode("utf-8")
    assert writer.changed == (line_safe(text) != text)


def test_a_file_cut_inside_a_character_is_an_error():
    writer = S.LineSafeWriter(io.BytesIO())
    writer.write("é".encode()[:1])
    with pytest.raises(UnicodeDecodeError):
        writer.close()


def _triples(*rows):
    return [ox.Triple(ox.NamedNode(_EX + s), ox.NamedNode(_EX + p),
                      ox.NamedNode(_EX + o[1:]) if o.startswith("@") else ox.Literal(o)) for s, p, o in rows]


@pytest.mark.parametrize("rows", [
    [],
    [("s", "p", "x"), ("s", "p", "y"), ("t", "p", "@s")],
    # a subject that comes back after another one: its node object is read back and joined
    [("s", "p", "x"), ("t", "p", "@s"), ("s", "q", "z"), ("s", "p", "w")],
])
def test_jsonld_written_through_a_scratch_file_is_the_same_document(tmp_path, rows):
    triples = _triples(*rows)
    out = io.BytesIO()
    with open(tmp_path / "nodes", "w+b") as texts:
        S.write_jsonld(triples, out, None, texts)
    assert out.getvalue() == S.serialize_jsonld(triples)
    document = json.loads(out.getvalue())
    nodes = {node["@id"]: node for node in document["@graph"]}
    assert len(nodes) == len(document["@graph"]) == len({t.subject for t in triples})
    if len(rows) == 4:
        s = nodes[_EX + "s"]
        assert sorted(s[_EX + "p"]) == ["w", "x"] and s[_EX + "q"] == "z"


def test_jsonld_of_a_subject_that_comes_back_equals_that_of_sorted_triples():
    triples = _triples(("s", "p", "x"), ("t", "p", "@s"), ("s", "q", "z"), ("s", "p", "w"))
    ordered = sorted(triples, key=S.triple_key)
    assert S.serialize_jsonld(triples) == S.serialize_jsonld(ordered)


# --------------------------------------------------------------------------- the scratch folder

def test_a_scratch_folder_is_removed_on_close(tmp_path):
    with L.Scratch(tmp_path / "out") as scratch:
        scratch.file("x").write_bytes(b"lines")
        assert scratch.path.parent == tmp_path / "out"
        assert scratch.path.name.startswith(f"{L.SCRATCH_PREFIX}{os.getpid()}-")
    assert list((tmp_path / "out").iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_scratch_folder_removes_those_of_builds_no_longer_running(tmp_path):
    stale = tmp_path / f"{L.SCRATCH_PREFIX}{_dead_pid()}-abc-1"
    stale.mkdir()
    (stale / "quads.nq").write_bytes(b"old")
    running = tmp_path / f"{L.SCRATCH_PREFIX}{os.getppid()}-abc-2"  # a live process's
    running.mkdir()
    other = tmp_path / "kept"
    other.mkdir()
    with L.Scratch(tmp_path):
        assert not stale.exists()
        assert running.exists() and other.exists()


def test_a_build_leaves_no_scratch_folder_and_removes_a_stale_one(mini_root, tmp_path):
    from kgraph.pipeline import build
    from kgraph.project import Project

    out = tmp_path / "out"
    out.mkdir()
    stale = out / f"{L.SCRATCH_PREFIX}{_dead_pid()}-abc-1"
    stale.mkdir()
    (stale / "blocks").write_bytes(b"left by a killed build")
    project = Project.at(mini_root, corpus_dir=mini_root / "corpus")
    build(project, out_dir=out, keep_graph=False)
    assert (out / "kgraph.nt").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(L.SCRATCH_PREFIX)] == []


def test_a_failed_first_build_leaves_no_folder(mini_root, tmp_path):
    from kgraph.errors import ValidationFailed
    from kgraph.pipeline import build
    from kgraph.project import Project

    claims = mini_root / "data" / "claims" / "001.yaml"
    claims.write_text(claims.read_text(encoding="utf-8").replace("quote:", "quoted:", 1), encoding="utf-8")
    project = Project.at(mini_root, corpus_dir=mini_root / "corpus")
    with pytest.raises(ValidationFailed):
        build(project, out_dir=tmp_path / "a" / "b" / "out")
    assert not (tmp_path / "a").exists()


def test_the_lines_of_a_build_are_its_files(mini_built):
    # the N-Triples file the build streamed from its scratch file of lines is the union's
    # sorted lines, escaped: what the in-memory serialiser writes from the same triples
    project, _ = mini_built
    nt = Path(project.out_dir) / "kgraph.nt"
    parsed = list(ox.parse(path=str(nt), format=ox.RdfFormat.N_TRIPLES))
    assert S.serialize_triples(parsed, "nt") == nt.read_bytes()
