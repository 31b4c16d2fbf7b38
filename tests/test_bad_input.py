"""Every kind of bad input gets a message naming the file and line (or id), exit 3, no files."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = root / "output"
    assert not out.exists() or not any(p.name.startswith("kgraph") for p in out.iterdir())


C1 = "data/claims/001.yaml"
C2 = "data/claims/002.yaml"
ENTITIES = "data/entities/all.yaml"
TTL = "ontology/kgraph.ttl"
BOTH = ("build", "validate")


def replace(rel: str, old: str, new: str):
    return lambda root: _edit(root / rel, old, new)


def unlink(rel: str):
    return lambda root: (root / rel).unlink()


def write(rel: str, text: str):
    return lambda root: (root / rel).write_text(text, encoding="utf-8")


def append(rel: str, data: bytes):
    def run(root: Path) -> None:
        with open(root / rel, "ab") as fh:
            fh.write(data)
    return run


@dataclass(frozen=True)
class Case:
    """One kind of bad input: how to make it, which commands must refuse it, what they say.

    ``{line}`` in a message is the line of ``at`` (file, text) after the edit; ``code`` is
    the problem's code in ``validate --json`` (None when the input stops the check itself).
    """

    edits: tuple
    messages: tuple[str, ...]
    code: str | None
    commands: tuple[str, ...] = ("build",)
    at: tuple[str, str] | None = None
    corpus: str = "corpus"


CASES = {
    "malformed YAML names file and line": Case(
        (replace(C1, "    predicate: antagonistOf\n", "    predicate: [antagonistOf\n"),),
        ("data/claims/001.yaml:", "malformed YAML", "Fix the YAML syntax"), "unreadable-yaml", BOTH),
    "unknown entity reference suggests the id": Case(
        (replace(C1, "    object: nmda-receptor\n", "    object: nmda-receptr\n"),),
        ("data/claims/001.yaml:{line}", "claim 'c001-001': object refers to unknown entity 'nmda-receptr'",
         "Did you mean nmda-receptor?"), "unknown-entity", at=(C1, "object: nmda-receptr")),
    "duplicate id names both places": Case(
        (replace(ENTITIES, "- id: dissociation\n", "- id: glutamate\n"),),
        ("duplicate entity id 'glutamate' (first defined at data/entities/all.yaml:{line})",), "duplicate-id",
        at=(ENTITIES, "- id: glutamate")),
    "unknown predicate suggests a property": Case(
        (replace(C1, "    predicate: hasSideEffect\n", "    predicate: hasSideEfect\n"),),
        ("unknown predicate 'hasSideEfect'", "Did you mean hasSideEffect"), "unknown-predicate"),
    "unknown class suggests a class": Case(
        (replace(ENTITIES, "  type: Receptor\n", "  type: Receptr\n"),),
        ("data/entities/all.yaml:{line}", "entity 'nmda-receptor' has unknown type 'Receptr'",
         "Did you mean Receptor"), "unknown-type", at=(ENTITIES, "- id: nmda-receptor")),
    "value of the wrong type": Case(
        (replace(C1, "    value: 8\n", "    value: eight\n"),),
        ("data/claims/001.yaml:{line}", "claim 'c001-005': prevalence needs a number, got 'eight'"), "bad-value",
        at=(C1, "value: eight")),
    "an entity where a value is needed": Case(
        (replace(C1, '    value: "(555) 010-0000"\n', "    object: ketamine\n"),),
        ("claim 'c001-006': 'telephone' takes a value, not an entity",), "value-needed"),
    "the range of a predicate is checked": Case(
        (replace(C1, "    object: dissociation\n", "    object: ptsd\n"),),
        ("'hasSideEffect' expects an object of type SideEffect, but 'ptsd' is a MentalDisorder",), "range-mismatch"),
    "the domain of a predicate is checked": Case(
        (replace(C1, "  - id: c001-004\n    subject: ketamine\n", "  - id: c001-004\n    subject: ptsd\n"),),
        ("'hasSideEffect' expects a subject of type Intervention, but 'ptsd' is a MentalDisorder",
         "Pick another predicate or subject"), "domain-mismatch"),
    "a claim's domain and range are both checked": Case(
        (replace(C1, "  - id: c001-004\n    subject: ketamine\n    predicate: hasSideEffect\n    object: dissociation\n",
                 "  - id: c001-004\n    subject: ptsd\n    predicate: hasSideEffect\n    object: ketamine\n"),),
        ("'hasSideEffect' expects a subject of type Intervention, but 'ptsd' is a MentalDisorder",
         "'hasSideEffect' expects an object of type SideEffect, but 'ketamine' is a"), "range-mismatch"),
    "quote not found in its source": Case(
        (replace(C1, "Side effects include mild dissociation.", "Side effects include severe dissociation."),),
        ("data/claims/001.yaml:{line}", "claim 'c001-004': quote not found verbatim in alpha.txt",
         'Closest passage: "Side effects include mild dissociation."'), "quote-not-found", BOTH,
        at=(C1, "severe dissociation")),
    "missing corpus directory": Case(
        (), ("corpus directory not found", "--corpus DIR"), None, ("validate",), corpus="no-such-dir"),
    "source file missing from the corpus": Case(
        (unlink("corpus/beta.txt"),), ("source 'src-002': file beta.txt not found",), "corpus-file-missing",
        ("validate",)),
    "unknown field and missing field": Case(
        (replace(C2, "    evidence: cites-rct\n    cites: beta-rct\n  - id: c002-002",
                 "    evidense: cites-rct\n    cites: beta-rct\n  - id: c002-002"),),
        ("claim 'c002-001': unknown field 'evidense'", "claim 'c002-001': missing field 'evidence'"),
        "unknown-field"),
    "all problems are reported together": Case(
        (replace(C1, "    object: nmda-receptor\n", "    object: nowhere\n"),
         replace(C1, "    predicate: hasSideEffect\n", "    predicate: nothing\n")),
        ("2 error(s)", "'nowhere'", "'nothing'"), "unknown-predicate"),
    "broken ontology is reported with its file": Case(
        (append(TTL, b"\nkg:Broken a owl:Class ;;; ]\n"),), ("kgraph.ttl", "not valid Turtle"), None),
    "a SHACL violation names the claim": Case(
        (replace(C1, '    value: "(555) 010-0000"\n', '    value: "call us anytime"\n'),),
        ("data/claims/001.yaml:{line} (kgr:alpha-clinic)",
         "SHACL: a telephone number has digits, spaces, brackets and dashes only"), "shacl-pattern", BOTH,
        at=(C1, "- id: c001-006")),
    "an empty claims file": Case(
        (write(C2, ""),), ("data/claims/002.yaml:1: the claims file is empty",
                           "source 'src-002' (beta.txt) has no claims"), "empty-claims-file", ("validate",)),
    "a quote must be text, not a number": Case(
        (replace(C1, '    quote: "Ketamine blocks the NMDA receptor."\n', "    quote: 2021\n"),),
        ("data/claims/001.yaml:{line}: claim 'c001-001': 'quote' must be text, not int 2021", 'quote: "2021"'),
        "bad-field", ("validate",), at=(C1, "quote: 2021")),
    "a corpus file that is not UTF-8": Case(
        (append("corpus/beta.txt", b"\xff\xfe"),), ("source 'src-002': beta.txt is not UTF-8 text (byte",),
        "corpus-file-not-utf8", ("validate",)),
}


@pytest.mark.parametrize("command,case", [(command, name) for name, case in CASES.items()
                                          for command in case.commands])
def test_bad_input_is_refused_with_a_clear_message(mini_root, monkeypatch, command, case):
    spec = CASES[case]
    for edit in spec.edits:
        edit(mini_root)
    line = _line_of(mini_root / spec.at[0], spec.at[1]) if spec.at else None
    monkeypatch.chdir(mini_root)
    corpus = ["--corpus", str(mini_root / spec.corpus)]
    result = runner.invoke(app, [command, *corpus])
    _assert_failed_cleanly(result, mini_root)
    for message in spec.messages:
        assert message.format(line=line) in result.output
    if spec.code is not None:
        as_json = runner.invoke(app, ["validate", "--json", *corpus])
        assert as_json.exit_code == 3
        assert spec.code in {p["code"] for p in json.loads(as_json.output)["problems"]}


def test_failed_build_keeps_previous_output(mini_root, monkeypatch):
    ok = _run(mini_root, monkeypatch, "build")
    assert ok.exit_code == 0, ok.output
    # the published files, read through their stable names (the build folders are hidden)
    before = {p.name: p.read_bytes() for p in (mini_root / "output").iterdir() if p.is_file()}
    store_before = _store_dump(mini_root / "output")
    _edit(mini_root / "data" / "claims" / "001.yaml", "    object: nmda-receptor\n", "    object: nowhere\n")
    bad = _run(mini_root, monkeypatch, "build")
    assert bad.exit_code == 3
    after = {p.name: p.read_bytes() for p in (mini_root / "output").iterdir() if p.is_file()}
    assert after == before
    assert _store_dump(mini_root / "output") == store_before


def _store_dump(out):
    from kgraph import store as S

    return S.serialize_quads(S.open_store(out).quads_for_pattern(None, None, None), "nquads")


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
    assert result.exit_code == 5 and "Traceback" not in result.output
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
    assert result.exit_code == 5, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (mini_root / "missing-folder").exists()


def test_a_file_that_does_not_parse_is_reported_first_and_alone(mini_root, monkeypatch):
    # issue 13: one malformed entities file gave 205 errors (every reference to its entities),
    # the real cause near the end
    entities = mini_root / "data" / "entities" / "all.yaml"
    text = entities.read_text(encoding="utf-8")
    entities.write_text(text.replace("label: ", "label: [unclosed ", 1), encoding="utf-8")
    result = _run(mini_root, monkeypatch, "validate")
    _assert_failed_cleanly(result, mini_root)
    lines = [line for line in result.stdout.splitlines() if line.startswith(("error", "warning"))]
    assert lines and "malformed YAML" in lines[0] and "data/entities/all.yaml:" in lines[0], result.stdout
    assert len(lines) == 1, result.stdout
    as_json = json.loads(runner.invoke(app, ["validate", "--json", "--corpus", str(mini_root / "corpus")]).output)
    assert [p["code"] for p in as_json["problems"]] == ["unreadable-yaml"]
