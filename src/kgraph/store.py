"""The built graph as a persistent Oxigraph store on disk, and deterministic serialisations.

``output/store`` is a symbolic link to the store directory of the latest build
(``output/.store-<id>``). A build writes a fresh store into ``output/.store-tmp-<pid>-<id>``
with Oxigraph's bulk loader, renames it to ``.store-<id>`` once complete, then swaps the
link atomically (a new link renamed over the old one). A build killed at any point
therefore leaves ``output/store`` pointing at the old store or at the new one, never at a
half-written one; the leftovers (unfinished temporary stores, stores no longer linked)
are removed by the next build. The store of the previous build is kept one build longer,
for a server that still has it open.

Layout of the store (issue 10):

* the **default graph** holds the union of every named graph, as one set: the graph that
  ``kgraph query`` answers over (a triple stated by two sources is there once, so COUNT and
  DISTINCT-free answers equal rdflib's over the union graph);
* the **named graphs** are those of ``kgraph.trig``: ``kgr:graph/ontology``,
  ``kgr:graph/entities``, one ``kgr:graph/<source>`` per source, and
  :data:`CATALOG_GRAPH` for what the TriG file keeps in its default graph (which named
  graph holds which source's claims), so that ``GRAPH ?g`` reaches every triple.

``kgraph-store.json`` inside the store directory records what was loaded (the inputs'
fingerprint, the number of triples per graph) and is written before the store is linked.

Opening is :func:`open_store`: ``Store.read_only`` takes milliseconds, whatever the size.

Serialisation (:func:`serialize_triples`, :func:`serialize_quads`) uses Oxigraph's
serialisers, fed in one order of our own (:func:`triple_key`), so the same graph always
gives the same bytes. N-Triples and N-Quads are sorted line by line, which gives exactly
the bytes of :func:`kgraph.export.serialize_graph` for N-Triples.
"""

from __future__ import annotations

import bisect
import functools
import io
import itertools
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyoxigraph as ox

from kgraph.errors import KgraphError, OutputError
from kgraph.linefiles import BlockFile, Lines, Scratch, count_lines, merge, parse_input, read_all
from kgraph.linefiles import chunks as line_chunks
from kgraph.publish import Streamed, random_hex, removed_on_failure

if TYPE_CHECKING:
    from rdflib import Dataset as RDFDataset

    from kgraph.buildinfo import InputFile

STORE_LINK = "store"
STORE_PREFIX = ".store-"
TMP_PREFIX = ".store-tmp-"
INFO_FILE = "kgraph-store.json"
#: Bumped when the layout of the store changes: an older store is then rebuilt, not read.
STORE_FORMAT = 1
#: The named graph holding what kgraph.trig keeps in its default graph.
CATALOG_GRAPH = "https://w3id.org/kgraph/id/graph/catalog"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


class StoreError(KgraphError):
    """The store in the output folder is missing, unreadable or from another kgraph."""


#: where a build keeps its --reason closures (N-Triples), beside its store
CLOSURE_DIR = ".closures"
#: quads per call of Oxigraph's bulk loader: pyoxigraph gathers all the quads of a call in
#: memory before loading them (600k quads: 530 MB at once, 190 MB in batches of 100k, as fast)
BULK_BATCH = 100_000


@dataclass(frozen=True)
class StoreInfo:
    """What ``kgraph-store.json`` records about one store."""

    path: Path
    #: fingerprint of the build's inputs (see :func:`kgraph.buildinfo.fingerprint`)
    inputs_sha256: str
    #: triples per graph: "" is the default graph (the union), else the named graph's IRI
    counts: dict[str, int]
    #: each input file's digest and stat when the build read it, so that a reading command
    #: hashes only the files whose stat changed since (:func:`is_current`)
    inputs: tuple[InputFile, ...] = ()

    @property
    def triples(self) -> int:
        """Triples of the union (the default graph)."""
        return self.counts.get("", 0)


# --------------------------------------------------------------------------- terms

def term_to_ox(term: Any) -> Any:
    """An rdflib term as a pyoxigraph term."""
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


def term_from_ox(term: Any) -> Any:
    """A pyoxigraph term as an rdflib term (plain literals stay plain, as rdflib makes them).

    Oxigraph keeps xsd:decimal values in XSD 1.1 canonical form ("8" for "8.0"); they come
    back in the form kgraph writes (:func:`kgraph.build.decimal_literal`: "8.0"), so that the
    store answers with the very terms of the files.
    """
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return Literal(term.value)
        if datatype == XSD_DECIMAL:
            return Literal(kgraph_decimal(term.value), datatype=URIRef(datatype))
        return Literal(term.value, datatype=URIRef(datatype))
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    raise TypeError(f"not an RDF term: {term!r}")


def kgraph_decimal(text: str) -> str:
    """A decimal's lexical form as kgraph writes it: at least one digit after the point,
    no trailing zeros beyond it ("8" and "8.00" give "8.0")."""
    from decimal import Decimal, InvalidOperation

    try:
        formatted = format(Decimal(text), "f")
    except InvalidOperation:
        return text
    if "." not in formatted:
        return formatted + ".0"
    formatted = formatted.rstrip("0")
    return formatted + "0" if formatted.endswith(".") else formatted


def quads_from_dataset(ds: RDFDataset) -> Iterator[ox.Quad]:
    """The quads of an rdflib dataset as pyoxigraph quads (the default graph as DefaultGraph).

    Terms repeat a lot (every claim names its predicate, source and evidence kind): each
    distinct rdflib term is converted once.
    """
    for _, quads in _graphs_quads(ds):
        yield from quads


def _graphs_quads(ds: RDFDataset) -> Iterator[tuple[bool, Iterator[ox.Quad]]]:
    """Each graph of ``ds`` as (the default graph?, its quads as pyoxigraph quads), with one
    memo of converted terms for them all."""
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

    conv = functools.cache(term_to_ox)  # this call's own memo: freed with it

    # graph by graph: Dataset.quads works out every triple's graphs one by one (25% slower)
    for graph in ds.graphs():
        name = graph.identifier
        default = name is None or name == DATASET_DEFAULT_GRAPH_ID
        yield default, _quads(None if default else name, graph, conv)


def _quads(name: Any, graph: Any, conv: Callable[[Any], Any]) -> Iterator[ox.Quad]:
    """The triples of an rdflib graph as pyoxigraph quads of graph ``name`` (None: the default)."""
    target = ox.DefaultGraph() if name is None else conv(name)
    return (ox.Quad(conv(s), conv(p), conv(o), target) for s, p, o in graph)


def part_block(name: Any, graph: Any) -> bytes:
    """The triples of one rdflib graph (a part of the build's, :func:`kgraph.build.graph_parts`)
    as the sorted, distinct N-Quads lines of graph ``name`` (None: the default graph): a
    block of :func:`lines_of_blocks`."""
    return sorted_block(statement_lines(_quads(name, graph, functools.cache(term_to_ox))), distinct=True)


def store_quads(quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
    """The quads to load into the store: every named graph as given, the default graph's
    triples moved to :data:`CATALOG_GRAPH`, and every triple into the default graph too,
    which becomes the union (the store is a set: a triple of two graphs is there once, with
    no set of our own in memory)."""
    catalog = ox.NamedNode(CATALOG_GRAPH)
    default = ox.DefaultGraph()
    for quad in quads:
        if isinstance(quad.graph_name, ox.DefaultGraph):
            yield ox.Quad(quad.subject, quad.predicate, quad.object, catalog)
        else:
            yield quad
        yield ox.Quad(quad.subject, quad.predicate, quad.object, default)


# --------------------------------------------------------------------------- writing

def write_store(out_dir: Path, quads: Iterable[ox.Quad], *, inputs_sha256: str = "",
                inputs: Iterable[InputFile] = (), progress: Callable[[int], None] | None = None) -> StoreInfo:
    """Write ``quads`` (see :func:`store_quads`) as a fresh store and link it as ``out_dir/store``.

    The store is bulk-loaded into a temporary directory inside ``out_dir``, renamed, then
    linked by an atomic rename of the link: readers see the old store or the new one.
    ``progress`` is called with the number of quads loaded so far, every 100,000 quads.
    """
    staged = stage_store(out_dir, quads, inputs_sha256=inputs_sha256, inputs=inputs, progress=progress)
    return staged.commit()


@dataclass
class StagedStore:
    """A complete store not linked yet (still under its temporary name): read it, then
    :meth:`commit` (rename and link) or :meth:`discard` it."""

    out_dir: Path
    tmp: Path
    final: Path
    counts: dict[str, int]
    inputs_sha256: str

    def open(self) -> ox.Store:
        return ox.Store.read_only(str(self.tmp))

    def commit(self) -> StoreInfo:
        info = StoreInfo(self.final, self.inputs_sha256, self.counts)
        try:
            os.rename(self.tmp, self.final)
            _point_link(self.out_dir, self.final.name)
        except OSError as exc:
            _remove_unlinked(self.out_dir, self.tmp, self.final)
            raise _cannot_write(self.out_dir, exc) from None
        except BaseException:
            _remove_unlinked(self.out_dir, self.tmp, self.final)
            raise
        try:
            clean_stale(self.out_dir)
        except OSError:
            pass  # leftovers only cost disk space; the next build tries again
        return info

    def discard(self) -> None:
        """Remove it (nothing happens once it was moved or committed)."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def move_to(self, path: Path) -> None:
        """Move it to ``path`` (a build folder's ``store``, :func:`kgraph.publish.publish`)."""
        os.rename(self.tmp, path)


def stage_store(out_dir: Path, quads: Iterable[ox.Quad], *, inputs_sha256: str = "",
                inputs: Iterable[InputFile] = (), progress: Callable[[int], None] | None = None) -> StagedStore:
    """Bulk-load ``quads`` into a new store under a temporary name inside ``out_dir``;
    ``inputs_sha256`` and ``inputs`` (:func:`kgraph.buildinfo.input_state`) go to its
    ``kgraph-store.json``."""
    def load(store: ox.Store) -> None:
        for batch in _batches(_reporting(quads, progress), BULK_BATCH):
            store.bulk_extend(batch)

    return _stage(out_dir, load, inputs_sha256, inputs)


def stage_statements(out_dir: Path, statements: DatasetLines, *, inputs_sha256: str = "",
                     inputs: Iterable[InputFile] = (), progress: Callable[[int], None] | None = None) -> StagedStore:
    """A new store (as :func:`stage_store`) of the dataset ``statements`` (the lines of
    :func:`dataset_lines`), laid out as :func:`store_quads` lays out quads: Oxigraph's bulk
    loader parses the N-Quads text itself, with no Python object per quad (3x faster).
    ``progress`` is called with the statements loaded so far (quads, then triples of the union)."""
    def load(store: ox.Store) -> None:
        done = 0
        # every statement into its own graph (the default graph's also into CATALOG_GRAPH),
        # then every triple into the default graph, the union
        for lines, fmt, graph in ((statements.quads, ox.RdfFormat.N_QUADS, None),
                                  (statements.default, ox.RdfFormat.N_TRIPLES, ox.NamedNode(CATALOG_GRAPH)),
                                  (statements.triples, ox.RdfFormat.N_TRIPLES, ox.DefaultGraph())):
            for chunk in line_chunks(lines, BULK_CHUNK):
                store.bulk_load(chunk, format=fmt, to_graph=graph) if graph is not None else \
                    store.bulk_load(chunk, format=fmt)
                if lines is not statements.default:  # the catalog's few lines are the default graph's, counted
                    done += chunk.count(b"\n")
                    if progress is not None:
                        progress(done)

    return _stage(out_dir, load, inputs_sha256, inputs)


#: The most bytes of N-Quads lines handed to Oxigraph's bulk loader at once: its memory
#: grows with what it is given (issue 10: 1.1 GB over its input for x100's 235 MB of
#: triples; in chunks of 64 MB 530 MB and 9.0 s, of 16 MB 176 MB and 7.7 s, of 4 MB
#: 65 MB and 6.7 s, of 1 MB 31 MB and 8.7 s; queries as fast on each store).
BULK_CHUNK = 4 << 20


def _stage(out_dir: Path, load: Callable[[ox.Store], None], inputs_sha256: str,
           inputs: Iterable[InputFile]) -> StagedStore:
    out_dir = Path(out_dir)
    _check_link(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        clean_stale(out_dir)
    except OSError as exc:
        raise _cannot_write(out_dir, exc) from None
    ident = random_hex(12)
    tmp = out_dir / f"{TMP_PREFIX}{os.getpid()}-{ident}"
    final = out_dir / f"{STORE_PREFIX}{ident}"
    with removed_on_failure(tmp, lambda exc: _cannot_write(out_dir, exc)):
        store = ox.Store(str(tmp))
        load(store)
        store.flush()
        counts = count_triples(store)
        del store  # closes the database: its files are complete before anything reads or renames them
        info = StoreInfo(final, inputs_sha256, counts, tuple(inputs))
        (tmp / INFO_FILE).write_text(_info_json(info), encoding="utf-8")
        _fsync_dir(tmp)
    return StagedStore(out_dir, tmp, final, counts, inputs_sha256)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _reporting(quads: Iterable[ox.Quad], progress: Callable[[int], None] | None) -> Iterator[ox.Quad]:
    if progress is None:
        yield from quads
        return
    done = 0
    for quad in quads:
        done += 1
        if done % 100_000 == 0:
            progress(done)
        yield quad
    progress(done)


def count_triples(store: ox.Store) -> dict[str, int]:
    """Triples per graph of ``store``: "" for the default graph, else the graph's IRI (sorted)."""
    counts = {"": int(next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))["n"].value)}
    per_graph = store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    for row in per_graph:
        counts[row["g"].value] = int(row["n"].value)
    return dict(sorted(counts.items()))


def _info_json(info: StoreInfo) -> str:
    # "inputs" is optional (a store without it is still read, its inputs all hashed): adding
    # it needs no STORE_FORMAT bump, which is for changes of the graphs' layout
    from kgraph.buildinfo import inputs_json

    doc = {"format": STORE_FORMAT, "inputs_sha256": info.inputs_sha256, "triples": info.counts,
           "inputs": inputs_json(info.inputs)}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _remove_unlinked(out_dir: Path, *directories: Path) -> None:
    current = linked_dir(out_dir)
    for directory in directories:
        if directory.exists() and (current is None or directory.resolve() != current.resolve()):
            shutil.rmtree(directory, ignore_errors=True)


def _check_link(out_dir: Path) -> None:
    link = out_dir / STORE_LINK
    if link.exists() and not link.is_symlink():
        # not ours (a folder or file called "store"): never delete what kgraph did not write
        raise OutputError(f"{link} exists and is not kgraph's store link",
                          "Move it away (kgraph writes its store there) and build again.")


def _point_link(out_dir: Path, target: str) -> None:
    """Make ``out_dir/store`` point at ``target`` (a sibling), replacing the link atomically."""
    _check_link(out_dir)
    link = out_dir / STORE_LINK
    new_link = out_dir / f"{TMP_PREFIX}link-{os.getpid()}-{random_hex(8)}"
    os.symlink(target, new_link, target_is_directory=True)
    try:
        os.replace(new_link, link)
    except BaseException:
        new_link.unlink(missing_ok=True)
        raise
    _fsync_dir(out_dir)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove unfinished temporary stores of builds that are no longer running, and every
    finished store but the linked one and the one before it (newest modification first)."""
    removed: list[Path] = []
    current = linked_dir(out_dir)
    finished = []
    for entry in out_dir.iterdir() if out_dir.is_dir() else ():
        if entry.name.startswith(TMP_PREFIX):
            if _pid_alive(_tmp_pid(entry.name)):
                continue  # another build is writing it now
            if entry.is_symlink() or entry.is_file():
                entry.unlink(missing_ok=True)
            else:
                shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        elif (entry.name.startswith(STORE_PREFIX) and entry.is_dir() and not entry.is_symlink()
              and (current is None or entry.resolve() != current.resolve())):
            finished.append(entry)
    finished.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for entry in finished[1:]:
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _tmp_pid(name: str) -> int | None:
    rest = name[len(TMP_PREFIX):].removeprefix("link-")
    head = rest.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _pid_alive(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc} (writing the store)",
                       "Choose a folder you can write to (--out), with room for the store.")


# --------------------------------------------------------------------------- reading

def linked_dir(out_dir: Path) -> Path | None:
    """The store directory ``out_dir/store`` points at, if it exists."""
    link = Path(out_dir) / STORE_LINK
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def read_info(out_dir: Path) -> StoreInfo | None:
    """What the linked store records about itself; None when there is no usable store."""
    from kgraph.buildinfo import inputs_from_json

    directory = linked_dir(out_dir)
    if directory is None:
        return None
    try:
        doc = json.loads((directory / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != STORE_FORMAT or not isinstance(doc.get("triples"), dict):
        return None
    return StoreInfo(directory, str(doc.get("inputs_sha256", "")), {str(k): int(v) for k, v in doc["triples"].items()},
                     inputs_from_json(doc.get("inputs")))


def open_store(out_dir: Path) -> ox.Store:
    """The linked store, opened read-only (milliseconds: nothing is parsed or loaded)."""
    info = read_info(out_dir)
    if info is None:
        raise StoreError(f"no kgraph store in {out_dir}", "Run `kgraph build` (it writes output/store).")
    try:
        return ox.Store.read_only(str(info.path))
    except OSError as exc:
        raise StoreError(f"cannot open the store {info.path}: {exc}",
                         "Run `kgraph build` again to rewrite it.") from None


# --------------------------------------------------------------------------- serialising

def term_key(term: Any) -> str:
    """A term's N-Triples form: the order of terms in every serialisation."""
    return str(term)


def triple_key(triple: Any) -> str:
    """A triple's (or a quad's triple's) N-Triples form, "s p o": by subject, then predicate,
    then object, as comparing (str(s), str(p), str(o)) would -- the space after a term sorts
    before any character that could follow in a longer term (an IRI ends at its ">", a blank
    node label holds no space) -- in one call into Oxigraph instead of three."""
    if isinstance(triple, ox.Quad) and not isinstance(triple.graph_name, ox.DefaultGraph):
        triple = triple.triple
    return str(triple)


def graph_key(graph: Any) -> tuple[bool, str]:
    """Default graph first, then the named graphs by their N-Triples form."""
    named = not isinstance(graph, ox.DefaultGraph)
    return named, str(graph) if named else ""


def quad_key(quad: ox.Quad) -> tuple[bool, str, str]:
    """Default graph first, then the named graphs (:func:`graph_key`); within a graph as :func:`triple_key`."""
    return (*graph_key(quad.graph_name), triple_key(quad))


@dataclass(frozen=True)
class DatasetLines:
    """A dataset as sorted N-Quads lines (:func:`sorted_lines`), the form the build writes its
    store and its files from and compares the files it reads back with: in memory, or in
    files of the build's scratch folder (:mod:`kgraph.linefiles`)."""

    #: every quad of the dataset (a line of the default graph has no fourth term)
    quads: Lines
    #: the quads of the default graph, as N-Triples (what the TriG file keeps there: the catalog)
    default: Lines
    #: every triple of the dataset once: the union, and the N-Triples file before escaping
    triples: Lines
    #: the quads graph by graph (:func:`quad_key`'s order: what TriG is written from), when
    #: made with the others (:func:`lines_of_block_file`); else worked out from ``quads``
    graph_major: Lines | None = None

    @functools.cached_property
    def count(self) -> int:
        """The number of quads."""
        return count_lines(self.quads)

    @functools.cached_property
    def triple_count(self) -> int:
        """The number of triples (of the union)."""
        return count_lines(self.triples)


def dataset_lines(quads: Iterable[ox.Quad]) -> DatasetLines:
    """The lines of a dataset's quads (pyoxigraph, terms as kgraph writes them), serialised
    as they come: no list of quads (1.4M at x100: 0.7 GB)."""
    default: list[ox.Quad] = []

    def noting_default() -> Iterator[ox.Quad]:
        for quad in quads:
            if isinstance(quad.graph_name, ox.DefaultGraph):
                default.append(quad)
            yield quad

    lines = statement_lines(noting_default())
    # a triple's line is its quad's without the graph: a line ends in "<graph> ." (an IRI
    # holds no space) or, in the default graph, in the object
    defaults = dict.fromkeys(statement_lines(default))
    triples = [line if line in defaults else line[:line.rindex(b" <")] + b" ." for line in lines]
    return DatasetLines(sorted_block(lines, distinct=True), sorted_block(list(defaults), distinct=True),
                        sorted_block(triples, distinct=True))


def lines_of_blocks(blocks: list[tuple[bool, bytes]]) -> DatasetLines:
    """The :class:`DatasetLines` of a dataset from its graphs' blocks (the default graph?,
    :func:`part_block`), in memory: the same bytes as :func:`dataset_lines` gives for its
    quads (:func:`kgraph.linefiles.merge`; a graph, the default one too, may come in
    several blocks)."""
    def lines_of(block: bytes) -> Callable[[], Iterator[bytes]]:
        return lambda: iter(block[:-1].split(b"\n"))

    quads, default, triples = io.BytesIO(), io.BytesIO(), io.BytesIO()
    merge([(is_default, b"", lines_of(block)) for is_default, block in blocks if block], quads, default, triples)
    return DatasetLines(quads.getvalue(), default.getvalue(), triples.getvalue())


def lines_of_block_file(blocks: BlockFile, scratch: Scratch) -> DatasetLines:
    """The :class:`DatasetLines` of a dataset from the blocks of its parts in ``blocks``, as
    files of ``scratch``: the lines of :func:`lines_of_blocks`, with no more of them in
    memory than a few kilobytes of each block at a time (x100: 1.2 GB less)."""
    def lines_of(index: int) -> Callable[[], Iterator[bytes]]:
        return lambda: blocks.lines(index)

    names = ("quads.nq", "default.nt", "triples.nt", "graph-major.nq")
    with open(scratch.file(names[0]), "wb") as quads, open(scratch.file(names[1]), "wb") as default, \
            open(scratch.file(names[2]), "wb") as triples, open(scratch.file(names[3]), "wb") as graph_major:
        merge([(is_default, graph, lines_of(i)) for i, (is_default, graph, _, _) in enumerate(blocks.blocks)],
              quads, default, triples, graph_major)
    return DatasetLines(*(scratch.file(name) for name in names))


def sorted_lines(statements: Iterable[Any], *, distinct: bool = False) -> bytes:
    """Statements (pyoxigraph quads or triples, or a parser over a file) as their N-Quads
    lines, sorted, each ending in a line feed; ``distinct``: each line once.

    Oxigraph writes one line per statement and each term one way, so two sets of statements
    are equal exactly when their distinct lines are. The statements go straight into
    Oxigraph's serialiser: no Python loop over them. The order is :func:`triple_key`'s
    within a graph (a line is its key and " ."; the space sorts before anything that can
    follow a term).
    """
    return sorted_block(statement_lines(statements), distinct=distinct)


def statement_lines(statements: Iterable[Any]) -> list[bytes]:
    """The N-Quads lines of ``statements``, as Oxigraph writes them (no line feeds)."""
    lines = ox.serialize(statements, format=ox.RdfFormat.N_QUADS).split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def sorted_block(lines: list[bytes], *, distinct: bool = False) -> bytes:
    """``lines`` sorted (in place) and joined, each ending in a line feed; empty ones dropped."""
    lines.sort()
    kept = dict.fromkeys(lines) if distinct else lines[bisect.bisect_right(lines, b""):]
    if distinct:
        kept.pop(b"", None)
    return b"\n".join(kept) + b"\n" if kept else b""


#: kgraph's format names (kgraph.export.FORMATS) and Oxigraph's serialisers for them.
OX_FORMATS = {
    "nt": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "turtle": ox.RdfFormat.TURTLE,
    "trig": ox.RdfFormat.TRIG,
    "xml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
}
DATASET_FORMATS = ("nquads", "trig")


def serialize_triples(triples: Iterable[Any], fmt: str, prefixes: dict[str, str] | None = None, *,
                      ordered: bool = False) -> bytes:
    """Triples (pyoxigraph) in format ``fmt`` ("nt", "turtle", "xml", "jsonld"), deterministic.

    The same set of triples always gives the same bytes, whatever order they come in;
    ``ordered`` says they come distinct and in :func:`triple_key` order already (not sorted again).
    """
    if fmt in DATASET_FORMATS:
        raise ValueError(f"{fmt} holds quads: use serialize_quads")
    if fmt == "nt":  # its lines are sorted: the triples need not be
        distinct = triples if ordered else set(triples)
        return _sorted_lines(_line_safe(ox.serialize(distinct, format=ox.RdfFormat.N_TRIPLES)))
    if not ordered:
        triples = sorted(set(triples), key=triple_key)
    data = ox.serialize(triples, format=OX_FORMATS[fmt], prefixes=_prefixes(prefixes))
    if fmt == "xml":
        # Oxigraph leaves CR raw, and every XML reader turns it into LF: a character
        # reference keeps it (CR occurs only inside values there) (issue 15)
        return data.replace(b"\r", b"&#13;")
    return _line_safe(data) if fmt == "turtle" else data


def serialize_quads(quads: Iterable[ox.Quad], fmt: str, prefixes: dict[str, str] | None = None) -> bytes:
    """Quads in "nquads" or "trig", deterministic (default graph first, then graphs by IRI)."""
    if fmt not in DATASET_FORMATS:
        raise ValueError(f"{fmt} holds triples: use serialize_triples")
    ordered = _in_quad_order(quads)
    if fmt == "nquads":
        return _sorted_lines(_line_safe(ox.serialize(ordered, format=ox.RdfFormat.N_QUADS)))
    return _trig(ordered, prefixes)


def _trig(ordered: list[ox.Quad], prefixes: dict[str, str] | None) -> bytes:
    return _line_safe(ox.serialize(ordered, format=ox.RdfFormat.TRIG, prefixes=_prefixes(prefixes)))


def _in_quad_order(quads: Iterable[ox.Quad]) -> list[ox.Quad]:
    """Distinct quads in :func:`quad_key` order, sorted graph by graph (one key per quad, not
    a tuple of five strings)."""
    by_graph: dict[Any, dict[ox.Quad, None]] = {}
    for quad in quads:
        by_graph.setdefault(quad.graph_name, {})[quad] = None
    ordered: list[ox.Quad] = []
    for name in sorted(by_graph, key=graph_key):
        ordered.extend(sorted(by_graph[name], key=triple_key))
    return ordered


def _line_safe(data: bytes) -> bytes:
    """Oxigraph writes U+2028, U+2029, U+0085 (and controls) raw inside literals: valid,
    but line-based tools cut the statement there; escape them as rdflib's files do (issue 15)."""
    from kgraph.formats import line_safe

    return line_safe(data.decode("utf-8")).encode("utf-8")


def _prefixes(prefixes: dict[str, str] | None) -> dict[str, str]:
    if prefixes is not None:
        return dict(sorted(prefixes.items()))
    from kgraph.prefixes import KGR, PREFIXES

    return dict(sorted({**PREFIXES, "kgclaim": f"{KGR}claim/", "kgsrc": f"{KGR}source/"}.items()))


def _sorted_lines(data: bytes) -> bytes:
    lines = sorted(line for line in data.split(b"\n") if line.strip())
    return b"\n".join(lines) + b"\n" if lines else b""


def graph_triples(store: ox.Store, graph: str | None = None) -> Iterator[ox.Triple]:
    """The triples of one graph of ``store`` (the union, or a named graph's IRI), with their
    terms as kgraph wrote them (decimals "8.0", not Oxigraph's canonical "8")."""
    name = ox.DefaultGraph() if graph is None else ox.NamedNode(graph)
    for quad in store.quads_for_pattern(None, None, None, name):
        obj = quad.object
        if isinstance(obj, ox.Literal) and obj.datatype.value == XSD_DECIMAL:
            yield ox.Triple(quad.subject, quad.predicate, as_written(obj))
        else:
            yield quad.triple


def named_quads(store: ox.Store) -> Iterator[ox.Quad]:
    """Every quad of the store's named graphs (what kgraph.trig holds, the catalog graph
    standing for its default graph), terms as kgraph wrote them."""
    for graph in named_graphs(store):
        name = ox.NamedNode(graph)
        for triple in graph_triples(store, graph):
            yield ox.Quad(triple.subject, triple.predicate, triple.object, name)


def as_written(literal: ox.Literal) -> ox.Literal:
    """An xsd:decimal literal in kgraph's lexical form (see :func:`kgraph_decimal`)."""
    return ox.Literal(kgraph_decimal(literal.value), datatype=literal.datatype)


def named_graphs(store: ox.Store) -> list[str]:
    """The IRIs of the store's named graphs, sorted."""
    return sorted(g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode))


def quads_from_file(path: Path) -> Iterator[ox.Quad]:
    """The quads of an RDF file written by kgraph (TriG or N-Quads; triples land in the
    default graph), parsed by Oxigraph."""
    fmt = ox.RdfFormat.from_extension(Path(path).suffix.lstrip("."))
    if fmt is None:
        raise StoreError(f"cannot tell the RDF format of {path}", "Give a .trig, .nq, .nt or .ttl file.")
    try:
        yield from ox.parse(path=str(path), format=fmt)
    except SyntaxError as exc:
        raise StoreError(f"{path} is not valid {fmt.name}: {exc}", "Run `kgraph build` to write it again.") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}", "Run `kgraph build` first.") from None


def current_store(project: Any, *, step: Callable[[str], None] | None = None) -> ox.Store:
    """The store of the project's current build, opened read-only (rebuilt first when stale)."""
    return open_current(project, step=step).store


def rdflib_graph(store: ox.Store) -> Any:
    """The store's default graph (the union) as an rdflib ``Graph`` through oxrdflib, for code
    written against rdflib: reads go to Oxigraph, writes fail (the store is read-only)."""
    from oxrdflib import OxigraphStore
    from rdflib import Graph
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

    from kgraph.build import bind_prefixes

    graph = Graph(store=OxigraphStore(store=store), identifier=DATASET_DEFAULT_GRAPH_ID)
    bind_prefixes(graph)
    return graph


def memory_graph(store: ox.Store, graph: str | None = None) -> Any:
    """One graph of the store (default: the union) copied into an in-memory rdflib ``Graph``,
    its triples inserted in :func:`triple_key` order (a ``SimpleMemory`` store keeps that
    order, so answers and serialisations come out the same however often it is read).

    Each distinct term is converted once; plain literals stay plain, as rdflib makes them.
    """
    from rdflib import Graph

    from kgraph.build import bind_prefixes

    conv = functools.cache(term_from_ox)  # this call's own memo: freed with it

    out = Graph(store="SimpleMemory")
    bind_prefixes(out)
    add = out.store.add
    for triple in sorted(graph_triples(store, graph), key=triple_key):
        add((conv(triple.subject), conv(triple.predicate), conv(triple.object)), out)
    return out


# --------------------------------------------------------------------------- for reading commands

class StoreGraphs:
    """What a reading command needs, from the store of the current build.

    The store is opened read-only at once (milliseconds), or with ``opened=False`` on first
    use of :attr:`store` (``kgraph query`` never uses it: its worker opens the store itself,
    and a second opening cost 20-30 ms at x100). The rdflib graph (an in-memory copy of the
    union, :func:`memory_graph`) and the networkx network are made on first use only:
    ``kgraph query`` needs neither. Nothing is unpickled: there is no cache besides the
    store itself.
    """

    def __init__(self, info: StoreInfo, rebuilt: bool = False, network: Any = None, *, opened: bool = True):
        self.info = info
        self.rebuilt = rebuilt
        self._store: ox.Store | None = None
        self._graph: Any = None
        self._network = network
        if opened:
            self.store  # noqa: B018 - opened now: a damaged store fails here, not later

    @property
    def store(self) -> ox.Store:
        """The store, opened read-only."""
        if self._store is None:
            self._store = ox.Store.read_only(str(self.info.path))
        return self._store

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def graphs(self) -> list[str]:
        """The IRIs of the named graphs (one per source, entities, ontology, catalog)."""
        return [g for g in self.info.counts if g]

    @property
    def triples(self) -> int:
        """Triples of the union, without walking them."""
        return self.info.triples

    @property
    def graph(self) -> Any:
        if self._graph is None:
            self._graph = memory_graph(self.store)
        return self._graph

    @property
    def network(self) -> Any:
        if self._network is None:
            from kgraph.network import to_networkx

            self._network = to_networkx(self.graph)
        return self._network

    def entailed(self, regime: str, step: Callable[[str], None] | None = None) -> Any:
        """The graph plus what ``regime`` ("rdfs" or "owl-rl") entails, computed once per build.

        The closure is kept as N-Triples beside the store, keyed by the build's fingerprint
        (issue 13: ``--reason owl-rl`` took a minute every time; see
        :func:`kgraph.reason.entail_cached`, which never writes or reads a pickle).
        """
        from kgraph.reason import entail_cached

        return entail_cached(self.graph, regime, self.info.path.resolve().parent / CLOSURE_DIR,
                             self.info.inputs_sha256, step=step)


def is_current(project: Any) -> bool:
    """Whether the linked store was built from the project's current inputs.

    The inputs' fingerprint is recomputed, reading only the files whose stat differs from
    the one the store recorded (at x100, 520 files: hashing them all took 30-60 ms of every
    query); see :func:`kgraph.buildinfo.input_state`.
    """
    return _current_info(project) is not None


def _current_info(project: Any) -> StoreInfo | None:
    """The linked store's info when it was built from the project's current inputs (:func:`is_current`)."""
    from kgraph.buildinfo import input_state

    info = read_info(project.out_dir)
    if info is not None and info.inputs_sha256 == input_state(project, info.inputs).sha256:
        return info
    return None


def write_build_store(project: Any, built: Any, out_dir: Path | None = None,
                      step: Callable[[str], None] | None = None) -> StoreInfo:
    """The store of a build (:class:`kgraph.build.BuiltGraph`), linked as ``<out>/store`` and
    marked with the fingerprint of the project's inputs."""
    from kgraph.buildinfo import input_state

    if step is not None:
        step("Writing the store")
    inputs = input_state(project)
    return write_store(out_dir or project.out_dir, store_quads(quads_from_dataset(built.dataset)),
                       inputs_sha256=inputs.sha256, inputs=inputs.files)


def open_current(project: Any, *, rebuild: bool = False, step: Callable[[str], None] | None = None,
                 warn: Callable[[str], None] | None = None,
                 before_rebuild: Callable[[], None] | None = None, opened: bool = True) -> StoreGraphs:
    """The current build's store, opened read-only; the project is rebuilt first (files and
    store) when its inputs changed since, or when the store is missing or unreadable
    (``before_rebuild`` is called first then).

    With ``opened=False`` a current store is not opened here (see :class:`StoreGraphs`): a
    damaged database then shows where it is opened, and the caller rebuilds (``rebuild=True``).
    """
    # the info checked is the info used (read once: a look-up is some 50 ms in all, issue 10)
    info = None if rebuild else _current_info(project)
    if info is not None:
        try:
            return StoreGraphs(info, opened=opened)
        except (OSError, TypeError):
            pass  # a damaged store: rebuild it
    if before_rebuild is not None:
        before_rebuild()
    from kgraph.pipeline import build

    note = step or (lambda _: None)
    result = build(project, step=note, keep_unwritten=True)
    if result.write_error is not None:
        # a read-only output folder: answer from a store of the graph built in memory (issue 15)
        import atexit
        import tempfile

        (warn or note)(f"warning: the graph in {project.out_dir} is stale and could not be rewritten "
                       f"({result.write_error.message}); using the graph built in memory")
        scratch = Path(tempfile.mkdtemp(prefix="kgraph-store-"))
        atexit.register(shutil.rmtree, scratch, True)
        info = write_build_store(project, result.built, scratch)
        return StoreGraphs(info, rebuilt=True, network=result.network)
    info = read_info(project.out_dir)
    if info is None:
        raise StoreError(f"the build wrote no store in {project.out_dir}", "Run `kgraph build` again.")
    return StoreGraphs(info, rebuilt=True, network=result.network)


# --------------------------------------------------------------------------- the build's files, by Oxigraph

def dataset_quads(store: ox.Store) -> Iterator[ox.Quad]:
    """The dataset of ``kgraph.trig``: every named graph, and the catalog graph's triples back
    in the default graph (terms as kgraph wrote them)."""
    for quad in named_quads(store):
        if quad.graph_name.value == CATALOG_GRAPH:
            yield ox.Quad(quad.subject, quad.predicate, quad.object, ox.DefaultGraph())
        else:
            yield quad


#: a JSON string as json.dumps(ensure_ascii=False) writes it (C-accelerated)
_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def indented_json(value: Any, pad: str = "", *, indent: str = "  ", depth: int | None = None) -> str:
    """``json.dumps(value, indent=len(indent), sort_keys=True, ensure_ascii=False)``, each
    line but the first indented by ``pad``, for JSON of strings, dicts and lists (what a
    JSON-LD node object holds here) and of other scalars: the same text, faster (with an
    indent, json.dumps runs its pure-Python encoder; here each string goes through the C
    one). With ``depth``, what is nested deeper than that is written on one line (by the C
    encoder: ``, `` and ``: `` between items): a record a line."""
    if type(value) is str:
        return _json_string(value)
    if depth == 0:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    inner, deeper = pad + indent, None if depth is None else depth - 1
    if isinstance(value, dict):
        if not value:
            return "{}"
        sep = ",\n" + inner
        return ("{\n" + inner + sep.join([f"{_json_string(key)}: "
                                           f"{indented_json(value[key], inner, indent=indent, depth=deeper)}"
                                           for key in sorted(value)]) + "\n" + pad + "}")
    if isinstance(value, list):
        if not value:
            return "[]"
        sep = ",\n" + inner
        return ("[\n" + inner + sep.join([indented_json(item, inner, indent=indent, depth=deeper) for item in value])
                + "\n" + pad + "]")
    return json.dumps(value, ensure_ascii=False)


def serialize_jsonld(triples: Iterable[Any], prefixes: dict[str, str] | None = None) -> bytes:
    """Compact JSON-LD (a context of the prefixes, one node object per subject, keys and
    values sorted): what :func:`kgraph.export.serialize_graph` writes, without rdflib."""
    out = io.BytesIO()
    write_jsonld(triples, out, prefixes)
    return out.getvalue()


def write_jsonld(triples: Iterable[Any], out: BinaryIO, prefixes: dict[str, str] | None = None,
                 scratch: BinaryIO | None = None) -> None:
    """:func:`serialize_jsonld` written to ``out``; each node object's text is kept in
    ``scratch`` (a file open for reading and writing; None: in memory) until they are all
    made and written in order, so that only an index of them is held."""
    context = _prefixes(prefixes)
    namespaces = sorted(context.items(), key=lambda item: -len(item[1]))
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

    local_name = re.compile(r"[A-Za-z0-9_][\w.\-]*")
    # IRIs and node values repeat (predicates, classes, entities): each is worked out once,
    # in memos of this call (freed with it)

    @functools.cache
    def compact(iri: str) -> str:
        for prefix, namespace in namespaces:
            if iri.startswith(namespace) and local_name.fullmatch(iri, len(namespace)):
                return f"{prefix}:{iri[len(namespace):]}"
        return iri

    @functools.cache
    def node_id(term: Any) -> str:
        return f"_:{term.value}" if isinstance(term, ox.BlankNode) else compact(term.value)

    @functools.cache
    def reference(term: Any) -> dict:  # shared between nodes: never changed once made
        return {"@id": node_id(term)}

    def value(term: Any) -> Any:
        # literals are not kept in a memo: most are said once (quotes, explanations), and a
        # memo of them all took 0.2 GB at x100
        if not isinstance(term, ox.Literal):
            return reference(term)
        if term.language:
            return {"@language": term.language, "@value": term.value}
        if term.datatype.value == XSD_STRING:
            return term.value
        return {"@type": compact(term.datatype.value), "@value": term.value}

    def one_or_many(values: list[Any]) -> Any:
        if len(values) == 1:
            return values[0]
        return sorted(values, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))

    # Each node object is turned into its text as soon as its subject's triples end (they
    # come grouped by subject, as sorted triples do), and the text goes to the scratch file:
    # the document is held as an index of where each node's text is (x100: 0.4 GB less than
    # the texts), and written in the order of the subjects. A subject that comes back later
    # is read back from its text and written again.
    texts = scratch if scratch is not None else io.BytesIO()
    where: dict[str, tuple[int, int]] = {}

    def text_of(subject: str) -> bytes:
        offset, size = where[subject]
        texts.seek(offset)
        return texts.read(size)

    def finish(subject: str, properties: dict[str, list[Any]]) -> None:
        if subject in where:
            earlier = json.loads(text_of(subject).replace(b"\n    ", b"\n"))
            for key, values in earlier.items():
                if key != "@id":
                    properties.setdefault(key, []).extend(values if isinstance(values, list) else [values])
        node = {"@id": subject, **{key: one_or_many(values) for key, values in properties.items()}}
        # as json.dumps(indent=2) writes it two levels down, inside the "@graph" array
        text = ("    " + indented_json(node, "    ")).encode("utf-8")
        offset = texts.seek(0, io.SEEK_END)
        texts.write(text)
        where[subject] = (offset, len(text))

    subject, properties = None, {}
    for triple in triples:
        sid = node_id(triple.subject)
        if sid != subject:
            if subject is not None:
                finish(subject, properties)
            subject, properties = sid, {}
        if triple.predicate.value == rdf_type and not isinstance(triple.object, ox.Literal):
            properties.setdefault("@type", []).append(node_id(triple.object))
        else:
            properties.setdefault(compact(triple.predicate.value), []).append(value(triple.object))
    if subject is not None:
        finish(subject, properties)

    head = json.dumps({"@context": context}, indent=2, sort_keys=True, ensure_ascii=False).removesuffix("\n}")
    if not where:
        out.write((head + ',\n  "@graph": []\n}\n').encode("utf-8"))
        return
    out.write((head + ',\n  "@graph": [\n').encode("utf-8"))
    for i, subject in enumerate(sorted(where)):
        if i:
            out.write(b",\n")
        out.write(text_of(subject))
    out.write(b"\n  ]\n}\n")


#: The build's RDF files and how each is written from the store.
EXPORTS = {"kgraph.nt": "nt", "kgraph.ttl": "turtle", "kgraph.rdf": "xml", "kgraph.jsonld": "jsonld",
           "kgraph.trig": "trig"}
#: the JSON-LD file of the build (written by Python, in a worker: JsonldWorker)
JSONLD_FILE = next(name for name, fmt in EXPORTS.items() if fmt == "jsonld")


def export_files(store: ox.Store, prefixes: dict[str, str] | None = None) -> dict[str, bytes]:
    """``kgraph.nt``, ``.ttl``, ``.rdf``, ``.jsonld`` and ``.trig`` from the store, by Oxigraph's
    serialisers (and :func:`serialize_jsonld`): deterministic, the triples of rdflib's files."""
    return export_dataset(dataset_quads(store), prefixes)


def export_dataset(quads: Iterable[ox.Quad], prefixes: dict[str, str] | None = None) -> dict[str, bytes]:
    """The files of :func:`export_files` from the dataset of ``kgraph.trig`` itself (pyoxigraph
    quads, terms as kgraph writes them: what :func:`quads_from_dataset` gives)."""
    return export_lines(dataset_lines(quads), prefixes)


def export_lines(lines: DatasetLines, prefixes: dict[str, str] | None = None) -> dict[str, bytes]:
    """The files of :func:`export_files` from the lines of a dataset (:func:`dataset_lines`):
    what the build does, from the lines it has loaded its store with. Each file is written
    from Oxigraph's parser over those lines, in their order (no list of 1.4M triples at x100,
    and no sort in Python)."""
    files = {}
    for name, writer in exports_of_lines(lines, prefixes).items():
        out = io.BytesIO()
        writer.write(out)
        files[name] = out.getvalue()
    return files


def exports_of_lines(lines: DatasetLines, prefixes: dict[str, str] | None = None,
                     scratch: Scratch | None = None, *, background: bool = False) -> dict[str, Streamed]:
    """:func:`export_lines`, each file written as a stream when the build writes it (see
    :func:`kgraph.publish.publish`): from Oxigraph's parser over the lines to Oxigraph's
    serialiser into the file, with no more than a few megabytes in memory (JSON-LD keeps
    its node objects' texts in a file of ``scratch``, if given). With ``background``, a
    ``scratch`` and the triples' lines in a file, the JSON-LD, which kgraph writes in Python
    (Oxigraph's serialiser writes no compact JSON-LD), is made at once by a worker process
    (:class:`JsonldWorker`) beside the build, and copied into the file when it is written."""
    worker = (JsonldWorker(lines.triples, scratch, prefixes)
              if background and scratch is not None and isinstance(lines.triples, Path) and _cores() > 1 else None)

    def triples() -> Iterator[ox.Quad]:  # in the default graph: what a format of triples takes
        return ox.parse(**parse_input(lines.triples), format=ox.RdfFormat.N_TRIPLES)

    def serialised(fmt: str, statements: Callable[[], Iterable[Any]], wrap: Callable[[BinaryIO], Any]):
        def write(out: BinaryIO) -> None:
            sink = wrap(out)
            ox.serialize(statements(), output=sink, format=OX_FORMATS[fmt], prefixes=_prefixes(prefixes))
            sink.close()
        return Streamed(write)

    def graph_major() -> Iterator[ox.Quad]:
        source = lines.graph_major if lines.graph_major is not None else graph_major_lines(lines)
        return ox.parse(**parse_input(source), format=ox.RdfFormat.N_QUADS)

    def nt(out: BinaryIO) -> None:
        safe = LineSafeWriter(out)
        for chunk in line_chunks(lines.triples, 1 << 20):
            safe.write(chunk)
        safe.close()
        if safe.changed:  # an escape can reorder the lines (rare: sorted again in memory)
            out.seek(0)
            out.truncate()
            out.write(_sorted_lines(_line_safe(read_all(lines.triples))))

    def jsonld(out: BinaryIO) -> None:
        if worker is not None:
            worker.write(out)
            return
        if scratch is None:
            write_jsonld(triples(), out, prefixes)
            return
        with open(scratch.file("jsonld-nodes"), "w+b") as texts:
            write_jsonld(triples(), out, prefixes, texts)

    makers = {"nt": Streamed(nt), "jsonld": Streamed(jsonld),
              "turtle": serialised("turtle", triples, LineSafeWriter),
              "xml": serialised("xml", triples, XmlSafeWriter),
              "trig": serialised("trig", graph_major, LineSafeWriter)}
    return {name: makers[fmt] for name, fmt in EXPORTS.items()}


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class JsonldWorker:
    """The JSON-LD file of a build, made from the triples' lines by a fresh interpreter
    (``python -c``; a fork of a build holding gigabytes and a loading thread is neither
    cheap nor safe) while the build writes its other files (at x100, 12-18 s of Python the
    build no longer waits for). The worker writes into the build's ``scratch`` folder, which
    stops it (:meth:`kgraph.linefiles.Scratch.adopt`) if the build ends first."""

    def __init__(self, triples: Path, scratch: Scratch, prefixes: dict[str, str] | None) -> None:
        import subprocess
        import sys

        import kgraph

        self._file = scratch.file("kgraph-worker.jsonld")
        job = json.dumps([str(triples), str(self._file), str(scratch.file("jsonld-nodes")), prefixes])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(kgraph.__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self._process = scratch.adopt(subprocess.Popen(
            [sys.executable, "-c", "from kgraph.store import _jsonld_worker; _jsonld_worker()", job],
            stdin=subprocess.DEVNULL, env=env))

    def write(self, out: BinaryIO) -> None:
        """Wait for the worker, and copy what it wrote to ``out``."""
        status = self._process.wait()
        if status != 0:
            raise RuntimeError(f"the JSON-LD worker failed (exit status {status})")
        with open(self._file, "rb") as made:
            shutil.copyfileobj(made, out, 1 << 20)
        self._file.unlink()


def _jsonld_worker() -> None:
    """The worker of :class:`JsonldWorker`: writes the JSON-LD of the N-Triples file its job
    (JSON on the command line) names."""
    import sys

    triples, target, texts, prefixes = json.loads(sys.argv[1])
    with open(target, "wb") as out, open(texts, "w+b") as scratch:
        write_jsonld(ox.parse(path=triples, format=ox.RdfFormat.N_TRIPLES),
                     out, prefixes, scratch)


class LineSafeWriter:
    """Writes what it is given to ``out`` with the characters :func:`kgraph.formats.line_safe`
    escapes escaped (a character cut between two writes is escaped whole); ``changed``
    tells whether any was."""

    def __init__(self, out: BinaryIO) -> None:
        import codecs

        self._out = out
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.changed = False

    def write(self, data: bytes) -> int:
        from kgraph.formats import line_safe

        text = self._decoder.decode(bytes(data))
        safe = line_safe(text)
        self.changed = self.changed or safe != text
        self._out.write(safe.encode("utf-8"))
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._decoder.decode(b"", final=True)  # a file cut inside a character is an error


class XmlSafeWriter:
    """Writes RDF/XML to ``out`` with each CR as a character reference: Oxigraph leaves CR
    raw, and every XML reader turns it into LF (CR occurs only inside values there) (issue 15)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        self._out.write(bytes(data).replace(b"\r", b"&#13;"))
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        pass


def graph_major_lines(lines: DatasetLines) -> bytes:
    """The dataset's lines in :func:`quad_key` order: the default graph's first, then each
    named graph's (by IRI), each graph's in the order of the lines (:func:`triple_key`'s).

    Read line by line into a buffer per graph, and the buffers written one after the other:
    no list of the lines."""
    default = set(read_all(lines.default).split(b"\n"))
    by_graph: dict[bytes, io.BytesIO] = {}
    for line in io.BytesIO(read_all(lines.quads)):  # each line with its line feed
        if line[:-1] in default:
            continue
        # a line ends in "<graph> .": an IRI holds no space
        graph = line[line.rindex(b" <") + 1:-3]
        buffer = by_graph.get(graph)
        if buffer is None:
            buffer = by_graph[graph] = io.BytesIO()
        buffer.write(line)
    ordered = io.BytesIO()
    ordered.write(read_all(lines.default))
    for graph in sorted(by_graph):  # "<iri>": graph_key's order
        buffer = by_graph.pop(graph)
        with buffer.getbuffer() as view:
            ordered.write(view)
        buffer.close()
    return ordered.getvalue()
