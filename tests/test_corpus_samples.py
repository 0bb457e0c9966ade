"""Several teacher samples per problem, the trace level, pass-rate filters and decontamination,
against the recorded teacher over a loopback server (the real HTTP client path)."""

from __future__ import annotations

import json

import pytest

from distill.corpus.transcripts import TranscriptStore
from distill.demo.loopback import LoopbackServer
from distill.demo.recorded_teacher import RecordedTeacher, role_of, role_settings
from distill.demo.samples import sample_files
from distill.grading.grader import grade


def first_round_solver_calls(requests) -> int:
    """Solver requests that open a conversation (system + task): one per sample asked for."""
    return sum(1 for b in requests if role_of(b) == "solver" and sum(m["role"] == "assistant" for m in b["messages"]) == 0)


@pytest.fixture
def teacher(run_cli, monkeypatch):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    srv = LoopbackServer(RecordedTeacher()).start()
    for role, values in role_settings(srv.base_url).items():
        for k, v in values.items():
            monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
    yield srv
    srv.stop()


def run(run_cli, *args) -> dict:
    return json.loads(run_cli("corpus", "run", *args, "--json", "--quiet").stdout)


def distinct_texts(workspace) -> int:
    from distill.problems.store import ProblemStore

    return len({p.text for p in ProblemStore(workspace / "problems" / "problems.jsonl").load() if p.year in (2001, 2002)})


@pytest.mark.slow
def test_k_samples_are_distinct_cached_and_extended_by_exactly_the_missing_ones(teacher, run_cli, workspace):
    first = run(run_cli, "--years", "2001-2002", "--samples", "4")
    texts = distinct_texts(workspace)  # twins (one text in two sections) share their calls through the cache
    assert texts == 15 and first["samples"] == 64 and first_round_solver_calls(teacher.log.requests) == 4 * texts
    store = TranscriptStore(workspace / "transcripts")
    for pid in ("sample-2001-fs-01", "sample-2002-js-03"):
        samples = store.samples(pid)
        assert [t.sample for t in samples] == [0, 1, 2, 3]
        assert len({t.messages[1].content for t in samples}) == 4  # four different Solver answers
        assert len({t.solution for t in samples}) == 4
    assert first["pass_rates"]["1.0"] == 15 and first["pass_rates"]["0.0"] == 1  # one problem stays wrong in every sample
    n = teacher.log.count
    again = run(run_cli, "--years", "2001-2002", "--samples", "4")
    assert teacher.log.count == n and again["skipped"] == 64 and again["model_calls"] == 0
    more = run(run_cli, "--years", "2001-2002", "--samples", "6")
    assert more["skipped"] == 64 and first_round_solver_calls(teacher.log.requests[n:]) == 2 * texts
    assert [t.sample for t in store.samples("sample-2001-fs-01")] == [0, 1, 2, 3, 4, 5]
    # list and show tell the samples apart
    listed = [json.loads(line) for line in run_cli("transcripts", "list", "--year", "2001", "--json").stdout.splitlines()]
    assert [r["sample"] for r in listed if r["problem_id"] == "sample-2001-fs-01"] == [0, 1, 2, 3, 4, 5]
    shown = json.loads(run_cli("transcripts", "show", "sample-2001-fs-01", "--sample", "3", "--json").stdout)
    assert shown["sample"] == 3 and shown["solution"] == store.get("sample-2001-fs-01", 3).solution


@pytest.mark.slow
def test_trace_level_and_picks(teacher, run_cli, workspace, tmp_path):
    run(run_cli, "--year", "2001", "--samples", "3")
    store = TranscriptStore(workspace / "transcripts")
    out = tmp_path / "trace"
    run_cli("corpus", "export", "--out", str(out), "--level", "trace", "--pick", "shortest", "--source", "sample")
    rows = [json.loads(line)["messages"] for line in (out / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 7  # 8 problems in 2001, two of them twins (one example)
    manifest = json.loads((out / "manifest.json").read_text())
    by_problem = {pid: msgs[2]["content"] for pid, msgs in zip(manifest["transcripts"]["train"], rows)}
    for pid, target in by_problem.items():
        shortest = min((t for t in store.samples(pid) if t.status == "accepted"), key=lambda t: len(t.solution.split()))
        assert target == f"<think>\n{shortest.thought}\n</think>\n\n{shortest.solution}"  # the Solver's reasoning, verbatim
        assert target.splitlines()[-1].startswith("Final answer: \\boxed{") and target.rstrip().endswith("}")
        assert grade(store.get(pid).key, target.splitlines()[-1]).correct is True  # the tail ends with the key
    assert manifest["level"] == "trace" and manifest["pick"] == "shortest" and manifest["tokens"]["max"] > 0
    everything = tmp_path / "all"
    run_cli("corpus", "export", "--out", str(everything), "--level", "R1", "--pick", "all", "--source", "sample")
    assert json.loads((everything / "manifest.json").read_text())["counts"]["train"] == 7 * 3  # three distinct verified samples each


@pytest.mark.slow
def test_pass_rate_filters_select_by_difficulty(teacher, run_cli, tmp_path):
    run(run_cli, "--years", "2001-2002", "--samples", "2")
    r = run_cli("corpus", "export", "--out", str(tmp_path / "hard"), "--source", "sample", "--valid-years", "2002", "--max-pass-rate", "0.5", ok=False)
    assert r.exit_code == 2 and "nothing to export" in r.output  # every 2001 problem is verified in both samples
    run_cli("corpus", "export", "--out", str(tmp_path / "easy"), "--source", "sample", "--valid-years", "2002", "--min-pass-rate", "1.0")
    m = json.loads((tmp_path / "easy" / "manifest.json").read_text())
    assert m["counts"]["train"] == 7 and m["skipped"].get("pass rate outside the asked range", 0) == 0


@pytest.mark.slow
def test_decontamination_flags_a_planted_evaluation_problem_and_keeps_it_out_of_training(teacher, run_cli, workspace, tmp_path):
    from distill.problems.store import ProblemStore

    planted = ProblemStore(workspace / "problems" / "problems.jsonl").get("sample-2001-fs-02")
    reworded = "  " + planted.text.replace(",", " ,").replace(".", " . ").upper() + "  "
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": "b1", "problem": reworded, "answer": planted.answer}) + "\n"
                     + json.dumps({"id": "b2", "problem": "An unrelated question about the number of primes below 30.", "answer": "10"}) + "\n")
    run_cli("problems", "import", str(bench), "--source", "evalset")
    run(run_cli, "--year", "2001")
    d = json.loads(run_cli("corpus", "decontaminate", "--source", "sample", "--json").stdout)
    assert [(c["problem_id"], c["eval_id"]) for c in d["flagged"]] == [("sample-2001-fs-02", "evalset-b1")]
    out = tmp_path / "exp"
    run_cli("corpus", "export", "--out", str(out), "--source", "sample")
    m = json.loads((out / "manifest.json").read_text())
    assert "sample-2001-fs-02" not in m["transcripts"]["train"] and m["skipped"]["overlaps an evaluation problem"] == 1
    assert m["decontamination"]["flagged"][0]["eval_id"] == "evalset-b1" and m["decontamination"]["flagged"][0]["overlap"] >= 0.5
    # the same counts as `corpus decontaminate` for the same selection; held-out years are not "not run"
    held = tmp_path / "held"
    run_cli("corpus", "export", "--out", str(held), "--source", "sample", "--valid-years", "2002", "--test-years", "2003")
    mh = json.loads((held / "manifest.json").read_text())
    dh = json.loads(run_cli("corpus", "decontaminate", "--source", "sample", "--valid-years", "2002", "--test-years", "2003", "--json").stdout)
    assert mh["decontamination"]["training_problems"] == dh["training_problems"] == 8
    assert mh["decontamination"]["evaluation_problems"] == dh["evaluation_problems"] == 16 + 2
    assert [c["problem_id"] for c in mh["decontamination"]["flagged"]] == [c["problem_id"] for c in dh["flagged"]] == ["sample-2001-fs-02"]
    assert mh["skipped"].get("not run") == 8  # the 2002 validation problems, never run; not the 2003 test problems


@pytest.mark.parametrize("concurrency", [2, 16])
def test_max_cost_is_a_hard_cap_from_a_fresh_workspace(teacher, run_cli, workspace, monkeypatch, concurrency):
    """No call is made whose worst case would pass the cap: at concurrency 16 too, with nothing finished
    to estimate from (the spend is counted from the endpoint's own usage, in the transcripts and the summary)."""
    for role in ("SOLVER", "VERIFIER"):
        monkeypatch.setenv(f"DISTILL_{role}__PRICE_INPUT", "1000")
        monkeypatch.setenv(f"DISTILL_{role}__PRICE_OUTPUT", "1000")
        monkeypatch.setenv(f"DISTILL_{role}__MAX_TOKENS", "300")
    r = run_cli("corpus", "run", "--years", "2001-2002", "--concurrency", str(concurrency), "--max-cost", "1.0", "--json", "--quiet", ok=False)
    assert r.exit_code == 1 and "stopped at the cost cap" in r.output
    s = json.loads(r.stdout)
    costs = [t.cost_usd for t in TranscriptStore(workspace / "transcripts").all()]
    # which samples finish before the cap depends on the order replies come back (at concurrency 2 the other
    # sample's reservations may leave none room to finish): the cap and the accounting are what must hold
    assert 0 < s["over_budget"] <= 16 and len(costs) == 16 - s["over_budget"]
    assert sum(costs) <= s["cost_usd"] <= 1.0  # what was spent, partial samples included, stays within the cap
    assert "below one sample's worst case ($1.5000" in r.stderr  # 3 Solver rounds + 2 format attempts at 300 tokens
    dry = json.loads(run_cli("corpus", "run", "--years", "2001-2002", "--dry-run", "--json").stdout)
    assert dry["to_run"] == s["over_budget"] and dry["estimated_from"] == len(costs)
    # an estimate needs a finished sample; with none finished the dry run says so instead of guessing
    assert (dry["estimated_cost_usd"] > 0) if costs else (dry["estimated_cost_usd"] is None)
    status = json.loads(run_cli("corpus", "status", "--json").stdout)
    # which samples finished before the cap depends on the order replies came back: look at the years that spent
    spent = [v for v in status.values() if v["cost_usd"] > 0]
    assert bool(spent) == bool(costs) and all(v["cost_per_accepted_usd"] > 0 for v in spent if v["accepted"])
    assert sum(v["cost_usd"] for v in status.values()) == pytest.approx(sum(costs), abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("honour, expect_off", [(True, 0), (False, 15)])
def test_levels_keep_their_word_budgets_or_are_left_out(run_cli, monkeypatch, workspace, tmp_path, honour, expect_off):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    with LoopbackServer(RecordedTeacher(honour_targets=honour)) as srv:
        for role, values in role_settings(srv.base_url).items():
            for k, v in values.items():
                monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
        run(run_cli, "--years", "2001-2002")
        table = json.loads(run_cli("corpus", "levels", "--years", "2001-2002", "--levels", "R2", "--json", "--quiet").stdout)["levels"]["R2"]
        retries = sum(1 for b in srv.log.requests if role_of(b) == "verifier" and any("this level asks for" in str(m["content"]) for m in b["messages"]))
    assert table["target_words"] == 160 and table["off_target"] == expect_off
    if honour:
        assert table["ok"] == 15 and 80 <= table["mean_words"] <= 240 and retries == 0
        run_cli("corpus", "export", "--out", str(tmp_path / "r2"), "--level", "R2", "--source", "sample", "--valid-years", "2002")
        words = json.loads((tmp_path / "r2" / "manifest.json").read_text())["level_words"]
        assert words["target"] == 160 and words["off_target"] == 0 and 80 <= words["achieved_mean"] <= 240
    else:
        assert table["ok"] == 0 and retries == 15  # each off-target text was asked once more, with feedback
        assert table["mean_words"] == 0.0 and 0 < table["mean_words_all"] < 80  # the texts written (below the band), beside the empty in-band mean
        r = run_cli("corpus", "export", "--out", str(tmp_path / "r2"), "--level", "R2", "--source", "sample", "--valid-years", "2002", ok=False)
        assert r.exit_code == 2 and "off target 15" in r.output  # every restated text left out, and counted


@pytest.mark.slow
def test_a_larger_max_tokens_reuses_complete_answers_and_asks_only_truncated_ones_again(run_cli, monkeypatch, workspace):
    from distill.demo.recorded_teacher import recorded_teacher

    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))

    def responder(body):
        reply = recorded_teacher(body)
        if "5 green beads" in json.dumps(body) and role_of(body) == "solver" and body.get("max_tokens", 0) < 1000:
            reply.finish_reason = "length"  # this problem's answer does not fit a small limit
        return reply

    with LoopbackServer(responder) as srv:
        for role, values in role_settings(srv.base_url).items():
            for k, v in values.items():
                monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
        monkeypatch.setenv("DISTILL_SOLVER__MAX_TOKENS", "500")
        first = run(run_cli, "--year", "2001")
        assert first["accepted"] == 7 and first["rejected"] == 1
        n = srv.log.count
        monkeypatch.setenv("DISTILL_SOLVER__MAX_TOKENS", "4000")
        second = run(run_cli, "--year", "2001")
        new = srv.log.requests[n:]
    assert second["accepted"] == 8 and second["skipped"] == 0  # the settings changed, so every problem was looked at again...
    assert new and all("5 green beads" in json.dumps(b) for b in new)  # ...but only the truncated one went to the network


@pytest.mark.shared_data
def test_obryan_overlap_with_math500_aime_and_amc_as_measured(shared_data, run_cli, workspace):
    from distill.corpus.decontaminate import find_contamination
    from distill.problems.store import ProblemStore

    for name in ("obryan", "math500.jsonl", "aime24.jsonl", "amc23.jsonl"):
        run_cli("problems", "import", str(shared_data / name))
    problems = [p for p in ProblemStore(workspace / "problems" / "problems.jsonl").load() if p.usable]
    obryan = [p for p in problems if p.source == "obryan"]
    others = [p for p in problems if p.source != "obryan"]
    assert len(obryan) == 651 and len(others) == 570
    assert find_contamination(obryan, others) == []  # measured: no O'Bryan problem reaches the 0.5 overlap threshold
    weak = find_contamination(obryan, others, threshold=0.01)
    assert len(weak) == 14 and max(c.overlap for c in weak) < 0.2  # 14 share a stock 8-gram phrase with MATH-500, at most 14%


@pytest.mark.slow
def test_hf_export_loads_with_datasets_offline(teacher, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    run(run_cli, "--years", "2001-2002", "--samples", "2")
    out = tmp_path / "hf"
    run_cli("corpus", "export", "--out", str(out), "--source", "sample", "--valid-years", "2002", "--format", "hf", "--level", "trace",
            "--license", "cc-by-4.0")
    import datasets

    ds = datasets.load_dataset(str(out))
    assert set(ds) == {"train", "validation"} and len(ds["train"]) == 7 and len(ds["validation"]) == 7
    row = ds["train"][0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"] and row["messages"][2]["content"].startswith("<think>\n")
    assert row["level"] == "trace" and row["year"] == 2001 and row["pass_rate"] == 1.0 and row["words"] > 0 and row["tokens"] > 0
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\nconfigs:") and "decontamination" in card and "template hashes" in card
    # the card names the models that produced the data (from the transcripts), not a default teacher
    assert "by recorded-r1 (the Solver)" in card and "recorded-formatter (the Verifier/Formatter)" in card and "DeepSeek" not in card
    assert "validation years [2002]" in card and "Level trace" in card
    assert json.loads((out / "manifest.json").read_text())["models"] == {"solver": ["recorded-r1"], "verifier": ["recorded-formatter"]}


@pytest.mark.slow
def test_status_export_and_run_after_a_grader_change(teacher, run_cli, workspace, tmp_path):
    """Issue 36: transcripts accepted by an older grader are re-checked with no model call. `corpus status` counts
    the ones the current grader rejects, an export leaves them out and records the grader version, and
    `corpus run` re-opens exactly those."""
    from distill.grading.version import grader_version

    run(run_cli, "--year", "2001")
    store = TranscriptStore(workspace / "transcripts")
    accepted = sorted((t for t in store.all() if t.status == "accepted"), key=lambda t: t.problem_id)
    hedged = accepted[0]
    for t in accepted:  # all stale; the first one's verified reply now reads as a hedge
        update = {"grader_version": "an-older-grader"}
        if t is hedged:
            i = max(i for i, m in enumerate(t.messages) if m.source == "solver")
            msgs = list(t.messages)
            msgs[i] = msgs[i].model_copy(update={"content": msgs[i].content + f"\nOr perhaps \\boxed{{{t.key}1}}."})
            update["messages"] = msgs
        store.put(t.model_copy(update=update))
    status = json.loads(run_cli("corpus", "status", "--json").stdout)
    assert status["sample:2001"]["now_rejected"] == 1
    text = " ".join(run_cli("corpus", "status").output.split())
    assert f"{len(accepted)} accepted transcripts were accepted by another grader version; the current grader rejects 1" in text
    r = run_cli("corpus", "export", "--out", str(tmp_path / "e"), "--source", "sample", ok=False)
    assert r.exit_code == 2 and "accepted by another grader version" in r.output  # nothing exported until re-checked
    before = teacher.log.count
    s = run(run_cli, "--year", "2001")
    assert s["reopened"] == 1 and s["skipped"] == 7
    assert all(t.grader_version == grader_version() for t in store.all())
    run_cli("corpus", "export", "--out", str(tmp_path / "e"), "--source", "sample")
    assert json.loads((tmp_path / "e" / "manifest.json").read_text())["grader_version"] == grader_version()
    assert teacher.log.count - before <= 3  # only the re-opened conversation: its replayed reply is graded again
