"""Metrics: the paper's self-correction metrics (docs/paper.md#metrics) with 95% confidence intervals.

acc_t1, acc_t2: accuracy of attempt 1 and 2. delta = acc_t2 - acc_t1 = delta_i_to_c - delta_c_to_i.
delta_i_to_c: fraction wrong at t1 and right at t2; delta_c_to_i: right at t1 and wrong at t2.
p_fix = P(right at t2 | wrong at t1), p_break = P(wrong at t2 | right at t1): the same transitions divided
by the problems that could make them (n_wrong_t1, n_right_t1); None when there are none.
Proportions get Wilson intervals; delta gets a paired normal interval over per-problem differences.
Also: the edit-distance ratio between attempts, the changed-answer and no-answer rates, majority voting and
the inference-compute scaling of Fig. 1 (right: voting over parallel first attempts vs over second attempts
at a fixed budget of generations, `scaling_table`),
and paired comparisons of two methods on the same problems (`paired_delta_difference`). Not here: plots,
and which claim a comparison supports (`verdicts.py`).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any, Callable, Mapping, Sequence

from rapidfuzz.distance import Levenshtein

from .rewards import NONE, RIGHT, WRONG, different_answers, has_answer, outcome
from .rewards.answers import answers_differ, extract_answer, is_equivalent

Z95 = 1.959963984540054
METRIC_KEYS = ("n", "acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i")


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at p = 0 (p = 1) the lower (upper) end is exactly 0 (1); computed, it is off by float rounding
    return (0.0 if successes <= 0 else max(0.0, centre - half)), (1.0 if successes >= n else min(1.0, centre + half))


def paired_interval(diffs: Sequence[float], z: float = Z95, bound: float = 1.0) -> tuple[float, float]:
    """Interval for the mean of paired differences, each in [-bound, bound], clipped to that range;
    (-bound, bound) when there are none.

    Adjusted so that it never collapses to a point: half a pseudo-difference of +1 and of -1 and one of 0 join
    the n differences (n + 2 in all) before a normal interval is taken. For differences of two binary outcomes
    ({-1, 0, 1}) this is Agresti & Min's interval for matched proportions (Stat. Med. 2005): with no discordant
    problem it is about ±z/(n+2), not [0, 0].

    >>> lo, hi = paired_interval([0.0] * 500)
    >>> round(lo, 4), round(hi, 4)
    (-0.0039, 0.0039)
    """
    n = len(diffs)
    if n == 0:
        return -bound, bound
    total = n + 2
    mean = sum(diffs) / total
    second = (sum(d * d for d in diffs) + 1.0) / total
    half = z * math.sqrt(max(0.0, second - mean * mean) / total)
    return max(-bound, mean - half), min(bound, mean + half)


T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
"""Student's t quantile 0.975 for 1..30 degrees of freedom (above 30: `Z95`, within 2%)."""


def seed_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """95% t-interval for the mean of per-seed values (one value per seed, e.g. each seed's Δ): between-seed
    variance, which an interval over problems does not see. None with fewer than two seeds.

    >>> lo, hi = seed_interval([0.040, 0.042, -0.002])
    >>> round(lo, 3), round(hi, 3)
    (-0.035, 0.088)
    """
    k = len(values)
    if k < 2:
        return None
    mean = sum(values) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    half = (T975[k - 2] if k - 1 <= len(T975) else Z95) * sd / math.sqrt(k)
    return mean - half, mean + half


def self_correction_metrics(r1: Sequence[float], r2: Sequence[float]) -> dict[str, float | list[float]]:
    """The paper's metrics from binary rewards of attempt 1 and 2 on the same problems.

    >>> m = self_correction_metrics([1, 0, 0, 1], [1, 1, 0, 0])
    >>> m["acc_t1"], m["acc_t2"], m["delta"], m["delta_i_to_c"], m["delta_c_to_i"]
    (0.5, 0.5, 0.0, 0.25, 0.25)
    >>> m["p_fix"], m["p_break"], m["n_wrong_t1"], m["n_right_t1"]
    (0.5, 0.5, 2, 2)
    """
    if len(r1) != len(r2):
        raise ValueError(f"r1 and r2 must have the same length ({len(r1)} != {len(r2)})")
    for r in (*r1, *r2):
        if r not in (0, 1):
            raise ValueError(f"rewards must be binary (0 or 1), got {r!r}")
    n = len(r1)
    c1, c2 = sum(r1), sum(r2)
    i2c = sum(1 for a, b in zip(r1, r2) if a == 0 and b == 1)
    c2i = sum(1 for a, b in zip(r1, r2) if a == 1 and b == 0)
    right1 = sum(1 for a in r1 if a == 1)
    frac = (lambda k: k / n) if n else (lambda k: 0.0)
    return {
        "n": n,
        "acc_t1": frac(c1), "acc_t2": frac(c2), "delta": frac(c2 - c1),
        "delta_i_to_c": frac(i2c), "delta_c_to_i": frac(c2i),
        "acc_t1_ci": list(wilson_interval(c1, n)), "acc_t2_ci": list(wilson_interval(c2, n)),
        "delta_ci": list(paired_interval([b - a for a, b in zip(r1, r2)])),
        "delta_i_to_c_ci": list(wilson_interval(i2c, n)), "delta_c_to_i_ci": list(wilson_interval(c2i, n)),
        "n_wrong_t1": n - right1, "n_right_t1": right1,
        "p_fix": i2c / (n - right1) if n - right1 else None, "p_fix_ci": list(wilson_interval(i2c, n - right1)),
        "p_break": c2i / right1 if right1 else None, "p_break_ci": list(wilson_interval(c2i, right1)),
    }


def edit_distance_ratio(y1: str, y2: str) -> float:
    """Levenshtein distance between the attempts divided by their total length (docs/paper.md#metrics).

    0 means attempt 2 copies attempt 1. The ratio is at most 1 (one attempt empty); two attempts of equal
    length with no character in common score 0.5.
    >>> edit_distance_ratio("abc", "abc"), edit_distance_ratio("ab", "cd")
    (0.0, 0.5)
    """
    total = len(y1) + len(y2)
    return Levenshtein.distance(y1, y2) / total if total else 0.0


def changed_answer_rate(y1s: Sequence[str], y2s: Sequence[str]) -> float:
    """Fraction of pairs whose attempt 2 proposes a different final answer from attempt 1."""
    if len(y1s) != len(y2s):
        raise ValueError("y1s and y2s must have the same length")
    return sum(answers_differ(a, b) for a, b in zip(y1s, y2s)) / len(y1s) if y1s else 0.0


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The most common non-None answer, ties going to the one seen first; None when there is none.

    Answers are compared as strings (normalise them first if needed). docs/paper.md#inference-compute
    (Fig. 1 right): the vote over parallel samples, or over the attempt 2 that follows each of them.
    >>> majority_vote(["2", None, "3", "3", "2"]), majority_vote([None])
    ('2', None)
    """
    counts = Counter(a for a in answers if a is not None)
    return max(counts, key=counts.__getitem__) if counts else None


def no_answer_rate(texts: Sequence[str]) -> float:
    """Fraction of attempts from which `answers.extract_answer` gets no final answer (0 when empty)."""
    return sum(extract_answer(t) is None for t in texts) / len(texts) if texts else 0.0


def outcomes(e: Any) -> tuple[str, str]:
    """(outcome of attempt 1, of attempt 2): "right", "wrong" or "none" (`rewards.outcome`), as the episode
    stores them, else graded from its text and rewards (episodes written before outcomes were stored)."""
    o1 = getattr(e, "outcome1", None) or outcome(e.problem, e.y1, e.r1)
    o2 = getattr(e, "outcome2", None) or outcome(e.problem, e.y2, e.r2)
    return o1, o2


TRANSITIONS = ("right_to_wrong", "right_to_none", "wrong_to_right", "none_to_right", "wrong_to_none",
               "none_to_wrong")
"""The outcome changes between attempts that `outcome_split` counts. Δc→i = right_to_wrong + right_to_none,
Δi→c = wrong_to_right + none_to_right."""


def outcome_split(episodes: Sequence) -> dict[str, Any]:
    """The paper's transitions split by answer and non-answer, as fractions of the episodes with Wilson intervals:

    right_to_wrong, right_to_none (a right answer broken into a wrong one / into no answer at all),
    wrong_to_right, none_to_right (fixed from a wrong answer / from no answer), wrong_to_none, none_to_wrong;
    gave_up_t2: an answer at attempt 1 and none at attempt 2;
    changed_answer_answered: both attempts answer and the answers differ (the paper's "proposes a different
    answer" without non-answers), with n_answered_pairs and its share among them (None when there are none);
    edit_distance_ratio_answered: the mean edit-distance ratio over answered pairs (None when none).

    >>> from scoreutils.tasks import Problem
    >>> from types import SimpleNamespace as E
    >>> p = Problem("p", "What is 2 + 3?", "5", "test", "arithmetic")
    >>> eps = [E(problem=p, y1="5", y2="Sorry.", r1=1, r2=0), E(problem=p, y1="5", y2="6", r1=1, r2=0),
    ...        E(problem=p, y1="4", y2="5", r1=0, r2=1), E(problem=p, y1="5", y2="5", r1=1, r2=1)]
    >>> m = outcome_split(eps)
    >>> m["right_to_none"], m["right_to_wrong"], m["wrong_to_right"], m["changed_answer_answered"], m["gave_up_t2"]
    (0.25, 0.25, 0.25, 0.5, 0.25)
    """
    n = len(episodes)
    pairs = [outcomes(e) for e in episodes]
    counts = Counter(f"{a}_to_{b}" for a, b in pairs if a != b)
    answered = [e for e, (a, b) in zip(episodes, pairs) if a != NONE and b != NONE]
    changed = sum(different_answers(e.problem, e.y1, e.y2) for e in answered)
    gave_up = sum(a != NONE and b == NONE for a, b in pairs)
    out: dict[str, Any] = {}
    for key, k in [*((t, counts[t]) for t in TRANSITIONS), ("gave_up_t2", gave_up),
                   ("changed_answer_answered", changed)]:
        out[key] = k / n if n else 0.0
        out[f"{key}_ci"] = list(wilson_interval(k, n))
    out["n_answered_pairs"] = len(answered)
    out["changed_answer_among_answered"] = changed / len(answered) if answered else None
    out["edit_distance_ratio_answered"] = (sum(edit_distance_ratio(e.y1, e.y2) for e in answered) / len(answered)
                                           if answered else None)
    return out


def episode_metrics(episodes: Sequence) -> dict[str, float | list[float]]:
    """`self_correction_metrics` plus, over the episodes, the mean edit-distance ratio (all pairs), the
    changed-answer rate (`changed_answer_rate`: a non-answer against an answer counts as changed), the outcome
    split of `outcome_split` (non-answers apart), n_distinct (distinct problems) and the truncation rates."""
    out = self_correction_metrics([e.r1 for e in episodes], [e.r2 for e in episodes])
    out["edit_distance_ratio"] = (sum(edit_distance_ratio(e.y1, e.y2) for e in episodes) / len(episodes)
                                  if episodes else 0.0)
    out["changed_answer_rate"] = changed_answer_rate([e.y1 for e in episodes], [e.y2 for e in episodes])
    n = max(1, len(episodes))  # no answer: `rewards.has_answer` (math: no final answer; code: no program that parses)
    out["no_answer_t1"] = sum(not has_answer(e.problem, e.y1) for e in episodes) / n
    out["no_answer_t2"] = sum(not has_answer(e.problem, e.y2) for e in episodes) / n
    out.update(outcome_split(episodes))
    out["n_distinct"] = len({problem_key(e.problem) for e in episodes})
    out["truncated_t1"] = sum(e.truncated1 for e in episodes) / max(1, len(episodes))
    out["truncated_t2"] = sum(e.truncated2 for e in episodes) / max(1, len(episodes))
    return out


# ---------------------------------------------------------------------------------------------
# Two methods on the same problems
# ---------------------------------------------------------------------------------------------
def _transition(name: str) -> Callable[[Any], float]:
    a, b = name.split("_to_")
    return lambda e: float(outcomes(e) == (a, b))


def _answered(e: Any) -> bool:
    return NONE not in outcomes(e)


PER_PROBLEM: dict[str, Callable[[Any], float | None]] = {
    "acc_t1": lambda e: float(e.r1),
    "acc_t2": lambda e: float(e.r2),
    "delta": lambda e: float(e.r2) - float(e.r1),
    "changed_answer": lambda e: float(answers_differ(e.y1, e.y2)),
    "edit_distance_ratio": lambda e: edit_distance_ratio(e.y1, e.y2),
    **{t: _transition(t) for t in TRANSITIONS},
    "fixed": lambda e: float(e.r1 == 0 and e.r2 == 1),
    "answered_net": lambda e: float(outcomes(e) == (WRONG, RIGHT)) - float(outcomes(e) == (RIGHT, WRONG)),
    "gave_up_t2": lambda e: float(outcomes(e)[0] != NONE and outcomes(e)[1] == NONE),
    "changed_answer_answered": lambda e: float(_answered(e) and different_answers(e.problem, e.y1, e.y2)),
    "edit_distance_ratio_answered": lambda e: edit_distance_ratio(e.y1, e.y2) if _answered(e) else None,
}
"""Per-episode values whose per-problem means `paired_difference` compares (names as in `episode_metrics`;
`changed_answer` is one episode's share of `changed_answer_rate`; `fixed` is Δi→c's, `answered_net` is
wrong_to_right − right_to_wrong, the net effect among answers). A value of None (an unanswered pair for
`edit_distance_ratio_answered`) leaves the episode out."""
_RANGE = {"delta": 2.0, "answered_net": 2.0}  # a difference of two such values lies in [-2, 2]; of others in [-1, 1]


def problem_key(problem: Any) -> str:
    """What identifies a problem across runs: its source and text (ids are positions in a seed's own draw, so
    the same id can name different problems in two seeds' draws)."""
    return f"{getattr(problem, 'source', '')}\x1f{problem.prompt}"


def per_problem(episodes: Sequence, key: str = "delta") -> dict[str, float]:
    """`problem_key` -> the mean of `PER_PROBLEM[key]` over that problem's episodes (one, for greedy evaluation);
    a problem whose every value is None is left out."""
    if key not in PER_PROBLEM:
        raise ValueError(f"unknown per-problem value {key!r}; choose one of {', '.join(PER_PROBLEM)}")
    values: dict[str, list[float]] = defaultdict(list)
    for e in episodes:
        v = PER_PROBLEM[key](e)
        if v is not None:
            values[problem_key(e.problem)].append(v)
    return {pid: sum(v) / len(v) for pid, v in values.items()}


def paired_difference(episodes_a: Sequence, episodes_b: Sequence, key: str = "delta") -> list[float]:
    """Per problem, value(a) - value(b), over the problems both runs hold (matched by `problem_key`), in
    a's order. Problems only one run holds are left out."""
    va, vb = per_problem(episodes_a, key), per_problem(episodes_b, key)
    return [va[pid] - vb[pid] for pid in va if pid in vb]


def pooled_paired_difference(seed_pairs: Sequence[tuple[Sequence, Sequence]], key: str = "delta"
                             ) -> dict[str, Any]:
    """Mean of value(a) - value(b) over problems, pooled over seeds: `seed_pairs` holds one (episodes_a,
    episodes_b) per seed, and their per-problem differences are concatenated before a paired normal interval
    is taken (pairs of different seeds are treated as independent). Returns {"key", "diff", "diff_ci",
    "n" (pairs), "n_seeds", "a", "b"} with "a", "b" the means of the value over the matched problems."""
    diffs: list[float] = []
    a_vals: list[float] = []
    for eps_a, eps_b in seed_pairs:
        va, vb = per_problem(eps_a, key), per_problem(eps_b, key)
        common = [pid for pid in va if pid in vb]
        diffs += [va[pid] - vb[pid] for pid in common]
        a_vals += [va[pid] for pid in common]
    n = len(diffs)
    mean_a = sum(a_vals) / n if n else 0.0
    mean_diff = sum(diffs) / n if n else 0.0
    return {"key": key, "diff": mean_diff, "diff_ci": list(paired_interval(diffs, bound=_RANGE.get(key, 1.0))),
            "n": n, "n_seeds": len(seed_pairs), "a": mean_a, "b": mean_a - mean_diff}


def paired_delta_difference(episodes_a: Sequence, episodes_b: Sequence) -> dict[str, Any]:
    """Mean over shared problems of (Δ_a - Δ_b), Δ = r2 - r1 of each problem, with a paired normal
    interval: does method a self-correct more than method b on the same problems? One seed; for several
    use `pooled_paired_difference(list_of_pairs, "delta")`."""
    return pooled_paired_difference([(episodes_a, episodes_b)], "delta")


def metrics_table(rows: dict[str, dict], paper: dict[str, tuple] | None = None, paper_n: int = 500) -> str:
    """A Markdown table of the paper's metrics (in %) with 95% intervals, one row per method."""
    head = "| method | n | Acc@t1 | Acc@t2 | Δ(t1,t2) | Δ i→c | Δ c→i |"
    lines = [head, "|" + "---|" * 7]

    def cell(m: dict, key: str) -> str:
        lo, hi = m.get(f"{key}_ci", [float("nan")] * 2)
        return f"{100 * m[key]:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"

    for name, m in rows.items():
        lines.append(f"| {name} | {m['n']} | " + " | ".join(cell(m, k) for k in METRIC_KEYS[1:]) + " |")
    for name, vals in (paper or {}).items():
        lines.append(f"| {name} (paper) | {paper_n} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
    return "\n".join(lines)


def ablation_table(rows: dict[str, dict], paper: dict[str, tuple] | None = None, paper_n: int = 500) -> str:
    """A Markdown table of Acc@t1, Acc@t2 and Δ (in %, with 95% intervals) in the layout of the paper's
    Table 4, with its rows (t1, t2, Δ) beside the kit's when given."""
    lines = ["| method | n | Acc@t1 | Acc@t2 | Δ(t1,t2) |", "|---|---|---|---|---|"]
    for name, m in rows.items():
        cells = [f"{100 * m[k]:.1f} [{100 * m[k + '_ci'][0]:.1f}, {100 * m[k + '_ci'][1]:.1f}]"
                 for k in ("acc_t1", "acc_t2", "delta")]
        lines.append(f"| {name} | {m['n']} | " + " | ".join(cells) + " |")
    for name, vals in (paper or {}).items():
        lines.append(f"| {name} (paper) | {paper_n} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Inference-compute scaling (docs/paper.md#inference-compute, Fig. 1 right): with a fixed budget of generations
# per problem, majority voting over parallel first attempts vs over self-corrected second attempts (each second
# attempt costs two generations: attempt 1, then attempt 2).
# ---------------------------------------------------------------------------------------------
def _grouped(episodes: Sequence[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for e in episodes:
        groups[e.problem.id].append(e)
    return groups


def voted_accuracy(episodes: Sequence[Any], budget: int, sequential: bool) -> float:
    """Accuracy of the majority answer per problem with `budget` generations per problem.

    Parallel: the first `budget` samples' attempt-1 answers vote. Sequential: the first `budget // 2`
    samples' attempt-2 answers vote (each used two generations). Samples are taken in their sampled order,
    so every budget reuses the same episodes.
    """
    groups = _grouped(episodes)
    take = budget // 2 if sequential else budget
    if take < 1:
        raise ValueError(f"a budget of {budget} generations is too small for {'sequential' if sequential else 'parallel'} voting")
    correct = 0
    for eps in groups.values():
        if len(eps) < take:
            raise ValueError(f"problem {eps[0].problem.id} has {len(eps)} samples; the budget needs {take}")
        answers = [extract_answer(e.y2 if sequential else e.y1) for e in eps[:take]]
        vote = majority_vote(answers)
        correct += vote is not None and is_equivalent(vote, eps[0].problem.reference)
    return correct / len(groups)


def vote_answers(episodes: Sequence[Any]) -> list[dict[str, Any]]:
    """Per problem (in first-seen order), what majority voting reads: {"key" (`problem_key`), "reference",
    "answers1", "answers2"}, the extracted answers of each sample's attempt 1 and attempt 2 in sampled order
    (None: no answer). A compact record of a scaling run (`runs.pipeline.run_scaling` writes it), from which
    `voted_outcomes` recomputes every budget's vote."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for e in episodes:
        groups[problem_key(e.problem)].append(e)
    return [{"key": key, "reference": eps[0].problem.reference, "answers1": [extract_answer(e.y1) for e in eps],
             "answers2": [extract_answer(e.y2) for e in eps]} for key, eps in groups.items()]


def voted_outcomes(records: Sequence[Mapping[str, Any]], budget: int) -> dict[str, tuple[float, float]]:
    """`problem_key` -> (parallel right, sequential right), 1.0 or 0.0, of the majority vote at `budget`
    generations per problem (`voted_accuracy`'s rule: parallel, the first `budget` attempt-1 answers;
    sequential, the attempt-2 answers of the first `budget // 2` samples), from `vote_answers` records."""
    out = {}
    for r in records:
        if len(r["answers1"]) < budget:
            raise ValueError(f"a problem has {len(r['answers1'])} samples; a budget of {budget} needs {budget}")
        votes = (majority_vote(r["answers1"][:budget]), majority_vote(r["answers2"][:budget // 2]))
        out[r["key"]] = tuple(float(v is not None and is_equivalent(v, r["reference"])) for v in votes)
    return out


def scaling_table(episodes: Sequence[Any], budgets: Sequence[int]) -> list[dict[str, float]]:
    """Rows {budget, parallel, sequential} of voted accuracy for each budget (even budgets)."""
    return [{"budget": b, "parallel": voted_accuracy(episodes, b, sequential=False),
             "sequential": voted_accuracy(episodes, b, sequential=True)} for b in budgets]
