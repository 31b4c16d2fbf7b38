"""The HTML view (issue 4), without a browser: views, escaping, offline, determinism, CLI.

What only a browser can show (drawing, search, clicks, filters) is in test_viz_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from kgraph.cli import app
from kgraph.errors import EntityNotFound, KgraphError
from kgraph.layout import force_layout
from kgraph.pipeline import build
from kgraph.project import Project
from kgraph.view import ViewError, ViewOptions, entity_types, select_view
from kgraph.viz import VIEW_FILE, _json_for_script, render_html, render_view

REPO = Path(__file__).resolve().parent.parent
XSS_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "xss"
runner = CliRunner()


class _Page(HTMLParser):
    """The elements of a page, with their attributes and the text of scripts and styles."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.bodies: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.bodies:
            self._open = tag
            self.bodies[tag].append("")

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open:
            self.bodies[self._open][-1] += data


def payload(html: str) -> dict:
    """The JSON data block of a page."""
    match = re.search(r'<script type="application/json" id="kgraph-data">(.*?)</script>', html, re.S)
    assert match, "no data block"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def mini(mini_built):
    project, result = mini_built
    return result.network, entity_types(result.built.graph)


@pytest.fixture(scope="module")
def mini_page(mini_built) -> str:
    project, _ = mini_built
    return (project.out_dir / VIEW_FILE).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def xss_built(tmp_path_factory):
    """The fixture whose labels, descriptions, quotes and notes try to run script."""
    root = tmp_path_factory.mktemp("xss") / "xss"
    shutil.copytree(XSS_FIXTURE, root)
    project = Project.at(root, ontology_dir=REPO / "ontology", corpus_dir=root / "corpus")
    return project, build(project)


# -- what kgraph build writes ---------------------------------------------------------

def test_build_writes_the_view(mini_built, mini_page):
    project, result = mini_built
    assert project.out_dir / VIEW_FILE in result.written
    data = payload(mini_page)
    assert data["summary"]["entities"] == result.network.number_of_nodes()
    assert data["summary"]["relations"] == result.network.number_of_edges()
    assert len(data["vis"]["nodes"]) == result.network.number_of_nodes()
    assert len(data["vis"]["edges"]) == result.network.number_of_edges()


def test_same_input_gives_the_same_bytes(mini_built, tmp_path):
    project, _ = mini_built
    again = build(Project.at(project.root, corpus_dir=project.corpus_dir, out_dir=tmp_path))
    assert (tmp_path / VIEW_FILE).read_bytes() == (project.out_dir / VIEW_FILE).read_bytes()
    # also when the layout is precomputed (physics off)
    options = ViewOptions(physics_limit=0)
    assert render_html(again.network, options) == render_html(again.network, options)


def test_failed_build_writes_no_view(mini_root, tmp_path):
    claims = mini_root / "data" / "claims" / "001.yaml"
    claims.write_text(claims.read_text(encoding="utf-8").replace("object: ptsd", "object: nowhere"), encoding="utf-8")
    with pytest.raises(KgraphError):
        build(Project.at(mini_root, corpus_dir=mini_root / "corpus", out_dir=tmp_path / "out"))
    assert not (tmp_path / "out" / VIEW_FILE).exists()


# -- offline and locked down ------------------------------------------------------------

def test_page_loads_nothing_from_anywhere(mini_page):
    page = _Page(mini_page)
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "action", "data", "poster"):
            assert name not in attrs, f"<{tag} {name}=...> in the page"
    assert [t for t, _ in page.tags if t in ("link", "iframe", "img", "object", "embed", "base")] == []
    for css in page.bodies["style"]:
        assert "@import" not in css
        assert set(re.findall(r"url\(\s*['\"]?([a-z]+):", css)) <= {"data"}
    assert "sourceMappingURL" not in mini_page


def test_content_security_policy_allows_only_the_inline_code(mini_page):
    page = _Page(mini_page)
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(metas) == 1
    policy = dict(d.strip().split(" ", 1) for d in metas[0]["content"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["img-src"] == "data:"

    def hashes(texts):
        return {"'sha256-" + base64.b64encode(hashlib.sha256(t.encode()).digest()).decode() + "'" for t in texts}

    scripts = [body for body, (tag, attrs) in zip(page.bodies["script"], [x for x in page.tags if x[0] == "script"])
               if attrs.get("type") != "application/json"]
    assert len(scripts) == 2  # vis-network and the page's own
    assert set(policy["script-src"].split()) == hashes(scripts)
    assert set(policy["style-src"].split()) == hashes(page.bodies["style"])
    assert "unsafe" not in metas[0]["content"]
    # the policy comes before anything it governs
    assert mini_page.index("Content-Security-Policy") < mini_page.index("<style>")


# -- escaping ---------------------------------------------------------------------------

def test_the_build_writes_the_page_a_piece_at_a_time_as_rendered(mini):
    """The build writes its page a piece at a time (kgraph.viz.write_html: at x1000 the page
    as one string took 1.8 GB): the same bytes as the rendered page, whose data is ASCII."""
    import io

    from kgraph.viz import write_html

    network, types = mini
    G = network.copy()
    node = next(iter(G.nodes))
    G.nodes[node]["label"] = "Ketamine’s “buddy drug” 😀  "
    out = io.BytesIO()
    write_html(out, G, types=types)
    page = render_html(G, types=types)
    assert out.getvalue() == page.encode("utf-8")
    data = page[page.index('type="application/json"'):]
    data = data[data.index(">") + 1:data.index("</script>")]
    assert data.isascii() and "\\u2019s" in data
    assert json.loads(data)["entities"][node]["label"] == G.nodes[node]["label"]


def test_the_build_page_s_data_is_made_as_it_is_written_never_whole(mini, traced_write):
    """write_html makes each entity's, relation's and claim's entry of the data as it writes
    it (x1000: the data as one dict and one string took 3 GB of an 0.9 GB page): with 1,500
    entities of 4 kB each, what it holds at once stays far below the page's size."""
    from kgraph.viz import write_html

    network, types = mini
    G = network.copy()
    model = next(iter(G.nodes))
    for i in range(1500):
        G.add_node(f"x-{i}", **{**G.nodes[model], "label": f"Entity {i}",
                                "description": f"entity {i} " + "&<" * 2000, "claims": [], "sources": []})
    positions = force_layout(G, seed=1)
    import pyvis.network  # noqa: F401  (its imports are not the page's data)

    size, digest, peak = traced_write(lambda out: write_html(out, G, types=types, positions=positions))
    page = render_html(G, types=types, positions=positions).encode("utf-8")
    assert size == len(page) > 20_000_000  # each "&<" is 12 bytes of JSON escapes
    assert digest == hashlib.sha256(page).digest()
    assert peak < len(page) / 3, (peak, len(page))


@pytest.mark.parametrize("text,expected", [
    ("<script>", "\\u003cscript\\u003e"),
    ("</script>", "\\u003c/script\\u003e"),
    ("a & b", "a \\u0026 b"),
    ("<!--", "\\u003c!--"),
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ('"quoted"', '\\"quoted\\"'),
])
def test_json_for_script_escapes(text, expected):
    out = _json_for_script({"k": text})
    assert out == '{"k":"' + expected + '"}'
    assert json.loads(out) == {"k": text}


def test_xss_fixture_reaches_the_page_only_as_json_text(xss_built):
    project, result = xss_built
    html = (project.out_dir / VIEW_FILE).read_text(encoding="utf-8")
    page = _Page(html)
    assert [t for t, _ in page.tags if t in ("img", "svg", "iframe", "b")] == []
    assert len([t for t, _ in page.tags if t == "script"]) == 3
    assert "window.__xss" not in "".join(page.bodies["script"][1:])  # only in the data block
    data = payload(html)
    assert data["entities"]["ketamine"]["label"] == "ketamine <script>window.__xss = 1</script>"
    assert data["claims"]["c001-001"]["quote"] == "ketamine treats PTSD <script>window.__xss = 6</script>"


# -- choosing a view --------------------------------------------------------------------

@pytest.mark.parametrize("options,nodes,edges", [
    (ViewOptions(), 11, 5),
    (ViewOptions(focus="ketamine"), {"ketamine", "nmda-receptor", "glutamate-release", "ptsd", "dissociation"}, 4),
    (ViewOptions(focus="Special-K", depth=0), {"ketamine"}, 0),
    (ViewOptions(focus="nmda", depth=2), {"nmda-receptor", "ketamine", "glutamate-release", "ptsd", "dissociation"}, 4),
    (ViewOptions(types=("Mechanism",)), {"glutamate-release", "synaptogenesis"}, 0),
    (ViewOptions(types=("condition", "drug")), {"ketamine", "ptsd"}, 1),  # Condition takes in MentalDisorder
    (ViewOptions(types=("mental disorder",), focus="ketamine"), {"ketamine", "ptsd"}, 1),
    (ViewOptions(source="src-002"), {"ketamine", "ptsd", "glutamate", "synaptogenesis"}, 2),
    (ViewOptions(source="beta.txt"), {"ketamine", "ptsd", "glutamate", "synaptogenesis"}, 2),
    (ViewOptions(evidence="cites-rct"), {"ketamine", "ptsd"}, 1),
    (ViewOptions(predicate="leads to"), {"glutamate", "synaptogenesis"}, 1),
    (ViewOptions(predicate="treats", evidence="ClinicStatement"), {"ketamine", "ptsd"}, 1),
])
def test_select_view(mini, options, nodes, edges):
    network, types = mini
    view = select_view(network, options, types=types)
    if isinstance(nodes, int):
        assert view.network.number_of_nodes() == nodes
    else:
        assert set(view.network.nodes) == nodes
    assert view.network.number_of_edges() == edges


def test_claim_filters_narrow_the_claims_shown(mini):
    network, types = mini
    view = select_view(network, ViewOptions(evidence="cites-rct"), types=types)
    (edge,) = view.network.edges(data=True)
    assert edge[2]["claims"] == ["c002-001"] and edge[2]["strength"] == 5
    assert view.network.nodes["ketamine"]["claims"] == ["c002-001", "c002-002"]
    clinic = select_view(network, ViewOptions(evidence="clinic-statement", predicate="treats"), types=types)
    (edge,) = clinic.network.edges(data=True)
    assert edge[2]["claims"] == ["c001-003"] and edge[2]["strength"] == 1
    assert network.edges["ketamine", "ptsd", "treats"]["claims"] == ["c001-003", "c002-001"]  # not changed


@pytest.mark.parametrize("options,error,words", [
    (ViewOptions(focus="ketamin"), EntityNotFound, ["no entity called 'ketamin'", "Did you mean", "ketamine"]),
    (ViewOptions(types=("Drg",)), ViewError, ["--types 'Drg'", "Did you mean Drug?"]),
    (ViewOptions(source="gamma"), ViewError, ["--source 'gamma'", "src-001 (alpha.txt)"]),
    (ViewOptions(evidence="rumour"), ViewError, ["--evidence 'rumour'", "CitesRCT"]),
    (ViewOptions(predicate="treat"), KgraphError, ["'treat'", "treats"]),
    (ViewOptions(types=("Person",)), ViewError, ["no entity is left to draw", "types: person", "Loosen"]),
    (ViewOptions(focus="ketamine", depth=-1), ViewError, ["--depth -1 is negative"]),
])
def test_bad_view_options_say_what_to_do(mini, options, error, words):
    network, types = mini
    with pytest.raises(error) as caught:
        render_view(network, options, types=types)
    for word in words:
        assert word in str(caught.value)


# -- layout and size ---------------------------------------------------------------------

def test_small_views_settle_in_physics_large_ones_are_precomputed(mini):
    network, types = mini
    small = payload(render_html(network, types=types))
    assert small["layout"] == "physics" and small["vis"]["options"]["physics"]["stabilization"]["enabled"]
    large = render_view(network, ViewOptions(physics_limit=5), types=types)
    data = payload(large.html)
    assert large.precomputed_layout and data["layout"] == "precomputed"
    assert data["vis"]["options"]["physics"] == {"enabled": False}
    assert all("x" in n and "y" in n for n in data["vis"]["nodes"])


def test_an_empty_graph_draws_an_empty_page():
    empty = nx.MultiDiGraph()
    empty.graph["claims"] = {}
    data = payload(render_html(empty))
    assert data["vis"]["nodes"] == [] and data["summary"]["entities"] == 0


def test_a_crowded_view_says_so(mini):
    network, types = mini
    assert not render_view(network, types=types).crowded
    crowded = render_view(network, ViewOptions(crowded=5), types=types)
    assert crowded.crowded and payload(crowded.html)["crowded"] is True


def test_visual_encoding(mini):
    network, types = mini
    data = payload(render_html(network, types=types))
    nodes = {n["id"]: n for n in data["vis"]["nodes"]}
    assert nodes["ketamine"]["label"] == "ketamine"  # a label, not an IRI
    assert nodes["ketamine"]["size"] > nodes["synaptogenesis"]["size"]  # size by degree
    assert nodes["ptsd"]["shape"] != nodes["ketamine"]["shape"]
    assert nodes["ptsd"]["color"]["background"] != nodes["ketamine"]["color"]["background"]
    edges = {e["id"]: e for e in data["vis"]["edges"]}
    treats, blocks = edges["ketamine|treats|ptsd"], edges["ketamine|antagonistOf|nmda-receptor"]
    assert treats["label"] == "treats" and blocks["label"] == "blocks (antagonist of)"
    assert treats["arrows"] == "to"
    assert treats["width"] > blocks["width"]  # an RCT behind it, against a clinic's word
    groups = {g["name"]: g for g in data["groups"]}
    assert [t["name"] for t in groups["Condition"]["types"]] == ["MentalDisorder"]
    assert {e["name"] for e in data["evidence"]} == {"CitesRCT", "ClinicStatement"}


def test_layout_is_deterministic_and_keeps_linked_nodes_close():
    G = nx.disjoint_union(nx.grid_2d_graph(6, 6), nx.path_graph(4))
    G.add_nodes_from(["lonely-1", "lonely-2"])
    H = nx.Graph()
    H.add_nodes_from(reversed(list(G.nodes)))
    H.add_edges_from(reversed(list(G.edges)))
    pos = force_layout(G, seed=3)
    assert pos == force_layout(H, seed=3)
    assert len(set(pos.values())) == len(G)
    dist = {(u, v): ((pos[u][0] - pos[v][0]) ** 2 + (pos[u][1] - pos[v][1]) ** 2) ** 0.5 for u in G for v in G if u != v}
    linked = [dist[e] for e in G.edges]
    assert max(linked) < sum(dist.values()) / len(dist)


@pytest.mark.slow
def test_corpus_view_draws_every_entity(corpus_built):
    project, result = corpus_built
    data = payload((project.out_dir / VIEW_FILE).read_text(encoding="utf-8"))
    assert len(data["vis"]["nodes"]) == result.network.number_of_nodes()
    assert len(data["vis"]["edges"]) == result.network.number_of_edges()
    assert set(data["claims"]) == set(result.network.graph["claims"])


# -- the command -------------------------------------------------------------------------

def test_cli_viz_writes_a_focused_view(mini_root, monkeypatch, tmp_path):
    monkeypatch.chdir(mini_root)
    out = tmp_path / "ketamine.html"
    result = runner.invoke(app, ["viz", "--focus", "special-K", "--types", "Drug,Condition", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}: 2 entities, 1 relation" in result.output
    data = payload(out.read_text(encoding="utf-8"))
    assert set(data["entities"]) == {"ketamine", "ptsd"} and data["focus"] == "ketamine"
    assert data["filters"] == ["focus: ketamine (depth 1)", "types: condition, drug"]


def test_cli_viz_default_paths(mini_root, monkeypatch):
    monkeypatch.chdir(mini_root)
    assert runner.invoke(app, ["viz"]).exit_code == 0
    assert (mini_root / "output" / "kgraph.html").is_file()
    assert runner.invoke(app, ["viz", "--predicate", "treats"]).exit_code == 0
    assert (mini_root / "output" / "kgraph-view.html").is_file()


@pytest.mark.parametrize("args,words", [
    (["--focus", "ketamin"], ["Error: no entity called 'ketamin'", "Did you mean: ketamine (ketamine)"]),
    (["--evidence", "hearsay"], ["Error: --evidence 'hearsay' matches no evidence kind", "Known:"]),
    (["--depth", "-1", "--focus", "ketamine"], ["Invalid value for '--depth'", "-1"]),
])
def test_cli_viz_bad_options(mini_root, monkeypatch, tmp_path, args, words):
    monkeypatch.chdir(mini_root)
    out = tmp_path / "view.html"
    result = runner.invoke(app, ["viz", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output
    assert not out.exists()


@pytest.mark.slow
def test_focused_view_is_the_same_under_any_hash_seed(mini_root, tmp_path):
    import os
    import subprocess
    import sys

    pages = []
    for seed in ("1", "7"):
        out = tmp_path / f"focus{seed}.html"
        subprocess.run([sys.executable, "-m", "kgraph", "viz", "--focus", "ketamine", "--depth", "2", "--out",
                        str(out)], cwd=mini_root, check=True,
                       capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed})
        pages.append(out.read_bytes())
    assert pages[0] == pages[1]


@pytest.mark.slow
def test_pyvis_is_imported_only_when_drawing(mini_built):
    """Selecting a view (and importing the drawing module) leaves pyvis, which pulls in
    IPython, unimported; drawing imports it."""
    import os
    import subprocess
    import sys

    project, _ = mini_built
    script = (
        "import sys\n"
        "from kgraph.graphstore import load_graphs\n"
        "from kgraph.project import Project\n"
        "from kgraph.view import ViewOptions, select_view\n"
        "import kgraph.viz\n"
        f"graphs = load_graphs(Project.at({str(project.root)!r}, out_dir={str(project.out_dir)!r}))\n"
        "select_view(graphs.network, ViewOptions(focus='ketamine'))\n"
        "assert 'pyvis' not in sys.modules, 'pyvis imported before drawing'\n"
        "kgraph.viz.render_html(graphs.network)\n"
        "assert 'pyvis' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert result.returncode == 0, result.stderr
