"""Answer extraction: find the final answer in a free-form response, and say where it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Source = Literal["boxed", "final_answer", "answer_line", "answer_is", "bare", "none"]

BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
FINAL_ANSWER = re.compile(r"(?im)final\s+answer\s*(?:is)?\s*[:：]?\s*(.+?)\s*$")  # the Minerva tail is cut by _minerva
ANSWER_WORD = r"(?:answer|réponse|respuesta|resposta|antwort|risposta|ответ|答案)"  # the anchor in a few languages
ANSWER_LINE = re.compile(rf"(?im)^\W*{ANSWER_WORD}\W*\s*[:：]\s*(.+?)\s*$")
ANSWER_IS = re.compile(rf"(?is)\b{ANSWER_WORD}\s+(?:is|est|es|ist|è|=|should\s+be|would\s+be)\s*[:：]?\s*(.+?)(?:\.\s|\.$|\n|$)")
BARE_MAX_CHARS = 80


@dataclass(frozen=True)
class Extraction:
    text: str | None
    source: Source
    sure: bool = True  # False when the answer was picked out of a sentence: a False verdict then becomes None
    note: str = ""
    region: str = ""  # the answer part of the reply (after any thinking), for math-verify's own extraction


# Chat-template tokens a model may run past: everything after one is not the answer.
TEMPLATE_TAIL = re.compile(r"<\|(?:im_end|im_start|endoftext|eot_id|end_of_text|end|user|assistant|start_header_id)\|>|</s>|<eos>|<end_of_turn>")
THINK_OPEN, THINK_CLOSE = re.compile(r"<think>", re.I), re.compile(r"</think>", re.I)
BOX_JOINER = re.compile(r"^[\s,;$.]*(?:\\text\{\s*(?:and|or|,)\s*\}|\\quad|\\qquad|\\,|and|or|&)?[\s,;$.]*$")
MINERVA = re.compile(r"(?is)^(?:the\s+)?(?:final\s+)?answer\s+is\s*[:：]?\s*(.+?)\s*(?:\.\s*)?(?:I hope it is correct\.?)?$")


def answer_region(response: str) -> tuple[str | None, str]:
    """The part of a reply that can hold the answer: after the last </think>, before any chat-template
    token. None when a <think> block never closes (the reply has no answer)."""
    text = TEMPLATE_TAIL.split(response, maxsplit=1)[0] if TEMPLATE_TAIL.search(response) else response
    closes = list(THINK_CLOSE.finditer(text))
    if closes:
        return text[closes[-1].end():].strip(), "after </think>"
    if THINK_OPEN.search(text):
        return None, "the <think> block never closes"
    return text.strip(), ""


def boxed_group(text: str) -> list[str]:
    """The last \\boxed{} and the boxes just before it joined only by commas/`and`/`or`: several answers."""
    spans = []
    for m in BOXED.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0 and text[m.end():i - 1].strip():
            spans.append((m.start(), i, text[m.end():i - 1].strip()))
    if not spans:
        return []
    group = [spans[-1]]
    for prev in reversed(spans[:-1]):
        between = text[prev[1]:group[0][0]]
        if not BOX_JOINER.match(between):
            break
        group.insert(0, prev)
    return [g[2] for g in group]


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


def clean_answer(answer: str) -> str:
    """An answer without markdown bold, math delimiters, a trailing full stop or a box around it."""
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
    """Last boxed answer (several adjacent boxes joined), else a `Final answer:` line, an `Answer:` line,
    `the answer is X`, else a short bare reply. Only the text after a closing </think> counts."""
    if not response or not response.strip():
        return Extraction(None, "none")
    text, note = answer_region(response.strip())
    if text is None:
        return Extraction(None, "none", note=note)
    if not text:
        return Extraction(None, "none", note="nothing after the thinking", region=text)
    boxes = boxed_group(text)
    if boxes:
        return Extraction(", ".join(boxes) if len(boxes) > 1 else boxes[0], "boxed", note=note, region=text)
    for pattern, source in ((FINAL_ANSWER, "final_answer"), (ANSWER_LINE, "answer_line"), (ANSWER_IS, "answer_is")):
        matches = pattern.findall(text)
        if matches:
            cleaned = clean_answer(_minerva(matches[-1]))
            if cleaned:
                # `$42$ or $43$`: several math spans are several candidates; a rule may still match one, never reject
                several = bool(re.search(r"\$|\\[()\[\]]", cleaned))
                return Extraction(cleaned, source, sure=not several, note=note, region=text)  # type: ignore[arg-type]
    if "\n" not in text and len(text) <= BARE_MAX_CHARS:
        # "18" is sure; "The solutions are x = 1 and x = -1/3." is read after its verb, and is unsure
        m = re.search(r"\b(?:is|are|was|equals|be)\b\s*[:：]?", text)
        tail = text[m.end():] if m else text
        cleaned = clean_answer(tail)
        if cleaned:
            # "The total is $13{,}680$." states one value in math mode: as sure as an answer line
            one_math_span = m is not None and re.fullmatch(r"\s*(\$[^$]+\$|\\\((?:(?!\\\)).)+\\\))\s*\.?\s*", tail) is not None
            sure = one_math_span or (m is None and not re.search(r"[^\W\d_]{3,}", re.sub(r"\\[A-Za-z]+", "", cleaned)))
            return Extraction(cleaned, "bare", sure=sure, note=note, region=text)
    last = last_sentence(text)
    if last is not None:
        # no anchor at all: a long reply's closing sentence, if it states a number, is read like a bare reply (never sure)
        return Extraction(last, "bare", sure=False, note=note, region=text)
    return Extraction(None, "none", note=note, region=text)


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|[。！？]\s*|\n+")
LAST_SENTENCE_MAX_CHARS = 200


def last_sentence(text: str) -> str | None:
    """The closing sentence of a reply (any script), when it is short and holds a digit; None otherwise."""
    parts = [p.strip(" *") for p in SENTENCE_END.split(text) if p and p.strip(" *.")]
    if not parts:
        return None
    last = parts[-1].rstrip(".").strip()
    return last if len(last) <= LAST_SENTENCE_MAX_CHARS and re.search(r"\d", last) else None


def _minerva(answer: str) -> str:
    """`The final answer is X. I hope it is correct.` (lm-evaluation-harness style) -> X."""
    a = re.sub(r"(?i)\s*I hope it is correct\.?\s*$", "", answer.strip())
    m = MINERVA.match(a)
    return m.group(1) if m else a
