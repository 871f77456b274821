"""Exercises on grading and reading two attempts (lessons 00, 01 and 07): the final answer, accuracies
and Δ, the transitions, the paired interval of Δ, majority voting and the compute-matched vote of Fig. 1.
Each checker compares the student's function with the kit's own implementation. Not here: experiments."""
from __future__ import annotations

import math
import random
import re
from typing import Any, Callable, Sequence

from ..rewards import answers
from .. import metrics
from ._harness import Mistakes, close, compare, equal, no_delegation, run


# --- 00 warm-up: accuracies and Δ ---------------------------------------------------------------------

def _accuracy_delta(r1: list[float], r2: list[float]) -> tuple[float, float, float]:
    m = metrics.self_correction_metrics(r1, r2)
    return m["acc_t1"], m["acc_t2"], m["delta"]


def _reward_lists(seed: int, count: int) -> list[tuple[list[float], list[float]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        n = rng.randint(1, 20)
        cases.append(([float(rng.random() < 0.4) for _ in range(n)], [float(rng.random() < 0.5) for _ in range(n)]))
    return cases


def check_accuracy_delta(fn: Callable[[list[float], list[float]], tuple[float, float, float]]) -> bool:
    """fn(r1, r2) -> (Acc@t1, Acc@t2, Δ) from the 0/1 rewards of attempts 1 and 2 on the same problems;
    (0.0, 0.0, 0.0) for no problems. Compared with `metrics.self_correction_metrics` within 1e-9."""
    cases = [([1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]), ([1.0, 1.0, 0.0], [0.0, 1.0, 0.0]),
             ([0.0, 0.0], [1.0, 0.0]), ([], []), ([1.0], [1.0])] + _reward_lists(10, 30)
    return run("accuracy_delta", cases, compare("accuracy_delta", fn, _accuracy_delta, close(1e-9)))


# --- 00 core: the final answer ------------------------------------------------------------------------

def _number(rng: random.Random) -> str:
    n = rng.randint(-999, 999)
    return str(n) if rng.random() < 0.6 else f"{n}.{rng.randint(1, 99)}"


def _answer_texts(rng: random.Random) -> str:
    a, b, c = (_number(rng) for _ in range(3))
    return rng.choice([
        f"We add {a} and {b}. The final answer is ${c}$. I hope it is correct.",
        f"The final answer is {c}. I hope it is correct.",
        f"Final answer: ${c}$",
        f"So the result is \\boxed{{{c}}}.",
        f"First \\boxed{{{a}}}, but actually \\boxed{{{c}}}.",
        f"The final answer is ${c}$. Check: \\boxed{{{a}}}",
        f"Start with {a}, then {b}, so we get {c}",
        f"The final answer is ${a}$. Wait, the final answer is ${c}$.",
        f"We get {a} apples, {b} pears and {c} plums.",
    ])


def check_final_answer(fn: Callable[[str], str | None]) -> bool:
    """fn(text) -> the final answer as a string, or None. Tried in order:
    1. after the LAST "The final answer is" (or "Final answer:"): what is between `$...$`, else the rest of
       the sentence (up to ". ", a newline or the end); a `\\boxed{...}` there is unwrapped;
    2. the content of the last `\\boxed{...}` (braces matched);
    3. the last number: optional minus sign, digits, optional decimals ("-2.5");
    otherwise None. Compared with `answers.extract_answer` by exact string equality."""
    cases = [
        "The final answer is $-3$. I hope it is correct.",
        "The final answer is $\\frac{1}{2}$.",
        "The final answer is 3.5. I hope it is correct.",
        "Final answer: 12",
        "The final answer is $\\boxed{5}$",
        "The answer is \\boxed{\\frac{3}{4}}.",
        "First I got \\boxed{2}, then \\boxed{7}.",
        "The final answer is $4$. Checking: \\boxed{9}",
        "The final answer is $2$. No wait, the final answer is $6$.",
        "3 apples and 4 apples make 7 apples",
        "So x = -2.5",
        "The price is 0.25 dollars.",
        "I don't know.",
        "",
    ]
    rng = random.Random(0)
    cases += [_answer_texts(rng) for _ in range(40)]
    return run("final_answer", [(c,) for c in cases],
               compare("final_answer", no_delegation(fn, answers), answers.extract_answer, equal, ANSWER_MISTAKES))


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?(?:/\d+)?", text)


ANSWER_MISTAKES: Mistakes = [
    ("the first number of the text; the final answer is the LAST one (or the boxed one)",
     lambda t: (_numbers(t) or [None])[0]),
    ("digits only: signs, decimals and fractions are part of the answer", lambda t: (re.findall(r"\d+", t) or [None])[-1]),
    ("the last number, ignoring \\boxed{...}; a boxed answer wins", lambda t: (_numbers(t) or [None])[-1]),
]
"""The answer-extraction exercise's common wrong answers, named in its hint."""


# --- 01 warm-up: transitions --------------------------------------------------------------------------

def _transitions(r1: list[float], r2: list[float]) -> tuple[float, float]:
    m = metrics.self_correction_metrics(r1, r2)
    return m["delta_i_to_c"], m["delta_c_to_i"]


def check_transitions(fn: Callable[[list[float], list[float]], tuple[float, float]]) -> bool:
    """fn(r1, r2) -> (delta_i_to_c, delta_c_to_i): fractions of problems wrong at attempt 1 and right at
    attempt 2, and right then wrong. r1, r2: 0.0/1.0 rewards of the same (one or more) problems.
    Compared with `metrics.self_correction_metrics` within 1e-9."""
    cases = [([1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]), ([0.0, 0.0, 1.0], [1.0, 0.0, 1.0]),
             ([1.0, 1.0], [0.0, 1.0]), ([0.0], [0.0]), ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])] + _reward_lists(1, 30)
    return run("transitions", cases, compare("transitions", fn, _transitions, close(1e-9)))


# --- 01 core: the paired interval of Δ ----------------------------------------------------------------

def _delta_interval(r1: list[float], r2: list[float]) -> tuple[float, float]:
    """The plain normal interval the exercise teaches (`metrics.paired_interval` adds Agresti–Min's pseudo-pairs)."""
    return _interval_with(r1, r2)


def check_delta_interval(fn: Callable[[list[float], list[float]], tuple[float, float]]) -> bool:
    """fn(r1, r2) -> (low, high): the 95% normal interval of Δ = mean of the per-problem differences
    d_i = r2_i - r1_i, i.e. mean ± 1.96 * s / sqrt(n) with s the sample standard deviation of the d_i
    (divide by n - 1), clipped to [-1, 1]; (mean, mean) for one problem. Compared with
    the plain normal interval within 1e-3 (z = 1.96 or 1.959964 both pass)."""
    cases = [([1.0, 0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0, 1.0]), ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
             ([0.0, 1.0], [1.0, 0.0]), ([0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 1.0]), ([1.0], [0.0])]
    cases += [c for c in _reward_lists(11, 40) if len(c[0]) > 1]
    return run("delta_interval", cases, compare("delta_interval", no_delegation(fn, metrics), _delta_interval,
                                                close(1e-3), INTERVAL_MISTAKES))


def _unpaired_interval(r1: list[float], r2: list[float]) -> tuple[float, float]:
    n = len(r1)
    p1, p2 = sum(r1) / n, sum(r2) / n
    half = metrics.Z95 * math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    return max(-1.0, p2 - p1 - half), min(1.0, p2 - p1 + half)


def _interval_with(r1: list[float], r2: list[float], ddof: int = 1, clip: bool = True,
                   z: float = metrics.Z95) -> tuple[float, float]:
    d = [b - a for a, b in zip(r1, r2)]
    n, mean = len(d), sum(d) / len(d)
    half = z * math.sqrt(sum((x - mean) ** 2 for x in d) / (n - ddof) / n) if n > ddof else 0.0
    return (max(-1.0, mean - half), min(1.0, mean + half)) if clip else (mean - half, mean + half)


INTERVAL_MISTAKES: Mistakes = [
    ("an unpaired interval (two independent proportions); the attempts are paired, so use the per-problem "
     "differences d_i", _unpaired_interval),
    ("the population standard deviation; divide by n - 1", lambda r1, r2: _interval_with(r1, r2, ddof=0)),
    ("not clipped to [-1, 1]", lambda r1, r2: _interval_with(r1, r2, clip=False)),
    ("z = 1.645 (a 90% interval); 95% is z = 1.96", lambda r1, r2: _interval_with(r1, r2, z=1.645)),
    ("the standard deviation not divided by sqrt(n): that is the spread of d, not of its mean",
     lambda r1, r2: _interval_with(r1, r2, z=metrics.Z95 * math.sqrt(len(r1)))),
]
"""The paired-interval exercise's common wrong answers, named in its hint."""


# --- 07 warm-up: majority vote ------------------------------------------------------------------------

def check_majority_vote(fn: Callable[[list[str | None]], str | None]) -> bool:
    """fn(answers) -> the most common answer that is not None, ties going to the one seen first; None when
    there is no answer. Compared with `metrics.majority_vote`."""
    cases = [["2", "3", "2"], ["a", "b"], ["b", "a", "a", "b"], [None, None, "5"], ["x", None, None, "y", "y"],
             [None], [], ["7"]]
    rng = random.Random(6)
    pool = ["1", "2", "3", "-1", "1/2", None]
    cases += [[rng.choice(pool) for _ in range(rng.randint(0, 12))] for _ in range(40)]
    return run("majority_vote", [(c,) for c in cases], compare("majority_vote", fn, metrics.majority_vote, equal))


# --- 07 core: parallel vs sequential voting at equal compute -----------------------------------------

def _voted_accuracy(samples: Sequence[Sequence[tuple[Any, Any]]], references: Sequence[str], budget: int,
                    sequential: bool) -> float:
    """The vote of `metrics.voted_accuracy` on plain answers, compared by string equality."""
    take = budget // 2 if sequential else budget
    hits = [metrics.majority_vote([pair[1 if sequential else 0] for pair in per_problem[:take]]) == ref
            for per_problem, ref in zip(samples, references)]
    return sum(hits) / len(hits)


def _voting_case(rng: random.Random, budget: int) -> tuple:
    n = rng.randint(1, 6)
    pool = ["1", "2", "3", None]
    samples = [[(rng.choice(pool), rng.choice(pool)) for _ in range(budget)] for _ in range(n)]
    return samples, [rng.choice(["1", "2", "3"]) for _ in range(n)], budget, rng.random() < 0.5


def check_voted_accuracy(fn: Callable[..., float]) -> bool:
    """fn(samples, references, budget, sequential) -> the fraction of problems whose majority answer (ties
    to the first seen, None ignored) equals the reference string. samples[i]: problem i's two-attempt
    samples as (answer 1, answer 2) pairs, in sampled order. With a budget of B generations per problem,
    parallel votes over answer 1 of the first B samples; sequential over answer 2 of the first B // 2
    samples (each cost two generations). Compared with the vote of `metrics.voted_accuracy` within 1e-9."""
    cases = [([[("1", "2"), ("1", "2"), ("3", "2"), ("3", "3")]], ["2"], 4, True),
             ([[("1", "2"), ("1", "2"), ("3", "2"), ("3", "3")]], ["2"], 4, False),
             ([[("1", "1"), ("2", "2"), ("2", "1"), ("1", "1")], [("5", None), (None, "5")]], ["1", "5"], 2, True),
             ([[("1", "1"), ("2", "2"), ("2", "2"), ("2", "2")], [("5", None), (None, "5")]], ["2", "5"], 2, False),
             ([[(None, "7"), ("7", None), ("7", "7"), ("8", "8")]], ["7"], 4, True)]
    rng = random.Random(12)
    cases += [_voting_case(rng, rng.choice([2, 4, 6, 8])) for _ in range(40)]
    return run("voted_accuracy", cases, compare("voted_accuracy", no_delegation(fn, metrics.voted_accuracy, metrics.scaling_table), _voted_accuracy,
                                                close(1e-9), VOTE_MISTAKES))


VOTE_MISTAKES: Mistakes = [
    ("sequential votes over B samples; each costs two generations, so over the first B // 2",
     lambda s, refs, b, seq: _voted_accuracy(s, refs, 2 * b if seq else b, seq)),
    ("sequential votes over first answers; it votes over the SECOND attempts",
     lambda s, refs, b, seq: _voted_accuracy([[(a, a) for a, _ in p] for p in s], refs, b, seq)),
    ("parallel votes over second answers; parallel sampling has only first attempts",
     lambda s, refs, b, seq: _voted_accuracy([[(c, c) for _, c in p] for p in s], refs, b, seq)),
]
"""The compute-matched voting exercise's common wrong answers, named in its hint."""
