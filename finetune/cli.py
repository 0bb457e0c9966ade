"""`distill finetune`: LoRA runs with mlx-lm that keep the best adapter by validation loss."""

from __future__ import annotations

import click


@click.group("finetune")
def finetune_group() -> None:
    """Fine-tune the student with LoRA (mlx-lm) and keep the best adapter."""
