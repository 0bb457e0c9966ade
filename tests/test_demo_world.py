"""The demo's drills: every one parses back to its key, the levels fall strictly, no split leaks into another."""

from __future__ import annotations

from distill.corpus.decontaminate import find_contamination
from distill.demo.drills import YEARS, Drill, drill_years, level_words, parse_drill
from distill.demo.recorded_teacher import find_recorded
from distill.grading.solution_format import check_format
from distill.problems.schema import Problem


def _problems() -> list[Problem]:
    return [Problem(id=f"drill-{year}-{s[:2]}-{q}", source="drill", year=year, section=s, number=i + 1, text=item["question"], answer=item["answer"])
            for year, doc in drill_years().items() for s, qs in doc.items() for i, (q, item) in enumerate(qs.items())]


def test_every_drill_parses_to_its_key_and_the_teacher_knows_it():
    problems = _problems()
    assert len(problems) == sum(count * per for _, count, per in YEARS.values())
    for p in problems:
        d = parse_drill(p.text)
        assert d is not None and str(d.answer) == p.answer, p.text
        assert find_recorded(p.text).answer == p.answer


def test_levels_fall_strictly_and_keep_the_format():
    words = list(level_words().values())
    assert all(a > b for a, b in zip(words, words[1:])), words
    d = Drill(3, 5, 4)
    for k in range(1, 7):
        assert check_format(d.solution(k)) is None and d.solution(k).endswith("\\boxed{12}")
    assert "3 + 5 = 8" in d.solution(4) and "8" not in d.solution(6).replace("\\boxed{12}", "")  # the partial sum only at long levels


def test_no_training_drill_overlaps_a_held_out_one():
    first, count, _ = YEARS["train"]
    problems = _problems()
    train = [p for p in problems if first <= p.year < first + count]
    held = [p for p in problems if p.year >= first + count]
    assert find_contamination(train, held) == []
