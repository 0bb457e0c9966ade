"""`distill eval`: grade answers and evaluate students."""

from __future__ import annotations

import click


@click.group("eval")
def eval_group() -> None:
    """Grade answers against official keys and evaluate students."""
