"""Benchmark: peak memory of one SCoRe Stage II step (`scoreutils.train.rl_step("stage2", ...)`).

(a) CPU, always: peak resident memory (RSS) of one Stage II step of the bundled SmolLM2-135M-Instruct at
    the `cpu` profile's sizes (`--smoke`: the tiny random model at smoke sizes), on the CPU even where a
    GPU exists. Each measurement runs in its own subprocess, because a process's peak RSS only grows: in
    one process, peaks of different measurements would mix. Three readings, none from tracemalloc (which
    sees only Python's allocator, not torch's tensors):
      - `ru_maxrss`: resource.getrusage, the child's lifetime peak (imports + load + step). Linux derives
        it from the same high-water mark that the reset below lowers, so it is read before the reset and
        after the step, and the larger value is reported;
      - `VmHWM` of /proc/self/status, the kernel's high-water mark, reset after loading by writing "5" to
        /proc/self/clear_refs (Linux >= 4.0), so it reads the step's own peak; `null` where unsupported;
      - a sampler thread reading /proc/self/statm every few milliseconds during the step (can miss a
        spike shorter than its interval; a cross-check on VmHWM).
    The same step is measured a second time without `train.release_memory` (glibc's malloc_trim between the
    step's phases), under "cpu_without_release", to show what the trim saves.
(b) GPU, only when `torch.cuda.is_available()`: `torch.cuda.max_memory_allocated()` during one Stage II
    step of the Qwen2.5-0.5B and Qwen2.5-1.5B architectures, built from their published config dimensions
    (`QWEN25`) with RANDOM weights, loaded by the kit's `load_policy` in 4-bit NF4 with fp16 compute and
    LoRA, at the `gpu` profile's micro-batch, generation batch, LoRA shape and lengths (512 + 512 new
    tokens). Memory does not depend on the weights' values, and random weights practically never sample
    the end token, so both attempts run to the full length: the worst case. Reports whether the peak stays
    under a 15 GB cap (a Colab T4). The tokenizer is the bundled SmolLM2 one (Qwen's is on the hub): its
    ids are a subset of Qwen's vocabulary; prompt lengths differ by a few tokens, small beside 2 x 512.
    Peak memory is set by one generation batch and one micro-batch; more problems per step only repeat
    the same shapes, so by default the step samples one generation batch (`batch_size / k` problems);
    `--gpu-problems` sets another number. Without CUDA the GPU part is skipped, and the JSON says why.

Writes results/bench_memory.json and prints a short table. A measurement subprocess that fails or runs past
`--timeout` is recorded as failed (its error and last output lines) and the others still run; the script
then writes the file and exits with status 1.

    python benchmarks/memory.py            # (a) bundled model, cpu profile; (b) when CUDA is available
    python benchmarks/memory.py --smoke    # tiny model; on a GPU, 0.5B only at smoke lengths
    python benchmarks/memory.py --math-path data/math_train.jsonl   # (b) with real MATH problems
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
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any, Sequence  # noqa: E402

import torch  # noqa: E402

from scoreutils.config import write_json  # noqa: E402

DEFAULT_OUT = Path("results/bench_memory.json")
CAP_BYTES = 15 * 10**9
"""A Colab T4 has 15 GB usable (nvidia-smi: 15360 MiB)."""
GB = 1e9

# Published config.json dimensions of the two architectures (Qwen/Qwen2.5-0.5B-Instruct, Qwen/Qwen2.5-1.5B-Instruct).
QWEN25: dict[str, dict[str, Any]] = {
    "Qwen2.5-0.5B": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                     "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
                     "max_position_embeddings": 32768, "tie_word_embeddings": True, "rope_theta": 1000000.0},
    "Qwen2.5-1.5B": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                     "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
                     "max_position_embeddings": 32768, "tie_word_embeddings": True, "rope_theta": 1000000.0},
}
RANDOM_NOTE = ("GPU part: weights are RANDOM (architectures built from the published Qwen2.5 config "
               "dimensions); memory does not depend on the weights' values, and random weights run every "
               "attempt to max_new_tokens (worst case).")


# ---------------------------------------------------------------------------------------------
# Resident memory readings (Linux /proc; ru_maxrss everywhere)
# ---------------------------------------------------------------------------------------------
def ru_maxrss_bytes() -> int:
    """This process's lifetime peak RSS (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int | None:
    """Current RSS from /proc/self/statm (None off Linux)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def hwm_bytes() -> int | None:
    """The kernel's peak RSS since start or since the last `reset_hwm()` (VmHWM)."""
    kib = _status_kib("VmHWM")
    return None if kib is None else kib * 1024


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (write "5" to /proc/self/clear_refs); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    after, now = hwm_bytes(), rss_bytes()
    # A reset high-water mark sits near the current RSS; tolerate the pages touched in between.
    return after is not None and now is not None and after <= now + 64 * 2**20


class RssSampler:
    """Background thread reading the current RSS every `interval_s`; `.peak` is the largest value seen."""

    def __init__(self, interval_s: float = 0.005):
        self.interval_s, self.peak, self.samples = interval_s, rss_bytes() or 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes() or 0)
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes() or 0)


# ---------------------------------------------------------------------------------------------
# Children: one measurement each
# ---------------------------------------------------------------------------------------------
def _profile(name: str, overrides: dict[str, Any]) -> Any:
    from scoreutils import get_profile

    return get_profile(name, **overrides)


def _lora(profile: Any) -> dict[str, Any]:
    return {"r": profile.lora_r, "lora_alpha": profile.lora_alpha, "target_modules": list(profile.lora_targets)}


def _stage2_step(policy: Any, profile: Any, problems: Sequence[Any], cpu: bool) -> tuple[float, list[Any]]:
    """Activation checkpointing, optimizer, accelerator and one `rl_step("stage2")`, as `train.train_rl` sets
    them up; (seconds, episodes)."""
    from accelerate import Accelerator

    from scoreutils.train import make_optimizer, enable_checkpointing, rl_step

    enable_checkpointing(policy)
    acc = Accelerator(cpu=cpu)
    opt, sched = make_optimizer(policy, profile.lr)
    model, opt = acc.prepare(policy.model, opt)
    t0 = time.perf_counter()
    _, episodes = rl_step("stage2", 1, policy, model, opt, sched, problems, profile, acc)
    if not cpu:
        torch.cuda.synchronize()
    return time.perf_counter() - t0, episodes


def _lengths(episodes: Sequence[Any]) -> dict[str, float]:
    return {"episodes": len(episodes), "max_sequence_tokens": max(len(e.ids) for e in episodes),
            "mean_prompt_tokens": sum(len(e.x1_ids) for e in episodes) / len(episodes),
            "generated_tokens": sum(len(e.y1_ids) + len(e.y2_ids) for e in episodes)}


def measure_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    """Child (a): load the policy on the CPU, reset the high-water mark, run one Stage II step."""
    from scoreutils import load_policy, load_task

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    if not spec.get("release", True):  # the step as it was before `train.release_memory`
        import scoreutils.train

        scoreutils.train.release_memory = lambda: None
    rss_imports = rss_bytes()
    profile = _profile(spec["profile"], spec["overrides"])
    policy = load_policy(profile.model, dtype=profile.dtype, lora=_lora(profile), seed=profile.seed, device="cpu")
    level = list(profile.level) if isinstance(profile.level, tuple) else profile.level
    problems = load_task("arithmetic", "train", n=profile.problems_per_step, seed=profile.seed, level=level)
    gc.collect()
    rss_loaded, peak_to_load = rss_bytes(), ru_maxrss_bytes()
    hwm_was_reset = reset_hwm()
    with RssSampler() as sampler:
        seconds, episodes = _stage2_step(policy, profile, problems, cpu=True)
    hwm = hwm_bytes() if hwm_was_reset else None
    return {
        "model": profile.model, "profile": profile.name, "torch_threads": torch.get_num_threads(),
        "release_memory": spec.get("release", True),
        "problems_per_step": profile.problems_per_step, "k": profile.samples_per_problem,
        "micro_batch": profile.micro_batch, "batch_size": profile.batch_size,
        "max_new_tokens": profile.max_new_tokens, "lora": _lora(profile), **_lengths(episodes),
        "step_s": seconds,
        "rss_after_imports_bytes": rss_imports, "rss_before_step_bytes": rss_loaded,
        "ru_maxrss_after_load_bytes": peak_to_load, "ru_maxrss_bytes": max(peak_to_load, ru_maxrss_bytes()),
        "step_peak_rss_hwm_bytes": hwm, "hwm_reset_supported": hwm_was_reset,
        "step_peak_rss_sampled_bytes": sampler.peak, "sampler_samples": sampler.samples,
        "step_increase_bytes": (max(hwm or 0, sampler.peak) - rss_loaded) if rss_loaded else None,
    }


def synthetic_math_problems(n: int, seed: int) -> list[Any]:
    """MATH-formatted problems (the paper's MATH prompt) from the offline arithmetic word problems, for a
    GPU measurement without the hub. `--math-path` uses real MATH problems instead."""
    from scoreutils import Problem, load_task

    return [Problem(id=f"synthetic-math/{i}", prompt=p.prompt, reference=p.reference, split="train",
                    source="math", kind="math")
            for i, p in enumerate(load_task("arithmetic", "train", n=n, seed=seed, level=5))]


def measure_gpu(spec: dict[str, Any]) -> dict[str, Any]:
    """Child (b): build the architecture with random fp16 weights, save it, load it with `load_policy` in
    4-bit NF4 + LoRA, then one Stage II step with the peak-memory counters reset after loading."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    from scoreutils import load_policy, load_task
    from scoreutils.models import bundled_model_dir

    dims = QWEN25[spec["arch"]]
    profile = _profile(spec["profile"], spec["overrides"])
    tok = AutoTokenizer.from_pretrained(bundled_model_dir())
    config = Qwen2Config(**dims, rms_norm_eps=1e-6, use_sliding_window=False, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(profile.seed)
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        with torch.device("cuda"):  # random init on the GPU is fast; freed before the measurement
            net = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
        n_params = sum(p.numel() for p in net.parameters())
        net.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        del net
        gc.collect()
        torch.cuda.empty_cache()
        policy = load_policy(tmp, quantization="4bit", dtype=profile.dtype, lora=_lora(profile), seed=profile.seed,
                             device="cuda")
    if spec.get("math_path"):
        problems = load_task("math", "train", n=profile.problems_per_step, seed=profile.seed, path=spec["math_path"])
    else:
        problems = synthetic_math_problems(profile.problems_per_step, profile.seed)
    gc.collect()
    torch.cuda.synchronize()
    loaded = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    seconds, episodes = _stage2_step(policy, profile, problems, cpu=False)
    peak, reserved = torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()
    props = torch.cuda.get_device_properties(0)
    return {
        "arch": spec["arch"], "dims": dims, "parameters": n_params, "weights": "random",
        "quantization": "4bit NF4 (double quant)", "compute_dtype": profile.dtype, "lora": _lora(profile),
        "problems_per_step": profile.problems_per_step, "k": profile.samples_per_problem,
        "micro_batch": profile.micro_batch, "batch_size": profile.batch_size,
        "max_new_tokens": profile.max_new_tokens, "problems": "math_path" if spec.get("math_path") else "synthetic",
        **_lengths(episodes), "step_s": seconds,
        "allocated_after_load_bytes": loaded, "peak_allocated_bytes": peak, "peak_reserved_bytes": reserved,
        "cap_bytes": CAP_BYTES, "under_cap": peak < CAP_BYTES, "reserved_under_cap": reserved < CAP_BYTES,
        "device": props.name, "device_total_bytes": props.total_memory,
        "ru_maxrss_bytes": ru_maxrss_bytes(),
    }


def child_main(spec: dict[str, Any]) -> None:
    """Run the measurement that `spec["kind"]` names and print its result line; returns nothing."""
    result = measure_cpu(spec) if spec["kind"] == "cpu" else measure_gpu(spec)
    _common.send_result(result)


# ---------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "peft", "accelerate", "bitsandbytes"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                        "python": platform.python_version(), "cpu_count": os.cpu_count(),
                        "total_ram_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                        if hasattr(os, "sysconf") else None,
                        "loadavg_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
            "versions": versions}


def gpu_skip_reason() -> str | None:
    """None when CUDA is usable, else one line saying why the GPU part is skipped."""
    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    return f"torch.cuda.is_available() is False (torch {torch.__version__}, {build}): no GPU to measure"


def print_table(result: dict[str, Any]) -> None:
    cpu, without = result["cpu"], result["cpu_without_release"]
    print("| part | model | peak | note |\n|---|---|---|---|")
    if cpu.get("failed"):
        print(f"| CPU step (RSS) | - | - | failed: {cpu['error']} |")
    else:
        step_peak = cpu["step_peak_rss_hwm_bytes"] or cpu["step_peak_rss_sampled_bytes"]
        print(f"| CPU step (RSS) | {cpu['model']} | {step_peak / GB:.2f} GB | before step "
              f"{cpu['rss_before_step_bytes'] / GB:.2f} GB; lifetime ru_maxrss {cpu['ru_maxrss_bytes'] / GB:.2f} GB |")
    if without.get("failed"):
        print(f"| CPU step without release_memory | - | - | failed: {without['error']} |")
    else:
        peak = without["step_peak_rss_hwm_bytes"] or without["step_peak_rss_sampled_bytes"]
        with_it = "" if cpu.get("failed") else f" (with it: {cpu['step_s']:.0f} s)"
        print(f"| CPU step without release_memory | {without['model']} | {peak / GB:.2f} GB | "
              f"{without['step_s']:.0f} s{with_it} |")
    gpu = result["gpu"]
    if gpu["skipped"]:
        print(f"| GPU | - | - | skipped: {gpu['reason']} |")
    else:
        for m in gpu["measurements"]:
            if m.get("failed"):
                print(f"| GPU step (allocated) | {m['what']} | - | failed: {m['error']} |")
                continue
            verdict = "under" if m["under_cap"] else "OVER"
            print(f"| GPU step (allocated) | {m['arch']} 4-bit+LoRA | {m['peak_allocated_bytes'] / GB:.2f} GB | "
                  f"{verdict} the {CAP_BYTES / GB:.0f} GB cap; reserved {m['peak_reserved_bytes'] / GB:.2f} GB |")
        print("NOTE: " + RANDOM_NOTE)


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Run the measurements (each in a subprocess); returns the result written to `--out`."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny model at smoke sizes; GPU: 0.5B at smoke lengths")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads in the CPU child (default: torch's; smoke 1)")
    ap.add_argument("--gpu-problems", type=int, default=None,
                    help="problems per GPU step (default: one generation batch, batch_size / k)")
    ap.add_argument("--math-path", default=None, help="local MATH JSONL for the GPU prompts (default: synthetic)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per measurement subprocess")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child_main(json.loads(args.child))
        return None

    t0 = time.perf_counter()
    threads = args.threads if args.threads is not None else (1 if args.smoke else None)
    if args.smoke:
        cpu_spec = {"kind": "cpu", "profile": "smoke", "threads": threads,
                    "overrides": {"model": "tiny", "max_new_tokens": 12, "batch_size": 4}}
    else:
        cpu_spec = {"kind": "cpu", "profile": "cpu", "threads": threads, "overrides": {}}
    print("CPU: one Stage II step in a subprocess ...", flush=True)
    cpu = _common.run_child(__file__, cpu_spec, args.timeout, "cpu")
    print("CPU: the same step without `train.release_memory` (glibc's malloc_trim between phases) ...", flush=True)
    cpu_without = _common.run_child(__file__, {**cpu_spec, "release": False}, args.timeout,
                                    "cpu without release_memory")

    reason = gpu_skip_reason()
    gpu: dict[str, Any]
    if reason is not None:
        print(f"GPU part skipped: {reason}", flush=True)
        gpu = {"skipped": True, "reason": reason, "cap_bytes": CAP_BYTES}
    else:
        from scoreutils import get_profile

        base = get_profile("gpu")
        k = base.samples_per_problem
        if args.smoke:
            overrides = {"max_new_tokens": 16, "batch_size": 4, "problems_per_step": 2, "samples_per_problem": 2}
            archs = ["Qwen2.5-0.5B"]
        else:
            overrides = {"problems_per_step": args.gpu_problems or max(1, base.batch_size // k)}
            archs = list(QWEN25)
        print("NOTE: " + RANDOM_NOTE, flush=True)
        measurements = []
        for arch in archs:
            print(f"GPU: {arch} (random weights, 4-bit NF4 + LoRA), one Stage II step in a subprocess ...", flush=True)
            spec = {"kind": "gpu", "arch": arch, "profile": "gpu", "overrides": overrides, "math_path": args.math_path}
            measurements.append(_common.run_child(__file__, spec, args.timeout, f"gpu {arch}"))
        # a failed measurement has no "under_cap": it is not shown to be under the cap
        gpu = {"skipped": False, "cap_bytes": CAP_BYTES, "note": RANDOM_NOTE, "measurements": measurements,
               "all_under_cap": all(m.get("under_cap", False) for m in measurements)}

    result = {"benchmark": "memory", "smoke": args.smoke, **machine_info(), "cpu": cpu,
              "cpu_without_release": cpu_without, "gpu": gpu,
              "wall_s": time.perf_counter() - t0,
              "method": {"cpu": "one subprocess per measurement; ru_maxrss (lifetime), VmHWM reset after load via "
                                "/proc/self/clear_refs (step peak), and an RSS sampler thread; no tracemalloc",
                         "gpu": "torch.cuda.max_memory_allocated after reset_peak_memory_stats following the load; "
                                "weights stay resident, so the peak includes them"}}
    write_json(args.out, result)
    print_table(result)
    print(f"-> {args.out}")
    failures = _common.failed([cpu, cpu_without, *gpu.get("measurements", [])])
    if failures:
        raise SystemExit(f"failed: {', '.join(failures)} (recorded in {args.out})")
    return result


if __name__ == "__main__":
    main()
