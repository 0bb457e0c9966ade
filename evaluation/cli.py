"""`distill eval`: grade answers and evaluate students."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from distill.context import AppContext, pass_app
from distill.errors import DistillError
from distill.io import atomic_write_jsonl


@click.group("eval")
def eval_group() -> None:
    """Grade answers against official keys and evaluate students."""


def read_jsonl_records(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DistillError("no such file", path=path) from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DistillError(f"malformed JSON ({exc.msg})", path=path, where=f"line {lineno}") from None
        if not isinstance(row, dict):
            raise DistillError("expected a JSON object", path=path, where=f"line {lineno}")
        for field in required:
            if field not in row or row[field] is None:
                raise DistillError(f"missing field {field!r}", path=path, where=f"line {lineno}")
        rows.append(row)
    if not rows:
        raise DistillError("no records (empty file)", path=path)
    return rows


def make_judge(app: AppContext, prompts: str | None, concurrency: int):
    from distill.agents.clients import build_client, open_cache
    from distill.evaluation.judge import Judge

    ws = app.workspace.ensure()
    client = build_client(app.settings.judge, open_cache(ws.cache_dir), role_name="judge")
    return Judge(client, prompts_dir=app.prompts_dir(prompts), concurrency=concurrency, log_path=ws.logs_dir / "judge_disagreements.jsonl")


@eval_group.command("grade")
@click.argument("in_path", metavar="IN.jsonl", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output JSONL (input fields + verdict).")
@click.option("--gold-field", default="gold", show_default=True, help="Field holding the official key.")
@click.option("--response-field", default="response", show_default=True, help="Field holding the model's response.")
@click.option("--problem-field", default="problem", show_default=True, help="Field holding the problem text (shown to the judge).")
@click.option("--no-judge", is_flag=True, help="Rules only: undecided verdicts stay null.")
@click.option("--audit", is_flag=True, help="Ask the judge about every record and log where it disagrees with the rules.")
@click.option("--workers", type=int, default=2, show_default=True, help="Grading processes.")
@click.option("--timeout", "timeout_s", type=float, default=5.0, show_default=True, help="Seconds allowed per verdict.")
@click.option("--prompts", type=click.Path(file_okay=False), help="Folder of prompt templates overriding the bundled ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def grade_cmd(app: AppContext, in_path: Path, out_path: Path, gold_field: str, response_field: str, problem_field: str,
              no_judge: bool, audit: bool, workers: int, timeout_s: float, prompts: str | None, as_json: bool) -> None:
    """Grade each line's response against its key; add correct (true/false/null), extracted, method."""
    from distill.evaluation.batch import grade_records, summarise
    from distill.evaluation.pool import Grader

    if no_judge and audit:
        raise DistillError("--audit needs the judge; drop --no-judge")
    rows = read_jsonl_records(in_path, (gold_field, response_field))
    keys = [str(r[gold_field]) for r in rows]
    responses = [str(r[response_field]) for r in rows]
    judge = None if no_judge else make_judge(app, prompts, app.settings.concurrency)

    async def run():
        with Grader(workers=workers, timeout_s=timeout_s) as grader:
            return await grade_records(
                keys, responses, grader, judge=judge, audit=audit,
                problems=[str(r.get(problem_field) or "") for r in rows], ids=[r.get("id", i) for i, r in enumerate(rows)],
            )

    verdicts = asyncio.run(run())
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
    if as_json:
        click.echo(json.dumps(summary))
    else:
        app.out.print(
            f"graded {summary['total']}: [green]{summary['correct']} correct[/], [red]{summary['wrong']} wrong[/], "
            f"[yellow]{summary['undecided']} undecided[/] -> {out_path}"
        )
        app.out.print("by method: " + ", ".join(f"{k} {v}" for k, v in summary["by_method"].items()))
