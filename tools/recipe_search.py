"""The recipe search behind the reproduction's RL runs: which Stage II bonus scale α and which advantages
(plain RLOO, or normalized per attempt) give SCoRe the best self-correction, measured on the VALIDATION split
(the test split stays for the reported table, `make reproduce`).

Every candidate is a SCoRe run of the `repro` profile (seed 0) with a few fields changed, trained on training
problems and evaluated greedily on all `N_VALIDATION` validation problems, beside the base model on the same
problems. Runs land in results/recipe_search/<name>/ (metrics, log and episodes are committed; checkpoints are
not), and the table with the rule's choice in results/recipe_search.json; docs/reproduction.md reports it.
Resumable: a finished candidate is loaded, an interrupted one resumes from its last checkpoint.

    OMP_NUM_THREADS=1 python tools/recipe_search.py                 # every candidate not yet finished
    OMP_NUM_THREADS=1 python tools/recipe_search.py --only a1 a1-norm
    python tools/recipe_search.py --table                           # re-write the table from finished runs

One thread: ~27 minutes per candidate beside another one-thread job on 2 cores. A candidate that differs
from another only in α or the length of Stage I starts from the other's checkpoint at the end of the shorter
Stage I (`share_stage1`): the same steps, not redone.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoreutils.train.checkpoints import SHARED, start_from  # noqa: E402
from scoreutils.config import STAGE2_FIELDS, get_profile  # noqa: E402
from scoreutils.metrics import paired_delta_difference  # noqa: E402

OUT = ROOT / "results" / "recipe_search"
TABLE = ROOT / "results" / "recipe_search.json"
N_VALIDATION = 190
"""All but a few of level 6's validation problems (the split holds 193)."""
SEED = 0
# name -> the values of the searched fields (all of them, so that a candidate stays what it was when the repro
# profile takes the chosen one's values). Round 1: α x advantages, at the repro profile's other values. Round 2,
# from round 1's choice (a1-norm): Stage I length, β2 and lr. Round 3: more steps.
ROUND1 = {"stage1_steps": 8, "beta2": 0.1, "lr": 2e-4, "steps": 24, "score_at_temperature": False,
          "stage2_reward": "bonus", "progress_gamma": 0.5, "stage2_turn1": "reward", "stage2_samples_per_problem": 0}
CANDIDATES: dict[str, dict[str, Any]] = {
    "a10": {"alpha": 10.0, "normalize_advantages": False, **ROUND1},
    "a1": {"alpha": 1.0, "normalize_advantages": False, **ROUND1},
    "a1-norm": {"alpha": 1.0, "normalize_advantages": True, **ROUND1},
    "a10-norm": {"alpha": 10.0, "normalize_advantages": True, **ROUND1},
    "a1-norm-lr4e-4": {"alpha": 1.0, "normalize_advantages": True, **ROUND1, "lr": 4e-4},
    "a1-norm-beta2-1": {"alpha": 1.0, "normalize_advantages": True, **ROUND1, "beta2": 1.0},
    "a1-norm-stage1-16": {"alpha": 1.0, "normalize_advantages": True, **ROUND1, "stage1_steps": 16},
    "a1-norm-lr1e-4": {"alpha": 1.0, "normalize_advantages": True, **ROUND1, "lr": 1e-4},
    # Round 3: twice the steps (the first 24 are the 24-step run's, shared), for round 1's pick and the paper's α.
    "a1-norm-steps48": {"alpha": 1.0, "normalize_advantages": True, **ROUND1, "steps": 48},
    "a10-steps48": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "steps": 48},
    # Round 4, run after the test table was made: the α grid {1, 3, 10} at round 3's choice (plain advantages, 48
    # steps). Round 1's α = 3 was left out because normalized advantages divide α out; plain ones do not.
    "a1-steps48": {"alpha": 1.0, "normalize_advantages": False, **ROUND1, "steps": 48},
    "a3-steps48": {"alpha": 3.0, "normalize_advantages": False, **ROUND1, "steps": 48},
    # and round 3's choice with the update scoring its samples at the sampling temperature (on-policy below T = 1).
    "a10-steps48-scoreT": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "steps": 48,
                           "score_at_temperature": True},
    # Round 5 (the fair test of SCoRe): on-policy updates, and is Stage I too short? Stage I alone for 48 steps;
    # from its end, 48 steps of Stage II against 48 more steps of Stage I (the same 96 steps in all).
    "s1only-48-scoreT": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "stage1_steps": 48, "steps": 48,
                         "score_at_temperature": True},
    "s1-48-s2-48-scoreT": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "stage1_steps": 48, "steps": 96,
                           "score_at_temperature": True},
    "s1only-96-scoreT": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "stage1_steps": 96, "steps": 96,
                         "score_at_temperature": True},
    # Round 6, from the same 48 steps of Stage I (shared): Stage II changed in one way each, to separate the
    # hypotheses for round 5's result. (b) attempt 1 anchored as in Stage I; (c) k = 8 samples per problem in
    # Stage II (twice the episodes per step); (d) the progress reward instead of the bonus.
    "s1-48-s2-48-anchor": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "stage1_steps": 48, "steps": 96,
                           "score_at_temperature": True, "stage2_turn1": "anchor"},
    "s1-48-s2-48-k8": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "stage1_steps": 48, "steps": 96,
                       "score_at_temperature": True, "stage2_samples_per_problem": 8},
    "s1-48-s2-48-progress": {"alpha": 10.0, "normalize_advantages": False, **ROUND1, "stage1_steps": 48,
                             "steps": 96, "score_at_temperature": True, "stage2_reward": "progress"},
}
ROUND5 = ("s1only-48-scoreT", "s1-48-s2-48-scoreT", "s1only-96-scoreT", "s1-48-s2-48-anchor", "s1-48-s2-48-k8",
          "s1-48-s2-48-progress")
"""The fair test's experiments (rounds 5 and 6): reported beside rounds 1-4, chosen among by their own rule once
finished."""
AFTER_TEST = ("a1-steps48", "a3-steps48", "a10-steps48-scoreT", *ROUND5)
"""Candidates run after the reproduction's test table: reported, and judged by the same rule in
"chosen_with_after_test", but not in "chosen", the recipe every run of `make reproduce` was made with."""
TURN1_SLACK = 0.05
RULE = (f"among candidates whose validation Acc@t1 is at least the base model's minus {TURN1_SLACK:.2f} (no turn-1 "
        "collapse), the highest Δ; a tie (within one problem) goes to the higher Acc@t2, then to the first listed")
KEYS = ("acc_t1", "acc_t2", "delta", "delta_ci", "delta_i_to_c", "delta_c_to_i", "p_fix", "p_break",
        "changed_answer_rate", "no_answer_t1", "no_answer_t2", "n")


def candidate_profile(name: str, profile: str = "repro", model: str | None = None, seed: int = SEED):
    """The profile a candidate trains in: `profile` at `seed` (`SEED` unless a decision needs more seeds),
    evaluated on `N_VALIDATION` problems."""
    changes = {**CANDIDATES[name], "seed": seed, "n_eval": N_VALIDATION, **({"model": model} if model else {})}
    return get_profile(profile, **changes)


def shared_steps(mine, theirs) -> int:
    """How many first steps two candidates' runs have in common: all of the shorter run's when they differ
    only in `steps`; up to the end of the shorter Stage I when they differ in Stage II's fields
    (`config.STAGE2_FIELDS`: α and the Stage II experiments) or Stage I's length too (Stage I reads none of
    them; every step is seeded by its number); none when anything else differs."""
    stage2 = {name: getattr(mine, name) for name in STAGE2_FIELDS}
    if theirs.replace(**stage2, stage1_steps=mine.stage1_steps, steps=mine.steps) != mine:
        return 0
    if stage2 == {name: getattr(theirs, name) for name in STAGE2_FIELDS} and mine.stage1_steps == theirs.stage1_steps:
        return min(mine.steps, theirs.steps)
    return min(mine.stage1_steps, theirs.stage1_steps, mine.steps, theirs.steps)


def seed_dir(out: Path, seed: int) -> Path:
    """Where a seed's candidates live: `out` itself for `SEED`, `out`/seed<N> for the others."""
    return out if seed == SEED else out / f"seed{seed}"


def share_stage1(name: str, out: Path, profile: str = "repro", model: str | None = None,
                 seed: int = SEED) -> str | None:
    """Start candidate `name` from the candidate it shares the most first steps with (`shared_steps`), at its
    checkpoint there (`checkpoints.start_from`). Returns the candidate shared from, or None (nothing to share,
    or `name` has started already)."""
    mine = candidate_profile(name, profile, model, seed)
    shares = sorted(((shared_steps(mine, candidate_profile(other, profile, model, seed)), other)
                     for other in CANDIDATES if other != name), reverse=True)
    for steps, other in shares:
        if steps and start_from(out / name, out / other, steps):
            return other
    return None


def choose(base: dict[str, Any], rows: dict[str, dict[str, Any]]) -> str | None:
    """The candidate `RULE` picks from finished `rows` (name -> metrics), or None when none qualifies."""
    floor = base["acc_t1"] - TURN1_SLACK
    ok = {name: row for name, row in rows.items() if row["acc_t1"] >= floor - 1e-12}
    if not ok:
        return None
    tie = 1.0 / min(row["n"] for row in ok.values())
    best = max(row["delta"] for row in ok.values())
    tied = [name for name, row in ok.items() if row["delta"] >= best - tie + 1e-12]
    return max(tied, key=lambda name: (ok[name]["acc_t2"], ok[name]["delta"]))


def table(out: Path, profile: str = "repro") -> dict[str, Any]:
    """Read the finished runs under `out` into the table (written to `out`.json's sibling by `main`)."""
    base_path = out / "base.json"
    base = json.loads(base_path.read_text()) if base_path.exists() else None
    rows = {}
    for name, changes in CANDIDATES.items():
        path = out / name / "metrics.json"
        if path.exists():
            m = json.loads(path.read_text())
            shared = out / name / SHARED
            rows[name] = {"changes": changes, **{k: m.get(k) for k in KEYS}, "train_wall_s": m.get("train_wall_s"),
                          "stage1_from": Path(json.loads(shared.read_text())["from"]).name if shared.exists() else None}
    before = {name: row for name, row in rows.items() if name not in AFTER_TEST}
    experiments = [e for e in (compare_runs(out, *pair) for pair in EXPERIMENTS) if e]
    done = base is not None and all(name in rows for name in CANDIDATES if name not in AFTER_TEST)
    return {"split": "validation", "n": N_VALIDATION, "seed": SEED, "profile": profile, "method": "score",
            "rule": RULE, "base": {k: base.get(k) for k in KEYS} if base else None, "candidates": rows,
            "pending": [name for name in CANDIDATES if name not in rows],
            "chosen": choose(base, before) if done else None,
            "after_test": [name for name in AFTER_TEST if name in CANDIDATES],
            "chosen_with_after_test": (choose(base, {n: r for n, r in rows.items() if n not in ROUND5})
                                       if done and all(n in rows for n in CANDIDATES if n not in ROUND5) else None),
            "round5": {"candidates": list(ROUND5), "finished": [n for n in ROUND5 if n in rows],
                       "chosen": choose(base, {n: rows[n] for n in ROUND5}) if base and all(n in rows for n in ROUND5)
                       else None,
                       "chosen_by": "the rule above on seed 0's validation runs; it decides the recipe once the "
                                    "experiment behind it reads the same way over three seeds or more",
                       "hypotheses": HYPOTHESES,
                       "experiments": experiments,
                       "fair_recipe": fair_recipe(experiments),
                       "delta_per_seed": {name: per_seed(out, name) for name in ROUND5}}}


def per_seed(out: Path, name: str) -> dict[int, float]:
    """Validation Δ of candidate `name` at every seed it has finished (`--seed`)."""
    return {seed: json.loads((path / "metrics.json").read_text())["delta"]
            for seed, path in finished_seeds(out, name).items()}


HYPOTHESES = {"1": "(1) Stage I too short: it still raises Δ after step 48",
              "2": "(2) turn-1 gains absorb the fixable errors: pinning attempt 1 leaves Stage II's bonus to attempt 2",
              "3": "(3) the bonus too rare: more samples per problem give more groups whose outcome changes",
              "d": "a denser reward for improvement (the progress reward) helps where Eq. 4's bonus does not"}
"""The fair test's hypotheses for why SCoRe's Δ stayed near 0 at 135M (issue text, docs/reproduction.md)."""
EXPERIMENTS = (("s1-48-s2-48-scoreT", "s1only-96-scoreT",
                "(a) from Stage I's step 48: 48 steps of Stage II vs 48 more steps of Stage I", None),
               ("s1only-96-scoreT", "s1only-48-scoreT", "(1) Stage I for 96 steps vs for 48", "1"),
               ("s1-48-s2-48-anchor", "s1-48-s2-48-scoreT",
                "(b) Stage II with attempt 1 anchored (no policy gradient, β2 KL) vs Eq. 4's Stage II", "2"),
               ("s1-48-s2-48-k8", "s1-48-s2-48-scoreT", "(c) Stage II with k = 8 samples per problem vs k = 4", "3"),
               ("s1-48-s2-48-progress", "s1-48-s2-48-scoreT",
                "(d) Stage II paid by the progress reward vs Eq. 4's bonus", "d"))
"""The fair test's comparisons on the validation problems: (first, second, what it asks, the hypothesis a
difference above 0 supports; None: it separates none of them, it asks whether Stage II adds to Stage I)."""


FAIR_START = "s1-48-s2-48-scoreT"
"""The fair recipe before its experiments read: on-policy updates, Stage I for 48 steps, then 48 of Eq. 4's Stage II."""
LONGER_STAGE1 = "s1only-96-scoreT"
"""The candidate whose comparison with `FAIR_START`'s Stage I ("1") would lengthen Stage I."""
FAIR_RULE = ("the fair test's reading rule (a comparison decides only when every interval excludes 0, at three "
             "seeds or more) applied to the recipe: start from " + FAIR_START + " (on-policy, Stage I for 48 steps, then Stage II "
             "for 48 with Eq. 4's bonus); Stage I takes 48 more steps only if (1) reads above 0 on both intervals at "
             "three seeds or more; Stage II changes only to a variant whose comparison with Eq. 4's ((b), (c), (d)) "
             "reads above 0 on both intervals at three seeds or more, the largest pooled difference if several; "
             "(a) decides no field: it says whether Stage II adds to Stage I")


def fair_recipe(experiments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The recipe `FAIR_RULE` gives from the fair test's comparisons (`compare_runs` results): "fields", the
    RL fields a run of it takes (a candidate's changes), and "because", one line per decision; None when
    `FAIR_START` is not a candidate."""
    if FAIR_START not in CANDIDATES:  # a search of other candidates (the tests' tiny ones)
        return None
    fields = dict(CANDIDATES[FAIR_START])
    by_first = {e["first"]: e for e in experiments}
    because = []
    longer = by_first.get(LONGER_STAGE1)
    if longer and longer["decides"] and longer["reads"] == "above 0":
        fields.update(stage1_steps=fields["stage1_steps"] + 48, steps=fields["steps"] + 48)
        because.append(f"{longer['what']}: above 0 at {len(longer['seeds'])} seeds, so Stage I takes 96 steps")
    else:
        because.append("(1) Stage I for 96 steps vs for 48: " + (
            f"{longer['reads']} at {len(longer['seeds'])} seed(s)" if longer else "not run") + ", so Stage I keeps 48")
    variants = [e for e in experiments if e["second"] == FAIR_START and e["first"] in CANDIDATES
                and any(CANDIDATES[e["first"]][f] != CANDIDATES[FAIR_START][f] for f in STAGE2_FIELDS)]
    won = [e for e in variants if e["decides"] and e["reads"] == "above 0"]
    if won:
        best = max(won, key=lambda e: e["delta_difference"])
        fields.update({f: CANDIDATES[best["first"]][f] for f in STAGE2_FIELDS})
        because.append(f"{best['what']}: above 0 at {len(best['seeds'])} seeds, so Stage II takes it")
    else:
        because.append("Stage II keeps Eq. 4's bonus: " + ("; ".join(
            f"{e['what'].split(')')[0]}) {e['reads']} at {len(e['seeds'])} seed(s)" for e in variants)
            or "no variant finished"))
    return {"rule": FAIR_RULE, "fields": fields, "because": because}


def finished_seeds(out: Path, name: str) -> dict[int, Path]:
    """Seed -> run folder of candidate `name`, for every seed it has finished (`--seed`)."""
    found = {}
    for path in sorted([out / name / "metrics.json", *out.glob(f"seed*/{name}/metrics.json")]):
        if path.exists() and (path.parent / "metrics.episodes.jsonl").exists():
            seed = SEED if path.parent.parent == out else int(path.parent.parent.name.removeprefix("seed"))
            found[seed] = path.parent
    return dict(sorted(found.items()))


def compare_runs(out: Path, first: str, second: str, what: str, hypothesis: str | None = None
                 ) -> dict[str, Any] | None:
    """Δ(first) − Δ(second) on the validation problems, at every seed both have finished: the per-problem
    differences pooled over those seeds with their paired interval ("ci"), and with two seeds or more the
    t-interval of the per-seed differences ("seed_ci", the between-seed variance). It reads "above 0" or
    "below 0" only when every interval it has excludes 0; "supports" says what that means for `hypothesis`
    (a key of `HYPOTHESES`). Beside it, "acc_t1": both candidates' turn-1 accuracy over the same problems and
    its paired difference (pooled), the quantity hypothesis (2) is about: a Stage II that raises Acc@t1 leaves
    fewer errors for attempt 2 to fix. None until both have finished a common seed."""
    from scoreutils.metrics import pooled_paired_difference, seed_interval
    from scoreutils.runs.record import read_episodes

    a, b = finished_seeds(out, first), finished_seeds(out, second)
    seeds = [seed for seed in a if seed in b]
    if not seeds:
        return None
    pairs = [(read_episodes(a[s] / "metrics.episodes.jsonl"), read_episodes(b[s] / "metrics.episodes.jsonl"))
             for s in seeds]
    d = pooled_paired_difference(pairs, "delta")
    per_seed = [paired_delta_difference(*pair)["diff"] for pair in pairs]
    seed_ci = seed_interval(per_seed)
    intervals = [d["diff_ci"], *([seed_ci] if seed_ci else [])]
    reads = ("above 0" if all(lo > 0 for lo, _ in intervals) else "below 0" if all(hi < 0 for _, hi in intervals)
             else "inconclusive (an interval includes 0)")
    claim = HYPOTHESES.get(hypothesis or "")
    supports = (None if claim is None else f"supports {claim}" if reads == "above 0" else
                f"against {claim}" if reads == "below 0" else f"neither for nor against {claim}")
    decides = len(seeds) >= 3
    t1 = pooled_paired_difference(pairs, "acc_t1")
    return {"what": what, "first": first, "second": second, "n": d["n"], "seeds": seeds,
            "acc_t1": {"first": t1["a"], "second": t1["b"], "difference": t1["diff"], "ci": list(t1["diff_ci"])},
            "delta_difference": d["diff"], "ci": list(d["diff_ci"]),
            "per_seed": dict(zip(seeds, per_seed)), "seed_ci": list(seed_ci) if seed_ci else None, "reads": reads,
            "supports": supports, "decides": decides}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=list(CANDIDATES), metavar="NAME",
                    help=f"only these candidates ({', '.join(CANDIDATES)})")
    ap.add_argument("--table", action="store_true", help="only re-write the table from finished runs")
    ap.add_argument("--profile", default="repro")
    ap.add_argument("--model", default=None, help="override the profile's model ('tiny' for tests)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seed", type=int, default=SEED,
                    help=f"train the candidates at this seed (default {SEED}; others go to <out>/seed<N>; the "
                         "table's rows stay seed 0's, other seeds appear in round5.delta_per_seed)")
    args = ap.parse_args(argv)
    out, table_path = args.out.resolve(), args.out.resolve().with_suffix(".json")
    get_profile(args.profile)  # an unknown profile: one line, before anything starts
    if not args.table:
        import torch

        from scoreutils.runs import pipeline
        from scoreutils.train.checkpoints import claim_run_dir

        torch.set_num_threads(1)
        base_profile = candidate_profile("a10", args.profile, args.model)
        if not (out / "base.json").exists():
            with claim_run_dir(out / "base", {"method": "eval", "profile": base_profile.to_dict(),
                                              "eval_split": "validation"}):
                pipeline.run_eval(base_profile, out / "base.json", split="validation")
        for name in args.only or list(CANDIDATES):
            t0 = time.perf_counter()
            where = seed_dir(out, args.seed)
            shared = share_stage1(name, where, args.profile, args.model, args.seed)
            if shared:
                print(f"{name}: its first steps taken from {shared} (`shared_steps`)", flush=True)
            run = pipeline.run_train("score", candidate_profile(name, args.profile, args.model, args.seed),
                                     where / name, eval_split="validation")
            print(f"{name}: Acc@t1 {run.metrics['acc_t1']:.3f} Acc@t2 {run.metrics['acc_t2']:.3f} "
                  f"Δ {run.metrics['delta']:+.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
            table_path.write_text(json.dumps(table(out, args.profile), indent=2))
    result = table(out, args.profile)
    table_path.write_text(json.dumps(result, indent=2))
    print(f"chosen: {result['chosen'] or 'not yet (pending: ' + ', '.join(result['pending']) + ')'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
