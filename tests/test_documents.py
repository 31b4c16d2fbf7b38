"""Reading new documents: plain text as is, saved pages reduced to their main text, and
where a source's file may live (no escape from the corpus and data folders)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kgraph.documents import (
    MAX_BYTES,
    DocumentError,
    collect_documents,
    read_document,
    safe_file_name,
    source_path,
)

DOCS = Path(__file__).resolve().parent / "fixtures" / "extract-docs"


def test_plain_text_is_kept_byte_for_byte():
    doc = read_document(DOCS / "gamma-clinic.txt")
    raw = (DOCS / "gamma-clinic.txt").read_bytes()
    assert doc.kind == "text"
    assert doc.text.encode("utf-8") == raw
    assert doc.sha256 == doc.original_sha256 == hashlib.sha256(raw).hexdigest()
    assert doc.title == "Gamma Clinic: Ketamine for PTSD, Explained"


def test_a_saved_page_gives_its_main_text_title_and_site():
    doc = read_document(DOCS / "gamma-clinic.html")
    assert doc.kind == "html"
    assert doc.title == "Ketamine for PTSD, Explained"
    assert doc.publisher == "Gamma Clinic"
    assert "Ketamine blocks the NMDA receptor." in doc.text
    assert "Dr. Jane Rivera, medical director of Gamma Clinic, says “ketamine may help" in doc.text
    for boilerplate in ("Home", "Services", "Contact us", "All rights reserved", "newsletter", "<"):
        assert boilerplate not in doc.text
    assert doc.sha256 == hashlib.sha256(doc.text.encode("utf-8")).hexdigest() != doc.original_sha256
    # the same page always gives the same text (offsets depend on it)
    assert read_document(DOCS / "gamma-clinic.html").text == doc.text


def test_a_folder_stands_for_its_documents(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("z.txt", "a.md", "b/page.htm", "b/page.HTML", "skip.pdf", ".hidden.txt"):
        (tmp_path / name).write_text("Ketamine.", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("no", encoding="utf-8")
    found = collect_documents([tmp_path, tmp_path / "z.txt"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.md", "b/page.HTML", "b/page.htm", "z.txt"]


@pytest.mark.parametrize("name, content, message, line", [
    ("e.txt", b"", "empty document", None),
    ("e.txt", b"\n \n", "empty document", None),
    ("b.txt", b"abc\x00def", "binary file, not text", None),
    ("l.txt", b"one\ntwo\nthr\xe9e\n", "not UTF-8 text (byte 11", 3),
    ("x.docx", b"PK\x03\x04", "unsupported document type '.docx'", None),
    ("s.html", b"<html><head><script>x()</script></head><body></body></html>", "no main text found", None),
])
def test_bad_documents_are_refused_with_file_and_line(tmp_path, name, content, message, line):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError) as caught:
        read_document(path)
    assert message in caught.value.message
    assert caught.value.line == line
    assert str(path) in str(caught.value)
    assert caught.value.hint


def test_the_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 101)
    with pytest.raises(DocumentError, match=r"too large \(101 bytes; the limit is 100\)"):
        read_document(path, max_bytes=100)
    assert read_document(path, max_bytes=101).text == "a" * 101
    assert MAX_BYTES == 5_000_000  # documented in data/README.md


@pytest.mark.parametrize("file, where", [
    ("000_05678d847b09dd0d.txt", "corpus/000_05678d847b09dd0d.txt"),
    ("documents/src-005.txt", "data/documents/src-005.txt"),
    ("../secret.txt", None),
    ("documents/../../secret.txt", None),
    ("/etc/passwd", None),
    ("sub/file.txt", None),
    ("documents/.hidden", None),
    ("documents/a/b.txt", None),
    ("", None),
])
def test_source_files_stay_inside_the_corpus_and_data_folders(tmp_path, file, where):
    found = source_path(file, tmp_path / "corpus", tmp_path / "data")
    assert (found.relative_to(tmp_path).as_posix() if found else None) == where


def test_safe_file_names():
    assert safe_file_name("src-005.txt")
    assert not safe_file_name("..")
    assert not safe_file_name("a..b")
    assert not safe_file_name(".x")
    assert not safe_file_name("a/b")


@pytest.mark.parametrize("file, message", [
    ("../data/sources.yaml", "file '../data/sources.yaml' climbs out of the corpus folder with '..'"),
    ("sub/beta.txt", "file 'sub/beta.txt' is not allowed"),
    ("documents/../beta.txt", "file 'documents/../beta.txt' climbs out of the corpus folder with '..'"),
    ("documents/link.txt", "documents/link.txt is a link to a file outside its folder"),
])
def test_validate_refuses_a_source_file_outside_the_folders(mini_root, monkeypatch, file, message):
    from typer.testing import CliRunner

    from kgraph.cli import app

    (mini_root / "data" / "documents").mkdir()
    (mini_root / "data" / "documents" / "link.txt").symlink_to(mini_root / "corpus" / "beta.txt")
    sources = mini_root / "data" / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8").replace("file: beta.txt", f"file: {file}"),
                       encoding="utf-8")
    monkeypatch.chdir(mini_root)
    result = CliRunner().invoke(app, ["validate", "--corpus", str(mini_root / "corpus")])
    assert result.exit_code == 3
    assert "data/sources.yaml:6" in result.output
    assert f"source 'src-002': {message}" in result.output
