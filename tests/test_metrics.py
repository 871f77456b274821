"""Tests for scoreutils.metrics: the paper's self-correction metrics, intervals, edit distance, answer change."""
from __future__ import annotations

import math
import random

import pytest

from scoreutils import changed_answer_rate, edit_distance_ratio, episode_metrics, self_correction_metrics
from scoreutils.metrics import (METRIC_KEYS, Z95, metrics_table, paired_delta_difference, paired_difference,
                                paired_interval, per_problem, pooled_paired_difference, problem_key, seed_interval,
                                wilson_interval)
from scoreutils.rollout import Episode
from scoreutils.tasks import Problem

CI_KEYS = ("acc_t1_ci", "acc_t2_ci", "delta_ci", "delta_i_to_c_ci", "delta_c_to_i_ci")


# ---------------------------------------------------------------- self_correction_metrics
def test_hand_computed_case():
    m = self_correction_metrics([1, 1, 0, 0, 1], [1, 0, 1, 1, 1])
    assert m["n"] == 5
    assert m["acc_t1"] == pytest.approx(0.6)
    assert m["acc_t2"] == pytest.approx(0.8)
    assert m["delta"] == pytest.approx(0.2)
    assert m["delta_i_to_c"] == pytest.approx(0.4)
    assert m["delta_c_to_i"] == pytest.approx(0.2)
    assert set(METRIC_KEYS) | set(CI_KEYS) <= set(m)


def test_hand_computed_case_negative_delta_and_floats():
    # Rewards as the rollout produces them (floats); two problems lose, none gains.
    m = self_correction_metrics([1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0])
    assert (m["acc_t1"], m["acc_t2"], m["delta"]) == pytest.approx((0.75, 0.25, -0.5))
    assert (m["delta_i_to_c"], m["delta_c_to_i"]) == pytest.approx((0.0, 0.5))


def test_no_change():
    m = self_correction_metrics([0, 1, 1], [0, 1, 1])
    assert m["delta"] == m["delta_i_to_c"] == m["delta_c_to_i"] == 0.0
    lo, hi = m["delta_ci"]  # every paired difference is 0: never [0, 0] (Agresti-Min adjusted)
    assert lo < 0 < hi and lo == pytest.approx(-hi)


@pytest.mark.parametrize("seed", range(30))
def test_delta_is_i2c_minus_c2i_and_intervals_are_sane(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    p1, p2 = rng.random(), rng.random()
    r1 = [int(rng.random() < p1) for _ in range(n)]
    r2 = [int(rng.random() < p2) for _ in range(n)]
    m = self_correction_metrics(r1, r2)
    assert m["n"] == n
    assert m["delta"] == pytest.approx(m["delta_i_to_c"] - m["delta_c_to_i"], abs=1e-12)
    assert m["delta"] == pytest.approx(m["acc_t2"] - m["acc_t1"], abs=1e-12)
    assert m["acc_t1"] == pytest.approx(sum(r1) / n) and m["acc_t2"] == pytest.approx(sum(r2) / n)
    for key in CI_KEYS:
        lo, hi = m[key]
        point = m[key[:-3]]
        bounds = (-1.0, 1.0) if key == "delta_ci" else (0.0, 1.0)
        assert bounds[0] <= lo <= point + 1e-12, (key, lo, point)
        assert point - 1e-12 <= hi <= bounds[1], (key, hi, point)


def test_wilson_hand_value():
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4)
    assert hi == pytest.approx(0.7634, abs=1e-4)
    # The same through the metrics.
    m = self_correction_metrics([1] * 5 + [0] * 5, [1] * 10)
    assert m["acc_t1_ci"] == pytest.approx([0.2366, 0.7634], abs=1e-4)


def test_wilson_edges():
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and 0.0 < hi < 0.2  # 0/20 -> [0, 0.161]
    assert hi == pytest.approx(0.1611, abs=1e-4)
    lo, hi = wilson_interval(20, 20)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(1 - 0.1611, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert [wilson_interval(0, n)[0] for n in (7, 100, 500)] == [0.0] * 3  # exactly, not 3e-16
    assert [wilson_interval(n, n)[1] for n in (7, 100, 500)] == [1.0] * 3
    # Narrower with more data.
    assert (lambda a, b: b - a)(*wilson_interval(50, 100)) < (lambda a, b: b - a)(*wilson_interval(5, 10))


def test_paired_interval_hand_value():
    # Agresti & Min (2005): n12 = 1 (right -> wrong), n21 = 3 (wrong -> right) of n = 8, half a pair added to each
    # of the four cells: θ = (3.5 - 1.5) / 10, var = (1.5 + 3.5) / 10 - θ², over n + 2 = 10
    diffs = [1, 0, 0, -1, 1, 1, 0, 0]
    theta = (3.5 - 1.5) / 10
    half = Z95 * math.sqrt(((1.5 + 3.5) / 10 - theta ** 2) / 10)
    lo, hi = paired_interval(diffs)
    assert (lo, hi) == pytest.approx((theta - half, theta + half))
    assert paired_interval([]) == (-1.0, 1.0)
    assert paired_interval([1, -1], z=10) == (-1.0, 1.0)  # clipped to [-1, 1]


def test_paired_interval_with_no_discordant_problem_is_not_a_point():
    lo, hi = paired_interval([0.0] * 500)
    assert lo == pytest.approx(-Z95 * math.sqrt(1 / 502) / math.sqrt(502)) and hi == pytest.approx(-lo)
    lo, hi = paired_interval([1.0] * 20)  # every problem fixed: the upper end is clipped, the lower end is not 1
    assert hi == 1.0 and 0.7 < lo < 1.0


def test_seed_interval():
    assert seed_interval([0.1]) is None and seed_interval([]) is None
    lo, hi = seed_interval([0.04, 0.042, -0.002])
    mean, sd = 0.08 / 3, math.sqrt(sum((v - 0.08 / 3) ** 2 for v in (0.04, 0.042, -0.002)) / 2)
    assert (lo, hi) == pytest.approx((mean - 4.303 * sd / math.sqrt(3), mean + 4.303 * sd / math.sqrt(3)))


@pytest.mark.parametrize("r1, r2", [([0.5, 1], [1, 1]), ([1, 1], [2, 0]), ([None], [1]), ([1], [-1]),
                                    ([float("nan")], [0])])
def test_non_binary_rewards_raise(r1, r2):
    with pytest.raises(ValueError, match="rewards must be binary"):
        self_correction_metrics(r1, r2)


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match=r"same length \(3 != 2\)"):
        self_correction_metrics([1, 0, 1], [1, 0])


def test_empty_input():
    m = self_correction_metrics([], [])
    assert m["n"] == 0
    assert all(m[k] == 0.0 for k in METRIC_KEYS[1:])
    assert m["acc_t1_ci"] == [0.0, 1.0] and m["delta_ci"] == [-1.0, 1.0]


# ---------------------------------------------------------------- edit distance
def test_edit_distance_ratio():
    assert edit_distance_ratio("same text", "same text") == 0.0
    assert edit_distance_ratio("kitten", "sitting") == pytest.approx(3 / 13)
    assert edit_distance_ratio("ab", "cd") == pytest.approx(2 / 4)  # disjoint, same length
    assert edit_distance_ratio("abc", "xy") == pytest.approx(3 / 5)  # disjoint: max(len) / total
    assert edit_distance_ratio("", "") == 0.0
    assert edit_distance_ratio("", "abcd") == 1.0
    assert edit_distance_ratio("abcd", "") == 1.0
    assert edit_distance_ratio("flaw", "lawn") == pytest.approx(2 / 8)
    # Symmetric, and in [0, 1].
    rng = random.Random(0)
    for _ in range(50):
        a = "".join(rng.choice("ab c") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("abd ") for _ in range(rng.randint(0, 12)))
        assert edit_distance_ratio(a, b) == edit_distance_ratio(b, a)
        assert 0.0 <= edit_distance_ratio(a, b) <= 1.0


# ---------------------------------------------------------------- changed answer
def test_changed_answer_rate():
    y1s = ["So 2 + 3 = 5. The final answer is $5$.",
           "The final answer is $5$.",
           "The final answer is $\\frac{1}{2}$.",
           "I do not know.",
           "I do not know."]
    y2s = ["Let me redo it: 2 + 3 = 6. The final answer is $6$.",  # changed
           "Checking again, the final answer is $5$.",               # same
           "The final answer is $0.5$.",                             # same value, other form
           "I still do not know.",                                   # no answer either time
           "The final answer is $7$."]                               # none -> an answer: changed
    assert changed_answer_rate(y1s, y2s) == pytest.approx(2 / 5)
    assert changed_answer_rate(["The final answer is $5$."], ["The final answer is $6$."]) == 1.0
    assert changed_answer_rate(["The final answer is $5$."], ["... so the final answer is $5$."]) == 0.0
    assert changed_answer_rate([], []) == 0.0
    with pytest.raises(ValueError, match="same length"):
        changed_answer_rate(["a"], [])


# ---------------------------------------------------------------- episode_metrics, table
def _episode(r1, r2, y1, y2, t1=False, t2=False):
    prob = Problem("arithmetic/test/L1/00000", "What is 2 + 3?", "5", "test", "arithmetic")
    return Episode(problem=prob, x1_ids=[1], y1_ids=[5, 2], p_ids=[7], y2_ids=[6, 2], y1=y1, y2=y2,
                   truncated1=t1, truncated2=t2, r1=r1, r2=r2)


def test_episode_metrics():
    eps = [_episode(0.0, 1.0, "The final answer is $4$.", "The final answer is $5$.", t1=True),
           _episode(1.0, 1.0, "The final answer is $5$.", "The final answer is $5$."),
           _episode(1.0, 0.0, "abcd", "", t2=True),
           _episode(0.0, 0.0, "The final answer is $7$.", "The final answer is $7$.")]
    m = episode_metrics(eps)
    assert (m["acc_t1"], m["acc_t2"], m["delta_i_to_c"], m["delta_c_to_i"]) == (0.5, 0.5, 0.25, 0.25)
    assert m["changed_answer_rate"] == pytest.approx(1 / 4)  # only the first ("abcd" has no answer; "" neither)
    expected_ed = (edit_distance_ratio(eps[0].y1, eps[0].y2) + 0 + 1.0 + 0) / 4
    assert m["edit_distance_ratio"] == pytest.approx(expected_ed)
    assert m["truncated_t1"] == 0.25 and m["truncated_t2"] == 0.25
    table = metrics_table({"base": m}, paper={"SCoRe": (60.0, 64.4, 4.4, 5.8, 1.4)})
    assert "| base | 4 | 50.0 [" in table and "| SCoRe (paper) | 500 | 60.0 | 64.4 |" in table


def test_episode_metrics_empty_and_unscored():
    m = episode_metrics([])
    assert m["n"] == 0 and m["edit_distance_ratio"] == 0.0 and m["truncated_t1"] == 0.0
    with pytest.raises(ValueError, match="binary"):
        episode_metrics([_episode(None, None, "a", "b")])  # scoring was skipped


# ---------------------------------------------------------------- conditional rates, no-answer rates
def test_fix_and_break_rates_use_their_own_denominators():
    # 5 wrong at t1 (2 fixed), 3 right at t1 (1 broken)
    r1 = [0, 0, 0, 0, 0, 1, 1, 1]
    r2 = [1, 1, 0, 0, 0, 1, 0, 1]
    m = self_correction_metrics(r1, r2)
    assert (m["n_wrong_t1"], m["n_right_t1"]) == (5, 3)
    assert m["p_fix"] == pytest.approx(2 / 5) and m["p_break"] == pytest.approx(1 / 3)
    assert m["p_fix_ci"] == pytest.approx(list(wilson_interval(2, 5)))
    assert m["p_break_ci"] == pytest.approx(list(wilson_interval(1, 3)))
    # the unconditional rates divide the same counts by all 8 problems
    assert m["delta_i_to_c"] == pytest.approx(2 / 8) and m["delta_c_to_i"] == pytest.approx(1 / 8)
    assert m["p_fix"] * m["n_wrong_t1"] / m["n"] == pytest.approx(m["delta_i_to_c"])


def test_fix_and_break_rates_without_a_denominator_are_none():
    m = self_correction_metrics([1.0, 1.0], [1.0, 0.0])  # nothing wrong at t1: nothing to fix
    assert m["p_fix"] is None and m["p_fix_ci"] == [0.0, 1.0]
    assert m["p_break"] == 0.5 and isinstance(m["n_right_t1"], int)
    m = self_correction_metrics([0, 0], [0, 1])  # nothing right at t1: nothing to break
    assert m["p_break"] is None and m["p_fix"] == 0.5


def test_no_answer_rates():
    eps = [_episode(0.0, 0.0, "I am not sure.", "The final answer is $5$."),
           _episode(0.0, 0.0, "hmm", "still no idea"),
           _episode(1.0, 1.0, "The final answer is $5$.", "\\boxed{5}"),
           _episode(1.0, 1.0, "2 + 3 = 5", "")]
    m = episode_metrics(eps)
    assert m["no_answer_t1"] == pytest.approx(2 / 4)  # "I am not sure.", "hmm"
    assert m["no_answer_t2"] == pytest.approx(2 / 4)  # "still no idea", ""
    assert m["truncated_t1"] == 0.0  # the other rates are kept
    assert "changed_answer_rate" in m and "edit_distance_ratio" in m


# ---------------------------------------------------------------- two methods, same problems
def _ep(pid, r1, r2, y1="", y2=""):
    prob = Problem(pid, f"q {pid}", "5", "test", "arithmetic")
    return Episode(problem=prob, x1_ids=[1], y1_ids=[2], p_ids=[3], y2_ids=[4], y1=y1, y2=y2,
                   truncated1=False, truncated2=False, r1=r1, r2=r2)


def test_paired_delta_difference_matches_problems_by_id():
    # method a: deltas p1 +1, p2 0, p3 0, p4 -1; method b (other order, plus a problem a lacks): p1 0, p2 -1,
    # p3 0, p4 0
    a = [_ep("p1", 0, 1), _ep("p2", 1, 1), _ep("p3", 0, 0), _ep("p4", 1, 0)]
    b = [_ep("p4", 1, 1), _ep("p9", 0, 1), _ep("p3", 1, 1), _ep("p2", 1, 0), _ep("p1", 0, 0)]
    diffs = paired_difference(a, b)
    assert diffs == [1.0, 1.0, 0.0, -1.0]  # in a's order, p9 left out
    out = paired_delta_difference(a, b)
    assert out["n"] == 4 and out["n_seeds"] == 1
    assert out["diff"] == pytest.approx(0.25)
    assert out["a"] == pytest.approx(0.0) and out["b"] == pytest.approx(-0.25)
    assert out["diff_ci"] == pytest.approx(list(paired_interval(diffs, bound=2.0)))
    # swapping the methods flips the sign
    back = paired_delta_difference(b, a)
    assert back["diff"] == pytest.approx(-0.25) and back["diff_ci"] == pytest.approx([-x for x in out["diff_ci"][::-1]])


def test_paired_delta_difference_range_is_two():
    # a fixes every problem, b breaks every one: Δ_a - Δ_b = 2 on each
    a = [_ep(f"p{i}", 0, 1) for i in range(5)]
    b = [_ep(f"p{i}", 1, 0) for i in range(5)]
    out = paired_delta_difference(a, b)
    assert out["diff"] == 2.0 and out["diff_ci"][1] == 2.0 and 0.5 < out["diff_ci"][0] < 2.0
    assert paired_interval([2.0, -2.0], z=10, bound=2.0) == (-2.0, 2.0)
    assert paired_delta_difference(a, [_ep("other", 0, 0)])["n"] == 0  # nothing shared


def test_pooled_paired_difference_concatenates_seeds():
    seed0 = ([_ep("p1", 0, 1), _ep("p2", 0, 0)], [_ep("p1", 0, 0), _ep("p2", 0, 0)])  # diffs 1, 0
    seed1 = ([_ep("p1", 1, 1), _ep("p2", 0, 0)], [_ep("p1", 1, 0), _ep("p2", 0, 1)])  # diffs 1, -1
    out = pooled_paired_difference([seed0, seed1], "delta")
    assert out["n"] == 4 and out["n_seeds"] == 2
    assert out["diff"] == pytest.approx(0.25)
    assert out["diff_ci"] == pytest.approx(list(paired_interval([1.0, 0.0, 1.0, -1.0], bound=2.0)))
    acc = pooled_paired_difference([seed0, seed1], "acc_t1")
    assert acc["diff"] == pytest.approx(0.0) and acc["a"] == pytest.approx(0.25)


def test_per_problem_values_and_repeated_samples():
    eps = [_ep("p1", 0, 1, "The final answer is 4.", "The final answer is 5."),
           _ep("p1", 1, 1, "The final answer is 5.", "The final answer is 5."),
           _ep("p2", 1, 0, "abc", "abc")]
    k1, k2 = problem_key(eps[0].problem), problem_key(eps[2].problem)
    assert per_problem(eps, "delta") == {k1: 0.5, k2: -1.0}  # samples of one problem are averaged
    assert per_problem(eps, "changed_answer") == {k1: 0.5, k2: 0.0}
    assert per_problem(eps, "edit_distance_ratio")[k2] == 0.0
    assert per_problem(eps, "edit_distance_ratio_answered") == {k1: pytest.approx(0.5 * edit_distance_ratio(
        "The final answer is 4.", "The final answer is 5."))}  # "abc" gives no answer: left out
    with pytest.raises(ValueError, match="unknown per-problem value"):
        per_problem(eps, "accuracy")


# ---------------------------------------------------------------- three outcomes per attempt
def test_outcome_split_on_hand_made_episodes():
    right, wrong, none = "The final answer is 5.", "The final answer is 6.", "I'm sorry for the confusion."
    eps = [_ep("a", 1, 0, right, none), _ep("b", 1, 0, right, wrong), _ep("c", 0, 1, wrong, right),
           _ep("d", 0, 1, none, right), _ep("e", 0, 0, wrong, none), _ep("f", 0, 0, wrong, "The answer: 7"),
           _ep("g", 1, 1, right, right), _ep("h", 0, 0, none, none)]
    m = episode_metrics(eps)
    n = len(eps)
    assert (m["right_to_none"], m["right_to_wrong"]) == (1 / n, 1 / n)
    assert (m["wrong_to_right"], m["none_to_right"], m["wrong_to_none"]) == (1 / n, 1 / n, 1 / n)
    assert m["delta_c_to_i"] == m["right_to_wrong"] + m["right_to_none"]
    assert m["delta_i_to_c"] == m["wrong_to_right"] + m["none_to_right"]
    assert m["gave_up_t2"] == 2 / n  # a and e: an answer at attempt 1, none at attempt 2
    assert m["n_answered_pairs"] == 4  # b, c, f, g
    assert m["changed_answer_answered"] == 3 / n and m["changed_answer_among_answered"] == 3 / 4  # b, c, f
    assert m["changed_answer_rate"] == 6 / n  # the old rate counts non-answers against answers as changes
    assert m["no_answer_t1"] == 2 / n and m["no_answer_t2"] == 3 / n and m["n_distinct"] == n
    ratios = [edit_distance_ratio(e.y1, e.y2) for e in (eps[1], eps[2], eps[5], eps[6])]
    assert m["edit_distance_ratio_answered"] == pytest.approx(sum(ratios) / 4)


def test_stored_outcomes_are_used():
    e = _ep("a", 1, 0, "The final answer is 5.", "The final answer is 6.")
    e.outcome1, e.outcome2 = "right", "none"  # as the rollout stored it: trusted over the text
    assert episode_metrics([e])["right_to_none"] == 1.0


# ---------------------------------------------------------------- majority voting from a compact record
def test_votes_from_the_compact_record_are_voted_accuracy_problem_by_problem():
    from scoreutils.metrics import vote_answers, voted_accuracy, voted_outcomes

    rng = random.Random(5)
    texts = {None: "I am not sure.", "1": "The final answer is $1$.", "2": "The final answer is $2$."}
    episodes = []
    for i in range(30):
        problem = Problem(f"p{i}", f"What is {i} - {i} + 1?", rng.choice(["1", "2"]), "test", "arithmetic")
        for _ in range(8):
            a, b = rng.choice(list(texts)), rng.choice(list(texts))
            episodes.append(Episode(problem=problem, x1_ids=[1], y1_ids=[2], p_ids=[3], y2_ids=[4], y1=texts[a],
                                    y2=texts[b], truncated1=False, truncated2=False, r1=0.0, r2=0.0))
    records = vote_answers(episodes)
    assert len(records) == 30 and all(len(r["answers1"]) == 8 for r in records)
    assert records[0]["key"] == problem_key(episodes[0].problem)
    for budget in (2, 4, 8):
        votes = voted_outcomes(records, budget)
        for k, sequential in enumerate((False, True)):
            assert sum(v[k] for v in votes.values()) / 30 == pytest.approx(voted_accuracy(episodes, budget, sequential))
    one = {"key": "q", "reference": "2", "answers1": ["1", "2", "2", None], "answers2": ["2", None, "1", "1"]}
    assert voted_outcomes([one], 2) == {"q": (0.0, 1.0)}  # parallel: 1 vs 2, the first wins; sequential: "2"
    assert voted_outcomes([one], 4) == {"q": (1.0, 1.0)}  # parallel: "2" twice; sequential: "2", None
    with pytest.raises(ValueError, match="needs 8"):
        voted_outcomes([one], 8)
