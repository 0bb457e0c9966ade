"""The export as a Hugging Face dataset: parquet files per split that `datasets.load_dataset(DIR)`
reads directly, and a dataset card (README.md with YAML metadata)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import atomic_write_text

HF_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def write_hf(out: Path, rows: dict[str, list[dict[str, Any]]], meta: dict[str, list[dict[str, Any]]], manifest: dict[str, Any]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DistillError("--format hf writes parquet with pyarrow: pip install 'distill[hf]'") from None
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, name in HF_SPLITS.items():
        if not rows[split]:
            continue  # an empty split is left out of the card rather than written as an empty file
        table = pa.Table.from_pylist([{"messages": r["messages"], **m} for r, m in zip(rows[split], meta[split])])
        path = data / f"{name}-00000-of-00001.parquet"
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
        written[name] = len(rows[split])
    atomic_write_text(out / "README.md", _card(written, manifest))


def _card(splits: dict[str, int], m: dict[str, Any]) -> str:
    files = "".join(f"  - split: {name}\n    path: data/{name}-*.parquet\n" for name in splits)
    infos = "".join(f"  - name: {name}\n    num_examples: {n}\n" for name, n in splits.items())
    dc = m["decontamination"]
    flagged = ", ".join(f"{c['problem_id']} ~ {c['eval_id']} ({c['overlap']})" for c in dc["flagged"]) or "none"
    models = m.get("models") or {}
    teacher = ", ".join(models.get("solver", [])) or "the solver role's model"
    checker = ", ".join(models.get("verifier", [])) or "the verifier role's model"
    license_line = f"license: {m['license']}\n" if m.get("license") else ""
    level = m["level"]
    level_note = ("the full accepted solution" if level == "R1" else "the Solver's reasoning, then the solution" if level == "trace"
                  else f"a restatement at length level {level} by {checker}")
    return f"""---
{license_line}configs:
- config_name: default
  data_files:
{files}dataset_info:
  splits:
{infos}tags:
- distillation
- mathematics
---
# distill export: level {m['level']}

Stepwise solutions by {teacher} (the Solver), verified against official answer keys by distill's grader
and rewritten by {checker} (the Verifier/Formatter), as chat messages (system, user, assistant) for
supervised fine-tuning. Level {level}: {level_note}. Columns: `messages`, `problem_id`, `year`, `level`,
`pass_rate`, `words`, `tokens`.

- license: {m.get('license') or 'not set (pass --license)'}
- splits: {", ".join(f"{k} {v}" for k, v in splits.items())}; years {json.dumps(m['years'])}; validation years {m['valid_years']}, test years {m['test_years']}
- pick among verified samples: {m['pick']}; pass-rate filter {m['pass_rate']['filter']}
- tokens per example: max {m['tokens']['max']}, mean {m['tokens']['mean']} ({m['tokens']['counted_by']})
- decontamination: {dc.get('training_problems')} training problems checked by {dc['ngram']}-gram overlap >= {dc['threshold']} against {dc['evaluation_problems']} problems not trained on; {len(dc['flagged'])} flagged;
  flagged: {flagged}{" (left out of training)" if dc['excluded'] and dc['flagged'] else ""}
- template hashes: {json.dumps(m['templates'], sort_keys=True)}
"""
