"""Rollout: batched two-attempt sampling on token ids, producing `Episode`s.

For each problem x: y1 ~ pi(.|x1), then y2 ~ pi(.|x2) with x2 = [x1, y1, p] built from attempt 1's
*sampled ids* (never decoded and re-encoded, see `prompts.second_turn_ids`). An Episode keeps the ids
of [x1, y1, p, y2], the positions of each attempt, both texts, truncation flags and the rewards.
Greedy decoding (temperature 0) is the paper's evaluation; temperature > 0 samples training traces.
Not here: losses over episodes (`losses.py`), metrics (`metrics.py`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import torch
from tqdm.auto import tqdm

from .models import Policy
from .prompts import first_turn_ids, second_turn_ids
from .rewards import score as score_fn
from .tasks import Problem


@dataclass
class Episode:
    """One two-attempt trace. ids = x1 + y1 + p + y2 (the only token sequence trained on)."""

    problem: Problem
    x1_ids: list[int]
    y1_ids: list[int]
    p_ids: list[int]
    y2_ids: list[int]
    y1: str
    y2: str
    truncated1: bool
    truncated2: bool
    r1: float | None = None
    r2: float | None = None
    sample: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return self.x1_ids + self.y1_ids + self.p_ids + self.y2_ids

    @property
    def attempt1_span(self) -> tuple[int, int]:
        """[start, end) of y1's tokens in `ids`."""
        start = len(self.x1_ids)
        return start, start + len(self.y1_ids)

    @property
    def attempt2_span(self) -> tuple[int, int]:
        """[start, end) of y2's tokens in `ids`."""
        start = len(self.x1_ids) + len(self.y1_ids) + len(self.p_ids)
        return start, start + len(self.y2_ids)

    def masks(self) -> tuple[list[int], list[int]]:
        """0/1 masks over `ids` for attempt 1 and attempt 2 (built from lengths, never from pad ids)."""
        n = len(self.ids)
        (a, b), (c, d) = self.attempt1_span, self.attempt2_span
        return [int(a <= i < b) for i in range(n)], [int(c <= i < d) for i in range(n)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problem"] = self.problem.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Episode":
        d = dict(d)
        d["problem"] = Problem.from_dict(d["problem"])
        return cls(**d)


def _left_pad(seqs: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids and attention mask, left-padded so every row's last token is at T-1."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
        mask[i, width - len(s):] = 1
    return ids.to(device), mask.to(device)


@torch.no_grad()
def generate_ids(policy: Policy, contexts: list[list[int]], max_new_tokens: int,
                 temperature: float = 0.0) -> list[tuple[list[int], bool]]:
    """Continue each context; return (new ids up to and including the end token, truncated?) per row."""
    tok = policy.tokenizer
    ids, mask = _left_pad(contexts, tok.pad_token_id, policy.device)
    kwargs: dict[str, Any] = {"do_sample": False} if temperature <= 0 else \
        {"do_sample": True, "temperature": float(temperature), "top_p": 1.0, "top_k": None}
    out = policy.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **kwargs)
    results = []
    for row in out[:, ids.shape[1]:].tolist():
        if tok.eos_token_id in row:
            results.append((row[: row.index(tok.eos_token_id) + 1], False))
        else:
            results.append((row, True))
    return results


def sample_episodes(policy: Policy, problems: Iterable[Problem], *, max_new_tokens: int = 48,
                    temperature: float = 0.0, samples_per_problem: int = 1, batch_size: int = 16,
                    seed: int | None = 0, score: bool = True, progress: bool = True,
                    desc: str = "sampling", instruction: str | None = None) -> list[Episode]:
    """Two attempts for every (problem, sample), in batches. Greedy when temperature == 0.
    `instruction` replaces the paper's turn-2 instruction p (e.g. `prompts.SELF_REFINE_TURN2`).

    Episodes come back grouped: the k samples of a problem are consecutive (RLOO needs the groups).
    """
    problems = list(problems)
    if samples_per_problem < 1:
        raise ValueError("samples_per_problem must be at least 1")
    if seed is not None:
        torch.manual_seed(seed)
    jobs = [(p, s) for p in problems for s in range(samples_per_problem)]
    tok = policy.tokenizer
    was_training = policy.model.training
    policy.model.eval()
    episodes: list[Episode] = []
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress, unit="ep")
    try:
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start:start + batch_size]
            x1 = [first_turn_ids(tok, p) for p, _ in batch]
            first = generate_ids(policy, x1, max_new_tokens, temperature)
            p_ids = [second_turn_ids(tok, p, attempt1_ended=not trunc, instruction=instruction)
                     for (p, _), (_, trunc) in zip(batch, first)]
            x2 = [a + y1 + p for a, (y1, _), p in zip(x1, first, p_ids)]
            second = generate_ids(policy, x2, max_new_tokens, temperature)
            for (prob, s), x, (y1, t1), p, (y2, t2) in zip(batch, x1, first, p_ids, second):
                ep = Episode(problem=prob, x1_ids=x, y1_ids=y1, p_ids=p, y2_ids=y2,
                             y1=tok.decode(y1, skip_special_tokens=True),
                             y2=tok.decode(y2, skip_special_tokens=True), truncated1=t1, truncated2=t2, sample=s)
                if score:
                    ep.r1, ep.r2 = score_fn(prob, ep.y1), score_fn(prob, ep.y2)
                episodes.append(ep)
            bar.update(len(batch))
    finally:
        bar.close()
        policy.model.train(was_training)
    return episodes
