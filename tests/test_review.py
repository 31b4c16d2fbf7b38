"""kgraph review: accept / edit / reject candidates into data that validates and builds.

The candidates are a hand-written file (tests/fixtures/extract-docs/candidates/src-003.yaml,
the made-up Gamma Clinic article) staged into a copy of the mini project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kgraph.cli import app
from kgraph.errors import DataError

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "extract-docs"
STAGED = FIXTURES / "candidates"
IDS = [c["id"] for c in yaml.safe_load((STAGED / "src-003.yaml").read_text(encoding="utf-8"))["claims"]]
# the fixture's claims, in order
ANTAGONIST, TREATS_HEDGED, NAUSEA, DISSOCIATION, PREVALENCE, TELEPHONE, NOT_A_CURE = IDS


def _stage(root: Path) -> Path:
    folder = root / "data" / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    for p in STAGED.iterdir():
        shutil.copy2(p, folder / p.name)
    return folder / "src-003.yaml"


def _run(root: Path, monkeypatch, *args: str, input: str | None = None):
    monkeypatch.chdir(root)
    return runner.invoke(app, [*args, "--corpus", str(root / "corpus")], input=input)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "data").rglob("*")) if p.is_file()}


def _claims(root: Path) -> list[dict]:
    path = root / "data" / "claims" / "003.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["claims"] if path.is_file() else []


def _validates_and_builds(root: Path, monkeypatch) -> None:
    result = _run(root, monkeypatch, "validate")
    assert result.exit_code == 0, result.output
    assert " 0 error(s)" in result.output
    result = _run(root, monkeypatch, "build", "--quiet")
    assert result.exit_code == 0, result.output


def test_accept_all_moves_everything_into_data_that_validates_and_builds(mini_root, monkeypatch):
    _stage(mini_root)
    sources_before = (mini_root / "data" / "sources.yaml").read_bytes()
    entities_before = (mini_root / "data" / "entities" / "all.yaml").read_bytes()
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    assert result.exit_code == 0, result.output
    assert "src-003: 7 accepted, 0 rejected, 0 left for later; 2 new entities and the source record" in result.output

    claims = _claims(mini_root)
    assert [c["id"] for c in claims] == [f"c003-{k:03d}" for k in range(1, 8)]
    assert claims[0] == {"id": "c003-001", "subject": "ketamine", "predicate": "antagonistOf",
                         "object": "nmda-receptor", "quote": "Ketamine blocks the NMDA receptor.",
                         "evidence": "clinic-statement"}
    assert claims[1]["modality"] == "hedged" and claims[1]["qualifiers"] == {"onset": "within hours"}
    assert claims[4]["value"] == 8 and claims[4]["unit"] == "percent"
    # existing files are appended to, never rewritten
    sources = (mini_root / "data" / "sources.yaml").read_bytes()
    assert sources.startswith(sources_before)
    record = yaml.safe_load(sources)[-1]
    assert record["id"] == "src-003" and record["file"] == "documents/src-003.txt"
    assert record["publisher"] == "gamma-clinic"
    assert (mini_root / "data" / "entities" / "all.yaml").read_bytes().startswith(entities_before)
    stored = (mini_root / "data" / "documents" / "src-003.txt").read_bytes()
    assert stored == (STAGED / "src-003.txt").read_bytes()
    # nothing pending; every decision remembered
    assert not (mini_root / "data" / "candidates" / "src-003.yaml").exists()
    assert not (mini_root / "data" / "candidates" / "src-003.txt").exists()
    memory = yaml.safe_load((mini_root / "data" / "candidates" / "src-003.decisions.yaml").read_text(encoding="utf-8"))
    assert [(r["id"], r["decision"], r["claim"]) for r in memory["claims"]] == [
        (cid, "accepted", f"c003-{k:03d}") for k, cid in enumerate(IDS, 1)]

    _validates_and_builds(mini_root, monkeypatch)
    ttl = (mini_root / "output" / "kgraph.ttl").read_text(encoding="utf-8")
    assert "Call Gamma Clinic at (555) 020-0000." in ttl
    answer = runner.invoke(app, ["query", "SELECT ?phone WHERE { kgr:gamma-clinic kg:telephone ?phone }",
                                 "--format", "csv"])
    assert answer.exit_code == 0, answer.output
    assert "(555) 020-0000" in answer.output
    html = (mini_root / "output" / "kgraph.html").read_text(encoding="utf-8")
    assert "Gamma Clinic" in html


@pytest.mark.slow  # three reviews, a validation and a build: the slowest review test (6 s of CPU)
def test_decisions_file_accepts_edits_and_rejects(mini_root, monkeypatch, tmp_path):
    _stage(mini_root)
    decisions = tmp_path / "decisions.yaml"
    decisions.write_text(
        "claims:\n"
        f"  {ANTAGONIST}: accept\n"
        f"  {TREATS_HEDGED}: {{edit: {{modality: asserted, qualifiers: {{onset: within hours, duration: weeks}}}}}}\n"
        f"  {NAUSEA}: reject\n"
        f"  {TELEPHONE}: accept\n"
        "entities:\n"
        "  gamma-clinic: {edit: {description: A made-up clinic in the tests.}}\n",
        encoding="utf-8")
    result = _run(mini_root, monkeypatch, "review", "src-003", "--decisions", str(decisions))
    assert result.exit_code == 0, result.output
    assert "src-003: 3 accepted, 1 rejected, 3 left for later" in result.output

    claims = _claims(mini_root)
    assert [(c["id"], c["predicate"]) for c in claims] == [
        ("c003-001", "antagonistOf"), ("c003-002", "treats"), ("c003-003", "telephone")]
    assert "modality" not in claims[1]  # asserted is the default, not written
    assert claims[1]["qualifiers"] == {"onset": "within hours", "duration": "weeks"}
    entities = yaml.safe_load((mini_root / "data" / "entities" / "all.yaml").read_text(encoding="utf-8"))
    added = {e["id"]: e for e in entities}
    assert added["gamma-clinic"]["description"] == "A made-up clinic in the tests."
    assert "nausea" not in added  # only its rejected claim needed it

    left = yaml.safe_load((mini_root / "data" / "candidates" / "src-003.yaml").read_text(encoding="utf-8"))
    assert [c["id"] for c in left["claims"]] == [DISSOCIATION, PREVALENCE, NOT_A_CURE]
    assert [e["id"] for e in left["entities"]] == ["nausea"]
    memory = yaml.safe_load((mini_root / "data" / "candidates" / "src-003.decisions.yaml").read_text(encoding="utf-8"))
    assert {r["id"]: r["decision"] for r in memory["claims"]} == {
        ANTAGONIST: "accepted", TREATS_HEDGED: "edited", NAUSEA: "rejected", TELEPHONE: "accepted"}
    _validates_and_builds(mini_root, monkeypatch)

    # a second review continues where the first stopped: new ids follow the last one
    result = _run(mini_root, monkeypatch, "review", "src-003", "--accept-all")
    assert result.exit_code == 0, result.output
    assert [c["id"] for c in _claims(mini_root)] == [f"c003-{k:03d}" for k in range(1, 7)]
    memory = yaml.safe_load((mini_root / "data" / "candidates" / "src-003.decisions.yaml").read_text(encoding="utf-8"))
    assert len(memory["claims"]) == 7
    _validates_and_builds(mini_root, monkeypatch)


def test_interactive_review_through_typed_answers(mini_root, monkeypatch):
    _stage(mini_root)
    # accept; edit (a bad field first, then a good one); reject; skip; then quit
    answers = "a\ne\nmood: sad\nqualifiers: {onset: hours}\n\nr\ns\nq\nA made-up clinic of the tests.\n"
    result = _run(mini_root, monkeypatch, "review", "src-003", input=answers)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "[1/7] " + ANTAGONIST + "  ketamine antagonistOf nmda-receptor" in out
    assert "kgraph's tests.\n\n»Ketamine blocks the NMDA receptor.« This leads to" in out  # in context
    assert "new entity  nausea: nausea (SideEffect)" in out
    assert "entity      ptsd: post-traumatic stress disorder (MentalDisorder)" in out
    assert "not 'field: value' with a field of" in out
    assert out.count("[a]ccept  [e]dit  [r]eject  [s]kip  [q]uit > ") == 5
    assert "src-003: 2 accepted, 1 rejected, 4 left for later" in out
    claims = _claims(mini_root)
    assert [c["qualifiers"] for c in claims if "qualifiers" in c] == [{"onset": "hours"}]
    # the publisher is new: its description is asked for (nausea's is not: its claim was rejected)
    assert "New entity gamma-clinic: Gamma Clinic (Clinic). A one-line description" in out
    entities = {e["id"]: e for e in yaml.safe_load((mini_root / "data" / "entities" / "all.yaml").read_text("utf-8"))}
    assert entities["gamma-clinic"]["description"] == "A made-up clinic of the tests."
    assert "nausea" not in entities
    _validates_and_builds(mini_root, monkeypatch)


def test_interactive_edit_is_checked_before_it_is_taken(mini_root, monkeypatch):
    _stage(mini_root)
    # edit the hedged "treats" claim to an object of the wrong type: refused, then fixed
    answers = "s\ne\nobject: nausea\n\nobject: ptsd\n\nq\n\n"
    result = _run(mini_root, monkeypatch, "review", "src-003", input=answers)
    assert result.exit_code == 0, result.output
    assert "'treats' expects an object of type Condition, but 'nausea' is a SideEffect" in result.output
    assert [c["object"] for c in _claims(mini_root)] == ["ptsd"]


def test_end_of_input_writes_nothing(mini_root, monkeypatch):
    _stage(mini_root)
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "review", "src-003", input="a\nr\n")
    assert result.exit_code == 1
    assert "nothing written" in result.output
    assert _snapshot(mini_root) == before


def test_dry_run_writes_nothing(mini_root, monkeypatch):
    _stage(mini_root)
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "review", "--accept-all", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Would write data/claims/003.yaml" in result.output
    assert _snapshot(mini_root) == before


def _assert_refused(result, root: Path, before: dict[str, bytes], *needles: str) -> None:
    # bad candidates, decisions or edits are data errors: exit 3 (kgraph.errors.EXIT_CODES)
    assert result.exit_code == DataError.exit_code == 3, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output
    assert _snapshot(root) == before


def test_an_edit_that_would_not_validate_is_refused(mini_root, monkeypatch, tmp_path):
    _stage(mini_root)
    before = _snapshot(mini_root)
    decisions = tmp_path / "d.yaml"
    decisions.write_text(f"claims:\n  {NAUSEA}: {{edit: {{predicate: treats}}}}\n", encoding="utf-8")
    result = _run(mini_root, monkeypatch, "review", "src-003", "--decisions", str(decisions))
    _assert_refused(result, mini_root, before, "would not validate; nothing was written",
                    "data/claims/003.yaml:", "'treats' expects an object of type Condition, but 'nausea' is a SideEffect")


@pytest.mark.parametrize("text, needle", [
    ("claims:\n  x0000000000: accept\n", "the decisions name claim 'x0000000000', which is not a candidate of src-003"),
    ("claims:\n  {id}: maybe\n", "d.yaml:2: a decision is accept, reject, skip or {edit"),
    ("claims:\n  {id}: {{edit: {{colour: red}}}}\n", "d.yaml:2: cannot edit 'colour'"),
    ("claims: [\n", "d.yaml:2: malformed YAML"),
    ("default: maybe\n", "d.yaml:1: default must be skip, accept or reject"),
])
def test_bad_decisions_file(mini_root, monkeypatch, tmp_path, text, needle):
    _stage(mini_root)
    before = _snapshot(mini_root)
    decisions = tmp_path / "d.yaml"
    decisions.write_text(text.format(id=ANTAGONIST), encoding="utf-8")
    result = _run(mini_root, monkeypatch, "review", "src-003", "--decisions", str(decisions))
    _assert_refused(result, mini_root, before, needle)


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.mark.parametrize("old, new, needle", [
    ('quote: "Ketamine blocks the NMDA receptor."', 'quote: "Ketamine blocks the NMDA receptors."',
     "the quote is not the text at 97-131"),
    ("predicate: antagonistOf", "predicate: antagonizes", "unknown predicate 'antagonizes'"),
    ("object: nmda-receptor", "object: nmda-receptr", "object refers to unknown entity 'nmda-receptr'"),
    ("evidence: clinic-statement", "evidence: gossip", "unknown evidence kind 'gossip'"),
    ("type: SideEffect", "type: SideEfect", "entity 'nausea' has unknown type 'SideEfect'"),
    ("status: candidate", "status: accepted", "status must be 'candidate'"),
    ("confidence: 0.93", "confidence: 7", "confidence must be a number from 0 to 1"),
    ("  - id: nausea", "  - id: ketamine", "entity 'ketamine' is already in the data"),
])
def test_candidates_file_edited_into_an_invalid_state(mini_root, monkeypatch, old, new, needle):
    path = _stage(mini_root)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = _line_of(path, new.strip())
    before = _snapshot(mini_root)
    for args in (["review", "src-003", "--accept-all"], ["build", "--with-candidates", "--quiet"]):
        result = _run(mini_root, monkeypatch, *args)
        _assert_refused(result, mini_root, before, f"data/candidates/src-003.yaml:{line}", needle)
    assert not (mini_root / "output").exists()


def test_a_candidates_file_that_is_not_yaml_any_more(mini_root, monkeypatch):
    path = _stage(mini_root)
    path.write_text(path.read_text(encoding="utf-8").replace('  title: "Gamma', '  title: ["Gamma', 1), encoding="utf-8")
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    # (YAML notices the missing ']' on the next line)
    _assert_refused(result, mini_root, before, "data/candidates/src-003.yaml:11: malformed YAML",
                    "Fix the YAML syntax at that line")


def test_changed_text_beside_the_candidates_is_refused(mini_root, monkeypatch):
    path = _stage(mini_root)
    text = path.with_suffix(".txt")
    text.write_text(text.read_text(encoding="utf-8").replace("nausea", "headache"), encoding="utf-8")
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    _assert_refused(result, mini_root, before, "data/candidates/src-003.yaml:6",
                    "has changed since extraction (sha256 differs)")


# slow: several reviews, each validating and building the project again
@pytest.mark.slow
def test_a_killed_review_leaves_the_old_state_or_the_new_one(mini_root, monkeypatch):
    import kgraph.export
    import kgraph.review

    _stage(mini_root)
    before = _snapshot(mini_root)

    # killed before the journal is written: the old state, and no temporary file left
    def killed(*_args, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(kgraph.export, "write_atomic", killed)
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    assert result.exit_code != 0 and "Wrote" not in result.output  # (the runner turns ^C into exit 130)
    assert _snapshot(mini_root) == before
    monkeypatch.undo()

    # killed after two renames: the next review (or extract) finishes the commit
    real_replace = kgraph.review.os.replace
    calls = []

    def replace_twice(src, dst):
        calls.append(dst)
        if len(calls) > 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(kgraph.review.os, "replace", replace_twice)
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    assert result.exit_code != 0 and "Wrote" not in result.output
    monkeypatch.setattr(kgraph.review.os, "replace", real_replace)
    assert (mini_root / "data" / "candidates" / ".review-journal.json").is_file()
    result = _run(mini_root, monkeypatch, "review")
    assert result.exit_code == 0, result.output
    assert "Finished an interrupted review's writes first." in result.output
    assert "Nothing to review" in result.output
    assert len(_claims(mini_root)) == 7
    assert not [p for p in (mini_root / "data").rglob("*.tmp")]
    _validates_and_builds(mini_root, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["before-journal", "after-first-rename"])
def test_kill_9_during_review_leaves_the_old_data_or_the_new(mini_root, monkeypatch, where):
    import os
    import signal
    import subprocess
    import sys

    from test_extract_cli import KILLED

    _stage(mini_root)
    before = _snapshot(mini_root)
    journal = mini_root / "data" / "candidates" / ".review-journal.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    proc = subprocess.run([sys.executable, "-c", KILLED, where, str(journal), "--", "review", "--accept-all",
                           "--corpus", str(mini_root / "corpus")], cwd=mini_root, env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    after = {k: v for k, v in _snapshot(mini_root).items() if not Path(k).name.startswith(".")}
    if where == "before-journal":
        assert after == {k: v for k, v in before.items() if not Path(k).name.startswith(".")}
        assert not journal.exists()
    else:
        assert journal.is_file() and after != before
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    assert result.exit_code == 0, result.output
    assert not journal.exists()
    assert len(_claims(mini_root)) == 7  # every candidate accepted, once
    _validates_and_builds(mini_root, monkeypatch)


def test_review_without_a_publisher_asks_for_one(mini_root, monkeypatch):
    path = _stage(mini_root)
    path.write_text(path.read_text(encoding="utf-8").replace("  publisher: gamma-clinic\n", ""), encoding="utf-8")
    before = _snapshot(mini_root)
    result = _run(mini_root, monkeypatch, "review", "--accept-all")
    _assert_refused(result, mini_root, before, "src-003 has no known publisher", "source: {publisher: an-entity-id}")
    result = _run(mini_root, monkeypatch, "review", "src-003", input="gamma-clinic\na\nq\n\n")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((mini_root / "data" / "sources.yaml").read_text(encoding="utf-8"))[-1]["publisher"] == \
        "gamma-clinic"


def test_nothing_to_review(mini_root, monkeypatch):
    result = _run(mini_root, monkeypatch, "review")
    assert result.exit_code == 0
    assert "Nothing to review" in result.output
    result = _run(mini_root, monkeypatch, "review", "src-009")
    assert result.exit_code == 2
    assert "no candidates for 'src-009'" in result.output


@pytest.mark.slow  # two builds, one drawing the preview
def test_build_with_candidates_draws_a_preview_and_keeps_them_out_of_the_graph(mini_root, monkeypatch):
    result = _run(mini_root, monkeypatch, "build", "--quiet")
    assert result.exit_code == 0, result.output
    plain = {p.name: p.read_bytes() for p in (mini_root / "output").iterdir()
             if p.is_file() and p.name != "build-info.json"}
    _stage(mini_root)
    result = _run(mini_root, monkeypatch, "build", "--quiet", "--with-candidates")
    assert result.exit_code == 0, result.output
    out = mini_root / "output"
    # the normal files are the same bytes: candidates never enter them
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in plain} == plain
    assert plain  # (the files are there)
    preview = (out / "kgraph-preview.html").read_text(encoding="utf-8")
    assert "Gamma Clinic" in preview and "Gamma Clinic" not in plain["kgraph.html"].decode("utf-8")
    assert '"dashes":true' in preview.replace(" ", "")
    assert "borderDashes" in preview
    assert "(candidate, not reviewed)" in preview


def test_the_preview_in_a_browser(mini_root, monkeypatch, browser):
    """Offline from file://, no script error; candidates drawn dashed, their claims readable."""
    _stage(mini_root)
    assert _run(mini_root, monkeypatch, "build", "--quiet", "--with-candidates").exit_code == 0
    url = (mini_root / "output" / "kgraph-preview.html").as_uri()
    requests, errors = [], []
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    try:
        context.route("**/*", lambda route: route.continue_() if route.request.url == url
                      else (requests.append(route.request.url), route.abort()))
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector("html[data-stabilised=true]", state="attached", timeout=60_000)
        nausea = page.evaluate("() => kgraph.nodes.get('nausea')")
        assert nausea["shapeProperties"] == {"borderDashes": [4, 3]}
        ketamine = page.evaluate("() => kgraph.nodes.get('ketamine')")
        assert "shapeProperties" not in ketamine  # a curated entity looks as before
        dashed = page.evaluate("() => kgraph.edges.get().filter(e => e.dashes).map(e => e.id)")
        assert dashed == ["ketamine|hasSideEffect|nausea"]
        page.evaluate("() => kgraph.selectEntity('nausea')")
        details = page.inner_text("#details")
        assert "Side effects include mild dissociation and nausea." in details
        assert "candidate, not reviewed" in details
    finally:
        context.close()
    assert requests == [] and errors == []


def _stage_two(root: Path) -> None:
    """The fixture twice: as src-003 and (the same text) as src-004."""
    path = _stage(root)
    for suffix in (".yaml", ".txt"):
        text = path.with_suffix(suffix).read_text(encoding="utf-8")
        path.with_name(f"src-004{suffix}").write_text(text.replace("src-003", "src-004"), encoding="utf-8")


# slow: several reviews, each validating and building the project again
@pytest.mark.slow
def test_many_files_at_once_give_the_same_data_as_one_by_one(tmp_path, monkeypatch):
    from conftest import FIXTURE, REPO

    roots = []
    for name in ("together", "apart"):
        root = tmp_path / name
        shutil.copytree(FIXTURE, root)
        shutil.copytree(REPO / "ontology", root / "ontology")
        _stage_two(root)
        roots.append(root)
    decisions = tmp_path / "d.yaml"
    decisions.write_text(f"default: accept\nclaims:\n  {NAUSEA}: reject\n", encoding="utf-8")
    result = _run(roots[0], monkeypatch, "review", "--decisions", str(decisions))
    assert result.exit_code == 0, result.output
    assert "src-003: 6 accepted, 1 rejected" in result.output and "src-004: 6 accepted, 1 rejected" in result.output
    for source in ("src-003", "src-004"):
        result = _run(roots[1], monkeypatch, "review", source, "--decisions", str(decisions))
        assert result.exit_code == 0, result.output
    assert _snapshot(roots[0]) == {k: v for k, v in _snapshot(roots[1]).items()}
    assert len(_claims(roots[0])) == 6
    assert (roots[0] / "data" / "claims" / "004.yaml").is_file()
    _validates_and_builds(roots[0], monkeypatch)


def test_many_files_at_once_are_refused_together(mini_root, monkeypatch, tmp_path):
    _stage_two(mini_root)
    before = _snapshot(mini_root)
    decisions = tmp_path / "d.yaml"
    decisions.write_text(f"default: accept\nclaims:\n  {NAUSEA}: {{edit: {{predicate: treats}}}}\n", encoding="utf-8")
    result = _run(mini_root, monkeypatch, "review", "--decisions", str(decisions))
    _assert_refused(result, mini_root, before, "would not validate; nothing was written",
                    "data/claims/003.yaml:", "data/claims/004.yaml:")
    decisions.write_text("claims:\n  x0000000000: accept\n", encoding="utf-8")
    result = _run(mini_root, monkeypatch, "review", "--decisions", str(decisions))
    _assert_refused(result, mini_root, before, "the decisions name claim 'x0000000000', which is not a candidate of "
                                               "src-003, src-004")


@pytest.mark.slow  # two builds and a review
def test_pending_candidates_do_not_make_the_graph_stale(mini_root, monkeypatch):
    from kgraph.buildinfo import is_fresh
    from kgraph.project import Project

    assert _run(mini_root, monkeypatch, "build", "--quiet").exit_code == 0
    project = Project.at(mini_root, corpus_dir=mini_root / "corpus")
    assert is_fresh(project)
    _stage(mini_root)  # what kgraph extract writes
    assert is_fresh(project)
    assert _run(mini_root, monkeypatch, "review", "--accept-all").exit_code == 0
    assert not is_fresh(project)


def test_review_names_several_sources(mini_root, monkeypatch):
    _stage_two(mini_root)
    result = _run(mini_root, monkeypatch, "review", "src-004", "src-003", "--accept-all")
    assert result.exit_code == 0, result.output
    assert result.output.index("src-004: 7 accepted") < result.output.index("src-003: 7 accepted")
    assert not list((mini_root / "data" / "candidates").glob("src-00?.yaml"))
