"""Inference-compute scaling (docs/paper.md#inference-compute, Fig. 1 right): with a fixed budget of
generations per problem, compare majority voting over parallel first attempts with majority voting over
self-corrected second attempts (each second attempt costs two generations: attempt 1, then attempt 2).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from .answers import extract_answer, is_equivalent
from .metrics import majority_vote


def _grouped(episodes: Sequence[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for e in episodes:
        groups[e.problem.id].append(e)
    return groups


def voted_accuracy(episodes: Sequence[Any], budget: int, sequential: bool) -> float:
    """Accuracy of the majority answer per problem with `budget` generations per problem.

    Parallel: the first `budget` samples' attempt-1 answers vote. Sequential: the first `budget // 2`
    samples' attempt-2 answers vote (each used two generations). Samples are taken in their sampled order,
    so every budget reuses the same episodes.
    """
    groups = _grouped(episodes)
    take = budget // 2 if sequential else budget
    if take < 1:
        raise ValueError(f"a budget of {budget} generations is too small for {'sequential' if sequential else 'parallel'} voting")
    correct = 0
    for eps in groups.values():
        if len(eps) < take:
            raise ValueError(f"problem {eps[0].problem.id} has {len(eps)} samples; the budget needs {take}")
        answers = [extract_answer(e.y2 if sequential else e.y1) for e in eps[:take]]
        vote = majority_vote(answers)
        correct += vote is not None and is_equivalent(vote, eps[0].problem.reference)
    return correct / len(groups)


def scaling_table(episodes: Sequence[Any], budgets: Sequence[int]) -> list[dict[str, float]]:
    """Rows {budget, parallel, sequential} of voted accuracy for each budget (even budgets)."""
    return [{"budget": b, "parallel": voted_accuracy(episodes, b, sequential=False),
             "sequential": voted_accuracy(episodes, b, sequential=True)} for b in budgets]
