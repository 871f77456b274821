"""Exercises on the objectives (lessons 04 to 06): returns with a discount, the RLOO baseline, the k1 KL
estimate, the k1/k3 gradients on an enumerated categorical, the Stage I loss (Eq. 3), the shaped reward
and the Stage II loss (Eq. 4). Losses are checked by their gradients w.r.t. each attempt's log-prob,
against `losses.py`. Not here: training."""
from __future__ import annotations

import random
from typing import Any, Callable, Mapping

import torch

from .. import losses
from ._harness import close, compare, loss_and_grads, run, show


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
    return run("rloo", cases, compare("rloo", fn, losses.rloo_advantages, close(1e-6)))


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
    return run("kl_k1", cases, compare("kl_k1", fn, lambda lp, ref, m: losses.kl_per_attempt(lp, ref, m), close(1e-6)),
               lambda args: f"kl_k1 on logp of shape {tuple(args[0].shape)}")


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


def _check_loss(name: str, fn: Callable, reference: Callable, extra_name: str, attempt1_hint: str) -> bool:
    """Compare fn's gradients w.r.t. seq1, seq2 and its value with `reference` on random cases."""
    def describe(args: tuple) -> str:
        r1, r2, k, beta1, extra = args[4:]
        return f"k={k}, beta1={beta1}, {extra_name}={extra}, r1={r1.int().tolist()}, r2={r2.int().tolist()}"

    def check(args: tuple) -> str | None:
        want, want1, want2 = loss_and_grads(reference, args)
        got, got1, got2 = loss_and_grads(fn, args)
        if got1 is None:
            return (f"return a scalar tensor (or an object with .loss) that carries the gradient of seq1 and "
                    f"seq2; got {show(got)} on {describe(args)}")
        if not close(1e-6)(got1, want1):
            return (f"gradient w.r.t. seq1 (attempt 1's log-prob) differs on {describe(args)}: expected "
                    f"{show(want1)}, got {show(got1)} ({attempt1_hint})")
        if not close(1e-6)(got2, want2):
            return (f"gradient w.r.t. seq2 (attempt 2's log-prob) differs on {describe(args)}: expected "
                    f"{show(want2)}, got {show(got2)}")
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
    return _check_loss("stage1_loss", fn, _stage1_reference, "beta2",
                       "in Stage I attempt 1 gets no reward, only the beta2 KL")


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
    return _check_loss("stage2_loss", fn, _stage2_reference, "alpha",
                       "attempt 1 keeps its own, unshaped reward r1 and the beta1 KL")
