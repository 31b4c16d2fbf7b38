"""The extractor's rules and learned parts, one at a time, on made-up sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgraph.extract import Extractor
from kgraph.extract.extractor import _RelationModel
from kgraph.extract.gazetteer import Gazetteer
from kgraph.extract.newents import EntityCues, find_new_entities, learn_cues
from kgraph.extract.text import tokens
from kgraph.extract.values import find_phrases

HERE = Path(__file__).resolve().parent
MINI = HERE / "fixtures" / "mini"


def _gazetteer() -> Gazetteer:
    gaz = Gazetteer()
    gaz.add("ptsd", "MentalDisorder", "PTSD", label=True)
    gaz.add("anxiety", "Symptom", "anxiety", label=True)
    gaz.add("nausea", "SideEffect", "nausea", label=True)
    gaz.add("psychotherapy", "Psychotherapy", "psychotherapy", label=True)
    return gaz


def _new(text: str, cues: EntityCues | None = None) -> dict[str, str]:
    return {ne.label: ne.type for ne in find_new_entities(text, tokens(text), _gazetteer(), cues)}


def test_a_new_entity_never_hides_a_known_name():
    # "symptom" is a learned head noun, but "PTSD symptoms" would hide the known PTSD
    found = _new("Many people with PTSD symptoms also feel tired.", EntityCues({"symptom": "Symptom"}))
    assert "PTSD symptoms" not in found


def test_no_new_entity_runs_across_a_line_break():
    found = _new("Dosing\nchronic disorder is rare here.", EntityCues({"disorder": "MentalDisorder"}))
    assert not any("\n" in label or "Dosing" in label for label in found)


#: every break str.splitlines() knows
BREAKS = ["\n", "\r", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", BREAKS)
def test_no_capitalised_name_runs_across_a_page_or_line_break(brk):
    # a heading ending in a capitalised word, then a page break, then a sentence: the
    # capitalised rule once took "Explained\x0cKetamine" as a name (and then dropped its claims)
    cues = EntityCues({"ketamine": "Drug"})
    found = _new(f"Gamma Clinic: treating PTSD, Explained{brk}Ketamine is not a cure.", cues)
    assert not any(brk in label or "Explained" in label for label in found), found


@pytest.mark.parametrize("brk", BREAKS)
def test_no_organisation_name_runs_across_a_page_or_line_break(brk):
    # the organisation rule reads "Dosing\x0cGamma Clinic" as one name unless proposing refuses it
    assert not any("Dosing" in label for label in _new(f"Thanks to Dosing{brk}Gamma Clinic for this."))


@pytest.mark.parametrize("brk", BREAKS)
def test_a_capitalised_name_before_a_page_or_line_break_is_found(brk):
    # the capitalised rule reads line by line: across the break its match would be refused whole
    found = _new(f"Patients asked about Integrative Psychotherapy{brk}Gamma offers it.")
    assert found == {"Integrative Psychotherapy": "Psychotherapy"}


def test_list_items_take_the_type_of_their_typed_neighbour():
    found = _new("Side effects are nausea, dizziness and drowsiness.")
    assert found.get("dizziness") == "SideEffect" and found.get("drowsiness") == "SideEffect"


def test_a_list_header_types_its_items():
    found = _new("Common side effects include dizziness, drowsiness, and lightheadedness.",
                 EntityCues({"effect": "SideEffect"}))
    assert {found.get(w) for w in ("dizziness", "drowsiness", "lightheadedness")} == {"SideEffect"}


def test_list_headers_are_learned_from_the_training_texts():
    # no known name ends in "effect", but a training text lists a known side effect after
    # "side effects include": the header's head noun types the items of a new list
    gaz = _gazetteer()
    cues = learn_cues({}, {}, ["Reported side effects include nausea and headaches."], gaz)
    assert cues.list_heads.get("effect") == "SideEffect"
    found = _new("Common side effects include dizziness, drowsiness, and lightheadedness.", cues)
    assert {found.get(w) for w in ("dizziness", "drowsiness", "lightheadedness")} == {"SideEffect"}
    assert _new("Common side effects include dizziness, drowsiness, and lightheadedness.") == {}


def test_a_list_may_end_before_a_preposition():
    found = _new("It is used for nausea and sedation in children.")
    assert found.get("sedation") == "SideEffect"


def test_brands_and_places():
    found = _new("Call BrightPath today: our clinic in Springfield, New Carolina is open.")
    assert found.get("BrightPath") == "Organization"
    assert found.get("Springfield") == "Place" and found.get("New Carolina") == "Place"


def test_abbreviation_long_forms_lose_leading_stop_words():
    found = _new("It helps with pain and general mood disorder (GMD) alike.",
                 EntityCues({"disorder": "MentalDisorder"}))
    assert found.get("general mood disorder") == "MentalDisorder"
    assert not any(label.startswith("and ") for label in found)


def test_context_words_are_learned_from_the_training_texts():
    gaz = _gazetteer()
    cues = learn_cues({"x": "social anxiety disorder"}, {"x": "MentalDisorder"},
                      ["Doctors alleviate PTSD daily.", "They alleviate anxiety too."], gaz)
    assert "alleviate" in cues.context
    text = "We alleviate nausea and severe disorder quickly."
    found = {ne.label for ne in find_new_entities(text, tokens(text), gaz,
                                                  EntityCues({"disorder": "MentalDisorder"}, cues.context))}
    assert "severe disorder" in found
    assert not any(label.startswith("alleviate") for label in found)


@pytest.mark.parametrize("sentence, phrase", [
    ("Gamma syndrome is a rare condition that can follow a head injury.",
     "a rare condition that can follow a head injury"),
    ("It raises glutamate, the brain's main excitatory messenger, in minutes.",
     "the brain's main excitatory messenger"),
    ("Jane Roe, MD, Professor of Psychiatry at Example University, led it.", "Professor of Psychiatry"),
])
def test_descriptive_phrases(sentence, phrase):
    assert phrase in [v.value for v in find_phrases(sentence)]
    for v in find_phrases(sentence):
        assert sentence[v.start:v.end] == v.value


def test_the_threshold_is_chosen_by_cross_validation():
    # three documents; the word "cure" marks a claim in each: the chosen threshold lets
    # those pairs through and keeps the rest out
    X, y, doc_of = [], [], []
    for d in range(3):
        for i in range(30):
            claim = i % 5 == 0
            X.append({"bw=cure" if claim else f"bw=w{i % 7}": 1, "tt=Drug|Disorder": 1})
            y.append("treats" if claim else "-")
            doc_of.append(d)
    model = _RelationModel.fit(X, y, doc_of, [6, 6, 6])
    probs = model.claim_proba(X)
    assert all((p >= model.threshold) == (label != "-") for p, label in zip(probs, y))
    assert model.predicates == ["treats"]


def test_priors_come_from_other_sources_only(mini_data):
    from kgraph.extract.analysis import analyse

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    source_id, text = sorted(texts.items())[0]
    doc = analyse(text, ex.gazetteer, new_entities=False)
    cands = [c for c in ex._candidates(doc) if c.kind == "entity" and
             (c.subject.entity, c.obj.entity) in ex._prior]
    assert cands, "the mini fixture has a curated pair in its own text"
    cand = cands[0]
    sources = set().union(*ex._prior[(cand.subject.entity, cand.obj.entity)].values())
    assert any(k.startswith("prior=") for k in ex._features(cand, text))
    if sources == {source_id}:  # claimed only by this document: no prior when training on it
        assert not any(k.startswith("prior") for k in ex._features(cand, text, exclude=source_id))


def test_a_count_of_people_is_never_a_percentage_measure(mini_data):
    from kgraph.extract.extractor import _Candidate
    from kgraph.extract.gazetteer import Mention
    from kgraph.extract.values import ValueMention

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    assert ex._units.get("prevalence") == {"percent"}
    ptsd = Mention(0, 4, "ptsd", "MentalDisorder")
    valid = sorted(ex.valid_predicates("MentalDisorder", "count"))
    assert "prevalence" in valid
    # even when the model likes prevalence best, a count of people is not one; a percentage is
    probs = [1.0 if p == "prevalence" else 0.1 for p in valid]
    people = _Candidate(None, ptsd, ValueMention(10, 19, "count", 8_000_000, "people"), "count")
    percent = _Candidate(None, ptsd, ValueMention(10, 12, "percent", 7, "percent"), "percent")
    assert ex._choose_predicate(people, valid, probs) != "prevalence"
    assert ex._choose_predicate(percent, sorted(ex.valid_predicates("MentalDisorder", "percent")),
                                [1.0 if p == "prevalence" else 0.1
                                 for p in sorted(ex.valid_predicates("MentalDisorder", "percent"))]) == "prevalence"


def test_descriptive_values_end_like_curated_ones():
    from kgraph.extract.newents import _STOP
    from kgraph.extract.values import find_learned_phrases, learned_endings

    # "within hours" is a duration pattern already: it teaches no ending
    endings = learned_endings(["favorable safety profile", "generally well-tolerated", "within hours"])
    assert endings == {("safety", "profile"), ("well", "tolerated")}
    text = "Ketamine is usually well-tolerated and has an excellent safety profile, says Ketamine’s safety profile."
    found = [v.value for v in find_learned_phrases(text, tokens(text), endings, _STOP)]
    assert found == ["usually well-tolerated", "excellent safety profile", "safety profile"]
    for v in find_learned_phrases(text, tokens(text), endings, _STOP):
        assert text[v.start:v.end] == v.value


def test_the_clinic_speaking_of_itself_is_the_publisher(mini_data):
    from kgraph.extract.analysis import analyse
    from kgraph.extract.gazetteer import Mention

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    ex.gazetteer.add("bright-clinic", "Clinic", "Bright Path Clinic", label=True)
    ex.gazetteer.add("bright-ketamine", "Clinic", "Bright Ketamine")
    ex.gazetteer.add("ketamine", "Drug", "ketamine")
    ex._heads_of.clear()  # learned while training, before these names were added
    publisher = Mention(0, 0, "bright-clinic", "Clinic")

    def speaks(sentence: str) -> bool:
        info = analyse(sentence, ex.gazetteer, new_entities=False).sentences[0]
        return ex._speaks_as_publisher(info, publisher)

    assert speaks("The clinic offers infusions for PTSD.")
    assert speaks("We offer infusions for PTSD.")
    assert not speaks("A clinic in town offers infusions.")
    # "Bright Ketamine" does not make "the ketamine" the clinic: ketamine is a name of its own
    assert not speaks("The ketamine dose was low.")


def test_unmentioned_subjects_are_ranked_by_how_recently_they_were_named(mini_data):
    from kgraph.extract.analysis import analyse

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    text = "Ketamine acts on glutamate. Then synaptogenesis follows. It can cause dissociation."
    doc = analyse(text, ex.gazetteer, new_entities=False)
    last = [c for c in ex._candidates(doc) if c.info is doc.sentences[-1] and c.implicit == "recent"
            and getattr(c.obj, "entity", None) == "dissociation"]
    ranks = {c.subject.entity: c.rank for c in last}
    # every entity of the recent window is offered, the one named last first
    assert ranks.get("synaptogenesis") == 1 and ranks.get("ketamine", 0) > 1
    assert all(f"recent_rank={min(c.rank, 4)}" in ex._features(c, text) for c in last)


def test_a_predicate_keeps_to_the_kinds_of_thing_its_claims_pair(mini_data):
    from kgraph.extract.extractor import NONE, _Candidate
    from kgraph.extract.gazetteer import Mention

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    # leadsTo allows any Entity to any Entity; the curated claims pair a molecule and a mechanism
    assert ex._signatures["leadsTo"] == {("Molecule", "Mechanism")}
    glutamate = Mention(0, 9, "glutamate", "Neurotransmitter")
    release = Mention(20, 37, "glutamate-release", "Mechanism")
    clinic = Mention(40, 52, "alpha-clinic", "Clinic")
    for subject, obj, expected in [(glutamate, release, "leadsTo"), (clinic, release, NONE)]:
        valid = sorted(ex.valid_predicates(subject.type, "entity", obj.type))
        assert "leadsTo" in valid
        # the model likes leadsTo best: a clinic is still not taken to lead to a mechanism,
        # nor given the next predicate instead
        probs = [1.0 if p == "leadsTo" else 0.5 for p in valid]
        assert ex._choose_predicate(_Candidate(None, subject, obj, "entity"), valid, probs) == expected


def _trained_with(mini_data, kind: str, *names: str):
    """The extractor trained on the mini data, and a copy of its gazetteer that knows ``names``."""
    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    gaz = ex.gazetteer.copy()
    for eid in names:
        gaz.add(eid, kind, eid, label=True)
    return ex, gaz


def _one_sentence(text: str, gaz: Gazetteer):
    from kgraph.extract.analysis import analyse

    doc = analyse(text, gaz, new_entities=False)
    (info,) = doc.sentences
    return doc, info


def test_a_claim_about_one_item_of_a_list_is_proposed_for_the_others(mini_data):
    ex, gaz = _trained_with(mini_data, "SideEffect", "nausea", "headache")
    text = "Ketamine can cause dissociation, nausea and headache, and PTSD patients rest.\n"
    doc, info = _one_sentence(text, gaz)
    ketamine, dissociation = info.mentions[0], info.mentions[1]
    assert (ketamine.entity, dissociation.entity) == ("ketamine", "dissociation")
    cand = next(c for c in ex._candidates(doc) if c.subject is ketamine and c.obj is dissociation)
    pending = [ex._claim(doc, cand, "hasSideEffect", 0.9, {})]
    copies = ex._distribute(doc, pending, {})
    # the side effects of the list, not PTSD after it (another branch of the class tree)
    assert [(c["subject"], c["predicate"], c["object"]) for c, _ in copies] == [
        ("ketamine", "hasSideEffect", "nausea"), ("ketamine", "hasSideEffect", "headache")]
    for c, _ in copies:
        assert c["quote"] == text[c["start"]:c["end"]] and c["by"].endswith("+conjunct")
    # a name of another branch between them ends the list: "dissociation, PTSD and nausea"
    # is not taken for a list of side effects
    text = "Ketamine can cause dissociation, PTSD and nausea.\n"
    doc, info = _one_sentence(text, gaz)
    cand = next(c for c in ex._candidates(doc) if c.subject.entity == "ketamine" and c.obj is info.mentions[1])
    assert ex._distribute(doc, [ex._claim(doc, cand, "hasSideEffect", 0.9, {})], {}) == []


def test_no_claim_is_proposed_between_two_items_of_one_list(mini_data):
    from kgraph.extract.extractor import _Candidate

    ex, gaz = _trained_with(mini_data, "SideEffect", "nausea", "headache")
    text = "Ketamine can cause dissociation, nausea and headache.\n"
    doc, info = _one_sentence(text, gaz)
    ketamine, dissociation, nausea, headache = info.mentions
    assert [m.entity for m in info.mentions] == ["ketamine", "dissociation", "nausea", "headache"]

    def claim(subject, obj, predicate="hasSideEffect"):
        return ex._claim(doc, _Candidate(info, subject, obj, "entity"), predicate, 0.9, {})

    pending = [claim(ketamine, dissociation), claim(nausea, headache, "causes"),
               claim(dissociation, headache, "causes"), claim(ketamine, headache)]
    # the list's items are siblings: what the sentence says is said of them, not between them
    assert [(c["subject"], c["object"]) for c, _ in ex._not_within_lists(doc, pending)] == [
        ("ketamine", "dissociation"), ("ketamine", "headache")]


def test_a_claim_of_a_sentence_keeps_its_most_probable_subject(mini_data):
    from kgraph.extract.extractor import _Candidate
    from kgraph.extract.gazetteer import Mention

    ex, gaz = _trained_with(mini_data, "Drug", "lorazepam", "midazolam")
    doc, info = _one_sentence("Lorazepam and midazolam can cause dissociation, unlike ketamine.\n", gaz)
    lorazepam, midazolam, dissociation, ketamine = info.mentions
    assert [m.entity for m in info.mentions] == ["lorazepam", "midazolam", "dissociation", "ketamine"]
    implicit = Mention(0, 0, "glutamate", "Neurotransmitter")

    def claim(subject, p, why=""):
        return ex._claim(doc, _Candidate(info, subject, dissociation, "entity", why), "hasSideEffect", p, {})

    pending = [claim(ketamine, 0.7), claim(lorazepam, 0.9), claim(midazolam, 0.6), claim(implicit, 0.8, "topic")]
    kept = ex._one_subject(doc, pending)
    # ketamine and the unmentioned subject lose to the most probable one; midazolam is
    # coordinated with it ("lorazepam and midazolam") and keeps its claim
    assert [c["subject"] for c, _ in kept] == ["lorazepam", "midazolam"]
    # a claim with another predicate is no rival
    other = ex._claim(doc, _Candidate(info, ketamine, dissociation, "entity"), "causes", 0.5, {})
    assert [(c["subject"], c["predicate"]) for c, _ in ex._one_subject(doc, [*pending, other])] == [
        ("lorazepam", "hasSideEffect"), ("midazolam", "hasSideEffect"), ("ketamine", "causes")]


# ---------------------------------------------------------------- extended known names (issue 11)

def _extension_gazetteer() -> Gazetteer:
    gaz = Gazetteer()
    gaz.add("anxiety-disorder", "MentalDisorder", "anxiety disorder", label=True)
    gaz.add("panic-anxiety-disorder", "MentalDisorder", "panic anxiety disorder", label=True)
    gaz.add("ketamine", "Drug", "ketamine", label=True)
    return gaz


def _extension_cues(gaz: Gazetteer, texts=()) -> EntityCues:
    labels = dict(gaz.labels)
    return learn_cues(labels, dict(gaz.types), list(texts), gaz)


def _extended(text: str, cues: EntityCues, gaz: Gazetteer) -> dict[str, str]:
    return {ne.label: ne.type for ne in find_new_entities(text, tokens(text), gaz, cues)
            if ne.by == "rule:extension"}


def test_a_known_name_with_modifiers_before_it_is_a_new_more_specific_name():
    gaz = _extension_gazetteer()
    cues = _extension_cues(gaz)
    # "panic anxiety disorder" builds on "anxiety disorder": MentalDisorder names extend
    assert cues.extensible == {"MentalDisorder"}
    found = _extended("Patients with generalized anxiety disorder and/or social anxiety disorder took part.",
                      cues, gaz)
    assert found == {"generalized anxiety disorder": "MentalDisorder", "social anxiety disorder": "MentalDisorder"}


def test_only_types_whose_known_names_build_on_each_other_are_extended():
    gaz = _extension_gazetteer()
    cues = _extension_cues(gaz)
    # no known Drug name builds on another: "intravenous ketamine" is ketamine
    assert _extended("They were given an intravenous ketamine infusion.", cues, gaz) == {}


def test_words_the_training_texts_put_before_known_names_do_not_extend_them():
    gaz = _extension_gazetteer()
    # "chronic" is a word of a known name, so it is no context word (a verb): only the
    # qualifiers learned from the texts keep it out
    gaz.add("chronic-pain", "Symptom", "chronic pain", label=True)
    cues = _extension_cues(gaz, ["Many live with chronic anxiety disorder for years."])
    assert "chronic" in cues.qualifiers
    assert _extended("Some with chronic anxiety disorder came.", cues, gaz) == {}
    assert _extended("Some with chronic anxiety disorder came.", _extension_cues(gaz), gaz) == \
        {"chronic anxiety disorder": "MentalDisorder"}


def test_an_extension_opens_where_a_noun_phrase_can():
    gaz = _extension_gazetteer()
    cues = _extension_cues(gaz)
    # a verb before the name ("to treat", "may ease") is no part of it
    assert _extended("It helps to treat anxiety disorder.", cues, gaz) == {}
    assert _extended("It may ease anxiety disorder.", cues, gaz) == {}


def test_the_known_name_inside_an_extension_is_still_mentioned():
    from kgraph.extract.analysis import analyse

    gaz = _extension_gazetteer()
    cues = _extension_cues(gaz)
    doc = analyse("Ketamine eased the symptoms of generalized anxiety disorder.", gaz, heads=cues)
    found = {(m.entity, m.known) for m in doc.mentions()}
    assert ("generalized-anxiety-disorder", False) in found
    assert ("anxiety-disorder", True) in found


def test_a_name_and_the_known_name_inside_it_are_never_paired(mini_data):
    from kgraph.extract.analysis import DocAnalysis, SentenceInfo
    from kgraph.extract.gazetteer import Mention
    from kgraph.extract.text import Sentence

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    text = "Ketamine eased chronic post-traumatic stress disorder."
    outer = Mention(15, 53, "chronic-post-traumatic-stress-disorder", "MentalDisorder", known=False,
                    by="rule:extension")
    inner = Mention(23, 53, "ptsd", "MentalDisorder")
    drug = Mention(0, 8, "ketamine", "Drug")
    info = SentenceInfo(Sentence(0, len(text), 0), tokens(text), [drug, outer, inner], [])
    pairs = {(c.subject.entity, c.obj.entity) for c in ex._candidates(DocAnalysis(text, [info]))
             if c.kind == "entity" and not c.implicit}
    assert ("ketamine", "ptsd") in pairs and ("ketamine", "chronic-post-traumatic-stress-disorder") in pairs
    assert not {("ptsd", "chronic-post-traumatic-stress-disorder"), ("chronic-post-traumatic-stress-disorder", "ptsd")} & pairs


def test_training_reads_a_document_again_with_its_own_entities_unknown(mini_data):
    from collections import Counter

    from kgraph.extract.analysis import analyse
    from kgraph.extract.extractor import NONE, _gold_label, _locate, _training_views
    from kgraph.model import Claim, Entity, Location

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    loc = Location(Path("made-up.yaml"), 1)
    entities = [Entity("ketamine", "Drug", "ketamine", [], [], "", loc),
                Entity("zorblax-disorder", "MentalDisorder", "zorblax disorder", [], [], "", loc)]
    text = "Ketamine relieves severe zorblax disorder quickly.\n"
    claim = Claim("c1", "src-x", "ketamine", "treats", text.strip(), "clinic-statement", loc,
                  object="zorblax-disorder")
    located = _locate(text, [claim])
    cues = EntityCues({"disorder": "MentalDisorder"})
    doc = analyse(text, Gazetteer.from_entities(entities), new_entities=False, heads=cues)
    # nothing only this document uses: one reading, the threshold scored on it
    assert [(v is doc, a, s) for v, a, s in _training_views(text, doc, entities, set(), Counter(), cues)] == \
        [(True, {}, True)]
    views = _training_views(text, doc, entities, {"zorblax-disorder"}, Counter(), cues)
    assert [(v is doc, s) for v, _, s in views] == [(True, False), (False, True)]
    sim, alias, _ = views[1]
    (new,) = [m for m in sim.mentions() if not m.known]
    assert new.entity != "zorblax-disorder" and alias == {new.entity: "zorblax-disorder"}
    # the new candidate's pair is labelled with the curated claim's predicate through the alias
    (cand,) = [c for c in ex._candidates(sim) if c.kind == "entity" and c.obj is new and not c.implicit]
    assert _gold_label(cand, located, alias) == "treats"
    assert _gold_label(cand, located) == NONE


def test_the_tagger_learns_where_names_stand_not_which_words_they_are():
    from kgraph.extract.newents import _STOP
    from kgraph.extract.tagger import NameTagger

    words = ["nausea", "fatigue", "dizziness", "headache", "insomnia", "tremor"]
    texts = [f"Side effects include {w} for some. Patients said the room was quiet and calm.\n" for w in words]
    toks = [tokens(t) for t in texts]
    mentions = [[(t.index(w), t.index(w) + len(w), "SideEffect")] for t, w in zip(texts, words)]
    tagger = NameTagger.train(texts, toks, mentions, _STOP)
    text = "Side effects include vertigo for some. Patients said the room was quiet and calm.\n"
    assert tagger.names(text, tokens(text), []) == [(21, 28, "SideEffect")]
    # a known name's span is never tagged again
    assert tagger.names(text, tokens(text), [(21, 28)]) == []


def test_tagged_names_are_entity_candidates_but_no_claim_ends(mini_data):
    from kgraph.extract.analysis import analyse
    from kgraph.extract.newents import TAGGER

    data, vocab, texts = mini_data
    ex = Extractor.train(data, vocab, texts)
    assert ex.heads.tagger is not None

    class Everything:  # a tagger that takes every free word for a side effect
        def names(self, text, toks, taken):
            return [(t.start, t.end, "SideEffect") for t in toks
                    if len(t.norm) > 5 and not any(a < t.end and t.start < b for a, b in taken)]

    ex.heads.tagger = Everything()
    text = "Ketamine usually triggers vertigo.\n"
    doc = analyse(text, ex.gazetteer, heads=ex.heads)
    tagged = [m for m in doc.mentions() if m.by == TAGGER]
    assert [text[m.start:m.end] for m in tagged] == ["usually", "triggers", "vertigo"]
    assert not any(c.obj.by == TAGGER or c.subject.by == TAGGER for c in ex._candidates(doc)
                   if c.kind == "entity")
    result = ex.extract(text, source_id="src-x")
    assert "vertigo" in {e["label"] for e in result.entities}
    assert not any(c.get("object") in {m.entity for m in tagged} for c in result.claims)
