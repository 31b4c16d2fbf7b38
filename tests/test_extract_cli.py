"""kgraph extract: candidates files from new documents, --out variants, bad input,
and extract -> review -> extract again (decisions kept, rejections never re-proposed)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kgraph.cli import app

runner = CliRunner()
DOCS = Path(__file__).resolve().parent / "fixtures" / "extract-docs"
TXT = DOCS / "gamma-clinic.txt"
HTML = DOCS / "gamma-clinic.html"


def _run(root: Path, monkeypatch, *args: str):
    monkeypatch.chdir(root)
    return runner.invoke(app, [*args, "--corpus", str(root / "corpus")])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _curated(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in _snapshot(root).items() if not k.startswith("data/candidates/")}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _assert_grounded(candidates: dict, text: str) -> None:
    assert candidates["claims"], "the extractor proposed nothing"
    for c in candidates["claims"]:
        assert text[c["start"]:c["end"]] == c["quote"], c
    for e in candidates["entities"]:
        for start, end in e["mentions"]:
            assert 0 <= start < end <= len(text)


def test_extract_text_writes_candidates_and_text_and_nothing_curated(mini_root, monkeypatch):
    before = _curated(mini_root)
    result = _run(mini_root, monkeypatch, "extract", str(TXT))
    assert result.exit_code == 0, result.output
    assert "src-003" in result.output and "candidate claims" in result.output
    folder = mini_root / "data" / "candidates"
    cands = _load(folder / "src-003.yaml")
    text = (folder / "src-003.txt").read_text(encoding="utf-8")
    assert text == TXT.read_text(encoding="utf-8")  # plain text is stored byte for byte
    _assert_grounded(cands, text)
    assert cands["source"]["id"] == "src-003"
    assert cands["source"]["file"] == "documents/src-003.txt"
    assert all(c["status"] == "candidate" and "id" in c for c in cands["claims"])
    assert _curated(mini_root) == before
    # the same bytes again: deterministic output
    first = (folder / "src-003.yaml").read_bytes()
    assert _run(mini_root, monkeypatch, "extract", str(TXT)).exit_code == 0
    assert (folder / "src-003.yaml").read_bytes() == first
    assert sorted(p.name for p in folder.iterdir()) == ["src-003.txt", "src-003.yaml"]


def test_html_quotes_are_exact_at_their_offsets_and_review_builds(mini_root, monkeypatch):
    result = _run(mini_root, monkeypatch, "extract", str(HTML))
    assert result.exit_code == 0, result.output
    folder = mini_root / "data" / "candidates"
    cands = _load(folder / "src-003.yaml")
    text = (folder / "src-003.txt").read_text(encoding="utf-8")
    _assert_grounded(cands, text)
    # the main text, without the page's menus and footer
    assert "Ketamine blocks the NMDA receptor." in text
    for boilerplate in ("Contact us", "All rights reserved", "Subscribe to our newsletter", "<p>"):
        assert boilerplate not in text
    assert cands["source"]["title"] == "Ketamine for PTSD, Explained"
    assert cands["source"]["original_sha256"] != cands["source"]["sha256"]

    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    assert result.exit_code == 0, result.output
    assert (mini_root / "data" / "documents" / "src-003.txt").read_text(encoding="utf-8") == text
    result = _run(mini_root, monkeypatch, "validate")
    assert result.exit_code == 0, result.output
    assert f"{len(cands['claims']) + 11}/{len(cands['claims']) + 11} quotes grounded" in result.output
    result = _run(mini_root, monkeypatch, "build", "--quiet")
    assert result.exit_code == 0, result.output
    assert "kgraph.html" in result.output


def test_out_file_folder_and_stdout(mini_root, monkeypatch, tmp_path):
    before = _curated(mini_root)
    one = tmp_path / "review" / "gamma.yaml"
    one.parent.mkdir()
    result = _run(mini_root, monkeypatch, "extract", str(TXT), "--out", str(one))
    assert result.exit_code == 0, result.output
    cands = _load(one)
    assert cands["source"]["text"] == "gamma.txt"
    _assert_grounded(cands, (one.parent / "gamma.txt").read_text(encoding="utf-8"))
    assert not (mini_root / "data" / "candidates").exists()

    folder = tmp_path / "several"
    result = _run(mini_root, monkeypatch, "extract", str(TXT), str(HTML), "--out", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["src-003.txt", "src-003.yaml", "src-004.txt", "src-004.yaml"]

    snapshot = _snapshot(tmp_path)
    result = _run(mini_root, monkeypatch, "extract", str(TXT), "--out", "-")
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.stdout)
    assert printed["source"]["text"] is None
    _assert_grounded(printed, TXT.read_text(encoding="utf-8"))
    assert _snapshot(tmp_path) == snapshot
    assert _curated(mini_root) == before

    # a candidates file from stdout is reviewable: its text is re-read from the original
    piped = tmp_path / "piped.yaml"
    piped.write_text(result.stdout, encoding="utf-8")
    result = _run(mini_root, monkeypatch, "review", str(piped), "--accept-all")
    assert result.exit_code == 0, result.output
    assert _run(mini_root, monkeypatch, "validate").exit_code == 0


@pytest.mark.parametrize("out, needle", [
    ("-", "--out - writes one document's candidates to stdout, but 2 documents were given"),
    ("one.yaml", "--out one.yaml is one file, but 2 documents were given"),
])
def test_out_refuses_several_documents_for_one_file(mini_root, monkeypatch, out, needle):
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "extract", str(TXT), str(HTML), "--out", out)
    assert result.exit_code == 5, result.output
    assert needle in result.output
    assert _snapshot(mini_root) == before


def test_a_folder_of_documents(mini_root, monkeypatch, tmp_path):
    folder = tmp_path / "pages"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(TXT, folder / "a.txt")
    shutil.copy(HTML, folder / "sub" / "b.html")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")  # not a document kgraph reads: left alone
    (folder / ".hidden.txt").write_text("Ketamine blocks the NMDA receptor.", encoding="utf-8")
    result = _run(mini_root, monkeypatch, "extract", str(folder))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (mini_root / "data" / "candidates").glob("*.yaml"))
    assert names == ["src-003.yaml", "src-004.yaml"]
    assert _load(mini_root / "data" / "candidates" / "src-004.yaml")["source"]["original"].endswith("b.html")


def _bad(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("name, content, needle", [
    ("empty.txt", b"", "empty.txt: empty document"),
    ("blank.md", b"  \n\n\t\n", "blank.md: empty document"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary.txt: binary file, not text"),
    ("latin1.txt", "Ketamine\nblocks the\nNMDA r\u00e9ceptor.".encode("latin-1"),
     "latin1.txt:3: not UTF-8 text"),
    ("page.html", b"<html><head><title>T</title><script>var x = 1;</script></head><body><div></div></body></html>",
     "page.html: no main text found in the page"),
    ("report.pdf", b"%PDF-1.4 ...", "report.pdf: unsupported document type '.pdf'"),
    ("README", b"Ketamine blocks the NMDA receptor.", "README: unsupported document type '(none)'"),
])
def test_bad_documents(mini_root, monkeypatch, tmp_path, name, content, needle):
    path = _bad(tmp_path, name, content)
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "extract", str(TXT), str(path))  # a good one first: nothing written
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert needle in result.output
    assert _snapshot(mini_root) == before


def test_a_huge_document_is_refused(mini_root, monkeypatch, tmp_path):
    from kgraph.documents import MAX_BYTES

    path = _bad(tmp_path, "huge.txt", b"Ketamine blocks the NMDA receptor.\n" * (MAX_BYTES // 35 + 1))
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "extract", str(path))
    assert result.exit_code == 3, result.output
    assert f"huge.txt: too large ({path.stat().st_size:,} bytes; the limit is {MAX_BYTES:,})" in result.output
    assert _snapshot(mini_root) == before


def test_missing_paths_and_empty_folders(mini_root, monkeypatch, tmp_path):
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "extract", str(tmp_path / "nope.txt"))
    assert result.exit_code == 3 and "nope.txt: file not found" in result.output
    (tmp_path / "empty").mkdir()
    result = _run(mini_root, monkeypatch, "extract", str(tmp_path / "empty"))
    assert result.exit_code == 3 and "empty: the folder holds no documents" in result.output
    assert _snapshot(mini_root) == before


def test_a_document_already_added_is_refused(mini_root, monkeypatch, tmp_path):
    copy = tmp_path / "alpha-again.txt"
    shutil.copy(mini_root / "corpus" / "alpha.txt", copy)
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "extract", str(copy))
    assert result.exit_code == 3, result.output
    assert "alpha-again.txt: already added: the same text as source 'src-001' (alpha.txt, data/sources.yaml:1)" \
        in result.output
    twice = shutil.copy(TXT, tmp_path / "twice.txt")
    result = _run(mini_root, monkeypatch, "extract", str(TXT), str(twice))
    assert result.exit_code == 3, result.output
    assert "twice.txt: the same document as" in result.output
    assert _snapshot(mini_root) == before


def test_a_broken_pending_candidates_file_is_named(mini_root, monkeypatch):
    folder = mini_root / "data" / "candidates"
    folder.mkdir()
    (folder / "src-003.yaml").write_text("source: [\n", encoding="utf-8")
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "extract", str(TXT))
    assert result.exit_code == 3, result.output
    assert "src-003.yaml:2: malformed YAML" in result.output
    assert _snapshot(mini_root) == before


def test_extract_again_keeps_decisions_and_never_reproposes_rejections(mini_root, monkeypatch, tmp_path):
    doc = tmp_path / "gamma.txt"
    shutil.copy(TXT, doc)
    assert _run(mini_root, monkeypatch, "extract", str(doc)).exit_code == 0
    path = mini_root / "data" / "candidates" / "src-003.yaml"
    first = _load(path)["claims"]
    assert len(first) >= 3
    accept, reject, *rest = [c["id"] for c in first]
    decisions = tmp_path / "d.yaml"
    decisions.write_text(f"claims:\n  {accept}: accept\n  {reject}: reject\n", encoding="utf-8")
    result = _run(mini_root, monkeypatch, "review", "src-003", "--decisions", str(decisions))
    assert result.exit_code == 0, result.output

    # the same document again: the same id, only the undecided candidates, same ids
    result = _run(mini_root, monkeypatch, "extract", str(doc))
    assert result.exit_code == 0, result.output
    assert "(2 decided before, not proposed again)" in result.output
    assert "the same document as the pending src-003" in result.output
    again = [c["id"] for c in _load(path)["claims"]]
    assert again == rest

    # an edited document (one sentence changed): a new version of src-003; the unchanged
    # sentences keep their decisions, the changed one is proposed afresh
    decided = [c for c in first if c["id"] in (accept, reject)]
    changed = next(c for c in first if c["id"] in rest and "PTSD" in c["quote"]
                   and all(d["end"] <= c["start"] or c["end"] <= d["start"] for d in decided))
    text = doc.read_text(encoding="utf-8")
    doc.write_text(text.replace(changed["quote"], changed["quote"].replace("PTSD", "PTSD symptoms"), 1),
                   encoding="utf-8")
    result = _run(mini_root, monkeypatch, "extract", str(doc))
    assert result.exit_code == 0, result.output
    assert "a new version of src-003" in result.output
    edited = [c["id"] for c in _load(path)["claims"]]
    assert accept not in edited and reject not in edited
    assert edited
    assert changed["id"] not in edited  # its sentence is not the same any more
    memory = _load(mini_root / "data" / "candidates" / "src-003.decisions.yaml")
    assert {r["id"]: r["decision"] for r in memory["claims"]} == {accept: "accepted", reject: "rejected"}
    result = _run(mini_root, monkeypatch, "review", "src-003", "--accept-all")
    assert result.exit_code == 0, result.output
    result = _run(mini_root, monkeypatch, "validate")
    assert result.exit_code == 0, result.output
    assert " 0 error(s), 0 warning(s)" in result.output
    # the source record and the stored text follow the new version
    record = _load(mini_root / "data" / "sources.yaml")[-1]
    assert record["id"] == "src-003"
    assert record["sha256"] == hashlib.sha256(doc.read_bytes()).hexdigest()
    assert (mini_root / "data" / "documents" / "src-003.txt").read_bytes() == doc.read_bytes()


def test_a_document_under_review_is_not_training_data(mini_root, monkeypatch, tmp_path):
    """Its unclaimed sentences are not negative examples: the extractor learns from the
    other sources only (the real extractor, watched)."""
    from kgraph.extract import Extractor

    doc = tmp_path / "gamma.txt"
    shutil.copy(TXT, doc)
    assert _run(mini_root, monkeypatch, "extract", str(doc)).exit_code == 0
    first = _load(mini_root / "data" / "candidates" / "src-003.yaml")["claims"][0]["id"]
    decisions = tmp_path / "d.yaml"
    decisions.write_text(f"claims:\n  {first}: accept\n", encoding="utf-8")
    assert _run(mini_root, monkeypatch, "review", "src-003", "--decisions", str(decisions)).exit_code == 0

    seen = []
    real_train = Extractor.train.__func__

    def watched(cls, dataset, vocab, texts):
        seen.append(({c.source for c in dataset.claims}, set(texts)))
        return real_train(cls, dataset, vocab, texts)

    monkeypatch.setattr(Extractor, "train", classmethod(watched))
    assert _run(mini_root, monkeypatch, "extract", str(doc)).exit_code == 0
    assert seen == [({"src-001", "src-002"}, {"src-001", "src-002"})]


def test_several_documents_proposing_the_same_new_entity(mini_root, monkeypatch):
    """Both versions of the article propose Gamma Clinic; once the first review adds it,
    the second review uses it instead of adding it twice."""
    result = _run(mini_root, monkeypatch, "extract", str(TXT), str(HTML))
    assert result.exit_code == 0, result.output
    folder = mini_root / "data" / "candidates"
    shared = ({e["id"] for e in _load(folder / "src-003.yaml")["entities"]}
              & {e["id"] for e in _load(folder / "src-004.yaml")["entities"]})
    assert shared
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    assert result.exit_code == 0, result.output
    entities = [e["id"] for e in _load(mini_root / "data" / "entities" / "all.yaml")]
    assert all(entities.count(eid) <= 1 for eid in shared)  # (one no claim needs is not added)
    assert set(entities) & shared
    result = _run(mini_root, monkeypatch, "validate")
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The real extractor trained once on the mini project."""
    from kgraph.extract import Extractor
    from kgraph.load import load_dataset, load_ontology, vocabulary
    from kgraph.project import Project
    from kgraph.propose import training_texts

    tests = Path(__file__).resolve().parent
    root = tmp_path_factory.mktemp("trained") / "mini"
    shutil.copytree(tests / "fixtures" / "mini", root)
    shutil.copytree(tests.parent / "ontology", root / "ontology")
    project = Project.at(root, corpus_dir=root / "corpus")
    dataset, _ = load_dataset(project)
    vocab = vocabulary(load_ontology(project))
    return project, dataset, vocab, Extractor.train(dataset, vocab, training_texts(project, dataset))


SENTENCES = [s for s in TXT.read_text(encoding="utf-8").splitlines() if s.strip()]


@given(order=st.permutations(SENTENCES), breaks=st.lists(st.sampled_from(["\n", "\n\n", " ", "  ", "\r\n", "\x0c"]),
                                                          min_size=len(SENTENCES), max_size=len(SENTENCES)),
       curly=st.booleans())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_candidate_is_grounded_and_valid_whatever_the_layout(trained, tmp_path, order, breaks, curly):
    """Shuffled sentences, odd line breaks, curly apostrophes: every candidate the real
    extractor and propose() write quotes text[start:end] exactly and passes the checks."""
    from kgraph.candidates import read_candidates, validate_candidates
    from kgraph.propose import (
        candidate_files,
        plan_extraction,
        propose,
        write_candidate_files,
    )

    project, dataset, vocab, extractor = trained
    text = "".join(s + b for s, b in zip(order, breaks))
    if curly:
        text = text.replace("'", "’")
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example (hypothesis replays a failing one)
    doc = folder / "doc.txt"
    doc.write_text(text, encoding="utf-8", newline="")
    planned = plan_extraction(project, [doc], dataset, out=str(folder / "out"))
    result = propose(planned[0], extractor.extract(text, source_id=planned[0].source_id), dataset, vocab)
    assert result.dropped == []  # nothing the checks refuse (propose would leave it out)
    write_candidate_files(candidate_files([result]), folder / ".journal.json")
    if not result.candidates.claims:
        return
    back = read_candidates(planned[0].out)
    assert back.text == text
    for c in back.claims:
        assert text[c["start"]:c["end"]] == c["quote"]
    assert validate_candidates(back, dataset, vocab) == []


#: runs the CLI and kills itself with SIGKILL at a point of its writes (argv: where, journal, --, args)
KILLED = """
import os, signal, sys
import kgraph.export, kgraph.review
where, journal = sys.argv[1], sys.argv[2]
if where == "before-journal":  # the journal is the only file written with write_atomic
    kgraph.export.write_atomic = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
else:  # after the first file renamed once the journal is written
    real = os.replace
    def replace(src, dst):
        real(src, dst)
        if not str(dst).endswith(".review-journal.json") and os.path.exists(journal):
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
from kgraph.cli import main
sys.argv = ["kgraph", *sys.argv[4:]]
main()
"""


def _consistent(folder: Path) -> None:
    """Every candidates file names the sha256 of the text beside it."""
    for path in sorted(folder.glob("*.yaml")):
        text = path.with_suffix(".txt").read_bytes()
        assert _load(path)["source"]["sha256"] == hashlib.sha256(text).hexdigest(), path


@pytest.mark.slow
@pytest.mark.parametrize("where", ["before-journal", "after-first-rename"])
def test_kill_9_during_extract_leaves_the_old_candidates_or_the_new_ones(mini_root, monkeypatch, tmp_path, where):
    import os
    import signal
    import subprocess
    import sys

    folder = mini_root / "data" / "candidates"
    edited = tmp_path / "gamma-clinic.txt"
    shutil.copy(TXT, edited)
    assert _run(mini_root, monkeypatch, "extract", str(edited)).exit_code == 0
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    # the same document, edited: both of its files change
    edited.write_text(TXT.read_text(encoding="utf-8") + "Ketamine can cause a headache.\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    journal = folder / ".review-journal.json"
    proc = subprocess.run([sys.executable, "-c", KILLED, where, str(journal), "--", "extract", str(edited),
                           "--quiet", "--corpus", str(mini_root / "corpus")], cwd=mini_root, env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    visible = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    if where == "before-journal":
        assert visible == before and not journal.exists()  # the old state, whole
    else:
        assert journal.is_file() and visible != before  # a mix on disk, with the journal to finish it
    # the next run finishes (or ignores) what the killed one left, and its result is whole
    result = _run(mini_root, monkeypatch, "extract", str(edited))
    assert result.exit_code == 0, result.output
    assert not journal.exists()
    _consistent(folder)
    assert (folder / "src-003.txt").read_text(encoding="utf-8").endswith("Ketamine can cause a headache.\n")
