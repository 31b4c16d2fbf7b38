"""The one error hierarchy of kgraph.

The CLI catches :class:`KgraphError` only, prints its message and exits with
``exit_code``; anything else is a bug and keeps its traceback. ``kgraph serve`` answers
one with ``http_status`` (and ``headers``), in one exception handler; there the hint is
``http_hint`` when the error has one, since command-line advice means nothing to an HTTP
client.
"""

from __future__ import annotations

#: the exit codes of the ``kgraph`` command, listed in ``kgraph --help`` (issue 13)
EXIT_CODES = (
    (0, "success (ASK with --exit-status: true)"),
    (1, "ASK with --exit-status answered false"),
    (2, "usage error or bad input (unknown option, entity or name)"),
    (3, "the data or ontology is invalid or cannot be read"),
    (4, "the query cannot be run (syntax, refused form, time-out)"),
    (5, "an output file or folder cannot be written"),
)


class KgraphError(Exception):
    """Base of every error kgraph reports to a user (bad input, not a bug)."""

    #: the CLI's exit status for this error (see EXIT_CODES)
    exit_code = 2
    #: the HTTP status of the answer when the server reports it
    http_status = 400

    def __init__(self, message: str, hint: str | None = None, *, http_hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.http_hint = http_hint

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error (e.g. Retry-After)."""
        return {}

    def http_text(self) -> str:
        """The error as an HTTP client reads it: the message and the HTTP hint."""
        hint = self.http_hint if self.http_hint is not None else self.hint
        return f"{self.message}\n  {hint}" if hint else self.message

    def __str__(self) -> str:
        return f"{self.message}\n  {self.hint}" if self.hint else self.message

    def __reduce__(self):
        # a query worker sends its errors to the server pickled; the default pickling of an
        # exception calls cls(*args) and would lose the hints (and fail for DataError)
        return _restore, (type(self), self.args, dict(self.__dict__))


def _restore(cls, args, state):
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class DataError(KgraphError):
    """A data or ontology file cannot be read (missing, not YAML/Turtle, wrong shape)."""

    exit_code = 3

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

    exit_code = 3

    def __init__(self, report):
        errors = report.errors
        lines = [f"{len(errors)} error(s) in the data:"]
        lines += [f"  {p}" for p in errors]
        super().__init__("\n".join(lines), "Fix the files named above and run `kgraph validate` again.")
        self.report = report


class OutputError(KgraphError):
    """An output file or directory cannot be written."""

    exit_code = 5

    http_status = 500


class CorpusError(KgraphError):
    """The corpus directory or one of its files is missing."""

    exit_code = 3


class QueryError(KgraphError):
    """A query cannot be run: syntax error, refused form, time-out."""

    exit_code = 4


class UpdateRefused(QueryError):
    """The query is SPARQL Update: kgraph only reads the graph."""

    http_status = 403


class QueryTimeout(QueryError):
    """The query ran past its time limit and was stopped.

    HTTP 503 without ``Retry-After``: the same query would be stopped again, so the server
    does not suggest retrying it (a client should narrow it instead).
    """

    http_status = 503


class ResourceLimit(QueryError):
    """The query needed more memory (or a larger answer) than the server allows one query.

    A refusal by the server (503, no ``Retry-After``), not a mistake in the query's syntax.
    """

    http_status = 503


class ServerBusy(QueryError):
    """Every query worker of the server is taken: 503 with an honest ``Retry-After``."""

    http_status = 503

    def __init__(self, message: str, hint: str | None = None, *, http_hint: str | None = None,
                 retry_after: int = 5):
        super().__init__(message, hint, http_hint=http_hint)
        #: seconds until a worker is free at the latest (the soonest deadline of the busy ones)
        self.retry_after = max(1, int(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class NotFound(KgraphError):
    """Nothing is there: an unknown asset or IRI of the server."""

    http_status = 404


class EntityNotFound(NotFound):
    """A name on the command line (or an IRI asked of the server) matches no entity."""



class NotAcceptable(KgraphError):
    """No format the client accepts (or names) can carry the answer."""

    http_status = 406


class RequestTooLarge(KgraphError):
    """The query, or its answer, is larger than the server's limit."""

    http_status = 413


class UnsupportedMediaType(KgraphError):
    """A POST body in a content type the SPARQL protocol does not define."""

    http_status = 415


class BadRequest(KgraphError):
    """A malformed HTTP request: bad encoding, bad percent-escape, a truncated body."""

    http_status = 400


class RequestTimeout(KgraphError):
    """The request (its body) did not arrive within the server's time limit."""

    http_status = 408
