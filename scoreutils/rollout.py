"""Rollout: batched two-attempt sampling on token ids, producing `Episode`s.

For each problem x: y1 ~ pi(.|x1), then y2 ~ pi(.|x2) with x2 = [x1, y1, p] built from attempt 1's
*sampled ids* (never decoded and re-encoded, see `prompts.second_turn_ids`). An Episode keeps the ids
of [x1, y1, p, y2], the positions of each attempt, both texts, truncation flags and the rewards.
Greedy decoding (temperature 0) is the paper's evaluation; temperature > 0 samples training traces.
Turn 2 continues from turn 1's KV cache, so only p is prefilled (the same tokens as a fresh prefill
of [x1, y1, p]; 1.2x the generated tokens/s of plain generate() in `benchmarks/rollout.py`).
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


def _split_rows(new: torch.Tensor, eos_id: int) -> list[tuple[list[int], bool]]:
    """(new ids up to and including the end token, truncated?) for each row of generated ids."""
    results = []
    for row in new.tolist():
        if eos_id in row:
            results.append((row[: row.index(eos_id) + 1], False))
        else:
            results.append((row, True))
    return results


@torch.no_grad()
def _generate(policy: Policy, ids: torch.Tensor, mask: torch.Tensor, max_new_tokens: int, temperature: float,
              cache: Any = None) -> tuple[torch.Tensor, Any]:
    """One batched generate() call: (all ids incl. the context, the KV cache). `cache` may hold the KV of a
    prefix of `ids`; only the rest is prefilled."""
    tok = policy.tokenizer
    kwargs: dict[str, Any] = {"do_sample": False} if temperature <= 0 else \
        {"do_sample": True, "temperature": float(temperature), "top_p": 1.0, "top_k": None}
    out = policy.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                                past_key_values=cache, return_dict_in_generate=True, **kwargs)
    return out.sequences, out.past_key_values


def _turn2_context(seq: torch.Tensor, mask: torch.Tensor, first: list[tuple[list[int], bool]],
                   p_ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn 2's input as a continuation of turn 1's generate() output, so its KV cache can be reused.

    Row i is [left pad, x1, y1, filler, pad, p]: the filler (what generate() wrote after y1's end token,
    or nothing) and the pads are masked out, p is right-aligned so every row ends at the last column.
    Position ids come from the mask's cumulative sum, so each token sits where it would in [x1, y1, p].
    """
    width = mask.shape[1]
    turn1_mask = torch.cat([mask, torch.zeros_like(seq[:, width:])], dim=1)
    for i, (y1, _) in enumerate(first):
        turn1_mask[i, width:width + len(y1)] = 1
    p_tensor, p_mask = _left_pad(p_ids, pad_id, seq.device)
    return torch.cat([seq, p_tensor], dim=1), torch.cat([turn1_mask, p_mask], dim=1)


def sample_episodes(policy: Policy, problems: Iterable[Problem], *, max_new_tokens: int = 48,
                    temperature: float = 0.0, samples_per_problem: int = 1, batch_size: int = 16,
                    seed: int | None = 0, score: bool = True, progress: bool = True,
                    desc: str = "sampling", instruction: str | None = None,
                    reuse_cache: bool = True) -> list[Episode]:
    """Two attempts for every (problem, sample), in batches. Greedy when temperature == 0.
    `instruction` replaces the paper's turn-2 instruction p (e.g. `prompts.SELF_REFINE_TURN2`).
    `reuse_cache`: turn 2 continues from turn 1's KV cache, prefilling only p instead of [x1, y1, p]
    (same tokens up to float rounding; `benchmarks/rollout.py` measures the gain). False re-prefills.

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
            ids, mask = _left_pad(x1, tok.pad_token_id, policy.device)
            seq, cache = _generate(policy, ids, mask, max_new_tokens, temperature)
            first = _split_rows(seq[:, ids.shape[1]:], tok.eos_token_id)
            p_ids = [second_turn_ids(tok, p, attempt1_ended=not trunc, instruction=instruction)
                     for (p, _), (_, trunc) in zip(batch, first)]
            if reuse_cache:
                ids, mask = _turn2_context(seq, mask, first, p_ids, tok.pad_token_id)
            else:
                cache = None
                ids, mask = _left_pad([a + y1 + p for a, (y1, _), p in zip(x1, first, p_ids)],
                                      tok.pad_token_id, policy.device)
            seq, cache = _generate(policy, ids, mask, max_new_tokens, temperature, cache)
            del cache
            second = _split_rows(seq[:, ids.shape[1]:], tok.eos_token_id)
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
