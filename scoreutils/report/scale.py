"""Why SCoRe's effect is small at 135M: the numbers behind it, read from the shipped runs (lesson 07, section 5).

`scale_facts(root)` gathers them: how rarely the base model fixes a wrong answer (its P(fix) on the repro test
set), how many correction events a training step of the fair test samples, how many Stage II groups carry a
non-zero bonus, where Stage II's reward goes (turn-1 accuracy beside Δ, with attempt 1 free or anchored), how
many episodes a run sees beside the paper's, and what the repro verdict's intervals rule out. `scale_markdown(facts)` writes them as sentences whose words follow the numbers. Missing files leave
their facts out. Not here: the runs themselves (`make reproduce`, `tools/recipe_search.py`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import read_jsonl
from .paper import HYPERPARAMETERS, TABLE_MATH, THREE_ATTEMPTS_2B

BASE = "repro/base/seed0/metrics.json"
STAGE1_RUN = "recipe_search/s1only-96-scoreT"
"""The fair test's longest Stage I run (validation problems, on-policy scoring)."""
STAGE2_RUN = "recipe_search/s1-48-s2-48-scoreT"
"""48 steps of Stage I, then 48 of Stage II (validation problems, on-policy scoring)."""


def _episodes_per_step(run: Path) -> int | None:
    profile = json.loads((run / "config.json").read_text()).get("profile", {}) if (run / "config.json").exists() else {}
    if "problems_per_step" not in profile:
        return None
    return int(profile["problems_per_step"]) * int(profile.get("samples_per_problem", 1))


def scale_facts(root: Path) -> dict[str, Any]:
    """The facts of the module docstring, from the files under `root` (results/); absent files are skipped."""
    root, facts = Path(root), {}
    if (root / BASE).exists():
        m = json.loads((root / BASE).read_text())
        facts["base"] = {k: m.get(k) for k in ("n", "acc_t1", "n_wrong_t1", "p_fix")}
    stage1 = root / STAGE1_RUN
    per_step = _episodes_per_step(stage1) if stage1.exists() else None
    log = read_jsonl(stage1 / "log.jsonl") if per_step else []
    if log:
        events = [row["i_to_c"] * per_step for row in log]
        facts["stage1"] = {"steps": len(log), "episodes_per_step": per_step, "events": round(sum(events)),
                           "first8": sum(events[:8]) / min(8, len(events)), "last8": sum(events[-8:]) / min(8, len(events))}
    stage2 = read_jsonl(root / STAGE2_RUN / "log.jsonl") if (root / STAGE2_RUN).exists() else []
    rows = [r for r in stage2 if r.get("stage") == "stage2" and r.get("signal/groups")]
    if rows:
        facts["stage2"] = {"steps": len(rows), "groups": rows[0]["signal/groups"],
                           "bonus_groups": sum(r["signal/groups_bonus"] for r in rows) / len(rows),
                           "no_bonus_steps": sum(r["signal/groups_bonus"] == 0 for r in rows)}
    paper = HYPERPARAMETERS["MATH"]
    facts["paper"] = {"episodes": paper["steps"] * paper["batch"], "steps": paper["steps"], "batch": paper["batch"],
                      "delta": TABLE_MATH["SCoRe"][2], "three_attempts_2b": THREE_ATTEMPTS_2B}
    search = json.loads((root / "recipe_search.json").read_text()) if (root / "recipe_search.json").exists() else {}
    longer = [e for e in search.get("round5", {}).get("experiments", []) if e.get("first") == "s1only-96-scoreT"
              and e.get("second") == "s1only-48-scoreT"]
    if longer:
        e = longer[0]
        seeds = e["seeds"] if isinstance(e["seeds"], list) else list(range(e["seeds"]))
        lo, hi = e["ci"]
        facts["longer_stage1"] = {"delta_difference": e["delta_difference"], "ci": e["ci"], "n": e["n"],
                                  "seeds": len(seeds), "seed_ci": e.get("seed_ci"),
                                  "reads": e.get("reads") or ("above 0" if lo > 0 else "below 0" if hi < 0 else
                                                              "inconclusive")}
    for key, first in (("stage2_turn1", "s1-48-s2-48-scoreT"), ("anchor", "s1-48-s2-48-anchor")):
        found = [e for e in search.get("round5", {}).get("experiments", []) if e.get("first") == first
                 and e.get("acc_t1")]
        if found:
            e = found[0]
            facts[key] = {"second": e["second"], "acc_t1": e["acc_t1"], "delta_difference": e["delta_difference"],
                          "ci": e["ci"], "seed_ci": e.get("seed_ci"), "n": e["n"], "seeds": len(e["seeds"]),
                          "reads": e["reads"]}
    verdicts = json.loads((root / "verdicts.json").read_text()) if (root / "verdicts.json").exists() else []
    found = [v for v in verdicts if v.get("profile") == "repro" and v.get("id") == "score_delta_positive"]
    if found and found[0].get("intervals"):
        iv = found[0]["intervals"][0]
        facts["verdict"] = {"verdict": found[0]["verdict"], "value": iv["value"], "ci_problems": iv["ci_problems"],
                            "ci_seeds": iv.get("ci_seeds"), "n_seeds": iv.get("n_seeds"), "n": iv.get("n_distinct")}
    return facts


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _reading(reads: str) -> str:
    """"inconclusive (an interval includes 0)" -> "inconclusive: an interval includes 0" (to sit in brackets)."""
    return reads.replace(" (", ": ").removesuffix(")") if "(" in reads else reads


def _size(s: dict[str, Any]) -> str:
    return (f"{s['n']} validation problems, 1 seed" if s["seeds"] == 1 else
            f"{s['n'] // s['seeds']} validation problems × {s['seeds']} seeds")


def scale_markdown(facts: dict[str, Any]) -> str:
    """The facts as Markdown bullets, each sentence's wording chosen by its numbers."""
    out = []
    if "base" in facts:
        b = facts["base"]
        fixes = round(b["p_fix"] * b["n_wrong_t1"])
        out.append(f"**The raw material is rare.** Greedy, the base model fixes {fixes} of its {b['n_wrong_t1']} wrong "
                   f"first answers on the repro test set (P(fix) = {100 * b['p_fix']:.2f}%, {b['n']} problems): "
                   "Stage I and Stage II can only reinforce corrections the model samples.")
    if "stage1" in facts:
        s = facts["stage1"]
        trend = "more" if s["last8"] > s["first8"] else "no more" if s["last8"] == s["first8"] else "fewer"
        out.append(f"**Correction events per step.** In the fair test's longest Stage I run ({s['steps']} steps of "
                   f"{s['episodes_per_step']} sampled episodes), attempt 2 turned a wrong attempt 1 right {s['events']} "
                   f"times in all: {s['first8']:.1f} per step over the first 8 steps and {s['last8']:.1f} over the last 8 "
                   f"({trend} as training went on).")
    if "stage2" in facts:
        s = facts["stage2"]
        out.append(f"**Groups the bonus reaches.** Over {s['steps']} Stage II steps, {s['bonus_groups']:.1f} of the "
                   f"{s['groups']} groups per step had any r2 ≠ r1, the only groups whose bonus is non-zero; "
                   f"{s['no_bonus_steps']} steps had none.")
    if "longer_stage1" in facts:
        s = facts["longer_stage1"]
        lo, hi = s["ci"]
        moved = ("raised" if s["reads"] == "above 0" else "lowered" if s["reads"] == "below 0"
                 else "changed (inconclusive)")
        after = (": Stage I had not converged at 48 steps, and the reproduction's SCoRe runs had 8"
                 if s["reads"] == "above 0" else "")
        spread = (f", [{100 * s['seed_ci'][0]:.1f}, {100 * s['seed_ci'][1]:.1f}] over seeds" if s.get("seed_ci") else "")
        out.append(f"**Steps.** On {_size(s)}, 96 Stage I steps {moved} Δ by {_pts(s['delta_difference'])} points "
                   f"[{100 * lo:.1f}, {100 * hi:.1f}] over problems{spread}, against 48 steps{after}.")
    if "stage2_turn1" in facts:
        s, t1 = facts["stage2_turn1"], facts["stage2_turn1"]["acc_t1"]
        lo, hi = t1["ci"]
        turn1 = "raised" if lo > 0 else "lowered" if hi < 0 else "did not clearly move"
        delta = (f"Δ {_pts(s['delta_difference'])} [{100 * s['ci'][0]:.1f}, {100 * s['ci'][1]:.1f}] over problems"
                 + (f", [{100 * s['seed_ci'][0]:.1f}, {100 * s['seed_ci'][1]:.1f}] over seeds" if s.get("seed_ci") else "")
                 + f" ({_reading(s['reads'])})")
        why = (" Eq. 4 rewards both attempts, and here its gain went to the first answer, which leaves attempt 2 "
               "fewer errors to fix." if lo > 0 and s["delta_difference"] <= 0 else "")
        out.append(f"**Where Stage II's reward goes.** From the same 48 Stage I steps, 48 steps of Stage II {turn1} "
                   f"Acc@t1 against 48 more Stage I steps: {100 * t1['first']:.1f}% vs {100 * t1['second']:.1f}% "
                   f"({_pts(t1['difference'])} [{100 * lo:.1f}, {100 * hi:.1f}]), and moved {delta}, on "
                   f"{_size(s)}.{why}")
    if "anchor" in facts:
        s, t1 = facts["anchor"], facts["anchor"]["acc_t1"]
        out.append(f"**Attempt 1 anchored.** With no policy gradient on attempt 1 in Stage II (held by the β2 KL, as "
                   f"in Stage I), Acc@t1 is {100 * t1['first']:.1f}% against Eq. 4's {100 * t1['second']:.1f}%, and "
                   f"Δ − Eq. 4's Δ = {_pts(s['delta_difference'])} [{100 * s['ci'][0]:.1f}, {100 * s['ci'][1]:.1f}] "
                   f"over problems" + (f", [{100 * s['seed_ci'][0]:.1f}, {100 * s['seed_ci'][1]:.1f}] over seeds"
                                       if s.get("seed_ci") else "") + f" ({_reading(s['reads'])}), on {_size(s)}.")
    p = facts["paper"]
    if "stage1" in facts:
        mine = facts["stage1"]["steps"] * facts["stage1"]["episodes_per_step"]
        out.append(f"**Episodes.** That run sampled {mine:,} episodes; the paper's MATH run, {p['steps']:,} steps of "
                   f"batch {p['batch']}: at least {p['episodes']:,} ({p['episodes'] / mine:,.0f} times as many), with Gemini 1.5 "
                   "Flash, a model whose size is not published.")
    if "verdict" in facts:
        v = facts["verdict"]
        lo, hi = v["ci_seeds"] or v["ci_problems"]
        rules_out = "excludes" if not lo <= p["delta"] / 100 <= hi else "holds"
        zero = "holds 0" if lo <= 0 <= hi else "excludes 0"
        out.append(f"**What the test interval rules out.** SCoRe's Δ in the reproduction is {_pts(v['value'])} points, "
                   f"[{100 * lo:.1f}, {100 * hi:.1f}] over {v['n_seeds']} seeds ({v['n']} problems; verdict: "
                   f"{v['verdict']}): an interval that {zero} and {rules_out} the paper's {p['delta']:+.1f}.")
    base3, score3 = p["three_attempts_2b"]["base"], p["three_attempts_2b"]["SCoRe"]
    out.append(f"**The paper at 2B.** In its appendix, Gemma-2-2B goes from {base3[0]} / {base3[1]} / {base3[2]}% "
               f"(attempts 1 / 2 / 3) to {score3[0]} / {score3[1]} / {score3[2]}% after SCoRe: a gain of "
               f"{score3[1] - score3[0]:+.1f} points between attempts 1 and 2, small beside the "
               f"{score3[0] - base3[0]:+.1f} at attempt 1." + (
                   " At that scale the paper's own gain is mostly a better first answer, not a correction."
                   if score3[1] - score3[0] < score3[0] - base3[0] else ""))
    return "\n".join(f"- {line}" for line in out)
