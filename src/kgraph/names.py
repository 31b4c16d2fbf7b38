"""One way to suggest a name the user may have meant ("Did you mean ...?")."""

from __future__ import annotations

from typing import Iterable


def close_names(wanted: str, names: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``names`` closest to ``wanted``, best first (difflib's ratio >= cutoff)."""
    import difflib  # here: a suggestion is for a mistake, and kgraph query imports this module (issue 10)

    return difflib.get_close_matches(wanted, list(names), n=n, cutoff=cutoff)


def did_you_mean(wanted: str, names: Iterable[str], *, n: int = 3, cutoff: float = 0.6, sep: str = ", ") -> str:
    """"Did you mean a, b?" for the names closest to ``wanted``, or "" when none is close."""
    close = close_names(wanted, names, n=n, cutoff=cutoff)
    return f"Did you mean {sep.join(close)}?" if close else ""
