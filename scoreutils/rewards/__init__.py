"""Rewards: `binary_reward(problem, completion)`, the paper's binary reward r(y, y*), and `outcome`, the
three-way grade of one attempt that the metrics split transitions by. Answer extraction and equivalence for
math live in `rewards/answers.py`.

Math: extract the final answer and judge it with math-verify (`answers.math_reward`). Code: run the
program with the problem's tests in the sandbox (`sandbox.code_reward`); 1 only if every test passes.
Never raises on model output. Used for training and for the metrics; never shaped here (the Stage II
bonus lives in `losses.py`).

An attempt's outcome is "right" (reward 1), "wrong" (an answer that is not right) or "none" (no answer at
all: for math no final answer can be extracted, e.g. "I'm sorry for the confusion."; for code the
completion holds no program that parses as Python). A non-answer is a format failure, not a revision:
the metrics count it apart (`metrics.episode_metrics`).
"""
from __future__ import annotations

import ast

from .answers import answers_differ, extract_answer, math_reward
from ..tasks import Problem

RIGHT, WRONG, NONE = "right", "wrong", "none"
OUTCOMES = (RIGHT, WRONG, NONE)


def binary_reward(problem: Problem, completion: str) -> float:
    """1.0 if `completion` solves `problem`, else 0.0.

    >>> from scoreutils.tasks import Problem
    >>> binary_reward(Problem("p", "What is 2 + 3?", "5", "test", "arithmetic"), "Final Answer: The final answer is $5$.")
    1.0
    """
    if problem.kind == "code":
        from ..sandbox import code_reward

        return code_reward(problem, completion)
    return math_reward(completion, problem.reference)


def _program(problem: Problem, completion: str) -> str | None:
    """The program a code completion holds (`sandbox.extract_code`), or None when it does not parse."""
    from ..sandbox import extract_code

    code = extract_code(completion, problem)
    if not code.strip() or (getattr(problem, "entry_point", None) and code.strip() == problem.prompt.strip()):
        return None
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return code


def has_answer(problem: Problem, completion: str) -> bool:
    """Whether `completion` gives an answer at all: a final answer for math, a parsing program for code.

    >>> p = Problem("p", "What is 2 + 3?", "5", "test", "arithmetic")
    >>> has_answer(p, "The answer is \\boxed{6}."), has_answer(p, "I'm sorry for the confusion.")
    (True, False)
    """
    if not isinstance(completion, str):
        return False
    if getattr(problem, "kind", "math") == "code":
        return _program(problem, completion) is not None
    return extract_answer(completion) is not None


def outcome(problem: Problem, completion: str, reward: float | None = None) -> str:
    """"right", "wrong" or "none" for one attempt; `reward` (when already computed) saves grading it again.

    >>> p = Problem("p", "What is 2 + 3?", "5", "test", "arithmetic")
    >>> outcome(p, "2 + 3 = 5"), outcome(p, "2 + 3 = 6"), outcome(p, "Let me check again.")
    ('right', 'wrong', 'none')
    """
    r = binary_reward(problem, completion) if reward is None else reward
    if r == 1:
        return RIGHT
    return WRONG if has_answer(problem, completion) else NONE


def different_answers(problem: Problem, y1: str, y2: str) -> bool:
    """Whether two attempts that both give an answer give different ones (math: not equivalent final answers;
    code: different programs, compared without surrounding whitespace). False when either gives none."""
    if getattr(problem, "kind", "math") == "code":
        a, b = _program(problem, y1), _program(problem, y2)
        return a is not None and b is not None and a.strip() != b.strip()
    if extract_answer(y1) is None or extract_answer(y2) is None:
        return False
    return answers_differ(y1, y2)
