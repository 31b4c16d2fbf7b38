"""The named questions: ``.rq`` files shipped in ``kgraph/queries`` (package data).

The first line of each is a ``#`` comment describing it; the file stem is its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kgraph.errors import QueryError
from kgraph.names import did_you_mean


@dataclass(frozen=True)
class NamedQuery:
    """A query shipped with kgraph: its name (the file stem), a line of description, the text."""

    name: str
    description: str
    text: str


def named_queries() -> dict[str, NamedQuery]:
    """Every named query, by name, in name order."""
    found = {}
    for entry in resources.files("kgraph").joinpath("queries").iterdir():
        if entry.name.endswith(".rq"):
            text = entry.read_text(encoding="utf-8")
            first = text.splitlines()[0] if text else ""
            name = entry.name[:-3]
            found[name] = NamedQuery(name, first.lstrip("#").strip(), text)
    return dict(sorted(found.items()))


def named_query(name: str) -> NamedQuery:
    """The named query called ``name``; an unknown name lists the available ones."""
    queries = named_queries()
    if name in queries:
        return queries[name]
    guess = did_you_mean(name, queries, n=3, cutoff=0.5)
    raise QueryError(f"no named query '{name}'." + (f" {guess}" if guess else ""),
                     f"Available: {', '.join(queries)}. `kgraph queries` describes each.")


def read_query_file(path: Path) -> str:
    """The text of a query file (``kgraph query -f q.rq``)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QueryError(f"query file not found: {path}", "Check the path given to -f.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"cannot read query file {path}: {exc}", "Pass a UTF-8 text file with -f.") from None
