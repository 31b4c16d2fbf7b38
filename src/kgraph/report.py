"""What checking the data finds: :class:`Problem` (one finding) and :class:`Report` (all of them).

Loading (:mod:`kgraph.load`), the checks (:mod:`kgraph.validate`) and the SHACL shapes
(:mod:`kgraph.shapes`) all report through these; none of them imports another for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kgraph.model import Location


@dataclass(frozen=True)
class Problem:
    """One finding: ``level`` is "error" (blocks the build) or "warning"; ``code`` names the check."""

    level: str
    where: Location | str
    message: str
    hint: str = ""
    #: what was checked, stable across releases (e.g. "quote-not-found"), for filtering and tests
    code: str = field(kw_only=True)

    def __str__(self) -> str:
        text = f"{self.where}: {self.level}: {self.message}"
        return f"{text} -- {self.hint}" if self.hint else text


@dataclass
class Report:
    """The problems found, in a stable order (file, line)."""

    problems: list[Problem] = field(default_factory=list)
    quotes_checked: int = 0
    quotes_grounded: int = 0

    def extend(self, problems) -> None:
        self.problems.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.sorted() if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.sorted() if p.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def sorted(self) -> list[Problem]:
        def key(p: Problem):
            where = p.where
            path = getattr(where, "path", str(where))
            line = getattr(where, "line", None) or 0
            # a file that cannot be read is the cause of what follows: it comes first
            return (p.code != "unreadable-yaml", path, line, p.message)

        return sorted(self.problems, key=key)
