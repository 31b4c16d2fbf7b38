"""Evidence reports served by `kgraph serve` (issue 12): /report/<id>, and the links to it."""

from __future__ import annotations

import json
import re

import pytest
from starlette import testclient as starlette_testclient

from kgraph.assess import belief_text
from kgraph.evidence_report import load_evidence, page_csp
from kgraph.serve import ServeOptions, create_app

BASE = "http://127.0.0.1"
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def served(mini_built):
    project, result = mini_built
    evidence = load_evidence(project)
    app = create_app(result.built.graph, result.network, ServeOptions(timeout=5), evidence=evidence)
    with starlette_testclient.TestClient(app, base_url=BASE) as client:
        yield client, result.network


def test_report_page(served):
    client, network = served
    r = client.get("/report/ptsd", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == page_csp() + "; frame-ancestors 'self'"
    assert "<h1>Evidence report: post-traumatic stress disorder</h1>" in r.text
    belief = network.edges["ketamine", "ptsd", "treats"]["belief"]
    assert f"belief {belief_text(belief)}" in r.text
    assert 'href="/id/ketamine"' in r.text  # entities link to their pages
    assert "<script" not in r.text


def test_report_json(served):
    client, _ = served
    r = client.get("/report/ptsd", params={"format": "json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    report = r.json()
    assert report["entity"]["id"] == "ptsd"
    assert {s["id"] for rel in report["relations"] if rel["subject"] == "ketamine" for s in rel["sources"]} == {
        "src-001", "src-002"}


@pytest.mark.parametrize(("path", "words"), [
    ("/report/nmda-receptor", "no evidence report for 'nmda-receptor'"),
    ("/report/no-such-thing", "no evidence report for 'no-such-thing'"),
])
def test_no_report_is_a_404(served, path, words):
    client, _ = served
    r = client.get(path)
    assert r.status_code == 404 and words in r.text


def test_a_server_without_evidence_has_no_reports(mini_built):
    _, result = mini_built
    app = create_app(result.built.graph, result.network, ServeOptions(timeout=5))
    with starlette_testclient.TestClient(app, base_url=BASE) as client:
        r = client.get("/report/ptsd")
        assert r.status_code == 404 and "no evidence reports" in r.text
        assert "/report/" not in client.get("/id/ptsd", headers=HTML).text


def test_entity_page_links_the_report_and_names_sources(served):
    client, network = served
    page = client.get("/id/ptsd", headers=HTML).text
    assert 'href="/report/ptsd"' in page
    assert "Alpha Clinic, “Alpha Clinic page” (src-001)" in page and "alpha.txt" not in page
    shown = [float(b) for b in re.findall(r"<b>Belief (\d\.\d\d)</b>", page)]
    assert len(shown) >= 2 and shown == sorted(shown, reverse=True)
    # a study is neither a condition nor an intervention: no report to link
    assert "/report/" not in client.get("/id/beta-rct", headers=HTML).text


def test_graph_page_knows_where_the_reports_are(served):
    client, _ = served
    page = client.get("/graph").text
    data = json.loads(re.search(r'<script type="application/json" id="kgraph-data">(.*?)</script>', page, re.S)[1])
    assert data["report_base"] == "/report/"
    assert "ptsd" in data["reportable"] and "ketamine" in data["reportable"]
    assert "beta-rct" not in data["reportable"]
