"""Benchmark: two-attempt sampling (`sample_episodes`) against plain batched `model.generate` producing the
same kind of tokens on the same prompts, in two settings:

- k = 1, greedy (evaluation): one row per problem.
- k samples per problem at the cpu profile's temperature (training: 4 x 0.7), `--k-problems` problems x k
  rows per batch as in one cpu-profile step. The plain arm generates from k copies of each prompt (what
  `generate(num_return_sequences=k)` does); the kit prefills each problem's x1 once for its k rows.

The baseline is plain generation: one generate() call per batch for turn 1 and one for turn 2 whose
prompt is the whole [x1, y1, p] again (no scoring). The kit's arm is `sample_episodes` as training and
eval call it (scoring included): x1 prefilled once per problem, turn 2 from turn 1's KV cache, the cache
appended in place. The `reuse_cache=False` arm (fresh prefills, generate()'s own cache) shows what that
reuse is worth. All arms run in one process, alternating, with the same seed per repeat, over several
repeats; rates are generated tokens per second of this process's CPU time (`time.process_time`: on a
shared machine, what other users take is not counted; the top-level numbers) and of wall time (`_wall`
/ `*_tokens_per_s` inside each setting), medians over repeats.

Also reported: padding fraction (share of the generate() output tensors, both turns, that are left
padding or filler after a row's end token), filler fraction (share of decoding row-steps spent after a
row's end token, the most that ended rows leaving the batch can save), and per-episode costs of decoding
the two attempts to text and grading them (`rewards.binary_reward`). Writes results/bench_rollout.json.

    python benchmarks/rollout.py              # bundled model: 16 problems (k=1), 4 problems x 4 (k=4)
    python benchmarks/rollout.py --smoke      # tiny model, a few seconds
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from scoreutils import binary_reward, get_profile, load_policy, load_task, sample_episodes
from scoreutils.config import write_json
from scoreutils.prompts import first_turn_ids, second_turn_ids
from scoreutils.logprobs import left_pad


def plain_generate(policy, problems, max_new_tokens, batch_size, temperature=0.0):
    """Two generate() calls per batch, no stopping bookkeeping: (new tokens, pad tokens, total)."""
    tok, new, pads, total = policy.tokenizer, 0, 0, 0
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": None} if temperature > 0 \
        else {"do_sample": False}
    for s in range(0, len(problems), batch_size):
        batch = problems[s:s + batch_size]
        ctx = [first_turn_ids(tok, p) for p in batch]
        for turn in range(2):
            ids, mask = left_pad(ctx, tok.pad_token_id, policy.device)
            with torch.no_grad():
                out = policy.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                            pad_token_id=tok.pad_token_id, **sampling)
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
    """Padding share of the tensors `sample_episodes` builds, recomputed from the episodes' lengths (as if
    no ended row left the batch: `kit_filler_fraction` is the share those rows stop costing)."""
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


def filler_fraction(episodes, batch_size):
    """Share of decoding row-steps (rows x steps of each turn's generate()) after a row's end token."""
    wasted = total = 0
    for s in range(0, len(episodes), batch_size):
        b = episodes[s:s + batch_size]
        for lens in ([len(e.y1_ids) for e in b], [len(e.y2_ids) for e in b]):
            total += len(lens) * max(lens)
            wasted += len(lens) * max(lens) - sum(lens)
    return wasted / total


def per_episode_costs(policy, episodes) -> dict[str, float]:
    """Seconds per episode to decode both attempts to text and to grade both (`rewards.binary_reward`)."""
    tok = policy.tokenizer
    t0 = time.perf_counter()
    for e in episodes:
        tok.decode(e.y1_ids, skip_special_tokens=True), tok.decode(e.y2_ids, skip_special_tokens=True)
    t1 = time.perf_counter()
    for e in episodes:
        binary_reward(e.problem, e.y1), binary_reward(e.problem, e.y2)
    t2 = time.perf_counter()
    return {"decode_s": (t1 - t0) / len(episodes), "score_s": (t2 - t1) / len(episodes)}


def _timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def run_setting(policy, problems, k, temperature, max_new_tokens, batch_size, repeats) -> dict[str, Any]:
    """The three arms, alternating, `repeats` times; each run is [wall s, cpu s, generated tokens]."""
    runs: dict[str, list] = {"kit": [], "kit_no_cache_reuse": [], "generate": []}
    copies = [p for p in problems for _ in range(k)]
    plain_pads: list[float] = []
    kit_eps: list = []
    for r in range(repeats):
        for arm in runs:
            torch.manual_seed(r)
            if arm == "generate":
                (new, pads, total), wall, cpu = _timed(
                    lambda: plain_generate(policy, copies, max_new_tokens, batch_size, temperature))
                plain_pads.append(pads / total)
            else:
                eps, wall, cpu = _timed(lambda: sample_episodes(
                    policy, problems, max_new_tokens=max_new_tokens, temperature=temperature,
                    samples_per_problem=k, batch_size=batch_size, seed=r, progress=False,
                    reuse_cache=arm == "kit"))
                new = sum(len(e.y1_ids) + len(e.y2_ids) for e in eps)
                if arm == "kit":
                    kit_eps = eps
            runs[arm].append([wall, cpu, new])
            print(f"  k={k} repeat {r} {arm}: {wall:.1f} s wall, {cpu:.1f} s cpu, {new} tokens", flush=True)

    def rate(arm, i):
        return statistics.median(x[2] / x[i] for x in runs[arm])

    res: dict[str, Any] = {"k": k, "temperature": temperature, "n_problems": len(problems), "rows": len(copies)}
    for arm in runs:
        res[f"{arm}_tokens_per_s"], res[f"{arm}_tokens_per_cpu_s"] = rate(arm, 0), rate(arm, 1)
    res["ratio"] = res["kit_tokens_per_s"] / res["generate_tokens_per_s"]
    res["ratio_cpu"] = res["kit_tokens_per_cpu_s"] / res["generate_tokens_per_cpu_s"]
    res["kit_pad_fraction"] = kit_pad_fraction(kit_eps, batch_size)
    res["generate_pad_fraction"] = statistics.median(plain_pads)
    res["kit_filler_fraction"] = filler_fraction(kit_eps, batch_size)
    res["per_episode"] = per_episode_costs(policy, kit_eps)
    res["runs_wall_cpu_tokens"] = runs
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--n", type=int, default=16, help="problems of the k=1 greedy setting")
    ap.add_argument("--k-problems", type=int, default=None, help="problems of the k>1 setting (default: cpu profile's)")
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("results/bench_rollout.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    cpu = get_profile("cpu")
    model = "tiny" if args.smoke else "bundled"
    n, kn, repeats = (4, 2, 1) if args.smoke else (args.n, args.k_problems or cpu.problems_per_step, args.repeats)
    policy = load_policy(model)
    greedy = run_setting(policy, load_task("arithmetic", "test", n=n, level=0), 1, 0.0, args.max_new_tokens,
                         args.batch_size, repeats)
    sampled = run_setting(policy, load_task("arithmetic", "train", n=kn, level=0), cpu.samples_per_problem,
                          cpu.temperature, args.max_new_tokens, args.batch_size, repeats)
    res = {"model": model, "n_problems": n, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
           "repeats": repeats, "threads": torch.get_num_threads(),
           **{f"{arm}_tokens_per_s": greedy[f"{arm}_tokens_per_cpu_s"]
              for arm in ("kit", "kit_no_cache_reuse", "generate")},
           "ratio": greedy["ratio_cpu"], "ratio_wall": greedy["ratio"],
           **{key: greedy[key] for key in ("kit_pad_fraction", "generate_pad_fraction")},
           "k1_greedy": greedy, f"k{sampled['k']}_sampled": sampled,
           "loadavg_1_5_15": list(os.getloadavg()), "wall_s": time.perf_counter() - t_start,
           "note": "kit = sample_episodes incl. scoring (x1 prefilled once per problem, turn 2 from turn 1's KV "
                   "cache, ended rows leave the batch); generate = two plain generate() calls per batch on k "
                   "copies of each prompt, turn 2 re-prefilled. Top-level numbers: the k=1 greedy setting, "
                   "tokens per CPU second of this one-thread process (its wall time on an idle machine; on a "
                   "shared one, wall time also counts what other users take: ratio_wall)."}
    write_json(args.out, res)
    print("| setting (tokens per CPU second) | kit | kit, no reuse | plain generate | ratio | ratio (wall) |")
    print("|---|---|---|---|---|---|")
    for name, s in (("k=1 greedy", greedy), (f"k={sampled['k']} T={sampled['temperature']}", sampled)):
        print(f"| {name} | {s['kit_tokens_per_cpu_s']:.1f} | {s['kit_no_cache_reuse_tokens_per_cpu_s']:.1f} | "
              f"{s['generate_tokens_per_cpu_s']:.1f} | {s['ratio_cpu']:.2f} | {s['ratio']:.2f} |")
    print(f"ratio per CPU second {res['ratio']:.2f} (k=1), {sampled['ratio_cpu']:.2f} (k={sampled['k']}); "
          f"filler fraction "
          f"{greedy['kit_filler_fraction']:.2f} / {sampled['kit_filler_fraction']:.2f}; grading "
          f"{1e3 * sampled['per_episode']['score_s']:.2f} ms/episode -> {args.out}")


if __name__ == "__main__":
    main()
