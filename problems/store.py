"""The workspace's problem set: one JSONL file, rewritten atomically, keyed by problem id."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import atomic_write_jsonl, read_jsonl_records

from .schema import Problem, normalise_text


class ProblemStore:
    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> list[Problem]:
        return list(self.iter())

    def iter(self) -> Iterator[Problem]:
        """The problems one at a time, in file order (a command that aggregates needs no list of 100k)."""
        if not self.path.exists():
            return
        for _, p in read_jsonl_records(self.path, Problem, "a problem record", "import the problems again into a new workspace"):
            yield p

    def by_id(self) -> dict[str, Problem]:
        return {p.id: p for p in self.load()}

    def get(self, problem_id: str) -> Problem:
        problems = self.by_id()
        if problem_id not in problems:
            raise DistillError(f"no problem with id {problem_id!r} in the workspace (see `distill problems list`)")
        return problems[problem_id]

    def merge(self, incoming: Iterable[Problem]) -> dict[str, int]:
        """Add or replace by id (re-importing the same files changes nothing), relink twins, write once."""
        current = self.by_id()
        added = updated = unchanged = 0
        for prob in incoming:
            old = current.get(prob.id)
            if old is None:
                added += 1
            elif old.model_dump(exclude={"twins"}) == prob.model_dump(exclude={"twins"}):
                unchanged += 1
            else:
                updated += 1
            current[prob.id] = prob
        linked = link_twins(current.values())
        atomic_write_jsonl(self.path, (p.model_dump(mode="json") for p in sorted(linked, key=_sort_key)))
        return {"added": added, "updated": updated, "unchanged": unchanged, "total": len(linked)}


def _sort_key(p: Problem) -> tuple[Any, ...]:
    return (p.source, p.year or 0, p.section or "", p.number or 0, p.id)


def link_twins(problems: Iterable[Problem]) -> list[Problem]:
    """Problems with the same normalised text in one source are twins of each other."""
    groups: dict[tuple[str, str], list[Problem]] = defaultdict(list)
    plist = list(problems)
    for p in plist:
        if "placeholder_text" not in p.flags:  # two placeholders are not the same problem
            groups[(p.source, normalise_text(p.text))].append(p)
    out = []
    for p in plist:
        group = groups.get((p.source, normalise_text(p.text)), [p])
        twins = sorted(q.id for q in group if q.id != p.id)
        out.append(p if twins == p.twins else p.model_copy(update={"twins": twins}))
    return out


def problem_stats(problems: list[Problem]) -> dict[str, Any]:
    seen: Counter[tuple[str, str]] = Counter((p.source, normalise_text(p.text)) for p in problems if "placeholder_text" not in p.flags)
    return {
        "total": len(problems),
        "by_source": dict(sorted(Counter(p.source for p in problems).items())),
        "by_year": dict(sorted(Counter(str(p.year) for p in problems if p.year is not None).items())),
        "by_section": dict(sorted(Counter(p.section for p in problems if p.section).items())),
        # extra copies beyond the first of each repeated text (twins)
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "duplicate_groups": sum(1 for n in seen.values() if n > 1),
        "missing_answer": sum(1 for p in problems if "missing_answer" in p.flags),
        "placeholder_text": sum(1 for p in problems if "placeholder_text" in p.flags),
        "usable": sum(1 for p in problems if p.usable),
    }


def dumps_problem(p: Problem) -> str:
    return json.dumps(p.model_dump(mode="json"), ensure_ascii=False, indent=2)
