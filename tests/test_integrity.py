"""What goes in comes out (issue 15): input kgraph could not write, or would silently drop,
is refused with file and line; a build shrinking the graph needs --allow-shrink; paths
stay inside the corpus; a read-only output folder still answers from memory."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kgraph.cli import app

runner = CliRunner()

C1 = "data/claims/001.yaml"
C2 = "data/claims/002.yaml"
ENTITIES = "data/entities/all.yaml"
SOURCES = "data/sources.yaml"
TTL = "ontology/kgraph.ttl"
BOTH = ("build", "validate")
SECRET = "a-line-that-must-never-be-printed"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def replace(rel: str, old: str, new: str):
    return lambda root: _edit(root / rel, old, new)


def write(rel: str, text: str):
    def run(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return run


def write_bytes(rel: str, data: bytes):
    return lambda root: (root / rel).write_bytes(data)


def remove(rel: str):
    return lambda root: shutil.rmtree(root / rel) if (root / rel).is_dir() else (root / rel).unlink()


def rename(rel: str, to: str):
    return lambda root: (root / rel).rename(root / to)


def truncate(rel: str, fraction: float):
    """Cut the file short about ``fraction`` in, inside a string (as a copy that stopped)."""
    def run(root: Path) -> None:
        data = (root / rel).read_bytes()
        (root / rel).write_bytes(data[: data.index(b'"', int(len(data) * fraction)) + 3])
    return run


def link_outside(rel: str):
    """Replace a corpus file by a symlink to a file outside the corpus folder."""
    def run(root: Path) -> None:
        outside = root / "outside.txt"
        outside.write_text(f"{SECRET}\nKetamine is outside.\n", encoding="utf-8")
        (root / rel).unlink()
        (root / rel).symlink_to(outside)
    return run


def secret_outside(root: Path) -> None:
    (root.parent / "secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")


def _line_of(path: Path, needle: str, nth: int = 1) -> int:
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(needle)


@dataclass(frozen=True)
class Case:
    """One kind of input that must be refused: the edits, the commands that refuse it, the
    messages (``{line}`` is the line of ``at`` = (file, text, nth occurrence) after the
    edits, ``{first}`` the line before it) and the problem code in ``validate --json``
    (None when the input stops the check itself)."""

    edits: tuple
    messages: tuple[str, ...]
    code: str | None
    commands: tuple[str, ...] = BOTH
    at: tuple[str, str, int] | None = None
    absent: tuple[str, ...] = ()


QUOTE = '    quote: "Ketamine blocks the NMDA receptor."\n'
CASES = {
    # characters XML 1.0 cannot hold: refused where they enter, with the code point
    "ESC in a quote": Case(
        (replace(C1, QUOTE, '    quote: "Ketamine blocks\\e the NMDA receptor."\n'),),
        ("data/claims/001.yaml:{line}: field 'quote' holds U+001B (ESCAPE) at position 16",
         "RDF/XML and GraphML cannot hold"), "forbidden-character", at=(C1, "blocks\\e", 1)),
    "NUL in a label": Case(
        (replace(ENTITIES, "label: ketamine", 'label: "keta\\0mine"'),),
        ("data/entities/all.yaml:{line}: field 'label' holds U+0000 (NUL)",), "forbidden-character",
        at=(ENTITIES, "keta\\0mine", 1)),
    "a vertical tab in a description": Case(
        (replace(ENTITIES, "label: ketamine", 'label: ketamine\n  description: "a\\vb"'),),
        ("field 'description' holds U+000B (VERTICAL-TAB)",), "forbidden-character"),
    "a record separator in a note": Case(
        (replace(C2, "    note: The source denies the effect for some patients.",
                 '    note: "The source\\x1e denies it."'),),
        ("holds U+001E (RECORD-SEPARATOR)",), "forbidden-character"),
    "U+FFFE in a synonym": Case(
        (replace(ENTITIES, "label: ketamine", 'label: ketamine\n  synonyms: ["k\\uFFFE"]'),),
        ("data/entities/all.yaml:{line}: field 'synonyms' holds U+FFFE",), "forbidden-character",
        at=(ENTITIES, "k\\uFFFE", 1)),
    "a lone surrogate in a qualifier": Case(
        (replace(C1, "{onset: within hours,", '{onset: "within \\ud800 hours",'),),
        ("field 'qualifiers.onset' holds U+D800 (a lone surrogate", "which is not a character"),
        "forbidden-character"),
    "a raw control byte in the file": Case(
        (replace(C1, "This leads to", "This\x1b leads to"),),
        ("data/claims/001.yaml:{line}: the file holds U+001B (ESCAPE) (raw)",), "unreadable-yaml",
        at=(C1, "This\x1b", 1)),
    # numbers kgraph cannot write
    ".nan as a value": Case(
        (replace(C1, "    value: 8\n", "    value: .nan\n"),),
        ("data/claims/001.yaml:{line}: field 'value' is .nan, not a finite number", 'quote it'), "not-finite",
        at=(C1, "value: .nan", 1)),
    ".inf as a value": Case(
        (replace(C1, "    value: 8\n", "    value: -.inf\n"),), ("field 'value' is -.inf, not a finite number",),
        "not-finite"),
    # structure PyYAML accepts but loses or crashes on
    "a duplicate key names both lines": Case(
        (replace(C1, "    object: nmda-receptor\n", "    object: nmda-receptor\n    object: ptsd\n"),),
        ("data/claims/001.yaml:{line}: duplicate key 'object' (first at line {first})",
         "keep only the last one"), "duplicate-key", at=(C1, "object: ptsd", 1)),
    "a duplicate key deep inside": Case(
        (replace(C1, "{onset: within hours, duration: weeks}", "{onset: within hours, onset: weeks}"),),
        ("duplicate key 'onset'",), "duplicate-key"),
    "YAML nested 5,000 deep": Case(
        (write("data/claims/003.yaml", "source: src-001\nclaims:\n" + "".join(
            "  " * i + "- \n" for i in range(5000))),),
        ("data/claims/003.yaml:", "nested more than 64 levels deep"), "unreadable-yaml", absent=("Recursion",)),
    "a truncated ontology": Case(
        (truncate(TTL, 0.5),), ("ontology/kgraph.ttl:", "is not valid Turtle", "Unexpected end"), None,
        absent=("IndexError",)),
    # files that would be dropped silently
    "a claims file ending in .yml": Case(
        (rename(C2, "data/claims/002.yml"),),
        ("data/claims/002.yml: '.yml' is not the '.yaml' suffix; kgraph would not read it",
         "Rename it to 002.yaml"), "unexpected-file"),
    "a file misplaced at the top of data/": Case(
        (write("data/extra-claims.yaml", "source: src-001\nclaims: []\n"),),
        ("data/extra-claims.yaml: a file kgraph does not know at the top of data/",), "unexpected-file"),
    "a folder inside data/claims": Case(
        (write("data/claims/old/003.yaml", "source: src-001\nclaims: []\n"),),
        ("data/claims/old: a folder inside data/claims",), "unexpected-file"),
    "a text file among the entities": Case(
        (write("data/entities/more.txt", "- id: x\n"),),
        ("data/entities/more.txt: not a .yaml file in data/entities/",), "unexpected-file"),
    "data/claims missing": Case(
        (remove("data/claims"),), ("data/claims: folder missing", "the graph would have no claims"),
        "folder-missing"),
    "data/entities missing": Case(
        (remove("data/entities"),), ("data/entities: folder missing",), "folder-missing"),
    # paths stay inside the corpus, and nothing outside it is ever printed
    "a source file climbing out with ..": Case(
        (secret_outside, replace(SOURCES, "file: beta.txt", "file: ../../secret.txt")),
        ("data/sources.yaml:{line}: source 'src-002': file '../../secret.txt' climbs out of the corpus folder",),
        "source-path-outside-corpus", at=(SOURCES, "- id: src-002", 1), absent=(SECRET,)),
    "an absolute source path": Case(
        (secret_outside, lambda root: _edit(root / SOURCES, "file: beta.txt",
                                            f"file: {root.parent / 'secret.txt'}")),
        ("source 'src-002': file '", "is an absolute path"), "source-path-outside-corpus", absent=(SECRET,)),
    "a corpus file linking outside the corpus": Case(
        (link_outside("corpus/beta.txt"),),
        ("data/sources.yaml:{line}: source 'src-002': beta.txt is a link to a file outside the corpus folder",),
        "source-path-outside-corpus", at=(SOURCES, "- id: src-002", 1), absent=(SECRET,)),
}


@pytest.mark.parametrize("command,case", [(command, name) for name, case in CASES.items()
                                          for command in case.commands])
def test_input_kgraph_cannot_keep_is_refused(mini_root, monkeypatch, command, case):
    spec = CASES[case]
    for edit in spec.edits:
        edit(mini_root)
    line = _line_of(mini_root / spec.at[0], spec.at[1], spec.at[2]) if spec.at else None
    monkeypatch.chdir(mini_root)
    corpus = ["--corpus", str(mini_root / "corpus")]
    result = runner.invoke(app, [command, *corpus])
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    # validate prints "error FILE:LINE: message", build "FILE:LINE: error: message"
    output = re.sub(r"^(\s*)error (\S+)", r"\1\2", result.output, flags=re.MULTILINE).replace(": error: ", ": ")
    for message in spec.messages:
        assert message.format(line=line, first=(line or 1) - 1) in output
    for text in spec.absent:
        assert text not in result.output
    out = mini_root / "output"
    assert not out.exists() or not any(p.name.startswith("kgraph") for p in out.iterdir())
    if spec.code is not None:
        as_json = runner.invoke(app, ["validate", "--json", *corpus])
        assert as_json.exit_code == 3
        assert spec.code in {p["code"] for p in json.loads(as_json.output)["problems"]}


@pytest.mark.parametrize("text", ["line\u2028separator", "para\u2029graph", "next\x85line", "tab\there",
                                  "rtl \u202eevil\u202c", "emoji \U0001F600", "del\x7fc1\x9f"])
def test_characters_every_format_can_write_are_accepted(mini_root, monkeypatch, text):
    escaped = "".join(c if 32 <= ord(c) < 127 else f"\\U{ord(c):08X}" for c in text)
    _edit(mini_root / ENTITIES, "label: ketamine", f'label: "{escaped}"')
    monkeypatch.chdir(mini_root)
    result = runner.invoke(app, ["validate", "--json", "--corpus", str(mini_root / "corpus")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"]


# --------------------------------------------------------------------------- shrinking

def _build(root: Path, monkeypatch, *extra: str):
    monkeypatch.chdir(root)
    return runner.invoke(app, ["build", "--corpus", str(root / "corpus"), *extra])


def _published(root: Path) -> dict[str, bytes]:
    out = root / "output"
    return {p.name: p.read_bytes() for p in out.iterdir() if p.name.startswith(("kgraph", "stats", "build-info"))}


def test_build_info_records_the_counts(mini_root, monkeypatch):
    assert _build(mini_root, monkeypatch).exit_code == 0
    info = json.loads((mini_root / "output" / "build-info.json").read_text())
    assert info["counts"]["claims"] == 11 and info["counts"]["entities"] == 11
    assert info["counts"]["triples"] > 1000


def test_losing_claims_against_the_last_build_needs_allow_shrink(mini_root, monkeypatch):
    assert _build(mini_root, monkeypatch).exit_code == 0
    before = _published(mini_root)
    (mini_root / C2).unlink()  # 4 of the 11 claims (36%)
    refused = _build(mini_root, monkeypatch)
    assert refused.exit_code == 3 and "Traceback" not in refused.output
    assert "the graph would lose 4 of the 11 claims of the last build" in refused.output
    assert "--allow-shrink" in refused.output
    assert _published(mini_root) == before
    allowed = _build(mini_root, monkeypatch, "--allow-shrink")
    assert allowed.exit_code == 0, allowed.output
    assert json.loads((mini_root / "output" / "build-info.json").read_text())["counts"]["claims"] == 7


def test_losing_a_few_claims_is_fine(mini_root, monkeypatch):
    assert _build(mini_root, monkeypatch).exit_code == 0
    text = (mini_root / C1).read_text()
    start = text.index("  - id: c001-007")
    (mini_root / C1).write_text(text[:start])  # 1 of 11 (9%)
    result = _build(mini_root, monkeypatch)
    assert result.exit_code == 0, result.output


def test_an_empty_dataset_is_refused_even_without_a_previous_build(mini_root, monkeypatch):
    for rel in (C1, C2):
        (mini_root / rel).unlink()
    result = _build(mini_root, monkeypatch)
    assert result.exit_code == 3, result.output
    assert "the data has no claims: the graph would be empty" in result.output
    assert not (mini_root / "output" / "kgraph.nt").exists()


# --------------------------------------------------------------------------- read-only output

def test_read_only_output_answers_from_memory(mini_root, monkeypatch):
    from kgraph import publish

    assert _build(mini_root, monkeypatch).exit_code == 0
    _edit(mini_root / ENTITIES, "label: ketamine", "label: Ketamine-renamed")
    out = mini_root / "output"

    def read_only(out_dir, wait=0):
        raise publish._cannot_write(out_dir, PermissionError(13, "Permission denied"))

    os.chmod(out, 0o555)
    try:
        if os.access(out, os.W_OK):  # root ignores the mode bits: refuse the lock as the OS would
            monkeypatch.setattr(publish, "build_lock", read_only)
        before = _published(mini_root)
        result = runner.invoke(app, ["query", "SELECT ?l WHERE { kgr:ketamine rdfs:label ?l }", "--format", "csv"])
        assert result.exit_code == 0, result.output
        assert "Ketamine-renamed" in result.output
        assert "is stale and could not be rewritten" in result.output
        assert _published(mini_root) == before

        from kgraph.graphstore import load_graphs
        from kgraph.project import Project

        warnings: list[str] = []
        graphs = load_graphs(Project.at(mini_root, corpus_dir=mini_root / "corpus"), warn=warnings.append)
        assert graphs.rebuilt and any("stale" in w for w in warnings)  # what serve gets
    finally:
        os.chmod(out, 0o755)


# --------------------------------------------------------------------------- query command edges

@pytest.mark.parametrize("value", ["nan", "inf", "1e10", "-nan"])
def test_query_timeout_must_be_a_sane_number(mini_root, monkeypatch, value):
    monkeypatch.chdir(mini_root)
    result = runner.invoke(app, ["query", "ASK { ?s ?p ?o }", "--timeout", value])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value for '--timeout'" in result.output


def test_query_from_a_closed_stdin(mini_root):
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, "-m", "kgraph", "query", "-"], check=False, cwd=mini_root,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.close(0))
    assert done.returncode == 4, done.stderr
    assert "standard input is closed" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- reading the build back

def _folder(tmp_path: Path, **files: bytes) -> Path:
    folder = tmp_path / "build"
    folder.mkdir()
    for name, data in files.items():
        (folder / name.replace("_", ".")).write_bytes(data)
    return folder


NT = b'<http://x/s> <http://x/p> "a\\u2028b" .\n<http://x/s> <http://x/q> <http://x/o> .\n'
RDF = (b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
       b'xmlns:x="http://x/"><rdf:Description rdf:about="http://x/s"><x:p>a\rb</x:p></rdf:Description></rdf:RDF>\n')


def _expected():
    import pyoxigraph

    return list(pyoxigraph.parse(NT, format=pyoxigraph.RdfFormat.N_TRIPLES))


@pytest.mark.parametrize("files,message", [
    ({"kgraph_nt": b'<http://x/s> <http://x/p> "a\n" .\n'}, "kgraph.nt that does not read back"),
    ({"kgraph_nt": NT.replace(b"a\\u2028b", b"a b")}, "reads back 1 statement(s) that were not built"),
    ({"kgraph_nt": NT.split(b"\n")[0] + b"\n"}, "reads back as 1 triples, not the 2 built"),
    ({"kgraph_nt": NT, "kgraph_rdf": RDF}, "a raw carriage return at line 2"),
    ({"kgraph_nt": NT, "kgraph_graphml": b"<graphml><node></graphml>"}, "kgraph.graphml that does not read back"),
    ({"kgraph_nt": NT, "stats_json": b"{"}, "stats.json that does not read back (malformed JSON"),
])
def test_a_build_that_does_not_read_back_is_refused(tmp_path, files, message):
    from kgraph.errors import OutputError
    from kgraph.reparse import check_build_folder

    with pytest.raises(OutputError, match=re.escape(message)):
        check_build_folder(_folder(tmp_path, **files), triples=2, quads=2, expected=_expected())


def test_a_build_that_reads_back_passes(tmp_path):
    from kgraph.reparse import check_build_folder

    check_build_folder(_folder(tmp_path, kgraph_nt=NT, stats_json=b"{}"), triples=2, quads=2, expected=_expected())


def _jsonld_build(n: int) -> tuple[bytes, list]:
    import pyoxigraph as ox

    from kgraph.store import serialize_jsonld

    triples = [ox.Triple(ox.NamedNode(f"https://w3id.org/kgraph/id/e{i}"), ox.NamedNode(f"http://x/p{i % 3}"),
                         ox.Literal(f"v{i}\n}},\n    {{\n") if i % 2 else ox.NamedNode(f"http://x/o{i}"))
               for i in range(n)]
    return serialize_jsonld(triples), [ox.Quad(t.subject, t.predicate, t.object) for t in triples]


def test_the_jsonld_reads_back_in_batches_as_a_whole(tmp_path, monkeypatch):
    # kgraph's JSON-LD is read a few node objects at a time (Oxigraph holds a whole document
    # in memory): the statements, and the error of a damaged file, are those of the whole
    import pyoxigraph as ox

    from kgraph import reparse
    from kgraph.errors import OutputError
    from kgraph.store import sorted_lines

    data, quads = _jsonld_build(10)
    whole = sorted_lines(ox.parse(data, format=ox.RdfFormat.JSON_LD, base_iri="https://w3id.org/kgraph/"))
    monkeypatch.setattr(reparse, "JSONLD_BATCH", 3)
    assert reparse._read_statements(data, "JSON_LD") == whole and whole.count(b"\n") == 10
    reparse.check_build_folder(_folder(tmp_path, kgraph_jsonld=data), triples=10, quads=10, expected=quads)
    damaged = data.replace(b'"@id": "kgr:e7"', b'"@id": kgr:e7"')
    with pytest.raises(SyntaxError) as batch_error:
        reparse._read_statements(damaged, "JSON_LD")
    with pytest.raises(SyntaxError) as whole_error:
        list(ox.parse(damaged, format=ox.RdfFormat.JSON_LD, base_iri="https://w3id.org/kgraph/"))
    assert str(batch_error.value) == str(whole_error.value)
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="kgraph.jsonld"):
        reparse.check_build_folder(_folder(tmp_path / "d", kgraph_jsonld=damaged), triples=10, quads=10,
                                   expected=quads)


@pytest.mark.parametrize("piece", [40, 1 << 20])
def test_the_jsonld_worker_reads_node_objects_a_piece_at_a_time_in_any_order(tmp_path, monkeypatch, piece):
    # a read-back worker digests kgraph.jsonld a few megabytes of node objects at a time,
    # without holding or sorting its lines (x1000: 9.9 GB), by a digest that does not
    # depend on their order; what differs, or does not parse, is read again here
    import pyoxigraph as ox

    from kgraph import reparse
    from kgraph.errors import OutputError
    from kgraph.store import statement_lines

    monkeypatch.setattr(reparse, "JSONLD_PIECE", piece)
    monkeypatch.setattr(reparse, "PARALLEL_BYTES", 0)
    data, quads = _jsonld_build(10)
    path = tmp_path / "kgraph.jsonld"
    path.write_bytes(data)
    expected = reparse.expected_statements(quads)
    lines = statement_lines(ox.parse(data, format=ox.RdfFormat.JSON_LD, base_iri=reparse.BASE))
    whole = reparse._whole_digest
    monkeypatch.setattr(reparse, "_whole_digest", lambda *a: pytest.fail("read whole"))
    assert reparse._jsonld_digest(str(path)) == reparse.multiset_digest(reversed(lines)) \
        == expected.file_sha256("JSON_LD") == whole(str(path), "JSON_LD")
    # the node objects in another order: the same statements
    head, _, body = data.partition(reparse.JSONLD_GRAPH)
    nodes = body[:-len(reparse.JSONLD_END)].split(reparse.JSONLD_NODES)
    shuffled = head + reparse.JSONLD_GRAPH + reparse.JSONLD_NODES.join(nodes[::-1]) + reparse.JSONLD_END
    here = []
    real = reparse._check_file
    monkeypatch.setattr(reparse, "_check_file", lambda p, *a: here.append(p.name) or real(p, *a))
    for name in "abcd":
        (tmp_path / name).mkdir()
    reparse.check_build_folder(_folder(tmp_path / "a", kgraph_jsonld=shuffled), triples=10, quads=10,
                               expected=quads)
    assert here == []
    # one statement changed, one left out, one node object twice: another digest, and the
    # file is read here, which tells what is wrong
    changed = data.replace(b'"kgr:e7"', b'"kgr:e8"', 1)
    twice = head + reparse.JSONLD_GRAPH + reparse.JSONLD_NODES.join([nodes[0], *nodes]) + reparse.JSONLD_END
    for name, bad in (("b", changed), ("c", twice)):
        (tmp_path / name / "x.jsonld").write_bytes(bad)
        assert reparse._jsonld_digest(str(tmp_path / name / "x.jsonld")) != expected.file_sha256("JSON_LD")
    with pytest.raises(OutputError, match="kgraph.jsonld"):
        reparse.check_build_folder(_folder(tmp_path / "d", kgraph_jsonld=changed), triples=10, quads=10,
                                   expected=quads)
    assert here == ["kgraph.jsonld"]
    monkeypatch.setattr(reparse, "_whole_digest", whole)
    damaged = data.replace(b'"@id": "kgr:e7"', b'"@id": kgr:e7"')
    path.write_bytes(damaged)
    with pytest.raises(SyntaxError) as batch_error:
        reparse._jsonld_digest(str(path))
    with pytest.raises(SyntaxError) as whole_error:
        list(ox.parse(path=str(path), format=ox.RdfFormat.JSON_LD, base_iri=reparse.BASE))
    assert str(batch_error.value) == str(whole_error.value)


def test_the_jsonld_is_written_node_by_node_as_one_json_dumps_of_the_whole(tmp_path):
    # kgraph.store.serialize_jsonld turns each node object into text as its subject's triples
    # end: the bytes are those of json.dumps over the whole document, whatever order the
    # triples come in (a subject that comes back is merged), and empty is a valid document
    import json
    import random

    import pyoxigraph as ox

    from kgraph.store import serialize_jsonld

    s = [ox.NamedNode(f"https://w3id.org/kgraph/id/e{i}") for i in range(4)] + [ox.BlankNode("b")]
    p = [ox.NamedNode("http://x/p"), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")]
    objects = [ox.Literal("a\n    b"), ox.Literal("x", language="en"), ox.NamedNode("http://x/C"), s[1],
               ox.Literal("8.0", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal"))]
    triples = [ox.Triple(a, b, c) for a in s for b in p for c in objects if not (b == p[1] and isinstance(c, ox.Literal))]
    data = serialize_jsonld(sorted(triples, key=str))
    doc = json.loads(data)
    assert data == (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    assert len(doc["@graph"]) == len(s) and all(len(node["http://x/p"]) == len(objects)
                                                for node in doc["@graph"])
    shuffled = triples[:]
    random.Random(7).shuffle(shuffled)
    assert serialize_jsonld(shuffled) == data
    read = {(str(q.subject), str(q.predicate), str(q.object))
            for q in ox.parse(data, format=ox.RdfFormat.JSON_LD, base_iri="https://w3id.org/kgraph/")}
    assert len(read) == len(triples)
    empty = serialize_jsonld([])
    assert json.loads(empty)["@graph"] == [] and empty == (json.dumps(json.loads(empty), indent=2, sort_keys=True)
                                                            + "\n").encode("utf-8")


@pytest.mark.parametrize("damage,message", [
    (None, None),
    (lambda nt: nt.replace(b"a\\u2028b", b"a b"), "reads back 1 statement(s) that were not built"),
    (lambda nt: nt.replace(b"<http://x/o> .", b"<http://x/o>"), "kgraph.nt that does not read back"),
])
def test_large_files_are_read_back_by_workers_with_the_same_verdict(tmp_path, monkeypatch, damage, message):
    # files over PARALLEL_BYTES are parsed by spawned processes, which give digests;
    # a file whose digest differs is read again here, for the message
    from kgraph import reparse
    from kgraph.errors import OutputError

    monkeypatch.setattr(reparse, "PARALLEL_BYTES", 0)
    calls = []
    real = reparse._start_worker
    monkeypatch.setattr(reparse, "_start_worker", lambda path: calls.append(path) or real(path))
    ttl = b"@prefix x: <http://x/> .\nx:s x:p \"a\\u2028b\" ; x:q x:o .\n"
    nt = NT if damage is None else damage(NT)
    folder = _folder(tmp_path, kgraph_nt=nt, kgraph_ttl=ttl)
    if message is None:
        reparse.check_build_folder(folder, triples=2, quads=2, expected=_expected())
    else:
        with pytest.raises(OutputError, match=re.escape(message)):
            reparse.check_build_folder(folder, triples=2, quads=2, expected=_expected())
    assert sorted(p.name for p in calls) == ["kgraph.nt", "kgraph.ttl"]


_json_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "\u2028", '"', "\\", "\ud800", "\x00", "é", "\U0001f600"])
_json_values = st.recursive(
    _json_text | st.integers() | st.none() | st.booleans() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_json_text, inner, max_size=4), max_leaves=20)


@given(value=_json_values, pad=st.sampled_from(["", "    ", "  "]))
@settings(max_examples=300, deadline=None)
def test_indented_json_is_json_dumps_with_an_indent_of_two(value, pad):
    """The JSON-LD file's node objects are written by kgraph.store.indented_json, not by
    json.dumps(indent=2) (its pure-Python encoder): the same text, for any JSON value."""
    from kgraph.store import indented_json

    expected = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n" + pad)
    assert indented_json(value, pad) == expected
    # as kgraph.cyjs is written: indented by one space, two levels deep, each item below on a line
    assert indented_json(value, indent=" ") == json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)
    shallow = indented_json(value, indent=" ", depth=2)
    assert json.loads(shallow) == json.loads(json.dumps(value))
    assert all(not line.startswith("   ") for line in shallow.split("\n"))


_QUADS = ('<http://x/s> <http://x/p> "d" .\n'
          '<http://x/s> <http://x/p> "one" <http://x/g1> .\n<http://x/t> <http://x/p> "one" <http://x/g1> .\n'
          '<http://x/s> <http://x/p> "two" <http://x/g2> .\n')


@pytest.mark.parametrize("order,read_here", [
    ([0, 1, 2, 3], False),  # as the build writes TriG: the default graph, then graph by graph
    ([3, 2, 0, 1], True),  # the same quads in another order: read here, and the same verdict
])
def test_a_trig_file_is_read_back_in_the_order_it_was_written(tmp_path, monkeypatch, order, read_here):
    # the workers hash each file's statements in the order its parser gives them, without
    # holding or sorting them (x1000: gigabytes); TriG's order is the graph-major one
    import pyoxigraph as ox

    from kgraph import reparse
    from kgraph.errors import OutputError

    monkeypatch.setattr(reparse, "PARALLEL_BYTES", 0)
    here = []
    real = reparse._check_file
    monkeypatch.setattr(reparse, "_check_file", lambda path, *a: here.append(path.name) or real(path, *a))
    quads = list(ox.parse(_QUADS.encode(), format=ox.RdfFormat.N_QUADS))
    trig = ox.serialize([quads[i] for i in order], format=ox.RdfFormat.TRIG)
    union = sorted({q.triple for q in quads}, key=str)
    nt = ox.serialize(union, format=ox.RdfFormat.N_TRIPLES)
    folder = _folder(tmp_path, kgraph_trig=trig, kgraph_nt=nt)
    reparse.check_build_folder(folder, triples=len(union), quads=len(quads), expected=quads)
    assert ("kgraph.trig" in here) == read_here and "kgraph.nt" not in here
    # a quad left out is found whichever way the file is read
    (folder / "kgraph.trig").write_bytes(ox.serialize([quads[i] for i in order[:-1]], format=ox.RdfFormat.TRIG))
    with pytest.raises(OutputError, match="reads back as 3 quads, not the 4 built"):
        reparse.check_build_folder(folder, triples=len(union), quads=len(quads), expected=quads)


def test_xml_read_back_by_the_workers_is_checked_for_raw_carriage_returns(tmp_path, monkeypatch):
    import pyoxigraph as ox

    from kgraph import reparse
    from kgraph.errors import OutputError

    monkeypatch.setattr(reparse, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(reparse.linefiles, "FILE_CHUNK", 16)  # the XML read a few bytes at a time
    # the statements are those built (Oxigraph reads the raw CR as one): only the XML check
    # of the fast path finds it
    nt = b'<http://x/s> <http://x/p> "a\\rb" .\n'
    expected = list(ox.parse(nt, format=ox.RdfFormat.N_TRIPLES))
    assert [t.object.value for t in ox.parse(RDF, format=ox.RdfFormat.RDF_XML)] == ["a\rb"]
    folder = _folder(tmp_path, kgraph_nt=nt, kgraph_rdf=RDF)
    with pytest.raises(OutputError, match="a raw carriage return at line 2"):
        reparse.check_build_folder(folder, triples=1, quads=1, expected=expected)
    (folder / "kgraph.rdf").write_bytes(RDF.replace(b"a\rb", b"a b"))
    reparse._check_xml_file(folder / "kgraph.rdf")
    for malformed in (RDF[:70], RDF.replace(b"</x:p>", b"</x:q>")):
        (folder / "kgraph.rdf").write_bytes(malformed)
        with pytest.raises(OutputError, match="malformed XML"):
            reparse._check_xml_file(folder / "kgraph.rdf")


def test_the_build_reads_each_large_file_back_as_soon_as_it_is_written(mini, monkeypatch):
    """The workers that read the RDF files back start while the build still writes the
    files after them (issue 10: at x100 the read-back took 26 s after 55 s of writing), and
    a file they find damaged still stops the build."""
    from kgraph import pipeline, reparse
    from kgraph.errors import OutputError

    monkeypatch.setattr(reparse, "PARALLEL_BYTES", 0)
    steps, started = [], []
    real = reparse._start_worker
    monkeypatch.setattr(reparse, "_start_worker", lambda path: started.append((path.name, steps[-1])) or real(path))
    pipeline.build(mini, step=steps.append)
    names = [name for name, _ in started]
    assert sorted(names) == ["kgraph.jsonld", "kgraph.nt", "kgraph.rdf", "kgraph.trig", "kgraph.ttl"]
    assert started[0][1] == "Writing files"
    # the same workers, on a file damaged after it was written: nothing is published
    before = {p.name: p.read_bytes() for p in mini.out_dir.iterdir() if p.is_file()}

    def damaging(path):
        if path.name == "kgraph.ttl":
            path.write_bytes(path.read_bytes().replace(b" .\n", b" ;\n", 1))
        started.append((path.name, steps[-1]))
        return real(path)

    monkeypatch.setattr(reparse, "_start_worker", damaging)
    with pytest.raises(OutputError, match="kgraph.ttl that does not read back"):
        pipeline.build(mini, step=steps.append, incremental=False)
    assert {p.name: p.read_bytes() for p in mini.out_dir.iterdir() if p.is_file()} == before


def test_the_build_leaves_no_graph_for_the_collector_it_pauses(mini):
    """The build pauses the cycle collector (kgraph.pipeline.cycle_collector_paused), and a
    networkx graph is a reference cycle (its cached views refer to it): each graph the
    drawing makes for itself (the layout's, the view's, the GraphML's) is emptied once
    used, or it would stay until the build ends (x1000: gigabytes in the build's process)."""
    import gc

    import networkx as nx

    from kgraph import pipeline

    there = [o for o in gc.get_objects() if isinstance(o, nx.Graph)]  # kept: their ids stay theirs
    known = {id(o) for o in there}
    gc.collect()
    gc.disable()
    try:
        result = pipeline.build(mini, incremental=False, keep_graph=False)
        left = [(type(o).__name__, o.number_of_nodes()) for o in gc.get_objects()
                if isinstance(o, nx.Graph) and id(o) not in known and o is not result.network and len(o)]
    finally:
        gc.enable()
    assert left == []


def test_the_page_and_network_files_are_drawn_in_the_build_s_process_while_the_store_loads(mini, monkeypatch):
    """The layout, the HTML view and the network files are drawn in the build's own process
    (a forked child held a copy of the build's pages: 3.7 GB at x1000) when the first of them
    is written, once the store's loader has started; a drawing that fails stops the build
    with its own traceback, and nothing is published."""
    from kgraph import pipeline

    seen, loaders = [], []
    layout = pipeline.force_layout

    class Loader(pipeline._Background):
        def __init__(self, *args, **kwargs):
            loaders.append(1)
            super().__init__(*args, **kwargs)

    def watched(*args, **kwargs):
        seen.append((os.getpid(), len(loaders)))
        return layout(*args, **kwargs)

    monkeypatch.setattr(pipeline, "force_layout", watched)
    monkeypatch.setattr(pipeline, "_Background", Loader)
    steps: list[str] = []
    pipeline.build(mini, incremental=False, step=steps.append)
    assert seen == [(os.getpid(), 1)]  # here, once, after the store's loader started
    drawing = steps.index("Drawing the HTML view and the network files")  # a step the user is shown
    assert steps[drawing - 1] == steps[drawing + 1] == "Writing files"
    monkeypatch.undo()
    before = {p.name: p.read_bytes() for p in mini.out_dir.iterdir() if p.is_file()}

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("a layout bug")

    monkeypatch.setattr(pipeline, "force_layout", broken)
    with pytest.raises(ZeroDivisionError, match="a layout bug"):
        pipeline.build(mini, incremental=False)
    assert {p.name: p.read_bytes() for p in mini.out_dir.iterdir() if p.is_file()} == before
