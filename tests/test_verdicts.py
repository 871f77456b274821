"""Tests for scoreutils.verdicts: each rule's three verdicts and their boundaries on made-up results, seed
pairing and pooling, the arm names and the loader on a made-up results folder."""
from __future__ import annotations

import json

import pytest

from scoreutils import verdicts as V
from scoreutils.config import get_profile
from scoreutils.rollout import Episode
from scoreutils.tasks import Problem

R, N, I = V.REPRODUCED, V.NOT_REPRODUCED, V.INCONCLUSIVE
SAME, CHANGED = ("The final answer is 3.", "The final answer is 3."), ("The final answer is 3.", "The final answer is 4.")


def _ep(i, r1, r2, y1="The final answer is 3.", y2="The final answer is 3."):
    return Episode(Problem(f"p{i}", "q", "3", "test", "arithmetic"), [1], [2], [3], [4], y1, y2, False, False,
                   float(r1), float(r2))


def _run(arm, transitions, seed=0, texts=None, log=None):
    """A run whose problem i has the (r1, r2) transitions[i] and optionally the texts texts[i]."""
    eps = [_ep(i, r1, r2, *(texts[i] if texts else SAME)) for i, (r1, r2) in enumerate(transitions)]
    return V.RunResult(arm, seed, None, {}, eps, log or [])


def _mix(i2c=0, c2i=0, c2c=0, i2i=0):
    """Transitions in a fixed order: i->c, c->i, c->c, i->i."""
    return [(0, 1)] * i2c + [(1, 0)] * c2i + [(1, 1)] * c2c + [(0, 0)] * i2i


def _claim(cid):
    return next(c for c in V.CLAIMS if c.id == cid)


def _judge(cid, results, scaling=None):
    c = _claim(cid)
    out = c.check(c, results, scaling)
    assert set(out) == {"id", "claim", "verdict", "evidence", "rule"} and out["id"] == cid
    return out


# ---------------------------------------------------------------- the rule and its boundaries
@pytest.mark.parametrize("sign, ci, expect", [
    (">0", (0.001, 0.2), R), (">0", (0.0, 0.2), I), (">0", (-0.1, 0.1), I), (">0", (-0.2, 0.0), N),
    (">0", (0.0, 0.0), N),
    ("<0", (-0.2, -0.001), R), ("<0", (-0.2, 0.0), I), ("<0", (0.0, 0.2), N), ("<0", (0.0, 0.0), N),
    ("<=0", (-0.2, 0.0), R), ("<=0", (0.0, 0.0), R), ("<=0", (-0.1, 0.01), I), ("<=0", (0.0, 0.2), I),
    ("<=0", (0.001, 0.2), N)])
def test_interval_verdict_boundaries(sign, ci, expect):
    assert V.interval_verdict(ci, sign, n=V.MIN_N) == expect
    assert V.interval_verdict(ci, sign, n=V.MIN_N - 1) == I  # too few pairs
    with pytest.raises(ValueError, match="sign must be one of"):
        V.interval_verdict(ci, ">=0", 100)


def test_combine():
    assert V.combine([R, R]) == R
    assert V.combine([R, I]) == I
    assert V.combine([R, N, I]) == N
    assert V.combine([R], missing=["star"]) == I
    assert V.combine([N], missing=["star"]) == N  # a contradiction needs no more runs
    assert V.combine([]) == I


# ---------------------------------------------------------------- one claim at a time
def test_base_second_attempt_hurts():
    assert _judge("base_second_attempt_hurts", {"base": [_run("base", _mix(c2i=8, c2c=10, i2i=12))]})["verdict"] == R
    assert _judge("base_second_attempt_hurts", {"base": [_run("base", _mix(i2c=8, i2i=22))]})["verdict"] == N
    out = _judge("base_second_attempt_hurts", {"base": [_run("base", _mix(i2c=1, c2i=2, i2i=27))]})
    assert out["verdict"] == I and "n = 30 problems, 1 seed (0)" in out["evidence"]
    missing = _judge("base_second_attempt_hurts", {})
    assert missing["verdict"] == I and "missing" in missing["evidence"] and "base" in missing["evidence"]


def _sft(**override):
    arms = {a: [_run(a, _mix(c2c=10, i2i=10))] for a in V.SFT_ARMS}  # Δ = 0 exactly: [0, 0]
    arms.update({a: [_run(a, t)] for a, t in override.items()})
    return arms


def test_sft_no_positive_delta():
    assert _judge("sft_no_positive_delta", _sft())["verdict"] == R
    assert _judge("sft_no_positive_delta", _sft(star=_mix(c2i=6, i2i=14)))["verdict"] == R
    assert _judge("sft_no_positive_delta", _sft(pair_sft=_mix(i2c=8, i2i=12)))["verdict"] == N
    assert _judge("sft_no_positive_delta", _sft(pair_sft=_mix(i2c=2, c2i=1, i2i=17)))["verdict"] == I
    partial = _sft()
    del partial["star_plus"]
    out = _judge("sft_no_positive_delta", partial)
    assert out["verdict"] == I and "star_plus" in out["evidence"]


def _texts(n, pair):
    return [pair] * n


def test_sft_edits_shrink():
    base = [_run("base", _mix(i2i=20), texts=_texts(20, ("abcd", "wxyz")))]  # ratio 0.5 on every problem
    same = {a: [_run(a, _mix(i2i=20), texts=_texts(20, ("abcd", "abcd")))] for a in V.SFT_ARMS}  # ratio 0
    assert _judge("sft_edits_shrink", {"base": base, **same})["verdict"] == R
    grown = {**same, "pair_sft": [_run("pair_sft", _mix(i2i=20), texts=_texts(20, ("ab", "wxyz")))]}  # 4/6
    out = _judge("sft_edits_shrink", {"base": base, **grown})
    assert out["verdict"] == N and "edit-distance ratio(pair_sft) − edit-distance ratio(base)" in out["evidence"]
    noisy = [("abcd", "abcd")] * 4 + [("ab", "wxyz")] * 16  # 0 on 4 problems, 2/3 on 16: mean 0.53 vs 0.5
    mixed = {**same, "star": [_run("star", _mix(i2i=20), texts=noisy)]}
    assert _judge("sft_edits_shrink", {"base": base, **mixed})["verdict"] == I
    assert _judge("sft_edits_shrink", same)["verdict"] == I  # no base


def test_naive_rl_stops_changing():
    base = [_run("base", _mix(i2i=20), texts=[CHANGED] * 10 + [SAME] * 10)]
    assert _judge("naive_rl_stops_changing",
                  {"base": base, "naive_rl": [_run("naive_rl", _mix(i2i=20))]})["verdict"] == R
    assert _judge("naive_rl_stops_changing", {"base": base, "naive_rl": [
        _run("naive_rl", _mix(i2i=20), texts=[CHANGED] * 20)]})["verdict"] == N
    assert _judge("naive_rl_stops_changing", {"base": base, "naive_rl": [
        _run("naive_rl", _mix(i2i=20), texts=[CHANGED] * 8 + [SAME] * 12)]})["verdict"] == I


def test_stage1_turn1_stays():
    base = [_run("base", _mix(i2i=20))]  # answers 3 and 3
    moved2 = [_run("stage1", _mix(i2i=20), texts=[CHANGED] * 20,
                   log=[{"kl/attempt1": 0.01, "kl/attempt2": 0.5}] * 6)]
    out = _judge("stage1_turn1_stays", {"base": base, "stage1": moved2})
    assert out["verdict"] == R and "attempt 1 0.010, attempt 2 0.500" in out["evidence"]
    assert "Acc@t1(stage1) − Acc@t1(base)" in out["evidence"] and "not an estimate of KL" not in out["evidence"]
    tempered = [V.RunResult("stage1", 0, None, {"profile": {"temperature": 0.4}}, moved2[0].episodes,
                            [{"kl/attempt1": -0.9, "kl/attempt2": 0.2}] * 4)]
    out = _judge("stage1_turn1_stays", {"base": base, "stage1": tempered})
    assert "attempt 1 -0.900" in out["evidence"] and "sampled at T = 0.4, scored at T = 1: not an estimate of KL" \
        in out["evidence"]
    tempered[0].metrics["profile"]["score_at_temperature"] = True  # scored at the sampling temperature: a KL again
    assert "not an estimate" not in _judge("stage1_turn1_stays", {"base": base, "stage1": tempered})["evidence"]
    moved1 = [_run("stage1", _mix(i2i=20), texts=[("The final answer is 5.", "The final answer is 3.")] * 20)]
    assert _judge("stage1_turn1_stays", {"base": base, "stage1": moved1})["verdict"] == N
    unmoved = [_run("stage1", _mix(i2i=20))]  # nothing moved at all: turn 2 did not change
    assert _judge("stage1_turn1_stays", {"base": base, "stage1": unmoved})["verdict"] == N
    some = [_run("stage1", _mix(i2i=20), texts=[CHANGED] * 2 + [SAME] * 18)]
    assert _judge("stage1_turn1_stays", {"base": base, "stage1": some})["verdict"] == I
    assert _judge("stage1_turn1_stays", {"base": base})["verdict"] == I


def test_bonus_raises_delta_with_the_optional_stage2_pair():
    up = [_run("score", _mix(i2c=10, i2i=10))]
    flat = [_run("score[alpha=0]", _mix(i2i=20))]
    assert _judge("bonus_raises_delta", {"score": up, "score[alpha=0]": flat})["verdict"] == R
    assert _judge("bonus_raises_delta", {"score": flat, "score[alpha=0]": up})["verdict"] == N
    noise = [_run("score", _mix(i2c=2, c2i=1, i2i=17))]
    assert _judge("bonus_raises_delta", {"score": noise, "score[alpha=0]": flat})["verdict"] == I
    # the Stage II pair counts when both of its runs exist: here it contradicts
    both = {"score": up, "score[alpha=0]": flat, "stage2": flat, "stage2[alpha=0]": up}
    out = _judge("bonus_raises_delta", both)
    assert out["verdict"] == N and "Δ(stage2) − Δ(stage2[alpha=0])" in out["evidence"]
    assert _judge("bonus_raises_delta", {"score": up, "stage2": up, "stage2[alpha=0]": flat})["verdict"] == I


def test_score_delta_positive():
    assert _judge("score_delta_positive", {"score": [_run("score", _mix(i2c=6, i2i=14))]})["verdict"] == R
    assert _judge("score_delta_positive", {"score": [_run("score", _mix(c2c=5, i2i=15))]})["verdict"] == N
    assert _judge("score_delta_positive", {"score": [_run("score", _mix(i2c=2, i2i=18))]})["verdict"] == I


def test_score_beats_naive_rl_pooled_over_seeds():
    # per seed, score gains 2 problems on naive RL out of 20: one seed is inconclusive, three pooled are not
    def seeds(arm, t, k):
        return [_run(arm, t, seed=s) for s in range(k)]
    score, naive = _mix(i2c=2, i2i=18), _mix(i2i=20)
    one = _judge("score_beats_naive_rl", {"score": seeds("score", score, 1), "naive_rl": seeds("naive_rl", naive, 1)})
    assert one["verdict"] == I
    many = _judge("score_beats_naive_rl", {"score": seeds("score", score, 6), "naive_rl": seeds("naive_rl", naive, 6)})
    assert many["verdict"] == R and "n = 120 paired problems, 6 seeds (0, 1, 2, 3, 4, 5)" in many["evidence"]
    worse = _judge("score_beats_naive_rl", {"score": seeds("score", naive, 6), "naive_rl": seeds("naive_rl", score, 6)})
    assert worse["verdict"] == N
    assert _judge("score_beats_naive_rl", {"score": seeds("score", naive, 1),
                                           "naive_rl": seeds("naive_rl", _mix(i2c=10, i2i=10), 1)})["verdict"] == N


def scaling(par, seq, n=100):
    return {"problems": n, "samples": 8, "profile": {"name": "cpu", "seed": 0},
            "curves": {"SCoRe": [{"budget": b, "parallel": par, "sequential": seq} for b in (2, 4)]}}


def test_sequential_beats_parallel():
    assert _judge("sequential_beats_parallel", {}, scaling(0.2, 0.6))["verdict"] == R
    assert _judge("sequential_beats_parallel", {}, scaling(0.6, 0.2))["verdict"] == N
    assert _judge("sequential_beats_parallel", {}, scaling(0.3, 0.35))["verdict"] == I
    out = _judge("sequential_beats_parallel", {}, None)
    assert out["verdict"] == I and "scaling.json" in out["evidence"]


def test_verdicts_cover_every_claim_with_allowed_values():
    out = V.verdicts({}, None)
    assert [v["id"] for v in out] == [c.id for c in V.CLAIMS]
    assert len(out) >= 9 and all(v["verdict"] == I for v in out)  # nothing to judge


# ---------------------------------------------------------------- pairing, summaries, names, loading
def test_seed_pairs():
    a = [_run("a", [], seed=s) for s in (0, 1, 2)]
    b = [_run("b", [], seed=s) for s in (1, 2, 3)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(a, b)] == [(1, 1), (2, 2)]
    base = [_run("base", [], seed=0)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(a, base)] == [(0, 0), (1, 0), (2, 0)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(base, b)] == [(0, 1), (0, 2), (0, 3)]


def test_a_single_run_does_not_pair_with_seeds_that_drew_other_problems():
    """Each repro seed draws its own problems under the same ids: a lone run pairs only with its own seed."""
    def drawn(arm, seed, transitions):
        run = _run(arm, transitions, seed=seed)
        for e in run.episodes:
            e.problem = Problem(e.problem.id, f"question {e.problem.id} of seed {seed}", "3", "test", "arithmetic")
        return run

    base = [drawn("base", s, [(1, 1)] * 40) for s in (0, 1, 2)]
    stage1 = [drawn("stage1", 1, [(0, 1)] * 40)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(stage1, base)] == [(1, 1)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(base, stage1)] == [(1, 1)]
    d = V.compare({"stage1": stage1, "base": base}, "stage1", "base")
    assert d["n"] == 40 and d["seeds"] == [1] and d["diff"] == pytest.approx(1.0)


def test_summary_rows():
    runs = {"score": [_run("score", _mix(i2c=2, i2i=8), seed=0), _run("score", _mix(i2c=4, i2i=6), seed=1)]}
    (row,) = V.summary(runs)
    assert row["method"] == "score" and row["seeds"] == [0, 1] and row["n_eval"] == 10 and row["n"] == 20
    assert row["delta"] == pytest.approx(0.3) and row["delta_per_seed"] == pytest.approx([0.2, 0.4])
    assert row["delta_seed_mean"] == pytest.approx(0.3) and row["delta_seed_sd"] == pytest.approx(0.1414, abs=1e-4)
    assert row["delta_ci"][0] < 0.3 < row["delta_ci"][1]
    (single,) = V.summary({"base": [_run("base", _mix(i2i=5))]})
    assert single["delta_seed_sd"] is None


def test_arm_name():
    cpu = get_profile("cpu").to_dict()
    assert V.arm_name("score", cpu) == "score"
    assert V.arm_name("score", {**cpu, "seed": 3, "save_every": 1}) == "score"
    assert V.arm_name("score", {**cpu, "alpha": 0.0}) == "score[alpha=0]"
    old = {k: v for k, v in cpu.items() if k != "normalize_advantages"}  # a run made before the field existed
    assert V.arm_name("stage2", old) == "stage2"
    assert V.arm_name("stage2", {**cpu, "normalize_advantages": True}) == "stage2[normalize_advantages=True]"
    assert V.arm_name("base", {**cpu, "level": 1}, n=200) == "base[level=1,n=200]"
    assert V.arm_name("base", cpu, n=cpu["n_eval"]) == "base"


def _write(path, metrics, episodes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics))
    path.with_suffix(".episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in episodes))


def test_load_results(tmp_path):
    cpu = get_profile("cpu").to_dict()
    eps = _run("x", _mix(i2c=1, i2i=2)).episodes
    metrics = {"n": cpu["n_eval"], "label": "base", "split": "test"}
    _write(tmp_path / "demo" / "base.json", {**metrics, "profile": cpu}, eps)
    _write(tmp_path / "base_on_train.json", {**metrics, "split": "train", "profile": cpu}, eps)  # not held out
    gpu = get_profile("gpu").to_dict()
    _write(tmp_path / "other.json", {**metrics, "n": gpu["n_eval"], "profile": gpu}, eps)  # another profile
    for rel, alpha, seed in (("score_alpha0", 0.0, 0), ("score_alpha0/seed1", 0.0, 1), ("score/seed2", 10.0, 2)):
        prof = {**cpu, "alpha": alpha, "seed": seed}
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / "config.json").write_text(json.dumps({"method": "score", "profile": prof}))
        (tmp_path / rel / "log.jsonl").write_text(json.dumps({"step": 1, "kl/attempt1": 0.1}) + "\n")
        _write(tmp_path / rel / "metrics.json", {**metrics, "label": "score", "profile": prof}, eps)
    _write(tmp_path / "score" / "seed2" / "checkpoints" / "metrics.json", {**metrics, "profile": cpu}, eps)
    _write(tmp_path / "copy" / "metrics.json", {**metrics, "label": "score", "profile": {**cpu, "seed": 2}}, eps)
    (tmp_path / "scaling.json").write_text(json.dumps({"profile": cpu, "problems": 3, "curves": {}}))
    with pytest.warns(UserWarning, match="second run of score, seed 2"):
        res = V.load_results(tmp_path, "cpu")
    assert list(res) == ["base", "score", "score[alpha=0]"]
    assert [r.seed for r in res["score[alpha=0]"]] == [0, 1]
    assert res["score"][0].path == tmp_path / "copy" / "metrics.json"  # first in path order; the duplicate is left
    assert res["score[alpha=0]"][1].log == [{"step": 1, "kl/attempt1": 0.1}]
    assert [e.problem.id for e in res["base"][0].episodes] == ["p0", "p1", "p2"] and res["base"][0].log == []
    assert list(V.load_results(tmp_path, "gpu")) == ["base"]
    assert V.load_scaling(tmp_path, "cpu")["problems"] == 3 and V.load_scaling(tmp_path, "gpu") is None


def test_evaluations_in_run_folders_keep_their_label(tmp_path):
    """`make reproduce` writes evaluations as folders (config.json method "eval" or "control") per seed."""
    repro = get_profile("repro").to_dict()
    eps = _run("x", _mix(i2c=1, i2i=2)).episodes
    for seed in (0, 1):
        for name, method, label in (("base", "eval", "base"), ("control", "control", "parallel control")):
            folder = tmp_path / "repro" / name / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "config.json").write_text(json.dumps({"method": method, "profile": {**repro, "seed": seed}}))
            _write(folder / "metrics.json", {"n": repro["n_eval"], "label": label, "split": "test",
                                             "profile": {**repro, "seed": seed}}, eps)
    res = V.load_results(tmp_path, "repro")
    assert list(res) == ["base", "control"] and [r.seed for r in res["base"]] == [0, 1]


def test_sequential_beats_parallel_from_the_score_control(tmp_path):
    """With runs of score-control, the verdict pairs each problem's own second attempt with a fresh sample."""
    from scoreutils.pipeline import write_episodes

    def control(seed, sequential_r2, parallel_r2):
        out = tmp_path / f"seed{seed}" / "metrics.json"
        out.parent.mkdir(parents=True)
        out.write_text("{}")
        write_episodes(out.with_suffix(".episodes.jsonl"), [_ep(i, 0, r) for i, r in enumerate(parallel_r2)])
        write_episodes(out.with_suffix(".sequential.episodes.jsonl"), [_ep(i, 0, r) for i, r in enumerate(sequential_r2)])
        return V.RunResult("score-control", seed, out, {}, [], [])

    better = {"score-control": [control(0, [1] * 30 + [0] * 10, [0] * 30 + [1] * 2 + [0] * 8),
                                control(1, [1] * 20 + [0] * 20, [0] * 40)]}
    out = _judge("sequential_beats_parallel", better, scaling(0.6, 0.2))  # the control wins over the curves
    assert out["verdict"] == R and "n = 80 paired problems, 2 seeds (0, 1)" in out["evidence"]
    assert "sequential 62.5%, parallel 2.5%" in out["evidence"]
    worse = {"score-control": [control(2, [0] * 40, [1] * 20 + [0] * 20)]}
    assert _judge("sequential_beats_parallel", worse, scaling(0.2, 0.6))["verdict"] == N
    (tmp_path / "seed2" / "metrics.sequential.episodes.jsonl").unlink()  # no episodes: back to the curves
    assert _judge("sequential_beats_parallel", worse, scaling(0.2, 0.6))["verdict"] == R


def test_target_is_met_only_when_both_of_its_claims_are_reproduced():
    def found(a, b):
        return [{"id": "score_delta_positive", "claim": "Δ > 0", "verdict": a, "evidence": "e1"},
                {"id": "base_second_attempt_hurts", "claim": "base", "verdict": R, "evidence": "e0"},
                {"id": "score_beats_naive_rl", "claim": "Δ > naive", "verdict": b, "evidence": "e2"}]
    assert V.target(found(R, R)).startswith("**SCoRe's target is met**")
    for a, b in ((R, I), (I, R), (N, R), (R, N), (I, I)):
        text = V.target(found(a, b))
        assert text.startswith("**SCoRe's target is not reached**")
        assert f"Δ > 0: **{a}** (e1)" in text and f"Δ > naive: **{b}** (e2)" in text and "e0" not in text
    assert "is not reached" in V.target(found(R, R)[:2]) and "score_beats_naive_rl: not judged" in V.target([])
    assert "is not reached" in V.target(V.verdicts({}, None))
