"""`scoreutils.runs`: a finished run is loaded, not redone; a run of another configuration is never
overwritten; smoke runs never touch real results. Tiny model, smoke sizes."""
import json

import pytest

from scoreutils import get_profile
from scoreutils import runs
from scoreutils.metrics import METRIC_KEYS
from scoreutils.runs import load_or_eval, load_or_train, results_dir


def _same(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in METRIC_KEYS)


@pytest.fixture
def profile(tmp_path, monkeypatch):
    """The smoke sizes with the tiny model, under a profile name that uses $SCORE_RESULTS."""
    monkeypatch.setenv("SCORE_RESULTS", str(tmp_path / "results"))
    return get_profile("smoke").replace(model="tiny", name="test", steps=1, n_eval=4)


def test_smoke_profile_uses_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SCORE_RESULTS", str(tmp_path / "real"))
    assert results_dir(get_profile("smoke")) != tmp_path / "real"
    assert results_dir(get_profile("cpu")) == tmp_path / "real"


def test_eval_is_loaded_the_second_time_and_other_settings_get_their_own_file(profile, one_thread):
    first = load_or_eval(profile, "base")
    assert not first.loaded and first.path.exists() and len(first.episodes) == 4
    again = load_or_eval(profile, "base", policy=lambda: pytest.fail("a loaded evaluation must not build a model"))
    assert again.loaded and _same(again.metrics, first.metrics)
    other = load_or_eval(profile, "base", instruction="Try again.")
    assert not other.loaded and other.path != first.path
    assert json.loads(first.path.read_text())["instruction"] is None  # the first file is kept as it was
    assert load_or_eval(profile, "base", instruction="Try again.").loaded


def test_train_is_loaded_the_second_time_and_a_changed_profile_trains_apart(profile, one_thread, monkeypatch):
    first = load_or_train("naive_rl", profile)
    assert not first.loaded and len(first.log) == 1 and first.r1 == [e.r1 for e in first.episodes]
    with monkeypatch.context() as m:
        m.setattr("scoreutils.runs.store.run_train", lambda *a, **k: pytest.fail("a finished run must be loaded"))
        again = load_or_train("naive_rl", profile)
    assert again.loaded and _same(again.metrics, first.metrics) and len(again.log) == len(first.log)
    changed = load_or_train("naive_rl", profile.replace(alpha=0.0))
    assert not changed.loaded and changed.path != first.path and changed.path.name.startswith("naive_rl-")
    assert json.loads((first.path / "config.json").read_text())["profile"]["alpha"] == profile.alpha
    policy = runs.trained_policy(first, profile)
    assert policy.has_adapter


def test_scaling_curves_are_saved_per_model_and_resume_after_a_crash(tmp_path, tiny_policy):
    from scoreutils import get_profile
    from scoreutils.runs import MissingRun, SCALING_SIZES, forbid_making, load_or_scale

    profile, path, made = get_profile("smoke"), tmp_path / "scaling.json", []

    def crash():
        raise KeyboardInterrupt  # the runtime disconnects while the second model samples

    def base():
        made.append("base")
        return tiny_policy

    with pytest.raises(KeyboardInterrupt):
        load_or_scale(profile, {"base": base, "SCoRe": crash}, path)
    saved = json.loads(path.read_text())
    assert list(saved["curves"]) == ["base"] and (saved["problems"], saved["samples"]) == SCALING_SIZES["smoke"]
    curves = load_or_scale(profile, {"base": base, "SCoRe": lambda: tiny_policy}, path)
    assert made == ["base"] and list(curves) == ["base", "SCoRe"]  # base was not sampled again
    assert [r["budget"] for r in curves["SCoRe"]] == [2, 4] and json.loads(path.read_text())["curves"] == curves
    forbid_making("TRAIN = False")  # a missing curve is named, not sampled (outside the smoke profile)
    with pytest.raises(MissingRun, match="the scaling curve of other"):
        load_or_scale(get_profile("cpu"), {"other": base}, tmp_path / "cpu_scaling.json")


def test_a_scaling_run_saves_each_chunk_and_resumes_to_the_same_votes(tmp_path, tiny_policy, one_thread, monkeypatch):
    from scoreutils.config import read_jsonl
    from scoreutils.metrics import voted_outcomes
    from scoreutils.runs import pipeline

    profile = get_profile("smoke").replace(model="tiny", n_eval=5, temperature=1.0, max_new_tokens=6)
    monkeypatch.setattr(pipeline, "SCALING_CHUNK", 2)
    whole = pipeline.run_scaling(profile, tmp_path / "whole" / "metrics.json", policy=tiny_policy, samples=4)
    assert whole["budgets"] == [2, 4] and whole["n"] == 5 and whole["kind"] == "scaling"
    records = read_jsonl(tmp_path / "whole" / "metrics.answers.jsonl")
    assert len(records) == 5 and all(len(r["answers1"]) == len(r["answers2"]) == 4 for r in records)
    for row in whole["curve"]:  # the curve is the votes of the saved answers
        votes = voted_outcomes(records, row["budget"]).values()
        assert row["parallel"] == sum(p for p, _ in votes) / 5 and row["sequential"] == sum(s for _, s in votes) / 5
    assert not (tmp_path / "whole" / "metrics.answers.partial.jsonl").exists()

    from scoreutils import rollout
    sample, calls = rollout.sample_episodes, []

    def crash_on_the_second_chunk(*args, **kwargs):
        calls.append(kwargs["seed"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the runtime disconnects
        return sample(*args, **kwargs)

    monkeypatch.setattr(rollout, "sample_episodes", crash_on_the_second_chunk)
    out = tmp_path / "resumed" / "metrics.json"
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_scaling(profile, out, policy=tiny_policy, samples=4)
    assert len(read_jsonl(out.with_suffix(".answers.partial.jsonl"))) == 1 and not out.exists()
    monkeypatch.setattr(rollout, "sample_episodes", sample)
    resumed = pipeline.run_scaling(profile, out, policy=tiny_policy, samples=4)
    assert read_jsonl(out.with_suffix(".answers.jsonl")) == records and resumed["curve"] == whole["curve"]
    with pytest.raises(ValueError, match="at least 2 samples"):
        pipeline.run_scaling(profile, tmp_path / "one.json", policy=tiny_policy, samples=1)
