"""Reproduce the kit's table: every method of the paper's Tables 1, 2 and 3 (scaled down), three seeds, in the
`repro` profile, plus the base model and the parallel-sampling control. `make reproduce` runs it.

Each run lands in OUT/<name>/seed<k>/ (OUT defaults to results/repro) and is made by `scoreutils.runs.pipeline`:
training runs by `run_train` (a finished run is skipped, an interrupted one resumes from its last
checkpoint), evaluations by `run_eval` / `run_control` in a claimed folder of the same kind. Runs go two at a
time (never more), each a one-thread process whose output goes to results/logs/reproduce/<name>-seed<k>.log;
starts and ends are logged to results/logs/reproduce.log. Stop it at any time: a re-run goes on from there.

    python tools/reproduce.py               # everything not yet finished
    python tools/reproduce.py --dry-run     # what is done, what would run, nothing else
    python tools/reproduce.py --only score score-alpha0 --seeds 0
    python tools/reproduce.py --seeds 3 4   # more seeds than the default, for every run

Not here: the metrics and what they say about the paper's claims (`scoreutils.metrics`, `verdicts`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoreutils.train.checkpoints import CONFIG, claim_run_dir, config_difference, latest_checkpoint, start_from  # noqa: E402
from scoreutils.config import get_profile, profile_defaults, unread_fields, write_atomic  # noqa: E402

# name -> (what makes it, training method or None, profile changes). The paper's row each stands for is in
# docs/reproduction.md.
RUNS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "base": ("eval", None, {}),
    "score": ("train", "score", {}),
    "control": ("control", None, {}),
    "naive_rl": ("train", "naive_rl", {}),
    "score-control": ("control", "score", {}),
    "stage1": ("train", "stage1", {}),
    "score-alpha0": ("train", "score", {"alpha": 0.0}),
    "stage2": ("train", "stage2", {}),
    "star": ("train", "star", {}),
    "star_plus": ("train", "star_plus", {}),
    "pair_sft": ("train", "pair_sft", {}),
    "pair_sft_plus": ("train", "pair_sft_plus", {}),
    "pair_sft-on_train": ("on_train", "pair_sft", {}),
    "pair_sft_plus-on_train": ("on_train", "pair_sft_plus", {}),
    "star_plus-on_train": ("on_train", "star_plus", {}),
    "self_refine": ("eval", "self_refine", {}),
    "base-on_train": ("on_train", None, {}),
    "score-scaling": ("scaling", "score", {}),
    "base-scaling": ("scaling", None, {}),
    "score-curve": ("curve", "score", {}),
    "naive_rl-curve": ("curve", "naive_rl", {}),
}
"""A "control" run with a method samples that method's trained model of the same seed (its last checkpoint):
the comparison of sequential self-correction with parallel sampling at equal compute is about SCoRe. An
"on_train" run evaluates a trained SFT model of the same seed (greedy) on the first `ON_TRAIN` of the training
problems its data came from: Pair-SFT's edit distances on training vs held-out problems (Figure 5); without a
method, the untrained model on those problems. The "eval" run "self_refine" is the base model with the
Self-Refine turn-2 instruction (`prompts.SELF_REFINE_TURN2`, the paper's Table 2 row; lesson 01). A "scaling" run
samples `pipeline.SCALING_SAMPLES` two-attempt episodes per test problem from SCoRe's trained model of the same
seed (or, without a method, the untrained model) and keeps their answers: majority voting at 2, 4 and 8
generations, sequential vs parallel (Figure 1, right; `pipeline.run_scaling`). A "curve" run evaluates the
same seed's trained run at three of its checkpoints (1/4, 2/4, 3/4 of its steps) on the test set: held-out Δ
through training, from the base model's to the run's own (`pipeline.run_curve`)."""
ON_TRAIN = 200
PREFIX = {"stage1": "score", "score-alpha0": "score"}
"""Runs whose first `stage1_steps` steps are those of another run of the same seed (SCoRe's Stage I, in which α
plays no part, seeded by step number): they start from that run's checkpoint there when it has one
(`checkpoints.start_from`). RUNS lists them after the runs they share with and after two runs that share
nothing, so that the shared checkpoint is usually there when they start."""
SFT = ("star", "star_plus", "pair_sft", "pair_sft_plus")
"""The SFT runs of one seed build their data sets from the same traces (the untrained model's samples of the same
problems with the same seed, identical: a fresh adapter changes nothing): a run starts with those of a sibling
that has sampled them already (`share_traces`) instead of sampling them again."""
FIRST = ("base", "score", "control", "naive_rl", "score-control", "score-scaling", "stage1", "score-alpha0",
         "score-curve", "naive_rl-curve")
"""The runs behind SCoRe's own claims (Δ > 0, above naive RL, the bonus, Stage I, sequential vs parallel): they
run for every seed before the rest (Stage II alone and the SFT baselines), so that a reproduction made over
several sittings has its main verdicts on all seeds first. Within a seed, runs go in RUNS' order."""
ONE_SEED = ("base", "self_refine", "base-on_train", "base-scaling")
"""Untrained arms decoded greedily on the shared test set: every seed gives the same run, so only the first
seed's is made (the verdicts pair it with every seed of the other arms, `arms.seed_pairs`); and the untrained
model's scaling curve, a reference beside SCoRe's (no claim rests on it)."""
SEEDS = (0, 1, 2)
MORE_SEEDS = {"score": (3, 4), "stage1": (3, 4), "naive_rl": (3, 4), "score-curve": (3, 4), "naive_rl-curve": (3, 4)}
"""Seeds beyond `SEEDS` for the arms SCoRe's target rests on (its Δ, Stage I's, naive RL's): five seeds each, made
after every run of the three seeds (`job_order`), unless --seeds names the seeds; and the held-out curves of the
first and the last of them."""
MAX_JOBS = 2
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "TOKENIZERS_PARALLELISM": "false"}


@dataclass(frozen=True)
class Job:
    name: str
    seed: int

    def folder(self, out: Path) -> Path:
        return out / self.name / f"seed{self.seed}"

    def label(self) -> str:
        return f"{self.name}/seed{self.seed}"


def job_profile(job: Job, profile: str, model: str | None):
    """The profile a job runs in: `profile` with the job's seed, its changes and an optional model."""
    changes = {**RUNS[job.name][2], "seed": job.seed, **({"model": model} if model else {})}
    return get_profile(profile, **changes)


TRAINING_ONLY = ("n_train", "temperature", "steps", "problems_per_step", "samples_per_problem", "micro_batch", "lr",
                 "alpha", "beta1", "beta2", "score_at_temperature", "normalize_advantages", "stage1_steps",
                 "stage2_reward", "progress_gamma", "stage2_turn1", "stage2_samples_per_problem",
                 "eval_every", "save_every", "lora_r", "lora_alpha", "lora_targets", "sft_epochs", "sft_lr",
                 "sft_samples_per_problem", "sft_problems", "activation_checkpointing", "share_prompt", "autocast")
"""Profile fields a greedy evaluation of the untrained model ("eval" runs) does not use: a change to them leaves
such a run valid (`job_config(..., out=...)` keeps the recorded values)."""


def job_config(job: Job, profile: str, model: str | None, out: Path | None = None) -> dict[str, Any]:
    """What the job's folder remembers in config.json (for training runs: what `run_train` writes). For a run
    whose folder under `out` already records a config, the fields it does not use keep their recorded values: for
    an "eval" run `TRAINING_ONLY`, for any run `config.unread_fields` of its method (an SFT run reads no RL field),
    so that a change of the RL recipe leaves them valid."""
    kind, method, _ = RUNS[job.name]
    name = (method if kind == "train" else f"{method or 'base'}-{kind}" if kind in ("on_train", "scaling", "curve") else
            "eval" if kind == "eval" else f"{method}-control" if method else kind)
    extra = {"instruction": "self_refine"} if kind == "eval" and method == "self_refine" else {}
    config = {"method": name, **extra, "profile": job_profile(job, profile, model).to_dict()}
    if out is not None and (job.folder(out) / CONFIG).exists():
        recorded = json.loads((job.folder(out) / CONFIG).read_text()).get("profile", {})
        keep = {*unread_fields(name), *(TRAINING_ONLY if kind == "eval" else ())}
        config["profile"].update({k: recorded[k] for k in keep if k in recorded})
    return config


def job_order(names: list[str], seeds: list[int], more: bool = False) -> list[Job]:
    """`names` x `seeds`: the runs of FIRST for every seed, then the others for every seed; with `more`, then
    the `MORE_SEEDS` of those named."""
    tiers = [[n for n in names if n in FIRST], [n for n in names if n not in FIRST]]
    jobs = [Job(name, seed) for tier in tiers for seed in seeds for name in tier
            if name not in ONE_SEED or seed == seeds[0]]
    extra = sorted({seed for name in names for seed in MORE_SEEDS.get(name, ())}) if more else []
    return jobs + [Job(name, seed) for seed in extra for name in names if seed in MORE_SEEDS.get(name, ())]


def needs(job: Job) -> Job | None:
    """The run whose trained model `job` samples (a control of a method), else None."""
    kind, method, _ = RUNS[job.name]
    return Job(method, job.seed) if kind in ("control", "on_train", "scaling", "curve") and method else None


def status(job: Job, out: Path, profile: str, model: str | None) -> str:
    """"done", "to run", "resumes after step N", "waits for NAME/seedK", or "other configuration: ..." /
    "needs the checkpoint of ..." (left alone)."""
    folder = job.folder(out)
    cfg = folder / CONFIG
    if cfg.exists():
        diff = config_difference(json.loads(cfg.read_text()), job_config(job, profile, model, out),
                                 {"profile": profile_defaults()})
        if diff:
            return f"other configuration ({', '.join(diff[:3])}): delete {folder} to redo it"
    if (folder / "metrics.json").exists():
        return "done"
    need = needs(job)
    if need is not None:
        if not (need.folder(out) / "metrics.json").exists():
            return f"waits for {need.label()}"
        if latest_checkpoint(need.folder(out)) is None:
            return (f"needs the checkpoint of {need.label()}, which is gone (checkpoints are not committed): "
                    f"delete {need.folder(out)} to train it again")
        return "to run"
    ckpt = latest_checkpoint(folder)
    return f"resumes after step {int(ckpt.name.split('_')[1])}" if ckpt else "to run"


def share_traces(job: Job, out: Path, profile: str, model: str | None) -> Job | None:
    """Copy into `job`'s folder the SFT traces of a sibling SFT run of the same seed and profile (`SFT`) that has
    all of them, unless it has its own; returns the sibling, or None."""
    prof = job_profile(job, profile, model)
    dest = job.folder(out) / "traces.jsonl"
    if job.name not in SFT or dest.exists():
        return None
    want = min(prof.sft_problems, prof.n_train) * prof.sft_samples_per_problem
    for name in SFT:
        sibling = Job(name, job.seed)
        src = sibling.folder(out) / "traces.jsonl"
        if name == job.name or not src.exists() or job_profile(sibling, profile, model) != prof:
            continue
        if sum(1 for line in src.open() if line.strip()) == want:
            write_atomic(dest, src.read_text())
            return sibling
    return None


def run_job(job: Job, out: Path, profile: str, model: str | None) -> None:
    """Make one run in this process (the scheduler starts one process per job)."""
    import torch

    from scoreutils.runs import pipeline

    torch.set_num_threads(1)
    kind, method, _ = RUNS[job.name]
    prof = job_profile(job, profile, model)
    folder = job.folder(out)
    if kind == "train":
        source = Job(PREFIX[job.name], job.seed) if job.name in PREFIX else None
        if source and job_profile(source, profile, model).replace(alpha=prof.alpha) == prof:
            if start_from(folder, source.folder(out), prof.stage1_steps):
                print(f"{job.label()}: steps 1-{prof.stage1_steps} (Stage I) taken from {source.label()}", flush=True)
        sibling = share_traces(job, out, profile, model)
        if sibling:
            print(f"{job.label()}: SFT traces taken from {sibling.label()} (the same samples)", flush=True)
        pipeline.run_train(method, prof, folder)
        return
    with claim_run_dir(folder, job_config(job, profile, model, out), defaults={"profile": profile_defaults()}):
        if (folder / "metrics.json").exists():
            return
        if kind == "eval" and method == "self_refine":
            from scoreutils.prompts import SELF_REFINE_TURN2

            pipeline.run_eval(prof, folder / "metrics.json", label="Self-Refine", instruction=SELF_REFINE_TURN2)
        elif kind == "eval":
            pipeline.run_eval(prof, folder / "metrics.json", label=job.name)
        elif kind == "on_train":
            need = needs(job)
            policy = pipeline.trained_policy(pipeline.load_run(need.folder(out)), prof) if need else None
            pipeline.run_eval(prof, folder / "metrics.json", split="train", n=min(ON_TRAIN, prof.sft_problems),
                              policy=policy, label=f"{method or 'base'} (training problems)")
        elif kind == "curve":
            pipeline.run_curve(prof, needs(job).folder(out), folder, label=method)
        elif kind == "scaling":
            need = needs(job)
            policy = pipeline.trained_policy(pipeline.load_run(need.folder(out)), prof) if need else None
            pipeline.run_scaling(prof, folder / "metrics.json", policy=policy, label=method or "base")
        else:
            need = needs(job)
            policy = pipeline.trained_policy(pipeline.load_run(need.folder(out)), prof) if need else None
            pipeline.run_control(prof, folder / "metrics.json", policy=policy)


def _log(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
    print(stamped, flush=True)
    with open(path, "a") as f:
        f.write(stamped + "\n")


def schedule(jobs: list[Job], args: argparse.Namespace) -> int:
    """Run `jobs` as one-thread subprocesses, `args.jobs` at a time; returns the number that failed."""
    logs = args.log.parent / "reproduce"
    logs.mkdir(parents=True, exist_ok=True)
    pending, running, failed = list(jobs), {}, 0
    env = {**os.environ, **ONE_THREAD}
    try:
        while pending or running:
            while len(running) < args.jobs:
                ready = [j for j in pending if needs(j) is None or (needs(j).folder(args.out) / "metrics.json").exists()]
                if not ready:
                    break
                job = ready[0]
                pending.remove(job)
                cmd = [sys.executable, str(Path(__file__).resolve()), "--job", job.name, "--seed", str(job.seed),
                       "--profile", args.profile, "--out", str(args.out)] + (["--model", args.model] if args.model else [])
                out = open(logs / f"{job.name}-seed{job.seed}.log", "a")
                running[job] = (subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT),
                                time.perf_counter(), out)
                _log(args.log, f"start {job.label()} (pid {running[job][0].pid})")
            if pending and not running:  # what is left waits for a run that is neither done nor coming
                for job in pending:
                    _log(args.log, f"skip {job.label()}: {needs(job).label()} did not finish")
                return failed + len(pending)
            time.sleep(args.poll)
            for job, (proc, t0, out) in list(running.items()):
                if proc.poll() is None:
                    continue
                out.close()
                del running[job]
                failed += proc.returncode != 0
                _log(args.log, f"{'done' if proc.returncode == 0 else 'FAILED'} {job.label()} rc={proc.returncode} "
                               f"wall={time.perf_counter() - t0:.0f}s"
                     + ("" if proc.returncode == 0 else f" (see {logs / f'{job.name}-seed{job.seed}.log'})"))
    except KeyboardInterrupt:
        for job, (proc, _, out) in running.items():
            proc.terminate()
            proc.wait()
            out.close()
            _log(args.log, f"interrupted {job.label()}: a re-run resumes it")
        raise SystemExit(130) from None
    return failed


def summary(out: Path) -> dict[str, Any]:
    """Mean and spread over seeds of every finished run's main metrics (every run of `RUNS` at every seed it
    has, whatever `--only` or `--seeds` this call was given), written to OUT/summary.json."""
    keys = ("acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i", "right_to_wrong", "right_to_none",
            "wrong_to_right", "none_to_right", "gave_up_t2", "changed_answer_answered")
    rows: dict[str, Any] = {}
    for name in RUNS:
        found = {int(path.parent.name.removeprefix("seed")): json.loads(path.read_text())
                 for path in (out / name).glob("seed*/metrics.json") if path.parent.name[4:].isdigit()}
        found = dict(sorted(found.items()))
        if not found:
            continue
        if RUNS[name][0] == "curve":  # held-out Δ at checkpoints: one value per step and seed
            steps = sorted({int(k) for m in found.values() for k in m["points"]})
            rows[name] = {"seeds": sorted(found), "delta_per_step": {step: {
                "mean": statistics.fmean(v), "per_seed": v} for step in steps if (v := [
                    m["points"][str(step)]["delta"] for m in found.values() if str(step) in m["points"]])}}
            continue
        rows[name] = {"seeds": sorted(found), "n": [m["n"] for m in found.values()],
                      "n_distinct": [m.get("n_distinct") for m in found.values()]}
        if RUNS[name][0] == "scaling":  # majority-vote curves, not two-attempt metrics
            rows[name]["curve_per_seed"] = {seed: m["curve"] for seed, m in found.items()}
            continue
        for key in keys:
            values = [m[key] for m in found.values() if key in m]
            if not values:
                continue
            rows[name][key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1
                               else None, "per_seed": values}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    return rows


def _print_summary(rows: dict[str, Any]) -> None:
    print(f"{'run':14s} {'seeds':>5s} " + " ".join(f"{k:>14s}" for k in ("Acc@t1", "Acc@t2", "Δ", "Δi→c", "Δc→i")))
    for name, row in rows.items():
        if "curve_per_seed" in row:
            votes = "; ".join(f"{r['budget']}: {100 * r['parallel']:.1f} → {100 * r['sequential']:.1f}"
                              for r in next(iter(row["curve_per_seed"].values())))
            print(f"{name:14s} {len(row['seeds']):5d} majority vote, parallel → sequential (first seed) {votes}")
            continue
        if "delta_per_step" in row:
            print(f"{name:14s} {len(row['seeds']):5d} held-out Δ by step " + "; ".join(
                f"{step}: {100 * v['mean']:+.1f}" for step, v in row["delta_per_step"].items()))
            continue
        cells = []
        for key in ("acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i"):
            m, sd = row[key]["mean"], row[key]["sd"]
            cells.append(f"{100 * m:6.1f}" + (f" ± {100 * sd:4.1f}" if sd is not None else "       "))
        print(f"{name:14s} {len(row['seeds']):5d} " + " ".join(f"{c:>14s}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="list what is done and what would run; run nothing")
    ap.add_argument("--only", nargs="+", choices=list(RUNS), metavar="NAME",
                    help=f"only these runs ({', '.join(RUNS)})")
    ap.add_argument("--seeds", nargs="+", type=int, default=None,
                    help=f"these seeds only (default: {', '.join(map(str, SEEDS))}, then "
                         + "; ".join(f"{n} {', '.join(map(str, s))}" for n, s in MORE_SEEDS.items()) + ")")
    ap.add_argument("--profile", default="repro")
    ap.add_argument("--model", default=None, help="override the profile's model ('tiny' for tests)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "repro")
    ap.add_argument("--log", type=Path, default=ROOT / "results" / "logs" / "reproduce.log")
    ap.add_argument("--jobs", type=int, choices=range(1, MAX_JOBS + 1), default=MAX_JOBS,
                    help=f"runs at a time, one thread each (at most {MAX_JOBS})")
    ap.add_argument("--poll", type=float, default=5.0, help=argparse.SUPPRESS)
    ap.add_argument("--job", choices=list(RUNS), help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.out, args.log = args.out.resolve(), args.log.resolve()  # the jobs run from the repository root
    get_profile(args.profile)  # an unknown profile: one line, before anything starts
    if args.job:
        run_job(Job(args.job, args.seed), args.out, args.profile, args.model)
        return 0
    names = args.only or list(RUNS)
    jobs = job_order(names, args.seeds or list(SEEDS), more=args.seeds is None)
    states = {job: status(job, args.out, args.profile, args.model) for job in jobs}
    coming = {job for job in jobs if states[job] == "to run" or states[job].startswith("resumes")}
    todo = [job for job in jobs if job in coming or (states[job].startswith("waits for ") and needs(job) in coming)]
    if args.dry_run:
        for job in jobs:
            print(f"{job.label():24s} {states[job]}")
        print(f"{sum(s == 'done' for s in states.values())} done, {len(todo)} to run, "
              f"{len(jobs) - len(todo) - sum(s == 'done' for s in states.values())} blocked; profile {args.profile}, "
              f"out {args.out}")
        return 0
    blocked = [job for job in jobs if states[job] != "done" and job not in todo]
    for job in blocked:
        _log(args.log, f"skip {job.label()}: {states[job]}")
    _log(args.log, f"reproduce: {len(todo)} runs to make, {len(jobs) - len(todo) - len(blocked)} done "
                   f"(profile {args.profile}, {args.jobs} at a time)")
    failed = schedule(todo, args) if todo else 0
    rows = summary(args.out)
    _print_summary({name: row for name, row in rows.items() if name in names})
    _log(args.log, f"reproduce: finished, {failed} failed, {len(blocked)} blocked")
    return 1 if failed or blocked else 0


if __name__ == "__main__":
    raise SystemExit(main())
