"""The SHACL check: the built graph against ``ontology/shapes.ttl``, beside the other checks.

It runs on the RDF graph (:mod:`kgraph.build`) once the data has no other error, and
reports through :class:`kgraph.report.Problem` like :mod:`kgraph.validate`; each
problem's code is ``shacl-`` and the constraint that failed (``shacl-min-count``).
"""

from __future__ import annotations

import re

from rdflib import RDF, Graph, URIRef
from rdflib.namespace import SH

from kgraph.build import claim_iri, entity_iri, source_iri
from kgraph.model import Dataset
from kgraph.prefixes import contract
from kgraph.report import Problem


def shacl_validate(graph: Graph, shapes: Graph, data: Dataset | None = None) -> list[Problem]:
    """Validate the built graph against the SHACL shapes; one problem per result.

    With ``data``, each problem names the file and line of the record behind it: the
    claim that states the offending value, else the entity, claim or source itself.
    """
    from pyshacl import validate as shacl

    # pySHACL copies the data graph in advanced mode, for the rules that may add to it
    # (sh:rule); without any rule it can validate the graph in place: the same report,
    # without a second copy of the graph in memory
    in_place = (None, SH.rule, None) not in shapes
    conforms, results, _ = shacl(graph, shacl_graph=shapes, inference="none", advanced=True,
                                 allow_warnings=True, inplace=in_place)
    if conforms:
        return []
    problems = []
    locate = _locator(graph, data) if data is not None else (lambda *_: None)
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        value = results.value(result, SH.value)
        message = results.value(result, SH.resultMessage)
        severity = results.value(result, SH.resultSeverity)
        level = "error" if severity == SH.Violation else "warning"
        node = _short(focus)
        loc = locate(focus, path, value)
        where = f"{loc} ({node})" if loc else node
        text = f"SHACL: {message}" + (f" (property {_short(path)})" if path is not None else "")
        problems.append(Problem(level, where, text, "Fix the record behind this node in data/.",
                                code=_code(results.value(result, SH.sourceConstraintComponent))))
    return sorted(problems, key=lambda p: (str(p.where), p.message))


def _locator(graph: Graph, data: Dataset):
    records = {entity_iri(e.id): e.loc for e in data.entities}
    records.update({claim_iri(c.id): c.loc for c in data.claims})
    records.update({source_iri(s.id): s.loc for s in data.sources})
    claim_locs = {claim_iri(c.id): c.loc for c in data.claims}

    def locate(focus, path, value):
        if path is not None and value is not None:
            for claim in graph.subjects(RDF.subject, focus):
                if (claim in claim_locs and (claim, RDF.predicate, path) in graph
                        and (claim, RDF.object, value) in graph):
                    return claim_locs[claim]
        return records.get(focus)

    return locate


def _short(node) -> str:
    if isinstance(node, URIRef):
        return contract(node) or node.n3()
    return str(node)


def _code(component) -> str:
    """``shacl-min-count`` for sh:MinCountConstraintComponent (``shacl`` when unknown)."""
    name = str(component or "").rsplit("#", 1)[-1].removesuffix("ConstraintComponent")
    words = re.findall(r"[A-Z][a-z]*|[0-9]+", name)
    return "-".join(["shacl", *(w.lower() for w in words)])
