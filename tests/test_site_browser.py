"""The transcripts site in a real browser (Debian's chromium driven by Playwright), opened from disk.

CI installs chromium and sets REQUIRE_BROWSER_TEST=1, so there this test runs and never skips;
on a machine without chromium it skips with the command that installs it.
"""

from __future__ import annotations

import os
import shutil

import pytest


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_BROWSER_TEST") == "1":
            pytest.fail("chromium is required here: apt-get install -y chromium")
        pytest.skip("no chromium on this machine (apt-get install -y chromium); CI runs this test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def site(recorded_corpus, run_cli, tmp_path):
    run_cli("corpus", "levels", "--years", "2001-2002", "--levels", "R2,R6", "--quiet")  # the recorded teacher is still up
    out = tmp_path / "site"
    run_cli("transcripts", "html", "--out", str(out))
    return out


@pytest.mark.slow
def test_site_filters_renders_mathml_and_shows_every_round(site, browser, tmp_path):  # the site first: playwright holds a loop
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((site / "index.html").as_uri())
    assert page.locator("#problems tbody tr").count() == 16
    page.select_option("#year", "2001")
    assert page.locator("#problems tbody tr").count() == 8 and "8 of 16 problems" in page.inner_text("#count")
    page.screenshot(path=str(tmp_path / "index-2001.png"), full_page=True)
    page.click("text=sample-2001-fs-02")  # the beads problem: its solution holds \frac{5}{12}
    assert page.url.endswith("sample-2001-fs-02.html")
    assert page.locator("mfrac").count() > 0 and page.locator("math").first.is_visible()
    assert page.locator(".level").count() == 4  # R1, R2, R6 and the trace, side by side
    page.screenshot(path=str(tmp_path / "problem.png"), full_page=True)
    # \boxed{} is drawn: Chromium's MathML Core has no <menclose>, the site's CSS gives it a border
    box = page.locator('menclose[notation~="box"]').first
    assert box.evaluate("e => getComputedStyle(e).borderTopWidth") != "0px" and box.bounding_box()["width"] > 0
    page.goto((site / "p" / "sample-2002-js-02.html").as_uri())  # rejected after three rounds
    assert page.locator(".round").count() == 3 and "rejected" in page.inner_text("body")
    status = page.locator(".meta tr", has_text="status")
    assert "`" not in status.inner_text() and status.locator("code").count() >= 1  # the extracted answer as code, not raw backticks
    page.goto((site / "index.html").as_uri() + "#year=2003")  # a year with no transcripts: none shown, not all
    assert page.locator("#problems tbody tr").count() == 0 and "0 of 16 problems" in page.inner_text("#count")
    assert (tmp_path / "index-2001.png").stat().st_size > 10_000 and (tmp_path / "problem.png").stat().st_size > 10_000


@pytest.mark.slow
def test_no_payload_runs_on_any_page_in_chromium(browser, tmp_path):
    """Issue 41: every payload of tests/payloads.py, as a problem, a reply, a thought and a solution, on a page of the
    site opened from disk: the title stays, the DOM holds no event handler or javascript: URL, and the index's own
    script still runs under the page's Content-Security-Policy."""
    from distill.corpus.transcripts import Transcript, TranscriptMessage, TranscriptStore
    from distill.problems.schema import Problem
    from distill.viewer.site import build_site

    from .payloads import HTML_PAYLOADS

    store = TranscriptStore(tmp_path / "store")
    problems = []
    for i, (cls, text) in enumerate(HTML_PAYLOADS):
        p = Problem(id=f"pay-{i:02d}", source="pay", year=2001, text=text, answer="1")
        problems.append(p)
        store.put(Transcript(problem_id=p.id, source="pay", year=2001, status="accepted", key="1", fingerprint="f", started_at="now",
                             solution=f"Step 1: {text}\nFinal answer: \\boxed{{1}}", final_answer="1",
                             messages=[TranscriptMessage(source="user", type="TextMessage", content=text),
                                       TranscriptMessage(source="solver", type="TextMessage", content=text + "\n\\boxed{1}", thought=text)]))
    out = tmp_path / "site"
    build_site(problems, store, out, jobs=1)
    page = browser.new_page()
    hits = []
    page.on("dialog", lambda d: (hits.append(d.message), d.dismiss()))
    page.goto((out / "index.html").as_uri())
    assert page.locator("#problems tbody tr").count() == len(HTML_PAYLOADS)  # index.js ran under the CSP
    for i, (cls, _) in enumerate(HTML_PAYLOADS):
        page.goto((out / "p" / f"pay-{i:02d}.html").as_uri())
        page.wait_for_timeout(300)
        assert page.title() == f"pay-{i:02d}", cls
        bad = page.evaluate("""() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
            .filter(a => a.name.startsWith('on') || /^\\s*(javascript|data|vbscript):/i.test(a.value))
            .map(a => e.tagName + '[' + a.name + ']'))""")
        assert bad == [], (cls, bad)
        assert page.locator("script, iframe, foreignObject, style").count() == 0, cls
    assert hits == []


@pytest.mark.slow
def test_the_csp_stops_an_inline_handler_that_slipped_through(browser, tmp_path):
    from distill.viewer.site_pages import PAGE

    (tmp_path / "style.css").write_text("")
    page_file = tmp_path / "slipped.html"
    page_file.write_text(PAGE.format(title="kept", root="", body="<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"))
    page = browser.new_page()
    page.goto(page_file.as_uri())
    page.wait_for_timeout(300)
    assert page.title() == "kept"
