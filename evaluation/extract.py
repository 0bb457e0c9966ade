"""Answer extraction: find the final answer in a free-form response, and say where it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Source = Literal["boxed", "final_answer", "answer_line", "answer_is", "bare", "none"]

BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
FINAL_ANSWER = re.compile(r"(?im)final\s+answer\s*(?:is)?\s*[:：]?\s*(.+?)\s*$")
ANSWER_LINE = re.compile(r"(?im)^\W*answer\W*\s*[:：]\s*(.+?)\s*$")
ANSWER_IS = re.compile(r"(?is)\banswer\s+(?:is|=|should\s+be|would\s+be)\s*[:：]?\s*(.+?)(?:\.\s|\.$|\n|$)")
BARE_MAX_CHARS = 80


@dataclass(frozen=True)
class Extraction:
    text: str | None
    source: Source


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), with nested braces balanced."""
    starts = [m.end() for m in BOXED.finditer(text)]
    for start in reversed(starts):
        depth, i = 1, start
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        if depth == 0:
            content = text[start : i - 1].strip()
            if content:
                return content
    return None


def _clean(answer: str) -> str:
    a = answer.strip()
    a = re.sub(r"^\*+|\*+$", "", a).strip()  # markdown bold around the answer
    # nested boxed inside an answer line
    inner = last_boxed(a)
    if inner is not None:
        return inner
    prev = None
    while prev != a:
        prev = a
        a = a.strip().rstrip(".。").strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if a.startswith(left) and a.endswith(right) and len(a) > len(left) + len(right):
                a = a[len(left) : -len(right)].strip()
    return a


def extract_answer(response: str | None) -> Extraction:
    """Last boxed answer, else a `Final answer:` line, an `Answer:` line, `the answer is X`, else a short bare reply."""
    if not response or not response.strip():
        return Extraction(None, "none")
    text = response.strip()
    # A reasoning model's thinking is not its answer.
    text = re.sub(r"(?s)<think>.*?</think>", "", text).strip() or text
    boxed = last_boxed(text)
    if boxed is not None:
        return Extraction(boxed, "boxed")
    for pattern, source in ((FINAL_ANSWER, "final_answer"), (ANSWER_LINE, "answer_line"), (ANSWER_IS, "answer_is")):
        matches = pattern.findall(text)
        if matches:
            cleaned = _clean(matches[-1])
            if cleaned:
                return Extraction(cleaned, source)  # type: ignore[arg-type]
    if "\n" not in text and len(text) <= BARE_MAX_CHARS:
        # "The total is 18." -> "18"
        cleaned = _clean(re.split(r"\bis\b|=", text)[-1])
        if cleaned:
            return Extraction(cleaned, "bare")
    return Extraction(None, "none")
