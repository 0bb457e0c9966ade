"""The deterministic grader: extract an answer, read it into the key's shape, decide.

`grade(key, response)` is the pure core (no time bound; use it in a worker or a test).
`Grader` (in pool.py) runs it under a per-verdict time bound in worker processes.
`correct` is True, False, or None ("could not decide"); None is never turned into True.
"""

from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .candidates import INEQUALITY, SENTENCE_HEDGE, read_candidates, single_value_key
from .equality import NUMBER_LITERAL, _rational, scalar_equal
from .extract import Extraction, boxed_group, clean_answer, extract_answer
from .latex import prose_words, to_latex, unwrap_text_commands
from .normalize import CHOICE_IN_ANSWER, Shape, choice_letter, classify_key, is_wordy, read_answer

VERDICT_SCHEMA_VERSION = 1
TRAILING_CONSTANT = re.compile(r"[+-]\s*[cCkK]\s*$")
NUMBER_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_.])-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?(?![A-Za-z0-9_/])")
EQUATION = re.compile(r"(?<![<>!\\])=(?!=)")
MAX_ANSWER_CHARS = 400  # an extracted "answer" longer than this is a derivation, not an answer

Method = Literal[
    "text", "choice", "base", "ratio", "set", "tuple", "math_verify", "sympy", "rounding", "exact_string",
    "judge", "no_answer", "unparseable", "too_long", "timeout", "error", "hedged",
]


class Verdict(BaseModel):
    """One grading decision with its evidence."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = VERDICT_SCHEMA_VERSION
    correct: bool | None = Field(description="True, False, or None when it could not be decided")
    extracted: str | None = Field(None, description="the answer found in the response")
    source: str = Field("none", description="where the answer was found: boxed, final_answer, ...")
    method: Method = Field(description="what decided the verdict")
    key_normalised: str | None = None
    answer_normalised: str | None = None
    reason: str = ""
    elapsed_ms: float = 0.0
    rule_correct: bool | None = Field(None, description="the rules' verdict, kept when the judge overrode or audited it")
    rule_method: str | None = None


# --------------------------------------------------------------------------- shapes

def _match_unordered(keys: tuple[str, ...], answers: tuple[str, ...]) -> tuple[bool | None, str]:
    if len(keys) != len(answers):
        return False, "set"
    remaining = list(answers)
    undecided = False
    for k in keys:
        hit = None
        for idx, a in enumerate(remaining):
            v, _ = scalar_equal(k, a)
            if v:
                hit = idx
                break
            if v is None:
                undecided = True
        if hit is None:
            return (None, "unparseable") if undecided else (False, "set")
        remaining.pop(hit)
    return True, "set"


def _match_ordered(keys: tuple[str, ...], answers: tuple[str, ...], method: str, part: str) -> tuple[bool | None, str, str]:
    if len(answers) != len(keys):
        return False, method, f"different number of {part}s"
    for k, a in zip(keys, answers):
        v, _ = scalar_equal(k, a)
        if not v:
            return v, method, f"{part} {a!r} vs {k!r}"
    return True, method, f"every {part} equal, in order"


def _singular(words: str) -> str:
    """`No solutions` and `no solution` are one answer: drop a plural `s` from words longer than three letters."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words.split())


def compare(key_shape: Shape, ans_shape: Shape) -> tuple[bool | None, str, str]:
    """(verdict, method, reason) for an answer read into the key's shape."""
    kind = key_shape.kind
    if kind == "choice":
        ok = key_shape.parts[0] == ans_shape.parts[0]
        return ok, kind, "same choice" if ok else "different choice"
    if kind == "text":
        ok = key_shape.parts == ans_shape.parts
        if not ok and _singular(key_shape.parts[0]) == _singular(ans_shape.parts[0]):
            return True, kind, "same words but for a plural"
        return ok, kind, "same words" if ok else "different words"
    if kind == "base":
        ok = key_shape.parts == ans_shape.parts and ans_shape.base in (None, key_shape.base)
        return ok, "base", f"base {key_shape.base} digits {'match' if ok else 'differ'}"
    if kind == "ratio":
        if len(ans_shape.parts) == 1 and len(key_shape.parts) == 2:
            v, _ = scalar_equal(f"\\frac{{{key_shape.parts[0]}}}{{{key_shape.parts[1]}}}", ans_shape.parts[0])
            return v, "ratio", "ratio written as a fraction"
        return _match_ordered(key_shape.parts, ans_shape.parts, "ratio", "term")
    if kind == "tuple":
        return _match_ordered(key_shape.parts, ans_shape.parts, "tuple", "component")
    if kind == "set":
        v, method = _match_unordered(key_shape.parts, ans_shape.parts)
        return v, method, "same solutions in any order" if v else "different solutions"
    v, method = scalar_equal(key_shape.parts[0], ans_shape.parts[0], key_shape, ans_shape)
    return v, method, {True: "equivalent", False: "not equivalent", None: "could not parse"}[v]


def grade_answer(key: str, answer: str, *, whole: bool = True) -> Verdict:
    """Decide whether an already-extracted answer equals the key. A key that states one value is answered
    by one value: an answer that names several distinct ones is a hedge, and wrong (candidates.py)."""
    t0 = time.perf_counter()
    if len(answer) > MAX_ANSWER_CHARS or len(key) > MAX_ANSWER_CHARS:
        return Verdict(correct=None, extracted=answer[:MAX_ANSWER_CHARS], method="too_long", reason="answer too long to be a final answer")
    key_shape = classify_key(key)
    if TRAILING_CONSTANT.search(answer) and not TRAILING_CONSTANT.search(key):
        # math-verify reads a trailing `+ c` as an integration constant and drops it; in a competition answer it is a free symbol
        return Verdict(correct=False, extracted=answer, method="sympy", key_normalised=key_shape.render(), answer_normalised=answer,
                       reason="the answer adds a free symbol the key does not have", elapsed_ms=(time.perf_counter() - t0) * 1000)
    if whole and single_value_key(key_shape):
        reading = read_candidates(answer, key_shape, _same_value)
        if reading.hedge:
            return Verdict(correct=False, extracted=answer, method="hedged", key_normalised=key_shape.render(),
                           answer_normalised=" | ".join(reading.values), reason=reading.hedge, elapsed_ms=(time.perf_counter() - t0) * 1000)
        if key_shape.kind == "scalar" and len(reading.values) == 1 and reading.values[0] != answer:
            answer_value = reading.values[0]  # `m+n = 256+37 = 293` states 293; `10. (Check: ...)` states 10
            v = grade_answer(key, answer_value, whole=False)
            return v.model_copy(update={"extracted": answer, "elapsed_ms": (time.perf_counter() - t0) * 1000})
    if key_shape.kind not in ("text", "choice", "base") and is_wordy(answer):
        # words against a mathematical key: wrong, and not worth a slow symbolic parse
        return Verdict(correct=False, extracted=answer, method="text", key_normalised=key_shape.render(), answer_normalised=answer,
                       reason="a word where the key is a mathematical value", elapsed_ms=(time.perf_counter() - t0) * 1000)
    if key_shape.kind == "tuple" and len(key_shape.parts) == 2 and INEQUALITY.search(to_latex(answer)) and re.match(r"^\s*\(", key):
        # `(0, 1)` is an open interval as well as a pair: an inequality answer is compared with the interval
        ok, method = scalar_equal(to_latex(key), unwrap_text_commands(to_latex(answer)))
        return Verdict(correct=bool(ok), extracted=answer, method="sympy", key_normalised=key_shape.render(), answer_normalised=answer,
                       reason="the interval the key states" if ok else "a different interval", elapsed_ms=(time.perf_counter() - t0) * 1000)
    ans_shape = read_answer(answer, key_shape)
    if key_shape.kind == "scalar" and EQUATION.search(key_shape.parts[0]) and "=" in answer:
        # an equation key (`2x+3y=6`) is compared with the answer's whole equation, not with its right side
        ans_shape = Shape("scalar", (unwrap_text_commands(to_latex(answer)),))
    correct, method, reason = compare(key_shape, ans_shape)
    return Verdict(
        correct=correct,
        extracted=answer,
        method=method,  # type: ignore[arg-type]
        key_normalised=key_shape.render(),
        answer_normalised=ans_shape.render(),
        reason=reason,
        elapsed_ms=(time.perf_counter() - t0) * 1000,
    )


def _same_value(a: str, b: str) -> bool:
    """Two values an answer names are one value (`3/4` and `0.75`): exact where both are rationals, else the scalar rules."""
    ra, rb = _rational(a.strip()), _rational(b.strip())
    if ra is not None and rb is not None:
        return ra == rb
    try:
        ka = classify_key(a)
        rb = read_answer(b, ka)
        return scalar_equal(ka.parts[0], rb.parts[0], ka, rb)[0] is True  # the shapes carry a percent sign
    except Exception:  # a value the rules cannot read is only itself
        return False


MV_CONFIGS = None  # math-verify's extraction configs, built at first use (importing math_verify costs ~0.5 s)


def _mv_configs() -> list:
    global MV_CONFIGS
    if MV_CONFIGS is None:
        from math_verify import ExprExtractionConfig, LatexExtractionConfig

        MV_CONFIGS = [LatexExtractionConfig(), ExprExtractionConfig()]
    return MV_CONFIGS


def _digits_and_words(text: str) -> str:
    """A text without spaces and separators: math-verify rewrites `1,22` as `1.22` when it reads it whole."""
    return re.sub(r"[\s,.{}$]", "", text)


def _signature(text: str) -> str:
    """Letters and digits of a value without LaTeX command names and joining words: what a parse must keep."""
    t = re.sub(r"\\(?:text|mathrm|mbox|textbf)\s*\{\s*(?:and|or)\s*\}|\b(?:and|or)\b", ",", text)
    return re.sub(r"\\[A-Za-z]+|[^A-Za-z0-9]", "", t)


def _prose_words(text: str) -> bool:
    from .normalize import MATH_WORDS

    return any(w.lower() not in MATH_WORDS for w in prose_words(text))


def _covers(parsed: list, answer_latex: str) -> bool:
    """math-verify's parse stands for the whole answer: it kept every letter and digit (`10 cm` read as 10,
    or `17n + 1` read as 17, does not), or the answer is one plain number it may rewrite (`0.5` as 1/2)."""
    if NUMBER_LITERAL.match(answer_latex.replace(" ", "")):
        return True
    if is_wordy(answer_latex) or _prose_words(answer_latex):
        return False  # words read as a product of symbols (`probably thirteen`) are not a value
    return len(parsed) > 1 and _signature(str(parsed[-1])) == _signature(answer_latex)


def mv_verdict(key: str, answer: str) -> tuple[bool | None, str]:
    """math-verify on its own terms, gold first: the key as given (and, for a plain-text key, as LaTeX)
    against its parse of the extracted answer. (True, ..) when any reading matches, (False, "differ") when
    both sides parsed and none matched, (None, "gold"|"reply") naming the side it could not read whole."""
    from math_verify import parse, verify

    if "$" in key or "\\boxed" in key:
        parsed_g = [g] if (g := parse(key, extraction_config=_mv_configs(), parsing_timeout=None)) else []
    else:
        # a plain-text key read raw counts only when math-verify read all of it (`40π` raw is just 40)
        raw = parse(key, extraction_config=_mv_configs(), parsing_timeout=None)
        whole = bool(raw) and _digits_and_words(str(raw[-1])) == _digits_and_words(key)
        latex = parse(f"${to_latex(key)}$", extraction_config=_mv_configs(), parsing_timeout=None)
        parsed_g = [g for g in ((raw if whole else None), latex) if g]
    if not parsed_g:
        return None, "gold"
    answer_latex = to_latex(clean_answer(answer))
    pred = parse(f"${answer_latex}$", extraction_config=_mv_configs(), parsing_timeout=None)
    if not pred or not _covers(pred, answer_latex):
        return None, "reply"
    return any(verify(g, pred, timeout_seconds=None) for g in parsed_g), "differ"


def key_answer(key: str) -> str:
    """The answer a gold text states: a solution's last boxed answer, a key wrapped in `$..$`, or the key itself."""
    k = key.strip()
    if "\\boxed" in k or "\\fbox" in k:
        boxes = boxed_group(k)
        if boxes:
            return ", ".join(boxes)
    if len(k) > MAX_ANSWER_CHARS // 4 and re.search(r"[.!?]\s", k):
        ext = extract_answer(k)
        if ext.text and ext.sure:
            return ext.text
    if "\n" in k:  # `Alina and the answer is\n(C) Cecile`: the last line that names an option
        named = [line for line in k.splitlines() if classify_key(line.strip()).kind == "choice"]
        if named:
            return named[-1].strip()
    return clean_answer(k) if re.match(r"^(\$|\\\(|\\\[)", k) else k


def cheap_verdict(key: str, answer: str) -> Verdict | None:
    """A verdict without a parser, when one is certain: the answer is the key as written, or both are
    integers or integer fractions (exact arithmetic). None: ask the full grader."""
    if not key.strip() or len(key) > MAX_ANSWER_CHARS or TRAILING_CONSTANT.search(key):
        return None
    if answer.replace(" ", "") == key.replace(" ", ""):
        return Verdict(correct=True, extracted=answer, method="exact_string", key_normalised=key, answer_normalised=answer,
                       reason="the answer is the key as written")
    rk, ra = _rational(key.strip()), _rational(answer.strip())
    if rk is None or ra is None:
        return None
    return Verdict(correct=rk == ra, extracted=answer, method="exact_string", key_normalised=str(rk), answer_normalised=str(ra),
                   reason="equal numbers" if rk == ra else "different numbers")


def quick_verdict(key: str, response: str | None) -> Verdict | None:
    """cheap_verdict on a surely extracted answer; None: ask the full grader (in a worker, under the time bound)."""
    ext = extract_answer(response)
    if ext.text is None or not ext.sure:
        return None
    v = cheap_verdict(key, ext.text)
    return v.model_copy(update={"source": ext.source}) if v is not None else None


def grade(key: str, response: str | None) -> Verdict:
    """Extract the final answer from a free-form response and grade it against the key.

    The rules decide first. math-verify is asked only where they could not decide (None), only about the
    extracted answer (never the whole reply, where it would find the key's value in a hedge or a working
    line), and only when its parse covers that whole answer (a `3x` it reads as 3 is not a match). A sure
    "wrong" of the rules is never overturned. "Could not decide" stays None when neither could.
    """
    t0 = time.perf_counter()
    gold = key_answer(key)
    ext = extract_answer(response)
    try:
        v = _rules(gold, ext)
        if v.correct is None and ext.text and v.method not in ("hedged", "too_long") and _worth_parsing(ext.text) \
                and not TRAILING_CONSTANT.search(ext.text):
            # the key as given, and the answer a gold solution states (in math mode, never as bare text)
            golds = [key] if gold == key else [key, f"${to_latex(gold)}$"]
            readings = [mv_verdict(g, ext.text) for g in golds]
            mv = True if any(r[0] for r in readings) else (False if any(r[0] is False for r in readings) else None)
            if mv is None and v.rule_correct is False and re.search(r"\d", ext.text) and all(r[1] == "reply" for r in readings):
                mv = False  # the rules read a value and it is not the key's; math-verify cannot read the answer at all
            if mv is not None:
                v = v.model_copy(update={"correct": mv, "method": "math_verify", "rule_correct": v.rule_correct, "rule_method": v.method,
                                         "reason": ("math-verify reads the answer as the key's value" if mv else
                                                    f"math-verify read both sides and they differ (the rules: {v.reason})")})
    except Exception as exc:  # a parser bug on odd input must not sink a batch
        return Verdict(correct=None, extracted=ext.text, source=ext.source, method="error", reason=f"{type(exc).__name__}: {exc}"[:200])
    return v.model_copy(update={"source": ext.source, "elapsed_ms": (time.perf_counter() - t0) * 1000})


def _worth_parsing(answer: str | None) -> bool:
    """A long answer in prose is math-verify's to search; a long bare expression (`x+x+...`) is not worth its parse."""
    return answer is None or len(answer) <= MAX_ANSWER_CHARS or re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}", answer) is not None


def _rules(key: str, ext: Extraction) -> Verdict:
    """distill's own rules on an extraction; an answer picked out of a sentence is never a confident False."""
    key_shape = classify_key(key)
    kind = key_shape.kind
    if kind == "choice" and ext.text and (hedge := read_candidates(ext.text, key_shape, _same_value)).hedge:
        return Verdict(correct=False, extracted=ext.text, method="hedged", key_normalised=key_shape.render(),
                       answer_normalised=" | ".join(hedge.values), reason=hedge.hedge)
    if kind == "choice" and ext.source != "boxed" and ext.region and not (ext.text and CHOICE_IN_ANSWER.match(ext.text)):
        # the option a reply names after its `answer is`, or leads with, is read from the whole answer part
        letter, sure = choice_letter(ext.region, key_shape.parts[0])
        if letter is not None:
            ext = Extraction(letter, ext.source if ext.text else "bare", sure=sure, note=ext.note, region=ext.region)
    if ext.text is None:
        reason = ext.note if ext.note == "the <think> block never closes" or ext.note.startswith("reply too long") else "no final answer found"
        return Verdict(correct=None, source="none", method="no_answer", reason=reason)
    v = grade_answer(key, ext.text)
    if v.correct is not True and not ext.sure and kind == "scalar" and v.method != "hedged":
        # `Answer: Janeth still owes 220 $ in 12 months`: the first number an answer sentence states, the last of a bare one
        numbers = NUMBER_IN_TEXT.findall(ext.text)
        hedged = SENTENCE_HEDGE.search(ext.text)  # `$42$ or $43$` names two answers, not one
        pick = (numbers[0] if ext.source != "bare" else numbers[-1]) if numbers and not hedged else None
        if pick and pick != ext.text and (w := grade_answer(key, pick)).correct:
            return w.model_copy(update={"extracted": ext.text, "reason": f"the number the answer sentence states ({pick}) is the key's"})
    if v.correct is not True and not ext.sure and kind == "scalar" and v.method != "hedged" and single_value_key(key_shape):
        # `There are 15 pens in a box`: a sentence that states one number states that number (sure either way)
        numbers = {n.replace(",", "") for n in NUMBER_IN_TEXT.findall(ext.text)}
        if len(numbers) == 1 and not SENTENCE_HEDGE.search(ext.text):
            w = grade_answer(key, numbers.pop())
            if w.correct is not None:
                return w.model_copy(update={"extracted": ext.text, "reason": f"{w.reason} (the one number the answer sentence states)"})
    if v.correct is False and not ext.sure and v.method != "hedged":
        v = v.model_copy(update={"correct": None, "rule_correct": False, "rule_method": v.method,
                                 "reason": v.reason + "; the answer was picked out of a sentence, so this is not certain"})
    return v
