"""The SHACL check: the built graph against ``ontology/shapes.ttl``, beside the other checks.

It runs on the RDF graph (:mod:`kgraph.build`) once the data has no other error, and
reports through :class:`kgraph.report.Problem` like :mod:`kgraph.validate`; each
problem's code is ``shacl-`` and the constraint that failed (``shacl-min-count``).
"""

from __future__ import annotations

import re

from rdflib import RDF, RDFS, Graph, URIRef
from rdflib.namespace import SH

from kgraph.build import claim_iri, entity_iri, source_iri
from kgraph.cache import BuildCache, digest, problems_from_json, problems_to_json
from kgraph.model import Dataset
from kgraph.prefixes import KG, contract
from kgraph.report import Problem


def shacl_validate(graph: Graph, shapes: Graph, data: Dataset | None = None, *,
                   flatten: bool = True) -> list[Problem]:
    """Validate the built graph against the SHACL shapes; one problem per result.

    With ``data``, each problem names the file and line of the record behind it: the
    claim that states the offending value, else the entity, claim or source itself.
    ``flatten`` runs pySHACL on :func:`flatten_shapes` (the same problems, faster);
    without it, on the shapes as they are (the reference the tests compare with).
    """
    found = _run(graph, flatten_shapes(shapes) if flatten else shapes)
    return sorted(_problems(found, graph, data), key=lambda p: (str(p.where), p.message))


def shacl_validate_cached(graph: Graph, shapes: Graph, data: Dataset, ontology: Graph, cache: BuildCache,
                          depends: str, dataset=None) -> list[Problem]:
    """:func:`shacl_validate`, the claims of a source whose records did not change since a
    build kept their problems in ``cache`` not validated again (the incremental build).

    The claim shapes (:func:`claim_shapes`) look at a claim node's own values and at the
    types of the entities they name; a source's claim nodes are only in its own graph. Their
    problems are therefore those of the source's claims, the entities, the ontology and the
    shapes: the cache key (``depends`` stands for what is common to every source: the
    entities, sources and cross-references, the ontology, the shapes). The other shapes
    (entities, sources, studies ...) are validated on the whole graph each time.
    ``dataset`` (the built graphs, of which ``graph`` is the union) lets the claims of a few
    changed sources be validated apart from the rest.
    """
    flat = flatten_shapes(shapes)
    per_claim = claim_shapes(flat, ontology)
    claims_of: dict[str, list] = {}
    for c in data.claims:
        claims_of.setdefault(c.source, []).append(c)
    keys = {source: digest("shacl", depends, *(repr(c) for c in claims)) for source, claims in claims_of.items()}
    problems: list[tuple[str | None, Problem]] = []
    missed = []
    for source, key in sorted(keys.items()):
        cached = problems_from_json(cache.get("shacl", key))
        if cached is None:
            missed.append(source)
        else:
            problems.extend((source, p) for p in cached)
    # the other shapes, on the whole graph every time
    problems.extend((None, p) for p in _problems(_run(graph, _without_targets(flat, per_claim)), graph, data))
    if missed:
        # a few sources: their claims are validated in a graph of their own (with the
        # ontology and the types of the entities, all a claim shape looks at besides the
        # claim); many: in the whole graph, all of them (copying them would cost more)
        share = sum(len(claims_of[source]) for source in missed) / len(data.claims)
        target = graph if dataset is None or share > SUBGRAPH_SHARE else _claims_graph(dataset, missed)
        found = _run(target, _without_targets(flat, set(_targeted(flat)) - per_claim))
        source_of = {claim_iri(c.id): c.source for c in data.claims}
        fresh: dict[str, list[Problem]] = {source: [] for source in missed}
        for problem, (focus_node, *_) in zip(_problems(found, graph, data), found, strict=True):
            source = source_of.get(focus_node)
            if source in fresh:
                fresh[source].append(problem)
            elif source is None:
                problems.append((None, problem))
            # else: a claim of a source whose problems came from the cache
        for source, new in fresh.items():
            cache.put("shacl", keys[source], problems_to_json(new))
            problems.extend((source, p) for p in new)
    return sorted((p for _, p in problems), key=lambda p: (str(p.where), p.message))


#: the share of the claims to validate again above which the claim shapes run on the whole
#: graph rather than on a graph of those claims (a copy)
SUBGRAPH_SHARE = 0.25


def _claims_graph(dataset, sources: list[str]) -> Graph:
    """What the claim shapes see of the claims of ``sources``: their graphs, the ontology,
    and the type of every entity and source document (sh:class)."""
    from kgraph.build import ENTITY_GRAPH, ONTOLOGY_GRAPH, source_graph_iri

    graph = Graph()
    for triple in dataset.graph(ONTOLOGY_GRAPH):
        graph.add(triple)
    for triple in dataset.graph(ENTITY_GRAPH).triples((None, RDF.type, None)):
        graph.add(triple)
    for source in sources:
        for triple in dataset.graph(source_graph_iri(source)):
            graph.add(triple)
    return graph

#: what a claim shape may hold: constraints on the focus node's own values (and the types of
#: the nodes they name, sh:class). A shape with anything else (sh:node, sh:sparql, a path
#: of several steps ...) may see other nodes' data and is validated on the whole graph.
_LOCAL = frozenset({
    SH.path, SH.minCount, SH.maxCount, SH.nodeKind, SH["class"], SH.datatype, SH.minLength, SH.maxLength,
    SH.pattern, SH.flags, SH["in"], SH.hasValue, SH.languageIn, SH.uniqueLang, SH.minInclusive, SH.maxInclusive,
    SH.minExclusive, SH.maxExclusive, SH.message, SH.name, SH.description, SH.order, SH.group, SH.severity,
    RDF.type,
})


def _targeted(shapes: Graph) -> list:
    return sorted({s for p in (*_TARGETS, SH.target) for s in shapes.subjects(p, None)}, key=str)


def claim_shapes(shapes: Graph, ontology: Graph) -> set:
    """The shapes whose every focus node is a claim and that look at nothing but that claim's
    own values (see :data:`_LOCAL`): targets of kg:Claim or a subclass, or subjects of a
    property whose domain is."""
    claim_classes = {KG.Claim, *ontology.transitive_subjects(RDFS.subClassOf, KG.Claim)}
    found = set()
    for shape in _targeted(shapes):
        targets = [(p, o) for p in (*_TARGETS, SH.target) for o in shapes.objects(shape, p)]
        if not all((p == SH.targetClass and o in claim_classes)
                   or (p == SH.targetSubjectsOf and ontology.value(o, RDFS.domain) in claim_classes)
                   for p, o in targets):
            continue
        if _local(shapes, shape) and all(_local(shapes, prop) for prop in shapes.objects(shape, SH.property)):
            found.add(shape)
    return found


def _local(shapes: Graph, shape) -> bool:
    for p, o in shapes.predicate_objects(shape):
        if p in _TARGETS or p == SH.property:
            continue
        if p not in _LOCAL or (p == SH.path and not isinstance(o, URIRef)):
            return False
    return True


def _without_targets(shapes: Graph, shapes_out: set) -> Graph:
    """``shapes`` but ``shapes_out`` without targets (so not validated; nothing refers to them)."""
    kept = Graph()
    for triple in shapes:
        if triple[0] in shapes_out and triple[1] in (*_TARGETS, SH.target):
            continue
        kept.add(triple)
    return kept


def _run(graph: Graph, shapes: Graph, focus: list | None = None) -> list[tuple]:
    """pySHACL's results: (focus, path, value, message, severity, component) for each."""
    from pyshacl import validate as shacl

    # pySHACL copies the data graph in advanced mode, for the rules that may add to it
    # (sh:rule); without any rule it can validate the graph in place: the same report,
    # without a second copy of the graph in memory
    in_place = (None, SH.rule, None) not in shapes
    conforms, results, _ = shacl(graph, shacl_graph=shapes, inference="none", advanced=True,
                                 allow_warnings=True, inplace=in_place, focus_nodes=focus)
    found = [(results.value(r, SH.focusNode), results.value(r, SH.resultPath), results.value(r, SH.value),
              results.value(r, SH.resultMessage), results.value(r, SH.resultSeverity),
              results.value(r, SH.sourceConstraintComponent))
             for r in results.subjects(RDF.type, SH.ValidationResult)]
    # a graph that conforms may still have warnings (allow_warnings); its violations are
    # those pySHACL does not count (a property shape of a node shape of lower severity)
    return [f for f in found if f[4] != SH.Violation] if conforms else found


def _problems(found: list[tuple], graph: Graph, data: Dataset | None) -> list[Problem]:
    problems = []
    locate = _locator(graph, data) if data is not None else (lambda *_: None)
    for focus, path, value, message, severity, component in found:
        level = "error" if severity == SH.Violation else "warning"
        node = _short(focus)
        loc = locate(focus, path, value)
        where = f"{loc} ({node})" if loc else node
        text = f"SHACL: {message}" + (f" (property {_short(path)})" if path is not None else "")
        problems.append(Problem(level, where, text, "Fix the record behind this node in data/.",
                                code=_code(component)))
    return problems


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
