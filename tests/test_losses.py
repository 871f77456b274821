"""Losses against hand-computed values, gradient routing, and log-prob equivalences."""
import math

import pytest
import torch

from scoreutils import logprobs, losses
from scoreutils.rollout import Episode
from scoreutils.tasks import Problem

K = 2


def test_rloo_baseline_excludes_the_sample_itself():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    a = losses.rloo_advantages(r, k=3)
    # group 1: [1,0,0] -> baselines [0, .5, .5]; group 2: all 1 -> zero advantage
    assert torch.allclose(a, torch.tensor([1.0, -0.5, -0.5, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError):
        losses.rloo_advantages(r, k=4)
    with pytest.raises(ValueError):
        losses.rloo_advantages(r, k=1)


def test_reinforce_and_kl_penalty_values():
    seq = torch.tensor([-2.0, -1.0])
    adv = torch.tensor([0.5, -0.5])
    assert losses.reinforce(seq, adv).item() == pytest.approx(-(0.5 * -2 + -0.5 * -1) / 2)
    kl = torch.tensor([0.3, 0.1])  # RLOO-centred: [0.2, -0.2]
    assert losses.kl_penalty(seq, kl, k=2).item() == pytest.approx((0.2 * -2 + -0.2 * -1) / 2)


def test_kl_is_zero_when_policy_equals_reference():
    lp = torch.randn(3, 7)
    mask = torch.ones(3, 7)
    assert torch.equal(losses.kl_per_attempt(lp, lp.clone(), mask), torch.zeros(3))
    ref = lp - 0.25
    assert torch.allclose(losses.kl_per_attempt(lp, ref, mask), torch.full((3,), 0.25 * 7))


def test_kl_penalty_gradient_is_the_forward_kl_gradient():
    """Enumerate a categorical 'policy' over 5 tokens: E_pi[(KL_hat - b) grad log pi] == grad KL(pi||ref)."""
    torch.manual_seed(0)
    theta = torch.randn(5, requires_grad=True)
    ref = torch.log_softmax(torch.randn(5), -1)
    logp = torch.log_softmax(theta, -1)
    exact = (logp.exp() * (logp - ref)).sum()
    (g_exact,) = torch.autograd.grad(exact, theta)
    # expectation of the surrogate's gradient, computed exactly by weighting each action by pi (b = 0)
    logp = torch.log_softmax(theta, -1)
    kl_hat = (logp - ref).detach()
    surrogate = (logp.exp().detach() * kl_hat * logp).sum()
    (g_sur,) = torch.autograd.grad(surrogate, theta)
    assert torch.allclose(g_exact, g_sur, atol=1e-6)
    # the reverse-KL gradient is different: the estimator is not the k3 pitfall
    reverse = (ref.exp() * (ref - torch.log_softmax(theta, -1))).sum()
    (g_rev,) = torch.autograd.grad(reverse, theta)
    assert not torch.allclose(g_rev, g_exact, atol=1e-3)


def _terms(**kw):
    seq1 = torch.tensor([-1.0, -2.5, -3.0, -4.25], requires_grad=True)
    seq2 = torch.tensor([-1.5, -2.0, -3.5, -5.5], requires_grad=True)
    args = dict(kl1=torch.tensor([0.2, 0.0, 0.4, 0.4]), kl2=torch.tensor([0.1, 0.3, 0.0, 0.0]),
                r1=torch.tensor([1.0, 0.0, 0.0, 0.0]), r2=torch.tensor([1.0, 1.0, 0.0, 1.0]))
    args.update(kw)
    return seq1, seq2, args


def _attempts(seq1, seq2, a):
    """The losses' per-attempt structures from the flat test inputs."""
    return losses.Attempt(seq1, a["kl1"], a["r1"]), losses.Attempt(seq2, a["kl2"], a["r2"])


def test_stage1_attempt1_gets_gradient_only_through_the_kl():
    seq1, seq2, a = _terms()
    out = losses.stage1_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, beta2=0.1)
    g1, g2 = torch.autograd.grad(out.loss, (seq1, seq2))
    # attempt 1: beta2 * RLOO-centred KL / B, nothing from rewards
    kl_adv = losses.rloo_advantages(a["kl1"], K)
    assert torch.allclose(g1, 0.1 * kl_adv / 4)
    # rewards (r1 or r2) do not reach attempt 1
    for r1, r2 in [(1 - a["r1"], a["r2"]), (a["r1"], 1 - a["r2"])]:
        out2 = losses.stage1_loss(*_attempts(seq1, seq2, {**a, "r1": r1, "r2": r2}), K, beta1=0.01, beta2=0.1)
        assert torch.allclose(torch.autograd.grad(out2.loss, seq1)[0], g1)
    # attempt 2: -A(r2) / B + beta1 * centred KL / B
    expect2 = -losses.rloo_advantages(a["r2"], K) / 4 + 0.01 * losses.rloo_advantages(a["kl2"], K) / 4
    assert torch.allclose(g2, expect2)


def test_stage2_bonus_sign_and_scale():
    seq1, seq2, a = _terms()
    alpha = 10.0
    out = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.0, alpha=alpha)
    g1, g2 = torch.autograd.grad(out.loss, (seq1, seq2))
    shaped = a["r2"] + alpha * (a["r2"] - a["r1"])  # [1, 11, 0, 11]
    assert torch.allclose(shaped, torch.tensor([1.0, 11.0, 0.0, 11.0]))
    assert torch.allclose(g2, -losses.rloo_advantages(shaped, K) / 4)
    assert torch.allclose(g1, -losses.rloo_advantages(a["r1"], K) / 4)  # attempt 1 unshaped
    # i->c episode (index 1) is pushed up (negative loss gradient), c->c partner (index 0) pushed down
    assert g2[1] < 0 < g2[0]
    # alpha = 0 recovers naive multi-turn RL
    naive = losses.naive_multiturn_loss(*_attempts(seq1, seq2, a), K, beta1=0.0)
    zero = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.0, alpha=0.0)
    assert naive.loss.item() == pytest.approx(zero.loss.item())
    assert out.terms["bonus"] == pytest.approx(alpha * (a["r2"] - a["r1"]).mean().item())


def test_naive_loss_hand_value():
    seq1, seq2, a = _terms()
    out = losses.naive_multiturn_loss(*_attempts(seq1, seq2, a), K, beta1=0.5)
    adv1, adv2 = losses.rloo_advantages(a["r1"], K), losses.rloo_advantages(a["r2"], K)
    kadv1, kadv2 = losses.rloo_advantages(a["kl1"], K), losses.rloo_advantages(a["kl2"], K)
    s1, s2 = seq1.detach(), seq2.detach()
    hand = (-(adv1 * s1) - adv2 * s2 + 0.5 * kadv1 * s1 + 0.5 * kadv2 * s2).mean()
    assert abs(hand.item()) > 0.1
    assert out.loss.item() == pytest.approx(hand.item())


def test_normalized_rloo_advantages_hand_values():
    # group [1, 0, 0]: RLOO [1, -1/2, -1/2], population std sqrt(1/2) -> [sqrt 2, -1/sqrt 2, -1/sqrt 2];
    # group [1, 1, 1]: all equal -> 0 (no NaN); group [3, 0, 0]: the same z-scores (scale-free)
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 3.0, 0.0, 0.0])
    a = losses.normalized_rloo_advantages(r, k=3)
    s2 = math.sqrt(2)
    expect = torch.tensor([s2, -1 / s2, -1 / s2, 0.0, 0.0, 0.0, s2, -1 / s2, -1 / s2])
    assert torch.allclose(a, expect, atol=1e-5)
    assert torch.isfinite(a).all()
    # equals the z-score of the returns within the group
    g = r.view(-1, 3)
    z = (g - g.mean(1, keepdim=True)) / (g.std(1, unbiased=False, keepdim=True) + 1e-6)
    assert torch.allclose(a, z.reshape(-1), atol=1e-5)
    with pytest.raises(ValueError):
        losses.normalized_rloo_advantages(r, k=4)


def test_normalized_losses_gradients_per_attempt():
    """With k = 2 a group of two different returns normalizes to [+1, -1]: gradients are hand-computable."""
    seq1, seq2, a = _terms()  # r1 = [1, 0 | 0, 0], r2 = [1, 1 | 0, 1]
    alpha = 10.0
    out = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.0, alpha=alpha, normalize=True)
    g1, g2 = torch.autograd.grad(out.loss, (seq1, seq2))
    # attempt 1: r1 groups [1, 0] -> [+1, -1], [0, 0] -> [0, 0] (all equal: zero, not NaN)
    assert torch.allclose(g1, -torch.tensor([1.0, -1.0, 0.0, 0.0]) / 4, atol=1e-5)
    # attempt 2: shaped [1, 11 | 0, 11] -> [-1, +1 | -1, +1], whatever alpha's size
    assert torch.allclose(g2, -torch.tensor([-1.0, 1.0, -1.0, 1.0]) / 4, atol=1e-5)
    small = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.0, alpha=2.0, normalize=True)
    assert torch.allclose(torch.autograd.grad(small.loss, seq2)[0], g2, atol=1e-5)
    # unnormalized, alpha scales attempt 2's gradient 11-fold against attempt 1's
    plain = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.0, alpha=alpha)
    p1, p2 = torch.autograd.grad(plain.loss, (seq1, seq2))
    assert p2.abs().max() / p1.abs().max() == pytest.approx(11.0)
    # per attempt: attempt 1's normalization ignores attempt 2's returns (a joint std would not)
    other = {**a, "r2": torch.tensor([0.0, 1.0, 1.0, 0.0])}
    g1b = torch.autograd.grad(losses.stage2_loss(*_attempts(seq1, seq2, other), K, beta1=0.0, alpha=alpha,
                                                 normalize=True).loss, seq1)[0]
    assert torch.allclose(g1b, g1)


def test_normalized_naive_and_stage1_keep_the_kl_unnormalized():
    seq1, seq2, a = _terms()
    out = losses.naive_multiturn_loss(*_attempts(seq1, seq2, a), K, beta1=0.5, normalize=True)
    g1, g2 = torch.autograd.grad(out.loss, (seq1, seq2))
    kadv1, kadv2 = losses.rloo_advantages(a["kl1"], K), losses.rloo_advantages(a["kl2"], K)
    assert torch.allclose(g1, (-torch.tensor([1.0, -1.0, 0.0, 0.0]) + 0.5 * kadv1) / 4, atol=1e-5)
    # r2 = [1, 1 | 0, 1] -> [0, 0 | -1, +1]
    assert torch.allclose(g2, (-torch.tensor([0.0, 0.0, -1.0, 1.0]) + 0.5 * kadv2) / 4, atol=1e-5)
    out = losses.stage1_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, beta2=0.1, normalize=True)
    g1, g2 = torch.autograd.grad(out.loss, (seq1, seq2))
    assert torch.allclose(g1, 0.1 * kadv1 / 4)  # attempt 1: the KL only, as without normalization
    assert torch.allclose(g2, (-torch.tensor([0.0, 0.0, -1.0, 1.0]) + 0.01 * kadv2) / 4, atol=1e-5)
    # all-equal rewards everywhere: zero policy gradient, finite
    flat = {**a, "r1": torch.ones(4), "r2": torch.zeros(4)}
    out = losses.stage2_loss(*_attempts(seq1, seq2, flat), K, beta1=0.0, alpha=10.0, normalize=True)
    g1, g2 = torch.autograd.grad(out.loss, (seq1, seq2))
    assert torch.equal(g1, torch.zeros(4)) and torch.equal(g2, torch.zeros(4)) and math.isfinite(out.loss.item())


def test_rl_loss_passes_the_profile_switch():
    from scoreutils.config import get_profile
    from scoreutils.train import rl_loss

    seq1, seq2, a = _terms()  # one group of k = 4: r2 = [1, 1, 0, 1]
    prof = get_profile("smoke", samples_per_problem=4, beta1=0.0)
    assert prof.normalize_advantages is False  # the default keeps plain RLOO
    for stage in ("naive", "stage1", "stage2"):
        plain = rl_loss(stage, *_attempts(seq1, seq2, a), prof)
        normed = rl_loss(stage, *_attempts(seq1, seq2, a), prof.replace(normalize_advantages=True))
        g_plain = torch.autograd.grad(plain.loss, seq2)[0]
        g_normed = torch.autograd.grad(normed.loss, seq2)[0]
        expect = (losses.normalized_rloo_advantages if stage != "stage2" else
                  lambda r, k: losses.normalized_rloo_advantages(r + prof.alpha * (r - a["r1"]), k))
        assert torch.allclose(g_normed, -expect(a["r2"], 4) / 4, atol=1e-5), stage
        assert not torch.allclose(g_plain, g_normed, atol=1e-3), stage


def test_sft_loss_uses_the_target_tokens_only():
    lp = torch.tensor([[-1.0, -2.0, -3.0, -4.0]])
    mask = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    assert losses.sft_loss(lp, mask).item() == pytest.approx(3.5)


def _episode(x1, y1, p, y2, r1=0.0, r2=1.0):
    prob = Problem("t/0", "q", "1", "test", "arithmetic")
    return Episode(prob, x1, y1, p, y2, "", "", False, False, r1, r2)


def test_collate_masks_come_from_spans_not_pad_ids():
    pad = 2
    e1 = _episode([5, 6, 7], [8, 2], [9, 10], [11, 2])  # attempts end with the pad (= end) token
    e2 = _episode([5, 6], [8], [9], [12, 13, 2])
    b = logprobs.collate([e1, e2], pad_id=pad)
    assert b.input_ids.shape == (2, 9)
    assert b.mask1[0].tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert b.mask2[0].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1]
    # e2 (7 tokens) is left-padded by 2
    assert b.attention_mask[1].tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert b.mask1[1].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert b.mask2[1].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert b.r1.tolist() == [0.0, 0.0] and b.r2.tolist() == [1.0, 1.0]


def test_single_pass_logprobs_equal_per_attempt_forwards(tiny_policy):
    model = tiny_policy.model
    torch.manual_seed(1)
    eps = [_episode([1, 20, 30, 40], [50, 60, 2], [70, 80], [90, 91, 92, 2]),
           _episode([1, 21], [51, 2], [71, 81, 82], [93, 2])]
    batch = logprobs.collate(eps, pad_id=2)
    with torch.no_grad():
        lp, seq1, seq2 = logprobs.attempt_logprobs(model, batch)
        for i, e in enumerate(eps):
            for ctx, target, got in [(e.x1_ids, e.y1_ids, seq1[i]), (e.x1_ids + e.y1_ids + e.p_ids, e.y2_ids, seq2[i])]:
                ids = torch.tensor([ctx + target])
                logits = model(input_ids=ids).logits[0, len(ctx) - 1:-1]
                ref = torch.log_softmax(logits.double(), -1).gather(-1, torch.tensor(target).unsqueeze(-1)).sum()
                assert got.item() == pytest.approx(ref.item(), abs=1e-4)
    # nothing outside the attempts
    outside = (batch.mask1 + batch.mask2) == 0
    assert torch.all(lp[outside] == 0)
    assert math.isfinite(lp.sum().item())


def test_collate_shared_prompt_layout():
    pad = 2
    e1 = _episode([5, 6, 7], [8, 2], [9, 10], [11, 2])
    e2 = _episode([5, 6, 7], [8], [9, 10], [12, 13, 2])  # same x1 as e1: one prompt row
    e3 = _episode([4, 5], [8, 2], [9], [14, 2])
    b = logprobs.collate([e1, e2, e3], pad_id=pad, share_prompt=True)
    assert b.prompt_ids.tolist() == [[5, 6, 7], [pad, 4, 5]]
    assert b.prompt_mask.tolist() == [[1, 1, 1], [0, 1, 1]]
    assert b.prompt_of.tolist() == [0, 0, 1]
    # the rest [y1, p, y2], right-padded
    assert b.input_ids[1].tolist() == [8, 9, 10, 12, 13, 2]
    assert b.attention_mask[0].tolist() == [1, 1, 1, 1, 1, 1] and b.attention_mask[2].tolist() == [1, 1, 1, 1, 1, 0]
    assert b.mask1[0].tolist() == [1, 1, 0, 0, 0, 0] and b.mask2[0].tolist() == [0, 0, 0, 0, 1, 1]
    assert b.mask1[2].tolist() == [1, 1, 0, 0, 0, 0] and b.mask2[2].tolist() == [0, 0, 0, 1, 1, 0]


def _grouped_episodes():
    """Two problems (x1 of different lengths), three samples each with attempts of different lengths."""
    out = []
    for x1 in ([1, 20, 30, 40, 41], [1, 21]):
        for j, (y1, y2) in enumerate((([50, 60, 2], [90, 2]), ([51, 2], [93, 94, 95, 2]), ([52, 61, 62, 63], [96]))):
            out.append(_episode(x1, y1, [70, 80, 81], y2, r1=float(j == 1), r2=float(j != 0)))
    return out


def _attempt_grads(policy, batch):
    for p in policy.trainable_parameters():
        p.grad = None
    _, seq1, seq2 = logprobs.attempt_logprobs(policy.model, batch)
    (-(seq1 * torch.arange(1.0, 7.0)).mean() - (seq2 * torch.arange(6.0, 0.0, -1)).mean()).backward()
    return seq1.detach(), seq2.detach(), torch.cat([p.grad.flatten() for p in policy.trainable_parameters()])


def test_shared_prompt_logprobs_and_gradients_equal_the_flat_layout(tiny_lora_policy):
    policy = tiny_lora_policy
    torch.manual_seed(3)
    with torch.no_grad():  # LoRA's B starts at zero; make the adapter matter
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    policy.model.train()
    eps = _grouped_episodes()
    flat = _attempt_grads(policy, logprobs.collate(eps, pad_id=2))
    shared = _attempt_grads(policy, logprobs.collate(eps, pad_id=2, share_prompt=True))
    assert torch.allclose(flat[0], shared[0], atol=1e-4) and torch.allclose(flat[1], shared[1], atol=1e-4)
    assert flat[2].norm() > 0
    assert torch.allclose(flat[2], shared[2], rtol=1e-3, atol=1e-6 * flat[2].abs().max().item())
    # the reference (adapter off) through the same layout
    with torch.no_grad(), policy.reference():
        ref_flat = logprobs.attempt_logprobs(policy.model, logprobs.collate(eps, pad_id=2))
        ref_shared = logprobs.attempt_logprobs(policy.model, logprobs.collate(eps, pad_id=2, share_prompt=True))
    assert torch.allclose(ref_flat[1], ref_shared[1], atol=1e-4) and torch.allclose(ref_flat[2], ref_shared[2], atol=1e-4)
    assert not torch.allclose(ref_flat[1], flat[0], atol=1e-3)  # the adapter changes the log-probs


def test_shared_prompt_refuses_activation_checkpointing(tiny_lora_policy):
    from scoreutils.train import enable_checkpointing

    assert logprobs.can_share_prompt(tiny_lora_policy.model)
    enable_checkpointing(tiny_lora_policy)
    tiny_lora_policy.model.train()
    assert not logprobs.can_share_prompt(tiny_lora_policy.model)
    with pytest.raises(ValueError, match="activation checkpointing"):
        logprobs.token_logprobs(tiny_lora_policy.model, logprobs.collate(_grouped_episodes(), pad_id=2, share_prompt=True))


def test_a_wrapped_model_runs_the_flat_layout_through_its_own_forward(tiny_lora_policy):
    """A wrapper such as DistributedDataParallel must be called as a whole (it syncs gradients in its forward)."""

    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, **kwargs):
            return self.module(**kwargs)

    wrapped = Wrapper(tiny_lora_policy.model)
    assert not logprobs.can_share_prompt(wrapped)
    eps = _grouped_episodes()
    with torch.no_grad():
        direct = logprobs.token_logprobs(tiny_lora_policy.model, logprobs.collate(eps, pad_id=2))
        through = logprobs.token_logprobs(wrapped, logprobs.collate(eps, pad_id=2))
    assert torch.allclose(direct, through, atol=1e-5) and (direct != 0).sum() == sum(
        len(e.y1_ids) + len(e.y2_ids) for e in eps)
    with pytest.raises(ValueError, match="wrapper"):
        logprobs.token_logprobs(wrapped, logprobs.collate(eps, pad_id=2, share_prompt=True))


def _direct_attempt_logprobs(model, eps, temperature):
    """Σ log softmax(logits / T) over each attempt's tokens, one plain forward per attempt (the reference)."""
    out = []
    for e in eps:
        row = []
        for ctx, target in [(e.x1_ids, e.y1_ids), (e.x1_ids + e.y1_ids + e.p_ids, e.y2_ids)]:
            logits = model(input_ids=torch.tensor([ctx + target])).logits[0, len(ctx) - 1:-1] / temperature
            row.append(torch.log_softmax(logits.float(), -1).gather(-1, torch.tensor(target).unsqueeze(-1)).sum())
        out.append(torch.stack(row))
    return torch.stack(out)  # (B, 2)


def test_logprobs_at_a_temperature_are_the_samplers_distribution_by_values_and_gradients(tiny_lora_policy):
    policy = tiny_lora_policy
    torch.manual_seed(5)
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    policy.model.train()
    eps, t = _grouped_episodes(), 0.4
    weights = torch.arange(1.0, 13.0).view(6, 2)  # any fixed weighting of the 12 attempt log-probs

    def grads(fn):
        for p in policy.trainable_parameters():
            p.grad = None
        vals = fn()
        (vals * weights).sum().backward()
        return vals.detach(), torch.cat([p.grad.flatten() for p in policy.trainable_parameters()])

    want = grads(lambda: _direct_attempt_logprobs(policy.model, eps, t))
    for share in (False, True):
        got = grads(lambda: torch.stack(logprobs.attempt_logprobs(
            policy.model, logprobs.collate(eps, pad_id=2, share_prompt=share), temperature=t)[1:], dim=1))
        assert torch.allclose(got[0], want[0], atol=1e-4), share
        assert torch.allclose(got[1], want[1], rtol=1e-3, atol=1e-6 * want[1].abs().max().item()), share
    untempered = grads(lambda: torch.stack(logprobs.attempt_logprobs(policy.model, logprobs.collate(eps, pad_id=2))[1:], 1))
    assert torch.allclose(untempered[0], _direct_attempt_logprobs(policy.model, eps, 1.0).detach(), atol=1e-4)
    assert not torch.allclose(untempered[0], want[0], atol=1e-2)  # the temperature changes the values
    with pytest.raises(ValueError, match="temperature must be > 0"):
        logprobs.token_logprobs(policy.model, logprobs.collate(eps, pad_id=2), temperature=0.0)



def test_stage2_with_attempt1_anchored_treats_attempt1_as_stage1_does():
    """Experiment (b): `anchor_beta` gives attempt 1 Stage I's terms (no reward, the strong KL); attempt 2 keeps
    Eq. 4's shaped reward."""
    seq1, seq2, a = _terms()
    anchored = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, alpha=10.0, anchor_beta=0.1)
    g1, g2 = torch.autograd.grad(anchored.loss, (seq1, seq2))
    assert torch.allclose(g1, 0.1 * losses.rloo_advantages(a["kl1"], K) / 4)
    stage1 = losses.stage1_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, beta2=0.1)
    assert torch.allclose(g1, torch.autograd.grad(stage1.loss, seq1)[0])
    for r1 in (a["r1"], 1 - a["r1"]):  # r1 reaches attempt 1 no more (it still shapes attempt 2's reward)
        other = losses.stage2_loss(*_attempts(seq1, seq2, {**a, "r1": r1}), K, beta1=0.01, alpha=10.0,
                                   anchor_beta=0.1)
        assert torch.allclose(torch.autograd.grad(other.loss, seq1)[0], g1)
    plain = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, alpha=10.0)
    p1, p2 = torch.autograd.grad(plain.loss, (seq1, seq2))
    assert torch.allclose(g2, p2) and not torch.allclose(g1, p1)
    assert anchored.terms["pg/attempt1"] == 0.0 and anchored.terms["bonus"] == plain.terms["bonus"]


def test_progress_returns_and_gradients_by_hand():
    """Experiment (d): G1 = r1 + γ (r2 − r1), G2 = r2 − r1; each attempt's gradient is −A(G)/B plus its KL."""
    seq1, seq2, a = _terms()  # r1 = [1, 0 | 0, 0], r2 = [1, 1 | 0, 1]
    g1_ret, g2_ret = losses.progress_returns(a["r1"], a["r2"], 0.5)
    assert torch.equal(g2_ret, torch.tensor([0.0, 1.0, 0.0, 1.0]))  # c->c earns attempt 2 nothing, i->c 1
    assert torch.equal(g1_ret, torch.tensor([1.0, 0.5, 0.0, 0.5]))
    out = losses.progress_loss(*_attempts(seq1, seq2, a), K, beta1=0.5, gamma=0.5)
    g1, g2 = torch.autograd.grad(out.loss, (seq1, seq2))
    kadv1, kadv2 = losses.rloo_advantages(a["kl1"], K), losses.rloo_advantages(a["kl2"], K)
    # group 1: G1 [1, .5] -> A [.5, -.5]; group 2: G1 [0, .5] -> [-.5, .5]; G2 [0, 1 | 0, 1] -> [-1, 1 | -1, 1]
    assert torch.allclose(g1, (-torch.tensor([0.5, -0.5, -0.5, 0.5]) + 0.5 * kadv1) / 4)
    assert torch.allclose(g2, (-torch.tensor([-1.0, 1.0, -1.0, 1.0]) + 0.5 * kadv2) / 4)
    # gamma = 0: attempt 1 is paid its own reward, as in Eq. 4
    zero = losses.progress_loss(*_attempts(seq1, seq2, a), K, beta1=0.5, gamma=0.0)
    eq4 = losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.5, alpha=10.0)
    assert torch.allclose(torch.autograd.grad(zero.loss, seq1)[0], torch.autograd.grad(eq4.loss, seq1)[0])
    # a break (c->i) is pushed down at attempt 2, whatever gamma
    brk = {**a, "r1": torch.tensor([1.0, 1.0, 0.0, 0.0]), "r2": torch.tensor([1.0, 0.0, 0.0, 0.0])}
    gb = torch.autograd.grad(losses.progress_loss(*_attempts(seq1, seq2, brk), K, beta1=0.0, gamma=1.0).loss, seq2)[0]
    assert gb[1] > 0 > gb[0]  # the loss rises with the break's log-prob: gradient descent lowers it
    anchored = losses.progress_loss(*_attempts(seq1, seq2, a), K, beta1=0.5, gamma=0.5, anchor_beta=0.1)
    assert torch.allclose(torch.autograd.grad(anchored.loss, seq1)[0], 0.1 * kadv1 / 4)


def test_progress_loss_gradient_in_expectation_is_the_returns_gradient():
    """Enumerate a two-attempt policy, attempt 1 right with prob sigmoid(t0), attempt 2 right with prob
    sigmoid(t1 + t2 r1) (it depends on attempt 1), and every pair of episodes of one group (k = 2): the
    expected gradient of `progress_loss` is -(d/dt0 E[G1], d/dt1,t2 E[G2]); at gamma = 1, -grad E[r2] itself
    (the progress sums to the final outcome)."""
    theta = torch.tensor([0.3, -0.4, 0.8], requires_grad=True)

    def p_right(attempt: int, r1: float) -> torch.Tensor:
        return torch.sigmoid(theta[0] if attempt == 1 else theta[1] + theta[2] * r1)

    def logp(attempt: int, r: float, r1: float) -> torch.Tensor:
        q = p_right(attempt, r1)
        return torch.log(q if r else 1 - q)

    outcomes = [(r1, r2) for r1 in (0.0, 1.0) for r2 in (0.0, 1.0)]
    prob = {o: (logp(1, o[0], 0.0) + logp(2, o[1], o[0])).exp() for o in outcomes}
    for gamma in (0.5, 1.0):
        expected = torch.zeros(3)
        for pair in [(a, b) for a in outcomes for b in outcomes]:
            r1, r2 = (torch.tensor([o[i] for o in pair]) for i in (0, 1))
            seq1 = torch.stack([logp(1, o[0], 0.0) for o in pair])
            seq2 = torch.stack([logp(2, o[1], o[0]) for o in pair])
            out = losses.progress_loss(losses.Attempt(seq1, torch.zeros(2), r1), losses.Attempt(seq2, torch.zeros(2), r2),
                                       2, beta1=0.0, gamma=gamma)
            weight = (prob[pair[0]] * prob[pair[1]]).detach()
            expected += weight * torch.autograd.grad(out.loss, theta)[0]
        e_g1 = sum(prob[o] * (o[0] + gamma * (o[1] - o[0])) for o in outcomes)
        e_g2 = sum(prob[o] * (o[1] - o[0]) for o in outcomes)
        target = torch.cat([torch.autograd.grad(e_g1, theta, retain_graph=True)[0][:1],
                            torch.autograd.grad(e_g2, theta, retain_graph=True)[0][1:]])
        assert torch.allclose(expected, -target, atol=1e-6), gamma
        if gamma == 1.0:
            e_r2 = sum(prob[o] * o[1] for o in outcomes)
            assert torch.allclose(expected, -torch.autograd.grad(e_r2, theta, retain_graph=True)[0], atol=1e-6)


def test_rl_loss_dispatches_the_stage2_experiments():
    from scoreutils.config import get_profile
    from scoreutils.train import rl_loss

    seq1, seq2, a = _terms()
    prof = get_profile("smoke", samples_per_problem=2, beta1=0.01, beta2=0.1, alpha=10.0)
    cases = {("bonus", "reward"): losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, alpha=10.0),
             ("bonus", "anchor"): losses.stage2_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, alpha=10.0,
                                                     anchor_beta=0.1),
             ("progress", "reward"): losses.progress_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, gamma=0.5),
             ("progress", "anchor"): losses.progress_loss(*_attempts(seq1, seq2, a), K, beta1=0.01, gamma=0.5,
                                                          anchor_beta=0.1)}
    values = set()
    for (reward, turn1), want in cases.items():
        got = rl_loss("stage2", *_attempts(seq1, seq2, a), prof.replace(stage2_reward=reward, stage2_turn1=turn1))
        assert got.loss.item() == pytest.approx(want.loss.item()), (reward, turn1)
        values.add(round(got.loss.item(), 6))
        # Stage I and naive RL read none of Stage II's fields
        for stage in ("stage1", "naive"):
            assert rl_loss(stage, *_attempts(seq1, seq2, a), prof.replace(stage2_reward=reward, stage2_turn1=turn1)
                           ).loss.item() == pytest.approx(rl_loss(stage, *_attempts(seq1, seq2, a), prof).loss.item())
    assert len(values) == 4  # four different losses: each switch is live
