"""The one error hierarchy of kgraph.

The CLI catches :class:`KgraphError` only, prints its message and exits with
``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class KgraphError(Exception):
    """Base of every error kgraph reports to a user (bad input, not a bug)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  {self.hint}" if self.hint else self.message


class DataError(KgraphError):
    """A data or ontology file cannot be read (missing, not YAML/Turtle, wrong shape)."""

    def __init__(self, message: str, *, path=None, line: int | None = None, hint: str | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(where + message, hint)
        self.detail = message
        self.path = path
        self.line = line


class ValidationFailed(KgraphError):
    """The data has errors; ``report`` lists every one of them."""

    def __init__(self, report):
        errors = report.errors
        lines = [f"{len(errors)} error(s) in the data:"]
        lines += [f"  {p}" for p in errors]
        super().__init__("\n".join(lines), "Fix the files named above and run `kgraph validate` again.")
        self.report = report


class OutputError(KgraphError):
    """An output file or directory cannot be written."""


class CorpusError(KgraphError):
    """The corpus directory or one of its files is missing."""


class QueryError(KgraphError):
    """A query cannot be run: syntax error, refused form, time-out."""


class UpdateRefused(QueryError):
    """The query is SPARQL Update: kgraph only reads the graph."""


class QueryTimeout(QueryError):
    """The query ran past its time limit and was stopped."""


class ServerBusy(QueryError):
    """Every query worker of the server is taken."""


class EntityNotFound(KgraphError):
    """A name on the command line matches no entity."""
