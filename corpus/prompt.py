"""The student's prompt: the one builder used by the training export and by evaluation, so the
prompt a trained example starts with is the prompt the student is evaluated on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.problems.schema import Problem
from distill.prompts import Template, load_template

Messages = list[dict[str, str]]

# Target words per level (the published study's R1..R6 means), for length instructions.
LEVEL_WORDS = {"R1": 220, "R2": 160, "R3": 115, "R4": 80, "R5": 50, "R6": 30}


@dataclass(frozen=True)
class StudentPrompt:
    """Builds [system, user] messages for a problem; `level_instruction` adds a length request (--prompt-levels)."""

    system: Template
    user: Template
    level: Template | None = None
    hashes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, prompts_dir: str | Path | None = None, *, level_instruction: bool = False) -> "StudentPrompt":
        system, user = load_template("student_system", prompts_dir), load_template("student_user", prompts_dir)
        lvl = load_template("student_level", prompts_dir) if level_instruction else None
        hashes = {"student_system": system.sha256, "student_user": user.sha256}
        if lvl is not None:
            hashes["student_level"] = lvl.sha256
        return cls(system, user, lvl, hashes)

    def messages(self, problem: Problem, level: str = "R1") -> Messages:
        text = self.user.render(problem=problem.text).strip()
        if self.level is not None:
            text = text + "\n\n" + self.level.render(level=level, words=LEVEL_WORDS[level]).strip()
        return [{"role": "system", "content": self.system.render().strip()}, {"role": "user", "content": text}]

    def example(self, problem: Problem, assistant: str) -> dict[str, Any]:
        """An mlx-lm chat training example: the prompt, then the target answer."""
        return {"messages": [*self.messages(problem), {"role": "assistant", "content": assistant}]}
