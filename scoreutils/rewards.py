"""Rewards: `score(problem, completion)`, the paper's binary reward r(y, y*).

Math: extract the final answer and judge it with math-verify (`answers.math_reward`). Code: run the
program with the problem's tests in the sandbox (`sandbox.code_reward`); 1 only if every test passes.
Never raises on model output. Used for training and for the metrics; never shaped here (the Stage II
bonus lives in `losses.py`).
"""
from __future__ import annotations

from .answers import math_reward
from .tasks import Problem


def score(problem: Problem, completion: str) -> float:
    """1.0 if `completion` solves `problem`, else 0.0.

    >>> from scoreutils.tasks import Problem
    >>> score(Problem("p", "What is 2 + 3?", "5", "test", "arithmetic"), "Final Answer: The final answer is $5$.")
    1.0
    """
    if problem.kind == "code":
        from .sandbox import code_reward

        return code_reward(problem, completion)
    return math_reward(completion, problem.reference)
