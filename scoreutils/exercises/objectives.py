"""Exercises on the objectives (lessons 04 to 06): returns with a discount, the RLOO baseline, the k1 KL
estimate, the k1/k3 gradients on an enumerated categorical, the Stage I loss (Eq. 3), the shaped reward
and the Stage II loss (Eq. 4). Losses are checked by their gradients w.r.t. each attempt's log-prob,
against `losses.py`; the core checkers run the student's function with `losses` off limits
(`no_delegation`) and name the common mistake a wrong answer matches (`RLOO_MISTAKES`, `KL_MISTAKES`,
`STAGE1_MISTAKES`, `STAGE2_MISTAKES`). Not here: training."""
from __future__ import annotations

import math
import random
from typing import Any, Callable, Mapping

import torch

from .. import losses
from ._harness import Mistakes, close, compare, loss_and_grads, no_delegation, run, show


# --- 04 warm-up: the return of each attempt -----------------------------------------------------------

def _returns(r1: Any, r2: Any, gamma: float) -> tuple[Any, Any]:
    return r1 + gamma * r2, r2


def check_returns(fn: Callable[[Any, Any, float], tuple[Any, Any]]) -> bool:
    """fn(r1, r2, gamma) -> (R1, R2): the discounted return credited to each attempt of a two-attempt
    episode, R_t = sum over later attempts s >= t of gamma^(s - t) r_s. Floats or (B,) tensors. The paper
    uses gamma = 0: each attempt is credited with its own reward only."""
    cases = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.5), (0.0, 1.0, 0.9)]
    gen = torch.Generator().manual_seed(15)
    cases += [(torch.randint(0, 2, (5,), generator=gen).float(), torch.randint(0, 2, (5,), generator=gen).float(),
               g) for g in (0.0, 0.3, 1.0)]
    return run("returns", cases, compare("returns", fn, _returns, close(1e-9)))


# --- 04 core: RLOO ------------------------------------------------------------------------------------

def check_rloo(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """fn(returns [n], k) -> advantages [n]: A_i = R_i - (mean of R_j over the OTHER samples j of i's group),
    groups being k consecutive samples of one problem. Compared with `losses.rloo_advantages` within 1e-6."""
    cases = [(torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0]), 3), (torch.tensor([1.0, 0.0]), 2),
             (torch.tensor([0.5, -1.0, 2.0, 3.0]), 4), (torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0]), 2)]
    gen = torch.Generator().manual_seed(3)
    for i in range(20):
        k, groups = int(torch.randint(2, 6, (1,), generator=gen)), int(torch.randint(1, 5, (1,), generator=gen))
        n = k * groups
        returns = (torch.rand(n, generator=gen) < 0.5).float() if i % 2 else 2 * torch.randn(n, generator=gen)
        cases.append((returns, k))
    return run("rloo", cases, compare("rloo", no_delegation(fn, losses), losses.rloo_advantages, close(1e-6),
                                      RLOO_MISTAKES))


def _loo(returns: torch.Tensor, k: int, divide_by: int | None = None) -> torch.Tensor:
    g = returns.view(-1, k)
    return (g - (g.sum(1, keepdim=True) - g) / (divide_by or k - 1)).reshape(-1)


def _strided_loo(returns: torch.Tensor, k: int) -> torch.Tensor:
    g = returns.view(k, -1)  # sample i in group i % (n / k)
    return (g - (g.sum(0, keepdim=True) - g) / (k - 1)).reshape(-1)


RLOO_MISTAKES: Mistakes = [
    ("the baseline includes the sample itself (the group mean); leave it out: divide the OTHER k - 1 returns' "
     "sum by k - 1", lambda r, k: (r.view(-1, k) - r.view(-1, k).mean(1, keepdim=True)).reshape(-1)),
    ("no baseline (A_i = R_i)", lambda r, k: r.clone()),
    ("the sign is flipped (A_i = R_i - b_i, not b_i - R_i)", lambda r, k: -_loo(r, k)),
    ("the others' sum divided by k; they are k - 1", lambda r, k: _loo(r, k, divide_by=k)),
    ("the baseline averages the whole batch; use only the other samples of i's own group of k",
     lambda r, k: r - (r.sum() - r) / (r.numel() - 1)),
    ("groups taken as every (n/k)-th sample; a group is k CONSECUTIVE samples", _strided_loo),
]
"""The RLOO exercise's common wrong answers, named in its hint."""


# --- 05 core: the k1 estimate of an attempt's KL -----------------------------------------------------

def check_kl_k1(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """fn(logp, ref_logp, mask) -> (B,): the k1 estimate of KL(pi || pi_ref) of each sampled attempt,
    the sum over the attempt's tokens (mask == 1) of log pi(y_t) - log pi_ref(y_t). logp, ref_logp, mask:
    (B, T). Compared with `losses.kl_per_attempt` within 1e-6 (gradients aside)."""
    gen = torch.Generator().manual_seed(16)
    cases = []
    for b, t in [(1, 3), (2, 5), (3, 8), (4, 6), (2, 12)]:
        logp, ref = (-3 * torch.rand(b, t, generator=gen, dtype=torch.float64) for _ in range(2))
        mask = (torch.rand(b, t, generator=gen) < 0.7).double()
        mask[0, 0] = 0.0
        cases.append((logp, ref, mask))
    return run("kl_k1", cases, compare("kl_k1", no_delegation(fn, losses), lambda lp, ref, m: losses.kl_per_attempt(lp, ref, m),
                                       close(1e-6), KL_MISTAKES),
               lambda args: f"kl_k1 on logp of shape {tuple(args[0].shape)}")


KL_MISTAKES: Mistakes = [
    ("a mean over the tokens; the estimate is their SUM", lambda lp, ref, m: ((lp - ref) * m).sum(-1) / m.sum(-1).clamp(min=1)),
    ("the sign is reversed: log pi - log pi_ref, in that order", lambda lp, ref, m: ((ref - lp) * m).sum(-1)),
    ("the mask is ignored: only the attempt's own tokens (mask == 1) count", lambda lp, ref, m: (lp - ref).sum(-1)),
    ("one number for the batch; return one estimate per attempt, shape (B,)", lambda lp, ref, m: ((lp - ref) * m).sum()),
    ("one number for the batch (a mean); return one estimate per attempt, shape (B,)",
     lambda lp, ref, m: ((lp - ref) * m).sum(-1).mean()),
]
"""The k1 exercise's common wrong answers, named in its hint."""


# --- 05 experiment: k1 and k3 on an enumerated categorical -------------------------------------------

def _kl_gradients(logits: torch.Tensor, ref_logp: torch.Tensor) -> dict[str, torch.Tensor]:
    """The exact gradients w.r.t. the logits of KL(pi || pi_ref) and of the reverse KL(pi_ref || pi)."""
    theta = logits.detach().double().requires_grad_(True)
    logp, ref = torch.log_softmax(theta, -1), ref_logp.double()
    forward = (logp.exp() * (logp - ref)).sum()
    reverse = (ref.exp() * (ref - logp)).sum()
    return {"forward": torch.autograd.grad(forward, theta, retain_graph=True)[0],
            "reverse": torch.autograd.grad(reverse, theta)[0]}


def check_kl_gradients(fn: Callable[[torch.Tensor, torch.Tensor], Mapping[str, torch.Tensor]]) -> bool:
    """fn(logits (V,), ref_logp (V,)) -> {"exact", "k1", "k3"}: three gradients w.r.t. the logits of a
    categorical pi = softmax(logits), each (V,), computed by enumerating every outcome y, weighted by pi(y):
    "exact": of KL(pi || pi_ref) = sum_y pi(y) (log pi(y) - log pi_ref(y)), by autograd;
    "k1": the expected score-function gradient of the k1 estimate, sum_y pi(y) k1(y) grad log pi(y),
          k1(y) = log pi(y) - log pi_ref(y) held constant;
    "k3": the expected gradient of the k3 estimate differentiated directly, sum_y pi(y) grad k3(y) with
          pi(y) held constant, k3(y) = (rho - 1) - log rho, rho = pi_ref(y) / pi(y).
    "exact" and "k1" must equal the forward KL's gradient; "k3" must equal the REVERSE KL(pi_ref || pi)'s."""
    gen = torch.Generator().manual_seed(17)
    cases = [(2 * torch.randn(v, generator=gen, dtype=torch.float64),
              torch.log_softmax(2 * torch.randn(v, generator=gen, dtype=torch.float64), -1)) for v in (2, 3, 5, 8, 5)]
    same = close(1e-6)
    hints = {"exact": "autograd of sum_y pi(y) (log pi(y) - log pi_ref(y))",
             "k1": "multiply k1(y) (detached) by log pi(y) and weight by pi(y) (detached): differentiating k1's "
                   "value instead gives sum_y pi(y) grad log pi(y) = 0",
             "k3": "differentiate k3(y) itself, weights pi(y) detached"}

    def check(args: tuple) -> str | None:
        want = _kl_gradients(*args)
        got = fn(*(a.clone() for a in args))
        if not isinstance(got, Mapping) or not {"exact", "k1", "k3"} <= set(got):
            return f"return a dict with keys 'exact', 'k1', 'k3'; got {show(got)}"
        for key, target in (("exact", "forward"), ("k1", "forward"), ("k3", "reverse")):
            if not same(got[key], want[target]):
                return (f"{key!r} with V={args[0].numel()}: expected {show(want[target])} (the gradient of the "
                        f"{target} KL), got {show(got[key])}; {hints[key]}")
        return None

    return run("kl_gradients", cases, check, lambda args: f"kl_gradients with V={args[0].numel()}")


# --- 05 core: Stage I loss ----------------------------------------------------------------------------

def _loss_case(gen: torch.Generator, k: int, groups: int, beta: float, extra: float) -> tuple:
    """Random float64 inputs of a two-attempt loss; r1 and r2 mix 0 and 1 in the first group, so that
    rewarding the wrong attempt (or shaping the wrong way) shows in every case."""
    b = k * groups
    seq1, seq2 = (-10 * torch.rand(b, generator=gen, dtype=torch.float64) for _ in range(2))
    kl1, kl2 = (0.3 + 0.5 * torch.randn(b, generator=gen, dtype=torch.float64) for _ in range(2))
    r1, r2 = ((torch.rand(b, generator=gen) < 0.5).double() for _ in range(2))
    r1[:2], r2[:2] = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0])
    return seq1, seq2, kl1, kl2, r1, r2, k, beta, extra


def _loss_cases(seed: int, extra_range: tuple[float, float]) -> list[tuple]:
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)
    cases = [_loss_case(gen, 2, 2, 0.01, extra_range[0] + 0.1), _loss_case(gen, 2, 3, 0.0, 0.0),
             _loss_case(gen, 4, 1, 0.01, extra_range[1]), _loss_case(gen, 3, 2, 0.5, 0.0)]
    return cases + [_loss_case(gen, rng.randint(2, 4), rng.randint(1, 3), round(rng.uniform(0, 0.3), 3),
                               round(rng.uniform(*extra_range), 3)) for _ in range(6)]


def _advantages(returns: torch.Tensor, k: int, baseline: str) -> torch.Tensor:
    """returns minus a baseline per group of k: "loo" (the others' mean), "mean" (the group's), "none"."""
    g = returns.view(-1, k)
    if baseline == "loo":
        return _loo(returns, k)
    b = g.mean(1, keepdim=True) if baseline == "mean" else torch.zeros_like(g)
    return (g - b).reshape(-1)


def _flat_loss(seq1, seq2, kl1, kl2, k, *, reward1, reward2, kl_weights, baseline="loo", kl_baseline=None,
               detach_kl=False, sign=1.0):
    """A two-attempt REINFORCE loss written out, for building the common mistakes: -mean A log pi per
    rewarded attempt (reward1 None: attempt 1 has no policy-gradient term) plus w * mean (KL - b) log pi
    per attempt (or w * mean KL, no gradient, when `detach_kl`)."""
    loss = -(_advantages(reward2, k, baseline).detach() * seq2).mean()
    if reward1 is not None:
        loss = loss - (_advantages(reward1, k, baseline).detach() * seq1).mean()
    for seq, kl, w in ((seq1, kl1, kl_weights[0]), (seq2, kl2, kl_weights[1])):
        if detach_kl:
            loss = loss + w * kl.mean()
        else:
            loss = loss + w * (_advantages(kl, k, kl_baseline or baseline).detach() * seq).mean()
    return sign * loss


def _variant(correct: Callable[..., dict], change: Callable[..., dict]) -> Callable:
    """The loss whose `_flat_loss` keyword arguments `correct(*args)` gives, with those of
    `change(kwargs, *args)` put in their place: one common mistake, as a function of the exercise's arguments."""
    def loss(*a: Any) -> torch.Tensor:
        kw = correct(*a)
        return _flat_loss(*a[:4], a[6], **{**kw, **change(kw, *a)})
    return loss


def _generic_mistakes(correct: Callable[..., dict]) -> Mistakes:
    """Mistakes both losses share, from `correct(args) -> _flat_loss keyword arguments` of the right loss."""
    def fixed(**change: Any) -> Callable:
        return _variant(correct, lambda kw, *a: change)

    return [
        ("the sign is flipped: minimise -A log pi (+ the KL terms), i.e. gradient ASCENT on the reward",
         fixed(sign=-1.0)),
        ("the KL terms carry no gradient (a detached or plain KL value); write each as "
         "mean_i (KL_i - b_i) log pi_i, the score-function surrogate", fixed(detach_kl=True)),
        ("the KL is added with the wrong sign; it is a penalty: + beta * surrogate in the loss",
         _variant(correct, lambda kw, *a: {"kl_weights": tuple(-w for w in kw["kl_weights"])})),
        ("the baseline includes the sample itself (the group mean); RLOO leaves it out", fixed(baseline="mean")),
        ("no baseline (A = R)", fixed(baseline="none")),
        ("the KL surrogates have no leave-one-out baseline; use (KL_i - b_i), b_i the others' mean",
         fixed(kl_baseline="none")),
    ]


def _stage1_kwargs(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2) -> dict:
    return {"reward1": None, "reward2": r2, "kl_weights": (beta2, beta1)}


def _stage2_kwargs(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha) -> dict:
    return {"reward1": r1, "reward2": r2 + alpha * (r2 - r1), "kl_weights": (beta1, beta1)}


# Arguments, as the checkers pass them: a[4] = r1, a[5] = r2, a[7] = beta1, a[8] = beta2 (Stage I) or alpha.
STAGE1_MISTAKES: Mistakes = [
    ("attempt 1 is rewarded too; in Stage I only attempt 2 is, and attempt 1 gets only the beta2 KL",
     _variant(_stage1_kwargs, lambda kw, *a: {"reward1": a[4]})),
    ("attempt 1 is credited with attempt 2's reward; in Stage I attempt 1 gets only the beta2 KL",
     _variant(_stage1_kwargs, lambda kw, *a: {"reward1": a[5]})),
    ("beta1 and beta2 are swapped: the strong beta2 pins attempt 1, beta1 is attempt 2's",
     _variant(_stage1_kwargs, lambda kw, *a: {"kl_weights": (a[7], a[8])})),
    ("attempt 1's KL is missing: beta2 * its surrogate is what pins attempt 1",
     _variant(_stage1_kwargs, lambda kw, *a: {"kl_weights": (0.0, a[7])})),
    ("attempt 2's KL is missing (beta1 * its surrogate)",
     _variant(_stage1_kwargs, lambda kw, *a: {"kl_weights": (a[8], 0.0)})),
    *_generic_mistakes(_stage1_kwargs),
]
"""The Stage I exercise's common wrong answers, named in its hint (arguments as `check_stage1_loss`'s)."""

STAGE2_MISTAKES: Mistakes = [
    ("the bonus has the wrong sign: b = alpha (r2 - r1) pays a fix and costs a break",
     _variant(_stage2_kwargs, lambda kw, *a: {"reward2": a[5] + a[8] * (a[4] - a[5])})),
    ("attempt 1's reward is shaped too; attempt 1 keeps its own reward r1",
     _variant(_stage2_kwargs, lambda kw, *a: {"reward1": a[4] + a[8] * (a[5] - a[4])})),
    ("attempt 1 gets no reward (that is Stage I); in Stage II both attempts are rewarded",
     _variant(_stage2_kwargs, lambda kw, *a: {"reward1": None})),
    ("attempt 2's reward is the bonus alone; it is r2 + alpha (r2 - r1)",
     _variant(_stage2_kwargs, lambda kw, *a: {"reward2": a[8] * (a[5] - a[4])})),
    ("the bonus is not scaled by alpha: r2 + alpha (r2 - r1)",
     _variant(_stage2_kwargs, lambda kw, *a: {"reward2": a[5] + (a[5] - a[4])})),
    ("attempt 1's KL is missing: beta1 on both attempts",
     _variant(_stage2_kwargs, lambda kw, *a: {"kl_weights": (0.0, a[7])})),
    ("attempt 2's KL is missing: beta1 on both attempts",
     _variant(_stage2_kwargs, lambda kw, *a: {"kl_weights": (a[7], 0.0)})),
    *_generic_mistakes(_stage2_kwargs),
]
"""The Stage II exercise's common wrong answers, named in its hint (arguments as `check_stage2_loss`'s)."""


def _scale(got: torch.Tensor, want: torch.Tensor) -> float | None:
    """c when got = c * want (c not 1), else None."""
    got, want = got.detach().double().flatten(), want.detach().double().flatten()
    if want.abs().max() < 1e-12:
        return None
    c = float((got @ want) / (want @ want))
    return c if abs(c - 1) > 1e-6 and torch.allclose(got, c * want, rtol=1e-6, atol=1e-9) else None


def _loss_mistake(got1: torch.Tensor, got2: torch.Tensor, args: tuple, mistakes: Mistakes) -> str | None:
    """The mistake whose gradients the student's match on `args`; a pure scale is named with its factor."""
    for label, wrong in mistakes:
        _, want1, want2 = loss_and_grads(wrong, args)
        if want1 is not None and close(1e-6)(got1, want1) and close(1e-6)(got2, want2):
            return label
    return None


def _check_loss(name: str, fn: Callable, reference: Callable, extra_name: str, mistakes: Mistakes) -> bool:
    """Compare fn's gradients w.r.t. seq1, seq2 and its value with `reference` on random cases, with the
    kit's `losses` off limits; a failure names the common mistake it matches."""
    fn = no_delegation(fn, losses)

    def describe(args: tuple) -> str:
        r1, r2, k, beta1, extra = args[4:]
        return f"k={k}, beta1={beta1}, {extra_name}={extra}, r1={r1.int().tolist()}, r2={r2.int().tolist()}"

    def hint(got1: torch.Tensor, got2: torch.Tensor, want1: torch.Tensor, want2: torch.Tensor, args: tuple) -> str:
        found = _loss_mistake(got1, got2, args, mistakes)
        if found:
            return f"; looks like: {found}"
        c1, c2 = _scale(got1, want1), _scale(got2, want2)
        same1, same2 = close(1e-6)(got1, want1), close(1e-6)(got2, want2)
        if c1 is not None and c2 is not None and math.isclose(c1, c2, rel_tol=1e-6):
            return f"; your gradients are {c1:.4g} times the expected: a sum instead of a mean, or a stray factor?"
        if c1 is not None and same2:
            return f"; attempt 1's gradient is {c1:.4g} times the expected: a wrong coefficient on its term?"
        if c2 is not None and same1:
            return f"; attempt 2's gradient is {c2:.4g} times the expected: a wrong coefficient on its term?"
        return ""

    def check(args: tuple) -> str | None:
        want, want1, want2 = loss_and_grads(reference, args)
        got, got1, got2 = loss_and_grads(fn, args)
        if got1 is None:
            return (f"return a scalar tensor (or an object with .loss) that carries the gradient of seq1 and "
                    f"seq2; got {show(got)} on {describe(args)}")
        for which, g, w, label in ((1, got1, want1, "attempt 1"), (2, got2, want2, "attempt 2")):
            if not close(1e-6)(g, w):
                return (f"gradient w.r.t. seq{which} ({label}'s log-prob) differs on {describe(args)}: expected "
                        f"{show(w)}, got {show(g)}{hint(got1, got2, want1, want2, args)}")
        if not close(1e-6)(got, want):
            return f"loss on {describe(args)}: expected {show(want)}, got {show(got)}"
        return None

    return run(name, _loss_cases(4 if name == "stage1_loss" else 18, (0.0, 0.5) if name == "stage1_loss"
                                 else (1.0, 20.0)), check, describe)


def _stage1_reference(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2) -> losses.LossParts:
    """`losses.stage1_loss` called with the exercise's flat arguments."""
    return losses.stage1_loss(losses.Attempt(seq1, kl1, r1), losses.Attempt(seq2, kl2, r2), k, beta1, beta2)


def check_stage1_loss(fn: Callable[..., Any]) -> bool:
    """fn(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2) -> the Stage I loss (Eq. 3), as a scalar tensor or
    an object with `.loss` (like `losses.LossParts`). seq1, seq2: (B,) log pi of attempts 1 and 2; kl1, kl2:
    (B,) k1 KL estimates of each; r1, r2: (B,) 0/1 rewards; k samples per problem. The kit's form:
    REINFORCE on attempt 2 with RLOO advantages of r2; each KL's gradient by the score function with a
    leave-one-out baseline, mean_i (KL_i - b_i) log pi_i, times beta2 on attempt 1 and beta1 on attempt 2.
    Its value and its gradients w.r.t. seq1 and seq2 are compared with `losses.stage1_loss`."""
    return _check_loss("stage1_loss", fn, _stage1_reference, "beta2", STAGE1_MISTAKES)


# --- 06 warm-up: the shaped reward --------------------------------------------------------------------

def _shaped_reward(r1: float | torch.Tensor, r2: float | torch.Tensor, alpha: float) -> float | torch.Tensor:
    """Attempt 2's reward in Stage II as `losses.stage2_loss` forms it: r2 + bonus, bonus = alpha (r2 - r1)."""
    return r2 + alpha * (r2 - r1)


def check_bonus(fn: Callable[[Any, Any, float], Any]) -> bool:
    """fn(r1, r2, alpha) -> attempt 2's shaped reward in Stage II (Eq. 4): a fix (0 -> 1) earns 1 + alpha,
    a kept right answer 1, a kept wrong one 0, a break (1 -> 0) costs alpha. r1, r2: 0/1 floats, or (B,)
    tensors of them. Compared with the shaping of `losses.stage2_loss` within 1e-9."""
    cases = [(r1, r2, 10.0) for r1 in (0.0, 1.0) for r2 in (0.0, 1.0)]
    cases += [(0.0, 1.0, 2.0), (1.0, 0.0, 1.5),
              (torch.tensor([0.0, 0.0, 1.0, 1.0]), torch.tensor([0.0, 1.0, 0.0, 1.0]), 10.0)]
    rng, gen = random.Random(5), torch.Generator().manual_seed(5)
    cases += [(float(rng.randint(0, 1)), float(rng.randint(0, 1)), round(rng.uniform(1, 20), 3)) for _ in range(20)]
    cases += [(torch.randint(0, 2, (6,), generator=gen).float(), torch.randint(0, 2, (6,), generator=gen).float(),
               round(rng.uniform(1, 20), 3)) for _ in range(4)]
    return run("bonus", cases, compare("bonus", fn, _shaped_reward, close(1e-9)))


# --- 06 core: Stage II loss ---------------------------------------------------------------------------

def _stage2_reference(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha) -> losses.LossParts:
    """`losses.stage2_loss` called with the exercise's flat arguments."""
    return losses.stage2_loss(losses.Attempt(seq1, kl1, r1), losses.Attempt(seq2, kl2, r2), k, beta1, alpha)


def check_stage2_loss(fn: Callable[..., Any]) -> bool:
    """fn(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha) -> the Stage II loss (Eq. 4), as a scalar tensor or
    an object with `.loss`. Arguments as in `check_stage1_loss`, alpha the bonus scale. The kit's form:
    REINFORCE with RLOO advantages on both attempts, attempt 1 with its own reward r1, attempt 2 with the
    shaped reward r2 + alpha (r2 - r1); beta1 times the score-function KL surrogate on each attempt.
    Its value and its gradients w.r.t. seq1 and seq2 are compared with `losses.stage2_loss`."""
    return _check_loss("stage2_loss", fn, _stage2_reference, "alpha", STAGE2_MISTAKES)
