"""The grader as tables of (key, response, expected), grouped by where the cases came from.

Keys in the O'Bryan tables are written in the same plain-text styles as the real answer sheets
(integers, fractions, √, π, pairs, ratios, words, base five); the problems are not copied.
"""

from __future__ import annotations

import pytest
from distill.grading.extract import extract_answer
from distill.grading.grader import grade

T, F, N = True, False, None

# Plain-text keys as printed on O'Bryan answer sheets, against typical model answers.
OBRYAN_STYLES = [
    ("17", r"The total is \boxed{17}.", T),
    ("17", "Final answer: 17", T),
    ("-1429", r"\boxed{-1429}", T),
    ("2/3", r"\boxed{\frac{2}{3}}", T),
    ("2/3", r"\boxed{\dfrac{2}{3}}", T),
    ("40/3", "So the answer is 40/3.", T),
    ("40/3", r"\boxed{13\frac{1}{3}}", T),
    ("40/3", "Final answer: 13 1/3", T),
    ("20√21", r"\boxed{20\sqrt{21}}", T),
    ("20√21", r"\boxed{\sqrt{8400}}", T),
    ("√130", r"\boxed{\sqrt{130}}", T),
    ("√130", "Answer: √130", T),
    ("2√13", r"\boxed{\sqrt{52}}", T),
    ("1 + 2√2", r"\boxed{2\sqrt{2}+1}", T),
    ("-6 + √6", r"\boxed{\sqrt{6}-6}", T),
    ("6 + 3√2 + 12√3", r"\boxed{12\sqrt3 + 3\sqrt2 + 6}", T),
    ("¾b√a", r"\boxed{\frac{3}{4}b\sqrt{a}}", T),
    ("¾b√a", r"\boxed{\frac{3b\sqrt{a}}{4}}", T),
    ("5π", r"\boxed{5\pi}", T),
    ("40π", r"\boxed{40 \pi}", T),
    ("π", r"\boxed{\pi}", T),
    ("81π", "The area is 81π square units, so the answer is 81π.", T),
    ("25π/2", r"\boxed{\frac{25\pi}{2}}", T),
    ("(8,23)", r"\boxed{(8, 23)}", T),
    ("(10, 9)", r"\boxed{(10,9)}", T),
    ("(-12,6)", r"\boxed{\left(-12, 6\right)}", T),
    ("(4, 3, 4)", r"\boxed{(4,3,4)}", T),
    ("(0,7)", "Final answer: (0, 7)", T),
    ("(7,4)", r"\boxed{x=7, y=4}", T),
    ("6:7", r"\boxed{6:7}", T),
    ("6:7", r"\boxed{6 : 7}", T),
    ("6:7", r"\boxed{\frac{6}{7}}", T),
    ("15:13:12", r"\boxed{15:13:12}", T),
    ("2:5", "The ratio is 2 to 5. Final answer: 2 to 5", T),
    ("13,680", r"\boxed{13680}", T),
    ("13,680", r"\boxed{13,680}", T),
    ("13,680", r"\boxed{13{,}680}", T),
    ("209/14,400", r"\boxed{\frac{209}{14400}}", T),
    ("{2,3,7,8}", r"\boxed{\{2, 3, 7, 8\}}", T),
    ("{2,3,7,8}", r"\boxed{8, 7, 3, 2}", T),
    ("1 and -1/3", r"\boxed{1, -\frac{1}{3}}", T),
    ("1 and -1/3", r"\boxed{-\frac13 \text{ and } 1}", T),
    ("1 and -1/3", "Final answer: x = 1 or x = -1/3", T),
    ("1/3 and -1", r"\boxed{x=-1, x=\frac{1}{3}}", T),
    ("-15/17 - 9/17 i", r"\boxed{-\frac{15}{17}-\frac{9}{17}i}", T),
    ("-15/17 - 9/17 i", r"\boxed{\frac{-15-9i}{17}}", T),
    ("17 - 8i", r"\boxed{17-8i}", T),
    ("i-1", r"\boxed{-1+i}", T),
    ("2x + 5y", r"\boxed{5y+2x}", T),
    ("mp/(m + pr)", r"\boxed{\frac{mp}{m+pr}}", T),
    ("mp/(m + pr)", r"\boxed{\frac{pm}{pr+m}}", T),
    ("k/(2w)", r"\boxed{\frac{k}{2w}}", T),
    ("x+3", r"\boxed{3+x}", T),
    ("e/(e-1)", r"\boxed{\frac{e}{e-1}}", T),
    ("2114five", r"\boxed{2114_5}", T),
    ("2114five", r"\boxed{2114_{5}}", T),
    ("2114five", "Final answer: 2114 (base 5)", T),
    ("2114five", r"\boxed{2114}", T),
    ("123five", "Answer: 123five", T),
    ("NEVER", r"\boxed{\text{NEVER}}", T),
    ("NEVER", "Final answer: never", T),
    ("INSIDE", r"\boxed{\text{Inside}}", T),
    ("Thursday", r"\boxed{\text{Thursday}}", T),
    ("Thursday", "The answer is Thursday.", T),
    ("No", r"\boxed{\text{No}}", T),
    ("No", "Final answer: NO", T),
    ("Lose 18", r"\boxed{\text{Lose } 18}", T),
    ("Lose 18", "Final answer: lose 18", T),
    ("D", r"\boxed{D}", T),
    ("D", r"\boxed{\text{(D)}}", T),
    ("D", "Answer: (D)", T),
    ("C", r"\boxed{\textbf{(C)}}", T),
    ("-4.8", r"\boxed{-4.8}", T),
    ("-4.8", r"\boxed{-\frac{24}{5}}", T),
    ("0", r"\boxed{0}", T),
    ("7/128", r"\boxed{\frac{7}{128}}", T),
    ("171/29", r"\boxed{\frac{171}{29}}", T),
    ("1640/9", r"\boxed{182\frac{2}{9}}", T),
    ("-24/25", r"\boxed{-0.96}", T),
    ("3/4", r"\boxed{0.75}", T),
    ("210", r"\boxed{210^\circ}", T),
    ("210", r"\boxed{210^{\circ}}", T),
    ("90", "Final answer: 90°", T),
    ("36", r"\boxed{36\%}", T),
    ("18.90", r"\boxed{\$18.90}", T),
    ("144", r"\boxed{144 \text{ square units}}", T),
    ("252", "252", T),
    ("1216", "**Final answer:** 1216", T),
    ("5/12", r"$\boxed{\frac{5}{12}}$", T),
    ("3", r"First \boxed{2} was wrong; corrected: \boxed{3}", T),
]

# MATH-500-style LaTeX keys against plain-text or differently written model answers.
MATH500_STYLES = [
    (r"\frac{14}{3}", "14/3", T),
    (r"\frac{14}{3}", r"\boxed{\dfrac{14}{3}}", T),
    (r"\frac 59", r"\boxed{5/9}", T),
    (r"\sqrt{51}", "√51", T),
    (r"\frac{\sqrt{21}}{5}", r"\boxed{\sqrt{21}/5}", T),
    (r"288 \pi", "288π", T),
    (r"6 - 5i", r"\boxed{6-5i}", T),
    (r"\text{Evelyn}", r"\boxed{\text{Evelyn}}", T),
    (r"\text{Evelyn}", "Final answer: Evelyn", T),
    (r"3 \pm 2 \sqrt{2}", r"\boxed{3+2\sqrt2, 3-2\sqrt2}", T),
    (r"3 \pm 2 \sqrt{2}", "3 - 2√2 and 3 + 2√2", T),
    (r"137 \frac{1}{2}", r"\boxed{137.5}", T),
    (r"137 \frac{1}{2}", r"\boxed{\frac{275}{2}}", T),
    (r"x^5 - x^4 + x^3 - x^2 + x - 1", r"\boxed{x^5-x^4+x^3-x^2+x-1}", T),
    (r"(0,9) \cup (9,36)", r"\boxed{(0,9)\cup(9,36)}", T),
    (r"(6,31,-1)", r"\boxed{(6, 31, -1)}", T),
    (r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}", r"\boxed{(1,-2)}", T),
    (r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}", r"\boxed{\begin{pmatrix}1\\-2\end{pmatrix}}", T),
    (r"(3, \frac{\pi}{2})", r"\boxed{\left(3,\frac{\pi}{2}\right)}", T),
    (r"[-2, 7]", r"\boxed{[-2,7]}", T),
    (r"(-\infty, 3]", r"\boxed{(-\infty,3]}", T),
    (r".35625", r"\boxed{0.35625}", T),
    (r"\$18.90", r"\boxed{18.90}", T),
    (r"\$18.90", "The total cost is $18.90.", T),
    (r"90^\circ", r"\boxed{90}", T),
    (r"x = 3", r"\boxed{3}", T),
    (r"3", r"\boxed{x=3}", T),
    (r"y = 2x + 3", r"\boxed{y=3+2x}", T),
    (r"p - q", r"\boxed{-q+p}", T),
    (r"\text{(C)}", r"\boxed{C}", T),
    (r"\text{(C)}", r"\boxed{\text{(C)}}", T),
    (r"1,-2", r"\boxed{-2, 1}", T),
    (r"10\%", r"\boxed{10}", T),
    (r"12.57", r"\boxed{4\pi}", T),
    (r"12.6", r"\boxed{12.57}", T),
    (r"2^{10}", r"\boxed{1024}", T),
    (r"\frac{1}{16}", r"\boxed{2^{-4}}", T),
    (r"\sqrt{2}", r"\boxed{\frac{2}{\sqrt{2}}}", T),
    (r"\frac{9}{256}", r"The answer is $\frac{9}{256}$.", T),
    (r"8000", r"\boxed{8{,}000}", T),
    (r"8000", r"\boxed{8,000}", T),
    (r"-\frac{1}{2}", r"\boxed{-0.5}", T),
    (r"\infty", r"\boxed{\infty}", T),
]

# Wrong answers that a sloppy checker would accept.
NEGATIVES = [
    ("17", r"\boxed{18}", F),
    ("17", r"\boxed{-17}", F),
    ("2/3", r"\boxed{\frac{3}{2}}", F),
    ("2/3", r"\boxed{0.67}", F),
    ("2/3", r"\boxed{0.6}", F),
    ("20√21", r"\boxed{21\sqrt{20}}", F),
    ("20√21", r"\boxed{20\sqrt{22}}", F),
    ("√130", r"\boxed{\sqrt{131}}", F),
    ("√130", r"\boxed{130}", F),
    ("2√13", r"\boxed{2\sqrt{3}}", F),
    ("1 + 2√2", r"\boxed{2+\sqrt{2}}", F),
    ("40π", r"\boxed{40}", F),
    ("40π", r"\boxed{125.66}", F),
    ("5π", r"\boxed{5}", F),
    ("(8,23)", r"\boxed{(23,8)}", F),
    ("(8,23)", r"\boxed{(8,24)}", F),
    ("(4, 3, 4)", r"\boxed{(4,4,3)}", F),
    ("(4, 3, 4)", r"\boxed{(4,3)}", F),
    ("6:7", r"\boxed{7:6}", F),
    ("6:7", r"\boxed{6:8}", F),
    ("15:13:12", r"\boxed{15:12:13}", F),
    ("13,680", r"\boxed{13.68}", F),
    ("13,680", r"\boxed{1368}", F),
    ("{2,3,7,8}", r"\boxed{\{2,3,7\}}", F),
    ("{2,3,7,8}", r"\boxed{\{2,3,7,9\}}", F),
    ("1 and -1/3", r"\boxed{1}", F),
    ("1 and -1/3", r"\boxed{-1, \frac13}", F),
    ("-15/17 - 9/17 i", r"\boxed{-\frac{15}{17}+\frac{9}{17}i}", F),
    ("i-1", r"\boxed{1-i}", F),
    ("2x + 5y", r"\boxed{5x+2y}", F),
    ("mp/(m + pr)", r"\boxed{\frac{mp}{m+p}}", F),
    ("k/(2w)", r"\boxed{\frac{2k}{w}}", F),
    ("2114five", r"\boxed{2114_6}", F),
    ("2114five", r"\boxed{2141_5}", F),
    ("NEVER", r"\boxed{\text{ALWAYS}}", F),
    ("Thursday", "The answer is Tuesday.", F),
    ("Thursday", r"\boxed{\text{yadsruhT}}", F),
    ("No", r"\boxed{\text{Yes}}", F),
    ("Lose 18", "Final answer: Win 18", F),
    ("Lose 18", "Final answer: Lose 19", F),
    ("D", r"\boxed{C}", F),
    ("D", "Answer: (B)", F),
    ("-4.8", r"\boxed{4.8}", F),
    ("-4.8", r"\boxed{-4.9}", F),
    ("3/4", r"\boxed{0.7}", F),
    ("210", r"\boxed{150^\circ}", F),
    ("36", r"\boxed{37\%}", F),
    ("0", r"\boxed{1}", F),
    ("x+3", r"\boxed{x-3}", F),
    ("e/(e-1)", r"\boxed{\frac{e-1}{e}}", F),
    (r"3 \pm 2 \sqrt{2}", r"\boxed{3+2\sqrt{2}}", F),
    (r"\frac{14}{3}", r"\boxed{4.67}", F),
    (r"12.57", r"\boxed{12.5}", F),
    (r"12.57", r"\boxed{4\pi + 1}", F),
    (r"[-2, 7]", r"\boxed{(-2,7)}", F),
    (r"\text{Evelyn}", r"\boxed{\text{Emily}}", F),
    (r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}", r"\boxed{(-2,1)}", F),
    (r"x^5 - x^4 + x^3 - x^2 + x - 1", r"\boxed{x^5+x^4+x^3+x^2+x+1}", F),
    (r"\sqrt{2}", r"\boxed{1.41}", F),
]

# Responses with nothing to grade, or nothing the rules can read: "could not decide".
UNDECIDED = [
    ("17", "", N),
    ("17", "I am not sure how to approach this problem.\nLet me think about it more.", N),
    ("17", r"\boxed{}", N),
    ("17", r"\boxed{" + "+".join(["x"] * 2000) + "}", N),
]


def _cases(table):
    return pytest.mark.parametrize("key,response,expected", table, ids=[f"{k}|{r[-28:]}" for k, r, _ in table])


@_cases(OBRYAN_STYLES)
def test_obryan_key_styles(key, response, expected):
    v = grade(key, response)
    assert v.correct is expected, v


@_cases(MATH500_STYLES)
def test_math500_latex_keys(key, response, expected):
    v = grade(key, response)
    assert v.correct is expected, v


@_cases(NEGATIVES)
def test_negatives(key, response, expected):
    v = grade(key, response)
    assert v.correct is expected, v


@_cases(UNDECIDED)
def test_undecided_is_not_wrong(key, response, expected):
    v = grade(key, response)
    assert v.correct is None and v.method in ("no_answer", "too_long", "unparseable"), v


EXTRACTION = [
    (r"so \boxed{\frac{1}{2}} hence", r"\frac{1}{2}", "boxed"),
    (r"\boxed{\{1,2\}}", r"\{1,2\}", "boxed"),
    (r"a \boxed{1} then \boxed{\sqrt{\frac{3}{4}}}", r"\sqrt{\frac{3}{4}}", "boxed"),
    ("Work...\nFinal answer: 42", "42", "final_answer"),
    ("Work...\n**Final Answer:** $x = 7$.", "x = 7", "final_answer"),
    ("Work...\nAnswer: Thursday", "Thursday", "answer_line"),
    ("Thus the answer is 12.5. Done", "12.5", "answer_is"),
    ("<think>maybe \\boxed{3}</think>The answer is 4.", "4", "answer_is"),
    ("42", "42", "bare"),
    ("", None, "none"),
]


@pytest.mark.parametrize("response,text,source", EXTRACTION)
def test_extraction(response, text, source):
    e = extract_answer(response)
    assert (e.text, e.source) == (text, source)


def test_verdict_carries_evidence():
    v = grade("20√21", r"\boxed{20\sqrt{21}}")
    assert v.correct and v.extracted == r"20\sqrt{21}" and v.source == "boxed"
    assert v.key_normalised == r"20\sqrt{21}" and v.method in ("exact_string", "math_verify")
    w = grade("(8,23)", r"\boxed{(23,8)}")
    assert w.correct is False and w.method == "tuple" and "23" in w.reason


from tests.grading_cases import PEER  # noqa: E402

PEER_ROWS = [(cat, g, p, e) for cat, table in PEER.items() for g, p, e in table]


@pytest.mark.parametrize("category,gold,reply,expected", PEER_ROWS, ids=[f"{c}:{g[:20]}|{p[-24:]}" for c, g, p, _ in PEER_ROWS])
def test_peer_style_cases(category, gold, reply, expected):
    v = grade(gold, reply)
    assert v.correct is expected, v


def _math_verify_alone(gold: str, reply: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(gold, parsing_timeout=None), parse(reply, parsing_timeout=None), timeout_seconds=None))


@pytest.mark.parametrize("category", sorted(PEER))
def test_never_below_math_verify_in_any_category(category):
    rows = PEER[category]
    ours = sum(grade(g, p).correct is e for g, p, e in rows)
    theirs = sum(_math_verify_alone(g, p) is e for g, p, e in rows)
    assert ours >= theirs, (category, ours, theirs)
    assert any(not e for _, _, e in rows) and any(e for _, _, e in rows), "every category has positives and negatives"


@pytest.mark.parametrize("gold,reply", [
    ("1,22", "1.22"),           # a comma before two digits is a decimal comma: the rules read the key as 1.22
    ("$0<f(x)<1$", "$(0,1)$"),  # a relation against the interval it describes
])
def test_rules_decide_what_math_verify_used_to_overturn(gold, reply):
    v = grade(gold, reply)
    assert v.correct is True and v.rule_correct is None, v


def test_rules_keep_their_no_where_math_verify_is_loose():
    # ratios: math-verify reads `15:12:13` as equal to `15:13:12`; exact decimals: its tolerance is too wide
    assert grade("15:13:12", r"\boxed{15:12:13}").correct is False
    assert grade("0.0000672", r"\boxed{0.0000673}").correct is False
