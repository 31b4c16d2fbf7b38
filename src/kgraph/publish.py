"""Publish a build into the output folder in one atomic step (issue 15).

A build is written whole into a fresh folder ``<out>/.builds/<id>.partial``, renamed to
``<out>/.builds/<id>`` once complete, and published by switching ONE pointer: the
symlink ``<out>/.current`` is replaced (``os.replace``, atomic on POSIX) by one naming
the new folder. A reader therefore sees the old build or the new one, never a mix.

The names users open -- ``<out>/kgraph.ttl``, ``<out>/kgraph.html``, a store folder --
are relative symlinks into ``.current`` made once (``kgraph.ttl -> .current/kgraph.ttl``),
so they follow every switch and keep working from ``file://``. A reader that needs
several files of one build (build-info.json and the graph it describes) resolves the
pointer once with :func:`current_dir` and reads everything from there.

Publishing holds ``<out>/.lock`` (``fcntl.flock``) from the first byte written to the
switch, so two builds cannot interleave; a lock dies with its process, so a killed build
never blocks the next. Leftovers of killed builds (``*.partial``) and builds older than
the previous one are removed by the next publish.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from kgraph.errors import OutputError

BUILDS_DIR = ".builds"
CURRENT = ".current"
LOCK_FILE = ".lock"
PARTIAL = ".partial"
#: how long a second build waits for the first one's publish before giving up
LOCK_WAIT = 30.0

#: writes one directory artefact into the (not yet existing) path it is given
DirWriter = Callable[[Path], None]
#: checks the complete build folder before it is published; raises to refuse it
Verifier = Callable[[Path], None]


@dataclass(frozen=True)
class Streamed:
    """A file written as a stream (by ``write``, given the open file, which it may seek in)
    rather than held as bytes: an RDF file of the build is written from the lines it was
    made from, a few megabytes at a time (issue 10)."""

    write: Callable[[BinaryIO], None]


@dataclass(frozen=True)
class Published:
    """What :func:`publish` made: the build folder and the user-facing paths."""

    build_id: str
    directory: Path
    #: ``<out>/<name>`` for every file and directory of the build, in the order given
    paths: list[Path] = field(default_factory=list)


def current_dir(out_dir: Path) -> Path:
    """The folder holding the published build, resolved once (read every file of one
    build from it). An output folder without a pointer (never published, or written by
    an older kgraph) is its own current folder."""
    pointer = out_dir / CURRENT
    if pointer.is_symlink():
        target = pointer.resolve()
        if target.is_dir():
            return target
    return out_dir


@contextmanager
def build_lock(out_dir: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold ``<out>/.lock`` exclusively; wait up to ``wait`` seconds for another build."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _cannot_write(out_dir, exc) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                    raise OutputError(
                        f"another kgraph build (pid {holder}) is publishing into {out_dir}; waited {wait:g} s",
                        "Wait for it to finish, then run the build again.") from None
                time.sleep(0.05)
        # the holder's pid, for the message above (the lock itself is the flock, not this text)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def publish(out_dir: Path, files: Mapping[str, bytes | Callable[[], bytes] | Streamed],
            dirs: Mapping[str, DirWriter] | None = None, *,
            verify: Verifier | None = None, written: Callable[[Path], None] | None = None,
            wait: float = LOCK_WAIT) -> Published:
    """Write a whole build and publish it atomically; return where it went.

    ``files`` maps a file name to its bytes, or to a function that makes them: called when
    the file is written, and its bytes dropped once they are (a build need not hold all its
    files in memory at once: 1 GB at x100), or to a :class:`Streamed` writer; ``dirs`` maps a directory name to a function
    that creates that directory (at the path it is given) and fills it. Names are plain
    (no ``/``) and distinct. ``verify`` sees the complete build folder before the switch
    and raises (a :class:`~kgraph.errors.KgraphError`) to refuse it; nothing is
    published then. ``written`` is told the path of each file once it is written whole
    (the build starts reading it back). Raises :class:`OutputError` when the output folder cannot be written.
    """
    dirs = dict(dirs or {})
    names = [*files, *dirs]
    for name in names:
        if not name or "/" in name or name.startswith(".") or name in (BUILDS_DIR, CURRENT, LOCK_FILE):
            raise ValueError(f"not a plain artefact name: {name!r}")  # a bug in the caller
    if len(set(names)) != len(names):
        raise ValueError(f"artefact names repeat: {names}")
    with build_lock(out_dir, wait=wait):
        builds = out_dir / BUILDS_DIR
        previous = _pointed_build(out_dir)
        build_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{random_hex()}"
        partial = builds / f"{build_id}{PARTIAL}"
        final = builds / build_id
        with removed_on_failure(partial, lambda exc: _cannot_write(out_dir, exc)):
            _remove_stale(builds, keep={previous} if previous else set())
            _remove_leftovers(out_dir)
            partial.mkdir(parents=True)
            for name, data in files.items():
                _write_file(partial / name, data if isinstance(data, Streamed) else data() if callable(data) else data)
                if written is not None:
                    written(partial / name)
            for name, writer in dirs.items():
                writer(partial / name)
                if not (partial / name).is_dir():
                    raise OutputError(f"the {name} folder of the build was not written",
                                      "This is a bug in kgraph; please report it.")
            _fsync_dir(partial)
            if verify is not None:
                verify(partial)
            os.rename(partial, final)
            _fsync_dir(builds)
            # names new to this build: link them first (dangling until the switch, so a
            # reader finds them missing, as in the old build)
            for name in names:
                _link(out_dir, name, only_if_absent=True)
            _switch(out_dir, final)
            # then turn what an older kgraph wrote as plain files into links, and drop
            # the links of artefacts this build no longer has
            for name in names:
                _link(out_dir, name, only_if_absent=False)
            _unlink_dropped(out_dir, set(names))
            _remove_stale(builds, keep={final.name, *([previous] if previous else [])})
    return Published(build_id=build_id, directory=final, paths=[out_dir / name for name in names])


# --------------------------------------------------------------------------- steps

@contextmanager
def removed_on_failure(folder: Path, cannot_write: Callable[[OSError], OutputError]) -> Iterator[None]:
    """Remove the half-written ``folder`` when the block fails (anyhow, Ctrl+C included);
    an :class:`OSError` is reported as the :class:`OutputError` ``cannot_write`` makes of it."""
    try:
        yield
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise cannot_write(exc) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _write_file(path: Path, data: bytes | Streamed) -> None:
    with open(path, "xb") as fh:
        if isinstance(data, Streamed):
            data.write(fh)
        else:
            fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pointed_build(out_dir: Path) -> str | None:
    """The name of the build folder ``.current`` names (None without a pointer)."""
    pointer = out_dir / CURRENT
    if not pointer.is_symlink():
        return None
    return Path(os.readlink(pointer)).name


def _switch(out_dir: Path, final: Path) -> None:
    """Point ``.current`` at ``final`` in one rename."""
    tmp = out_dir / f"{CURRENT}.{final.name}"
    tmp.unlink(missing_ok=True)
    os.symlink(Path(BUILDS_DIR) / final.name, tmp, target_is_directory=True)
    os.replace(tmp, out_dir / CURRENT)
    _fsync_dir(out_dir)


def _link(out_dir: Path, name: str, *, only_if_absent: bool) -> None:
    """Make ``<out>/<name>`` the relative symlink ``.current/<name>``."""
    link = out_dir / name
    target = Path(CURRENT) / name
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    exists = link.exists() or link.is_symlink()
    if exists and only_if_absent:
        return
    tmp = out_dir / f".{name}.link-{random_hex()}"
    os.symlink(target, tmp)
    if link.is_dir() and not link.is_symlink():
        # a real folder (an older layout) cannot be replaced by a rename: move it aside
        aside = out_dir / f".{name}.old-{random_hex()}"
        os.rename(link, aside)
        os.replace(tmp, link)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, link)


def _unlink_dropped(out_dir: Path, names: set[str]) -> None:
    for link in out_dir.iterdir():
        if link.is_symlink() and link.name not in names:
            target = Path(os.readlink(link))
            if target.parts[:1] == (CURRENT,) and len(target.parts) == 2:
                link.unlink()


def _remove_stale(builds: Path, keep: set[str]) -> None:
    """Remove every build folder but ``keep``: partial ones are leftovers of killed
    builds (the lock is held, so no other build is writing), older ones are superseded."""
    if not builds.is_dir():
        return
    for entry in builds.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


#: what a killed run leaves in the output folder itself: the old file-by-file writer's
#: temporary folders, and a pointer or link made but not yet renamed into place
_LEFTOVERS = (".kgraph-tmp-*", f"{CURRENT}.*", ".*.link-*", ".*.old-*")


def _remove_leftovers(out_dir: Path) -> None:
    for pattern in _LEFTOVERS:
        for entry in out_dir.glob(pattern):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}",
                       "Choose a folder you can write to (--out).")


def random_hex(digits: int = 6) -> str:
    """Random hex digits for a unique file or folder name (secrets is imported only by what
    writes: 4 ms of a query's look-up)."""
    import secrets

    return secrets.token_hex((digits + 1) // 2)[:digits]
