"""What the command line prints, without importing typer or click (issue 10).

``kgraph query`` runs without typer when its arguments are plain (:mod:`kgraph.launch`),
and prints through these functions either way, so both paths print the same bytes.
:func:`echo` is ``typer.echo`` (click's ``echo``) for standard output; rich is imported
only for what it draws: a table on a terminal, a note or an error on stderr.
"""

from __future__ import annotations

import os
import re
import sys

#: the escape sequences click's echo removes from text written to anything but a terminal
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def echo(message: str | bytes = "", nl: bool = True) -> None:
    """Write ``message`` to stdout as ``typer.echo`` does: bytes to the binary stream, text
    without ANSI escapes unless stdout is a terminal, UTF-8 (with replacement) where the
    stream is misconfigured as ASCII; flushed."""
    if sys.platform == "win32":  # click's console handling there is its own
        import typer

        typer.echo(message, nl=nl)
        return
    stream = sys.stdout
    if stream is None:
        return
    out = message
    if nl:
        out = out or ""
        out += "\n" if isinstance(out, str) else b"\n"
    if not out:
        stream.flush()
        return
    binary = getattr(stream, "buffer", None)
    if isinstance(out, (bytes, bytearray)):
        if binary is not None:
            stream.flush()
            binary.write(out)
            binary.flush()
            return
    elif not _isatty(stream):
        out = _ANSI.sub("", out)
    if binary is not None and _is_ascii(getattr(stream, "encoding", None) or "ascii"):
        import io

        stream.flush()
        wrapper = io.TextIOWrapper(binary, "utf-8", "replace", line_buffering=True)
        try:
            wrapper.write(out)
            wrapper.flush()
        finally:
            wrapper.detach()  # the binary stream stays open
        return
    stream.write(out)
    stream.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except Exception:  # noqa: BLE001 - as click: a stream that cannot tell is no terminal
        return False


def _is_ascii(encoding: str) -> bool:
    import codecs

    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False


def is_tty() -> bool:
    return sys.stdout.isatty()


def no_color() -> bool:
    # https://no-color.org: any non-empty NO_COLOR; rich drops colours but keeps bold and italic
    return bool(os.environ.get("NO_COLOR"))


def console(stderr: bool = False):
    """A rich console on stdout (or stderr) that honours NO_COLOR."""
    from rich.console import Console

    plain = {"color_system": None, "no_color": True} if no_color() else {}
    return Console(stderr=stderr, highlight=False, soft_wrap=True, **plain)


def note(message: str) -> None:
    """A remark for the user, on stderr (the answer alone goes to stdout)."""
    console(stderr=True).print(message, markup=False)


def print_error(exc) -> None:
    """A :class:`kgraph.errors.KgraphError` as the CLI reports it, on stderr."""
    console(stderr=True).print(f"Error: {exc}", markup=False, highlight=False)


def print_table(header: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A table on a terminal; tab-separated lines (header first) when piped."""
    if not is_tty():
        for line in [header, *rows]:
            echo("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in line))
        return
    from rich.table import Table
    from rich.text import Text

    # Text cells: rich would read "[to be]" in a quote as markup and drop it (issue 13)
    table = Table(title=title, title_justify="left")
    for column in header:
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console().print(table)
