"""Benchmark: two-attempt sampling (`sample_episodes`) against a plain batched `model.generate` that
produces the same number of new tokens on the same prompts.

The baseline is plain generation: one generate() call per batch for turn 1 and one for turn 2 whose
prompt is the whole [x1, y1, p] again (no scoring). The kit's arm is `sample_episodes` as training and
eval call it (scoring included), which continues turn 2 from turn 1's KV cache; a third arm,
`reuse_cache=False`, shows what that reuse is worth. All arms are timed in one process, alternating,
over several repeats. Padding fraction: share of the generate() output tensors (both turns) that are
left padding or filler after a row's end token. Writes results/bench_rollout.json, prints a table.

    python benchmarks/rollout.py              # cpu size: 32 problems, 40 new tokens, 3 repeats
    python benchmarks/rollout.py --smoke      # tiny model, a few seconds
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from scoreutils import load_policy, load_task, sample_episodes
from scoreutils.prompts import first_turn_ids, second_turn_ids
from scoreutils.rollout import _left_pad


def plain_generate(policy, problems, max_new_tokens, batch_size):
    """Two generate() calls per batch, greedy, no stopping bookkeeping: (new tokens, pad tokens, total)."""
    tok, new, pads, total = policy.tokenizer, 0, 0, 0
    for s in range(0, len(problems), batch_size):
        batch = problems[s:s + batch_size]
        ctx = [first_turn_ids(tok, p) for p in batch]
        for turn in range(2):
            ids, mask = _left_pad(ctx, tok.pad_token_id, policy.device)
            with torch.no_grad():
                out = policy.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                            do_sample=False, pad_token_id=tok.pad_token_id)
            gen = out[:, ids.shape[1]:]
            real = [(row != tok.pad_token_id).sum().item() + 1 for row in gen]  # + the end token
            new += sum(min(r, gen.shape[1]) for r in real)
            pads += int((mask == 0).sum()) + sum(gen.shape[1] - min(r, gen.shape[1]) for r in real)
            total += out.numel()
            if turn == 0:
                ctx = [c + g[: min(r, gen.shape[1])].tolist() + second_turn_ids(tok, p, True)
                       for c, g, r, p in zip(ctx, gen, real, batch)]
    return new, pads, total


def kit_pad_fraction(episodes, batch_size):
    """Padding share of the tensors `sample_episodes` builds, recomputed from the episodes' lengths."""
    pads = total = 0
    for s in range(0, len(episodes), batch_size):
        b = episodes[s:s + batch_size]
        w1, g1 = max(len(e.x1_ids) for e in b), max(len(e.y1_ids) for e in b)
        w2, g2 = max(len(e.p_ids) for e in b), max(len(e.y2_ids) for e in b)
        real1 = sum(len(e.x1_ids) + len(e.y1_ids) for e in b)
        real2 = real1 + sum(len(e.p_ids) + len(e.y2_ids) for e in b)
        total += len(b) * (w1 + g1) + len(b) * (w1 + g1 + w2 + g2)
        pads += len(b) * (w1 + g1) - real1 + len(b) * (w1 + g1 + w2 + g2) - real2
    return pads / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("results/bench_rollout.json"))
    args = ap.parse_args()
    model = "tiny" if args.smoke else "bundled"
    n, repeats = (4, 1) if args.smoke else (args.n, args.repeats)
    policy = load_policy(model)
    problems = load_task("arithmetic", "test", n=n, level=0)
    kit, nocache, base = [], [], []
    for _ in range(repeats):
        for runs, reuse in ((kit, True), (nocache, False)):
            t0 = time.perf_counter()
            eps = sample_episodes(policy, problems, max_new_tokens=args.max_new_tokens,
                                  batch_size=args.batch_size, progress=False, reuse_cache=reuse)
            runs.append((time.perf_counter() - t0, sum(len(e.y1_ids) + len(e.y2_ids) for e in eps)))
        t0 = time.perf_counter()
        new, pads, total = plain_generate(policy, problems, args.max_new_tokens, args.batch_size)
        base.append((time.perf_counter() - t0, new, pads / total))
    kit_tps = statistics.median(t / s for s, t in kit)
    nocache_tps = statistics.median(t / s for s, t in nocache)
    base_tps = statistics.median(t / s for s, t, _ in base)
    res = {"model": model, "n_problems": n, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
           "repeats": repeats, "threads": torch.get_num_threads(),
           "kit_tokens_per_s": kit_tps, "kit_no_cache_reuse_tokens_per_s": nocache_tps,
           "generate_tokens_per_s": base_tps, "ratio": kit_tps / base_tps,
           "kit_pad_fraction": kit_pad_fraction(eps, args.batch_size),
           "generate_pad_fraction": statistics.median(p for _, _, p in base),
           "kit_runs": kit, "kit_no_cache_reuse_runs": nocache, "generate_runs": base,
           "note": "kit = sample_episodes incl. scoring, turn 2 from turn 1's KV cache; "
                   "generate = two plain generate() calls per batch, turn 2 re-prefilled"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print(f"| arm | tokens/s |\n|---|---|\n| sample_episodes | {kit_tps:.1f} |\n"
          f"| sample_episodes, no cache reuse | {nocache_tps:.1f} |\n| plain generate | {base_tps:.1f} |")
    print(f"ratio {res['ratio']:.2f}; padding fraction kit {res['kit_pad_fraction']:.2f}, "
          f"plain {res['generate_pad_fraction']:.2f} -> {args.out}")


if __name__ == "__main__":
    main()
