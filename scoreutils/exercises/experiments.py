"""Experiment exercises: short runs a student writes and runs in minutes (smoke or cpu size). The student's
function runs once; its checker checks the SHAPE of the result (a dict with the right keys, numbers in
range) and prints one line with the numbers to read, never judging them. Lessons 00 (greedy vs sampled),
01 (an instruction of one's own), 04 (the variance a baseline removes) and 06 (a sweep over alpha)."""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from ._harness import experiment, number, show, summary_problem

UNIT = (0.0, 1.0)
REAL = (-math.inf, math.inf)
EPISODES = {"n": (1, math.inf), "acc_t1": UNIT, "acc_t2": UNIT, "changed_answer_rate": UNIT}
TRANSITIONS = {"n": (1, math.inf), "acc_t1": UNIT, "acc_t2": UNIT, "delta_i_to_c": UNIT, "delta_c_to_i": UNIT}
SWEEP = {"n": (1, math.inf), "changed_answer_rate": UNIT, "delta_i_to_c": UNIT, "delta_c_to_i": UNIT}
ESTIMATE = {"mean": REAL, "variance": (0.0, math.inf)}


def _keys_problem(result: Any, parts: Mapping[str, Mapping[str, tuple[float, float]]]) -> str | None:
    """Why `result` is not {part: summary} with each summary holding `parts[part]`'s keys; None when it is."""
    if not isinstance(result, Mapping):
        return f"return a dict with keys {sorted(parts)}, got {show(result)}"
    for part, keys in parts.items():
        if part not in result:
            return f"the result lacks {part!r} (has {sorted(map(str, result))})"
        why = summary_problem(result[part], keys, f"result[{part!r}]")
        if why:
            return why
    return None


# --- 00: greedy vs sampled ----------------------------------------------------------------------------

def check_sampled_vs_greedy(fn: Callable[[], Mapping[str, Any]] | Mapping[str, Any]) -> bool:
    """fn() -> {"greedy": summary, "sampled": summary}: the same problems decoded greedily (temperature 0)
    and sampled (temperature > 0), each summary a dict with "n" (episodes), "acc_t1", "acc_t2" and
    "changed_answer_rate" as fractions (e.g. picked from `episode_metrics`)."""
    def describe(r: Mapping[str, Any]) -> str:
        g, s = r["greedy"], r["sampled"]
        return (f"greedy Acc@t1 {number(g['acc_t1']):.2f} → Acc@t2 {number(g['acc_t2']):.2f} (n={int(number(g['n']))}), "
                f"sampled {number(s['acc_t1']):.2f} → {number(s['acc_t2']):.2f} (n={int(number(s['n']))}); "
                f"changed-answer rate {number(g['changed_answer_rate']):.2f} vs {number(s['changed_answer_rate']):.2f}")

    return experiment("sampled_vs_greedy", fn, lambda r: _keys_problem(r, {"greedy": EPISODES, "sampled": EPISODES}),
                      describe)


# --- 01: a turn-2 instruction of one's own ------------------------------------------------------------

def _instruction_problem(r: Any) -> str | None:
    if not isinstance(r, Mapping):
        return f"return a dict with keys {sorted(['instruction', *TRANSITIONS])}, got {show(r)}"
    if not isinstance(r.get("instruction"), str) or not r["instruction"].strip():
        return f"result['instruction'] should be the (non-empty) instruction you tried, got {show(r.get('instruction'))}"
    why = summary_problem(r, TRANSITIONS, "the result")
    if why:
        return why
    delta, split = number(r["acc_t2"]) - number(r["acc_t1"]), number(r["delta_i_to_c"]) - number(r["delta_c_to_i"])
    if abs(delta - split) > 1e-6:
        return (f"Acc@t2 - Acc@t1 = {delta:.4f} but Δi→c - Δc→i = {split:.4f}: they are equal on the same problems "
                f"(are all four from one evaluation?)")
    return None


def check_own_instruction(fn: Callable[[], Mapping[str, Any]] | Mapping[str, Any]) -> bool:
    """fn() -> {"instruction", "n", "acc_t1", "acc_t2", "delta_i_to_c", "delta_c_to_i"}: a greedy two-attempt
    evaluation with a turn-2 instruction of your own (fractions). Also checks Δ = Δi→c − Δc→i."""
    def describe(r: Mapping[str, Any]) -> str:
        return (f"Δ = {number(r['acc_t2']) - number(r['acc_t1']):+.2f} (i→c {number(r['delta_i_to_c']):.2f}, "
                f"c→i {number(r['delta_c_to_i']):.2f}) on n={int(number(r['n']))} with your instruction")

    return experiment("own_instruction", fn, _instruction_problem, describe)


# --- 04: what a baseline does to the policy gradient --------------------------------------------------

def check_baseline_variance(fn: Callable[[], Mapping[str, Any]] | Mapping[str, Any]) -> bool:
    """fn() -> {"exact": d/dtheta E[r], "no_baseline": {"mean", "variance"}, "rloo": {"mean", "variance"}}:
    the mean and variance over many sampled groups of the per-sample REINFORCE estimate r (a - p) of a
    one-parameter Bernoulli policy, without a baseline and with the leave-one-out one (r - b)(a - p)."""
    def problem(r: Any) -> str | None:
        why = _keys_problem(r, {"no_baseline": ESTIMATE, "rloo": ESTIMATE})
        if why is None and number(r.get("exact")) is None:
            return f"result['exact'] should be the exact gradient (a number), got {show(r.get('exact'))}"
        return why

    def describe(r: Mapping[str, Any]) -> str:
        n, b = r["no_baseline"], r["rloo"]
        return (f"exact {number(r['exact']):.4f} | no baseline: mean {number(n['mean']):.4f}, variance "
                f"{number(n['variance']):.4f} | RLOO: mean {number(b['mean']):.4f}, variance {number(b['variance']):.4f}")

    return experiment("baseline_variance", fn, problem, describe)


# --- 06: the bonus scale alpha ------------------------------------------------------------------------

def _sweep_problem(r: Any) -> str | None:
    if not isinstance(r, Mapping) or len(r) < 2:
        return f"return a dict {{alpha: summary}} with at least two values of alpha, got {show(r)}"
    alphas = [number(a) for a in r]
    if any(a is None or a < 0 for a in alphas):
        return f"the keys should be the values of alpha (numbers >= 0), got {show(list(r))}"
    if 0.0 not in alphas:
        return f"include alpha = 0 (no shaping) as the point of comparison; got alphas {show(list(r))}"
    for alpha, summary in r.items():
        why = summary_problem(summary, SWEEP, f"result[{alpha!r}]")
        if why:
            return why
    return None


def check_alpha_sweep(fn: Callable[[], Mapping[float, Any]] | Mapping[float, Any]) -> bool:
    """fn() -> {alpha: {"n", "changed_answer_rate", "delta_i_to_c", "delta_c_to_i"}}: Stage II trained at
    each alpha (alpha = 0 among them), evaluated greedily on held-out problems (fractions)."""
    def describe(r: Mapping[float, Any]) -> str:
        parts = [f"α={number(a):g}: {number(s['changed_answer_rate']):.2f}" for a, s in sorted(r.items(), key=lambda x: number(x[0]))]
        n = sorted({int(number(s["n"])) for s in r.values()})
        return f"changed-answer rate {', '.join(parts)} (n={'/'.join(map(str, n))} problems)"

    return experiment("alpha_sweep", fn, _sweep_problem, describe)
