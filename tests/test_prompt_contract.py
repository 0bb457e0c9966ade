"""What training learns must reach evaluation: one student prompt for both, and an adapter trained
on an export that lowers the loss of held-out solutions as the evaluation backend presents them."""

from __future__ import annotations

import json
import random

import pytest

from distill.corpus.export import ExportOptions, export_corpus
from distill.corpus.prompt import StudentPrompt
from distill.corpus.transcripts import Transcript, TranscriptStore
from distill.problems.schema import Problem
from distill.problems.store import ProblemStore


def _sum_problems(n_per_year: dict[int, int], seed: int = 0) -> list[Problem]:
    rng = random.Random(seed)
    out = []
    for year, n in n_per_year.items():
        for k in range(1, n + 1):
            a, b = rng.randint(1, 60), rng.randint(1, 60)
            out.append(Problem(id=f"toy-{year}-{k:02d}", source="toy", year=year, section="s", number=k,
                               text=f"What is {a} plus {b}? Give the sum.", answer=str(a + b)))
    return out


def _solution(p: Problem) -> str:
    a, b = (int(w.rstrip("?")) for w in p.text.split() if w.rstrip("?").isdigit())
    return f"Step 1: {a} + {b} = {a + b}.\nFinal answer: \\boxed{{{a + b}}}"


from distill.grading.version import grader_version  # noqa: E402


def _accepted_store(root, problems: list[Problem]) -> TranscriptStore:
    store = TranscriptStore(root)
    for p in problems:
        store.put(Transcript(problem_id=p.id, source=p.source, year=p.year, status="accepted", key=p.answer, solution=_solution(p),
                             final_answer=p.answer, fingerprint="toy", started_at="2026-01-01T00:00:00+00:00", grader_version=grader_version()))
    return store


def test_trained_prompt_is_byte_identical_to_the_evaluated_prompt(tmp_path, run_cli, workspace):
    """The export's [system, user] and what `eval run --endpoint student` sends, for the same problem."""
    from distill.demo.loopback import LoopbackServer, Reply

    problems = _sum_problems({2001: 6, 2002: 2, 2003: 3})
    ws_problems = workspace / "problems" / "problems.jsonl"
    ProblemStore(ws_problems).merge(problems)
    export_corpus(problems, _accepted_store(tmp_path / "t", problems), tmp_path / "exp", ExportOptions(valid_years=[2002], test_years=[2003]))
    trained = {}
    for split in ("train", "valid", "test"):
        for line in (tmp_path / "exp" / f"{split}.jsonl").read_text().splitlines():
            msgs = json.loads(line)["messages"]
            trained[msgs[1]["content"]] = msgs[:2]
    with LoopbackServer(lambda body: Reply(content="\\boxed{1}")) as srv:
        run_cli("--config", str(_student_config(tmp_path, srv.base_url)), "eval", "run", "--endpoint", "student",
                "--problems", "toy:2003", "--runs", "1", "--no-judge", "--quiet", "--out", str(tmp_path / "ev"))
        sent = [body["messages"] for body in srv.log.requests]
    assert len(sent) == 3
    for messages in sent:
        assert json.dumps(messages, ensure_ascii=False) == json.dumps(trained[messages[1]["content"]], ensure_ascii=False)


def _student_config(tmp_path, base_url):
    path = tmp_path / "distill.toml"
    path.write_text(f'[student]\nbase_url = "{base_url}"\nmodel = "student"\napi_key_env = ""\nmax_retries = 0\n')
    return path


@pytest.mark.slow
def test_an_adapter_trained_on_an_export_lowers_held_out_loss_as_evaluation_presents_it(tmp_path, tiny_model):
    import mlx.core as mx
    import mlx.nn as nn

    from distill.evaluation.backends import MlxBackend
    from distill.finetune.args import FinetuneArgs
    from distill.finetune.run import run_finetune

    problems = _sum_problems({2001: 48, 2002: 12, 2003: 10})
    export_corpus(problems, _accepted_store(tmp_path / "t", problems), tmp_path / "exp", ExportOptions(valid_years=[2002], test_years=[2003]))
    run_finetune(FinetuneArgs(model=str(tiny_model), data=str(tmp_path / "exp"), out=str(tmp_path / "ft"), iters=40, num_layers=-1,
                              steps_per_eval=10, learning_rate=1e-2, batch_size=4))
    held_out = [p for p in problems if p.year == 2003]
    student = StudentPrompt.load()

    def loss(backend: MlxBackend) -> float:
        model, tok = backend.load()  # the model and adapter exactly as `eval run` loads them
        total, count = 0.0, 0
        for p in held_out:
            prompt = backend.prompt_ids(student.messages(p))  # the evaluation's prompt and chat template
            target = tok.encode(_solution(p), add_special_tokens=False)
            ids = mx.array([prompt + target])
            logits = model(ids[:, :-1])
            nll = nn.losses.cross_entropy(logits[0, len(prompt) - 1:], ids[0, len(prompt):], reduction="sum")
            total, count = total + nll.item(), count + len(target)
        return total / count

    base, tuned = loss(MlxBackend(str(tiny_model))), loss(MlxBackend(str(tiny_model), tmp_path / "ft"))
    assert tuned < base - 0.5, (base, tuned)
