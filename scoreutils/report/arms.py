"""Arms: held-out runs grouped by method and seed, and the two intervals every verdict reads.

`load_results(root, profile)` finds every held-out evaluation under results/ (an evaluation F.json with
F.episodes.jsonl, or a training run's metrics.json beside its config.json) and groups them into arms: the
method (config.json's "method", else the evaluation's label) plus every profile field that differs from the
named profile, e.g. "score[alpha=0]"; one run per seed. `load_train_evaluations` finds the evaluations of
trained models on their own training problems (`<arm>_on_train.json`).

Two sources of variance, two intervals (`estimate`): problems are matched across runs by their text
(`metrics.problem_key`), each problem's value is averaged over the seeds that hold it, and
- over problems: the adjusted paired interval (`metrics.paired_interval`) over the distinct problems;
- over seeds: a t-interval (`metrics.seed_interval`) over the per-seed means, None with one seed.
An arm that trains nothing (the base model, greedy) has no seed variance of its own. Not here: which claim
an estimate supports (`verdicts.py`), the metrics themselves (`metrics.py`).
"""
from __future__ import annotations

import json
import math
import warnings
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..config import EARLIER_RECIPES, PROFILES, RL_METHODS, profile_defaults, read_jsonl, recipe_of, unread_fields
from ..metrics import episode_metrics, paired_interval, per_problem, seed_interval, wilson_interval

if TYPE_CHECKING:
    from ..runs.record import Run

NAMING_IGNORES = ("seed", "eval_every", "save_every", "batch_size", "n_eval", "test_set", "sft_problems")
"""Profile fields that do not make a run another arm (the seed makes it another run of the same arm; the test
problems it was evaluated on are matched problem by problem; how many problems' traces an SFT data set was
built from changes its size, which the verdicts check run by run, `verdicts.MIN_SFT_PAIRS`)."""
ORDER = ("base", "control", "Self-Refine", "star", "star_plus", "pair_sft", "pair_sft_plus", "naive_rl", "stage1",
         "stage2", "stage2[alpha=0]", "score", "score[alpha=0]", "score-control")
UNTRAINED = ("base", "Self-Refine")
"""Arms that train nothing and decode greedily: a seed does not change them, so they need no interval over seeds."""


Results = Mapping[str, Sequence["Run"]]
"""Arm name -> its runs (`runs.record.Run`, named by their arm), one per seed, sorted by seed."""


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples -> lists, as config.json stores them


def arm_name(method: str, profile: dict[str, Any], n: int | None = None) -> str:
    """`method` plus "[field=value,...]" for each field of `profile` that differs from the profile it names
    (fields a run predates count as their defaults; `NAMING_IGNORES` never count), and "n=..." when a sampled
    evaluation holds another number of problems than its profile's n_eval. Fields the method never reads
    (`config.unread_fields`: an SFT run or a greedy evaluation reads no RL field) and the fields of an earlier
    recipe of the profile the run was made with (`config.EARLIER_RECIPES`, `recipe_of`) do not count.

    >>> from scoreutils.config import get_profile
    >>> arm_name("star", get_profile("repro", steps=3).to_dict()), arm_name("score", get_profile("repro", steps=3).to_dict())
    ('star', 'score[steps=3]')
    """
    named = PROFILES.get(profile.get("name", ""))
    if named is None:
        return method
    defaults, ref = _plain(profile_defaults()), _plain(named.to_dict())
    recipe = recipe_of(profile)
    skip = {*NAMING_IGNORES, "name", *unread_fields(method),
            *(EARLIER_RECIPES[named.name][recipe - 1] if recipe else ())}
    diffs = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in ((k, _plain(profile.get(k, defaults.get(k)))) for k in ref)
             if k not in skip and v != ref[k]]
    sampled = profile.get("test_set", defaults["test_set"]) == "sample"
    if sampled and n is not None and n != profile.get("n_eval", ref["n_eval"]):
        diffs.append(f"n={n}")
    return method + (f"[{','.join(diffs)}]" if diffs else "")


def _evaluation(path: Path, split: str = "test") -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(method, metrics, profile) when `path` is an evaluation of `split` with its episodes, else None."""
    episodes = path.with_suffix(".episodes.jsonl")
    if not episodes.exists():
        return None
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("profile"), dict) or "label" not in metrics:
        return None
    if metrics.get("kind") == "checkpoint":  # a held-out curve's point: the middle of a run, not an arm
        return None
    if metrics.get("split", "test") != split:
        return None
    config = path.parent / "config.json"
    method = metrics["label"]
    if path.name == "metrics.json" and config.exists():  # a training run's method; an evaluation keeps its label
        configured = json.loads(config.read_text()).get("method")
        method = configured if configured and configured != "eval" else method
    return method, metrics, metrics["profile"]


def _load(root: Path, profile: str, split: str, name_of, only_recipe: int | None = None) -> dict[str, list[Run]]:
    from ..runs.record import Run, read_episodes

    root, out = Path(root), {}
    for path in sorted(root.rglob("*.json")):
        if {"checkpoints", "logs"} & set(path.relative_to(root).parts):
            continue
        found = _evaluation(path, split)
        if found is None or found[2].get("name") != profile:
            continue
        method, metrics, prof = found
        arm = name_of(path, method, prof, metrics)
        if arm is None:
            continue
        seed = int(prof.get("seed", 0))
        recipe = (recipe_of(prof) or 0) if method.split("-")[0] in RL_METHODS else 0
        same = [r for r in out.get(arm, []) if r.seed == seed and r.recipe == recipe]
        if same:
            if _shared(prof) and not _shared(same[0].metrics.get("profile", {})):
                out[arm].remove(same[0])  # a run on the shared test set replaces one made on a seed's own draw
            else:
                if _shared(same[0].metrics.get("profile", {})) == _shared(prof):
                    warnings.warn(f"{path}: a second run of {arm}, seed {seed}; kept the first", stacklevel=3)
                continue
        log = read_jsonl(path.parent / "log.jsonl") if path.name == "metrics.json" else []
        out.setdefault(arm, []).append(Run(arm, path, metrics, read_episodes(path.with_suffix(".episodes.jsonl")),
                                           log, loaded=True, seed=seed, recipe=recipe))
    for arm, runs in out.items():  # runs of the profile's current recipe replace an arm's runs of an earlier one
        if only_recipe is not None:
            out[arm] = [r for r in runs if not is_rl(arm) or r.recipe == only_recipe]
        elif any(r.recipe == 0 for r in runs):
            out[arm] = [r for r in runs if r.recipe == 0]
    out = {arm: runs for arm, runs in out.items() if runs}
    for arm, runs in out.items():  # an arm with runs on the shared test set: never a mix with seeds' own draws
        if any(_shared(r.metrics.get("profile", {})) for r in runs):
            out[arm] = [r for r in runs if _shared(r.metrics.get("profile", {}))]
    return {arm: sorted(runs, key=lambda r: r.seed) for arm, runs in sorted(out.items(), key=_order)}


def _shared(profile: Mapping[str, Any]) -> bool:
    """Whether a run was evaluated on the shared test set (`Profile.test_set` "all")."""
    return profile.get("test_set") == "all"


def is_rl(arm: str) -> bool:
    """Whether `arm` (a `load_results` name) is an RL method's, or samples an RL method's model."""
    return arm.split("[")[0].split("-")[0] in RL_METHODS


def load_results(root: Path, profile: str = "cpu", recipe: int | None = None) -> dict[str, list[Run]]:
    """arm -> its runs (one per seed, by seed) of every held-out evaluation under `root` made in `profile`.
    Checkpoint and log folders are skipped. Of two runs of the same arm and seed, one on the shared test set wins
    over one on a seed's own draw (an earlier protocol, e.g. results/repro_v1); otherwise the first is kept, with a
    warning. An arm with a run on the shared test set keeps only such runs, and an RL arm with a run of the
    profile's current recipe only those (`config.recipe_of`): its seeds are never a mix of two protocols. With
    `recipe` (0 the current, k the k-th earlier), every RL arm keeps that recipe's runs only."""
    return _load(root, profile, "test", lambda path, method, prof, m: arm_name(method, prof, m.get("n")), recipe)


def lesson_results(root: Path, arms: Sequence[str], profile: str = "repro") -> dict[str, list[Run]]:
    """The runs a lesson that shows `arms` reads: `load_results`, unless its RL arms do not all have runs of
    the current recipe; then every RL arm shows the newest recipe all of them have (runs of one recipe side by
    side, those the answer key reads while `make reproduce` remakes the rest), else `load_results` as it is."""
    every = load_results(root, profile)
    rl = [a for a in arms if is_rl(a) and every.get(a)]
    if all(r.recipe == 0 for a in rl for r in every[a]):
        return every
    for k in range(1, 1 + max((len(v) for v in EARLIER_RECIPES.values()), default=0)):
        older = load_results(root, profile, recipe=k)
        if all(older.get(a) for a in rl):
            return older
    return every


def load_train_evaluations(root: Path, profile: str = "cpu") -> dict[str, list[Run]]:
    """arm -> evaluations of its trained model on training problems: files named `<arm>_on_train.json` (lesson 03
    makes them) and `make reproduce`'s "<arm>-on_train" runs (config.json method "<arm>-on_train")."""
    def name_of(path: Path, method: str, prof: dict[str, Any], metrics: dict[str, Any]) -> str | None:
        if method.endswith("-on_train"):
            return method[:-len("-on_train")]
        return path.stem[:-len("_on_train")] if path.stem.endswith("_on_train") else None

    return _load(root, profile, "train", name_of)


def _order(item: tuple[str, Any]) -> tuple[int, str]:
    return (ORDER.index(item[0]) if item[0] in ORDER else len(ORDER), item[0])


SCALING_MODELS = {"score": "SCoRe", "base": "base"}
"""A scaling run's method (its label before " (scaling)") -> the model name its curve goes under."""


def _of_kind(root: Path, kind: str, profile: str):
    """(path, metrics) of every JSON file under `root` (checkpoint folders skipped) whose metrics are of `kind`
    ("scaling", "curve") and were made in `profile`."""
    for path in sorted(Path(root).rglob("*.json")):
        if "checkpoints" in path.parts:
            continue
        try:
            m = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(m, dict) and m.get("kind") == kind and m.get("profile", {}).get("name") == profile:
            yield path, m


def load_scaling_runs(root: Path, profile: str = "cpu") -> dict[str, list[dict[str, Any]]]:
    """model ("SCoRe", "base") -> its scaling runs made in `profile` (`runs.pipeline.run_scaling`: a metrics.json
    of kind "scaling" with its answers beside it), one per seed, by seed: {"seed", "records" (the
    `metrics.vote_answers` records), "curve", "samples", "path"}."""
    found: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for path, m in _of_kind(root, "scaling", profile):
        answers = path.with_suffix(".answers.jsonl")
        if not answers.exists():
            continue
        model = SCALING_MODELS.get(str(m.get("label", "")).removesuffix(" (scaling)"), m.get("label"))
        seed = int(m["profile"].get("seed", 0))
        found[model].setdefault(seed, {"seed": seed, "records": read_jsonl(answers), "curve": m["curve"],
                                       "samples": m["samples"], "path": path})
    return {model: [runs[s] for s in sorted(runs)] for model, runs in found.items()}


def load_curves(root: Path, profile: str = "cpu") -> dict[str, list[dict[str, Any]]]:
    """method ("score", "naive_rl") -> its held-out curves made in `profile` (`runs.pipeline.run_curve`: a
    metrics.json of kind "curve"), one per seed, by seed: {"seed", "steps", "points" (step -> metrics), "path"},
    with the untrained model's evaluation of the same test problems as step 0 when `root` holds one ("base")."""
    from ..metrics import problem_key
    from ..runs.record import read_episodes

    bases = [(r, {problem_key(e.problem) for e in r.episodes}) for arm, runs in load_results(root, profile).items()
             if arm.split("[")[0] == "base" for r in runs]
    found: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for path, m in _of_kind(root, "curve", profile):
        method = str(m.get("label", "")).removesuffix(" (held-out curve)")
        points = {int(s): v for s, v in m["points"].items()}
        first = path.parent / f"step{min(points):03d}.episodes.jsonl"
        problems = {problem_key(e.problem) for e in read_episodes(first)} if first.exists() else None
        base = next((r for r, keys in bases if keys == problems
                     and r.metrics["profile"].get("model") == m["profile"].get("model")), None)
        if base is not None:
            points[0] = {k: base.metrics.get(k) for k in next(iter(points.values()))}
        seed = int(m["profile"].get("seed", 0))
        found[method].setdefault(seed, {"seed": seed, "steps": sorted(points), "points": dict(sorted(points.items())),
                                        "path": path})
    return {method: [runs[s] for s in sorted(runs)] for method, runs in found.items()}


def load_scaling(root: Path, profile: str = "cpu") -> dict[str, Any] | None:
    """The majority-voting evidence made in `profile`: results/scaling.json (lesson 07's curves, "curves") when it
    was made in `profile`, and the scaling runs of `make reproduce` ("runs", `load_scaling_runs`) when there are
    any; None when there is neither."""
    path = Path(root) / "scaling.json"
    data = json.loads(path.read_text()) if path.exists() else None
    data = data if data and data.get("profile", {}).get("name") == profile else None
    runs = load_scaling_runs(root, profile)
    if runs:
        data = {**(data or {"profile": {"name": profile}}), "runs": runs}
    return data


# ---------------------------------------------------------------------------------------------
# Statistics: one value per problem and seed, two intervals
# ---------------------------------------------------------------------------------------------
def seed_pairs(runs_a: Sequence[Run], runs_b: Sequence[Run]) -> list[tuple[Run, Run]]:
    """Runs of two arms to compare: by seed. An untrained arm with a single run (a greedy base evaluation, which no
    seed changes) pairs with every run of the other arm; a trained arm's single run pairs with its own seed only,
    so that the other arm's seeds never pass for its replicates. Problems are matched by text, never by id."""
    by_seed = {b.seed: b for b in runs_b}
    pairs = [(a, by_seed[a.seed]) for a in runs_a if a.seed in by_seed]
    if len(runs_b) == 1 and not is_trained(runs_b[0].name):
        pairs += [(a, runs_b[0]) for a in runs_a if a.seed != runs_b[0].seed]
    elif len(runs_a) == 1 and not is_trained(runs_a[0].name):
        pairs += [(runs_a[0], b) for b in runs_b if b.seed != runs_a[0].seed]
    return sorted(pairs, key=lambda p: (p[0].seed, p[1].seed))


def estimate(seed_maps: Sequence[Mapping[str, float]], seeds: Sequence[int], trained: bool = True,
             bound: float = 1.0, proportion: bool = False) -> dict[str, Any]:
    """The value behind a verdict, from one map problem -> value per seed (or seed pair), with both intervals.

    value: the mean over distinct problems of each problem's mean over the seeds that hold it;
    ci_problems: `metrics.paired_interval` over those problem means (a proportion: Wilson's interval);
    ci_seeds: `metrics.seed_interval` over the per-seed means, None for one seed; for an untrained arm
    (`trained=False`) the interval over problems (its seeds only redraw problems).

    >>> e = estimate([{"a": 1.0, "b": 0.0}, {"a": 1.0, "c": 1.0}], seeds=[0, 1])
    >>> e["value"], e["n_distinct"], e["per_seed"]
    (0.6666666666666666, 3, [0.5, 1.0])
    """
    by_problem: dict[str, list[float]] = defaultdict(list)
    for m in seed_maps:
        for key, v in m.items():
            by_problem[key].append(v)
    means = [sum(v) / len(v) for v in by_problem.values()]
    n = len(means)
    value = sum(means) / n if n else 0.0
    ci = list(wilson_interval(sum(means), n)) if proportion else list(paired_interval(means, bound=bound))
    per_seed = [sum(m.values()) / len(m) for m in seed_maps if m]
    by_seed = seed_interval(per_seed)
    note = None
    if not trained:  # seeds only redraw problems, which the interval over problems already counts
        by_seed, note = tuple(ci), "no training, so a seed does not change it: the interval over problems"
    return {"value": value, "ci_problems": ci, "n_distinct": n, "per_seed": per_seed,
            "ci_seeds": list(by_seed) if by_seed is not None else None, "n_seeds": len(per_seed),
            "seeds": list(seeds), "seed_note": note, "proportion": proportion}


def is_trained(*arms: str) -> bool:
    """Whether any of `arms` trains (and so needs an interval over seeds)."""
    return any(a.split("[")[0] not in UNTRAINED for a in arms)


def arm_value(runs: Sequence[Run], key: str, proportion: bool = False) -> dict[str, Any]:
    """`estimate` of one arm's per-problem `key` (a `metrics.PER_PROBLEM` name)."""
    return estimate([per_problem(r.episodes, key) for r in runs], [r.seed for r in runs],
                    trained=bool(runs) and is_trained(runs[0].name), proportion=proportion)


def difference(runs_a: Sequence[Run], runs_b: Sequence[Run], key: str,
               bound: float | None = None) -> dict[str, Any]:
    """`estimate` of arm a minus arm b on per-problem `key`, paired by problem within each seed pair, with the
    means of each arm over the matched problems ("a", "b")."""
    pairs = seed_pairs(runs_a, runs_b)
    maps, a_vals, b_vals = [], [], []
    for ra, rb in pairs:
        va, vb = per_problem(ra.episodes, key), per_problem(rb.episodes, key)
        common = [k for k in va if k in vb]
        maps.append({k: va[k] - vb[k] for k in common})
        a_vals += [va[k] for k in common]
        b_vals += [vb[k] for k in common]
    arms = [r.name for r in (*runs_a[:1], *runs_b[:1])]
    out = estimate(maps, sorted({ra.seed for ra, _ in pairs}), trained=is_trained(*arms),
                   bound=bound or (2.0 if key in ("delta", "answered_net") else 1.0))
    out.update(a=sum(a_vals) / len(a_vals) if a_vals else 0.0, b=sum(b_vals) / len(b_vals) if b_vals else 0.0)
    return out


def arm_delta(runs: Sequence[Run]) -> dict[str, Any]:
    """Δ of one arm: pooled over its seeds' episodes (accuracies, Δ), its per-seed values with their mean and
    standard deviation (None for one seed), and both intervals of `estimate`."""
    eps = [e for r in runs for e in r.episodes]
    n = len(eps)
    per_seed = [sum(float(e.r2) - float(e.r1) for e in r.episodes) / len(r.episodes) if r.episodes else 0.0
                for r in runs]
    k = len(per_seed)
    mean_seed = sum(per_seed) / k if k else 0.0
    sd = math.sqrt(sum((d - mean_seed) ** 2 for d in per_seed) / (k - 1)) if k > 1 else None
    est = arm_value(runs, "delta")
    return {"n": n, "n_distinct": est["n_distinct"], "seeds": [r.seed for r in runs],
            "n_eval": sorted({len(r.episodes) for r in runs}),
            "acc_t1": sum(float(e.r1) for e in eps) / n if n else 0.0,
            "acc_t2": sum(float(e.r2) for e in eps) / n if n else 0.0,
            "delta": sum(float(e.r2) - float(e.r1) for e in eps) / n if n else 0.0,
            "delta_ci": est["ci_problems"], "delta_ci_seeds": est["ci_seeds"],
            "delta_per_seed": per_seed, "delta_seed_mean": mean_seed, "delta_seed_sd": sd}


SUMMARY_KEYS = ("delta_i_to_c", "delta_c_to_i", "right_to_wrong", "right_to_none", "wrong_to_right", "none_to_right",
                "gave_up_t2", "changed_answer_answered", "changed_answer_rate", "n_answered_pairs",
                "edit_distance_ratio", "edit_distance_ratio_answered", "no_answer_t1", "no_answer_t2")


def summary(results: Results) -> list[dict[str, Any]]:
    """One row per arm: seeds, held-out problems per seed and distinct over seeds, pooled accuracies and Δ with
    both intervals, Δ's across-seed mean and standard deviation, and the outcome split (`SUMMARY_KEYS`, pooled
    over the seeds' episodes)."""
    rows = []
    for arm, runs in results.items():
        d = arm_delta(runs)
        m = episode_metrics([e for r in runs for e in r.episodes])
        rows.append({"method": arm, **d, "n_eval": d["n_eval"][0] if len(d["n_eval"]) == 1 else d["n_eval"],
                     **{k: m[k] for k in SUMMARY_KEYS}})
    return rows
