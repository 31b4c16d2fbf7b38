"""One atomic publish (issue 15): a reader sees the old build or the new one, never a mix;
kill -9 at any moment leaves one of them whole; two builds never interleave."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kgraph.errors import OutputError
from kgraph.publish import BUILDS_DIR, CURRENT, build_lock, current_dir, publish

SRC = Path(__file__).resolve().parents[1] / "src"


def _dir_writer(text: str):
    def write(path: Path) -> None:
        path.mkdir()
        (path / "inside.txt").write_text(text)
    return write


def test_published_names_are_relative_links_through_one_pointer(tmp_path):
    out = tmp_path / "output"
    out.mkdir()
    (out / ".gitkeep").write_text("")  # the repository's placeholder stays
    result = publish(out, {"a.txt": b"one", "b.txt": b"uno"}, {"store": _dir_writer("first")})
    assert (out / ".gitkeep").is_file()
    assert os.readlink(out / CURRENT) == f"{BUILDS_DIR}/{result.build_id}"
    for name in ("a.txt", "b.txt", "store"):
        assert os.readlink(out / name) == f"{CURRENT}/{name}"  # relative: works from file:// and when moved
    assert (out / "a.txt").read_bytes() == b"one" and (out / "store" / "inside.txt").read_text() == "first"
    assert current_dir(out) == result.directory.resolve()
    assert result.paths == [out / "a.txt", out / "b.txt", out / "store"]

    moved = tmp_path / "moved"
    out.rename(moved)
    assert (moved / "a.txt").read_bytes() == b"one"


def test_a_new_build_replaces_every_name_and_drops_the_missing_ones(tmp_path):
    out = tmp_path / "output"
    publish(out, {"a.txt": b"one", "b.txt": b"uno"}, {"store": _dir_writer("first")})
    publish(out, {"a.txt": b"two"}, {"store": _dir_writer("second")})
    assert (out / "a.txt").read_bytes() == b"two" and (out / "store" / "inside.txt").read_text() == "second"
    assert not (out / "b.txt").exists() and not (out / "b.txt").is_symlink()


def test_files_of_an_older_layout_become_links(tmp_path):
    out = tmp_path / "output"
    out.mkdir()
    (out / "a.txt").write_bytes(b"old plain file")
    (out / "store").mkdir()
    (out / "store" / "old").write_text("x")
    publish(out, {"a.txt": b"new"}, {"store": _dir_writer("new")})
    assert (out / "a.txt").is_symlink() and (out / "a.txt").read_bytes() == b"new"
    assert (out / "store").is_symlink() and not (out / "store" / "old").exists()


def test_stale_folders_and_old_builds_are_removed(tmp_path):
    out = tmp_path / "output"
    (out / BUILDS_DIR / "20200101T000000-1-abcdef.partial").mkdir(parents=True)
    (out / ".kgraph-tmp-x1y2").mkdir()  # what the file-by-file writer left behind
    (out / f"{CURRENT}.dangling").symlink_to("nowhere")
    ids = [publish(out, {"a.txt": str(i).encode()}).build_id for i in range(3)]
    assert sorted(p.name for p in (out / BUILDS_DIR).iterdir()) == sorted(ids[1:])  # current and previous
    assert not (out / ".kgraph-tmp-x1y2").exists() and not (out / f"{CURRENT}.dangling").is_symlink()


def test_a_build_that_does_not_verify_is_not_published(tmp_path):
    out = tmp_path / "output"
    publish(out, {"a.txt": b"good"})

    def refuse(folder: Path) -> None:
        assert (folder / "a.txt").read_bytes() == b"bad"  # the verifier sees the complete build
        raise OutputError("does not read back")

    with pytest.raises(OutputError, match="does not read back"):
        publish(out, {"a.txt": b"bad"}, verify=refuse)
    assert (out / "a.txt").read_bytes() == b"good"
    assert [p.name for p in (out / BUILDS_DIR).iterdir()] == [current_dir(out).name]


def test_a_write_error_is_reported_and_leaves_no_partial_build(tmp_path):
    out = tmp_path / "output"
    publish(out, {"a.txt": b"good"})

    def fail(path: Path) -> None:
        path.mkdir()
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match=f"cannot write {out}: No space left on device"):
        publish(out, {"a.txt": b"new"}, {"store": fail})
    assert (out / "a.txt").read_bytes() == b"good"
    assert [p.name for p in (out / BUILDS_DIR).iterdir()] == [current_dir(out).name]


def test_a_second_publish_waits_for_the_lock_then_fails_clearly(tmp_path):
    out = tmp_path / "output"
    with build_lock(out):
        started = time.monotonic()
        with pytest.raises(OutputError, match=rf"another kgraph build \(pid {os.getpid()}\) is publishing"):
            publish(out, {"a.txt": b"x"}, wait=0.3)
        assert time.monotonic() - started >= 0.3
    assert not (out / "a.txt").exists()
    publish(out, {"a.txt": b"x"}, wait=0.3)  # the lock is free again


def test_a_second_publish_runs_once_the_first_is_done(tmp_path):
    out = tmp_path / "output"
    released = threading.Event()

    def hold() -> None:
        with build_lock(out):
            time.sleep(0.5)
            released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    publish(out, {"a.txt": b"after"}, wait=30)
    assert released.is_set()  # it did not run while the lock was held
    holder.join()


# --------------------------------------------------------------------------- real builds, killed

SLOW_BUILD = """
import os, sys, time
from pathlib import Path
from kgraph import publish
from kgraph.pipeline import build
from kgraph.project import Project

root, delay, stop, log = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
log = open(log, "a") if log != "-" else None
write, switch, link = publish._write_file, publish._switch, publish._link
counts = {}

def say(event, *words):
    counts[event] = counts.get(event, 0) + 1
    if log:
        log.write(f"{os.getpid()} {event}\\n")
        log.flush()
    if stop == f"{event}#{counts[event]}":
        print("stopped", flush=True)
        time.sleep(600)  # until killed: the kill lands exactly here
    time.sleep(delay)

def slow_write(path, data):
    say("write")
    write(path, data)

def slow_switch(out, final):
    say("switch")
    switch(out, final)
    say("switched")

def slow_link(out, name, only_if_absent):
    link(out, name, only_if_absent=only_if_absent)
    if not only_if_absent:
        say("link")

publish._write_file, publish._switch, publish._link = slow_write, slow_switch, slow_link
build(Project.at(root, corpus_dir=root / "corpus"))
print("done", flush=True)
"""


def _start(root: Path, delay: float = 0.0, stop: str = "-", log: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    args = [sys.executable, "-c", SLOW_BUILD, str(root), str(delay), stop, str(log or "-")]
    return subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when_stopped(proc: subprocess.Popen) -> None:
    for line in proc.stdout:
        if line.strip() == "stopped":
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            return
    proc.wait(timeout=60)
    raise AssertionError(f"the build never reached its stop: {proc.stderr.read()}")


def _visible(out: Path, names) -> dict[str, bytes | None]:
    """What a reader opening the user-facing names sees."""
    seen = {}
    for name in names:
        try:
            seen[name] = (out / name).read_bytes()
        except FileNotFoundError:
            seen[name] = None
    return seen


def _label(root: Path, label: str) -> None:
    path = root / "data" / "entities" / "all.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  label: ", text.index("- id: ketamine"))
    end = text.index("\n", start)
    path.write_text(text[:start] + f"  label: {label}" + text[end:], encoding="utf-8")


@pytest.mark.slow
def test_kill_9_during_a_build_leaves_the_old_or_the_new_build_whole(mini_root, tmp_path):
    from kgraph.pipeline import build
    from kgraph.project import Project

    project = Project.at(mini_root, corpus_dir=mini_root / "corpus")
    expected = {}
    for version in ("A", "B"):  # what each version's build publishes (builds are deterministic)
        _label(mini_root, f"ketamine {version}")
        written = build(project, out_dir=tmp_path / f"out-{version}").written
        expected[version] = {p.name: p.read_bytes() for p in written if p.is_file()}  # not the store folder
    names = sorted(expected["A"])
    out = mini_root / "output"
    _label(mini_root, "ketamine A")
    build(project)
    assert _visible(out, names) == expected["A"]

    state = "A"
    # (version built, the moment of the kill); before the switch the old build must remain,
    # from the switch on the new one
    for target, stop in (("B", "write#1"), ("B", "write#6"), ("B", "switch#1"), ("B", "switched#1"),
                         ("A", "link#3"), ("A", "switch#1"), ("A", "link#1")):
        _label(mini_root, f"ketamine {target}")
        _kill_when_stopped(_start(mini_root, stop=stop))
        if stop.startswith(("switched", "link")):
            state = target
        seen = _visible(out, names)
        mixed = sorted(n for n in names if seen[n] != expected[state][n])
        assert not mixed, f"killed at {stop}: {mixed} are not from build {state}"

    # the next build completes and cleans up what the killed ones left
    _label(mini_root, "ketamine B")
    done = _start(mini_root)
    _, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    assert _visible(out, names) == expected["B"]
    builds = sorted(p.name for p in (out / BUILDS_DIR).iterdir())
    assert len(builds) <= 2 and not any(name.endswith(".partial") for name in builds)


@pytest.mark.slow
def test_two_concurrent_builds_are_serialized_by_the_lock(mini_root, tmp_path):
    log = tmp_path / "events.log"
    builds = [_start(mini_root, delay=0.05, log=log) for _ in range(2)]
    for proc in builds:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    pids = [line.split()[0] for line in log.read_text().splitlines()]
    # one build's writes, switch and links all come before any of the other's
    blocks = [pid for i, pid in enumerate(pids) if i == 0 or pids[i - 1] != pid]
    assert len(blocks) == 2, pids
