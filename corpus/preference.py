"""Preference pairs out of the corpus, for DPO/ORPO (mlx-lm-lora's `{prompt, chosen, rejected}` rows).

What the corpus already holds and supervised fine-tuning throws away:
- `samples`: with `corpus run --samples K`, a verified sample over a failed (rejected) one of the same problem;
- `rounds`: the Verifier's rejected rounds (a wrong answer) against the accepted answer;
- `shorter` (with `--prefer shorter`): among verified samples, the shortest over the longest.

Both sides of a pair are in one form, so a trainer can only separate them by what they say:
- `solver` (the default): both are the Solver's own replies, the verified one against one the grader
  found wrong; with `--level trace` both carry their thinking in `<think>`, or the pair is dropped.
- `formatted`: both are the Formatter's stepwise rewrites: the accepted solution against the rewrite of
  the wrong reply (`corpus rewrite-wrong`, which keeps the reply's own answer and is checked to be still
  wrong); a wrong reply without such a rewrite is counted as dropped.
A pair whose two sides still differ in form (final-line shape, step lines, a think block) is dropped
and counted, never exported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from distill.reasoning import split_inline

from .samples import ProblemSamples
from .transcripts import Transcript, TranscriptMessage, solver_rounds

PAIR_KINDS = ("samples", "rounds", "shorter")
PAIR_FORMS = ("solver", "formatted")
PairForm = Literal["solver", "formatted"]

THINK = re.compile(r"<think>.*?</think>\s*", re.S | re.I)
STEP_LINE = re.compile(r"(?im)^\s*(?:\*\*)?step\s+\d+")
FINAL_LINE = re.compile(r"(?i)final\s+answer")


@dataclass(frozen=True)
class Pair:
    problem_id: str
    kind: str
    chosen: str
    rejected: str
    form: str = "solver"


@dataclass
class PairReport:
    """What one problem gave: its pairs, and the candidates dropped with why."""

    pairs: list[Pair] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)


def text_form(text: str) -> tuple[str, bool, bool]:
    """The form of a training text: the shape of its last line (boxed / final-answer / prose), whether it
    is written in `Step n:` lines, and whether it opens with a think block."""
    has_think = text.lstrip().lower().startswith("<think>")
    body = THINK.sub("", text).strip()
    lines = [line for line in body.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    shape = "boxed" if "\\boxed" in last else "final_answer" if FINAL_LINE.search(last) else "prose"
    return shape, bool(STEP_LINE.search(body)), has_think


def _solver_text(m: TranscriptMessage, trace: bool) -> str | None:
    """A Solver reply as a training text: its answer part, with its thinking in `<think>` at level trace."""
    inline = THINK.search(m.content)
    answer = THINK.sub("", m.content).strip()
    if not trace:
        return answer or None
    thinking = m.thought or (inline.group(0).strip()[len("<think>"):-len("</think>")].strip() if inline else None)
    return f"<think>\n{thinking}\n</think>\n\n{answer}" if thinking and answer else None


def _formatted(t: Transcript, trace: bool) -> str | None:
    if not t.solution:
        return None
    if not trace:
        return t.solution
    return f"<think>\n{t.thought}\n</think>\n\n{t.solution}" if t.thought else None


RewriteOf = Callable[[Transcript, int], "str | None"]


def preference_pairs(ps: ProblemSamples, prefer_shorter: bool = False, form: PairForm = "solver",
                     trace: bool = False, rewrite_of: RewriteOf | None = None) -> PairReport:
    """Every pair one problem's samples give in one form; none when no sample was verified. `rewrite_of`
    gives the checked Formatter rewrite of a transcript's wrong reply at a round (`corpus rewrite-wrong`),
    for the formatted form."""
    report = PairReport()
    verified = [t for t in ps.verified if t.solution]
    if not verified:
        return report
    pid = ps.problem_id

    def side(t: Transcript) -> str | None:
        """The verified side: the accepted rewrite, or the Solver's verified reply."""
        if form == "formatted":
            return _formatted(t, trace)
        m = next((x for _, x, ok in reversed(solver_rounds(t)) if ok), None)
        return _solver_text(m, trace) if m is not None else None

    def add(kind: str, chosen: str | None, rejected: str | None) -> None:
        if chosen is None or rejected is None:
            report.dropped["no thinking on one side" if trace else "a side has no text"] += 1
        elif text_form(chosen) != text_form(rejected):
            report.dropped["forms differ"] += 1
        else:
            report.pairs.append(Pair(pid, kind, chosen, rejected, form))

    def against_wrong(kind: str, chosen: Transcript, t: Transcript, round: int, m: TranscriptMessage) -> None:
        """A pair rejecting the wrong reply `m`: the reply itself, or (formatted) its checked rewrite."""
        if form == "solver":
            return add(kind, side(chosen), _solver_text(m, trace))
        text = rewrite_of(t, round) if rewrite_of is not None else None
        if text is None:
            report.dropped["no Formatter rewrite of a wrong reply"] += 1
            return
        thinking = m.thought or split_inline(m.content)[0]
        add(kind, side(chosen), text if not trace else (f"<think>\n{thinking}\n</think>\n\n{text}" if thinking else None))

    failed = [t for t in ps.samples if t.status == "rejected"]
    for i, t in enumerate(failed):  # each failed sample against a verified one, in turn
        rounds = solver_rounds(t)
        if not rounds or rounds[-1][2] is not False:
            report.dropped["rejected reply not graded wrong"] += 1  # cut off, or right but badly formatted
        else:
            against_wrong("samples", verified[i % len(verified)], t, *rounds[-1][:2])
    for t in ps.samples:
        if t.status != "accepted" or not t.solution:
            continue
        for round, m, ok in solver_rounds(t)[:-1]:
            if ok is not False:
                report.dropped["rejected reply not graded wrong"] += 1
            else:
                against_wrong("rounds", t, t, round, m)
    if prefer_shorter and len(verified) > 1:
        # the shortest verified text over the longest, measured in the form being exported
        texts = sorted((len(x.split()), i, x) for i, t in enumerate(verified) if (x := side(t)))
        if len(texts) > 1 and texts[0][0] < texts[-1][0]:
            add("shorter", texts[0][2], texts[-1][2])
    return report


__all__ = ["PAIR_FORMS", "PAIR_KINDS", "Pair", "PairForm", "PairReport", "preference_pairs", "text_form"]
