"""Is the store current? The inputs' fingerprint, recomputed from a stat index (issue 10).

A reading command hashes only the input files whose stat changed since the build; these
tests make sure the shortcut never hides a change: an edit that restores the size and the
mtime, an edit in the same clock tick as the build (the "racy git" problem), an added or a
removed file. Touching a file without changing it must not make the store stale.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from kgraph import buildinfo as B
from kgraph import store as S
from kgraph.graphstore import load_graphs
from kgraph.pipeline import build

DAY_NS = 86_400 * 10**9


@pytest.fixture
def trusting(monkeypatch):
    """Trust stats up to a minute into the future: the fixture's files, written a moment ago,
    count as old (a real project's files were mostly written long before its build)."""
    monkeypatch.setattr(B, "RACY_NS", -60 * 10**9)


def claims_file(project) -> Path:
    return project.data_dir / "claims" / "001.yaml"


def same_size_edit(path: Path) -> None:
    """Change one byte of ``path`` (its final newline becomes a space: the same data), keeping
    its size, then put its mtime back (as ``cp -p``, ``rsync -t`` or ``touch -r`` would)."""
    before = os.stat(path)
    data = path.read_bytes()
    assert data.endswith(b"\n")
    path.write_bytes(data[:-1] + b" ")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def reads(monkeypatch) -> list[str]:
    """The names of the files read from now on (by Path.read_bytes, as input_state reads)."""
    seen: list[str] = []
    read_bytes = Path.read_bytes

    def counting(self):
        seen.append(self.name)
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    return seen


def test_the_fingerprint_is_the_one_of_the_files(mini):
    state = B.input_state(mini)
    assert state.sha256 == B.fingerprint(mini)
    names = [f.name for f in state.files]
    assert "data/claims/001.yaml" in names and "ontology/kgraph.ttl" in names
    assert len(set(names)) == len(names)


def test_unchanged_files_are_not_read_again(mini, trusting, monkeypatch):
    built = B.input_state(mini)
    assert all(f.stat is not None for f in built.files)
    seen = reads(monkeypatch)
    assert B.input_state(mini, built.files).sha256 == built.sha256
    assert seen == []


@pytest.mark.parametrize("change", ["edit", "same-size edit, mtime restored", "added", "removed", "renamed"])
def test_a_change_is_seen_through_the_stat_index(mini, trusting, change):
    built = B.input_state(mini)
    time.sleep(0.05)  # past the kernel's timestamp tick: the edit gets a ctime of its own
    path = claims_file(mini)
    if change == "edit":
        path.write_text(path.read_text(encoding="utf-8") + "\n# note\n", encoding="utf-8")
    elif change.startswith("same-size"):
        same_size_edit(path)
    elif change == "added":
        (path.parent / "003.yaml").write_text("claims: []\n", encoding="utf-8")
    elif change == "removed":
        path.unlink()
    else:
        path.rename(path.parent / "000.yaml")
    again = B.input_state(mini, built.files)
    assert again.sha256 != built.sha256
    assert again.sha256 == B.fingerprint(mini)  # what hashing everything gives


def test_touching_a_file_keeps_the_fingerprint(mini, trusting, monkeypatch):
    built = B.input_state(mini)
    time.sleep(0.05)
    os.utime(claims_file(mini))  # now
    seen = reads(monkeypatch)
    assert B.input_state(mini, built.files).sha256 == built.sha256
    assert seen == ["001.yaml"]  # its stat changed: hashed again, found equal


def test_a_file_written_just_before_the_build_is_hashed_every_time(mini, monkeypatch):
    """The racy case: the build reads a file in the same clock tick as its last write; a
    write right after the build, in that tick too, changes neither its mtime nor its ctime
    (simulated here: the stat keeps answering what the build saw). Only hashing tells."""
    path = claims_file(mini)
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")  # written now
    built = B.input_state(mini)
    entry = next(f for f in built.files if f.name == "data/claims/001.yaml")
    assert entry.stat is None  # too recent to be trusted
    seen_by_build = B.file_stat(path)
    file_stat = B.file_stat
    monkeypatch.setattr(B, "file_stat", lambda p: seen_by_build if p == path else file_stat(p))
    same_size_edit(path)
    assert B.input_state(mini, built.files).sha256 != built.sha256


@pytest.mark.parametrize(("mtime", "ctime", "trusted"), [
    (-DAY_NS, -DAY_NS, True),
    (-3 * 10**9, -3 * 10**9, True),
    (-DAY_NS, -10**9, False),       # mtime set back by os.utime a second ago: ctime tells
    (-10**9, -10**9, False),        # written a second before the build
    (-B.RACY_NS, -DAY_NS, False),   # on the boundary: not trusted
    (DAY_NS, DAY_NS, False),        # in the future (a skewed clock)
])
def test_which_stats_are_trusted(mtime, ctime, trusted):
    started = 10**18
    stat = (100, started + mtime, started + ctime, 1, 1)
    assert B._trusted(stat, started) is (trusted and os.name != "nt")


def test_the_store_records_its_inputs_and_reads_them_back(tmp_path, mini, trusting):
    state = B.input_state(mini)
    quad = ox.Quad(ox.NamedNode("https://example.org/s"), ox.NamedNode("https://example.org/p"),
                   ox.Literal("o"), ox.NamedNode("https://example.org/g"))
    S.write_store(mini.out_dir, S.store_quads([quad]), inputs_sha256=state.sha256, inputs=state.files)
    info = S.read_info(mini.out_dir)
    assert info.inputs == state.files and info.inputs_sha256 == state.sha256
    assert S.is_current(mini)
    doc = json.loads((info.path / S.INFO_FILE).read_text(encoding="utf-8"))
    first = doc["inputs"][0]
    assert set(first) == {"file", "sha256", *B.STAT_FIELDS}


@pytest.mark.parametrize(("recorded", "stats"), [
    (None, []),
    ("not a list", []),
    ([{"file": 1}], []),
    ([{"file": "x", "sha256": "y", "size": True, "mtime_ns": 1, "ctime_ns": 1, "ino": 1, "dev": 1}], [None]),
    ([{"file": "x", "sha256": "y"}], [None]),
    ([{"file": "x", "sha256": "y", "size": 5, "mtime_ns": 1, "ctime_ns": 2, "ino": 3, "dev": 4}], [(5, 1, 2, 3, 4)]),
])
def test_recorded_inputs_are_read_strictly(recorded, stats):
    """Anything but a whole stat of integers is no stat: that file is hashed."""
    assert [f.stat for f in B.inputs_from_json(recorded)] == stats


def test_a_store_without_an_index_is_checked_by_hashing(mini, trusting):
    build(mini)
    info_file = S.linked_dir(mini.out_dir) / S.INFO_FILE
    doc = json.loads(info_file.read_text(encoding="utf-8"))
    del doc["inputs"]  # as a store of the previous kgraph
    info_file.write_text(json.dumps(doc), encoding="utf-8")
    assert S.read_info(mini.out_dir).inputs == ()
    assert S.is_current(mini)
    time.sleep(0.05)
    same_size_edit(claims_file(mini))
    assert not S.is_current(mini)


@pytest.mark.parametrize(("change", "rebuilt"), [("touched", False), ("same-size edit, mtime restored", True)])
def test_reading_commands_rebuild_only_after_a_change(mini, trusting, change, rebuilt):
    build(mini)
    assert all(f.stat is not None for f in S.read_info(mini.out_dir).inputs)
    time.sleep(0.05)
    if change == "touched":
        os.utime(claims_file(mini))
    else:
        same_size_edit(claims_file(mini))
    assert load_graphs(mini).rebuilt is rebuilt
    assert not load_graphs(mini).rebuilt


def test_input_files_are_the_data_files_rglob_finds_in_path_order(tmp_path):
    # one scandir per folder (issue 10) must find what Path.rglob found, in the order sorted
    # paths have (the order feeds the fingerprint: another order would make stores stale)
    from kgraph.buildinfo import input_files
    from kgraph.project import Project

    data = tmp_path / "data"
    for rel in ["a/b/x.yaml", ".hidden.yaml", "a-b.yaml", "a.yaml", "a/z.yaml", "candidates/c.yaml",
                "candidates.yaml", "UPPER.YAML", "notes.txt", "dir.yaml/inside.yaml", "a b/c.yaml"]:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_text("")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "o.yaml").write_text("")
    (data / "linked").symlink_to(tmp_path / "other")  # a folder through a link: not followed
    (data / "flink.yaml").symlink_to(tmp_path / "other" / "o.yaml")  # a file through a link: read
    project = Project.at(tmp_path)
    depth = len(project.data_dir.parts)
    expected = sorted(p for p in project.data_dir.rglob("*.yaml") if p.parts[depth] != "candidates" and p.is_file())
    found = input_files(project)
    assert found[:len(expected)] == expected and len(expected) == 9
    assert all(not str(p).startswith(str(data)) for p in found[len(expected):])
