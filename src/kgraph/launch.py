"""The ``kgraph`` console script (and ``python -m kgraph``).

``kgraph query`` with plain arguments (:func:`kgraph.querycmd.plain_arguments`) runs here
without importing typer, click or the other commands (some 60 ms of a 0.25 s look-up:
issue 10), as the typer command would run it: the same body (:func:`kgraph.querycmd.run`),
the same messages, exit codes, and handling of a broken pipe or Ctrl-C. Everything else
goes to :func:`kgraph.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    if args[:1] == ["query"]:
        from kgraph.querycmd import plain_arguments

        plain = plain_arguments(args[1:])
        if plain is not None:
            sys.exit(_run_query(plain))
    from kgraph.cli import main as typer_main

    typer_main()


def _run_query(plain) -> int:
    """``kgraph query``'s exit status, as typer's app (kgraph.cli) would end it."""
    import gc

    from kgraph.errors import KgraphError
    from kgraph.querycmd import run
    from kgraph.terminal import print_error

    try:
        try:
            return run(plain)
        except KgraphError as exc:  # as kgraph.cli._Group
            print_error(exc)
            return exc.exit_code
        except EOFError:  # as click: a new line, then "Aborted!"
            sys.stderr.write("\n")
            sys.stderr.flush()
            sys.stderr.write("Aborted!\n")
            sys.stderr.flush()
            return 1
        except KeyboardInterrupt:
            return 130
        except OSError as exc:
            import errno

            if exc.errno != errno.EPIPE:
                raise
            # the reader went away (`kgraph query ... | head`): quietly, as click
            sys.stdout = _PacifyFlush(sys.stdout)
            sys.stderr = _PacifyFlush(sys.stderr)
            return 1
    finally:
        gc.freeze()  # as kgraph.cli.main: no collections at exit


class _PacifyFlush:
    """A stream whose flush() ignores a broken pipe (click's PacifyFlushWrapper): Python
    flushes stdout and stderr once more at exit."""

    def __init__(self, wrapped):
        self.wrapped = wrapped

    def flush(self) -> None:
        import errno

        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str):
        return getattr(self.wrapped, attr)
