"""Runs that never lie: resume after a crash, re-runs of finished runs, reused or shared folders, corrupt
checkpoints, non-finite losses, torn logs, full disks, read-only folders, devices and FIFOs as outputs, and a
command line that answers bad input in one line. Tiny model."""
import errno
import io
import json
import os
import re
import stat
import subprocess
import sys
import warnings

import pytest
import torch

from scoreutils import get_profile, load_policy, load_task, losses
from scoreutils.train import checkpoints as ckpts
from scoreutils.train.checkpoints import RunDirError, claim_run_dir, config_difference
from scoreutils.metrics import METRIC_KEYS
from scoreutils.config import read_jsonl, write_json
from scoreutils.runs.pipeline import run_train
from scoreutils.runs.record import write_episodes
from scoreutils.train import JsonlLog, make_optimizer, train_rl, train_sft

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
    train_rl(_policy(), PROFILE.replace(save_every=1), PROBLEMS, tmp_path, stage="stage2", stop_after=3)
    state = tmp_path / "checkpoints" / "step_000003" / "state.pt"
    state.write_bytes(state.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="step_000003.*unreadable"):
        rows = train_rl(_policy(), PROFILE.replace(save_every=1), PROBLEMS, tmp_path, stage="stage2")
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
    from scoreutils.train.sft import SFT_DATASETS

    traces = sample_episodes(policy, PROBLEMS[:2], max_new_tokens=4, temperature=1.0, samples_per_problem=2,
                             progress=False, grade=False)
    for i, e in enumerate(traces):
        e.r1, e.r2, e.truncated1, e.truncated2 = float(i % 2), 1.0, False, False
    return SFT_DATASETS["pair_sft"](policy.tokenizer, traces, seed=0)


def test_a_finished_sft_run_is_not_trained_again(tmp_path):
    policy = _policy()
    pairs = _pairs(policy)
    first = train_sft(policy, PROFILE.replace(sft_epochs=2), pairs, tmp_path)
    assert first and _steps(tmp_path) == [r["step"] for r in first]
    again = _policy()
    assert train_sft(again, PROFILE.replace(sft_epochs=2), pairs, tmp_path) == []
    assert _steps(tmp_path) == [r["step"] for r in first]  # nothing appended
    assert all(torch.equal(a, b) for a, b in zip(policy.trainable_parameters(), again.trainable_parameters()))


def test_an_interrupted_sft_run_resumes_at_its_next_epoch(tmp_path):
    policy = _policy()
    pairs = _pairs(policy)
    one = train_sft(policy, PROFILE.replace(sft_epochs=1), pairs, tmp_path)
    rest = train_sft(_policy(), PROFILE.replace(sft_epochs=2), pairs, tmp_path)
    assert rest and all(r["epoch"] == 1 for r in rest) and rest[0]["step"] == one[-1]["step"] + 1
    full = train_sft(_policy(), PROFILE.replace(sft_epochs=2), pairs, tmp_path / "full")
    assert [r["loss"] for r in full[len(one):]] == pytest.approx([r["loss"] for r in rest], rel=1e-5)


def test_a_folder_refuses_another_configuration_unless_fresh(tmp_path):
    out = tmp_path / "run"
    first = run_train("stage1", PROFILE.replace(steps=1), out)
    assert not first.loaded and first.metrics["label"] == "stage1"
    with pytest.raises(RunDirError, match="method 'stage1' -> 'score'.*--fresh"):
        run_train("score", PROFILE.replace(steps=1), out)
    again = run_train("stage1", PROFILE.replace(steps=1), out)
    assert again.loaded and _steps(out) == [1]  # finished: loaded, not retrained
    score = run_train("score", PROFILE.replace(steps=1), out, fresh=True)
    assert not score.loaded and json.loads((out / "config.json").read_text())["method"] == "score"


def test_a_finished_sft_run_outlives_a_change_of_the_rl_recipe(tmp_path):
    """An SFT run reads no RL field (`config.unread_fields`): its folder, made under another RL recipe, loads."""
    out = tmp_path / "star"
    out.mkdir()
    earlier = PROFILE.replace(steps=PROFILE.steps + 5, stage1_steps=1, alpha=3.0)
    (out / "config.json").write_text(json.dumps({"method": "star", "profile": earlier.to_dict()}))
    (out / "metrics.json").write_text(json.dumps({"label": "star", "n": 0}))
    (out / "metrics.episodes.jsonl").write_text("")
    run = run_train("star", PROFILE, out)
    assert run.loaded and run.metrics["label"] == "star"
    with pytest.raises(RunDirError, match="sft_epochs"):  # a field SFT reads still refuses the folder
        run_train("star", PROFILE.replace(sft_epochs=PROFILE.sft_epochs + 1), out)


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
    (["train", "--method", "score", "--steps", "-3", "--out", "X"], "error: steps must be at least 0, not -3"),
    (["train", "--method", "score", "--alpha", "nan", "--out", "X"], "error: alpha must be a finite number >= 0, not nan"),
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


# ---------------------------------------------------------------- torn logs, full disks, read-only runs, FIFOs
TORN = '{"step": 3, "stage": "stage2", "loss": 0.12'  # a row cut short by a crash mid-write (no newline)


def test_a_torn_last_log_row_is_dropped_with_a_warning_and_an_inner_one_is_an_error(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1}\n{"step": 2}\n' + TORN)
    with pytest.warns(UserWarning, match=re.escape(f"{log}: line 3 (the last) is not valid JSON")):
        assert read_jsonl(log) == [{"step": 1}, {"step": 2}]
    log.write_text('{"step": 1}\n' + TORN + '\n{"step": 3}\n')
    with pytest.raises(ValueError, match=re.escape(f"{log}: line 2 is not valid JSON")):
        read_jsonl(log)


def test_a_run_whose_log_ends_in_a_torn_row_resumes(tmp_path):
    # killed while writing row 3: rows 1 and 2 and the checkpoint of step 2 are intact
    train_rl(_policy(), PROFILE, PROBLEMS, tmp_path, stage="stage2", stop_after=2)
    with open(tmp_path / "log.jsonl", "a") as f:
        f.write(TORN)
    with pytest.warns(UserWarning, match=r"log\.jsonl: line 3 \(the last\)"):
        rows = train_rl(_policy(), PROFILE, PROBLEMS, tmp_path, stage="stage2")
    assert [r["step"] for r in rows] == [3, 4]
    assert _steps(tmp_path) == [1, 2, 3, 4]


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_keeps_the_last_one(tmp_path, monkeypatch):
    policy = _policy()
    opt, sched = make_optimizer(policy, 1e-3)
    ckpts.save_checkpoint(tmp_path, 1, policy, opt, sched)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpts.torch, "save", disk_full)
    with pytest.raises(RunDirError) as err:
        ckpts.save_checkpoint(tmp_path, 2, policy, opt, sched)
    message = str(err.value)
    assert "\n" not in message and "disk is full" in message and str(tmp_path / "checkpoints") in message
    assert "MiB free" in message or "unknown free" in message
    assert "last intact checkpoint (step_000001) is kept" in message
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step_000001"]  # no half-written copy
    assert ckpts.load_checkpoint(ckpts.latest_checkpoint(tmp_path), _policy(), opt, sched)["step"] == 1


def test_a_finished_run_in_a_read_only_folder_loads(tmp_path, monkeypatch, capsys):
    """A finished run loads without writing anything (no lock, no config.json, no probe of --out), so it
    loads from a read-only folder. The folder is made read-only with os.chmod, but the tests run as root,
    for whom that blocks no write: so every way to write (open for writing, mkdir, rename, delete, the
    run folder's lock) is made to raise PermissionError as well, and the run must load all the same."""
    from scoreutils.__main__ import main
    from scoreutils.runs.pipeline import load_run

    out = tmp_path / "run"
    profile = get_profile("smoke", model="tiny", steps=1)  # what `train --profile smoke --model tiny --steps 1` runs
    first = run_train("stage1", profile, out)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "read-only folder (test)", str(args[0]) if args else "")

    def read_only(real_open):
        def opener(file, mode="r", *args, **kwargs):
            if isinstance(mode, str) and set(mode) & set("wax+"):
                denied(file)
            return real_open(file, mode, *args, **kwargs)
        return opener

    def mkdir(path, *args, **kwargs):
        raise FileExistsError(errno.EEXIST, "exists", str(path)) if os.path.exists(path) else denied(path)

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    os.chmod(out, 0o555)
    try:
        with monkeypatch.context() as m:
            m.setattr("builtins.open", read_only(open))
            m.setattr(io, "open", read_only(io.open))
            for name in ("replace", "rename", "remove", "unlink", "rmdir"):
                m.setattr(os, name, denied)
            m.setattr(os, "mkdir", mkdir)
            m.setattr(ckpts, "claim_run_dir", denied)
            m.setattr(ckpts.fcntl, "flock", denied)
            loaded = load_run(out, "stage1")
            capsys.readouterr()
            main(["train", "--profile", "smoke", "--model", "tiny", "--method", "stage1", "--steps", "1",
                  "--out", str(out)])
    finally:
        os.chmod(out, 0o755)
    assert loaded.loaded and len(loaded.log) == 1 and len(loaded.episodes) == first.metrics["n"]
    assert {k: loaded.metrics[k] for k in METRIC_KEYS} == {k: first.metrics[k] for k in METRIC_KEYS}
    assert "loaded (already finished)" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # nothing was touched


def test_writers_refuse_a_fifo_and_leave_it(tmp_path):
    """Every writer of results refuses a target that is neither a regular file nor a folder (a device such as
    /dev/null, a FIFO, a socket) in one line naming it, and leaves it as it was. A FIFO stands for them all."""
    def fifo(name):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        return path

    targets = {"json": fifo("out.json"), "episodes": fifo("out.episodes.jsonl"), "log": fifo("run/log.jsonl"),
               "config": fifo("claimed/config.json"), "checkpoint": fifo("ckpt/checkpoints/step_000001")}
    writes = [lambda: write_json(targets["json"], {"n": 1}), lambda: write_episodes(targets["episodes"], []),
              lambda: JsonlLog(targets["log"]), lambda: ckpts.trim_log(targets["log"], 0),
              lambda: claim_run_dir(targets["config"].parent, {"method": "score"}).__enter__(),
              lambda: ckpts.save_checkpoint(tmp_path / "ckpt", 1, None, None, None)]
    for write in writes:
        with pytest.raises(ValueError, match="is a FIFO .named pipe., not a regular file or folder") as err:
            write()
        assert "\n" not in str(err.value) and any(str(p) in str(err.value) for p in targets.values())
    assert all(stat.S_ISFIFO(os.stat(p).st_mode) for p in targets.values())


def test_runs_started_side_by_side_convert_the_bundled_model_once(tmp_path, monkeypatch):
    """Two runs started at once on a fresh machine: one converts the GGUF, the other waits and loads the
    result (before the lock, the second replaced the first's folder while the first was loading from it)."""
    import threading
    import time

    from scoreutils import models

    monkeypatch.setenv("SCORE_CACHE", str(tmp_path))
    calls = []

    def slow_convert(target):
        calls.append(target)
        time.sleep(0.3)
        target.mkdir()
        (target / "model.safetensors").write_text("weights")
        (target / "tokenizer.json").write_text("{}")

    monkeypatch.setattr(models, "_convert_bundled", slow_convert)
    got = []
    threads = [threading.Thread(target=lambda: got.append(models.bundled_model_dir())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and got == [tmp_path / models.BUNDLED_NAME] * 2
