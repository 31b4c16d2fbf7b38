"""The whole build, step by step: load -> validate -> build -> shapes (SHACL) -> network -> store -> export + viz.

Each step is a function of its own module; this module strings them together for the
CLI and reports progress through an optional callback.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
from rdflib import Graph, URIRef

from kgraph.assess import load_priors
from kgraph.build import BuiltGraph, add_part, empty_dataset, graph_parts, union_graph
from kgraph.buildinfo import BUILD_INFO, GRAPH_FILE, build_info, check_shrink, input_state
from kgraph.cache import CACHED_KINDS, BuildCache, build_stamp, digest, up_to_date, write_stamp
from kgraph.errors import CorpusError, OutputError, ValidationFailed
from kgraph.evidence_graph import compute_evidence, evidence_parts
from kgraph.export import build_files, network_file_names
from kgraph.layout import force_layout
from kgraph.linefiles import BlockFile, Scratch, sha256
from kgraph.load import load_dataset, load_ontology, load_shapes, vocabulary
from kgraph.model import Dataset, Vocabulary
from kgraph.network import NetworkBuilder
from kgraph.project import Project
from kgraph.publish import DirWriter, Streamed, publish
from kgraph.reparse import ReadBack, check_build_folder, expected_statements
from kgraph.report import Problem, Report
from kgraph.shapes import PartsValidator
from kgraph.stats import compute_stats
from kgraph.store import JSONLD_FILE, STORE_LINK, StagedStore, exports_of_lines, lines_of_block_file, part_block, stage_statements
from kgraph.validate import check_grounding, validate_dataset
from kgraph.view import entity_types
from kgraph.viz import SEED, VIEW_FILE, write_html
from kgraph.void import sizes_of_lines

Step = Callable[[str], None]
#: how far the current step is: (done, total, what is counted), e.g. (20000, 60700, "claims")
Count = Callable[[int, int, str], None]


def _noop(_: str) -> None:
    pass


def _no_count(_done: int, _total: int, _what: str) -> None:
    pass


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees everything else).

    A build makes millions of long-lived objects (rdflib terms, triples, index dicts): each
    full collection walks all of them, which took half the CPU of the build steps at x10 and
    grew faster than the data (the evidence step: 5 s at x10, 82 s at x100). The build makes
    little cyclic garbage (what it made -- a throw-away rdflib Graph, pySHACL's copy of the
    graph -- is no longer made). A networkx graph is a reference cycle (its cached views
    refer to it): each one the drawing makes for itself (the layout's undirected copy, the
    view's copy, the GraphML's) is emptied once used, or it would stay to the end (x1000:
    gigabytes).

    What the build made outlives it (its result) and is frozen when the pause ends, so that
    no later collection walks it again (the first one after the pause walked every object of
    the build: 4 s of an x30 build). A later pause unfreezes and collects first, so that an
    earlier build's graph still gets freed in a process that builds again (``kgraph serve``).
    """
    if not gc.isenabled():
        yield
        return
    gc.unfreeze()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _collector_paused(function):
    @functools.wraps(function)
    def paused(*args, **kwargs):
        with cycle_collector_paused():
            return function(*args, **kwargs)

    return paused


@dataclass
class Checked:
    """The data, the ontology it was checked against, and the report of every problem."""

    data: Dataset
    ontology: Graph
    vocab: Vocabulary
    report: Report


#: what is told each part of the RDF graph as the SHACL step makes it (see :func:`check`)
PartSink = Callable[[URIRef | None, Graph], None]


class _Background:
    """:func:`kgraph.store.stage_statements` in a thread: :meth:`result` waits for the staged
    store (or raises what the thread raised); :meth:`discard` removes it unless it was
    published (a build that fails, or is interrupted, leaves no temporary store)."""

    def __init__(self, function: Callable[..., StagedStore], *args, **kwargs):
        self._staged: StagedStore | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._staged = function(*args, **kwargs)
            except BaseException as exc:  # handed to the caller by result()
                self._error = exc

        self._thread = threading.Thread(target=run, name="kgraph-store", daemon=True)
        self._thread.start()

    def result(self) -> StagedStore:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        assert self._staged is not None
        return self._staged

    def discard(self) -> None:
        self._thread.join()
        if self._staged is not None:
            self._staged.discard()


def unchanged(project: Project, out_dir: Path | None = None) -> bool:
    """Whether the build published in the output folder was made from the inputs as they are
    now (data, ontology, shapes, corpus, kgraph's version) and is whole: building again
    would write the same files (``kgraph build`` then says so and stops)."""
    from kgraph.store import read_info

    out = out_dir or project.out_dir
    info = read_info(out)
    inputs = input_state(project, info.inputs if info is not None else ())
    return up_to_date(out, build_stamp(project, inputs.sha256))


class _RefillOnly(BuildCache):
    """A cache that finds nothing but keeps what is put (``build --no-cache``: everything is
    done again, and the next build can reuse it)."""

    def __init__(self, cache: BuildCache) -> None:
        super().__init__(cache.folder, defer=True)

    def get(self, kind: str, key: str):
        self._used.setdefault(kind, set()).add(key)
        self.looked[kind] = self.looked.get(kind, 0) + 1
        return None


@dataclass
class BuildResult:
    #: the RDF graph (None when the build freed it: ``keep_graph=False``)
    built: BuiltGraph | None
    network: nx.MultiDiGraph
    stats: dict
    report: Report
    written: list[Path]
    #: why the output could not be written (only with ``keep_unwritten``)
    write_error: OutputError | None = None
    #: what came from the cache of earlier builds: per kind ("yaml": data files parsed,
    #: "shacl": sources' claims validated), how many of how many
    reused: dict[str, tuple[int, int]] = field(default_factory=dict)


@_collector_paused
def check(project: Project, *, quotes: bool = True, require_corpus: bool = False, shacl: bool = True,
          step: Step = _noop, count: Count = _no_count, cache: BuildCache | None = None,
          parts: PartSink | None = None) -> Checked:
    """Load and validate the data; the report holds every problem found.

    ``quotes`` checks every quote against the corpus when the corpus directory exists;
    ``require_corpus`` makes a missing corpus directory an error rather than a warning;
    ``shacl`` builds the RDF graph and validates it against the shapes, once the data has
    no other error (the shapes would only repeat those), one part at a time
    (:class:`kgraph.shapes.PartsValidator`); ``parts`` is told each part as it is made.
    With a ``cache`` (the build's, :mod:`kgraph.cache`), the data files and the claims of
    the sources that did not change since it was filled are not parsed and validated again.
    """
    step("Loading data and ontology")
    ontology = load_ontology(project)
    vocab = vocabulary(ontology)
    data, problems = load_dataset(project, cache)
    report = Report(problems=list(problems))
    if any(p.code == "unreadable-yaml" for p in problems):
        # A file that does not parse leaves all its records out, and every reference to them
        # would be reported again (issue 13: one malformed file gave 205 errors, the cause near
        # the end). Report what could not be read, alone; the rest is checked once it parses.
        return Checked(data=data, ontology=ontology, vocab=vocab, report=report)
    step("Validating")
    report.extend(validate_dataset(data, vocab))
    if quotes:
        step("Checking quotes against the corpus")
        if project.corpus_available:
            found, checked, grounded = check_grounding(data, project.corpus_dir, project.data_dir)
            report.extend(found)
            report.quotes_checked, report.quotes_grounded = checked, grounded
        elif require_corpus or project.corpus_explicit:
            raise CorpusError(f"corpus directory not found: {project.corpus_dir}",
                              "Pass the folder holding the corpus .txt files with --corpus DIR.")
        else:
            report.extend([Problem("warning", str(project.corpus_dir), "corpus directory not found; quotes not checked",
                                   "Pass --corpus DIR to check every quote against its source.",
                                   code="corpus-missing")])
    checked = Checked(data=data, ontology=ontology, vocab=vocab, report=report)
    if shacl and report.ok:
        # the RDF graph part by part (kgraph.build.graph_parts): each is validated, and told
        # to ``parts`` (the build serialises it), then dropped; no graph of them all is made
        shapes = load_shapes(project)
        depends = digest(project.ontology_file.read_bytes(), project.shapes_file.read_bytes(),
                         repr(data.sources), repr(data.entities), repr(data.xrefs))
        validator = PartsValidator(shapes, ontology, data, vocab, cache=cache, depends=depends)

        def take(name, part: Graph) -> None:
            if parts is not None:
                parts(name, part)
            validator.feed(name, part)  # which releases the part once it is validated

        try:
            step("Building the RDF graph")
            for name, part in graph_parts(data, vocab, ontology, count=count):
                take(name, part)
            step("Assessing the evidence")
            evidence = compute_evidence(data, vocab, load_priors(project.data_dir))
            for name, part in evidence_parts(evidence, data, vocab):
                take(name, part)
            del evidence
            step("Validating against the SHACL shapes")
            report.extend(validator.finish())
        finally:
            validator.close()
    return checked


class _Parts:
    """What the build makes of the parts of the RDF graph as they come (a :data:`PartSink`):
    the network, each graph's sorted lines (in a file of the build's scratch folder), and,
    with ``keep``, the whole dataset."""

    def __init__(self, keep: bool, scratch: Scratch) -> None:
        self.network = NetworkBuilder()
        self.blocks = BlockFile(scratch.file("blocks"))
        self.dataset = empty_dataset() if keep else None

    def __call__(self, name, part: Graph) -> None:
        self.network.feed(part)
        self.blocks.add(b"" if name is None else f"<{name}>".encode("utf-8"), part_block(name, part))
        if self.dataset is not None:
            add_part(self.dataset, name, part)


class _Drawing:
    """The network's layout (:func:`kgraph.layout.force_layout`, one for the page and the
    network files), the HTML view and the network files, each written into the scratch
    folder as it is made, all of them when the first is asked for: :meth:`file` is one of
    them, as a file :func:`kgraph.publish.publish` copies. They are drawn in the build's own
    process while the store loads in its thread and the JSON-LD worker writes: a forked
    child drawing them beside the build (as before) held a copy of the build's pages (the
    objects it reads are written to: their reference counts), 3.7 GB at x1000."""

    def __init__(self, network: nx.MultiDiGraph, ontology: Graph, scratch: Scratch, step: Step = _noop) -> None:
        self._scratch = scratch
        self._step = step
        self._names = [VIEW_FILE, *network_file_names()]
        self._network: nx.MultiDiGraph | None = network
        self._ontology = ontology

    def _draw(self) -> None:
        from kgraph.interchange import each_network_file

        network, self._network = self._network, None
        self._step("Drawing the HTML view and the network files")
        positions = force_layout(network, seed=SEED)
        with open(self._path(VIEW_FILE), "wb") as out:
            write_html(out, network, types=entity_types(self._ontology), positions=positions)
        drawn = [VIEW_FILE]
        for name, write in each_network_file(self._ontology, network, positions):
            with open(self._path(name), "wb") as out:
                write(out)
            drawn.append(name)
        if sorted(drawn) != sorted(self._names):
            raise RuntimeError(f"the network files are {sorted(drawn)}, not the registry's {sorted(self._names)}")
        self._step("Writing files")

    def _path(self, name: str) -> Path:
        return self._scratch.file("drawn-" + name)

    def file(self, name: str) -> Streamed:
        def write(out) -> None:
            if self._network is not None:
                self._draw()
            _copy_file(self._path(name), out)
        return Streamed(write)


def _copy_file(path: Path, out) -> None:
    with open(path, "rb") as source:
        shutil.copyfileobj(source, out, 1 << 20)


@_collector_paused
def build(project: Project, *, out_dir: Path | None = None, write: bool = True, step: Step = _noop,
          count: Count = _no_count,
          allow_shrink: bool = False, dirs: dict[str, DirWriter] | None = None,
          keep_unwritten: bool = False,
          extra_files: Callable[[Graph, nx.MultiDiGraph], dict[str, bytes]] | None = None,
          incremental: bool = True, keep_graph: bool = True) -> BuildResult:
    """Validate, build the RDF and networkx graphs, and publish every output file.

    Nothing is published unless every step succeeds, every RDF file reads back whole
    (:mod:`kgraph.reparse`) and, unless ``allow_shrink``, the graph keeps most of the
    claims of the previous build (:func:`kgraph.buildinfo.check_shrink`). The files (and
    the folders ``dirs`` writes) are published in one atomic step (:mod:`kgraph.publish`).
    ``keep_unwritten`` returns the built graph with ``write_error`` set when the output
    folder cannot be written, instead of raising. ``extra_files`` (given the ontology and
    the network) adds files published with the others (``build --with-candidates``: the
    preview page). ``incremental`` reuses
    what the builds before kept in ``<out>/.cache`` (:mod:`kgraph.cache`): the same files,
    faster; without it, everything is parsed and validated again (and the cache refilled).
    The RDF graph is made, validated and serialised part by part (:func:`check`); the result's
    ``built`` is the whole of it, gathered for the caller, unless ``keep_graph=False``
    (``kgraph build``: at x100 it would take 2.4 GB); the files are the same either way.
    """
    # the inputs as they are before anything reads them: a file edited during the build
    # leaves a store marked with its old content, which the next query finds stale
    inputs = input_state(project) if write else None
    out = out_dir or project.out_dir
    # what a later build compares with to find that nothing changed (a plain build only)
    stamp = build_stamp(project, inputs.sha256) if write and extra_files is None and not dirs else None
    # the cache's new entries are written once the build has published, or has failed in an
    # output folder that was there before: a failed first build leaves no folder behind
    cache = BuildCache.of_output(out, defer=True) if write else BuildCache(None)
    if not incremental:
        cache = _RefillOnly(cache)
    existed = out.exists()
    # the folders the build makes for the output (removed again, if empty, when it fails)
    made_dirs = _missing_folders(out)
    # the graph's lines go to files in the output folder while the build runs (at x100
    # 1.2 GB kept out of memory; kgraph.linefiles); an output folder that cannot be made
    # is reported when the files are published, the lines meanwhile in the system's
    # temporary folder
    try:
        scratch = Scratch(out if write else None)
    except OSError:
        scratch = Scratch(None)
    try:
        return _build(project, out, scratch, existed, write=write, step=step, count=count,
                      allow_shrink=allow_shrink, dirs=dirs, keep_unwritten=keep_unwritten,
                      extra_files=extra_files, keep_graph=keep_graph, inputs=inputs, stamp=stamp, cache=cache)
    finally:
        scratch.close()
        for folder in made_dirs:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: what the failed build made, and nothing else


def _missing_folders(out: Path) -> list[Path]:
    """``out`` and those of its parents that do not exist, innermost first."""
    missing = []
    for folder in (out, *out.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    return missing


def _build(project: Project, out: Path, scratch: Scratch, existed: bool, *, write: bool, step: Step, count: Count,
           allow_shrink: bool, dirs: dict[str, DirWriter] | None, keep_unwritten: bool,
           extra_files: Callable[[Graph, nx.MultiDiGraph], dict[str, bytes]] | None, keep_graph: bool,
           inputs, stamp, cache: BuildCache) -> BuildResult:
    made = _Parts(keep=keep_graph, scratch=scratch)
    try:
        checked = check(project, step=step, count=count, cache=cache, parts=made)
    finally:
        if existed:
            cache.flush()  # what was parsed and validated, for the build that follows a fix
    if not checked.report.ok or not made.blocks:
        raise ValidationFailed(checked.report)
    # what the files need of the data: the ontology, the report and two counts; the records
    # themselves (at x100 270 MB) go before the lines are merged and the files made
    ontology, report = checked.ontology, checked.report
    claims, entities = len(checked.data.claims), len(checked.data.entities)
    del checked
    built = BuiltGraph(dataset=made.dataset, graph=union_graph(made.dataset)) if made.dataset is not None else None
    written: list[Path] = []
    write_error = None
    loader = None
    step("Building the network")
    network = made.network.finish()
    # extra pages (the candidates preview) are made before anything is published: a bad
    # candidates file must leave the output folder untouched
    extras = extra_files(ontology, network) if write and extra_files is not None else {}
    # the layout, the page and the network files, drawn when the first of them is written
    drawing = _Drawing(network, ontology, scratch, step) if write else None
    # The dataset as sorted N-Quads lines: the store, the RDF files and the read-back are
    # made from them (Oxigraph parses them in Rust; no quad object lives on); each part of
    # the graph was serialised as it was made (its block of sorted lines), and the blocks
    # are merged here.
    step("Serialising the dataset")
    blocks, made = made.blocks, None
    lines = lines_of_block_file(blocks, scratch)
    blocks.close()
    blocks.path.unlink()
    triples = lines.triple_count
    stats = compute_stats(triples, network)
    if write:
        if not allow_shrink:  # only what would replace the published build must keep its claims
            check_shrink(out, claims)
        # The store is loaded under a temporary name by a thread (Oxigraph's loader leaves
        # the interpreter free) while the page and the files are made; it is published with
        # them, as the build folder's store/ (output/store), in the one atomic switch of
        # kgraph.publish.
        loader = _Background(stage_statements, out, lines, inputs_sha256=inputs.sha256, inputs=inputs.files)
    try:
        if loader is not None:
            step("Writing files")
            # the RDF files by Oxigraph's serialisers (5-10x rdflib's), each one made as it is
            # written (kgraph.publish), while the store may still be loading: no build holds
            # all its files at once (x100: 1 GB)
            files: dict[str, bytes | Callable[[], bytes] | Streamed] = dict(
                exports_of_lines(lines, scratch=scratch, background=True))
            # the N-Triples file first, into the scratch folder: build-info.json holds its digest
            graph_file = scratch.file(GRAPH_FILE)
            with open(graph_file, "wb") as fh:
                files[GRAPH_FILE].write(fh)
            files[GRAPH_FILE] = Streamed(functools.partial(_copy_file, graph_file))
            files.update(build_files(ontology, network, stats, rdf=False, sizes=sizes_of_lines(lines.triples),
                                     exports={name: drawing.file(name) for name in network_file_names()}))
            counts = {"claims": claims, "entities": entities,
                      "triples": triples}
            files[BUILD_INFO] = build_info(project, sha256(graph_file), counts, inputs_sha256=inputs.sha256)
            files[VIEW_FILE] = drawing.file(VIEW_FILE)
            files.update(extras)
            del extras
            # the JSON-LD, made by a worker meanwhile (kgraph.store.JsonldWorker), written last
            files[JSONLD_FILE] = files.pop(JSONLD_FILE)
            quads = lines.count
            expected = expected_statements(lines)  # what the files must hold, as N-Quads lines
            # the large RDF files are read back by workers as each is written
            read_back = ReadBack(expected)
            loading = quads + lines.triple_count  # each quad in its graph, each triple in the union
            del lines  # the functions of the RDF files keep them until they are written

            def store_dir(path: Path) -> None:
                step("Writing the store")
                staged = loader.result()
                count(loading, loading, "quads")
                staged.move_to(path)

            def verify(folder: Path) -> None:
                step("Reading the written files back")
                check_build_folder(folder, triples=triples, quads=quads, expected=expected, count=count,
                                   read_back=read_back)

            try:
                written = publish(out, files, {**(dirs or {}), STORE_LINK: store_dir}, verify=verify,
                                  written=read_back.written).paths
            except OutputError as exc:
                if not keep_unwritten:
                    raise
                write_error = exc
            else:
                cache.flush()
                cache.prune(CACHED_KINDS)  # what this build did not use
                if stamp is not None:
                    write_stamp(out, stamp)
            finally:
                read_back.close()
    finally:
        if loader is not None:
            loader.discard()  # the staged store, unless it was published
    reused = {kind: (cache.found.get(kind, 0), looked) for kind, looked in cache.looked.items()}
    return BuildResult(built=built, network=network, stats=stats, report=report, written=written,
                       write_error=write_error, reused=reused)
