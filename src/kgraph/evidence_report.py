"""A report per condition or drug: how well backed is each claim, by whom, and what is wrong (issue 12).

:func:`load_evidence` reads and checks the data and computes, once, the belief in every
relation (:mod:`kgraph.assess`), the contradictions (:mod:`kgraph.contradict`) and the red
flags (:mod:`kgraph.redflags`). :func:`entity_report` cuts the part about one entity
into a plain dictionary -- the JSON report, whose schema is ``docs/report-schema.json`` --
and :func:`render_markdown` / :func:`render_html` turn that dictionary into a page.
:func:`write_all_reports` writes an index and one page per condition into a folder,
all or nothing.

For a condition the report holds every intervention claimed to treat it (``treats``,
``investigatedFor``, ``decreases``, ``notCureFor``) with belief, level, sources and their
quotes; the studies cited, with DOI and PMID links; the onset and duration claims side by
side; side effects and risks of those interventions (and of the drugs they involve); the
contradictions and red flags among all those claims; and the evidence kinds by source.
For a drug (or any intervention) the same, for each condition it is claimed to treat,
counting the therapies that involve the drug.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from kgraph.assess import Assessment, Priors, assess, belief_text, load_priors, ranked
from kgraph.contradict import Contradiction, find_contradictions
from kgraph.errors import EntityNotFound, KgraphError, OutputError, ValidationFailed
from kgraph.model import Claim, Dataset, Vocabulary
from kgraph.prefixes import KG
from kgraph.project import Project
from kgraph.redflags import RULE_LABELS, RedFlag, find_red_flags

#: Relations that say an intervention helps with a condition (or denies that it cures it).
TREATMENT_PREDICATES = ("treats", "investigatedFor", "decreases", "notCureFor")
TIMING_PREDICATES = ("onsetOfEffect", "durationOfEffect")
RISK_PREDICATES = ("hasSideEffect", "hasRisk", "contraindicatedFor", "safetyProfile")
FORMATS = {"html": ".html", "md": ".md", "json": ".json"}
SCHEMA_VERSION = 1
#: Identifier schemes shown as links for cited studies, in this order.
STUDY_LINKS = ("DOI", "PMID")
#: A colour per evidence kind, strongest first (the chart and its legend).
EVIDENCE_COLOURS = ("#1b5e20", "#2e7d32", "#558b2f", "#9e9d24", "#f9a825", "#ef6c00", "#d84315", "#b71c1c")


class ReportError(KgraphError):
    """A report cannot be made: the entity is neither a condition nor an intervention."""


@dataclass
class Evidence:
    """Everything a report needs, computed once for any number of reports."""

    data: Dataset
    vocab: Vocabulary
    priors: Priors
    assessments: dict[tuple[str, str, str], Assessment]
    contradictions: list[Contradiction]
    red_flags: list[RedFlag]

    @classmethod
    def compute(cls, data: Dataset, vocab: Vocabulary, priors: Priors) -> Evidence:
        return cls(data=data, vocab=vocab, priors=priors, assessments=assess(data, priors, vocab),
                   contradictions=find_contradictions(data), red_flags=find_red_flags(data))


def load_evidence(project: Project) -> Evidence:
    """Load and check the data (not the quotes) and compute beliefs, contradictions and red flags."""
    from kgraph.pipeline import check

    checked = check(project, quotes=False, shacl=False)
    if not checked.report.ok:
        raise ValidationFailed(checked.report)
    return Evidence.compute(checked.data, checked.vocab, load_priors(project.data_dir))


# --------------------------------------------------------------------------- entities

def find_report_entity(ev: Evidence, name: str) -> str:
    """The id of the entity called ``name`` (id, label, synonym or abbreviation, any case)."""
    import networkx as nx

    from kgraph.lookup import find_entity

    G = nx.MultiDiGraph()
    for e in ev.data.entities:
        G.add_node(e.id, label=e.label, synonyms=[*e.synonyms, *e.abbreviations])
    return find_entity(G, name)


def entity_kind(ev: Evidence, entity_id: str) -> str:
    """ "condition", "intervention", or raise :class:`ReportError`."""
    entity = ev.data.entity_index().get(entity_id)
    if entity is None:
        raise EntityNotFound(f"no entity '{entity_id}'", "`kgraph report --all` lists the conditions.")
    if ev.vocab.is_a(entity.type, KG.Condition):
        return "condition"
    if ev.vocab.is_a(entity.type, KG.Intervention):
        return "intervention"
    raise ReportError(f"'{entity.label}' ({entity_id}) is a {ev.vocab.class_labels.get(entity.type, entity.type)}: "
                      "reports are about conditions and interventions",
                      "Name a condition (kgraph report ptsd), a drug (kgraph report ketamine), or use --all.")


def report_conditions(ev: Evidence) -> list[str]:
    """Conditions that some intervention is claimed to treat, by id."""
    kinds = {e.id: e.type for e in ev.data.entities}
    return sorted({a.object for a in ev.assessments.values()
                   if a.predicate in TREATMENT_PREDICATES and a.object is not None
                   and a.object in kinds and ev.vocab.is_a(kinds[a.object], KG.Condition)})


# --------------------------------------------------------------------------- the report as data

class _Names:
    def __init__(self, ev: Evidence):
        self.entities = ev.data.entity_index()
        self.sources = ev.data.source_index()
        self.properties = ev.vocab.properties
        self.kinds = ev.vocab.evidence_kinds
        self.xrefs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        from kgraph.prefixes import xref_iri

        for x in ev.data.xrefs:
            self.xrefs[x.entity].append((x.curie, xref_iri(x.curie)))

    def entity(self, eid: str | None) -> str:
        if eid is None:
            return ""
        e = self.entities.get(eid)
        return e.label if e else eid

    def predicate(self, name: str) -> str:
        p = self.properties.get(name)
        return p.label if p else name

    def evidence(self, kind: str) -> str:
        k = self.kinds.get(kind)
        return k.label if k else kind

    def source(self, sid: str) -> dict:
        s = self.sources.get(sid)
        if s is None:
            return {"id": sid, "file": "", "titles": [], "title": sid, "publisher": sid, "publisher_label": sid}
        return {"id": s.id, "file": s.file, "titles": list(s.titles), "title": s.titles[0] if s.titles else s.file,
                "publisher": s.publisher, "publisher_label": self.entity(s.publisher)}


def _claim_record(c: Claim, names: _Names, role: str | None = None, effective: float | None = None) -> dict:
    record = {
        "id": c.id, "quote": c.quote, "source": c.source, "evidence": c.evidence,
        "evidence_label": names.evidence(c.evidence), "modality": c.modality,
        "subject": c.subject, "predicate": c.predicate, "object": c.object,
        "value": None if c.value is None else str(c.value), "unit": c.unit,
        "qualifiers": {k: str(v) for k, v in sorted(c.qualifiers.items())},
        "cites": list(c.cites), "flag": c.flag, "note": c.note,
    }
    if role is not None:
        record["role"] = role
        record["effective"] = effective
    return record


def _relation_record(a: Assessment, claims: dict[str, Claim], names: _Names) -> dict:
    roles = {k.claim: k for k in a.contributions}
    claim_records = [_claim_record(claims[cid], names, roles[cid].role, roles[cid].effective)
                     for cid in sorted(roles, key=lambda i: (-roles[i].effective, i))]
    by_source: dict[str, list[dict]] = defaultdict(list)
    for record in claim_records:
        by_source[record["source"]].append(record)
    sources = []
    for sid in sorted(by_source):
        entry = names.source(sid)
        entry["says"] = [{"claim": r["id"], "quote": r["quote"], "evidence": r["evidence"],
                          "evidence_label": r["evidence_label"], "modality": r["modality"], "role": r["role"]}
                         for r in by_source[sid]]
        sources.append(entry)
    strongest = a.strongest
    return {
        "subject": a.subject, "subject_label": names.entity(a.subject),
        "predicate": a.predicate, "predicate_label": names.predicate(a.predicate),
        "object": a.object, "object_label": names.entity(a.object) if a.object else None, "value": a.value,
        "belief": round(a.belief, 3), "level": a.level, "support": round(a.support, 3),
        "opposition": round(a.opposition, 3),
        "strongest_evidence": strongest, "strongest_evidence_label": names.evidence(strongest) if strongest else None,
        "publishers": list(a.publishers), "explanation": a.explanation,
        "sources": sources, "claims": claim_records,
    }


def entity_report(ev: Evidence, entity_id: str) -> dict:
    """The report about one condition or intervention, as JSON-ready data (``docs/report-schema.json``)."""
    kind = entity_kind(ev, entity_id)
    names = _Names(ev)
    claims = {c.id: c for c in ev.data.claims}
    involves: dict[str, set[str]] = defaultdict(set)
    for c in ev.data.claims:
        if c.predicate == "involvesDrug" and c.object and c.modality != "negated":
            involves[c.subject].add(c.object)

    if kind == "condition":
        treatment = [a for a in ev.assessments.values()
                     if a.predicate in TREATMENT_PREDICATES and a.object == entity_id]
        conditions = {entity_id}
    else:
        therapies = {entity_id} | {t for t, drugs in involves.items() if entity_id in drugs}
        treatment = [a for a in ev.assessments.values()
                     if a.predicate in TREATMENT_PREDICATES and a.subject in therapies and a.object is not None]
        conditions = {a.object for a in treatment}
    treatment = ranked(treatment)
    interventions = sorted({a.subject for a in treatment} | ({entity_id} if kind == "intervention" else set()))
    with_drugs = set(interventions) | {d for i in interventions for d in involves.get(i, ())}

    def about(c: Claim) -> bool:
        # a condition's report: claims for it, and those that name no condition
        return kind == "intervention" or c.qualifiers.get("condition") in (None, entity_id)

    timing = sorted((c for c in ev.data.claims
                     if c.predicate in TIMING_PREDICATES and c.subject in with_drugs and about(c)),
                    key=lambda c: (c.subject, c.qualifiers.get("condition") or "", c.predicate, c.source, c.id))
    risks = ranked(a for a in ev.assessments.values() if a.predicate in RISK_PREDICATES and a.subject in with_drugs)

    relations = [_relation_record(a, claims, names) for a in treatment]
    risk_records = [_relation_record(a, claims, names) for a in risks]
    in_report = ({c["id"] for r in relations + risk_records for c in r["claims"]} | {c.id for c in timing})
    contradictions = [x for x in ev.contradictions if set(x.claims) & in_report]
    flags = [f for f in ev.red_flags if f.claim in in_report]

    cited = sorted({s for cid in in_report for s in claims[cid].cites})
    studies = []
    for sid in cited:
        entity = names.entities.get(sid)
        links = sorted(names.xrefs.get(sid, []), key=lambda x: (x[0].split(":")[0] not in STUDY_LINKS,
                                                                 STUDY_LINKS.index(x[0].split(":")[0])
                                                                 if x[0].split(":")[0] in STUDY_LINKS else 0, x[0]))
        studies.append({
            "id": sid, "label": names.entity(sid),
            "type": entity.type if entity else None,
            "type_label": ev.vocab.class_labels.get(entity.type, entity.type) if entity else None,
            "description": entity.description if entity else "",
            "links": [{"curie": curie, "url": url} for curie, url in links if url.startswith(("https://", "http://"))],
            "cited_by": sorted(cid for cid in in_report if sid in claims[cid].cites),
        })

    per_source: dict[str, Counter] = defaultdict(Counter)
    for cid in in_report:
        per_source[claims[cid].source][claims[cid].evidence] += 1
    kinds_order = sorted(ev.vocab.evidence_kinds, key=lambda k: (-ev.vocab.evidence_kinds[k].strength, k))
    chart = {
        "kinds": [{"id": k, "label": names.evidence(k)} for k in kinds_order],
        "sources": [{**names.source(sid), "counts": {k: per_source[sid][k] for k in kinds_order if per_source[sid][k]}}
                    for sid in sorted(per_source)],
    }
    all_sources = sorted(per_source)
    entity = names.entities[entity_id]
    return {
        "schema_version": SCHEMA_VERSION,
        "entity": {"id": entity_id, "label": entity.label, "type": entity.type,
                   "type_label": ev.vocab.class_labels.get(entity.type, entity.type),
                   "description": entity.description, "kind": kind},
        "conditions": [{"id": c, "label": names.entity(c)} for c in sorted(conditions)],
        "sources": [names.source(s) for s in all_sources],
        "relations": relations,
        "timing": [{**_claim_record(c, names), "condition": c.qualifiers.get("condition"),
                    "condition_label": names.entity(c.qualifiers.get("condition")) or None,
                    "subject_label": names.entity(c.subject)} for c in timing],
        "risks": risk_records,
        "studies": studies,
        "contradictions": [{**asdict(x), "claims": list(x.claims), "quotes": list(x.quotes),
                            "sources": list(x.sources)} for x in contradictions],
        "red_flags": [{"claim": f.claim, "quote": f.quote, "rule": f.rule, "rule_label": RULE_LABELS[f.rule],
                       "match": f.match, "source": f.source, "subject": f.subject, "predicate": f.predicate,
                       "object": f.object} for f in flags],
        "evidence_by_source": chart,
        "priors": {k: {"error": p.error, "level": p.level} for k, p in sorted(ev.priors.evidence.items())},
    }


def index_report(ev: Evidence) -> dict:
    """The index of ``--all``: each condition with its best-supported intervention."""
    rows = []
    names = _Names(ev)
    for cid in report_conditions(ev):
        relations = ranked(a for a in ev.assessments.values()
                           if a.predicate in TREATMENT_PREDICATES and a.object == cid)
        best = relations[0] if relations else None
        rows.append({"id": cid, "label": names.entity(cid), "relations": len(relations),
                     "best": None if best is None else {
                         "subject": best.subject, "subject_label": names.entity(best.subject),
                         "predicate_label": names.predicate(best.predicate),
                         "belief": round(best.belief, 3), "level": best.level}})
    return {"schema_version": SCHEMA_VERSION, "conditions": rows}


# --------------------------------------------------------------------------- rendering

def _md(text) -> str:
    """Text safe inside a Markdown table cell or line: no HTML, no table breaks."""
    s = "" if text is None else str(text)
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
            .replace("\n", " ").replace("*", "\\*").replace("_", "\\_").replace("[", "\\[").replace("`", "\\`"))


def relation_groups(report: dict) -> list[tuple[dict | None, list[dict]]]:
    """The relations of a report in groups: one for a condition, one per condition for a drug."""
    if report["entity"]["kind"] == "condition":
        return [(None, report["relations"])]
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in report["relations"]:
        groups[r["object"]].append(r)
    labels = {c["id"]: c for c in report["conditions"]}
    order = sorted(groups, key=lambda c: (-groups[c][0]["belief"], c))
    return [(labels.get(c, {"id": c, "label": c}), groups[c]) for c in order]


def _publishers_text(r: dict) -> str:
    pubs = list(dict.fromkeys(s["publisher_label"] for s in r["sources"]))
    pages = len(r["sources"])
    return (f"{pages} page{'s' * (pages != 1)}, {len(pubs)} publisher{'s' * (len(pubs) != 1)}: "
            + ", ".join(pubs))


def _relation_title(r: dict) -> str:
    obj = r["object_label"] if r["object"] else f"\"{r['value']}\""
    return f"{r['subject_label']} {r['predicate_label']} {obj}"


def render_markdown(report: dict) -> str:
    """The report as Markdown (every data string escaped)."""
    e = report["entity"]
    out = [f"# Evidence report: {_md(e['label'])}", "",
           f"{_md(e['type_label'])} ({_md(e['id'])}). {_md(e['description'])}", "",
           (f"{len(report['relations'])} relations from {len(report['sources'])} sources; "
            f"{len(report['contradictions'])} contradictions; {len(report['red_flags'])} red flags."), "",
           "## Relations, best supported first"]
    for group, relations in relation_groups(report):
        if group is not None:
            out += ["", f"### For {_md(group['label'])}"]
        out += ["", "| relation | belief | level | strongest evidence | sources |", "|---|---|---|---|---|"]
        for r in relations:
            out.append(f"| {_md(_relation_title(r))} | {belief_text(r['belief'])} | {r['level']} | "
                       f"{_md(r['strongest_evidence_label'] or 'none')} | {_md(_publishers_text(r))} |")
    out += ["", "## The relations one by one"]
    for r in report["relations"]:
        out += ["", f"### {_md(_relation_title(r))}: belief {belief_text(r['belief'])}, {r['level']}", "",
                _md(r["explanation"])]
        for s in r["sources"]:
            out += ["", f"- **{_md(s['publisher_label'])}**, \"{_md(s['title'])}\" ({_md(s['id'])})"]
            for say in s["says"]:
                mark = {"opposes": " (against)", "ignored": " (not counted)"}.get(say["role"], "")
                hedge = ", hedged" if say["modality"] == "hedged" else ""
                out.append(f"  - \"{_md(say['quote'])}\" ({_md(say['evidence_label'])}{hedge}{mark}; "
                           f"{_md(say['claim'])})")
    if report["studies"]:
        out += ["", "## Cited studies", ""]
        for st in report["studies"]:
            links = ", ".join(f"[{_md(x['curie'])}](<{x['url']}>)" for x in st["links"]) or "no identifier"
            out.append(f"- {_md(st['label'])} ({_md(st['type_label'])}): {links}; cited by "
                       f"{', '.join(_md(c) for c in st['cited_by'])}")
    if report["timing"]:
        out += ["", "## Onset and duration, side by side", "",
                "| intervention | for | onset | duration | source | evidence | quote |", "|---|---|---|---|---|---|---|"]
        for t in report["timing"]:
            onset = t["value"] if t["predicate"] == "onsetOfEffect" else ""
            duration = t["value"] if t["predicate"] == "durationOfEffect" else ""
            out.append(f"| {_md(t['subject_label'])} | {_md(t['condition_label'] or 'any')} | {_md(onset)} | "
                       f"{_md(duration)} | {_md(t['source'])} | {_md(t['evidence_label'])} | \"{_md(t['quote'])}\" |")
    if report["risks"]:
        out += ["", "## Side effects and risks", "", "| relation | belief | level | sources |", "|---|---|---|---|"]
        for r in report["risks"]:
            out.append(f"| {_md(_relation_title(r))} | {belief_text(r['belief'])} | {r['level']} | "
                       f"{', '.join(_md(s['id']) for s in r['sources'])} |")
    out += ["", "## Contradictions", ""]
    out += [f"- {_md(x['rule'])} ({_md(x['scope'])}): {_md(x['reason'])}. "
            f"{_md(x['claims'][0])} ({_md(x['sources'][0])}): \"{_md(x['quotes'][0])}\"; "
            f"{_md(x['claims'][1])} ({_md(x['sources'][1])}): \"{_md(x['quotes'][1])}\""
            for x in report["contradictions"]] or ["None found."]
    out += ["", "## Red flags", ""]
    out += [f"- {_md(f['rule_label'])} ({_md(f['rule'])}: {_md(f['match'])}): \"{_md(f['quote'])}\" "
            f"({_md(f['claim'])}, {_md(f['source'])})" for f in report["red_flags"]] or ["None found."]
    out += ["", "## Evidence kinds by source", "", "| source | " + " | ".join(
        _md(k["label"]) for k in report["evidence_by_source"]["kinds"]) + " |",
        "|---|" + "---|" * len(report["evidence_by_source"]["kinds"])]
    for s in report["evidence_by_source"]["sources"]:
        out.append(f"| {_md(s['publisher_label'])} ({_md(s['id'])}) | " + " | ".join(
            str(s["counts"].get(k["id"], 0)) for k in report["evidence_by_source"]["kinds"]) + " |")
    return "\n".join(out) + "\n"


def render_index_markdown(index: dict, suffix: str = ".md") -> str:
    out = ["# Evidence reports", "", "| condition | relations | best supported | belief | level |", "|---|---|---|---|---|"]
    for row in index["conditions"]:
        best = row["best"] or {}
        out.append(f"| [{_md(row['label'])}]({row['id']}{suffix}) | {row['relations']} | "
                   f"{_md(best.get('subject_label', ''))} | {belief_text(best.get('belief', 0))} | {best.get('level', '')} |")
    return "\n".join(out) + "\n"


def _environment():
    from jinja2 import Environment, StrictUndefined

    def load(name: str) -> str:
        return (resources.files("kgraph") / "templates" / name).read_text(encoding="utf-8")

    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["belief"] = belief_text
    env.globals["relation_groups"] = relation_groups
    env.globals["publishers_text"] = _publishers_text
    return env, load


def _csp(style: str) -> str:
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    # No script at all; the one inline style by its hash; nothing may load.
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


def render_html(report: dict | None = None, *, index: dict | None = None, link_suffix: str = ".html",
                entity_links: str | None = None) -> str:
    """One offline page (no script, CSP ``default-src 'none'``) for a report or for the index.

    ``entity_links`` is a URL prefix for links to entity pages (``/id/`` when served).
    """
    env, load = _environment()
    style = load("report.css")
    template = env.from_string(load("report.html"))
    return template.render(report=report, index=index, style=style, csp=_csp(style), suffix=link_suffix,
                           entity_links=entity_links, chart=_chart(report) if report else None)


def page_csp() -> str:
    """The Content-Security-Policy of every report page (what its meta tag says), for a server's header."""
    _, load = _environment()
    return _csp(load("report.css"))


def reportable(ev: Evidence) -> list[str]:
    """Entities a report can be made for: conditions something is claimed to treat, and interventions."""
    found = set(report_conditions(ev))
    for e in ev.data.entities:
        if ev.vocab.is_a(e.type, KG.Intervention):
            found.add(e.id)
    return sorted(found)


def _chart(report: dict) -> dict:
    """Geometry of the stacked bars: one bar per source, one segment per evidence kind."""
    kinds = report["evidence_by_source"]["kinds"]
    colour = {k["id"]: EVIDENCE_COLOURS[i % len(EVIDENCE_COLOURS)] for i, k in enumerate(kinds)}
    rows = report["evidence_by_source"]["sources"]
    most = max((sum(s["counts"].values()) for s in rows), default=1) or 1
    width, label_w, bar_h, gap = 640, 230, 18, 8
    bars = []
    for i, s in enumerate(rows):
        x, segments = label_w, []
        for k in kinds:
            n = s["counts"].get(k["id"], 0)
            if n:
                w = (width - label_w - 40) * n / most
                segments.append({"x": round(x, 2), "w": round(w, 2), "colour": colour[k["id"]], "n": n,
                                 "label": k["label"]})
                x += w
        bars.append({"y": i * (bar_h + gap), "label": f"{s['publisher_label']} ({s['id']})", "segments": segments,
                     "total": sum(s["counts"].values()), "end": round(x, 2)})
    used = [k for k in kinds if any(s["counts"].get(k["id"]) for s in rows)]
    legend_y = len(rows) * (bar_h + gap) + 10
    legend = [{"x": 10 + (i % 2) * 320, "y": legend_y + (i // 2) * 20, "colour": colour[k["id"]], "label": k["label"]}
              for i, k in enumerate(used)]
    return {"width": width, "height": legend_y + ((len(used) + 1) // 2) * 20 + 10, "bar_h": bar_h,
            "label_w": label_w, "bars": bars, "legend": legend}


def render(report: dict, fmt: str) -> str:
    import json

    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if fmt == "md":
        return render_markdown(report)
    if fmt == "html":
        return render_html(report)
    raise ReportError(f"unknown report format '{fmt}'", f"Choose one of {', '.join(FORMATS)}.")


def choose_format(fmt: str | None, out: Path | None) -> str:
    """--format, else the suffix of --out, else Markdown."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ReportError(f"unknown report format '{fmt}'", f"Choose one of {', '.join(FORMATS)}.")
        return fmt
    if out is not None:
        for name, suffix in FORMATS.items():
            if out.suffix.lower() == suffix:
                return name
    return "md"


def write_all_reports(ev: Evidence, folder: Path, fmt: str = "html") -> list[Path]:
    """An index and one report per condition in ``folder``, replacing it all or not at all."""
    import json

    suffix = FORMATS[fmt]
    files: dict[str, str] = {}
    index = index_report(ev)
    for row in index["conditions"]:
        files[row["id"] + suffix] = render(entity_report(ev, row["id"]), fmt)
    if fmt == "html":
        files["index.html"] = render_html(index=index)
    elif fmt == "md":
        files["index.md"] = render_index_markdown(index)
    else:
        files["index.json"] = json.dumps(index, indent=2, ensure_ascii=False) + "\n"
    folder = Path(folder)
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder} exists and is not a folder", "Give --out a folder for --all.")
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=parent))
        try:
            for name, text in sorted(files.items()):
                (staging / name).write_text(text, encoding="utf-8")
            old = None
            if folder.exists():
                old = parent / f".{folder.name}-old-{os.getpid()}"
                folder.rename(old)
            staging.rename(folder)
            if old is not None:
                shutil.rmtree(old)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write the reports into {folder}: {exc.strerror or exc}",
                          "Check that the folder's parent exists and is writable.") from None
    return [folder / name for name in sorted(files)]
