"""Choosing problems: year ranges, sections, ids. The one selector every stage uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from distill.errors import DistillError

from .schema import Problem


def years_of(spec: str) -> list[int]:
    """`2019`, `2011-2020`, `2011,2013,2020-2022` -> sorted years; ValueError saying what is wrong."""
    years: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a:
                    raise ValueError(f"year range {part!r} runs backwards; write {b}-{a}")
                years.update(range(a, b + 1))
            else:
                years.add(int(part))
        except ValueError as exc:
            if "backwards" in str(exc):
                raise
            raise ValueError(f"bad year range {part!r}; expected e.g. 2019 or 2011-2020") from None
    if not years:
        raise ValueError("no years given; expected e.g. 2019 or 2011-2020")
    return sorted(years)


def parse_years(spec: str) -> list[int]:
    """years_of for command-line values: a one-line DistillError."""
    try:
        return years_of(spec)
    except ValueError as exc:
        raise DistillError(str(exc)) from None


def section_matches(problem: Problem, section: str) -> bool:
    """`junior` matches `junior_senior_test`; a full section name matches itself."""
    return problem.section == section or (problem.section or "").split("_")[0] == section


@dataclass(frozen=True)
class Selector:
    """Which problems: by source, years, section, ids; `usable_only` drops problems without a real key."""

    source: str | None = None
    years: frozenset[int] | None = None
    section: str | None = None
    ids: tuple[str, ...] | None = None
    usable_only: bool = False

    def __call__(self, problems: Iterable[Problem]) -> list[Problem]:
        plist = list(problems)
        if self.ids is not None:
            by_id = {p.id: p for p in plist}
            missing = [i for i in self.ids if i not in by_id]
            if missing:
                raise DistillError(f"unknown problem id(s): {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
            plist = [by_id[i] for i in self.ids]
        if self.source and plist and not any(p.source == self.source for p in plist):
            known = sorted({p.source for p in plist})
            raise DistillError(f"unknown source {self.source!r}; the workspace holds {', '.join(known)}")
        return [p for p in plist if self.keeps(p)]

    def keeps(self, p: Problem) -> bool:
        if self.source and p.source != self.source:
            return False
        if self.years is not None and p.year not in self.years:
            return False
        if self.section and not section_matches(p, self.section):
            return False
        return not (self.usable_only and not p.usable)


def filter_problems(problems: Iterable[Problem], *, source: str | None = None, years: Iterable[int] | None = None,
                    section: str | None = None) -> list[Problem]:
    return Selector(source=source, years=frozenset(years) if years is not None else None, section=section)(problems)
