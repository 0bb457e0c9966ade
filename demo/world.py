"""The offline demo's world: drill years, level templates that state the drills' lengths, a tiny
student with a tokenizer fitted to them, and the study config that ties them together.

Sized so that a student trained from random weights in about twenty seconds per level can visibly
learn the teacher's form and each level's length (measured on 2 cores: full fine-tuning of a 2 x 32
Qwen2 for 100 iterations at batch 8 reaches a 100% answer-format rate at R1; LoRA on a random model
never does, and a 2 x 64 model needs twice the time for the same).
"""

from __future__ import annotations

import re
from pathlib import Path

from distill.prompts import load_template

from .drills import YEARS, drill_years, level_words, parse_drill, write_drills

# The student: full fine-tuning (a random model has nothing for LoRA to adapt), small enough that
# the six per-level runs take ~90 s of one core in all.
STUDENT = {"layers": 2, "hidden": 32}
FINETUNE = {"fine_tune_type": "full", "iters": 100, "batch_size": 8, "learning_rate": 5e-3, "steps_per_eval": 20, "steps_per_report": 20,
            "val_batches": -1, "max_seq_length": 512, "num_layers": -1, "save_every": 50}
# The length-conditioned student reads six times the rows (every level of every problem, each asked for):
# it needs about as many epochs as a per-level student, so more iterations; its validation set is six times
# larger too, so a few batches of it.
CONDITIONED_FINETUNE = {"iters": 500, "val_batches": 4, "steps_per_eval": 100}
# Above the longest level (R1, ~100 tokens with the fitted tokenizer), so no tuned answer is cut short.
MAX_TOKENS = 160


def write_demo_prompts(folder: Path) -> Path:
    """The level templates with the drills' word counts as their targets (R1's in student_level), the
    rest bundled: the study's own way to rescale the levels (`prompts_dir`)."""
    words = level_words()
    for name in ("student_level", *(f"levels/r{k}" for k in range(2, 7))):
        tpl = load_template(name)
        raw = Path(tpl.path).read_text(encoding="utf-8")
        key = "full_solution_words" if name == "student_level" else "target_words"
        target = round(words["R1" if name == "student_level" else f"R{name[-1]}"])
        text = re.sub(rf"^{key}: \d+$", f"{key}: {target}", raw, count=1, flags=re.M)
        path = folder / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder


def tokenizer_corpus(prompts_dir: Path) -> list[str]:
    """What the student will read and write, so that its BPE merges fit the demo: the system prompt,
    the training years' problems and their solutions at every level."""
    system = load_template("student_system", prompts_dir).render()
    first, count, _ = YEARS["train"]
    # the length-conditioned student reads each level's instruction: a few tokens each, as a real tokenizer would make them
    from distill.corpus.prompt import level_words as template_words

    asked = load_template("student_level", prompts_dir)
    texts = [asked.render(level=f"R{k}", words=template_words(f"R{k}", prompts_dir)) for k in range(1, 7)]
    for year, doc in drill_years().items():
        if first <= year < first + count:
            for q in (q for section in doc.values() for q in section.values()):
                drill = parse_drill(q["question"])
                assert drill is not None  # every drill parses (tests/test_demo_world.py)
                texts += [system, q["question"], *(drill.solution(k) for k in range(1, 7))]
    return texts


def build_world(root: Path, seed: int = 0) -> dict[str, Path]:
    """Write the drills, the demo's prompts and the tiny student under `root` (each only once)."""
    from .tiny import build_tiny_qwen2

    problems = root / "drills"
    write_drills(problems)
    prompts = write_demo_prompts(root / "prompts")
    model = root / "models" / "tiny-qwen2"
    if not (model / "config.json").exists():
        build_tiny_qwen2(model, corpus=tokenizer_corpus(prompts), seed=seed, **STUDENT)
    return {"problems": problems, "prompts": prompts, "model": model}
