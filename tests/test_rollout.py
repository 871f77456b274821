"""Tests for scoreutils.rollout on tiny random models: episode layout, masks, truncation, batching, seeds.

Fixtures (conftest.py): `tiny_policy` (flat logits: greedy repeats one token, never ends),
`varied_policy` (context-dependent greedy output whose attempts end at different lengths),
`eos_policy` (sampling ends a turn with probability ~0.11 per token).
"""
from __future__ import annotations

import json

import pytest
import torch

from scoreutils import Episode, binary_reward, load_task, sample_episodes
from scoreutils import rollout
from scoreutils.prompts import first_turn_ids, second_turn_ids
from scoreutils.logprobs import left_pad
from scoreutils.rollout import _generate
from scoreutils.rewards import outcome

pytestmark = pytest.mark.usefixtures("one_thread")
MAX_NEW = 6


def _problems(n=6):
    # Mixed levels: prompts of different lengths, so batches are left-padded.
    return load_task("arithmetic", "test", n=n, level=[0, 1, 2, 3, 4, 5])


def _sample(policy, problems, **kw):
    kw.setdefault("max_new_tokens", MAX_NEW)
    kw.setdefault("progress", False)
    return sample_episodes(policy, problems, **kw)


def _layout_ok(ep: Episode, tok, max_new: int) -> None:
    """Every structural promise an episode makes, checked on one episode."""
    eos = tok.eos_token_id
    assert ep.ids == ep.x1_ids + ep.y1_ids + ep.p_ids + ep.y2_ids
    assert ep.x1_ids == first_turn_ids(tok, ep.problem)
    assert ep.p_ids == second_turn_ids(tok, ep.problem, attempt1_ended=not ep.truncated1)
    for y, truncated in ((ep.y1_ids, ep.truncated1), (ep.y2_ids, ep.truncated2)):
        assert 1 <= len(y) <= max_new
        assert truncated == (eos not in y)
        if truncated:
            assert len(y) == max_new
        else:
            assert y[-1] == eos and y.count(eos) == 1  # cut right after the first end token
    assert ep.y1 == tok.decode(ep.y1_ids, skip_special_tokens=True)
    assert ep.y2 == tok.decode(ep.y2_ids, skip_special_tokens=True)
    # Exactly one end token closes attempt 1's turn: sampled (in y1) or added (first id of p).
    closing = ep.ids[len(ep.x1_ids) + len(ep.y1_ids) - 1: len(ep.x1_ids) + len(ep.y1_ids) + 1]
    assert closing.count(eos) == 1


# ---------------------------------------------------------------- layout and masks
def test_episode_layout_greedy_never_ending(tiny_policy):
    eps = _sample(tiny_policy, _problems(3), temperature=0.0, grade=False)
    assert len(eps) == 3
    for ep in eps:
        _layout_ok(ep, tiny_policy.tokenizer, MAX_NEW)
        assert ep.truncated1 and ep.truncated2  # flat logits: the end token is never the argmax
        assert ep.p_ids[0] == tiny_policy.tokenizer.eos_token_id
        assert ep.r1 is None and ep.r2 is None  # grade=False


def test_episode_layout_sampled_with_ends(eos_policy):
    eps = _sample(eos_policy, _problems(8), temperature=1.0, samples_per_problem=2, seed=0, grade=False)
    for ep in eps:
        _layout_ok(ep, eos_policy.tokenizer, MAX_NEW)
    flags = [ep.truncated1 for ep in eps] + [ep.truncated2 for ep in eps]
    assert any(flags) and not all(flags), "the fixture should give both ended and truncated attempts"
    assert any(not ep.truncated1 and len(ep.y1_ids) > 1 for ep in eps)


def test_greedy_end_token_first(eos_policy):
    tok = eos_policy.tokenizer
    for ep in _sample(eos_policy, _problems(2), temperature=0.0, grade=False):
        _layout_ok(ep, tok, MAX_NEW)
        assert ep.y1_ids == [tok.eos_token_id] and ep.y2_ids == [tok.eos_token_id]
        assert not ep.truncated1 and not ep.truncated2
        assert ep.y1 == "" and ep.y2 == ""
        assert ep.p_ids[0] != tok.eos_token_id  # the sampled end token closes the turn


def test_masks_cover_exactly_the_attempts(varied_policy, eos_policy):
    eps = _sample(varied_policy, _problems(6), temperature=0.0, grade=False)
    eps += _sample(eos_policy, _problems(4), temperature=1.0, seed=1, grade=False)
    for ep in eps:
        m1, m2 = ep.masks()
        n = len(ep.ids)
        assert len(m1) == len(m2) == n
        assert set(m1) <= {0, 1} and set(m2) <= {0, 1}
        assert sum(m1) == len(ep.y1_ids) and sum(m2) == len(ep.y2_ids)
        assert not any(a and b for a, b in zip(m1, m2))
        assert [t for t, m in zip(ep.ids, m1) if m] == ep.y1_ids
        assert [t for t, m in zip(ep.ids, m2) if m] == ep.y2_ids
        a, b = ep.attempt1_span
        c, d = ep.attempt2_span
        assert (a, b) == (len(ep.x1_ids), len(ep.x1_ids) + len(ep.y1_ids))
        assert (c, d) == (b + len(ep.p_ids), n)
        assert m1 == [int(a <= i < b) for i in range(n)] and m2 == [int(c <= i < d) for i in range(n)]
        assert ep.ids[a:b] == ep.y1_ids and ep.ids[c:d] == ep.y2_ids


# ---------------------------------------------------------------- attempt 2 continues attempt 1's ids
@pytest.mark.parametrize("reuse_cache", [True, False])
def test_attempt_two_context_is_attempt_one_sampled_ids(varied_policy, monkeypatch, reuse_cache):
    calls = []
    name = "_decode" if reuse_cache else "_generate"  # the kit's decoding loop, or plain generate()
    real_fn = getattr(rollout, name)

    def spy(policy, ids, mask, max_new_tokens, temperature, cache=None, **kw):
        cached = cache is not None and cache.get_seq_length() > 0  # before decoding fills it
        seq, out_cache = real_fn(policy, ids, mask, max_new_tokens, temperature, cache, **kw)
        real = [row[m.bool()].tolist() for row, m in zip(ids, mask)]  # the tokens the model attends to
        calls.append((real, seq[:, ids.shape[1]:].tolist(), cached))
        return seq, out_cache

    monkeypatch.setattr(rollout, name, spy)
    problems = _problems(5)
    eps = _sample(varied_policy, problems, temperature=0.0, batch_size=8, grade=False, reuse_cache=reuse_cache)
    assert len(calls) == 2  # one batch: attempt 1, then attempt 2
    (ctx1, out1, cached1), (ctx2, out2, cached2) = calls
    assert not cached1 and cached2 == reuse_cache  # one sample per problem: nothing to share in turn 1
    assert len({len(ep.y1_ids) for ep in eps}) > 1  # attempt 1 ends at different lengths
    tok = varied_policy.tokenizer
    for i, ep in enumerate(eps):
        assert ctx1[i] == first_turn_ids(tok, problems[i]) == ep.x1_ids
        assert out1[i][:len(ep.y1_ids)] == ep.y1_ids  # y1 is what generate produced, untouched
        assert ep.truncated1 == (tok.eos_token_id not in out1[i])
        assert ctx2[i] == ep.x1_ids + ep.y1_ids + ep.p_ids  # x2 = [x1, y1, p], y1 as sampled ids
        assert out2[i][:len(ep.y2_ids)] == ep.y2_ids
        assert ep.truncated2 == (tok.eos_token_id not in out2[i])


def test_turn_two_from_the_cache_equals_a_fresh_prefill(varied_policy, eos_policy):
    """Reusing attempt 1's KV cache changes no token: greedy, mixed lengths, several batches."""
    problems = _problems(6)
    fresh = _sample(varied_policy, problems, temperature=0.0, batch_size=4, grade=False, reuse_cache=False)
    cached = _sample(varied_policy, problems, temperature=0.0, batch_size=4, grade=False, reuse_cache=True)
    assert len({len(e.y1_ids) for e in fresh}) > 1
    for a, b in zip(fresh, cached):
        assert a.ids == b.ids and (a.truncated1, a.truncated2) == (b.truncated1, b.truncated2)
    fresh = _sample(eos_policy, problems, temperature=1.0, seed=3, grade=False, reuse_cache=False)
    cached = _sample(eos_policy, problems, temperature=1.0, seed=3, grade=False, reuse_cache=True)
    assert any(not e.truncated1 for e in fresh)  # some attempt 1 ended early
    assert [e.ids for e in fresh] == [e.ids for e in cached]


# ---------------------------------------------------------------- one prefill of x1 per problem
def _forward_shapes(policy):
    """Record the (rows, tokens) of every forward the model runs, via a hook on its embedding."""
    shapes = []
    handle = policy.model.get_input_embeddings().register_forward_pre_hook(
        lambda _m, args: shapes.append(tuple(args[0].shape)))
    return shapes, handle


def test_x1_is_prefilled_once_per_problem(varied_policy):
    tok, k = varied_policy.tokenizer, 3
    problems = _problems(2)
    shapes, handle = _forward_shapes(varied_policy)
    try:
        eps = _sample(varied_policy, problems, temperature=0.0, samples_per_problem=k, batch_size=8, grade=False)
    finally:
        handle.remove()
    width = max(len(e.x1_ids) for e in eps)
    # the two distinct x1 minus their last token, once; then generate() feeds each of the 6 rows one token
    assert shapes[0] == (2, width - 1)
    assert shapes[1] == (k * 2, 1)
    assert all(rows == k * 2 for rows, _ in shapes[1:])
    # the only other multi-token forward is turn 2's: p and turn 1's last token, whose KV is not cached yet
    assert [s for s in shapes[1:] if s[1] > 1] == [(k * 2, 1 + max(len(e.p_ids) for e in eps))]


@pytest.mark.parametrize("batch_size", [3, 4, 16])
def test_shared_prefill_changes_no_greedy_token(varied_policy, batch_size):
    """k greedy samples per problem with one prefill of x1 == fresh prefills per row == one sample."""
    problems = _problems(4)
    kw = dict(temperature=0.0, samples_per_problem=3, batch_size=batch_size, grade=False)
    shared = _sample(varied_policy, problems, **kw)
    fresh = _sample(varied_policy, problems, reuse_cache=False, **kw)
    single = _sample(varied_policy, problems, temperature=0.0, batch_size=batch_size, grade=False)
    assert len({len(e.y1_ids) for e in single}) > 1 and any(e.truncated1 for e in single)
    assert [e.to_dict() for e in shared] == [e.to_dict() for e in fresh]
    assert [e.ids for e in shared] == [e.ids for e in single for _ in range(3)]


def test_shared_prefill_samples_rows_independently(tiny_policy, eos_policy):
    """Each of the k rows draws its own first token from the shared prefill, reproducibly under a seed,
    and the draws are those of fresh per-row prefills (the same distribution, the same random stream)."""
    problems, k = _problems(3), 4
    kw = dict(temperature=1.5, samples_per_problem=k, batch_size=5, grade=False)  # batches cut the groups
    a = _sample(tiny_policy, problems, seed=11, **kw)
    b = _sample(tiny_policy, problems, seed=11, **kw)
    assert [e.ids for e in a] == [e.ids for e in b]
    for i in range(len(problems)):
        group = a[i * k:(i + 1) * k]
        assert len({e.y1_ids[0] for e in group}) > 1  # first tokens are separate draws, not one copied
        assert len({tuple(e.y1_ids) for e in group}) == k
    assert [e.ids for e in a] == [e.ids for e in _sample(tiny_policy, problems, seed=11, reuse_cache=False, **kw)]
    kw["temperature"] = 1.0
    shared = _sample(eos_policy, problems, seed=4, **kw)
    assert any(not e.truncated1 for e in shared) and any(e.truncated1 for e in shared)
    assert [e.ids for e in shared] == [e.ids for e in _sample(eos_policy, problems, seed=4, reuse_cache=False, **kw)]


# ---------------------------------------------------------------- ended rows leave the batch
@pytest.mark.parametrize("policy_name,temperature", [("varied_policy", 0.0), ("eos_policy", 1.0)])
def test_ended_rows_leave_the_batch_and_change_no_token(policy_name, temperature, request):
    """Once half a batch has ended, those rows are no longer computed; every token, flag and the turn-2
    context (turn 1's cache, rows put back) stay those of plain generate() on fresh prefills."""
    policy = request.getfixturevalue(policy_name)
    problems, rows = _problems(6), 12
    kw = dict(temperature=temperature, samples_per_problem=2, batch_size=rows, max_new_tokens=12, seed=5,
              grade=False)
    shapes, handle = _forward_shapes(policy)
    try:
        fast = _sample(policy, problems, **kw)
    finally:
        handle.remove()
    fresh = _sample(policy, problems, reuse_cache=False, **kw)
    assert [e.to_dict() for e in fast] == [e.to_dict() for e in fresh]
    assert any(not e.truncated1 for e in fast) and any(e.truncated1 for e in fast)
    assert min(r for r, _ in shapes) < rows  # some decoding steps ran on fewer rows than the batch
    turn2_prefill = [s for s in shapes[1:] if s[1] > 1]
    assert turn2_prefill and turn2_prefill[0][0] == rows  # turn 2 starts again from every row


@pytest.mark.slow
def test_shared_prefill_greedy_on_the_bundled_model(bundled_policy):
    """On the real model (where float rounding could flip a near-tie), greedy episodes with k samples, one
    prefill of x1 per problem and ended rows leaving the batch equal fresh per-row prefills through plain
    generate() and the k = 1 rollout."""
    problems = load_task("arithmetic", "test", n=4, level=0)
    kw = dict(temperature=0.0, max_new_tokens=40, batch_size=8, progress=False)
    shapes, handle = _forward_shapes(bundled_policy)
    try:
        shared = sample_episodes(bundled_policy, problems, samples_per_problem=2, **kw)
    finally:
        handle.remove()
    fresh = sample_episodes(bundled_policy, problems, samples_per_problem=2, reuse_cache=False, **kw)
    single = sample_episodes(bundled_policy, problems, **kw)
    assert [e.to_dict() for e in shared] == [e.to_dict() for e in fresh]
    assert [e.ids for e in shared] == [e.ids for e in single for _ in range(2)]
    assert len({e.y1 for e in single}) == 4  # real, different answers
    assert min(r for r, _ in shapes) < 8  # and rows that ended left the batch


def test_batched_attempts_match_single_unpadded_calls(varied_policy):
    """Each attempt of a padded batch == the model's own greedy continuation of that context alone
    (attempt 2 continues from attempt 1's KV cache; the single call prefills [x1, y1, p] afresh)."""
    tok = varied_policy.tokenizer
    eps = _sample(varied_policy, _problems(4), temperature=0.0, batch_size=4, grade=False)
    for ep in eps:
        for ctx, ids, truncated in ((ep.x1_ids, ep.y1_ids, ep.truncated1),
                                    (ep.x1_ids + ep.y1_ids + ep.p_ids, ep.y2_ids, ep.truncated2)):
            out = varied_policy.model.generate(input_ids=torch.tensor([ctx]), max_new_tokens=MAX_NEW,
                                               do_sample=False, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
            alone = out[0, len(ctx):].tolist()
            assert ids == alone[:len(ids)]
            assert truncated == (tok.eos_token_id not in alone)


# ---------------------------------------------------------------- batching (left padding)
def test_batch_size_does_not_change_greedy_results(varied_policy):
    problems = _problems(6)
    lengths = {len(first_turn_ids(varied_policy.tokenizer, p)) for p in problems}
    assert len(lengths) == 6  # every row of a batch is padded differently
    one = _sample(varied_policy, problems, temperature=0.0, batch_size=1, grade=False)
    four = _sample(varied_policy, problems, temperature=0.0, batch_size=4, grade=False)
    big = _sample(varied_policy, problems, temperature=0.0, batch_size=16, grade=False)
    for a, b, c in zip(one, four, big):
        assert a.ids == b.ids == c.ids
        assert (a.truncated1, a.truncated2) == (b.truncated1, b.truncated2) == (c.truncated1, c.truncated2)
    # The comparison has teeth: outputs differ between problems, attempts end after different
    # numbers of tokens (ragged second-turn contexts), and some run to the budget.
    assert len({tuple(e.y1_ids) for e in one}) == len(one)
    assert len({len(e.y1_ids) for e in one}) > 1
    assert any(e.truncated1 for e in one) and not all(e.truncated1 for e in one)


def test_padding_would_matter_without_the_mask(varied_policy):
    """Sanity for the test above: these contexts give different greedy ids when padding is attended to."""
    tok = varied_policy.tokenizer
    contexts = [first_turn_ids(tok, p) for p in _problems(6)]
    ids, mask = left_pad(contexts, tok.pad_token_id, varied_policy.device)
    assert (mask.sum(1).tolist() == [len(c) for c in contexts]) and ids[0, -1].item() == contexts[0][-1]
    kw = dict(max_new_tokens=4, do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    right = varied_policy.model.generate(input_ids=ids, attention_mask=mask, **kw)
    wrong = varied_policy.model.generate(input_ids=ids, attention_mask=torch.ones_like(mask), **kw)
    assert not torch.equal(right, wrong)


def test_left_pad():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0, device=torch.device("cpu"))
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


# ---------------------------------------------------------------- determinism and seeds
def test_greedy_is_deterministic(varied_policy):
    problems = _problems(4)
    a = _sample(varied_policy, problems, temperature=0.0, seed=0, grade=False)
    b = _sample(varied_policy, problems, temperature=0.0, seed=123, grade=False)
    assert [e.to_dict() for e in a] == [e.to_dict() for e in b]


def test_seeded_sampling_is_reproducible(tiny_policy):
    problems = _problems(3)
    a = _sample(tiny_policy, problems, temperature=1.0, seed=7, grade=False)
    torch.manual_seed(999)  # the global RNG state before the call does not matter
    b = _sample(tiny_policy, problems, temperature=1.0, seed=7, grade=False)
    c = _sample(tiny_policy, problems, temperature=1.0, seed=8, grade=False)
    assert [e.ids for e in a] == [e.ids for e in b]
    assert [e.ids for e in a] != [e.ids for e in c]
    # Sampling at temperature 1 does not follow greedy's single repeated token.
    assert len({t for e in a for t in e.y1_ids}) > 3


def test_samples_per_problem_are_grouped(tiny_policy):
    problems = _problems(3)
    k = 3
    eps = _sample(tiny_policy, problems, temperature=1.0, samples_per_problem=k, batch_size=4, seed=0,
                  grade=False)  # batches of 4 cut across the groups of 3
    assert len(eps) == k * len(problems)
    for i, p in enumerate(problems):
        group = eps[i * k:(i + 1) * k]
        assert [e.problem.id for e in group] == [p.id] * k
        assert [e.sample for e in group] == list(range(k))
        assert len({tuple(e.y1_ids) for e in group}) == k  # independent samples


def test_samples_per_problem_must_be_positive(tiny_policy):
    with pytest.raises(ValueError, match="samples_per_problem must be at least 1"):
        _sample(tiny_policy, _problems(1), samples_per_problem=0)


def test_no_problems(tiny_policy):
    assert _sample(tiny_policy, [], temperature=0.0) == []


# ---------------------------------------------------------------- rewards
def test_rewards_are_binary_floats(eos_policy):
    eps = _sample(eos_policy, _problems(4), temperature=1.0, seed=2, grade=True)
    for ep in eps:
        for r, text in ((ep.r1, ep.y1), (ep.r2, ep.y2)):
            assert isinstance(r, float) and r in (0.0, 1.0)
            assert r == binary_reward(ep.problem, text)
        for o, r, text in ((ep.outcome1, ep.r1, ep.y1), (ep.outcome2, ep.r2, ep.y2)):  # stored with the reward
            assert o == outcome(ep.problem, text, r) and (o == "right") == (r == 1.0)


def test_rewards_score_the_decoded_attempts(tiny_policy, monkeypatch):
    seen = []

    def fake_score(problem, completion):
        seen.append((problem.id, completion))
        return float(len(seen) % 2)

    monkeypatch.setattr(rollout, "binary_reward", fake_score)
    eps = _sample(tiny_policy, _problems(2), temperature=0.0)
    assert seen == [(eps[0].problem.id, eps[0].y1), (eps[0].problem.id, eps[0].y2),
                    (eps[1].problem.id, eps[1].y1), (eps[1].problem.id, eps[1].y2)]
    assert [(e.r1, e.r2) for e in eps] == [(1.0, 0.0), (1.0, 0.0)]


# ---------------------------------------------------------------- serialisation
def test_episode_round_trip(eos_policy):
    eps = _sample(eos_policy, _problems(3), temperature=1.0, samples_per_problem=2, seed=3)
    eps[0].extra["note"] = {"a": [1, 2]}
    for ep in eps:
        d = json.loads(json.dumps(ep.to_dict()))
        back = Episode.from_dict(d)
        assert back == ep
        assert back.to_dict() == ep.to_dict()
        assert back.problem.meta == ep.problem.meta and back.ids == ep.ids and back.masks() == ep.masks()


# ---------------------------------------------------------------- adapters and modes
def test_lora_policy_samples_like_its_base_and_keeps_train_mode(tiny_policy, tiny_lora_policy):
    assert tiny_lora_policy.has_adapter and not tiny_policy.has_adapter
    tiny_lora_policy.model.train()
    problems = _problems(2)
    lora = _sample(tiny_lora_policy, problems, temperature=1.0, seed=5, grade=False, samples_per_problem=2)
    assert tiny_lora_policy.model.training  # restored after sampling
    # A fresh LoRA adapter (B = 0) leaves the tiny model's distribution unchanged: same seeded samples
    # (two per problem: the shared prefill of x1 runs through the peft model too).
    base = _sample(tiny_policy, problems, temperature=1.0, seed=5, grade=False, samples_per_problem=2)
    assert [e.ids for e in lora] == [e.ids for e in base]
    with tiny_lora_policy.reference():
        ref = _sample(tiny_lora_policy, problems, temperature=1.0, seed=5, grade=False, samples_per_problem=2)
    assert [e.ids for e in ref] == [e.ids for e in base]
    tiny_lora_policy.model.eval()
    _sample(tiny_lora_policy, problems[:1], temperature=0.0, grade=False)
    assert not tiny_lora_policy.model.training
