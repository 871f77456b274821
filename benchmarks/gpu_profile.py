"""Benchmark: the gpu profile on a GPU (seconds per Stage II step, peak memory) and what it means on a T4.

One prepared run, under 8 minutes on a data-centre GPU. Each measurement runs in its own subprocess (a
process's CUDA peak only grows) and calls the kit's own `load_policy` (4-bit NF4, the gpu profile's
compute dtype and LoRA targets) and `train.train_rl(stage="stage2")` at the gpu profile's sizes
(`scoreutils/config.py`: problems per step, k, micro-batch, generation batch, max_new_tokens):
  (a) "bundled": the bundled SmolLM2-135M-Instruct, `--steps` steps on MATH-formatted problems: a real
      model, whose attempts end when it says so;
  (b) "Qwen2.5-0.5B", "Qwen2.5-1.5B": the two architectures with RANDOM weights, built from their published
      config.json values (`QWEN25`, below; nothing is downloaded), one step each at worst-case lengths:
      random weights practically never sample the end token, so every attempt runs to max_new_tokens.
      Time and memory do not depend on the weights' values. The tokenizer is the bundled SmolLM2 one
      (its ids are a subset of Qwen's vocabulary; the output layer keeps Qwen's 151,936 rows).
Problems are MATH-formatted arithmetic word problems (offline); `--math-path` uses a local MATH JSONL.

From a GPU other than a T4, the T4 time is scaled from the measured one (`T4_RATIO_NOTE`):
  - sampling (decoding a batch of at most 32 rows) reads every weight and the KV cache once per token:
    memory-bandwidth-bound, so rollout seconds are multiplied by bandwidth(measured GPU) / bandwidth(T4);
  - the update (forward and backward over ~30k tokens per step) is dense matrix products: compute-bound, so
    update seconds are multiplied by dense fp16 TFLOPS(measured GPU) / TFLOPS(T4).
  T4: 65 TFLOPS fp16 tensor, 320 GB/s. H100 SXM: ~989 TFLOPS dense fp16/bf16, 3.35 TB/s (ratios 15.2 for
  the update, 10.5 for sampling). H200: the same compute, 4.8 TB/s (15.2 and 15.0). Decoding a small model
  on a big GPU is partly bound by kernel launches and the host's Python, which do not grow by these
  ratios, so the scaled rollout time is an upper bound (unless the Colab host's overhead per step exceeds
  the ratio times the measuring machine's).

Writes results/bench_gpu.json (device name, every measurement, the T4 estimate per lesson) and prints a
table. Without CUDA it refuses to write that file: GPU numbers stay "unmeasured" until it has run on one.
A measurement subprocess that fails or runs past `--timeout` is recorded as failed (its error and last
output lines) and the others still run; the script then writes the file and exits with status 1.

    python benchmarks/gpu_profile.py                 # on a GPU: (a) and (b), ~3-5 min on an H100
    python benchmarks/gpu_profile.py --smoke         # CPU, tiny sizes, ~30 s (tests/test_gpu_path.py)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package: find _common.py
import _common  # noqa: E402

_common.offline()  # before transformers / datasets / huggingface_hub are imported

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any, Sequence  # noqa: E402

import torch  # noqa: E402

from scoreutils.config import write_json  # noqa: E402

DEFAULT_OUT = Path("results/bench_gpu.json")
T4_CAP_BYTES = 15 * 10**9
"""A Colab T4 has 15 GB usable (nvidia-smi: 15360 MiB)."""

# Published config.json values of Qwen/Qwen2.5-0.5B-Instruct and Qwen/Qwen2.5-1.5B-Instruct.
QWEN25: dict[str, dict[str, Any]] = {
    "Qwen2.5-0.5B": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                     "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
                     "max_position_embeddings": 32768, "tie_word_embeddings": True, "rope_theta": 1000000.0,
                     "rms_norm_eps": 1e-6},
    "Qwen2.5-1.5B": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                     "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
                     "max_position_embeddings": 32768, "tie_word_embeddings": True, "rope_theta": 1000000.0,
                     "rms_norm_eps": 1e-6},
}
# --smoke: the same architecture at test size (the bundled tokenizer's vocabulary).
SMOKE_DIMS = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "vocab_size": 49152, "max_position_embeddings": 2048,
              "tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6}
SMOKE_SIZES = {"max_new_tokens": 8, "batch_size": 4, "problems_per_step": 2, "samples_per_problem": 2,
               "micro_batch": 4, "save_every": 1000}

# (dense fp16 tensor TFLOPS, memory bandwidth GB/s) from the vendors' data sheets; matched against
# torch.cuda.get_device_name() in order (first match wins).
GPU_SPECS: list[tuple[tuple[str, ...], str, float, float]] = [
    (("T4",), "T4", 65.0, 320.0),
    (("H200",), "H200", 989.0, 4800.0),
    (("H100", "PCIE"), "H100 PCIe", 756.0, 2000.0),
    (("H100", "NVL"), "H100 NVL", 835.0, 3900.0),
    (("H100",), "H100 SXM", 989.0, 3350.0),
    (("A100", "80GB"), "A100 80GB", 312.0, 2039.0),
    (("A100",), "A100 40GB", 312.0, 1555.0),
    (("L4",), "L4", 121.0, 300.0),
]
T4_RATIO_NOTE = ("rollout (decoding, memory-bandwidth-bound) scaled by the bandwidth ratio, update (dense "
                 "matrix products, compute-bound) by the dense fp16 TFLOPS ratio; the rollout part is an upper "
                 "bound where the measuring GPU was launch- or host-bound")
# What each lesson runs in the gpu profile when nothing is loaded from results/ (evaluations of
# `n_eval` problems, RL runs, SFT runs; "humaneval": lesson 08's 164 problems at 512 new tokens; "scaling":
# lesson 07's inference-compute cell, `runs.SCALING_SIZES["gpu"]` for two models).
LESSON_WORK: dict[str, dict[str, int]] = {
    "00_quickstart": {"evals": 0}, "01_base_model_self_correction": {"evals": 2},
    "02_sft_collapse": {"evals": 1, "sft": 4}, "03_edit_distance": {"evals": 4, "sft": 2},
    "04_naive_multiturn_rl": {"evals": 1, "rl": 1}, "05_stage1": {"evals": 1, "rl": 1},
    "06_stage2_reward_bonus": {"evals": 1, "rl": 2}, "07_score_and_ablations": {"evals": 1, "rl": 3, "scaling": 1},
    "08_code_self_correction": {"humaneval": 1},
}


# ---------------------------------------------------------------------------------------------
# One measurement (a subprocess on a GPU; in-process with --smoke)
# ---------------------------------------------------------------------------------------------
def _problems(n: int, seed: int, math_path: str | None) -> list[Any]:
    """`n` MATH-formatted problems: from `math_path` (a MATH JSONL) or the offline word problems."""
    from scoreutils import Problem, load_task

    if math_path:
        return load_task("math", "train", n=n, seed=seed, path=math_path)
    return [Problem(id=f"synthetic-math/{i}", prompt=p.prompt, reference=p.reference, split="train",
                    source="math", kind="math")
            for i, p in enumerate(load_task("arithmetic", "train", n=n, seed=seed, level=5))]


def _random_qwen(dims: dict[str, Any], device: str, folder: str, seed: int) -> int:
    """Save a Qwen2 model with `dims` and random fp16 weights (and the bundled tokenizer) to `folder`;
    returns its parameter count."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    from scoreutils.models import bundled_model_dir

    tok = AutoTokenizer.from_pretrained(bundled_model_dir())
    config = Qwen2Config(**dims, use_sliding_window=False, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    with torch.device(device):  # random init on the GPU is fast; freed before the measurement
        net = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
    n_params = sum(p.numel() for p in net.parameters())
    net.save_pretrained(folder)
    tok.save_pretrained(folder)
    del net
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return n_params


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Load the policy of `spec["what"]` in 4-bit + LoRA and run `spec["steps"]` Stage II steps."""
    from scoreutils import get_profile, load_policy
    from scoreutils.train import train_rl

    device = "cuda" if torch.cuda.is_available() and not spec["smoke"] else "cpu"
    if spec["smoke"]:
        torch.set_num_threads(1)
    profile = get_profile("gpu", **spec["overrides"])
    lora = {"r": profile.lora_r, "lora_alpha": profile.lora_alpha, "target_modules": list(profile.lora_targets)}
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        n_params, model = None, spec["model"]
        if spec["dims"] is not None:
            n_params = _random_qwen(spec["dims"], device, tmp, profile.seed)
            model = tmp
        policy = load_policy(model, quantization="4bit", dtype=profile.dtype, lora=lora, seed=profile.seed,
                             device=device)
        problems = _problems(profile.problems_per_step * spec["steps"], profile.seed, spec.get("math_path"))
        gc.collect()
        if device == "cuda":
            torch.cuda.synchronize()
            loaded = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        rows = train_rl(policy, profile, problems, Path(tmp) / "run", stage="stage2", steps=spec["steps"])
        wall = time.perf_counter() - t0
    rollout = [r["time/rollout_s"] for r in rows]
    update = [r["time/update_s"] for r in rows]
    tokens = [r["trained_tokens"] for r in rows]
    timed = slice(1, None) if len(rows) > 1 else slice(None)  # the first step also warms kernels up
    episodes = profile.problems_per_step * profile.samples_per_problem
    result = {
        "what": spec["what"], "model": spec["model"] if spec["dims"] is None else "random weights",
        "dims": spec["dims"], "parameters": n_params, "quantization": "4bit", "compute_dtype": profile.dtype,
        "lora": lora, "steps": len(rows), "problems_per_step": profile.problems_per_step,
        "k": profile.samples_per_problem, "episodes_per_step": episodes, "micro_batch": profile.micro_batch,
        "batch_size": profile.batch_size, "max_new_tokens": profile.max_new_tokens,
        "problems": "math_path" if spec.get("math_path") else "synthetic MATH-formatted",
        "step_s": [a + b for a, b in zip(rollout, update)], "rollout_s": rollout, "update_s": update,
        "rollout_s_per_step": statistics.median(rollout[timed]), "update_s_per_step": statistics.median(update[timed]),
        "generated_tokens_per_step": statistics.median(tokens[timed]),
        "generation_batches_per_step": math.ceil(episodes / profile.batch_size),
        "wall_s_with_checkpoints": wall, "device": device, "ru_maxrss_bytes": _ru_maxrss(),
    }
    if device == "cuda":
        result.update(allocated_after_load_bytes=loaded, peak_allocated_bytes=torch.cuda.max_memory_allocated(),
                      peak_reserved_bytes=torch.cuda.max_memory_reserved())
        result["under_t4_cap"] = result["peak_reserved_bytes"] < T4_CAP_BYTES
    return result


def _ru_maxrss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


# ---------------------------------------------------------------------------------------------
# The T4 estimate
# ---------------------------------------------------------------------------------------------
def gpu_spec(name: str) -> tuple[str, float, float] | None:
    """(label, dense fp16 TFLOPS, bandwidth GB/s) of a device name, or None when not in `GPU_SPECS`."""
    upper = name.upper()
    for keys, label, tflops, bandwidth in GPU_SPECS:
        if all(k in upper for k in keys):
            return label, tflops, bandwidth
    return None


def t4_estimate(device: dict[str, Any], measurements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seconds per step and per lesson on a T4, scaled from the worst-case Qwen2.5-0.5B measurement (the
    gpu profile's model); `available` False, with the reason, when there is nothing to scale from."""
    spec = gpu_spec(device["name"]) if device["type"] == "cuda" else None
    qwen = next((m for m in measurements if m["what"] == "Qwen2.5-0.5B" and not m.get("failed")), None)
    if spec is None or qwen is None:
        why = ("measured on a CPU (smoke mode or no CUDA)" if device["type"] != "cuda" else
               f"no fp16/bandwidth figures for {device['name']!r} in GPU_SPECS" if spec is None else
               "the Qwen2.5-0.5B measurement is missing or failed")
        return {"available": False, "reason": why}
    label, tflops, bandwidth = spec
    t4 = gpu_spec("T4")
    bw_ratio, compute_ratio = bandwidth / t4[2], tflops / t4[1]
    from scoreutils import get_profile
    from scoreutils.runs import SCALING_SIZES

    p = get_profile("gpu")
    # one decode step of a full batch; random weights ran every attempt to max_new_tokens (2 per episode)
    decode_s = qwen["rollout_s_per_step"] * bw_ratio / (qwen["generation_batches_per_step"] * 2 * qwen["max_new_tokens"])
    update_s_per_episode = qwen["update_s_per_step"] * compute_ratio / qwen["episodes_per_step"]

    def batches(episodes: int) -> int:
        return math.ceil(episodes / p.batch_size)

    step = batches(p.problems_per_step * p.samples_per_problem) * 2 * p.max_new_tokens * decode_s \
        + p.problems_per_step * p.samples_per_problem * update_s_per_episode
    evaluation = batches(p.n_eval) * 2 * p.max_new_tokens * decode_s
    rl_run = p.steps * step + evaluation
    traces = p.sft_problems * p.sft_samples_per_problem
    sft_run = batches(traces) * 2 * p.max_new_tokens * decode_s + p.sft_epochs * traces * update_s_per_episode / 2 \
        + evaluation  # SFT trains on y2 only: about half an RL update's work per episode
    humaneval = batches(164) * 2 * 512 * decode_s
    n_scaling, k_scaling = SCALING_SIZES["gpu"]  # lesson 07's scaling cell: base and SCoRe, k samples each
    scaling = 2 * batches(n_scaling * k_scaling) * 2 * p.max_new_tokens * decode_s
    lessons = {name: round(w.get("evals", 0) * evaluation + w.get("rl", 0) * rl_run + w.get("sft", 0) * sft_run
                           + w.get("humaneval", 0) * humaneval + w.get("scaling", 0) * scaling, 1)
               for name, w in LESSON_WORK.items()}
    return {"available": True, "measured_on": label, "bandwidth_ratio": round(bw_ratio, 2),
            "compute_ratio": round(compute_ratio, 2), "method": T4_RATIO_NOTE,
            "decode_step_s": decode_s, "update_s_per_episode": update_s_per_episode, "rl_step_s": step,
            "eval_s": evaluation, "rl_run_s": rl_run, "sft_run_s": sft_run, "scaling_s": scaling,
            "lesson_s": lessons,
            "note": "worst-case lengths (every attempt runs to max_new_tokens): an upper bound for a real model"}


# ---------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------
def device_info(smoke: bool) -> dict[str, Any]:
    if torch.cuda.is_available() and not smoke:
        props = torch.cuda.get_device_properties(0)
        return {"type": "cuda", "name": props.name, "total_bytes": props.total_memory,
                "cuda": torch.version.cuda, "capability": list(torch.cuda.get_device_capability(0))}
    return {"type": "cpu", "name": platform.processor() or platform.machine() or "cpu",
            "cores": os.cpu_count()}


def versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out: dict[str, str | None] = {}
    for pkg in ("torch", "transformers", "peft", "accelerate", "bitsandbytes"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def print_table(result: dict[str, Any]) -> None:
    print(f"device: {result['device']['name']} ({result['device']['type']})")
    print("| what | steps | rollout s/step | update s/step | tokens/step | peak reserved |\n|---|---|---|---|---|---|")
    for m in result["measurements"]:
        if m.get("failed"):
            print(f"| {m['what']} | failed: {m['error']} | | | | |")
            continue
        peak = f"{m['peak_reserved_bytes'] / 1e9:.2f} GB" if "peak_reserved_bytes" in m else "-"
        print(f"| {m['what']} | {m['steps']} | {m['rollout_s_per_step']:.2f} | {m['update_s_per_step']:.2f} | "
              f"{m['generated_tokens_per_step']:.0f} | {peak} |")
    for what in result["skipped"]:
        print(f"| {what} | skipped: time budget | | | | |")
    est = result["t4_estimate"]
    if est["available"]:
        print(f"T4 estimate (from {est['measured_on']}: x{est['bandwidth_ratio']} sampling, "
              f"x{est['compute_ratio']} update): RL step {est['rl_step_s']:.0f} s, run {est['rl_run_s'] / 60:.1f} min")
        for lesson, s in est["lesson_s"].items():
            print(f"  {lesson}: {s / 60:.1f} min")
    else:
        print(f"T4 estimate: none ({est['reason']}); gpu times stay unmeasured")


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes (seconds): tests the script")
    ap.add_argument("--steps", type=int, default=3, help="Stage II steps of the bundled model (the first warms up)")
    ap.add_argument("--math-path", default=None, help="local MATH JSONL for the prompts (default: synthetic)")
    ap.add_argument("--budget", type=float, default=420, help="seconds; later measurements are skipped past it")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per measurement subprocess")
    ap.add_argument("--out", type=Path, default=None, help=f"default {DEFAULT_OUT} (GPU only)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        _common.send_result(measure(json.loads(args.child)))
        return None
    device = device_info(args.smoke)
    if device["type"] != "cuda" and not args.smoke:
        raise SystemExit("no CUDA GPU here: nothing to measure (gpu numbers stay unmeasured); "
                         "--smoke runs the script at tiny sizes on the CPU")
    out = args.out or (Path(tempfile.mkdtemp(prefix="bench_gpu_smoke_")) / "bench_gpu.json" if args.smoke else DEFAULT_OUT)

    t0 = time.perf_counter()
    overrides = SMOKE_SIZES if args.smoke else {}
    specs = [{"what": "Qwen2.5-0.5B", "model": None, "dims": SMOKE_DIMS if args.smoke else QWEN25["Qwen2.5-0.5B"],
              "steps": 1},
             {"what": "bundled", "model": "tiny" if args.smoke else "bundled", "dims": None,
              "steps": 1 if args.smoke else args.steps},
             {"what": "Qwen2.5-1.5B", "model": None, "dims": SMOKE_DIMS if args.smoke else QWEN25["Qwen2.5-1.5B"],
              "steps": 1}]
    measurements, skipped = [], []
    for spec in specs:
        spec.update(smoke=args.smoke, overrides=overrides, math_path=args.math_path)
        if time.perf_counter() - t0 > args.budget:
            skipped.append(spec["what"])
            continue
        print(f"{spec['what']}: 4-bit NF4 + LoRA, Stage II x{spec['steps']} ...", flush=True)
        # --smoke: the first measurement goes through a subprocess too, so the smoke test covers that path
        in_process = args.smoke and bool(measurements)
        if in_process:
            measurements.append(measure(spec))
        else:
            measurements.append(_common.run_child(__file__, spec, args.timeout, spec["what"]))

    result = {"benchmark": "gpu_profile", "smoke": args.smoke, "device": device, "versions": versions(),
              "python": platform.python_version(), "measurements": measurements, "skipped": skipped,
              "t4_estimate": t4_estimate(device, measurements), "wall_s": time.perf_counter() - t0,
              "note": "Qwen2.5 rows: RANDOM weights at the published dimensions, every attempt to max_new_tokens"}
    write_json(out, result)
    print_table(result)
    if args.smoke:
        print("smoke mode: tiny sizes on the CPU; gpu numbers stay unmeasured")
    print(f"-> {out}")
    failures = _common.failed(measurements)
    if failures:
        raise SystemExit(f"failed: {', '.join(failures)} (recorded in {out})")
    return result


if __name__ == "__main__":
    main()
