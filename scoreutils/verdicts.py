"""Verdicts: the paper's claims, each checked by a rule in code against the kit's own results.

`load_results(root, profile)` finds every held-out evaluation under results/ (an evaluation F.json with
F.episodes.jsonl, or a training run's metrics.json beside its config.json) and groups them into arms: the
method (config.json's "method", else the evaluation's label) plus every profile field that differs from the
named profile, e.g. "score[alpha=0]"; one run per seed. `verdicts(results, scaling)` applies `CLAIMS` and
returns one {"id", "claim", "verdict", "evidence", "rule"} per claim; `summary(results)` gives one row per
arm. A verdict is "reproduced", "not reproduced" or "inconclusive", from 95% intervals only:

    claim θ > 0:  reproduced when the interval lies above 0, not reproduced when it lies at or below 0
    claim θ < 0:  reproduced when it lies below 0, not reproduced when it lies at or above 0
    claim θ ≤ 0:  reproduced when it lies at or below 0, not reproduced when it lies above 0
    otherwise, or with fewer than MIN_N paired problems or a missing run: inconclusive.

A claim over several arms or comparisons is not reproduced when any of them contradicts it, reproduced when
all of them support it. Comparisons pair problems by id (`metrics.pooled_paired_difference`) and pool seeds
by concatenating the pairs of each seed. Not here: the metrics (metrics.py), the README (tools/report.py).
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .answers import answers_differ
from .config import PROFILES, profile_defaults
from .metrics import Z95, paired_interval, pooled_paired_difference

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
MIN_N = 10
"""Fewer paired problems than this give "inconclusive": a normal interval means little below it."""
NAMING_IGNORES = ("seed", "eval_every", "save_every", "batch_size")
"""Profile fields that do not make a run another arm (the seed makes it another run of the same arm)."""
ORDER = ("base", "control", "Self-Refine", "star", "star_plus", "pair_sft", "pair_sft_plus", "naive_rl", "stage1",
         "stage2", "stage2[alpha=0]", "score", "score[alpha=0]", "score-control")
SFT_ARMS = ("star", "star_plus", "pair_sft", "pair_sft_plus")


@dataclass
class RunResult:
    """One held-out evaluation of one arm and seed."""

    arm: str
    seed: int
    path: Path
    metrics: dict[str, Any]
    episodes: list[Any]
    log: list[dict[str, Any]] = field(default_factory=list)


Results = Mapping[str, Sequence[RunResult]]


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples -> lists, as config.json stores them


def arm_name(method: str, profile: dict[str, Any], n: int | None = None) -> str:
    """`method` plus "[field=value,...]" for each field of `profile` that differs from the profile it names
    (fields a run predates count as their defaults), and "n=..." when it evaluated another number of problems."""
    named = PROFILES.get(profile.get("name", ""))
    if named is None:
        return method
    defaults, ref = _plain(profile_defaults()), _plain(named.to_dict())
    diffs = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in ((k, _plain(profile.get(k, defaults.get(k)))) for k in ref)
             if k not in NAMING_IGNORES and k != "name" and v != ref[k]]
    if n is not None and n != profile.get("n_eval", ref["n_eval"]):
        diffs.append(f"n={n}")
    return method + (f"[{','.join(diffs)}]" if diffs else "")


def _evaluation(path: Path) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(method, metrics, profile) when `path` is a held-out evaluation with its episodes, else None."""
    episodes = path.with_suffix(".episodes.jsonl")
    if not episodes.exists():
        return None
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("profile"), dict) or "label" not in metrics:
        return None
    if metrics.get("split", "test") != "test":
        return None
    config = path.parent / "config.json"
    method = metrics["label"]
    if path.name == "metrics.json" and config.exists():  # a training run's method; an evaluation keeps its label
        configured = json.loads(config.read_text()).get("method")
        method = configured if configured and configured != "eval" else method
    return method, metrics, metrics["profile"]


def load_results(root: Path, profile: str = "cpu") -> dict[str, list[RunResult]]:
    """arm -> its runs (one per seed, by seed) of every held-out evaluation under `root` made in `profile`.
    Checkpoint and log folders are skipped; a second run of the same arm and seed is skipped with a warning."""
    from .pipeline import read_episodes, read_jsonl

    root, out = Path(root), {}
    for path in sorted(root.rglob("*.json")):
        if {"checkpoints", "logs"} & set(path.relative_to(root).parts):
            continue
        found = _evaluation(path)
        if found is None or found[2].get("name") != profile:
            continue
        method, metrics, prof = found
        arm = arm_name(method, prof, metrics.get("n"))
        seed = int(prof.get("seed", 0))
        if any(r.seed == seed for r in out.get(arm, [])):
            warnings.warn(f"{path}: a second run of {arm}, seed {seed}; kept the first", stacklevel=2)
            continue
        log = read_jsonl(path.parent / "log.jsonl") if path.name == "metrics.json" else []
        out.setdefault(arm, []).append(RunResult(arm, seed, path, metrics,
                                                 read_episodes(path.with_suffix(".episodes.jsonl")), log))
    return {arm: sorted(runs, key=lambda r: r.seed) for arm, runs in sorted(out.items(), key=_order)}


def _order(item: tuple[str, Any]) -> tuple[int, str]:
    return (ORDER.index(item[0]) if item[0] in ORDER else len(ORDER), item[0])


def load_scaling(root: Path, profile: str = "cpu") -> dict[str, Any] | None:
    """results/scaling.json (lesson 07's majority-voting curves) when it was made in `profile`."""
    path = Path(root) / "scaling.json"
    data = json.loads(path.read_text()) if path.exists() else None
    return data if data and data.get("profile", {}).get("name") == profile else None


# ---------------------------------------------------------------------------------------------
# Statistics of arms
# ---------------------------------------------------------------------------------------------
def _problems(run: RunResult) -> set[tuple[str, str]]:
    return {(e.problem.id, e.problem.prompt) for e in run.episodes}


def seed_pairs(runs_a: Sequence[RunResult], runs_b: Sequence[RunResult]) -> list[tuple[RunResult, RunResult]]:
    """Runs of two arms to compare: by seed. An arm with a single run (e.g. a greedy base evaluation that no
    seed changes) also pairs it with each run of the other arm that has no run of its seed, when both were
    evaluated on the same problems: where each seed draws its own problems (the repro profile), ids repeat
    across seeds for other problems, and such runs must not pair."""
    by_seed = {b.seed: b for b in runs_b}
    pairs = [(a, by_seed[a.seed]) for a in runs_a if a.seed in by_seed]
    if len(runs_b) == 1:
        pairs += [(a, runs_b[0]) for a in runs_a if a.seed != runs_b[0].seed and _problems(a) == _problems(runs_b[0])]
    elif len(runs_a) == 1:
        pairs += [(runs_a[0], b) for b in runs_b if b.seed != runs_a[0].seed and _problems(runs_a[0]) == _problems(b)]
    return sorted(pairs, key=lambda p: (p[0].seed, p[1].seed))


def arm_delta(runs: Sequence[RunResult]) -> dict[str, Any]:
    """Δ of one arm pooled over its seeds (per-problem r2 - r1 concatenated, paired interval), with accuracies,
    the per-seed Δ and their mean and standard deviation across seeds (None for one seed)."""
    diffs = [float(e.r2) - float(e.r1) for r in runs for e in r.episodes]
    n = len(diffs)
    per_seed = [sum(float(e.r2) - float(e.r1) for e in r.episodes) / len(r.episodes) if r.episodes else 0.0
                for r in runs]
    k = len(per_seed)
    mean_seed = sum(per_seed) / k if k else 0.0
    sd = math.sqrt(sum((d - mean_seed) ** 2 for d in per_seed) / (k - 1)) if k > 1 else None
    return {"n": n, "seeds": [r.seed for r in runs], "n_eval": sorted({len(r.episodes) for r in runs}),
            "acc_t1": sum(float(e.r1) for r in runs for e in r.episodes) / n if n else 0.0,
            "acc_t2": sum(float(e.r2) for r in runs for e in r.episodes) / n if n else 0.0,
            "delta": sum(diffs) / n if n else 0.0, "delta_ci": list(paired_interval(diffs)),
            "delta_per_seed": per_seed, "delta_seed_mean": mean_seed, "delta_seed_sd": sd}


def summary(results: Results) -> list[dict[str, Any]]:
    """One row per arm: seeds, held-out problems per seed, pooled accuracies and Δ with its interval, and Δ's
    across-seed mean and standard deviation."""
    rows = []
    for arm, runs in results.items():
        d = arm_delta(runs)
        rows.append({"method": arm, **d, "n_eval": d["n_eval"][0] if len(d["n_eval"]) == 1 else d["n_eval"]})
    return rows


def compare(results: Results, a: str, b: str, key: str = "delta") -> dict[str, Any]:
    """`metrics.pooled_paired_difference` of arm a minus arm b on `key`, with the seeds used."""
    pairs = seed_pairs(results[a], results[b])
    out = pooled_paired_difference([(ra.episodes, rb.episodes) for ra, rb in pairs], key)
    return {**out, "seeds": sorted({ra.seed for ra, _ in pairs})}


def answer_agreement_gap(results: Results, arm: str, ref: str) -> dict[str, Any]:
    """Per problem: [arm's turn-1 answer equals ref's] - [arm's turn-2 answer equals ref's], pooled over seed
    pairs. Positive: turn 1 stays with the reference model more than turn 2 does."""
    diffs: list[float] = []
    same1 = same2 = 0
    pairs = seed_pairs(results[arm], results[ref])
    for ra, rb in pairs:
        ref_eps = {e.problem.id: e for e in rb.episodes}
        for e in {e.problem.id: e for e in ra.episodes}.values():
            r = ref_eps.get(e.problem.id)
            if r is None:
                continue
            s1, s2 = not answers_differ(e.y1, r.y1), not answers_differ(e.y2, r.y2)
            same1, same2 = same1 + s1, same2 + s2
            diffs.append(float(s1) - float(s2))
    n = len(diffs)
    return {"diff": sum(diffs) / n if n else 0.0, "diff_ci": list(paired_interval(diffs)), "n": n,
            "n_seeds": len(pairs), "seeds": sorted({ra.seed for ra, _ in pairs}),
            "same_t1": same1 / n if n else 0.0, "same_t2": same2 / n if n else 0.0}


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
RULES = {">0": "the 95% interval lies above 0 (reproduced) / at or below 0 (not reproduced)",
         "<0": "the 95% interval lies below 0 (reproduced) / at or above 0 (not reproduced)",
         "<=0": "the 95% interval lies at or below 0 (reproduced) / above 0 (not reproduced)"}


LABELS = {"delta": "Δ", "acc_t1": "Acc@t1", "acc_t2": "Acc@t2", "changed_answer": "changed-answer rate",
          "edit_distance_ratio": "edit-distance ratio"}


def interval_verdict(ci: Sequence[float], sign: str, n: int) -> str:
    """The verdict on "θ `sign` 0" (">0", "<0" or "<=0") from θ's interval over n paired problems."""
    lo, hi = ci
    if n < MIN_N:
        return INCONCLUSIVE
    if sign == ">0":
        return REPRODUCED if lo > 0 else NOT_REPRODUCED if hi <= 0 else INCONCLUSIVE
    if sign == "<0":
        return REPRODUCED if hi < 0 else NOT_REPRODUCED if lo >= 0 else INCONCLUSIVE
    if sign == "<=0":
        return REPRODUCED if hi <= 0 else NOT_REPRODUCED if lo > 0 else INCONCLUSIVE
    raise ValueError(f"sign must be one of {', '.join(RULES)}, not {sign!r}")


def combine(parts: Sequence[str], missing: Sequence[str] = ()) -> str:
    """Any part contradicting -> not reproduced; all present and supporting -> reproduced; else inconclusive."""
    if NOT_REPRODUCED in parts:
        return NOT_REPRODUCED
    return REPRODUCED if parts and not missing and all(p == REPRODUCED for p in parts) else INCONCLUSIVE


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def _ci(ci: Sequence[float]) -> str:
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _seeds(seeds: Sequence[int]) -> str:
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))})"


def _stat(name: str, d: dict[str, Any], value: str = "diff") -> str:
    return f"{name} = {_pp(d[value])} pts {_ci(d[value + '_ci'])}, n = {d['n']} paired problems, {_seeds(d['seeds'])}"


def _missing(results: Results, arms: Sequence[str]) -> list[str]:
    return [a for a in arms if not results.get(a) or not any(r.episodes for r in results[a])]


def _runs_of(arms: Sequence[str]) -> list[str]:
    return [f"held-out runs of {', '.join(arms)}"] if arms else []


def _result(claim: "Claim", verdict: str, evidence: list[str], missing: Sequence[str] = ()) -> dict[str, str]:
    if missing:
        evidence = evidence + [f"missing: {', '.join(missing)}"]
    return {"id": claim.id, "claim": claim.claim, "verdict": verdict, "evidence": "; ".join(evidence),
            "rule": f"{claim.rule}; fewer than {MIN_N} paired problems or a missing run: inconclusive"}


def _arm_sign(claim: "Claim", results: Results, arms: Sequence[str], sign: str) -> dict[str, str]:
    """Δ of each arm (pooled over its seeds) against `sign`, combined."""
    missing = _missing(results, arms)
    parts, ev = [], []
    for arm in arms:
        if arm in missing:
            continue
        d = arm_delta(results[arm])
        parts.append(interval_verdict(d["delta_ci"], sign, d["n"]))
        spread = (f", across seeds {_pp(d['delta_seed_mean'])} ± {100 * d['delta_seed_sd']:.1f}"
                  if d["delta_seed_sd"] is not None else "")
        ev.append(f"{arm}: Δ = {_pp(d['delta'])} pts {_ci(d['delta_ci'])}, n = {d['n']} problems, "
                  f"{_seeds(d['seeds'])}{spread}")
    return _result(claim, combine(parts, missing), ev, _runs_of(missing))


def _paired_sign(claim: "Claim", results: Results, comparisons: Sequence[tuple[str, str]], key: str,
                 sign: str, optional: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """arm a minus arm b on `key` (paired by problem) for each comparison, against `sign`, combined;
    `optional` comparisons count only when both their arms exist."""
    missing = _missing(results, sorted({x for pair in comparisons for x in pair}))
    todo = [c for c in comparisons if not set(c) & set(missing)]
    todo += [c for c in optional if not _missing(results, c)]
    parts, ev = [], []
    for a, b in todo:
        d = compare(results, a, b, key)
        parts.append(interval_verdict(d["diff_ci"], sign, d["n"]))
        name = LABELS.get(key, key)
        ev.append(_stat(f"{name}({a}) − {name}({b})", d) + f" ({a} {100 * d['a']:.1f}%, {b} {100 * d['b']:.1f}%)")
    return _result(claim, combine(parts, missing), ev, _runs_of(missing))


def _stage1(claim: "Claim", results: Results) -> dict[str, str]:
    missing = _missing(results, ("stage1", "base"))
    if missing:
        return _result(claim, INCONCLUSIVE, [], _runs_of(missing))
    gap = answer_agreement_gap(results, "stage1", "base")
    acc = compare(results, "stage1", "base", "acc_t1")
    ev = [_stat("same answer as base at t1 − at t2", gap) + f" (same at t1 {100 * gap['same_t1']:.1f}%, "
          f"at t2 {100 * gap['same_t2']:.1f}%)", _stat("Acc@t1(stage1) − Acc@t1(base)", acc)]
    kls = [(row["kl/attempt1"], row["kl/attempt2"]) for r in results["stage1"] for row in r.log[-4:]
           if "kl/attempt1" in row and "kl/attempt2" in row]
    if kls:
        profiles = [r.metrics.get("profile", {}) for r in results["stage1"]]
        temps = sorted({p.get("temperature", 1.0) for p in profiles if not p.get("score_at_temperature")} - {1.0})
        ev.append(f"training log π/π_ref of the sampled attempts (k1), mean of the last 4 logged steps of "
                  f"{len(results['stage1'])} run(s): attempt 1 {sum(k[0] for k in kls) / len(kls):.3f}, "
                  f"attempt 2 {sum(k[1] for k in kls) / len(kls):.3f}"
                  + (f" (sampled at T = {', '.join(f'{t:g}' for t in temps)}, scored at T = 1: not an estimate "
                     "of KL(π‖π_ref), and it can stay below 0)" if temps else ""))
    return _result(claim, interval_verdict(gap["diff_ci"], ">0", gap["n"]), ev)


def _sequential_vs_parallel(claim: "Claim", results: Results, scaling: dict[str, Any] | None,
                            arm: str = "score-control") -> dict[str, str]:
    """With runs of `arm` (`pipeline.run_control` of the trained SCoRe model): per problem, the sampled second
    attempt's reward minus a fresh independent first attempt's (two generations each), pooled over seeds.
    Without them: the majority-voting curves `scaling`."""
    from .pipeline import control_episodes

    found = [(r.seed, control_episodes(r.path)) for r in results.get(arm, [])]
    seeds, pairs = [seed for seed, p in found if p], [p for _, p in found if p]
    if not pairs:
        return _scaling(claim, scaling)
    diffs = [float(s.r2) - float(p.r2) for par, seq in pairs for p, s in zip(par, seq)]
    n, ci = len(diffs), list(paired_interval(diffs))
    seq_acc = sum(float(s.r2) for _, seq in pairs for s in seq) / n
    par_acc = sum(float(p.r2) for par, _ in pairs for p in par) / n
    ev = [f"{arm}: sequential (own second attempt) − parallel (fresh first attempt) = {_pp(sum(diffs) / n)} pts "
          f"{_ci(ci)}, n = {n} paired problems, {_seeds(seeds)} (sequential {100 * seq_acc:.1f}%, "
          f"parallel {100 * par_acc:.1f}%, two generations each)"]
    return _result(claim, interval_verdict(ci, ">0", n), ev)


def _scaling(claim: "Claim", scaling: dict[str, Any] | None, model: str = "SCoRe") -> dict[str, str]:
    curve = (scaling or {}).get("curves", {}).get(model)
    if not curve:
        return _result(claim, INCONCLUSIVE, [], [f"results/scaling.json with a {model} curve"])
    n = int(scaling["problems"])
    parts, ev = [], []
    for row in curve:
        p, s = row["parallel"], row["sequential"]
        half = Z95 * math.sqrt((p * (1 - p) + s * (1 - s)) / n)
        ci = [max(-1.0, s - p - half), min(1.0, s - p + half)]
        parts.append(interval_verdict(ci, ">0", n))
        ev.append(f"{row['budget']} generations: sequential − parallel = {_pp(s - p)} pts {_ci(ci)}")
    seed = scaling.get("profile", {}).get("seed", 0)
    ev.append(f"{model}, majority vote, n = {n} problems, {scaling.get('samples')} samples each, 1 seed ({seed}); "
              "unpaired intervals (scaling.json holds no per-problem outcomes)")
    return _result(claim, combine(parts), ev)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, the rule that judges it (in words) and the code that applies the rule."""

    id: str
    claim: str
    rule: str
    check: Callable[["Claim", Results, "dict[str, Any] | None"], dict[str, str]]


CLAIMS: list[Claim] = [
    Claim("base_second_attempt_hurts", "The base model's second attempt hurts: Δ(t1,t2) < 0",
          "Δ of base: " + RULES["<0"],
          lambda c, r, s: _arm_sign(c, r, ["base"], "<0")),
    Claim("sft_no_positive_delta", "STaR and Pair-SFT (D and D+) give no positive Δ on held-out problems",
          "Δ of each of " + ", ".join(SFT_ARMS) + ": " + RULES["<=0"],
          lambda c, r, s: _arm_sign(c, r, SFT_ARMS, "<=0")),
    Claim("sft_edits_shrink", "SFT's edits shrink: its edit-distance ratio between attempts is below the base model's",
          "per-problem edit-distance ratio, each SFT arm − base: " + RULES["<0"],
          lambda c, r, s: _paired_sign(c, r, [(a, "base") for a in SFT_ARMS], "edit_distance_ratio", "<0")),
    Claim("naive_rl_stops_changing", "Naive multi-turn RL's changed-answer rate collapses below the base model's",
          "per-problem changed answer, naive_rl − base: " + RULES["<0"],
          lambda c, r, s: _paired_sign(c, r, [("naive_rl", "base")], "changed_answer", "<0")),
    Claim("stage1_turn1_stays", "Stage I keeps turn 1 near the base model while turn 2 changes",
          "per problem, [stage1's t1 answer = base's] − [stage1's t2 answer = base's]: " + RULES[">0"],
          lambda c, r, s: _stage1(c, r)),
    Claim("bonus_raises_delta", "The reward bonus raises Δ (α > 0 vs α = 0)",
          "paired Δ, score − score[alpha=0] (and stage2 − stage2[alpha=0] when both exist): " + RULES[">0"],
          lambda c, r, s: _paired_sign(c, r, [("score", "score[alpha=0]")], "delta", ">0",
                                       optional=[("stage2", "stage2[alpha=0]")])),
    Claim("score_delta_positive", "SCoRe self-corrects: Δ(t1,t2) > 0", "Δ of score: " + RULES[">0"],
          lambda c, r, s: _arm_sign(c, r, ["score"], ">0")),
    Claim("score_beats_naive_rl", "SCoRe's Δ exceeds naive multi-turn RL's",
          "paired Δ, score − naive_rl, pooled over seeds: " + RULES[">0"],
          lambda c, r, s: _paired_sign(c, r, [("score", "naive_rl")], "delta", ">0")),
    Claim("sequential_beats_parallel", "Sequential self-correction beats parallel sampling at equal compute",
          "SCoRe at the sampling temperature, per problem: its own second attempt's reward − a fresh first "
          "attempt's, pooled over seeds (runs of score-control; without them, majority-vote accuracy, sequential − "
          "parallel, at each budget): " + RULES[">0"],
          lambda c, r, s: _sequential_vs_parallel(c, r, s)),
]


def verdicts(results: Results, scaling: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Every claim of `CLAIMS` judged on `results` (arm -> runs) and the majority-voting curves `scaling`."""
    return [claim.check(claim, results, scaling) for claim in CLAIMS]


TARGET = ("score_delta_positive", "score_beats_naive_rl")
"""The reproduction's target: both of these claims reproduced (SCoRe's Δ > 0, and above naive RL's, each on an
interval that excludes 0)."""


def target(found: Sequence[Mapping[str, str]]) -> str:
    """One sentence, from the verdicts `found`: whether SCoRe's target is met, and the evidence of each part."""
    by_id = {v["id"]: v for v in found}
    parts = [by_id.get(i) for i in TARGET]
    met = all(v is not None and v["verdict"] == REPRODUCED for v in parts)
    said = "; ".join(f"{v['claim']}: **{v['verdict']}** ({v['evidence']})" if v else f"{i}: not judged"
                     for i, v in zip(TARGET, parts))
    return (f"**SCoRe's target {'is met' if met else 'is not reached'}** (its Δ above 0 and above naive multi-turn "
            f"RL's, each on a 95% interval that excludes 0): {said}.")
