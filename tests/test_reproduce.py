"""tools/reproduce.py (`make reproduce`) on the smoke profile and the tiny model, and the parallel-sampling
control it runs (`pipeline.parallel_control`)."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from scoreutils.train.checkpoints import CONFIG
from scoreutils.config import get_profile
from scoreutils.metrics import episode_metrics
from scoreutils.runs.pipeline import control_episodes, parallel_control, run_control
from scoreutils.rewards import binary_reward
from scoreutils.rollout import sample_episodes

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("reproduce", ROOT / "tools" / "reproduce.py")
reproduce = importlib.util.module_from_spec(_spec)
sys.modules["reproduce"] = reproduce  # its dataclass looks its module up there
_spec.loader.exec_module(reproduce)

SMOKE = ["--profile", "smoke", "--model", "tiny"]


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return [*SMOKE, "--out", str(tmp_path / "repro"), "--log", str(tmp_path / "logs" / "reproduce.log"), *extra]


def test_the_table_has_every_method_and_the_controls():
    assert sorted(reproduce.RUNS) == sorted(["base", "control", "star", "star_plus", "pair_sft", "pair_sft_plus",
                                             "score", "naive_rl", "stage2", "stage1", "score-alpha0", "score-control",
                                             "pair_sft-on_train", "pair_sft_plus-on_train", "star_plus-on_train", "self_refine",
                                             "base-on_train", "score-scaling", "base-scaling", "score-curve",
                                             "naive_rl-curve"])
    assert set(reproduce.FIRST) <= set(reproduce.RUNS)
    assert reproduce.RUNS["score-alpha0"] == ("train", "score", {"alpha": 0.0})
    assert reproduce.SEEDS == (0, 1, 2) and reproduce.MAX_JOBS == 2


def test_jobs_run_in_the_repro_profile_with_their_seed_and_changes():
    profile = reproduce.job_profile(reproduce.Job("score-alpha0", 2), "repro", None)
    assert profile == get_profile("repro", seed=2, alpha=0.0)
    assert profile.turn1_format == "brief-boxed" and profile.n_eval >= 500
    config = reproduce.job_config(reproduce.Job("control", 1), "repro", "tiny")
    assert config["method"] == "control" and config["profile"]["model"] == "tiny"
    assert config["profile"]["seed"] == 1


def test_dry_run_lists_every_run_and_runs_nothing(tmp_path, capsys):
    assert reproduce.main(_args(tmp_path, "--dry-run")) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    runs = [line.split()[0] for line in lines[:-1]]
    first = [name for name in reproduce.RUNS if name in reproduce.FIRST]
    rest = [name for name in reproduce.RUNS if name not in reproduce.FIRST]
    assert runs == [f"{name}/seed{k}" for k in (0, 1, 2) for name in first
                    if name not in reproduce.ONE_SEED or k == 0] + [
        f"{name}/seed{k}" for k in (0, 1, 2) for name in rest if name not in reproduce.ONE_SEED or k == 0] + [
        f"{name}/seed{k}" for k in (3, 4) for name in reproduce.RUNS if k in reproduce.MORE_SEEDS.get(name, ())]
    assert runs[-10:] == [f"{name}/seed{k}" for k in (3, 4) for name in ("score", "naive_rl", "stage1", "score-curve",
                                                                        "naive_rl-curve")]  # five seeds for the arms
    # SCoRe's target rests on, after all the rest
    assert "base/seed0" in runs and "base/seed1" not in runs  # greedy and untrained: one seed is every seed
    assert runs.index("score/seed0") < runs.index("stage1/seed0") and runs.index("score-alpha0/seed2") < runs.index(
        "stage2/seed0")  # Stage I shares score's first steps; SCoRe's own runs come first for every seed
    states = {line.split()[0]: line.split(None, 1)[1] for line in lines[:-1]}
    assert all(state == "to run" for run, state in states.items() if reproduce.needs(reproduce.Job(
        run.split("/")[0], int(run.split("seed")[-1]))) is None)
    assert states["pair_sft-on_train/seed2"] == "waits for pair_sft/seed2"
    assert states["score-control/seed1"] == "waits for score/seed1"
    assert states["score-scaling/seed2"] == "waits for score/seed2" and "base-scaling/seed1" not in states
    assert states["naive_rl-curve/seed4"] == "waits for naive_rl/seed4"
    assert lines[-1].startswith(f"0 done, {len(runs)} to run, 0 blocked") and len(runs) == 65
    assert not (tmp_path / "repro").exists() and not (tmp_path / "logs").exists()


def test_named_seeds_leave_out_the_extra_seeds(tmp_path, capsys):
    assert reproduce.main(_args(tmp_path, "--dry-run", "--only", "score", "star", "--seeds", "0", "3")) == 0
    runs = [line.split()[0] for line in capsys.readouterr().out.strip().splitlines()[:-1]]
    assert runs == ["score/seed0", "score/seed3", "star/seed0", "star/seed3"]
    assert [j.seed for j in reproduce.job_order(["star", "score"], [0], more=True)] == [0, 0, 3, 4]


def test_a_change_of_the_rl_recipe_leaves_sft_runs_and_greedy_evaluations_done(tmp_path):
    out = tmp_path / "repro"
    for job in (reproduce.Job("star", 0), reproduce.Job("base", 0), reproduce.Job("score", 0)):
        job.folder(out).mkdir(parents=True)
        config = reproduce.job_config(job, "smoke", "tiny")
        config["profile"].update(steps=99, stage1_steps=7, alpha=3.0)  # an earlier RL recipe
        (job.folder(out) / CONFIG).write_text(json.dumps(config))
    for name in ("star", "base"):  # they read no RL field: their recorded values are kept
        job = reproduce.Job(name, 0)
        assert reproduce.job_config(job, "smoke", "tiny", out=out)["profile"]["steps"] == 99
        assert not reproduce.status(job, out, "smoke", "tiny").startswith("other configuration")
    score = reproduce.Job("score", 0)
    assert reproduce.job_config(score, "smoke", "tiny", out=out)["profile"]["steps"] == get_profile("smoke").steps
    assert reproduce.status(score, out, "smoke", "tiny").startswith("other configuration")


def test_status_of_partial_and_foreign_runs(tmp_path, capsys):
    out = tmp_path / "repro"
    job = reproduce.Job("score", 1)
    folder = job.folder(out)
    (folder / "checkpoints" / "step_000003").mkdir(parents=True)
    (folder / CONFIG).write_text(json.dumps(reproduce.job_config(job, "smoke", "tiny")))
    assert reproduce.status(job, out, "smoke", "tiny") == "resumes after step 3"
    other = reproduce.Job("naive_rl", 0)
    other.folder(out).mkdir(parents=True)
    foreign = reproduce.job_config(other, "smoke", "tiny")
    foreign["profile"]["lr"] = 1.0
    (other.folder(out) / CONFIG).write_text(json.dumps(foreign))
    assert reproduce.status(other, out, "smoke", "tiny").startswith("other configuration (profile.lr)")
    # A blocked run is reported, never overwritten, and makes the exit status 1.
    assert reproduce.main(_args(tmp_path, "--only", "naive_rl", "--seeds", "0")) == 1
    assert json.loads((other.folder(out) / CONFIG).read_text())["profile"]["lr"] == 1.0
    assert "skip naive_rl/seed0: other configuration" in (tmp_path / "logs" / "reproduce.log").read_text()


def test_more_than_two_jobs_is_refused(tmp_path):
    with pytest.raises(SystemExit) as info:
        reproduce.main(_args(tmp_path, "--jobs", "3", "--dry-run"))
    assert info.value.code == 2


def test_two_tiny_runs_in_parallel_then_nothing_to_do(tmp_path, capsys):
    args = _args(tmp_path, "--only", "base", "star", "--seeds", "0", "--poll", "0.2")
    assert reproduce.main(args) == 0
    out, log = tmp_path / "repro", tmp_path / "logs" / "reproduce.log"
    for name in ("base", "star"):
        metrics = json.loads((out / name / "seed0" / "metrics.json").read_text())
        assert metrics["n"] == get_profile("smoke").n_eval and metrics["profile"]["model"] == "tiny"
        assert metrics["profile"]["seed"] == 0
        assert (tmp_path / "logs" / "reproduce" / f"{name}-seed0.log").exists()
    events = [line.split()[2] for line in log.read_text().splitlines()]
    assert events[:3] == ["reproduce:", "start", "start"] and events.count("done") == 2  # both at once
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"base", "star"} and summary["star"]["seeds"] == [0]
    capsys.readouterr()
    assert reproduce.main(args + ["--dry-run"]) == 0
    assert [line.split() for line in capsys.readouterr().out.splitlines()[:2]] == [["base/seed0", "done"],
                                                                                    ["star/seed0", "done"]]
    before = (out / "star" / "seed0" / "metrics.json").stat().st_mtime_ns
    assert reproduce.main(args) == 0  # finished runs are skipped, not redone
    assert "0 runs to make, 2 done" in log.read_text().splitlines()[-2]
    assert (out / "star" / "seed0" / "metrics.json").stat().st_mtime_ns == before
    assert reproduce.main(_args(tmp_path, "--only", "star", "--seeds", "0", "--poll", "0.2")) == 0
    assert set(json.loads((out / "summary.json").read_text())) == {"base", "star"}  # --only keeps the others


def test_a_held_out_curve_evaluates_the_checkpoints_of_the_trained_run(tmp_path, capsys):
    from scoreutils.report.verdicts import load_curves, load_results

    args = _args(tmp_path, "--only", "base", "score", "score-curve", "--seeds", "0", "--jobs", "1", "--poll", "0.2")
    assert reproduce.main(args) == 0
    out = tmp_path / "repro"
    folder = out / "score-curve" / "seed0"
    point = json.loads((folder / "step001.json").read_text())
    assert point["kind"] == "checkpoint" and point["step"] == 1 and point["n"] == get_profile("smoke").n_eval
    curve = json.loads((folder / "metrics.json").read_text())
    final = json.loads((out / "score" / "seed0" / "metrics.json").read_text())
    assert curve["kind"] == "curve" and curve["steps"] == [1, 2] and curve["points"]["2"]["delta"] == final["delta"]
    (run,) = load_curves(out, "smoke")["score"]
    assert run["steps"] == [0, 1, 2] and run["points"][1]["acc_t1"] == point["acc_t1"]
    base = json.loads((out / "base" / "seed0" / "metrics.json").read_text())
    assert run["points"][0]["delta"] == base["delta"]  # step 0: the untrained model on the same problems
    assert sorted(load_results(out, "smoke")) == ["base[model=tiny]", "score[model=tiny]"]  # a curve's points are
    # no arm of their own
    assert reproduce.summary(out)["score-curve"]["delta_per_step"][1]["per_seed"] == [point["delta"]]
    (folder / "metrics.json").unlink()  # interrupted before its summary: the finished point is not redone
    before = (folder / "step001.json").stat().st_mtime_ns
    assert reproduce.main(args) == 0
    assert (folder / "step001.json").stat().st_mtime_ns == before and (folder / "metrics.json").exists()
    # A curve can start while its run trains: the points whose checkpoints exist, no summary until the run ends.
    from scoreutils.runs.pipeline import curve_steps, run_curve

    assert curve_steps(96, 4) == [24, 48, 72] and curve_steps(2, 1) == [1] and curve_steps(10, 4) == [4]  # 2, 5, 7 -> 0, 4, 4
    final = out / "score" / "seed0" / "metrics.json"
    kept = final.read_text()
    final.unlink()
    early = tmp_path / "early"
    assert run_curve(reproduce.job_profile(reproduce.Job("score-curve", 0), "smoke", "tiny"), final.parent, early,
                     "score") is None
    assert (early / "step001.json").exists() and not (early / "metrics.json").exists()
    final.write_text(kept)
    done = run_curve(reproduce.job_profile(reproduce.Job("score-curve", 0), "smoke", "tiny"), final.parent, early,
                     "score")
    assert done["steps"] == [1, 2] and (early / "metrics.json").exists()
    capsys.readouterr()
    assert reproduce.main(args + ["--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["score-curve/seed0", "done"]


# ---------------------------------------------------------------- the parallel-sampling control
def test_parallel_control_pairs_two_independent_first_attempts(tiny_policy, one_thread):
    profile = get_profile("smoke", temperature=1.0, n_eval=3, max_new_tokens=6)
    parallel, sequential = parallel_control(tiny_policy, profile)
    both = sample_episodes(tiny_policy, [e.problem for e in sequential], max_new_tokens=6, temperature=1.0,
                           samples_per_problem=2, batch_size=profile.batch_size, seed=profile.seed, progress=False)
    assert len(parallel) == len(sequential) == 3
    for k, (par, seq) in enumerate(zip(parallel, sequential)):
        first, second = both[2 * k], both[2 * k + 1]
        assert (par.y1, par.y2, par.y2_ids, par.p_ids) == (first.y1, second.y1, second.y1_ids, [])
        assert par.r2 == binary_reward(par.problem, par.y2) and par.extra == {"control": "parallel"}
        assert (seq.y1, seq.y2) == (first.y1, first.y2) and seq.p_ids  # the same sample's own turn 2
    assert any(p.y1 != p.y2 for p in parallel)  # independent draws, not a copy


def test_run_control_writes_like_an_evaluation(tiny_policy, one_thread, tmp_path):
    profile = get_profile("smoke", n_eval=2, max_new_tokens=4)
    run = run_control(profile, tmp_path / "metrics.json", policy=tiny_policy)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["n"] == 2 and saved["temperature"] == profile.temperature and "acc_t1" in saved["sequential"]
    assert len((tmp_path / "metrics.episodes.jsonl").read_text().splitlines()) == 2
    assert run.metrics["label"] == "parallel control"
    parallel, sequential = control_episodes(tmp_path / "metrics.json")
    assert [e.y1 for e in parallel] == [e.y1 for e in sequential]  # the same first samples
    assert all(e.p_ids for e in sequential) and not any(e.p_ids for e in parallel)
    assert episode_metrics(sequential)["acc_t2"] == saved["sequential"]["acc_t2"]
    assert control_episodes(tmp_path / "other.json") is None


def test_the_score_control_samples_the_trained_model_after_it_is_trained(tmp_path):
    args = _args(tmp_path, "--only", "score-control", "score-scaling", "score", "--seeds", "0", "--poll", "0.2")
    assert reproduce.main(args) == 0  # listed first, it still waits for the run it samples
    out = tmp_path / "repro"
    log = (tmp_path / "logs" / "reproduce.log").read_text()
    assert log.index("start score/seed0") < log.index("start score-control/seed0")
    started = next(line for line in log.splitlines() if "start score-control/seed0" in line)[:19]
    trained = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((out / "score" / "seed0" / "metrics.json").stat().st_mtime))
    assert trained <= started  # it waited for the trained model's evaluation, written last
    assert json.loads((out / "score-control" / "seed0" / CONFIG).read_text())["method"] == "score-control"
    parallel, sequential = control_episodes(out / "score-control" / "seed0" / "metrics.json")
    assert len(parallel) == len(sequential) == get_profile("smoke").n_eval
    assert log.index("start score/seed0") < log.index("start score-scaling/seed0")  # so does the scaling run
    scaling = json.loads((out / "score-scaling" / "seed0" / "metrics.json").read_text())
    assert scaling["kind"] == "scaling" and scaling["budgets"] == [2, 4, 8] and scaling["label"] == "score (scaling)"
    assert len((out / "score-scaling" / "seed0" / "metrics.answers.jsonl").read_text().splitlines()) == \
        get_profile("smoke").n_eval
    assert json.loads((out / "score-scaling" / "seed0" / CONFIG).read_text())["method"] == "score-scaling"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["score-scaling"]["curve_per_seed"] == {"0": scaling["curve"]} and "delta" in summary["score"]
    job = reproduce.Job("score-control", 0)
    assert reproduce.status(job, out, "smoke", "tiny") == "done"
    for ckpt in (out / "score" / "seed0" / "checkpoints").iterdir():  # as on a fresh clone
        shutil.rmtree(ckpt)
    (out / "score-control" / "seed0" / "metrics.json").unlink()
    assert reproduce.status(job, out, "smoke", "tiny").startswith("needs the checkpoint of score/seed0")


def test_stage1_and_score_alpha0_start_from_score_after_its_stage1(tmp_path):
    args = _args(tmp_path, "--only", "score", "stage1", "score-alpha0", "--seeds", "0", "--jobs", "1", "--poll", "0.2")
    assert reproduce.main(args) == 0
    out = tmp_path / "repro"
    score_log = [json.loads(line) for line in (out / "score" / "seed0" / "log.jsonl").open()]
    for name in ("stage1", "score-alpha0"):
        folder = out / name / "seed0"
        assert json.loads((folder / "shared_prefix.json").read_text()) == {"from": "../../score/seed0", "steps": 1}
        log = [json.loads(line) for line in (folder / "log.jsonl").open()]
        assert [r["step"] for r in log] == [1, 2] and log[0] == score_log[0]
        assert log[1]["stage"] == ("stage1" if name == "stage1" else "stage2")
    assert json.loads((out / "score-alpha0" / "seed0" / CONFIG).read_text())["profile"]["alpha"] == 0.0


def test_sft_runs_of_a_seed_share_the_traces_they_would_have_sampled(tmp_path):
    args = _args(tmp_path, "--only", "star", "pair_sft", "--seeds", "0", "--jobs", "1", "--poll", "0.2")
    assert reproduce.main(args) == 0
    out = tmp_path / "repro"
    shared = (out / "pair_sft" / "seed0" / "traces.jsonl").read_text()
    assert shared == (out / "star" / "seed0" / "traces.jsonl").read_text()
    assert "SFT traces taken from star/seed0" in (tmp_path / "logs" / "reproduce" / "pair_sft-seed0.log").read_text()
    # alone, pair_sft samples exactly those traces itself
    alone = _args(tmp_path / "alone", "--only", "pair_sft", "--seeds", "0", "--poll", "0.2")
    assert reproduce.main(alone) == 0
    assert (tmp_path / "alone" / "repro" / "pair_sft" / "seed0" / "traces.jsonl").read_text() == shared
    assert json.loads((tmp_path / "alone" / "repro" / "pair_sft" / "seed0" / "metrics.json").read_text())["acc_t2"] == \
        json.loads((out / "pair_sft" / "seed0" / "metrics.json").read_text())["acc_t2"]
    # nothing is taken from a sibling of another seed, or when the run has its own
    assert reproduce.share_traces(reproduce.Job("star_plus", 1), out, "smoke", "tiny") is None
    assert reproduce.share_traces(reproduce.Job("pair_sft", 0), out, "smoke", "tiny") is None
    assert reproduce.share_traces(reproduce.Job("star_plus", 0), out, "smoke", "tiny") == reproduce.Job("star", 0)


def test_an_evaluation_stays_valid_when_only_training_settings_change(tmp_path):
    job = reproduce.Job("base", 0)
    folder = job.folder(tmp_path)
    folder.mkdir(parents=True)
    recorded = reproduce.job_config(job, "repro", "tiny")
    recorded["profile"]["sft_problems"] = 7  # made before a training-only setting changed
    (folder / CONFIG).write_text(json.dumps(recorded))
    assert reproduce.job_config(job, "repro", "tiny", tmp_path)["profile"]["sft_problems"] == 7
    assert reproduce.status(job, tmp_path, "repro", "tiny") == "to run"
    recorded["profile"]["max_new_tokens"] = 3  # a setting the evaluation uses: another configuration
    (folder / CONFIG).write_text(json.dumps(recorded))
    assert reproduce.status(job, tmp_path, "repro", "tiny").startswith("other configuration")
    refine = reproduce.job_config(reproduce.Job("self_refine", 0), "repro", "tiny")
    assert refine["method"] == "eval" and refine["instruction"] == "self_refine"  # not the base run's config
    assert reproduce.job_config(reproduce.Job("base-on_train", 0), "repro", "tiny")["method"] == "base-on_train"
    assert reproduce.needs(reproduce.Job("base-on_train", 0)) is None
    on_train = reproduce.job_config(reproduce.Job("pair_sft-on_train", 1), "repro", "tiny")
    assert on_train["method"] == "pair_sft-on_train"
    assert reproduce.needs(reproduce.Job("pair_sft-on_train", 1)) == reproduce.Job("pair_sft", 1)


def test_self_refine_and_the_base_model_on_training_problems_land_as_the_lessons_read_them(tmp_path):
    from scoreutils.report.arms import load_results, load_train_evaluations

    assert reproduce.main(_args(tmp_path, "--only", "self_refine", "base-on_train", "--seeds", "0", "1",
                                "--poll", "0.2")) == 0
    out = tmp_path / "repro"
    assert not (out / "self_refine" / "seed1").exists()  # greedy and untrained: one seed
    refine = json.loads((out / "self_refine" / "seed0" / "metrics.json").read_text())
    assert refine["instruction"] and refine["label"] == "Self-Refine"
    assert list(load_results(out, "smoke")) == ["Self-Refine[model=tiny]"]  # lesson 01's arm, here on the tiny model
    on_train = load_train_evaluations(out, "smoke")
    assert list(on_train) == ["base"] and on_train["base"][0].metrics["split"] == "train"  # lesson 03's
