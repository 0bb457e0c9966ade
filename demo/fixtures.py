"""Toy data shared by the tests and the benchmarks (one module, so neither imports the other)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path


def chat_example(a: int, b: int) -> dict:
    """An mlx-lm chat example: a two-number sum, solved in the stepwise format."""
    return {"messages": [
        {"role": "system", "content": "Solve the problem."},
        {"role": "user", "content": f"What is {a} + {b}?"},
        {"role": "assistant", "content": f"Step 1: {a} + {b} = {a + b}.\nFinal answer: \\boxed{{{a + b}}}"},
    ]}


def write_chat_splits(folder: Path, sizes=(("train", 48), ("valid", 12), ("test", 8)), seed: int = 0) -> Path:
    """train/valid/test.jsonl of sums, in mlx-lm's chat format."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in sizes:
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(chat_example(rng.randint(1, 60), rng.randint(1, 60))) + "\n" for _ in range(n)))
    return folder


def perturb(answer: str) -> str:
    """A surely-wrong variant of an answer key: bump the last digit of its value (not of a unit such as
    `\\mbox{ cm}^2`), else alter the last letter."""
    unit = re.search(r"\s*\\(?:mbox|text)\s*\{[^{}]*\}(?:\^\{?\d\}?)?\s*$", answer)
    if unit and re.search(r"\d", answer[: unit.start()]):
        return perturb(answer[: unit.start()]) + answer[unit.start():]
    for i in range(len(answer) - 1, -1, -1):
        if answer[i].isdigit():
            return answer[:i] + str((int(answer[i]) + 1) % 10) + answer[i + 1 :] if answer[i] != "9" else answer[:i] + "8" + answer[i + 1 :]
    m = list(re.finditer(r"[A-Za-z]", answer))
    if m:
        i = m[-1].start()
        return answer[:i] + ("q" if answer[i] != "q" else "z") + answer[i + 1 :]
    return answer + "+1"
