"""The demo's world: sums of three one-digit numbers, written for this project, sized for a tiny student.

Each drill has a solution at six lengths. The long levels spell out the partial sum (R1-R4), the
short ones skip it (R5 writes the whole sum at once, R6 only its value): the study's question of
whether a chain of thought helps, in miniature. The recorded teacher answers with these texts and
the demo's level templates state their word counts, so every level falls inside its band.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

SECTIONS = ("freshman_sophomore_test", "junior_senior_test", "two_person_speed_event")
# (first year, problems) per split; the test year is large enough for a rate to mean something.
YEARS = {"train": (2004, 4, 60), "valid": (2008, 1, 30), "test": (2009, 1, 40)}

PHRASES = (
    "What is {a} + {b} + {c}?",
    "Find the sum of {a}, {b} and {c}.",
    "How much is {a} plus {b} plus {c}?",
)
# Parses every phrasing above back into its three numbers (the recorded teacher reads problems with it).
# Each phrasing has at most eight words, so two drills share an 8-gram only when they are the same
# sum (decontamination would rightly drop a training drill that shares most of its text with a test one).
PATTERN = re.compile(r"(?:What is (\d) \+ (\d) \+ (\d)\?|Find the sum of (\d), (\d) and (\d)\.|How much is (\d) plus (\d) plus (\d)\?)")


@dataclass(frozen=True)
class Drill:
    a: int
    b: int
    c: int

    @property
    def partial(self) -> int:
        return self.a + self.b

    @property
    def answer(self) -> int:
        return self.a + self.b + self.c

    def steps(self, level: int) -> list[str]:
        """The solution's steps at length level R`level` (1 longest .. 6 shortest)."""
        a, b, c, p, s = self.a, self.b, self.c, self.partial, self.answer
        add_two, add_third = f"{a} + {b} = {p}.", f"{p} + {c} = {s}."
        return {
            1: [f"The three numbers are {a}, {b} and {c}.", f"First add the first two numbers: {add_two}",
                f"Then add the third number to that partial sum: {add_third}", f"So the sum of the three numbers is {s}."],
            2: [f"The numbers are {a}, {b} and {c}.", f"Add the first two: {add_two}", f"Add the third: {add_third}"],
            3: [f"First {add_two}", f"Then {add_third}"],
            4: [add_two, add_third],
            5: [f"{a} + {b} + {c} = {s}."],
            6: [f"The sum is {s}."],
        }[level]

    def solution(self, level: int = 1) -> str:
        lines = [f"Step {i}: {s}" for i, s in enumerate(self.steps(level), 1)]
        return "\n".join([*lines, f"Final answer: \\boxed{{{self.answer}}}"])


def parse_drill(text: str) -> Drill | None:
    m = PATTERN.search(text)
    if not m:
        return None
    a, b, c = (int(g) for g in m.groups() if g is not None)
    return Drill(a, b, c)


def level_words() -> dict[str, float]:
    """Mean words of each level's text over every drill: the demo's level templates state these."""
    drills = [Drill(a, b, c) for a in range(10) for b in range(10) for c in range(10)]
    return {f"R{k}": sum(len(d.solution(k).split()) for d in drills) / len(drills) for k in range(1, 7)}


def drill_years(seed: int = 0) -> dict[int, dict[str, dict[str, dict[str, str]]]]:
    """Every demo year in the O'Bryan per-year format, no drill repeated across years (no leak between splits)."""
    rng = random.Random(seed)
    triples = [(a, b, c) for a in range(1, 10) for b in range(1, 10) for c in range(1, 10)]
    rng.shuffle(triples)
    years: dict[int, dict[str, dict[str, dict[str, str]]]] = {}
    pos = 0
    for first, count, per_year in YEARS.values():
        for year in range(first, first + count):
            doc: dict[str, dict[str, dict[str, str]]] = {s: {} for s in SECTIONS}
            for i in range(per_year):
                a, b, c = triples[pos]
                pos += 1
                section = SECTIONS[i % len(SECTIONS)]
                q = len(doc[section]) + 1
                doc[section][f"question_{q}"] = {"question": PHRASES[rng.randrange(len(PHRASES))].format(a=a, b=b, c=c), "answer": str(a + b + c)}
            years[year] = doc
    return years


def split_years() -> dict[str, str]:
    """The study's [split] for the drill years: `2004-2007`, `2008`, `2009`."""
    return {name: f"{first}-{first + count - 1}" if count > 1 else str(first) for name, (first, count, _) in YEARS.items()}


def write_drills(folder: Path, seed: int = 0) -> list[Path]:
    """Write the drill years as YEAR.json (unchanged files are left alone, so a rerun's import is a no-op)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for year, doc in drill_years(seed).items():
        path = folder / f"{year}.json"
        text = json.dumps(doc, indent=2) + "\n"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(path)
    return paths
