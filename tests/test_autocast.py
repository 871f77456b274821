"""Tests for `models.autocast` (a profile's `autocast` field) and the smoke run of benchmarks/bf16.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scoreutils import get_profile, load_task, logprobs, losses, sample_episodes
from scoreutils.config import PROFILES
from scoreutils.models import autocast

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[1]


def test_autocast_none_leaves_float32():
    layer = torch.nn.Linear(8, 8)
    with autocast(None):
        assert not torch.is_autocast_enabled("cpu")
        assert layer(torch.randn(2, 8)).dtype == torch.float32


@pytest.mark.parametrize("dtype", ["bfloat16", torch.bfloat16])
def test_autocast_bfloat16_computes_in_bf16_and_keeps_weights(dtype):
    layer = torch.nn.Linear(8, 8)
    with autocast(dtype, "cpu"):
        out = layer(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32
    assert not torch.is_autocast_enabled("cpu")  # restored after the block


@pytest.mark.parametrize("bad", ["bf16", "float32", torch.int8])
def test_autocast_rejects_other_dtypes_in_one_line(bad):
    with pytest.raises(ValueError, match="autocast must be None, 'bfloat16' or 'float16'") as err:
        with autocast(bad):
            pass
    assert "\n" not in str(err.value)


def test_profiles_default_to_no_autocast():
    assert all(p.autocast is None for p in PROFILES.values())
    assert get_profile("cpu", autocast="bfloat16").autocast == "bfloat16"


def test_lora_gradients_under_bf16_autocast_follow_float32(tiny_lora_policy):
    """The Stage II loss's LoRA gradients with the forwards under bf16 autocast point where float32's do, and
    stay float32 tensors."""
    policy = tiny_lora_policy
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # B = 0 would leave A without gradient
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    eps = sample_episodes(policy, load_task("arithmetic", "test", n=2, level=0), max_new_tokens=6,
                          temperature=1.0, samples_per_problem=2, progress=False)
    for i, e in enumerate(eps):  # rewards that differ within each group, so every term has a gradient
        e.r1, e.r2 = float(i % 2), float((i + 1) % 2)
    batch = logprobs.collate(eps, policy.tokenizer.pad_token_id)
    policy.model.train()
    grads = []
    for dtype in (None, "bfloat16"):
        policy.model.zero_grad(set_to_none=True)
        with autocast(dtype):
            with torch.no_grad(), policy.reference():
                ref = logprobs.token_logprobs(policy.model, batch)
            lp, seq1, seq2 = logprobs.attempt_logprobs(policy.model, batch)
        a1 = losses.Attempt(seq1, losses.kl_per_attempt(lp, ref, batch.mask1), batch.r1)
        a2 = losses.Attempt(seq2, losses.kl_per_attempt(lp, ref, batch.mask2), batch.r2)
        losses.stage2_loss(a1, a2, k=2, beta1=0.01, alpha=10.0).loss.backward()
        params = policy.trainable_parameters()
        assert all(p.grad.dtype == torch.float32 for p in params)
        grads.append(torch.cat([p.grad.flatten() for p in params]))
    fp32, bf16 = grads
    assert fp32.norm() > 0 and not torch.equal(fp32, bf16)  # bf16 really ran, and differs by rounding only
    assert torch.nn.functional.cosine_similarity(fp32, bf16, dim=0) > 0.99
    assert (fp32 - bf16).norm() / fp32.norm() < 0.1


def test_bf16_benchmark_smoke(tmp_path):
    out = tmp_path / "bench_bf16.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bf16.py"), "--smoke", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["smoke"] is True and res["model"] == "tiny" and res["threads"] == 1
    for key in ("fwd_bwd_ratio_bf16_over_fp32", "generate_ratio_bf16_over_fp32_per_token"):
        assert all(0 < v < 100 for v in res[key].values()), (key, res[key])
    assert {"fresh_adapter", "random_B_adapter"} <= set(res["gradient_agreement"])
    assert "bf16/fp32" in proc.stdout
