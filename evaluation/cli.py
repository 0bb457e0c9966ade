"""`distill eval`: grade answers and evaluate students."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from distill.params import LevelType, OutPath

from distill.config import ModelRole, Settings
from distill.context import AppContext, FieldType, pass_app
from distill.errors import DistillError, endpoint_exit
from distill.io import atomic_write_jsonl


@click.group("eval")
def eval_group() -> None:
    """Grade answers against official keys and evaluate students."""


def read_rows_with(path: Path, required: tuple[str, ...]) -> list[dict]:
    """The lines of a JSONL file to grade, each with every `required` field set."""
    from distill.io import read_jsonl

    rows = []
    for lineno, row in read_jsonl(path):
        for field in required:
            if field not in row:
                raise DistillError(f"missing field {field!r}", path=path, where=f"line {lineno}")
            if row[field] is None:
                raise DistillError(f"field {field!r} is null", path=path, where=f"line {lineno}")
        rows.append(row)
    if not rows:
        raise DistillError("no records (empty file)", path=path)
    return rows


def make_judge(app: AppContext, prompts: str | None, concurrency: int):
    from distill.evaluation.service import make_judge as build

    return build(app.workspace, app.settings, app.prompts_dir(prompts), concurrency)


@eval_group.command("grade")
@click.argument("in_path", metavar="IN.jsonl", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True, type=OutPath(dir_okay=False), help="Output JSONL (input fields + verdict).")
@click.option("--gold-field", default="gold", show_default=True, help="Field holding the official key.")
@click.option("--response-field", default="response", show_default=True, help="Field holding the model's response.")
@click.option("--problem-field", default="problem", show_default=True, help="Field holding the problem text (shown to the judge).")
@click.option("--no-judge", is_flag=True, help="Rules only: undecided verdicts stay null.")
@click.option("--audit", is_flag=True, help="Ask the judge about every record and log where it disagrees with the rules.")
@click.option("--workers", type=click.IntRange(min=1), help="Grading processes (default: config grader_workers, 2).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds allowed per verdict.")
@click.option("--prompts", type=click.Path(file_okay=False), help="Folder of prompt templates overriding the bundled ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def grade_cmd(app: AppContext, in_path: Path, out_path: Path, gold_field: str, response_field: str, problem_field: str,
              no_judge: bool, audit: bool, workers: int, timeout_s: float, prompts: str | None, as_json: bool) -> None:
    """Grade each line's response against its key; add correct (true/false/null), extracted, method."""
    from distill.grading.batch import consult_judge, grade_records, summarise
    from distill.grading.pool import Grader

    if no_judge and audit:
        raise DistillError("--audit needs the judge; drop --no-judge")
    rows = read_rows_with(in_path, (gold_field, response_field))
    keys = [str(r[gold_field]) for r in rows]
    responses = [str(r[response_field]) for r in rows]
    app.start_log()

    async def run():
        with Grader(workers=workers or app.settings.grader_workers, timeout_s=timeout_s) as grader:
            verdicts = await grade_records(keys, responses, grader)
            if no_judge or not (audit or any(v.correct is None for v in verdicts)):
                return verdicts, None  # the judge (and its key) only when some line needs it
            judge = make_judge(app, prompts, app.settings.concurrency)
            try:
                return await consult_judge(verdicts, keys, responses, judge, audit=audit,
                                           problems=[str(r.get(problem_field) or "") for r in rows],
                                           ids=[r.get("id", i) for i, r in enumerate(rows)]), judge
            finally:
                await judge.client.close()

    verdicts, judge = asyncio.run(run())
    out_rows = []
    for row, v in zip(rows, verdicts):
        out = dict(row)
        out.update({"correct": v.correct, "extracted": v.extracted, "method": v.method, "verdict": v.model_dump(mode="json")})
        out_rows.append(out)
    atomic_write_jsonl(out_path, out_rows)
    summary = summarise(verdicts)
    summary["out"] = str(out_path)
    if judge is not None:
        summary["judge_calls"] = {"network": judge.client.stats.network, "cached": judge.client.stats.cached}
    if judge is not None and judge.failure is not None:
        summary["judge_failure"] = judge.failure.line()
    if as_json:
        click.echo(json.dumps(summary))
    else:
        app.out.print(
            f"graded {summary['total']}: [green]{summary['correct']} correct[/], [red]{summary['wrong']} wrong[/], "
            f"[yellow]{summary['undecided']} undecided[/] -> {out_path}"
        )
        app.out.print("by method: " + ", ".join(f"{k} {v}" for k, v in summary["by_method"].items()))
    if judge is not None and judge.failure is not None:
        raise endpoint_exit(judge.failure, app.log_path, suffix=f"; every rule verdict is written, {summary['undecided']} lines left null")


PROTOCOLS = {  # one word for a decoding protocol; options given on the command line still win
    "deepseek": {"temperature": 0.6, "top_p": 0.95, "samples": 4},  # DeepSeek's guidance for R1-distilled students: sample, never greedy
    "greedy": {"temperature": 0.0, "top_p": 1.0, "samples": 1},  # the published study's setting
}


def _apply_protocol(protocol: str | None, values: dict) -> dict:
    """The preset's values for every sampling option not given on the command line."""
    if not protocol:
        return values
    from click.core import ParameterSource

    ctx = click.get_current_context()
    out = dict(values)
    for name, value in PROTOCOLS[protocol].items():
        if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None):
            out[name] = value
    return out


def _sampling_options(fn):
    fn = click.option("--protocol", type=click.Choice(sorted(PROTOCOLS)),
                      help="A decoding preset: deepseek (temperature 0.6, top_p 0.95, 4 samples: DeepSeek's guidance for R1-distilled "
                           "students) or greedy (temperature 0, one sample: the study's setting). Options given explicitly win.")(fn)
    fn = click.option("--max-tokens", type=FieldType(ModelRole, "max_tokens"), default=1024, show_default=True, help="Generation limit per response.")(fn)
    fn = click.option("--top-p", type=FieldType(ModelRole, "top_p"), default=1.0, show_default=True, help="Nucleus sampling (1.0: off).")(fn)
    fn = click.option("--temperature", type=FieldType(ModelRole, "temperature"), default=0.0, show_default=True,
                      help="Sampling temperature (0: greedy).")(fn)
    fn = click.option("--seed", type=int, default=0, show_default=True, help="Seed of run 0; run k uses seed + k.")(fn)
    fn = click.option("--thinking-budget", type=click.IntRange(min=1),
                      help="Tokens a thinking model may spend inside <think>; then the block is closed and the answer asked for.")(fn)
    fn = click.option("--pass-k", "pass_k", default="1,4,8,16", show_default=True, help="k values for pass@k (with --samples).")(fn)
    fn = click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
                      help="Samples per problem in each run: avg@N, maj@N and pass@k are reported.")(fn)
    fn = click.option("--runs", type=click.IntRange(min=1), default=1, show_default=True, help="Independent runs (mean ± std over runs).")(fn)
    fn = click.option("--no-judge", is_flag=True, help="Rules only: undecided verdicts stay null (and count as wrong).")(fn)
    fn = click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="mlx-lm batch size.")(fn)
    fn = click.option("--concurrency", type=FieldType(Settings, "concurrency"), default=8, show_default=True,
                      help="Concurrent requests to an endpoint.")(fn)
    fn = click.option("--prompts", type=click.Path(file_okay=False), help="Folder of prompt templates overriding the bundled ones.")(fn)
    fn = click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), help="Export whose test years `SRC:test` means.")(fn)
    fn = click.option("--limit", type=click.IntRange(min=1), help="Only the first N selected problems (a quick smoke test).")(fn)
    fn = click.option("--problems", "spec", required=True, help="SOURCE[:YEARS|:test], e.g. obryan:2021-2025, obryan:test, math500; or ids a,b,c; or @file.")(fn)
    fn = click.option("--endpoint", help="Model role of an OpenAI-compatible server (student, solver, ...).")(fn)
    fn = click.option("--urls", help="Several base URLs serving the --endpoint role's model (comma-separated): work is shared, "
                                     "and a failed endpoint's share goes to the others.")(fn)
    fn = click.option("--adapter", type=click.Path(file_okay=False, path_type=Path), help="LoRA adapter folder for --model.")(fn)
    fn = click.option("--model", help="Local model path or id (mlx-lm).")(fn)
    fn = click.option("--ask-level/--no-ask-level", "ask_level", default=None,
                      help="Ask for --level in the prompt, with the level's instruction (default: on for an adapter trained on a "
                           "`corpus export --level all` export, the length-conditioned student; off otherwise).")(fn)
    return fn


def conditioned_adapter(adapter: Path | None) -> bool:
    """Whether an adapter was trained on a length-conditioned export (`--level all`)."""
    from distill.finetune.model import adapter_export

    manifest = adapter_export(adapter)
    return bool(manifest and manifest.conditioned)


def _evaluate(app: AppContext, *, model, adapter, endpoint, spec, limit, export_dir, prompts, concurrency, batch_size, no_judge, runs, seed,
              temperature, top_p, max_tokens, level: str, out: Path, prompt_levels: bool = False, quiet: bool = False, samples: int = 1,
              pass_k: str = "1,4,8,16", thinking_budget: int | None = None, urls: str | None = None, protocol: str | None = None,
              plan_only: bool = False, probe: bool = False, force: bool = False, ask_level: bool | None = None):
    """The command's options as an EvalRequest, run by the service with a progress bar (with `plan_only`,
    the request's plan instead; a local model whose plan does not fit is refused unless `force`)."""
    if ask_level is None:
        ask_level = conditioned_adapter(adapter)
        if ask_level and not quiet:
            app.console.print(f"note: {adapter} was trained on a length-conditioned export: the prompt asks for {level} (--no-ask-level: not)")
    prompt_levels = prompt_levels or ask_level
    p = _apply_protocol(protocol, {"temperature": temperature, "top_p": top_p, "samples": samples})
    temperature, top_p, samples = p["temperature"], p["top_p"], p["samples"]
    if runs > 1 and temperature == 0 and not quiet:
        app.console.print(f"note: --runs {runs} at temperature 0 repeats the first run {runs} times (greedy decoding is deterministic); "
                          "--protocol deepseek samples instead")
    from distill.evaluation.backends import Sampling
    from distill.corpus.selection import resolve_spec
    from distill.evaluation.service import EvalRequest, ModelSpec, evaluate_stage
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    ws = app.workspace
    problems = resolve_spec(spec, ws.problems_file, ws.exports_dir, export_dir)[:limit]
    who = ModelSpec(model=model, adapter=adapter, endpoint=endpoint, urls=tuple(u.strip() for u in (urls or "").split(",") if u.strip()))
    who.check()
    ks = parse_ks(pass_k, samples)
    dropped = [k for k in ks if k > samples]
    if samples > 1 and dropped:
        app.console.print(f"note: pass@{', pass@'.join(map(str, dropped))} need(s) at least that many --samples; not reported")
    req = EvalRequest(problems, out, who, Sampling(temperature, top_p, max_tokens, thinking_budget), runs=runs, seed=seed, level=level,
                      samples=samples, ks=ks, judge=not no_judge, concurrency=concurrency, batch_size=batch_size,
                      prompts_dir=app.prompts_dir(prompts), prompt_levels=prompt_levels, spec=spec)
    if plan_only or (model and not force):
        from distill.evaluation.plan import plan_evaluation

        if plan_only:
            return plan_evaluation(req, app.settings, probe=probe)
        try:
            plan = plan_evaluation(req, app.settings)
        except DistillError:
            plan = None  # no config.json at hand (an id not yet downloaded): no estimate, the run goes ahead
        if plan is not None and not plan.fits:
            raise DistillError(plan.refusal())
    app.start_log()
    progress = Progress(TextColumn(f"[bold]eval {out.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=app.console, disable=quiet)
    with progress:
        task = progress.add_task("eval", total=len(problems) * runs * samples)
        return evaluate_stage(ws, app.settings, req, on_progress=lambda done, total: progress.update(task, completed=done))


def parse_ks(pass_k: str, samples: int) -> list[int]:
    """--pass-k values (a k above --samples cannot be estimated: the caller says it is not reported)."""
    try:
        ks = sorted({int(k) for k in pass_k.split(",") if k.strip()})
    except ValueError:
        raise DistillError(f"--pass-k {pass_k!r}: expected numbers like 1,4,8") from None
    if not ks or ks[0] < 1:
        raise DistillError(f"--pass-k {pass_k!r}: k must be at least 1")
    return ks


@eval_group.command("run")
@_sampling_options
@click.option("--level", default="R1", show_default=True, type=LevelType(), help="Length level this evaluation stands for (recorded).")
@click.option("--out", "out_dir", required=True, type=OutPath(file_okay=False), help="Evaluation folder (resumable).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json (with --plan: the plan as JSON).")
@click.option("--plan", "plan_only", is_flag=True, help="Print the memory, tokens and (with --probe) time this evaluation needs; generate nothing.")
@click.option("--probe", is_flag=True, help="With --plan: time one real batch (or one round of endpoint requests).")
@click.option("--force", is_flag=True, help="Run even when the plan's peak memory exceeds the machine's.")
@pass_app
def run_cmd(app: AppContext, out_dir: Path, quiet: bool, as_json: bool, plan_only: bool, probe: bool, force: bool, **opts) -> None:
    """Generate and grade student answers over N runs; write responses.jsonl and summary.json.

    A local model's weights and KV cache (batch x (prompt + max tokens)) are estimated from its
    config.json first; an evaluation that does not fit is refused (exit 2) with the largest
    --batch-size that does, unless --force. --plan prints that estimate and stops."""
    if probe and not plan_only:
        raise DistillError("--probe goes with --plan")
    rec = _evaluate(app, out=out_dir, quiet=quiet or as_json, plan_only=plan_only, probe=probe, force=force, **opts)
    if plan_only:
        from distill.plan.record import render

        click.echo(rec.model_dump_json()) if as_json else render(rec, app.out)
        return
    if as_json:
        click.echo(rec.model_dump_json())
        return
    s = rec.model_dump(mode="json")
    app.out.print(f"{out_dir.name}: accuracy {100 * s['mean']:.2f} ± {100 * s['std']:.2f} over {len(s['runs'])} runs of {s['n_problems']} problems "
                  f"(95% CI {100 * s['ci95'][0]:.1f}–{100 * s['ci95'][1]:.1f}); mean {s['mean_words']:.0f} words; "
                  f"undecided {100 * s['undecided_rate']:.1f}% (counted wrong), judged {100 * s['judge_rate']:.1f}%, truncated {100 * s['truncated_rate']:.1f}%")
    if s.get("sample_metrics"):
        m = s["sample_metrics"]
        n = m["samples_per_run"]
        app.out.print(f"avg@{n} {100 * m[f'avg@{n}']['mean']:.2f}, maj@{n} {100 * m[f'maj@{n}']['mean']:.2f}, "
                      + ", ".join(f"pass@{k} {100 * v['mean']:.2f}" for k, v in m["pass@k"].items()))
    if s["forced_rate"]:
        app.out.print(f"thinking budget reached in {100 * s['forced_rate']:.1f}% of responses (answer forced); "
                      f"mean thinking {s['mean_thinking_words']:.0f} words, answer {s['mean_answer_words']:.0f} words")
    if s["error_rate"]:
        app.out.print(f"[yellow]{100 * s['error_rate']:.1f}% of generations failed (counted wrong); run the same command again to retry them[/]")


@eval_group.command("regrade")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--judge/--no-judge", default=False, show_default=True, help="Ask the evaluation agent about what the rules leave undecided.")
@click.option("--workers", type=click.IntRange(min=1), help="Grader worker processes (default: config).")
@click.option("--json", "as_json", is_flag=True, help="Print the regrade record as JSON.")
@pass_app
def regrade_cmd(app: AppContext, folder: Path, judge: bool, workers: int | None, as_json: bool) -> None:
    """Grade an evaluation's stored responses again with the current grader: no generation call. New verdicts and
    summary replace the old; regrades.jsonl records the grader version they replace and how many verdicts changed."""
    from distill.evaluation.regrade import regrade
    from distill.grading.pool import Grader
    from distill.problems.store import ProblemStore

    if not (folder / "responses.jsonl").exists():
        raise DistillError("no responses.jsonl: not an evaluation folder", path=folder)
    texts: dict[str, str] = {}
    the_judge = None
    if judge:
        from distill.evaluation.service import make_judge

        if app.workspace.problems_file.exists():
            texts = {p.id: p.text for p in ProblemStore(app.workspace.problems_file).iter()}
        the_judge = make_judge(app.workspace, app.settings, app.prompts_dir(None), app.settings.concurrency)
        app.start_log()
    with Grader(workers=workers or app.settings.grader_workers) as grader:
        entry = regrade(folder, grader, judge=the_judge, problem_texts=texts)
    if as_json:
        click.echo(json.dumps(entry))
        return
    app.out.print(f"regraded {entry['records']} responses in {folder}: grader {entry['from']} -> {entry['to']}, "
                  f"{entry['changed']} verdicts changed; no generation call")


@eval_group.command("compare")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--a", "a_idx", type=int, default=0, show_default=True, help="Index of the baseline among DIRS for the paired test.")
@click.option("--b", "b_idx", type=int, default=1, show_default=True, help="Index of the other evaluation.")
@click.option("--allow-protocol-diff", is_flag=True, help="Compare evaluations made with different protocols (the differences are printed first).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def compare_cmd(app: AppContext, dirs: tuple[Path, ...], a_idx: int, b_idx: int, allow_protocol_diff: bool, as_json: bool) -> None:
    """Evaluations side by side, with the paired difference of two of them and its significance. Evaluations whose
    protocol differs (prompt or chat template, sampling, max_tokens, grader) are refused unless --allow-protocol-diff."""
    from distill.evaluation.card import protocol_differences, read_card
    from distill.evaluation.report import compare_evals, compare_markdown, load_eval

    evals = [load_eval(d) for d in dirs]
    if len(evals) > 1 and not (0 <= a_idx < len(evals) and 0 <= b_idx < len(evals) and a_idx != b_idx):
        raise DistillError(f"--a and --b must be two different indexes below {len(evals)}")
    cards = [read_card(d) for d in dirs]
    diffs = []
    for d, card in zip(dirs[1:], cards[1:]):
        if cards[0] is not None and card is not None and (what := protocol_differences(cards[0], card)):
            diffs.append(f"{dirs[0].name} vs {d.name}: " + "; ".join(what))
    if diffs and not allow_protocol_diff:
        raise DistillError(f"protocols differ ({diffs[0]}); pass --allow-protocol-diff to compare anyway")
    cmp = compare_evals(evals, a_idx, b_idx)
    if diffs:
        cmp["protocol_differences"] = diffs
    if as_json:
        click.echo(json.dumps(cmp))
        return
    click.echo("".join(f"protocol differs: {line}\n" for line in diffs) + compare_markdown(cmp))


@eval_group.command("length-study")
@_sampling_options
@click.option("--adapters", help="One adapter per level: R1=DIR,R2=DIR,... (trained on that level's export).")
@click.option("--prompt-levels", is_flag=True, help="One model; ask for shorter answers by prompt at each level.")
@click.option("--levels", "levels_spec", default="R1-R6", show_default=True, help="Levels to study.")
@click.option("--out", "out_dir", required=True, type=OutPath(file_okay=False), help="Folder for one evaluation per level and the table.")
@click.option("--quiet", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def length_cmd(app: AppContext, adapters: str | None, prompt_levels: bool, levels_spec: str, out_dir: Path, quiet: bool, as_json: bool, **opts) -> None:
    """Accuracy against response length over levels R1..R6; table and length_vs_accuracy.png."""
    from distill.corpus.levels import parse_levels
    from distill.evaluation.records import LengthStudy
    from distill.evaluation.report import length_table, plot_length

    from distill.io import write_record

    if bool(adapters) == bool(prompt_levels):
        raise DistillError("choose --adapters R1=DIR,... or --prompt-levels")
    levels = parse_levels(levels_spec)
    per_level: dict[str, Path | None] = {lv: None for lv in levels}
    if adapters:
        given = {}
        for part in adapters.split(","):
            lv, _, path = part.partition("=")
            if lv.upper() not in levels or not path:
                raise DistillError(f"--adapters entry {part!r}: expected LEVEL=DIR with LEVEL in {', '.join(levels)}")
            given[lv.upper()] = Path(path)
        per_level = {lv: given[lv] for lv in levels if lv in given}
        if opts.get("adapter"):
            raise DistillError("use --adapters, not --adapter, in a length study")
    results = {}
    for lv, adapter in per_level.items():
        o = dict(opts, adapter=adapter) if adapters else dict(opts)
        results[lv] = _evaluate(app, out=out_dir / lv, level=lv, prompt_levels=prompt_levels, quiet=quiet or as_json, **o).model_dump(mode="json")
    table = {lv: {k: s[k] for k in ("mean", "std", "mean_words", "runs", "n_problems", "ci95")} for lv, s in results.items()}
    record = LengthStudy(mode="adapters" if adapters else "prompt-levels", levels=table)
    write_record(out_dir / "length_study.json", record)
    study = record.model_dump(mode="json")
    plot_length(table, out_dir / "length_vs_accuracy.png")
    if as_json:
        click.echo(json.dumps(study))
    else:
        click.echo(length_table(table))
        app.out.print(f"plot: {out_dir / 'length_vs_accuracy.png'}")


@eval_group.command("report")
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option("--length-study", "length_dir", type=click.Path(file_okay=False, path_type=Path), help="A length-study folder to include.")
@click.option("--out", "out_path", required=True, type=OutPath(dir_okay=False), help="Markdown file; plots go beside it.")
@click.option("--title", default="distill evaluation report", show_default=True)
@pass_app
def report_cmd(app: AppContext, dirs: tuple[Path, ...], length_dir: Path | None, out_path: Path, title: str) -> None:
    """Write a markdown report with tables and PNG plots, readable on GitHub."""
    from distill.evaluation.report import load_eval, write_report

    if not dirs and not length_dir:
        raise DistillError("give evaluation folders and/or --length-study")
    study = None
    if length_dir:
        from distill.evaluation.records import read_length_study

        study = read_length_study(length_dir).model_dump(mode="json")
    path = write_report([load_eval(d) for d in dirs], out_path, length_study=study, title=title)
    app.out.print(f"wrote {path}")
