"""Answer extraction: find the final answer in a free-form response, and say where it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .latex import prose_words

Source = Literal["boxed", "final_answer", "answer_line", "answer_is", "bare", "none"]

BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
# Bounded captures ({1,600}): each anchor scans a bounded stretch, so extraction stays linear in the reply's length.
FINAL_ANSWER = re.compile(r"(?im)final\s+answer\s*(?:is)?\s*[:：]?\s*(.{1,600}?)\s*$")  # the Minerva tail is cut by _minerva
ANSWER_WORD = r"(?:answer|réponse|respuesta|resposta|antwort|risposta|ответ|答案)"  # the anchor in a few languages
ANSWER_LINE = re.compile(rf"(?im)(?:^|(?<=[,;.!?] ))[^\w\n]{{0,20}}{ANSWER_WORD}[^\w\n]{{0,20}}[:：]\s*(.{{1,600}}?)\s*$")
ANSWER_IS = re.compile(rf"(?is)\b{ANSWER_WORD}\s+(?:is|est|es|ist|è|=|should\s+be|would\s+be)\s*[:：]?\s*(.{{1,600}}?)(?:\.\s|\.$|\n|$)")
BARE_MAX_CHARS = 80
MAX_REPLY_CHARS = 400_000  # ~100k tokens: past this a reply is not read at all ("could not decide: reply too long")
MATH_SPAN = re.compile(r"\$\$(.{1,600}?)\$\$|\$([^$]{1,600})\$|\\\((.{1,600}?)\\\)")


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


MAX_BOX_CHARS = 4000  # a box holding more than this is a degenerate loop, not an answer: its content is not read


def _box_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, content start, end) of every outermost non-empty \\boxed{..}/\\fbox{..} in one pass over the
    text (linear: a reply of boxes nested 20,000 deep costs what its length costs)."""
    openers = {m.end() - 1: m.start() for m in BOXED.finditer(text)}
    if not openers:
        return []
    spans: list[tuple[int, int, int]] = []
    stack: list[tuple[int, int]] = []  # (brace position, box start or -1)
    open_boxes = 0
    for m in re.finditer(r"[{}]", text):
        i = m.start()
        if text[i] == "{":
            start = openers.get(i, -1)
            stack.append((i, start))
            open_boxes += start >= 0
        elif stack:
            pos, start = stack.pop()
            if start >= 0:
                open_boxes -= 1
                if open_boxes == 0 and text[pos + 1:i].strip():
                    spans.append((start, pos + 1, i + 1))
    return spans


def boxed_group(text: str) -> list[str]:
    """The last \\boxed{} and the boxes just before it joined only by commas/`and`/`or`: several answers."""
    spans = _box_spans(text)
    if not spans:
        return []
    group = [spans[-1]]
    for prev in reversed(spans[:-1]):
        between = text[prev[2]:group[0][0]]
        if len(between) > 40 or not BOX_JOINER.match(between):
            break
        group.insert(0, prev)
    return [_box_content(text, g) for g in group]


def _box_content(text: str, span: tuple[int, int, int]) -> str:
    content = text[span[1]:span[2] - 1].strip()
    if len(content) > MAX_BOX_CHARS:
        return content[:MAX_BOX_CHARS]  # longer than any answer: the grader calls it too long
    while (inner := _only_box(content)) is not None:  # `\\boxed{\\boxed{5}}` is 5
        content = inner
    return content


def _only_box(content: str) -> str | None:
    spans = _box_spans(content)
    if len(spans) == 1 and spans[0][0] == 0 and spans[0][2] == len(content):
        return content[spans[0][1]:spans[0][2] - 1].strip()
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), with nested braces balanced."""
    spans = _box_spans(text)
    return _box_content(text, spans[-1]) if spans else None


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
    if len(response) > MAX_REPLY_CHARS:
        return Extraction(None, "none", note=f"reply too long to read ({len(response):,} characters)")
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
                # `The floor needs 36 tiles`: a sentence on the answer line states its value among words
                return Extraction(cleaned, source, sure=not several and not _prose(cleaned), note=note, region=text)  # type: ignore[arg-type]
    if "\n" not in text and len(text) <= BARE_MAX_CHARS:
        # "18" is sure; "The solutions are x = 1 and x = -1/3." is read after its verb, and is unsure
        m = re.search(r"\b(?:is|are|was|equals|be)\b\s*[:：]?", text)
        tail = text[m.end():] if m else text
        cleaned = clean_answer(tail)
        spans = [next(g for g in sm.groups() if g is not None) for sm in MATH_SPAN.finditer(text)]
        if cleaned and len(spans) == 1 and not re.fullmatch(r"\s*(\$[^$]+\$|\\\((?:(?!\\\)).)+\\\))\s*\.?\s*", tail) \
                and re.search(r"[A-Za-z]{2,}", re.sub(r"\$[^$]*\$|\\\(.*?\\\)", " ", text)):
            # `Therefore $(x, y) = (4, -1)$.`: a sentence with one value in math mode states that value
            return Extraction(spans[0].strip(), "bare", sure=False, note=note, region=text)
        if cleaned:
            # "The total is $13{,}680$." states one value in math mode: as sure as an answer line
            one_math_span = m is not None and re.fullmatch(r"\s*(\$[^$]+\$|\\\((?:(?!\\\)).)+\\\))\s*\.?\s*", tail) is not None
            # "The solutions are x = 1 and x = -1/3." states values only after its verb: as sure as an answer line
            wordless = not re.search(r"[^\W\d_]{3,}", re.sub(r"\\[A-Za-z]+|\b(?:and|or)\b", "", cleaned))
            sure = one_math_span or (wordless and (m is None or not re.search(r"\bor\b", cleaned)))
            return Extraction(cleaned, "bare", sure=sure, note=note, region=text)
    last = last_sentence(text, math_ok=True)
    if last is not None and (spans := [next(g for g in m.groups() if g is not None) for m in MATH_SPAN.finditer(last)]) and len(spans) == 1:
        # `Therefore $(x, y) = (4, -1)$.`: a closing sentence with one value in math mode states that value
        return Extraction(spans[0].strip(), "bare", sure=False, note=note, region=text)
    last = last_sentence(text)
    if last is not None:
        # no anchor at all: a long reply's closing sentence, if it states a number, is read like a bare reply (never sure)
        return Extraction(last, "bare", sure=False, note=note, region=text)
    return Extraction(None, "none", note=note, region=text)


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|[。！？]\s*|\n+")
LAST_SENTENCE_MAX_CHARS = 200


def last_sentence(text: str, math_ok: bool = False) -> str | None:
    """The closing sentence of a reply (any script), when it is short and holds a digit (or, with `math_ok`,
    a math span); None otherwise. Only the reply's last lines are split: the closing sentence is there."""
    tail = text[-4 * LAST_SENTENCE_MAX_CHARS:] if len(text) > 4 * LAST_SENTENCE_MAX_CHARS else text
    if math_ok:  # a sentence end inside `$..$` (`$x = 2.5$`) is not one: split the line, not the maths
        lines = [p.strip(" *") for p in tail.splitlines() if p.strip(" *.")]
        if not lines:
            return None
        last = lines[-1].rstrip(".").strip()
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", last)
        last = sentences[-1].rstrip(".").strip() if "$" not in sentences[-1] or sentences[-1].count("$") % 2 == 0 else last
        return last if len(last) <= 2 * LAST_SENTENCE_MAX_CHARS and ("$" in last or "\\(" in last) else None
    parts = [p.strip(" *") for p in SENTENCE_END.split(tail) if p and p.strip(" *.")]
    if not parts:
        return None
    last = parts[-1].rstrip(".").strip()
    return last if len(last) <= LAST_SENTENCE_MAX_CHARS and re.search(r"\d", last) else None


UNIT_WORDS = {"units", "unit", "square", "cubic", "inches", "inch", "feet", "foot", "meters", "centimeters", "kilometers", "miles",
              "degrees", "cents", "dollars", "hours", "minutes", "seconds", "days", "years", "pounds", "grams", "mph", "sqrt", "frac",
              "and", "mod", "base", "text", "mbox", "pmod"}


def _prose(answer: str) -> bool:
    """An answer that is a sentence (two words of three letters or more that are not units or maths)."""
    words = [w for w in prose_words(answer) if w.lower() not in UNIT_WORDS]
    return len(words) >= 2 and bool(re.search(r"\d", answer))


def _minerva(answer: str) -> str:
    """`The final answer is X. I hope it is correct.` (lm-evaluation-harness style) -> X."""
    a = re.sub(r"(?i)\s*I hope it is correct\.?\s*$", "", answer.strip())
    m = MINERVA.match(a)
    return m.group(1) if m else a
