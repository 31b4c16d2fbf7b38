"""Where things are: a :class:`Project` holds every path and base IRI a run needs."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# Re-exported for the modules that still import them from here (query, serve, export and
# their tests); new code imports them from kgraph.prefixes, where they live.

DEFAULT_CORPUS = Path("..") / "shared" / "corpus"
#: The evidence priors (:mod:`kgraph.assess`): packaged with kgraph, overridden by data/'s.
PRIORS_FILE = "evidence-priors.yaml"


def packaged_ontology_dir() -> Path:
    """The ontology shipped with kgraph: inside the package for a wheel install, the
    repository's ``ontology/`` for an editable one."""
    packaged = Path(str(resources.files("kgraph") / "ontology"))
    if (packaged / "kgraph.ttl").is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "ontology"


@dataclass(frozen=True)
class Project:
    """Paths of one kgraph project; build it with :meth:`Project.at`."""

    root: Path
    data_dir: Path
    ontology_dir: Path
    out_dir: Path
    corpus_dir: Path | None = None
    #: True when the corpus directory was named by the user (then it must exist).
    corpus_explicit: bool = False

    @classmethod
    def at(
        cls,
        root: Path | str = ".",
        *,
        data_dir: Path | str | None = None,
        ontology_dir: Path | str | None = None,
        out_dir: Path | str | None = None,
        corpus_dir: Path | str | None = None,
    ) -> "Project":
        """Resolve the default layout below ``root``, overridden by explicit paths."""
        root = Path(root).resolve()
        ontology = Path(ontology_dir) if ontology_dir else root / "ontology"
        if ontology_dir is None and not (ontology / "kgraph.ttl").is_file():
            ontology = packaged_ontology_dir()
        if corpus_dir is not None:
            corpus, explicit = Path(corpus_dir), True
        else:
            corpus, explicit = (root / DEFAULT_CORPUS).resolve(), False
        return cls(
            root=root,
            data_dir=Path(data_dir) if data_dir else root / "data",
            ontology_dir=ontology,
            out_dir=Path(out_dir) if out_dir else root / "output",
            corpus_dir=corpus,
            corpus_explicit=explicit,
        )

    @property
    def ontology_file(self) -> Path:
        return self.ontology_dir / "kgraph.ttl"

    @property
    def shapes_file(self) -> Path:
        return self.ontology_dir / "shapes.ttl"

    @property
    def corpus_available(self) -> bool:
        return self.corpus_dir is not None and self.corpus_dir.is_dir()
