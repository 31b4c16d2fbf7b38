"""The terminal side of ``kgraph review``: one candidate at a time, in its context.

Each candidate claim is shown with the sentences around it (the quote highlighted), its
statement, evidence kind, modality, confidence and the rule or model that proposed it,
and the entities it uses (existing or new). The curator answers accept, edit, reject,
skip or quit. Everything is read through ``read`` and written to ``console``, so tests
drive it with typed input; nothing here touches a file (:mod:`kgraph.review` does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from rich.console import Console
from rich.text import Text

from kgraph.candidates import CandidateSet, sentence_span, validate_candidates
from kgraph.model import Dataset, Vocabulary
from kgraph.review import EDITABLE_CLAIM, Choice, Decisions, statement

PROMPT = "[a]ccept  [e]dit  [r]eject  [s]kip  [q]uit > "
ANSWERS = {"a": "accept", "accept": "accept", "e": "edit", "edit": "edit", "r": "reject", "reject": "reject",
           "s": "skip", "skip": "skip", "": "skip", "q": "quit", "quit": "quit"}


def context(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The sentence of ``[start, end)`` with one sentence either side, and where the
    quote is in it."""
    left, right = sentence_span(text, start, end)
    if left > 1:
        left = sentence_span(text, left - 2, left - 1)[0]
    if right < len(text) - 1:
        nxt = right + 1
        while nxt < len(text) and text[nxt].isspace():
            nxt += 1
        if nxt < len(text):
            right = sentence_span(text, nxt, nxt + 1)[1]
    return text[left:right], start - left, end - left


def show_claim(console: Console, cset: CandidateSet, claim: dict[str, Any], index: int, total: int,
               dataset: Dataset) -> None:
    known = dataset.entity_index()
    new = {e["id"]: e for e in cset.entities}
    console.print(Text(f"\n[{index}/{total}] {claim['id']}  {statement(claim)}", style="bold"))
    passage, q0, q1 = context(cset.text, claim["start"], claim["end"])
    if console.is_terminal:
        shown = Text(passage)
        shown.stylize("bold black on yellow", q0, q1)
    else:  # no colours to highlight with: mark the quote
        shown = Text(f"{passage[:q0]}»{passage[q0:q1]}«{passage[q1:]}")
    console.print(shown)
    facts = [f"evidence: {claim.get('evidence')}", f"modality: {claim.get('modality') or 'asserted'}"]
    if claim.get("confidence") is not None:
        facts.append(f"confidence: {claim['confidence']:.2f}")
    if claim.get("by"):
        facts.append(f"by: {claim['by']}")
    if claim.get("qualifiers"):
        facts.append("qualifiers: " + ", ".join(f"{k}={v}" for k, v in claim["qualifiers"].items()))
    console.print(Text("  " + " · ".join(facts), style="dim"))
    refs = [claim.get("subject"), claim.get("object"), *(claim.get("cites") or []), *(claim.get("attributed_to") or [])]
    for ref in dict.fromkeys(r for r in refs if r):
        if ref in new:
            ent = new[ref]
            console.print(Text(f"  new entity  {ref}: {ent.get('label')} ({ent.get('type')}), "
                               f"{len(ent.get('mentions') or [])} mention(s)", style="magenta"))
        elif ref in known:
            console.print(Text(f"  entity      {ref}: {known[ref].label} ({known[ref].type})", style="cyan"))


def ask_decisions(cset: CandidateSet, dataset: Dataset, vocab: Vocabulary, console: Console,
                  read: Callable[[str], str]) -> Decisions:
    """Ask about every candidate claim of ``cset``; quit leaves the rest undecided."""
    decisions = Decisions()
    if not cset.source.get("publisher"):
        console.print(Text(f"{cset.source_id} has no publisher yet: name the entity that publishes it "
                           "(an existing id or one of the new entities).", style="yellow"))
        answer = read("publisher > ").strip()
        if answer:
            decisions.source["publisher"] = answer
    for index, claim in enumerate(cset.claims, 1):
        show_claim(console, cset, claim, index, len(cset.claims), dataset)
        answer = None
        while True:
            answer = ANSWERS.get(read(PROMPT).strip().lower())
            if answer is None:
                console.print("Answer a, e, r, s or q.")
                continue
            if answer == "quit":
                break
            if answer == "edit":
                changes = ask_edit(cset, claim, dataset, vocab, console, read)
                if changes is None:
                    continue
                decisions.claims[claim["id"]] = Choice("edit", changes)
            else:
                decisions.claims[claim["id"]] = Choice(answer)
            break
        if answer == "quit":
            break
    ask_descriptions(cset, decisions, vocab, console, read)
    return decisions


def ask_descriptions(cset: CandidateSet, decisions: Decisions, vocab: Vocabulary, console: Console,
                     read: Callable[[str], str]) -> None:
    """A description, in the curator's words, for each new entity the accepted claims need
    (an empty answer keeps the one saying where the entity came from)."""
    from kgraph.review import default_description

    new = {e["id"]: e for e in cset.entities}
    needed: list[str] = []
    taken = [c for c in cset.claims if decisions.claims.get(c["id"], Choice("skip")).action in ("accept", "edit")]
    for claim in taken:
        claim = {**claim, **decisions.claims[claim["id"]].changes}
        refs = [claim.get("subject"), claim.get("object"), *(claim.get("cites") or []),
                *(claim.get("attributed_to") or []), *(claim.get("qualifiers") or {}).values()]
        needed += [r for r in refs if isinstance(r, str) and r in new]
    publisher = decisions.source.get("publisher") or cset.source.get("publisher")
    if taken and publisher in new:
        needed.append(publisher)
    for eid in dict.fromkeys(needed):
        ent = new[eid]
        console.print(Text(f"New entity {eid}: {ent.get('label')} ({ent.get('type')}). A one-line description "
                           f"in your words (empty: \"{default_description(ent, cset.source_id, vocab)}\")",
                           style="magenta"))
        text = read("description > ").strip()
        if text:
            decisions.entities[eid] = Choice("edit", {"description": text})


def ask_edit(cset: CandidateSet, claim: dict[str, Any], dataset: Dataset, vocab: Vocabulary, console: Console,
             read: Callable[[str], str]) -> dict[str, Any] | None:
    """Read ``field: value`` lines (YAML) until an empty line; check the edited claim
    like curated data. None when nothing was changed."""
    console.print(f"Edit as 'field: value' lines; an empty line ends, 'cancel' goes back. "
                  f"Fields: {', '.join(EDITABLE_CLAIM)}.")
    changes: dict[str, Any] = {}
    while True:
        line = read("edit > ")
        if not line.strip():
            if not changes:
                return None
            problems = _check_edit(cset, claim, changes, dataset, vocab)
            if not problems:
                return changes
            for p in problems:
                console.print(Text(f"  {p.message}" + (f" -- {p.hint}" if p.hint else ""), style="red"))
            console.print("Change those fields, then an empty line (or 'cancel').")
            continue
        if line.strip() == "cancel":
            return None
        try:
            parsed = yaml.safe_load(line)
        except yaml.YAMLError:
            parsed = None
        if not isinstance(parsed, dict) or len(parsed) != 1 or next(iter(parsed)) not in EDITABLE_CLAIM:
            console.print(Text(f"  not 'field: value' with a field of {', '.join(EDITABLE_CLAIM)}", style="red"))
            continue
        changes.update(parsed)


def _check_edit(cset: CandidateSet, claim: dict[str, Any], changes: dict[str, Any], dataset: Dataset,
                vocab: Vocabulary):
    edited = {**claim, **changes}
    if "quote" in changes:
        at = cset.text.find(str(changes["quote"]))
        if at >= 0:
            edited["start"], edited["end"] = at, at + len(str(changes["quote"]))
    if "value" in changes:
        edited.pop("object", None)
    if "object" in changes:
        edited.pop("value", None)
        edited.pop("unit", None)
    trial = CandidateSet(source=cset.source, entities=cset.entities, claims=[edited], text=cset.text,
                         display=cset.display, lines={})
    return validate_candidates(trial, dataset, vocab)
