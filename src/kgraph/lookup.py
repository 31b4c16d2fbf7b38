"""Find an entity of the network by the name a user typed: its id, label or a synonym.

Matching ignores case, and hyphens, underscores and runs of spaces count as one space, so
"NMDA receptor", "nmda-receptor" and "NMDA" all find ``nmda-receptor``. An id match wins
over a label match, which wins over a synonym (or abbreviation) match. A name that
matches nothing, or several entities equally, raises :class:`EntityNotFound` with the
closest labels as suggestions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kgraph.errors import EntityNotFound
from kgraph.names import close_names

if TYPE_CHECKING:
    import networkx as nx


def normalize(name: str) -> str:
    """The form names are compared in: case-folded, with -, _ and spaces as one space."""
    return re.sub(r"[\s_-]+", " ", name).strip().casefold()


def find_entity(G: "nx.MultiDiGraph", name: str) -> str:
    """The id of the entity called ``name`` (by id, label or synonym, ignoring case)."""
    wanted = normalize(name)
    for field in ("id", "label", "synonym"):
        hits = sorted({node for node, names in _names(G, field) if wanted in names})
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            listed = ", ".join(f"{G.nodes[n].get('label', n)} ({n})" for n in hits)
            raise EntityNotFound(f"'{name}' is the {field} of several entities: {listed}",
                                 "Name one of them by its id.")
    suggestions = suggest_entities(G, name)
    hint = (f"Did you mean: {'; '.join(suggestions)}?" if suggestions
            else "`kgraph central` lists the most connected entities.")
    raise EntityNotFound(f"no entity called '{name}'", f"{hint} Names match an id, label or synonym, ignoring case.")


def suggest_entities(G: "nx.MultiDiGraph", name: str, n: int = 5) -> list[str]:
    """Up to ``n`` entities whose id, label or synonym is closest to ``name``, as "label (id)"."""
    wanted = normalize(name)
    by_name: dict[str, set[str]] = {}
    for field in ("id", "label", "synonym"):
        for node, names in _names(G, field):
            for key in names:
                by_name.setdefault(key, set()).add(node)
    contained = [key for key in by_name if wanted and (wanted in key or (len(key) > 3 and key in wanted))]
    ranked = sorted(contained, key=lambda key: (len(key), key))
    ranked += close_names(wanted, sorted(by_name), n=n * 2, cutoff=0.6)
    found: list[str] = []
    for key in ranked:
        for node in sorted(by_name[key]):
            if node not in found:
                found.append(node)
    return [f"{G.nodes[node].get('label', node)} ({node})" for node in found[:n]]


def _names(G: "nx.MultiDiGraph", field: str):
    for node, attrs in G.nodes(data=True):
        if field == "id":
            yield node, {normalize(node)}
        elif field == "label":
            yield node, {normalize(attrs.get("label", node))}
        else:
            yield node, {normalize(s) for s in attrs.get("synonyms", [])}
