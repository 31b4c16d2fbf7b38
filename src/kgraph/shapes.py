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


def shacl_validate(graph: Graph, shapes: Graph, data: Dataset | None = None, *,
                   flatten: bool = True) -> list[Problem]:
    """Validate the built graph against the SHACL shapes; one problem per result.

    With ``data``, each problem names the file and line of the record behind it: the
    claim that states the offending value, else the entity, claim or source itself.
    ``flatten`` runs pySHACL on :func:`flatten_shapes` (the same problems, faster);
    without it, on the shapes as they are (the reference the tests compare with).
    """
    from pyshacl import validate as shacl

    # pySHACL copies the data graph in advanced mode, for the rules that may add to it
    # (sh:rule); without any rule it can validate the graph in place: the same report,
    # without a second copy of the graph in memory
    in_place = (None, SH.rule, None) not in shapes
    conforms, results, _ = shacl(graph, shacl_graph=flatten_shapes(shapes) if flatten else shapes,
                                 inference="none", advanced=True,
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


#: the predicates that give a shape its focus nodes (SHACL 2.1.3), sh:target (SHACL-AF) aside
_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)


def flatten_shapes(shapes: Graph) -> Graph:
    """The shapes with each property shape of a targeted node shape targeted itself.

    pySHACL checks a node shape's ``sh:property`` shapes one focus node at a time, and
    re-creates every constraint of the property shape for each one: at x100 (60k claims)
    that took 91 s of CPU, against 21 s flattened. A property shape with the node shape's
    targets is checked once over all its focus nodes, with the same results (SHACL 2.3:
    the focus nodes of a property shape reached through ``sh:property`` are the node
    shape's focus nodes; each result names the property shape, its path, value and message
    all the same). Only what is certainly equivalent is moved: a node shape with targets of
    the four standard kinds only, of no type but sh:NodeShape (a class has implicit
    targets), neither deactivated nor of a severity of its own (which makes pySHACL count
    its properties' violations as conforming), nor referenced from another shape (sh:node,
    sh:and ... would then see it without its properties); a property shape used by that
    node shape alone, without targets or deactivation of its own. The rest is left as it
    is. The input is not changed.
    """
    flat = Graph()
    # copied subject by subject: each shape keeps the order of its constraints, which is
    # the order of the results that tie in the report (a graph's triples are a set)
    for node in sorted(set(shapes.subjects()), key=lambda n: (type(n).__name__, str(n))):
        for p, o in shapes.predicate_objects(node):
            flat.add((node, p, o))
    for prefix, namespace in shapes.namespaces():
        flat.bind(prefix, namespace, override=True, replace=True)
    for node in sorted(set(shapes.subjects(SH.property, None)), key=str):
        targets = [(p, o) for p in _TARGETS for o in shapes.objects(node, p)]
        if (not targets or (None, None, node) in shapes
                or any((node, p, None) in shapes for p in (SH.target, SH.deactivated, SH.severity))
                or set(shapes.objects(node, RDF.type)) - {SH.NodeShape}):
            continue
        for prop in list(shapes.objects(node, SH.property)):
            if (len(set(shapes.subject_predicates(prop))) != 1
                    or any((prop, p, None) in shapes for p in (*_TARGETS, SH.target, SH.deactivated))):
                continue
            flat.remove((node, SH.property, prop))
            for p, o in targets:
                flat.add((prop, p, o))
    return flat


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
