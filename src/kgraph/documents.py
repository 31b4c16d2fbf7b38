"""Read a new document for ``kgraph extract``: the text that quotes and offsets refer to.

A plain-text document (``.txt``, ``.md``, ``.text``) is its own text, byte for byte. A
saved web page (``.html``, ``.htm``) is reduced to its main text by trafilatura (menus,
footers and other boilerplate dropped); that text -- not the HTML -- is what the
candidates' offsets point into and what ``kgraph review`` stores as
``data/documents/<source-id>.txt``, so ``kgraph validate`` checks quotes against exactly
the text the extractor read. A folder stands for the documents in it.

Where a source's file lives (:func:`source_path`): a ``file`` of ``documents/<name>`` is
in the data folder (added by ``kgraph review``); any other ``file`` is a plain name in the
corpus folder. Nothing else is allowed, so no record can point outside those folders.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from kgraph.errors import DataError

#: The largest document read (bytes). A clinic article is 4-15 KB; 5 MB is a saved page
#: with inlined scripts and images. Anything bigger is most likely not an article.
MAX_BYTES = 5_000_000
TEXT_SUFFIXES = (".txt", ".text", ".md")
HTML_SUFFIXES = (".html", ".htm")
SUPPORTED = TEXT_SUFFIXES + HTML_SUFFIXES
#: The folder (inside the data folder) of documents added with kgraph review.
DOCUMENTS_DIR = "documents"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DocumentError(DataError):
    """A document cannot be read as text: missing, empty, binary, not UTF-8, too big ..."""


@dataclass(frozen=True)
class Document:
    """A document as read: its text and where it came from."""

    path: Path
    kind: str  # "text" or "html"
    text: str
    #: sha256 of the text as stored (UTF-8): the ``sha256`` of its source record
    sha256: str
    #: sha256 of the file as given (the same as ``sha256`` for plain text)
    original_sha256: str
    title: str | None = None
    publisher: str | None = None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def collect_documents(paths: list[Path]) -> list[Path]:
    """The documents named: files as given, folders as their supported files (sorted,
    hidden files skipped). Refuses a missing path, an unsupported file named explicitly,
    and a folder without documents."""
    if not paths:
        raise DocumentError("no document given", hint="Example: kgraph extract article.html")
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*")
                            if p.is_file() and p.suffix.lower() in SUPPORTED
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not inside:
                raise DocumentError("the folder holds no documents", path=path,
                                    hint=f"Put {', '.join(SUPPORTED)} files in it.")
            found.extend(inside)
        elif not path.exists():
            raise DocumentError("file not found", path=path, hint="Check the path.")
        else:
            _check_suffix(path)
            found.append(path)
    seen: set[Path] = set()
    unique = []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in SUPPORTED:
        raise DocumentError(f"unsupported document type '{path.suffix or '(none)'}'", path=path,
                            hint=f"Give plain text ({', '.join(TEXT_SUFFIXES)}) or a saved web page "
                                 f"({', '.join(HTML_SUFFIXES)}); save other formats as text first.")


def read_document(path: Path, *, max_bytes: int = MAX_BYTES) -> Document:
    """Read one document; every reason it cannot be used is a :class:`DocumentError`."""
    _check_suffix(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(f"too large ({size:,} bytes; the limit is {max_bytes:,})", path=path,
                                hint="Split it into articles, or save only the article's text.")
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}", path=path, hint="Check the path and permissions.") from None
    if not raw.strip():
        raise DocumentError("empty document", path=path, hint="Save the article's text into it, or leave it out.")
    if b"\x00" in raw[:65536]:
        raise DocumentError("binary file, not text", path=path,
                            hint="Give plain text or a saved web page; convert PDFs and word files to text first.")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DocumentError(f"not UTF-8 text (byte {exc.start}: {exc.reason})", path=path, line=line,
                            hint="Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).") from None
    digest = hashlib.sha256(raw).hexdigest()
    if path.suffix.lower() in TEXT_SUFFIXES:
        return Document(path=path, kind="text", text=decoded, sha256=digest, original_sha256=digest,
                        title=_first_line(decoded))
    text, title, publisher = _main_text(decoded, path)
    return Document(path=path, kind="html", text=text, sha256=sha256_text(text), original_sha256=digest,
                    title=title, publisher=publisher)


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return None


def _main_text(html: str, path: Path) -> tuple[str, str | None, str | None]:
    """The main text of a saved page (trafilatura), its title and its site's name."""
    import trafilatura  # slow to import: only for HTML

    # Fixed options, so that the same page always gives the same text (and offsets).
    text = trafilatura.extract(html, output_format="txt", include_comments=False, include_tables=True,
                               include_links=False, include_images=False, deduplicate=False,
                               favor_precision=False, favor_recall=False, with_metadata=False)
    if not text or not text.strip():
        raise DocumentError("no main text found in the page", path=path,
                            hint="Save the article as plain text and extract that instead.")
    meta = trafilatura.extract_metadata(html)
    title = (meta.title or "").strip() or None if meta else None
    site = (meta.sitename or "").strip() or None if meta else None
    return text.strip() + "\n", title, site


def safe_file_name(name: str) -> bool:
    """Whether ``name`` is a plain file name (no folder, no ``..``, nothing hidden)."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def source_path(file: str, corpus_dir: Path | None, data_dir: Path | None) -> Path | None:
    """Where a source record's ``file`` lives, or None when the name is not allowed:
    ``documents/<name>`` in the data folder, a plain ``<name>`` in the corpus folder."""
    folder, _, name = file.rpartition("/")
    if not safe_file_name(name):
        return None
    if folder == DOCUMENTS_DIR:
        return data_dir / DOCUMENTS_DIR / name if data_dir is not None else None
    if folder or corpus_dir is None:
        return None
    return corpus_dir / name
