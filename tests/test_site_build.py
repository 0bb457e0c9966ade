"""`transcripts html`: the same pages on one core or several, and an unchanged page is not rebuilt."""

from __future__ import annotations

import json


def pages(folder):
    return {p.name: p.read_bytes() for p in sorted((folder / "p").glob("*.html"))}


def test_pages_are_the_same_on_one_core_or_two_and_only_changed_ones_are_rebuilt(recorded_corpus, run_cli, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert "16 problem pages (16 built, 0 unchanged)" in run_cli("transcripts", "html", "--out", str(one), "--jobs", "1").output
    run_cli("transcripts", "html", "--out", str(two), "--jobs", "2")
    assert pages(one) == pages(two) and len(pages(one)) == 16
    assert (one / "index.html").read_bytes() == (two / "index.html").read_bytes()
    assert "(0 built, 16 unchanged)" in run_cli("transcripts", "html", "--out", str(one)).output
    assert (one / "index.html").read_bytes() == (two / "index.html").read_bytes()  # index rows kept from the manifest read alike
    # a new level text changes one page; a deleted page is built again; nothing else is touched
    from distill.corpus.transcripts import LevelText, TranscriptStore

    store = TranscriptStore(recorded_corpus / "transcripts")
    store.put_level(LevelText(problem_id="sample-2001-fs-01", level="R6", text="Add: $2+3=5$. Final answer: \\boxed{5}", words=5, ok=True,
                              fingerprint="test"))
    (one / "p" / "sample-2002-fs-01.html").unlink()
    before = {name: (one / "p" / name).stat().st_mtime_ns for name in pages(one) if name != "sample-2002-fs-01.html"}
    assert "(2 built, 14 unchanged)" in run_cli("transcripts", "html", "--out", str(one)).output
    after = {name: (one / "p" / name).stat().st_mtime_ns for name in before}
    assert [n for n in before if before[n] != after[n]] == ["sample-2001-fs-01.html"]
    assert "R6 · 5 words" in (one / "p" / "sample-2001-fs-01.html").read_text()
    head, *entries = [json.loads(x) for x in (one / "pages.jsonl").read_text().splitlines()]
    assert head["schema_version"] == 3 and [e["file"] for e in entries] == list(pages(one))  # index order
    assert all(json.loads(e["row"])["file"] == e["file"] for e in entries)
    (one / "pages.jsonl").write_text("{torn")  # the manifest is a cache: a torn one rebuilds every page, no error
    assert "(16 built, 0 unchanged)" in run_cli("transcripts", "html", "--out", str(one)).output


def test_transcripts_list_pages_with_offset_and_limit_in_id_order(recorded_corpus, run_cli, tmp_path):
    everything = [json.loads(x) for x in run_cli("transcripts", "list", "--json").stdout.splitlines()]
    ids = [(r["problem_id"], r["sample"]) for r in everything]
    assert len(ids) == 16 and ids == sorted(ids)
    page = [json.loads(x) for x in run_cli("transcripts", "list", "--json", "--offset", "5", "--limit", "4").stdout.splitlines()]
    assert page == everything[5:9]
    accepted = [json.loads(x) for x in run_cli("transcripts", "list", "--json", "--status", "accepted", "--limit", "3").stdout.splitlines()]
    assert accepted == [r for r in everything if r["status"] == "accepted"][:3]
    assert "4 transcripts from #6 (--offset/--limit page further)" in run_cli("transcripts", "list", "--offset", "5", "--limit", "4").output
    n = run_cli("transcripts", "export", "--out", str(tmp_path / "all.jsonl")).output
    assert "wrote 16 transcripts" in n and len((tmp_path / "all.jsonl").read_text().splitlines()) == 16


def test_the_trace_card_reuses_the_rounds_html_and_shows_its_tags_as_text(monkeypatch):
    from distill.viewer import site_pages
    from distill.viewer.mathhtml import render
    from distill.corpus.samples import ProblemSamples
    from distill.corpus.transcripts import Transcript, TranscriptMessage
    from distill.problems.schema import Problem

    thought, solution = "Let $x^2 = 9$.\n\n```\nunclosed fence", "So $x = 3$.\n\nFinal answer: \\boxed{3}"
    t = Transcript(problem_id="t-1", source="t", status="accepted", key="3", solution=solution, final_answer="3", fingerprint="f",
                   started_at="now", messages=[TranscriptMessage(source="user", type="TextMessage", content="Find $x > 0$."),
                                               TranscriptMessage(source="solver", type="TextMessage", content="$x=3$", thought=thought)])
    seen: list[str] = []
    monkeypatch.setattr(site_pages, "_render", lambda text: seen.append(text) or render(text))
    page = site_pages.problem_page(Problem(id="t-1", source="t", text="Find $x > 0$.", answer="3"), t, {}, ProblemSamples("t-1", 1, 1, (t,), (t,)))
    assert sorted(seen) == sorted({*seen}) and thought in seen and solution in seen  # each text rendered once
    trace = page.split('data-level="trace"')[1]
    assert "<p>&lt;think&gt;</p>\n" + render(thought) + "<p>&lt;/think&gt;</p>\n" + render(solution) in trace
    assert trace.count("<mn>3</mn>") >= 1  # the solution after an unclosed fence in the reasoning is still mathematics


def test_pages_are_flushed_once_before_the_manifest_that_vouches_for_them(tmp_path, monkeypatch):
    from distill.viewer import site
    from distill.corpus.transcripts import Transcript, TranscriptStore
    from distill.problems.schema import Problem

    store = TranscriptStore(tmp_path / "store")
    problems = [Problem(id=f"t-{i}", source="t", text=f"Add $1+{i}$.", answer=str(i + 1)) for i in range(3)]
    for p in problems:
        store.put(Transcript(problem_id=p.id, source="t", status="accepted", key=p.answer, solution=f"\\boxed{{{p.answer}}}",
                             fingerprint="f", started_at="now"))
    out, syncs = tmp_path / "site", []
    monkeypatch.setattr(site.os, "sync", lambda: syncs.append((sorted(f.name for f in (out / "p").iterdir()), (out / "pages.jsonl").exists())))
    assert site.build_site(problems, store, out, jobs=1)["rendered"] == 3
    assert syncs == [(["t-0.html", "t-1.html", "t-2.html"], False)]  # every page there, the manifest not yet
    assert site.build_site(problems, store, out, jobs=1)["rendered"] == 0 and len(syncs) == 1  # nothing new: nothing to flush
