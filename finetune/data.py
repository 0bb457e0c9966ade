"""Training data: validated chat JSONL splits, tokenised with the model's own chat template."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill.errors import DistillError
from distill.io import read_jsonl

ROLES = {"system", "user", "assistant", "tool"}


def load_rows(folder: Path, split: str, keys: tuple[str, ...], hint: str) -> list[dict[str, Any]]:
    """`split`.jsonl of objects whose `keys` are non-empty strings; a missing split or a line without
    one is one error naming the file and line."""
    path = folder / f"{split}.jsonl"
    if not path.exists():
        raise DistillError(f"{split}.jsonl: missing split {hint}", path=folder)
    rows = []
    for lineno, row in read_jsonl(path, "a {" + ", ".join(f'"{k}"' for k in keys) + "} object"):
        missing = [k for k in keys if not isinstance(row.get(k), str) or not row[k].strip()]
        if missing:
            raise DistillError(f"expected {', '.join(keys)}; {', '.join(missing)} missing", path=path, where=f"line {lineno}")
        rows.append(row)
    return rows


def train_and_valid(folder: Path, load: Callable[[Path, str], list[dict[str, Any]]], noun: str,
                    batch_size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The train and valid rows `load` reads from `folder`, each split at least one batch long."""
    train, valid = load(folder, "train"), load(folder, "valid")
    for name, rows in (("train", train), ("valid", valid)):
        if len(rows) < batch_size:
            raise DistillError(f"{name}.jsonl has {len(rows)} {noun}; it needs at least --batch-size ({batch_size})", path=folder)
    return train, valid


def load_split(path: Path, required: bool = True) -> list[dict[str, Any]] | None:
    if not path.exists():
        if required:
            raise DistillError("missing split (expected train.jsonl and valid.jsonl)", path=path)
        return None
    rows = []
    for lineno, row in read_jsonl(path, 'a {"messages": [...]} object'):
        msgs = row.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise DistillError('expected {"messages": [{"role": ..., "content": ...}, ...]}', path=path, where=f"line {lineno}")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise DistillError(f"message {i} needs a role ({'/'.join(sorted(ROLES))}) and text content", path=path, where=f"line {lineno}")
        if msgs[-1]["role"] != "assistant":
            raise DistillError("the last message must be the assistant's", path=path, where=f"line {lineno}")
        rows.append(row)
    if not rows:
        if required:
            raise DistillError("split is empty", path=path)
        return None
    return rows


@dataclass
class Splits:
    train: list[dict[str, Any]]
    valid: list[dict[str, Any]]
    test: list[dict[str, Any]] | None


def load_splits(data_dir: Path) -> Splits:
    if not data_dir.is_dir():
        raise DistillError("data folder not found", path=data_dir)
    return Splits(load_split(data_dir / "train.jsonl"), load_split(data_dir / "valid.jsonl"), load_split(data_dir / "test.jsonl", required=False))


def token_lengths(rows: list[dict[str, Any]], tokenizer) -> list[int]:
    return [len(tokenizer.apply_chat_template(r["messages"], return_dict=False)) for r in rows]


def truncation_report(splits: Splits, tokenizer, max_seq_length: int) -> dict[str, Any]:
    """How many examples exceed max_seq_length (mlx-lm only warns per batch)."""
    report = {}
    for name in ("train", "valid", "test"):
        rows = getattr(splits, name)
        if not rows:
            continue
        lengths = token_lengths(rows, tokenizer)
        report[name] = {"examples": len(rows), "truncated": sum(1 for n in lengths if n > max_seq_length),
                        "max_tokens": max(lengths), "mean_tokens": round(sum(lengths) / len(lengths), 1)}
    return report
