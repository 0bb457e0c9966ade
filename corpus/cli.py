"""`distill corpus`: teacher transcripts per problem, length levels, training exports."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import click

from distill import safe_text
from distill.problems.select import Selector, parse_years
from distill.problems.store import ProblemStore, StoredProblems
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from distill.config import Settings
from distill.context import AppContext, FieldType, LazyGroup, pass_app
from distill.errors import DistillError, WorkFailed, endpoint_exit

from .transcripts import Transcript, TranscriptStore


def select_problems(app: AppContext, year: str | None, years: str | None, ids: tuple[str, ...], source: str | None) -> StoredProblems:
    """The usable problems the options choose, as places in the problem file (one pass, ~16 bytes each)."""
    given = [name for name, v in (("--year", year), ("--years", years), ("--problems", ids)) if v]
    if len(given) > 1:
        raise DistillError(f"{' and '.join(given)} both choose problems; use one of them")
    spec = year or years
    if not ids and spec is None and source is None:
        raise DistillError("choose problems with --year, --years, --problems or --source")
    selector = Selector(source=source, years=frozenset(parse_years(spec)) if spec else None)
    chosen = ProblemStore(app.workspace.problems_file).select(lambda p: bool(ids) or (selector.keeps(p) and p.usable))
    if not chosen.scanned:
        raise DistillError(f"no problems in the workspace {app.workspace.root}; run `distill problems import` first")
    if ids:
        chosen = chosen.pick(ids).filter(lambda p: p.usable)
    if not chosen:
        raise DistillError("no problems with answer keys match that selection")
    return chosen


def _stores(app: AppContext) -> TranscriptStore:
    from .service import open_store

    return open_store(app.workspace)


@click.group("corpus", cls=LazyGroup, lazy={"export": "distill.corpus.export_cli:export_cmd",
                                            "decontaminate": "distill.corpus.export_cli:decontaminate_cmd"})
def corpus_group() -> None:
    """Generate verified teacher solutions per year and export them for training."""


def selection_options(f):
    """--year / --years / --problems / --source, as the commands over stored transcripts take them."""
    for option in reversed((click.option("--year", help="One year."), click.option("--years", help="A range or list of years."),
                            click.option("--problems", "ids", multiple=True, help="Problem ids (repeatable)."),
                            click.option("--source", help="Only problems of this source."))):
        f = option(f)
    return f


@corpus_group.command("run")
@click.option("--year", help="One competition year, e.g. 2019.")
@click.option("--years", help="A range or list of years, e.g. 2011-2020.")
@click.option("--problems", "ids", multiple=True, help="Problem ids (repeatable).")
@click.option("--source", help="Only problems of this source (obryan, math500, ...).")
@click.option("--concurrency", type=FieldType(Settings, "concurrency"), help="Concurrent conversations (default: config, 8).")
@click.option("--max-rounds", type=FieldType(Settings, "max_rounds"), help="Solver attempts before rejecting (default: config, 3).")
@click.option("--retry-rejected", is_flag=True, help="Run rejected problems again too (failed ones always rerun).")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True),
              help="Hard cap in USD at the roles' prices: no call is made whose worst case (its prompt and max_tokens) would pass it.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Independent Solver samples per problem, each verified and stored (pass rate = verified / samples).")
@click.option("--prompts", type=click.Path(file_okay=False), help="Folder of prompt templates overriding the bundled ones.")
@click.option("--dry-run", is_flag=True, help="Show what would run and how much is already done.")
@click.option("--plan", "plan_only", is_flag=True, help="Print the calls, tokens, cost and time still to spend; call nothing.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@pass_app
def run_cmd(app: AppContext, year, years, ids, source, concurrency, max_rounds, retry_rejected, max_cost, samples, prompts, dry_run, plan_only,
            quiet, as_json) -> None:
    """Run Solver/Verifier conversations for the chosen problems (resumable; reruns are free)."""
    from distill.corpus.service import CorpusRequest, run_corpus_stage

    problems = select_problems(app, year, years, ids, source)
    s = app.settings
    app.start_log()
    req = CorpusRequest(problems, max_rounds=max_rounds or s.max_rounds, concurrency=concurrency or s.concurrency, samples=samples,
                        retry_rejected=retry_rejected, max_cost=max_cost, prompts_dir=app.prompts_dir(prompts))
    if dry_run:
        return _dry_run(app, req, as_json)
    if plan_only:
        from distill.agents.team import Templates
        from distill.plan.record import render

        from .plan import plan_corpus

        plan = plan_corpus(_stores(app), s, req, Templates.load(req.prompts_dir))
        click.echo(plan.model_dump_json()) if as_json else render(plan, app.out)
        return
    if max_cost is not None:
        from distill.corpus.runner import worst_sample_cost

        worst = worst_sample_cost(s.solver, s.verifier, req.max_rounds)
        if max_cost < worst:
            app.console.print(f"note: --max-cost ${max_cost:g} is below one sample's worst case (${worst:.4f} with every call at max_tokens): "
                              "a sample may stop at the cap partway; its finished calls stay cached for the next run", soft_wrap=True)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[counts]}"), console=app.console, disable=quiet or as_json)
    with progress:
        task = progress.add_task("corpus", total=len(problems) * samples, counts="")

        def on_done(t: Transcript, skipped: bool, summ) -> None:
            progress.update(task, advance=1, counts=f"[green]{summ.accepted} ok[/] [yellow]{summ.rejected} rejected[/] "
                            f"[red]{summ.failed} failed[/] {summ.tokens:,} tokens")

        summary = run_corpus_stage(app.workspace, s, req, on_done=on_done)
    d = summary.as_dict()
    if samples > 1:
        from distill.corpus.samples import pass_rate_histogram, problem_samples

        store = _stores(app)
        d["pass_rates"] = pass_rate_histogram([problem_samples(store, p.id, samples) for p in problems])
    if as_json:
        click.echo(json.dumps(d))
    else:
        _print_summary(app, d)
    _raise_for(summary, app, max_cost)


def _raise_for(summary, app: AppContext, max_cost: float | None) -> None:
    """The run's exit code: a fatal endpoint failure, the cost cap, failed samples."""
    if summary.stopped_by is not None:
        raise endpoint_exit(summary.stopped_by, app.log_path, suffix=f"; stopped, {summary.not_started} samples not started")
    if summary.over_budget:
        raise WorkFailed(f"stopped at the cost cap: ${summary.cost_usd:.4f} spent of --max-cost ${max_cost:g}; "
                         f"{summary.over_budget} samples not started (rerun with a higher cap to continue)")
    if summary.failed:
        raise WorkFailed(f"{summary.failed} of {summary.samples} samples failed; rerun the same command to retry them (details: {app.log_path})")


def _dry_run(app: AppContext, req, as_json: bool) -> None:
    """What a run would do: samples done, changed, new; the cost estimate from finished samples."""
    from distill.agents.team import Templates
    from distill.corpus.runner import fingerprint, run_identity
    from distill.corpus.service import finished_costs

    store, s = _stores(app), app.settings
    spent = finished_costs(store)
    per_sample = sum(spent) / len(spent) if spent else 0.0
    done: Counter = Counter()
    identity = run_identity(Templates.load(req.prompts_dir), s.solver, s.verifier, req.max_rounds)
    for p in req.problems:
        for k in range(req.samples):
            t = store.get(p.id, k)
            fresh = t is not None and t.fingerprint == fingerprint(p, identity, k)
            done["done" if fresh and t.status != "failed" else "stale" if t else "new"] += 1
    total = len(req.problems) * req.samples
    to_run = done["new"] + done["stale"]
    estimate = round(per_sample * to_run, 4) if spent else None
    info = {"problems": len(req.problems), "samples": total, "done": done["done"], "to_run": to_run,
            "changed_since_last_run": done["stale"], "cached_share": round(done["done"] / total, 3),
            "estimated_cost_usd": estimate, "estimated_from": len(spent)}
    cost_line = (f"; about ${estimate:.2f} at ${per_sample:.4f} per sample (mean of {len(spent)} finished)" if estimate is not None
                 else "; no finished, priced samples to estimate the cost from")
    click.echo(json.dumps(info) if as_json else
               f"{info['problems']} problems x {req.samples} samples: {info['done']} done (no calls), {to_run} to run "
               f"({info['changed_since_last_run']} changed since their last run){cost_line}")


def _print_summary(app: AppContext, d: dict) -> None:
    app.out.print(Panel.fit(
        f"{d['problems']} problems: [green]{d['accepted']} accepted[/], [yellow]{d['rejected']} rejected[/], [red]{d['failed']} failed[/]"
        f" ({d['skipped']} already done)\nmodel calls: {d['model_calls']} over the network, {d['cached']} from cache, "
        f"{d['retries']} retries; {d['tokens']:,} tokens; ${d['cost_usd']:.4f}; {d['seconds']:.1f}s", title="corpus run"))
    for role, urls in (d.get("endpoints") or {}).items():
        for url, e in urls.items():
            app.out.print(f"  {role} {safe_text.markup(url)}: served {e['served']}, failures {e['failures']}, open {e['open_s']:.1f}s")
    if d.get("reopened"):
        app.out.print(f"  re-opened x{d['reopened']}: accepted by another grader version, rejected by the current one")
    for reason, n in d["rejected_reasons"].items():
        app.out.print(f"  rejected x{n}: {safe_text.markup(reason)}")
    if d.get("pass_rates"):
        app.out.print("  pass rate (verified / samples): " + ", ".join(f"{r}: {n} problems" for r, n in d["pass_rates"].items()))
    for reason, n in d["failed_reasons"].items():
        app.out.print(f"  [red]failed[/] x{n}: {safe_text.markup(reason)}")


@corpus_group.command("levels")
@selection_options
@click.option("--levels", "levels_spec", default="R1-R6", show_default=True, help="Levels to produce, e.g. R1-R6 or R1,R6.")
@click.option("--concurrency", type=FieldType(Settings, "concurrency"), help="Concurrent model calls (default: config).")
@click.option("--band", default="0.5,1.5", show_default=True,
              help="Word band, as shares of each level template's stated target: outside it a text is retried once, then left out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--prompts", type=click.Path(file_okay=False), help="Folder of prompt templates overriding the bundled ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-level table as JSON.")
@pass_app
def levels_cmd(app: AppContext, year, years, ids, source, levels_spec, concurrency, band, quiet, prompts, as_json) -> None:
    """Restate accepted solutions at length levels R1 (full) .. R6 (~30 words)."""
    from distill.corpus.levels import parse_band, parse_levels
    from distill.corpus.service import LevelsRequest, accepted_count, run_levels_stage

    levels = parse_levels(levels_spec)  # a bad --levels is bad input: said before anything else is read
    problems = select_problems(app, year, years, ids, source)
    try:
        word_band = parse_band(band)
    except ValueError:
        raise DistillError(f"--band {band!r}: expected LOW,HIGH, e.g. 0.5,1.5") from None
    app.start_log()
    req = LevelsRequest(problems, levels, concurrency=concurrency or app.settings.concurrency, band=word_band, prompts_dir=app.prompts_dir(prompts))
    progress = Progress(TextColumn("[bold]levels"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=app.console,
                        disable=quiet or as_json)
    with progress:
        task = progress.add_task("levels", total=accepted_count(app.workspace, problems) * len(levels))
        res = run_levels_stage(app.workspace, app.settings, req, on_done=lambda _: progress.update(task, advance=1))
    if as_json:
        click.echo(json.dumps({"levels": res.levels, "model_calls": res.model_calls, "cached": res.cached}))
        return
    t = Table("level", "texts", "ok", "off target", "failed", "target words", "mean words (ok)", "mean words (all)", title="length levels")
    for lv, row in res.levels.items():
        t.add_row(lv, str(row["texts"]), str(row["ok"]), str(row["off_target"]), str(row["failed"]),
                  "–" if row["target_words"] is None else str(row["target_words"]), f"{row['mean_words']:.1f}", f"{row['mean_words_all']:.1f}")
    app.out.print(t)
    app.out.print(f"model calls: {res.model_calls} over the network, {res.cached} from cache")
    if res.failed:
        raise WorkFailed(f"{res.failed} level texts failed (see `distill transcripts show`); rerun the same command to retry them")


@corpus_group.command("rewrite-wrong")
@selection_options
@click.option("--concurrency", type=FieldType(Settings, "concurrency"), help="Concurrent model calls (default: config).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--prompts", type=click.Path(file_okay=False), help="Folder of prompt templates overriding the bundled ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_app
def rewrite_wrong_cmd(app: AppContext, year, years, ids, source, concurrency, quiet, prompts, as_json) -> None:
    """Rewrite wrong Solver replies stepwise, keeping their answers (for --pair-form formatted)."""
    from distill.corpus.service import RewritesRequest, run_rewrites_stage

    problems = select_problems(app, year, years, ids, source)
    app.start_log()
    req = RewritesRequest(problems, concurrency=concurrency or app.settings.concurrency, prompts_dir=app.prompts_dir(prompts))
    progress = Progress(TextColumn("[bold]rewrites"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=app.console,
                        disable=quiet or as_json)
    with progress:
        task = progress.add_task("rewrites", total=None)
        res = run_rewrites_stage(app.workspace, app.settings, req, on_done=lambda _: progress.update(task, advance=1),
                                 on_total=lambda n: progress.update(task, total=n))
    if not res.jobs:
        raise DistillError("no wrong Solver replies in that selection (rejected samples or rejected rounds); "
                           "run `distill corpus run --samples K` first")
    c = res.counts
    if as_json:
        click.echo(json.dumps({**c, "model_calls": res.model_calls, "cached": res.cached}))
    else:
        app.out.print(f"wrong replies rewritten: {c['ok']} kept their answer and are used, {c['refused']} refused "
                      f"(not stepwise, answer changed or corrected), {c['failed']} failed")
        app.out.print(f"model calls: {res.model_calls} over the network, {res.cached} from cache")
    if c["failed"]:
        raise WorkFailed(f"{c['failed']} rewrites failed; rerun the same command to retry them")


@corpus_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def status_cmd(app: AppContext, as_json: bool) -> None:
    """Per year: accepted / rejected / failed / not run, and tokens spent."""
    from distill.corpus.samples import problem_samples

    from distill.corpus.recheck import is_stale, recheck_many

    problems = (p for p in ProblemStore(app.workspace.problems_file).iter() if p.usable)  # one at a time: flat memory
    store = _stores(app)
    rows: dict[str, Counter] = defaultdict(Counter)
    cost: dict[str, float] = defaultdict(float)
    stale: list = []  # accepted by another grader version: re-checked below, in one batch, with no model call
    for p in problems:
        key = f"{p.source}:{p.year}" if p.year else p.source
        ps = problem_samples(store, p.id)  # one read of the problem's samples serves every column
        stale.extend((key, t) for t in ps.samples if is_stale(t))
        first = next((t for t in ps.samples if t.sample == 0), None)
        rows[key][first.status if first else "not_run"] += 1
        if first:
            rows[key]["tokens"] += first.usage.total
        if ps.pass_rate is not None:
            rows[key]["rate_sum"] += ps.pass_rate  # type: ignore[assignment]
            rows[key]["rated"] += 1
        rows[key]["verified"] += ps.accepted
        cost[key] += ps.cost_usd
    if stale:
        from distill.grading.pool import Grader

        with Grader(workers=app.settings.grader_workers) as grader:
            refused = recheck_many([t for _, t in stale], grader)
        for key, t in stale:
            rows[key]["now_rejected"] += (t.problem_id, t.sample) in refused
    data = {k: {**{c: v[c] for c in ("accepted", "rejected", "failed", "not_run", "tokens", "now_rejected")},
                "pass_rate": round(v["rate_sum"] / v["rated"], 3) if v["rated"] else None, "cost_usd": round(cost[k], 4),
                "cost_per_accepted_usd": round(cost[k] / v["verified"], 4) if v["verified"] else None} for k, v in sorted(rows.items())}
    if as_json:
        click.echo(json.dumps(data))
        return
    # compact headers so that the table fits 80 columns (the legend says what they mean)
    table = Table("source:year", "ok", "rej", "fail", "todo", "pass", "tokens", "cost", "$/ok", title="corpus status",
                  caption="ok/rej/fail/todo: first samples accepted, rejected, failed, not run; pass: verified share of all samples; "
                          "$/ok: cost per accepted sample")
    table.columns[0].no_wrap = True
    for k, v in data.items():
        table.add_row(safe_text.data(k), *(str(v[c]) for c in ("accepted", "rejected", "failed", "not_run")),
                      "–" if v["pass_rate"] is None else f"{v['pass_rate']:.2f}", _short(v["tokens"]), f"${v['cost_usd']:.2f}",
                      "–" if v["cost_per_accepted_usd"] is None else f"${v['cost_per_accepted_usd']:.3f}")
    app.out.print(table)
    if stale:
        flips = sum(v["now_rejected"] for v in data.values())
        app.out.print(f"{len(stale)} accepted transcripts were accepted by another grader version; the current grader rejects {flips} of them"
                      + (" (`distill corpus run` re-opens them; nothing else changes)" if flips else ""))


def _short(n: int) -> str:
    """1234 -> 1.2k, 2500000 -> 2.5M: token counts that fit a narrow column."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)
