"""Training loops: `train_rl` (naive multi-turn RL, Stage I, Stage II), the SCoRe schedule, `train_sft`.

One RL step (docs/design.md#one-rl-step):
  1. pick `problems_per_step` training problems (seeded by step: the data position is the step number)
  2. sample k two-attempt episodes per problem at the profile's temperature (on-policy)
  3. per micro-batch of whole groups: reference log-probs (adapter off, no grad), then ONE policy forward
     over [x1, y1, p, y2] giving both attempts' log-probs, the stage's loss, backward (accumulated)
  4. clip, optimizer and scheduler step; log a JSONL row with fixed keys (`LOG_KEYS`)
  5. every `eval_every` steps greedy held-out metrics; every `save_every` steps a checkpoint
     (adapter, optimizer, scheduler, RNG states, step) from which a re-run continues exactly.
A non-finite loss stops the run before anything of that step is saved. Both loops share their setup (`_start`).
Beside this module: `sft.py` (the STaR and Pair-SFT data sets) and `checkpoints.py` (run folders: checkpoints,
resume, the log's trimming, the lock).
Written with `accelerate`: `accelerate launch --cpu --num_processes 2 -m scoreutils train ...` splits each
step's problems across processes and averages gradients. Not here: the losses themselves (`losses.py`).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .. import logprobs, losses
from .checkpoints import LOG, refuse_special_file, resume, save_checkpoint
from ..config import Profile
from ..metrics import episode_metrics
from ..models import Policy, autocast, compute_dtype, require_finite
from ..rollout import Episode, sample_episodes
from ..tasks import Problem

STAGES = ("naive", "stage1", "stage2")
LOG_KEYS = ("step", "stage", "loss", "reward/attempt1", "reward/attempt2", "kl/attempt1", "kl/attempt2",
            "pg/attempt1", "pg/attempt2", "bonus", "changed_answer_rate", "edit_distance_ratio",
            "i_to_c", "c_to_i", "tokens_per_s", "trained_tokens", "time/rollout_s", "time/update_s", "lr")


class JsonlLog:
    """Append-only JSONL log, flushed every row so a crash loses nothing already logged."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path, self.enabled = path, enabled
        if enabled:
            refuse_special_file(path)  # a FIFO would block the first write
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, row: dict[str, Any]) -> None:
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    return getattr(libc, "malloc_trim", None)  # glibc only


def release_memory() -> None:
    """Give the memory freed since the last call back to the operating system (glibc's `malloc_trim`; a no-op
    where there is none). Tensors below glibc's mmap threshold (which grows to 32 MB after the first large
    free) live in its heap and stay resident once freed, scattered among live blocks: without a trim between
    a step's phases, each phase's peak sits on the last one's leftovers. benchmarks/memory.py measures one
    cpu-profile step with and without it (results/bench_memory.json)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _accelerator(accelerator: Any = None) -> Any:
    if accelerator is not None:
        return accelerator
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available())


def enable_checkpointing(policy: Policy) -> None:
    """Activation (gradient) checkpointing: keep each layer's input, recompute the rest in backward.
    Measured on the cpu profile (SmolLM2, micro-batch 8 x ~200 tokens, one thread): peak RSS of two
    micro-batches 4.6 GB -> 3.3 GB for ~17% more time, identical gradients. Active only in training mode
    with gradients on, so sampling and the reference forward are unchanged."""
    model = policy.model
    if not getattr(model, "supports_gradient_checkpointing", True):
        return
    if hasattr(model, "activation_checkpointing_enable"):  # newer transformers (the pinned 5.23)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:  # the same switch under its older name (older transformers, e.g. Colab's 5.15)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def make_optimizer(policy: Policy, lr: float) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW over the trainable (adapter) parameters and a constant schedule (the paper gives none)."""
    params = policy.trainable_parameters()
    if not params:
        raise ValueError("the policy has no trainable parameters: load it with lora=... to train")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return opt, sched


def loss_scaler(policy: Policy, autocast_dtype: str | None = None) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only when the training forward computes in float16 (float16 weights, 4-bit
    weights computing in float16 on a T4, or float16 autocast): each loss is multiplied by a large scale before
    backward so small gradients do not underflow to 0 in float16, the gradients are unscaled before clipping,
    and a step whose gradients overflowed is skipped (the scale halves). Disabled (float32, bfloat16) it changes
    nothing: the loss, the gradients and the step are those of plain training."""
    fp16 = compute_dtype(policy.model) == torch.float16 or autocast_dtype == "float16"
    return torch.amp.GradScaler(policy.device.type, enabled=fp16)


def _update(opt: Any, sched: Any, scaler: torch.amp.GradScaler, accelerator: Any, params: list) -> None:
    """The end of a step: unscale the gradients (`loss_scaler`), clip them to norm 1, step the optimizer (skipped by
    an enabled scaler when a gradient is inf or NaN) and, when it stepped, the schedule."""
    scaler.unscale_(opt)
    accelerator.clip_grad_norm_(params, 1.0)
    scale = scaler.get_scale() if scaler.is_enabled() else None
    scaler.step(opt)
    scaler.update()
    if scale is None or scaler.get_scale() >= scale:  # a skipped step (the scale fell) does not advance the schedule
        sched.step()


def _finite(loss: torch.Tensor, step: int, model: Any = None) -> None:
    """Stop the run with one clear line when the loss is NaN or infinite (before anything is saved); under
    float16 compute the line names the overflow and its fix (`models.require_finite`)."""
    if torch.isfinite(loss).all():
        return
    if model is not None and compute_dtype(model) == torch.float16:
        require_finite(loss, f"scoring the samples of step {step} (the loss is {loss.item()})", model)
    raise FloatingPointError(f"the loss is {loss.item()} at step {step}; nothing of this step was saved. "
                             "Lower lr, or check alpha / beta1 / beta2")


@dataclass
class _Session:
    """What both loops set up before their first step (`_start`)."""

    acc: Any  # the accelerate.Accelerator
    model: Any  # the policy's model, prepared by `acc`
    opt: torch.optim.Optimizer
    sched: Any
    log: JsonlLog
    state: dict[str, Any] | None  # the resumed checkpoint's state, None for a fresh start
    scaler: torch.amp.GradScaler  # `loss_scaler`: enabled under float16 compute only


def _start(policy: Policy, out: Path, lr: float, accelerator: Any, checkpointing: bool, resume_run: bool,
           autocast_dtype: str | None = None) -> _Session:
    """The setup the RL and SFT loops share: the accelerator, activation checkpointing, the optimizer, resuming from
    the newest intact checkpoint of `out` (`resume_run`), the JSONL log and the loss scaler."""
    acc = _accelerator(accelerator)
    if checkpointing:
        enable_checkpointing(policy)
    opt, sched = make_optimizer(policy, lr)
    state = resume(out, policy, opt, sched, trim=acc.is_main_process) if resume_run else None
    model, opt = acc.prepare(policy.model, opt)
    return _Session(acc, model, opt, sched, JsonlLog(out / LOG, enabled=acc.is_main_process), state,
                    loss_scaler(policy, autocast_dtype))


# ---------------------------------------------------------------------------------------------
# RL
# ---------------------------------------------------------------------------------------------
def rl_loss(stage: str, a1: losses.Attempt, a2: losses.Attempt, profile: Profile) -> losses.LossParts:
    """Dispatch to the stage's equation (the functions differ in a few visible lines, see losses.py); Stage
    II's experiments (`Profile.stage2_reward`, `stage2_turn1`) pick its variant."""
    k, norm = profile.samples_in(stage), profile.normalize_advantages
    if stage == "naive":
        return losses.naive_multiturn_loss(a1, a2, k, beta1=profile.beta1, normalize=norm)
    if stage == "stage1":
        return losses.stage1_loss(a1, a2, k, beta1=profile.beta1, beta2=profile.beta2, normalize=norm)
    if stage == "stage2":
        anchor = profile.beta2 if profile.stage2_turn1 == "anchor" else None
        if profile.stage2_reward == "progress":
            return losses.progress_loss(a1, a2, k, beta1=profile.beta1, gamma=profile.progress_gamma,
                                        normalize=norm, anchor_beta=anchor)
        return losses.stage2_loss(a1, a2, k, beta1=profile.beta1, alpha=profile.alpha, normalize=norm,
                                  anchor_beta=anchor)
    raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")


def policy_and_reference(model: Any, policy: Policy, batch: logprobs.Batch,
                         temperature: float = 1.0) -> tuple[losses.Attempt, losses.Attempt]:
    """Both attempts from one policy forward (with grad) and one reference forward (no grad), both scored
    at `temperature` (`Profile.score_at_temperature`; 1.0: the untempered policy, as the paper's equations)."""
    with torch.no_grad(), policy.reference():
        ref = logprobs.token_logprobs(policy.model, batch, temperature)
    release_memory()  # the reference's logits, before the policy's forward allocates its own
    lp, seq1, seq2 = logprobs.attempt_logprobs(model, batch, temperature)
    return (losses.Attempt(seq1, losses.kl_per_attempt(lp, ref, batch.mask1), batch.r1),
            losses.Attempt(seq2, losses.kl_per_attempt(lp, ref, batch.mask2), batch.r2))


def signal_counts(episodes: Sequence[Episode], k: int, stage: str, alpha: float = 0.0,
                  reward: str = "bonus") -> dict[str, int]:
    """How many of the step's groups (k consecutive samples of one problem) carry a learning signal: a non-zero
    RLOO advantage at attempt 1 / attempt 2 (its returns not all equal within the group; in Stage II attempt
    2's return is r2 + α·(r2 − r1), Eq. 4, or r2 − r1 under `reward` "progress"), and a non-zero bonus (some
    r2 ≠ r1). A group with none of them gives the policy gradient nothing but the KL terms. (Attempt 1's
    count is of r1; under "progress" its return also holds γ·(r2 − r1).)

    >>> from types import SimpleNamespace as E
    >>> eps = [E(r1=0, r2=1), E(r1=0, r2=0), E(r1=1, r2=1), E(r1=1, r2=1)]
    >>> signal_counts(eps, 2, "stage2", alpha=10.0)
    {'signal/groups': 2, 'signal/groups_adv_attempt1': 0, 'signal/groups_adv_attempt2': 1, 'signal/groups_bonus': 1}
    """
    groups = [episodes[i:i + k] for i in range(0, len(episodes), k)]

    def varies(values: list[float]) -> bool:
        return len(set(values)) > 1

    def attempt2(e: Any) -> float:
        if stage != "stage2":
            return float(e.r2)
        change = float(e.r2) - float(e.r1)
        return change if reward == "progress" else float(e.r2) + alpha * change

    paid_for_change = stage == "stage2" and (alpha or reward == "progress")
    return {"signal/groups": len(groups),
            "signal/groups_adv_attempt1": sum(varies([float(e.r1) for e in g]) for g in groups),
            "signal/groups_adv_attempt2": sum(varies([attempt2(e) for e in g]) for g in groups),
            "signal/groups_bonus": sum(any(e.r2 != e.r1 for e in g) for g in groups) if paid_for_change else 0}


def rl_step(stage: str, step: int, policy: Policy, model: Any, opt: Any, sched: Any, problems: Sequence[Problem],
            profile: Profile, accelerator: Any, scaler: torch.amp.GradScaler | None = None
            ) -> tuple[dict[str, Any], list[Episode]]:
    """One on-policy step of `stage` on `problems`; returns the log row and the sampled episodes. `scaler`:
    `loss_scaler` (default: the policy's; under float16 compute the row also logs the loss scale)."""
    scaler = loss_scaler(policy, profile.autocast) if scaler is None else scaler
    k = profile.samples_in(stage)
    if profile.micro_batch % k:
        raise ValueError(f"micro_batch ({profile.micro_batch}) must hold whole groups of k={k} samples")
    t0 = time.perf_counter()
    episodes = sample_episodes(policy, problems, max_new_tokens=profile.max_new_tokens,
                               temperature=profile.temperature, samples_per_problem=k,
                               batch_size=profile.batch_size, seed=profile.seed * 100_003 + step,
                               progress=False)
    release_memory()
    t1 = time.perf_counter()
    model.train()
    opt.zero_grad(set_to_none=True)
    chunks = [episodes[i:i + profile.micro_batch] for i in range(0, len(episodes), profile.micro_batch)]
    share = profile.share_prompt and logprobs.can_share_prompt(model)
    scoring = profile.temperature if profile.score_at_temperature else 1.0
    sums = dict.fromkeys(("loss", "kl/attempt1", "kl/attempt2", "pg/attempt1", "pg/attempt2", "bonus"), 0.0)
    for chunk in chunks:
        batch = logprobs.collate(chunk, policy.tokenizer.pad_token_id, share_prompt=share).to(policy.device)
        with autocast(profile.autocast, policy.device):  # None (the default): float32 as it is
            a1, a2 = policy_and_reference(model, policy, batch, scoring)
        out = rl_loss(stage, a1, a2, profile)
        _finite(out.loss, step, policy.model)
        accelerator.backward(scaler.scale(out.loss / len(chunks)))
        release_memory()
        sums["loss"] += out.loss.item() / len(chunks)
        sums["kl/attempt1"] += a1.kl.mean().item() / len(chunks)
        sums["kl/attempt2"] += a2.kl.mean().item() / len(chunks)
        for name in ("pg/attempt1", "pg/attempt2", "bonus"):
            sums[name] += out.terms.get(name, 0.0) / len(chunks)
    _update(opt, sched, scaler, accelerator, policy.trainable_parameters())
    t2 = time.perf_counter()
    generated = sum(len(e.y1_ids) + len(e.y2_ids) for e in episodes)
    m = episode_metrics(episodes)
    row = {"step": step, "stage": stage, **sums, "reward/attempt1": m["acc_t1"], "reward/attempt2": m["acc_t2"],
           "changed_answer_rate": m["changed_answer_rate"], "edit_distance_ratio": m["edit_distance_ratio"],
           "i_to_c": m["delta_i_to_c"], "c_to_i": m["delta_c_to_i"],
           **{f"outcome/{k}": m[k] for k in ("right_to_wrong", "right_to_none", "wrong_to_right", "none_to_right",
                                              "changed_answer_answered", "gave_up_t2")},
           **signal_counts(episodes, k, stage, profile.alpha, profile.stage2_reward),
           "tokens_per_s": generated / max(t1 - t0, 1e-9), "trained_tokens": generated,
           "time/rollout_s": t1 - t0, "time/update_s": t2 - t1, "lr": sched.get_last_lr()[0]}
    if scaler.is_enabled():
        row["loss_scale"] = scaler.get_scale()
    return row, episodes


def evaluate(policy: Policy, problems: Sequence[Problem], profile: Profile, desc: str = "eval",
             instruction: str | None = None) -> tuple[dict, list]:
    """Greedy two-attempt evaluation: the paper's metrics and the episodes. `instruction` replaces the
    paper's turn-2 instruction (the Self-Refine row)."""
    t0 = time.perf_counter()
    eps = sample_episodes(policy, problems, max_new_tokens=profile.max_new_tokens, temperature=0.0,
                          batch_size=profile.batch_size, desc=desc, instruction=instruction)
    metrics = episode_metrics(eps)
    metrics["wall_s"] = time.perf_counter() - t0
    metrics["tokens_per_s"] = sum(len(e.y1_ids) + len(e.y2_ids) for e in eps) / max(metrics["wall_s"], 1e-9)
    return metrics, eps


def train_rl(policy: Policy, profile: Profile, train_problems: Sequence[Problem], out_dir: str | Path,
             eval_problems: Sequence[Problem] = (), stage: str | Callable[[int], str] = "stage2",
             steps: int | None = None, resume_run: bool = True, accelerator: Any = None,
             stop_after: int | None = None, checkpointing: bool = True) -> list[dict[str, Any]]:
    """Run RL for `steps` (default `profile.steps`). `stage` is a name or a function step -> name (the
    SCoRe schedule). Logs to out_dir/log.jsonl; with `resume_run`, continues from the newest intact
    checkpoint (the log keeps only the rows that checkpoint had seen). `stop_after` ends the run early
    after that many steps of this call (to test kill-and-resume). `checkpointing`: activation
    checkpointing (`enable_checkpointing`), for memory."""
    stage_of = stage if callable(stage) else (lambda s, name=stage: name)
    steps = profile.steps if steps is None else steps
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    out = Path(out_dir)
    run = _start(policy, out, profile.lr, accelerator, checkpointing, resume_run, profile.autocast)
    acc, model, opt, sched, log = run.acc, run.model, run.opt, run.sched, run.log
    start = run.state["step"] if run.state else 0
    rows = []
    per_process = max(1, profile.problems_per_step // acc.num_processes)
    done = 0
    from tqdm.auto import trange

    for step in trange(start, steps, desc=f"train {stage if isinstance(stage, str) else 'score'}",
                       initial=start, total=steps, disable=not acc.is_main_process):
        rng = random.Random(f"{profile.seed}/{step}")
        chosen = rng.sample(list(train_problems), min(profile.problems_per_step, len(train_problems)))
        mine = chosen[acc.process_index * per_process:(acc.process_index + 1) * per_process] or chosen[:1]
        row, _ = rl_step(stage_of(step), step + 1, policy, model, opt, sched, mine, profile, acc, run.scaler)
        if eval_problems and acc.is_main_process and ((step + 1) % profile.eval_every == 0 or step + 1 == steps):
            metrics, _ = evaluate(policy, eval_problems, profile)
            row.update({f"eval/{k}": v for k, v in metrics.items()})
        log.write(row)
        rows.append(row)
        if acc.is_main_process and ((step + 1) % profile.save_every == 0 or step + 1 == steps):
            save_checkpoint(out, step + 1, policy, opt, sched)
        acc.wait_for_everyone()
        done += 1
        if stop_after is not None and done >= stop_after:
            break
    return rows


def score_schedule(profile: Profile) -> Callable[[int], str]:
    """SCoRe: Stage I for the first `stage1_steps` steps, then Stage II."""
    return lambda step: "stage1" if step < profile.stage1_steps else "stage2"


# ---------------------------------------------------------------------------------------------
# SFT
# ---------------------------------------------------------------------------------------------
def train_sft(policy: Policy, profile: Profile, pairs: Sequence[Episode], out_dir: str | Path,
              accelerator: Any = None, checkpointing: bool = True, resume_run: bool = True) -> list[dict[str, Any]]:
    """Supervised fine-tuning on the target attempt (y2) of STaR / Pair-SFT pairs, `sft_epochs` epochs,
    a checkpoint after each. With `resume_run`, finished epochs are skipped (a finished run trains
    nothing) and the log keeps only their rows. With no pairs the model is saved unchanged.
    `checkpointing`: activation checkpointing (`enable_checkpointing`), for memory."""
    out = Path(out_dir)
    run = _start(policy, out, profile.sft_lr, accelerator, checkpointing, resume_run, profile.autocast)
    acc, model, opt, sched, log, state = run.acc, run.model, run.opt, run.sched, run.log, run.state
    step, first_epoch = (state["step"], state["extra"].get("epochs_done", 0)) if state else (0, 0)
    rows: list[dict[str, Any]] = []
    if not pairs:
        if acc.is_main_process and state is None:
            save_checkpoint(out, 0, policy, opt, sched, extra={"epochs_done": profile.sft_epochs})
        return rows
    order = list(range(len(pairs)))
    for epoch in range(profile.sft_epochs):
        random.Random(f"{profile.seed}/sft/{epoch}").shuffle(order)  # replayed for finished epochs
        if epoch < first_epoch:
            continue
        for i in range(0, len(order), profile.micro_batch):
            t0 = time.perf_counter()
            batch = logprobs.collate([pairs[j] for j in order[i:i + profile.micro_batch]],
                                   policy.tokenizer.pad_token_id).to(policy.device)
            model.train()
            opt.zero_grad(set_to_none=True)
            with autocast(profile.autocast, policy.device):
                logp = logprobs.token_logprobs(model, batch)
            loss = losses.sft_loss(logp, batch.mask2)
            step += 1
            _finite(loss, step, policy.model)
            acc.backward(run.scaler.scale(loss))
            release_memory()
            _update(opt, sched, run.scaler, acc, policy.trainable_parameters())
            row = {"step": step, "stage": "sft", "epoch": epoch, "loss": loss.item(),
                   "trained_tokens": int(batch.mask2.sum().item()), "time/update_s": time.perf_counter() - t0,
                   "lr": sched.get_last_lr()[0]}
            log.write(row)
            rows.append(row)
        if acc.is_main_process:
            save_checkpoint(out, step, policy, opt, sched, extra={"epochs_done": epoch + 1})
    return rows
