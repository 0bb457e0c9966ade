"""Export accepted transcripts as mlx-lm chat JSONL, split by year, at one length level.

Held-out years never leak into training, and twin problems (the same text twice) follow the
most held-out member: if any twin is in test, all of them are; a twin group gives one example.
"""

from __future__ import annotations

import itertools
import random
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import JsonlSpool, atomic_write_lines, write_record
from distill.problems.schema import Problem
from distill.problems.store import partition, sorted_by_id

from distill.grading.version import grader_version

from .recheck import is_stale
from .decontaminate import DEFAULT_N, DEFAULT_THRESHOLD, Contamination, find_contamination
from .manifest import Decontamination, ExportManifest, PassRateReport, TokenReport
from .prompt import StudentPrompt
from .samples import ProblemSamples, problem_samples
from .transcripts import Transcript, TranscriptStore, WrongRewrite

SPLITS = ("train", "valid", "test")
EMPTY_WHY = {"valid": "no accepted transcripts in --valid-years (or none given)", "test": "no --test-years given"}
ESTIMATE_NOTE = "estimated (4 characters a token; pass --tokenizer for exact counts)"


def assign_splits(problems: Iterable[Problem], valid_years: set[int], test_years: set[int]) -> dict[str, str]:
    """problem id -> split, twins kept together on the most held-out side (one pass; only twins are remembered)."""
    rank = {"train": 0, "valid": 1, "test": 2}

    def side(p: Problem) -> str:
        return "test" if p.year in test_years else "valid" if p.year in valid_years else "train"

    out: dict[str, str] = {}
    groups: dict[str, list[str]] = defaultdict(list)  # group key -> member ids, for problems with twins
    twins: dict[str, tuple[str, list[str]]] = {}  # id -> its own side and its twins, for problems with twins
    for p in problems:
        out[p.id] = side(p)
        if p.twins:
            groups[p.group_key].append(p.id)
            twins[p.id] = (out[p.id], p.twins)
    def raw(pid: str) -> str:
        return twins[pid][0] if pid in twins else out[pid]

    for key, members in groups.items():
        if key in out and key not in twins:  # a problem named as a twin that names none itself still joins its group
            members = [*members, key]
        sides = [raw(m) for m in members] + [raw(t) for m in members if m in twins for t in twins[m][1] if t in out]
        chosen = max(sides, key=rank.__getitem__)
        for m in members:
            out[m] = chosen
    return out


def trace_text(t: Transcript) -> str | None:
    """The R1-distilled format: the Solver's reasoning verbatim in <think>, then the checked stepwise solution."""
    if not t.thought or not t.solution:
        return None
    return f"<think>\n{t.thought}\n</think>\n\n{t.solution}"


@lru_cache(maxsize=4)
def token_counter(tokenizer: str | None) -> tuple[Callable[[str], int], str]:
    """Exact counts with a model's tokenizer, else an estimate (4 characters a token)."""
    if tokenizer:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(tokenizer)
        except Exception as exc:  # a file, an empty folder, a model without a tokenizer: the library raises many kinds
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise DistillError(f"--tokenizer {tokenizer}: not a tokenizer ({first})") from None
        return (lambda text: len(tok.encode(text))), f"tokenizer {tokenizer}"
    return (lambda text: (len(text) + 3) // 4), ESTIMATE_NOTE


@dataclass(frozen=True)
class ExportOptions:
    """How one level is exported (the options of `distill corpus export`)."""

    level: str = "R1"
    valid_years: Sequence[int] = ()
    test_years: Sequence[int] = ()
    seed: int = 0
    prompts_dir: Path | None = None
    pick: str = "first"
    min_pass_rate: float | None = None
    max_pass_rate: float | None = None
    keep_contaminated: bool = False
    ngram: int = DEFAULT_N
    overlap: float = DEFAULT_THRESHOLD
    max_seq_length: int = 2048
    tokenizer: str | None = None
    fmt: str = "mlx"
    license: str | None = None  # the dataset card's license field (--format hf)
    prefer_shorter: bool = False  # --format dpo: also prefer the shortest verified sample over the longest
    pair_form: str = "solver"  # --format dpo: both sides the Solver's replies (solver) or the Formatter's rewrites (formatted)


@dataclass
class ContaminationCheck:
    flagged: list[Contamination]
    training_problems: int
    evaluation_problems: int
    split_of: dict[str, str] = field(default_factory=dict)  # problem id -> train/valid/test (twins together)


def check_contamination(problems: Sequence[Problem], evaluation: Sequence[Problem], valid_years: Sequence[int], test_years: Sequence[int],
                        *, ngram: int = DEFAULT_N, overlap: float = DEFAULT_THRESHOLD) -> ContaminationCheck:
    """Training candidates (the train split of `problems`) against every problem not trained on: the
    `evaluation` problems and the valid/test splits. `corpus export` and `corpus decontaminate` both ask this."""
    split_of = assign_splits(problems, set(valid_years), set(test_years))
    train, own_held = partition(problems, lambda p: split_of[p.id] == "train", lambda p: split_of[p.id] != "train")
    held: set[str] = set()
    found = find_contamination(train, _held(itertools.chain(evaluation, own_held), held), n=ngram, threshold=overlap)
    return ContaminationCheck(found, len(train), len(held), split_of)


def _held(problems: Iterable[Problem], seen: set[str]) -> Iterator[Problem]:
    """Each id once (into `seen`), read as needed."""
    for p in problems:
        if p.id not in seen:
            seen.add(p.id)
            yield p


@dataclass
class Examples:
    """What one export writes, per split: the chat rows and their metadata (spooled to disk as they come:
    a 100k-row export holds their places, not the rows), their problems, words and token counts."""

    rows: dict[str, JsonlSpool] = field(default_factory=lambda: {s: JsonlSpool() for s in SPLITS})
    meta: dict[str, JsonlSpool] = field(default_factory=lambda: {s: JsonlSpool() for s in SPLITS})
    sources: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    years: dict[str, set[int]] = field(default_factory=lambda: {s: set() for s in SPLITS})
    words: dict[str, array] = field(default_factory=lambda: {s: array("q") for s in SPLITS})
    tokens: array = field(default_factory=lambda: array("q"))
    templates: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pass_rates: list[float] = field(default_factory=list)  # of the problems considered that have one (for the mean)
    models: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # role -> the models that produced the data
    pairs: dict[str, int] = field(default_factory=dict)  # --format dpo: pairs of each kind
    pairs_dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # --format dpo: candidate pairs left out, by why
    train_order: list[int] | None = None  # the shuffle: train rows are written in this order
    keep_meta: bool = False  # per-row metadata is written only by --format hf

    by_level: dict[str, dict[str, int]] = field(default_factory=lambda: {s: defaultdict(int) for s in SPLITS})
    level_word_sums: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    assigned: dict[str, int] | None = None  # a mix: problems drawn for each level, before any was left out

    def add(self, split: str, row: dict[str, Any], meta: dict[str, Any], words: int, tokens: int) -> None:
        self.rows[split].add(row)
        self.sources[split].append(meta["problem_id"])
        self.words[split].append(words)
        self.tokens.append(tokens)
        if self.keep_meta:
            self.meta[split].add({**meta, "words": words, "tokens": tokens})

    def shuffle_train(self, seed: int) -> None:
        order = list(range(len(self.rows["train"])))
        random.Random(seed).shuffle(order)
        self.train_order = order
        self.sources["train"] = [self.sources["train"][i] for i in order]

    def order(self, split: str) -> list[int] | None:
        return self.train_order if split == "train" else None

    def close(self) -> None:
        for spool in (*self.rows.values(), *self.meta.values()):
            spool.close()


def export_corpus(problems: Sequence[Problem], store: TranscriptStore, out_dir: Path, options: ExportOptions = ExportOptions(), *,
                  evaluation: Sequence[Problem] = ()) -> ExportManifest:
    """Export one level (R1..R6, or `trace`) by year: select, build the examples, write them and the manifest."""
    o = options
    if set(o.valid_years) & set(o.test_years):
        raise DistillError(f"years {sorted(set(o.valid_years) & set(o.test_years))} are in both --valid-years and --test-years")
    check = check_contamination(problems, evaluation, o.valid_years, o.test_years, ngram=o.ngram, overlap=o.overlap)
    build = _build_pairs if o.fmt == "dpo" else _build_examples
    ex = build(problems, store, o, {c.problem_id for c in check.flagged}, check.split_of)
    try:
        if not ex.rows["train"]:
            why = ", ".join(f"{k} {v}" for k, v in ex.skipped.items()) or "no accepted transcripts outside the held-out years"
            what = "preference pairs" if o.fmt == "dpo" else f"training at level {o.level}"
            raise DistillError(f"nothing to export for {what} (skipped: {why})")
        ex.shuffle_train(o.seed)
        return _write_export(out_dir, ex, o, check, _level_words(store, problems, o.level, ex.skipped))
    finally:
        ex.close()  # the spooled rows' temporary files


def _candidates(problems: Sequence[Problem], store: TranscriptStore, o: ExportOptions, contaminated: set[str], split_of: dict[str, str],
                ex: Examples, seen_groups: set[str]) -> Iterator[tuple[Problem, ProblemSamples, list[Transcript], str]]:
    """(problem, its samples, the chosen verified ones, its split) for every problem an export may use;
    the rest are counted in `ex.skipped` (held-out years without transcripts are not a gap)."""
    for p in sorted_by_id(problems):
        ps = problem_samples(store, p.id)
        if ps.pass_rate is not None:
            ex.pass_rates.append(ps.pass_rate)
        chosen = ps.pick(o.pick)  # type: ignore[arg-type]
        reason = _skip_reason(p, ps, chosen, store, seen_groups, contaminated, o)
        if reason == "not run" and split_of[p.id] == "test":
            continue
        if reason:
            ex.skipped[reason] += 1
            continue
        yield p, ps, chosen, split_of[p.id]


def _note_used(ex: Examples, p: Problem, split: str, transcripts: Sequence[Transcript]) -> None:
    """A problem went into `split`: its year, and the models that produced its transcripts."""
    if p.year is not None:
        ex.years[split].add(p.year)
    for t in transcripts:
        for role, desc in t.models.items():
            ex.models[role].add(str(desc.get("model")))


def _build_examples(problems: Sequence[Problem], store: TranscriptStore, o: ExportOptions, contaminated: set[str],
                    split_of: dict[str, str]) -> Examples:
    from .level_mix import assign_levels, parse_level_spec

    spec = parse_level_spec(o.level)
    count_tokens, _ = token_counter(o.tokenizer)
    student = StudentPrompt.load(o.prompts_dir, level_instruction=spec.conditioned)
    ex, seen_groups = Examples(keep_meta=o.fmt == "hf"), set()
    candidates = list(_candidates(problems, store, o, contaminated, split_of, ex, seen_groups))
    assigned: dict[str, str] = {}
    if spec.kind == "mix":  # each split drawn by the shares on its own, so valid mixes like train does
        for split in SPLITS:
            assigned.update(assign_levels([p.id for p, _, _, sp in candidates if sp == split], spec, o.seed))
    for p, ps, chosen, split in candidates:
        if p.group_key in seen_groups:
            ex.skipped["twin already exported"] += 1
            continue
        levels = spec.levels if spec.kind == "all" else (assigned[p.id],) if spec.kind == "mix" else spec.levels
        used = False
        for level in levels:
            texts = _level_texts(store, p.id, level, chosen, ex.skipped, ex.templates)
            for text in texts:
                ex.add(split, student.example(p, text, level), {"problem_id": p.id, "year": p.year, "level": level, "pass_rate": ps.pass_rate},
                       len(text.split()), count_tokens(text))
                ex.by_level[split][level] += 1
                ex.level_word_sums[level] += len(text.split())
                used = True
        if not used:
            continue
        seen_groups.add(p.group_key)
        ex.templates.update(chosen[0].templates)
        _note_used(ex, p, split, chosen)
    ex.templates.update(student.hashes)
    if spec.kind == "mix":
        ex.assigned = {lv: sum(1 for x in assigned.values() if x == lv) for lv in spec.levels}
    return ex


def _build_pairs(problems: Sequence[Problem], store: TranscriptStore, o: ExportOptions, contaminated: set[str],
                 split_of: dict[str, str]) -> Examples:
    """Preference rows `{system, prompt, chosen, rejected}` (mlx-lm-lora's DPO format), split like every export."""
    from .preference import preference_pairs

    count_tokens, _ = token_counter(o.tokenizer)
    student = StudentPrompt.load(o.prompts_dir)
    ex, seen_groups = Examples(keep_meta=o.fmt == "hf"), set()

    def rewrite_of(t: Transcript, round: int) -> str | None:
        w = checked_rewrite(store, t, round)
        if w is not None and w.template_sha256:
            ex.templates["formatter_wrong"] = w.template_sha256  # the template the rejected sides were written with
        return w.text if w is not None else None

    for p, ps, _, split in _candidates(problems, store, o, contaminated, split_of, ex, seen_groups):
        report = preference_pairs(ps, o.prefer_shorter, form=o.pair_form, trace=o.level == "trace",  # type: ignore[arg-type]
                                  rewrite_of=rewrite_of)
        for why, n in report.dropped.items():
            ex.pairs_dropped[why] += n
        pairs = report.pairs
        if not pairs:
            ex.skipped["no preference pair"] += 1
            continue
        seen_groups.add(p.group_key)
        system, user = (m["content"] for m in student.messages(p))
        for pair in pairs:
            ex.add(split, {"system": system, "prompt": user, "chosen": pair.chosen, "rejected": pair.rejected},
                   {"problem_id": p.id, "year": p.year, "level": o.level, "pass_rate": ps.pass_rate, "kind": pair.kind, "form": pair.form},
                   len(pair.chosen.split()), count_tokens(pair.chosen) + count_tokens(pair.rejected))
            ex.pairs[pair.kind] = ex.pairs.get(pair.kind, 0) + 1
        _note_used(ex, p, split, ps.samples)
    ex.templates.update(student.hashes)
    return ex


def checked_rewrite(store: TranscriptStore, t: Transcript, round: int) -> WrongRewrite | None:
    """The rewrite of a transcript's wrong reply that `corpus rewrite-wrong` checked, if it is of this transcript."""
    w = store.get_wrong(t.problem_id, t.sample, round)
    return w if w is not None and w.ok and w.text and w.transcript_fingerprint == t.fingerprint else None


def _skip_reason(p: Problem, ps, chosen: list[Transcript], store: TranscriptStore, seen_groups: set[str], contaminated: set[str],
                 o: ExportOptions) -> str | None:
    if not chosen:
        return "not accepted" if ps.decided or store.get(p.id) else "not run"
    if any(is_stale(t) for t in chosen):
        # the grader that accepted it is not the current one: `corpus run` re-checks it (no model call) first
        return "accepted by another grader version (run `distill corpus run` to re-check)"
    if p.group_key in seen_groups:
        return "twin already exported"
    if p.id in contaminated and not o.keep_contaminated:
        return "overlaps an evaluation problem"
    rate = ps.pass_rate
    if rate is not None and ((o.min_pass_rate is not None and rate < o.min_pass_rate) or (o.max_pass_rate is not None and rate > o.max_pass_rate)):
        return "pass rate outside the asked range"
    return None


def _write_export(out_dir: Path, ex: Examples, o: ExportOptions, check: ContaminationCheck, level_words: dict[str, Any]) -> ExportManifest:
    out_dir.mkdir(parents=True, exist_ok=True)
    empty: dict[str, str] = {}
    if o.fmt in ("mlx", "dpo"):
        for s in SPLITS:
            path = out_dir / f"{s}.jsonl"
            if len(ex.rows[s]):
                atomic_write_lines(path, ex.rows[s].lines(ex.order(s)))
                continue
            # mlx-lm reads every split file it finds and fails on an empty one: a split with no rows is not written
            path.unlink(missing_ok=True)  # nor left over from an earlier export into this folder
            empty[s] = EMPTY_WHY.get(s, "no rows") if s != "test" or not o.test_years else \
                "held-out years have no transcripts (the corpus runs on training years): evaluate them with `distill eval run`"
    rates = ex.pass_rates
    tokens = ex.tokens
    record = ExportManifest(
        level=o.level, pick=o.pick, seed=o.seed,
        counts={s: len(ex.rows[s]) for s in SPLITS},
        years={s: sorted(ex.years[s]) for s in SPLITS},
        valid_years=sorted(o.valid_years), test_years=sorted(o.test_years),
        mean_words={s: round(sum(w) / len(w), 1) if w else 0.0 for s, w in ex.words.items()},
        tokens=TokenReport(counted_by=f"tokenizer {o.tokenizer}" if o.tokenizer else ESTIMATE_NOTE, max=max(tokens, default=0),
                           mean=round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
                           max_seq_length=o.max_seq_length, over_max_seq_length=sum(t > o.max_seq_length for t in tokens)),
        level_words=level_words,
        pass_rate=PassRateReport(filter=[o.min_pass_rate, o.max_pass_rate], mean=round(sum(rates) / len(rates), 3) if rates else None),
        decontamination=Decontamination(ngram=o.ngram, threshold=o.overlap, evaluation_problems=check.evaluation_problems,
                                        training_problems=check.training_problems, flagged=check.flagged, excluded=not o.keep_contaminated),
        skipped=dict(ex.skipped), templates=ex.templates, transcripts=ex.sources,
        models={role: sorted(names) for role, names in sorted(ex.models.items())}, license=o.license,
        grader_version=grader_version(), empty_splits=empty,
        format=o.fmt, pairs=dict(sorted(ex.pairs.items())) if o.fmt == "dpo" else None,
        pair_form=o.pair_form if o.fmt == "dpo" else None,
        pairs_dropped=dict(sorted(ex.pairs_dropped.items())) if o.fmt == "dpo" else None,
        **_level_fields(ex, o),
    )
    write_record(out_dir / "manifest.json", record)
    if o.fmt == "hf":
        from .hf import write_hf

        write_hf(out_dir, {s: list(ex.rows[s].rows(ex.order(s))) for s in SPLITS}, {s: list(ex.meta[s].rows(ex.order(s))) for s in SPLITS},
                 record.model_dump(mode="json"))
    return record


def _level_fields(ex: Examples, o: ExportOptions) -> dict[str, Any]:
    """A conditioned (`all`) or mixed export: rows and mean words per level, the mix's shares and draw."""
    if o.fmt == "dpo" or not (o.level == "all" or o.level.startswith("mix:")):
        return {}
    from .level_mix import parse_level_spec

    spec = parse_level_spec(o.level)
    rows = {s: dict(sorted(ex.by_level[s].items())) for s in SPLITS if ex.by_level[s]}
    totals = {lv: sum(r.get(lv, 0) for r in rows.values()) for lv in spec.levels}
    words = {lv: round(ex.level_word_sums[lv] / n, 1) for lv, n in totals.items() if n}
    return {"level_rows": rows, "level_mean_words": words, "conditioned": spec.conditioned,
            "mix": dict(zip(spec.levels, spec.shares)) if spec.kind == "mix" else None, "mix_assigned": ex.assigned}


def _level_words(store: TranscriptStore, problems: Sequence[Problem], level: str, skipped: dict[str, int]) -> dict[str, Any]:
    """Target vs achieved words for a restated level, and how many texts missed their band."""
    if level in ("R1", "trace") or level == "all" or level.startswith("mix:"):
        return {"target": None, "off_target": skipped.get("off target", 0) if level not in ("R1", "trace") else 0}
    ok, target = [], None  # the texts are read one at a time
    for p in problems:
        lt = store.get_level(p.id, level)
        if lt is not None and lt.ok:
            ok.append(lt.words)
        if lt is not None and target is None:
            target = lt.target_words or None
    return {"target": target, "achieved_mean": round(sum(ok) / len(ok), 1) if ok else None,
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
