"""The student's prompt: the one builder used by the training export and by evaluation, so the
prompt a trained example starts with is the prompt the student is evaluated on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.problems.schema import Problem
from distill.prompts import Template, load_template

Messages = list[dict[str, str]]



def level_words(level: str, prompts_dir: str | Path | None = None) -> int | None:
    """A level's word target as its template declares it: `target_words` in levels/rN.md, and
    `full_solution_words` in student_level.md for R1 (the full solution, which has no restatement)."""
    if level == "R1":
        return load_template("student_level", prompts_dir).number("full_solution_words")
    return load_template(f"levels/{level.lower()}", prompts_dir).number("target_words")


@dataclass(frozen=True)
class StudentPrompt:
    """Builds [system, user] messages for a problem; `level_instruction` adds a length request (--prompt-levels)."""

    system: Template
    user: Template
    level: Template | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    prompts_dir: str | Path | None = None

    @classmethod
    def load(cls, prompts_dir: str | Path | None = None, *, level_instruction: bool = False) -> "StudentPrompt":
        system, user = load_template("student_system", prompts_dir), load_template("student_user", prompts_dir)
        lvl = load_template("student_level", prompts_dir) if level_instruction else None
        hashes = {"student_system": system.sha256, "student_user": user.sha256}
        if lvl is not None:
            hashes["student_level"] = lvl.sha256
        return cls(system, user, lvl, hashes, prompts_dir)

    def messages(self, problem: Problem, level: str = "R1") -> Messages:
        text = self.user.render(problem=problem.text).strip()
        if self.level is not None:
            text = text + "\n\n" + self.level.render(level=level, words=level_words(level, self.prompts_dir)).strip()
        return [{"role": "system", "content": self.system.render().strip()}, {"role": "user", "content": text}]

    def example(self, problem: Problem, assistant: str, level: str = "R1") -> dict[str, Any]:
        """An mlx-lm chat training example: the prompt (asking for `level` when the prompt carries the level
        instruction), then the target answer."""
        return {"messages": [*self.messages(problem, level), {"role": "assistant", "content": assistant}]}
