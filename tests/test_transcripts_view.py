"""The terminal viewer prints transcript text verbatim: LaTeX brackets and tag-like text survive."""

from __future__ import annotations

import pytest

from distill.corpus.transcripts import Transcript, TranscriptMessage, TranscriptStore

TRICKY = r"So \[ m = \frac{1}{7} \] and [x] stays, as does [/b] and [bold]this[/bold]; \boxed{\frac{1}{7}}"


def test_show_prints_latex_and_bracket_text_verbatim(run_cli, workspace):
    store = TranscriptStore(workspace / "transcripts")
    store.put(Transcript(problem_id="p-1", source="t", status="accepted", key=r"1/7 [exact]", solution="Step 1: x\nFinal answer: \\boxed{1}",
                         messages=[TranscriptMessage(source="solver", type="TextMessage", content=TRICKY, thought=r"think \[ a \] [i]")],
                         fingerprint="f", started_at="2026-01-01T00:00:00+00:00"))
    out = run_cli("transcripts", "show", "p-1", "--thoughts").output
    flat = " ".join(out.replace("│", " ").split())
    for fragment in (r"\[ m = \frac{1}{7} \]", "[x]", "[/b]", "[bold]this[/bold]", r"think \[ a \] [i]", "1/7 [exact]"):
        assert fragment in flat, fragment


@pytest.mark.slow
def test_corpus_status_fits_80_columns(run_cli, workspace, monkeypatch):
    """Every cell readable in an 80-column terminal: nothing cut to `…`."""
    from distill.demo.loopback import LoopbackServer
    from distill.demo.recorded_teacher import recorded_teacher, role_settings
    from distill.demo.samples import sample_files

    run_cli("problems", "import", "--source", "sample", *map(str, sample_files()))
    with LoopbackServer(recorded_teacher) as srv:
        for role, values in role_settings(srv.base_url).items():
            for k, v in values.items():
                monkeypatch.setenv(f"DISTILL_{role.upper()}__{k.upper()}", v)
        monkeypatch.setenv("DISTILL_SOLVER__PRICE_INPUT", "0.55")
        monkeypatch.setenv("DISTILL_SOLVER__PRICE_OUTPUT", "2.19")
        monkeypatch.setenv("DISTILL_VERIFIER__PRICE_INPUT", "0.27")
        monkeypatch.setenv("DISTILL_VERIFIER__PRICE_OUTPUT", "1.10")
        run_cli("corpus", "run", "--year", "2001", "--quiet")
    out = run_cli("corpus", "status", env={"COLUMNS": "80"}).output
    assert "…" not in out and "sample:2001" in out and "sample:2003" in out
    assert max(len(line) for line in out.splitlines()) <= 80
