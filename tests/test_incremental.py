"""The incremental build (kgraph.cache): what did not change is not parsed or validated
again, and the result is the same, byte for byte, as a build from nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Graph

import kgraph.load as load_module
import kgraph.shapes as shapes_module
from kgraph.build import claim_iri
from kgraph.cache import CACHE_DIR, BuildCache
from kgraph.load import _from_json, _to_json, read_yaml_cached, read_yaml_checked
from kgraph.pipeline import build, check
from kgraph.project import Project

#: a shape of our own that warns about long quotes: SHACL problems for the cache to keep
WARN_LONG_QUOTES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix kg: <https://w3id.org/kgraph/ontology#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
kg:LongQuoteShape a sh:NodeShape ; sh:targetClass kg:Claim ;
    sh:property [ sh:path kg:quote ; sh:maxLength 40 ; sh:severity sh:Warning ;
                  sh:message "a long quote" ] ;
    sh:property [ sh:path rdf:subject ; sh:class kg:Drug ; sh:severity sh:Warning ;
                  sh:message "a claim about something else than a drug" ] .
"""


def _files(out: Path) -> dict[str, bytes]:
    current = out / ".current"
    return {p.name: p.read_bytes() for p in sorted(current.iterdir()) if p.is_file()}


def _edit_note(root: Path) -> None:
    path = root / "data" / "claims" / "002.yaml"
    text = path.read_text()
    assert "note: The source denies the effect for some patients." in text
    assert 'quote: "Ketamine does not relieve PTSD in everyone."' in text
    # a new note, and a quote short enough for the warning about long quotes to go away
    path.write_text(text.replace("note: The source denies the effect for some patients.",
                                 "note: The source denies the effect for many patients.")
                        .replace('quote: "Ketamine does not relieve PTSD in everyone."',
                                 'quote: "Ketamine does not relieve PTSD"'))


def _warnings(result) -> list[str]:
    return [str(p) for p in result.report.problems if p.code.startswith("shacl")]


@pytest.fixture
def warned(mini_root: Path) -> Project:
    shapes = mini_root / "ontology" / "shapes.ttl"
    shapes.write_text(shapes.read_text() + WARN_LONG_QUOTES)
    return Project.at(mini_root, corpus_dir=mini_root / "corpus")


def test_an_incremental_build_writes_the_same_files_as_a_build_from_nothing(warned: Project, mini_root: Path):
    first = build(warned)
    assert _warnings(first), "the fixture's own shape must give SHACL problems for the cache to keep"
    assert (warned.out_dir / CACHE_DIR / "shacl").is_dir()
    _edit_note(mini_root)
    again = build(warned)
    full = build(warned, out_dir=mini_root / "full", incremental=False)
    assert _warnings(again) == _warnings(full) == _warnings(check(warned)) != _warnings(first)
    ours, theirs = _files(warned.out_dir), _files(mini_root / "full")
    assert ours.keys() == theirs.keys()
    assert [name for name in ours if ours[name] != theirs[name]] == []
    assert b"many patients" in ours["kgraph.nt"]


def test_unchanged_files_are_not_parsed_again(mini: Project, mini_root: Path, monkeypatch):
    build(mini)
    parsed = []
    real = load_module._parse_checked

    def counting(text, display, *, fast):
        parsed.append(display)
        return real(text, display, fast=fast)

    monkeypatch.setattr(load_module, "_parse_checked", counting)
    build(mini)
    assert parsed == []
    _edit_note(mini_root)
    build(mini)
    assert parsed == ["data/claims/002.yaml"]


@pytest.mark.parametrize("batch", [10**9, 3])
def test_only_the_claims_of_changed_sources_are_validated_again(warned: Project, mini_root: Path, monkeypatch,
                                                                batch: int):
    """The claims of a source whose records did not change are not validated again (their
    problems come from the cache), in batches of all claims or of a source's: the same
    problems either way."""
    from kgraph.prefixes import KG

    monkeypatch.setattr(shapes_module, "BATCH_TRIPLES", batch)
    first = build(warned)
    runs = []
    real = shapes_module._run_all

    def recording(graph, shapes):
        runs.append(set(graph.subjects(KG.quote, None)))  # the claims whose own triples it holds
        return real(graph, shapes)

    monkeypatch.setattr(shapes_module, "_run_all", recording)
    monkeypatch.setattr(shapes_module, "_worker_count", lambda: 0)  # every unit validated here, where it is seen
    build(warned)
    assert runs and set().union(*runs) == set()  # every source's claims came from the cache
    runs.clear()
    _edit_note(mini_root)
    changed = build(warned)
    assert set().union(*runs) == {claim_iri(c.id) for c in _claims(mini_root, "src-002")}
    assert len([run for run in runs if run]) == 1  # one source: one batch of claims
    full = build(warned, out_dir=mini_root / "full", incremental=False)
    assert _warnings(changed) == _warnings(full) == _warnings(check(warned)) != _warnings(first)


def _claims(root: Path, source: str | None):
    from kgraph.load import load_dataset

    data, _ = load_dataset(Project.at(root, corpus_dir=root / "corpus"))
    return [c for c in data.claims if source is None or c.source == source]


def test_no_cache_validates_everything_and_refills_the_cache(warned: Project, monkeypatch):
    from kgraph.prefixes import KG

    build(warned)
    runs = []
    real = shapes_module._run_all

    def recording(graph, shapes):
        runs.append(set(graph.subjects(KG.quote, None)))
        return real(graph, shapes)

    monkeypatch.setattr(shapes_module, "_run_all", recording)
    monkeypatch.setattr(shapes_module, "_worker_count", lambda: 0)  # every unit validated here, where it is seen
    build(warned, incremental=False)
    assert set().union(*runs) == {claim_iri(c.id) for c in _claims(warned.root, None)}  # every claim again
    runs.clear()
    build(warned)
    assert runs and set().union(*runs) == set()  # and the cache was refilled


def test_a_damaged_cache_is_ignored_and_remade(warned: Project):
    first = _files(warned.out_dir) if build(warned) else None
    entries = sorted(p for p in (warned.out_dir / CACHE_DIR).rglob("*.json"))
    assert len(entries) >= 4
    damage = [b"{not json", json.dumps({"key": "another", "value": []}).encode(),
              json.dumps({"key": entries[2].stem, "value": [["error", 1, 2, 3]]}).encode(), b"\xff\xfe"]
    for i, entry in enumerate(entries):
        entry.write_bytes(damage[i % len(damage)])
    again = build(warned)
    assert _files(warned.out_dir) == first
    assert _warnings(again) == _warnings(build(warned, incremental=False))


def test_the_cache_keeps_only_what_the_last_build_used(mini: Project, mini_root: Path):
    build(mini)
    before = {p.name for p in (mini.out_dir / CACHE_DIR / "yaml").iterdir()}
    _edit_note(mini_root)
    build(mini)
    after = {p.name for p in (mini.out_dir / CACHE_DIR / "yaml").iterdir()}
    assert len(after) == len(before) and len(after - before) == 1


def test_a_parsed_document_reads_back_from_json_with_its_lines(tmp_path: Path):
    path = tmp_path / "doc.yaml"
    path.write_text("source: src-001\nclaims:\n  - id: c1\n    value: 12.5\n    n: 3\n    ok: true\n"
                    "    none: null\n    list: [1, 2.0, 'x']\n    7: seven\n")
    doc, problems = read_yaml_checked(path, "data/doc.yaml")
    back = _from_json(json.loads(json.dumps(_to_json(doc, problems))))
    assert back is not None
    doc2, problems2 = back
    assert doc2 == doc and problems2 == problems
    item, item2 = doc["claims"][0], doc2["claims"][0]
    assert (doc2.line, doc2.key_lines, doc2["claims"].line) == (doc.line, doc.key_lines, doc["claims"].line)
    assert (item2.line, item2.key_lines) == (item.line, item.key_lines) == (3, {"id": 3, "value": 4, "n": 5,
                                                                               "ok": 6, "none": 7, "list": 8,
                                                                               "7": 9})
    assert type(item2["n"]) is int and type(item2["value"]) is float and 7 in item2


def test_a_document_json_cannot_hold_is_parsed_each_time(tmp_path: Path):
    path = tmp_path / "doc.yaml"
    path.write_text("a: !!binary aGVsbG8=\n")
    cache = BuildCache(tmp_path / "cache")
    doc, _ = read_yaml_cached(path, "doc.yaml", cache)
    assert doc == {"a": b"hello"}
    assert not (tmp_path / "cache" / "yaml").exists()
    assert read_yaml_cached(path, "doc.yaml", cache)[0] == {"a": b"hello"}


def test_the_problems_of_a_file_come_back_from_the_cache(tmp_path: Path):
    path = tmp_path / "doc.yaml"
    path.write_text("a: 1\na: 2\n")  # a duplicate key: a problem of the checks
    cache = BuildCache(tmp_path / "cache")
    first = read_yaml_cached(path, "doc.yaml", cache)
    assert first[1] and (cache.misses, cache.hits) == (1, 0)
    second = read_yaml_cached(path, "doc.yaml", cache)
    assert cache.hits == 1 and second == first


SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix kg: <https://w3id.org/kgraph/ontology#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
kg:A a sh:NodeShape ; sh:targetClass kg:Claim ; rdfs:comment "annotated" ;
    sh:property [ sh:path kg:quote ; sh:minCount 1 ] .
kg:B a sh:NodeShape ; sh:targetClass kg:Statistic ; sh:property [ sh:path kg:unitText ; sh:maxCount 1 ] .
kg:C a sh:NodeShape ; sh:targetSubjectsOf kg:flag ; sh:property [ sh:path kg:curatorNote ; sh:minCount 1 ] .
kg:D a sh:NodeShape ; sh:targetClass kg:Entity ; sh:property [ sh:path kg:label ; sh:minCount 1 ] .
"""


@pytest.mark.parametrize("extra,split", [
    ("", True),
    ("kg:E a sh:NodeShape ; sh:targetClass kg:Claim ; sh:property [ sh:path ( rdf:subject kg:mentionedIn ) ;"
     " sh:minCount 1 ] .", False),
    ("kg:F a sh:NodeShape ; sh:targetClass kg:Claim ; sh:node kg:D .", False),
    ("kg:G a sh:NodeShape ; sh:targetObjectsOf kg:treats ; sh:class kg:Condition .", False),
    ("kg:H a sh:NodeShape ; sh:targetNode kg:x ; sh:property [ sh:path kg:quote ; sh:maxCount 1 ] .", True),
])
def test_shapes_are_validated_part_by_part_when_they_look_only_at_a_nodes_own_values(mini: Project, extra: str,
                                                                                      split: bool):
    """A shape of a path of two steps (E), one that refers to another (F), or one whose
    focus nodes are the objects of a property (G, in another node's unit) make the parts
    validator validate the whole graph."""
    from kgraph.load import load_dataset, load_ontology, vocabulary
    from kgraph.shapes import PartsValidator

    shapes = Graph().parse(data=SHAPES + extra, format="turtle")
    ontology = load_ontology(mini)
    data, _ = load_dataset(mini)
    assert PartsValidator(shapes, ontology, data, vocabulary(ontology)).split == split


# --------------------------------------------------------------------------- nothing changed

def _cli_build(root: Path, *extra: str):
    from typer.testing import CliRunner

    from kgraph.cli import app

    args = ["build", "-q", "--data", str(root / "data"), "--corpus", str(root / "corpus"),
            "--ontology", str(root / "ontology"), "--out", str(root / "output"), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _published(root: Path) -> str:
    import os

    return os.readlink(root / "output" / ".current")


def test_a_build_with_nothing_changed_writes_nothing(mini_root: Path):
    assert "up to date" not in _cli_build(mini_root)
    first = _published(mini_root)
    assert "is up to date" in _cli_build(mini_root)
    assert _published(mini_root) == first
    (mini_root / "data" / "claims" / "001.yaml").touch()  # a new stat, the same content
    assert "is up to date" in _cli_build(mini_root)


@pytest.mark.parametrize("change", ["data", "corpus", "shapes", "link", "file", "no-cache", "candidates"])
def test_a_build_after_a_change_builds_again(mini_root: Path, change: str):
    _cli_build(mini_root)
    first = _published(mini_root)
    extra = []
    if change == "data":
        _edit_note(mini_root)
    elif change == "corpus":
        with (mini_root / "corpus" / "beta.txt").open("a") as f:
            f.write("\nA new line.\n")
    elif change == "shapes":
        with (mini_root / "ontology" / "shapes.ttl").open("a") as f:
            f.write("\n# a comment\n")
    elif change == "link":
        (mini_root / "output" / "kgraph.html").unlink()  # the name users open
    elif change == "file":
        (mini_root / "output" / ".current" / "kgraph.html").unlink()
    elif change == "no-cache":
        extra = ["--no-cache"]
    else:
        extra = ["--with-candidates"]
    output = _cli_build(mini_root, *extra)
    assert "up to date" not in output and _published(mini_root) != first
    if change == "data":  # one claims file changed: the other four files and source src-001 reused
        assert "reused from the last build: 4 of 5 data files parsed, the SHACL checks of 1 of 2 sources' claims" \
            in output
    elif change == "no-cache":
        assert "reused" not in output
    assert (mini_root / "output" / "kgraph.html").is_file()


def test_another_kgraph_finds_nothing_in_the_cache(mini: Project, monkeypatch):
    """Entries depend on kgraph's own files (code_fingerprint), released or not: a changed
    kgraph parses and validates everything again, and does not call the output up to date."""
    import kgraph.cache as cache_module
    from kgraph.pipeline import unchanged

    build(mini)
    assert unchanged(mini)
    parsed = []
    real = load_module._parse_checked
    monkeypatch.setattr(load_module, "_parse_checked",
                        lambda text, display, *, fast: parsed.append(display) or real(text, display, fast=fast))
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "another kgraph")
    assert not unchanged(mini)
    build(mini)
    assert len(parsed) == 5  # sources, entities, xrefs and the two claims files
