"""The workspace's problem set: one JSONL file, rewritten atomically, keyed by problem id."""

from __future__ import annotations

import json
import os
import weakref
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from distill.errors import DistillError
from distill.io import atomic_write_jsonl, lock_for, read_jsonl_records

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

    def select(self, keep: Callable[[Problem], bool] | None = None, *, by_id: bool = False) -> "StoredProblems":
        """The problems `keep` accepts (all without it), in file order (or by id), held as places in a snapshot
        of the file: ~16 bytes a problem instead of ~1.8 KB, read back each time the selection is iterated."""
        return StoredProblems.scan(self.path, keep, by_id=by_id)

    def by_id(self) -> dict[str, Problem]:
        return {p.id: p for p in self.load()}

    def get(self, problem_id: str) -> Problem:
        problems = self.by_id()
        if problem_id not in problems:
            raise DistillError(f"no problem with id {problem_id!r} in the workspace (see `distill problems list`)")
        return problems[problem_id]

    def merge(self, incoming: Iterable[Problem]) -> dict[str, int]:
        """Add or replace by id (re-importing the same files changes nothing), relink twins, write once; the read
        and the write hold the store's lock, so two imports at once into one workspace both keep their problems."""
        with lock_for(self.path):
            return self._merge(incoming)

    def _merge(self, incoming: Iterable[Problem]) -> dict[str, int]:
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


class _Snapshot:
    """The problem file as it was when selected: an open descriptor survives an atomic rewrite of the path,
    so a selection never mixes two versions of the file."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    def read(self, offset: int, length: int) -> Problem:
        return Problem.model_validate_json(self.read_raw(offset, length))

    def read_raw(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)


class StoredProblems(Sequence[Problem]):
    """A selection of the workspace's problems that costs ~16 bytes a problem: each is parsed again when
    read (a command over 100k problems holds their places, not 100k pydantic objects). Pickles as a list."""

    def __init__(self, snapshot: _Snapshot | None, offsets: array, lengths: array, by_id: bool = False):
        self._snap, self._offsets, self._lengths = snapshot, offsets, lengths
        self.by_id = by_id  # members in id order (sorting again costs nothing)
        self.scanned = 0  # problems in the file when it was scanned (0: no problem set yet)

    @classmethod
    def scan(cls, path: Path, keep: Callable[[Problem], bool] | None = None, *, by_id: bool = False) -> StoredProblems:
        from pydantic import ValidationError

        from distill.errors import validation_message

        offsets, lengths, ids = array("q"), array("q"), []
        if not Path(path).exists():
            return cls(None, offsets, lengths)
        snap = _Snapshot(Path(path))
        at = records = 0
        with os.fdopen(os.dup(snap.fd), "rb") as fh:
            for lineno, line in enumerate(fh, 1):
                here, at = at, at + len(line)
                if not line.strip():
                    continue
                try:
                    p = Problem.model_validate_json(line)
                except ValidationError as exc:
                    raise DistillError(f"not a problem record of this version of distill ({validation_message(exc)}); "
                                       "import the problems again into a new workspace", path=path, where=f"line {lineno}") from None
                records += 1
                if keep is None or keep(p):
                    offsets.append(here)
                    lengths.append(len(line))
                    if by_id:
                        ids.append(p.id)
        chosen = cls(snap, offsets, lengths)
        if by_id:
            chosen = chosen._take(sorted(range(len(ids)), key=ids.__getitem__), by_id=True)
        chosen.scanned = records
        return chosen

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, i: int) -> Problem: ...
    @overload
    def __getitem__(self, i: slice) -> StoredProblems: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return StoredProblems(self._snap, self._offsets[i], self._lengths[i], self.by_id and i.step in (None, 1))
        assert self._snap is not None or not self._offsets
        return self._snap.read(self._offsets[i], self._lengths[i])  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[Problem]:
        for raw in self.raw():
            yield Problem.model_validate_json(raw)

    def raw(self) -> Iterator[bytes]:
        """Each member's JSON line as stored, unparsed (for a worker process to parse)."""
        for off, n in zip(self._offsets, self._lengths):
            yield self._snap.read_raw(off, n)  # type: ignore[union-attr]

    def filter(self, keep: Callable[[Problem], bool]) -> StoredProblems:
        """The members `keep` accepts, in the same order (one pass, nothing held)."""
        return self.partition(keep)[0]

    def partition(self, *keeps: Callable[[Problem], bool]) -> tuple[StoredProblems, ...]:
        """One selection per predicate, in one pass (a problem may be in several)."""
        members: list[list[int]] = [[] for _ in keeps]
        for i, p in enumerate(self):
            for chosen, keep in zip(members, keeps):
                if keep(p):
                    chosen.append(i)
        return tuple(self._take(m, by_id=self.by_id) for m in members)

    def sorted_by_id(self) -> StoredProblems:
        return self if self.by_id else self._take(sorted(range(len(self)), key=[p.id for p in self].__getitem__), by_id=True)

    def pick(self, ids: Sequence[str]) -> StoredProblems:
        """These ids, in the order given; DistillError naming the unknown ones."""
        wanted = set(ids)
        place = {p.id: i for i, p in enumerate(self) if p.id in wanted}
        missing = [i for i in ids if i not in place]
        if missing:
            raise DistillError(f"unknown problem id(s): {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        return self._take([place[i] for i in ids])

    def _take(self, members: Sequence[int], by_id: bool = False) -> StoredProblems:
        return StoredProblems(self._snap, array("q", (self._offsets[i] for i in members)), array("q", (self._lengths[i] for i in members)),
                              by_id)

    def __reduce__(self):
        return (list, (list(self),))


def partition(problems: Sequence[Problem], *keeps: Callable[[Problem], bool]) -> tuple[Sequence[Problem], ...]:
    """The members each predicate accepts: one pass over a StoredProblems (which stay selections, nothing held),
    lists from anything else."""
    if isinstance(problems, StoredProblems):
        return problems.partition(*keeps)
    return tuple([p for p in problems if keep(p)] for keep in keeps)


def sorted_by_id(problems: Sequence[Problem]) -> Sequence[Problem]:
    return problems.sorted_by_id() if isinstance(problems, StoredProblems) else sorted(problems, key=lambda q: q.id)
