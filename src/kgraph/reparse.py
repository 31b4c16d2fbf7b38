"""Read a build back before it is published (issue 15: never publish a corrupt graph).

Every RDF file of a build is parsed again with Oxigraph -- a second implementation, so
that rdflib's writer is not checked by rdflib's own reader -- and must hold exactly the
triples (or, for TriG, the quads) that were built. The XML and JSON files must be
well-formed. This takes a few milliseconds per thousand triples.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import xml.parsers.expat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kgraph import linefiles
from kgraph.errors import OutputError

XML_SUFFIXES = (".rdf", ".graphml", ".xml")
#: file suffix -> Oxigraph format name, and whether it holds named graphs
RDF_SUFFIXES = {".nt": ("N_TRIPLES", False), ".ttl": ("TURTLE", False), ".rdf": ("RDF_XML", False),
                ".jsonld": ("JSON_LD", False), ".trig": ("TRIG", True)}
#: RDF files of a build that describe the graph rather than hold it (kgraph.void): they
#: must parse, but hold their own triples
DESCRIPTIONS = {"void.ttl"}
#: Oxigraph format name -> whether it holds named graphs
NAMED_FORMATS = dict(RDF_SUFFIXES.values())


@dataclass(frozen=True)
class Expected:
    """The statements every RDF file of a build must hold, as :func:`kgraph.store.sorted_lines`
    (their distinct N-Quads lines, sorted and joined, in memory or in a file of the build's
    scratch folder), or None (blank nodes)."""

    quads: bytes | Path | None = None
    triples: bytes | Path | None = None
    #: the quads graph by graph, as the TriG file is written (:func:`kgraph.store.graph_major_lines`)
    graph_major: bytes | Path | None = None

    @functools.cached_property
    def quads_sha256(self) -> str | None:
        return None if self.quads is None else linefiles.sha256(self.quads)

    @functools.cached_property
    def triples_sha256(self) -> str | None:
        return None if self.triples is None else linefiles.sha256(self.triples)

    @functools.cached_property
    def graph_major_sha256(self) -> str | None:
        return None if self.graph_major is None else linefiles.sha256(self.graph_major)

    @functools.cached_property
    def triples_multiset(self) -> str | None:
        return None if self.triples is None else multiset_digest(
            line for chunk in linefiles.chunks(self.triples, linefiles.FILE_CHUNK) for line in chunk.split(b"\n"))

    def file_sha256(self, name: str) -> str | None:
        """The digest :func:`_file_digest` gives of a file of Oxigraph format ``name`` that
        holds what was built: of its lines in the order the file was written in (TriG graph
        by graph, the others as the triples); JSON-LD's, whatever their order
        (:func:`multiset_digest`)."""
        if name == "JSON_LD":
            return self.triples_multiset
        return self.graph_major_sha256 if NAMED_FORMATS[name] else self.triples_sha256


def multiset_digest(lines: Iterable[bytes]) -> str:
    """A digest of the non-empty ``lines`` that does not depend on their order: their number
    and the sum of their BLAKE2b digests. It compares a file whose parser gives its
    statements in another order than they were built in (JSON-LD) without sorting them
    (at x1000 the read-back of the JSON-LD sorted 14M lines: 9.9 GB)."""
    total, count = 0, 0
    blake2b = hashlib.blake2b
    for line in lines:
        if line:
            total += int.from_bytes(blake2b(line, digest_size=32).digest(), "big")
            count += 1
    return f"{count}:{total % (1 << 256):064x}"


def expected_statements(quads=None) -> Expected:
    """What :func:`check_build_folder` compares the files with, from the built quads
    (pyoxigraph) or their :class:`kgraph.store.DatasetLines`: made before the build
    publishes, the quads themselves need not be kept while the files are read back (1.4M
    quads at x100: 0.7 GB; their lines, 0.2 GB)."""
    import pyoxigraph

    from kgraph.store import DatasetLines, dataset_lines, graph_major_lines

    if quads is None:
        return Expected()
    lines = quads if isinstance(quads, DatasetLines) else dataset_lines(quads)
    # "_:" may be inside a literal: only a parse tells
    if linefiles.contains(lines.triples, b"_:") and any(
            isinstance(t, pyoxigraph.BlankNode)
            for q in pyoxigraph.parse(**linefiles.parse_input(lines.triples), format=pyoxigraph.RdfFormat.N_TRIPLES)
            for t in (q.subject, q.object)):
        return Expected()
    return Expected(lines.quads, lines.triples,
                    lines.graph_major if lines.graph_major is not None else graph_major_lines(lines))


def check_build_folder(folder: Path, *, triples: int, quads: int, expected=None,
                       count: Callable[[int, int, str], None] | None = None,
                       read_back: ReadBack | None = None) -> None:
    """Raise :class:`OutputError` unless every file in ``folder`` reads back whole.

    ``triples`` is the size of the union graph (N-Triples, Turtle, RDF/XML, JSON-LD must
    hold that many distinct triples), ``quads`` that of the dataset (TriG). ``expected``,
    the built quads (pyoxigraph) or their :func:`expected_statements`, makes the check exact: every file must hold exactly those
    terms (a literal whose CR became LF has the same count). Without blank nodes only:
    their labels differ from file to file. ``read_back`` (made with the same ``expected``)
    has the large files that were given to it as they were written read by workers already.
    """
    statements = expected if isinstance(expected, Expected) else expected_statements(expected)
    files = sorted(path for path in folder.iterdir() if path.is_file())
    # the large RDF files are parsed by worker processes, beside this one (x100: 5 files of
    # 70-235 MB, 3 s each); each gives the digest of its lines, compared with that of what
    # was built, and this process reads a file itself only when they differ
    workers = read_back if read_back is not None else ReadBack(statements)
    try:
        workers.finishing()
        for path in files:
            workers.written(path)
        for done, path in enumerate(files):
            if count is not None:
                count(done, len(files), "files")
            digest = workers.digest(path)
            if digest is not None:
                if digest == ("digest", statements.file_sha256(RDF_SUFFIXES[path.suffix][0])):
                    if path.suffix in XML_SUFFIXES:
                        _check_xml_file(path)
                    continue
                if digest[0] == "unreadable":
                    raise _unreadable(path, digest[1])
            _check_file(path, statements, triples, quads)
    finally:
        workers.close()
    if count is not None:
        count(len(files), len(files), "files")


#: RDF files at least this large are read back by worker processes (:class:`ReadBack`)
PARALLEL_BYTES = 16 * 2**20


class ReadBack:
    """The digests (:func:`_file_digest`) of a build's large RDF files, each worked out by a
    fresh interpreter (``python -c``: not multiprocessing, whose spawned workers import the
    caller's main module again, and a fork of a build holding gigabytes and threads is
    neither cheap nor safe) started as soon as the file is written (:meth:`written`): the
    reading of the first files goes on while the build writes the others (at x100 the files
    took 55 s to write, and their read-back 26 s after that). While the build writes, one
    worker runs at a time beside it on a machine of two cores (more on more); once it reads
    the folder back (:meth:`finishing`), one a core."""

    def __init__(self, expected: Expected) -> None:
        self._statements = expected
        self._cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._limit = max(1, self._cores - 1)
        self._queued: list[Path] = []
        self._digests: dict[Path, _Digest] = {}

    def written(self, path: Path) -> None:
        """``path`` is written whole: read it back by a worker if it is a large RDF file."""
        if self._cores > 1 and path not in self._digests and path not in self._queued and self._large(path):
            self._queued.append(path)
            self._start()

    def finishing(self) -> None:
        """Every file is written: a worker a core from now on."""
        self._limit = self._cores
        self._start()

    def digest(self, path: Path) -> tuple[str, str] | None:
        """The worker's digest of ``path``, or None when no worker reads it."""
        if path in self._queued:
            self._queued.remove(path)
            self._digests[path] = _Digest(_start_worker(path))
        found = self._digests.get(path)
        if found is None:
            return None
        try:
            return found.result()
        finally:
            self._start()

    def close(self) -> None:
        """Stop the workers still running (the build failed or was interrupted)."""
        self._queued.clear()
        for found in self._digests.values():
            found.cancel()

    def _large(self, path: Path) -> bool:
        if path.suffix not in RDF_SUFFIXES or path.name in DESCRIPTIONS:
            return False
        named = RDF_SUFFIXES[path.suffix][1]
        return ((self._statements.quads if named else self._statements.triples) is not None
                and path.stat().st_size >= PARALLEL_BYTES)

    def _start(self) -> None:
        while self._queued and sum(1 for d in self._digests.values() if d.running()) < self._limit:
            path = self._queued.pop(0)
            self._digests[path] = _Digest(_start_worker(path))


def _start_worker(path: Path):
    """A worker (:func:`_worker`) reading ``path`` back."""
    import subprocess
    import sys

    import kgraph

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(kgraph.__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])])}
    job = json.dumps([[str(path), RDF_SUFFIXES[path.suffix][0]]])
    return subprocess.Popen([sys.executable, "-c", "from kgraph.reparse import _worker; _worker()", job],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)


class _Digest:
    """The digest of one file from a worker process (:func:`_worker`)."""

    def __init__(self, process) -> None:
        self.process = process
        self._result: tuple[str, str] | None = None

    def running(self) -> bool:
        return self._result is None and self.process.poll() is None

    def result(self) -> tuple[str, str]:
        if self._result is None:
            out, _ = self.process.communicate()
            if self.process.returncode != 0:
                raise RuntimeError(f"the read-back worker failed (exit status {self.process.returncode})")
            self._result = tuple(json.loads(out)[0])
        return self._result

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _worker() -> None:
    """The worker of :func:`_digests_in_workers`: prints the digests of the files named on
    its command line as JSON."""
    import sys

    print(json.dumps([_file_digest(path, name) for path, name in json.loads(sys.argv[1])]))


def _file_digest(path: str, name: str) -> tuple[str, str]:
    """("digest", SHA-256 of the file's statements' N-Quads lines), or ("unreadable", why)
    when it does not parse. The lines are those of :func:`_read_statements` for JSON-LD
    (sorted); for the other formats, they are taken in the order the parser gives them,
    a batch at a time, which is the order the build wrote them in (compared with
    :meth:`Expected.file_sha256`): no file is held in memory (x1000: 2.4 GB of
    N-Triples, and the sort of 14M lines). Any other order, or any difference, makes the
    build read the file itself and compare the statements as sets."""
    import pyoxigraph

    try:
        if name == "JSON_LD":
            return "digest", _jsonld_digest(path)
        digest = hashlib.sha256()
        statements = pyoxigraph.parse(path=path, format=getattr(pyoxigraph.RdfFormat, name), base_iri=BASE)
        for batch in _batches(statements, DIGEST_BATCH):
            digest.update(pyoxigraph.serialize(batch, format=pyoxigraph.RdfFormat.N_QUADS))
        return "digest", digest.hexdigest()
    except (SyntaxError, ValueError) as exc:
        return "unreadable", str(exc)


def _jsonld_digest(path: str) -> str:
    """:func:`multiset_digest` of the statements of a JSON-LD file, read as
    :func:`_read_statements` reads kgraph's own, whole node objects a few megabytes at a
    time under the document's head (neither the file nor its lines are held);
    :class:`SyntaxError` or :class:`ValueError`, as the whole document gives it, if it does
    not parse."""
    import pyoxigraph

    from kgraph.store import statement_lines

    fmt = pyoxigraph.RdfFormat.JSON_LD
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        first = fh.read(1 << 20)
        head_end = first.find(JSONLD_GRAPH)
        fh.seek(max(size - len(JSONLD_END), 0))
        if head_end < 0 or fh.read() != JSONLD_END or head_end + len(JSONLD_GRAPH) > size - len(JSONLD_END):
            return _whole_digest(path, "JSON_LD")
        head = first[:head_end + len(JSONLD_GRAPH)]

        def lines() -> Iterator[bytes]:
            fh.seek(len(head))
            left, rest = size - len(JSONLD_END) - len(head), b""
            while True:
                piece = fh.read(min(JSONLD_PIECE, left))
                left -= len(piece)
                rest += piece
                if left > 0:
                    cut = rest.rfind(JSONLD_NODES)
                    if cut < 0:
                        continue
                    nodes, rest = rest[:cut], rest[cut + len(JSONLD_NODES):]
                else:
                    nodes, rest = rest, b""
                yield from statement_lines(pyoxigraph.parse(head + nodes + JSONLD_END, format=fmt, base_iri=BASE))
                if left <= 0:
                    return

        try:
            return multiset_digest(lines())
        except (SyntaxError, ValueError):
            pass
    # the error as the whole document gives it (its line and column are the file's)
    return _whole_digest(path, "JSON_LD")


def _whole_digest(path: str, name: str) -> str:
    """:func:`multiset_digest` of the statements of a file parsed whole (the parser may hold
    the document; the statements are not)."""
    import pyoxigraph

    from kgraph.store import statement_lines

    statements = pyoxigraph.parse(path=path, format=getattr(pyoxigraph.RdfFormat, name), base_iri=BASE)
    return multiset_digest(line for quads in _batches(statements, DIGEST_BATCH) for line in statement_lines(quads))


#: how much of a JSON-LD file :func:`_jsonld_digest` reads at a time
JSONLD_PIECE = 4 << 20


def _batches(statements, size: int) -> Iterator[list]:
    batch = []
    for statement in statements:
        batch.append(statement)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


#: the base IRI files are read back with
BASE = "https://w3id.org/kgraph/"
#: statements serialised at a time by :func:`_file_digest`
DIGEST_BATCH = 100_000


def _check_file(path: Path, statements: Expected, triples: int, quads: int) -> None:
    """One file of :func:`check_build_folder`, read in this process."""
    data = path.read_bytes()
    if path.suffix in XML_SUFFIXES:
        _check_xml(path, data)
    if path.suffix in RDF_SUFFIXES:
        name, named = RDF_SUFFIXES[path.suffix]
        exact = statements.quads if named else statements.triples
        exact_sha256 = statements.quads_sha256 if named else statements.triples_sha256
        try:
            # a triple format puts every quad in the default graph: its N-Quads lines
            # are the N-Triples lines of its triples
            read = _read_statements(data, name, blank_nodes=exact is None)
        except (SyntaxError, ValueError) as exc:
            raise _unreadable(path, str(exc)) from None
        if path.name in DESCRIPTIONS or (exact is not None and hashlib.sha256(read).hexdigest() == exact_sha256):
            # a description of the dataset (VoID), not the graph; or the same lines, sorted:
            # compared by their digests
            return
        # the slow path, on a mismatch only (or blank nodes): the statements as sets
        read_set, wanted = _lines(read), quads if named else triples
        if len(read_set) != wanted:
            raise _unreadable(path, f"it reads back as {len(read_set)} {'quads' if named else 'triples'}, "
                                    f"not the {wanted} built")
        if exact is not None:
            differ = read_set - _lines(linefiles.read_all(exact))
            if differ:
                example = min(differ).decode("utf-8", "replace").removesuffix(" .")
                raise _unreadable(path, f"it reads back {len(differ)} statement(s) that were not built, "
                                        f"e.g. {example[:200]}")
    elif path.suffix in (".json", ".cyjs"):
        try:
            json.loads(data)
        except ValueError as exc:
            raise _unreadable(path, f"malformed JSON: {exc}") from None


#: between two node objects of the "@graph" array of kgraph's JSON-LD (json.dumps, indent 2:
#: a string holds no raw line break, so these lines are the array's and nothing else's)
JSONLD_NODES = b"\n    },\n    {\n"
JSONLD_GRAPH = b'\n  "@graph": [\n    {\n'
JSONLD_END = b"\n    }\n  ]\n}\n"
#: node objects per parse: Oxigraph's JSON-LD parser holds the whole document it is given
#: (x10: 110 MB for an 11 MB file; the streaming profile wants "@type" before "@id")
JSONLD_BATCH = 5000


def _read_statements(data: bytes, name: str, *, blank_nodes: bool = False) -> bytes:
    """The statements of an RDF file as :func:`kgraph.store.sorted_lines`; :class:`SyntaxError` if
    it does not parse. kgraph's own JSON-LD, without blank nodes (their labels hold within
    one document), is read a few thousand node objects at a time, each batch under the
    document's own head: its node objects share that context and nothing else, so the
    statements are those of the whole, and each batch parses only if the whole does."""
    import pyoxigraph

    from kgraph.store import sorted_block, sorted_lines, statement_lines

    fmt = getattr(pyoxigraph.RdfFormat, name)
    head_end = data.find(JSONLD_GRAPH) if name == "JSON_LD" and not blank_nodes else -1
    if head_end < 0 or not data.endswith(JSONLD_END):
        return sorted_lines(pyoxigraph.parse(data, format=fmt, base_iri=BASE))
    head = data[:head_end + len(JSONLD_GRAPH)]
    nodes = data[len(head):-len(JSONLD_END)].split(JSONLD_NODES)
    lines: list[bytes] = []
    for start in range(0, len(nodes), JSONLD_BATCH):
        batch = head + JSONLD_NODES.join(nodes[start:start + JSONLD_BATCH]) + JSONLD_END
        try:
            lines += statement_lines(pyoxigraph.parse(batch, format=fmt, base_iri=BASE))
        except (SyntaxError, ValueError):
            del lines
            # the error as the whole document gives it (its line and column are the file's)
            return sorted_lines(pyoxigraph.parse(data, format=fmt, base_iri=BASE))
    # not made distinct: a file is compared as it is in the fast path; duplicates, which
    # are rare, take the slow one
    return sorted_block(lines)


def _lines(statements: bytes | None) -> set[bytes]:
    return set(statements.split(b"\n")) - {b""} if statements else set()


def _check_xml(path: Path, data: bytes) -> None:
    """Well-formed (expat, the reader behind most tools) and no raw CR: every XML reader
    but Oxigraph's turns one into LF, so a value holding one would not come back whole."""
    _expat(path, [data])
    if b"\r" in data:
        line = data.count(b"\n", 0, data.index(b"\r")) + 1
        raise _unreadable(path, f"a raw carriage return at line {line}, which XML readers turn into a line "
                                "feed (it must be written &#13;)")


def _check_xml_file(path: Path) -> None:
    """:func:`_check_xml` of a file read a megabyte at a time."""
    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while chunk := fh.read(linefiles.FILE_CHUNK):
                if b"\r" in chunk:
                    _check_xml(path, path.read_bytes())  # says where
                yield chunk

    _expat(path, chunks())


def _expat(path: Path, chunks: Iterable[bytes]) -> None:
    """Raise unless the XML in ``chunks`` is well-formed (expat)."""
    parser = xml.parsers.expat.ParserCreate()
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError as exc:
        raise _unreadable(path, f"malformed XML: {exc}") from None


def _unreadable(path: Path, detail: str) -> OutputError:
    return OutputError(f"kgraph wrote a {path.name} that does not read back ({detail}); nothing was published",
                       "The previous build is still in place. This is a bug in kgraph: please report it "
                       "with the data that changed.")
