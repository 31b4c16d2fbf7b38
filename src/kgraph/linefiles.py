"""The build's sorted N-Quads lines kept in files instead of memory (issue 10).

The build serialises each part of its RDF graph to a block of sorted lines
(:func:`kgraph.store.part_block`) as the part is made. Kept in memory, the blocks and the
lines merged from them held 1.2 GB at x100, and would hold 12 GB at x1000. Here the
blocks are appended to one file (:class:`BlockFile`), merged from it a few kilobytes per
block at a time (:func:`merge_blocks`) into the files of a
:class:`kgraph.store.DatasetLines`, from which the store is loaded and the RDF files are
written, each as a stream.

The files live in a scratch folder of the build (:class:`Scratch`), inside the output
folder (on the disk the user chose for the build, not in a ``/tmp`` that may be held in
memory), removed when the build ends, and by the next build if this one was killed.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

#: The scratch folders of builds: ``<prefix><pid>-<random>`` inside the output folder.
SCRATCH_PREFIX = ".lines-tmp-"
#: Bytes read from a block at a time while merging (hundreds of blocks are read at once).
READ_CHUNK = 1 << 15
#: Bytes read at a time from a file of lines (see :func:`chunks`).
FILE_CHUNK = 1 << 20

#: The lines of a dataset: in memory (bytes) or in a file of the build's scratch folder.
Lines = bytes | Path


class Scratch:
    """A scratch folder for a build's files of lines: in ``parent`` (made if missing), or in
    the system's temporary folder; :meth:`close` removes it. Making one removes the scratch
    folders that builds no longer running left in ``parent``."""

    def __init__(self, parent: Path | None = None) -> None:
        from kgraph.publish import random_hex

        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(parent)
        self.path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-{random_hex(6)}-",
                                          dir=parent))
        self._processes: list = []  # what works in the folder (adopt)

    def file(self, name: str) -> Path:
        return self.path / name

    def adopt(self, process):
        """``process`` (a :class:`subprocess.Popen`) works in this folder: :meth:`close` stops
        it, if it still runs, before removing the folder. Returns it."""
        self._processes.append(process)
        return process

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _remove_stale(parent: Path) -> None:
    from kgraph.store import _pid_alive

    for entry in parent.glob(f"{SCRATCH_PREFIX}*"):
        head = entry.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        pid = int(head) if head.isdigit() else None
        if pid != os.getpid() and not _pid_alive(pid) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


class BlockFile:
    """The blocks of sorted lines of the parts of a dataset, appended to one file as they
    come: (the default graph?, the graph as ``<iri>`` or b"", where the block is)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "w+b")  # noqa: SIM115 -- closed by close()
        self._end = 0
        self.blocks: list[tuple[bool, bytes, int, int]] = []

    def add(self, graph: bytes, block: bytes) -> None:
        """A block of graph ``graph`` (b"": the default graph): sorted distinct lines, each ending in a line feed."""
        if not block:
            return
        self._fh.write(block)
        self.blocks.append((not graph, graph, self._end, len(block)))
        self._end += len(block)

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def lines(self, index: int) -> Iterator[bytes]:
        """The lines of block ``index`` (without line feeds), read a little at a time."""
        self._fh.flush()
        _, _, offset, size = self.blocks[index]
        fd, end, rest = self._fh.fileno(), offset + size, b""
        while offset < end:
            data = os.pread(fd, min(READ_CHUNK, end - offset), offset)
            if not data:
                raise OSError(f"{self.path} ends before its block does")
            offset += len(data)
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            yield from lines

    def close(self) -> None:
        self._fh.close()


def without_graph(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Quads' lines of a named graph as their triples' lines: a line ends in "<graph> ." (an
    IRI holds no space), and the order of a graph's lines stays (they all end the same way,
    and the space before the graph sorts first)."""
    return (line[:line.rindex(b" <")] + b" ." for line in lines)


def distinct(lines: Iterable[bytes]) -> Iterator[bytes]:
    """``lines`` (sorted) without repeats."""
    previous = None
    for line in lines:
        if line != previous:
            yield line
            previous = line


def write_lines(fh: BinaryIO, lines: Iterable[bytes]) -> int:
    """Write ``lines``, each with a line feed, to ``fh``; return how many."""
    count = 0
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        if len(batch) == 4096:
            fh.write(b"\n".join(batch) + b"\n")
            count += len(batch)
            batch.clear()
    if batch:
        fh.write(b"\n".join(batch) + b"\n")
        count += len(batch)
    return count


def write_text(fh: BinaryIO, pieces: Iterable[str], size: int = 1 << 20) -> None:
    """Write the text ``pieces`` to ``fh`` in UTF-8, about ``size`` characters at a time
    (a page or a JSON document made a piece at a time is never one string)."""
    batch: list[str] = []
    held = 0
    for piece in pieces:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            fh.write("".join(batch).encode("utf-8"))
            batch, held = [], 0
    fh.write("".join(batch).encode("utf-8"))


def merge(blocks: list[tuple[bool, bytes, Callable[[], Iterator[bytes]]]],
          quads: BinaryIO, default: BinaryIO, triples: BinaryIO, graph_major: BinaryIO | None = None) -> tuple[int, int]:
    """Merge the blocks of a dataset's parts, each (the default graph?, its graph, a function
    giving its lines), into the files of a :class:`kgraph.store.DatasetLines`: every
    distinct quad's line, the default graph's lines, every distinct triple's line and, if
    asked, the quads graph by graph (the default graph first, then the named graphs by IRI:
    what TriG is written from). Returns the number of quads and of triples."""
    count = write_lines(quads, distinct(heapq.merge(*(lines() for _, _, lines in blocks))))
    of_default = [lines for is_default, _, lines in blocks if is_default]
    write_lines(default, distinct(heapq.merge(*(lines() for lines in of_default))))
    triples_count = write_lines(triples, distinct(heapq.merge(
        *(lines() if is_default else without_graph(lines()) for is_default, _, lines in blocks))))
    if graph_major is not None:
        write_lines(graph_major, distinct(heapq.merge(*(lines() for lines in of_default))))
        graphs: dict[bytes, list[Callable[[], Iterator[bytes]]]] = {}
        for is_default, graph, lines in blocks:
            if not is_default:
                graphs.setdefault(graph, []).append(lines)
        for graph in sorted(graphs):  # "<iri>": kgraph.store.graph_key's order
            write_lines(graph_major, distinct(heapq.merge(*(lines() for lines in graphs[graph]))))
    return count, triples_count


# --------------------------------------------------------------------------- reading lines

def chunks(lines: Lines, size: int) -> Iterator[bytes]:
    """``lines`` (each ending in a line feed) in pieces of whole lines, each of at most
    ``size`` bytes unless one line is longer."""
    if isinstance(lines, bytes):
        yield from _byte_chunks(lines, size)
        return
    with open(lines, "rb") as fh:
        rest = b""  # a line not yet read to its end
        while data := fh.read(max(size, FILE_CHUNK)):
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            yield from _byte_chunks(data[:cut], size)
        if rest:
            yield rest


def _byte_chunks(lines: bytes, size: int) -> Iterator[bytes]:
    start, end = 0, len(lines)
    while start < end:
        stop = start + size
        if stop >= end:
            stop = end
        else:
            cut = lines.rfind(b"\n", start, stop)
            if cut < start:  # one line longer than size: the whole line
                cut = lines.find(b"\n", stop)
            stop = end if cut < 0 else cut + 1
        yield lines[start:stop]
        start = stop


def each_line(lines: Lines) -> Iterator[bytes]:
    """Each line of ``lines``, without its line feed."""
    for chunk in chunks(lines, FILE_CHUNK):
        yield from chunk[:-1].split(b"\n") if chunk.endswith(b"\n") else chunk.split(b"\n")


def count_lines(lines: Lines) -> int:
    return sum(chunk.count(b"\n") for chunk in chunks(lines, FILE_CHUNK))


def sha256(lines: Lines) -> str:
    digest = hashlib.sha256()
    for chunk in chunks(lines, FILE_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def read_all(lines: Lines) -> bytes:
    return lines if isinstance(lines, bytes) else lines.read_bytes()


def contains(lines: Lines, needle: bytes) -> bool:
    """Whether ``needle`` (which holds no line feed) is in ``lines``."""
    return any(needle in chunk for chunk in chunks(lines, FILE_CHUNK))


def parse_input(lines: Lines) -> dict:
    """The arguments of :func:`pyoxigraph.parse` that read ``lines``."""
    return {"input": lines} if isinstance(lines, bytes) else {"path": str(lines)}
