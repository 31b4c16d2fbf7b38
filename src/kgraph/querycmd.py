"""``kgraph query``: what the command does once its arguments are parsed, without typer.

:func:`run` is the command's body; :mod:`kgraph.cli` calls it from the typer command, and
:mod:`kgraph.launch` calls it straight away when :func:`plain_arguments` can read the
arguments: importing typer (and the other commands' modules) was a third of a look-up's
time (issue 10). Arguments it cannot read the same way click would -- ``--help``, any
mistake, ``--reason``, a repeated option -- go to typer, which prints its own help and errors.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import NamedTuple

from kgraph.errors import QueryError
from kgraph.terminal import echo, note, print_table

#: the longest --timeout accepted: longer ones overflow the timers (and mean "never")
MAX_TIMEOUT = 86_400.0
#: seconds a query runs before it is stopped, unless --timeout says otherwise
DEFAULT_TIMEOUT = 30.0


class QueryArgs(NamedTuple):
    """The arguments of ``kgraph query`` (as the typer command receives them). A named tuple,
    not a dataclass: typing is imported at start-up anyway, and a frozen dataclass of twelve
    fields takes milliseconds to define (issue 10)."""

    text: str | None = None
    file: Path | None = None
    name: str | None = None
    fmt: str | None = None
    output: Path | None = None
    exit_status: bool = False
    reason: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    rebuild: bool = False
    data: Path | None = None
    ontology: Path | None = None
    out: Path | None = None


#: option -> (field, kind) for the options :func:`plain_arguments` reads ("flag", "path",
#: "text", "format", "seconds"); tests/test_query_cli.py checks them against the typer command
OPTIONS = {
    "--file": ("file", "path"), "-f": ("file", "path"),
    "--name": ("name", "text"), "-n": ("name", "text"),
    "--format": ("fmt", "format"),
    "--out": ("output", "path"), "-o": ("output", "path"), "--output": ("output", "path"),
    "--exit-status": ("exit_status", "flag"),
    "--timeout": ("timeout", "seconds"),
    "--rebuild": ("rebuild", "flag"),
    "--data": ("data", "path"),
    "--ontology": ("ontology", "path"),
    "--graph-dir": ("out", "path"),
}


def plain_arguments(args: list[str]) -> QueryArgs | None:
    """``kgraph query``'s arguments (after the word ``query``) when they are plain enough to
    mean exactly what click would make of them; else None (typer then parses them).

    Plain: each option at most once, as ``--opt value``, ``--opt=value`` or ``-f value``, with
    a value that does not start with ``-`` (but ``-`` itself) and is valid for the option;
    at most one query text. Never ``--help``, ``--reason`` (rdflib answers then: its
    start-up dwarfs typer's) or shell completion.
    """
    import os

    if sys.platform == "win32" or any(key.endswith("_COMPLETE") for key in os.environ):
        return None
    values: dict[str, object] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "-" or not arg.startswith("-"):
            if "text" in values:
                return None
            values["text"] = arg
            continue
        option, eq, attached = arg.partition("=")
        if option not in OPTIONS or (eq and not option.startswith("--")):
            return None
        field, kind = OPTIONS[option]
        if field in values:
            return None
        if kind == "flag":
            if eq:
                return None
            values[field] = True
            continue
        if eq:
            value = attached
        elif rest:
            value = rest.pop(0)
        else:
            return None
        if not value or (value.startswith("-") and value != "-"):
            return None
        converted = _converted(kind, value)
        if converted is None:
            return None
        values[field] = converted
    return QueryArgs(**values)


def _converted(kind: str, value: str) -> object | None:
    if kind == "path":
        return Path(value)
    if kind == "format":
        from kgraph.formats import accepted_names

        return value if value in accepted_names("results", "graph") else None
    if kind == "seconds":
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) and 0.01 <= seconds <= MAX_TIMEOUT else None
    return value


def run(args: QueryArgs) -> int:
    """Answer the query and print the answer; the exit status (1: ``--exit-status`` and false).

    Raises :class:`kgraph.errors.KgraphError` (the caller prints it).
    """
    from kgraph.graphstore import load_graphs
    from kgraph.project import Project
    from kgraph.sparql.results import choose_format

    output = args.output
    if output is not None and str(output) == "-":
        output = None  # `-o -` is stdout, the same as no --out
    query_text = query_text_of(args.text, args.file, args.name)
    timeout, reason = args.timeout, args.reason
    notes: tuple[str, ...] = ()
    if reason:
        # the entailed graph is made in memory (rdflib and owlrl), so rdflib's engine answers
        from kgraph.sparql.execute import query_info

        # parsed in a killable worker under the same deadline (a short hostile query can keep
        # rdflib's parser busy for minutes); again in the evaluating worker below
        prepared = query_info(query_text, timeout=timeout)
        kind, notes = prepared.kind, prepared.notes
    else:
        # Oxigraph answers over the store: the text is checked here first (and parsed, in a
        # worker, before any rebuild, so that a mistake is reported first), then against the
        # store's own graphs; it is parsed and evaluated in a killable worker
        from kgraph import storequery

        kind = storequery.prepare(query_text, None, parse="no").kind
    fmt_chosen = choose_format(kind, args.fmt, output)

    def before_rebuild() -> None:
        if not reason:
            storequery.prepare(query_text, None, timeout=timeout)

    project = Project.at(".", data_dir=args.data, ontology_dir=args.ontology, out_dir=args.out)
    # without --reason only the worker opens the store (once, not also here: issue 10)
    graphs = load_graphs(project, rebuild=args.rebuild, step=note, before_rebuild=before_rebuild,
                         opened=bool(reason))
    if graphs.rebuilt:
        note("Rebuilt the graph first: it was missing or older than data/ and ontology/")
    if reason:
        from kgraph.sparql.execute import run_query

        result = run_query(graphs.entailed(reason, step=note), query_text, timeout=timeout)
    else:
        checked = storequery.prepare(query_text, graphs.graphs, parse="no")
        notes = checked.notes
        # a table, true/false, CSV or TSV is made in the worker without rdflib when it can be
        # (0.1-0.2 s less)
        shown = fmt_chosen is None or fmt_chosen.name in storequery.SHOWN_FORMATS
        mode, shown_fmt = "show" if shown else "result", fmt_chosen.name if fmt_chosen is not None else None
        try:
            result = storequery.run(graphs.path, checked, timeout=timeout, mode=mode, fmt=shown_fmt)
        except storequery.StoreUnreadable:
            # a damaged database: rebuilt, as load_graphs rebuilds a store it cannot open
            graphs = load_graphs(project, rebuild=True, step=note)
            note("Rebuilt the graph first: its store could not be opened")
            checked = storequery.prepare(query_text, graphs.graphs, parse="no")
            result = storequery.run(graphs.path, checked, timeout=timeout, mode=mode, fmt=shown_fmt)
    print_answer(result, fmt_chosen, output)
    for remark in notes if result.empty else ():
        note(f"Note: {remark}")
    return 1 if args.exit_status and result.kind == "ASK" and not result.boolean else 0


def query_text_of(text: str | None, file: Path | None, name: str | None) -> str:
    """The query given inline, on stdin (``-``), in a file or by name: exactly one of them."""
    given = [what for what, value in (("a query", text), ("-f", file), ("--name", name)) if value is not None]
    if len(given) != 1:
        raise QueryError("give the query one way: inline, - for stdin, -f FILE or --name NAME"
                         + (f" (got {' and '.join(given)})" if given else ""),
                         "Example: kgraph query --name treats; `kgraph queries` lists the names.")
    if name is not None:
        from kgraph.sparql.named import named_query

        return named_query(name).text
    if file is not None:
        from kgraph.sparql.named import read_query_file

        return read_query_file(file)
    return read_stdin() if text == "-" else text


def read_stdin() -> str:
    hint = "Pipe the query in (echo 'ASK {?s ?p ?o}' | kgraph query -) or give it inline."
    if sys.stdin is None:  # started with standard input closed (kgraph query - <&-)
        raise QueryError("standard input is closed: there is no query to read", hint)
    try:
        return sys.stdin.read()
    except (OSError, ValueError) as exc:
        raise QueryError(f"cannot read the query from standard input: {exc}", hint) from None
    except UnicodeDecodeError as exc:
        raise QueryError(f"the query on standard input is not UTF-8 text (byte {exc.start})", hint) from None


def print_answer(result, fmt, output: Path | None) -> None:
    """The answer in ``fmt`` (to ``output``, or stdout), or shown readably."""
    # (kgraph.sparql.results imports no rdflib: a Shown answer is printed without it)
    from kgraph.sparql.results import choose_format, serialize_result

    def body() -> bytes:  # a kgraph.storequery.Shown answer carries its bytes
        data = getattr(result, "data", None)
        return data if data is not None else serialize_result(result, fmt)

    if result.empty:
        what = "rows" if result.kind == "SELECT" else "triples"
        note(f"No {what}: the query matched nothing.")
    if output is not None:
        from kgraph.export import write_atomic

        write_atomic(output, body())
        count = (f"{result.size} rows" if result.kind == "SELECT" else str(result.boolean).lower()
                 if result.kind == "ASK" else f"{result.size} triples")
        note(f"Wrote {count} to {output} ({fmt.description})")
    elif fmt is not None:
        echo(body(), nl=False)
    elif result.kind == "ASK":
        echo("true" if result.boolean else "false")
    elif result.kind != "SELECT":
        if not result.empty:
            echo(serialize_result(result, choose_format(result.kind, "turtle", None)), nl=False)
    elif not result.empty:
        if hasattr(result, "cells"):  # kgraph.storequery.Shown: the cells are made
            print_table(result.variables, result.cells)
            return
        from kgraph.sparql.results import display_rows

        print_table(*display_rows(result))
