"""Verdicts: the paper's claims as the paper states them, each judged by a rule fixed in code on the kit's runs.

Every claim (`CLAIMS`) carries the paper's statement in the kit's words, where the paper makes it
(`paper_ref`: section, table or figure), the rule in words and the code that applies it. `verdicts(results)`
returns one {"id", "claim", "paper_ref", "rule", "verdict", "evidence", "intervals"} per claim. A verdict is

- "reproduced" / "not reproduced": every value the claim rests on points the same way on BOTH of its 95%
  intervals, over problems and over seeds (`arms.estimate`);
- "inconclusive": the two intervals disagree, either one straddles the rule's boundary, a trained arm has a
  single seed (its between-seed variance is unknown), fewer than `MIN_N` problems, or a run is missing;
- "untestable": the arm cannot test the claim as made (an SFT data set of fewer than `MIN_SFT_PAIRS` pairs,
  fewer than three compute budgets).

A claim over several arms or values is not reproduced when any of them contradicts it, reproduced when all
support it. Outcomes are three per attempt (right, wrong, no answer; `rewards.outcome`): a second attempt that
gives no answer is a format failure, not a revision, and the claims about revisions count it apart. Where a
verdict is not "reproduced", its evidence says what the intervals rule out. Not here: loading and the
statistics (`arms.py`), the metrics (`metrics.py`), the README (tools/report.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..rewards.answers import answers_differ
from .arms import (ORDER, Results, arm_delta, arm_name, arm_value, difference, estimate, is_rl,  # noqa: F401
                   load_curves, load_results, load_scaling, load_train_evaluations, seed_pairs, summary)
from ..metrics import Z95, per_problem, problem_key, seed_interval, voted_outcomes

if TYPE_CHECKING:
    from ..runs.record import Run

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, UNTESTABLE = "reproduced", "not reproduced", "inconclusive", "untestable"
MIN_N = 10
"""Fewer distinct problems than this give "inconclusive": a normal interval means little below it."""
MIN_SFT_PAIRS = 200
"""An SFT arm trained on fewer pairs than this (in any seed) tests nothing: its part of a claim is untestable."""
MIN_BUDGETS = 3
SFT_ARMS = ("star", "star_plus", "pair_sft", "pair_sft_plus")


# ---------------------------------------------------------------------------------------------
# Tests: an interval -> a verdict
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Test:
    """What an interval [lo, hi] must show: `words` say it, `verdict` applies it."""

    words: str
    verdict: Callable[[float, float], str]


def above(x: float = 0.0) -> Test:
    return Test(f"the interval lies above {100 * x:+.0f} pts (reproduced) / at or below it (not reproduced)",
                lambda lo, hi: REPRODUCED if lo > x else NOT_REPRODUCED if hi <= x else INCONCLUSIVE)


def below(x: float = 0.0) -> Test:
    return Test(f"the interval lies below {100 * x:+.0f} pts (reproduced) / at or above it (not reproduced)",
                lambda lo, hi: REPRODUCED if hi < x else NOT_REPRODUCED if lo >= x else INCONCLUSIVE)


def within(m: float) -> Test:
    return Test(f"the interval lies within ±{100 * m:.0f} pts (reproduced) / wholly outside it (not reproduced)",
                lambda lo, hi: REPRODUCED if -m <= lo and hi <= m else
                NOT_REPRODUCED if hi < -m or lo > m else INCONCLUSIVE)


def at_least(x: float) -> Test:
    return Test(f"the interval lies at or above {100 * x:.0f}% (reproduced) / below it (not reproduced)",
                lambda lo, hi: REPRODUCED if lo >= x else NOT_REPRODUCED if hi < x else INCONCLUSIVE)


def not_raised(m: float) -> Test:
    return Test(f"the interval lies below +{100 * m:.0f} pts, ruling out a rise of that size (reproduced) / above 0 "
                "(not reproduced)", lambda lo, hi: REPRODUCED if hi < m else NOT_REPRODUCED if lo > 0 else INCONCLUSIVE)


def differs(m: float) -> Test:
    return Test(f"the interval excludes 0 (reproduced) / lies within ±{100 * m:.0f} pts (not reproduced)",
                lambda lo, hi: REPRODUCED if lo > 0 or hi < 0 else
                NOT_REPRODUCED if -m <= lo and hi <= m else INCONCLUSIVE)


def judge(est: Mapping[str, Any], test: Test) -> str:
    """The verdict of one value: `test` on its interval over problems and on its interval over seeds; the same
    verdict on both, else inconclusive (and inconclusive without an interval over seeds or below `MIN_N`)."""
    if est["n_distinct"] < MIN_N or est["ci_seeds"] is None:
        return INCONCLUSIVE
    on_problems, on_seeds = test.verdict(*est["ci_problems"]), test.verdict(*est["ci_seeds"])
    return on_problems if on_problems == on_seeds else INCONCLUSIVE


def combine(parts: Sequence[str], missing: Sequence[str] = ()) -> str:
    """Any part contradicting -> not reproduced; all present and supporting -> reproduced; nothing testable but
    untestable parts -> untestable; else inconclusive."""
    if NOT_REPRODUCED in parts:
        return NOT_REPRODUCED
    tested = [p for p in parts if p != UNTESTABLE]
    if not tested and UNTESTABLE in parts and not missing:
        return UNTESTABLE
    return REPRODUCED if parts and not missing and all(p == REPRODUCED for p in parts) else INCONCLUSIVE


def interval_verdict(ci: Sequence[float], sign: str, n: int) -> str:
    """One interval against "θ `sign` 0" (">0", "<0"): the single-interval verdict the lessons use for one run."""
    if n < MIN_N:
        return INCONCLUSIVE
    tests = {">0": above(), "<0": below()}
    if sign not in tests:
        raise ValueError(f"sign must be one of {', '.join(tests)}, not {sign!r}")
    return tests[sign].verdict(*ci)


# ---------------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------------
def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def _ci(ci: Sequence[float]) -> str:
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def describe(name: str, est: Mapping[str, Any]) -> str:
    """"name = +x pts; over n problems [..]; over k seeds [..] (per seed ...)" (a proportion: "x%")."""
    fmt = (lambda x: f"{100 * x:.1f}%") if est.get("proportion") else (lambda x: f"{_pp(x)} pts")  # noqa: E731
    out = f"{name} = {fmt(est['value'])}; over {est['n_distinct']} problems {_ci(est['ci_problems'])}"
    if est.get("seed_note"):
        return out + f"; over seeds: {est['seed_note']}"
    if est["ci_seeds"] is None:
        return out + (f"; over seeds: none, {est['n_seeds']} seed ({', '.join(map(str, est['seeds']))}): "
                      "between-seed variance unknown")
    values = ", ".join(fmt(v) for v in est["per_seed"])
    same = " — the seeds agree exactly" if len(set(est["per_seed"])) == 1 else ""
    return out + f"; over {est['n_seeds']} seeds {_ci(est['ci_seeds'])} (per seed {values}{same})"


def rules_out(est: Mapping[str, Any], paper: float | None = None, what: str = "the paper's") -> str:
    """What the wider of the two intervals rules out, and whether it excludes the paper's value."""
    cis = [est["ci_problems"]] + ([est["ci_seeds"]] if est["ci_seeds"] is not None else [])
    lo, hi = min(c[0] for c in cis), max(c[1] for c in cis)
    out = (f"the intervals rule out values below {100 * lo:.1f}% and above {100 * hi:.1f}%" if est.get("proportion")
           else f"the intervals rule out values below {_pp(lo)} and above {_pp(hi)} pts")
    if paper is not None:
        out += f" ({what} {_pp(paper)} {'is outside them' if not lo <= paper <= hi else 'is inside them'})"
    return out


def _interval_record(what: str, est: Mapping[str, Any], verdict: str) -> dict[str, Any]:
    return {"what": what, "verdict": verdict, **{k: est[k] for k in ("value", "ci_problems", "n_distinct",
                                                                     "ci_seeds", "per_seed", "n_seeds", "seeds")}}


class Evidence:
    """The parts of one claim's judgement: each value's verdict, its words and its intervals."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.words: list[str] = []
        self.intervals: list[dict[str, Any]] = []
        self.missing: list[str] = []

    def add(self, what: str, est: Mapping[str, Any], test: Test, paper: float | None = None, extra: str = "") -> str:
        verdict = judge(est, test)
        self.parts.append(verdict)
        said = describe(what, est) + extra
        if verdict != REPRODUCED:
            said += f" — {rules_out(est, paper)}"
        self.words.append(said)
        self.intervals.append(_interval_record(what, est, verdict))
        return verdict

    def note(self, words: str, verdict: str | None = None) -> None:
        if verdict:
            self.parts.append(verdict)
        self.words.append(words)

    def result(self, claim: "Claim") -> dict[str, Any]:
        words = self.words + ([f"missing: held-out runs of {', '.join(self.missing)}"] if self.missing else [])
        return {"id": claim.id, "claim": claim.claim, "paper_ref": claim.paper_ref, "verdict":
                combine(self.parts, self.missing), "evidence": "; ".join(words),
                "rule": f"{claim.rule}; both intervals (over problems and over seeds) must agree, else inconclusive; "
                        f"one seed of a trained arm, fewer than {MIN_N} problems or a missing run: inconclusive",
                "intervals": self.intervals}


def _have(results: Results, ev: Evidence, *arms: str) -> bool:
    """Whether every arm of a comparison has runs (else they count as missing), and all its RL arms the same
    recipe's (`config.EARLIER_RECIPES`): SCoRe made with the current recipe is not compared with naive RL made
    with the first one; that comparison waits, inconclusive, until `make reproduce` has remade the other."""
    gone = [a for a in arms if not results.get(a) or not any(r.episodes for r in results[a])]
    ev.missing += [a for a in gone if a not in ev.missing]
    if gone:
        return False
    recipes = {a: sorted({r.recipe for r in results[a]}) for a in arms if is_rl(a)}
    if len({tuple(v) for v in recipes.values()}) > 1:
        said = ", ".join(f"{a}: " + " and ".join("the current recipe" if k == 0 else f"earlier recipe {k}" for k in v)
                         for a, v in recipes.items())
        ev.note(f"not compared: their runs come from different RL recipes ({said}); `make reproduce` remakes the "
                "earlier ones", INCONCLUSIVE)
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The claims' checks
# ---------------------------------------------------------------------------------------------
Context = Mapping[str, Any]
"""What a check may read besides the held-out runs: "scaling" (results/scaling.json) and "train" (arm -> runs of
its trained model on its own training problems, `arms.load_train_evaluations`)."""


def _split(runs: Sequence[Run]) -> str:
    eps = [e for r in runs for e in r.episodes]
    from ..metrics import outcome_split

    m = outcome_split(eps)
    return (f" (pooled over {len(eps)} episodes: right→wrong {100 * m['right_to_wrong']:.1f}%, right→none "
            f"{100 * m['right_to_none']:.1f}%, wrong→right {100 * m['wrong_to_right']:.1f}%, none→right "
            f"{100 * m['none_to_right']:.1f}%)")


def _base_delta(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
    ev = Evidence()
    if _have(results, ev, "base"):
        ev.add("Δ(base)", arm_value(results["base"], "delta"), below(), paper=-0.112, extra=_split(results["base"]))
    return ev.result(claim)


def _base_breaks(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
    ev = Evidence()
    if _have(results, ev, "base"):
        ev.add("wrong→right − right→wrong (base)", arm_value(results["base"], "answered_net"), below(),
               paper=0.046 - 0.158, extra=_split(results["base"]))
    return ev.result(claim)


def sft_pairs_note(runs: Sequence[Run]) -> str | None:
    """Why an SFT arm tests nothing (a seed trained on fewer than `MIN_SFT_PAIRS` pairs), or None."""
    counts = [r.metrics.get("sft_pairs") for r in runs]
    if any(c is not None and c < MIN_SFT_PAIRS for c in counts):
        return (f"untestable: {runs[0].name} trained on {', '.join(str(c) for c in counts)} pairs per seed "
                f"(fewer than {MIN_SFT_PAIRS})")
    return None


def _per_sft_arm(key: str, test: Test, name: str, paper: Mapping[str, float] | None = None):
    def check(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
        ev = Evidence()
        for arm in SFT_ARMS:
            if not _have(results, ev, arm, "base"):
                continue
            why = sft_pairs_note(results[arm])
            if why:
                ev.note(why, UNTESTABLE)
                continue
            ev.add(f"{name}({arm}) − {name}(base)", difference(results[arm], results["base"], key), test,
                   paper=(paper or {}).get(arm))
        return ev.result(claim)
    return check


def _unpaired(train: Sequence[Run], held_out: Sequence[Run], key: str) -> dict[str, Any]:
    """Mean of `key` on training problems − on held-out problems (different problems: a Welch interval over
    problems; per seed, the same difference, for the interval over seeds)."""
    def values(runs):
        return [v for r in runs for v in per_problem(r.episodes, key).values()]

    a, b = values(train), values(held_out)
    mean = lambda v: sum(v) / len(v) if v else 0.0  # noqa: E731
    var = lambda v: sum((x - mean(v)) ** 2 for x in v) / (len(v) - 1) if len(v) > 1 else 0.0  # noqa: E731
    diff = mean(a) - mean(b)
    half = Z95 * math.sqrt(var(a) / max(1, len(a)) + var(b) / max(1, len(b)))
    by_seed = {r.seed: r for r in held_out}
    per_seed = [mean(values([t])) - mean(values([by_seed[t.seed]])) for t in train if t.seed in by_seed]
    ci_seeds = seed_interval(per_seed)
    return {"value": diff, "ci_problems": [diff - half, diff + half], "n_distinct": min(len(a), len(b)),
            "per_seed": per_seed, "ci_seeds": list(ci_seeds) if ci_seeds else None, "n_seeds": len(per_seed),
            "seeds": [t.seed for t in train if t.seed in by_seed], "seed_note": None}


def _pair_sft_train(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
    ev = Evidence()
    train = ctx.get("train") or {}
    arms = [a for a in ("pair_sft", "pair_sft_plus") if train.get(a)]
    if not arms:
        ev.missing.append("pair_sft or pair_sft_plus on its training problems (`<arm>_on_train.json`)")
    for arm in arms:
        if _have(results, ev, arm):
            ev.add(f"edit-distance ratio on answered pairs ({arm}), training − held-out problems",
                   _unpaired(train[arm], results[arm], "edit_distance_ratio_answered"), differs(0.02))
    return ev.result(claim)


def _naive_rl(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
    ev = Evidence()
    if _have(results, ev, "naive_rl", "base"):
        ev.add("different answer, both attempts answered: naive_rl − base",
               difference(results["naive_rl"], results["base"], "changed_answer_answered"), below())
        logs = [[row["changed_answer_rate"] for row in r.log if "changed_answer_rate" in row] for r in results["naive_rl"]]
        logs = [rows for rows in logs if len(rows) >= 16]
        if logs:
            first = sum(sum(rows[:8]) / 8 for rows in logs) / len(logs)
            last = sum(sum(rows[-8:]) / 8 for rows in logs) / len(logs)
            ev.note(f"training samples' changed-answer rate (non-answers included), first 8 steps {100 * first:.1f}% → "
                    f"last 8 steps {100 * last:.1f}% ({len(logs)} runs)")
    return ev.result(claim)


def _same_t1(runs_a: Sequence[Run], runs_b: Sequence[Run]) -> dict[str, Any]:
    maps = []
    for ra, rb in seed_pairs(runs_a, runs_b):
        ref = {problem_key(e.problem): e for e in rb.episodes}
        maps.append({k: float(not answers_differ(e.y1, ref[k].y1)) for e in ra.episodes
                     if (k := problem_key(e.problem)) in ref})
    return estimate(maps, sorted({ra.seed for ra, _ in seed_pairs(runs_a, runs_b)}), proportion=True)


def _stage1(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
    ev = Evidence()
    if not _have(results, ev, "stage1", "base"):
        return ev.result(claim)
    s1, base = results["stage1"], results["base"]
    ev.add("Acc@t1(stage1) − Acc@t1(base)", difference(s1, base, "acc_t1"), within(NEAR_ACC))
    ev.add("share of problems whose turn-1 answer equals base's", _same_t1(s1, base), at_least(NEAR_SAME))
    ev.add("Acc@t2(stage1) − Acc@t2(base)", difference(s1, base, "acc_t2"), above())
    kls = [(row["kl/attempt1"], row["kl/attempt2"]) for r in s1 for row in r.log[-4:]
           if "kl/attempt1" in row and "kl/attempt2" in row]
    if kls:
        profiles = [r.metrics.get("profile", {}) for r in s1]
        temps = sorted({p.get("temperature", 1.0) for p in profiles if not p.get("score_at_temperature")} - {1.0})
        ev.note(f"training log π/π_ref of the sampled attempts (k1), mean of the last 4 logged steps of {len(s1)} "
                f"run(s): attempt 1 {sum(k[0] for k in kls) / len(kls):.3f}, attempt 2 {sum(k[1] for k in kls) / len(kls):.3f}"
                + (f" (sampled at T = {', '.join(f'{t:g}' for t in temps)}, scored at T = 1: not an estimate of "
                   "KL(π‖π_ref), and it can stay below 0)" if temps else ""))
    return ev.result(claim)


def _paired(comparisons: Sequence[tuple[str, str]], key: str, test: Test, paper: float | None = None,
            optional: Sequence[tuple[str, str]] = ()):
    def check(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
        ev = Evidence()
        todo = [c for c in comparisons if _have(results, ev, *c)]
        todo += [c for c in optional if all(results.get(a) for a in c)]
        for a, b in todo:
            name = "Δ" if key == "delta" else key
            d = difference(results[a], results[b], key)
            ev.add(f"{name}({a}) − {name}({b})", d, test, paper=paper,
                   extra=f" ({a} {_pp(d['a'])}, {b} {_pp(d['b'])} pts)")
        return ev.result(claim)
    return check


def _score_delta(claim: "Claim", results: Results, ctx: Context) -> dict[str, Any]:
    ev = Evidence()
    if _have(results, ev, "score"):
        ev.add("Δ(score)", arm_value(results["score"], "delta"), above(), paper=0.044, extra=_split(results["score"]))
    return ev.result(claim)


def _sequential_vs_parallel(claim: "Claim", results: Results, ctx: Context, model: str = "SCoRe") -> dict[str, Any]:
    ev = Evidence()
    scaling = ctx.get("scaling") or {}
    if scaling.get("runs", {}).get(model):
        return _voting_runs(claim, scaling["runs"][model], model, ev)
    curve = scaling.get("curves", {}).get(model)
    if not curve:
        ev.missing.append(f"results/scaling.json with a {model} curve")
        return ev.result(claim)
    enough = len(curve) >= MIN_BUDGETS
    if not enough:
        ev.note(f"untestable: {len(curve)} compute budget(s) ({', '.join(str(r['budget']) for r in curve)} generations) "
                f"in results/scaling.json, fewer than {MIN_BUDGETS}", UNTESTABLE)
    n = int(scaling["problems"])
    seed = scaling.get("profile", {}).get("seed", 0)
    for row in curve:
        p, s = row["parallel"], row["sequential"]
        half = Z95 * math.sqrt((p * (1 - p) + s * (1 - s)) / n)
        est = {"value": s - p, "ci_problems": [s - p - half, s - p + half], "n_distinct": n, "per_seed": [s - p],
               "ci_seeds": None, "n_seeds": 1, "seeds": [seed], "seed_note": None}
        what = f"{row['budget']} generations, majority vote: sequential − parallel ({model})"
        if enough:
            ev.add(what, est, above())
        else:
            ev.note(describe(what, est))
    ev.note(f"{scaling.get('samples')} samples per problem; unpaired intervals (scaling.json holds no per-problem "
            "outcomes)")
    return ev.result(claim)


def _voting_runs(claim: "Claim", runs: Sequence[Mapping[str, Any]], model: str, ev: "Evidence") -> dict[str, Any]:
    """The claim judged on `make reproduce`'s scaling runs of `model` (`arms.load_scaling_runs`): at each budget
    every seed's samples allow, each problem's sequential − parallel vote (−1, 0 or 1) over the same test
    problems, with both intervals (`arms.estimate`: over problems, and over seeds)."""
    samples = min(int(r["samples"]) for r in runs)
    budgets = [b for b in (2, 4, 8, 16, 32) if b <= samples]
    enough = len(budgets) >= MIN_BUDGETS
    if not enough:
        ev.note(f"untestable: {len(budgets)} compute budget(s) ({', '.join(map(str, budgets))} generations), fewer "
                f"than {MIN_BUDGETS}", UNTESTABLE)
    for b in budgets:
        maps = [{k: s - p for k, (p, s) in voted_outcomes(r["records"], b).items()} for r in runs]
        est = estimate(maps, [r["seed"] for r in runs], trained=True, bound=2.0)
        what = f"{b} generations, majority vote: sequential − parallel ({model})"
        if enough:
            ev.add(what, est, above())
        else:
            ev.note(describe(what, est))
    ev.note(f"{samples} two-attempt samples per problem and seed; each problem's votes paired on the same test "
            "problems")
    return ev.result(claim)


# ---------------------------------------------------------------------------------------------
# The claims
# ---------------------------------------------------------------------------------------------
NEAR_ACC = 0.02
"""Stage I's nearness rule, fixed before its runs: Acc@t1 within ±2 points of the base model's..."""
NEAR_SAME = 0.90
"""...and the same turn-1 answer as the base model's on at least 90% of problems."""
NO_RISE = 0.02
"""SFT "does not raise Δi→c": its rise over the base model is below 2 points (the paper's largest, Table 1: +0.8)."""


@dataclass(frozen=True)
class Claim:
    """A claim of the paper (its statement, where it makes it), the rule that judges it and the code that does."""

    id: str
    claim: str
    paper_ref: str
    rule: str
    check: Callable[["Claim", Results, Context], dict[str, Any]]


CLAIMS: list[Claim] = [
    Claim("base_delta_negative", "The base model's second attempt lowers accuracy: Δ(t1,t2) < 0",
          "Section 4, Table 1 (base model: Δ −11.2)", "Δ of base: " + below().words, _base_delta),
    Claim("base_breaks_right_answers",
          "The base model's second attempt revises right answers into wrong ones more often than wrong into right "
          "(Δc→i 15.8 > Δi→c 4.6), judged on answers: a second attempt with no answer is counted apart",
          "Section 4, Table 1 (base model: Δi→c 4.6, Δc→i 15.8)",
          "per problem, [wrong→right] − [right→wrong] of base: " + below().words, _base_breaks),
    Claim("sft_lowers_breaks", "Fine-tuning on self-generated corrections (STaR, Pair-SFT; D and D+) lowers "
          "Δc→i: it breaks fewer right answers into wrong ones than the base model",
          "Section 4, Table 1",
          f"per problem, right→wrong of each SFT arm − base's: {below().words}; an arm trained on fewer than "
          f"{MIN_SFT_PAIRS} pairs is untestable", _per_sft_arm("right_to_wrong", below(), "right→wrong")),
    Claim("sft_no_more_fixes", "Fine-tuning on self-generated corrections does not raise Δi→c: it fixes no more "
          "wrong answers than the base model", "Section 4, Table 1 (rises of at most +0.8 over the base model)",
          f"per problem, Δi→c of each SFT arm − base's: {not_raised(NO_RISE).words}",
          _per_sft_arm("fixed", not_raised(NO_RISE), "Δi→c")),
    Claim("sft_minimal_edits", "Fine-tuned models' second attempts collapse to minimal edits of the first",
          "Section 4, Figure 4 (edit-distance ratios pile up at 0)",
          f"per problem, edit-distance ratio on pairs where both attempts answer, each SFT arm − base: {below().words}",
          _per_sft_arm("edit_distance_ratio_answered", below(), "edit-distance ratio")),
    Claim("pair_sft_train_differs", "Pair-SFT's edit distances differ between training and held-out problems: what "
          "it learnt does not carry over", "Section 4, Figure 5",
          "mean edit-distance ratio on answered pairs, Pair-SFT on its training problems − on held-out problems: "
          + differs(0.02).words, _pair_sft_train),
    Claim("naive_rl_stops_proposing", "Naive multi-turn RL learns not to propose a different answer at its second "
          "attempt: it does so less often than the base model", "Section 5",
          "per problem, [both attempts answer and differ], naive_rl − base: " + below().words, _naive_rl),
    Claim("stage1_turn1_near_base", "Stage I keeps turn 1 near the base model while turn 2's reward rises",
          "Section 5.1, Eq. 3",
          f"nearness fixed before the runs: Acc@t1(stage1) − Acc@t1(base) within ±{100 * NEAR_ACC:.0f} pts, the same "
          f"turn-1 answer as base on at least {100 * NEAR_SAME:.0f}% of problems, and Acc@t2(stage1) − Acc@t2(base) > 0 "
          "(each on both intervals)", _stage1),
    Claim("bonus_raises_delta", "The reward bonus raises Δ (α > 0 vs α = 0)", "Section 6, Table 4 (w/o reward "
          "shaping: Δ 2.6 vs 4.4)", "paired Δ, score − score[alpha=0] (and stage2 − stage2[alpha=0] when both exist): "
          + above().words, _paired([("score", "score[alpha=0]")], "delta", above(), paper=0.044 - 0.026,
                                   optional=[("stage2", "stage2[alpha=0]")])),
    Claim("stage1_raises_delta", "Stage I raises SCoRe's Δ over Stage II alone", "Section 6, Table 4 (w/o Stage I: "
          "Δ 2.2 vs 4.4)", "paired Δ, score − stage2: " + above().words,
          _paired([("score", "stage2")], "delta", above(), paper=0.044 - 0.022)),
    Claim("score_delta_positive", "SCoRe self-corrects: Δ(t1,t2) > 0", "Section 6, Table 2 (SCoRe: Δ +4.4)",
          "Δ of score: " + above().words, _score_delta),
    Claim("score_beats_naive_rl", "SCoRe's Δ exceeds naive multi-turn RL's", "Section 5 and Section 6, Table 4",
          "paired Δ, score − naive_rl: " + above().words, _paired([("score", "naive_rl")], "delta", above())),
    Claim("sequential_beats_parallel", "Sequential self-correction beats parallel sampling in majority voting at "
          "equal compute", "Section 6, Figure 1 (right): +10.5% vs +7.4% at 32 generations",
          f"SCoRe's majority-vote accuracy, sequential − parallel, at each of at least {MIN_BUDGETS} budgets: "
          + above().words, _sequential_vs_parallel),
]


def verdicts(results: Results, scaling: dict[str, Any] | None = None, train: Results | None = None,
             ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every claim of `CLAIMS` (or those of `ids`) judged on `results` (arm -> runs), the majority-voting curves
    `scaling` and the evaluations on training problems `train`."""
    ctx = {"scaling": scaling, "train": train or {}}
    return [c.check(c, results, ctx) for c in CLAIMS if ids is None or c.id in ids]


TARGET = ("score_delta_positive", "score_beats_naive_rl")
"""The reproduction's target: both of these claims reproduced (SCoRe's Δ > 0, and above naive RL's, each on both
intervals)."""


def target(found: Sequence[Mapping[str, Any]]) -> str:
    """One sentence, from the verdicts `found`: whether SCoRe's target is met, and the evidence of each part."""
    by_id = {v["id"]: v for v in found}
    parts = [by_id.get(i) for i in TARGET]
    met = all(v is not None and v["verdict"] == REPRODUCED for v in parts)
    said = "; ".join(f"{v['claim']}: **{v['verdict']}** ({v['evidence']})" if v else f"{i}: not judged"
                     for i, v in zip(TARGET, parts))
    return (f"**SCoRe's target {'is met' if met else 'is not reached'}** (its Δ above 0 and above naive multi-turn "
            f"RL's, each on both 95% intervals, over problems and over seeds): {said}.")
