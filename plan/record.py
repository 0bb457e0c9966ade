"""A plan: what one step (or a study) will need, as a versioned record and as an 80-column table."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .machine import human


class PlanRow(BaseModel):
    item: str
    value: str
    note: str = ""


class Plan(BaseModel):
    """`peak_bytes` is the estimated peak memory (None for a step that runs on an endpoint); `fits` is
    False when it exceeds `limit_bytes`, and `suggestion` then names the cheapest change that fits."""

    schema_version: int = 1
    kind: str  # finetune | eval | corpus | study
    name: str = ""
    rows: list[PlanRow] = Field(default_factory=list)
    peak_bytes: int | None = None
    limit_bytes: int | None = None
    limit_source: str | None = None
    fits: bool = True
    suggestion: str | None = None
    time_s: float | None = None
    time_source: str | None = None  # probe | history | default
    cost_usd: float | None = None
    tokens: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    steps: list["Plan"] = Field(default_factory=list)

    def add(self, item: str, value: str, note: str = "") -> None:
        self.rows.append(PlanRow(item=item, value=value, note=note))

    def refusal(self) -> str:
        """The one line a plan that does not fit is refused with."""
        line = f"needs ~{human(self.peak_bytes or 0)} of {human(self.limit_bytes or 0)} ({self.limit_source})"
        return line + (f": {self.suggestion}" if self.suggestion else ": no setting of batch size or checkpointing fits") + "; --force runs anyway"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(plan: Plan, console) -> None:
    """The plan as a table a person reads at 80 columns; a study's as one row per pending step."""
    from rich.table import Table

    from distill.safe_text import data

    width = min(console.width, 80)
    if plan.kind == "study":
        table = Table(title=data(f"plan: study {plan.name}"), title_justify="left", width=width)
        for col, just in (("step", "left"), ("peak", "right"), ("time", "right"), ("cost", "right"), ("note", "left")):
            table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
        for p in plan.steps:
            note = p.refusal() if not p.fits else next((r.note for r in p.rows if r.value == "n/a" and r.item == "estimate"), "")
            table.add_row(data(p.name), human(p.peak_bytes) if p.peak_bytes else "", duration(p.time_s) if p.time_s is not None else "",
                          cost(p.cost_usd) if p.cost_usd is not None else "", data(note), style=None if p.fits else "red")
        console.print(table)
        untimed = plan.details.get("untimed") or []
        console.print(f"[bold]total[/]: time {duration(plan.time_s)}" + (f" (+ {len(untimed)} untimed steps: --probe times them)" if untimed else "")
                      + f", cost {cost(plan.cost_usd)}, peak memory {human(plan.peak_bytes) if plan.peak_bytes else 'n/a'}"
                      + (f" of {human(plan.limit_bytes)} ({plan.limit_source})" if plan.limit_bytes else ""))
        return
    table = Table(title=data(f"plan: {plan.kind} {plan.name}".strip()), title_justify="left", width=width, show_header=False)
    table.add_column("item", style="bold", ratio=3)
    table.add_column("value", justify="right", ratio=2)
    table.add_column("note", ratio=4, overflow="fold")
    for r in plan.rows:
        table.add_row(data(r.item), data(r.value), data(r.note))
    console.print(table)
    if not plan.fits:
        console.print(f"[red]does not fit:[/] {data(plan.refusal())}")


def cost(usd: float | None) -> str:
    return "n/a" if usd is None else f"${usd:,.2f}"
