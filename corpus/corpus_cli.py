"""`distill corpus` and `distill transcripts`: teacher transcripts and training exports."""

from __future__ import annotations

import click


@click.group("corpus")
def corpus_group() -> None:
    """Generate verified teacher solutions per year and export them for training."""


@click.group("transcripts")
def transcripts_group() -> None:
    """Inspect and share the stored Solver/Verifier transcripts."""
