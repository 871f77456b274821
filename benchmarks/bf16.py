"""Benchmark: bfloat16 autocast (`models.autocast`, a profile's `autocast` field) against float32 on CPU.

Three questions, on the cpu profile's sizes, one torch thread, both arms alternating in one process:
1. gradient agreement: the LoRA gradients of the Stage II loss on one real step of episodes (the cpu
   profile's problems_per_step x k sampled from the bundled model at its temperature, micro-batches of
   `micro_batch`, accumulated as training does), float32 vs bf16 autocast: cosine similarity and relative
   norm of the difference, for a fresh adapter (B = 0: only B gets gradient) and for one whose B is
   random (as after some training). For scale: the same two numbers between the gradients of the step's
   two halves (sampling noise).
2. time of one micro-batch's reference forward + policy forward + backward (activation checkpointing on,
   as training runs it), bf16 / fp32; and time of `sample_episodes` on the step's problems, bf16 / fp32.
3. the base model's greedy held-out metrics fp32 vs bf16, only when bf16 generation is faster.
And for context the raw speed of one projection-sized matmul in each dtype (GFLOP/s).
Times are CPU seconds of this process (`time.process_time`: what other users of the machine steal is
not counted) and wall seconds; ratios use medians. Writes results/bench_bf16.json, prints a summary.

    python benchmarks/bf16.py            # bundled model, cpu profile (~5 min on one thread)
    python benchmarks/bf16.py --smoke    # tiny random model, seconds
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package: find _common.py
import _common  # noqa: E402

_common.offline()  # before transformers / datasets / huggingface_hub are imported

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

import torch  # noqa: E402

from scoreutils import get_profile, load_policy, load_task, sample_episodes  # noqa: E402
from scoreutils import logprobs, losses  # noqa: E402
from scoreutils.config import write_json  # noqa: E402
from scoreutils.metrics import episode_metrics  # noqa: E402
from scoreutils.models import autocast  # noqa: E402
from scoreutils.train import enable_checkpointing  # noqa: E402

ARMS = (None, "bfloat16")


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, cpu seconds, wall seconds)."""
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def step_grads(policy, batches, profile, dtype) -> list[torch.Tensor]:
    """Flattened LoRA gradient of the Stage II loss, one per micro-batch, forwards under `autocast(dtype)`."""
    params = policy.trainable_parameters()
    grads = []
    for batch in batches:
        policy.model.zero_grad(set_to_none=True)
        with autocast(dtype, policy.device):
            with torch.no_grad(), policy.reference():
                ref = logprobs.token_logprobs(policy.model, batch)
            lp, seq1, seq2 = logprobs.attempt_logprobs(policy.model, batch)
        a1 = losses.Attempt(seq1, losses.kl_per_attempt(lp, ref, batch.mask1), batch.r1)
        a2 = losses.Attempt(seq2, losses.kl_per_attempt(lp, ref, batch.mask2), batch.r2)
        out = losses.stage2_loss(a1, a2, profile.samples_per_problem, beta1=profile.beta1, alpha=profile.alpha)
        out.loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in params]).clone())
    policy.model.zero_grad(set_to_none=True)
    return grads


def agreement(a: torch.Tensor, b: torch.Tensor) -> dict[str, float | None]:
    """Cosine similarity and |a - b| / |a| (a is the reference); None where a is all zeros."""
    if not bool(a.any()):
        return {"cosine": None, "rel_norm_diff": None}
    return {"cosine": float(torch.nn.functional.cosine_similarity(a, b, dim=0)),
            "rel_norm_diff": float((a - b).norm() / a.norm())}


def gradient_agreement(policy, batches, profile) -> dict[str, Any]:
    names = [n for n, p in policy.model.named_parameters() if p.requires_grad]
    sizes = [p.numel() for p in policy.trainable_parameters()]
    is_b = torch.cat([torch.full((s,), "lora_B" in n) for n, s in zip(names, sizes)])
    per = {str(dt): step_grads(policy, batches, profile, dt) for dt in ARMS}
    fp32, bf16 = (sum(per[str(dt)]) / len(batches) for dt in ARMS)
    res = {"all": agreement(fp32, bf16), "grad_norm_fp32": float(fp32.norm())}
    if bool((fp32[~is_b] != 0).any()):
        res["lora_A"], res["lora_B"] = agreement(fp32[~is_b], bf16[~is_b]), agreement(fp32[is_b], bf16[is_b])
    if len(batches) >= 2 and all(bool(g.any()) for g in per["None"][:2]):  # a half can have no gradient
        res["fp32_half_vs_half"] = agreement(per["None"][0], per["None"][1])
    return res


def gemm_gflops(m: int = 1600, k: int = 576, n: int = 1536, reps: int = 10) -> dict[str, float]:
    """Raw matmul speed per dtype at a q/o-projection-like shape of one micro-batch (CPU GFLOP/s)."""
    out = {}
    a, w = torch.randn(m, k), torch.randn(n, k)
    for dt in (torch.float32, torch.bfloat16):
        x, y = a.to(dt), w.to(dt)
        torch.nn.functional.linear(x, y)
        _, c, _ = timed(lambda: [torch.nn.functional.linear(x, y) for _ in range(reps)])
        out[str(dt).removeprefix("torch.")] = 2 * m * k * n * reps / c / 1e9
    return out


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny random model, tiny sizes")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per arm (default 2; smoke 1)")
    ap.add_argument("--eval-n", type=int, default=100, help="held-out problems for the greedy metrics")
    ap.add_argument("--out", type=Path, default=Path("results/bench_bf16.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    profile = get_profile("smoke" if args.smoke else "cpu")
    repeats = args.repeats or (1 if args.smoke else 2)
    model = "tiny" if args.smoke else profile.model
    lora = {"r": profile.lora_r, "lora_alpha": profile.lora_alpha, "target_modules": list(profile.lora_targets)}
    policy = load_policy(model, lora=lora, seed=profile.seed)
    level = list(profile.level) if isinstance(profile.level, tuple) else profile.level
    problems = load_task(profile.task, "train", n=profile.problems_per_step, seed=profile.seed, level=level)
    sample_kw = dict(max_new_tokens=profile.max_new_tokens, temperature=profile.temperature,
                     samples_per_problem=profile.samples_per_problem, batch_size=profile.batch_size, progress=False)
    episodes = sample_episodes(policy, problems, seed=profile.seed, **sample_kw)
    mb = profile.micro_batch
    batches = [logprobs.collate(episodes[i:i + mb], policy.tokenizer.pad_token_id).to(policy.device)
               for i in range(0, len(episodes), mb)]
    enable_checkpointing(policy)
    policy.model.train()

    print(f"{len(episodes)} episodes sampled; gradients fp32 vs bf16 ...", flush=True)
    grad = {"fresh_adapter": gradient_agreement(policy, batches, profile)}
    gen = torch.Generator().manual_seed(profile.seed)
    with torch.no_grad():  # a trained-looking adapter: B random at the scale of A's initialisation
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5 * 0.1)
    grad["random_B_adapter"] = gradient_agreement(policy, batches, profile)

    print("timing forward + backward ...", flush=True)
    fb: dict[str, list] = {str(dt): [] for dt in ARMS}
    for _ in range(repeats):
        for dt in ARMS:
            _, c, w = timed(lambda: step_grads(policy, batches[:1], profile, dt))
            fb[str(dt)].append([c, w])
    policy.model.eval()
    print("timing generation ...", flush=True)
    gen_runs: dict[str, list] = {str(dt): [] for dt in ARMS}
    for r in range(repeats):
        for dt in ARMS:
            def run():
                with autocast(dt, policy.device):
                    return sample_episodes(policy, problems, seed=profile.seed + r, **sample_kw)
            eps, c, w = timed(run)
            gen_runs[str(dt)].append([c, w, sum(len(e.y1_ids) + len(e.y2_ids) for e in eps)])

    def ratio(runs: dict[str, list], per_token: bool = False) -> dict[str, float]:
        def med(arm, i):
            return statistics.median(r[i] / (r[2] if per_token else 1) for r in runs[arm])
        return {"cpu": med("bfloat16", 0) / med("None", 0), "wall": med("bfloat16", 1) / med("None", 1)}

    gen_ratio = ratio(gen_runs, per_token=True)
    result: dict[str, Any] = {
        "benchmark": "bf16", "smoke": args.smoke, "model": model, "profile": profile.name,
        "threads": torch.get_num_threads(), "repeats": repeats, "micro_batch": mb,
        "episodes": len(episodes), "micro_batch_tokens": [list(b.input_ids.shape) for b in batches],
        "rewards": {"r1": [e.r1 for e in episodes], "r2": [e.r2 for e in episodes]},
        "gradient_agreement": grad,
        "fwd_bwd_runs_cpu_wall_s": fb, "fwd_bwd_ratio_bf16_over_fp32": ratio(fb),
        "generate_runs_cpu_wall_s_tokens": gen_runs, "generate_ratio_bf16_over_fp32_per_token": gen_ratio,
        "gemm_gflops_1600x576x1536": gemm_gflops(),
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                    "loadavg_1_5_15": list(os.getloadavg()),
                    "cpu_flags": sorted({f for f in ("avx512_bf16", "amx_bf16", "avx512f") if f in
                                         Path("/proc/cpuinfo").read_text()}) if Path("/proc/cpuinfo").exists() else []},
    }
    if gen_ratio["cpu"] < 1.0:
        evals = {}
        held_out = load_task(profile.task, "test", n=args.eval_n, level=level)
        for dt in ARMS:
            with autocast(dt, policy.device):
                eps = sample_episodes(policy, held_out, max_new_tokens=profile.max_new_tokens, temperature=0.0,
                                      batch_size=profile.batch_size, progress=False)
            evals[str(dt)] = episode_metrics(eps)
        result["greedy_eval"] = evals
    else:
        result["greedy_eval"] = "not run: bf16 generation is not faster (generate ratio >= 1)"
    result["note"] = ("Times: medians of alternating runs, one thread; cpu = this process's CPU seconds. Gradients: "
                      "the Stage II loss summed over the step's micro-batches; fp32_half_vs_half compares the "
                      "two micro-batches' fp32 gradients (left out when one has none: equal rewards, zero KL).")
    result["wall_s"] = time.perf_counter() - t_start
    write_json(args.out, result)
    g = grad["random_B_adapter"]
    print(f"gradient fp32 vs bf16 (random B): {g['all']}"
          + (f"; fp32 half vs half: {g['fp32_half_vs_half']}" if "fp32_half_vs_half" in g else ""))
    print(f"fwd+bwd bf16/fp32: cpu {result['fwd_bwd_ratio_bf16_over_fp32']['cpu']:.2f}, "
          f"wall {result['fwd_bwd_ratio_bf16_over_fp32']['wall']:.2f}; generation per token bf16/fp32: "
          f"cpu {gen_ratio['cpu']:.2f}, wall {gen_ratio['wall']:.2f} -> {args.out}")
    return result


if __name__ == "__main__":
    main()
