"""The stepwise-solution format every accepted (and restated) solution must keep."""

from __future__ import annotations

import re

STEP_LINE = re.compile(r"^\s*(?:\*\*)?Step\s+(\d+)\s*[:.)](?:\*\*)?\s*\S")
FINAL_LINE = re.compile(r"^\s*Final answer:\s*\\boxed\{.*\}\s*\.?\s*$")


def check_format(text: str) -> str | None:
    """None if `text` is numbered one-line steps ending in `Final answer: \\boxed{..}`, else what is wrong."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) < 2:
        return "needs at least one step and a final answer line"
    if not FINAL_LINE.match(lines[-1]):
        return "last line must be `Final answer: \\boxed{...}`"
    numbers = []
    for ln in lines[:-1]:
        m = STEP_LINE.match(ln)
        if not m:
            return f"every line before the final answer must be a numbered step (`Step k: ...`); found {ln[:60]!r}"
        numbers.append(int(m.group(1)))
    if numbers != list(range(1, len(numbers) + 1)):
        return f"steps must be numbered 1..{len(numbers)} in order"
    return None
