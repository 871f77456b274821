"""Reference solutions of the notebooks' exercises (instructors' copy), one function per checker in
`scoreutils.exercises` (`EXERCISES` lists them per lesson). The functions of the equations are written from
the paper's definitions (docs/paper.md), independently of the kit; the experiments run models, so they call
the kit's sampling and training (`sample_episodes`, `load_or_train`) and take what the notebook has
(policy, problems, profile) as arguments. In a notebook: `check_alpha_sweep(lambda: alpha_sweep(profile))`."""
from __future__ import annotations

import math
import random
import re

import torch

_FINAL = re.compile(r"final\s+answer\s*(?:is\s*:?|:)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


# --- 00 quickstart ------------------------------------------------------------------------------------

def accuracy_delta(r1: list[float], r2: list[float]) -> tuple[float, float, float]:
    n = len(r1)
    if n == 0:
        return 0.0, 0.0, 0.0
    acc1, acc2 = sum(r1) / n, sum(r2) / n
    return acc1, acc2, acc2 - acc1


def _boxed(text: str) -> str | None:
    """Content of the last \\boxed{...}, braces matched."""
    start = text.rfind("\\boxed{")
    while start >= 0:
        depth = 0
        for i in range(start + len("\\boxed"), len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start + len("\\boxed{"):i].strip()
        start = text.rfind("\\boxed{", 0, start)  # never closed: try an earlier one
    return None


def final_answer(text: str) -> str | None:
    anchors = list(_FINAL.finditer(text))
    if anchors:
        rest = text[anchors[-1].end():].lstrip(" *")
        dollars = re.match(r"\$([^$]*)\$", rest)
        answer = dollars.group(1) if dollars else re.split(r"\.(?=\s|$)|\n", rest)[0]
        answer = answer.strip()
        if answer.startswith("\\boxed"):
            answer = _boxed(answer) or answer
        if answer:
            return answer
    boxed = _boxed(text)
    if boxed:
        return boxed
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def sampled_vs_greedy(policy, problems, max_new_tokens: int, temperature: float = 0.7, samples: int = 4) -> dict:
    """The same problems greedily (one episode each) and sampled (`samples` episodes each)."""
    from scoreutils import episode_metrics, sample_episodes

    out = {}
    for name, t, k in (("greedy", 0.0, 1), ("sampled", temperature, samples)):
        eps = sample_episodes(policy, problems, max_new_tokens=max_new_tokens, temperature=t, samples_per_problem=k,
                              seed=0, progress=False)
        m = episode_metrics(eps)
        out[name] = {key: m[key] for key in ("n", "acc_t1", "acc_t2", "changed_answer_rate")}
    return out


# --- 01 base model ------------------------------------------------------------------------------------

def transitions(r1: list[float], r2: list[float]) -> tuple[float, float]:
    n = len(r1)
    if n == 0:
        return 0.0, 0.0
    i_to_c = sum(a == 0 and b == 1 for a, b in zip(r1, r2))
    c_to_i = sum(a == 1 and b == 0 for a, b in zip(r1, r2))
    return i_to_c / n, c_to_i / n


def delta_interval(r1: list[float], r2: list[float]) -> tuple[float, float]:
    d = [b - a for a, b in zip(r1, r2)]
    n = len(d)
    mean = sum(d) / n
    if n == 1:
        return mean, mean
    s = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = 1.96 * s / math.sqrt(n)
    return max(-1.0, mean - half), min(1.0, mean + half)


def own_instruction(policy, problems, max_new_tokens: int, instruction: str) -> dict:
    """Greedy two attempts with `instruction` as turn 2."""
    from scoreutils import episode_metrics, sample_episodes

    eps = sample_episodes(policy, problems, max_new_tokens=max_new_tokens, temperature=0.0, instruction=instruction,
                          progress=False)
    m = episode_metrics(eps)
    return {"instruction": instruction, **{k: m[k] for k in ("n", "acc_t1", "acc_t2", "delta_i_to_c", "delta_c_to_i")}}


# --- 02 SFT -------------------------------------------------------------------------------------------

def star_pairs(r1: int, r2: int) -> list[tuple[str, str]]:
    pairs = []
    if r1 == 0 and r2 == 1:  # STaR's D: the trace as it is
        pairs.append(("y1", "y2"))
    if r1 == 1:  # D+: each correct response, asked to stay as it is
        pairs.append(("y1", "y1"))
    if r2 == 1:
        pairs.append(("y2", "y2"))
    return pairs


def pair_sft_pairs(responses: list[tuple[str, int]], plus: bool, rng: random.Random) -> list[tuple[str, str]]:
    correct = [text for text, r in responses if r == 1]
    if not correct:
        return []
    return [(text, rng.choice(correct)) for text, r in responses if r == 0 or plus]


# --- 03 edit distance ---------------------------------------------------------------------------------

def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))  # distances from a[:0] to every prefix of b
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def edit_distance_ratio(y1: str, y2: str) -> float:
    if not y1 and not y2:
        return 0.0
    return levenshtein(y1, y2) / (len(y1) + len(y2))


# --- 04 naive multi-turn RL ---------------------------------------------------------------------------

def returns(r1, r2, gamma: float):
    return r1 + gamma * r2, r2


def rloo(returns: torch.Tensor, k: int) -> torch.Tensor:
    groups = returns.reshape(-1, k)
    others = ~torch.eye(k, dtype=torch.bool)  # others[i, j]: j is another sample than i
    baseline = (groups[:, None, :] * others).sum(-1) / (k - 1)
    return (groups - baseline).reshape(-1)


def baseline_variance(p: float = 0.2, k: int = 4, groups: int = 20000, seed: int = 0) -> dict:
    """Bernoulli policy pi(a=1) = p = sigmoid(theta), reward r = a. d/dtheta log pi(a) = a - p, so the
    per-sample REINFORCE estimate is r (a - p); with the leave-one-out baseline, (r - b)(a - p)."""
    gen = torch.Generator().manual_seed(seed)
    a = (torch.rand(groups, k, generator=gen, dtype=torch.float64) < p).double()
    r = a
    b = (r.sum(1, keepdim=True) - r) / (k - 1)
    plain, loo = (r * (a - p)).flatten(), ((r - b) * (a - p)).flatten()
    return {"p": p, "k": k, "groups": groups, "exact": p * (1 - p),  # d/dtheta E[r] = d p / d theta
            "no_baseline": {"mean": plain.mean().item(), "variance": plain.var().item()},
            "rloo": {"mean": loo.mean().item(), "variance": loo.var().item()}}


# --- 05 Stage I ---------------------------------------------------------------------------------------

def kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((logp - ref_logp) * mask).sum(-1)


def _kl_surrogate(seq: torch.Tensor, kl: torch.Tensor, k: int) -> torch.Tensor:
    """Its gradient is the score-function estimate of grad KL: mean_i (KL_i - b_i) grad log pi_i."""
    return (rloo(kl, k).detach() * seq).mean()


def stage1_loss(seq1, seq2, kl1, kl2, r1, r2, k: int, beta1: float, beta2: float) -> torch.Tensor:
    """Eq. 3: reward attempt 2 only; the beta2 KL pins attempt 1, the beta1 KL applies to attempt 2.
    r1 is not used."""
    return (-(rloo(r2, k).detach() * seq2).mean() + beta2 * _kl_surrogate(seq1, kl1, k)
            + beta1 * _kl_surrogate(seq2, kl2, k))


def kl_gradients(logits: torch.Tensor, ref_logp: torch.Tensor) -> dict[str, torch.Tensor]:
    theta = logits.detach().double().requires_grad_(True)
    logp, ref = torch.log_softmax(theta, -1), ref_logp.double()
    pi = logp.exp()
    exact = torch.autograd.grad((pi * (logp - ref)).sum(), theta)[0]
    logp = torch.log_softmax(theta, -1)
    k1 = torch.autograd.grad((pi.detach() * (logp - ref).detach() * logp).sum(), theta)[0]
    logp = torch.log_softmax(theta, -1)
    rho = torch.exp(ref - logp)
    k3 = torch.autograd.grad((pi.detach() * ((rho - 1) - torch.log(rho))).sum(), theta)[0]
    return {"exact": exact, "k1": k1, "k3": k3}


# --- 06 Stage II --------------------------------------------------------------------------------------

def bonus(r1: float, r2: float, alpha: float) -> float:
    return r2 + alpha * (r2 - r1)


def stage2_loss(seq1, seq2, kl1, kl2, r1, r2, k: int, beta1: float, alpha: float) -> torch.Tensor:
    """Eq. 4: both attempts rewarded, attempt 2 with the bonus alpha (r2 - r1); beta1 KL on both."""
    shaped = r2 + alpha * (r2 - r1)
    return (-(rloo(r1, k).detach() * seq1).mean() - (rloo(shaped, k).detach() * seq2).mean()
            + beta1 * (_kl_surrogate(seq1, kl1, k) + _kl_surrogate(seq2, kl2, k)))


def alpha_sweep(profile, alphas=(0.0, 1.0, 10.0)) -> dict:
    """Stage II at each alpha (the kit's trainer), held-out metrics of each."""
    from scoreutils.runs import load_or_train

    out = {}
    for alpha in alphas:
        m = load_or_train("stage2", profile.replace(alpha=alpha), name=f"sweep_alpha{alpha:g}").metrics
        out[alpha] = {key: m[key] for key in ("n", "changed_answer_rate", "delta_i_to_c", "delta_c_to_i")}
    return out


# --- 07 SCoRe and inference compute -------------------------------------------------------------------

def majority_vote(answers: list[str | None]) -> str | None:
    counts: dict[str, int] = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    best = None
    for a, n in counts.items():  # dicts keep first-seen order: a later answer must beat, not tie
        if best is None or n > counts[best]:
            best = a
    return best


def voted_accuracy(samples, references, budget: int, sequential: bool) -> float:
    take = budget // 2 if sequential else budget
    right = 0
    for pairs, reference in zip(samples, references):
        votes = [second if sequential else first for first, second in pairs[:take]]
        right += majority_vote(votes) == reference
    return right / len(references)


# --- 08 code ------------------------------------------------------------------------------------------

def binary_reward(outcomes: list[bool]) -> float:
    return 1.0 if len(outcomes) > 0 and all(outcomes) else 0.0


def extract_code(completion: str) -> str:
    blocks = []  # (language, body) of each fenced block
    pos = completion.find("```")
    while pos != -1:
        line_end = completion.find("\n", pos)
        if line_end == -1:
            break
        language = (completion[pos + 3:line_end].split() or [""])[0].lower()
        close = completion.find("```", line_end + 1)
        blocks.append((language, completion[line_end + 1:] if close == -1 else completion[line_end + 1:close]))
        pos = -1 if close == -1 else completion.find("```", close + 3)
    python = [body for language, body in blocks if language in ("python", "py", "python3")]
    if python:
        return python[-1]
    return blocks[-1][1] if blocks else completion
