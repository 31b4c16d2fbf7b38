"""The ``kgraph`` command line: parse arguments, call one library function, print.

Library modules are imported inside the commands so that ``kgraph --help`` stays fast.
Only :class:`kgraph.errors.KgraphError` is caught (message to stderr, exit code 2);
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from typer.core import TyperGroup

from kgraph.errors import KgraphError

class _Group(TyperGroup):
    """Turns a :class:`KgraphError` into a message on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KgraphError as exc:
            _console(stderr=True).print(f"Error: {exc}", markup=False, highlight=False)
            ctx.exit(exc.exit_code)


app = typer.Typer(
    name="kgraph",
    cls=_Group,
    help="Build, check and explore a knowledge graph of the evidence around ketamine therapy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DataOpt = Annotated[Optional[Path], typer.Option("--data", help="Curated data directory [default: ./data].")]
OntologyOpt = Annotated[Optional[Path], typer.Option("--ontology", help="Ontology directory [default: ./ontology].")]
CorpusOpt = Annotated[Optional[Path], typer.Option(
    "--corpus", help="Corpus directory with the source .txt files [default: ../shared/corpus if it exists].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _project(data: Path | None, ontology: Path | None, corpus: Path | None = None, out: Path | None = None):
    from kgraph.project import Project

    return Project.at(".", data_dir=data, ontology_dir=ontology, corpus_dir=corpus, out_dir=out)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _is_tty() -> bool:
    return sys.stdout.isatty()


class _Steps:
    """A progress display for the build steps (on stderr; silent when not a terminal)."""

    def __init__(self, quiet: bool):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=_console(stderr=True), disable=quiet or not sys.stderr.isatty(),
                                 transient=False)
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.task is not None and exc[0] is None:
            self.progress.update(self.task, completed=1, total=1)
        return self.progress.__exit__(*exc)

    def __call__(self, name: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=1, total=1)
        self.task = self.progress.add_task(name, total=None)


def _print_problems(report, console) -> None:
    for p in report.sorted():
        style = "red" if p.level == "error" else "yellow"
        console.print(f"[{style}]{p.level}[/{style}] {p.where}: {p.message}", markup=True, highlight=False)
        if p.hint:
            console.print(f"    {p.hint}", markup=False)


@app.command()
def build(
    out: Annotated[Optional[Path], typer.Option("--out", help="Output directory [default: ./output].")] = None,
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    corpus: CorpusOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Validate the data and write the graph files to the output directory.

    Writes kgraph.ttl, kgraph.nt, kgraph.jsonld, kgraph.rdf, kgraph.trig, kgraph.graphml
    and stats.json -- all or nothing.

    Example:

        kgraph build --out output
    """
    from kgraph.pipeline import build as run_build

    project = _project(data, ontology, corpus, out)
    with _Steps(quiet) as steps:
        result = run_build(project, step=steps)
    err = _console(stderr=True)
    for p in result.report.warnings:
        err.print(f"warning {p.where}: {p.message}", markup=False)
    s = result.stats
    out_dir = project.out_dir
    typer.echo(f"Built {s['entities']} entities, {s['relations']} relations, {s['claims']} claims "
               f"({s['triples']} triples) into {out_dir}")
    for path in result.written:
        typer.echo(f"  {path.name}")


@app.command()
def validate(
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    corpus: CorpusOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the data, and that every quote occurs verbatim in its source document.

    Reports every problem with its file and line; exits 1 when there are errors.

    Example:

        kgraph validate --corpus ../shared/corpus
    """
    from kgraph.pipeline import check

    project = _project(data, ontology, corpus)
    result = check(project, require_corpus=True)
    report = result.report
    if as_json:
        typer.echo(json.dumps({
            "ok": report.ok,
            "quotes_checked": report.quotes_checked,
            "quotes_grounded": report.quotes_grounded,
            "problems": [{"level": p.level, "where": str(p.where), "message": p.message, "hint": p.hint}
                         for p in report.sorted()],
        }, indent=2))
    else:
        _print_problems(report, _console(stderr=False))
        typer.echo(f"{len(result.data.entities)} entities, {len(result.data.claims)} claims, "
                   f"{report.quotes_grounded}/{report.quotes_checked} quotes grounded in {project.corpus_dir}; "
                   f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def stats(
    data: DataOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the most connected entities.")] = 10,
) -> None:
    """Counts per type, predicate, source and evidence kind, and the most connected entities.

    A table on a terminal; tab-separated lines when piped; JSON with --json.

    Example:

        kgraph stats --top 5
    """
    from kgraph.graphstore import load_graphs

    graphs = load_graphs(_project(data, ontology))
    from kgraph.stats import compute_stats

    s = compute_stats(graphs.graph, graphs.network, top=top)
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

    console = _console()
    console.print(f"{s['entities']} entities, {s['relations']} relations, {s['claims']} claims "
                  f"({s['statistics']} statistics, {s['flagged_claims']} flagged), {s['triples']} triples")
    for title, col, counts in sections:
        table = Table(title=title, title_justify="left")
        table.add_column(col)
        table.add_column("count", justify="right")
        for name, n in sorted(counts.items(), key=lambda t: (-t[1], t[0])):
            table.add_row(name, str(n))
        console.print(table)
    table = Table(title="Most connected entities", title_justify="left")
    for col in ("id", "label", "type", "degree"):
        table.add_column(col, justify="right" if col == "degree" else "left")
    for row in s["most_connected"]:
        table.add_row(row["id"], row["label"], row["type"], str(row["degree"]))
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
