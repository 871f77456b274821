"""Log-probs: the token ids of episodes as model inputs, and log pi(token) at every attempt token from ONE
forward pass over [x1, y1, p, y2] (for the policy, and with the adapter off for the reference); padding too.

`collate` lays episodes out as a `Batch` (flat, or with each distinct prompt x1 once, `share_prompt`);
`token_logprobs` / `attempt_logprobs` run the model on it, at a temperature when the sampler's distribution is
wanted (`Profile.score_at_temperature`). The losses that use these numbers are in `losses.py`; sampling in
`rollout.py`.

Shapes: B episodes (k consecutive samples per problem), T tokens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch


def left_pad(seqs: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids and attention mask, left-padded so every row's last token is at T-1."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
        mask[i, width - len(s):] = 1
    return ids.to(device), mask.to(device)


@dataclass
class Batch:
    """Token ids of the episodes and the masks of each attempt's tokens, in one of two layouts.

    Flat (`prompt_ids` is None): `input_ids` = [x1, y1, p, y2] left-padded, all tensors (B, T).
    Shared prompt: the G distinct prompts x1 once, left-padded in `prompt_ids` / `prompt_mask` (G, P), row b
    continuing prompt `prompt_of[b]` (B,); `input_ids` = [y1, p, y2] right-padded and the masks over it (B, C).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mask1: torch.Tensor
    mask2: torch.Tensor
    r1: torch.Tensor  # (B,)
    r2: torch.Tensor  # (B,)
    prompt_ids: torch.Tensor | None = None
    prompt_mask: torch.Tensor | None = None
    prompt_of: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(None if t is None else t.to(device) for t in (
            self.input_ids, self.attention_mask, self.mask1, self.mask2, self.r1, self.r2, self.prompt_ids,
            self.prompt_mask, self.prompt_of)))


def _rewards(episodes: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.tensor([float(e.r1 or 0.0) for e in episodes]),
            torch.tensor([float(e.r2 or 0.0) for e in episodes]))


def collate(episodes: Sequence[Any], pad_id: int, share_prompt: bool = False) -> Batch:
    """Episodes -> Batch. Masks come from each attempt's span (lengths), never from pad ids: SmolLM2's
    pad token is its end token, which attempt 1 must keep and be trained on. `share_prompt`: the shared
    layout (see `Batch`), in which episodes with the same x1 (the k samples of a problem) share its forward."""
    if share_prompt:
        return _collate_shared(episodes, pad_id)
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
    return Batch(ids, att.long(), m1, m2, *_rewards(episodes))


def _collate_shared(episodes: Sequence[Any], pad_id: int) -> Batch:
    prompts = list(dict.fromkeys(tuple(e.x1_ids) for e in episodes))
    prompt_ids, prompt_mask = left_pad([list(x) for x in prompts], pad_id, torch.device("cpu"))
    rest = [e.y1_ids + e.p_ids + e.y2_ids for e in episodes]
    width, b = max(len(r) for r in rest), len(episodes)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    att, m1, m2 = (torch.zeros((b, width), dtype=torch.float32) for _ in range(3))
    for i, (e, r) in enumerate(zip(episodes, rest)):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        att[i, :len(r)] = 1
        n1, n2 = len(e.y1_ids), len(e.y2_ids)
        m1[i, :n1] = 1
        m2[i, len(r) - n2:len(r)] = 1
    prompt_of = torch.tensor([prompts.index(tuple(e.x1_ids)) for e in episodes], dtype=torch.long)
    return Batch(ids, att.long(), m1, m2, *_rewards(episodes), prompt_ids, prompt_mask, prompt_of)


def _decoder_and_head(model: Any) -> tuple[Any, Any] | None:
    """The transformer body (hidden states) and the output layer of a causal LM, LoRA-wrapped or not; None
    for a wrapper that must be called as a whole (DistributedDataParallel syncs gradients in its forward)."""
    net = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not hasattr(net, "get_decoder"):
        return None
    return net.get_decoder(), net.get_output_embeddings()


def can_share_prompt(model: Any) -> bool:
    """Whether `token_logprobs` can run `model` on the shared-prompt layout: a model (not a wrapper such as
    DistributedDataParallel) without activation checkpointing."""
    parts = _decoder_and_head(model)
    return parts is not None and not getattr(parts[0], "gradient_checkpointing", False)


def _logprobs_whole_model(model: Any, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
    """The flat layout through the model's own forward: logits from the first attempt token onwards."""
    ids, att = batch.input_ids, batch.attention_mask
    wanted = (batch.mask1 + batch.mask2) > 0
    first = int(wanted.float().argmax(dim=1).min().item())
    position_ids = (att.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=att, position_ids=position_ids,
                   logits_to_keep=ids.shape[1] - first + 1).logits[:, :-1]  # predictions for tokens first .. T-1
    sel = wanted[:, first:]
    out = torch.zeros(ids.shape, dtype=torch.float32, device=ids.device)
    out[:, first:][sel] = _picked_logprobs(lambda h: h, logits[sel], ids[:, first:][sel], temperature=temperature)
    return out


def _picked_logprobs(head: Any, hidden: torch.Tensor, targets: torch.Tensor, chunk: int = 256,
                     temperature: float = 1.0) -> torch.Tensor:
    """log softmax(head(h) / temperature)[target] for N hidden states (N, H) and their targets (N,), `chunk`
    rows of logits at a time: the token's logit minus a logsumexp, never a full log-softmax."""
    picked = []
    for s in range(0, hidden.shape[0], chunk):
        lg = head(hidden[s:s + chunk]).float()
        if temperature != 1.0:
            lg = lg / temperature
        tgt = targets[s:s + chunk]
        picked.append(lg.gather(-1, tgt.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(lg, dim=-1))
    return torch.cat(picked) if picked else hidden.new_zeros(0)


def token_logprobs(model: Any, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
    """log pi(ids_t | ids_<t) at every attempt token, from ONE forward pass over [x1, y1, p, y2]; with
    `temperature` T, log pi_T = log softmax(logits / T): the distribution a sampler at T draws from.

    Returns the shape of `batch.input_ids`, zero outside mask1 | mask2. The output layer runs only on the
    hidden states that predict an attempt token (the prompt's and instruction's logits are never formed).
    In the shared layout each distinct x1 is run once and its KV cache indexed to its rows, which continue
    from it (same values up to float rounding; gradients flow through the shared prompt's cache to every
    row). That layout cannot run under activation checkpointing: a layer's recomputation would append to
    the cache a second time.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 to score tokens at it, not {temperature}")
    parts = _decoder_and_head(model)
    if parts is None:
        if batch.prompt_ids is not None:
            raise ValueError("the shared-prompt layout needs the model itself, not a wrapper of it")
        return _logprobs_whole_model(model, batch, temperature)
    decoder, head = parts
    wanted = (batch.mask1 + batch.mask2) > 0  # (B, T)
    ids, att = batch.input_ids, batch.attention_mask
    if batch.prompt_ids is None:
        position_ids = (att.cumsum(-1) - 1).clamp(min=0)  # generation's positions under left padding
        hidden = decoder(input_ids=ids, attention_mask=att, position_ids=position_ids).last_hidden_state
        # hidden state t predicts token t + 1
        h, tgt = hidden[:, :-1][wanted[:, 1:]], ids[:, 1:][wanted[:, 1:]]
        out = torch.zeros(ids.shape, dtype=torch.float32, device=ids.device)
        out[:, 1:][wanted[:, 1:]] = _picked_logprobs(head, h, tgt, temperature=temperature)
        return out
    if getattr(decoder, "gradient_checkpointing", False) and decoder.training:
        raise ValueError("the shared-prompt layout cannot run under activation checkpointing; "
                         "collate with share_prompt=False")
    from transformers import DynamicCache

    pmask, rows = batch.prompt_mask, batch.prompt_of
    cache = DynamicCache(config=decoder.config)
    ppos = (pmask.cumsum(-1) - 1).clamp(min=0)
    last = decoder(input_ids=batch.prompt_ids, attention_mask=pmask, position_ids=ppos, past_key_values=cache,
                   use_cache=True).last_hidden_state[:, -1]  # (G, H): predicts each row's first token
    cache.batch_select_indices(rows)
    position_ids = pmask.sum(-1)[rows].unsqueeze(1) + torch.arange(ids.shape[1], device=ids.device)
    hidden = decoder(input_ids=ids, attention_mask=torch.cat([pmask[rows], att], dim=1), position_ids=position_ids,
                     past_key_values=cache, use_cache=True).last_hidden_state
    hidden = torch.cat([last[rows].unsqueeze(1), hidden[:, :-1]], dim=1)  # hidden t predicts token t
    out = torch.zeros(ids.shape, dtype=torch.float32, device=ids.device)
    out[wanted] = _picked_logprobs(head, hidden[wanted], ids[wanted], temperature=temperature)
    return out


def attempt_logprobs(model: Any, batch: Batch, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor,
                                                                                  torch.Tensor]:
    """(token log-probs (B, T), log pi(y1|x1) (B,), log pi(y2|x2) (B,)) from one forward pass, at `temperature`."""
    lp = token_logprobs(model, batch, temperature)
    return lp, (lp * batch.mask1).sum(-1), (lp * batch.mask2).sum(-1)
