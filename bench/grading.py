"""Grading benchmark: MATH-500 gold answers against the boxed answer of their own reference
solutions (all equivalent) and against a perturbed wrong answer; distill's grader vs math-verify
alone (the baseline) on the same pairs, both with 2 worker processes.

    python bench/grading.py [--data ../shared/data/math500.jsonl] [--out bench/results/grading.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from distill.grading.extract import last_boxed
from distill.demo.fixtures import perturb
from distill.grading.pool import Grader
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))  # the case table lives with the tests (tests/grading_cases.py)
from common import save  # noqa: E402


def _mv_pair(args: tuple[str, str]) -> bool:
    from math_verify import parse, verify

    gold, pred = args
    try:
        return bool(verify(parse(f"${gold}$"), parse(f"${pred}$")))
    except Exception:
        return False


def run_math_verify(pairs: list[tuple[str, str]], workers: int) -> tuple[list[bool], float]:
    with ProcessPoolExecutor(workers) as ex:
        list(ex.map(_mv_pair, [("1", "1")] * workers))  # warm-up, like the grader's initializer
        t0 = time.perf_counter()
        out = list(ex.map(_mv_pair, pairs, chunksize=8))
        return out, time.perf_counter() - t0


def run_grader(pairs: list[tuple[str, str]], workers: int) -> tuple[list, float]:
    with Grader(workers=workers) as g:
        g.grade_many([("x + 1", "x + 2")] * workers, extracted=True)  # start the workers (a pair that needs them: "1" vs "1" no longer does)
        t0 = time.perf_counter()
        verdicts = g.grade_many(pairs, extracted=True)
        return verdicts, time.perf_counter() - t0


def _mv_reply(args: tuple[str, str]) -> bool | None:
    from math_verify import parse, verify

    key, reply = args
    try:
        gold, pred = parse(f"${key}$"), parse(reply)
        return bool(verify(gold, pred)) if gold and pred else None
    except Exception:
        return None


def both_graders(pairs: list[tuple[str, str]], baseline, workers: int) -> tuple[list, list]:
    """distill's verdicts (its worker pool) and the baseline's (a process pool) on the same (gold, reply) pairs."""
    with Grader(workers=workers) as grader:
        ours = grader.grade_many(pairs)
    with ProcessPoolExecutor(workers) as ex:
        return ours, list(ex.map(baseline, pairs))


def agreement(tables: dict, baseline, workers: int) -> dict:
    """Per table of (gold, reply, expected) cases: how often distill and math-verify alone (`baseline`, run
    in a process pool) give the expected verdict, and how often distill abstains."""
    rows = [(name, g, r, e) for name, table in tables.items() for g, r, e in table]
    ours, mv = both_graders([(g, r) for _, g, r, _ in rows], baseline, workers)
    out: dict = {}
    for (name, _, _, e), v, m in zip(rows, ours, mv):
        c = out.setdefault(name, {"cases": 0, "distill": 0, "math_verify": 0, "abstained": 0})
        c["cases"] += 1
        c["distill"] += v.correct is e
        c["math_verify"] += m is e
        c["abstained"] += v.correct is None
    return out


def per_class(workers: int) -> dict:
    """Agreement with the expected verdict per class of case, distill and math-verify alone, on whole replies."""
    from tests.grading_cases import CLASSES

    return agreement(CLASSES, _mv_reply, workers)


def _mv_peer(args: tuple[str, str]) -> bool:
    """math-verify alone as its own suites call it: gold and prediction parsed as given, gold first."""
    from math_verify import parse, verify

    gold, pred = args
    try:
        return bool(verify(parse(gold), parse(pred)))
    except Exception:
        return False


def per_category(workers: int) -> dict:
    """Agreement per category of the peer-style table (tests/grading_cases.py PEER): distill vs math-verify alone."""
    from tests.grading_cases import PEER

    return agreement(PEER, _mv_peer, workers)


def adversarial(workers: int) -> dict:
    """False positives per category of hedged/ranged/over-specified replies and false negatives per category of
    look-alikes (tests/adversarial_cases.py), distill against math-verify alone on whole replies, in one run."""
    from tests.adversarial_cases import LOOK_ALIKES, NEGATIVES

    rows = [("neg", c, k, r) for c, t in NEGATIVES.items() for k, r in t] + [("pos", c, k, r) for c, t in LOOK_ALIKES.items() for k, r in t]
    ours, mv = both_graders([(k, r) for _, _, k, r in rows], _mv_reply, workers)
    out: dict = {}
    for (side, cat, _, _), v, m in zip(rows, ours, mv):
        c = out.setdefault(f"{side}:{cat}", {"side": side, "cases": 0, "distill_errors": 0, "math_verify_errors": 0})
        c["cases"] += 1
        # a negative is an error when graded correct (a false positive); a look-alike when not graded correct
        c["distill_errors"] += (v.correct is True) if side == "neg" else (v.correct is not True)
        c["math_verify_errors"] += (m is True) if side == "neg" else (m is not True)
    return out


def adversarial_table(groups: dict) -> Table:
    t = Table(title="adversarial table: false positives on negatives, false negatives on look-alikes")
    for col in ("category", "cases", "distill", "math-verify alone"):
        t.add_column(col)
    for side, label in (("neg", "FP"), ("pos", "FN")):
        rows = {k: c for k, c in groups.items() if c["side"] == side}
        for name, c in rows.items():
            t.add_row(name, str(c["cases"]), f"{label} {c['distill_errors'] / c['cases']:.1%}", f"{label} {c['math_verify_errors'] / c['cases']:.1%}")
        n = sum(c["cases"] for c in rows.values())
        t.add_row(f"all {side}", str(n), f"{label} {sum(c['distill_errors'] for c in rows.values()) / n:.1%}",
                  f"{label} {sum(c['math_verify_errors'] for c in rows.values()) / n:.1%}")
    return t


def agreement_table(title: str, first: str, groups: dict) -> Table:
    t = Table(title=title)
    for col in (first, "cases", "distill", "math-verify alone", "distill abstained"):
        t.add_column(col)
    for name, c in groups.items():
        t.add_row(name, str(c["cases"]), f"{c['distill'] / c['cases']:.1%}", f"{c['math_verify'] / c['cases']:.1%}", str(c["abstained"]))
    tot = {k: sum(c[k] for c in groups.values()) for k in ("cases", "distill", "math_verify", "abstained")}
    t.add_row("all", str(tot["cases"]), f"{tot['distill'] / tot['cases']:.1%}", f"{tot['math_verify'] / tot['cases']:.1%}", str(tot["abstained"]))
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "math500.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "grading.json")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    classes = per_class(args.workers)
    Console().print(agreement_table("agreement with the expected verdict, by class of case (whole replies)", "class", classes))
    peer = per_category(args.workers)
    Console().print(agreement_table("peer-style cases by category (gold and reply as other graders' suites pass them)", "category", peer))
    adv = adversarial(args.workers)
    Console().print(adversarial_table(adv))
    if not args.data.exists():
        print(f"MATH-500 part skipped: {args.data} not found")
        save(args.out, {"classes": classes, "peer": peer, "adversarial": adv})
        return 0
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    equiv = [(r["answer"], last_boxed(r["solution"]) or "") for r in rows]
    wrong = [(r["answer"], perturb(r["answer"])) for r in rows]
    pairs = equiv + wrong

    verdicts, t_ours = run_grader(pairs, args.workers)
    mv, t_mv = run_math_verify(pairs, args.workers)
    n = len(equiv)
    ours_eq = [v.correct is True for v in verdicts[:n]]
    ours_wr = [v.correct is False for v in verdicts[n:]]
    mv_eq, mv_wr = mv[:n], [not x for x in mv[n:]]
    slowest = max(v.elapsed_ms for v in verdicts)
    timeouts = sum(v.method == "timeout" for v in verdicts)
    result = {
        "classes": classes,
        "peer": peer,
        "adversarial": adv,
        "pairs": len(pairs),
        "workers": args.workers,
        "distill": {
            "agree_equivalent": sum(ours_eq) / n,
            "agree_wrong": sum(ours_wr) / n,
            "undecided": sum(v.correct is None for v in verdicts),
            "answers_per_s": len(pairs) / t_ours,
            "slowest_verdict_ms": slowest,
            "timeouts": timeouts,
        },
        "math_verify": {"agree_equivalent": sum(mv_eq) / n, "agree_wrong": sum(mv_wr) / n, "answers_per_s": len(pairs) / t_mv},
        "throughput_ratio": (len(pairs) / t_ours) / (len(pairs) / t_mv),
        "disagreements": [
            {"gold": g, "pred": p, "expected": i < n, "got": v.correct, "method": v.method}
            for i, ((g, p), v) in enumerate(zip(pairs, verdicts))
            if (v.correct is not True if i < n else v.correct is not False)
        ],
    }
    table = Table(title=f"grading: {len(pairs)} MATH-500 pairs, {args.workers} workers")
    for col in ("grader", "equivalent agree", "wrong agree", "answers/s", "ratio"):
        table.add_column(col)
    d, m = result["distill"], result["math_verify"]
    table.add_row("distill", f"{d['agree_equivalent']:.1%}", f"{d['agree_wrong']:.1%}", f"{d['answers_per_s']:.0f}", f"{result['throughput_ratio']:.2f}x")
    table.add_row("math-verify (baseline)", f"{m['agree_equivalent']:.1%}", f"{m['agree_wrong']:.1%}", f"{m['answers_per_s']:.0f}", "1.00x")
    Console().print(table)
    print(f"slowest distill verdict: {slowest:.0f} ms; timeouts: {timeouts}; undecided: {d['undecided']}")
    save(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
