"""Smoke runs of the benchmarks (`benchmarks/{rollout,train_step,memory}.py --smoke`): each
writes its JSON to a temporary path, with the expected keys and positive, finite numbers.

Each script runs in its own interpreter (as a user runs it), so the TRL trainer's global state (seeds,
accelerate's singletons, torch threads) and the memory benchmark's peaks never touch other tests. Both use
the tiny random model with one torch thread: ~15 s each on a busy 2-core machine. The GPU part of the
memory benchmark is skipped by the script itself without CUDA; the test checks that it says so.
"""
from __future__ import annotations

import importlib.metadata
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
PER_TOKEN = ("s_per_generated_token", "s_per_trained_token")
ARM_KEYS = ("s_per_step", "generated_tokens_per_step", "trained_tokens_per_step", *PER_TOKEN)


def _run_smoke(script: str, out: Path) -> tuple[dict[str, Any], str]:
    """Run `benchmarks/<script> --smoke --out <out>`; return the JSON it wrote and its stdout."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--smoke", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{script} --smoke failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text()), proc.stdout


def _positive(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def test_train_step_smoke(tmp_path):
    res, stdout = _run_smoke("train_step.py", tmp_path / "bench_train_step.json")
    assert {"config", "machine", "versions", "torch_threads", "trl_version", "arms", "ratio_kit_over_trl", "raw",
            "note", "prompt_ids_match"} <= set(res)
    assert res["smoke"] is True and res["model"] == "tiny" and res["torch_threads"] == 1
    assert res["trl_version"] == importlib.metadata.version("trl")
    assert res["prompt_ids_match"] is True  # TRL tokenises the chat prompt exactly as the kit does
    for arm in ("kit", "trl"):
        for key in ARM_KEYS:
            assert _positive(res["arms"][arm][key]), (arm, key, res["arms"][arm][key])
        runs = res["raw"][arm]
        assert len(runs) == res["config"]["warmup"] + res["config"]["repeats"]
        assert all(_positive(r["step_s"]) and _positive(r["generated_tokens"]) for r in runs)
    for key in ("s_per_step", *PER_TOKEN):
        assert _positive(res["ratio_kit_over_trl"][key])
    # the kit samples two attempts per episode, TRL one completion per sample
    assert res["arms"]["kit"]["generated_tokens_per_step"] > res["arms"]["trl"]["generated_tokens_per_step"]
    assert res["config"]["trl_beta"] > 0 and res["config"]["trl_steps_per_generation"] == \
        res["config"]["trl_gradient_accumulation_steps"]
    assert "single-turn" in res["note"] and "single-turn" in stdout


def test_memory_smoke(tmp_path):
    res, stdout = _run_smoke("memory.py", tmp_path / "bench_memory.json")
    assert {"machine", "versions", "cpu", "gpu", "method"} <= set(res) and res["smoke"] is True
    cpu = res["cpu"]
    for key in ("step_s", "generated_tokens", "rss_before_step_bytes", "ru_maxrss_bytes",
                "step_peak_rss_sampled_bytes", "step_increase_bytes"):
        assert _positive(cpu[key]), (key, cpu[key])
    assert cpu["model"] == "tiny" and cpu["torch_threads"] == 1
    assert cpu["release_memory"] is True and res["cpu_without_release"]["release_memory"] is False
    assert _positive(res["cpu_without_release"]["step_peak_rss_sampled_bytes"])
    assert cpu["ru_maxrss_bytes"] >= cpu["rss_before_step_bytes"]
    if cpu["hwm_reset_supported"]:
        assert _positive(cpu["step_peak_rss_hwm_bytes"])
    else:
        assert cpu["step_peak_rss_hwm_bytes"] is None
    gpu = res["gpu"]
    if torch.cuda.is_available():
        assert gpu["skipped"] is False and gpu["measurements"]
        for m in gpu["measurements"]:
            assert m["weights"] == "random" and isinstance(m["under_cap"], bool)
            assert _positive(m["peak_allocated_bytes"]) and m["peak_allocated_bytes"] >= m["allocated_after_load_bytes"]
        assert "RANDOM" in stdout
    else:  # the script skips the GPU part itself and says why, in the JSON and on stdout
        assert gpu["skipped"] is True and "cuda" in gpu["reason"].lower()
        assert "GPU part skipped" in stdout


def test_rollout_smoke(tmp_path):
    res, stdout = _run_smoke("rollout.py", tmp_path / "bench_rollout.json")
    assert res["model"] == "tiny" and res["repeats"] == 1
    for key in ("kit_tokens_per_s", "kit_no_cache_reuse_tokens_per_s", "generate_tokens_per_s", "ratio"):
        assert _positive(res[key]), (key, res[key])
    assert 0 <= res["generate_pad_fraction"] < 1 and 0 <= res["kit_pad_fraction"] < 1
    assert "ratio" in stdout
