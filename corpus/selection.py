"""Which problems a command works on: `SOURCE[:YEARS|:test]`, ids or an id file; the one reading shared by
`eval run --problems` and `finetune run --method grpo --problems`."""

from __future__ import annotations

from pathlib import Path

from distill.problems.schema import Problem
from distill.problems.select import Selector, parse_years
from distill.problems.store import ProblemStore

from distill.errors import DistillError

from .manifest import ExportManifest


def resolve_spec(spec: str, ws_problems: Path, exports_dir: Path | None = None, export: Path | None = None) -> list[Problem]:
    """`obryan:2021-2025`, `obryan:test` (the export's test years), `math500`, `sample:2003`, or ids `a,b,c` / `@file`."""
    problems = ProblemStore(ws_problems).load()
    if not problems:
        raise DistillError("no problems in the workspace; run `distill problems import` first")
    by_id = {p.id: p for p in problems}
    sources = {p.source for p in problems}
    spec = spec.strip()
    if spec.startswith("@"):
        try:
            ids = [line.strip() for line in Path(spec[1:]).read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise DistillError(f"cannot read the id list ({exc.strerror})", path=spec[1:]) from None
        except UnicodeDecodeError:
            raise DistillError("the id list is not UTF-8 text", path=spec[1:]) from None
        return Selector(ids=tuple(ids))(problems)
    source, _, sel = spec.partition(":")
    if source in sources:
        pool = [p for p in problems if p.source == source and p.usable]
        if not sel:
            return pool
        if sel == "test":
            path = _find_manifest(export, exports_dir)
            years = set(ExportManifest.read(path).test_years)
            if not years:
                raise DistillError("this export has no test years", path=path)
            chosen = [p for p in pool if p.year in years]
        else:
            years = set(parse_years(sel))
            chosen = [p for p in pool if p.year in years]
        if not chosen:
            raise DistillError(f"problem spec {spec!r} selects no problems")
        return chosen
    if "," in spec or spec in by_id:
        return Selector(ids=tuple(s for s in spec.split(",") if s))(problems)
    raise DistillError(f"unknown problem spec {spec!r}; use SOURCE[:YEARS|:test] (sources here: {', '.join(sorted(sources))}), ids a,b,c, or @file")


def _find_manifest(export: Path | None, exports_dir: Path | None) -> Path:
    """The manifest of --export, else of the newest export in the workspace."""
    if export is not None:
        path = export / "manifest.json"
    else:
        found = sorted(exports_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime) if exports_dir and exports_dir.exists() else []
        if not found:
            raise DistillError("`:test` needs an export (pass --export DIR, or run `distill corpus export` into the workspace)")
        path = found[-1]
    return path
