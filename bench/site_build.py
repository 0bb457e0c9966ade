"""Site benchmark at the study's size: `transcripts html` for 651 problems whose transcripts read like
R1's (a long reasoning trace dense with formulas, a stepwise solution, five shorter restatements),
each build a fresh process. Rows: one core (the named baseline), every core, the rebuild with nothing
changed. The problems are the O'Bryan sets from ../shared/data when present (their LaTeX included),
else the bundled sample problems repeated; the transcripts are generated (no teacher needed), so the
row measures the renderer on text of a stated size, not R1's own words.

    python bench/site_build.py [--problems 651] [--thought-words 2000] [--formulas-per-100-words 4] [--out bench/results/site_build.json]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import byte_compile, save  # noqa: E402
from scale import DISTILL, timed  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "obryan"
WORDS = ("so the next step is to check whether this holds for every case we listed and then compare the two totals "
         "carefully because a sign error here would change the answer wait let me recount the terms").split()
LEVEL_WORDS = {"R2": 150, "R3": 110, "R4": 80, "R5": 55, "R6": 31}


def formula(rng: random.Random) -> str:
    a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 20)
    return rng.choice([
        f"\\frac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{a}}} = \\frac{{{a * a + b * c}}}{{{a * b}}}",
        f"x^{{2}} - {a}x + {b} = 0",
        f"\\sqrt{{{a * a * c}}} = {a}\\sqrt{{{c}}}",
        f"\\binom{{{a}}}{{{c}}}",
        f"{a} \\cdot {b} = {a * b}",
        f"\\sum_{{k=1}}^{{{a}}} k^{{2}} = \\frac{{{a}({a}+1)(2\\cdot {a}+1)}}{{6}}",
        f"\\left(\\frac{{{a}}}{{{b}}}\\right)^{{{c}}}",
        f"\\angle ABC = {a}^\\circ",
    ])


def prose(rng: random.Random, words: int, per_100: float) -> str:
    """Paragraphs of `words` words with inline and display formulas, as R1 writes them."""
    out, n = [], 0
    while n < words:
        para = []
        for _ in range(rng.randint(30, 70)):
            if rng.random() < per_100 / 100:
                f = formula(rng)
                para.append(f"\\[ {f} \\]" if rng.random() < 0.2 else f"\\( {f} \\)")
            else:
                para.append(rng.choice(WORDS))
            n += 1
        out.append(" ".join(para))
    return "\n\n".join(out)


def write_corpus(ws: Path, n: int, thought_words: int, per_100: float, env: dict) -> int:
    from distill.corpus.transcripts import LevelText, Transcript, TranscriptMessage, TranscriptStore
    from distill.demo.samples import sample_files
    from distill.problems.schema import Problem
    from distill.problems.store import ProblemStore

    files = sorted(SHARED.glob("*.json")) if SHARED.is_dir() else [Path(f) for f in sample_files()]
    subprocess.run([DISTILL, "problems", "import", "--source", "obryan" if SHARED.is_dir() else "sample", *map(str, files)],
                   env=env, check=True, capture_output=True)
    store_p = ProblemStore(ws / "problems" / "problems.jsonl")
    problems = [p for p in store_p.load() if p.usable]
    copies = [p if k == 0 else p.model_copy(update={"id": f"{p.id}-copy{k}", "twins": []})
              for k in range(-(-n // len(problems))) for p in problems][:n]
    if len(copies) > len(problems):
        store_p.merge(Problem.model_validate(p.model_dump()) for p in copies)
    store = TranscriptStore(ws / "transcripts")
    rng = random.Random(0)
    for p in copies:
        solution = prose(rng, 220, per_100) + f"\n\nFinal answer: \\boxed{{{p.answer}}}"
        store.put(Transcript(
            problem_id=p.id, source=p.source, year=p.year, section=p.section, status="accepted", rounds=1, key=p.answer,
            solution=solution, final_answer=p.answer, fingerprint="bench", started_at="2026-01-01T00:00:00+00:00",
            messages=[TranscriptMessage(source="user", type="TextMessage", content=p.text),
                      TranscriptMessage(source="solver", type="TextMessage", content=prose(rng, 300, per_100) + f" \\boxed{{{p.answer}}}",
                                        thought=prose(rng, thought_words, per_100)),
                      TranscriptMessage(source="verifier", type="TextMessage", content="APPROVED")]))
        for lv, words in LEVEL_WORDS.items():
            text = prose(rng, words, per_100) + f" Final answer: \\boxed{{{p.answer}}}"
            store.put_level(LevelText(problem_id=p.id, level=lv, text=text, words=len(text.split()), ok=True, fingerprint="bench"))
    return len(copies)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=651, help="Problems in the site (the study's O'Bryan corpus had 651).")
    ap.add_argument("--thought-words", type=int, default=2000, help="Words of the Solver's reasoning per problem.")
    ap.add_argument("--formulas-per-100-words", type=float, default=4.0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "site_build.json")
    args = ap.parse_args()
    byte_compile()
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        env = {**os.environ, "DISTILL_WORKSPACE": str(d / "ws")}
        n = write_corpus(d / "ws", args.problems, args.thought_words, args.formulas_per_100_words, env)
        rows = {
            "1 core (baseline)": timed([DISTILL, "transcripts", "html", "--out", str(d / "one"), "--jobs", "1"], env),
            f"{args.jobs} cores": timed([DISTILL, "transcripts", "html", "--out", str(d / "all"), "--jobs", str(args.jobs)], env),
            "rebuild, nothing changed": timed([DISTILL, "transcripts", "html", "--out", str(d / "all"), "--jobs", str(args.jobs)], env),
        }
        size_mb = sum(f.stat().st_size for f in (d / "all").rglob("*") if f.is_file()) / 2**20
    base = rows["1 core (baseline)"]["wall_s"]
    t = Table(title=f"transcripts html: {n} problems, {args.thought_words}-word traces, {args.formulas_per_100_words:g} formulas per 100 words "
                    f"({'O' + chr(39) + 'Bryan problems' if SHARED.is_dir() else 'sample problems'}); site {size_mb:.0f} MB")
    for c in ("build", "seconds", "ms per page", "vs 1 core", "peak RSS MB"):
        t.add_column(c)
    for name, r in rows.items():
        r.pop("out", None)
        r.update(ms_per_page=round(1000 * r["wall_s"] / n, 2), vs_baseline=round(r["wall_s"] / base, 3))
        t.add_row(name, f"{r['wall_s']:.2f}", f"{r['ms_per_page']:.1f}", f"{r['vs_baseline']:.2f}x", str(r["rss_mb"]))
    Console().print(t)
    save(args.out, {"problems": n, "thought_words": args.thought_words, "formulas_per_100_words": args.formulas_per_100_words,
                    "jobs": args.jobs, "obryan": SHARED.is_dir(), "site_mb": round(size_mb, 1), "builds": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
