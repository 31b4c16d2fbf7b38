"""`kgraph report` (issue 12): the report per condition or drug, in JSON, Markdown and HTML.

The corpus report for PTSD must name ketamine with every source; the HTML page is opened
in headless Chromium with every request blocked and counted: none may be made, no script
error or CSP violation may happen, and the XSS fixture's payloads must stay inert text.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgraph.cli import app
from kgraph.evidence_report import (
    entity_report,
    load_evidence,
    render,
    render_html,
    render_markdown,
    report_conditions,
    write_all_reports,
)
from kgraph.project import Project

REPO = Path(__file__).resolve().parent.parent
XSS_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "xss"
SCHEMA = REPO / "docs" / "report-schema.json"
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture(scope="module")
def corpus():
    return load_evidence(Project.at(REPO))


@pytest.fixture(scope="module")
def ptsd(corpus):
    return entity_report(corpus, "ptsd")


@pytest.fixture(scope="module")
def xss(tmp_path_factory):
    root = tmp_path_factory.mktemp("xss-report") / "xss"
    shutil.copytree(XSS_FIXTURE, root)
    shutil.copytree(REPO / "ontology", root / "ontology")
    return load_evidence(Project.at(root))


def _relation(report, subject, predicate="treats"):
    return next(r for r in report["relations"] if r["subject"] == subject and r["predicate"] == predicate)


def test_ptsd_names_ketamine_with_all_five_sources(corpus, ptsd):
    ketamine = _relation(ptsd, "ketamine")
    every_source = sorted(s.id for s in corpus.data.sources)
    assert len(every_source) == 5
    assert [s["id"] for s in ketamine["sources"]] == every_source
    titles = {s.id: s.titles[0] for s in corpus.data.sources}
    for s in ketamine["sources"]:
        assert s["title"] == titles[s["id"]] and s["publisher_label"] and s["says"]
    # every quote is the claim's own, and every claim behind the relation is listed
    claims = {c.id: c for c in corpus.data.claims}
    expected = {c.id for c in corpus.data.claims if (c.subject, c.predicate, c.object) == ("ketamine", "treats", "ptsd")}
    assert {c["id"] for c in ketamine["claims"]} == expected
    for c in ketamine["claims"]:
        assert c["quote"] == claims[c["id"]].quote and c["evidence"] == claims[c["id"]].evidence


def test_relations_come_best_supported_first_with_levels(ptsd, corpus):
    beliefs = [r["belief"] for r in ptsd["relations"]]
    assert beliefs == sorted(beliefs, reverse=True)
    assert ptsd["relations"][0]["subject"] == "ketamine"
    # every intervention the data says treats PTSD is in the report
    treats = {c.subject for c in corpus.data.claims if c.predicate == "treats" and c.object == "ptsd"}
    assert treats <= {r["subject"] for r in ptsd["relations"]}
    assert {r["level"] for r in ptsd["relations"]} <= {"high", "moderate", "low", "very low"}


def test_cited_studies_have_their_doi_and_pmid_links(ptsd, corpus):
    cited = {s for c in corpus.data.claims for s in c.cites
             if any(c.id == x["id"] for r in ptsd["relations"] for x in r["claims"])}
    assert cited <= {s["id"] for s in ptsd["studies"]}
    xrefs = {(x.entity, x.curie) for x in corpus.data.xrefs}
    linked = [(s["id"], link["curie"]) for s in ptsd["studies"] for link in s["links"]]
    assert linked and set(linked) <= xrefs
    assert any(curie.startswith("DOI:") for _, curie in linked) and any(curie.startswith("PMID:") for _, curie in linked)


def test_onset_duration_contradictions_and_red_flags_are_in_the_report(ptsd, corpus):
    kinds = {t["predicate"] for t in ptsd["timing"]}
    assert kinds == {"onsetOfEffect", "durationOfEffect"}
    assert all(t["condition"] in (None, "ptsd") for t in ptsd["timing"])
    claims = {c.id: c for c in corpus.data.claims}
    assert any(x["rule"] == "duration" for x in ptsd["contradictions"])
    for x in ptsd["contradictions"]:
        assert [claims[c].quote for c in x["claims"]] == x["quotes"] and x["reason"]
    assert ptsd["red_flags"] and all(f["quote"] == claims[f["claim"]].quote for f in ptsd["red_flags"])
    assert any(f["rule"] == "gold-standard" for f in ptsd["red_flags"])


def test_json_follows_the_documented_schema(corpus, ptsd):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    for report in (ptsd, entity_report(corpus, "ketamine"), entity_report(corpus, "chronic-pain")):
        jsonschema.validate(json.loads(render(report, "json")), schema)


def test_a_drug_report_groups_by_condition(corpus):
    report = entity_report(corpus, "ketamine")
    assert report["entity"]["kind"] == "intervention"
    conditions = {r["object"] for r in report["relations"]}
    assert "ptsd" in conditions and {c["id"] for c in report["conditions"]} == conditions
    # therapies that involve the drug count for it
    assert "ketamine-infusion-therapy" in {r["subject"] for r in report["relations"]}
    md = render_markdown(report)
    assert md.index("### For post-traumatic stress disorder") < md.index("## The relations one by one")


def test_reports_are_deterministic(corpus):
    assert render(entity_report(corpus, "ptsd"), "html") == render(entity_report(corpus, "ptsd"), "html")


def test_markdown_escapes_data(xss):
    md = render_markdown(entity_report(xss, "ptsd"))
    assert "<script" not in md and "<img" not in md and "<svg" not in md
    assert "&lt;script&gt;window.\\_\\_xss = 6&lt;/script&gt;" in md


def test_html_escapes_data_and_has_no_script(xss):
    page = render_html(entity_report(xss, "ptsd"))
    assert "<script" not in page
    assert "&lt;script&gt;window.__xss = 6&lt;/script&gt;" in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1]
    assert csp.startswith("default-src 'none'") and "'unsafe-inline'" not in csp


# --------------------------------------------------------------------------- the CLI

def test_cli_prints_markdown_and_writes_files(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["report", "PTSD", "--data", str(REPO / "data")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Evidence report: post-traumatic stress disorder")
    out = tmp_path / "ptsd.json"
    result = runner.invoke(app, ["report", "ptsd", "--out", str(out), "--data", str(REPO / "data")])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["entity"]["id"] == "ptsd"


@pytest.mark.parametrize(("args", "words"), [
    (["report"], "give one condition or drug, or --all"),
    (["report", "ptsd", "--all"], "give one condition or drug, or --all"),
    (["report", "ptsdd"], "no entity called 'ptsdd'"),
    (["report", "NMDA receptor"], "reports are about conditions and interventions"),
    (["report", "ptsd", "--format", "pdf"], "unknown report format 'pdf'"),
])
def test_cli_bad_input(args, words):
    result = CliRunner().invoke(app, [*args, "--data", str(REPO / "data")])
    assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output


def test_all_writes_an_index_and_one_page_per_condition(corpus, tmp_path):
    folder = tmp_path / "reports"
    written = write_all_reports(corpus, folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in written)
    assert names == sorted(["index.html", *(f"{c}.html" for c in report_conditions(corpus))])
    index = (folder / "index.html").read_text()
    assert 'href="ptsd.html"' in index


def test_all_is_all_or_nothing(corpus, tmp_path, monkeypatch):
    folder = tmp_path / "reports"
    write_all_reports(corpus, folder, "md")
    before = {p.name: p.read_text() for p in folder.iterdir()}
    import kgraph.evidence_report as er

    calls = []
    real = er.render

    def failing(report, fmt):
        calls.append(report["entity"]["id"])
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(report, fmt)

    monkeypatch.setattr(er, "render", failing)
    with pytest.raises(RuntimeError):
        write_all_reports(corpus, folder, "html")
    assert {p.name: p.read_text() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # no staging folder left behind


# --------------------------------------------------------------------------- in a browser

class Page:
    def __init__(self, browser, path: Path):
        self.url = path.as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context()
        self.context.route("**/*", self._route)
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(self.url)

    def _route(self, route):
        if route.request.url == self.url:
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def assert_clean(self):
        assert self.requests == []
        assert self.errors == []
        assert self.page.evaluate("() => window.__violations") == []


@pytest.fixture
def open_page(browser):
    pages: list[Page] = []

    def open_(path: Path) -> Page:
        pages.append(Page(browser, path))
        return pages[-1]

    yield open_
    for p in pages:
        p.context.close()


def test_ptsd_page_offline_in_chromium(open_page, ptsd, tmp_path):
    path = tmp_path / "ptsd.html"
    path.write_text(render_html(ptsd), encoding="utf-8")
    page = open_page(path)
    text = page.page.inner_text("body")
    assert "ketamine treats post-traumatic stress disorder" in text
    for s in _relation(ptsd, "ketamine")["sources"]:
        assert s["publisher_label"] in text and s["title"] in text
    # the hashed style applied (a blocked style would leave the default margins)
    assert page.page.evaluate("() => getComputedStyle(document.body).maxWidth") != "none"
    bars = page.page.locator("#evidence-chart svg rect").count()
    assert bars >= len(ptsd["evidence_by_source"]["sources"])
    page.assert_clean()


def test_xss_fixture_is_inert_in_chromium(open_page, xss, tmp_path):
    path = tmp_path / "xss.html"
    path.write_text(render_html(entity_report(xss, "ptsd")), encoding="utf-8")
    page = open_page(path)
    text = page.page.inner_text("body")
    for payload in ("ketamine <script>window.__xss = 1</script>", 'PTSD "><svg onload="window.__xss = 4">',
                    "ketamine treats PTSD <script>window.__xss = 6</script>",
                    '<iframe src="https://example.com/"></iframe> Clinic'):
        assert payload in text
    assert page.page.evaluate("() => window.__xss") is None
    assert page.page.locator("script, iframe, img").count() == 0
    page.assert_clean()


def test_a_priors_override_in_data_is_read_not_refused(mini_root):
    """data/evidence-priors.yaml is a known file (the loader refuses unknown ones) and changes beliefs."""
    project = Project.at(mini_root, corpus_dir=mini_root / "corpus")
    before = entity_report(load_evidence(project), "ptsd")["relations"][0]["belief"]
    (mini_root / "data" / "evidence-priors.yaml").write_text(
        "evidence:\n  cites-rct:\n    error: 0.5\n  clinic-statement:\n    error: 0.95\n", encoding="utf-8")
    after = entity_report(load_evidence(project), "ptsd")["relations"][0]["belief"]
    assert after < before
    result = CliRunner().invoke(app, ["validate", "--data", str(mini_root / "data"),
                                      "--ontology", str(mini_root / "ontology"), "--corpus", str(mini_root / "corpus")])
    assert "evidence-priors.yaml" not in result.output, result.output
