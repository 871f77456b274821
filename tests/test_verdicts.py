"""Tests for scoreutils.report.verdicts and scoreutils.report.arms: each test of an interval and its boundaries, the rule that both
intervals (over problems, over seeds) must agree, every claim on made-up results (including ones where the two
intervals disagree), untestable arms, pairing by problem text, summaries, arm names and the loader."""
from __future__ import annotations

import json

import pytest

from scoreutils.report import verdicts as V
from scoreutils.config import EARLIER_RECIPES, get_profile, recipe_of, unread_fields
from scoreutils.rollout import Episode
from scoreutils.runs.record import Run
from scoreutils.tasks import Problem

R, N, I, U = V.REPRODUCED, V.NOT_REPRODUCED, V.INCONCLUSIVE, V.UNTESTABLE
ANS = "The final answer is 3."
SAME, CHANGED, GAVE_UP = (ANS, ANS), (ANS, "The final answer is 4."), (ANS, "I'm sorry for the confusion.")


def _ep(i, r1, r2, y1=ANS, y2=ANS, prompt=None):
    return Episode(Problem(f"p{i}", prompt or f"What is {i} + 0?", "3", "test", "arithmetic"), [1], [2], [3], [4],
                   y1, y2, False, False, float(r1), float(r2))


def _run(arm, transitions, seed=0, texts=None, log=None, metrics=None):
    """A run whose problem i has the (r1, r2) transitions[i] and optionally the texts texts[i]."""
    eps = [_ep(i, r1, r2, *(texts[i] if texts else SAME)) for i, (r1, r2) in enumerate(transitions)]
    return Run(arm, None, metrics or {}, eps, log or [], seed=seed)


def _seeds(arm, transitions, k=3, **kw):
    """k seeds of the same run (a trained arm whose seeds agree exactly)."""
    return [_run(arm, transitions, seed=s, **kw) for s in range(k)]


def _mix(i2c=0, c2i=0, c2c=0, i2i=0):
    """Transitions in a fixed order: i->c, c->i, c->c, i->i."""
    return [(0, 1)] * i2c + [(1, 0)] * c2i + [(1, 1)] * c2c + [(0, 0)] * i2i


def _judge(cid, results, scaling=None, train=None):
    (out,) = V.verdicts(results, scaling, train, ids=[cid])
    assert {"id", "claim", "paper_ref", "rule", "verdict", "evidence", "intervals"} <= set(out) and out["id"] == cid
    assert out["paper_ref"] and out["verdict"] in (R, N, I, U)
    return out


# ---------------------------------------------------------------- tests of one interval, and both together
@pytest.mark.parametrize("test, ci, expect", [
    (V.above(), (0.001, 0.2), R), (V.above(), (0.0, 0.2), I), (V.above(), (-0.2, 0.0), N),
    (V.below(), (-0.2, -0.001), R), (V.below(), (-0.2, 0.0), I), (V.below(), (0.0, 0.2), N),
    (V.within(0.02), (-0.02, 0.01), R), (V.within(0.02), (-0.01, 0.03), I), (V.within(0.02), (0.03, 0.09), N),
    (V.at_least(0.9), (0.9, 0.95), R), (V.at_least(0.9), (0.85, 0.95), I), (V.at_least(0.9), (0.6, 0.89), N),
    (V.not_raised(0.02), (-0.05, 0.019), R), (V.not_raised(0.02), (-0.01, 0.05), I), (V.not_raised(0.02), (0.001, 0.05), N),
    (V.differs(0.02), (0.001, 0.05), R), (V.differs(0.02), (-0.03, 0.01), I), (V.differs(0.02), (-0.02, 0.02), N)])
def test_interval_tests(test, ci, expect):
    assert test.verdict(*ci) == expect and test.words


def _est(problems, seeds, n=100):
    return {"value": 0.0, "ci_problems": list(problems), "ci_seeds": list(seeds) if seeds else None,
            "n_distinct": n, "per_seed": [], "n_seeds": 3, "seeds": [0, 1, 2], "seed_note": None}


def test_both_intervals_must_agree():
    assert V.judge(_est((0.01, 0.05), (0.02, 0.04)), V.above()) == R
    assert V.judge(_est((0.01, 0.05), (-0.03, 0.09)), V.above()) == I  # pooled excludes 0, seeds do not
    assert V.judge(_est((-0.01, 0.05), (0.01, 0.04)), V.above()) == I  # and the other way round
    assert V.judge(_est((-0.05, -0.01), (-0.04, -0.02)), V.above()) == N
    assert V.judge(_est((0.01, 0.05), None), V.above()) == I  # one seed of a trained arm
    assert V.judge(_est((0.01, 0.05), (0.02, 0.04), n=V.MIN_N - 1), V.above()) == I


def test_combine():
    assert V.combine([R, R]) == R
    assert V.combine([R, I]) == I
    assert V.combine([R, N, I]) == N
    assert V.combine([R], missing=["star"]) == I
    assert V.combine([N], missing=["star"]) == N  # a contradiction needs no more runs
    assert V.combine([U, U]) == U and V.combine([U, R]) == I and V.combine([U, N]) == N
    assert V.combine([]) == I


# ---------------------------------------------------------------- the base model
def test_base_delta_negative_is_judged_on_problems_alone():
    """The base model trains nothing: its interval over problems is the one over seeds."""
    out = _judge("base_delta_negative", {"base": [_run("base", _mix(c2i=8, c2c=10, i2i=12))]})
    assert out["verdict"] == R and "no training" in out["evidence"]
    assert _judge("base_delta_negative", {"base": [_run("base", _mix(i2c=8, i2i=22))]})["verdict"] == N
    assert _judge("base_delta_negative", {"base": [_run("base", _mix(i2c=1, c2i=2, i2i=27))]})["verdict"] == I
    missing = _judge("base_delta_negative", {})
    assert missing["verdict"] == I and "missing" in missing["evidence"] and "base" in missing["evidence"]


def test_base_breaks_counts_non_answers_apart():
    # 8 right answers become non-answers: Δ < 0, but no answer was revised into a wrong one
    gave_up = _run("base", _mix(c2i=8, c2c=10, i2i=12), texts=[GAVE_UP] * 8 + [SAME] * 22)
    assert _judge("base_delta_negative", {"base": [gave_up]})["verdict"] == R
    out = _judge("base_breaks_right_answers", {"base": [gave_up]})
    assert out["verdict"] == I and "right→none 26.7%" in out["evidence"] and "right→wrong 0.0%" in out["evidence"]
    fixes = _run("base", _mix(i2c=8, c2i=8, c2c=4, i2i=10), texts=[SAME] * 8 + [GAVE_UP] * 8 + [SAME] * 14)
    assert _judge("base_delta_negative", {"base": [fixes]})["verdict"] == I  # Δ = 0
    assert _judge("base_breaks_right_answers", {"base": [fixes]})["verdict"] == N  # its only revisions are fixes
    revised = _run("base", _mix(c2i=8, c2c=10, i2i=12), texts=[CHANGED] * 8 + [SAME] * 22)
    assert _judge("base_breaks_right_answers", {"base": [revised]})["verdict"] == R


# ---------------------------------------------------------------- SFT
def _sft(base, arm_runs, pairs=300):
    out = {"base": base}
    for arm in V.SFT_ARMS:
        out[arm] = [_run(arm, t, seed=s, texts=tx, metrics={"sft_pairs": pairs}) for s, (t, tx) in enumerate(arm_runs)]
    return out


def test_sft_lowers_breaks_and_untestable_arms():
    base = [_run("base", _mix(c2i=10, c2c=10, i2i=10), texts=[CHANGED] * 10 + [SAME] * 20)]
    calm = [(_mix(c2c=20, i2i=10), None)] * 3
    assert _judge("sft_lowers_breaks", _sft(base, calm))["verdict"] == R
    worse = [(_mix(c2i=20, i2i=10), [CHANGED] * 20 + [SAME] * 10)] * 3
    assert _judge("sft_lowers_breaks", _sft(base, worse))["verdict"] == N
    small = _judge("sft_lowers_breaks", _sft(base, calm, pairs=7))
    assert small["verdict"] == U and "star trained on 7, 7, 7 pairs per seed (fewer than 200)" in small["evidence"]
    mixed = _sft(base, calm)
    for r in mixed["star"]:
        r.metrics["sft_pairs"] = 3
    out = _judge("sft_lowers_breaks", mixed)
    assert out["verdict"] == I and "untestable: star" in out["evidence"]  # the claim is about all four arms


def test_sft_no_more_fixes_rules_out_a_rise():
    base = [_run("base", _mix(i2c=0, i2i=200))]
    same = [(_mix(i2i=200), None)] * 3
    assert _judge("sft_no_more_fixes", _sft(base, same))["verdict"] == R
    fixes = [(_mix(i2c=40, i2i=160), None)] * 3
    assert _judge("sft_no_more_fixes", _sft(base, fixes))["verdict"] == N
    few = [(_mix(i2i=30), None)] * 3  # 30 problems: the interval cannot rule out a 2-point rise
    assert _judge("sft_no_more_fixes", _sft([_run("base", _mix(i2i=30))], few))["verdict"] == I


def test_sft_minimal_edits_on_answered_pairs():
    base = [_run("base", _mix(i2i=20), texts=[("The final answer is 12.", "So the final answer is 4.")] * 20)]
    copies = [(_mix(i2i=20), [SAME] * 20)] * 3
    assert _judge("sft_minimal_edits", _sft(base, copies))["verdict"] == R
    # base's only edits are non-answers: on answered pairs it makes none, so copying is no shrinkage
    gave_up = [_run("base", _mix(i2i=20), texts=[GAVE_UP] * 10 + [SAME] * 10)]
    out = _judge("sft_minimal_edits", _sft(gave_up, copies))
    assert out["verdict"] != R and "over 10 problems" in out["evidence"]


def test_pair_sft_train_differs_needs_train_evaluations():
    held = _sft([_run("base", _mix(i2i=20))], [(_mix(i2i=20), [SAME] * 20)] * 3)
    assert "on its training problems" in _judge("pair_sft_train_differs", held)["evidence"]
    train = {"pair_sft_plus": [_run("pair_sft_plus", _mix(i2i=20), seed=s,
                                    texts=[("The final answer is 12.", "So the final answer is 4.")] * 20)
                               for s in range(3)]}
    assert _judge("pair_sft_train_differs", held, train=train)["verdict"] == R
    same = {"pair_sft_plus": [_run("pair_sft_plus", _mix(i2i=20), seed=s) for s in range(3)]}
    assert _judge("pair_sft_train_differs", held, train=same)["verdict"] == N


# ---------------------------------------------------------------- RL
def test_naive_rl_stops_proposing_counts_only_answered_changes():
    base = [_run("base", _mix(i2i=40), texts=[GAVE_UP] * 20 + [SAME] * 20)]  # "changes" that are non-answers
    proposes = _seeds("naive_rl", _mix(i2i=40), texts=[CHANGED] * 10 + [SAME] * 30)
    out = _judge("naive_rl_stops_proposing", {"base": base, "naive_rl": proposes})
    assert out["verdict"] == N  # more different answers than base's zero
    base_changes = [_run("base", _mix(i2i=40), texts=[CHANGED] * 20 + [SAME] * 20)]
    assert _judge("naive_rl_stops_proposing", {"base": base_changes, "naive_rl": _seeds("naive_rl", _mix(i2i=40))}
                  )["verdict"] == R
    one = _judge("naive_rl_stops_proposing", {"base": base_changes, "naive_rl": _seeds("naive_rl", _mix(i2i=40), k=1)})
    assert one["verdict"] == I and "between-seed variance unknown" in one["evidence"]


def test_stage1_turn1_near_base():
    base = [_run("base", _mix(c2c=50, i2i=150))]
    log = [{"kl/attempt1": 0.01, "kl/attempt2": 0.5}] * 6
    near = _seeds("stage1", [(1, 1)] * 50 + [(0, 1)] * 40 + [(0, 0)] * 110, log=log)  # same turn 1, turn 2 fixes 40
    out = _judge("stage1_turn1_near_base", {"base": base, "stage1": near})
    assert out["verdict"] == R and "attempt 1 0.010, attempt 2 0.500" in out["evidence"]
    assert "not an estimate of KL" not in out["evidence"]
    moved = _seeds("stage1", _mix(c2c=100, i2i=100), texts=[("The final answer is 5.", ANS)] * 200)
    assert _judge("stage1_turn1_near_base", {"base": base, "stage1": moved})["verdict"] == N
    still = _seeds("stage1", _mix(c2c=50, i2i=150))  # near base, but turn 2 gained nothing
    assert _judge("stage1_turn1_near_base", {"base": base, "stage1": still})["verdict"] == I
    worse = _seeds("stage1", [(1, 0)] * 20 + [(1, 1)] * 30 + [(0, 0)] * 150)  # near base, turn 2 lost 20
    assert _judge("stage1_turn1_near_base", {"base": base, "stage1": worse})["verdict"] == N
    tempered = [Run("stage1", None, {"profile": {"temperature": 0.4}}, near[0].episodes,
                     [{"kl/attempt1": -0.9, "kl/attempt2": 0.2}] * 4)]
    out = _judge("stage1_turn1_near_base", {"base": base, "stage1": tempered})
    assert "sampled at T = 0.4, scored at T = 1: not an estimate of KL" in out["evidence"] and out["verdict"] == I


def test_bonus_raises_delta_with_the_optional_stage2_pair():
    up, flat = _mix(i2c=10, i2i=10), _mix(i2i=20)
    arms = {"score": _seeds("score", up), "score[alpha=0]": _seeds("score[alpha=0]", flat)}
    assert _judge("bonus_raises_delta", arms)["verdict"] == R
    assert _judge("bonus_raises_delta", {"score": _seeds("score", flat),
                                         "score[alpha=0]": _seeds("score[alpha=0]", up)})["verdict"] == N
    both = {**arms, "stage2": _seeds("stage2", flat), "stage2[alpha=0]": _seeds("stage2[alpha=0]", up)}
    out = _judge("bonus_raises_delta", both)
    assert out["verdict"] == N and "Δ(stage2) − Δ(stage2[alpha=0])" in out["evidence"]


def test_score_delta_where_pooled_and_per_seed_intervals_disagree():
    """Two seeds gain 12 of 100 problems and one loses 6: pooled over problems the interval lies above 0, over
    seeds it does not; the verdict is inconclusive and says what the intervals rule out."""
    runs = [_run("score", _mix(i2c=12, i2i=88), seed=0), _run("score", _mix(i2c=12, i2i=88), seed=1),
            _run("score", _mix(c2i=6, c2c=10, i2i=84), seed=2)]
    out = _judge("score_delta_positive", {"score": runs})
    (rec,) = out["intervals"]
    assert rec["ci_problems"][0] > 0 and rec["ci_seeds"][0] < 0
    assert out["verdict"] == I and "the paper's +4.4 is inside them" in out["evidence"]
    assert _judge("score_delta_positive", {"score": _seeds("score", _mix(i2c=12, i2i=88))})["verdict"] == R
    assert _judge("score_delta_positive", {"score": _seeds("score", _mix(c2i=10, c2c=5, i2i=85))})["verdict"] == N
    still = _judge("score_delta_positive", {"score": _seeds("score", _mix(c2c=5, i2i=95))})  # no problem changed
    assert still["verdict"] == I and "[0.0, 0.0]" not in still["evidence"].split(";")[1]


def test_stage1_raises_delta_and_score_beats_naive_rl():
    up, flat = _mix(i2c=10, i2i=30), _mix(i2i=40)
    assert _judge("stage1_raises_delta", {"score": _seeds("score", up), "stage2": _seeds("stage2", flat)}
                  )["verdict"] == R
    out = _judge("score_beats_naive_rl", {"score": _seeds("score", flat), "naive_rl": _seeds("naive_rl", up)})
    assert out["verdict"] == N and "over 40 problems" in out["evidence"] and "over 3 seeds" in out["evidence"]


def scaling(par, seq, budgets=(2, 4, 8), n=100):
    return {"problems": n, "samples": 8, "profile": {"name": "cpu", "seed": 0},
            "curves": {"SCoRe": [{"budget": b, "parallel": par, "sequential": seq} for b in budgets]}}


def test_sequential_beats_parallel_needs_three_budgets():
    few = _judge("sequential_beats_parallel", {}, scaling(0.2, 0.6, budgets=(2, 4)))
    assert few["verdict"] == U and "2 compute budget(s)" in few["evidence"]
    one_seed = _judge("sequential_beats_parallel", {}, scaling(0.2, 0.6))
    assert one_seed["verdict"] == I and "between-seed variance unknown" in one_seed["evidence"]
    assert _judge("sequential_beats_parallel", {}, scaling(0.6, 0.2))["verdict"] == I
    assert _judge("sequential_beats_parallel", {}, None)["verdict"] == I


def _voting_run(seed, wins, n=60, samples=8):
    """A scaling run whose sequential vote is right on the first `wins` problems (every attempt 2 answers "1",
    the reference) and whose parallel vote never is (every attempt 1 answers "2"); on the rest both are wrong."""
    records = [{"key": f"q{i}", "reference": "1", "answers1": ["2"] * samples,
                "answers2": ["1" if i < wins else "3"] * samples} for i in range(n)]
    return {"seed": seed, "records": records, "samples": samples, "curve": []}


def test_sequential_beats_parallel_on_reproduce_s_scaling_runs_counts_problems_and_seeds():
    def judge(runs):
        return _judge("sequential_beats_parallel", {}, {"profile": {"name": "repro"}, "runs": {"SCoRe": runs}})

    agree = judge([_voting_run(seed, 20) for seed in (0, 1, 2)])
    assert agree["verdict"] == R and "8 generations" in agree["evidence"]
    assert "paired on the same test problems" in agree["evidence"]
    # the problems alone would say so, but the seeds disagree: inconclusive
    split = judge([_voting_run(0, 40), _voting_run(1, 0), _voting_run(2, 20)])
    assert split["verdict"] == I
    few = judge([_voting_run(seed, 20, samples=4) for seed in (0, 1, 2)])
    assert few["verdict"] == U and "2 compute budget(s)" in few["evidence"]
    # the runs win over lesson 07's curves of the same profile
    both = _judge("sequential_beats_parallel", {}, {**scaling(0.6, 0.2), "runs": {"SCoRe": [_voting_run(0, 20)]}})
    assert "paired on the same test problems" in both["evidence"]


def test_scaling_runs_are_found_with_their_answers(tmp_path):
    from scoreutils.config import write_jsonl

    repro = get_profile("repro").to_dict()
    for seed in (1, 0):
        run = _voting_run(seed, 5, n=6)
        folder = tmp_path / "score-scaling" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"kind": "scaling", "label": "score (scaling)",
                                                          "samples": 8, "curve": [], "profile": {**repro, "seed": seed}}))
        write_jsonl(folder / "metrics.answers.jsonl", run["records"])
    (tmp_path / "base-scaling" / "seed0").mkdir(parents=True)  # no answers: not a scaling run
    (tmp_path / "base-scaling" / "seed0" / "metrics.json").write_text(json.dumps({"kind": "scaling", "label": "base"}))
    found = V.load_scaling(tmp_path, "repro")
    assert list(found["runs"]) == ["SCoRe"] and [r["seed"] for r in found["runs"]["SCoRe"]] == [0, 1]
    assert found["runs"]["SCoRe"][0]["records"][0]["answers2"] == ["1"] * 8
    assert V.load_scaling(tmp_path, "cpu") is None


def test_verdicts_cover_every_claim_with_allowed_values():
    out = V.verdicts({}, None)
    assert [v["id"] for v in out] == [c.id for c in V.CLAIMS]
    assert len(out) >= 10 and all(v["verdict"] == I for v in out)  # nothing to judge
    assert all(c.paper_ref and c.rule for c in V.CLAIMS)


# ---------------------------------------------------------------- pairing, summaries, names, loading
def test_seed_pairs():
    a = [_run("a", [], seed=s) for s in (0, 1, 2)]
    b = [_run("b", [], seed=s) for s in (1, 2, 3)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(a, b)] == [(1, 1), (2, 2)]
    base = [_run("base", [], seed=0)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(a, base)] == [(0, 0), (1, 0), (2, 0)]
    assert [(x.seed, y.seed) for x, y in V.seed_pairs(base, b)] == [(0, 1), (0, 2), (0, 3)]


def test_problems_pair_by_text_not_by_id():
    """Seeds that drew their own problems reuse ids for other problems: pairing goes by the problem's text."""
    def drawn(arm, seed, prompts, r2):
        return Run(arm, None, {}, [_ep(i, 0, r2, prompt=p) for i, p in enumerate(prompts)], [], seed=seed)

    base = [drawn("base", 0, [f"q{i}" for i in range(40)], 0)]  # one greedy run on 40 problems
    stage1 = [drawn("stage1", 1, [f"q{i}" for i in range(20, 60)], 1)]  # the same ids, 20 shared problems
    d = V.difference(stage1, base, "acc_t2")
    assert d["n_distinct"] == 20 and d["value"] == pytest.approx(1.0)


def test_estimate_averages_each_problem_over_seeds():
    e = V.estimate([{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 1.0}], seeds=[0, 1, 2])
    assert e["n_distinct"] == 2 and e["value"] == pytest.approx(0.5) and e["per_seed"] == [0.5, 0.0, 1.0]
    assert e["ci_seeds"][0] < 0 < 1 < e["ci_seeds"][1]
    untrained = V.estimate([{"a": 1.0, "b": 0.0}], seeds=[0], trained=False)
    assert untrained["ci_seeds"] == untrained["ci_problems"] and untrained["seed_note"]


def test_summary_rows_have_the_outcome_split():
    runs = {"score": [_run("score", _mix(i2c=2, i2i=8), seed=0),
                      _run("score", _mix(i2c=4, c2i=2, i2i=4), seed=1, texts=[SAME] * 4 + [GAVE_UP] * 2 + [SAME] * 4)]}
    (row,) = V.summary(runs)
    assert row["method"] == "score" and row["seeds"] == [0, 1] and row["n_eval"] == 10 and row["n"] == 20
    assert row["delta"] == pytest.approx(0.2) and row["delta_per_seed"] == pytest.approx([0.2, 0.2])
    assert row["n_distinct"] == 10 and row["right_to_none"] == pytest.approx(0.1) and row["right_to_wrong"] == 0
    assert row["wrong_to_right"] == pytest.approx(0.3) and row["gave_up_t2"] == pytest.approx(0.1)
    assert row["delta_ci_seeds"] is not None and row["delta_ci"][0] < 0.2 < row["delta_ci"][1]
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
    repro = get_profile("repro").to_dict()
    assert V.arm_name("score", repro, n=756) == "score"  # the shared test set: all problems, whatever n_eval says
    sampled = {k: v for k, v in repro.items() if k != "test_set"}  # a run made before the shared test set
    assert V.arm_name("score", sampled, n=repro["n_eval"]) == "score"


def test_arm_names_leave_out_fields_a_run_never_reads_and_an_earlier_recipe():
    repro = get_profile("repro").to_dict()
    first = {**repro, **EARLIER_RECIPES["repro"][0]}  # the repro profile's first RL recipe
    assert recipe_of(repro) == 0 and recipe_of(first) == 1 and recipe_of({**repro, "steps": 3}) is None
    assert recipe_of({**first, "lr": 1.0}) == 1  # other fields name the arm, not the recipe
    assert V.arm_name("score", first) == "score" and V.arm_name("star", {**repro, "steps": 3}) == "star"
    assert V.arm_name("control", {**repro, "steps": 3}) == "control"
    assert V.arm_name("control", {**repro, "temperature": 0.7}) == "control[temperature=0.7]"  # it samples
    assert V.arm_name("score", {**first, "alpha": 0.0}) == "score[alpha=0]"
    assert V.arm_name("score", {**first, "stage1_steps": 16}) == (  # no recipe's: named against the current one
        "score[steps=48,score_at_temperature=False,stage1_steps=16]")
    assert unread_fields("score") == unread_fields("score-control") == ()
    assert "temperature" in unread_fields("star") and "temperature" not in unread_fields("base-scaling")


def test_runs_of_the_current_recipe_replace_an_arms_earlier_ones(tmp_path):
    repro = get_profile("repro").to_dict()
    eps = _run("x", _mix(i2c=1, i2i=2)).episodes
    first = {**repro, **EARLIER_RECIPES["repro"][0]}
    for root, prof, seeds in (("repro_v1", first, (0, 1, 2)), ("repro", repro, (0,))):
        for seed in seeds:
            folder = tmp_path / root / "score" / f"seed{seed}"
            folder.mkdir(parents=True)
            p = {**prof, "seed": seed}
            (folder / "config.json").write_text(json.dumps({"method": "score", "profile": p}))
            _write(folder / "metrics.json", {"n": 756, "label": "score", "split": "test", "profile": p}, eps)
    (old,) = [V.load_results(tmp_path / "repro_v1", "repro")["score"]]
    assert [(r.seed, r.recipe) for r in old] == [(0, 1), (1, 1), (2, 1)]
    both = V.load_results(tmp_path, "repro")["score"]
    assert [(r.seed, r.recipe) for r in both] == [(0, 0)]  # never a mix of two recipes' seeds


def _write(path, metrics, episodes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics))
    path.with_suffix(".episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in episodes))


def test_load_results(tmp_path):
    cpu = get_profile("cpu").to_dict()
    eps = _run("x", _mix(i2c=1, i2i=2)).episodes
    metrics = {"n": cpu["n_eval"], "label": "base", "split": "test"}
    _write(tmp_path / "demo" / "base.json", {**metrics, "profile": cpu}, eps)
    _write(tmp_path / "pair_sft_plus_on_train.json", {**metrics, "split": "train", "profile": cpu}, eps)
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
    assert list(V.load_train_evaluations(tmp_path, "cpu")) == ["pair_sft_plus"]
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


def test_target_is_met_only_when_both_of_its_claims_are_reproduced():
    def found(a, b):
        return [{"id": "score_delta_positive", "claim": "Δ > 0", "verdict": a, "evidence": "e1"},
                {"id": "base_delta_negative", "claim": "base", "verdict": R, "evidence": "e0"},
                {"id": "score_beats_naive_rl", "claim": "Δ > naive", "verdict": b, "evidence": "e2"}]
    assert V.target(found(R, R)).startswith("**SCoRe's target is met**")
    for a, b in ((R, I), (I, R), (N, R), (R, N), (I, I)):
        text = V.target(found(a, b))
        assert text.startswith("**SCoRe's target is not reached**")
        assert f"Δ > 0: **{a}** (e1)" in text and f"Δ > naive: **{b}** (e2)" in text and "e0" not in text
    assert "is not reached" in V.target(found(R, R)[:2]) and "score_beats_naive_rl: not judged" in V.target([])
    assert "is not reached" in V.target(V.verdicts({}, None))


def test_rl_arms_of_different_recipes_are_not_compared():
    import dataclasses

    score = _seeds("score", _mix(i2c=60, c2c=100, i2i=340))  # far above naive RL, on every seed
    naive = [dataclasses.replace(r, recipe=1) for r in _seeds("naive_rl", _mix(c2i=20, c2c=100, i2i=380))]
    out = _judge("score_beats_naive_rl", {"score": score, "naive_rl": naive})
    assert out["verdict"] == I and "not compared: their runs come from different RL recipes" in out["evidence"]
    assert "score: the current recipe, naive_rl: earlier recipe 1" in out["evidence"]
    same = [dataclasses.replace(r, recipe=0) for r in naive]
    assert _judge("score_beats_naive_rl", {"score": score, "naive_rl": same})["verdict"] == R
    assert _judge("score_delta_positive", {"score": score, "naive_rl": naive})["verdict"] == R  # one arm: judged
