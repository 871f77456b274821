"""Rollout: batched two-attempt sampling on token ids, producing `Episode`s.

For each problem x: y1 ~ pi(.|x1), then y2 ~ pi(.|x2) with x2 = [x1, y1, p] built from attempt 1's
*sampled ids* (never decoded and re-encoded, see `prompts.second_turn_ids`). An Episode keeps the ids
of [x1, y1, p, y2], the positions of each attempt, both texts, truncation flags and the rewards.
Greedy decoding (temperature 0) is the paper's evaluation; temperature > 0 samples training traces.
Less work than plain generate() for the same tokens: the k samples of a problem share x1, so each
distinct x1 of a batch is prefilled once and its KV cache copied to the k rows, which then sample
independently (`_shared_prefill`); turn 2 continues from turn 1's cache, so only p is prefilled; the
cache appends in place instead of copying itself every step (`_growing_layer`); rows that have ended
leave the batch once they are half of it (`_decode`). Same tokens as `reuse_cache=False` (fresh
prefills, plain generate()) up to float rounding; `benchmarks/rollout.py` measures the gain.
Not here: losses over episodes (`losses.py`), metrics (`metrics.py`).
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import torch
from tqdm.auto import tqdm

from .logprobs import left_pad
from .models import Policy, require_finite
from .prompts import first_turn_ids, second_turn_ids
from .rewards import outcome, binary_reward
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
    outcome1: str | None = None
    """"right", "wrong" or "none" (no answer), `rewards.outcome`; None in episodes written before it existed
    (`metrics.outcomes` grades those from their text)."""
    outcome2: str | None = None

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
    prefix of `ids`; only the rest is prefilled. The reference that `_decode` reproduces."""
    from transformers import LogitsProcessorList

    tok = policy.tokenizer
    kwargs: dict[str, Any] = {"do_sample": False} if temperature <= 0 else \
        {"do_sample": True, "temperature": float(temperature), "top_p": 1.0, "top_k": None}
    out = policy.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                                past_key_values=cache, return_dict_in_generate=True,
                                logits_processor=LogitsProcessorList([_FiniteLogits(policy.model)]), **kwargs)
    return out.sequences, out.past_key_values


class _FiniteLogits:
    """A generate() logits processor that only checks: `models.require_finite` before any token is picked."""

    def __init__(self, model: Any):
        self.model = model

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        require_finite(scores, "sampling", self.model)
        return scores


@functools.cache
def _growing_layer() -> type:
    """`DynamicLayer` that appends in place (defined on first use: transformers loads lazily)."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A DynamicLayer that keeps keys and values in buffers with spare room and appends by writing into
        them, where DynamicLayer's `torch.cat` copies the whole cache at every decoding step (on CPU that
        copy is a large share of a step once turn 2's context is long). `keys`/`values` are views of the
        buffers; when anything else replaces them (row selection, crop), the next update re-buffers."""

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self.kbuf = self.vbuf = None
            old, new = self.get_seq_length(), key_states.shape[-2]
            buf = self.kbuf
            if buf is None or old + new > buf.shape[-2] or buf.shape[0] != key_states.shape[0] or \
                    (old and self.keys.data_ptr() != buf.data_ptr()):
                b, h, _, d = key_states.shape
                cap = 2 * (old + new) + 16
                self.kbuf, self.vbuf = key_states.new_empty((b, h, cap, d)), value_states.new_empty((b, h, cap, d))
                if old:
                    self.kbuf[..., :old, :], self.vbuf[..., :old, :] = self.keys, self.values
            self.kbuf[..., old:old + new, :] = key_states
            self.vbuf[..., old:old + new, :] = value_states
            self.keys, self.values = self.kbuf[..., :old + new, :], self.vbuf[..., :old + new, :]
            return self.keys, self.values

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            """Keep the rows `indices`, copied once into buffers of the same capacity."""
            n = self.get_seq_length()
            if n == 0 or self.kbuf is None:
                return super().batch_select_indices(indices)
            self.kbuf, self.vbuf = self.kbuf[indices], self.vbuf[indices]
            self.keys, self.values = self.kbuf[..., :n, :], self.vbuf[..., :n, :]

        def set_rows(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
            """Make `keys[..., :length, :]` (and values) the cache, keeping their spare room."""
            self.kbuf, self.vbuf = keys, values
            self.keys, self.values = keys[..., :length, :], values[..., :length, :]

    return GrowingLayer


def _growing_cache(config: Any) -> Any:
    """An empty `DynamicCache` whose layers append in place (see `_growing_layer`)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    cache.layers = [_growing_layer()() for _ in cache.layers]
    return cache


@torch.no_grad()
def _shared_prefill(policy: Policy, ids: torch.Tensor, mask: torch.Tensor, groups: list[int]) -> Any:
    """A KV cache for turn 1: when rows repeat a context, each row's context but its last token, computed
    once per distinct context; else empty (generate() prefills it).

    `groups[i]` names row i's context (rows with the same name hold the same ids). The distinct rows are
    prefilled in one forward, then the cache is copied to all rows. generate() then prefills only the
    last context token of each row and samples every row's first token on its own (no row copies
    another's draw). Position ids and mask follow generate()'s own prefill.
    """
    cache = _growing_cache(policy.model.config)
    distinct = list(dict.fromkeys(groups))
    if len(distinct) == len(groups):
        return cache
    first = [groups.index(g) for g in distinct]
    ctx, ctx_mask = ids[first, :-1], mask[first, :-1]
    position_ids = (ctx_mask.cumsum(-1) - 1).masked_fill(ctx_mask == 0, 0)
    policy.model(input_ids=ctx, attention_mask=None if bool(ctx_mask.all()) else ctx_mask,
                 position_ids=position_ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    cache.batch_select_indices(torch.tensor([distinct.index(g) for g in groups], device=ids.device))
    return cache


@torch.no_grad()
def _decode(policy: Policy, ids: torch.Tensor, mask: torch.Tensor, max_new_tokens: int, temperature: float,
            cache: Any, keep_cache: bool) -> tuple[torch.Tensor, Any]:
    """What `_generate` returns, without computing rows that have ended: the kit's own decoding loop.

    `cache` (a `_growing_cache`) holds the KV of a prefix of `ids`; the rest is prefilled. Each step takes
    the tokens generate() would: greedy argmax, or softmax(logits / temperature) and one multinomial draw
    over all B rows (rows no longer computed get a dummy distribution), so the random stream and every
    row's draws match generate()'s. Ended rows are fed the pad token, as in generate(), until they are
    at most half the batch; then they leave it. With `keep_cache` the cache returned holds every row
    (rows that left are kept aside and put back, zeros past their end: masked in turn 2), and a row
    leaves only after its end token's KV is in the cache; without it the returned cache is dropped.
    """
    model, tok = policy.model, policy.tokenizer
    eos, pad = tok.eos_token_id, tok.pad_token_id
    b, width = ids.shape
    start = cache.get_seq_length()
    position = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)[:, start:]
    attn = None if bool(mask.all()) else mask  # as generate(): no mask when nothing is padded
    inputs, rows = ids[:, start:], torch.arange(b, device=ids.device)
    out = torch.full((b, max_new_tokens), pad, dtype=torch.long, device=ids.device)
    alive = torch.ones(b, dtype=torch.bool, device=ids.device)  # no end token yet
    ended_at = torch.full((b,), max_new_tokens, device=ids.device)  # step of a row's end token
    aside: list[tuple[torch.Tensor, torch.Tensor]] = []  # per layer, every row's KV (keep_cache)
    steps = 0
    for step in range(max_new_tokens):
        logits = model(input_ids=inputs, attention_mask=attn, position_ids=position, past_key_values=cache,
                       use_cache=True, logits_to_keep=1).logits[:, -1]
        require_finite(logits, "sampling", model)
        logits = logits.float()
        if temperature > 0:
            probs = torch.zeros((b, logits.shape[-1]), device=logits.device)
            probs[:, pad] = 1.0
            probs[rows] = torch.softmax(logits / temperature, dim=-1)
            token = torch.multinomial(probs, num_samples=1).squeeze(1)[rows]
        else:
            token = logits.argmax(dim=-1)
        token = torch.where(alive[rows], token, pad)
        out[rows, step] = token
        ends = alive[rows] & (token == eos)
        alive[rows[ends]], ended_at[rows[ends]] = False, step
        steps = step + 1
        if not bool(alive.any()):
            break
        # rows that may leave: ended, and (keep_cache) their end token already fed back
        done = ~alive[rows] & ((ended_at[rows] < step) if keep_cache else True)
        if 2 * int(done.sum()) >= len(rows):
            if keep_cache:
                length = cache.get_seq_length()
                if not aside:
                    aside = [(layer.keys.new_zeros((b, *layer.keys.shape[1:2], width + max_new_tokens,
                                                    layer.keys.shape[-1])),
                              layer.values.new_zeros((b, *layer.values.shape[1:2], width + max_new_tokens,
                                                      layer.values.shape[-1])))
                             for layer in cache.layers]
                for (k, v), layer in zip(aside, cache.layers):
                    k[rows[done], :, :length], v[rows[done], :, :length] = layer.keys[done], layer.values[done]
            keep = (~done).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, token, position = rows[keep], token[keep], position[keep]
            attn = attn[keep] if attn is not None else None
        inputs, position = token[:, None], position[:, -1:] + 1
        if attn is not None:
            attn = torch.cat([attn, attn.new_ones((len(rows), 1))], dim=1)
    if keep_cache and aside:
        length = cache.get_seq_length()
        for (k, v), layer in zip(aside, cache.layers):
            k[rows, :, :length], v[rows, :, :length] = layer.keys, layer.values
            layer.set_rows(k, v, length)
    return torch.cat([ids, out[:, :steps]], dim=1), cache if keep_cache else None


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
    p_tensor, p_mask = left_pad(p_ids, pad_id, seq.device)
    return torch.cat([seq, p_tensor], dim=1), torch.cat([turn1_mask, p_mask], dim=1)


def sample_episodes(policy: Policy, problems: Iterable[Problem], *, max_new_tokens: int = 48,
                    temperature: float = 0.0, samples_per_problem: int = 1, batch_size: int = 16,
                    seed: int | None = 0, grade: bool = True, progress: bool = True,
                    desc: str = "sampling", instruction: str | None = None,
                    reuse_cache: bool = True) -> list[Episode]:
    """Two attempts for every (problem, sample), in batches. Greedy when temperature == 0.
    `instruction` replaces the paper's turn-2 instruction p (e.g. `prompts.SELF_REFINE_TURN2`).
    `reuse_cache`: x1 is prefilled once per problem of a batch for its k samples, turn 2 continues
    from turn 1's KV cache, prefilling only p instead of [x1, y1, p], and ended rows stop being computed
    (`_decode`; same tokens up to float rounding, `benchmarks/rollout.py` measures the gain). False:
    plain generate() on fresh prefills of every row's x1 and [x1, y1, p].

    Episodes come back grouped: the k samples of a problem are consecutive (RLOO needs the groups).
    """
    problems = list(problems)
    if samples_per_problem < 1:
        raise ValueError("samples_per_problem must be at least 1")
    if seed is not None:
        torch.manual_seed(seed)
    jobs = [(i, s) for i in range(len(problems)) for s in range(samples_per_problem)]
    tok = policy.tokenizer
    was_training = policy.model.training
    policy.model.eval()
    episodes: list[Episode] = []
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress, unit="ep")
    try:
        for start in range(0, len(jobs), batch_size):
            index = [i for i, _ in jobs[start:start + batch_size]]
            batch = [(problems[i], s) for i, s in jobs[start:start + batch_size]]
            x1 = [first_turn_ids(tok, p) for p, _ in batch]
            ids, mask = left_pad(x1, tok.pad_token_id, policy.device)
            if reuse_cache:
                seq, cache = _decode(policy, ids, mask, max_new_tokens, temperature,
                                     _shared_prefill(policy, ids, mask, index), keep_cache=True)
            else:
                seq, cache = _generate(policy, ids, mask, max_new_tokens, temperature)
            first = _split_rows(seq[:, ids.shape[1]:], tok.eos_token_id)
            p_ids = [second_turn_ids(tok, p, attempt1_ended=not trunc, instruction=instruction)
                     for (p, _), (_, trunc) in zip(batch, first)]
            if reuse_cache:
                ids, mask = _turn2_context(seq, mask, first, p_ids, tok.pad_token_id)
                seq, _ = _decode(policy, ids, mask, max_new_tokens, temperature, cache, keep_cache=False)
            else:
                ids, mask = left_pad([a + y1 + p for a, (y1, _), p in zip(x1, first, p_ids)],
                                      tok.pad_token_id, policy.device)
                seq, _ = _generate(policy, ids, mask, max_new_tokens, temperature)
            del cache
            second = _split_rows(seq[:, ids.shape[1]:], tok.eos_token_id)
            for (prob, s), x, (y1, t1), p, (y2, t2) in zip(batch, x1, first, p_ids, second):
                ep = Episode(problem=prob, x1_ids=x, y1_ids=y1, p_ids=p, y2_ids=y2,
                             y1=tok.decode(y1, skip_special_tokens=True),
                             y2=tok.decode(y2, skip_special_tokens=True), truncated1=t1, truncated2=t2, sample=s)
                if grade:
                    ep.r1, ep.r2 = binary_reward(prob, ep.y1), binary_reward(prob, ep.y2)
                    ep.outcome1, ep.outcome2 = outcome(prob, ep.y1, ep.r1), outcome(prob, ep.y2, ep.r2)
                episodes.append(ep)
            bar.update(len(batch))
    finally:
        bar.close()
        policy.model.train(was_training)
    return episodes
