"""Metrics: the paper's self-correction metrics (docs/paper.md#metrics) with 95% confidence intervals.

acc_t1, acc_t2: accuracy of attempt 1 and 2. delta = acc_t2 - acc_t1 = delta_i_to_c - delta_c_to_i.
delta_i_to_c: fraction wrong at t1 and right at t2; delta_c_to_i: right at t1 and wrong at t2.
Proportions get Wilson intervals; delta gets a paired normal interval over per-problem differences.
Also: the edit-distance ratio between attempts, the changed-answer rate and majority voting. Not here: plots.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

from rapidfuzz.distance import Levenshtein

from .answers import answers_differ

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
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_interval(diffs: Sequence[float], z: float = Z95) -> tuple[float, float]:
    """Normal interval for the mean of paired differences (each in {-1, 0, 1})."""
    n = len(diffs)
    if n == 0:
        return -1.0, 1.0
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    half = z * math.sqrt(var / n)
    return max(-1.0, mean - half), min(1.0, mean + half)


def self_correction_metrics(r1: Sequence[float], r2: Sequence[float]) -> dict[str, float | list[float]]:
    """The paper's metrics from binary rewards of attempt 1 and 2 on the same problems.

    >>> m = self_correction_metrics([1, 0, 0, 1], [1, 1, 0, 0])
    >>> m["acc_t1"], m["acc_t2"], m["delta"], m["delta_i_to_c"], m["delta_c_to_i"]
    (0.5, 0.5, 0.0, 0.25, 0.25)
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
    frac = (lambda k: k / n) if n else (lambda k: 0.0)
    return {
        "n": n,
        "acc_t1": frac(c1), "acc_t2": frac(c2), "delta": frac(c2 - c1),
        "delta_i_to_c": frac(i2c), "delta_c_to_i": frac(c2i),
        "acc_t1_ci": list(wilson_interval(c1, n)), "acc_t2_ci": list(wilson_interval(c2, n)),
        "delta_ci": list(paired_interval([b - a for a, b in zip(r1, r2)])),
        "delta_i_to_c_ci": list(wilson_interval(i2c, n)), "delta_c_to_i_ci": list(wilson_interval(c2i, n)),
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


def episode_metrics(episodes: Sequence) -> dict[str, float | list[float]]:
    """`self_correction_metrics` plus mean edit-distance ratio and changed-answer rate of episodes."""
    out = self_correction_metrics([e.r1 for e in episodes], [e.r2 for e in episodes])
    out["edit_distance_ratio"] = (sum(edit_distance_ratio(e.y1, e.y2) for e in episodes) / len(episodes)
                                  if episodes else 0.0)
    out["changed_answer_rate"] = changed_answer_rate([e.y1 for e in episodes], [e.y2 for e in episodes])
    out["truncated_t1"] = sum(e.truncated1 for e in episodes) / max(1, len(episodes))
    out["truncated_t2"] = sum(e.truncated2 for e in episodes) / max(1, len(episodes))
    return out


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
