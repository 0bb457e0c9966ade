"""The terminal viewer prints transcript text verbatim: LaTeX brackets and tag-like text survive."""

from __future__ import annotations

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
