"""The incremental build against a build from nothing, side by side in one run.

    python benchmarks/incremental_bench.py [--size 10] [--keep]

On size-K synthetic data (benchmarks/scale_bench.py's generator): a first build (empty
cache), the same build again with nothing changed (`up to date`), a build after one claims
file is edited (one claim's note), and the same edited data built with --no-cache into
another folder. Prints wall and CPU time and peak RSS of each (`kgraph build` as a user
runs it, interpreter start included), the steps' times, and whether the incremental build
wrote the same bytes as the build from nothing.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_bench import _read, _write, generate, table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


#: runs one command and prints its peak RSS (a fresh process: RUSAGE_CHILDREN is that command's alone)
_PEAK = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(done.returncode)")


def kgraph_build(root: Path, out: str, *extra: str) -> list[str]:
    """One `kgraph build`: [wall, CPU, peak RSS, first line of its output]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "kgraph", "build",
                           "--data", str(root / "data"), "--corpus", str(root / "corpus"),
                           "--ontology", str(REPO / "ontology"), "--out", str(root / out), "--quiet", *extra],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"build failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return [f"{wall:.1f}", f"{cpu:.1f}", f"{peak_kb / 1024:.0f}", done.stdout.splitlines()[0][:70]]


def edit_one_note(root: Path) -> Path:
    """Give the first claim of one claims file a new curator's note (one changed claim)."""
    files = sorted((root / "data" / "claims").glob("*.yaml"))
    path = files[len(files) // 2]
    doc = _read(path)
    doc["claims"][0]["note"] = "edited for the incremental benchmark."
    _write(path, doc)
    return path


def same_files(a: Path, b: Path) -> list[str]:
    names = sorted(p.name for p in (a / ".current").iterdir() if p.is_file())
    return [n for n in names if not filecmp.cmp(a / ".current" / n, b / ".current" / n, shallow=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10, help="K: K times the corpus (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix=f"kgraph-incremental-x{args.size}-"))
    try:
        counts = generate(args.size, root)
        rows = [["first build (empty cache)", *kgraph_build(root, "output")],
                ["again, nothing changed", *kgraph_build(root, "output")]]
        edited = edit_one_note(root)
        rows.append([f"after editing {edited.name}", *kgraph_build(root, "output")])
        rows.append(["the same, --no-cache (another folder)", *kgraph_build(root, "full", "--no-cache")])
        table(f"x{args.size}: {counts['claims']} claims, {counts['documents']} documents",
              ["build", "wall s", "CPU s", "peak RSS MB", "says"], rows)
        differ = same_files(root / "output", root / "full")
        print(f"files that differ between the incremental build and the build from nothing: {differ or 'none'}")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
