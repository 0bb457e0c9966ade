"""Problem import: schema, importers, idempotence, twins and every bad input we could think of."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from distill.demo.samples import sample_files
from distill.problems.importers import import_paths
from distill.problems.store import ProblemStore


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


OBRYAN_OK = {
    "freshman_sophomore_test": {
        "question_1": {"question": "What is 2 + 3?", "answer": "5"},
        "question_2": {"question": "Find x if 2x = 9.", "answer": "9/2"},
    },
    "junior_senior_test": {
        "question_1": {"question": "Find x if  2x = 9.", "answer": "9/2"},
        "question_4": {"question": "Find y if y - 1 = 0.", "answer": ""},
    },
}


def test_obryan_import_ids_fields_twins_and_flags(tmp_path, run_cli, workspace):
    f = write(tmp_path / "in" / "2030.json", json.dumps(OBRYAN_OK))
    run_cli("problems", "import", str(f))
    probs = ProblemStore(workspace / "problems" / "problems.jsonl").by_id()
    assert sorted(probs) == ["obryan-2030-fs-01", "obryan-2030-fs-02", "obryan-2030-js-01", "obryan-2030-js-04"]
    p = probs["obryan-2030-fs-02"]
    assert (p.year, p.section, p.number, p.answer) == (2030, "freshman_sophomore_test", 2, "9/2")
    # whitespace differences do not hide a twin; twins point at each other
    assert p.twins == ["obryan-2030-js-01"] and probs["obryan-2030-js-01"].twins == ["obryan-2030-fs-02"]
    assert probs["obryan-2030-js-04"].flags == ["missing_answer"] and not probs["obryan-2030-js-04"].usable
    stats = json.loads(run_cli("problems", "stats", "--json").output)
    assert stats["total"] == 4 and stats["by_year"] == {"2030": 4}
    assert stats["duplicates"] == 1 and stats["missing_answer"] == 1
    assert stats["by_section"] == {"freshman_sophomore_test": 2, "junior_senior_test": 2}


def test_reimport_is_idempotent(tmp_path, run_cli, workspace):
    f = write(tmp_path / "2030.json", json.dumps(OBRYAN_OK))
    run_cli("problems", "import", str(f))
    before = (workspace / "problems" / "problems.jsonl").read_bytes()
    out = json.loads(run_cli("problems", "import", str(f), "--json").output)
    assert out["added"] == 0 and out["unchanged"] == 4
    assert (workspace / "problems" / "problems.jsonl").read_bytes() == before


def test_same_file_twice_in_one_command_is_read_once(tmp_path, run_cli):
    f = write(tmp_path / "d" / "2030.json", json.dumps(OBRYAN_OK))
    out = json.loads(run_cli("problems", "import", str(f), str(tmp_path / "d"), "--json").output)
    assert out["imported"] == 4


def test_math500_and_generic_jsonl(tmp_path, run_cli, workspace):
    m = write(
        tmp_path / "math500.jsonl",
        json.dumps({"problem": "Compute $1+1$.", "solution": "It is $\\boxed{2}$.", "answer": "2", "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"})
        + "\n",
    )
    g = write(tmp_path / "mine.jsonl", json.dumps({"q": "What is 7*6?", "a": 42, "uid": "p-1", "yr": "2020"}) + "\n")
    run_cli("problems", "import", str(m))
    run_cli("problems", "import", str(g), "--format", "jsonl", "--field", "text=q", "--field", "answer=a", "--field", "id=uid", "--field", "year=yr")
    probs = ProblemStore(workspace / "problems" / "problems.jsonl").by_id()
    assert probs["math500-algebra-1"].level == 1 and probs["math500-algebra-1"].answer_latex == "2"
    assert probs["mine-p-1"].answer == "42" and probs["mine-p-1"].year == 2020


def test_sample_problems_cover_the_key_styles():
    probs = import_paths(sample_files(), source="sample")
    assert len(probs) == 24 and {p.year for p in probs} == {2001, 2002, 2003}
    answers = {p.answer for p in probs}
    for style in ("5/12", "2√13", "81π", "(7,4)", "3:5", "Tuesday", "No", "1/3 and -1", "123five"):
        assert style in answers
    assert sum(1 for p in probs if p.twins) == 0  # twins are linked on store, not on read


BAD_INPUTS = [
    # (file name, content, extra args, expected fragment of the one-line error)
    ("2030.json", '{"freshman_sophomore_test": {"question_1": {"question": "x", "ans', (), "2030.json: line 1 column"),
    ("2030.json", '[{"question": "x", "answer": "1"}]', (), "expected an object of sections"),
    ("2030.json", '{"fs": [{"question": "x", "answer": "1"}]}', (), "key 'fs': expected an object of questions"),
    ("2030.json", '{"fs": {"question_1": {"answer": "1"}}}', (), "key fs.question_1: missing field 'question'"),
    ("2030.json", '{"fs": {"q1": {"question": "x", "answer": "1"}}}', (), "key fs.q1: question keys must look like"),
    ("2030.json", '{"fs": {"question_1": {"question": "x", "answer": [1]}}}', (), "field 'answer' must be text"),
    ("2030.json", "{}", (), "no questions found"),
    ("problems.json", '{"fs": {}}', (), "cannot tell the format"),
    ("x.txt", "hello", (), "unknown file type '.txt'"),
    ("p.jsonl", '{"problem": "a", "answer": "1", "unique_id": "u"}\n{"problem": "b", "answer": "2", "unique_id": "v"\n', (), "p.jsonl: line 2: malformed JSON"),
    ("p.jsonl", '{"problem": "a", "answer": "1", "unique_id": "u"}\n[1, 2]\n', (), "line 2: expected a JSON object"),
    ("p.jsonl", "", (), "no problems found (empty file)"),
    ("p.jsonl", '{"text": "a"}\n', ("--format", "jsonl", "--field", "text=problem"), "line 1: missing field 'problem'"),
    ("p.jsonl", '{"text": "a"}\n', ("--format", "jsonl", "--field", "colour=red"), "unknown field 'colour'"),
    ("2030.json", '{"fs": {"question_1": {"question": "What is x?"}}}', (), "key fs.question_1: missing field 'answer'"),
    ("2030.json", '{"fs": {"question_1": {"question": "What is x?", "answer": "1"}}}', ("--format", "math500"),
     "--format math500 reads JSON lines, but this looks like an O'Bryan YEAR.json file"),
    ("p.jsonl", '{"query": "What is x?", "gold": "1"}\n', (), "no problem text field (looked for text, problem, question, prompt; this file has gold, query)"),
    ("p.jsonl", '{"text": "a"}\n', ("--format", "jsonl", "--field", "textproblem"), "expected OURS=THEIRS"),
]


@pytest.mark.parametrize("name,content,args,fragment", BAD_INPUTS, ids=[b[3][:30] for b in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, run_cli, workspace, name, content, args, fragment):
    good = write(tmp_path / "good" / "2031.json", json.dumps(OBRYAN_OK))
    bad = write(tmp_path / "bad" / name, content)
    # the good file comes first: a failure later must still leave the workspace untouched
    files = [str(bad)] if "--format" in args else [str(good), str(bad)]  # --format applies to every file named
    result = run_cli("problems", "import", *files, *args, ok=False)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert "Traceback" not in result.output
    assert not (workspace / "problems" / "problems.jsonl").exists()


def test_duplicate_year_file_is_an_error(tmp_path, run_cli):
    a = write(tmp_path / "a" / "2030.json", json.dumps(OBRYAN_OK))
    b = write(tmp_path / "b" / "2030.json", json.dumps(OBRYAN_OK))
    result = run_cli("problems", "import", str(a), str(b), ok=False)
    assert result.exit_code == 2 and "duplicate problem id obryan-2030-fs-01" in result.output


def test_missing_path_and_unknown_format(tmp_path, run_cli):
    r = run_cli("problems", "import", str(tmp_path / "nope.json"), ok=False)
    assert r.exit_code == 2 and "no such file or folder" in r.output
    r = run_cli("problems", "import", str(tmp_path), "--format", "csv", ok=False)
    assert r.exit_code == 2 and "csv" in r.output


def test_list_show_and_filters(tmp_path, run_cli):
    run_cli("problems", "import", *map(str, sample_files()), "--source", "sample")
    rows = [json.loads(line) for line in run_cli("problems", "list", "--year", "2002", "--section", "junior", "--json").output.splitlines()]
    assert [r["id"] for r in rows] == ["sample-2002-js-01", "sample-2002-js-02", "sample-2002-js-03"]
    shown = json.loads(run_cli("problems", "show", "sample-2001-js-03").output)
    assert shown["twins"] == ["sample-2001-fs-03"]
    r = run_cli("problems", "show", "nope", ok=False)
    assert r.exit_code == 2 and "no problem with id 'nope'" in r.output
    r = run_cli("problems", "list", "--year", "20x", ok=False)
    assert r.exit_code == 2


@pytest.mark.shared_data
def test_shared_obryan_and_math500(shared_data, run_cli):
    run_cli("problems", "import", str(shared_data / "obryan"))
    stats = json.loads(run_cli("problems", "stats", "--json").output)
    assert stats["total"] == 671 and len(stats["by_year"]) == 15
    # 2019 has 20 placeholder questions ("content not visible in provided pages"): flagged, not twins
    assert stats["by_year"]["2011"] == 37 and stats["placeholder_text"] == 20 and stats["duplicates"] == 14
    assert stats["usable"] == 651
    run_cli("problems", "import", str(shared_data / "math500.jsonl"))
    stats = json.loads(run_cli("problems", "stats", "--json").output)
    assert stats["by_source"] == {"math500": 500, "obryan": 671}


def test_placeholder_question_text_is_flagged_not_twinned(tmp_path, run_cli, workspace):
    data = {
        "fs": {"question_1": {"question": "Question 1 (content not visible in provided pages)", "answer": "7"},
               "question_2": {"question": "What is 3 + 4?", "answer": "7"}},
        "js": {"question_1": {"question": "Question 1 (content not visible in provided pages)", "answer": "12"}},
    }
    f = write(tmp_path / "2030.json", json.dumps(data))
    out = json.loads(run_cli("problems", "import", str(f), "--json").output)
    assert out["flagged_placeholder_text"] == 2
    probs = ProblemStore(workspace / "problems" / "problems.jsonl").by_id()
    assert probs["obryan-2030-fs-01"].flags == ["placeholder_text"] and not probs["obryan-2030-fs-01"].usable
    assert probs["obryan-2030-fs-01"].twins == [] and probs["obryan-2030-fs-02"].usable
    stats = json.loads(run_cli("problems", "stats", "--json").output)
    assert stats["placeholder_text"] == 2 and stats["duplicates"] == 0 and stats["usable"] == 1


def test_aime_and_amc_style_jsonl_is_detected_without_field_mapping(tmp_path, run_cli, workspace):
    f = write(tmp_path / "contest24.jsonl", json.dumps({"id": 7, "problem": "Find the number of ways.", "answer": "025", "url": "u"}) + "\n"
              + json.dumps({"id": 8, "problem": "Find the sum.", "answer": 27.0, "url": "u"}) + "\n")
    run_cli("problems", "import", str(f))
    probs = {p["id"]: p for p in map(json.loads, (workspace / "problems" / "problems.jsonl").read_text().splitlines())}
    assert probs["contest24-7"]["text"] == "Find the number of ways." and probs["contest24-7"]["answer"] == "025"
    assert probs["contest24-8"]["answer"] == "27"


def test_a_generic_file_keeps_the_fields_named_as_ours_without_a_mapping(tmp_path, run_cli, workspace):
    f = write(tmp_path / "mine.jsonl", json.dumps({"id": "a", "text": "What is 2 + 2?", "answer": "4", "year": "2019", "section": "js",
                                                   "number": 3, "level": "Level 2", "subject": "Algebra"}) + "\n")
    run_cli("problems", "import", str(f), "--source", "mine")
    p = json.loads((workspace / "problems" / "problems.jsonl").read_text().splitlines()[0])
    assert (p["year"], p["section"], p["number"], p["subject"]) == (2019, "js", 3, "Algebra")
    assert p["level"] is None  # `level` means a difficulty only when mapped (MATH writes "Level 2")
    assert run_cli("problems", "list", "--year", "2019").output.count("mine-a") == 1


def test_problems_list_shows_a_screenful_unless_asked_for_all(run_cli):
    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    short = run_cli("problems", "list", "--limit", "3").output
    assert "24 problems (first 3; --all shows every one)" in short
    assert "sample-2003" in run_cli("problems", "list", "--all").output
