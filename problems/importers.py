"""Importers: O'Bryan per-year JSON, MATH-500 JSONL, and generic JSONL with a field mapping.

Every importer reads fully and validates before anything is written, and every error names
the file and the key or line that is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from distill.errors import DistillError, validation_message
from distill.io import read_jsonl

from .schema import (
    Problem,
    is_placeholder_answer,
    is_placeholder_text,
    section_code,
    slug,
)

FORMATS = ("obryan", "math500", "jsonl")
OBRYAN_FILE = re.compile(r"^(\d{4})\.json$")
QUESTION_KEY = re.compile(r"^question_([A-Za-z]*)(\d+)$")  # question_7, tie-breakers question_T1


def _flagged(answer: str | None, text: str = "") -> list[str]:
    flags = ["missing_answer"] if is_placeholder_answer(answer) else []
    return flags + (["placeholder_text"] if is_placeholder_text(text) else [])


def _build(path: Path, where: str, *, origin: str, text: str, answer: str, **fields: Any) -> Problem:
    """A validated Problem with its flags, or a one-line error naming the file and key/line."""
    try:
        return Problem(origin=f"{path.name}:{origin}", text=text, answer=answer, flags=_flagged(answer, text), **fields)
    except ValidationError as exc:
        raise DistillError(validation_message(exc), path=path, where=where) from None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DistillError(f"malformed JSON ({exc.msg})", path=path, where=f"line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise DistillError("not UTF-8 text", path=path) from None


def _as_text(value: Any, path: Path, where: str, field: str, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise DistillError(f"missing field {field!r}", path=path, where=where)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DistillError(f"field {field!r} must be text, got {type(value).__name__}", path=path, where=where)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


# ---------------------------------------------------------------- O'Bryan

def import_obryan(path: Path, source: str | None = None) -> list[Problem]:
    """`YEAR.json` = {section: {question_k: {question, answer}}}."""
    src = slug(source or "obryan")
    m = OBRYAN_FILE.match(path.name)
    if not m:
        raise DistillError("O'Bryan files must be named YEAR.json (e.g. 2019.json)", path=path)
    year = int(m.group(1))
    data = _load_json(path)
    if not isinstance(data, dict):
        raise DistillError(f"expected an object of sections at the top, got {type(data).__name__}", path=path)
    problems = []
    for section, questions in data.items():
        if not isinstance(questions, dict):
            raise DistillError(
                f"expected an object of questions, got {type(questions).__name__}", path=path, where=f"key {section!r}"
            )
        for qkey, item in questions.items():
            where = f"key {section}.{qkey}"
            qm = QUESTION_KEY.match(qkey)
            if not qm:
                raise DistillError("question keys must look like question_<number> (or question_T1 for tie-breakers)", path=path, where=where)
            if not isinstance(item, dict):
                raise DistillError(f"expected an object with question and answer, got {type(item).__name__}", path=path, where=where)
            text = _as_text(item.get("question"), path, where, "question")
            if not text.strip():
                raise DistillError("empty question text", path=path, where=where)
            if "answer" not in item:
                raise DistillError('missing field \'answer\' (write "answer": "" for a problem without a published key)', path=path, where=where)
            answer = _as_text(item.get("answer"), path, where, "answer", required=False) or ""
            prefix, number = qm.group(1).lower(), int(qm.group(2))
            uid = f"{src}-{year}-{section_code(section)}-{prefix}{number:02d}"
            problems.append(_build(path, where, origin=f"{section}.{qkey}", text=text, answer=answer,
                                   id=uid, source=src, year=year, section=section, number=number))
    if not problems:
        raise DistillError("no questions found", path=path)
    return problems


# ---------------------------------------------------------------- MATH-500

def import_math500(path: Path) -> list[Problem]:
    problems = []
    for lineno, row in read_jsonl(path):
        where = f"line {lineno}"
        text = _as_text(row.get("problem"), path, where, "problem")
        answer = _as_text(row.get("answer"), path, where, "answer", required=False) or ""
        uid = _as_text(row.get("unique_id"), path, where, "unique_id", required=False) or f"line-{lineno}"
        level = row.get("level")
        if level is not None and not isinstance(level, int):
            m = re.search(r"\d+", str(level))
            level = int(m.group()) if m else None
        problems.append(
            _build(
                path,
                where,
                id=f"math500-{slug(uid.removeprefix('test/').removesuffix('.json'))}",
                source="math500",
                section=row.get("subject"),
                text=text,
                answer=answer,
                answer_latex=answer or None,
                solution=row.get("solution"),
                subject=row.get("subject"),
                level=level,
                origin=str(lineno),
            )
        )
    if not problems:
        raise DistillError("no problems found (empty file)", path=path)
    return problems


# ---------------------------------------------------------------- generic JSONL

GENERIC_FIELDS = {"id", "text", "answer", "year", "section", "number", "solution", "subject", "level", "answer_latex"}


def parse_field_map(specs: Iterable[str]) -> dict[str, str]:
    """`--field text=problem` -> {"text": "problem"} (our field = their field)."""
    mapping = {"text": "text", "answer": "answer", "id": "id"}
    for spec in specs:
        if "=" not in spec:
            raise DistillError(f"--field {spec!r}: expected OURS=THEIRS, e.g. text=problem")
        ours, theirs = (s.strip() for s in spec.split("=", 1))
        if ours not in GENERIC_FIELDS:
            raise DistillError(f"--field {spec!r}: unknown field {ours!r}; known: {', '.join(sorted(GENERIC_FIELDS))}")
        mapping[ours] = theirs
    return mapping


# Field names other datasets use, tried when no --field mapping is given (AIME/AMC: problem, answer, id).
ALTERNATIVES = {"text": ("text", "problem", "question", "prompt"), "answer": ("answer", "final_answer", "gold", "solution_key")}


SAME_NAME = ("year", "section", "number", "subject", "solution", "answer_latex")


def _auto_map(path: Path, row: Mapping[str, Any]) -> dict[str, str]:
    fmap = parse_field_map([])
    for ours, names in ALTERNATIVES.items():
        found = next((n for n in names if n in row), None)
        if found is None and ours == "text":
            raise DistillError(f"no problem text field (looked for {', '.join(names)}; this file has {', '.join(sorted(row)) or 'no fields'}); "
                               f"map one with --field text=NAME", path=path, where="line 1")
        if found:
            fmap[ours] = found
    for ours in SAME_NAME:  # a field already named as ours is read as it is (a generic file's `year` must not be lost)
        if ours in row:
            fmap[ours] = ours
    return fmap


def import_jsonl(path: Path, field_map: Mapping[str, str] | None = None, source: str | None = None) -> list[Problem]:
    fmap = dict(field_map) if field_map else None
    src = slug(source or path.stem)
    problems = []
    for lineno, row in read_jsonl(path):
        if fmap is None:
            fmap = _auto_map(path, row)
        where = f"line {lineno}"
        fields: dict[str, Any] = {}
        for ours, theirs in fmap.items():
            if theirs in row:
                fields[ours] = row[theirs]
        if fields.get("text") is None and fmap["text"] not in row:
            raise DistillError(f"missing field {fmap['text']!r} (this line has {', '.join(sorted(row)) or 'no fields'}; "
                               f"map the problem text with --field text=NAME)", path=path, where=where)
        text = _as_text(fields.get("text"), path, where, fmap["text"])
        answer = _as_text(fields.get("answer"), path, where, fmap["answer"], required=False) or ""
        raw_id = _as_text(fields.get("id"), path, where, fmap["id"], required=False) or str(lineno)
        extra = {k: fields[k] for k in ("solution", "subject", "answer_latex", "section") if fields.get(k) is not None}
        for k in ("year", "number", "level"):
            if fields.get(k) is not None:
                try:
                    extra[k] = int(fields[k])
                except (TypeError, ValueError):
                    raise DistillError(f"field {fmap[k]!r} must be a whole number", path=path, where=where) from None
        problems.append(
            _build(path, where, origin=str(lineno), text=text, answer=answer, id=f"{src}-{slug(raw_id)}", source=src, **extra)
        )
    if not problems:
        raise DistillError("no problems found (empty file)", path=path)
    return problems


# ---------------------------------------------------------------- detection

def detect_format(path: Path) -> str:
    """Guess the format from the name and first record; refuse to guess when it is ambiguous."""
    if path.suffix == ".json":
        if OBRYAN_FILE.match(path.name):
            return "obryan"
        raise DistillError("cannot tell the format of this .json file (O'Bryan files are named YEAR.json); pass --format", path=path)
    if path.suffix == ".jsonl":
        for _, row in read_jsonl(path):
            if {"problem", "answer", "unique_id"} <= set(row):
                return "math500"
            return "jsonl"
        raise DistillError("no problems found (empty file)", path=path)
    raise DistillError(f"unknown file type {path.suffix or '(none)'!r}; expected .json or .jsonl, or pass --format", path=path)


def _check_kind(path: Path, kind: str) -> None:
    """A --format that does not fit the file: say what the file looks like instead of a parse error."""
    if kind in ("math500", "jsonl") and path.suffix == ".json":
        looks = "an O'Bryan YEAR.json file" if OBRYAN_FILE.match(path.name) else "a JSON document, not JSON lines"
        raise DistillError(f"--format {kind} reads JSON lines, but this looks like {looks}; drop --format or use --format obryan", path=path)
    if kind == "obryan" and path.suffix == ".jsonl":
        raise DistillError("--format obryan reads YEAR.json files, but this is a JSON-lines file; drop --format or use --format jsonl", path=path)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix in (".json", ".jsonl") and not q.name.startswith("."))
            if not found:
                raise DistillError("folder holds no .json or .jsonl files", path=p)
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise DistillError("no such file or folder", path=p)
    # The same file named twice (e.g. a folder and a file in it) is read once.
    unique: dict[Path, Path] = {}
    for p in out:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def import_paths(
    paths: Iterable[Path],
    fmt: str | None = None,
    field_map: Mapping[str, str] | None = None,
    source: str | None = None,
) -> list[Problem]:
    """Read and validate every file; raise on the first error, before anything is stored."""
    if fmt is not None and fmt not in FORMATS:
        raise DistillError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    readers: dict[str, Callable[[Path], list[Problem]]] = {
        "obryan": lambda p: import_obryan(p, source),
        "math500": import_math500,
        "jsonl": lambda p: import_jsonl(p, field_map, source),
    }
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for path in expand_paths(paths):
        kind = fmt or detect_format(path)
        _check_kind(path, kind)
        for prob in readers[kind](path):
            if prob.id in seen:
                raise DistillError(f"duplicate problem id {prob.id} (also in {seen[prob.id]})", path=path, where=prob.origin)
            seen[prob.id] = path
            problems.append(prob)
    return problems
