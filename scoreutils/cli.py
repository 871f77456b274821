"""Command line: `python -m scoreutils eval | train | demo`.

  eval   greedy two-attempt evaluation -> F.json (metrics with CIs, timing, config) + F.episodes.jsonl
  train  one method in a profile -> DIR/{log.jsonl, checkpoints/, metrics.json, episodes.jsonl}
  demo   base eval -> SCoRe in the chosen profile -> eval; tables on stdout, figures in figures/
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from .config import get_profile, Profile

METHODS = ("star", "star_plus", "pair_sft", "pair_sft_plus", "naive_rl", "stage1", "stage2", "score")
PAPER_TABLE1 = {"base": (52.6, 41.4, -11.2, 4.6, 15.8), "STaR D+": (53.6, 54.0, 0.4, 2.6, 2.2),
                "Pair-SFT D+": (55.0, 55.0, 0.0, 0.0, 0.0), "SCoRe": (60.0, 64.4, 4.4, 5.8, 1.4)}


def _write_episodes(path: Path, episodes: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for e in episodes:
            f.write(json.dumps(e.to_dict()) + "\n")


def _problems(profile: Profile, split: str, n: int) -> list:
    from .tasks import load_task

    opts = {"level": list(profile.level) if isinstance(profile.level, tuple) else profile.level} \
        if profile.task == "arithmetic" else {}
    return load_task(profile.task, split, n=n, seed=profile.seed, **opts)


def _policy(profile: Profile, lora: bool) -> Any:
    from .models import load_policy

    spec = {"r": profile.lora_r, "lora_alpha": profile.lora_alpha, "target_modules": list(profile.lora_targets)}
    return load_policy(profile.model, quantization=profile.quantization, dtype=profile.dtype,
                       lora=spec if lora else None, seed=profile.seed)


def run_eval(profile: Profile, out: Path, split: str = "test", n: int | None = None, policy: Any = None,
             label: str = "base", instruction: str | None = None) -> dict:
    """Evaluate (greedy) and write `out` (JSON) and its episodes beside it. `instruction` replaces the
    paper's turn-2 instruction (e.g. `prompts.SELF_REFINE_TURN2`)."""
    from .train import evaluate

    policy = policy or _policy(profile, lora=False)
    problems = _problems(profile, split, n or profile.n_eval)
    metrics, eps = evaluate(policy, problems, profile, desc=f"eval {label}", instruction=instruction)
    result = {**metrics, "label": label, "model": profile.model, "task": profile.task, "split": split,
              "instruction": instruction, "profile": profile.to_dict(), "python": platform.python_version()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    _write_episodes(out.with_suffix(".episodes.jsonl"), eps)
    return result


def run_train(method: str, profile: Profile, out: Path) -> dict:
    """Train `method` in `profile`, then evaluate held-out; writes everything under `out`."""
    from . import sft
    from .rollout import sample_episodes
    from .train import score_schedule, train_rl, train_sft

    if method not in METHODS:
        raise SystemExit(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"method": method, "profile": profile.to_dict()}, indent=2))
    policy = _policy(profile, lora=True)
    train_problems = _problems(profile, "train", profile.n_train)
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if method in ("star", "star_plus", "pair_sft", "pair_sft_plus"):
        traces = sample_episodes(policy, train_problems[:profile.sft_problems], max_new_tokens=profile.max_new_tokens, temperature=1.0,
                                 samples_per_problem=profile.sft_samples_per_problem,
                                 batch_size=profile.batch_size, seed=profile.seed, desc="traces (T=1.0)")
        _write_episodes(out / "traces.jsonl", traces)
        pairs = sft.SFT_DATASETS[method](policy.tokenizer, traces, seed=profile.seed)
        print(f"{method}: {len(pairs)} pairs from {len(traces)} traces", file=sys.stderr)
        extra["sft_pairs"] = len(pairs)
        if pairs:
            train_sft(policy, profile, pairs, out)
        else:  # reported, not hidden: the evaluation below is then the base model's
            print(f"WARNING: {method} found no training pairs in {len(traces)} traces; the model is left "
                  "unchanged (sample more traces: a larger profile.sft_problems)", file=sys.stderr)
            from .train import _make_optimizer, save_checkpoint

            save_checkpoint(out, 0, policy, *_make_optimizer(policy, profile.sft_lr))
    else:
        stage = {"naive_rl": "naive", "stage1": "stage1", "stage2": "stage2"}.get(method) or score_schedule(profile)
        train_rl(policy, profile, train_problems, out, stage=stage)
    train_s = time.perf_counter() - t0
    result = run_eval(profile, out / "metrics.json", policy=policy, label=method)
    result.update(extra, train_wall_s=train_s)
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


def run_demo(profile: Profile, out: Path, figures: Path) -> None:
    """Base eval -> SCoRe training -> eval; prints both tables and writes the figures."""
    from .metrics import metrics_table
    from .plots import plot_training_curves, plot_transitions, read_log

    t0 = time.perf_counter()
    base = run_eval(profile, out / "base.json", label="base")
    print("\n" + metrics_table({"base": base}) + "\n")
    runs = {"base": _rewards(out / "base.episodes.jsonl")}
    plot_transitions(runs, figures / "transitions_base.png", title=f"{profile.model}: attempt 1 -> attempt 2")
    score = run_train("score", profile, out / "score")
    runs["SCoRe"] = _rewards(out / "score" / "metrics.episodes.jsonl")
    plot_transitions(runs, figures / "transitions_demo.png", title="before / after SCoRe")
    plot_training_curves({"SCoRe": read_log(out / "score" / "log.jsonl")}, figures / "training_curves_demo.png")
    print(f"\nprofile {profile.name}: {base['n']} held-out problems, greedy\n")
    print(metrics_table({"base": base, "SCoRe": score}))
    print(f"\ndemo wall time: {time.perf_counter() - t0:.0f} s; episodes in {out}; figures in {figures}")


def _rewards(path: Path) -> tuple[list[float], list[float]]:
    rows = [json.loads(line) for line in open(path)]
    return [r["r1"] for r in rows], [r["r2"] for r in rows]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m scoreutils", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("eval", help="greedy two-attempt evaluation")
    ev.add_argument("--profile", default=None)
    ev.add_argument("--model", default=None)
    ev.add_argument("--task", default=None)
    ev.add_argument("--level", type=int, nargs="+", default=None)
    ev.add_argument("--split", default="test", choices=["train", "test"])
    ev.add_argument("--n", type=int, default=None)
    ev.add_argument("--max-new-tokens", type=int, default=None)
    ev.add_argument("--out", type=Path, required=True)
    tr = sub.add_parser("train", help="train one method, then evaluate")
    tr.add_argument("--method", required=True, choices=METHODS)
    tr.add_argument("--profile", default=None)
    tr.add_argument("--steps", type=int, default=None)
    tr.add_argument("--model", default=None, help="override the profile's model ('tiny' for tests)")
    tr.add_argument("--alpha", type=float, default=None, help="override the Stage II bonus scale (Eq. 4)")
    tr.add_argument("--beta1", type=float, default=None, help="override the KL weight on trained attempts")
    tr.add_argument("--beta2", type=float, default=None, help="override Stage I's KL weight on attempt 1 (Eq. 3)")
    tr.add_argument("--out", type=Path, required=True)
    rp = sub.add_parser("table", help="print the metrics table of result JSON files (eval / train outputs)")
    rp.add_argument("files", nargs="+", type=Path, help="NAME=FILE.json or FILE.json")
    rp.add_argument("--paper", action="store_true", help="add the paper's Table 1/2 rows (MATH500)")
    de = sub.add_parser("demo", help="base eval -> SCoRe -> eval, with figures")
    de.add_argument("--profile", default=None)
    de.add_argument("--out", type=Path, default=Path("runs/demo"))
    de.add_argument("--figures", type=Path, default=Path("figures"))
    args = ap.parse_args(argv)

    if args.cmd == "table":
        from .metrics import metrics_table

        rows = {}
        for spec in args.files:
            name, _, path = str(spec).rpartition("=")
            res = json.loads(Path(path).read_text())
            rows[name or res.get("label", Path(path).stem)] = res
        print(metrics_table(rows, PAPER_TABLE1 if args.paper else None))
        return
    overrides: dict[str, Any] = {}
    for key in ("model", "task", "max_new_tokens", "steps", "alpha", "beta1", "beta2"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    if getattr(args, "level", None):
        overrides["level"] = args.level[0] if len(args.level) == 1 else tuple(args.level)
    profile = get_profile(args.profile, **overrides)
    if args.cmd == "eval":
        from .metrics import metrics_table

        res = run_eval(profile, args.out, split=args.split, n=args.n)
        print(metrics_table({res["model"]: res}))
        print(f"wall {res['wall_s']:.1f} s, {res['tokens_per_s']:.1f} generated tokens/s -> {args.out}")
    elif args.cmd == "train":
        from .metrics import metrics_table

        res = run_train(args.method, profile, args.out)
        print(metrics_table({args.method: res}))
        print(f"train {res['train_wall_s']:.0f} s -> {args.out}")
    else:
        run_demo(profile, args.out, args.figures)
