"""Export accepted transcripts as mlx-lm chat JSONL, split by year, at one length level.

Held-out years never leak into training, and twin problems (the same text twice) follow the
most held-out member: if any twin is in test, all of them are; a twin group gives one example.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import atomic_write_jsonl, write_record
from distill.problems.schema import Problem

from .decontaminate import DEFAULT_N, DEFAULT_THRESHOLD, find_contamination
from .manifest import Decontamination, ExportManifest, PassRateReport, TokenReport
from .prompt import StudentPrompt
from .samples import problem_samples
from .transcripts import Transcript, TranscriptStore

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


def trace_text(t: Transcript) -> str | None:
    """The R1-distilled format: the Solver's reasoning verbatim in <think>, then the checked stepwise solution."""
    if not t.thought or not t.solution:
        return None
    return f"<think>\n{t.thought}\n</think>\n\n{t.solution}"


def token_counter(tokenizer: str | None) -> tuple[Callable[[str], int], str]:
    """Exact counts with a model's tokenizer, else an estimate (4 characters a token)."""
    if tokenizer:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer)
        return (lambda text: len(tok.encode(text))), f"tokenizer {tokenizer}"
    return (lambda text: (len(text) + 3) // 4), "estimated (4 characters a token; pass --tokenizer for exact counts)"


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
    pick: str = "first",
    min_pass_rate: float | None = None,
    max_pass_rate: float | None = None,
    evaluation: Sequence[Problem] = (),
    keep_contaminated: bool = False,
    ngram: int = DEFAULT_N,
    overlap: float = DEFAULT_THRESHOLD,
    max_seq_length: int = 2048,
    tokenizer: str | None = None,
    fmt: str = "mlx",
) -> dict[str, Any]:
    """Export one level (R1..R6, or `trace`) by year. `pick` chooses among verified samples for R1 and
    trace; training problems that overlap `evaluation` (or the test years) are left out unless kept."""
    if set(valid_years) & set(test_years):
        raise DistillError(f"years {sorted(set(valid_years) & set(test_years))} are in both --valid-years and --test-years")
    split_of = assign_splits(problems, set(valid_years), set(test_years))
    held_out = [p for p in problems if split_of[p.id] == "test"] + [e for e in evaluation if e.id not in split_of]
    trainable = [p for p in problems if split_of[p.id] != "test"]
    contaminated = {c.problem_id: c for c in find_contamination(trainable, held_out, n=ngram, threshold=overlap)}
    count_tokens, token_note = token_counter(tokenizer)
    student = StudentPrompt.load(prompts_dir)
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    sources: dict[str, list[str]] = {s: [] for s in SPLITS}
    years: dict[str, set[int]] = {s: set() for s in SPLITS}
    words: dict[str, list[int]] = {s: [] for s in SPLITS}
    tokens: list[int] = []
    meta: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}  # per example: what the HF columns hold
    templates: dict[str, str] = {}
    skipped: dict[str, int] = defaultdict(int)
    pass_rates: dict[str, float | None] = {}
    seen_groups: set[str] = set()
    for p in sorted(problems, key=lambda q: q.id):
        ps = problem_samples(store, p.id)
        pass_rates[p.id] = ps.pass_rate
        chosen = ps.pick(pick)  # type: ignore[arg-type]
        if not chosen:
            skipped["not accepted" if ps.decided or store.get(p.id) else "not run"] += 1
            continue
        if p.group_key in seen_groups:
            skipped["twin already exported"] += 1
            continue
        if p.id in contaminated and split_of[p.id] != "test" and not keep_contaminated:
            skipped["overlaps an evaluation problem"] += 1
            continue
        rate = ps.pass_rate
        if rate is not None and ((min_pass_rate is not None and rate < min_pass_rate) or (max_pass_rate is not None and rate > max_pass_rate)):
            skipped["pass rate outside the asked range"] += 1
            continue
        texts = _level_texts(store, p.id, level, chosen, skipped, templates)
        if not texts:
            continue
        seen_groups.add(p.group_key)
        split = split_of[p.id]
        for text in texts:
            rows[split].append(student.example(p, text))
            sources[split].append(p.id)
            words[split].append(len(text.split()))
            tokens.append(count_tokens(text))
            meta[split].append({"problem_id": p.id, "year": p.year, "level": level, "pass_rate": ps.pass_rate,
                                "words": words[split][-1], "tokens": tokens[-1]})
        if p.year is not None:
            years[split].add(p.year)
        templates.update(chosen[0].templates)
    if not rows["train"]:
        why = ", ".join(f"{k} {v}" for k, v in skipped.items()) or "no accepted transcripts outside the held-out years"
        raise DistillError(f"nothing to export for training at level {level} (skipped: {why})")
    order = list(range(len(rows["train"])))
    random.Random(seed).shuffle(order)
    rows["train"] = [rows["train"][i] for i in order]
    sources["train"] = [sources["train"][i] for i in order]
    meta["train"] = [meta["train"][i] for i in order]
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "mlx":
        for s in SPLITS:
            atomic_write_jsonl(out_dir / f"{s}.jsonl", rows[s])
    templates.update(student.hashes)
    rates = [r for r in pass_rates.values() if r is not None]
    record = ExportManifest(
        level=level, pick=pick, seed=seed,
        counts={s: len(rows[s]) for s in SPLITS},
        years={s: sorted(years[s]) for s in SPLITS},
        valid_years=sorted(valid_years), test_years=sorted(test_years),
        mean_words={s: round(sum(w) / len(w), 1) if w else 0.0 for s, w in words.items()},
        tokens=TokenReport(counted_by=token_note, max=max(tokens, default=0), mean=round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
                           max_seq_length=max_seq_length, over_max_seq_length=sum(t > max_seq_length for t in tokens)),
        level_words=_level_words(store, problems, level, skipped),
        pass_rate=PassRateReport(filter=[min_pass_rate, max_pass_rate], mean=round(sum(rates) / len(rates), 3) if rates else None),
        decontamination=Decontamination(ngram=ngram, threshold=overlap, evaluation_problems=len(held_out),
                                        flagged=list(contaminated.values()), excluded=not keep_contaminated),
        skipped=dict(skipped), templates=templates, transcripts=sources,
    )
    write_record(out_dir / "manifest.json", record)
    manifest = record.model_dump(mode="json")
    if fmt == "hf":
        from .hf import write_hf

        write_hf(out_dir, rows, meta, manifest)
    return manifest


def _level_words(store: TranscriptStore, problems: Sequence[Problem], level: str, skipped: dict[str, int]) -> dict[str, Any]:
    """Target vs achieved words for a restated level, and how many texts missed their band."""
    if level in ("R1", "trace"):
        return {"target": None, "off_target": 0}
    texts = [lt for p in problems if (lt := store.get_level(p.id, level)) is not None]
    ok = [lt.words for lt in texts if lt.ok]
    targets = [lt.target_words for lt in texts if lt.target_words]
    return {"target": targets[0] if targets else None, "achieved_mean": round(sum(ok) / len(ok), 1) if ok else None,
            "off_target": skipped.get("off target", 0)}


def _level_texts(store: TranscriptStore, pid: str, level: str, chosen: list[Transcript], skipped: dict[str, int],
                 templates: dict[str, str]) -> list[str]:
    """The assistant texts of one problem at `level`: one per chosen sample for R1 and trace, the stored
    restatement for R2..R6 (left out when it failed or missed its word band)."""
    if level == "R1":
        return [t.solution for t in chosen if t.solution]
    if level == "trace":
        texts = [x for t in chosen if (x := trace_text(t))]
        if not texts:
            skipped["no Solver reasoning for trace"] += 1
        return texts
    lt = store.get_level(pid, level)
    if lt is None or not lt.ok or not lt.text:
        skipped["off target" if lt is not None and lt.off_target else f"no {level} text"] += 1
        return []
    if lt.template_sha256:
        templates[f"levels/{level.lower()}"] = lt.template_sha256
    return [lt.text]
