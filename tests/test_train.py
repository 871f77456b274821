"""Tiny real runs of every method: parameters move, losses stay finite, resume is exact, 2 processes work."""
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from scoreutils import get_profile, load_policy, load_task
from scoreutils.rollout import sample_episodes
from scoreutils.train.sft import SFT_DATASETS
from scoreutils.train import train_rl, train_sft

PROFILE = get_profile("smoke", model="tiny", steps=2, problems_per_step=2, samples_per_problem=4, micro_batch=4,
                      max_new_tokens=6, batch_size=8, save_every=1, lr=1e-2, sft_lr=1e-2)
PROBLEMS = load_task("arithmetic", "train", n=8, level=0)


def _policy():
    return load_policy("tiny", lora={"r": 4, "lora_alpha": 8}, seed=0)


def _snapshot(policy):
    return [p.detach().clone() for p in policy.trainable_parameters()]


def _moved(before, policy):
    return any(not torch.equal(a, b) for a, b in zip(before, policy.trainable_parameters()))


@pytest.mark.parametrize("stage", ["naive", "stage1", "stage2"])
def test_rl_methods_change_parameters_and_stay_finite(stage, tmp_path, monkeypatch):
    # a random model is never right: give it a reward that differs between samples so the
    # policy-gradient terms are non-zero (the first token id's parity)
    import scoreutils.rollout as rollout

    monkeypatch.setattr(rollout, "binary_reward", lambda problem, text: float(len(text) % 2))
    policy = _policy()
    before = _snapshot(policy)
    rows = train_rl(policy, PROFILE, PROBLEMS, tmp_path, stage=stage)
    assert len(rows) == 2 and all(math.isfinite(r["loss"]) for r in rows)
    assert {"reward/attempt1", "reward/attempt2", "kl/attempt1", "kl/attempt2", "tokens_per_s",
            "changed_answer_rate"} <= set(rows[0])
    assert _moved(before, policy)
    logged = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
    assert [r["step"] for r in logged] == [1, 2]
    assert rows[1]["kl/attempt1"] != 0.0 or rows[1]["kl/attempt2"] != 0.0  # adapter moved away from pi_ref


@pytest.mark.parametrize("method", ["star", "star_plus", "pair_sft", "pair_sft_plus"])
def test_sft_methods_change_parameters(method, tmp_path):
    policy = _policy()
    traces = sample_episodes(policy, PROBLEMS[:4], max_new_tokens=6, temperature=1.0, samples_per_problem=2,
                             progress=False)
    for i, e in enumerate(traces):  # fix outcomes so every data set has pairs: wrong -> right, right -> right
        e.r1, e.r2 = float(i % 3 == 0), 1.0
        e.truncated1 = e.truncated2 = False
    pairs = SFT_DATASETS[method](policy.tokenizer, traces, seed=0)
    assert pairs and all(p.r2 == 1.0 for p in pairs)
    before = _snapshot(policy)
    rows = train_sft(policy, PROFILE, pairs, tmp_path)
    assert rows and all(math.isfinite(r["loss"]) for r in rows)
    assert _moved(before, policy)


def test_star_and_pair_datasets_follow_the_paper():
    policy = _policy()
    traces = sample_episodes(policy, PROBLEMS[:2], max_new_tokens=4, temperature=1.0, samples_per_problem=2,
                             progress=False, grade=False)
    outcomes = [(0.0, 1.0), (1.0, 1.0), (0.0, 0.0), (1.0, 0.0)]
    for e, (a, b) in zip(traces, outcomes):
        e.r1, e.r2, e.truncated1, e.truncated2 = a, b, False, False
    tok = policy.tokenizer
    star = SFT_DATASETS["star"](tok, traces)
    assert len(star) == 1 and star[0].y1_ids == traces[0].y1_ids and star[0].y2_ids == traces[0].y2_ids
    star_plus = SFT_DATASETS["star_plus"](tok, traces)
    correct = sum(r for e in traces for r in (e.r1, e.r2))
    assert len(star_plus) == 1 + correct
    assert all(p.y1_ids == p.y2_ids for p in star_plus[1:])
    pair = SFT_DATASETS["pair_sft"](tok, traces, seed=0)
    incorrect = sum(1 - r for e in traces for r in (e.r1, e.r2))
    assert len(pair) == incorrect and all(p.r1 == 0 and p.r2 == 1 for p in pair)
    for p in pair:  # the target is a correct response to the same problem
        same = [e for e in traces if e.problem.id == p.problem.id]
        assert any(p.y2_ids in (e.y1_ids, e.y2_ids) for e in same)


def test_kill_and_resume_matches_the_uninterrupted_run(tmp_path, monkeypatch):
    import scoreutils.rollout as rollout

    monkeypatch.setattr(rollout, "binary_reward", lambda problem, text: float(len(text) % 2))
    prof = PROFILE.replace(steps=3)
    full = train_rl(_policy(), prof, PROBLEMS, tmp_path / "full", stage="stage2")
    part = tmp_path / "part"
    first = train_rl(_policy(), prof, PROBLEMS, part, stage="stage2", stop_after=2)  # "killed" after step 2
    assert len(first) == 2 and (part / "checkpoints" / "step_000002").exists()
    shutil.rmtree(part / "checkpoints" / "step_000001")
    rest = train_rl(_policy(), prof, PROBLEMS, part, stage="stage2")  # a fresh process would do the same
    assert [r["step"] for r in rest] == [3]
    assert rest[0]["loss"] == pytest.approx(full[2]["loss"], rel=1e-5, abs=1e-7)
    assert rest[0]["reward/attempt2"] == full[2]["reward/attempt2"]


def test_two_cpu_processes_under_accelerate_launch(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "scoreutils", "train", "--method", "stage2", "--profile", "smoke", "--model", "tiny",
           "--steps", "2", "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["step"] for r in rows] == [1, 2]
    assert (out / "metrics.json").exists()


def test_profile_autocast_wraps_the_training_forwards(tmp_path, monkeypatch):
    import contextlib

    import scoreutils.train as train

    seen = []

    @contextlib.contextmanager
    def spy(dtype, device):
        seen.append(dtype)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.is_autocast_enabled("cpu")
            yield

    monkeypatch.setattr(train, "autocast", spy)
    rows = train_rl(_policy(), PROFILE.replace(steps=1, autocast="bfloat16"), PROBLEMS, tmp_path, stage="stage2")
    assert seen and set(seen) == {"bfloat16"} and math.isfinite(rows[0]["loss"])


@pytest.mark.parametrize("on", [True, False])
def test_profile_activation_checkpointing_reaches_training(on, tmp_path, monkeypatch):
    """`Profile.activation_checkpointing` decides whether `run_train` recomputes activations (same gradients)."""
    import scoreutils.train as train
    from scoreutils.runs.pipeline import run_train

    calls = []
    real = train.enable_checkpointing
    monkeypatch.setattr(train, "enable_checkpointing", lambda policy: (calls.append(policy), real(policy)))
    profile = PROFILE.replace(steps=1, n_eval=2, n_train=8, activation_checkpointing=on)
    run = run_train("stage2", profile, tmp_path / "rl")
    assert len(calls) == int(on) and math.isfinite(run.log[0]["loss"])
    assert get_profile("repro").activation_checkpointing is False and get_profile("cpu").activation_checkpointing


@pytest.mark.parametrize("checkpointing,share,expected", [(False, True, True), (True, True, False),
                                                         (False, False, False)])
def test_rl_shares_the_prompt_forward_only_without_checkpointing(checkpointing, share, expected, tmp_path,
                                                                 monkeypatch):
    """`Profile.share_prompt` reaches the update's batches, except under activation checkpointing."""
    import scoreutils.train as train
    from scoreutils import logprobs

    seen = []
    real = logprobs.collate
    monkeypatch.setattr(logprobs, "collate", lambda eps, pad, share_prompt=False: (seen.append(share_prompt),
                                                                                 real(eps, pad, share_prompt))[1])
    profile = PROFILE.replace(steps=1, share_prompt=share)
    rows = train_rl(_policy(), profile, PROBLEMS, tmp_path, stage="stage2", checkpointing=checkpointing)
    assert seen and set(seen) == {expected} and math.isfinite(rows[0]["loss"])


@pytest.mark.parametrize("switch", [False, True])
def test_rl_scores_the_update_at_the_sampling_temperature_only_when_asked(switch, tmp_path, monkeypatch):
    """`Profile.score_at_temperature` reaches the reference's and the policy's log-probs of every micro-batch."""
    from scoreutils import logprobs

    seen = []
    real = logprobs.token_logprobs
    monkeypatch.setattr(logprobs, "token_logprobs", lambda m, b, temperature=1.0: (seen.append(temperature),
                                                                                real(m, b, temperature))[1])
    profile = PROFILE.replace(steps=1, temperature=0.7, score_at_temperature=switch)
    rows = train_rl(_policy(), profile, PROBLEMS, tmp_path, stage="stage2")
    assert seen and set(seen) == {0.7 if switch else 1.0} and math.isfinite(rows[0]["loss"])
    with pytest.raises(ValueError, match="score_at_temperature"):
        PROFILE.replace(temperature=0.0, score_at_temperature=True)


def test_checkpointing_leaves_the_gradients_as_they_are():
    from scoreutils import logprobs, losses
    from scoreutils.train import enable_checkpointing, policy_and_reference

    episodes = sample_episodes(_policy(), PROBLEMS[:2], max_new_tokens=6, temperature=1.0, samples_per_problem=2,
                               batch_size=8, seed=0, progress=False)
    grads = []
    for checkpoint in (False, True):
        policy = _policy()
        if checkpoint:
            enable_checkpointing(policy)
        policy.model.train()
        batch = logprobs.collate(episodes, policy.tokenizer.pad_token_id)
        a1, a2 = policy_and_reference(policy.model, policy, batch)
        losses.stage2_loss(a1, a2, 2, beta1=0.01, alpha=10.0).loss.backward()
        grads.append([p.grad.clone() for p in policy.trainable_parameters()])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim and /proc are glibc / Linux")
def test_release_memory_returns_freed_heap_blocks_to_the_system():
    script = textwrap.dedent("""
        import ctypes, ctypes.util
        import torch
        from scoreutils.train import release_memory
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(-3, 16 * 2**20)  # M_MMAP_THRESHOLD: a 2 MB block comes from the heap (as after a large free)
        libc.mallopt(-1, 2**30)  # M_TRIM_THRESHOLD: free() alone never shrinks the heap
        blocks, keep = [], []
        for _ in range(300):  # 2 MB blocks, each followed by a small live one: freed, they are holes
            blocks.append(torch.ones(2**20 // 2)); keep.append(torch.ones(16))
        del blocks
        before = rss(); release_memory(); after = rss()
        print(before - after)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=Path(__file__).resolve().parent.parent)
    assert int(out.stdout.split()[-1]) > 400 * 2**20  # most of the 600 MB freed leaves the process


def test_signal_counts_groups_with_an_advantage_and_a_bonus():
    from types import SimpleNamespace as E

    from scoreutils.train import signal_counts

    eps = [E(r1=0, r2=1), E(r1=0, r2=0),  # group 1: attempt 2 varies, a bonus is paid
           E(r1=1, r2=1), E(r1=0, r2=0),  # group 2: both attempts vary, no bonus (r2 = r1 everywhere)
           E(r1=1, r2=0), E(r1=1, r2=0)]  # group 3: the same break twice: shaped rewards equal, bonus nonzero
    assert signal_counts(eps, 2, "stage2", alpha=10.0) == {
        "signal/groups": 3, "signal/groups_adv_attempt1": 1, "signal/groups_adv_attempt2": 2, "signal/groups_bonus": 2}
    assert signal_counts(eps, 2, "stage1", alpha=10.0)["signal/groups_bonus"] == 0  # Stage I pays no bonus
    assert signal_counts(eps, 2, "stage2", alpha=0.0)["signal/groups_bonus"] == 0


def test_the_logged_kl_is_a_kl_when_the_update_scores_at_the_sampling_temperature():
    """On-policy scoring (`Profile.score_at_temperature`): the k1 estimate log π_T(y) − log π_ref,T(y) of samples
    drawn from π_T has mean KL(π_T ‖ π_ref,T) ≥ 0. Checked on a fixed prompt set with the adapter moved away from
    the reference: the mean over 192 samples lies above 0 by more than two standard errors."""
    from scoreutils import logprobs
    from scoreutils.train import policy_and_reference

    torch.manual_seed(0)
    policy = _policy()
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.3)
    episodes = sample_episodes(policy, PROBLEMS[:6], max_new_tokens=6, temperature=0.5, samples_per_problem=32,
                               batch_size=64, seed=1, progress=False)
    with torch.no_grad():
        batch = logprobs.collate(episodes, policy.tokenizer.pad_token_id)
        a1, a2 = policy_and_reference(policy.model, policy, batch, temperature=0.5)
    for kl in (a1.kl, a2.kl):
        mean, se = kl.mean().item(), kl.std().item() / math.sqrt(len(kl))
        assert mean - 2 * se > 0, (mean, se)


def test_the_loss_scaler_is_on_only_under_float16_compute():
    from scoreutils.train import loss_scaler

    policy = _policy()
    assert not loss_scaler(policy).is_enabled() and not loss_scaler(policy, "bfloat16").is_enabled()
    assert loss_scaler(policy, "float16").is_enabled()
    policy.model.half()
    assert loss_scaler(policy).is_enabled()


def test_a_step_whose_scaled_gradients_overflow_is_skipped_and_the_scale_halves():
    """The float16 path on CPU: the real GradScaler, a forced overflow (an inf gradient), then a finite step."""
    from accelerate import Accelerator

    from scoreutils.train import _update

    weight = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.AdamW([weight], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    acc = Accelerator(cpu=True)
    scaler.scale((weight * float("inf")).sum()).backward()
    _update(opt, sched, scaler, acc, [weight])
    assert torch.equal(weight.detach(), torch.ones(3)) and scaler.get_scale() == 2.0 ** 15  # skipped, halved
    opt.zero_grad()
    scaler.scale((weight * 2).sum()).backward()
    _update(opt, sched, scaler, acc, [weight])
    assert (weight.detach() < 1).all()  # a finite step moves the weights, unscaled (clipped to norm 1, not 2^15)


def test_an_rl_step_in_float16_logs_its_loss_scale(tmp_path):
    from scoreutils.train import make_optimizer, rl_step

    policy = _policy()
    policy.model.half()
    for p in policy.trainable_parameters():  # the adapter trains in float32, as peft keeps it
        p.data = p.data.float()
    opt, sched = make_optimizer(policy, PROFILE.lr)
    from accelerate import Accelerator

    row, _ = rl_step("stage2", 1, policy, policy.model, opt, sched, PROBLEMS[:2], PROFILE, Accelerator(cpu=True))
    assert row["loss_scale"] in (2.0 ** 16, 2.0 ** 15) and math.isfinite(row["loss"])


def test_a_stage2_step_takes_stage2_samples_per_problem_and_stage1_does_not(tmp_path):
    """Experiment (c): k = stage2_samples_per_problem in Stage II's steps only; the groups it logs are the
    step's problems either way."""
    from accelerate import Accelerator

    from scoreutils.train import make_optimizer, rl_step

    profile = PROFILE.replace(stage2_samples_per_problem=8, micro_batch=8)
    assert (profile.samples_in("stage2"), profile.samples_in("stage1"), profile.samples_in("naive")) == (8, 4, 4)
    assert PROFILE.samples_in("stage2") == 4  # 0, the default: samples_per_problem
    policy = _policy()
    opt, sched = make_optimizer(policy, profile.lr)
    for stage, k in (("stage1", 4), ("stage2", 8)):
        row, episodes = rl_step(stage, 1, policy, policy.model, opt, sched, PROBLEMS[:2], profile,
                                Accelerator(cpu=True))
        assert len(episodes) == 2 * k and row["signal/groups"] == 2 and math.isfinite(row["loss"]), stage
        assert [e.problem.id for e in episodes] == [p.id for p in PROBLEMS[:2] for _ in range(k)]
