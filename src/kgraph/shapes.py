"""The SHACL check: the built graph against ``ontology/shapes.ttl``, beside the other checks.

It runs on the RDF graph (:mod:`kgraph.build`) once the data has no other error, and
reports through :class:`kgraph.report.Problem` like :mod:`kgraph.validate`; each
problem's code is ``shacl-`` and the constraint that failed (``shacl-min-count``).
"""

from __future__ import annotations

import gc
import os
import re

from rdflib import RDF, RDFS, Graph, URIRef
from rdflib.namespace import SH

from kgraph.build import claim_iri, entity_iri, release, source_iri
from kgraph.cache import BuildCache, digest, problems_from_json, problems_to_json
from kgraph.forked import Forked, can_fork
from kgraph.hierarchy import subclasses, superclasses
from kgraph.load import vocabulary
from kgraph.model import Dataset, Vocabulary
from kgraph.prefixes import KG, contract
from kgraph.report import Problem


def shacl_validate(graph: Graph, shapes: Graph, data: Dataset | None = None, *,
                   flatten: bool = True, vocab: Vocabulary | None = None) -> list[Problem]:
    """Validate a whole graph against the SHACL shapes; one problem per result.

    With ``data``, each problem names the file and line of the record behind it: the
    claim that states the offending value, else the entity, claim or source itself
    (``vocab``: the graph's own when not given). ``flatten`` runs pySHACL on
    :func:`flatten_shapes` (the same problems, faster); without it, on the shapes as they
    are (the reference the tests compare with). The build validates its graph part by part
    instead (:class:`PartsValidator`), with the same problems.
    """
    found = _run(graph, flatten_shapes(shapes) if flatten else shapes)
    return _sorted(_problems(found, _locate(data, vocab or (vocabulary(graph) if data is not None else None))))


def _locate(data: Dataset | None, vocab: Vocabulary | None):
    return _locator(data, vocab) if data is not None and vocab is not None else (lambda *_: None)


def _sorted(problems: list[Problem]) -> list[Problem]:
    """By record, message, then kind of constraint: an order of their own, whatever order
    pySHACL found them in (which depends on how the shapes' triples are held)."""
    return sorted(problems, key=lambda p: (str(p.where), p.message, p.code, p.level))


#: triples of claims or of computed evidence per batch the parts validator checks at once
BATCH_TRIPLES = 60_000


class PartsValidator:
    """The SHACL check of a build fed the parts of its graph one by one
    (:func:`kgraph.build.graph_parts`, :func:`kgraph.evidence_graph.evidence_parts`), with
    the problems :func:`shacl_validate` finds in the whole graph, without the whole graph
    (issue 10: at x100 it took 2.4 GB).

    Every node is validated in one unit holding all the triples of which it is the subject:
    batches of claim nodes (a claim's triples are all in its source's graph), batches of
    computed evidence nodes, and the rest (the ontology, the entities and sources, the
    triples the claims state about them, the catalog). Each unit also holds the ontology
    (the subclasses) and the types of the nodes its triples name, so that ``sh:class``
    sees what it would see in the whole graph; the results about the nodes of other units
    that these types bring in are left to those units. That is exact for shapes whose every
    constraint is on the focus node's own values (:data:`_LOCAL`) and whose targets are
    classes, nodes or subjects of a property; other shapes (``sh:node``, paths of several
    steps, ``sh:targetObjectsOf``, SPARQL ...) make the validator gather the parts into one
    graph and validate it whole.

    With a ``cache`` (the build's), a source whose claims, and what they depend on
    (``depends``: the entities, sources, ontology and shapes), did not change since a build
    kept their problems is not validated again (the incremental build).
    """

    def __init__(self, shapes: Graph, ontology: Graph, data: Dataset, vocab: Vocabulary, *,
                 cache: BuildCache | None = None, depends: str = "", batch: int | None = None,
                 workers: int | None = None) -> None:
        from kgraph.build import PartMemory

        self._flat = flatten_shapes(shapes)
        self._ontology = ontology
        self._batch = batch or BATCH_TRIPLES  # read when made: a test may change it
        self._claim_classes = subclasses(ontology, KG.Claim)
        self.split = _splittable(self._flat)
        self._types: dict = {}  # node -> its classes (every rdf:type seen), a shared frozenset
        self._typesets: dict[frozenset, frozenset] = {}  # each set of classes once
        # everything, when not split; else the rest, by subject: (predicate, object) pairs,
        # validated in batches of subjects when the parts are all in (in an rdflib graph,
        # the rest took a third of the build's memory: 2.5 GB at x1000)
        self._rest = Graph(store=PartMemory())
        self._rest_of: dict = {}  # subject -> [(predicate, object)]
        self._terms: dict = {}  # each term of the rest once (the parts' stores each have their own)
        self._elsewhere: set = set()  # nodes validated in a batch (or whose problems are cached)
        # the parts of the pending batch, each with the nodes of it the batch owns, and their
        # number of triples
        self._pending: list[tuple[Graph, frozenset | None]] = []
        self._pending_triples = 0
        self._pending_nodes: dict = {}  # node of the pending batch -> its source (None: evidence)
        # the batches sent to forked workers, in order (see kgraph.forked.Forked)
        self._workers = _worker_count() if workers is None else workers
        self._running: list[Forked] = []
        self._done: list[tuple[list, bool]] = []  # what the ended workers found, in order
        self._pending_kind = ""  # what the pending batch holds: "claims" or "evidence"
        self._cache = cache if cache is not None and cache.enabled else None
        self._keys: dict[str, str] = {}
        self._problems: list[tuple[Problem, bool]] = []  # (problem, a violation?)
        self._fresh: dict[str, list[tuple[Problem, bool]]] = {}
        self._conforms = True  # every unit validated conforms, and no cached problem is an error
        if self._cache is not None:
            claims_of: dict[str, list] = {}
            for c in data.claims:
                claims_of.setdefault(c.source, []).append(c)
            self._keys = {source: digest("shacl", depends, *(repr(c) for c in claims))
                          for source, claims in claims_of.items()}
        self._locate = _locator(data, vocab)
        self._above: dict = {}  # class -> its superclasses
        self._shapes: dict = {}  # the shapes kept with their targets -> the shapes graph for them

    def feed(self, name, part: Graph) -> None:
        """Take one part (``name``: its graph, None for the default graph), made on a
        :class:`kgraph.build.PartMemory`: the validator releases it (:func:`kgraph.build.release`)
        once it is done with it."""
        from kgraph.build import ENTITY_GRAPH, ONTOLOGY_GRAPH
        from kgraph.evidence_graph import EVIDENCE_GRAPH

        types, typesets = self._types, self._typesets
        for s, o in part.subject_objects(RDF.type):
            had = types.get(s)
            if had is None or o not in had:
                classes = frozenset((o,)) if had is None else had | {o}
                types[s] = typesets.setdefault(classes, classes)
        if not self.split:
            _copy(part, self._rest)
            release(part)
            return
        if name is None or name in (ONTOLOGY_GRAPH, ENTITY_GRAPH):
            self._keep(part)
            release(part)
            return
        if name == EVIDENCE_GRAPH:
            self._take(part, None, {s: None for s in part.subjects()}, "evidence")
            return
        source = self._source_of(name)
        claims = {s for s in part.subjects(RDF.type, None) if self._types[s] & self._claim_classes}
        self._keep(part, claims)  # what the claims state about entities
        cached = problems_from_json(self._cache.get("shacl", self._keys[source])) \
            if self._cache is not None and source in self._keys else None
        if cached is not None:
            self._problems.extend((p, p.level == "error") for p in cached)
            self._conforms = self._conforms and all(p.level != "error" for p in cached)
            self._elsewhere.update(claims)
            release(part)
            return
        if source in self._keys:
            self._fresh.setdefault(source, [])
        self._take(part, frozenset(claims), dict.fromkeys(claims, source), "claims")

    def _keep(self, part: Graph, but: set | frozenset = frozenset()) -> None:
        """Keep the triples of ``part`` whose subjects are not ``but`` for the rest's units."""
        rest, terms = self._rest_of, self._terms
        for s, p, o in part:
            if s not in but:
                s, p, o = terms.setdefault(s, s), terms.setdefault(p, p), terms.setdefault(o, o)
                rest.setdefault(s, []).append((p, o))

    def _source_of(self, name) -> str:
        from kgraph.prefixes import KGGRAPH

        return str(name)[len(str(KGGRAPH)):]

    def _take(self, part: Graph, owned: frozenset | None, nodes: dict, kind: str) -> None:
        """Add the triples of ``part`` whose subjects are ``owned`` (None: all) to the pending
        batch, whose ``nodes`` they are (each mapped to its source)."""
        if kind != self._pending_kind:
            # a batch holds nodes of one kind: a batch of claims and assessments would have
            # every shape of either validate the claims the assessments name (see _shapes_for)
            self._flush()
            self._pending_kind = kind
        self._pending.append((part, owned))
        self._pending_triples += len(part)
        self._pending_nodes.update(nodes)
        self._elsewhere.update(nodes)
        if self._pending_triples >= self._batch:
            self._flush()

    def _flush(self) -> None:
        """Validate the pending batch: in a forked worker (:class:`kgraph.forked.Forked`) while the build
        goes on making the next parts, when there are workers, else here."""
        if not self._pending_nodes:
            return
        pending, nodes = self._pending, self._pending_nodes
        self._pending, self._pending_triples, self._pending_nodes = [], 0, {}

        def validate() -> tuple[list, bool]:
            from kgraph.build import PartMemory

            unit = Graph(store=PartMemory())
            for part, owned in pending:
                _copy(part if owned is None else (t for t in part if t[0] in owned), unit)
            self._unit(unit)
            found, conforms = self._validate(unit, nodes)
            release(unit)  # (here, where there are no workers: the collector is paused)
            # (a focus not in nodes: a node of another unit, seen through its type)
            return [(nodes[focus], problems_to_json([problem])[0], violation)
                    for problem, focus, violation in found if focus in nodes], conforms

        if self._workers > 0:
            while len(self._running) >= self._workers:
                self._done.append(self._running.pop(0).result())
            self._running.append(Forked(validate, "a SHACL worker"))
        else:
            self._done.append(validate())
            _free_validation()
        for part, _ in pending:
            release(part)

    def _collect(self) -> None:
        """Take in what every batch found, in the order the batches were made."""
        while self._running:
            self._done.append(self._running.pop(0).result())
        for found, conforms in self._done:
            self._conforms = self._conforms and conforms
            for source, problem, violation in found:
                (self._fresh[source] if source in self._fresh else self._problems).append(
                    (problems_from_json([problem])[0], violation))
        self._done = []

    def close(self) -> None:
        """Stop the workers still running (the build failed or was interrupted)."""
        while self._running:
            self._running.pop().kill()

    def _unit(self, owned: Graph) -> Graph:
        """``owned`` with the ontology and the types of the nodes its triples name."""
        unit = owned
        _copy(self._ontology, unit)
        for node in set(owned.objects()):
            for cls in self._types.get(node, ()):
                unit.add((node, RDF.type, cls))
        return unit

    def _validate(self, graph: Graph, owned) -> tuple[list[tuple[Problem, object, bool]], bool]:
        """(problem, focus node, a violation?) for every result in ``graph`` of the shapes that
        may select one of the ``owned`` nodes (see :meth:`_shapes_for`), and whether pySHACL
        says the graph conforms."""
        found, conforms = _run_all(graph, self._shapes_for(graph, owned))
        return [(problem, f[0], f[4] == SH.Violation) for problem, f in zip(_problems(found, self._locate), found,
                                                                                strict=True)], conforms

    def finish(self) -> list[Problem]:
        """Every problem, sorted as :func:`shacl_validate` sorts them; the fresh problems of
        each source's claims are put in the cache."""
        if self.split:
            self._flush()
            self._rest_units()
            self._collect()
        else:
            rest = self._rest  # every part
            found, conforms = self._validate(rest, None)
            self._collect()
            self._conforms = self._conforms and conforms
            self._problems.extend((p, violation) for p, focus, violation in found if focus not in self._elsewhere)
            release(rest)
            _free_validation()
        # what the whole graph's report would give (see _counted): a source's problems are
        # cached as found, and counted with the others' each time
        for source, fresh in self._fresh.items():
            if self._cache is not None:
                self._cache.put("shacl", self._keys[source], problems_to_json([p for p, _ in fresh]))
            self._problems.extend(fresh)
        return _sorted([p for p, violation in self._problems if not (violation and self._conforms)])

    def _rest_units(self) -> None:
        """The rest (the ontology, the entities and sources, the triples the claims state
        about them, the catalog), in batches of whole subjects, like the claims: each node
        validated with all the triples of which it is the subject."""
        from kgraph.build import PartMemory

        rest, self._rest_of, self._terms = self._rest_of, {}, {}
        if self._workers:
            self._workers += 1  # the build waits for them now: its core validates too
        part, nodes = None, {}
        for subject, pairs in rest.items():
            if subject in self._elsewhere:
                continue  # (validated in its own batch)
            if part is None:
                part, nodes = Graph(store=PartMemory()), {}
            add = part.add
            for p, o in pairs:
                add((subject, p, o))
            nodes[subject] = None
            if len(part) >= self._batch:
                self._take(part, None, nodes, "rest")
                part = None
        if part is not None:
            self._take(part, None, nodes, "rest")
        self._flush()

    def _shapes_for(self, graph: Graph, owned) -> Graph:
        """The shapes for a unit that validates the ``owned`` nodes (None: all of them).

        The nodes of other units that the types in a unit bring in would be validated for
        nothing (at x100, pySHACL took minutes to report the results about the claims that
        a batch of assessments names, all left to the claims' units; a batch of entities
        names other entities): a shape that selects none of the owned nodes loses its
        targets, and one that selects other nodes too targets the owned ones it selects by
        name (``sh:targetNode``). A shape selects a node when one of the node's classes is
        (below) the shape's target class, the node is the subject of one of the shape's
        target properties in the unit (all its triples are), or it is a target node."""
        if owned is None:
            return self._flat
        flat = self._flat
        owned = owned if isinstance(owned, (set, frozenset, dict)) else set(owned)
        others = {n for n in graph.subjects(RDF.type, None) if n not in owned}
        groups: dict[frozenset, tuple[list, list]] = {}  # a node's classes -> (owned, others)
        for node in owned:
            groups.setdefault(self._types.get(node, frozenset()), ([], []))[0].append(node)
        for node in others:
            groups.setdefault(self._types.get(node, frozenset()), ([], []))[1].append(node)
        above = {}
        for classes in groups:
            up: set = set()
            for cls in classes:
                if cls not in self._above:
                    self._above[cls] = superclasses(self._ontology, cls)
                up |= self._above[cls]
            above[classes] = up
        subjects_of: dict = {}
        kept, named = [], []  # shapes kept as they are; (shape, the owned nodes it selects)
        for shape in _targeted(flat):
            targets = set(flat.objects(shape, SH.targetClass))
            mine, theirs = set(), False
            for classes, (own, other) in groups.items():
                if targets and not targets.isdisjoint(above[classes]):
                    mine.update(own)
                    theirs = theirs or bool(other)
            for prop in flat.objects(shape, SH.targetSubjectsOf):
                if prop not in subjects_of:
                    subjects_of[prop] = set(graph.subjects(prop, None))
                mine.update(n for n in subjects_of[prop] if n in owned)
                theirs = theirs or any(n not in owned for n in subjects_of[prop])
            for node in flat.objects(shape, SH.targetNode):
                if node in owned:
                    mine.add(node)
                else:
                    theirs = theirs or (node, None, None) in graph
            if mine and not theirs:
                kept.append(shape)
            elif mine:
                named.append((shape, mine))
        key = frozenset(kept)
        if key not in self._shapes:
            self._shapes[key] = _without_targets(flat, set(_targeted(flat)) - key)
        if not named:
            return self._shapes[key]
        shapes = _without_targets(self._shapes[key], {shape for shape, _ in named})
        add = shapes.add
        for shape, nodes in named:
            for node in nodes:
                add((shape, SH.targetNode, node))
        return shapes


def _worker_count() -> int:
    """How many batches the parts validator sends to forked workers at once: one fewer than
    the cores this process may use (the build goes on making parts on the last), none
    where there is no fork or one core."""
    if not can_fork():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores - 1, 4)


def _without_targets(shapes: Graph, shapes_out: set) -> Graph:
    """``shapes`` but ``shapes_out`` without targets (so not validated unless referred to)."""
    kept = Graph()
    for triple in shapes:
        if triple[0] in shapes_out and triple[1] in (*_TARGETS, SH.target):
            continue
        kept.add(triple)
    for prefix, namespace in shapes.namespaces():  # pySHACL's messages name terms by them
        kept.bind(prefix, namespace, override=True, replace=True)
    return kept


def _free_validation() -> None:
    """Free what pySHACL made to validate a unit: its objects refer to each other, so only
    the cyclic collector frees them, which the build pauses (at x100 a batch of computed
    evidence left 1.4 GB). They are the youngest generation (nothing was collected while
    pySHACL ran): collecting that one walks only what was made since the last collection."""
    gc.collect(0)


def _copy(source, target: Graph) -> None:
    add = target.add
    for triple in source:
        add(triple)


def _splittable(shapes: Graph) -> bool:
    """Whether every shape can be validated unit by unit (see :class:`PartsValidator`)."""
    if (None, SH.rule, None) in shapes:
        return False
    for shape in _targeted(shapes):
        if any((shape, p, None) in shapes for p in (SH.targetObjectsOf, SH.target)):
            return False
        if not _local(shapes, shape) or not all(_local(shapes, prop) for prop in shapes.objects(shape, SH.property)):
            return False
    return True


#: what a shape the parts validator checks unit by unit may hold: constraints on the focus
#: node's own values (and the types of the nodes they name, sh:class), and annotations. A
#: shape with anything else (sh:node, sh:sparql, a path of several steps ...) may see other
#: nodes' data: the graph is then validated whole.
_LOCAL = frozenset({
    SH.path, SH.minCount, SH.maxCount, SH.nodeKind, SH["class"], SH.datatype, SH.minLength, SH.maxLength,
    SH.pattern, SH.flags, SH["in"], SH.hasValue, SH.languageIn, SH.uniqueLang, SH.minInclusive, SH.maxInclusive,
    SH.minExclusive, SH.maxExclusive, SH.message, SH.name, SH.description, SH.order, SH.group, SH.severity,
    SH.deactivated, RDF.type, RDFS.label, RDFS.comment, RDFS.seeAlso,
})


def _targeted(shapes: Graph) -> list:
    return sorted({s for p in (*_TARGETS, SH.target) for s in shapes.subjects(p, None)}, key=str)


def _local(shapes: Graph, shape) -> bool:
    for p, o in shapes.predicate_objects(shape):
        if p in _TARGETS or p == SH.property:
            continue
        if p not in _LOCAL or (p == SH.path and not isinstance(o, URIRef)):
            return False
    return True


def _run(graph: Graph, shapes: Graph) -> list[tuple]:
    """pySHACL's results: (focus, path, value, message, severity, component) for each."""
    return _counted(*_run_all(graph, shapes))


def _run_all(graph: Graph, shapes: Graph) -> tuple[list[tuple], bool]:
    """Every result pySHACL gives, and whether it says the graph conforms."""
    from pyshacl import validate as shacl

    # pySHACL copies the data graph in advanced mode, for the rules that may add to it
    # (sh:rule); without any rule it can validate the graph in place: the same report,
    # without a second copy of the graph in memory
    in_place = (None, SH.rule, None) not in shapes
    conforms, results, _ = shacl(graph, shacl_graph=shapes, inference="none", advanced=True,
                                 allow_warnings=True, inplace=in_place)
    found = [(results.value(r, SH.focusNode), results.value(r, SH.resultPath), results.value(r, SH.value),
              results.value(r, SH.resultMessage), results.value(r, SH.resultSeverity),
              results.value(r, SH.sourceConstraintComponent))
             for r in results.subjects(RDF.type, SH.ValidationResult)]
    return found, conforms


def _counted(found: list[tuple], conforms: bool) -> list[tuple]:
    """The results a report gives: a graph that conforms may still have warnings
    (allow_warnings); its violations are those pySHACL does not count (a property shape of
    a node shape of lower severity)."""
    return [f for f in found if f[4] != SH.Violation] if conforms else found


def _problems(found: list[tuple], locate) -> list[Problem]:
    problems = []
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


def _locator(data: Dataset, vocab: Vocabulary):
    """Where the record behind a result is: the claim that states the offending value (a
    direct triple: focus, path, value), else the entity, claim or source itself."""
    from kgraph.build import claim_value

    records = {entity_iri(e.id): e.loc for e in data.entities}
    records.update({claim_iri(c.id): c.loc for c in data.claims})
    records.update({source_iri(s.id): s.loc for s in data.sources})
    stated: dict[tuple, object] = {}
    for c in data.claims:
        prop = vocab.properties.get(c.predicate)
        if prop is None or c.modality == "negated":  # a negated claim states no triple
            continue
        obj = entity_iri(c.object) if c.object is not None else claim_value(c, prop.range)
        stated.setdefault((entity_iri(c.subject), prop.iri, obj), c.loc)

    def locate(focus, path, value):
        if path is not None and value is not None:
            found = stated.get((focus, path, value))
            if found is not None:
                return found
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
