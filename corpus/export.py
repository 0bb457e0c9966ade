"""Export accepted transcripts as mlx-lm chat JSONL, split by year, at one length level.

Held-out years never leak into training, and twin problems (the same text twice) follow the
most held-out member: if any twin is in test, all of them are; a twin group gives one example.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill.problems.schema import Problem

from distill.errors import DistillError
from distill.io import atomic_write_json, atomic_write_jsonl

from .prompt import StudentPrompt
from .transcripts import Transcript, TranscriptStore

EXPORT_SCHEMA_VERSION = 1
SPLITS = ("train", "valid", "test")


def assign_splits(problems: Sequence[Problem], valid_years: set[int], test_years: set[int]) -> dict[str, str]:
    """problem id -> split, twins kept together on the most held-out side."""
    rank = {"train": 0, "valid": 1, "test": 2}

    def side(p: Problem) -> str:
        return "test" if p.year in test_years else "valid" if p.year in valid_years else "train"

    by_id = {p.id: p for p in problems}
    groups: dict[str, list[Problem]] = defaultdict(list)
    for p in problems:
        groups[p.group_key].append(p)
    out: dict[str, str] = {}
    for members in groups.values():
        sides = [side(p) for p in members] + [side(by_id[t]) for p in members for t in p.twins if t in by_id]
        chosen = max(sides, key=rank.__getitem__)
        for p in members:
            out[p.id] = chosen
    return out


def export_corpus(
    problems: Sequence[Problem],
    store: TranscriptStore,
    out_dir: Path,
    *,
    level: str = "R1",
    valid_years: Sequence[int] = (),
    test_years: Sequence[int] = (),
    seed: int = 0,
    prompts_dir=None,
) -> dict[str, Any]:
    if set(valid_years) & set(test_years):
        raise DistillError(f"years {sorted(set(valid_years) & set(test_years))} are in both --valid-years and --test-years")
    split_of = assign_splits(problems, set(valid_years), set(test_years))
    student = StudentPrompt.load(prompts_dir)
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    sources: dict[str, list[str]] = {s: [] for s in SPLITS}
    years: dict[str, set[int]] = {s: set() for s in SPLITS}
    templates: dict[str, str] = {}
    skipped: dict[str, int] = defaultdict(int)
    seen_groups: set[str] = set()
    words: dict[str, list[int]] = {s: [] for s in SPLITS}
    for p in sorted(problems, key=lambda q: q.id):
        t: Transcript | None = store.get(p.id)
        if t is None:
            skipped["not run"] += 1
            continue
        if t.status != "accepted":
            skipped[t.status] += 1
            continue
        if p.group_key in seen_groups:
            skipped["twin already exported"] += 1
            continue
        lt = store.get_level(p.id, level)
        text = lt.text if lt and lt.ok else (t.solution if level == "R1" else None)
        if not text:
            skipped[f"no {level} text"] += 1
            continue
        seen_groups.add(p.group_key)
        split = split_of[p.id]
        rows[split].append(student.example(p, text))
        sources[split].append(p.id)
        words[split].append(len(text.split()))
        if p.year is not None:
            years[split].add(p.year)
        templates.update(t.templates)
        if lt and lt.template_sha256:
            templates[f"levels/{level.lower()}"] = lt.template_sha256
    if not rows["train"]:
        raise DistillError(f"nothing to export for training at level {level} (accepted transcripts: none outside the held-out years)")
    order = list(range(len(rows["train"])))
    random.Random(seed).shuffle(order)
    rows["train"] = [rows["train"][i] for i in order]
    sources["train"] = [sources["train"][i] for i in order]
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in SPLITS:
        atomic_write_jsonl(out_dir / f"{s}.jsonl", rows[s])
    templates.update(student.hashes)
    manifest = {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "level": level,
        "seed": seed,
        "counts": {s: len(rows[s]) for s in SPLITS},
        "years": {s: sorted(years[s]) for s in SPLITS},
        "valid_years": sorted(valid_years),
        "test_years": sorted(test_years),
        "mean_words": {s: round(sum(w) / len(w), 1) if w else 0.0 for s, w in words.items()},
        "skipped": dict(skipped),
        "templates": templates,
        "transcripts": sources,
    }
    atomic_write_json(out_dir / "manifest.json", manifest)
    return manifest
