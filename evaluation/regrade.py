"""`distill eval regrade DIR`: the stored responses graded again with the current grader (and the judge, if asked),
with no generation call. New verdicts and summary are written over the old ones (atomically), and regrades.jsonl
records the grader version they replace and how many verdicts changed."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill.grading.batch import grade_records
from distill.grading.judge import Judge
from distill.grading.pool import Grader
from distill.grading.version import grader_version
from distill.io import append_jsonl, atomic_write_jsonl, read_record, write_record

from .card import read_card, write_card
from .metrics import sample_metrics
from .records import EvalConfig, EvalSummary, RegradeRecord, ResponseRecord, read_records
from .stats import summarise_records


def summary_from(records: Sequence[ResponseRecord], base: dict[str, Any], *, samples: int, ks: Sequence[int] = (1, 4, 8, 16)) -> EvalSummary:
    """summary.json recomputed from the records, keeping `base`'s setup fields (spec, backend, sampling, timing)."""
    summary = {**base, **summarise_records(records)}
    summary["sample_metrics"] = sample_metrics(records, ks) if samples > 1 else None
    return EvalSummary.model_validate(summary)


def regrade(out: Path, grader: Grader, *, judge: Judge | None = None, problem_texts: dict[str, str] | None = None,
            loop: asyncio.AbstractEventLoop | None = None) -> dict[str, Any]:
    """Grade an evaluation folder's responses again; returns {from, to, records, changed}."""
    out = Path(out)
    config = read_record(out / "eval_config.json", EvalConfig, "an evaluation's settings", "it cannot be regraded")
    records = read_records(out / "responses.jsonl")
    texts = problem_texts or {}
    grading = grade_records([r.key for r in records], [r.response for r in records], grader, judge=judge,
                            problems=[texts.get(r.problem_id, "") for r in records], ids=[r.problem_id for r in records])
    verdicts = (loop.run_until_complete(grading) if loop is not None else asyncio.run(grading)) if records else []
    new = [r.model_copy(update={"verdict": v}) for r, v in zip(records, verdicts)]
    changed = sum(a.correct != b.correct for a, b in zip(records, new))
    atomic_write_jsonl(out / "responses.jsonl", (r.model_dump(mode="json") for r in new))
    now = grader_version()
    judge_desc = {"role": judge.role, "templates": judge.template_hashes} if judge is not None else None
    summary_path = out / "summary.json"
    base: dict[str, Any] = {}
    if summary_path.exists():
        base = read_record(summary_path, EvalSummary, "an evaluation summary", "run `distill eval run` into it again").model_dump(mode="json")
    base.update({"grader": now, "judge": judge_desc, "spec": base.get("spec", config.spec), "level": base.get("level", config.level),
                 "backend": base.get("backend", config.backend), "sampling": base.get("sampling", config.sampling),
                 "seed": base.get("seed", config.seed), "templates": base.get("templates", config.templates),
                 "decoding": {**base.get("decoding", {}), "grader": now, "judge": judge_desc}})
    write_record(summary_path, summary_from(new, base, samples=config.samples))
    write_record(out / "eval_config.json", config.model_copy(update={"grader": now, "judge": judge_desc}))
    if (card := read_card(out)) is not None:
        write_card(out, card.model_copy(update={"grader_version": now, "judge": judge_desc}))
    entry = RegradeRecord.model_validate({"from": config.grader, "to": now, "records": len(new), "changed": changed,
                                          "judge": judge_desc is not None, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    row = entry.model_dump(mode="json", by_alias=True)
    append_jsonl(out / "regrades.jsonl", row)
    return row
