"""Exercises on the texts of two attempts (lessons 02, 03 and 08): the STaR and Pair-SFT data sets, the
edit distance and its ratio, the binary code reward and the code extractor. Each checker compares the
student's function with the kit's (or checks the properties the paper's definition fixes)."""
from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any, Callable

from rapidfuzz.distance import Indel, Levenshtein

from .. import metrics, sandbox
from ..train import sft
from ._harness import Mistakes, call_repr, close, compare, no_delegation, run, show


# --- 02 warm-up: STaR D+ pairs of one trace -----------------------------------------------------------

def _star_pairs(r1: int, r2: int) -> list[tuple[str, str]]:
    """The (attempt 1, attempt 2) pairs one trace gives STaR D+, as `sft.star_dataset(plus=True)` builds
    them (truncation aside): (y1, y2) for wrong -> right, and (y, y) for every correct response y."""
    pairs = [("y1", "y2")] if r1 == 0 and r2 == 1 else []
    return pairs + [(y, y) for y, r in (("y1", r1), ("y2", r2)) if r == 1]


def _same_pairs(got: Any, want: list[tuple[str, str]]) -> bool:
    try:
        return sorted(tuple(p) for p in got) == sorted(want)
    except TypeError:
        return False


def check_star_pairs(fn: Callable[[int, int], list[tuple[str, str]]]) -> bool:
    """fn(r1, r2) -> the (first, second) pairs, each "y1" or "y2", that one two-attempt trace with these
    0/1 rewards adds to STaR's D+ (Section 4): (y1, y2) when a wrong y1 is followed by a right y2, plus
    (y, y) for every correct response y. Any order."""
    cases = [(r1, r2) for r1 in (0, 1) for r2 in (0, 1)]
    return run("star_pairs", cases, compare("star_pairs", fn, _star_pairs, _same_pairs))


# --- 02 core: Pair-SFT pairs of one problem -----------------------------------------------------------

def _pair_problem(responses: list[tuple[str, int]], plus: bool, got: Any) -> str | None:
    """Why `got` is not a Pair-SFT D (or D+) data set of one problem's `responses`; None when it is."""
    correct = [t for t, r in responses if r == 1]
    wrong = [t for t, r in responses if r == 0]
    try:
        pairs = [tuple(p) for p in got]
        if any(len(p) != 2 or not all(isinstance(x, str) for x in p) for p in pairs):
            raise TypeError
    except TypeError:
        return f"return a list of (first, second) pairs of response texts, got {show(got)}"
    if not correct:
        return None if not pairs else f"no response is correct, so there is nothing to pair: expected [], got {show(pairs)}"
    bad = [p for p in pairs if p[1] not in correct]
    if bad:
        return f"every pair's second response is a CORRECT one; {show(bad[0])} is not"
    want_first = Counter(wrong + (correct if plus else []))
    got_first = Counter(p[0] for p in pairs)
    if got_first != want_first:
        what = "each incorrect response and each correct one" if plus else "each incorrect response (and no correct one)"
        return (f"the first responses should be {what} exactly once: expected {show(sorted(want_first.elements()))}, "
                f"got {show(sorted(got_first.elements()))}")
    return None


def _pair_case(rng: random.Random) -> list[tuple[str, int]]:
    n = rng.randint(1, 8)
    return [(f"r{i}", int(rng.random() < 0.4)) for i in range(n)]


def check_pair_sft_pairs(fn: Callable[[list[tuple[str, int]], bool, random.Random], list[tuple[str, str]]]) -> bool:
    """fn(responses, plus, rng) -> Pair-SFT's (first, second) pairs of ONE problem (Section 4).
    responses: (text, reward 0/1) of every sampled response to the problem (both turns). D (plus=False):
    each incorrect response paired with a correct response chosen at random with `rng` (e.g.
    `rng.choice(correct)`). D+ (plus=True): also each correct response paired with a random correct one.
    No correct response: no pairs. Checked by properties, and that the choice is random (not always the
    same correct response) when several are correct."""
    fixed = [[("a", 0), ("b", 1)], [("a", 0), ("b", 0)], [("a", 1), ("b", 1), ("c", 0)], [("a", 1)],
             [("a", 0), ("b", 0), ("c", 1), ("d", 1), ("e", 1)]]
    rng = random.Random(13)
    guarded = no_delegation(fn, sft)
    cases = [(r, plus) for r in fixed + [_pair_case(rng) for _ in range(30)] for plus in (False, True)]

    def check(case: tuple) -> str | None:
        responses, plus = case
        got = guarded(list(responses), plus, random.Random(len(responses)))
        why = _pair_problem(responses, plus, got)
        return None if why is None else f"{call_repr('pair_sft_pairs', (responses, plus))}: {why}"

    def random_choice(_: tuple) -> str | None:
        responses = [("w", 0), ("c1", 1), ("c2", 1), ("c3", 1)]
        seconds = {tuple(p)[1] for seed in range(20) for p in guarded(list(responses), False, random.Random(seed))}
        return None if len(seconds) > 1 else (f"over 20 seeds, {show(responses)} always got the same second "
                                              f"response {show(sorted(seconds))}: choose it at random with rng")

    def check_all(case: tuple) -> str | None:
        return random_choice(case) if case == ("random",) else check(case)

    return run("pair_sft_pairs", cases + [("random",)], check_all,
               lambda case: "the randomness check" if case == ("random",) else call_repr("pair_sft_pairs", case))


# --- 03 warm-up and core: edit distance and its ratio -------------------------------------------------

def _mutate(rng: random.Random, s: str, alphabet: str) -> str:
    chars = list(s)
    for _ in range(rng.randint(0, 4)):
        i = rng.randint(0, len(chars))
        op = rng.choice("ids")
        if op == "i" or not chars:
            chars.insert(i, rng.choice(alphabet))
        elif op == "d":
            del chars[min(i, len(chars) - 1)]
        else:
            chars[min(i, len(chars) - 1)] = rng.choice(alphabet)
    return "".join(chars)


def _string_pairs(seed: int) -> list[tuple[str, str]]:
    cases = [("", ""), ("abc", "abc"), ("ab", "cd"), ("kitten", "sitting"), ("", "abc"), ("abc", ""),
             ("café", "cafe"), ("δx = 1", "δy = 1"), ("👍 ok", "ok 👍"), ("x = 2", "x = 2.0"), ("abcd", "bcda")]
    rng = random.Random(seed)
    alphabet = "abcde 1=é€"
    for _ in range(30):
        y1 = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15)))
        y2 = (_mutate(rng, y1, alphabet) if rng.random() < 0.7
              else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15))))
        cases.append((y1, y2))
    return cases


def check_levenshtein(fn: Callable[[str, str], int]) -> bool:
    """fn(a, b) -> the Levenshtein distance: the fewest single-character insertions, deletions and
    substitutions (each costing 1) turning a into b. Compared with rapidfuzz's `Levenshtein.distance`."""
    def same(got: Any, want: int) -> bool:
        return not isinstance(got, bool) and isinstance(got, int) and got == want

    return run("levenshtein", _string_pairs(3), compare("levenshtein", fn, Levenshtein.distance, same))


def check_edit_distance_ratio(fn: Callable[[str, str], float]) -> bool:
    """fn(y1, y2) -> Levenshtein distance (insert, delete, substitute one character) divided by
    len(y1) + len(y2); 0.0 for two empty strings. Compared with `metrics.edit_distance_ratio` within 1e-9."""
    return run("edit_distance_ratio", _string_pairs(2),
               compare("edit_distance_ratio", no_delegation(fn, metrics), metrics.edit_distance_ratio, close(1e-9),
                       RATIO_MISTAKES))


RATIO_MISTAKES: Mistakes = [
    ("divided by the longer attempt's length; divide by len(y1) + len(y2)",
     lambda a, b: Levenshtein.distance(a, b) / max(len(a), len(b)) if a or b else 0.0),
    ("divided by len(y1) only; divide by len(y1) + len(y2)",
     lambda a, b: Levenshtein.distance(a, b) / len(a)),
    ("the Indel distance (a substitution costs 2); Levenshtein counts it as 1",
     lambda a, b: Indel.distance(a, b) / (len(a) + len(b)) if a or b else 0.0),
]
"""The edit-distance-ratio exercise's common wrong answers, named in its hint."""


# --- 08 warm-up: the binary code reward ---------------------------------------------------------------

def _binary_reward(outcomes: list[bool]) -> float:
    return 1.0 if outcomes and all(outcomes) else 0.0


def check_binary_reward(fn: Callable[[list[bool]], float]) -> bool:
    """fn(outcomes) -> the reward of a program from its unit tests' pass/fail outcomes: 1.0 when there is at
    least one test and every test passed, else 0.0 (the paper's reward is binary: no partial credit)."""
    cases = [[True], [False], [True, True, True], [True, False, True], [], [False, False]]
    rng = random.Random(14)
    cases += [[rng.random() < 0.8 for _ in range(rng.randint(1, 10))] for _ in range(20)]

    def same(got: Any, want: float) -> bool:
        return close(0.0)(got, want) and not isinstance(got, bool)

    return run("binary_reward", [(c,) for c in cases], compare("binary_reward", fn, _binary_reward, same))


# --- 08 core: code extraction -------------------------------------------------------------------------

def _completion(rng: random.Random) -> str:
    a, b = (f"x{rng.randint(0, 9)} = {rng.randint(0, 99)}\nprint(x{rng.randint(0, 9)})" for _ in range(2))
    return rng.choice([
        f"Here is the code:\n```python\n{a}\n```\nIt prints a number.",
        f"```python\n{a}\n```\nBetter:\n```python\n{b}\n```",
        f"```\n{a}\n```",
        f"```python\n{a}\n```\nOutput:\n```text\n42\n```",
        f"```py\n{a}\n```",
        f"```python\n{a}",
        a,
    ])


def check_extract_code(fn: Callable[[str], str]) -> bool:
    """fn(completion) -> the program in it: the body of the last ```python block, else of the last fenced
    block of any language (a block left open, as in a truncated completion, runs to the end), else the
    completion as it is. Compared with `sandbox.extract_code` (no problem given, so no MBPP markers and no
    HumanEval prompt), ignoring whitespace at both ends."""
    cases = [
        "Try:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\n```\nDone.",
        "```\ny = 3\n```",
        "```python\nz = 1\n```\n```text\noutput\n```",
        "```python\nw = 4\nprint(w)",
        "def f():\n    return 1\n",
        "Explanation first.\n```text\nnotes\n```\nthen ```python\ndef g():\n    pass\n```\nend",
        "No code, sorry.",
    ]
    rng = random.Random(7)
    cases += [_completion(rng) for _ in range(30)]

    def same(got: Any, want: str) -> bool:
        return isinstance(got, str) and got.strip() == want.strip()

    return run("extract_code", [(c,) for c in cases],
               compare("extract_code", no_delegation(fn, sandbox), sandbox.extract_code, same, CODE_MISTAKES))


def _blocks(completion: str, fence: str) -> list[str]:
    return re.findall(fence + r"\n(.*?)(?:```|$)", completion, re.DOTALL)


CODE_MISTAKES: Mistakes = [
    ("the FIRST ```python block; the model's final program is the last one",
     lambda c: (_blocks(c, "```python") or _blocks(c, "```[^\n]*") or [c])[0]),
    ("the last fenced block of any language, even after a ```python one; prefer the last ```python block",
     lambda c: (_blocks(c, "```[^\n]*") or [c])[-1]),
    ("only closed blocks: a block left open (a truncated completion) runs to the end",
     lambda c: (re.findall(r"```python\n(.*?)```", c, re.DOTALL) or re.findall(r"```[^\n]*\n(.*?)```", c, re.DOTALL)
                or [c])[-1]),
]
"""The code-extraction exercise's common wrong answers, named in its hint."""
