"""The apps in headless Chromium (issue 13): the query page on a phone-sized screen, labels
next to ids, the editor's highlighting and prefix completion, shareable URLs; no request
leaves the server and no page error."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from test_serve_live import _serving

from kgraph.serve import ServeOptions

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
PATIENT = 60_000  # ms: a loaded 2-core machine
DRUGS = "SELECT ?d ?label WHERE { ?d a kg:Drug ; rdfs:label ?label } ORDER BY ?label"


@pytest.fixture(scope="module")
def server(mini_built):
    _, result = mini_built
    with _serving(result.built.graph, result.network, ServeOptions(timeout=30, max_concurrent=1)) as (base, _):
        yield base


@pytest.fixture
def page_of(browser, server):
    """A page factory: every request is routed and counted; page errors are collected."""
    outside: list[str] = []
    errors: list[str] = []
    contexts = []

    def open_page(width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(PATIENT)
        contexts.append(context)
        page = context.new_page()

        def guard(route):
            if route.request.url.startswith(server):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert outside == [], outside
    assert errors == [], errors


def _run(page, query: str) -> None:
    page.fill("#sparql", query)
    page.click("#run")
    page.wait_for_selector("#results table, #results p")


def test_narrow_screen_shows_the_results_usably(page_of, server):
    page = page_of(400, 800)
    page.goto(f"{server}/query")
    _run(page, DRUGS)
    box = page.locator("#results").bounding_box()
    assert box["width"] >= 300, box  # was 0 px beside a 22rem editor (issue 13)
    assert box["x"] >= 0 and box["x"] + box["width"] <= 400 + 1, box
    editor = page.locator("#sparql").bounding_box()
    assert editor["width"] <= 400 and box["y"] > editor["y"], (editor, box)


def test_results_show_labels_next_to_ids(page_of, server):
    page = page_of()
    page.goto(f"{server}/query")
    _run(page, "SELECT ?d WHERE { ?d a kg:Drug } ORDER BY ?d")
    first = page.locator("#results td").first
    assert first.locator("a").text_content() == "kgr:ketamine"
    assert first.locator(".label").text_content() == "ketamine"


def test_editor_highlights_and_completes_prefixes(page_of, server):
    page = page_of()
    page.goto(f"{server}/query")
    page.fill("#sparql", "")
    page.type("#sparql", "SELECT ?x WHERE { ?x a kgg:Drug . ?x rdfs:label \"a <b>\" } # note\n?x ")
    kinds = {cls: page.locator(f"#highlight .{cls}").all_text_contents()
             for cls in ("tok-kw", "tok-var", "tok-pname", "tok-str", "tok-comment", "tok-bad")}
    assert {"SELECT", "WHERE", "a"} <= set(kinds["tok-kw"]) and "?x" in kinds["tok-var"]
    assert "rdfs:label" in kinds["tok-pname"] and kinds["tok-bad"] == ["kgg:Drug"]
    assert kinds["tok-str"] == ['"a <b>"'] and kinds["tok-comment"] == ["# note"]
    assert page.locator("#highlight b").count() == 0  # text, never markup
    page.type("#sparql", "rd")
    options = page.locator("#completions li").all_text_contents()
    assert options and all(o.startswith(("rdf", "RDF")) for o in options), options
    page.keyboard.press("Tab")
    assert page.input_value("#sparql").endswith("?x rdf:")
    assert page.locator("#completions").is_hidden()


def test_a_shared_url_restores_and_runs_the_query(page_of, server):
    page = page_of()
    page.goto(f"{server}/query")
    _run(page, DRUGS)
    url = page.url
    assert "#query=" in url
    other = page_of()
    other.goto(url)
    other.wait_for_selector("#results table")
    assert other.input_value("#sparql") == DRUGS
    assert "ketamine" in other.locator("#results td").all_text_contents()
    third = page_of()
    third.goto(f"{server}/query?query={quote(DRUGS)}")
    third.wait_for_selector("#results table")
    assert third.input_value("#sparql") == DRUGS
