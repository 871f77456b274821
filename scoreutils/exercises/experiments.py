"""Experiment exercises: short runs a student writes and runs in minutes (smoke or cpu size). The student's
function runs once; its checker checks the shape of the result (a dict with the right keys, numbers in
range) and every value that is checkable without knowing the student's model: rates that are whole counts
out of n, transitions within what attempt 1 allows, Δ = Δi→c − Δc→i, and for the baseline exercise the
exact mean and variance of both estimators (within the sampling error of the groups drawn). It prints one
line with the numbers to read; what a model's accuracies or rates should be is not checkable, and the
line says so. Lessons 00 (greedy vs sampled), 01 (an instruction of one's own), 04 (the variance a
baseline removes) and 06 (a sweep over alpha)."""
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


NOT_CHECKABLE = "not checkable: what your model's rates should be"
SIGMAS = 6.0
"""Sampled estimates pass within this many standard errors of their exact value."""


def _whole_counts(summary: Mapping[str, Any], keys: tuple[str, ...], where: str) -> str | None:
    """Why a rate of `keys` is not a whole count out of summary["n"]; None when all are."""
    n = int(number(summary["n"]))
    for key in keys:
        count = number(summary[key]) * n
        if abs(count - round(count)) > 1e-6:
            return (f"{where}[{key!r}] = {number(summary[key]):.4g} is not a whole count out of n = {n} "
                    f"({count:.3f} problems): are the rate and n from the same episodes?")
    return None


def _transitions_problem(summary: Mapping[str, Any], where: str) -> str | None:
    """Δi→c at most the wrong attempt-1 share, Δc→i at most the right one; both counts whole."""
    acc1, fix, brk = number(summary["acc_t1"]), number(summary["delta_i_to_c"]), number(summary["delta_c_to_i"])
    if fix > 1 - acc1 + 1e-9:
        return f"{where}: Δi→c = {fix:.4g} exceeds the share of wrong first attempts, 1 - Acc@t1 = {1 - acc1:.4g}"
    if brk > acc1 + 1e-9:
        return f"{where}: Δc→i = {brk:.4g} exceeds the share of right first attempts, Acc@t1 = {acc1:.4g}"
    return None


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

    def problem(r: Any) -> str | None:
        return (_keys_problem(r, {"greedy": EPISODES, "sampled": EPISODES})
                or _whole_counts(r["greedy"], ("acc_t1", "acc_t2"), "result['greedy']")
                or _whole_counts(r["sampled"], ("acc_t1", "acc_t2"), "result['sampled']"))

    return experiment("sampled_vs_greedy", fn, problem, lambda r: f"{describe(r)} ({NOT_CHECKABLE})")


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
    return (_whole_counts(r, ("acc_t1", "acc_t2", "delta_i_to_c", "delta_c_to_i"), "result")
            or _transitions_problem(r, "the result"))


def check_own_instruction(fn: Callable[[], Mapping[str, Any]] | Mapping[str, Any]) -> bool:
    """fn() -> {"instruction", "n", "acc_t1", "acc_t2", "delta_i_to_c", "delta_c_to_i"}: a greedy two-attempt
    evaluation with a turn-2 instruction of your own (fractions). Also checks Δ = Δi→c − Δc→i."""
    def describe(r: Mapping[str, Any]) -> str:
        return (f"Δ = {number(r['acc_t2']) - number(r['acc_t1']):+.2f} (i→c {number(r['delta_i_to_c']):.2f}, "
                f"c→i {number(r['delta_c_to_i']):.2f}) on n={int(number(r['n']))} with your instruction ({NOT_CHECKABLE})")

    return experiment("own_instruction", fn, _instruction_problem, describe)


# --- 04: what a baseline does to the policy gradient --------------------------------------------------

def baseline_moments(p: float, k: int) -> dict[str, tuple[float, float, float]]:
    """The exact mean, variance and fourth central moment of the per-sample REINFORCE estimate of
    d/dtheta E[r] for the Bernoulli policy pi(a = 1) = p = sigmoid(theta), reward r = a, score a - p:
    "no_baseline": r (a - p); "rloo": (r - b)(a - p), b the mean reward of the k - 1 other samples of the
    group. Enumerated over a and the others' count of ones (binomial), so exact."""
    outcomes: dict[str, list[tuple[float, float]]] = {"no_baseline": [], "rloo": []}
    for a in (0, 1):
        pa = p if a else 1 - p
        outcomes["no_baseline"].append((pa, a * (a - p)))
        for s in range(k):
            ps = math.comb(k - 1, s) * p ** s * (1 - p) ** (k - 1 - s)
            outcomes["rloo"].append((pa * ps, (a - s / (k - 1)) * (a - p)))
    moments = {}
    for name, dist in outcomes.items():
        mean = sum(w * x for w, x in dist)
        var = sum(w * (x - mean) ** 2 for w, x in dist)
        moments[name] = (mean, var, sum(w * (x - mean) ** 4 for w, x in dist))
    return moments


def _baseline_problem(r: Any) -> str | None:
    why = _keys_problem(r, {"no_baseline": ESTIMATE, "rloo": ESTIMATE})
    if why:
        return why
    for key in ("exact", "p", "k", "groups"):
        if number(r.get(key)) is None:
            return (f"result[{key!r}] should be a number (p, k and groups let the checker compute the exact values), "
                    f"got {show(r.get(key))}")
    p, k, groups = number(r["p"]), number(r["k"]), number(r["groups"])
    if not 0 < p < 1 or k != int(k) or k < 2 or groups != int(groups) or groups < 1:
        return f"need 0 < p < 1, a whole k >= 2 and a whole number of groups >= 1; got p={p:g}, k={k:g}, groups={groups:g}"
    if not math.isclose(number(r["exact"]), p * (1 - p), abs_tol=1e-9):
        return (f"result['exact'] = {number(r['exact']):.6g}, but d/dtheta E[r] = dp/dtheta = p (1 - p) = "
                f"{p * (1 - p):.6g} for p = {p:g}")
    for name, (mean, var, m4) in baseline_moments(p, int(k)).items():
        # k samples of a group are dependent; counting each group once bounds the standard error from above
        se_mean, se_var = math.sqrt(var / groups), math.sqrt(max(m4 - var ** 2, 0.0) / groups)
        got_mean, got_var = number(r[name]["mean"]), number(r[name]["variance"])
        if abs(got_mean - mean) > SIGMAS * se_mean + 1e-9:
            return (f"result[{name!r}]['mean'] = {got_mean:.4f}, but the estimate's exact mean is {mean:.4f} "
                    f"(± {SIGMAS * se_mean:.4f} for {int(groups)} groups)"
                    + ("; a baseline that includes the sample itself biases it" if name == "rloo" else ""))
        if abs(got_var - var) > SIGMAS * se_var + 1e-9:
            return (f"result[{name!r}]['variance'] = {got_var:.4f}, but the estimate's exact variance is {var:.4f} "
                    f"(± {SIGMAS * se_var:.4f} for {int(groups)} groups): the variance of the per-sample estimates?")
    return None


def check_baseline_variance(fn: Callable[[], Mapping[str, Any]] | Mapping[str, Any]) -> bool:
    """fn() -> {"p", "k", "groups", "exact": d/dtheta E[r], "no_baseline": {"mean", "variance"},
    "rloo": {"mean", "variance"}}: the mean and variance over `groups` sampled groups of k of the
    per-sample REINFORCE estimate r (a - p) of a one-parameter Bernoulli policy (pi(a = 1) = p, r = a),
    without a baseline and with the leave-one-out one, (r - b)(a - p). Checked against the exact values
    (`baseline_moments`) within six standard errors."""
    def describe(r: Mapping[str, Any]) -> str:
        n, b = r["no_baseline"], r["rloo"]
        return (f"exact {number(r['exact']):.4f} | no baseline: mean {number(n['mean']):.4f}, variance "
                f"{number(n['variance']):.4f} | RLOO: mean {number(b['mean']):.4f}, variance {number(b['variance']):.4f}"
                f" (all within the sampling error of the exact values)")

    return experiment("baseline_variance", fn, _baseline_problem, describe)


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
        where = f"result[{alpha!r}]"
        why = summary_problem(summary, SWEEP, where) or _whole_counts(summary, ("delta_i_to_c", "delta_c_to_i"), where)
        if why:
            return why
        if number(summary["delta_i_to_c"]) + number(summary["delta_c_to_i"]) > 1 + 1e-9:
            return f"{where}: Δi→c + Δc→i exceeds 1 (each problem moves at most once)"
    return None


def check_alpha_sweep(fn: Callable[[], Mapping[float, Any]] | Mapping[float, Any]) -> bool:
    """fn() -> {alpha: {"n", "changed_answer_rate", "delta_i_to_c", "delta_c_to_i"}}: Stage II trained at
    each alpha (alpha = 0 among them), evaluated greedily on held-out problems (fractions)."""
    def describe(r: Mapping[float, Any]) -> str:
        parts = [f"α={number(a):g}: {number(s['changed_answer_rate']):.2f}" for a, s in sorted(r.items(), key=lambda x: number(x[0]))]
        n = sorted({int(number(s["n"])) for s in r.values()})
        return f"changed-answer rate {', '.join(parts)} (n={'/'.join(map(str, n))} problems; {NOT_CHECKABLE})"

    return experiment("alpha_sweep", fn, _sweep_problem, describe)
