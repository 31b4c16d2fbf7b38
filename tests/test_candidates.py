"""The candidates file: deterministic YAML that reads back exactly, stable candidate ids,
and checks against the data and ontology with file and line."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kgraph.candidates import (
    CandidateSet,
    candidate_key,
    dump_candidates,
    read_candidates,
    sentence_span,
    validate_candidates,
    yaml_scalar,
)
from kgraph.load import FORBIDDEN_CHARS, load_dataset, load_ontology, vocabulary

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "extract-docs" / "candidates"
# any text a page may hold, curly quotes, backslashes and YAML's own line breaks included
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_every_string_reads_back_unchanged(value):
    assert yaml.safe_load(f"k: {yaml_scalar(value)}")["k"] == value
    assert yaml.safe_load(f"k: {yaml_scalar(value, quoted=True)}")["k"] == value


@pytest.mark.parametrize("value, written", [
    ("ketamine", "ketamine"), ("nmda-receptor", "nmda-receptor"), ("no", '"no"'), ("True", '"True"'),
    ("2021", '"2021"'), ("src-005.txt", '"src-005.txt"'), ("a b", '"a b"'), (8, "8"), (0.5, "0.5"),
    ("ketamine\n", '"ketamine\\n"'), (None, "null"), (True, "true"),
    ("“curly” \\ \"q\"", '"“curly” \\\\ \\"q\\""'), ("\u2028", '"\\u2028"'),
])
def test_scalars(value, written):
    assert yaml_scalar(value) == written


@given(TEXT.filter(lambda t: t.strip() and not FORBIDDEN_CHARS.search(t)), st.data())
@settings(max_examples=150, deadline=None)
def test_a_candidate_quoting_any_span_reads_back_exactly(tmp_path_factory, text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    folder = tmp_path_factory.mktemp("c")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    claim = {"id": "x0123456789", "subject": "ketamine", "predicate": "treats", "object": "ptsd",
             "quote": text[start:end], "start": start, "end": end, "evidence": "clinic-statement",
             "modality": "asserted", "confidence": 0.5, "by": "test", "status": "candidate"}
    cset = CandidateSet(source={"id": "src-009", "file": "documents/src-009.txt", "sha256": sha, "original": "x.txt",
                                "original_sha256": sha, "text": "src-009.txt", "title": text, "publisher": None},
                        entities=[], claims=[claim], text=text)
    (folder / "src-009.yaml").write_text(dump_candidates(cset), encoding="utf-8")
    (folder / "src-009.txt").write_bytes(text.encode("utf-8"))
    back = read_candidates(folder / "src-009.yaml")
    assert back.claims == [claim]
    assert back.text == text and back.source["title"] == text
    assert back.text[back.claims[0]["start"]:back.claims[0]["end"]] == back.claims[0]["quote"]


def test_the_fixture_reads_back_to_the_same_bytes(tmp_path):
    for p in FIXTURE.iterdir():
        shutil.copy(p, tmp_path / p.name)
    cset = read_candidates(tmp_path / "src-003.yaml")
    assert dump_candidates(cset) == (FIXTURE / "src-003.yaml").read_text(encoding="utf-8")
    assert cset.line("xa17fafcfff", "predicate").line == 40


def test_candidate_ids_depend_on_the_sentence_and_statement_only():
    claim = {"subject": "ketamine", "predicate": "treats", "object": "ptsd", "evidence": "clinic-statement",
             "confidence": 0.4}
    key = candidate_key("Ketamine treats PTSD.", claim)
    assert key == candidate_key(" Ketamine treats PTSD. ", {**claim, "evidence": "cites-rct", "confidence": 0.9})
    assert key != candidate_key("Ketamine treats PTSD fast.", claim)
    assert key != candidate_key("Ketamine treats PTSD.", {**claim, "object": "anxiety"})
    assert key != candidate_key("Ketamine treats PTSD.", {**claim, "object": None, "value": "ptsd"})
    assert key.startswith("x") and len(key) == 11


@pytest.mark.parametrize("text, quote, sentence", [
    ("One. Two three. Four.", "Two", "Two three."),
    ("One. Two three. Four.", "Two three.", "Two three."),
    ("One. Two three. Four.", "One", "One."),
    ("One. Two three. Four.", "Four", "Four."),
    ("A line\nwithout a stop\nX.", "without", "without a stop"),
    ("He said “yes.” Then left.", "said", "He said “yes.”"),
    ("Dose 2.5 mg works. Next.", "works", "Dose 2.5 mg works."),
    ("First. Second. Third.", "Second. Third", "Second. Third."),
])
def test_sentence_span(text, quote, sentence):
    start = text.index(quote)
    left, right = sentence_span(text, start, start + len(quote))
    assert text[left:right] == sentence


@pytest.fixture
def loaded(mini):
    dataset, _ = load_dataset(mini)
    return dataset, vocabulary(load_ontology(mini))


def _fixture(tmp_path: Path, old: str = "", new: str = "") -> CandidateSet:
    for p in FIXTURE.iterdir():
        shutil.copy(p, tmp_path / p.name)
    path = tmp_path / "src-003.yaml"
    if old:
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return read_candidates(path, "c.yaml")


def test_the_fixture_is_valid(tmp_path, loaded):
    assert validate_candidates(_fixture(tmp_path), *loaded) == []


@pytest.mark.parametrize("old, new, line, message", [
    ("  id: src-003", "  id: source-3", 4, "source id 'source-3' is not of the form src-NNN"),
    ('file: "documents/src-003.txt"', 'file: "../src-003.txt"', 5, "source file must be 'documents/src-003.txt'"),
    ("  publisher: gamma-clinic", "  publisher: gamma-clinik", 11, "unknown publisher 'gamma-clinik'"),
    ("  title:", "  colour: red\n  title:", 10, "source: unknown field 'colour'"),
    ("    start: 97", "    start: 96", 30, "the quote is not the text at 96-131"),
    ("    start: 97", "    start: 9999", 31, "start/end must be offsets in the text"),
    ("    object: nausea", "    object: ptsd", 54, "'hasSideEffect' expects an object of type SideEffect"),
    ("    unit: \"percent\"", "    unit: null", 78, "a number needs a 'unit'"),
    ("    mentions: [[403, 409]]", "    mentions: [[403, 40900]]", 17, "mention [403, 40900] is not [start, end]"),
    ("  - id: x9842bd4791", "  - id: claim-1", 26, "candidate id 'claim-1' is not valid"),
    ("    subject: ketamine", "    colour: red\n    subject: ketamine", 27, "claim 'x9842bd4791': unknown field 'colour'"),
    ("  - id: nausea", "  - id: Nausea_1", 13, "entity id 'Nausea_1' is not a slug"),
    ("    type: SideEffect", "    colour: red\n    type: SideEffect", 14, "entity 'nausea': unknown field 'colour'"),
    ("modality: hedged", "modality: perhaps", 46, "unknown modality 'perhaps'"),
    ("qualifiers: {onset: \"within hours\"}", "qualifiers: {mood: sad}", 47, "unknown qualifier 'mood'"),
])
def test_problems_name_the_line(tmp_path, loaded, old, new, line, message):
    problems = validate_candidates(_fixture(tmp_path, old, new), *loaded)
    assert any(message in p.message and p.where.line == line and p.where.path == "c.yaml" for p in problems), \
        [str(p) for p in problems]


def test_the_text_must_match_its_digest(tmp_path):
    from kgraph.errors import DataError

    for p in FIXTURE.iterdir():
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "src-003.txt").write_text("something else", encoding="utf-8")
    with pytest.raises(DataError, match="has changed since extraction"):
        read_candidates(tmp_path / "src-003.yaml")
    (tmp_path / "src-003.txt").unlink()
    with pytest.raises(DataError, match="the document's text is missing"):
        read_candidates(tmp_path / "src-003.yaml")



@pytest.mark.parametrize("old, new, bad_id, message", [
    # each record also has a second fault, which is not reported: the record was skipped
    ("  - id: x9842bd4791\n    subject: ketamine\n    predicate: antagonistOf\n    object: nmda-receptor\n"
     "    quote: \"Ketamine blocks the NMDA receptor.\"\n    start: 97",
     "  - id: claim-1\n    subject: ketamine\n    predicate: antagonistOf\n    object: nmda-receptor\n"
     "    quote: \"Ketamine blocks the NMDA receptor.\"\n    start: 9999",
     "claim-1", "candidate id 'claim-1' is not valid"),
    ("  - id: nausea\n    type: SideEffect\n    label: \"nausea\"\n    synonyms: []\n    mentions: [[403, 409]]",
     "  - id: Nausea_1\n    type: SideEffect\n    label: \"nausea\"\n    synonyms: []\n    mentions: [[403, 40900]]",
     "Nausea_1", "entity id 'Nausea_1' is not a slug"),
])
def test_a_record_with_a_bad_id_is_reported_once_and_skipped(tmp_path, loaded, old, new, bad_id, message):
    problems = validate_candidates(_fixture(tmp_path, old, new), *loaded)
    about_it = [p.message for p in problems if bad_id in p.message]
    assert about_it == [message], [str(p) for p in problems]
