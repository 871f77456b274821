"""The regime search behind the `repro` profile: which turn-1 answer form and arithmetic level make the bundled
model's errors reasoning slips rather than format failures. Measured on the VALIDATION split only (the test
split stays for the reported table), greedy, two attempts, the paper's turn-2 instruction verbatim.

Per candidate (a level and a `prompts.ARITHMETIC_FORMATS` name): Acc@t1, Acc@t2, Δ, Δi→c, Δc→i, the rates of
attempts with no extractable answer (t1, t2), of attempts that copy the literal "$answer$", and of second
attempts identical to the first. Then the repro profile's regime sampled at a temperature on training
problems: its accuracy and how often an RLOO group of k samples would be all zero, or mixed (learnable).
Writes results/regime_search.json; docs/reproduction.md reports it. One thread, one candidate at a time:

    OMP_NUM_THREADS=1 python tools/regime_search.py          # all candidates, then sampled at the profile's temperature
    OMP_NUM_THREADS=1 python tools/regime_search.py --only 3                          # one candidate (index)
    OMP_NUM_THREADS=1 python tools/regime_search.py --only --temperatures 0.4 0.7 1.0  # sampled only

On a busy 2-core machine: 2-4 minutes per candidate, 3-5 minutes per temperature. New results are merged into
the file (a candidate or temperature measured again replaces its old entry).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoreutils.config import get_profile  # noqa: E402
from scoreutils.metrics import episode_metrics  # noqa: E402

OUT = ROOT / "results" / "regime_search.json"
# (level, turn-1 format). The first is the cpu profile's prompt on the grown level; the rule below picks one.
CANDIDATES = [(6, "final-answer"), (6, "number-only"), (6, "boxed"), (6, "brief-boxed"), (7, "brief-boxed")]
RULE = ("Acc@t1 between 0.35 and 0.70, no-answer rate under 0.05 at both attempts and no literal $answer$; "
        "among those, the fewest identical second attempts, then the highest Acc@t1")
N_VALIDATION = 150
N_SAMPLED, K_SAMPLED = 32, 8  # training problems x samples each, for the sampled accuracy


def literal_rate(texts: list[str]) -> float:
    """Fraction of attempts that copy the instruction's placeholder "$answer$" instead of an answer."""
    return sum("$answer$" in t for t in texts) / max(len(texts), 1)


def measure(policy: Any, level: int, fmt: str, n: int) -> dict[str, Any]:
    """Greedy two-attempt metrics of one candidate on `n` validation problems."""
    from scoreutils.runs.pipeline import evaluate_policy

    profile = get_profile("repro", level=level, turn1_format=fmt)
    t0 = time.perf_counter()
    m, eps = evaluate_policy(policy, profile, split="validation", n=n, label=f"L{level}/{fmt}")
    y1, y2 = [e.y1 for e in eps], [e.y2 for e in eps]
    return {"level": level, "turn1_format": fmt, "n": m["n"], "acc_t1": m["acc_t1"], "acc_t2": m["acc_t2"],
            "delta": m["delta"], "delta_ci": m["delta_ci"], "delta_i_to_c": m["delta_i_to_c"],
            "delta_c_to_i": m["delta_c_to_i"], "no_answer_t1": m["no_answer_t1"], "no_answer_t2": m["no_answer_t2"],
            "literal_answer_t1": literal_rate(y1), "literal_answer_t2": literal_rate(y2),
            "identical_y2": sum(a.strip() == b.strip() for a, b in zip(y1, y2)) / len(eps),
            "truncated_t1": m["truncated_t1"], "truncated_t2": m["truncated_t2"],
            "example": {"problem": eps[0].problem.prompt, "y1": y1[0], "y2": y2[0]},
            "wall_s": round(time.perf_counter() - t0, 1)}


def passes(row: dict[str, Any]) -> bool:
    return (0.35 <= row["acc_t1"] <= 0.70 and row["no_answer_t1"] < 0.05 and row["no_answer_t2"] < 0.05
            and row["literal_answer_t1"] == 0 and row["literal_answer_t2"] == 0)


def choose(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    ok = [r for r in rows if passes(r)]
    return min(ok, key=lambda r: (r["identical_y2"], -r["acc_t1"])) if ok else None


def all_zero_share(zeros: list[int], samples: int, k: int) -> float:
    """Expected share of RLOO groups of `k` samples with all rewards zero, from per-problem counts of zero
    episodes among `samples` (unbiased: the chance that k of the samples drawn without replacement are zero)."""
    return sum(math.comb(z, k) / math.comb(samples, k) for z in zeros) / len(zeros)


def mixed_share(zeros: list[int], samples: int, k: int) -> float:
    """Expected share of groups of `k` whose rewards are not all equal (the only ones RLOO learns from)."""
    return 1 - all_zero_share(zeros, samples, k) - all_zero_share([samples - z for z in zeros], samples, k)


def sampled(policy: Any, temperature: float) -> dict[str, Any]:
    """Sampled accuracy of the repro profile's regime at `temperature` on training problems, and the share of
    RLOO groups (k = 2, 4, 8) with zero reward on both attempts, or with rewards not all equal (mixed)."""
    from scoreutils.rewards.answers import extract_answer
    from scoreutils.runs.pipeline import profile_problems
    from scoreutils.rollout import sample_episodes

    profile = get_profile("repro", temperature=temperature)
    problems = profile_problems(profile, "train", N_SAMPLED)
    t0 = time.perf_counter()
    eps = sample_episodes(policy, problems, max_new_tokens=profile.max_new_tokens, temperature=temperature,
                          samples_per_problem=K_SAMPLED, batch_size=profile.batch_size, seed=0, desc="sampled")
    groups = [eps[i:i + K_SAMPLED] for i in range(0, len(eps), K_SAMPLED)]
    zeros = [sum(e.r1 == 0 and e.r2 == 0 for e in g) for g in groups]
    zeros1 = [sum(e.r1 == 0 for e in g) for g in groups]
    zeros2 = [sum(e.r2 == 0 for e in g) for g in groups]
    m = episode_metrics(eps)
    return {"temperature": temperature, "problems": len(groups), "samples_per_problem": K_SAMPLED,
            "acc_t1": m["acc_t1"], "acc_t2": m["acc_t2"], "no_answer_t1": m["no_answer_t1"],
            "no_answer_t2": m["no_answer_t2"], "literal_answer_t2": literal_rate([e.y2 for e in eps]),
            "problems_never_right": sum(z == K_SAMPLED for z in zeros) / len(groups),
            "all_zero_groups": {str(k): all_zero_share(zeros, K_SAMPLED, k) for k in (2, 4, 8)},
            "mixed_attempt1_groups": {str(k): mixed_share(zeros1, K_SAMPLED, k) for k in (2, 4, 8)},
            "mixed_attempt2_groups": {str(k): mixed_share(zeros2, K_SAMPLED, k) for k in (2, 4, 8)},
            "no_answer_t2_examples": [e.y2 for e in eps if e.r2 == 0 and extract_answer(e.y2) is None][:3],
            "wall_s": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", type=int, nargs="*", default=None,
                    help="candidate indices to (re)measure (none: only the sampled accuracy)")
    ap.add_argument("--n", type=int, default=N_VALIDATION)
    ap.add_argument("--temperatures", type=float, nargs="*", default=None,
                    help="sampled accuracy at these temperatures (default: the repro profile's)")
    args = ap.parse_args(argv)
    import torch

    from scoreutils.runs.pipeline import profile_policy

    torch.set_num_threads(1)
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    rows = {(r["level"], r["turn1_format"]): r for r in old.get("candidates", [])}
    policy = profile_policy(get_profile("repro"))
    for i, (level, fmt) in enumerate(CANDIDATES):
        if args.only is None or i in args.only:
            rows[(level, fmt)] = measure(policy, level, fmt, args.n)
            print(json.dumps({k: v for k, v in rows[(level, fmt)].items() if k != "example"}), flush=True)
    ordered = [rows[c] for c in CANDIDATES if c in rows]
    chosen = choose(ordered)
    temps = args.temperatures if args.temperatures is not None else [get_profile("repro").temperature]
    samp = {str(s["temperature"]): s for s in old.get("sampled", []) if "mixed_attempt1_groups" in s}
    for t in temps:
        samp[str(t)] = sampled(policy, t)
        print(json.dumps(samp[str(t)]), flush=True)
    OUT.write_text(json.dumps({
        "split": "validation", "greedy": True, "turn2": "the paper's MATH turn-2 instruction, verbatim",
        "model": get_profile("repro").model, "max_new_tokens": get_profile("repro").max_new_tokens,
        "rule": RULE, "chosen": None if chosen is None else {"level": chosen["level"],
                                                            "turn1_format": chosen["turn1_format"]},
        "candidates": ordered, "sampled": list(samp.values()),
        "command": "OMP_NUM_THREADS=1 python tools/regime_search.py"}, indent=2))
    print(f"chosen: {chosen and (chosen['level'], chosen['turn1_format'])} -> {OUT}")


if __name__ == "__main__":
    main()
