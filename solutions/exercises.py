"""Reference solutions of the notebooks' exercises (instructors' copy), one function per checker in
`scoreutils.exercises`. Written from the paper's definitions (docs/paper.md), independently of the kit."""
from __future__ import annotations

import re

import torch

_FINAL = re.compile(r"final\s+answer\s*(?:is\s*:?|:)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


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


def transitions(r1: list[float], r2: list[float]) -> tuple[float, float]:
    n = len(r1)
    if n == 0:
        return 0.0, 0.0
    i_to_c = sum(a == 0 and b == 1 for a, b in zip(r1, r2))
    c_to_i = sum(a == 1 and b == 0 for a, b in zip(r1, r2))
    return i_to_c / n, c_to_i / n


def star_pairs(r1: int, r2: int) -> list[tuple[str, str]]:
    pairs = []
    if r1 == 0 and r2 == 1:  # STaR's D: the trace as it is
        pairs.append(("y1", "y2"))
    if r1 == 1:  # D+: each correct response, asked to stay as it is
        pairs.append(("y1", "y1"))
    if r2 == 1:
        pairs.append(("y2", "y2"))
    return pairs


def edit_distance_ratio(y1: str, y2: str) -> float:
    if not y1 and not y2:
        return 0.0
    previous = list(range(len(y2) + 1))  # distances from y1[:0] to every prefix of y2
    for i, a in enumerate(y1, 1):
        current = [i]
        for j, b in enumerate(y2, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / (len(y1) + len(y2))


def rloo(returns: torch.Tensor, k: int) -> torch.Tensor:
    groups = returns.reshape(-1, k)
    others = ~torch.eye(k, dtype=torch.bool)  # others[i, j]: j is another sample than i
    baseline = (groups[:, None, :] * others).sum(-1) / (k - 1)
    return (groups - baseline).reshape(-1)


def stage1_loss(seq1, seq2, kl1, kl2, r1, r2, k: int, beta1: float, beta2: float) -> torch.Tensor:
    """Eq. 3: reward attempt 2 only; the beta2 KL pins attempt 1, the beta1 KL applies to attempt 2.
    Each term is a score-function surrogate with a leave-one-out baseline; r1 is not used."""
    reward2 = rloo(r2, k).detach()
    kl_term1 = rloo(kl1, k).detach()
    kl_term2 = rloo(kl2, k).detach()
    return (-reward2 * seq2 + beta2 * kl_term1 * seq1 + beta1 * kl_term2 * seq2).mean()


def bonus(r1: float, r2: float, alpha: float) -> float:
    return r2 + alpha * (r2 - r1)


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
