"""Grading cases by class (issue: grading on any benchmark). Each row: (key, reply, expected verdict).

Expected None means "could not decide": the evaluation agent is asked. Written for this project in
the shapes seen in MATH-500 gold answers, in R1 and chat-model replies, and in other evaluators'
answer formats; every class has negatives.
"""

LATEX_GOLD = [
    (r"10,\!080", r"\boxed{10080}", True),
    (r"10,\!080", r"\boxed{10,080}", True),
    (r"11,\! 111,\! 100", r"\boxed{11111100}", True),
    (r"\$32,\!348", r"\boxed{32348}", True),
    (r"\$32,\!348", r"\boxed{\$32,348}", True),
    (r"864 \mbox{ inches}^2", r"\boxed{864}", True),
    (r"864 \mbox{ inches}^2", r"\boxed{864 \text{ square inches}}", True),
    (r"20\text{ cm}^2", r"The area is \boxed{20}.", True),
    (r"\$1.50", r"\boxed{1.50}", True),
    (r"\text{(C)}", r"\boxed{C}", True),
    (r"\text{(C)}", r"\boxed{(C)}", True),
    (r"\frac{14}{3}", r"\boxed{14/3}", True),
    (r"5\sqrt{2}", r"\boxed{\sqrt{50}}", True),
    (r"\dfrac{9}{7}", r"\boxed{\frac{9}{7}}", True),
    (r"90^\circ", r"\boxed{90}", True),
    (r"10,\!080", r"\boxed{10008}", False),
    (r"\$32,\!348", r"\boxed{32384}", False),
    (r"864 \mbox{ inches}^2", r"\boxed{846}", False),
    (r"20\text{ cm}^2", r"\boxed{40}", False),
    (r"\text{(C)}", r"\boxed{D}", False),
    (r"\frac{14}{3}", r"\boxed{3/14}", False),
    (r"5\sqrt{2}", r"\boxed{2\sqrt{5}}", False),
]

PLAIN_FUNCTIONS = [
    (r"\pi", r"\boxed{pi}", True),
    (r"-\frac{\pi}{6}", r"\boxed{-pi/6}", True),
    (r"\cot x", r"\boxed{cot x}", True),
    (r"2\pi", r"\boxed{2 pi}", True),
    (r"\sqrt{3}", r"\boxed{sqrt(3)}", True),
    (r"\frac{\sqrt{2}}{2}", r"\boxed{sqrt(2)/2}", True),
    (r"(-\infty,1)\cup(2,\infty)", r"\boxed{(-\infty,1) U (2,\infty)}", True),
    (r"\sin x", r"\boxed{sin(x)}", True),
    (r"\frac{\pi}{3}", r"\boxed{pi/4}", False),
    (r"\sqrt{3}", r"\boxed{sqrt(2)}", False),
    (r"\cot x", r"\boxed{tan x}", False),
    (r"-\frac{\pi}{6}", r"\boxed{pi/6}", False),
    (r"(-\infty,1)\cup(2,\infty)", r"\boxed{(-\infty,1) U (3,\infty)}", False),
]

RELATIONS = [
    (r"y = 2x+3", r"\boxed{y = 2x+3}", True),
    (r"x \geq 5", r"\boxed{x >= 5}", True),
    (r"x \ge 5", r"\boxed{x \geq 5}", True),
    (r"x < 3", r"\boxed{x \lt 3}", True),
    (r"x > -1", r"\boxed{x \gt -1}", True),
    (r"x \leq 4", r"\boxed{x <= 4}", True),
    (r"x \neq 2", r"\boxed{x != 2}", True),
    (r"2x - y + 3z = 4", r"\boxed{4x - 2y + 6z = 8}", True),
    (r"2x+3y=6", r"\boxed{y = 2 - \frac{2}{3}x}", True),
    (r"x \geq 5", r"\boxed{x \leq 5}", False),
    (r"x > 3", r"\boxed{x < 3}", False),
    (r"2x+3y=6", r"\boxed{y = 2 + \frac{2}{3}x}", False),
    (r"y = 2x+3", r"\boxed{y = 2x-3}", False),
    (r"2x - y + 3z = 4", r"\boxed{2x - y + 3z = 5}", False),
]

MATRICES = [
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\boxed{\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}}", True),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\boxed{\left[\begin{array}{c} 1 \\ 2 \end{array}\right]}", True),
    (r"\begin{pmatrix} -1 \\ 2 \\ 5 \end{pmatrix}", r"\boxed{(-1, 2, 5)}", True),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\boxed{[[1, 2], [3, 4]]}", True),
    (r"\begin{pmatrix} \frac{1}{2} \\ 3 \end{pmatrix}", r"\boxed{\begin{pmatrix} 0.5 \\ 3 \end{pmatrix}}", True),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\boxed{\begin{pmatrix} 1 & 2 \\ 3 & 5 \end{pmatrix}}", False),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\boxed{\left[\begin{array}{c} 2 \\ 1 \end{array}\right]}", False),
    (r"\begin{pmatrix} -1 \\ 2 \\ 5 \end{pmatrix}", r"\boxed{(-1, 2)}", False),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\boxed{[[1, 3], [2, 4]]}", False),
]

SEVERAL_ANSWERS = [
    (r"1, 2, 3", r"\boxed{1}, \boxed{2}, \boxed{3}", True),
    (r"1, 2, 3", r"\boxed{3}, \boxed{1}, \boxed{2}", True),
    (r"(2,2), (6,2)", r"\boxed{(2,2)} \text{ and } \boxed{(6,2)}", True),
    (r"(5,2),(7,2)", "Final answer: p=5, q=2; p=7, q=2", True),
    (r"11:21", r"\boxed{V_1:V_2 = 11:21}", True),
    (r"-2, 5", r"The roots are $\boxed{-2}$ and $\boxed{5}$.", True),
    (r"1, 2, 3", r"\boxed{1}, \boxed{2}", False),
    (r"(2,2), (6,2)", r"\boxed{(2,2)}", False),
    (r"(5,2),(7,2)", "Final answer: p=5, q=2; p=7, q=3", False),
    (r"11:21", r"\boxed{V_1:V_2 = 21:11}", False),
    (r"-2, 5", r"The roots are $\boxed{-2}$ and $\boxed{4}$.", False),
]

UNBOXED = [
    ("1 and -1/3", "x = -1/3 or x = 1", True),
    ("1 and -1/3", "The solutions are x = 1 and x = -1/3.", True),
    ("12", "12", True),
    ("12", "The answer is 12.", True),
    ("12", "The total is 12.", True),
    ("1 and -1/3", "The solutions are x = 1 and x = -1/2.", False),  # unsure for the rules; math-verify reads both sides
    ("1 and -1/3", "x = 1", False),
    ("12", "13", False),
    ("12", "The total is 13.", False),  # the rules are unsure of a sentence; math-verify reads 13
    ("12", "I think it is probably thirteen.", None),
]

CONVENTIONS = [
    ("5", "Final Answer: The final answer is 5. I hope it is correct.", True),
    ("5", "Final Answer: The final answer is $5$. I hope it is correct.", True),
    (r"\frac{1}{2}", "The answer is: 1/2", True),
    (r"\text{(D) Alina}", r"\boxed{D}", True),
    (r"\text{(D) Alina}", r"\boxed{\text{Alina}}", True),
    ("17", "\\boxed{17}<|im_end|>\n<|im_start|>user\nWhat is 3+4?<|im_end|>\n<|im_start|>assistant\n\\boxed{7}", True),
    ("17", "\\boxed{17}<|endoftext|>\\boxed{18}", True),
    (r"\frac{1}{\sqrt{3}}", r"\boxed{\frac{\sqrt{3}}{3} \approx 0.577}", True),
    ("11", r"\boxed{x \approx 11}", True),
    ("5", "Final Answer: The final answer is 6. I hope it is correct.", False),
    (r"\frac{1}{2}", "The answer is: 1/3", False),
    (r"\text{(D) Alina}", r"\boxed{B}", False),
    ("17", "\\boxed{18}<|im_end|>\n<|im_start|>user\nWhat is 10+7?<|im_end|>\n<|im_start|>assistant\n\\boxed{17}", False),
    (r"\frac{1}{\sqrt{3}}", r"\boxed{\frac{\sqrt{2}}{3} \approx 0.471}", False),
]

OVERCONFIDENT = [
    ("17", r"\boxed{17 + c}", False),
    ("17", r"\boxed{17 + C}", False),
    (r"81\pi", r"\boxed{81 pi units squared}", True),
    ("81π", r"\boxed{81 pi square units}", True),
    ("81π", r"\boxed{81\pi \text{ units}^2}", True),
    ("12", r"\boxed{12 \text{ marbles}}", True),
    ("81π", r"\boxed{80 pi units squared}", False),
    ("12", "We cannot know the count without more data.", None),
    ("12", "The count cannot be determined from the given information.", None),
]

THINKING = [
    ("5", "<think>the answer is \\boxed{4}</think>\nSo \\boxed{5}", True),
    ("5", "<think>\nLet me compute: 2+3=5.\n</think>\n\nFinal answer: \\boxed{5}", True),
    ("5", "reasoning without an opening tag</think>The answer is \\boxed{5}.", True),
    ("5", "<think>the answer is \\boxed{5}</think>\nSo \\boxed{4}", False),
    ("5", "<think>the answer is \\boxed{5} hmm still thinking", None),
    ("5", "<think>5 5 5 \\boxed{5} Final answer: 5", None),
    ("5", "<think>all the thinking</think>", None),
]

# Multiple-choice contests (AMC-style) keyed by value, repeating decimals, and numbers written as words.
CHOICE_VALUES_AND_WORDS = [
    ("12", r"\boxed{(E)\ 12}", True),
    ("12", r"\boxed{\textbf{(E) }12}", True),
    ("12", r"\boxed{(E)}", False),  # a letter alone cannot be checked against a value
    ("12", r"\boxed{(D) 10}", False),
    (r"0.\overline{3}", r"\boxed{\frac{1}{3}}", True),
    ("1/3", r"\boxed{0.\overline{3}}", True),
    (r"1.2\overline{45}", r"\boxed{\frac{137}{110}}", True),
    (r"0.\overline{3}", r"\boxed{0.3}", False),
    ("6", r"\boxed{\text{six}}", True),
    ("six", r"\boxed{6}", True),
    ("24", "There are twenty-four ways.\nFinal answer: twenty-four", True),
    ("24", r"\boxed{twenty-five}", False),
    ("none", r"\boxed{\text{none}}", True),  # still a word key, not a number
]

# Interval keys (MATH-500 style) answered as inequalities, and the other way round; percentages as decimals.
INTERVALS_AND_PERCENTS = [
    (r"(-\infty, 2]", r"\boxed{x \le 2}", True),
    (r"(-\infty, 2]", r"\boxed{x < 2}", False),
    (r"(-\infty, 2)", r"\boxed{x < 2}", True),
    (r"[-1, 3)", r"\boxed{-1 \le x < 3}", True),
    (r"(0, \infty)", r"\boxed{t > 0}", True),
    (r"x \ge 0", r"\boxed{[0, \infty)}", True),
    (r"x > 0", r"\boxed{[0, \infty)}", False),
    (r"(-\infty,1)\cup(3,\infty)", r"\boxed{x < 1 \text{ or } x > 3}", True),
    (r"(-\infty,1]\cup[3,\infty)", r"\boxed{x \le 1 \lor x \ge 3}", True),
    (r"(-\infty,1)\cup(3,\infty)", r"\boxed{x < 1 \text{ or } x > 2}", False),
    ("x < 1 or x > 3", r"\boxed{(-\infty,1)\cup(3,\infty)}", True),
    ("x < 1 or x > 3", r"\boxed{(-\infty,1)}", False),
    (r"(-\infty, 2)", r"\boxed{(-\infty, 3)}", False),
    (r"50\%", r"\boxed{0.5}", True),
    ("0.5", r"\boxed{50\%}", True),
    (r"50\%", r"\boxed{0.6}", False),
    (r"12.5\%", r"\boxed{\frac{1}{8}}", True),
]

# Notation that names the same answer differently.
OTHER_NOTATION = [
    (r"\emptyset", r"\boxed{\varnothing}", True),
    (r"\text{no solution}", r"\boxed{\text{No solutions}}", True),
    ("Tuesday", r"\boxed{\text{Tuesdays}}", True),
    (r"\text{class}", r"\boxed{\text{clas}}", False),
    ("3", r"\boxed{3 \pmod{7}}", True),
    ("3", r"\boxed{3 \ (\mathrm{mod}\ 7)}", True),
    ("3", "so n is 3 (mod 7).\nFinal answer: 3 (mod 7)", True),
    ("4", r"\boxed{3 \pmod{7}}", False),
]

# Shapes from issue #24: plain answers the rules used to abstain on, and keys they misread.
PLAIN_SHAPES = [
    ("42", "We add them up.\nAnswer: $42$", True),
    ("42", "We add them up.\n**Answer:** \\(42\\)", True),
    ("42", "Answer: \\[42\\]", True),
    ("42", "So the final answer is 42.<|im_end|>", True),
    ("42", "Therefore, the answer is 42.</s>", True),
    ("13680", "The total is $13{,}680$.", True),
    ("13680", "The answer is \\(13,680\\).", True),
    ("X:Y=6:7", "\\boxed{6:7}", True),
    ("A:B = 3:5", "The ratio is \\boxed{3:5}", True),
    ("12\\text{ (inches)}", "The answer is \\boxed{12}", True),
    ("42", "We add them up.\nAnswer: $43$", False),
    ("42", "So the final answer is 24.<|im_end|>", False),
    ("13680", "The total is $13{,}860$.", False),
    ("X:Y=6:7", "\\boxed{7:6}", False),
    ("12\\text{ (inches)}", "The answer is \\boxed{13}", False),
    ("42", "Answer: $42$ or $43$", False),  # a hedge: never the first number; math-verify reads the last
    ("42", "<think>it is 42, surely", None),  # thinking never closed: no answer
]

CLASSES = {
    "latex_gold": LATEX_GOLD, "plain_functions": PLAIN_FUNCTIONS, "relations": RELATIONS, "matrices": MATRICES,
    "several_answers": SEVERAL_ANSWERS, "unboxed": UNBOXED, "conventions": CONVENTIONS, "overconfident": OVERCONFIDENT,
    "thinking": THINKING, "choice_values_and_words": CHOICE_VALUES_AND_WORDS, "intervals_and_percents": INTERVALS_AND_PERCENTS,
    "other_notation": OTHER_NOTATION, "plain_shapes": PLAIN_SHAPES,
}

# Peer-style cases: the shapes other graders' own test suites exercise (Math-Verify's and lighteval's
# descriptions of what they accept), in this project's wording and values. Gold first, as they take it:
# a LaTeX key in `$..$`, a plain key, or a whole reference solution with its boxed answer.
PEER = {
    "tuples": [
        (r"$(4, -1)$", r"So the point is $\boxed{(4,-1)}$.", True),
        (r"$(4, -1)$", r"Therefore $(x, y) = (4, -1)$.", True),
        (r"$(2, \frac{\pi}{3})$", r"In polar form the point is $\boxed{\left(2, \frac{\pi}{3}\right)}$.", True),
        (r"$(0.5, 3)$", r"$\boxed{(\frac{1}{2}, 3)}$", True),
        (r"$(3,7,-2)$", r"Solving the system gives $(a,b,c)=\boxed{(3,7,-2)}$.", True),
        (r"$\left(\frac{2}{7},\frac{5}{7}\right)$", r"Thus $(s,t) = \boxed{\left( \frac{2}{7}, \frac{5}{7} \right)}.$", True),
        ("(6, 1)", "The ordered pair is (6, 1).", True),
        (r"$-3, 5$", r"The integer roots are $\boxed{-3, 5}$.", True),
        (r"$(4, -1)$", r"$\boxed{(-1, 4)}$", False),
        (r"$(3,7,-2)$", r"$\boxed{(3,7,2)}$", False),
        (r"$(2, \frac{\pi}{3})$", r"$\boxed{(2, \frac{\pi}{6})}$", False),
        ("(6, 1)", "The ordered pair is (6, 2).", False),
    ],
    "long_text": [
        ("$15$", "Each box holds 3 rows of 5, so the box has 3 * 5 = 15 pens. Therefore there are 15 pens in a box.", True),
        ("$7$", "Working backwards from the last step, the remainder is 7. <|im_start|>user\nNext question", True),
        ("$2/5$", "The chance of two reds is (2/3) * (3/5), and multiplying gives P = 2/5. So the probability is 2/5.", True),
        ("$36$", "We count the tiles row by row.\n\nFinal Answer: The floor needs 36 tiles. I hope it is correct.", True),
        ("$(3, 4)$", "Substituting back gives y = 4, so the solution of the system is the pair $(3, 4)$. <|im_end|>", True),
        ("$1450.75$", "Adding the deposits, the account holds 1,450.75 dollars after a year.", True),
        (r"The perimeter is $4 \cdot 9 = \boxed{36}$ centimetres, since all four sides are equal.",
         r"Each side is 9 cm, so the perimeter is $\boxed{36}$.", True),
        # no anchor, numbered bold steps (math-verify alone reads the step number): the closing sentence states it
        ("24", "我们一步一步地来解决这个问题。 1. **每盒的数量**：每个盒子里有6支铅笔。 2. **盒子的数量**：桌子上一共有4个盒子，"
               "所以要把6乘以4。 3. **结论**：小红一共有24支铅笔。", True),
        ("26", "我们一步一步地来解决这个问题。 1. **每盒的数量**：每个盒子里有6支铅笔。 2. **盒子的数量**：桌子上一共有4个盒子，"
               "所以要把6乘以4。 3. **结论**：小红一共有24支铅笔。", False),
        ("$15$", "Each box holds 3 rows of 4, so there are 12 pens in a box.", False),
        ("$2/5$", "Multiplying the two chances gives P = 3/10. So the probability is 3/10.", False),
        ("$36$", "We count the tiles row by row.\n\nFinal Answer: The floor needs 32 tiles. I hope it is correct.", False),
        (r"The perimeter is $4 \cdot 9 = \boxed{36}$ centimetres.", r"So the perimeter is $\boxed{27}$.", False),
    ],
    "relations": [
        ("$x = 4$", r"$\boxed{4}$", True),
        ("$4$", r"Solving, $x = 4$.", True),
        ("$k = -2$", r"$\boxed{k=-2}$", True),
        ("$x > 2$", r"Hence $x \gt 2$.", True),
        (r"$x \le -1$", r"So $-1 \geq x$.", True),
        (r"$y \geq 3$", r"We conclude $y >= 3$.", True),
        (r"$x \neq 0$", r"Therefore $x != 0$.", True),
        ("$3x + 6y = 12$", r"$\boxed{x + 2y = 4}$", True),
        (r"$(-2, 5]$", r"$\boxed{-2 < x \le 5}$", True),
        (r"$t = 5$", r"$t = 2 + 3 = 5$", True),
        (r"$y \in [-3, 4]$", r"The range is $-3 \le y \le 4$.", True),  # membership against the inequality it states
        (r"$y \in (1, 2) \cup (5, 6)$", r"$1 < y < 2$ or $5 < y < 6$, i.e. $\boxed{1<y<2 \text{ or } 5<y<6}$", True),
        ("$x = 4$", r"$\boxed{-4}$", False),
        (r"$y \in [-3, 4]$", r"The range is $-3 \le y < 4$.", False),
        ("$x > 2$", r"Hence $x < 2$.", False),
        (r"$x \le -1$", r"So $x \geq -1$.", False),
        ("$3x + 6y = 12$", r"$\boxed{x + 2y = 6}$", False),
        ("$2a + b = 7$", "$7$", False),
    ],
    "choices": [
        ("B", "After ruling out the others, the correct answer is B", True),
        ("C", "It is not A since the sum is odd, so I pick C", True),
        ("E", "The answer is definitely E; A and D fail the check", True),
        ("A", "A. The other options are too large", True),
        ("(B) Marta", "B", True),
        ("D Tomas", "D", True),
        ("The options are listed above.\n(C) Lena", "C", True),
        ("C", "réponse est C et non B", True),
        ("C", "A total of three paths survive, so the answer is C", True),  # `A total`: an article, not option A
        ("(B) Marta", "D", False),
        ("C", "The answer is A, not C", False),
        ("E", "The answer: B", False),
    ],
    "number_formats": [
        ("2500000", "2,500,000", True),
        ("4000", "4 000", True),
        ("12", "12.0", True),
        ("3500.5", "3,500.5", True),
        ("2,75", "2.75", True),
        ("0,25", "0.25", True),
        ("0.8", ".8", True),
        ("-7", "-7", True),
        ("2500000", "250,000", False),
        ("2,75", "2.57", False),
        ("0.8", ".08", False),
        ("3", "XQR3Z", False),
    ],
    "boxed": [
        ("$8$", r"The count is $\boxed{8}$.", True),
        ("$8$", r"\boxed{8}", True),
        ("$\\frac{3}{4}$", r"$\boxed{\dfrac{3}{4}}$", True),
        (r"\boxed{12}", r"So we get \boxed{12}.", True),
        ("$8$", r"First $\boxed{5}$ was wrong; correcting, it is $\boxed{8}$.", True),
        (r"$\boxed{2} \text{ and } \boxed{7}$", r"$\boxed{2, 7}$", True),
        ("$8$", r"The count is $\boxed{9}$.", False),
        (r"\boxed{12}", r"So we get \boxed{21}.", False),
        (r"\boxed{3} maybe maybe \boxed{5}", r"$\boxed{3,5}$", False),
    ],
    "words": [
        (r"$\text{Priya}$", r"Priya ran farthest, so the answer is $\boxed{\text{Priya}}$.", True),
        ("yes", r"$\boxed{\text{Yes}}$", True),
        ("odd", r"The sum is always \boxed{\text{odd}}.", True),
        (r"$\text{Tuesday}$", r"$\boxed{\textbf{Tuesday}}$", True),
        (r"$\text{Priya}$", r"$\boxed{\text{Omar}}$", False),
        ("yes", r"$\boxed{\text{No}}$", False),
    ],
    "matrices": [
        (r"$\begin{pmatrix} 2 & 0 \\ 1 & 3 \end{pmatrix}$", r"The product is $\begin{pmatrix} 2 & 0 \\ 1 & 3 \end{pmatrix}$.", True),
        (r"$\begin{bmatrix} 1 & 1 \\ 0 & 1 \end{bmatrix}$", r"$\boxed{\begin{pmatrix} 1 & 1 \\ 0 & 1 \end{pmatrix}}$", True),
        (r"$\begin{pmatrix} 5 \\ -2 \end{pmatrix}$", r"$\boxed{\begin{pmatrix} 5 \\ -2 \end{pmatrix}}$", True),
        (r"$\begin{pmatrix} \frac{1}{2} & 0 \\ 0 & 2 \end{pmatrix}$", r"$\boxed{\begin{pmatrix} 0.5 & 0 \\ 0 & 2 \end{pmatrix}}$", True),
        (r"$\begin{pmatrix} 3 & 4 \\ 5 & 6 \end{pmatrix}$", r"Adding, $\begin{pmatrix} 1 & 1 \\ 2 & 2 \end{pmatrix} + \begin{pmatrix} 2 & 3 \\ 3 & 4 \end{pmatrix}$", True),
        (r"$\begin{pmatrix} 2 & 0 \\ 1 & 3 \end{pmatrix}$", r"$\boxed{\begin{pmatrix} 2 & 0 \\ 3 & 1 \end{pmatrix}}$", False),
        (r"$\begin{pmatrix} 5 \\ -2 \end{pmatrix}$", r"$\boxed{\begin{pmatrix} -2 \\ 5 \end{pmatrix}}$", False),
    ],
    "sets": [
        (r"$\{2, 5, 9\}$", r"$\boxed{\{9, 2, 5\}}$", True),
        (r"$[1, 4)$", r"$\boxed{[1,4)}$", True),
        (r"$(-\infty, 0) \cup (3, \infty)$", r"$\boxed{(-\infty,0)\cup(3,\infty)}$", True),
        (r"$\{1 \pm \sqrt{2}\}$", r"The roots are $\boxed{1+\sqrt{2}, 1-\sqrt{2}}$.", True),
        (r"$[1, 4)$", r"$\boxed{(1,4)}$", False),
        (r"$\{2, 5, 9\}$", r"$\boxed{\{2, 5\}}$", False),
        (r"$[0, 6)$", r"$\boxed{[0, 3)}$", False),
    ],
    "units": [
        ("2450.50", "$2,450.50", True),
        ("2450.50", "The fee comes to 2,450.50€ in total.", True),
        (r"$40$ km", r"The trip is $\boxed{40\textnormal{ km}}$.", True),
        (r"$12\mbox{ cm}^2$", r"The area is $\boxed{12\text{ cm}^2}$.", True),
        (r"$0.35 \text{ kg}$", r"$\boxed{0.35 \text{ kg}}$", True),
        ("2450.50", "$2,405.50", False),
        (r"$40$ km", r"$\boxed{45\textnormal{ km}}$", False),
    ],
    "fractions": [
        ("5/8", r"\frac{5}{8}", True),
        ("-5/8", r"-\frac{5}{8}", True),
        ("$1/4$", r"$\frac14$", True),
        ("$2$", r"$\frac{6}{3}$", True),
        ("9/12", r"\frac{3}{4}", True),
        ("$\\frac{2}{9}$", r"$0.2222222222$", True),
        ("5/8", r"\frac{8}{5}", False),
        ("$1/4$", r"$\frac15$", False),
    ],
    "percentages": [
        (r"$35\%$", "35 percent", True),
        (r"$35\%$", "35 %", True),
        (r"$35\%$", r"$\boxed{35\%}$", True),
        (r"$35\%$", "35", True),
        (r"$-12\%$", r"The price fell by $\boxed{-12\%}$.", True),
        (r"$35\%$", "53 percent", False),
        (r"$0.35$", "35", False),
        (r"$35$", "35/100", False),
        (r"$-12\%$", r"$\boxed{12\%}$", False),
    ],
}
