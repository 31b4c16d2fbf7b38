"""Files shipped for the pages: kgraph's templates and the vis-network library from pyvis.

Both are package data read through :mod:`importlib.resources` (so they work from a wheel
or a zip) and read once per process: the page writer and the server share them.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from kgraph.errors import KgraphError

#: The vis-network build inside the pyvis package.
VIS_DIR = ("lib", "vis-9.1.2")


class AssetMissing(KgraphError):
    """A file the pages need is not installed."""


@functools.lru_cache(maxsize=None)
def template(name: str) -> str:
    """A template or script shipped in ``kgraph/templates`` (package data, read once)."""
    return (resources.files("kgraph") / "templates" / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def vis_asset(name: str) -> str:
    """vis-network's script or style sheet, read (once) from the installed pyvis package."""
    path = resources.files("pyvis").joinpath(*VIS_DIR, name)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise AssetMissing(f"vis-network not found in the installed pyvis: {path}",
                           "Reinstall kgraph's dependencies: pip install 'pyvis>=0.3.2,<0.4'.") from exc
    # The source map is not shipped; its comment would only make developer tools look for it.
    return re.sub(r"\s*//# sourceMappingURL=\S*\s*$", "\n", text)
