"""A recorded teacher for the bundled sample problems: authored Solver, Formatter and level
replies, served over HTTP by `distill.demo.loopback.LoopbackServer` so the offline demo runs the
same client code a user runs against DeepSeek.

Some problems get a wrong first answer, so the Verifier's feedback-and-retry path runs too;
one (2002 js-02) keeps answering wrong and is rejected. The demo's drills (`distill.demo.drills`)
are solved by rule, with a level text per length level; a few get a wrong first answer, and those
whose three numbers are equal are answered wrong every time.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from .drills import Drill, parse_drill
from .loopback import Reply, last_user_text


@dataclass(frozen=True)
class Recorded:
    steps: tuple[str, ...]
    answer: str  # LaTeX, as a model would box it
    wrong: tuple[str, ...] = ()  # wrong answers given before the right one (or forever, if `stubborn`)
    stubborn: bool = False


# Keyed by the start of each sample problem's text (distill/samples/*.json).
RECORDED: dict[str, Recorded] = {
    "What is the sum of the first 12 positive odd integers": Recorded(
        ("The first n odd integers sum to n^2.", "With n = 12 the sum is 12^2 = 144."), "144"),
    "A jar holds 5 green beads and 7 purple beads": Recorded(
        ("There are 5 + 7 = 12 beads in all.", "5 of them are green, so the probability is 5/12."), r"\frac{5}{12}", wrong=(r"\frac{5}{7}",)),
    "The legs of a right triangle measure 4 and 6": Recorded(
        ("By Pythagoras the hypotenuse is sqrt(4^2 + 6^2).", "4^2 + 6^2 = 16 + 36 = 52.", "sqrt(52) = sqrt(4 * 13) = 2 sqrt(13)."), r"2\sqrt{13}"),
    "Find the ordered pair (x, y) that satisfies both": Recorded(
        ("Adding the equations gives 2x = 14, so x = 7.", "Then y = 11 - 7 = 4."), "(7,4)"),
    "A circle has circumference 18": Recorded(
        ("Circumference 2 pi r = 18 pi gives r = 9.", "Area = pi r^2 = 81 pi."), r"81\pi", wrong=(r"18\pi",)),
    "Ana is 12 years old and Ben is 20": Recorded(
        ("The ratio is 12:20.", "Dividing both terms by 4 gives 3:5."), "3:5"),
    "Day 1 of a school year is a Monday": Recorded(
        ("Day 100 is 99 days after day 1.", "99 = 14 * 7 + 1, so it is one weekday after Monday.", "That day is Tuesday."), r"\text{Tuesday}"),
    "Compute 3^4 - 4^3": Recorded(("3^4 = 81 and 4^3 = 64.", "81 - 64 = 17."), "17"),
    "What is 15% of 240": Recorded(("15% of 240 is 0.15 * 240.", "0.15 * 240 = 36."), "36"),
    "Simplify √75": Recorded(("75 = 25 * 3.", "sqrt(75) = sqrt(25) sqrt(3) = 5 sqrt(3)."), r"5\sqrt{3}"),
    "Find the sum of the roots of x^2 - 9x + 14": Recorded(
        ("By Vieta the sum of the roots of x^2 + bx + c is -b.", "Here b = -9, so the sum is 9."), "9"),
    "Find all real solutions of 3x^2 + 2x - 1": Recorded(
        ("Factor: 3x^2 + 2x - 1 = (3x - 1)(x + 1).", "So x = 1/3 or x = -1."), r"\frac{1}{3}, -1", wrong=("-1",), stubborn=True),
    "Find the ordered pair (a, b) such that 2a + b = 10": Recorded(
        ("Doubling the first equation: 4a + 2b = 20.", "Subtract a + 2b = 11: 3a = 9, so a = 3.", "Then b = 10 - 6 = 4."), "(3,4)"),
    "A rectangle measures 8 by 15": Recorded(("The diagonal is sqrt(8^2 + 15^2).", "sqrt(64 + 225) = sqrt(289) = 17."), "17"),
    "Is 221 a prime number": Recorded(("221 = 13 * 17.", "So 221 is not prime."), r"\text{No}"),
    "The mean of four numbers is 15": Recorded(
        ("The four numbers sum to 4 * 15 = 60.", "The three known numbers sum to 10 + 12 + 20 = 42.", "The fourth is 60 - 42 = 18."), "18"),
    "A semicircle has a diameter of length 10": Recorded(
        ("The radius is 5.", "A full circle has area 25 pi; half of it is 25 pi / 2."), r"\frac{25\pi}{2}", wrong=(r"25\pi",)),
    "Find the value of 2/3 + 3/4": Recorded(("Common denominator 12: 8/12 + 9/12.", "8/12 + 9/12 = 17/12."), r"\frac{17}{12}"),
    "Find the exact value of sin(60°)·cos(30°)": Recorded(
        ("sin 60° = sqrt(3)/2 and cos 30° = sqrt(3)/2.", "Their product is 3/4."), r"\frac{3}{4}"),
    "The sides of a triangle are in the ratio 2:3:4": Recorded(
        ("The sides are 2k, 3k, 4k with 9k = 36, so k = 4: sides 8, 12, 16.", "Longest to shortest is 16:8 = 2:1."), "2:1"),
    "Let i = √-1. Find the value of i^7": Recorded(("i^4 = 1, so i^7 = i^3.", "i^3 = -i."), "-i"),
    "A store sells pencils at 3 for $1.20": Recorded(
        ("One pencil costs 120 / 3 = 40 cents.", "Ten pencils cost 400 cents."), "400", wrong=("4",)),
    "Write the number 38 in base five": Recorded(
        ("38 = 1 * 25 + 13, and 13 = 2 * 5 + 3.", "So 38 = 1*25 + 2*5 + 3, which is 123 in base five."), "123_5"),
}


def drill_record(d: Drill) -> Recorded:
    """A drill as the teacher solves it: off by one at first on about one in seven, stubbornly when a = b = c."""
    slip = (d.a + 2 * d.b + 3 * d.c) % 7 == 0 or d.a == d.b == d.c
    return Recorded(tuple(d.steps(1)), str(d.answer), wrong=(str(d.answer + 1),) if slip else (), stubborn=d.a == d.b == d.c)


def find_recorded(text: str) -> Recorded | None:
    for start, rec in RECORDED.items():
        if start in text:
            return rec
    d = parse_drill(text)
    return drill_record(d) if d is not None else None


def _problem_of(user: str) -> str:
    m = re.search(r"Problem:\s*(.+?)(?:\n\n|$)", user, re.S)
    return m.group(1).strip() if m else user


CHECK = "Check {n}: substituting back confirms the result."


def solver_reply(body: dict[str, Any], variant: int = 0) -> Reply:
    """The recorded solution; `variant` n > 0 (a repeated request: another sample) adds n checks, so
    samples differ in length as real R1 samples do."""
    messages = body.get("messages", [])
    first_user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    rec = find_recorded(_problem_of(str(first_user)))
    if rec is None:
        return Reply(content="I could not solve this problem, so I give no final answer.", reasoning="No recorded solution.")
    attempt = sum(1 for m in messages if m.get("role") == "assistant")
    if attempt < len(rec.wrong) or (rec.stubborn and rec.wrong):
        wrong = rec.wrong[min(attempt, len(rec.wrong) - 1)]
        return Reply(content=f"{rec.steps[0]} Hence the answer is \\boxed{{{wrong}}}.", reasoning=f"Attempt {attempt + 1}: a quick guess.")
    work = " ".join([*rec.steps, *(CHECK.format(n=i) for i in range(1, variant + 1))])
    return Reply(content=f"{work}\n\nTherefore the answer is \\boxed{{{rec.answer}}}.",
                 reasoning=f"Let me think carefully. {work} Let me double-check each step. Yes, that is right.")


def _steps(rec: Recorded, keep: int | None = None, extra: list[str] | None = None) -> str:
    steps = rec.steps if keep is None else rec.steps[:keep] if keep < len(rec.steps) else rec.steps
    lines = [f"Step {i}: {s}" for i, s in enumerate([*steps, *(extra or [])], 1)]
    return "\n".join(lines + [f"Final answer: \\boxed{{{rec.answer}}}"])


FILLER = "This follows from the facts stated above."


def _to_target(text: str, target: int) -> str:
    """Lengthen the steps with explanations until the text has about `target` words."""
    body, final = text.rsplit("\n", 1)
    lines = body.split("\n")
    i = 0
    while len(" ".join([*lines, final]).split()) < target:
        lines[i % len(lines)] += " " + FILLER
        i += 1
    return "\n".join([*lines, final])


def formatter_reply(body: dict[str, Any], honour_targets: bool = True) -> Reply:
    first_user = next((str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"), "")
    user = last_user_text(body)
    rec = find_recorded(_problem_of(first_user))
    if rec is None:
        return Reply(content="Step 1: (no recorded solution)\nFinal answer: \\boxed{?}")
    m = re.search(r"length level R(\d)", first_user)
    asked = re.search(r"Final answer: \\boxed\{\s*(.+?)\s*\}\s*$", first_user, re.M)
    if not m and asked and asked.group(1).replace(" ", "") != rec.answer.replace(" ", ""):
        # asked to keep another (a wrong reply's) answer: the reply's first step, then that answer, as asked
        return Reply(content=f"Step 1: {rec.steps[0]}\nFinal answer: \\boxed{{{asked.group(1)}}}")
    drill = parse_drill(_problem_of(first_user))
    if drill is not None:  # the drills' own text at every level (the demo's templates state these lengths)
        return Reply(content=drill.solution(int(m.group(1)) if m else 1))
    if m:
        # R2 drops filler words, R3-R4 drop a step, R5-R6 keep one step; even levels also drop filler;
        # then the steps are explained at more length until the level's stated word target is met.
        level = int(m.group(1))
        keep = {1: None, 2: None, 3: len(rec.steps) - 1, 4: len(rec.steps) - 1, 5: 1, 6: 1}[level]
        text = _steps(rec, max(1, keep) if keep is not None else None)
        if level % 2 == 0:
            body_text, final = text.rsplit("\n", 1)
            text = re.sub(r"\b(so|then|hence|the|is|of|in|all|that|which)\b\s*", "", body_text, flags=re.I) + "\n" + final
        target = re.search(r"about\s+(\d+)\s+words", first_user)
        if honour_targets and target:
            text = _to_target(text, int(0.6 * int(target.group(1))))  # inside the default band (0.5x-1.5x), and short to train on
        return Reply(content=text)
    checks = [CHECK.format(n=i) for i in range(1, 10) if CHECK.format(n=i) in user]
    return Reply(content=_steps(rec, extra=checks))


# The model name each role is configured with when the recorded teacher serves it: the request's
# `model` says which role is asking, whatever the (editable) prompts say.
ROLE_MODELS = {"solver": "recorded-r1", "verifier": "recorded-formatter", "judge": "recorded-judge"}


def role_of(body: dict[str, Any]) -> str:
    """solver / verifier / judge, from the request's model name (an unknown name is the solver)."""
    model = str(body.get("model", ""))
    return next((role for role, name in ROLE_MODELS.items() if name == model), "solver")


def recorded_teacher(body: dict[str, Any]) -> Reply:
    """One responder for every role; the configured model name tells the roles apart."""
    role = role_of(body)
    if role == "verifier":
        return formatter_reply(body)
    if role == "judge":
        return Reply(content='{"verdict": "unsure", "reason": "the recorded teacher does not judge"}')
    return solver_reply(body)


class RecordedTeacher:
    """The recorded teacher with memory: the n-th identical Solver request gets variant n, as repeated
    requests to DeepSeek-R1 (which ignores temperature) give different samples."""

    def __init__(self, honour_targets: bool = True) -> None:
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        self.honour_targets = honour_targets  # False: a teacher that ignores the levels' word targets

    def __call__(self, body: dict[str, Any]) -> Reply:
        if role_of(body) == "verifier":
            return formatter_reply(body, self.honour_targets)
        if role_of(body) != "solver":
            return recorded_teacher(body)
        key = json.dumps(body.get("messages", []), sort_keys=True)
        with self.lock:
            n = self.seen.get(key, 0)
            self.seen[key] = n + 1
        return solver_reply(body, variant=n)


def role_settings(base_url: str) -> dict[str, dict[str, Any]]:
    """The [solver]/[verifier]/[judge] settings that point every role at a recorded teacher on `base_url`."""
    return {role: {"base_url": base_url, "model": model, "api_key_env": ""} for role, model in ROLE_MODELS.items()}
