"""The ``kgraph`` command line: parse arguments, call one library function, print.

Library modules are imported inside the commands so that ``kgraph --help`` stays fast;
``kgraph query`` with plain arguments does not import this module at all (the console script
is :mod:`kgraph.launch`, the command's body :func:`kgraph.querycmd.run`: issue 10).
Only :class:`kgraph.errors.KgraphError` is caught (message to stderr, the error's
``exit_code``); any other exception is a bug and keeps its traceback.

Option names mean one thing in every command (issue 13): ``--out`` is the file or folder
the command writes (``-`` is stdout where it writes one file), ``--graph-dir`` the built
graph a command reads.
"""

from __future__ import annotations

import copy
import gc
import json
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from typer.core import TyperGroup

from kgraph import terminal
from kgraph.errors import EXIT_CODES, KgraphError
from kgraph.explore import CENTRALITY_MEASURES
from kgraph.formats import accepted_names, format_help
from kgraph.querycmd import DEFAULT_TIMEOUT, MAX_TIMEOUT, QueryArgs
from kgraph.reason import REGIMES
from kgraph.terminal import print_error


class _Group(TyperGroup):
    """Turns a :class:`KgraphError` into a message on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KgraphError as exc:
            print_error(exc)
            ctx.exit(exc.exit_code)


# \b keeps click from re-wrapping the table into one paragraph
_EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES)

app = typer.Typer(
    name="kgraph",
    cls=_Group,
    help="Build, check and explore a knowledge graph of the evidence around ketamine therapy.",
    epilog=_EPILOG,
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DataOpt = Annotated[Optional[Path], typer.Option("--data", help="Curated data directory [default: ./data].")]
OntologyOpt = Annotated[Optional[Path], typer.Option("--ontology", help="Ontology directory [default: ./ontology].")]
CorpusOpt = Annotated[Optional[Path], typer.Option(
    "--corpus", help="Corpus directory with the source .txt files [default: ../shared/corpus if it exists].")]
OutOpt = Annotated[Optional[Path], typer.Option(
    "--graph-dir", help="Directory of the built graph; rebuilt there when data/ or ontology/ changed "
                        "[default: ./output].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _finite_timeout(value: float) -> float:
    import math

    if not math.isfinite(value) or value > MAX_TIMEOUT:
        raise typer.BadParameter(f"{value!r} is not a number of seconds up to {MAX_TIMEOUT:g} (one day)")
    return value


def _project(data: Path | None, ontology: Path | None, corpus: Path | None = None, out: Path | None = None):
    from kgraph.project import Project

    return Project.at(".", data_dir=data, ontology_dir=ontology, corpus_dir=corpus, out_dir=out)


def _version(value: bool) -> None:
    if value:
        from kgraph import __version__

        typer.echo(f"kgraph {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Build, check and explore a knowledge graph of the evidence around ketamine therapy."""


# printed through kgraph.terminal, as `kgraph query` is without typer (kgraph.launch)
_console = terminal.console
_is_tty = terminal.is_tty
_note = terminal.note
_print_table = terminal.print_table


class _Steps:
    """A progress display for the build steps (on stderr; silent when not a terminal): each
    step with its time, and a bar with counts where the step counts its work (claims, quads,
    files)."""

    def __init__(self, quiet: bool):
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[counted]}"), TimeElapsedColumn(),
                                 console=_console(stderr=True), disable=quiet or not sys.stderr.isatty(),
                                 transient=False)
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.task is not None and exc[0] is None:
            self._finish()
        return self.progress.__exit__(*exc)

    def __call__(self, name: str) -> None:
        if self.task is not None:
            self._finish()
        self.task = self.progress.add_task(name, total=None, counted="")

    def count(self, done: int, total: int, what: str) -> None:
        """How far the current step is (``kgraph.pipeline.Count``)."""
        if self.task is not None:
            self.progress.update(self.task, completed=done, total=max(total, 1),
                                 counted=f"{done:,}/{total:,} {what}")

    def _finish(self) -> None:
        task = self.progress.tasks[-1]
        total = task.total if task.total is not None else 1
        self.progress.update(self.task, completed=total, total=total)


def _print_problems(report, console) -> None:
    from rich.markup import escape

    for p in report.sorted():
        style = "red" if p.level == "error" else "yellow"
        # data (file names, messages quoting the data) is escaped: only our own styles are markup
        console.print(f"[{style}]{p.level}[/{style}] {escape(str(p.where))}: {escape(p.message)}",
                      markup=True, highlight=False)
        if p.hint:
            console.print(f"    {p.hint}", markup=False)


@app.command()
def build(
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Directory to write the graph files to [default: ./output].")] = None,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    corpus: CorpusOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    allow_shrink: Annotated[bool, typer.Option(
        "--allow-shrink", help="Build even when the graph has no claims or loses over 20% of the claims of the "
                               "last build (a missing or renamed data file otherwise stops the build).")] = False,
    with_candidates: Annotated[bool, typer.Option(
        "--with-candidates", help="Also write kgraph-preview.html: the view with the pending candidates "
                                  "(kgraph extract) drawn dashed and paler. They never enter the other files.")] = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Parse and validate every data file again, not only those changed since the last "
                           "build (the result is the same; the cache in OUT/.cache is refilled).")] = False,
) -> None:
    """Validate the data and write the graph files to the output directory.

    Writes kgraph.ttl, kgraph.nt, kgraph.jsonld, kgraph.rdf, kgraph.trig, kgraph.graphml,
    the network for other tools (KGX kgraph_nodes.tsv / kgraph_edges.tsv, Neo4j
    kgraph-neo4j-*.csv and kgraph-neo4j.cypher, Cytoscape kgraph.cyjs), void.ttl,
    stats.json and kgraph.html (the interactive view) -- all or nothing: the build goes
    into a fresh folder, is read back, and replaces the previous one in one step.

    The build is incremental: the data files, and the SHACL checks of the sources whose
    claims, unchanged since the last build, are kept in OUT/.cache are reused.

    Example:

        kgraph build --out output

        kgraph build --with-candidates   # then open output/kgraph-preview.html
    """
    from kgraph.pipeline import build as run_build
    from kgraph.pipeline import unchanged

    project = _project(data, ontology, corpus, out)
    if not (no_cache or with_candidates) and unchanged(project):
        typer.echo(f"{project.out_dir} is up to date: no data, ontology, shapes or corpus file changed since "
                   "its last build (--no-cache builds it again).")
        return
    extra = _candidates_preview(project) if with_candidates else None
    with _Steps(quiet) as steps:
        result = run_build(project, step=steps, count=steps.count, allow_shrink=allow_shrink, extra_files=extra,
                           incremental=not no_cache, keep_graph=False)
    err = _console(stderr=True)
    for p in result.report.warnings:
        err.print(f"warning {p.where}: {p.message}", markup=False)
    s = result.stats
    out_dir = project.out_dir
    typer.echo(f"Built {s['entities']} entities, {s['relations']} relations, {s['claims']} claims "
               f"({s['triples']} triples) into {out_dir}")
    reused = result.reused
    if any(found for found, _ in reused.values()):
        parts = []
        if "yaml" in reused:
            parts.append("{} of {} data files parsed".format(*reused["yaml"]))
        if "shacl" in reused:
            parts.append("the SHACL checks of {} of {} sources' claims".format(*reused["shacl"]))
        typer.echo(f"  reused from the last build: {', '.join(parts)}")
    for path in result.written:
        typer.echo(f"  {path.name}")


def _candidates_preview(project):
    """The extra_files hook of build for --with-candidates."""

    def preview(ontology, network) -> dict[str, bytes]:
        from kgraph.load import load_dataset, vocabulary
        from kgraph.preview import PREVIEW_FILE, preview_network
        from kgraph.view import entity_types
        from kgraph.viz import render_html

        dataset, _ = load_dataset(project)
        G, _ = preview_network(network, project, dataset, vocabulary(ontology))
        return {PREVIEW_FILE: render_html(G, types=entity_types(ontology)).encode("utf-8")}

    return preview


@app.command()
def validate(
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    corpus: CorpusOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the data, that every quote occurs verbatim in its source, and the SHACL shapes.

    Reports every problem with its file and line; exits 3 when there are errors.

    Example:

        kgraph validate --corpus ../shared/corpus
    """
    from kgraph.pipeline import check

    project = _project(data, ontology, corpus)
    with _Steps(quiet=as_json) as steps:
        result = check(project, require_corpus=True, step=steps)
    report = result.report
    if as_json:
        typer.echo(json.dumps({
            "ok": report.ok,
            "quotes_checked": report.quotes_checked,
            "quotes_grounded": report.quotes_grounded,
            "problems": [{"level": p.level, "code": p.code, "where": str(p.where), "message": p.message,
                          "hint": p.hint}
                         for p in report.sorted()],
        }, indent=2))
    else:
        _print_problems(report, _console(stderr=False))
        typer.echo(f"{len(result.data.entities)} entities, {len(result.data.claims)} claims, "
                   f"{report.quotes_grounded}/{report.quotes_checked} quotes grounded in {project.corpus_dir}; "
                   f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if not report.ok:
        raise typer.Exit(3)


@app.command()
def stats(
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the most connected entities.")] = 10,
) -> None:
    """Counts per type, predicate, source and evidence kind, and the most connected entities.

    A table on a terminal; tab-separated lines when piped; JSON with --json.

    Example:

        kgraph stats --top 5
    """
    from kgraph.graphstore import load_graphs

    graphs = load_graphs(_project(data, ontology, out=out))
    from kgraph.stats import compute_stats

    s = compute_stats(graphs.triples, graphs.network, top=top)
    if as_json:
        typer.echo(json.dumps(s, indent=2, sort_keys=True, ensure_ascii=False))
        return
    sections = [
        ("Entities by type", "type", s["entities_by_type"]),
        ("Claims by predicate", "predicate", s["claims_by_predicate"]),
        ("Claims by source", "source", s["claims_by_source"]),
        ("Claims by evidence kind", "evidence kind", s["claims_by_evidence"]),
    ]
    if not _is_tty():
        for key in ("triples", "entities", "relations", "claims", "statistics", "flagged_claims"):
            typer.echo(f"total\t{key}\t{s[key]}")
        for title, _, counts in sections:
            for name, n in sorted(counts.items(), key=lambda t: (-t[1], t[0])):
                typer.echo(f"{title.lower()}\t{name}\t{n}")
        for row in s["most_connected"]:
            typer.echo(f"most connected\t{row['id']}\t{row['degree']}")
        return
    from rich.table import Table
    from rich.text import Text

    console = _console()
    console.print(f"{s['entities']} entities, {s['relations']} relations, {s['claims']} claims "
                  f"({s['statistics']} statistics, {s['flagged_claims']} flagged), {s['triples']} triples")
    for title, col, counts in sections:
        table = Table(title=title, title_justify="left")
        table.add_column(col)
        table.add_column("count", justify="right")
        for name, n in sorted(counts.items(), key=lambda t: (-t[1], t[0])):
            table.add_row(Text(name), str(n))
        console.print(table)
    table = Table(title="Most connected entities", title_justify="left")
    for col in ("id", "label", "type", "degree"):
        table.add_column(col, justify="right" if col == "degree" else "left")
    for row in s["most_connected"]:
        table.add_row(Text(row["id"]), Text(row["label"]), Text(row["type"]), str(row["degree"]))
    console.print(table)


# --------------------------------------------------------------------------- ask the graph (issue 3)

QueryFileOpt = Annotated[Optional[Path], typer.Option("--file", "-f", help="Read the query from this file.")]
QueryNameOpt = Annotated[Optional[str], typer.Option(
    "--name", "-n", help="Run a named query shipped with kgraph (`kgraph queries` lists them).")]
#: every name of a SPARQL answer format (kgraph.formats; the server's ?format= takes the same)
QUERY_FORMAT_NAMES = tuple(accepted_names("results", "graph"))
RebuildOpt = Annotated[bool, typer.Option("--rebuild", help="Rebuild the graph first, even if it is up to date.")]
EntityArg = Annotated[str, typer.Argument(help="An entity id, label or synonym (any case).")]


@app.command()
def query(
    text: Annotated[Optional[str], typer.Argument(
        help="The SPARQL query; - reads it from stdin.", show_default=False)] = None,
    file: QueryFileOpt = None,
    name: QueryNameOpt = None,
    fmt: Annotated[Optional[Literal[QUERY_FORMAT_NAMES]], typer.Option(
        "--format", help=format_help(), show_choices=False, metavar="<name>")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--out", "-o", "--output",
        help="Write the answer to this file (format from --format or the suffix); - is stdout.")] = None,
    exit_status: Annotated[bool, typer.Option("--exit-status", help="ASK: exit 0 when true, 1 when false.")] = False,
    reason: Annotated[Optional[Literal[REGIMES]], typer.Option(
        "--reason",
        help="Answer over the graph plus what RDFS or OWL 2 RL entails (subclasses, inverse properties).")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.01, callback=_finite_timeout,
        help="Stop the query after this many seconds (a rebuild or closure is not counted).")]
    = DEFAULT_TIMEOUT,
    rebuild: RebuildOpt = False,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
) -> None:
    """Ask the graph a SPARQL question: SELECT, ASK, CONSTRUCT or DESCRIBE.

    The prefixes kg, kgr, rdf, rdfs, owl, xsd, skos, prov, dcterms and schema are
    predeclared. Queries only read: updates and SERVICE are refused; GRAPH ?g ranges over
    the named graphs (one per source, entities, ontology, catalog) and FROM may only name them.

    Example:

        kgraph query 'SELECT ?c WHERE { kgr:ketamine kg:treats ?c }'

        kgraph query --name treats --format csv --out treats.csv
    """
    from kgraph.querycmd import run

    # the body is kgraph.querycmd's: kgraph.launch runs it without typer when it can (issue 10)
    status = run(QueryArgs(text=text, file=file, name=name, fmt=fmt, output=output, exit_status=exit_status,
                           reason=reason, timeout=timeout, rebuild=rebuild, data=data, ontology=ontology, out=out))
    if status:
        raise typer.Exit(status)


def _graphs(data: Path | None, ontology: Path | None, out: Path | None):
    from kgraph.graphstore import load_graphs

    return load_graphs(_project(data, ontology, out=out), step=_note)


def _echo_json(value) -> None:
    """Dataclasses (or lists of them) as indented JSON."""
    from dataclasses import asdict

    data = [asdict(v) for v in value] if isinstance(value, list) else asdict(value)
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@app.command()
def queries(
    name: Annotated[Optional[str], typer.Argument(help="Print the SPARQL text of this named query.")] = None,
) -> None:
    """List the named queries with a line of description each, or print one of them.

    Run one with `kgraph query --name NAME`.

    Example:

        kgraph queries

        kgraph queries mechanism-chain
    """
    from kgraph.sparql.named import named_queries, named_query

    if name is not None:
        typer.echo(named_query(name).text, nl=False)
        return
    _print_table(["name", "description"], [[q.name, q.description] for q in named_queries().values()])


@app.command()
def show(
    entity: EntityArg,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything about one entity: type, description, synonyms, identifiers, relations, claims.

    Example:

        kgraph show "NMDA receptor"
    """
    from kgraph.explore import describe_entity, report_text

    G = _graphs(data, ontology, out).network
    report = describe_entity(G, entity)
    if as_json:
        _echo_json(report)
    else:
        typer.echo(report_text(G, report))


@app.command()
def neighbors(
    entity: EntityArg,
    depth: Annotated[int, typer.Option("--depth", min=1, help="How many relations away.")] = 1,
    predicate: Annotated[Optional[str], typer.Option(
        "--predicate", help="Follow only this relation (local name or label, e.g. treats).")] = None,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The entities within a few relations of one, in either direction, nearest first.

    Example:

        kgraph neighbors ketamine --predicate treats

        kgraph neighbors "NMDA receptor" --depth 2
    """
    from kgraph.explore import neighbors as find_neighbors

    G = _graphs(data, ontology, out).network
    found = find_neighbors(G, entity, depth=depth, predicate=predicate)
    if as_json:
        _echo_json(found)
        return
    if not found:
        _note("No neighbors" + (f" over '{predicate}'." if predicate else "."))
    for n in found:
        parent = G.nodes[n.parent].get("label", n.parent)
        for r in n.relations:
            ends = (parent, n.label) if r.direction == "out" else (n.label, parent)
            typer.echo(f"{n.distance}  {ends[0]} → {r.label} → {ends[1]}  ({n.id}, {n.type})")


@app.command()
def path(
    start: Annotated[str, typer.Argument(help="Where the path starts: an entity id, label or synonym.")],
    end: Annotated[str, typer.Argument(help="Where it ends.")],
    max_paths: Annotated[int, typer.Option("--max", min=1, help="Show at most this many shortest paths.")] = 5,
    directed: Annotated[bool, typer.Option(
        "--directed", help="Follow relations only in their direction (subject to object).")] = False,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
) -> None:
    """The shortest relation paths between two entities, with the relations on the way.

    → follows a relation from subject to object, ← against it.

    Example:

        kgraph path ketamine "BDNF release" --directed
    """
    from kgraph.explore import format_path, shortest_paths

    G = _graphs(data, ontology, out).network
    found = shortest_paths(G, start, end, max_paths=max_paths, directed=directed)
    if not found:
        _note(f"No path from '{start}' to '{end}'" + (" following the relations' direction." if directed else "."))
    for steps in found:
        typer.echo(format_path(G, steps) or f"'{start}' and '{end}' are the same entity.")


@app.command()
def central(
    by: Annotated[Literal[CENTRALITY_MEASURES], typer.Option("--by",
                                                           help="degree: relations in and out; pagerank: pointed to by much; "
                                         "betweenness: on many shortest connections.")] = "degree",
    entity_type: Annotated[Optional[str], typer.Option(
        "--type", help="Only entities of this type or its subtypes (e.g. Condition, Mechanism).")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many.")] = 10,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The most central entities of the network.

    Example:

        kgraph central --by pagerank --type Condition --top 5
    """
    from kgraph.explore import centrality, entity_types

    graphs = _graphs(data, ontology, out)
    types = entity_types(graphs.graph, entity_type) if entity_type else None
    ranked = centrality(graphs.network, by=by, types=types, top=top)
    if as_json:
        _echo_json(ranked)
        return
    score = (lambda s: str(int(s))) if by == "degree" else (lambda s: f"{s:.4f}")
    _print_table(["id", "label", "type", by], [[r.id, r.label, r.type, score(r.score)] for r in ranked])


@app.command()
def viz(
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="HTML file to write; - is stdout [default: output/kgraph.html; "
                            "output/kgraph-view.html for a focused or filtered view].")] = None,
    focus: Annotated[Optional[str], typer.Option(
        "--focus", help="Draw this entity (id, label or synonym, any case) and what surrounds it.")] = None,
    depth: Annotated[int, typer.Option("--depth", min=0, help="With --focus: how many relations away.")] = 1,
    types: Annotated[Optional[str], typer.Option(
        "--types", help="Only entities of these types or their subtypes, comma-separated (e.g. Drug,Condition).")] = None,
    source: Annotated[Optional[str], typer.Option(
        "--source", help="Only claims from this document (id such as src-001, or file name).")] = None,
    predicate: Annotated[Optional[str], typer.Option(
        "--predicate", help="Only relations of this predicate (local name or label, e.g. treats).")] = None,
    evidence: Annotated[Optional[str], typer.Option(
        "--evidence", help="Only claims of this evidence kind (e.g. cites-rct or ClinicStatement).")] = None,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Draw the graph as one interactive HTML page that works offline.

    Find entities by name, filter by type, and click a node or an edge to read the
    claims behind it, with their sources and quotes. The page needs no network.

    Example:

        kgraph viz --focus ketamine --depth 2 --out ketamine.html

        kgraph viz --types Drug,Condition --evidence cites-rct
    """
    from kgraph.export import write_atomic
    from kgraph.graphstore import load_graphs
    from kgraph.view import ViewOptions, entity_types
    from kgraph.viz import PARTIAL_VIEW_FILE, VIEW_FILE, render_view

    project = _project(data, ontology)
    graphs = load_graphs(project, step=_note)
    options = ViewOptions(focus=focus, depth=depth, types=tuple(t.strip() for t in (types or "").split(",") if t.strip()),
                          source=source, predicate=predicate, evidence=evidence)
    page = render_view(graphs.network, options, types=entity_types(graphs.graph))
    if out is not None and str(out) == "-":
        sys.stdout.write(page.html)
        sys.stdout.flush()
        return
    path = out or project.out_dir / (VIEW_FILE if options.is_whole_graph else PARTIAL_VIEW_FILE)
    write_atomic(path, page.html.encode("utf-8"))
    typer.echo(f"Wrote {path}: {page.nodes} entities, {page.edges} relation{'' if page.edges == 1 else 's'}")
    if page.crowded:
        _note("That is a lot to read at once: try --focus ENTITY --depth 2.")


@app.command()
def report(
    entity: Annotated[Optional[str], typer.Argument(
        help="A condition or drug: id, label or synonym (any case).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="An index and one report per condition, into the --out folder.")]
    = False,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", help="html, md or json [default: from the --out suffix, else md].")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Write to this file, - for stdout (with --all: this folder) "
                      "[default: print; --all: output/report].")] = None,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """How well backed is each claim about a condition or drug: belief, sources, quotes,
    contradictions and red flags.

    Beliefs come from the error priors per evidence kind in kgraph's evidence-priors.yaml
    (data/evidence-priors.yaml overrides them).

    Example:

        kgraph report ptsd --format md | head -40

        kgraph report ketamine --out ketamine.html

        kgraph report --all --out reports
    """
    from kgraph.errors import KgraphError
    from kgraph.evidence_report import choose_format, entity_report, find_report_entity, load_evidence, render, write_all_reports

    if (entity is None) == (not all_):
        raise KgraphError("give one condition or drug, or --all", "Example: kgraph report ptsd; kgraph report --all")
    if out is not None and str(out) == "-" and not all_:
        out = None  # - is stdout: printed, as with no --out
    project = _project(data, ontology)
    chosen = choose_format(fmt, None if all_ else out)
    evidence = load_evidence(project)
    if all_:
        folder = out or project.out_dir / "report"
        written = write_all_reports(evidence, folder, "html" if fmt is None else chosen)
        typer.echo(f"Wrote {len(written)} files into {folder}")
        return
    text = render(entity_report(evidence, find_report_entity(evidence, entity)), chosen)
    if out is None:
        typer.echo(text, nl=False)
        return
    from kgraph.export import write_atomic

    write_atomic(out, text.encode("utf-8"))
    _note(f"Wrote {out}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0 picks a free one).")] = 8000,
    cors: Annotated[Optional[str], typer.Option(
        "--cors", help="An origin (https://example.org) allowed to query from a browser; off by default.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, callback=_finite_timeout,
                                           help="Seconds a query may run.")] = 30.0,
    max_results: Annotated[int, typer.Option("--max-results", min=1, help="Largest result (rows or triples).")] = 10_000,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild the graph before serving.")] = False,
    cache_mb: Annotated[int, typer.Option(
        "--cache-mb", min=0, help="Megabytes of answers kept to answer a repeated query at once (0: none).")] = 64,
    warm: Annotated[bool, typer.Option(
        "--warm/--no-warm", help="Ask every named question once at start-up, so that they are answered "
                                 "at once afterwards.")] = True,
) -> None:
    """Serve the graph: a SPARQL endpoint, Linked Data pages and a browser app.

    Read-only: SPARQL Update and SERVICE are refused; GRAPH, FROM and default-graph-uri /
    named-graph-uri select the store's own graphs (one per source); every query has a
    time limit and a result-size limit. Binds 127.0.0.1 unless --host says otherwise.

    Example:

        kgraph serve --port 8000   # then open http://127.0.0.1:8000/
    """
    from kgraph.evidence_report import load_evidence
    from kgraph.graphstore import load_graphs
    from kgraph.serve import Later, ServeOptions, create_app, listen, run

    options = ServeOptions(host=host, port=port, cors=cors, timeout=timeout, max_results=max_results,
                           answer_cache_bytes=cache_mb << 20, warm=warm)  # checks
    sock = listen(host, port)  # first, so that a taken port is reported before any work
    project = _project(data, ontology, out=out)
    graphs = load_graphs(project, rebuild=rebuild, warn=_note)
    # SPARQL is answered from the store at once; the rdflib graph, the network and the
    # evidence (for /report/<id>) are made when a page first needs them
    app_ = create_app(Later(lambda: graphs.graph), Later(lambda: graphs.network), options,
                      evidence=Later(lambda: load_evidence(project)), store=graphs.info)
    if host not in ("127.0.0.1", "localhost", "::1"):
        _console(stderr=True).print(f"warning: serving on {host}: other machines can reach this server",
                                    markup=False)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"kgraph: serving {graphs.triples} triples at http://{shown}:{bound}/ "
               f"(SPARQL endpoint /sparql); Ctrl+C stops", err=True)
    run(app_, sock, options)


@app.command()
def push(
    url: Annotated[str, typer.Argument(help="The store's SPARQL 1.1 Graph Store endpoint, e.g. http://127.0.0.1:7878/store.")],
    graph: Annotated[Optional[str], typer.Option(
        "--graph", help="Put the whole graph into this one named graph [default: one named graph per source].")] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace what each graph held (HTTP PUT) instead of adding to it (POST).")] = False,
    query_url: Annotated[Optional[str], typer.Option(
        "--query-url", help="The store's SPARQL query endpoint, to count the triples after the push "
                            "[default: guessed from URL].")] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Triples per request.")] = 50_000,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Retries of a request that failed with 5xx "
                                                                 "or a connection error.")] = 5,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    out: OutOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Push the graph into a running triple store (SPARQL 1.1 Graph Store Protocol), then check the counts.

    One named graph per source, plus the entities, the ontology and the catalog of sources.
    Credentials come from the environment: KGRAPH_PUSH_TOKEN (Bearer), or KGRAPH_PUSH_USER and
    KGRAPH_PUSH_PASSWORD (Basic, or Digest when the store asks; KGRAPH_PUSH_AUTH=basic|digest forces one).

    Example:

        kgraph push http://127.0.0.1:7878/store --replace

        KGRAPH_PUSH_USER=dba KGRAPH_PUSH_PASSWORD=... kgraph push http://127.0.0.1:8890/sparql-graph-crud-auth
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kgraph.push import auth_from_env
    from kgraph.push import push as run_push
    from kgraph.store import current_store

    auth = auth_from_env()
    store = current_store(_project(data, ontology, out=out), step=None if quiet else _note)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=_console(stderr=True), disable=quiet or not sys.stderr.isatty()) as bar:
        tasks: dict[str, object] = {}

        def progress(iri: str, sent: int, total: int) -> None:
            if iri not in tasks:
                tasks[iri] = bar.add_task(f"<{iri}>", total=total)
            bar.update(tasks[iri], completed=sent)

        report = run_push(store, url, graph=graph, replace=replace, query_url=query_url, auth=auth, batch=batch,
                          retries=retries, progress=progress)
    for note in report.notes:
        _note(f"Note: {note}")
    typer.echo(f"Pushed {report.sent} triples in {len(report.graphs)} graph(s) to {url} in {report.seconds:.1f} s"
               f"{f' ({report.retries} retried requests)' if report.retries else ''}; counts checked at "
               f"{report.query_url}")
    if not _is_tty():
        for g in report.graphs:
            typer.echo(f"{g.iri}\t{g.sent}\t{g.remote}")


# --------------------------------------------------------------------------- new documents (issue 11)

@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(
        help="Documents: plain text (.txt, .md) or saved web pages (.html, .htm), or folders of them.",
        show_default=False)],
    out: Annotated[Optional[str], typer.Option(
        "--out", help="Where the candidates go: a .yaml file (one document), a folder (several), or - for "
                      "stdout [default: data/candidates/<source-id>.yaml].")] = None,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    corpus: CorpusOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Propose candidate claims and entities from new documents, for a curator's review.

    Per document: a candidates file with the proposed source record, new entities and
    candidate claims (quotes with offsets, evidence kind, modality, confidence), and the
    document's text beside it (<source-id>.txt; for a web page, its main text). The
    extractor learns from the curated data. Nothing is written into the curated data:
    `kgraph review` does that. Candidates decided in an earlier review are not proposed
    again.

    Example:

        kgraph extract article.html

        kgraph extract saved-pages/ --out review/

        kgraph extract article.txt --out - | less
    """
    from kgraph.candidates import dump_candidates
    from kgraph.propose import (
        STDOUT,
        candidate_files,
        extract_documents,
        write_candidate_files,
    )

    project = _project(data, ontology, corpus)
    with _Bar(quiet, "Extracting") as bar:
        results = extract_documents(project, files, out=out, progress=bar.update, step=bar.step)
    if out == STDOUT:
        typer.echo(dump_candidates(results[0].candidates), nl=False)
    else:
        from kgraph.review import journal_for

        files = candidate_files(results)
        if files:
            write_candidate_files(files, journal_for(files))
    stream = sys.stderr if out == STDOUT else sys.stdout
    for r in results:
        c = r.candidates
        where = "stdout" if r.planned.out is None else str(r.planned.out) if c.claims else "nothing to review"
        line = (f"{c.source_id}  {r.planned.document.path}: {len(c.claims)} candidate claims, "
                f"{len(c.entities)} new entities -> {where}")
        if r.decided:
            line += f" ({r.decided} decided before, not proposed again)"
        print(line, file=stream)
        if r.planned.reused:
            print(f"  {r.planned.reused}", file=sys.stderr)
        if r.dropped:
            print(f"  left out {len(r.dropped)} candidate(s) the data or ontology refuse, e.g. {r.dropped[0]}",
                  file=sys.stderr)
    pending = [r.candidates.source_id for r in results if r.candidates.claims]
    if out != STDOUT and pending:
        print("Next: kgraph review " + " ".join(pending), file=sys.stderr)


class _Bar:
    """A progress bar over documents (on stderr; silent when not a terminal)."""

    def __init__(self, quiet: bool, what: str):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=_console(stderr=True),
                                 disable=quiet or not sys.stderr.isatty())
        self.what = what
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def step(self, name: str) -> None:
        self.task = self.progress.add_task(name, total=None)

    def update(self, done: int, total: int, path) -> None:
        if self.task is None or self.progress.tasks[-1].description != self.what:
            if self.task is not None:
                self.progress.update(self.task, completed=1, total=1)
            self.task = self.progress.add_task(self.what, total=total)
        self.progress.update(self.task, completed=done, total=total)


@app.command()
def review(
    sources: Annotated[Optional[list[str]], typer.Argument(
        help="Source ids (src-005) or candidates files to review [default: every pending one].",
        show_default=False)] = None,
    accept_all: Annotated[bool, typer.Option("--accept-all", help="Accept every candidate, without asking.")] = False,
    decisions_file: Annotated[Optional[Path], typer.Option(
        "--decisions", help="Apply the decisions in this YAML file (claims: {ID: accept|reject|skip|"
                            "{edit: {field: value}}}, entities:, source:, default:) without asking.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    corpus: CorpusOpt = None,
) -> None:
    """Accept, edit or reject candidates (from kgraph extract), moving them into the data.

    Shows each candidate claim with its sentence in context (the quote highlighted) and
    the entities it uses, and asks: accept, edit (field: value lines), reject, skip or
    quit (which keeps the decisions made so far; end of input keeps none). Accepted claims
    go to data/claims/<NNN>.yaml and their new entities to
    data/entities/, with new stable ids, checked like `kgraph validate` first; the new
    source goes to data/sources.yaml with its text in data/documents/. Every decision is
    remembered (data/candidates/<source-id>.decisions.yaml), so extracting the document
    again never proposes a rejected candidate. All files are written in one step.

    Example:

        kgraph review src-005

        kgraph review --accept-all

        kgraph review src-005 --decisions decisions.yaml --dry-run
    """
    from kgraph.load import load_dataset, load_ontology, vocabulary
    from kgraph.review import (
        JOURNAL,
        Decisions,
        apply_review,
        candidates_dir,
        commit_files,
        find_candidates,
        pending_files,
        read_decisions,
        recover,
        review_all,
    )

    project = _project(data, ontology, corpus)
    if recover(project):
        _note("Finished an interrupted review's writes first.")
    paths = [find_candidates(project, source) for source in sources] if sources else pending_files(project)
    if not paths:
        typer.echo(f"Nothing to review: no candidates in {candidates_dir(project)}. Run kgraph extract FILE first.")
        return
    given = read_decisions(decisions_file) if decisions_file is not None else None
    if given is not None and accept_all:
        raise typer.BadParameter("give --accept-all or --decisions, not both")
    console = _console()
    vocab = vocabulary(load_ontology(project))
    if len(paths) > 1 and (given is not None or accept_all):
        # the same decisions for many documents: applied in turn, validated once, written in one step
        results, files = review_all(project, paths, given or Decisions(default="accept"), vocab=vocab)
        if not dry_run:
            commit_files(files, candidates_dir(project) / JOURNAL)
        for result in results:
            _review_summary(project, result, dry_run, files=False)
        _review_files(project, files, dry_run)
        return
    for path in paths:
        dataset, _ = load_dataset(project)
        if given is not None:
            decisions = given
        elif accept_all:
            decisions = Decisions(default="accept")
        else:
            decisions = _ask(project, path, dataset, vocab, console)
        result = apply_review(project, path, decisions, dataset=dataset, vocab=vocab)
        if not dry_run:
            commit_files(result.files, candidates_dir(project) / JOURNAL)
        _review_summary(project, result, dry_run)


def _review_summary(project, result, dry_run: bool, files: bool = True) -> None:
    typer.echo(f"{result.source_id}: {len(result.accepted)} accepted, {len(result.rejected)} rejected, "
               f"{len(result.skipped)} left for later; {len(result.entities_added)} new entities"
               + (" and the source record" if result.source_added else ""))
    for cand, cid in result.accepted:
        typer.echo(f"  {cand} -> {cid}")
    if files:
        _review_files(project, result.files, dry_run)


def _review_files(project, files, dry_run: bool) -> None:
    verb = "Would write" if dry_run else "Wrote"
    for file, content in sorted(files.items()):
        shown = file.relative_to(project.root) if file.is_relative_to(project.root) else file
        typer.echo(f"  {verb if content is not None else 'Would remove' if dry_run else 'Removed'} {shown}")


def _ask(project, path, dataset, vocab, console):
    from rich.text import Text

    from kgraph.candidates import (
        check_candidates,
        read_candidates,
        settle_known_entities,
    )
    from kgraph.review_ui import ask_decisions

    cset = read_candidates(path, str(path.relative_to(project.root)) if path.is_relative_to(project.root) else str(path))
    settle_known_entities(cset, dataset)
    check_candidates(cset, dataset, vocab)

    def read(prompt: str) -> str:
        try:
            return console.input(Text(prompt))  # Text: "[a]ccept" is not markup
        except EOFError:
            _note("\nReview stopped at the end of the input: nothing written.")
            raise typer.Exit(1) from None

    console.print(f"Reviewing {len(cset.claims)} candidate claims of {cset.source_id} "
                  f"({cset.source.get('title') or cset.source.get('original')})", markup=False)
    return ask_decisions(cset, dataset, vocab, console, read)


def main() -> None:
    """Console-script entry point."""
    try:
        app_for(sys.argv[1:])()
    finally:
        # The process ends here: the collections Python runs at exit would walk every object
        # of a graph just built (25 s of 128 after an x10 build, under load) to free what the
        # OS frees anyway; frozen objects are left out of them. (Not in app(): CliRunner tests
        # run it in their own process, which goes on.)
        gc.freeze()


def app_for(args: list[str]) -> typer.Typer:
    """The app, holding only the command that ``args`` start with when they name one.

    Typer builds the click command of every registered command before running one (13 ms
    for kgraph's 16, a tenth of a `kgraph query` at x100: issue 10); the command itself is
    built the same way either way. Anything else (``--help``, ``--version``, a misspelt
    command that deserves "did you mean", shell completion) gets the whole app.
    """
    from typer.main import get_command_name

    name = args[0] if args else None
    chosen = [c for c in app.registered_commands
              if (c.name or get_command_name(c.callback.__name__)) == name]
    if len(chosen) != 1:
        return app
    lean = copy.copy(app)  # the same callback, settings and completion options
    lean.registered_commands = chosen
    return lean


if __name__ == "__main__":
    main()


@app.command()
def docs(
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="HTML file to write [default: output/ontology.html].")] = None,
    ontology: OntologyOpt = None,
) -> None:
    """Write the ontology's documentation as one HTML page that works offline.

    Classes with their hierarchy, properties with domains, ranges and inverses, the
    alignments to schema.org, PROV and Biolink, and the evidence kinds with their
    strengths. `kgraph serve` shows the same page at /ontology.

    Example:

        kgraph docs --out ontology.html
    """
    from kgraph.export import write_atomic
    from kgraph.load import load_ontology
    from kgraph.ontodoc import render_docs

    project = _project(None, ontology)
    page = render_docs(load_ontology(project))
    path = out or project.out_dir / "ontology.html"
    write_atomic(path, page.encode("utf-8"))
    typer.echo(f"Wrote {path}")
