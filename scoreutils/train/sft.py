"""SFT data: STaR and Pair-SFT data sets (D and D+) built from the model's own two-turn traces.

Traces are sampled at temperature 1.0 (docs/paper.md#why-sft-fails). Every pair is an `Episode` whose attempt 1
is the response to correct (y-) and attempt 2 the target (y+); `losses.sft_loss` trains on attempt 2
only. Token ids of responses are reused as sampled; only the fixed instruction p is re-derived.
- STaR D: traces where an incorrect y1 was followed by a correct y2, kept as they are.
  D+ adds (y+, y+) pairs: every correct response, asked to stay as it is.
- Pair-SFT D: each incorrect response paired with a random correct response to the same problem
  (from either turn). D+ adds pairs of correct responses (y+, y+').
Not here: the training loop (`train.train_sft`).
"""
from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Sequence

from ..prompts import second_turn_ids
from ..rollout import Episode


def _responses(ep: Episode) -> list[tuple[list[int], str, float, bool]]:
    """(ids, text, reward, truncated) of both attempts of a trace."""
    return [(ep.y1_ids, ep.y1, ep.r1 or 0.0, ep.truncated1), (ep.y2_ids, ep.y2, ep.r2 or 0.0, ep.truncated2)]


def make_pair(tokenizer: Any, template: Episode, first: tuple, second: tuple, kind: str) -> Episode:
    """A training pair on `template`'s problem and prompt: attempt 1 = `first`, attempt 2 = `second`.
    Both are (ids, text, reward, truncated) as sampled."""
    (ids1, text1, r1, t1), (ids2, text2, r2, t2) = first, second
    return Episode(problem=template.problem, x1_ids=template.x1_ids, y1_ids=list(ids1),
                   p_ids=second_turn_ids(tokenizer, template.problem, attempt1_ended=not t1), y2_ids=list(ids2),
                   y1=text1, y2=text2, truncated1=t1, truncated2=t2, r1=r1, r2=r2, extra={"pair": kind})


def star_dataset(tokenizer: Any, traces: Sequence[Episode], plus: bool = False) -> list[Episode]:
    """STaR D (plus=False) or D+ (plus=True) from sampled traces."""
    data = [make_pair(tokenizer, e, *_responses(e), kind="star") for e in traces
            if e.r1 == 0 and e.r2 == 1 and not e.truncated2]
    if plus:
        for e in traces:
            for resp in _responses(e):
                if resp[2] == 1 and not resp[3]:
                    data.append(make_pair(tokenizer, e, resp, resp, kind="star+"))
    return data


def pair_sft_dataset(tokenizer: Any, traces: Sequence[Episode], plus: bool = False, seed: int = 0) -> list[Episode]:
    """Pair-SFT D (plus=False) or D+ (plus=True): incorrect -> random correct of the same problem."""
    rng = random.Random(seed)
    by_problem: dict[str, list[tuple[Episode, tuple]]] = defaultdict(list)
    for e in traces:
        for resp in _responses(e):
            by_problem[e.problem.id].append((e, resp))
    data = []
    for pid in sorted(by_problem):
        items = by_problem[pid]
        correct = [r for _, r in items if r[2] == 1 and not r[3]]
        if not correct:
            continue
        for e, resp in items:
            if resp[2] == 0:
                data.append(make_pair(tokenizer, e, resp, rng.choice(correct), kind="pair"))
            elif plus and not resp[3]:
                data.append(make_pair(tokenizer, e, resp, rng.choice(correct), kind="pair+"))
    return data


SFT_DATASETS = {
    "star": lambda tok, traces, seed=0: star_dataset(tok, traces, plus=False),
    "star_plus": lambda tok, traces, seed=0: star_dataset(tok, traces, plus=True),
    "pair_sft": lambda tok, traces, seed=0: pair_sft_dataset(tok, traces, plus=False, seed=seed),
    "pair_sft_plus": lambda tok, traces, seed=0: pair_sft_dataset(tok, traces, plus=True, seed=seed),
}
