"""Benchmark: one SCoRe Stage II step of the kit against one TRL `GRPOTrainer` step on the same model.

What is timed, per arm, for one optimizer step:
- kit: `scoreutils.train.rl_step("stage2", ...)`: sample both attempts of k episodes per problem (one
  batched generate() call per attempt), score them, then per micro-batch a reference forward (adapter off,
  no grad) and one policy forward + backward over [x1, y1, p, y2], then clip and the optimizer step. The
  k samples of a problem share one forward of x1 (`Profile.share_prompt`; `--flat-update`: one per sample).
- TRL: one `GRPOTrainer` optimizer step, timed from the trainer's `on_step_begin` to its `on_step_end`
  callback: one generate() call for the whole generation batch, the reward function, a reference forward
  (beta > 0; with a fresh LoRA adapter TRL disables the adapter, like the kit), then per micro-batch the
  policy forward + backward, clip and the optimizer step.

Both arms use the same model (the bundled SmolLM2-135M-Instruct; `--smoke`: the tiny random model), the
same problems and prompts (arithmetic, `prompts.first_turn_text` in the chat template with the kit's
system message), the same k samples per problem, max new tokens, temperature, learning rate, LoRA shape
(r, alpha, target modules) and micro-batch, float32 on the same device, no gradient checkpointing.

TRL's GRPO is single-turn: it generates ONE attempt per sample, the kit generates TWO (attempt 2
continues from attempt 1's sampled ids plus the instruction). A kit step therefore generates and trains
about twice as many tokens over longer sequences, so seconds per step are not comparable: the fair
comparison is the time per generated token and per trained token (here every generated token is trained,
so the two coincide). The kit also scores both attempts; both arms score with `scoreutils.score`.

Both arms run in ONE process, alternating: the TRL trainer runs `warmup + repeats` steps and its step-end
callback runs one kit step after each TRL step (the callback time is outside TRL's timed interval). The
first `warmup` pairs are not counted. Writes results/bench_train_step.json (machine, threads, versions,
configuration, every raw timing) and prints a short table.

    python benchmarks/train_step.py            # bundled model, cpu profile sizes, 3 repeats (+1 warm-up)
    python benchmarks/train_step.py --smoke    # tiny random model, a few problems, seconds
    python benchmarks/train_step.py --threads 2 --repeats 5 --out results/bench_train_step.json
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package: find _common.py
import _common  # noqa: E402

_common.offline()  # before transformers / datasets / huggingface_hub are imported

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any, Callable, Sequence  # noqa: E402

import torch  # noqa: E402
from transformers import PrinterCallback, TrainerCallback  # noqa: E402

from scoreutils import binary_reward, get_profile, load_policy, load_task  # noqa: E402
from scoreutils.config import Profile, write_json  # noqa: E402
from scoreutils.models import Policy, lora_config  # noqa: E402
from scoreutils.prompts import SYSTEM, first_turn_ids, first_turn_text  # noqa: E402
from scoreutils.tasks import Problem  # noqa: E402
from scoreutils.train import make_optimizer, rl_step  # noqa: E402

# TRL 1.16 still calls transformers' deprecated `is_gradient_checkpointing`; nothing to act on here.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

DEFAULT_OUT = Path("results/bench_train_step.json")
ARM_KEYS = ("s_per_step", "generated_tokens_per_step", "trained_tokens_per_step", "s_per_generated_token",
            "s_per_trained_token")
NOTE = ("TRL's GRPO is single-turn: it generates one attempt per sample, the kit generates two (attempt 2 "
        "continues from attempt 1). Seconds per step are therefore not comparable; time per generated token "
        "and per trained token are the fair comparison.")


def _sync() -> None:
    """Wait for queued GPU work so wall-clock intervals cover it (no-op on CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def lora_spec(profile: Profile) -> dict[str, Any]:
    """The LoRA fields both arms use (the CLI builds the kit's adapter from the same three)."""
    return {"r": profile.lora_r, "lora_alpha": profile.lora_alpha, "target_modules": list(profile.lora_targets)}


def chat_prompt(problem: Problem) -> list[dict[str, str]]:
    """Turn 1 as messages: TRL applies the chat template to these, the kit to the same list."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": first_turn_text(problem)}]


def bench_profile(smoke: bool, args: argparse.Namespace) -> tuple[str, Profile]:
    """(model name, profile) for the run. `batch_size` is set to problems x k so that the kit, like TRL,
    samples each attempt of the whole step in one generate() call."""
    if smoke:
        model, profile = "tiny", get_profile("smoke", model="tiny", max_new_tokens=12)
    else:
        profile = get_profile(args.profile)
        model = profile.model
    changes: dict[str, Any] = {}
    for field, value in (("problems_per_step", args.problems), ("samples_per_problem", args.k),
                         ("max_new_tokens", args.max_new_tokens), ("micro_batch", args.micro_batch)):
        if value is not None:
            changes[field] = value
    profile = profile.replace(**changes) if changes else profile
    n_seq = profile.problems_per_step * profile.samples_per_problem
    if n_seq % profile.micro_batch:
        raise SystemExit(f"problems x k ({n_seq}) must be a multiple of the micro-batch ({profile.micro_batch})")
    return model, profile.replace(batch_size=n_seq, model=model)


# ---------------------------------------------------------------------------------------------
# The kit's arm
# ---------------------------------------------------------------------------------------------
class KitArm:
    """The kit's policy (LoRA), optimizer and accelerator, set up as `train.train_rl` does."""

    def __init__(self, model: str, profile: Profile, problems: Sequence[Problem]):
        from accelerate import Accelerator

        self.profile, self.problems = profile, list(problems)
        self.policy: Policy = load_policy(model, quantization=profile.quantization, dtype=profile.dtype,
                                          lora=lora_spec(profile), seed=profile.seed)
        self.accelerator = Accelerator(cpu=not torch.cuda.is_available())
        opt, self.sched = make_optimizer(self.policy, profile.lr)
        self.model, self.opt = self.accelerator.prepare(self.policy.model, opt)
        self.runs: list[dict[str, float]] = []
        self._step = 0

    def step(self) -> dict[str, float]:
        """One timed Stage II step; returns and records its raw numbers."""
        # TRL's trainer shares accelerate's GradientState; make sure this step's optimizer really steps.
        state = self.accelerator.gradient_state
        before = state.sync_gradients
        state._set_sync_gradients(True)
        self._step += 1
        try:
            _sync()
            t0 = time.perf_counter()
            row, episodes = rl_step("stage2", self._step, self.policy, self.model, self.opt, self.sched,
                                    self.problems, self.profile, self.accelerator)
            _sync()
            seconds = time.perf_counter() - t0
        finally:
            state._set_sync_gradients(before)
        generated = sum(len(e.y1_ids) + len(e.y2_ids) for e in episodes)
        run = {"step_s": seconds, "generated_tokens": generated,
               # Stage II trains both attempts: the loss masks cover exactly the sampled tokens
               "trained_tokens": generated,
               "sequence_tokens": sum(len(e.ids) for e in episodes),
               "sampling_s": row["time/rollout_s"], "update_s": row["time/update_s"], "loss": row["loss"],
               "reward_attempt1": row["reward/attempt1"], "reward_attempt2": row["reward/attempt2"]}
        self.runs.append(run)
        return run


# ---------------------------------------------------------------------------------------------
# TRL's arm
# ---------------------------------------------------------------------------------------------
def grpo_config(profile: Profile, max_steps: int, output_dir: str) -> Any:
    """A `GRPOConfig` matching the kit's step: one generation per optimizer step (generation batch =
    problems x k, steps_per_generation = gradient accumulation), micro-batch = per-device batch."""
    from trl import GRPOConfig

    n_seq = profile.problems_per_step * profile.samples_per_problem
    return GRPOConfig(
        output_dir=output_dir, max_steps=max_steps, seed=profile.seed,
        per_device_train_batch_size=profile.micro_batch, gradient_accumulation_steps=n_seq // profile.micro_batch,
        generation_batch_size=n_seq, num_generations=profile.samples_per_problem,
        max_completion_length=profile.max_new_tokens, temperature=profile.temperature, top_p=1.0, top_k=0,
        beta=profile.beta1,  # > 0: TRL computes a reference forward, like the kit's KL term
        learning_rate=profile.lr, lr_scheduler_type="constant", weight_decay=0.0, max_grad_norm=1.0,
        use_cpu=not torch.cuda.is_available(), bf16=False, fp16=False, activation_checkpointing=False,
        report_to="none", logging_strategy="no", save_strategy="no", disable_tqdm=True,
        dataloader_num_workers=0, log_completions=False)


class StepTimer(TrainerCallback):
    """Trainer callback: times each optimizer step (on_step_begin -> on_step_end), then calls `after`
    (outside the timed interval: the next interval starts at the next on_step_begin)."""

    def __init__(self, after: Callable[[int], None]):
        self.after, self._t0 = after, 0.0
        self.seconds: list[float] = []

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _sync()
        self._t0 = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _sync()
        self.seconds.append(time.perf_counter() - self._t0)
        self.after(state.global_step)


class TrlArm:
    """A `GRPOTrainer` on a second copy of the same base model, with a fresh LoRA adapter of the same shape
    (`peft_config`), a binary reward from `scoreutils.score`, and the timing callback."""

    def __init__(self, model: str, profile: Profile, problems: Sequence[Problem], max_steps: int,
                 output_dir: str, after_step: Callable[[int], None]):
        from datasets import Dataset
        from trl import GRPOTrainer

        self.profile, self.problems = profile, list(problems)
        base = load_policy(model, quantization=profile.quantization, dtype=profile.dtype, seed=profile.seed)
        self.tokenizer = base.tokenizer
        self.prompt_len = {i: len(first_turn_ids(base.tokenizer, p)) for i, p in enumerate(self.problems)}
        self.generated: list[int] = []
        self.sequence_tokens: list[int] = []
        self.rewards: list[float] = []
        self.generate_s: list[float] = []
        dataset = Dataset.from_dict({"prompt": [chat_prompt(p) for p in self.problems],
                                     "problem_index": list(range(len(self.problems)))})
        self.timer = StepTimer(after_step)
        arm = self

        class TimedGRPOTrainer(GRPOTrainer):
            """GRPOTrainer that also records the seconds spent in its generate() call."""

            def _generate_single_turn(self, *args: Any, **kwargs: Any) -> Any:
                _sync()
                t0 = time.perf_counter()
                out = super()._generate_single_turn(*args, **kwargs)
                _sync()
                arm.generate_s.append(time.perf_counter() - t0)
                return out

        self.config = grpo_config(profile, max_steps, output_dir)
        self.trainer = TimedGRPOTrainer(model=base.model, reward_funcs=self.reward, args=self.config,
                                        train_dataset=dataset, processing_class=base.tokenizer,
                                        peft_config=lora_config(lora_spec(profile)), callbacks=[self.timer])
        self.trainer.remove_callback(PrinterCallback)  # disable_tqdm adds it; it prints the final log dict

    def reward(self, prompts: list, completions: list, completion_ids: list[list[int]], problem_index: list[int],
               **kwargs: Any) -> list[float]:
        """Binary reward `scoreutils.binary_reward(problem, text)`; also counts this step's tokens."""
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        out = [binary_reward(self.problems[i], t) for i, t in zip(problem_index, texts)]
        self.generated.append(sum(len(ids) for ids in completion_ids))
        self.sequence_tokens.append(sum(self.prompt_len[i] + len(ids) for i, ids in zip(problem_index, completion_ids)))
        self.rewards.append(sum(out) / len(out))
        return out

    def prompt_ids_match(self) -> bool:
        """Whether TRL's tokenisation of the chat prompt equals the kit's `first_turn_ids`."""
        ids = self.tokenizer.apply_chat_template(chat_prompt(self.problems[0]), tokenize=True,
                                                 add_generation_prompt=True, return_dict=True)["input_ids"]
        return list(ids) == first_turn_ids(self.tokenizer, self.problems[0])

    def runs(self) -> list[dict[str, float]]:
        """Raw numbers of every step the trainer ran (warm-up included)."""
        out = []
        for i, seconds in enumerate(self.timer.seconds):
            gen = self.generated[i]
            out.append({"step_s": seconds, "generated_tokens": gen,
                        # every completion token is in TRL's loss mask (mask_truncated_completions=False)
                        "trained_tokens": gen, "sequence_tokens": self.sequence_tokens[i],
                        "generate_s": self.generate_s[i], "reward": self.rewards[i]})
        return out


# ---------------------------------------------------------------------------------------------
# Summary and report
# ---------------------------------------------------------------------------------------------
def summarize(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Median seconds per step, mean tokens per step, and seconds per token over all counted steps
    (total time / total tokens)."""
    total_s = sum(r["step_s"] for r in runs)
    gen = sum(r["generated_tokens"] for r in runs)
    trained = sum(r["trained_tokens"] for r in runs)
    return {"s_per_step": statistics.median(r["step_s"] for r in runs),
            "generated_tokens_per_step": gen / len(runs), "trained_tokens_per_step": trained / len(runs),
            "sequence_tokens_per_step": sum(r["sequence_tokens"] for r in runs) / len(runs),
            "s_per_generated_token": total_s / max(gen, 1), "s_per_trained_token": total_s / max(trained, 1),
            "steps": len(runs)}


def machine_info() -> dict[str, Any]:
    """Where the numbers come from: CPU, cores usable by this process, load, GPU, versions."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    info: dict[str, Any] = {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return {"machine": info, "versions": versions}


def print_table(result: dict[str, Any]) -> None:
    kit, trl, ratio = result["arms"]["kit"], result["arms"]["trl"], result["ratio_kit_over_trl"]
    print("| arm | s/step | gen tok/step | trained tok/step | ms/gen tok | ms/trained tok |")
    print("|---|---|---|---|---|---|")
    for name, a in (("kit Stage II (2 attempts)", kit), ("TRL GRPO (1 attempt)", trl)):
        print(f"| {name} | {a['s_per_step']:.2f} | {a['generated_tokens_per_step']:.0f} | "
              f"{a['trained_tokens_per_step']:.0f} | {1e3 * a['s_per_generated_token']:.2f} | "
              f"{1e3 * a['s_per_trained_token']:.2f} |")
    print(f"| kit / TRL | {ratio['s_per_step']:.2f} | | | {ratio['s_per_generated_token']:.2f} | "
          f"{ratio['s_per_trained_token']:.2f} |")
    print("note: " + NOTE)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the result written to `--out`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny random model, 2 problems x 2 samples, 12 tokens")
    ap.add_argument("--profile", default="cpu", help="profile giving the sizes (default cpu; ignored by --smoke)")
    ap.add_argument("--repeats", type=int, default=None, help="counted steps per arm (default 3; smoke 1)")
    ap.add_argument("--warmup", type=int, default=1, help="uncounted steps per arm first (default 1)")
    ap.add_argument("--problems", type=int, default=None, help="problems per step (default: the profile's)")
    ap.add_argument("-k", "--k", type=int, default=None, help="samples per problem (default: the profile's)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="per attempt (default: the profile's)")
    ap.add_argument("--micro-batch", type=int, default=None, help="sequences per forward/backward")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; smoke 1)")
    ap.add_argument("--flat-update", action="store_true",
                    help="kit: the flat update layout (Profile.share_prompt off), as before prompts were shared")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.smoke else 3)
    if repeats < 1 or args.warmup < 0:
        raise SystemExit("--repeats must be >= 1 and --warmup >= 0")
    threads = args.threads if args.threads is not None else (1 if args.smoke else None)
    if threads is not None:
        torch.set_num_threads(threads)
    model, profile = bench_profile(args.smoke, args)
    profile = profile.replace(share_prompt=not args.flat_update)
    problems = load_task("arithmetic", "train", n=profile.problems_per_step, seed=profile.seed,
                         level=list(profile.level) if isinstance(profile.level, tuple) else profile.level)

    t_start = time.perf_counter()
    kit = KitArm(model, profile, problems)
    with tempfile.TemporaryDirectory(prefix="bench_trl_") as tmp:
        trl = TrlArm(model, profile, problems, max_steps=args.warmup + repeats, output_dir=tmp,
                     after_step=lambda _step: kit.step())
        trl.trainer.train()  # TRL step, kit step, TRL step, kit step, ...
    trl_runs = trl.runs()
    if len(trl_runs) != args.warmup + repeats or len(kit.runs) != args.warmup + repeats:
        raise RuntimeError(f"expected {args.warmup + repeats} steps per arm, got TRL {len(trl_runs)}, "
                           f"kit {len(kit.runs)}")
    arms = {"kit": summarize(kit.runs[args.warmup:]), "trl": summarize(trl_runs[args.warmup:])}
    ratio = {key: arms["kit"][key] / arms["trl"][key] for key in ("s_per_step", "s_per_generated_token",
                                                                  "s_per_trained_token")}
    import trl as trl_pkg

    result: dict[str, Any] = {
        "benchmark": "train_step", "smoke": args.smoke, "model": model, "profile": profile.name,
        "config": {"problems_per_step": profile.problems_per_step, "k": profile.samples_per_problem,
                   "max_new_tokens": profile.max_new_tokens, "micro_batch": profile.micro_batch,
                   "temperature": profile.temperature, "lr": profile.lr, "lora": lora_spec(profile),
                   "kit_beta1": profile.beta1, "kit_alpha": profile.alpha, "trl_beta": trl.config.beta,
                   "trl_loss_type": trl.config.loss_type, "trl_generation_batch_size": trl.config.generation_batch_size,
                   "trl_steps_per_generation": trl.config.steps_per_generation,
                   "trl_gradient_accumulation_steps": trl.config.gradient_accumulation_steps,
                   "trl_activation_checkpointing": trl.config.activation_checkpointing,
                   "kit_share_prompt": profile.share_prompt,
                   "dtype": profile.dtype, "device": str(kit.policy.device),
                   "repeats": repeats, "warmup": args.warmup,
                   "problem_ids": [p.id for p in problems]},
        "torch_threads": torch.get_num_threads(), **machine_info(), "trl_version": trl_pkg.__version__,
        "prompt_ids_match": trl.prompt_ids_match(),
        "arms": arms, "ratio_kit_over_trl": ratio,
        "raw": {"kit": kit.runs, "trl": trl_runs},
        "wall_s": time.perf_counter() - t_start,
        "note": NOTE,
        "timing": ("kit: rl_step('stage2') wall time; TRL: GRPOTrainer on_step_begin -> on_step_end. "
                   "Per-token numbers are total time / total tokens over the counted steps; the first "
                   f"{args.warmup} step(s) of each arm are warm-up and excluded (they are in raw)."),
    }
    bad = [f"{arm}.{k}" for arm in arms for k in ARM_KEYS if not (math.isfinite(arms[arm][k]) and arms[arm][k] > 0)]
    if bad:
        result["warning"] = f"non-positive or non-finite: {', '.join(bad)}"
    write_json(args.out, result)
    print_table(result)
    print(f"threads {result['torch_threads']}, model {model}, {profile.problems_per_step} problems x "
          f"k={profile.samples_per_problem}, {profile.max_new_tokens} new tokens, micro-batch "
          f"{profile.micro_batch} -> {args.out}")
    return result


if __name__ == "__main__":
    main()
