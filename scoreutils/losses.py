"""Losses: the paper's equations and their estimators, one function per equation: the KL penalty, REINFORCE
with a leave-one-out (RLOO) baseline, naive multi-turn RL, Stage I (Eq. 3), Stage II (Eq. 4), one Stage II
variant (the progress reward) and SFT. Each takes log-probs and rewards as tensors (`logprobs.py` computes
them from a model); nothing here runs a model or samples.

Notation (docs/paper.md#notation): x1 the problem prompt, y1 attempt 1, p the fixed instruction, y2 attempt 2,
r_i = r(y_i, y*) in {0, 1}, pi the policy (LoRA on), pi_ref the base model (adapter off).

KL estimator. Per attempt we estimate the forward KL(pi || pi_ref) of the whole attempt, summed over
its tokens, by the sampled log-ratio  KL_hat(y) = sum_t [log pi(y_t|s_t) - log pi_ref(y_t|s_t)]  (the
"k1" estimator: unbiased because y ~ pi). Its gradient is taken by the score function,
    grad KL = E_{y~pi}[ (KL_hat(y) - b) * grad log pi(y) ]   (E[grad log pi] = 0),
which is exact in expectation (tests/test_losses.py enumerates a small categorical to check). We do not
use the popular "k3" estimator as a loss: differentiated directly it gives the gradient of the reverse
KL(pi_ref || pi), a pitfall in docs/paper.md#pitfalls. The KL is a sum over tokens, never a mean over the
vocabulary. Folding -beta*KL_hat into the return of REINFORCE is the same thing written as one term.

Shapes: B episodes (k consecutive samples per problem), T tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def kl_per_attempt(logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """KL_hat(y) = sum_t mask_t (log pi - log pi_ref): the k1 estimate of KL(pi || pi_ref) for one attempt,
    summed over its tokens. (B,), detached: its gradient is taken by `kl_penalty`."""
    return ((logp - ref_logp) * mask).sum(-1).detach()


def rloo_advantages(returns: torch.Tensor, k: int) -> torch.Tensor:
    """A_i = R_i - mean_{j != i} R_j within each group of k consecutive samples of one problem.

    The baseline excludes the sample itself, so it is independent of it and the estimate unbiased.
    """
    if k < 2:
        raise ValueError("RLOO needs k >= 2 samples per problem")
    if returns.shape[0] % k:
        raise ValueError(f"batch of {returns.shape[0]} is not a whole number of groups of k={k}")
    g = returns.view(-1, k)
    baseline = (g.sum(dim=1, keepdim=True) - g) / (k - 1)
    return (g - baseline).reshape(-1)


def normalized_rloo_advantages(returns: torch.Tensor, k: int, eps: float = 1e-6) -> torch.Tensor:
    """The RLOO advantage divided by the standard deviation (population, over the k samples) of the
    group's advantages, plus eps: A_i / (std_group(A) + eps), which equals (R_i - mean R) / std R of the
    group, the z-score of the return.

    Per group rather than per batch: a training step is split into micro-batches holding whole groups, so a
    group statistic is the same however the step is split. Called once per attempt, so each attempt's
    advantages are normalized separately (a bonus that scales attempt 2's returns by alpha no longer scales
    its gradient against attempt 1's). A group whose returns are all equal has zero advantage, not NaN. The
    division by a statistic of the sample itself gives up RLOO's unbiasedness for a scale-free step.
    """
    adv = rloo_advantages(returns, k).view(-1, k)
    std = adv.std(dim=1, unbiased=False, keepdim=True)
    return (adv / (std + eps)).reshape(-1)


def reinforce(seq_logp: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """Policy-gradient surrogate -mean_i A_i log pi(y_i): its gradient is -E[A grad log pi]."""
    return -(advantages.detach() * seq_logp).mean()


def kl_penalty(seq_logp: torch.Tensor, kl: torch.Tensor, k: int) -> torch.Tensor:
    """Surrogate whose gradient is grad KL(pi || pi_ref) of an attempt: mean_i (KL_hat_i - b_i) log pi(y_i),
    with the leave-one-out baseline b_i. Its value is not the KL (log that from `kl_per_attempt`)."""
    return (rloo_advantages(kl, k).detach() * seq_logp).mean()


@dataclass
class Attempt:
    """What the losses need of one attempt i over a batch of B episodes, each (B,):
    `logp` = log pi(y_i | x_i) summed over the attempt's tokens (carries the gradient),
    `kl` = KL_hat(y_i) from `kl_per_attempt` (detached), `reward` = r(y_i, y*) in {0, 1}."""

    logp: torch.Tensor
    kl: torch.Tensor
    reward: torch.Tensor


@dataclass
class LossParts:
    """The loss and the named terms it is made of, under the training log's keys (`train.LOG_KEYS`)."""

    loss: torch.Tensor
    terms: dict[str, float]


def naive_multiturn_loss(a1: Attempt, a2: Attempt, k: int, beta1: float, normalize: bool = False) -> LossParts:
    """Naive multi-turn RL: max E[ sum_{i=1,2} r(y_i, y*) - beta1 KL(pi || pi_ref)(x_i) ].

    Each attempt is rewarded by its own correctness (discount gamma = 0), beta1 KL on both.
    `normalize`: each attempt's policy-gradient advantages by `normalized_rloo_advantages` (the KL terms
    never: they are the KL's gradient), in this loss and the two below.
    """
    adv = normalized_rloo_advantages if normalize else rloo_advantages
    pg_attempt1 = reinforce(a1.logp, adv(a1.reward, k))
    pg_attempt2 = reinforce(a2.logp, adv(a2.reward, k))
    kl_attempt1 = beta1 * kl_penalty(a1.logp, a1.kl, k)
    kl_attempt2 = beta1 * kl_penalty(a2.logp, a2.kl, k)
    loss = pg_attempt1 + pg_attempt2 + kl_attempt1 + kl_attempt2
    return LossParts(loss, {"pg/attempt1": pg_attempt1.item(), "pg/attempt2": pg_attempt2.item()})


def stage1_loss(a1: Attempt, a2: Attempt, k: int, beta1: float, beta2: float, normalize: bool = False) -> LossParts:
    """Stage I, Eq. 3: max E[ r(y2, y*) - beta2 KL(pi || pi_ref)(x1) ]  (+ beta1 KL on attempt 2).

    Only attempt 2 is rewarded. Attempt 1 gets no policy-gradient term: its log-probs receive gradient
    only through the strong beta2 KL, which pins it to the base model. a1.reward is unused on purpose.
    """
    adv = normalized_rloo_advantages if normalize else rloo_advantages
    pg_attempt2 = reinforce(a2.logp, adv(a2.reward, k))
    kl_attempt1 = beta2 * kl_penalty(a1.logp, a1.kl, k)
    kl_attempt2 = beta1 * kl_penalty(a2.logp, a2.kl, k)
    loss = pg_attempt2 + kl_attempt1 + kl_attempt2
    return LossParts(loss, {"pg/attempt1": 0.0, "pg/attempt2": pg_attempt2.item()})


def stage2_loss(a1: Attempt, a2: Attempt, k: int, beta1: float, alpha: float, normalize: bool = False,
                anchor_beta: float | None = None) -> LossParts:
    """Stage II, Eq. 4: max E[ sum_{i=1,2} r_hat(y_i, y*) - beta1 KL(pi || pi_ref)(x_i) ],
    with attempt 2's reward shaped by the bonus b = alpha (r(y2) - r(y1)), alpha > 1.

    Attempt 1 keeps its own reward, unshaped. The bonus pays for i->c (+alpha) and punishes c->i (-alpha).
    `anchor_beta` (an experiment, not Eq. 4): attempt 1 as in Stage I instead, no policy-gradient term and
    its KL weighted by `anchor_beta`, so that Stage II can change attempt 2 only.
    """
    bonus = alpha * (a2.reward - a1.reward)
    adv = normalized_rloo_advantages if normalize else rloo_advantages
    pg_attempt1, kl_attempt1 = _stage2_attempt1(a1, a1.reward, k, beta1, anchor_beta, adv)
    pg_attempt2 = reinforce(a2.logp, adv(a2.reward + bonus, k))
    kl_attempt2 = beta1 * kl_penalty(a2.logp, a2.kl, k)
    loss = pg_attempt1 + pg_attempt2 + kl_attempt1 + kl_attempt2
    return LossParts(loss, {"pg/attempt1": pg_attempt1.item(), "pg/attempt2": pg_attempt2.item(),
                            "bonus": bonus.mean().item()})


def _stage2_attempt1(a1: Attempt, returns: torch.Tensor, k: int, beta1: float, anchor_beta: float | None,
                     adv) -> tuple[torch.Tensor, torch.Tensor]:
    """Attempt 1's policy-gradient and KL terms in Stage II: paid `returns` with beta1 KL; or, with an
    `anchor_beta`, as in Stage I: no policy gradient and `anchor_beta` KL."""
    if anchor_beta is not None:
        return a1.logp.new_zeros(()), anchor_beta * kl_penalty(a1.logp, a1.kl, k)
    return reinforce(a1.logp, adv(returns, k)), beta1 * kl_penalty(a1.logp, a1.kl, k)


def progress_returns(r1: torch.Tensor, r2: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The returns of the progress reward: turn 1 earns u1 = r1, turn 2 its progress u2 = r2 - r1, and each
    attempt's return is the discounted sum from it on, G1 = u1 + gamma u2 and G2 = u2.

    >>> g1, g2 = progress_returns(torch.tensor([0., 1., 1., 0.]), torch.tensor([1., 0., 1., 0.]), 0.5)
    >>> g1.tolist(), g2.tolist()
    ([0.5, 0.5, 1.0, 0.0], [1.0, -1.0, 0.0, 0.0])
    """
    progress = r2 - r1
    return r1 + gamma * progress, progress


def progress_loss(a1: Attempt, a2: Attempt, k: int, beta1: float, gamma: float, normalize: bool = False,
                  anchor_beta: float | None = None) -> LossParts:
    """A Stage II variant, not the paper's: max E[ G1 + G2 - beta1 sum_i KL(pi || pi_ref)(x_i) ] with the
    returns of `progress_returns`, as in reward designs that pay each turn's improvement and accumulate it
    with a discount (e.g. CoCoS, arXiv 2505.23060; this is the kit's form of the idea, not theirs).

    Against Eq. 4: attempt 2 is paid its change of outcome alone (i->c +1, c->i -1, c->c and i->i 0), so
    staying right earns attempt 2 nothing; attempt 1 is paid (1 - gamma) r1 + gamma r2, a share of the
    final outcome. gamma = 0 pays attempt 1 its own reward, as Eq. 4 does. `anchor_beta` as in `stage2_loss`.
    """
    g1, g2 = progress_returns(a1.reward, a2.reward, gamma)
    adv = normalized_rloo_advantages if normalize else rloo_advantages
    pg_attempt1, kl_attempt1 = _stage2_attempt1(a1, g1, k, beta1, anchor_beta, adv)
    pg_attempt2 = reinforce(a2.logp, adv(g2, k))
    kl_attempt2 = beta1 * kl_penalty(a2.logp, a2.kl, k)
    loss = pg_attempt1 + pg_attempt2 + kl_attempt1 + kl_attempt2
    return LossParts(loss, {"pg/attempt1": pg_attempt1.item(), "pg/attempt2": pg_attempt2.item(),
                            "bonus": 0.0})


def sft_loss(logp: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Supervised fine-tuning on the target attempt only: -mean over its tokens of log pi(y_t | s_t).

    For STaR / Pair-SFT the target is attempt 2 (y+ after y-): `target_mask` = the batch's mask2.
    """
    return -(logp * target_mask).sum() / target_mask.sum().clamp(min=1)
