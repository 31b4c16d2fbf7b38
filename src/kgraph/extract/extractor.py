"""The extractor: a gazetteer, value patterns, a learned relation classifier, a learned
evidence-kind classifier and ConText modality, trained from the curated data."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from kgraph.extract.analysis import DocAnalysis, SentenceInfo, analyse
from kgraph.extract.features import evidence_features, pair_features
from kgraph.extract.gazetteer import Gazetteer, Mention
from kgraph.extract.modality import ModalityTagger, SpanContext
from kgraph.extract.newents import TAGGER, EntityCues, learn_cues
from kgraph.extract.values import ValueMention, learned_endings
from kgraph.model import ENTITY_QUALIFIERS, Claim, Dataset, Vocabulary

NONE = "-"
#: Properties about claims, documents or the vocabulary itself: never predicted.
_META_DOMAINS = {"Claim", "SourceDocument", "EvidenceKind"}
#: Which value kinds fit a datatype property's range.
_RANGE_KINDS = {
    "decimal": {"percent", "count", "ratio"},
    "integer": {"count"},
    "gYear": {"year"},
    "date": {"date"},
    "anyURI": {"url"},
    "string": {"duration", "speed", "decade", "phone", "year", "phrase"},
}
MODEL_VERSION = "v2"


@dataclass
class Extraction:
    title: str | None  # guessed from the text
    publisher: str | None  # guessed from the text
    entities: list[dict]  # new-entity candidates: {id, type, label, synonyms, mentions}
    claims: list[dict]  # candidate claims (data/claims format + offsets)
    #: every mention of a known entity, {id, start, end}: context for a reviewer
    mentions: list[dict] = field(default_factory=list)


@dataclass
class _Candidate:
    info: SentenceInfo
    subject: Mention
    obj: Mention | ValueMention
    kind: str  # "entity" or a value kind
    #: why an unmentioned subject is a candidate: "" (it is mentioned), "recent", "topic", "we"
    implicit: str = ""
    #: for a "recent" subject, 1 for the entity named last, 2 for the one before ...
    rank: int = 0


def _local(iri) -> str | None:
    return str(iri).rsplit("#", 1)[-1] if iri is not None else None


class Extractor:
    """Proposes candidate claims; build one with :meth:`train`."""

    #: a pair becomes a candidate when the first stage says it states a claim with at
    #: least this probability; :meth:`train` sets it by cross-validation over the
    #: training documents (this value is for an extractor trained on one document)
    min_confidence = 0.5
    #: train the classifier on pairs read with the entities only each training document
    #: uses left unknown (found, or not, by new-entity detection), as at extraction time
    SIMULATE_UNKNOWNS = True

    def __init__(self, vocab: Vocabulary, gazetteer: Gazetteer, heads: EntityCues,
                 relation_model, evidence_model, qualifier_rates: dict[str, dict[str, float]],
                 modality: ModalityTagger):
        self.vocab = vocab
        self.gazetteer = gazetteer
        self.heads = heads
        self._relation = relation_model
        self._evidence = evidence_model
        self._qualifier_rates = qualifier_rates
        self._modality = modality
        self._chains: dict[str, list[str]] = {}
        self._valid: dict[tuple[str, str], set[str]] = {}
        #: predicate -> the units its curated value claims use ("" for none): a count of
        #: people is an affectedCount, never a prevalence (percent)
        self._units: dict[str, set[str]] = {}
        #: (subject, object or "value:<predicate>") -> predicate -> sources that claim it
        self._prior: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._prior_by_subject: dict[str, list] = {}
        self._roles: dict[tuple[str, str], set[str]] = {}
        self._heads_of: dict[str, set[str]] = {}
        #: predicate -> the (subject, object or value) kinds its curated claims pair, as
        #: :meth:`_signature` gives them
        self._signatures: dict[str, set[tuple[str, str]]] = {}

    # ------------------------------------------------------------------ vocabulary

    def type_chain(self, cls: str) -> list[str]:
        """``cls`` and its superclasses, most specific first."""
        if cls not in self._chains:
            iri = self.vocab.classes.get(cls)
            sups = self.vocab.superclasses.get(iri, {iri}) if iri is not None else set()
            names = [n for n in (_local(s) for s in sups) if n in self.vocab.classes]
            depth = {n: len(self.vocab.superclasses.get(self.vocab.classes[n], ())) for n in names}
            self._chains[cls] = sorted(names, key=lambda n: -depth[n]) or [cls]
        return self._chains[cls]

    def valid_predicates(self, subject_type: str, kind: str, object_type: str | None = None) -> set[str]:
        """Predicates allowed by domain and range for this subject and object (or value kind)."""
        key = (subject_type, f"{kind}:{object_type}")
        if key not in self._valid:
            out = set()
            for name, p in self.vocab.properties.items():
                if _local(p.domain) in _META_DOMAINS or _local(p.range) in _META_DOMAINS:
                    continue
                if not self.vocab.is_a(subject_type, p.domain):
                    continue
                if kind == "entity":
                    if p.kind == "object" and self.vocab.is_a(object_type, p.range):
                        out.add(name)
                elif p.kind == "datatype" and kind in _RANGE_KINDS.get(_local(p.range) or "string", set()):
                    out.add(name)
            self._valid[key] = out
        return self._valid[key]

    # ------------------------------------------------------------------ training

    @classmethod
    def train(cls, dataset: Dataset, vocab: Vocabulary, texts: dict[str, str]) -> Extractor:
        """Learn from curated data; ``texts`` maps source id -> that source's full text."""
        uses = Counter(r for c in dataset.claims for _, r in c.entity_refs())
        gaz = Gazetteer.from_entities(dataset.entities, uses)
        names = dict(gaz.labels)
        for e in dataset.entities:
            for s in e.synonyms:
                names[f"{e.id}\0{s}"] = s
        heads = learn_cues(names, {k: gaz.types[k.split("\0")[0]] for k in names},
                           [texts[k] for k in sorted(texts)], gaz)
        heads.value_endings = learned_endings([c.value for c in dataset.claims if isinstance(c.value, str) and
                                               _local(vocab.properties[c.predicate].range) == "string"])
        self = cls(vocab, gaz, heads, None, None, {}, ModalityTagger())

        by_source: dict[str, list[Claim]] = defaultdict(list)
        for c in dataset.claims:
            by_source[c.source].append(c)
        # what the curated claims already say of a pair (entity, entity) or (entity, kind
        # of value), per source: a page tends to repeat what other pages say
        for c in dataset.claims:
            if c.object is not None:
                key = (c.subject, c.object)
            elif c.value is not None:
                key = (c.subject, "value:" + c.predicate)
            else:
                continue
            self._prior.setdefault(key, {}).setdefault(c.predicate, set()).add(c.source)
            self._roles.setdefault(("s", c.subject), set()).add(c.source)
            if c.object is not None:
                self._roles.setdefault(("o", c.object), set()).add(c.source)
        X_rel, y_rel, X_ev, y_ev = [], [], [], []
        doc_of: list[int] = []  # which training document each candidate comes from
        scored: list[bool] = []  # whether the threshold is scored on it (a document as read when new)
        gold_claims: list[int] = []  # located curated claims per training document
        qual_counts: dict[str, Counter] = defaultdict(Counter)
        pred_counts: Counter = Counter()
        refs_of = {sid: {r for c in cs for _, r in c.entity_refs()} for sid, cs in by_source.items()}
        for source_id, claims in sorted(by_source.items()):
            text = texts.get(source_id)
            if not text:
                continue
            doc = analyse(text, gaz, new_entities=False, heads=heads)
            located = _locate(text, claims)
            gold_claims.append(sum(1 for _, spans in located if spans))
            others = [r for sid, r in refs_of.items() if sid != source_id]
            only = refs_of[source_id] - set().union(*others) if others and cls.SIMULATE_UNKNOWNS else set()
            for view, al, score in _training_views(text, doc, dataset.entities, only, uses, heads):
                for cand in self._candidates(view):
                    gold = _gold_label(cand, located, al)
                    if gold != NONE and view is doc:
                        self._signatures.setdefault(gold, set()).add(self._signature(cand))
                    # the document's own claims are not prior knowledge about it
                    X_rel.append(self._features(cand, text, exclude=source_id))
                    y_rel.append(gold)
                    doc_of.append(len(gold_claims) - 1)
                    scored.append(score)
            for claim, spans in located:
                pred_counts[claim.predicate] += 1
                if claim.value is not None and not isinstance(claim.value, str):
                    self._units.setdefault(claim.predicate, set()).add(claim.unit or "")
                for k in claim.qualifiers:
                    qual_counts[claim.predicate][k] += 1
                info = _sentence_at(doc, spans[0][0]) if spans else None
                if info is None:
                    continue
                X_ev.append(self._evidence_features(doc, info, claim.predicate,
                                                    gaz.types.get(claim.subject, "Entity")))
                y_ev.append(claim.evidence)
        if len(set(y_rel)) >= 2:
            self._relation = _RelationModel.fit(X_rel, y_rel, doc_of, gold_claims, scored)
            self.min_confidence = self._relation.threshold
        if len(set(y_ev)) >= 2:
            self._evidence = _LinearModel(C=1.0).fit(X_ev, y_ev)
        elif y_ev:
            self._evidence = y_ev[0]
        self._qualifier_rates = {p: {k: n / pred_counts[p] for k, n in c.items()} for p, c in qual_counts.items()}
        return self

    # ------------------------------------------------------------------ candidates

    def _candidates(self, doc: DocAnalysis):
        """Every (subject, object or value) pair a predicate allows, per sentence.

        Pages often leave the subject unsaid ("It enhances the growth of ...", "Our
        clinic offers ..."): entities of the last sentences, the page's main
        intervention and, after "we"/"our", its publisher stand in as implicit subjects.
        """
        topic = self._most_mentioned(doc, "Intervention")  # what the page is about
        publisher = self._most_mentioned(doc, "Organization")
        recent: list[Mention] = []
        paragraph = -1
        for info in doc.sentences:
            # the tagger's names are entity candidates only: too unsure to build claims on
            if any(m.by == TAGGER for m in info.mentions):
                info = SentenceInfo(info.sent, info.tokens, [m for m in info.mentions if m.by != TAGGER],
                                    info.values)
            ms = info.mentions
            pairs = [(a, "") for a in ms]
            here = {m.entity for m in ms}
            if info.sent.paragraph != paragraph and paragraph >= 0 and info.mentions:
                recent = recent[-2:]  # a new paragraph keeps only the last few
            paragraph = info.sent.paragraph
            extra: dict[str, tuple[Mention, str]] = {}
            for m in reversed(recent):
                if m.entity not in here and m.entity not in extra:
                    extra[m.entity] = (m, "recent")
            if topic is not None and topic.entity not in here:
                extra.setdefault(topic.entity, (topic, "topic"))
            if publisher is not None and publisher.entity not in here and self._speaks_as_publisher(info, publisher):
                extra[publisher.entity] = (publisher, "we")
            for m, why in extra.values():
                pairs.append((Mention(info.sent.start, info.sent.start, m.entity, m.type, m.known, m.by), why))
            rank = 0
            for a, why in pairs:
                # how far back an unmentioned subject was last named: the last few entities
                # compete for "it", "this treatment", "these drugs"
                rank = rank + 1 if why == "recent" else 0
                for b in ms:
                    if a is b or a.entity == b.entity or (a.start < b.end and b.start < a.end):
                        continue  # one name inside another ("generalized [anxiety disorder]")
                    if self.valid_predicates(a.type, "entity", b.type):
                        yield _Candidate(info, a, b, "entity", why, rank)
                for v in info.values:
                    if self.valid_predicates(a.type, v.kind):
                        yield _Candidate(info, a, v, v.kind, why, rank)
            for m in ms:
                recent = [r for r in recent if r.entity != m.entity] + [m]
            recent = recent[-8:]

    def _speaks_as_publisher(self, info: SentenceInfo, publisher: Mention) -> bool:
        """Whether the sentence speaks as the page's publisher: "we", "our", "us", or
        "the clinic" / "our practice" with the head noun of names of the publisher's kind
        (learned from the gazetteer: "Tranquility Ketamine Clinic" makes "clinic" one)."""
        heads = self._publisher_heads(publisher.type)
        for prev, t in zip([None, *info.tokens], info.tokens):
            if t.norm in ("we", "our", "us"):
                return True
            if prev is not None and prev.norm in ("the", "this", "our") and t.norm in heads and t.text.islower():
                return True
        return False

    def _publisher_heads(self, cls: str) -> set[str]:
        if cls not in self._heads_of:
            index = self.gazetteer.index
            names = [name for bucket in index.values() for name in bucket]
            single = {name.norms[0] for name in names if len(name.norms) == 1}
            # "Tranquility Ketamine" does not make "the ketamine" the clinic
            self._heads_of[cls] = {name.norms[-1] for name in names if name.type == cls and len(name.norms) >= 2
                                   and not name.cased and name.norms[-1] not in single}
        return self._heads_of[cls]

    def _most_mentioned(self, doc: DocAnalysis, class_name: str) -> Mention | None:
        """The first mention of the entity of that class (or a subclass) the page mentions most."""
        cls = self.vocab.classes.get(class_name)
        counts = Counter(m.entity for m in doc.mentions() if self.vocab.is_a(m.type, cls) and m.by != TAGGER)
        if not counts:
            return None
        eid = counts.most_common(1)[0][0]
        return next(m for m in doc.mentions() if m.entity == eid)

    def _features(self, cand: _Candidate, text: str, exclude: str | None = None) -> dict[str, float]:
        tb = self.type_chain(cand.obj.type) if cand.kind == "entity" else [cand.kind]
        f = pair_features(cand.info, cand.subject, cand.obj, self.type_chain(cand.subject.type), tb, cand.kind,
                          cand.implicit, text)
        if cand.rank:
            f["recent_rank=" + str(min(cand.rank, 4))] = 1
            f[f"recent_rank_t={min(cand.rank, 4)}|{self.type_chain(cand.subject.type)[0]}"] = 1
        # prior knowledge: other sources' curated claims about the same pair
        if cand.kind == "entity":
            priors = [self._prior.get((cand.subject.entity, cand.obj.entity), {})]
        else:
            priors = [v for _, v in self._prior_values(cand.subject.entity)]
        sources: set[str] = set()
        for prior in priors:
            for predicate, srcs in prior.items():
                others = srcs - {exclude}
                if others:
                    sources |= others
                    f["prior_pred=" + predicate] = 1
                    if len(others) >= 2:
                        f["prior_pred2=" + predicate] = 1
        if sources:
            f["prior=" + ("1" if len(sources) == 1 else "2+")] = 1
        # whether other sources' claims have this subject as subject, this object as object
        if self._roles.get(("s", cand.subject.entity), set()) - {exclude}:
            f["subject_seen"] = 1
        if cand.kind == "entity" and self._roles.get(("o", cand.obj.entity), set()) - {exclude}:
            f["object_seen"] = 1
        return f

    def _prior_values(self, subject: str):
        if subject not in self._prior_by_subject:
            self._prior_by_subject[subject] = [(k, v) for k, v in self._prior.items()
                                               if k[0] == subject and k[1].startswith("value:")]
        return self._prior_by_subject[subject]

    def _evidence_features(self, doc: DocAnalysis, info: SentenceInfo, predicate: str, subject_type: str):
        before = [s for s in doc.sentences if s.sent.paragraph == info.sent.paragraph and s.sent.end <= info.sent.start]
        para_text = " ".join(doc.text[s.sent.start:s.sent.end] for s in before[-2:])
        mtypes = {t for m in info.mentions for t in self.type_chain(m.type)[:2]}
        ptypes = {t for s in before[-2:] for m in s.mentions for t in self.type_chain(m.type)[:2]}
        return evidence_features(doc.text, info, para_text, predicate, self.type_chain(subject_type),
                                 mtypes, ptypes)

    # ------------------------------------------------------------------ extraction

    def extract(self, text: str, *, source_id: str, progress=None) -> Extraction:
        """Candidate claims and new entities of ``text``.

        ``progress``, when given, is called as ``progress(done, total)`` while sentences
        are read.
        """
        doc = analyse(text, self.gazetteer, heads=self.heads, progress=progress)
        cands = list(self._candidates(doc))
        claims: list[dict] = []
        pending: list[tuple[dict, _Candidate]] = []
        if cands and self._relation is not None:
            X = [self._features(c, text) for c in cands]
            is_claim = self._relation.claim_proba(X)
            kept = [i for i, p in enumerate(is_claim) if p >= self.min_confidence]
            probs = self._relation.predicate_proba([X[i] for i in kept]) if kept else []
            classes = self._relation.predicates
            modality_cache: dict = {}
            for i, row in zip(kept, probs):
                cand, p_claim = cands[i], is_claim[i]
                best = self._choose_predicate(cand, classes, row)
                if best != NONE:
                    pending.append(self._claim(doc, cand, best, float(p_claim), modality_cache))
            pending = self._not_within_lists(doc, pending)
            pending = self._one_subject(doc, pending)
            pending += self._distribute(doc, pending, modality_cache)
            kinds = self._predict_evidence(doc, [(cand.info, c["predicate"], cand.subject.type) for c, cand in pending])
            for (c, _), kind in zip(pending, kinds):
                c["evidence"] = kind
                claims.append(c)
        claims = _dedupe(claims)
        entities = []
        for eid, ne in sorted(doc.new_entities.items()):
            spans = [[m.start, m.end] for m in doc.mentions() if m.entity == eid]
            if spans:
                entities.append({"id": eid, "type": ne.type, "label": ne.label, "synonyms": list(ne.synonyms),
                                 "mentions": spans})
        mentions = [{"id": m.entity, "start": m.start, "end": m.end} for m in doc.mentions() if m.known]
        return Extraction(_guess_title(text), self._guess_publisher(doc), entities, claims, mentions)

    def _branch(self, cls: str) -> str:
        """The class's branch of the class tree: its ancestor right under Entity
        (MentalDisorder -> Condition, Clinic -> Organization)."""
        chain = [c for c in self.type_chain(cls) if c != "Entity"]
        return chain[-1] if chain else cls

    def _signature(self, cand: _Candidate) -> tuple[str, str]:
        """The kinds of thing a candidate pairs: the subject's branch, and the object's
        branch or the value's kind."""
        return (self._branch(cand.subject.type),
                self._branch(cand.obj.type) if cand.kind == "entity" else cand.kind)

    def _conjuncts(self, doc: DocAnalysis, info: SentenceInfo) -> dict[int, list[Mention]]:
        """Mention start -> the mentions coordinated with it ("A, B and C", "A or B"): names
        of one branch of the class tree separated only by commas, "and", "or"."""
        groups: list[list[Mention]] = []
        for m in info.mentions:
            if groups:
                prev = groups[-1][-1]
                if prev.entity == m.entity and re.fullmatch(r"\s*\(", doc.text[prev.end:m.start]):
                    continue  # "cognitive behavioral therapy (CBT": one name
                if _COORD.fullmatch(doc.text[prev.end:m.start]) and self._branch(prev.type) == self._branch(m.type):
                    groups[-1].append(m)
                    continue
            groups.append([m])
        return {m.start: g for g in groups if len(g) > 1 for m in g}

    def _not_within_lists(self, doc: DocAnalysis, pending: list[tuple[dict, _Candidate]]
                          ) -> list[tuple[dict, _Candidate]]:
        """Without the claims between two items of one list: in "treats depression, PTSD
        and OCD" the items are siblings, each related to what the sentence says of the
        list, not to one another."""
        groups_of: dict[int, dict[int, list[Mention]]] = {}
        out = []
        for claim, cand in pending:
            if cand.kind == "entity" and not cand.implicit:
                s0 = cand.info.sent.start
                if s0 not in groups_of:
                    groups_of[s0] = self._conjuncts(doc, cand.info)
                groups = groups_of[s0]
                if cand.subject.start in groups and groups.get(cand.obj.start) is groups[cand.subject.start]:
                    continue
            out.append((claim, cand))
        return out

    def _one_subject(self, doc: DocAnalysis, pending: list[tuple[dict, _Candidate]]
                     ) -> list[tuple[dict, _Candidate]]:
        """Of the subjects a sentence's claim with one predicate and object could have
        (the names before it, the entities of the last sentences, the page's topic),
        the most probable one: "it enhances X" says it of one thing. Only a subject
        coordinated with that one ("SSRIs and SNRIs treat ...") keeps its claim too."""
        best: dict[tuple, tuple[dict, _Candidate]] = {}
        for claim, cand in pending:
            key = (cand.info.sent.start, claim["predicate"], claim.get("object"), str(claim.get("value")))
            if key not in best or claim["confidence"] > best[key][0]["confidence"]:
                best[key] = (claim, cand)
        out = []
        for claim, cand in pending:
            key = (cand.info.sent.start, claim["predicate"], claim.get("object"), str(claim.get("value")))
            top = best[key][1]
            if top is cand or claim["subject"] == top.subject.entity:
                out.append((claim, cand))
                continue
            groups = self._conjuncts(doc, cand.info) if not (cand.implicit or top.implicit) else {}
            if cand.subject.start in groups and groups.get(top.subject.start) is groups[cand.subject.start]:
                out.append((claim, cand))
        return out

    def _distribute(self, doc: DocAnalysis, pending: list[tuple[dict, _Candidate]],
                    modality_cache: dict) -> list[tuple[dict, _Candidate]]:
        """What a sentence states of one item of a list, it states of the others too:
        "treats depression, PTSD and OCD" is three claims. The classifier scores each pair
        on its own and tends to accept only the item nearest the subject (the others have
        commas and names between them); an accepted claim is copied to the other items of
        its object's list when the predicate fits them (domain, range and signature)."""
        out = []
        groups_of: dict[int, dict[int, list[Mention]]] = {}
        for claim, cand in pending:
            if cand.kind != "entity":
                continue
            s0 = cand.info.sent.start
            if s0 not in groups_of:
                groups_of[s0] = self._conjuncts(doc, cand.info)
            groups = groups_of[s0]
            a, b = cand.subject, cand.obj
            if b.start not in groups or (a.start in groups and groups[a.start] is groups[b.start]):
                continue
            for other in groups[b.start]:
                if other is b or other.entity == a.entity:
                    continue
                new = _Candidate(cand.info, a, other, "entity", cand.implicit, cand.rank)
                if self._choose_predicate(new, [claim["predicate"]], [1.0]) == claim["predicate"]:
                    copy, _ = self._claim(doc, new, claim["predicate"], claim["confidence"], modality_cache)
                    copy["by"] += "+conjunct"
                    out.append((copy, new))
        return out

    def _choose_predicate(self, cand: _Candidate, classes: list[str], probs) -> str:
        """The most probable predicate the ontology allows for this pair (and, for a value,
        one whose curated claims use its unit), or NONE.

        The ontology's domains and ranges are broad (``subtypeOf``, ``promotes``: any
        Entity); the curated claims are narrower. When the most probable predicate's
        claims never paired the candidate's kinds of thing (a disorder ``subtypeOf`` an
        agency, a clinic's ``onsetOfEffect``), the pair is taken for no claim at all, not
        given the next predicate: the first stage's "it states something" was most likely
        about that predicate.
        """
        valid = self.valid_predicates(cand.subject.type, cand.kind,
                                      cand.obj.type if cand.kind == "entity" else None)
        unit = None if cand.kind == "entity" else (cand.obj.unit or "")
        sig = self._signature(cand)
        best, best_p = NONE, 0.0
        for cls_name, p in zip(classes, probs):
            if cls_name in valid and p > best_p and \
                    (unit is None or cls_name not in self._units or unit in self._units[cls_name]):
                seen = self._signatures.get(cls_name)
                best = cls_name if seen is None or sig in seen else NONE
                best_p = p
        return best

    def _claim(self, doc: DocAnalysis, cand: _Candidate, predicate: str, confidence: float,
               modality_cache: dict) -> tuple[dict[str, Any], _Candidate]:
        """The candidate claim (its evidence kind still to predict, in one batch) and ``cand``."""
        info = cand.info
        start, end = info.sent.start, info.sent.end
        claim: dict[str, Any] = {"subject": cand.subject.entity, "predicate": predicate}
        if cand.kind == "entity":
            claim["object"] = cand.obj.entity
        else:
            claim["value"] = cand.obj.value
            if cand.obj.unit:
                claim["unit"] = cand.obj.unit
        claim["quote"] = doc.text[start:end]
        claim["start"], claim["end"] = start, end
        claim["evidence"] = None
        claim["modality"] = self._predict_modality(doc, cand, modality_cache)
        qualifiers = self._qualifiers(cand, predicate)
        if qualifiers:
            claim["qualifiers"] = qualifiers
        claim["confidence"] = round(confidence, 3)
        claim["by"] = f"classifier:{MODEL_VERSION}"
        claim["status"] = "candidate"
        return claim, cand

    def _predict_evidence(self, doc, asked: list[tuple[SentenceInfo, str, str]]) -> list[str]:
        """The evidence kind of each (sentence, predicate, subject type)."""
        if isinstance(self._evidence, str):
            return [self._evidence] * len(asked)
        if self._evidence is None or not asked:
            return ["clinic-statement"] * len(asked)
        X = [self._evidence_features(doc, info, predicate, subject_type) for info, predicate, subject_type in asked]
        return [str(k) for k in self._evidence.predict(X)]

    def _predict_modality(self, doc: DocAnalysis, cand: _Candidate, cache: dict) -> str:
        info = cand.info
        s0 = info.sent.start
        if s0 not in cache:  # one ConText run per sentence, for all its targets
            spans = [(m.start - s0, m.end - s0) for m in info.mentions] + \
                    [(v.start - s0, v.end - s0) for v in info.values if v.kind != "phrase"]
            cache[s0] = self._modality.tag(doc.text[s0:info.sent.end], spans)
        ctx = cache[s0]
        plain = SpanContext(False, False, False)
        subject = ctx.get((cand.subject.start - s0, cand.subject.end - s0), plain)
        target = ctx.get((cand.obj.start - s0, cand.obj.end - s0), plain)
        if target.negated:
            return "negated"
        if target.uncertain or subject.uncertain:
            return "hedged"
        return "asserted"

    def _qualifiers(self, cand: _Candidate, predicate: str) -> dict[str, Any]:
        """Qualifiers the curated claims of this predicate usually carry, when the
        sentence names a fitting entity."""
        rates = self._qualifier_rates.get(predicate, {})
        out: dict[str, Any] = {}
        used = {cand.subject.entity, getattr(cand.obj, "entity", None)}
        for key, rate in sorted(rates.items()):
            if rate < 0.3 or key not in ENTITY_QUALIFIERS or key == "comparator":
                continue
            rng = self.vocab.properties.get(ENTITY_QUALIFIERS[key])
            if rng is None:
                continue
            for m in cand.info.mentions:
                if m.entity not in used and self.vocab.is_a(m.type, rng.range):
                    out[key] = m.entity
                    used.add(m.entity)
                    break
        if isinstance(cand.obj, ValueMention) and cand.obj.max_value is not None:
            out["max_value"] = cand.obj.max_value
        return out

    def _guess_publisher(self, doc: DocAnalysis) -> str | None:
        counts: Counter = Counter()
        labels = {}
        for m in doc.mentions():
            if self.vocab.is_a(m.type, self.vocab.classes.get("Organization")):
                counts[m.entity] += 1
                labels.setdefault(m.entity, doc.text[m.start:m.end])
        if not counts:
            return None
        eid = counts.most_common(1)[0][0]
        return self.gazetteer.labels.get(eid) or labels[eid]


# ---------------------------------------------------------------------- helpers

class _RelationModel:
    """Two stages: whether a (subject, object or value) pair of a sentence states a claim
    at all (one binary model, trained on every pair: each predicate's few examples add up),
    then which predicate (trained on the pairs that state one; the caller keeps the
    predicates the ontology allows for the pair).

    The threshold on the first stage is chosen by cross-validation over the training
    documents (leave one out), maximising F1 against their curated claims, so it follows
    the data rather than a constant.
    """

    C_CLAIM = 0.5
    C_PREDICATE = 1.0
    CLAIM_WEIGHT: str | None = "balanced"

    def __init__(self, claim_model, predicate_model, predicates: list[str], threshold: float):
        self._claim = claim_model
        self._predicate = predicate_model
        self.predicates = predicates
        self.threshold = threshold

    @classmethod
    def fit(cls, X, y, doc_of: list[int], gold_claims: list[int], scored: list[bool] | None = None
            ) -> _RelationModel:
        binary = [int(v != NONE) for v in y]
        claim_model = _LinearModel(C=cls.C_CLAIM, class_weight=cls.CLAIM_WEIGHT, binary=True).fit(X, binary)
        pos = [i for i, v in enumerate(y) if v != NONE]
        labels = [y[i] for i in pos]
        if len(set(labels)) >= 2:
            predicate_model = _LinearModel(C=cls.C_PREDICATE).fit([X[i] for i in pos], labels)
            predicates = list(predicate_model.classes_)
        else:
            predicate_model, predicates = None, sorted(set(labels))
        threshold = cls._threshold(X, binary, doc_of, gold_claims, scored)
        return cls(claim_model, predicate_model, predicates, threshold)

    @classmethod
    def _threshold(cls, X, binary, doc_of, gold_claims, scored=None, default: float = 0.5) -> float:
        docs = sorted(set(doc_of))
        if len(docs) < 2:
            return default
        scores: list[tuple[float, int]] = []
        for d in docs:
            train = [i for i, k in enumerate(doc_of) if k != d]
            test = [i for i, k in enumerate(doc_of) if k == d and (scored is None or scored[i])]
            if len({binary[i] for i in train}) < 2 or not test:
                continue
            model = _LinearModel(C=cls.C_CLAIM, class_weight=cls.CLAIM_WEIGHT, binary=True).fit(
                [X[i] for i in train], [binary[i] for i in train])
            scores += zip(model.positive_proba([X[i] for i in test]), (binary[i] for i in test))
        gold = sum(gold_claims)
        if not scores or not gold:
            return default
        best_t, best_f = default, -1.0
        for t in [x / 100 for x in range(5, 96)]:
            tp = sum(1 for p, b in scores if p >= t and b)
            fp = sum(1 for p, b in scores if p >= t and not b)
            f = 2 * tp / (2 * tp + fp + max(gold - tp, 0)) if tp else 0.0
            if f > best_f + 1e-9:
                best_t, best_f = t, f
        return best_t

    def claim_proba(self, X) -> list[float]:
        return list(self._claim.positive_proba(X))

    def predicate_proba(self, X):
        if self._predicate is None:
            return [[1.0] * len(self.predicates) for _ in X]
        return self._predicate.predict_proba(X)


class _LinearModel:
    """Feature dicts -> one-vs-rest logistic regression (liblinear: seconds, not minutes,
    for a hundred classes and tens of thousands of sparse features)."""

    def __init__(self, C: float, class_weight=None, binary: bool = False):
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        self.vectorizer = DictVectorizer()
        lr = LogisticRegression(solver="liblinear", C=C, class_weight=class_weight)
        self.model = lr if binary else OneVsRestClassifier(lr)

    def _matrix(self, X, fit: bool = False):
        import numpy as np

        if fit:
            m = self.vectorizer.fit_transform(X)
        else:  # DictVectorizer.transform type-checks every value: this is ~3x faster
            from scipy.sparse import csr_matrix

            vocab = self.vectorizer.vocabulary_
            indices, data, indptr = [], [], [0]
            for x in X:
                for k, v in x.items():
                    j = vocab.get(k)
                    if j is not None:
                        indices.append(j)
                        data.append(v)
                indptr.append(len(indices))
            m = csr_matrix((np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int32),
                            np.asarray(indptr, dtype=np.int32)), shape=(len(X), len(vocab)))
            m.sum_duplicates()
        # liblinear accepts 32-bit sparse indices only; DictVectorizer may give 64-bit
        m.indices = m.indices.astype(np.int32)
        m.indptr = m.indptr.astype(np.int32)
        return m

    def fit(self, X, y) -> _LinearModel:
        self.model.fit(self._matrix(X, fit=True), y)
        self.classes_ = list(self.model.classes_)
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(self._matrix(X))

    def predict(self, X):
        return self.model.predict(self._matrix(X))

    def positive_proba(self, X):
        """P(class 1) of a binary model."""
        return self.model.predict_proba(self._matrix(X))[:, self.classes_.index(1)]


#: what separates the items of a list: a comma, "and", "or" (", and the"), after an
#: abbreviation in brackets ("selective serotonin reuptake inhibitors (SSRIs), ...")
_COORD = re.compile(r"\s*(?:\([^()]{1,40}\))?\s*(?:,\s*(?:(?:and|or|and/or)\s+)?|(?:and|or|and/or)\s+)(?:the\s+)?")


def _locate(text: str, claims: list[Claim]) -> list[tuple[Claim, list[tuple[int, int]]]]:
    out = []
    for c in claims:
        spans, pos = [], 0
        while c.quote and (i := text.find(c.quote, pos)) >= 0:
            spans.append((i, i + len(c.quote)))
            pos = i + 1
        out.append((c, spans))
    return out


def _sentence_at(doc: DocAnalysis, offset: int) -> SentenceInfo | None:
    for s in doc.sentences:
        if s.sent.start <= offset < s.sent.end:
            return s
    return None


def value_matches(gold: Any, found: Any) -> bool:
    """Whether a found value is the curated one (numbers equal; texts overlapping)."""
    if isinstance(gold, (int, float)) and isinstance(found, (int, float)):
        return abs(float(gold) - float(found)) < 1e-6 * max(1.0, abs(float(gold)))
    g, f = _norm_value(gold), _norm_value(found)
    if not g or not f:
        return False
    if g == f or g in f or f in g:
        return True
    gw, fw = set(g.split()), set(f.split())
    return len(gw & fw) / len(gw | fw) >= 0.5


def _norm_value(v: Any) -> str:
    s = str(v).casefold()
    s = re.sub(r"^https?://(www\.)?", "", s)
    return " ".join(re.findall(r"[^\W_]+", s))


def _training_views(text: str, doc: DocAnalysis, entities, only: set[str], uses: Counter,
                    heads: EntityCues) -> list[tuple[DocAnalysis, dict[str, str], bool]]:
    """How a training document is read for the relation classifier: ``(analysis, alias,
    scored)`` per reading.

    ``doc`` reads it with every curated name known. When some entities are used only by
    this document's claims (``only``), it is read a second time as a new page would be:
    those entities unknown, found (or not) by new-entity detection, whose candidates
    ``alias`` maps to the curated entity they cover. The classifier learns from both
    readings; the threshold is scored on the second, the one like extraction.
    """
    if not only:
        return [(doc, {}, True)]
    gaz = Gazetteer.from_entities([e for e in entities if e.id not in only], uses)
    sim = analyse(text, gaz, new_entities=True, heads=heads)
    return [(doc, {}, False), (sim, _aliases(sim, [m for m in doc.mentions() if m.entity in only]), True)]


def _aliases(doc: DocAnalysis, gold: list[Mention]) -> dict[str, str]:
    """New candidate id -> the curated entity whose mentions (``gold``) it covers most."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for m in doc.mentions():
        if not m.known:
            for g in gold:
                if m.start < g.end and g.start < m.end:
                    votes[m.entity][g.entity] += 1
    return {k: v.most_common(1)[0][0] for k, v in votes.items()}


def _gold_label(cand: _Candidate, located, alias: dict[str, str] | None = None) -> str:
    s0, s1 = cand.info.sent.start, cand.info.sent.end
    alias = alias or {}
    subject = alias.get(cand.subject.entity, cand.subject.entity)
    obj = alias.get(cand.obj.entity, cand.obj.entity) if cand.kind == "entity" else None
    for claim, spans in located:
        if claim.subject != subject:
            continue
        if not any(a < s1 and s0 < b for a, b in spans):
            continue
        if cand.kind == "entity":
            if claim.object == obj:
                return claim.predicate
        elif claim.value is not None and value_matches(claim.value, cand.obj.value):
            return claim.predicate
    return NONE


def _dedupe(claims: list[dict]) -> list[dict]:
    """One candidate per statement: the same triple read off the same words again (a
    page repeating its boilerplate, whatever its case or line breaks) is proposed once,
    where it is most probable or first."""
    best: dict[tuple, dict] = {}
    for c in claims:
        words = " ".join(c["quote"].casefold().split())
        key = (c["subject"], c["predicate"], c.get("object"), str(c.get("value")), words)
        if key not in best or c["confidence"] > best[key]["confidence"] or (
                c["confidence"] == best[key]["confidence"] and c["start"] < best[key]["start"]):
            best[key] = c
    return sorted(best.values(), key=lambda c: (c["start"], c["subject"], c["predicate"], str(c.get("object"))))


def _guess_title(text: str) -> str | None:
    """The first heading-like line: short, no final full stop."""
    for line in text.splitlines()[:15]:
        s = line.strip()
        if 12 <= len(s) <= 150 and not s.endswith((".", ",", ";")) and len(s.split()) >= 3:
            return s
    return None
