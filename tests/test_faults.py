"""Runs that never lie: resume after a crash, re-runs of finished runs, reused or shared folders, corrupt
checkpoints, non-finite losses, and a command line that answers bad input in one line. Tiny model."""
import json
import subprocess
import sys
import warnings

import pytest
import torch

from scoreutils import get_profile, load_policy, load_task, losses
from scoreutils.checkpoints import RunDirError, claim_run_dir, config_difference
from scoreutils.pipeline import run_train
from scoreutils.train import train_rl, train_sft

pytestmark = pytest.mark.usefixtures("one_thread")

PROFILE = get_profile("smoke", model="tiny", steps=4, problems_per_step=2, samples_per_problem=2, micro_batch=4,
                      max_new_tokens=4, batch_size=8, save_every=2, n_eval=2, n_train=8, sft_problems=2)
PROBLEMS = load_task("arithmetic", "train", n=8, level=0)


def _policy():
    return load_policy("tiny", lora={"r": 4, "lora_alpha": 8}, seed=0)


def _steps(out):
    return [json.loads(line)["step"] for line in open(out / "log.jsonl")]


def test_resume_after_a_crash_keeps_one_row_per_step(tmp_path):
    # killed after step 3: the log has row 3, the newest checkpoint is step 2
    train_rl(_policy(), PROFILE, PROBLEMS, tmp_path, stage="stage2", stop_after=3)
    assert _steps(tmp_path) == [1, 2, 3]
    rows = train_rl(_policy(), PROFILE, PROBLEMS, tmp_path, stage="stage2")
    assert [r["step"] for r in rows] == [3, 4]
    assert _steps(tmp_path) == [1, 2, 3, 4]


def test_a_corrupt_latest_checkpoint_falls_back_to_an_intact_one(tmp_path):
    train_rl(_policy(), PROFILE.with_(save_every=1), PROBLEMS, tmp_path, stage="stage2", stop_after=3)
    state = tmp_path / "checkpoints" / "step_000003" / "state.pt"
    state.write_bytes(state.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="step_000003.*unreadable"):
        rows = train_rl(_policy(), PROFILE.with_(save_every=1), PROBLEMS, tmp_path, stage="stage2")
    assert [r["step"] for r in rows] == [3, 4]
    assert _steps(tmp_path) == [1, 2, 3, 4]


def test_a_non_finite_loss_stops_before_anything_is_saved(tmp_path, monkeypatch):
    import scoreutils.train as train

    monkeypatch.setattr(train, "rl_loss", lambda stage, a1, a2, profile: losses.LossParts(
        a1.logp.sum() * float("nan"), {}))
    with pytest.raises(FloatingPointError, match="nothing of this step was saved"):
        train_rl(_policy(), PROFILE, PROBLEMS, tmp_path, stage="stage2")
    assert not (tmp_path / "checkpoints").exists()


def _pairs(policy):
    from scoreutils.rollout import sample_episodes
    from scoreutils.sft import SFT_DATASETS

    traces = sample_episodes(policy, PROBLEMS[:2], max_new_tokens=4, temperature=1.0, samples_per_problem=2,
                             progress=False, score=False)
    for i, e in enumerate(traces):
        e.r1, e.r2, e.truncated1, e.truncated2 = float(i % 2), 1.0, False, False
    return SFT_DATASETS["pair_sft"](policy.tokenizer, traces, seed=0)


def test_a_finished_sft_run_is_not_trained_again(tmp_path):
    policy = _policy()
    pairs = _pairs(policy)
    first = train_sft(policy, PROFILE.with_(sft_epochs=2), pairs, tmp_path)
    assert first and _steps(tmp_path) == [r["step"] for r in first]
    again = _policy()
    assert train_sft(again, PROFILE.with_(sft_epochs=2), pairs, tmp_path) == []
    assert _steps(tmp_path) == [r["step"] for r in first]  # nothing appended
    assert all(torch.equal(a, b) for a, b in zip(policy.trainable_parameters(), again.trainable_parameters()))


def test_an_interrupted_sft_run_resumes_at_its_next_epoch(tmp_path):
    policy = _policy()
    pairs = _pairs(policy)
    one = train_sft(policy, PROFILE.with_(sft_epochs=1), pairs, tmp_path)
    rest = train_sft(_policy(), PROFILE.with_(sft_epochs=2), pairs, tmp_path)
    assert rest and all(r["epoch"] == 1 for r in rest) and rest[0]["step"] == one[-1]["step"] + 1
    full = train_sft(_policy(), PROFILE.with_(sft_epochs=2), pairs, tmp_path / "full")
    assert [r["loss"] for r in full[len(one):]] == pytest.approx([r["loss"] for r in rest], rel=1e-5)


def test_a_folder_refuses_another_configuration_unless_fresh(tmp_path):
    out = tmp_path / "run"
    first = run_train("stage1", PROFILE.with_(steps=1), out)
    assert not first.loaded and first.metrics["label"] == "stage1"
    with pytest.raises(RunDirError, match="method 'stage1' -> 'score'.*--fresh"):
        run_train("score", PROFILE.with_(steps=1), out)
    again = run_train("stage1", PROFILE.with_(steps=1), out)
    assert again.loaded and _steps(out) == [1]  # finished: loaded, not retrained
    score = run_train("score", PROFILE.with_(steps=1), out, fresh=True)
    assert not score.loaded and json.loads((out / "config.json").read_text())["method"] == "score"


def test_config_difference_names_fields_and_accepts_new_fields_at_their_default():
    old = {"method": "score", "profile": {"lr": 1e-4, "level": [0]}}
    assert config_difference(old, {"method": "score", "profile": {"lr": 1e-4, "level": (0,)}}) == []
    assert config_difference(old, {"method": "score", "profile": {"lr": 2e-4, "level": [0]}}) == ["profile.lr"]
    new = {"method": "score", "profile": {"lr": 1e-4, "level": [0], "added": 3}}
    assert config_difference(old, new) == ["profile.added"]
    assert config_difference(old, new, {"profile": {"added": 3}}) == []


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    with claim_run_dir(tmp_path, {"method": "score"}):
        with pytest.raises(RunDirError, match="in use by another run"):
            with claim_run_dir(tmp_path, {"method": "score"}):
                pass
    with claim_run_dir(tmp_path, {"method": "score"}):  # released afterwards
        pass


@pytest.mark.parametrize("field,value", [("n_eval", 0), ("steps", -3), ("alpha", float("nan")),
                                         ("beta1", float("inf")), ("lr", 0.0), ("samples_per_problem", 1)])
def test_profiles_refuse_unusable_numbers(field, value):
    with pytest.raises(ValueError, match=field):
        get_profile("smoke", **{field: value})


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "scoreutils", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args,says", [
    (["train", "--method", "score", "--steps", "-3", "--out", "X"], "--steps: must be at least 0"),
    (["train", "--method", "score", "--alpha", "nan", "--out", "X"], "--alpha: must be a finite number"),
    (["train", "--method", "score", "--lr", "abc", "--out", "X"], "'abc' is not a number"),
    (["train", "--method", "nope", "--out", "X"], "invalid choice: 'nope'"),
    (["eval", "--n", "0", "--out", "X.json"], "--n: must be at least 1"),
    (["eval", "--profile", "huge", "--out", "X.json"], "unknown profile 'huge'"),
    (["eval", "--profile", "smoke", "--model", "no-such-model", "--out", "X.json"], "is not 'bundled'"),
    (["eval", "--profile", "smoke", "--model", "org/not-cached", "--out", "X.json"], "needs the Hugging Face Hub"),
    (["table", "missing.json"], "missing.json does not exist"),
])
def test_user_errors_are_one_line(args, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_an_unwritable_out_fails_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = _cli("eval", "--profile", "smoke", "--model", "tiny", "--out", str(blocker / "sub" / "eval.json"), timeout=60)
    assert proc.returncode == 2 and "cannot write" in proc.stderr and "eval base" not in proc.stderr, proc.stderr


def test_debug_shows_the_traceback(tmp_path):
    proc = _cli("--debug", "eval", "--profile", "huge", "--out", str(tmp_path / "x.json"))
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "unknown profile" in proc.stderr
