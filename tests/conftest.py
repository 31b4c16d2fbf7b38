"""Shared fixtures: a tiny project (tests/fixtures/mini) copied into a temporary folder,
the tiny project and the real data each built once per session, headless Chromium.

Markers (registered in pyproject.toml): ``browser`` is put on every test that uses the
``browser`` fixture and ``slow`` on every test that starts an outside triple store (see
:func:`pytest_collection_modifyitems`), so no such test can be forgotten; other slow tests
carry ``@pytest.mark.slow`` themselves. ``python3 -m pytest`` leaves both out (pyproject's
``addopts``); ``python3 -m pytest -m ''`` runs everything, as the README and .ci/run do.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kgraph.project import Project

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mini"
CORPUS = (REPO.parent / "shared" / "corpus").resolve()


@pytest.fixture
def mini_root(tmp_path: Path) -> Path:
    """A writable copy of the tiny fixture project: data/, corpus/ and the real ontology/."""
    root = tmp_path / "mini"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(REPO / "ontology", root / "ontology")
    return root


@pytest.fixture
def mini(mini_root: Path) -> Project:
    return Project.at(mini_root, corpus_dir=mini_root / "corpus")


@pytest.fixture(scope="session")
def mini_built(tmp_path_factory):
    """The tiny fixture built once per session (read-only for tests)."""
    from kgraph.pipeline import build

    root = tmp_path_factory.mktemp("mini-built") / "mini"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(REPO / "ontology", root / "ontology")
    project = Project.at(root, corpus_dir=root / "corpus")
    return project, build(project)


@pytest.fixture(scope="module")
def built_mini_root(tmp_path_factory) -> Path:
    """A copy of the tiny project built once per test module, for read-only commands."""
    from kgraph.pipeline import build

    root = tmp_path_factory.mktemp("built-mini") / "mini"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(REPO / "ontology", root / "ontology")
    build(Project.at(root, corpus_dir=root / "corpus"))
    return root


@pytest.fixture(scope="session")
def corpus_built(tmp_path_factory):
    """The real data built once per session into a temporary output folder."""
    from kgraph.pipeline import build

    out = tmp_path_factory.mktemp("corpus-out")
    project = Project.at(REPO, out_dir=out)
    return project, build(project)


#: fixtures that start a real triple store (tests/test_push.py): a test using one is slow
LIVE_STORES = {"oxigraph_server", "virtuoso_server"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects: it must see these marks
def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if fixtures & LIVE_STORES:
            item.add_marker(pytest.mark.slow)


CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} -- the CI environment variable is set, so browser tests must run")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser).

    Skipped where Chromium or Playwright is missing, unless CI is set: then it fails.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.is_file():
        _unavailable(f"Chromium not found at {CHROMIUM}: apt-get install chromium chromium-driver")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def mini_data():
    """The tiny fixture's curated data, vocabulary and corpus texts (what the extractor trains on)."""
    from kgraph.load import load_dataset, load_ontology, vocabulary

    project = Project.at(FIXTURE, corpus_dir=FIXTURE / "corpus")
    data, problems = load_dataset(project)
    assert not problems
    vocab = vocabulary(load_ontology(project))
    texts = {s.id: (project.corpus_dir / s.file).read_text(encoding="utf-8") for s in data.sources}
    return data, vocab, texts


@pytest.fixture
def traced_write():
    """``traced_write(write)`` runs ``write(out)`` into a sink that keeps only a digest and
    a size, under tracemalloc: ``(size, sha256 digest, peak traced bytes)``. What a
    streamed writer holds at once is its peak; the file it writes is never kept."""
    import hashlib
    import io
    import tracemalloc

    class Digest(io.RawIOBase):
        def __init__(self):
            self.hash, self.size = hashlib.sha256(), 0

        def write(self, data):
            self.hash.update(data)
            self.size += len(data)
            return len(data)

    def run(write) -> tuple[int, bytes, int]:
        out = Digest()
        tracemalloc.start()
        try:
            write(out)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return out.size, out.hash.digest(), peak

    return run
