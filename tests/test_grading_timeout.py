"""Math grading keeps its time bound from any thread: expressions whose evaluation would hold the
interpreter inside one C call for minutes (9^{9^9}, (10^9)!) never reach sympy.

The hostile cases run in a child interpreter with a hard timeout, so a regression fails the test
instead of hanging the whole test session (a thread holding the GIL cannot be interrupted).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from scoreutils.answers import MAX_ANSWER_CHARS, is_equivalent, too_costly

HAZARDS = [
    "9^{9^9}", "10^{10^{10}}", "factorial(10^9)", "(2^{2^{100}})", "9**9**9", "(10^9)!", "10^{10}!",
    "\\binom{10^{9}}{5\\cdot 10^{8}}", "{10^{9} \\choose 5\\cdot 10^{8}}", "binomial(10**9, 5*10**8)",
    "\\prod_{k=1}^{10^{9}} k", "Product(k, (k, 1, 10**9))", "pow(9, 9**9)", "gamma(10**9)", "2**(2**100)",
    "x^{10^{9}}", "(x+1)^{10^{6}}", "e^{10^{10}}", "\\frac{9^{9^9}}{2}", "\\sqrt{9^{9^9}}", "9^{9^{9}}-9^{9^{9}}",
    "\\left(9\\right)^{\\left(9^{9}\\right)}", "9^{9}^{9}", "9^{387420489}", "9\u2079\u2079\u2079\u2079\u2079\u2079\u2079\u2079",
    "\\dfrac{1}{2}^{10^{9}}", "(9^9)^{9^9}", "9^{9!}", "\\boxed{9^{9^9}}", "(((((9)))))^{9^9}", "9^{9\\cdot 9^{9}}",
    "2^{10^{5}} \\cdot 2^{10^{5}}", "(10^{9})!!", "factorial(factorial(20))", "\\tan(1.5^{100000})",
]

# Typical final answers (MATH, GSM8K, arithmetic): the cost bound must let every one through to sympy.
ORDINARY = [
    "2^{10}", "\\frac{1}{2}", "2^{2^{2^{2^{2}}}}", "(x+1)^2", "\\binom{10}{3}", "5!", "10^{100}", "3^{2005}",
    "x^{12}", "\\sqrt{2}", "e^{i\\pi}", "2^{x}", "[0,1)", "\\{1,2\\}", "10\\%", "\\pi^2", "\\sum_{k=1}^{100} k",
    "x^2+2x+1", "2\\sqrt{2}", "1,234", "\\$5.00", "\\left( 1, 2 \\right)", "x = 3", "(1,2)", "\\frac{\\sqrt{3}}{2}",
    "0.75", "-3", "\\infty", "(-\\infty, 3]", "x \\in [2, 5)", "2^{-3}", "10^{-5}", "\\binom{2005}{2}", "1000!",
    "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "2 \\times 10^{8}", "3.14", "\\text{(A)}", "a^b", "\\frac{a^2 b}{c}",
    "\\dfrac{9\\pi}{4}", "6 - 5i", "\\sqrt[3]{4}", "y = -\\frac{1}{2}x + 3", "\\cos^2 x", "11\\sqrt2", "4096", "-\\frac{7}{3}",
]

_CHILD = r"""
import json, sys, threading, time
from scoreutils.answers import is_equivalent, math_reward
is_equivalent("x+1", "1+x")  # math-verify imported and warm
cases, out = json.loads(sys.argv[1]), {}
def grade():
    for case in cases:
        t = time.perf_counter()
        equal = is_equivalent(case, "3", timeout_s=2.0)
        reward = math_reward(f"The final answer is ${case}$.", "1", timeout_s=2.0)
        out[case] = [equal, reward, time.perf_counter() - t]
worker = threading.Thread(target=grade)
worker.start()
worker.join()
print(json.dumps(out))
"""


def test_hostile_expressions_grade_fast_from_a_worker_thread():
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(HAZARDS)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    slow = {case: round(t, 2) for case, (_, _, t) in out.items() if t > 3.0}
    assert set(out) == set(HAZARDS) and not slow, slow
    assert not any(equal or reward for equal, reward, _ in out.values())


@pytest.mark.parametrize("text", HAZARDS)
def test_hazards_are_too_costly(text):
    assert too_costly(text)


def test_ordinary_answers_reach_sympy():
    refused = [text for text in ORDINARY if too_costly(text)]
    assert not refused, refused


def test_costly_answers_still_grade_by_string():
    assert is_equivalent("9^{9^9}", "9^{9^{9}}") is False  # would need sympy: refused
    assert is_equivalent("9^{9^9}", " 9^{9^9} ") is True  # the same text after normalisation
    assert is_equivalent("2^{10}", "1024") is True  # cheap: sympy decides


def test_cost_bound_is_cheap():
    worst = ("\\frac{(x+1)^{2}}{3^{4}} + " * 100)[:MAX_ANSWER_CHARS]
    start = time.perf_counter()
    for _ in range(20):
        too_costly(worst)
    assert (time.perf_counter() - start) / 20 < 0.01
    assert too_costly("{" * 1999) and too_costly("x" * (MAX_ANSWER_CHARS + 1)) and too_costly(None)
