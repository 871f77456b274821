"""Math grading keeps its time bound from any thread: expressions whose evaluation would hold the
interpreter inside one C call for minutes (9^{9^9}, (10^9)!, \\Gamma(10^{8})) or expand into millions of
terms ((x+y+z+w)^{200}, a 12x12 determinant of symbols) never reach sympy, and leave no thread running.

The hostile cases run in a child interpreter with a hard timeout, so a regression fails the test
instead of hanging the whole test session (a thread holding the GIL cannot be interrupted).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from scoreutils.rewards import answers
from scoreutils.rewards.answers import MAX_ANSWER_CHARS, is_equivalent, too_costly


def _symbols_matrix(n: int, env: str = "vmatrix", compact: bool = False) -> str:
    """An n-by-n matrix of symbols in LaTeX: distinct x_{0}, x_{1}, ..., or compact, letters a to z in turn."""
    def cell(k: int) -> str:
        return "abcdefghijklmnopqrstuvwxyz"[k % 26] if compact else f"x_{{{k}}}"
    sep, row_sep = ("&", "\\\\") if compact else (" & ", " \\\\ ")
    rows = (sep.join(cell(i * n + j) for j in range(n)) for i in range(n))
    return f"\\begin{{{env}}}" + row_sep.join(rows) + f"\\end{{{env}}}"


# Issue 29: before the bound covered them, each cost the whole 5 s timeout per grade (or more), and the helper
# thread went on computing after the verdict (70 CPU-seconds 15 s later; once it froze the process for 85 s).
GROWTH_HAZARDS = [
    "\\Gamma(10^{8})", "\\Gamma(9^{9})", "\\Gamma\\left(10^{8}\\right)", "\\operatorname{Gamma}(10^{8})",
    "\\gamma(10^{8})", "\\Gamma(x+500)", "\\binom{x}{200}", "(x+50)!", "(10^{8})!!",
    "(x+y+z+w)^{200}", "(x+y+z+w)^{20}", "(x_1+x_2+x_3+x_4)^{20}", "(10^{100}x+1)^{127}",
    "(a+b)(c+f)(g+h)(m+n)(p+q)(r+s)(u+v)(y+z)(j+k)(t+w)",
    "\\sum_{k=1}^{65536} \\frac{1}{k}", "\\prod_{k=1}^{65536} (x+k)", "\\prod_{k=1}^{10^{8}} k",
    "\\sum_{k=1}^{n} k^{256}",
    _symbols_matrix(12), "\\det" + _symbols_matrix(12, "pmatrix"),
    "\\det\\left(" + _symbols_matrix(12, "bmatrix") + "\\right)", _symbols_matrix(11, compact=True),
    "\\det" + _symbols_matrix(5, "pmatrix", compact=True), _symbols_matrix(5),
    "\\operatorname{eye}(10^{5})", "\\operatorname{zeros}(10^{5}, 10^{5})",
    "\\operatorname{eigenvals}(" + _symbols_matrix(3, "bmatrix") + ")",
]

# Slow to parse, whatever they denote: 2.0 s for this tuple, 1.9 s for the polynomial, 3.0 s for 20 brackets.
PARSE_HAZARDS = [
    "(" + ", ".join(str(i) for i in range(400)) + ")", "+".join(f"{i % 9 + 1}x^{{{i % 12}}}" for i in range(200)),
    "(" * 20 + "x" + ")" * 20, "[" * 40 + "1" + "]" * 40,
]

HAZARDS = GROWTH_HAZARDS + PARSE_HAZARDS + [
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
    # look-alikes of GROWTH_HAZARDS
    "\\Gamma(5)", "\\Gamma\\left(\\frac{1}{2}\\right)", "\\Gamma(x)", "(x+1)^3", "(x+y+z)^{2}", "(x+1)(x+2)", "3!!", "(n+1)!",
    "\\binom{n+10}{10}", "\\sum_{k=1}^{n} k", "\\prod_{k=1}^{5} k", "\\begin{vmatrix} 1 & 2 \\\\ 3 & 4 \\end{vmatrix}",
    "\\det\\begin{pmatrix} x & y \\\\ z & w \\end{pmatrix}", _symbols_matrix(3), "\\operatorname{eye}(3)",
    "\\begin{pmatrix} \\cos\\theta & -\\sin\\theta \\\\ \\sin\\theta & \\cos\\theta \\end{pmatrix}",
    "\\begin{vmatrix}" + "\\\\".join("&".join(str((5 * i + j) % 9 + 1) for j in range(10)) for i in range(10))
    + "\\end{vmatrix}",
]

# Cheap cases near the bounds, which math-verify must still grade (both ways).
EQUIVALENT = [
    ("\\Gamma(5)", "24"), ("\\Gamma\\left(\\frac{1}{2}\\right)", "\\sqrt{\\pi}"), ("\\binom{10}{3}", "120"),
    ("(x+1)^3", "x^3+3x^2+3x+1"), ("(x+y+z)^{2}", "x^2+y^2+z^2+2xy+2yz+2xz"), ("3!!", "720"),
    ("\\begin{vmatrix} 1 & 2 \\\\ 3 & 4 \\end{vmatrix}", "-2"),
    ("\\begin{vmatrix} a & 2 \\\\ 3 & a \\end{vmatrix}", "a^2-6"),
    # (\\det of symbols does not work here: latex2sympy gives its symbols other assumptions)
    ("\\begin{vmatrix} x & y \\\\ z & w \\end{vmatrix}", "x \\cdot w - y \\cdot z"),
    ("\\sum_{k=1}^{100} k", "5050"), ("\\sum_{k=1}^{n} k", "\\frac{n(n+1)}{2}"), ("\\prod_{k=1}^{5} k", "120"),
]

_CHILD = r"""
import json, sys, threading, time
from scoreutils.rewards.answers import is_equivalent, math_reward
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


# Grades each case on either side, from the main thread and from a worker (where a helper thread would run
# math-verify): [verdict, seconds, threads still alive 0.2 s after the verdict] per grade.
_CHILD_THREADS = r"""
import json, sys, threading, time
from scoreutils.rewards.answers import is_equivalent, math_reward
is_equivalent("x+1", "1+x")  # math-verify imported and warm
cases, out = json.loads(sys.argv[1]), {}
def grades(case):
    return {"pred": lambda: is_equivalent(case, "1"), "ref": lambda: is_equivalent("1", case),
            "reward": lambda: math_reward(f"The final answer is ${case}$.", "1"),
            "reward_ref": lambda: math_reward("The final answer is $1$.", case)}
def grade_all(where):
    for case in cases:
        for side, grade in grades(case).items():
            before = set(threading.enumerate())
            start = time.perf_counter()
            verdict = grade()
            elapsed = time.perf_counter() - start
            extra = set(threading.enumerate()) - before
            for thread in extra:
                thread.join(0.2 / len(extra))
            out[f"{where} {side} {case}"] = [verdict, elapsed, sum(t.is_alive() for t in extra)]
grade_all("main")
worker = threading.Thread(target=grade_all, args=("worker",))
worker.start()
worker.join()
print(json.dumps(out))
"""


def test_growth_hazards_grade_fast_and_leave_no_thread():
    cases = GROWTH_HAZARDS + PARSE_HAZARDS
    proc = subprocess.run([sys.executable, "-c", _CHILD_THREADS, json.dumps(cases)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out) == 2 * 4 * len(cases)
    assert not [key for key, (verdict, _, _) in out.items() if verdict], "graded equal to 1"
    slow = {key: round(t, 2) for key, (_, t, _) in out.items() if t >= 1.0}
    assert not slow, slow
    left = [key for key, (_, _, alive) in out.items() if alive]
    assert not left, left


@pytest.mark.parametrize("text", GROWTH_HAZARDS)
def test_growth_hazards_are_refused_by_the_bound_itself(text, monkeypatch):
    monkeypatch.setattr(answers, "MAX_ANSWER_CHARS", 10**6)  # not only for their length
    assert too_costly(text)


@pytest.mark.parametrize("a, b", EQUIVALENT)
def test_cheap_lookalikes_still_grade(a, b):
    assert not too_costly(a) and not too_costly(b)
    assert is_equivalent(a, b) and is_equivalent(b, a)


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
