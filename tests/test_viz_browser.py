"""The HTML view in a real browser (issue 4): headless Debian Chromium driven by Playwright.

Every request but the page itself is blocked and recorded, and every test ends by
checking that none was made, no script error or Content-Security-Policy violation was
logged and no dialog opened. Without Chromium or Playwright these tests are skipped,
unless the CI environment variable is set: then they fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import networkx as nx
import pytest

from kgraph.pipeline import build
from kgraph.project import Project
from kgraph.view import ViewOptions, entity_types
from kgraph.viz import VIEW_FILE, render_html

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
XSS_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "xss"
#: Records what the page's own code cannot hide: policy violations, and whether a payload ran.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


class Viewer:
    """One page of the view, with everything it tried to do recorded."""

    def __init__(self, browser, path: Path):
        self.url = path.as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.route("**/*", self._route)
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.goto(self.url)
        self.page.wait_for_selector("html[data-stabilised=true]", state="attached", timeout=60_000)

    def _route(self, route):
        if route.request.url == self.url:
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def drawn(self) -> tuple[int, int]:
        """Nodes and edges vis-network draws (hidden ones and those of hidden nodes excluded)."""
        return tuple(self.js("() => [kgraph.network.body.nodeIndices.length, kgraph.network.body.edgeIndices.length]"))

    def click_node(self, node: str) -> None:
        x, y = self.js("""(id) => {
            const net = kgraph.network, at = net.canvasToDOM(net.getPosition(id));
            const box = document.getElementById("graph").getBoundingClientRect();
            return [box.left + at.x, box.top + at.y]; }""", node)
        self.page.mouse.click(x, y)

    def click_edge(self, edge: str) -> None:
        x, y = self.js("""(id) => {
            const net = kgraph.network, [a, b] = net.getConnectedNodes(id);
            const pa = net.getPosition(a), pb = net.getPosition(b);
            const at = net.canvasToDOM({x: (pa.x + pb.x) / 2, y: (pa.y + pb.y) / 2});
            const box = document.getElementById("graph").getBoundingClientRect();
            return [box.left + at.x, box.top + at.y]; }""", edge)
        self.page.mouse.click(x, y)

    def details(self) -> str:
        return self.page.inner_text("#details")

    def assert_shows(self, kind: str, name: str, claim_ids: list[str], network) -> None:
        """The details panel is about this entity or relation and quotes exactly these claims."""
        assert self.page.get_attribute("#details", f"data-{kind}") == name
        quotes = self.page.locator("#details blockquote").all_inner_texts()
        assert sorted(quotes) == sorted(network.graph["claims"][c]["quote"] for c in claim_ids)

    def assert_clean(self) -> None:
        assert self.requests == [], "requests left the page"
        assert self.js("() => window.__violations") == []
        assert self.errors == []
        assert self.dialogs == []


@pytest.fixture
def open_view(browser):
    opened: list[Viewer] = []

    def open_(path: Path) -> Viewer:
        opened.append(Viewer(browser, path))
        return opened[-1]

    yield open_
    for viewer in opened:
        viewer.context.close()


@pytest.fixture(scope="module")
def mini_view(mini_built):
    project, result = mini_built
    return project.out_dir / VIEW_FILE, result.network


def _render(network, path: Path, options: ViewOptions | None = None, types=None) -> Path:
    path.write_text(render_html(network, options, types=types), encoding="utf-8")
    return path


def test_draws_every_node_and_edge_of_the_graph(open_view, mini_view):
    path, network = mini_view
    viewer = open_view(path)
    assert viewer.drawn() == (network.number_of_nodes(), network.number_of_edges())
    assert viewer.js("() => kgraph.network.physics.physicsEnabled") is False  # settled, then stopped
    assert "11 entities, 5 relations, 11 claims from 2 documents" in viewer.page.inner_text("#summary")
    viewer.assert_clean()


def test_draws_the_whole_corpus_graph(open_view, corpus_built):
    project, result = corpus_built
    viewer = open_view(project.out_dir / VIEW_FILE)
    assert viewer.drawn() == (result.network.number_of_nodes(), result.network.number_of_edges())
    viewer.js("() => kgraph.selectEntity('ketamine')")
    viewer.assert_shows("entity", "ketamine", result.network.nodes["ketamine"]["claims"], result.network)
    viewer.assert_clean()


def test_search_by_synonym_focuses_the_node(open_view, mini_view):
    path, _ = mini_view
    viewer = open_view(path)
    viewer.page.fill("#search-input", "special-k")
    first = viewer.page.locator("#search-results li").first
    assert first.get_attribute("data-entity") == "ketamine"
    assert "special-K" in first.inner_text()
    viewer.page.press("#search-input", "Enter")
    assert viewer.js("() => kgraph.network.getSelectedNodes()") == ["ketamine"]
    assert viewer.page.get_attribute("#details", "data-entity") == "ketamine"
    viewer.page.wait_for_timeout(600)  # the view glides to the node
    centre, node = viewer.js("""() => [kgraph.network.getViewPosition(),
                                       kgraph.network.getPosition('ketamine')]""")
    assert abs(centre["x"] - node["x"]) < 2 and abs(centre["y"] - node["y"]) < 2
    viewer.page.fill("#search-input", "post-traumatic")
    assert viewer.page.locator("#search-results li").first.get_attribute("data-entity") == "ptsd"
    viewer.assert_clean()


def test_clicking_a_node_shows_its_claims_and_quotes(open_view, mini_view):
    path, network = mini_view
    viewer = open_view(path)
    viewer.click_node("ketamine")
    viewer.assert_shows("entity", "ketamine", network.nodes["ketamine"]["claims"], network)
    text = viewer.details()
    for expected in ("ketamine", "drug", "A dissociative anaesthetic.", "Ketamine, special-K", "CHEBI:6121",
                     "Alpha Clinic, “Alpha Clinic page” (src-001)", "cites a randomized controlled trial",
                     "clinic statement without citation",
                     "The source denies the effect for some patients.", "negated", "hedged"):
        assert expected in text
    link = viewer.page.locator("#details a[href^='http']")
    assert link.all_inner_texts() == ["CHEBI:6121"]
    assert link.get_attribute("href") == "http://purl.obolibrary.org/obo/CHEBI_6121"
    # the neighbourhood stands out, the rest fades
    colour = "(id) => kgraph.nodes.get(id).color.background"
    assert viewer.js(colour, "synaptogenesis") == "#e8eaed"
    assert viewer.js(colour, "ptsd") != "#e8eaed"
    viewer.page.mouse.click(*viewer.js("""() => { const b = document.getElementById('graph').getBoundingClientRect();
                                           return [b.left + 5, b.top + 5]; }"""))
    assert viewer.js(colour, "synaptogenesis") != "#e8eaed"
    viewer.assert_clean()


def test_clicking_an_edge_lists_the_claims_behind_it(open_view, mini_view):
    path, network = mini_view
    viewer = open_view(path)
    viewer.click_edge("ketamine|treats|ptsd")
    viewer.assert_shows("relation", "ketamine|treats|ptsd", ["c001-003", "c002-001"], network)
    assert "ketamine treats post-traumatic stress disorder" in viewer.details()
    viewer.assert_clean()


def test_type_filters_hide_and_show_nodes(open_view, mini_view):
    path, network = mini_view
    viewer = open_view(path)
    everything = (network.number_of_nodes(), network.number_of_edges())
    viewer.page.uncheck("input[data-type=Drug]")
    assert viewer.drawn() == (everything[0] - 1, 1)  # ketamine and its four edges
    assert viewer.js("() => kgraph.nodes.get('ketamine').hidden") is True
    viewer.page.check("input[data-type=Drug]")
    assert viewer.drawn() == everything
    viewer.page.uncheck("input[data-group=Condition]")  # a group box switches its subtypes
    assert viewer.page.is_checked("input[data-type=MentalDisorder]") is False
    assert viewer.drawn() == (everything[0] - 1, everything[1] - 1)
    viewer.page.click("text=Hide all")
    assert viewer.drawn() == (0, 0)
    viewer.page.click("text=Show all")
    assert viewer.drawn() == everything
    viewer.assert_clean()


def test_search_shows_a_hidden_type_again(open_view, mini_view):
    path, _ = mini_view
    viewer = open_view(path)
    viewer.page.uncheck("input[data-type=Drug]")
    viewer.page.fill("#search-input", "ketamine")
    viewer.page.press("#search-input", "Enter")
    assert viewer.page.is_checked("input[data-type=Drug]")
    assert viewer.js("() => kgraph.network.getSelectedNodes()") == ["ketamine"]
    viewer.assert_clean()


def test_focused_view_opens_on_its_entity(open_view, mini, tmp_path):
    network, types = mini
    viewer = open_view(_render(network, tmp_path / "ptsd.html", ViewOptions(focus="PTSD"), types))
    assert viewer.js("() => kgraph.network.getSelectedNodes()") == ["ptsd"]
    assert viewer.page.get_attribute("#details", "data-entity") == "ptsd"
    assert "focus: post-traumatic stress disorder (depth 1)" in viewer.page.inner_text("#summary")
    viewer.assert_clean()


def test_large_view_is_precomputed_says_so_and_marks_neighbours(open_view, mini, tmp_path):
    network, types = mini
    options = ViewOptions(physics_limit=3, crowded=3)
    viewer = open_view(_render(network, tmp_path / "large.html", options, types))
    expected = viewer.js("() => Object.fromEntries(kgraph.data.vis.nodes.map((n) => [n.id, [n.x, n.y]]))")
    drawn = viewer.js("() => kgraph.network.getPositions()")
    assert {k: [p["x"], p["y"]] for k, p in drawn.items()} == expected
    assert viewer.page.is_visible("#notice")
    assert "kgraph viz --focus ENTITY --depth 2" in viewer.page.inner_text("#notice")
    # too many nodes to fade the rest: the neighbourhood is marked instead
    viewer.click_node("ketamine")
    look = "(id) => [kgraph.nodes.get(id).borderWidth, kgraph.nodes.get(id).color.background]"
    assert viewer.js(look, "ptsd")[0] == 2.5
    assert viewer.js(look, "synaptogenesis") == [None, "#2ca02c"]  # as drawn: a mechanism, not faded
    viewer.assert_clean()


@pytest.fixture(scope="module")
def mini(mini_built):
    _, result = mini_built
    return result.network, entity_types(result.built.graph)


def test_xss_fixture_shows_literally_and_runs_nothing(open_view, tmp_path):
    root = tmp_path / "xss"
    shutil.copytree(XSS_FIXTURE, root)
    result = build(Project.at(root, ontology_dir=REPO / "ontology", corpus_dir=root / "corpus"), write=False)
    network = result.network
    # IRIs from data cannot hold markup, but a link must never run script either.
    network.nodes["ketamine"]["xrefs"] = ["javascript:window.__xss = 8", "https://example.org/ok"]
    viewer = open_view(_render(network, tmp_path / "xss.html", types=entity_types(result.built.graph)))
    assert viewer.drawn() == (3, 1)
    viewer.page.fill("#search-input", "<script>")
    assert viewer.page.locator("#search-results li").first.get_attribute("data-entity") == "ketamine"
    viewer.page.fill("#search-input", '"><img')
    viewer.page.press("#search-input", "Enter")
    text = viewer.details()
    for payload in ("ketamine <script>window.__xss = 1</script>", '"><img src=x onerror="window.__xss = 2">',
                    "</script><script>window.__xss = 3</script> & <!-- a comment? -->",
                    "ketamine treats PTSD <script>window.__xss = 6</script>",
                    '<img src=x onerror="window.__xss = 7"> is in the source',
                    'PTSD "><svg onload="window.__xss = 4">', "javascript:window.__xss = 8"):
        assert payload in text
    links = """() => [[...document.querySelectorAll('#details a[href^="http"]')].map((a) => a.href),
                      document.querySelectorAll('a[href^="javascript"]').length]"""
    assert viewer.js(links) == [["https://example.org/ok"], 0]
    viewer.js("() => kgraph.selectEntity('ptsd')")
    assert "<b>not bold</b> {{data}} ${x}" in viewer.details()
    viewer.js("() => kgraph.selectEntity('evil-clinic')")
    assert '<iframe src="https://example.com/"></iframe> Clinic' in viewer.details()
    viewer.js("() => kgraph.selectRelation('ketamine|treats|ptsd')")
    assert viewer.js("() => window.__xss") is None
    counts = viewer.js("""() => [document.scripts.length,
        document.querySelectorAll('img, iframe, b, body style, svg[onload]').length]""")
    assert counts == [3, 0]
    viewer.assert_clean()


def test_the_policy_blocks_what_escaping_might_miss(open_view, mini_view):
    """Defence in depth: markup injected at run time still cannot load or run anything."""
    path, _ = mini_view
    viewer = open_view(path)
    viewer.js("""() => {
        const img = document.createElement("img");
        img.src = "https://example.com/pixel.png";
        const script = document.createElement("script");
        script.textContent = "window.__xss = 9";
        document.body.append(img, script); }""")
    viewer.page.wait_for_timeout(200)
    assert viewer.js("() => window.__xss") is None
    violations = viewer.js("() => window.__violations")
    assert any(v.startswith("img-src") for v in violations) and any(v.startswith("script-src") for v in violations)
    assert viewer.requests == []


def test_an_empty_graph_opens_too(open_view, tmp_path):
    empty = nx.MultiDiGraph()
    empty.graph["claims"] = {}
    viewer = open_view(_render(empty, tmp_path / "empty.html"))
    assert viewer.drawn() == (0, 0)
    assert viewer.page.inner_text("#summary").startswith("0 entities, 0 relations")
    viewer.assert_clean()


# --------------------------------------------------------------------------- issue 13: readability

LABEL_BOXES = """() => {
    const net = kgraph.network, scale = net.getScale(), out = [];
    for (const id of kgraph.nodes.getIds({filter: (n) => !n.hidden && n.label})) {
        const label = net.body.nodes[id].labelModule, size = label.size;
        if (!size || !size.width) continue;
        const a = net.canvasToDOM({x: size.left, y: size.top});
        const b = net.canvasToDOM({x: size.left + size.width, y: size.top + size.height});
        out.push({id, px: label.fontOptions.size * scale, x1: a.x, y1: a.y, x2: b.x, y2: b.y});
    }
    return out; }"""


def _overlaps(boxes: list[dict], slack: float = 1.0) -> list[tuple[str, str]]:
    return [(a["id"], b["id"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a["x1"] + slack < b["x2"] and b["x1"] + slack < a["x2"] and a["y1"] + slack < b["y2"]
            and b["y1"] + slack < a["y2"]]


def _settle(viewer) -> list[dict]:
    viewer.js("() => { kgraph.placeLabels(); kgraph.network.redraw(); }")
    viewer.page.wait_for_timeout(250)  # the next frame measures the labels
    return viewer.js(LABEL_BOXES)


def test_labels_are_readable_at_the_default_zoom_and_apart_at_zoom_one(open_view, corpus_built):
    project, result = corpus_built
    viewer = open_view(project.out_dir / VIEW_FILE)
    boxes = _settle(viewer)
    # before issue 13 the fitted view drew every label under vis-network's 5 px threshold
    assert len(boxes) >= 8, boxes
    assert all(b["px"] >= 11 for b in boxes), boxes
    assert _overlaps(boxes) == []
    best = max(result.network.nodes, key=result.network.degree)
    assert best in {b["id"] for b in boxes}  # the best connected entity is always named
    viewer.js("() => kgraph.network.moveTo({scale: 1.0, position: kgraph.network.getPosition('ketamine')})")
    boxes = _settle(viewer)
    assert boxes and _overlaps(boxes) == [] and all(b["px"] >= 11 for b in boxes)
    viewer.assert_clean()


def _shown_inside(viewer) -> bool:
    return viewer.js("""() => {
        const net = kgraph.network, el = document.getElementById("graph");
        return kgraph.nodes.getIds({filter: (n) => !n.hidden}).every((id) => {
            const p = net.canvasToDOM(net.getPosition(id));
            return p.x >= 0 && p.y >= 0 && p.x <= el.clientWidth && p.y <= el.clientHeight; }); }""")


def test_fit_button_and_refit_after_filtering(open_view, corpus_built):
    project, _ = corpus_built
    viewer = open_view(project.out_dir / VIEW_FILE)
    viewer.js("() => kgraph.network.moveTo({scale: 4, position: {x: 5000, y: 5000}})")
    assert not _shown_inside(viewer)
    viewer.page.click("#fit")
    assert _shown_inside(viewer)
    viewer.js("() => kgraph.network.moveTo({scale: 4, position: {x: 5000, y: 5000}})")
    viewer.page.click("text=Hide all")
    viewer.page.check("input[data-type=Drug]")  # a filter fits what it leaves shown
    assert _shown_inside(viewer)
    viewer.assert_clean()


def test_a_hidden_edge_takes_its_tooltip_along(open_view, mini_view):
    path, _ = mini_view
    viewer = open_view(path)
    edge = viewer.js("() => kgraph.edges.getIds().find((id) => id.startsWith('ketamine|treats|'))")
    x, y = viewer.js("""(id) => {
        const net = kgraph.network, [a, b] = net.getConnectedNodes(id);
        const pa = net.getPosition(a), pb = net.getPosition(b);
        const at = net.canvasToDOM({x: pa.x + (pb.x - pa.x) * 0.4, y: pa.y + (pb.y - pa.y) * 0.4});
        const box = document.getElementById("graph").getBoundingClientRect();
        return [box.left + at.x, box.top + at.y]; }""", edge)
    viewer.page.mouse.move(x - 3, y - 3)
    viewer.page.mouse.move(x, y)
    tooltip = viewer.page.locator("div.vis-tooltip")
    tooltip.wait_for(state="visible", timeout=10_000)
    assert "treats" in tooltip.inner_text()
    viewer.js("() => kgraph.setTypeVisible('Drug', false)")
    assert tooltip.is_hidden()
    viewer.assert_clean()


def test_the_legend_does_not_repeat_a_name(open_view, corpus_built):
    project, _ = corpus_built
    viewer = open_view(project.out_dir / VIEW_FILE)
    rows = viewer.js("""() => [...document.querySelectorAll("#legend .group")].map((g) => [
        g.querySelector(":scope > label").textContent.replace(/\\d+$/, "").trim(),
        [...g.querySelectorAll(".subtypes label")].map((l) => l.textContent.replace(/\\d+$/, "").trim())])""")
    assert any(subs for _, subs in rows), rows
    for group, subs in rows:
        assert group not in subs, (group, subs)
    viewer.assert_clean()


@pytest.mark.parametrize("typed,found", [
    ("relive PTSD", ("claim", "c001-003")),      # a quote, with a typo
    ("Ketamine can relieve", ("claim", "c001-003")),
    ("c001-001", ("claim", "c001-001")),         # a claim id
    ("ketamne", ("entity", "ketamine")),         # a label, with a typo
    ("speical-K", ("entity", "ketamine")),       # a synonym, letters swapped
])
def test_search_finds_quotes_claim_ids_and_typos(open_view, mini_view, typed, found):
    path, network = mini_view
    assert network.graph["claims"]["c001-003"]["quote"] == "Ketamine can relieve PTSD within hours"
    viewer = open_view(path)
    viewer.page.fill("#search-input", typed)
    first = viewer.page.locator("#search-results li").first
    kind, name = found
    assert first.get_attribute(f"data-{kind}") == name, viewer.page.inner_text("#search-results")
    viewer.page.press("#search-input", "Enter")
    if kind == "claim":
        card = viewer.page.locator(f'#details .claim[data-claim="{name}"]')
        assert card.count() == 1 and "found" in card.get_attribute("class")
    else:
        assert viewer.js("() => kgraph.network.getSelectedNodes()") == [name]
    viewer.assert_clean()


def test_the_selected_node_is_in_the_url(open_view, mini_view):
    path, _ = mini_view
    viewer = open_view(path)
    viewer.js("() => kgraph.selectEntity('ptsd')")
    assert viewer.js("() => location.hash") == "#node=ptsd"
    again = open_view(Path(path))
    again.page.goto(path.as_uri() + "#node=nmda-receptor")
    again.page.reload()
    again.page.wait_for_selector("html[data-stabilised=true]", state="attached", timeout=60_000)
    assert again.js("() => kgraph.network.getSelectedNodes()") == ["nmda-receptor"]
    assert again.page.get_attribute("#details", "data-entity") == "nmda-receptor"
    viewer.assert_clean()
    again.assert_clean()


def test_details_say_belief_evidence_kinds_and_sources_in_words(open_view, mini_view):
    """Issue 12: belief and level, evidence kinds by name, sources by title and publisher,
    claims grouped by relation with the best-backed relation first."""
    path, network = mini_view
    viewer = open_view(path)
    viewer.click_edge("ketamine|treats|ptsd")
    text = viewer.details()
    edge = network.edges["ketamine", "ptsd", "treats"]
    from kgraph.assess import belief_text

    assert f"Belief {belief_text(edge['belief'])} ({edge['level']})" in text
    assert "strongest evidence: cites a randomized controlled trial" in text and " of 5" not in text
    assert "Beta Lab" in text or "Beta Research Notes" in text
    viewer.click_node("ketamine")
    groups = viewer.page.locator("#details .relation-group")
    shown = [float(t.split()[1]) for t in groups.locator(".belief").all_inner_texts()]
    assert len(shown) >= 3 and shown == sorted(shown, reverse=True)
    viewer.assert_clean()


def test_edge_width_grows_with_belief(open_view, mini_view):
    path, network = mini_view
    viewer = open_view(path)
    widths = {e["id"]: e["width"] for e in viewer.js("() => kgraph.edges.get()")}
    beliefs = {f"{s}|{k}|{o}": a["belief"] for s, o, k, a in network.edges(keys=True, data=True)}
    by_belief = sorted(beliefs, key=beliefs.get)
    assert beliefs[by_belief[0]] < beliefs[by_belief[-1]]
    assert widths[by_belief[0]] < widths[by_belief[-1]]
    assert [widths[e] for e in by_belief] == sorted(widths[e] for e in by_belief)
    from kgraph.viz import BELIEF_WIDTH

    low, high = BELIEF_WIDTH
    for e, b in beliefs.items():  # the width is the belief's, not the strongest evidence's
        assert widths[e] == pytest.approx(low + (high - low) * b, abs=0.01)
    viewer.assert_clean()
