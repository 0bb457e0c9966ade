"""The whole study from one config: import -> corpus -> levels -> rewrites -> export -> finetune -> evaluate -> report.

Every step has a fingerprint: a hash of its own settings, the templates it reads and the
fingerprints of the steps it depends on. A step whose recorded fingerprint matches is skipped;
a changed template or setting changes the fingerprints of exactly the steps downstream of it.
Steps write into folders named by their fingerprint, so a half-finished step resumes and an
outdated one is never mixed with a new one.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


from distill.config import Settings
from distill.errors import DistillError, WorkFailed
from distill.io import content_hash, lock_for, read_record, write_record
from distill.workspace import Workspace

from .config import CONDITIONED, StudyConfig, load_study_config, mix_name  # noqa: F401  (re-exported for callers)
from distill.corpus.levels import LEVELS

from .schedule import WORKER_STEPS, Unit, run_parallel
from .state import STEPS, StepRecord, StepState, StudyState, file_hash

PREF = "R1+dpo"  # the key of the DPO step's adapter and evaluation (on top of [preference] level's SFT adapter)
RL = "R1+grpo"  # the key of the GRPO step's adapter and evaluation (on top of [rl] level's SFT adapter)


class Study:
    def __init__(self, cfg: StudyConfig, settings: Settings, workspace: Workspace, *, log: Callable[[str], None] = print):
        self.cfg, self.settings, self.ws, self.log = cfg, settings, workspace, log
        self.dir = workspace.root / "studies" / cfg.name
        self.state_path = self.dir / "state.json"
        self.prompts_dir = cfg.prompts_dir
        self.preview: list | None = None  # problems read from the files, not imported (planning before the import step)

    # ------------------------------------------------------------------ identity
    def _model_identity(self) -> Any:
        """The student model in fingerprints: a local folder by its content (weights and config), not its path, so a
        moved or copied study is the same study; a hub id as itself."""
        if getattr(self, "_model_id", None) is None:
            from distill.evaluation.card import weights_hash

            model = Path(self.cfg.finetune.model)
            if model.is_dir():
                cfg = model / "config.json"
                self._model_id = {"weights": weights_hash(str(model)), "config": content_hash(cfg.read_bytes(), 32) if cfg.exists() else None}
            else:
                self._model_id = self.cfg.finetune.model
        return self._model_id

    def _finetune_identity(self) -> dict[str, Any]:
        return {**self.cfg.finetune.model_dump(exclude={"data", "out", "resume", "title", "model"}), "model": self._model_identity()}

    # ------------------------------------------------------------------ state
    def state(self) -> StudyState:
        if not self.state_path.exists():
            return StudyState()
        st = read_record(self.state_path, StudyState, "a study state", "delete it to start the study over")
        if st.workspace and st.workspace != str(self.ws.root):  # moved or copied: the outputs live under the workspace's new place
            for rec in st.steps.values():
                rec.outputs = {k: self._moved(v, st.workspace) for k, v in rec.outputs.items()}
        return st

    def _moved(self, value: Any, old_root: str) -> Any:
        if isinstance(value, str) and (value == old_root or value.startswith(old_root.rstrip("/") + "/")):
            return str(self.ws.root) + value[len(old_root.rstrip("/")):]
        return value

    def _record(self, key: str, fp: str, outputs: dict[str, Any], order: list[str] | None = None) -> None:
        with lock_for(self.state_path):
            self._record_locked(key, fp, outputs, order)

    def _record_locked(self, key: str, fp: str, outputs: dict[str, Any], order: list[str] | None) -> None:
        st = self.state()  # read with its paths under the workspace's current place, and written so
        st.workspace = str(self.ws.root)
        st.steps[key] = StepRecord(fingerprint=fp, outputs=outputs, finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        if order:  # in plan order, whichever step finished first
            rank = {k: i for i, k in enumerate(order)}
            st.steps = dict(sorted(st.steps.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        write_record(self.state_path, st)

    def _output(self, key: str) -> dict[str, Any]:
        """The recorded outputs of an upstream step, or a clear error when it has not run."""
        rec = self.state().steps.get(key)
        if rec is None:
            step = key.split(":")[0]
            raise DistillError(f"step {key} has not run yet; run `distill study run` (or --only {step}) first")
        return rec.outputs

    def _done(self, key: str, fp: str) -> dict[str, Any] | None:
        rec = self.state().steps.get(key)
        return rec.outputs if rec and rec.fingerprint == fp else None

    # ------------------------------------------------------------------ fingerprints
    def _templates(self, names: list[str]) -> dict[str, str]:
        from distill.prompts import load_template

        return {n: load_template(n, self.prompts_dir).sha256 for n in names}

    def plan(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(step, key, fingerprint, inputs) for every unit of work, in order."""
        from distill.agents.clients import describe_role
        from distill.agents.team import TEMPLATE_NAMES
        from distill.grading.version import grader_version

        c, s = self.cfg, self.settings
        out = []
        fp_import = content_hash({"files": file_hash(c.problems.paths), "math500": file_hash([c.problems.math500]) if c.problems.math500 else None,
                                  "source": c.problems.source, "format": c.problems.format}, 24)
        out.append(("import", "import", fp_import, {}))
        fp_corpus = content_hash({"import": fp_import, "years": [c.split.train_years, c.split.valid_years], "corpus": c.corpus.model_dump(),
                                  "solver": describe_role(s.solver), "verifier": describe_role(s.verifier),
                                  "templates": self._templates(list(TEMPLATE_NAMES))}, 24)
        out.append(("corpus", "corpus", fp_corpus, {}))
        fp_levels = {}
        for lv in (c.levels.needed() if c.levels.conditioned or c.levels.mixes else c.levels.train):
            extra = {} if lv == "R1" else {"template": self._templates([f"levels/{lv.lower()}", "formatter_system", "levels/feedback"]),
                                           "verifier": describe_role(s.verifier), "band": list(c.levels.band)}
            fp_levels[lv] = content_hash({"corpus": fp_corpus, "level": lv, **extra}, 24)
            out.append(("levels", f"levels:{lv}", fp_levels[lv], {"level": lv}))
        student_t = self._templates(["student_system", "student_user"])
        fp_ft = {}
        self._plan_extra_students(out, fp_levels, student_t, fp_ft)
        for lv in c.levels.train:
            fp_exp = content_hash({"levels": fp_levels[lv], "split": c.split.model_dump(), "templates": student_t,
                                   "decontamination": "every problem not trained on"}, 24)
            out.append(("export", f"export:{lv}", fp_exp, {"level": lv}))
            fp_ft[lv] = content_hash({"export": fp_exp, "finetune": self._finetune_identity()}, 24)
            out.append(("finetune", f"finetune:{lv}", fp_ft[lv], {"level": lv}))
        if c.preference is not None:  # DPO on top of one level's SFT adapter
            pref = c.preference.model_dump(exclude={"pair_form"} if c.preference.pair_form == "solver" else set())
            formatted = {}
            if c.preference.pair_form == "formatted":  # the wrong replies rewritten, for pairs of two rewrites
                fp_rw = content_hash({"corpus": fp_corpus, "templates": self._templates(["formatter_wrong", "formatter_system"]),
                                      "verifier": describe_role(s.verifier)}, 24)
                out.append(("rewrites", "rewrites", fp_rw, {}))
                formatted = {"pair_form": "formatted", "rewrites": fp_rw}
            fp_pexp = content_hash({"corpus": fp_corpus, "split": c.split.model_dump(), "templates": student_t, "format": "dpo",
                                    "prefer_shorter": c.preference.prefer_shorter, **formatted}, 24)
            out.append(("export", "export:dpo", fp_pexp, {"level": "dpo"}))
            fp_ft[PREF] = content_hash({"export": fp_pexp, "sft": fp_ft[c.preference.level], "preference": pref,
                                        "finetune": self._finetune_identity()}, 24)
            out.append(("finetune", f"finetune:{PREF}", fp_ft[PREF], {"level": PREF}))
        if c.rl is not None:  # GRPO on top of one level's SFT adapter, on the training years' problems
            fp_ft[RL] = content_hash({"import": fp_import, "split": c.split.model_dump(), "templates": student_t, "sft": fp_ft[c.rl.level],
                                      "rl": c.rl.model_dump(), "grader": grader_version(),
                                      "finetune": self._finetune_identity()}, 24)
            out.append(("finetune", f"finetune:{RL}", fp_ft[RL], {"level": RL}))
        ev = c.evaluation.model_dump()
        judge = {"role": describe_role(s.judge), "templates": self._templates(["judge_system", "judge"])} if c.evaluation.judge else None
        # generation does not depend on the grader or the judge: a change of either regrades (the grade steps), never regenerates
        fp_test = content_hash({"import": fp_import, "test": c.split.test_years, "eval": {k: v for k, v in ev.items() if k != "judge"},
                                "templates": student_t}, 24)
        first_eval = len(out)
        out.append(("evaluate", "evaluate:base", content_hash({"t": fp_test, "model": self._model_identity()}, 24), {"kind": "base"}))
        mixes = [n for n in self.extra_students() if n != CONDITIONED]
        for lv in [*c.levels.train, *mixes, *([PREF] if c.preference is not None else []), *([RL] if c.rl is not None else [])]:
            out.append(("evaluate", f"evaluate:tuned:{lv}", content_hash({"t": fp_test, "ft": fp_ft[lv]}, 24), {"kind": "tuned", "level": lv}))
        self._plan_conditioned_evaluations(out, fp_test, fp_ft)
        if c.evaluation.teacher:
            out.append(("evaluate", "evaluate:teacher", content_hash({"t": fp_test, "solver": describe_role(s.solver)}, 24), {"kind": "teacher"}))
        if c.evaluation.math500 and c.problems.math500:
            out.append(("evaluate", "evaluate:math500:base", content_hash({"t": fp_test, "m": "math500", "model": self._model_identity()}, 24),
                        {"kind": "base", "math500": True}))
            if "R1" in c.levels.train:
                out.append(("evaluate", "evaluate:math500:tuned", content_hash({"t": fp_test, "m": "math500", "ft": fp_ft["R1"]}, 24),
                            {"kind": "tuned", "level": "R1", "math500": True}))
        for step, key, fp, inputs in list(out[first_eval:]):
            if step == "evaluate":  # the stored responses graded with the current grader (and judge): no generation
                out.append(("grade", "grade:" + key.split(":", 1)[1], content_hash({"evaluate": fp, "grader": grader_version(), "judge": judge}, 24),
                            {"of": key}))
        fp_report = content_hash([k + f for _, k, f, _ in out], 24)
        out.append(("report", "report", fp_report, {}))
        return out

    def _plan_extra_students(self, out: list, fp_levels: dict[str, str], student_t: dict[str, str], fp_ft: dict[str, str]) -> None:
        """The export and fine-tune steps of the length-conditioned student and the level mixes. They come before the
        per-level students': the conditioned student is the longest fine-tune, and with --jobs the workers take ready
        steps in plan order."""
        from distill.corpus.level_mix import parse_level_spec

        c = self.cfg
        for name, spec in self.extra_students().items():
            used = parse_level_spec(spec).levels
            extra_t = self._templates(["student_level"]) if name == CONDITIONED else {}
            fp_exp = content_hash({"levels": {lv: fp_levels[lv] for lv in used}, "split": c.split.model_dump(), "templates": {**student_t, **extra_t},
                                   "level": spec, "seed": c.evaluation.seed, "decontamination": "every problem not trained on"}, 24)
            out.append(("export", f"export:{name}", fp_exp, {"level": name}))
            extra = c.levels.conditioned_finetune if name == CONDITIONED else {}
            fp_ft[name] = content_hash({"export": fp_exp, "finetune": self._finetune_identity(), **({"overrides": extra} if extra else {})}, 24)
            out.append(("finetune", f"finetune:{name}", fp_ft[name], {"level": name}))

    def _plan_conditioned_evaluations(self, out: list, fp_test: str, fp_ft: dict[str, str]) -> None:
        """One student asked for each level by the level's instruction."""
        if not self.cfg.levels.conditioned:
            return
        asked = self._templates(["student_level"])
        for lv in LEVELS:
            out.append(("evaluate", f"evaluate:{CONDITIONED}:{lv}", content_hash({"t": fp_test, "ft": fp_ft[CONDITIONED], "level": lv,
                                                                                  "asked": asked}, 24), {"kind": CONDITIONED, "level": lv}))

    def extra_students(self) -> dict[str, str]:
        """Students beside the per-level ones: name -> the export's --level (all, or a mix)."""
        lv = self.cfg.levels
        return {**({CONDITIONED: "all"} if lv.conditioned else {}), **{mix_name(m): m for m in lv.mixes}}

    def status(self) -> list[StepState]:
        st = self.state().steps
        rows = []
        for step, key, fp, _ in self.plan():
            rec = st.get(key)
            status = "pending" if rec is None else "done" if rec.fingerprint == fp else "stale"
            rows.append(StepState(step, key, fp, status, rec.outputs if rec else {}))
        return rows

    def needs(self, key: str, planned: list[str]) -> tuple[str, ...]:
        """The steps whose outputs `key` reads (what must finish before it starts), among the `planned` keys."""
        step, _, rest = key.partition(":")
        if step == "import":
            return ()
        if step == "corpus" or key in ("evaluate:base", "evaluate:teacher", "evaluate:math500:base"):
            return ("import",)
        if step in ("levels", "rewrites"):
            return ("corpus",)
        if key == "export:dpo":
            return ("corpus", "rewrites")  # rewrites only with pair_form = "formatted" (a need not planned is no need)
        if step == "export" and rest in self.extra_students():
            from distill.corpus.level_mix import parse_level_spec

            return tuple(f"levels:{lv}" for lv in parse_level_spec(self.extra_students()[rest]).levels)
        if key.startswith(f"evaluate:{CONDITIONED}:"):
            return (f"finetune:{CONDITIONED}",)
        if step == "export":
            return (f"levels:{rest}",)
        if key == f"finetune:{PREF}":
            assert self.cfg.preference is not None
            return ("export:dpo", f"finetune:{self.cfg.preference.level}")
        if key == f"finetune:{RL}":
            assert self.cfg.rl is not None
            return ("import", f"finetune:{self.cfg.rl.level}")
        if step == "finetune":
            return (f"export:{rest}",)
        if key == "evaluate:math500:tuned":
            return ("finetune:R1",)
        if key.startswith("evaluate:tuned:"):
            return (f"finetune:{key.split(':', 2)[2]}",)
        if step == "grade":
            return ("evaluate:" + rest,)
        return tuple(k for k in planned if k != "report")  # the report reads everything

    # ------------------------------------------------------------------ running
    def run(self, until: str | None = None, only: str | None = None, jobs: int = 1) -> dict[str, Any]:
        """Every step not already done; with `jobs` > 1 the fine-tunes and evaluations run in that many
        worker processes as soon as their inputs are done (the same results as one at a time)."""
        for name in (until, only):
            if name is not None and name not in STEPS:
                raise DistillError(f"unknown step {name!r}; steps: {', '.join(STEPS)}")
        plan = self.plan()
        if only:
            before = [k for s, k, fp, _ in plan if STEPS.index(s) < STEPS.index(only) and self._done(k, fp) is None]
            if before:
                more = f" and {len(before) - 5} more" if len(before) > 5 else ""
                raise DistillError(f"--only {only} needs the steps before it done with the current settings; not done: "
                                   f"{', '.join(before[:5])}{more} (run `distill study run --until {STEPS[STEPS.index(only) - 1]}` first)")
        self.dir.mkdir(parents=True, exist_ok=True)
        from filelock import Timeout

        running = lock_for(self.dir / "run", timeout=0)
        try:
            running.acquire()
        except Timeout:
            raise DistillError(f"study {self.cfg.name!r} is running in another process (its lock: {self.dir / 'run.lock'}); "
                               "wait for it to finish, or stop it and run again") from None
        try:
            return self._run(plan, until, only, jobs)
        finally:
            running.release()

    def _run(self, plan, until: str | None, only: str | None, jobs: int) -> dict[str, Any]:
        ran, skipped, todo = [], [], []
        stop_after = STEPS.index(until) if until else len(STEPS) - 1
        order = [k for _, k, _, _ in plan]
        for step, key, fp, inputs in plan:
            if STEPS.index(step) > stop_after or (only and step != only):
                continue
            if self._done(key, fp) is not None:
                skipped.append(key)
                self.log(f"[dim]skip[/] {key} (up to date)")
            else:
                todo.append(Unit(step, key, fp, inputs, self.needs(key, order)))
        if jobs > 1 and sum(u.step in WORKER_STEPS for u in todo) > 1:
            outcome = run_parallel(todo, jobs, run_here=self.run_unit, record=lambda u, out: self._record(u.key, u.fingerprint, out, order),
                                   study_args=(type(self), self.cfg.model_dump_json(), self.settings, str(self.ws.root)), log_line=self.log)
            if outcome.failed:
                raise outcome.failed[0][1]
            ran = outcome.ran
        else:
            for u in todo:
                self.log(f"[bold]run[/]  {u.key}")
                t0 = time.perf_counter()
                self._record(u.key, u.fingerprint, self.run_unit(u), order)
                self.log(f"[green]done[/] {u.key} in {time.perf_counter() - t0:.1f}s")
                ran.append(u.key)
        return {"ran": ran, "skipped": skipped, "dir": str(self.dir)}

    def run_unit(self, u: Unit) -> dict[str, Any]:
        return getattr(self, f"_step_{u.step}")(fp=u.fingerprint, **u.inputs)

    # ------------------------------------------------------------------ steps
    def _problems(self):
        from distill.problems.store import ProblemStore

        if self.preview is not None:
            return self.preview
        return ProblemStore(self.ws.problems_file).load()

    def _read_problems(self):
        from distill.problems.importers import import_paths

        probs = import_paths([Path(p) for p in self.cfg.problems.paths], self.cfg.problems.format, source=self.cfg.problems.source)
        if self.cfg.problems.math500:
            probs += import_paths([Path(self.cfg.problems.math500)], "math500")
        return probs

    def preview_import(self) -> None:
        """Read the problem files without importing them, so later steps can be planned before the import step ran."""
        self.preview = self._read_problems()

    def _years(self, spec: str) -> set[int]:
        from distill.problems.select import parse_years

        return set(parse_years(spec)) if spec else set()

    def _step_import(self, fp: str) -> dict[str, Any]:
        from distill.problems.store import ProblemStore

        probs = self._read_problems()
        result = ProblemStore(self.ws.ensure().problems_file).merge(probs)
        self.log(f"  imported {len(probs)} problems ({result['added']} new)")
        return {"imported": len(probs), **result}

    def _problems_of_source(self):
        return [p for p in self._problems() if p.source == self.cfg.problems.source]

    def _corpus_problems(self):
        years = self._years(self.cfg.split.train_years) | self._years(self.cfg.split.valid_years)
        return [p for p in self._problems() if p.source == self.cfg.problems.source and p.year in years and p.usable]

    def _step_corpus(self, fp: str) -> dict[str, Any]:
        from distill.corpus.service import CorpusRequest, run_corpus_stage

        problems = self._corpus_problems()
        if not problems:
            raise DistillError("no usable problems in the training and validation years; run the import step or check [split]")
        summary = run_corpus_stage(self.ws, self.settings, CorpusRequest(problems, max_rounds=self.cfg.corpus.max_rounds,
                                                                         concurrency=self.cfg.corpus.concurrency, prompts_dir=self.prompts_dir))
        self.log(f"  corpus: {summary.accepted} accepted, {summary.rejected} rejected, {summary.failed} failed; "
                 f"{summary.model_calls} model calls ({summary.cached} cached)")
        if summary.stopped_by is not None:
            raise summary.stopped_by
        if summary.failed:
            raise WorkFailed(f"{summary.failed} samples failed ({'; '.join(summary.failed_reasons)}); rerun `distill study run` to retry them")
        return summary.as_dict()

    def _step_levels(self, fp: str, level: str) -> dict[str, Any]:
        from distill.corpus.service import LevelsRequest, run_levels_stage

        req = LevelsRequest(self._corpus_problems(), [level], concurrency=self.cfg.corpus.concurrency, band=tuple(self.cfg.levels.band),
                            prompts_dir=self.prompts_dir)
        table = run_levels_stage(self.ws, self.settings, req).levels[level]
        self.log(f"  {level}: {table['ok']} texts, mean {table['mean_words']} words")
        return table

    def _step_rewrites(self, fp: str) -> dict[str, Any]:
        from distill.corpus.service import RewritesRequest, run_rewrites_stage

        res = run_rewrites_stage(self.ws, self.settings, RewritesRequest(self._corpus_problems(), concurrency=self.cfg.corpus.concurrency,
                                                                           prompts_dir=self.prompts_dir))
        c = res.counts
        if not res.jobs:
            self.log("  rewrites: the corpus has no wrong Solver replies; formatted pairs will be shorter pairs only")
            return c
        self.log(f"  rewrites: {c['ok']} wrong replies rewritten keeping their answer, {c['refused']} refused; "
                 f"{res.model_calls} model calls ({res.cached} cached)")
        if c["failed"]:
            raise WorkFailed(f"{c['failed']} rewrites failed; rerun `distill study run` to retry them")
        return {**c, "model_calls": res.model_calls}

    def export_request(self, level: str, out: Path):
        """The export step as `distill corpus export` would be asked it (the test of the two front doors uses this)."""
        from distill.corpus.export import ExportOptions
        from distill.corpus.service import ExportRequest

        c = self.cfg
        dpo = level == "dpo"
        level = self.extra_students().get(level, level)  # the conditioned student's `all`, a mix's spec
        return ExportRequest(out, ExportOptions(level="R1" if dpo else level, valid_years=sorted(self._years(c.split.valid_years)),
                                                test_years=sorted(self._years(c.split.test_years)), seed=c.evaluation.seed,
                                                prompts_dir=self.prompts_dir, fmt="dpo" if dpo else "mlx",
                                                prefer_shorter=bool(dpo and c.preference and c.preference.prefer_shorter),
                                                pair_form=c.preference.pair_form if dpo and c.preference else "solver"),
                             source=c.problems.source)

    def _step_export(self, fp: str, level: str) -> dict[str, Any]:
        from distill.corpus.service import export_stage

        out = self.dir / "exports" / f"{level}-{fp[:8]}"
        m = export_stage(self.ws, self.export_request(level, out))
        self.log(f"  {level}: train {m.counts['train']}, valid {m.counts['valid']} examples; {len(m.decontamination.flagged)} left out "
                 f"as overlapping a problem not trained on; test years {self.cfg.split.test_years} are evaluated from the problem set")
        return {"dir": str(out), "counts": m.counts, "mean_words": m.mean_words, "decontaminated": len(m.decontamination.flagged)}

    def _step_finetune(self, fp: str, level: str) -> dict[str, Any]:
        from distill.finetune.run import run_finetune

        out = self.dir / "finetune" / f"{level}-{fp[:8]}"
        resume = (out / "checkpoints" / "state.json").exists()
        if not resume and out.exists():
            shutil.rmtree(out)  # a run killed before its first checkpoint: start it again
        if level == RL:
            args = self._rl_args(out, resume)
        elif level == PREF:
            p = self.cfg.preference
            assert p is not None
            args = self.cfg.finetune.model_copy(update={
                "data": self._output("export:dpo")["dir"], "out": str(out), "resume": resume, "title": f"{p.level} student + DPO",
                "method": "dpo", "adapter": self._output(f"finetune:{p.level}")["dir"], "beta": p.beta, "iters": p.iters,
                "learning_rate": p.learning_rate, "batch_size": p.batch_size})
        else:
            extra = self.cfg.levels.conditioned_finetune if level == CONDITIONED else {}
            args = self.cfg.finetune.model_copy(update={**extra, "data": self._output(f"export:{level}")["dir"], "out": str(out), "resume": resume,
                                                        "title": f"{level} student"})
        s = run_finetune(args)
        assert s is not None  # the study trains in this process, rank 0
        kept = f"mean validation reward {s.reward.valid_best}" if s.reward else f"val {s.best_val_loss:.3f}"
        self.log(f"  {level}: best iteration {s.best_iteration} ({kept}) of {s.iterations_run}")
        return {"dir": str(out), **s.model_dump(include={"best_iteration", "best_val_loss", "base_val_loss", "final_val_loss", "iterations_run",
                                                          "stopped_early"})}

    def _rl_args(self, out: Path, resume: bool):
        """GRPO's settings and prompt set: the training years' problems, the validation years held out."""
        from distill.finetune.grpo import write_prompt_set

        r, c = self.cfg.rl, self.cfg
        assert r is not None
        valid = self._years(c.split.valid_years)
        problems = self._corpus_problems()
        if not resume:
            write_prompt_set([p for p in problems if p.year not in valid], [p for p in problems if p.year in valid], out / "prompts",
                             self.prompts_dir)
        return c.finetune.model_copy(update={
            "data": str(out / "prompts"), "out": str(out), "resume": resume, "title": f"{r.level} student + GRPO", "method": "grpo",
            "adapter": self._output(f"finetune:{r.level}")["dir"], **r.model_dump(exclude={"level"})})

    def eval_request(self, fp: str, kind: str, level: str | None = None, math500: bool = False):
        """The evaluate step as `distill eval run` would be asked it."""
        from distill.evaluation.backends import Sampling
        from distill.evaluation.service import EvalRequest, ModelSpec

        e = self.cfg.evaluation
        if math500:
            problems = [p for p in self._problems() if p.source == "math500" and p.usable][: e.math500_limit or None]
        else:
            test = self._years(self.cfg.split.test_years)
            problems = [p for p in self._problems() if p.source == self.cfg.problems.source and p.year in test and p.usable]
        if not problems:
            raise DistillError("no test problems for the evaluation step (check [split] test_years)")
        name = ("math500-" if math500 else "") + (f"{kind}-{level}" if kind in ("tuned", CONDITIONED) else kind)
        if kind == "teacher":
            who = ModelSpec(endpoint="solver")
        else:
            trained = {"tuned": level, CONDITIONED: CONDITIONED}.get(kind)
            who = ModelSpec(model=self.cfg.finetune.model, adapter=Path(self._output(f"finetune:{trained}")["dir"]) if trained else None)
        return name, EvalRequest(problems, self.dir / "evaluations" / f"{name}-{fp[:8]}", who, Sampling(e.temperature, e.top_p, e.max_tokens),
                                 runs=e.runs, seed=e.seed, level=level or "R1", judge=e.judge, concurrency=self.cfg.corpus.concurrency,
                                 batch_size=e.batch_size, prompts_dir=self.prompts_dir, spec=name, prompt_levels=kind == CONDITIONED)

    def _step_evaluate(self, fp: str, kind: str, level: str | None = None, math500: bool = False) -> dict[str, Any]:
        from distill.evaluation.service import evaluate_stage

        name, req = self.eval_request(fp, kind, level, math500)
        s = evaluate_stage(self.ws, self.settings, req)
        self.log(f"  {name}: {100 * s.mean:.2f} ± {100 * s.std:.2f} over {len(s.runs)} runs of {s.n_problems} problems")
        return {"dir": str(req.out), "name": name, "kind": kind, "level": level, "math500": math500, "mean": s.mean, "std": s.std}

    def _step_grade(self, fp: str, of: str) -> dict[str, Any]:
        """The evaluation's stored responses graded again when the grader (or the judge) that graded them is not the
        current one; nothing is generated. An evaluation graded by the current grader is left as it is."""
        from distill.corpus.service import open_grader
        from distill.evaluation.records import EvalConfig
        from distill.evaluation.regrade import regrade
        from distill.evaluation.service import make_judge
        from distill.grading.version import grader_version

        folder = Path(self._output(of)["dir"])
        cfg = read_record(folder / "eval_config.json", EvalConfig, "an evaluation's settings", f"run the {of} step again")
        judge = make_judge(self.ws, self.settings, self.prompts_dir, self.cfg.corpus.concurrency) if self.cfg.evaluation.judge else None
        wanted = {"role": judge.role, "templates": judge.template_hashes} if judge is not None else None
        if cfg.grader == grader_version() and cfg.judge == wanted:
            return {"dir": str(folder), "regraded": False, "changed": 0}
        with open_grader(self.settings) as grader:
            entry = regrade(folder, grader, judge=judge, problem_texts={p.id: p.text for p in self._problems()})
        self.log(f"  {of}: regraded {entry['records']} responses ({entry['changed']} verdicts changed), no generation")
        return {"dir": str(folder), "regraded": True, "changed": entry["changed"]}

    def _step_report(self, fp: str) -> dict[str, Any]:
        from distill.study.report import write_study_report

        path = write_study_report(self)
        self.log(f"  report: {path}")
        return {"report": str(path)}
