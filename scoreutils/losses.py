"""Losses: token log-probs of both attempts from one forward pass, the KL penalty, REINFORCE with a
leave-one-out (RLOO) baseline, and the objectives of the paper, one function per equation.

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
from typing import Any, Sequence

import torch


@dataclass
class Batch:
    """Left-padded token ids of [x1, y1, p, y2] and the masks of each attempt's tokens. All (B, T)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mask1: torch.Tensor
    mask2: torch.Tensor
    r1: torch.Tensor  # (B,)
    r2: torch.Tensor  # (B,)

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.mask1, self.mask2,
                                               self.r1, self.r2)))


def collate(episodes: Sequence[Any], pad_id: int) -> Batch:
    """Episodes -> Batch. Masks come from each attempt's span (lengths), never from pad ids: SmolLM2's
    pad token is its end token, which attempt 1 must keep and be trained on."""
    width = max(len(e.ids) for e in episodes)
    b = len(episodes)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    att, m1, m2 = (torch.zeros((b, width), dtype=torch.float32) for _ in range(3))
    for i, e in enumerate(episodes):
        seq = e.ids
        off = width - len(seq)
        ids[i, off:] = torch.tensor(seq, dtype=torch.long)
        att[i, off:] = 1
        (a, c), (d, f) = e.attempt1_span, e.attempt2_span
        m1[i, off + a:off + c] = 1
        m2[i, off + d:off + f] = 1
    r1 = torch.tensor([float(e.r1 or 0.0) for e in episodes])
    r2 = torch.tensor([float(e.r2 or 0.0) for e in episodes])
    return Batch(ids, att.long(), m1, m2, r1, r2)


def token_logprobs(model: Any, batch: Batch, chunk: int = 64) -> torch.Tensor:
    """log pi(ids_t | ids_<t) at every attempt token, from ONE forward pass over [x1, y1, p, y2].

    Returns (B, T), zero outside mask1 | mask2. Only positions from the first attempt token onwards get
    logits (`logits_to_keep`), and log-softmax is never formed over the whole batch: the token's logit
    minus a logsumexp computed `chunk` positions at a time, so one (B, T, V) tensor at most exists.
    """
    ids, att = batch.input_ids, batch.attention_mask
    wanted = (batch.mask1 + batch.mask2) > 0  # (B, T)
    first = int(wanted.float().argmax(dim=1).min().item())  # earliest attempt token in the batch
    keep = ids.shape[1] - first + 1  # logits at positions first-1 .. T-1 predict tokens first .. T
    position_ids = (att.cumsum(-1) - 1).clamp(min=0)  # generation's positions under left padding
    logits = model(input_ids=ids, attention_mask=att, position_ids=position_ids, logits_to_keep=keep).logits
    logits = logits[:, :-1]  # (B, keep-1, V): predictions for tokens first .. T-1
    targets = ids[:, first:]  # (B, keep-1)
    picked = []
    for s in range(0, targets.shape[1], chunk):
        lg = logits[:, s:s + chunk].float()
        tgt = targets[:, s:s + chunk]
        picked.append(lg.gather(-1, tgt.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(lg, dim=-1))
    out = torch.zeros(ids.shape, dtype=torch.float32, device=ids.device)
    out[:, first:] = torch.cat(picked, dim=1)
    return out * wanted


def attempt_logprobs(model: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(token log-probs (B, T), log pi(y1|x1) (B,), log pi(y2|x2) (B,)) from one forward pass."""
    lp = token_logprobs(model, batch)
    return lp, (lp * batch.mask1).sum(-1), (lp * batch.mask2).sum(-1)


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


def stage2_loss(a1: Attempt, a2: Attempt, k: int, beta1: float, alpha: float, normalize: bool = False) -> LossParts:
    """Stage II, Eq. 4: max E[ sum_{i=1,2} r_hat(y_i, y*) - beta1 KL(pi || pi_ref)(x_i) ],
    with attempt 2's reward shaped by the bonus b = alpha (r(y2) - r(y1)), alpha > 1.

    Attempt 1 keeps its own reward, unshaped. The bonus pays for i->c (+alpha) and punishes c->i (-alpha).
    """
    bonus = alpha * (a2.reward - a1.reward)
    adv = normalized_rloo_advantages if normalize else rloo_advantages
    pg_attempt1 = reinforce(a1.logp, adv(a1.reward, k))
    pg_attempt2 = reinforce(a2.logp, adv(a2.reward + bonus, k))
    kl_attempt1 = beta1 * kl_penalty(a1.logp, a1.kl, k)
    kl_attempt2 = beta1 * kl_penalty(a2.logp, a2.kl, k)
    loss = pg_attempt1 + pg_attempt2 + kl_attempt1 + kl_attempt2
    return LossParts(loss, {"pg/attempt1": pg_attempt1.item(), "pg/attempt2": pg_attempt2.item(),
                            "bonus": bonus.mean().item()})


def sft_loss(logp: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Supervised fine-tuning on the target attempt only: -mean over its tokens of log pi(y_t | s_t).

    For STaR / Pair-SFT the target is attempt 2 (y+ after y-): `target_mask` = the batch's mask2.
    """
    return -(logp * target_mask).sum() / target_mask.sum().clamp(min=1)
