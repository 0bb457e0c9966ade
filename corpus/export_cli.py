"""`distill corpus export` and `distill corpus decontaminate`: training data out of the transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from distill.params import OutPath

from distill.safe_text import data
from rich.table import Table

from distill.context import AppContext, pass_app
from distill.errors import DistillError
from distill.problems.select import parse_years

from .samples import PICKS


@click.command("export")
@click.option("--out", "out_dir", required=True, type=OutPath(file_okay=False), help="Folder for train/valid/test.jsonl.")
@click.option("--level", default="R1", show_default=True,
              help="Length level of the assistant turns: R1..R6, or trace (the Solver's reasoning in <think>, then the stepwise solution); "
                   "all: every problem at every level, each asked for by its level's instruction (one length-conditioned student); "
                   "mix:R1=0.5,R6=0.5: each problem at one level, drawn by these shares with --seed.")
@click.option("--pick", type=click.Choice(PICKS), default="first", show_default=True,
              help="Which verified sample(s) of a problem to train on (R1 and trace).")
@click.option("--min-pass-rate", type=click.FloatRange(0, 1), help="Only problems the teacher verified at least this often.")
@click.option("--max-pass-rate", type=click.FloatRange(0, 1), help="Only problems the teacher verified at most this often.")
@click.option("--keep-contaminated", is_flag=True, help="Keep training problems that overlap an evaluation problem.")
@click.option("--ngram", type=click.IntRange(min=3), default=8, show_default=True, help="n for the n-gram overlap check.")
@click.option("--overlap", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              help="Share of a problem's n-grams found in an evaluation problem that flags it.")
@click.option("--max-seq-length", type=click.IntRange(min=1), default=2048, show_default=True, help="Report examples longer than this.")
@click.option("--tokenizer", help="Model (path or id) whose tokenizer counts tokens; default: an estimate.")
@click.option("--format", "fmt", type=click.Choice(["mlx", "hf", "dpo"]), default="mlx", show_default=True,
              help="mlx: train/valid/test.jsonl for mlx-lm; hf: parquet + dataset card that datasets.load_dataset(DIR) reads; "
                   "dpo: preference pairs {system, prompt, chosen, rejected} for mlx-lm-lora (verified over failed samples, "
                   "accepted over rejected rounds).")
@click.option("--prefer", type=click.Choice(["shorter"]), help="--format dpo: also prefer the shortest verified sample over the longest.")
@click.option("--pair-form", type=click.Choice(["solver", "formatted"]), default="solver", show_default=True,
              help="--format dpo: both sides of a pair are the Solver's own replies (solver) or the Formatter's rewrites "
                   "(formatted: the wrong side is its `corpus rewrite-wrong` rewrite, which keeps its answer).")
@click.option("--license", "license_", help="License of the exported data, written into the manifest and the HF dataset card.")
@click.option("--source", default=None, help="Train on this source only (default: every source that has transcripts).")
@click.option("--valid-years", default="", help="Years for validation, e.g. 2019.")
@click.option("--test-years", default="", help="Held-out years for testing, e.g. 2021-2025.")
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffle seed for the training order.")
@click.option("--prompts", type=click.Path(file_okay=False), help="Folder of prompt templates overriding the bundled ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@pass_app
def export_cmd(app: AppContext, out_dir, level, pick, min_pass_rate, max_pass_rate, keep_contaminated, ngram, overlap, max_seq_length,
               tokenizer, fmt, prefer, pair_form, license_, source, valid_years, test_years, seed, prompts, as_json) -> None:
    """Write mlx-lm chat JSONL (train/valid/test by year) and a manifest; leave out contaminated problems."""
    from distill.corpus.export import ExportOptions
    from distill.corpus.levels import parse_levels
    from distill.corpus.service import ExportRequest, export_stage

    from distill.corpus.level_mix import parse_level_spec

    spec = parse_level_spec(level) if level.strip().lower() == "all" or level.strip().lower().startswith("mix:") else None
    lv = [spec.text] if spec else ["trace"] if level.strip().lower() == "trace" else parse_levels(level)
    if len(lv) != 1:
        raise DistillError("--level takes one level, e.g. R3 or trace (or all, or mix:R1=0.5,R6=0.5)")
    if spec and fmt == "dpo":
        raise DistillError(f"--level {level} exports chat rows; --format dpo pairs the R1 replies")
    if fmt != "dpo":  # options that mean something only with --format dpo say so when used alone
        for flag, given in (("--prefer", prefer is not None), ("--pair-form", pair_form != "solver")):
            if given:
                raise DistillError(f"{flag} is a --format dpo option (this export is --format {fmt})")
    if tokenizer:
        from distill.corpus.export import token_counter

        token_counter(tokenizer)  # a path that is not a tokenizer is bad input: refused before any work
    if min_pass_rate is not None and max_pass_rate is not None and min_pass_rate > max_pass_rate:
        raise DistillError("--min-pass-rate is above --max-pass-rate")
    options = ExportOptions(level=lv[0], valid_years=parse_years(valid_years) if valid_years else [],
                            test_years=parse_years(test_years) if test_years else [], seed=seed, prompts_dir=app.prompts_dir(prompts),
                            pick=pick, min_pass_rate=min_pass_rate, max_pass_rate=max_pass_rate, keep_contaminated=keep_contaminated,
                            ngram=ngram, overlap=overlap, max_seq_length=max_seq_length, tokenizer=tokenizer, fmt=fmt,
                            license=license_, prefer_shorter=prefer == "shorter", pair_form=pair_form)
    m = export_stage(app.workspace, ExportRequest(out_dir, options, source=source))
    if as_json:
        click.echo(m.model_dump_json())
        return
    c = m.counts
    what = "preference pairs" if m.pairs is not None else f"level {m.level}"
    written = ", ".join(f"{s}.jsonl {c[s]}" for s in ("train", "valid", "test") if c[s])
    app.out.print(f"exported {what} -> {out_dir}: wrote {written} rows" if m.format != "hf" else
                  f"exported {what}: train {c['train']}, valid {c['valid']}, test {c['test']} -> {out_dir}")
    for split, why in m.empty_splits.items():
        app.out.print(f"  {split}: not written, {why}")
    if m.pairs is not None:
        app.out.print(f"pairs by kind ({m.pair_form} form): " + ", ".join(f"{k} {v}" for k, v in m.pairs.items()))
        if m.pairs_dropped:
            app.out.print("candidate pairs dropped: " + ", ".join(f"{k} {v}" for k, v in m.pairs_dropped.items()))
    if m.skipped:
        app.out.print("skipped: " + ", ".join(f"{k} {v}" for k, v in m.skipped.items()))
    tk, dc = m.tokens, m.decontamination
    app.out.print(f"tokens per example: max {tk.max}, mean {tk.mean} ({tk.counted_by}); "
                  f"{tk.over_max_seq_length} over --max-seq-length {tk.max_seq_length}")
    app.out.print(f"decontamination: {len(dc.flagged)} of {dc.training_problems} training problems overlap one of "
                  f"{dc.evaluation_problems} problems not trained on" + (" (left out)" if dc.excluded and dc.flagged else ""))


@click.command("decontaminate")
@click.option("--source", help="The training source (default: every source with transcripts).")
@click.option("--valid-years", default="", help="Validation years of that source (not trained on, so checked against).")
@click.option("--test-years", default="", help="Held-out years of that source, which count as evaluation problems.")
@click.option("--ngram", type=click.IntRange(min=3), default=8, show_default=True, help="n for the n-gram overlap check.")
@click.option("--overlap", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              help="Share of a problem's n-grams found in an evaluation problem that flags it.")
@click.option("--json", "as_json", is_flag=True, help="Print the flagged problems as JSON.")
@pass_app
def decontaminate_cmd(app: AppContext, source, valid_years, test_years, ngram, overlap, as_json) -> None:
    """List training problems that overlap an evaluation problem (other sources, held-out years)."""
    from distill.corpus.export import check_contamination
    from distill.corpus.service import open_store, training_split, usable_problems

    valid, test = (parse_years(valid_years) if valid_years else []), (parse_years(test_years) if test_years else [])
    split = training_split(usable_problems(app.workspace), open_store(app.workspace), source, valid, test)
    check = check_contamination(split.problems, split.evaluation, valid, test, ngram=ngram, overlap=overlap)
    found = check.flagged
    result = {"training_problems": check.training_problems, "evaluation_problems": check.evaluation_problems, "ngram": ngram,
              "threshold": overlap, "flagged": [c.as_dict() for c in found]}
    if as_json:
        click.echo(json.dumps(result))
        return
    table = Table("training problem", "evaluation problem", "overlap", "exact", title=f"{len(found)} of {check.training_problems} training "
                  f"problems overlap one of {check.evaluation_problems} evaluation problems")
    for c in found:
        table.add_row(data(c.problem_id), data(c.eval_id), f"{c.overlap:.2f}", "yes" if c.exact else "")
    app.out.print(table)
