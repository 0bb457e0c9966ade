"""The pieces that keep a 100k-problem command flat in memory give the same results as the lists they
replace: a selection held as places in the problem file, rows spooled to disk, the site index written
a row at a time."""

from __future__ import annotations

import json
import pickle
import re

import pytest

from distill.corpus.decontaminate import find_contamination
from distill.io import JsonlSpool, atomic_write_jsonl, atomic_write_lines
from distill.problems.schema import Problem
from distill.problems.store import ProblemStore, partition, sorted_by_id


def problem(i: int, year: int = 2001, **kw) -> Problem:
    return Problem(id=f"p-{i:03d}", source=kw.pop("source", "s"), year=year, text=kw.pop("text", f"What is {i} + {i}?"),
                   answer=kw.pop("answer", str(2 * i)), **kw)


@pytest.fixture
def store(tmp_path) -> ProblemStore:
    s = ProblemStore(tmp_path / "problems.jsonl")
    # merge writes in (source, year, ...) order, so file order is not id order
    s.merge([problem(i, year=2001 + i % 3) for i in range(12)] + [problem(99, flags=["missing_answer"], answer="?")])
    return s


def test_a_selection_reads_the_same_problems_as_a_list_in_the_same_order(store):
    everything = store.load()
    chosen = store.select(lambda p: p.year != 2002)
    assert list(chosen) == [p for p in everything if p.year != 2002] and len(chosen) == 9
    assert chosen[0] == list(chosen)[0] and chosen[-1] == list(chosen)[-1] and list(chosen[2:5]) == list(chosen)[2:5]
    assert [p.id for p in store.select(by_id=True)] == sorted(p.id for p in everything)
    assert [p.id for p in sorted_by_id(chosen)] == sorted(p.id for p in chosen)
    usable, first = partition(chosen, lambda p: p.usable, lambda p: p.year == 2001)
    assert list(usable) == [p for p in chosen if p.usable] and list(first) == [p for p in chosen if p.year == 2001]
    assert partition(list(chosen), lambda p: p.year == 2001) == ([p for p in chosen if p.year == 2001],)
    assert pickle.loads(pickle.dumps(chosen)) == list(chosen)  # a worker process gets a plain list
    assert store.select(lambda p: False).scanned == 13 and ProblemStore(store.path.parent / "none.jsonl").select().scanned == 0


def test_pick_keeps_the_order_given_and_names_unknown_ids(store):
    from distill.errors import DistillError

    assert [p.id for p in store.select().pick(["p-007", "p-002"])] == ["p-007", "p-002"]
    with pytest.raises(DistillError, match="unknown problem id.*p-404"):
        store.select().pick(["p-001", "p-404"])


def test_a_selection_is_a_snapshot_when_the_file_is_rewritten(store):
    chosen = store.select(lambda p: p.year == 2001)
    before = list(chosen)
    store.merge([problem(i, source="a", text=f"Changed {i}") for i in range(200, 260)])  # rewritten: source "a" sorts first, every line moves
    assert list(chosen) == before


def test_a_broken_line_is_named(tmp_path):
    from distill.errors import DistillError

    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps(problem(1).model_dump(mode="json")) + "\n" + '{"id": "x"}\n')
    with pytest.raises(DistillError) as err:
        ProblemStore(path).select()
    assert "line 2" in str(err.value) and "problems.jsonl" in str(err.value)


def test_spooled_rows_write_the_same_bytes_in_any_order(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"x{i} ∑ </script> \u2028"}], "n": i / 3} for i in range(50)]
    order = [7, 3, *range(8, 50), 0, 1, 2, 4, 5, 6]
    spool = JsonlSpool()
    for r in rows:
        spool.add(r)
    atomic_write_jsonl(tmp_path / "a.jsonl", [rows[i] for i in order])
    atomic_write_lines(tmp_path / "b.jsonl", spool.lines(order))
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert list(spool.rows()) == rows and len(spool) == 50


def test_decontamination_reads_each_side_once_from_any_iterable():
    evaluation = [problem(i, text=f"Ana has {i} apples and Ben has twice as many pears as Ana has apples; how many pears?") for i in range(5)]
    train = [problem(100 + i, text=e.text if i % 2 else f"A new question {i} about triangles with sides three four five")
             for i, e in enumerate(evaluation)]
    as_lists = find_contamination(train, evaluation)
    assert as_lists == find_contamination(iter(train), iter(evaluation)) and len(as_lists) == 2


def test_export_and_the_site_from_a_selection_match_a_list(recorded_corpus, run_cli, tmp_path):
    """`corpus export` (a selection of places) writes what `export_corpus` writes from the problems as a list."""
    from distill.corpus.export import ExportOptions, export_corpus
    from distill.corpus.transcripts import TranscriptStore

    run_cli("corpus", "export", "--out", str(tmp_path / "cli"), "--valid-years", "2002")
    listed = ProblemStore(recorded_corpus / "problems" / "problems.jsonl").load()
    export_corpus(listed, TranscriptStore(recorded_corpus / "transcripts"), tmp_path / "list", ExportOptions(valid_years=[2002]))
    for name in ("train.jsonl", "valid.jsonl", "manifest.json"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "list" / name).read_bytes(), name
    assert not (tmp_path / "cli" / "test.jsonl").exists() and not (tmp_path / "list" / "test.jsonl").exists()  # no test years: no file
    assert (tmp_path / "cli" / "train.jsonl").read_text().count("\n") > 3


@pytest.mark.slow  # a recorded corpus run and a site build: the full tier
def test_a_site_built_for_one_year_keeps_the_other_pages_known(recorded_corpus, run_cli, tmp_path):
    out = tmp_path / "site"
    assert "(16 built, 0 unchanged)" in run_cli("transcripts", "html", "--out", str(out)).output
    one_year = run_cli("transcripts", "html", "--out", str(out), "--year", "2001").output
    assert re.search(r"wrote (\d+) problem pages \(0 built, \1 unchanged\)", one_year) and "16 problem pages" not in one_year
    assert "(0 built, 16 unchanged)" in run_cli("transcripts", "html", "--out", str(out)).output


@pytest.mark.slow  # a recorded corpus run and a site build: the full tier
def test_a_damaged_manifest_line_rebuilds_the_pages_from_there_on(recorded_corpus, run_cli, tmp_path):
    out = tmp_path / "site"
    run_cli("transcripts", "html", "--out", str(out))
    lines = (out / "pages.jsonl").read_text().splitlines(keepends=True)
    (out / "pages.jsonl").write_text("".join(lines[:4]) + "{torn\n" + "".join(lines[5:]))
    assert "(13 built, 3 unchanged)" in run_cli("transcripts", "html", "--out", str(out)).output
    assert (out / "pages.jsonl").read_text() == "".join(lines)  # whole again, in id order
    swapped = lines[:2] + [lines[3], lines[2]] + lines[4:]  # out of order: the reading stops at the line that breaks it
    (out / "pages.jsonl").write_text("".join(swapped))
    assert "(14 built, 2 unchanged)" in run_cli("transcripts", "html", "--out", str(out)).output


@pytest.mark.parametrize("args", [("corpus", "run", "--years", "2001"), ("corpus", "export", "--out", "x"), ("corpus", "decontaminate")])
def test_commands_on_an_empty_workspace_say_to_import_first(run_cli, workspace, args):
    r = run_cli(*args, ok=False)
    assert r.exit_code == 2 and "no problems in the workspace" in r.output and "problems import" in r.output


def _splits_reference(problems, valid_years, test_years):
    """The definition (every problem grouped by its group key, all in memory), as export had it."""
    from collections import defaultdict

    rank = {"train": 0, "valid": 1, "test": 2}

    def side(p):
        return "test" if p.year in test_years else "valid" if p.year in valid_years else "train"

    by_id, groups = {p.id: p for p in problems}, defaultdict(list)
    for p in problems:
        groups[p.group_key].append(p)
    out = {}
    for members in groups.values():
        sides = [side(p) for p in members] + [side(by_id[t]) for p in members for t in p.twins if t in by_id]
        for p in members:
            out[p.id] = max(sides, key=rank.__getitem__)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_splits_keep_twins_together_as_the_definition_does(seed):
    """Random twin links, symmetric or not (hand-written files), some naming problems not in the set."""
    import random

    from distill.corpus.export import assign_splits

    rng = random.Random(seed)
    ids = [f"q{i:02d}" for i in range(20)]
    twins = {i: set() for i in ids}
    for _ in range(rng.randint(0, 30)):
        a, b = rng.sample([*ids, "gone"], 2)
        if a != "gone":
            twins[a].add(b)
            if b != "gone" and rng.random() < 0.7:
                twins[b].add(a)
    problems = [Problem(id=i, source="s", year=rng.choice([2001, 2002, 2003]), text="t", answer="1", twins=sorted(twins[i])) for i in ids]
    assert assign_splits(iter(problems), {2002}, {2003}) == _splits_reference(problems, {2002}, {2003})
