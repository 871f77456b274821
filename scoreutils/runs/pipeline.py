"""Pipeline: evaluation, training, the parallel-sampling control and the demo as functions that return `Run`s.

The command line, `store.py`, the tools and the notebooks all call these; none of them prints a table or
parses arguments (the command line does that). A `Run` is what one evaluation or training run produced:
its metrics (the keys of `metrics.episode_metrics`, plus provenance), its held-out `Episode`s, its training
log and its folder. On disk an evaluation is F.json + F.episodes.jsonl; a training run is a folder holding
config.json, log.jsonl, checkpoints/, metrics.json and metrics.episodes.jsonl.
Not here: the run record and episodes on disk (`record.py`), where runs live and whether to reuse one
(`store.py`), the loops themselves (`scoreutils/train/`).
"""
from __future__ import annotations

import json
import platform
import random
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ..config import Profile, profile_defaults, read_jsonl, refuse_special_file, unread_fields, write_json
from ..models import Policy, load_policy
from ..rollout import Episode
from ..tasks import Problem, every_arithmetic_problem, load_task
from .record import Run, load_run, read_episodes, write_episodes  # noqa: F401 (load_run: for store)

METHODS = ("star", "star_plus", "pair_sft", "pair_sft_plus", "naive_rl", "stage1", "stage2", "score")
SFT_METHODS = METHODS[:4]


def demo_sentence(base: Run, score: Run) -> str:
    """One sentence, from the numbers, on what the demo's table shows: each Δ with its interval, and the
    paired difference of the two Δs with what its interval says (one seed: a difference inside the noise is
    inconclusive)."""
    from ..metrics import paired_delta_difference

    def delta(m: dict[str, Any]) -> str:
        low, high = m["delta_ci"]
        return f"{100 * m['delta']:+.1f} points [{100 * low:.1f}, {100 * high:.1f}]"

    d = paired_delta_difference(score.episodes, base.episodes)
    low, high = d["diff_ci"]
    reads = ("SCoRe self-corrects more than the base model here" if low > 0 else
             "SCoRe self-corrects less than the base model here" if high < 0 else
             "inconclusive: the interval includes 0")
    m = base.metrics
    breaks = (f" The base model's broken answers are {100 * m['right_to_wrong']:.0f}% revised into a wrong answer "
              f"and {100 * m['right_to_none']:.0f}% a second attempt with no answer at all (a format failure, not "
              "a revision)." if m.get("right_to_none") else "")
    return (f"What the table shows: on {d['n']} held-out problems the base model's Δ(t1,t2) is "
            f"{delta(base.metrics)} and SCoRe's {delta(score.metrics)}; SCoRe − base = {100 * d['diff']:+.1f} points "
            f"[{100 * low:.1f}, {100 * high:.1f}], {reads} (one seed of a {score.metrics.get('profile', {}).get('name', '')} "
            "run; the reproduction's verdicts are in README)." + breaks)


# ---------------------------------------------------------------------------------------------
# Inputs of a profile
# ---------------------------------------------------------------------------------------------
def profile_policy(profile: Profile, lora: bool = False) -> Policy:
    """The profile's model, with the profile's LoRA adapter when `lora` (for training)."""
    return load_policy(profile.model, quantization=profile.quantization, dtype=profile.dtype,
                       lora=profile.lora_spec() if lora else None, seed=profile.seed)


def profile_problems(profile: Profile, split: str, n: int | None = None) -> list[Problem]:
    """`n` problems (default `profile.n_eval`) of the profile's task and split (arithmetic: its levels, and
    its `turn1_format` in each problem's meta unless it is the default)."""
    if profile.task != "arithmetic":
        return load_task(profile.task, split, n=n or profile.n_eval, seed=profile.seed)
    level = list(profile.level) if isinstance(profile.level, tuple) else profile.level
    if split == "test" and profile.test_set == "all":
        if not isinstance(level, int):
            raise ValueError("test_set 'all' needs one arithmetic level, not several")
        problems = every_arithmetic_problem(split, level)
        if n is not None and n < len(problems):  # a shorter evaluation: the same draw for every seed
            problems = random.Random(0).sample(problems, n)
    else:
        problems = load_task(profile.task, split, n=n or profile.n_eval, seed=profile.seed, level=level)
    if profile.turn1_format != "final-answer":
        problems = [replace(p, meta={**p.meta, "turn1_format": profile.turn1_format}) for p in problems]
    return problems


# ---------------------------------------------------------------------------------------------
# Evaluate, train, demo
# ---------------------------------------------------------------------------------------------
def evaluate_policy(policy: Policy, profile: Profile, split: str = "test", n: int | None = None,
                    label: str = "base", instruction: str | None = None,
                    problems: Sequence[Problem] | None = None) -> tuple[dict[str, Any], list[Episode]]:
    """Greedy two-attempt evaluation of `policy` on the profile's problems (or `problems`, when the caller
    has drawn them already): (metrics with provenance, episodes). Writes nothing."""
    from ..train import evaluate

    problems = profile_problems(profile, split, n) if problems is None else problems
    metrics, eps = evaluate(policy, problems, profile, desc=f"eval {label}", instruction=instruction)
    result = {**metrics, "label": label, "model": profile.model, "task": profile.task, "split": split,
              "instruction": instruction, "profile": profile.to_dict(), "python": platform.python_version()}
    return result, eps


def run_eval(profile: Profile, out: Path, split: str = "test", n: int | None = None, policy: Policy | None = None,
             label: str = "base", instruction: str | None = None) -> Run:
    """Evaluate (greedy) `policy` (default: the profile's base model) and write `out` (JSON) and
    its episodes beside it (`out` with suffix .episodes.jsonl). `instruction` replaces the paper's
    turn-2 instruction (e.g. `prompts.SELF_REFINE_TURN2`). An `out` that is not a regular file, or a split
    or `n` the task cannot give, is refused before the model loads."""
    out = Path(out)
    refuse_special_file(out, out.with_suffix(".episodes.jsonl"))
    problems = profile_problems(profile, split, n)
    policy = policy or profile_policy(profile)
    result, eps = evaluate_policy(policy, profile, split, n, label, instruction, problems=problems)
    write_episodes(out.with_suffix(".episodes.jsonl"), eps)
    write_json(out, result)
    return Run(label, out, result, eps)


def parallel_control(policy: Policy, profile: Profile, split: str = "test",
                     n: int | None = None) -> tuple[list[Episode], list[Episode]]:
    """The compute-matched control of self-correction: two attempts without a second turn.

    Samples two independent two-turn episodes per problem at the profile's temperature (seed
    `profile.seed`). Returns (parallel, sequential): in a parallel episode y2 is the *other* sample's
    turn-1 answer (p_ids empty, extra["control"] = "parallel"), so its Δ, i→c and c→i are what plain
    resampling gives; a sequential episode is the first sample's own turn 2 at the same temperature.
    """
    from ..rollout import sample_episodes

    problems = profile_problems(profile, split, n)
    eps = sample_episodes(policy, problems, max_new_tokens=profile.max_new_tokens,
                          temperature=profile.temperature, samples_per_problem=2,
                          batch_size=profile.batch_size, seed=profile.seed, desc="control (2 samples)")
    first, second = eps[0::2], eps[1::2]
    parallel = [Episode(problem=a.problem, x1_ids=a.x1_ids, y1_ids=a.y1_ids, p_ids=[], y2_ids=b.y1_ids,
                        y1=a.y1, y2=b.y1, truncated1=a.truncated1, truncated2=b.truncated1, r1=a.r1, r2=b.r1,
                        outcome1=a.outcome1, outcome2=b.outcome1, extra={"control": "parallel"}) for a, b in zip(first, second)]
    return parallel, first


def run_control(profile: Profile, out: Path, split: str = "test", n: int | None = None,
                policy: Policy | None = None) -> Run:
    """`parallel_control` of `policy` (default: the base model) written like `run_eval`: `out` holds the
    parallel episodes' metrics, with the sequential ones under "sequential"; the episodes go beside it, the
    sequential ones to `out` with suffix .sequential.episodes.jsonl (`control_episodes` reads both back)."""
    from ..metrics import episode_metrics

    out = Path(out)
    refuse_special_file(out, out.with_suffix(".episodes.jsonl"), out.with_suffix(".sequential.episodes.jsonl"))
    policy = policy or profile_policy(profile)
    t0 = time.perf_counter()
    parallel, sequential = parallel_control(policy, profile, split, n)
    result = {**episode_metrics(parallel), "label": "parallel control", "model": profile.model,
              "task": profile.task, "split": split, "instruction": None, "temperature": profile.temperature,
              "sequential": episode_metrics(sequential), "wall_s": time.perf_counter() - t0,
              "profile": profile.to_dict(), "python": platform.python_version()}
    write_episodes(out.with_suffix(".episodes.jsonl"), parallel)
    write_episodes(out.with_suffix(".sequential.episodes.jsonl"), sequential)
    write_json(out, result)
    return Run("control", out, result, parallel)


SCALING_SAMPLES = 8
"""Two-attempt samples per problem of a scaling run: majority votes at 2, 4 and 8 generations (the paper's Figure 1,
right, goes to 32 with a far larger model)."""
SCALING_CHUNK = 32
"""Problems sampled per chunk of a scaling run: each chunk is seeded by its number and saved as it ends, so an
interrupted run loses at most one chunk and a resumed one draws the same samples."""


def scaling_budgets(samples: int) -> list[int]:
    """The budgets (generations per problem) that `samples` two-attempt samples per problem can vote at."""
    return [b for b in (2, 4, 8, 16, 32) if b <= samples]


def scaling_curve(records: Sequence[dict[str, Any]], budgets: Sequence[int]) -> list[dict[str, float]]:
    """Rows {budget, parallel, sequential} of majority-vote accuracy from `metrics.vote_answers` records."""
    from ..metrics import voted_outcomes

    rows = []
    for b in budgets:
        votes = voted_outcomes(records, b).values()
        rows.append({"budget": b, "parallel": sum(p for p, _ in votes) / len(votes),
                     "sequential": sum(s for _, s in votes) / len(votes)})
    return rows


def run_scaling(profile: Profile, out: Path, split: str = "test", n: int | None = None,
                policy: Policy | None = None, samples: int = SCALING_SAMPLES, label: str = "base") -> dict[str, Any]:
    """Inference-compute scaling of `policy` (default: the base model): `samples` two-attempt episodes per
    problem at the profile's temperature, written as `out` (JSON: the curve of `scaling_curve` at every budget of
    `scaling_budgets`) and the extracted answers beside it (`out` with suffix .answers.jsonl, one
    `metrics.vote_answers` record per problem: every vote can be recomputed from it). Sampled in chunks of
    `SCALING_CHUNK` problems, each seeded by the profile's seed and its number and appended to
    `out`.answers.partial.jsonl as it ends: a re-run goes on from the last finished chunk."""
    from ..config import write_jsonl
    from ..metrics import vote_answers
    from ..rollout import sample_episodes

    out = Path(out)
    answers, partial = out.with_suffix(".answers.jsonl"), out.with_suffix(".answers.partial.jsonl")
    refuse_special_file(out, answers, partial)
    if samples < 2:
        raise ValueError("a scaling run needs at least 2 samples per problem (a budget of 2 generations)")
    problems = profile_problems(profile, split, n)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = read_jsonl(partial)
    done = {row["chunk"]: row["records"] for row in rows}
    wall = {row["chunk"]: row["wall_s"] for row in rows}
    chunks = [problems[i:i + SCALING_CHUNK] for i in range(0, len(problems), SCALING_CHUNK)]
    for k, chunk in enumerate(chunks):
        if k in done:
            continue
        t0 = time.perf_counter()
        policy = policy or profile_policy(profile)
        eps = sample_episodes(policy, chunk, max_new_tokens=profile.max_new_tokens, temperature=profile.temperature,
                              samples_per_problem=samples, batch_size=profile.batch_size,
                              seed=1000 * profile.seed + k, desc=f"scaling {label}: chunk {k + 1}/{len(chunks)}")
        done[k], wall[k] = vote_answers(eps), time.perf_counter() - t0
        with open(partial, "a") as f:
            f.write(json.dumps({"chunk": k, "records": done[k], "wall_s": wall[k]}) + "\n")
    records = [r for k in range(len(chunks)) for r in done[k]]
    budgets = scaling_budgets(samples)
    result = {"label": f"{label} (scaling)", "kind": "scaling", "model": profile.model, "task": profile.task,
              "split": split, "n": len(records), "samples": samples, "budgets": budgets,
              "temperature": profile.temperature, "curve": scaling_curve(records, budgets),
              "wall_s": sum(wall.values()), "profile": profile.to_dict(), "python": platform.python_version()}
    write_jsonl(answers, records)
    write_json(out, result)
    partial.unlink(missing_ok=True)
    return result


def control_episodes(out: Path) -> tuple[list[Episode], list[Episode]] | None:
    """(parallel, sequential) episodes of a `run_control` output `out`, or None when either is missing."""
    out = Path(out)
    paths = out.with_suffix(".episodes.jsonl"), out.with_suffix(".sequential.episodes.jsonl")
    if not out.exists() or not all(path.exists() for path in paths):
        return None
    return read_episodes(paths[0]), read_episodes(paths[1])


def run_train(method: str, profile: Profile, out: Path, fresh: bool = False, eval_split: str = "test") -> Run:
    """Train `method` in `profile`, then evaluate it on `profile.n_eval` held-out problems of `eval_split`
    ("validation" when choosing settings: see tools/recipe_search.py); everything goes under `out`.
    The run's folder is claimed first (`checkpoints.claim_run_dir`): a folder in use or holding a run of
    another configuration is refused (`fresh` deletes such a run instead), an interrupted run resumes,
    and a finished run is loaded rather than trained again."""
    from ..train import sft
    from ..rollout import sample_episodes
    from ..train.checkpoints import claim_run_dir, finished_run
    from ..train import score_schedule, train_rl, train_sft

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    out = Path(out)
    config = {"method": method, "profile": profile.to_dict()}
    if eval_split != "test":  # runs evaluated on test (all runs made before this option) keep their config
        config["eval_split"] = eval_split
    recorded = json.loads((out / "config.json").read_text()).get("profile", {}) if (out / "config.json").is_file() else {}
    config["profile"].update({k: recorded[k] for k in unread_fields(method) if k in recorded})  # e.g. SFT: RL fields
    defaults = {"profile": profile_defaults()}
    if not fresh and finished_run(out, config, defaults):  # no lock, no write: a read-only folder loads
        return load_run(out, method)
    with claim_run_dir(out, config, fresh=fresh, defaults=defaults):
        refuse_special_file(*(out / name for name in ("log.jsonl", "traces.jsonl", "metrics.json",
                                                      "metrics.episodes.jsonl")))
        if (out / "metrics.json").exists():
            return load_run(out, method)
        policy = profile_policy(profile, lora=True)
        train_problems = profile_problems(profile, "train", profile.n_train)
        t0 = time.perf_counter()
        extra: dict[str, Any] = {}
        if method in SFT_METHODS:
            traces = read_episodes(out / "traces.jsonl")
            if not traces:
                traces = sample_episodes(policy, train_problems[:profile.sft_problems],
                                         max_new_tokens=profile.max_new_tokens, temperature=1.0,
                                         samples_per_problem=profile.sft_samples_per_problem,
                                         batch_size=profile.batch_size, seed=profile.seed, desc="traces (T=1.0)")
                write_episodes(out / "traces.jsonl", traces)
            pairs = sft.SFT_DATASETS[method](policy.tokenizer, traces, seed=profile.seed)
            extra.update(sft_pairs=len(pairs), sft_traces=len(traces))
            if not pairs:  # reported, not hidden: the evaluation below is then the base model's
                warnings.warn(f"{method} found no training pairs in {len(traces)} traces; the model is left "
                              "unchanged (sample more traces: a larger profile.sft_problems)", stacklevel=2)
            train_sft(policy, profile, pairs, out, checkpointing=profile.activation_checkpointing)
        else:
            stage = {"naive_rl": "naive", "stage1": "stage1", "stage2": "stage2"}.get(method) or score_schedule(profile)
            train_rl(policy, profile, train_problems, out, stage=stage, checkpointing=profile.activation_checkpointing)
        train_s = time.perf_counter() - t0
        result, eps = evaluate_policy(policy, profile, eval_split, label=method)
        result.update(extra, train_wall_s=train_s)
        write_episodes(out / "metrics.episodes.jsonl", eps)
        write_json(out / "metrics.json", result)
        return Run(method, out, result, eps, read_jsonl(out / "log.jsonl"))


@dataclass
class Demo:
    """What `run_demo` produced: the base evaluation, the SCoRe run, the figures and the wall time."""

    base: Run
    score: Run
    figures: list[Path]
    wall_s: float


def run_demo(profile: Profile, out: Path, figures: Path) -> Demo:
    """Base eval -> SCoRe training -> eval, with the transition and training-curve figures."""
    from ..report.plots import kl_caption, model_label, plot_training_curves, plot_transitions

    t0 = time.perf_counter()
    out, figures = Path(out), Path(figures)
    base = run_eval(profile, out / "base.json", label="base")
    score = run_train("score", profile, out / "score")
    paths = [plot_transitions({"base": (base.r1, base.r2), "SCoRe": (score.r1, score.r2)},
                              figures / "transitions_demo.png", title=f"{model_label(profile.model)}: before / after SCoRe"),
             plot_training_curves({"SCoRe": score.log}, figures / "training_curves_demo.png",
                                  title=f"{model_label(profile.model)}: SCoRe training",
                                  kl_note=kl_caption(profile.temperature, profile.score_at_temperature))]
    return Demo(base, score, paths, time.perf_counter() - t0)


CURVE_POINTS = 4
"""A held-out curve evaluates a trained run's checkpoints at 1/4, 2/4 and 3/4 of its steps (`curve_steps`); its
start is the untrained model's evaluation and its end the run's own."""
CURVE_KEYS = ("acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i", "right_to_wrong", "right_to_none",
              "wrong_to_right", "none_to_right", "changed_answer_answered", "gave_up_t2", "n")
"""The metrics a held-out curve's summary keeps per point (each point's episodes hold everything else)."""


def curve_steps(steps: int, save_every: int) -> list[int]:
    """The checkpoint steps a held-out curve of a run of `steps` steps evaluates: 1/4, 2/4 and 3/4 of `steps`, each
    rounded down to a checkpoint step (a multiple of `save_every`), none twice, never 0 or the last step (the
    run's own evaluation is that point)."""
    chosen = []
    for k in range(1, CURVE_POINTS):
        step = steps * k // CURVE_POINTS // save_every * save_every
        if 0 < step < steps and step not in chosen:
            chosen.append(step)
    return chosen


def run_curve(profile: Profile, run_folder: Path, out: Path, label: str) -> dict[str, Any] | None:
    """The held-out curve of the run in `run_folder`: its checkpoints at `curve_steps`, each evaluated greedily on
    the profile's test problems like the run's own final evaluation (the same problems for every point),
    written as `out`/stepNNN.json with its episodes (kind "checkpoint": held-out evaluations of a run's middle,
    never an arm of their own) as each ends, so an interrupted curve goes on from the next. Points whose
    checkpoint the run has not reached yet wait: a curve can start while its run trains. Once every point is
    there and the run has finished, `out`/metrics.json (kind "curve"): {"steps", "points": step -> `CURVE_KEYS`}
    with the run's own evaluation as its last point, returned; None before that."""
    from ..train.checkpoints import load_adapter

    run_folder, out = Path(run_folder), Path(out)
    steps = curve_steps(profile.steps, profile.save_every)
    if not steps:
        raise ValueError(f"a run of {profile.steps} steps has no checkpoint step for a curve")
    problems, policy, points = None, None, {}
    for step in steps:
        path = out / f"step{step:03d}.json"
        refuse_special_file(path, path.with_suffix(".episodes.jsonl"))
        ckpt = run_folder / "checkpoints" / f"step_{step:06d}"
        if not (path.is_file() and path.with_suffix(".episodes.jsonl").is_file()):
            if not ckpt.is_dir():
                continue
            if policy is None:
                policy, problems = profile_policy(profile, lora=True), profile_problems(profile, "test")
            load_adapter(ckpt, policy)
            result, eps = evaluate_policy(policy, profile, "test", label=f"{label} step {step}", problems=problems)
            write_episodes(path.with_suffix(".episodes.jsonl"), eps)
            write_json(path, {**result, "kind": "checkpoint", "step": step})
        points[step] = json.loads(path.read_text())
    missing = [s for s in steps if s not in points]
    if missing or not (run_folder / "metrics.json").is_file():
        if missing and not (run_folder / "metrics.json").is_file() and not points:
            print(f"{label} curve: no checkpoint at steps {', '.join(map(str, missing))} yet", flush=True)
        return None
    points[profile.steps] = json.loads((run_folder / "metrics.json").read_text())
    result = {"kind": "curve", "label": f"{label} (held-out curve)", "profile": profile.to_dict(),
              "steps": sorted(points), "final_from": str(run_folder.name),
              "points": {str(s): {k: m.get(k) for k in CURVE_KEYS} for s, m in sorted(points.items())}}
    write_json(out / "metrics.json", result)
    return result


def trained_policy(run: Run, profile: Profile) -> Policy:
    """A fresh LoRA policy carrying the adapter of `run`'s last checkpoint (for evaluating it again)."""
    from ..train.checkpoints import latest_checkpoint, load_adapter

    ckpt = latest_checkpoint(run.path)
    if ckpt is None:
        raise FileNotFoundError(f"{run.path} has no checkpoint to load (checkpoints are not shipped with the kit: "
                                "train the run again, e.g. with TRAIN = True in a lesson)")
    policy = profile_policy(profile, lora=True)
    load_adapter(ckpt, policy)
    return policy
