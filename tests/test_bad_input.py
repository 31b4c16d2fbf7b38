"""Every kind of bad input gets a message naming the file and line (or id), exit 2, no files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgraph.cli import app

runner = CliRunner()


def _run(root: Path, monkeypatch, *args: str):
    monkeypatch.chdir(root)
    return runner.invoke(app, [*args, "--corpus", str(root / "corpus")])


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _assert_failed_cleanly(result, root: Path) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = root / "output"
    assert not out.exists() or not any(p.name.startswith("kgraph") for p in out.iterdir())


@pytest.mark.parametrize("command", ["build", "validate"])
def test_malformed_yaml_names_file_and_line(mini_root, monkeypatch, command):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "    predicate: antagonistOf\n", "    predicate: [antagonistOf\n")
    result = _run(mini_root, monkeypatch, command)
    _assert_failed_cleanly(result, mini_root)
    assert "data/claims/001.yaml:" in result.output
    assert "malformed YAML" in result.output
    assert "Fix the YAML syntax" in result.output


def test_unknown_entity_reference_suggests_the_id(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "    object: nmda-receptor\n", "    object: nmda-receptr\n")
    line = _line_of(claims, "object: nmda-receptr")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert f"data/claims/001.yaml:{line}" in result.output
    assert "claim 'c001-001': object refers to unknown entity 'nmda-receptr'" in result.output
    assert "Did you mean nmda-receptor?" in result.output


def test_duplicate_id_names_both_places(mini_root, monkeypatch):
    entities = mini_root / "data" / "entities" / "all.yaml"
    _edit(entities, "- id: dissociation\n", "- id: glutamate\n")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    first = _line_of(entities, "- id: glutamate")
    assert f"duplicate entity id 'glutamate' (first defined at data/entities/all.yaml:{first})" in result.output


def test_unknown_predicate_suggests_a_property(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "    predicate: hasSideEffect\n", "    predicate: hasSideEfect\n")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert "unknown predicate 'hasSideEfect'" in result.output
    assert "hasSideEffect" in result.output.split("unknown predicate")[1]


def test_unknown_class(mini_root, monkeypatch):
    entities = mini_root / "data" / "entities" / "all.yaml"
    _edit(entities, "  type: Receptor\n", "  type: Receptr\n")
    line = _line_of(entities, "- id: nmda-receptor")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert f"data/entities/all.yaml:{line}" in result.output
    assert "entity 'nmda-receptor' has unknown type 'Receptr'" in result.output
    assert "Did you mean Receptor" in result.output


def test_value_of_wrong_type(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "    value: 8\n", "    value: eight\n")
    line = _line_of(claims, "value: eight")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert f"data/claims/001.yaml:{line}" in result.output
    assert "claim 'c001-005': prevalence needs a number, got 'eight'" in result.output


def test_object_where_a_value_is_needed(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "    value: \"(555) 010-0000\"\n", "    object: ketamine\n")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert "claim 'c001-006': 'telephone' takes a value, not an entity" in result.output


def test_domain_and_range_are_checked(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "    object: dissociation\n", "    object: ptsd\n")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert "'hasSideEffect' expects an object of type SideEffect, but 'ptsd' is a MentalDisorder" in result.output


def test_quote_not_found_in_source(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "Side effects include mild dissociation.", "Side effects include severe dissociation.")
    line = _line_of(claims, "severe dissociation")
    for command in ("validate", "build"):
        result = _run(mini_root, monkeypatch, command)
        _assert_failed_cleanly(result, mini_root)
        assert f"data/claims/001.yaml:{line}" in result.output
        assert "claim 'c001-004': quote not found verbatim in alpha.txt" in result.output
        assert 'Closest passage: "Side effects include mild dissociation."' in result.output


def test_missing_corpus_directory(mini_root, monkeypatch):
    monkeypatch.chdir(mini_root)
    result = runner.invoke(app, ["validate", "--corpus", str(mini_root / "no-such-dir")])
    _assert_failed_cleanly(result, mini_root)
    assert "corpus directory not found" in result.output
    assert "--corpus DIR" in result.output


def test_missing_source_file_in_corpus(mini_root, monkeypatch):
    (mini_root / "corpus" / "beta.txt").unlink()
    result = _run(mini_root, monkeypatch, "validate")
    _assert_failed_cleanly(result, mini_root)
    assert "source 'src-002': file beta.txt not found" in result.output


def test_unknown_field_and_missing_field(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "002.yaml"
    _edit(claims, "    evidence: cites-rct\n    cites: beta-rct\n  - id: c002-002",
          "    evidense: cites-rct\n    cites: beta-rct\n  - id: c002-002")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert "claim 'c002-001': unknown field 'evidense'" in result.output
    assert "claim 'c002-001': missing field 'evidence'" in result.output


def test_all_problems_are_reported_together(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, "    object: nmda-receptor\n", "    object: nowhere\n")
    _edit(claims, "    predicate: hasSideEffect\n", "    predicate: nothing\n")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert "2 error(s)" in result.output
    assert "'nowhere'" in result.output and "'nothing'" in result.output


def test_failed_build_keeps_previous_output(mini_root, monkeypatch):
    ok = _run(mini_root, monkeypatch, "build")
    assert ok.exit_code == 0, ok.output
    before = {p.name: p.read_bytes() for p in (mini_root / "output").iterdir()}
    _edit(mini_root / "data" / "claims" / "001.yaml", "    object: nmda-receptor\n", "    object: nowhere\n")
    bad = _run(mini_root, monkeypatch, "build")
    assert bad.exit_code == 2
    after = {p.name: p.read_bytes() for p in (mini_root / "output").iterdir()}
    assert after == before


def test_broken_ontology_is_reported_with_line(mini_root, monkeypatch):
    onto = mini_root / "ontology" / "kgraph.ttl"
    onto.write_text(onto.read_text(encoding="utf-8") + "\nkg:Broken a owl:Class ;;; ]\n", encoding="utf-8")
    result = _run(mini_root, monkeypatch, "build")
    _assert_failed_cleanly(result, mini_root)
    assert "kgraph.ttl" in result.output and "not valid Turtle" in result.output


@pytest.mark.parametrize("command", ["validate", "build"])
def test_shacl_violation_names_the_claim(mini_root, monkeypatch, command):
    """A value of the right type that breaks a shape (a telephone number with letters)."""
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, '    value: "(555) 010-0000"\n', '    value: "call us anytime"\n')
    line = _line_of(claims, "- id: c001-006")
    result = _run(mini_root, monkeypatch, command)
    _assert_failed_cleanly(result, mini_root)
    assert f"data/claims/001.yaml:{line} (kgr:alpha-clinic)" in result.output
    assert "SHACL: a telephone number has digits, spaces, brackets and dashes only" in result.output


def test_empty_claims_file_is_an_error(mini_root, monkeypatch):
    (mini_root / "data" / "claims" / "002.yaml").write_text("", encoding="utf-8")
    result = _run(mini_root, monkeypatch, "validate")
    _assert_failed_cleanly(result, mini_root)
    assert "data/claims/002.yaml:1: the claims file is empty" in result.output
    assert "source 'src-002' (beta.txt) has no claims" in result.output


def test_a_quote_must_be_text_not_a_number(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    _edit(claims, '    quote: "Ketamine blocks the NMDA receptor."\n', "    quote: 2021\n")
    line = _line_of(claims, "quote: 2021")
    result = _run(mini_root, monkeypatch, "validate")
    _assert_failed_cleanly(result, mini_root)
    assert f"data/claims/001.yaml:{line}: claim 'c001-001': 'quote' must be text, not int 2021" in result.output
    assert 'quote: "2021"' in result.output


def test_dates_stay_text_even_impossible_ones(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "002.yaml"
    _edit(claims, "    note: The source denies the effect for some patients.\n", "    note: 2021-02-30\n")
    result = _run(mini_root, monkeypatch, "validate")
    assert result.exit_code == 0, result.output


def test_corpus_file_that_is_not_utf8(mini_root, monkeypatch):
    with open(mini_root / "corpus" / "beta.txt", "ab") as fh:
        fh.write(b"\xff\xfe")
    result = _run(mini_root, monkeypatch, "validate")
    _assert_failed_cleanly(result, mini_root)
    assert "source 'src-002': beta.txt is not UTF-8 text (byte" in result.output


def test_output_folder_that_cannot_be_written(mini_root, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.chdir(mini_root)
    result = runner.invoke(app, ["build", "--out", str(blocker / "out"), "--corpus", str(mini_root / "corpus")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"cannot write {blocker / 'out'}" in result.output
    assert "--out" in result.output


@pytest.mark.parametrize("target,message", [
    ("missing-folder/x.csv", "does not exist"),
    (".", "is a folder"),
])
def test_query_output_that_cannot_be_written(mini_root, monkeypatch, target, message):
    monkeypatch.chdir(mini_root)
    result = runner.invoke(app, ["query", "ASK { ?s ?p ?o }", "--format", "json", "--output",
                                 str(mini_root / target)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (mini_root / "missing-folder").exists()
