"""End-to-end on the bundled SmolLM2-135M-Instruct: tasks -> prompts -> greedy rollout -> rewards -> metrics.

Marked slow (loads the 135M model; seconds on 2 cores once its cache exists). The CLI is not tested here.
"""
from __future__ import annotations

import json

import pytest

from scoreutils import Episode, episode_metrics, load_task, sample_episodes
from scoreutils.metrics import METRIC_KEYS

pytestmark = pytest.mark.slow
MAX_NEW = 24


@pytest.fixture(scope="module")
def episodes(bundled_policy):
    problems = load_task("arithmetic", "test", n=8, level=1)
    return sample_episodes(bundled_policy, problems, max_new_tokens=MAX_NEW, temperature=0.0, batch_size=8,
                           progress=False)


def test_bundled_policy_is_smollm2(bundled_policy):
    assert bundled_policy.name == "bundled" and not bundled_policy.has_adapter
    assert bundled_policy.model.config.num_hidden_layers == 30
    assert bundled_policy.tokenizer.eos_token == "<|im_end|>"
    assert bundled_policy.tokenizer.padding_side == "left"


def test_load_tokenizer_is_the_policys_tokenizer(bundled_policy, episodes):
    from scoreutils.models import load_tokenizer

    tok = load_tokenizer("bundled")
    assert (tok.pad_token_id, tok.eos_token_id, tok.padding_side) == (
        bundled_policy.tokenizer.pad_token_id, bundled_policy.tokenizer.eos_token_id, "left")
    assert tok(episodes[0].y1)["input_ids"] == bundled_policy.tokenizer(episodes[0].y1)["input_ids"]


def test_greedy_episodes_on_bundled_model(bundled_policy, episodes):
    tok = bundled_policy.tokenizer
    assert len(episodes) == 8
    assert len({e.problem.id for e in episodes}) == 8
    for ep in episodes:
        assert ep.y1.strip() and ep.y2.strip()
        assert 1 <= len(ep.y1_ids) <= MAX_NEW and 1 <= len(ep.y2_ids) <= MAX_NEW
        assert ep.truncated1 == (tok.eos_token_id not in ep.y1_ids)
        assert ep.ids == ep.x1_ids + ep.y1_ids + ep.p_ids + ep.y2_ids
        assert ep.r1 in (0.0, 1.0) and ep.r2 in (0.0, 1.0)
        assert Episode.from_dict(json.loads(json.dumps(ep.to_dict()))) == ep
    # A trained instruct model answers in words, not the random tiny model's token soup.
    assert any(ch.isdigit() for ep in episodes for ch in ep.y1)


def test_metrics_of_bundled_episodes(episodes):
    m = episode_metrics(episodes)
    assert set(METRIC_KEYS) <= set(m)
    for key in ("edit_distance_ratio", "changed_answer_rate", "truncated_t1", "truncated_t2"):
        assert key in m
    assert m["n"] == 8
    for key in ("acc_t1", "acc_t2", "delta_i_to_c", "delta_c_to_i", "edit_distance_ratio", "changed_answer_rate",
                "truncated_t1", "truncated_t2"):
        assert 0.0 <= m[key] <= 1.0, key
    assert -1.0 <= m["delta"] <= 1.0
    assert m["delta"] == pytest.approx(m["delta_i_to_c"] - m["delta_c_to_i"])
    assert m["acc_t1"] == pytest.approx(sum(e.r1 for e in episodes) / 8)
    for key in ("acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i"):
        lo, hi = m[f"{key}_ci"]
        assert lo <= m[key] + 1e-12 and m[key] - 1e-12 <= hi


def test_greedy_is_reproducible_on_bundled_model(bundled_policy, episodes):
    again = sample_episodes(bundled_policy, [e.problem for e in episodes[:2]], max_new_tokens=MAX_NEW,
                            temperature=0.0, batch_size=2, progress=False, grade=False)
    assert [e.ids for e in again] == [e.ids for e in episodes[:2]]
