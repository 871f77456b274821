"""Regenerate README.md's verdict table and lessons table, and the whole of docs/results.md, from committed
files: results/*.json (written by `python -m scoreutils eval|train|demo`, the notebooks and `benchmarks/`)
and figures/*.png. Nothing in them is typed by hand: `make report` rewrites README's sections between
their markers and docs/results.md entirely, and writes results/verdicts.json (the paper's claims judged by
`scoreutils.report.verdicts`) and results/summary.json (one row per method and profile: seeds, held-out problems,
Δ with its interval and its spread across seeds).

    python tools/report.py            # rewrite README.md's sections and docs/results.md
    python tools/report.py --check    # exit 1 when either is not what the results say
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoreutils.metrics import ablation_table, metrics_table  # noqa: E402
from scoreutils.report.paper import HUMANEVAL_N, TABLE_ABLATIONS, TABLE_HUMANEVAL, TABLE_MATH  # noqa: E402
from scoreutils.config import PROFILES, read_jsonl  # noqa: E402
from scoreutils.report.reproduction import arm_table, percent  # noqa: E402
from scoreutils.report.verdicts import (MIN_N, TARGET, load_results, load_scaling, load_train_evaluations, summary, target,  # noqa: E402
                                 verdicts)

RESULTS, FIGURES = ROOT / "results", ROOT / "figures"
REPRO_RUNS = ("base", "score", "control", "naive_rl", "score-control", "stage1", "score-alpha0", "stage2", "star",
              "star_plus", "pair_sft", "pair_sft_plus", "pair_sft-on_train", "pair_sft_plus-on_train", "star_plus-on_train", "self_refine",
              "base-on_train", "score-scaling", "base-scaling", "score-curve", "naive_rl-curve")
"""The runs of `make reproduce` (tools/reproduce.py's RUNS; a test keeps the two lists equal)."""
REPRO_ONCE = ("base", "self_refine", "base-on_train", "base-scaling")
"""Runs made for the first seed only (tools/reproduce.py's ONE_SEED; the same test keeps them equal)."""
REPRO_MORE = {"score": (3, 4), "stage1": (3, 4), "naive_rl": (3, 4), "score-curve": (3, 4), "naive_rl-curve": (3, 4)}
"""Seeds beyond the first three (tools/reproduce.py's MORE_SEEDS; the same test keeps them equal)."""
RECIPE_PANELS = (("reward/attempt1", "reward, attempt 1"), ("reward/attempt2", "reward, attempt 2"),
                 ("changed_answer_rate", "changed-answer rate"))
"""The recipe search's training curves: what each candidate learned, step by step."""
# (row name, result file, paper row) in the order of the paper's Tables 1 and 2.
METHODS = [("base", "demo/base.json", "base"), ("Self-Refine", "self_refine.json", "Self-Refine"),
           ("STaR D", "star/metrics.json", "STaR D"), ("STaR D+", "star_plus/metrics.json", "STaR D+"),
           ("Pair-SFT D", "pair_sft/metrics.json", "Pair-SFT D"),
           ("Pair-SFT D+", "pair_sft_plus/metrics.json", "Pair-SFT D+"),
           ("naive multi-turn RL", "naive_rl/metrics.json", None), ("Stage I only", "stage1/metrics.json", None),
           ("SCoRe", "demo/score/metrics.json", "SCoRe")]
ABLATIONS = [("SCoRe", "demo/score/metrics.json", TABLE_ABLATIONS["SCoRe"]),
             ("w/o Stage I", "stage2/metrics.json", TABLE_ABLATIONS["w/o Stage I"]),
             ("w/o reward shaping", "score_alpha0/metrics.json", TABLE_ABLATIONS["w/o reward shaping"]),
             ("Stage II, α = 0 (w/o Stage I, w/o shaping)", "stage2_alpha0/metrics.json", None)]
LESSONS = [("00_quickstart", "00_quickstart_transitions.png", "the protocol, one episode, the metrics"),
           ("01_base_model_self_correction", "01_base_transitions.png", "Table 2: base and Self-Refine"),
           ("02_sft_collapse", "02_sft_corrections.png", "Table 1: STaR D/D+, Pair-SFT D/D+"),
           ("03_edit_distance", "03_edit_distance_heldout.png", "edit-distance ratios, held-out vs train"),
           ("04_naive_multiturn_rl", "04_naive_rl_curves.png", "naive multi-turn RL stops changing answers"),
           ("05_stage1", "05_stage1_curves.png", "Stage I (Eq. 3)"),
           ("06_stage2_reward_bonus", "06_stage2_corrections.png", "Stage II bonus (Eq. 4), α = 0 vs 10"),
           ("07_score_and_ablations", "07_inference_scaling.png", "SCoRe, Table 4 ablations, inference scaling"),
           ("08_code_self_correction", "08_code_transitions.png", "HumanEval with sandboxed tests")]


def _load(rel: str) -> dict | None:
    path = RESULTS / rel
    return json.loads(path.read_text()) if path.exists() else None


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


def colab_badge(name: str) -> str:
    """The "Open in Colab" badge of a lesson, from the repository URL pyproject.toml declares."""
    import tomllib

    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    link = f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/notebooks/{name}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"


LESSON_RUNS = {"00_quickstart": (), "01_base_model_self_correction": ("demo/base.json", "self_refine.json"),
               "02_sft_collapse": ("star/metrics.json", "star_plus/metrics.json", "pair_sft/metrics.json",
                                   "pair_sft_plus/metrics.json"),
               "03_edit_distance": (), "04_naive_multiturn_rl": ("naive_rl/metrics.json",),
               "05_stage1": ("stage1/metrics.json",),
               "06_stage2_reward_bonus": ("stage2/metrics.json",),
               "07_score_and_ablations": ("demo/score/metrics.json", "score_alpha0/metrics.json"),
               "08_code_self_correction": ("humaneval_base.json",)}
"""The cpu-profile runs each lesson makes when TRAIN = True and they are missing (03 reuses 02's; 06 reuses 04's naive
RL as Stage II at α = 0; 07 also reuses 06's Stage II), whose logged wall times (training, then evaluation) say what making them costs."""


def making_minutes(name: str) -> float | None:
    """Minutes on 2 CPU cores to make `name`'s own runs (train_wall_s + wall_s of each), None if unknown."""
    runs = [_load(rel) for rel in LESSON_RUNS[name]]
    if any(r is None for r in runs):
        return None
    return sum(r.get("train_wall_s", 0) + r.get("wall_s", 0) for r in runs) / 60


def notebook_map() -> str:
    times = _load("notebook_times.json") or {}
    lines = ["| lesson | Colab | the paper's | shipped runs (min) | making its runs on CPU (min) | free GPU | figure |",
             "|---|---|---|---|---|---|---|"]
    for name, fig, what in LESSONS:
        img = f"![{name}](figures/{fig})" if (FIGURES / fig).exists() else "(not yet run)"
        making = making_minutes(name)
        make = "none" if not LESSON_RUNS[name] else _minutes(None if making is None else making * 60)
        lines.append(f"| [`{name}`](notebooks/{name}.ipynb) | {colab_badge(name)} | {what} | "
                     f"{_minutes(times.get(name))} | {make} | unmeasured | {img} |")
    note = ("\nMeasured on 2 CPU cores: *shipped runs* is the lesson with `TRAIN = False`, loading the runs in "
            "`results/` (`make notebooks`, `results/notebook_times.json`); *making its runs* is the logged training "
            "and evaluation time of the cpu-profile runs the lesson makes with `TRAIN = True` when they are "
            "missing (`train_wall_s` + `wall_s` of each run's JSON; 03 reuses 02's runs, 06 04's naive RL). GPU times are not "
            "measured: `python benchmarks/gpu_profile.py` on a GPU writes `results/bench_gpu.json`, and each "
            "lesson's second cell then reports its estimate.")
    return "\n".join(lines) + note


def demo_line() -> str:
    """README's sentence on what `make demo` costs, from its committed log (`/usr/bin/time -v` output)."""
    log = RESULTS / "logs" / "demo.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    wall = re.findall(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", text)
    rss = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not wall or not rss:
        return "Its time and memory are not measured yet (`results/logs/demo.log`)."
    h, m, sec = wall[-1]
    minutes = 60 * int(h or 0) + int(m) + float(sec) / 60
    return (f"On 2 CPU cores it took {minutes:.1f} min with a peak RSS of {int(rss[-1]) / 2**20:.1f} GiB "
            "(`results/logs/demo.log`, measured with `/usr/bin/time -v`; setup not included).")


def _demo_time() -> str:
    """The demo's own wall-time line, when its log is committed."""
    log = RESULTS / "logs" / "demo.log"
    found = re.findall(r"demo wall time: (\d+) s", log.read_text(errors="replace")) if log.exists() else []
    return f" (whole demo {int(found[-1]) / 60:.1f} min)" if found else ""


@functools.lru_cache(maxsize=1)
def judged() -> tuple[list[dict], list[dict]]:
    """(verdicts, summary rows) of every profile with held-out runs under results/, each tagged with it."""
    found, rows = [], []
    for name in PROFILES:
        res = load_results(RESULTS, name)
        if res:
            found += [{"profile": name, **v} for v in verdicts(res, load_scaling(RESULTS, name),
                                                                 load_train_evaluations(RESULTS, name))]
            rows += [{"profile": name, **r} for r in summary(res)]
    return found, rows


RULES_ONCE = ("Every verdict is computed by `scoreutils/report/verdicts.py` from the held-out episodes, never typed. Each "
              "value a claim rests on gets two 95% intervals: **over problems** (each problem's value averaged over "
              "the seeds that hold it, problems matched by their text; an adjusted paired interval that never "
              "collapses to [0, 0]) and **over seeds** (a t-interval of the per-seed values: the variance that "
              "training adds). A claim is *reproduced* or *not reproduced* only when both intervals say so; "
              "*inconclusive* when they disagree, when either straddles the rule's boundary, when a trained arm has "
              f"one seed (its between-seed variance is unknown), below {MIN_N} problems or with a run missing; "
              "*untestable* when an arm cannot test the claim as made (an SFT data set of fewer than 200 pairs, "
              "fewer than three compute budgets). Outcomes are three per attempt — right, wrong answer, no answer "
              "— and a second attempt with no answer (\"I'm sorry for the confusion…\") is never counted as a "
              "revision. Rules, both intervals and the paper's reference of each claim: `results/verdicts.json`; "
              "one row per method with the outcome split: `results/summary.json`.")


def verdict_section() -> list[str]:
    found, _ = judged()
    out = ["### The paper's claims, judged", RULES_ONCE, ""]
    profiles = sorted(dict.fromkeys(v["profile"] for v in found), key=lambda p: (p != "repro", p))
    for prof in profiles:
        lines = ["| claim | paper | verdict | evidence (percentage points; 95% intervals over problems, then over seeds) |",
                 "|---|---|---|---|"]
        lines += [f"| {v['claim']} | {v['paper_ref']} | **{v['verdict']}** | {v['evidence'].replace('|', '/')} |"
                  for v in found if v["profile"] == prof]
        where = ("`make reproduce`, results/repro" if prof == "repro" else
                 "the lessons' runs, one seed: no claim about a trained arm can be reproduced or refuted by rule")
        out += [f"#### {prof} profile ({where})", "", *lines, "",
                target([v for v in found if v["profile"] == prof])
                + (" " + searched if prof == "repro" and (searched := recipe_outcome()) else ""), ""]
    return out + rejudged_section()


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}"


def short_evidence(v: dict) -> str:
    """One line of a verdict's evidence: each value with its two intervals, or the first clause."""
    parts = []
    for iv in v.get("intervals") or []:
        if iv.get("value") is None:
            continue
        ci_p, ci_s = iv.get("ci_problems"), iv.get("ci_seeds")
        signed = "−" in iv["what"] or iv["what"].startswith("Δ")
        value = _pct(iv["value"]) if signed else f"{100 * iv['value']:.1f}"
        text = f"{iv['what']} {value}"
        if ci_p:
            text += f" [{100 * ci_p[0]:.1f}, {100 * ci_p[1]:.1f}] over {iv.get('n_distinct', '?')} problems"
        seeds = iv.get("n_seeds") or 0
        if ci_s and seeds >= 2:
            text += f", [{100 * ci_s[0]:.1f}, {100 * ci_s[1]:.1f}] over {seeds} seeds"
        elif ci_p:
            text += f", {seeds} seed" + ("s" * (seeds != 1))
        parts.append(text)
    if not parts:
        return v["evidence"].split("; ")[0].replace("|", "/")
    return "; ".join(parts[:2]).replace("|", "/") + ("; …" if len(parts) > 2 else "")


def readme_verdicts() -> str:
    """README's first table: each claim of the paper, its verdict, one line of evidence (the repro profile's
    runs where they exist), then whether SCoRe's target is met; the details are in docs/results.md."""
    found, _ = judged()
    if not found:
        return "No held-out runs under results/ yet: `make reproduce`, then `make report`."
    prof = "repro" if any(v["profile"] == "repro" for v in found) else found[0]["profile"]
    rows = [v for v in found if v["profile"] == prof]
    lines = [f"Judged by `scoreutils/report/verdicts.py` from the {prof} profile's held-out runs, never typed. Values in "
             "percentage points (or %), with 95% intervals over problems and over seeds; *reproduced* or *not "
             "reproduced* only when both intervals agree. Rules and full evidence: [docs/results.md](docs/results.md).",
             "", "| the paper's claim | where | verdict | evidence |", "|---|---|---|---|"]
    lines += [f"| {v['claim']} | {v['paper_ref'].split(' (')[0]} | **{v['verdict']}** | {short_evidence(v)} |"
              for v in rows]
    counts = {k: sum(v["verdict"] == k for v in rows) for k in ("reproduced", "not reproduced", "inconclusive",
                                                                "untestable")}
    by_id = {v["id"]: v for v in rows}
    met = "met" if all(i in by_id and by_id[i]["verdict"] == "reproduced" for i in TARGET) else "not met"
    lines += ["", f"{len(rows)} claims: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + ". "
              f"SCoRe's target (Δ > 0 and above naive multi-turn RL's, on both intervals) is **{met}**."]
    if prof == "repro":
        arms = lambda root: {p.parent.parent.name for p in (RESULTS / root).glob("*/seed*/metrics.json")}  # noqa: E731
        earlier = sorted(arms("repro_v1") - arms("repro"))
        if earlier:
            lines[-1] += (f" Runs of {', '.join(earlier)} are still the first reproduction's (`results/repro_v1`: "
                          "Stage I for 8 steps, samples drawn at T = 0.4 but scored at T = 1), until `make reproduce` "
                          "re-makes them on the shared test set; the fair test of SCoRe's recipe runs on the "
                          "validation split first (docs/results.md, recipe search).")
    return "\n".join(lines)


def results_doc() -> str:
    """docs/results.md: every table and figure of the results, generated."""
    body = results_section().replace("](figures/", "](../figures/")
    return ("# Results\n\nGenerated by `make report` (`tools/report.py`) from the JSON under `results/`; do not "
            "edit. Every number comes from a command named here or in `results/logs/`: re-run it, then "
            "`make report`.\n\n" + body.replace("\n### ", "\n## ").replace("\n#### ", "\n### ") + "\n")


def rejudged_section() -> list[str]:
    """The verdicts of the committed runs before the re-judging (results/verdicts_v1.json, as the earlier rules
    gave them) beside today's, claim by claim, with why each changed."""
    before = _load("verdicts_v1.json")
    if not before:
        return []
    now = {(v["profile"], v["id"]): v for v in judged()[0]}
    lines = ["| profile | earlier claim | earlier verdict | now judged as | verdict now | why it changed |",
             "|---|---|---|---|---|---|"]
    for old in before:
        new_ids = REJUDGED.get(old["id"], ((), ""))[0]
        why = REJUDGED.get(old["id"], ((), "the claim is no longer judged"))[1]
        news = [now[(old["profile"], i)] for i in new_ids if (old["profile"], i) in now]
        lines.append(f"| {old['profile']} | {old['claim']} | {old['verdict']} | "
                     + " / ".join(n["claim"] for n in news) + " | "
                     + " / ".join(f"**{n['verdict']}**" for n in news) + f" | {why} |")
    return ["### What the re-judging changed",
            "The same committed episodes, judged first by the earlier rules (one interval over pooled problems, "
            "non-answers counted as answers, claims stated more strictly or loosely than the paper; "
            "`results/verdicts_v1.json`) and now by the rules above (`python tools/rejudge.py`, then `make report`).",
            "", *lines, ""]


REJUDGED: dict[str, tuple[tuple[str, ...], str]] = {
    "base_second_attempt_hurts": (("base_delta_negative", "base_breaks_right_answers"),
                                  "non-answers are now counted apart: beside Δ, the second attempt's breaks are judged "
                                  "among answers (right→wrong against wrong→right)"),
    "sft_no_positive_delta": (("sft_lowers_breaks", "sft_no_more_fixes"),
                              "the paper does not claim Δ ≤ 0 for SFT (its Table 1 has +1.8 and +0.4); it claims "
                              "fewer breaks and no more fixes. Arms trained on fewer than 200 pairs are untestable"),
    "sft_edits_shrink": (("sft_minimal_edits",), "edit distance is now measured on pairs where both attempts answer "
                         "(a non-answer is not an edit of an answer), and arms trained on fewer than 200 pairs are "
                         "untestable"),
    "naive_rl_stops_changing": (("naive_rl_stops_proposing",),
                                "a second attempt with no answer no longer counts as a changed answer: only pairs where "
                                "both attempts answer, with different answers, do"),
    "stage1_turn1_stays": (("stage1_turn1_near_base",), "nearness is now a rule fixed in code (Acc@t1 within ±2 "
                           "points, ≥ 90% the same turn-1 answer), not turn-1 agreement above turn-2 agreement"),
    "bonus_raises_delta": (("bonus_raises_delta",), "the interval over seeds is now required too"),
    "score_delta_positive": (("score_delta_positive",), "the interval over seeds is now required too"),
    "score_beats_naive_rl": (("score_beats_naive_rl",), "the interval over seeds is now required too"),
    "sequential_beats_parallel": (("sequential_beats_parallel",),
                                  "the paper's claim is about majority voting at several budgets (Figure 1, right), "
                                  "not one second attempt against one fresh sample"),
}
"""Earlier claim id -> (the claims that now judge it, why its verdict can differ): methodology, in words."""


def recipe_outcome() -> str:
    """One sentence: how many recipe-search candidates had a validation Δ interval above 0, and the chosen one."""
    data = _load("recipe_search.json")
    if not data or not data.get("candidates"):
        return ""
    rows = data["candidates"]
    above = [name for name, m in rows.items() if (m.get("delta_ci") or [0, 0])[0] > 0]
    chosen = rows.get(data.get("chosen") or "")
    pick = (f"; its rule chose {data['chosen']} (validation Δ {100 * chosen['delta']:+.1f} "
            f"[{100 * chosen['delta_ci'][0]:.1f}, {100 * chosen['delta_ci'][1]:.1f}]), the recipe of every run above"
            if chosen and chosen.get("delta_ci") else "")
    return (f"The recipe search on {data['n']} validation problems tried {len(rows)} candidates; "
            f"{f'{len(above)} of them' if above else 'none of them'} had a Δ whose 95% interval lies above 0"
            + (f" ({', '.join(above)})" if above else "") + pick + ".")


def run_walls(log: str) -> dict[str, dict[int, tuple[float, int]]]:
    """Per run and seed, (seconds, parts) from `make reproduce`'s log: a run stopped and resumed is the sum of
    its parts (each from its start line to the stop), the finished part's own wall time last."""
    started: dict[tuple[str, int], datetime] = {}
    spent: dict[tuple[str, int], tuple[float, int]] = {}
    walls: dict[str, dict[int, tuple[float, int]]] = {}
    for line in log.splitlines():
        found = re.match(r"(\S+ \S+) (start|done|FAILED|interrupted) (\S+)/seed(\d+)"
                         r"(?:.* rc=(-?\d+) wall=(\d+)s)?", line)
        if not found:
            continue
        when, event, key = datetime.fromisoformat(found.group(1)), found.group(2), (found.group(3), int(found.group(4)))
        if event == "start":
            started[key] = when
            continue
        before, parts = spent.pop(key, (0.0, 0))
        start = started.pop(key, when)
        took = int(found.group(6)) if found.group(6) else (when - start).total_seconds()
        if event == "done" and found.group(5) == "0":
            walls.setdefault(key[0], {})[key[1]] = (before + took, parts + 1)
        else:  # stopped or failed: a re-run resumes it
            spent[key] = (before + took, parts + 1)
    return walls


def _test_set_words(res, prof) -> str:
    """How the runs shown were evaluated: each seed on its own draw, or all on the shared test set."""
    shared = {r.path.parent.parent.name for runs in res.values() for r in runs
              if r.metrics.get("profile", {}).get("test_set") == "all"}
    n_all = max((r.metrics.get("n_distinct", 0) for runs in res.values() for r in runs), default=0)
    if not shared:
        return (f"{prof.n_eval} held-out test problems per seed (each seed drew its own {prof.n_eval}: runs made "
                "before the shared test set)")
    return (f"remade on the shared test set so far: {', '.join(sorted(shared))} (all {n_all} held-out problems of "
            f"the level, the same for every seed and arm); the other arms are the earlier runs of results/repro_v1, "
            f"each seed on its own draw of {prof.n_eval} (a problem column reads \"per seed (distinct over seeds)\")")


def _recipe_words(res, prof) -> str:
    """The RL recipe of the shown RL runs: the profile's current one, or an earlier one (`config.EARLIER_RECIPES`)
    where `make reproduce` has not remade them yet."""
    from scoreutils.config import EARLIER_RECIPES

    def words(steps: int, stage1: int, on_policy: bool) -> str:
        return (f"{steps} steps (Stage I for the first {stage1}) of {prof.problems_per_step} problems × "
                f"{prof.samples_per_problem} samples at T={prof.temperature}, the update "
                + ("on-policy (scored at the sampling temperature)" if on_policy else "scoring them at T = 1 (off-policy)"))

    current = words(prof.steps, prof.stage1_steps, prof.score_at_temperature)
    earlier = sorted({r.recipe for runs in res.values() for r in runs if r.recipe})
    if not earlier:
        return f"RL runs: {current}"
    old = {**{f: getattr(prof, f) for f in EARLIER_RECIPES[prof.name][0]}, **EARLIER_RECIPES[prof.name][earlier[0] - 1]}
    arms = ", ".join(a for a, runs in res.items() if any(r.recipe for r in runs))
    return (f"RL runs ({arms}): the first recipe's, results/repro_v1, {words(old['steps'], old['stage1_steps'], old['score_at_temperature'])}; "
            f"`make reproduce` remakes them with the current recipe (docs/reproduction.md#the-fair-test): {current}")


def repro_section() -> list[str]:
    """`make reproduce`'s table: per arm pooled metrics over its seeds, progress, wall times, mechanism figures."""
    from scoreutils.report.plots import MECHANISM_PANELS, STAGE1_PANELS, plot_log_panels

    res = load_results(RESULTS, "repro")  # results/repro, and results/repro_v1 where not yet remade
    if not res:
        return []
    prof = PROFILES["repro"]
    done = sorted(p.parent.parent.name + "/" + p.parent.name for p in (RESULTS / "repro").glob("*/seed*/metrics.json"))
    total = sum(1 if name in REPRO_ONCE else 3 + len(REPRO_MORE.get(name, ())) for name in REPRO_RUNS)
    log = RESULTS / "logs" / "reproduce.log"
    walls = run_walls(log.read_text() if log.exists() else "")
    wall = "; ".join(f"{name} " + ", ".join(f"{s / 60:.0f}" + ("*" * (parts > 1)) for s, parts in
                                            (v[k] for k in sorted(v))) + " min" for name, v in walls.items())
    out = ["### The reproduction (repro profile, `make reproduce`)",
           f"Bundled SmolLM2-135M-Instruct on arithmetic level {prof.level} (turn-1 format \"{prof.turn1_format}\", "
           f"chosen on validation problems: docs/reproduction.md), " + _test_set_words(res, prof) + "; greedy evaluation; "
           + _recipe_words(res, prof) + ". "
           + (f"**All {total} runs finished.** " if len(done) >= total else
              f"**{len(done)} of {total} runs finished**; the table grows as `make reproduce` goes on (it resumes "
              "where it stopped). ") + "In %; Δ pooled over seeds with its two 95% intervals (over problems, over seeds); "
           "broken right answers split into right→wrong and right→none (no answer), fixes into wrong→right and "
           "none→right; \"different answer\" counts pairs where both attempts answer. `control` is the untrained model's parallel "
           "sampling: its attempt 2 is a fresh turn-1 sample (`score-control`: the same for the trained SCoRe model).", "", arm_table(res), ""]
    if wall:
        n_runs = sum(len(v) for v in walls.values())
        hours = sum(s for v in walls.values() for s, _ in v.values()) / 3600
        resumed = any(parts > 1 for v in walls.values() for _, parts in v.values())
        out += [f"Wall time per run, seed by seed, one thread beside another one-thread job on 2 cores: {wall}. "
                + ("(* made in parts: stopped and resumed from its last checkpoint; the sum of the parts, steps "
                   "after that checkpoint counted twice.) " if resumed else "") +
                "Training runs whose config.json records `share_prompt` share each prompt's forward in the update "
                f"and are faster (docs/reproduction.md). In all, these {n_runs} runs took {hours:.1f} h of one-thread "
                f"work: about {hours / 2:.1f} h of wall time for `make reproduce`, two at a time on 2 cores.", ""]
    logs = {arm: [r.log for r in runs if r.log] for arm, runs in res.items()}
    collapse = {a: logs[a] for a in ("naive_rl", "score") if logs.get(a)}
    if collapse:
        plot_log_panels(collapse, MECHANISM_PANELS, FIGURES / "repro_collapse.png",
                        title="Sampled second attempts during training: naive RL vs SCoRe, against their first 8 steps",
                        start_steps=8)
        out += ["![collapse](figures/repro_collapse.png)", ""]
    if logs.get("stage1"):
        plot_log_panels({"stage1": logs["stage1"]}, STAGE1_PANELS, FIGURES / "repro_stage1.png",
                        title="Stage I: turn 1 held near the base model, turn 2 trained")
        out += ["![stage1](figures/repro_stage1.png)", ""]
    return out + curve_section(RESULTS / "repro", prof) + repro_scaling_section(RESULTS / "repro", prof)


def repro_scaling_section(root: Path, prof) -> list[str]:
    """`make reproduce`'s scaling runs (score-scaling, base-scaling): majority-vote accuracy at every budget their
    samples allow, parallel vs sequential, mean over seeds, as a table and a figure in %; nothing until one exists."""
    from scoreutils.report.arms import load_scaling_runs
    from scoreutils.report.plots import plot_scaling

    runs = load_scaling_runs(root, prof.name)
    if not runs:
        return []
    curves, lines = {}, ["| model | seeds | generations per problem | parallel (first attempts) | sequential "
                         "(self-corrected) | sequential − parallel |", "|---|---|---|---|---|---|"]
    for model, seeds in runs.items():
        budgets = sorted({r["budget"] for run in seeds for r in run["curve"]})
        rows = []
        for b in budgets:
            at = [r for run in seeds for r in run["curve"] if r["budget"] == b]
            par, seq = (sum(r[k] for r in at) / len(at) for k in ("parallel", "sequential"))
            rows.append({"budget": b, "parallel": par, "sequential": seq})
            lines.append(f"| {model} | {len(seeds)} | {b} | {100 * par:.1f} | {100 * seq:.1f} | {100 * (seq - par):+.1f} |")
        curves[model] = rows
    n = len(next(iter(runs.values()))[0]["records"])
    plot_scaling(curves, FIGURES / "repro_scaling.png", n=n,
                 title="Majority voting at equal compute (repro profile, the shared test set)")
    return ["#### Majority voting at equal compute (`score-scaling`, `base-scaling`)",
            f"{n} test problems, {next(iter(runs.values()))[0]['samples']} two-attempt samples each at T = "
            f"{prof.temperature}; the majority answer's accuracy in %, mean over seeds (the verdict's intervals: "
            "results/verdicts.json). Parallel: B first attempts vote; sequential: B/2 first attempts and their "
            "second attempts vote.", "", *lines, "", "![majority voting](figures/repro_scaling.png)", ""]


def curve_section(root: Path, prof) -> list[str]:
    """`make reproduce`'s held-out curves (score-curve, naive_rl-curve): Δ and its transitions on the test set
    at checkpoints through training, a figure and one generated line per method; nothing until a curve exists."""
    from scoreutils.report.plots import plot_heldout_curves
    from scoreutils.report.verdicts import load_curves

    curves = {name: runs for name, runs in load_curves(root, prof.name).items() if runs}
    if not curves:
        return []
    n = next(iter(curves.values()))[0]["points"].get(prof.steps, {}).get("n")
    plot_heldout_curves(curves, FIGURES / "repro_heldout_curves.png", n=n,
                        title="Held-out Δ through training (repro profile, the shared test set)")
    lines = []
    for name, runs in curves.items():
        steps = sorted({s for r in runs for s in r["points"]})
        mean = {s: sum(100 * r["points"][s]["delta"] for r in runs if s in r["points"]) /
                sum(1 for r in runs if s in r["points"]) for s in steps}
        lines.append(f"- {name} ({len(runs)} seed{'s' * (len(runs) > 1)}): held-out Δ by step, mean over seeds: "
                     + ", ".join(f"{s}: {mean[s]:+.1f}" for s in steps) + " points.")
    return ["#### Held-out Δ through training (`score-curve`, `naive_rl-curve`)",
            "Each seed's trained run evaluated greedily on the same test problems at 1/4, 2/4 and 3/4 of its steps "
            "(step 0: the base model; the last step: the run's own evaluation).", "", *lines, "",
            "![held-out curves](figures/repro_heldout_curves.png)", ""]


def _stage2_default(field: str, value: Any) -> bool:
    """A Stage II experiment's field at its default (Eq. 4 as written): left out of the recipe table's settings."""
    from scoreutils.config import STAGE2_FIELDS, profile_defaults

    return field in STAGE2_FIELDS and field != "alpha" and profile_defaults()[field] == value


def recipe_section() -> list[str]:
    """The recipe search on validation problems (tools/recipe_search.py): every candidate and the rule's choice."""
    data = _load("recipe_search.json")
    if not data:
        return []
    lines = ["| candidate | settings | Acc@t1 | Acc@t2 | Δ [95%] | P(fix) | P(break) | changed answer |",
             "|---|---|---|---|---|---|---|---|"]
    rows = ([("base model", "untrained", data["base"])] if data.get("base") else []) + [
        (name, ", ".join(f"{k}={v}" for k, v in row["changes"].items() if not _stage2_default(k, v)) or "none", row)
        for name, row in data["candidates"].items()]
    for name, changes, m in rows:
        ci = m.get("delta_ci") or [0, 0]
        delta = (f"{100 * m['delta']:+.1f} (no problem changed outcome)" if ci[0] == ci[1] else
                 f"{100 * m['delta']:+.1f} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]")
        lines.append(f"| {name} | {changes} | {percent(m['acc_t1'])} | {percent(m['acc_t2'])} | {delta} | "
                     f"{percent(m.get('p_fix'))} | {percent(m.get('p_break'))} | {percent(m.get('changed_answer_rate'))} |")
    chosen = (f"**chosen: {data['chosen']}**" if data.get("chosen") else
              f"**no choice yet** (pending: {', '.join(data['pending'])})" if data.get("pending") else
              "**no candidate qualifies**")
    late = data.get("after_test") or []
    if late:
        again = data.get("chosen_with_after_test")
        chosen += (f". Candidates {', '.join(late)} ran after the test table, so the reproduction keeps the choice "
                   "above whatever they give; " + (
                       "they are not finished yet" if set(late) & set(data.get("pending") or []) else
                       f"with them the rule still chooses {again}" if again == data.get("chosen") else
                       f"with them the rule would choose **{again}**: the reproduction's RL runs were not made with it"))
    from scoreutils.report.plots import plot_small_multiples

    logs = {name: read_jsonl(path)
            for name in data["candidates"] if (path := RESULTS / "recipe_search" / name / "log.jsonl").exists()}
    figure = []
    if logs:
        plot_small_multiples(logs, RECIPE_PANELS, FIGURES / "recipe_search_curves.png",
                             title="Recipe search: SCoRe's sampled training episodes, one panel per candidate, seed 0 "
                             "(at each step every candidate draws the same 8 problems)")
        figure = ["![recipe search curves](figures/recipe_search_curves.png)", ""]
    fair = []
    r5 = data.get("round5") or {}
    for e in r5.get("experiments") or []:
        seeds = e["seeds"] if isinstance(e["seeds"], list) else [data["seed"]]
        spread = (f", seeds [{100 * e['seed_ci'][0]:.1f}, {100 * e['seed_ci'][1]:.1f}]" if e.get("seed_ci") else "")
        per_seed = ", ".join(f"seed {k}: {100 * v:+.1f}" for k, v in (e.get("per_seed") or {}).items())
        fair.append(f"- {e['what']}: Δ({e['first']}) − Δ({e['second']}) = {100 * e['delta_difference']:+.1f} pts "
                    f"[{100 * e['ci'][0]:.1f}, {100 * e['ci'][1]:.1f}] over problems{spread}, "
                    f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} × {e['n'] // len(seeds)} validation problems"
                    f"{' (' + per_seed + ')' if len(seeds) > 1 else ''}: {e['reads']}"
                    + (f"; Acc@t1 {100 * t1['first']:.1f} vs {100 * t1['second']:.1f} "
                       f"({100 * t1['difference']:+.1f} [{100 * t1['ci'][0]:.1f}, {100 * t1['ci'][1]:.1f}])"
                       if (t1 := e.get("acc_t1")) else "")
                    + (f"; {e['supports']}" if e.get("supports") else "")
                    + ("" if e.get("decides") else " (fewer than 3 seeds: decides nothing yet)") + ".")
    if fair:
        pending = [n for n in r5.get("candidates", []) if n not in r5.get("finished", [])]
        fair = ["The fair test of SCoRe (rounds 5 and 6: every update scores its samples at the sampling "
                "temperature, so it is on-policy; round 6 changes Stage II one way each from the same 48 Stage I "
                "steps), on the validation split:", "", *fair, "",
                (f"Round 5's own rule picks **{r5['chosen']}**. " if r5.get("chosen") else
                 f"Not finished: {', '.join(pending)}. " if pending else "")
                + "A comparison decides the recipe of `make reproduce` only when it reads the same way with 3 seeds "
                "or more (`python tools/recipe_search.py --seed N --only …`).", ""]
        if r5.get("fair_recipe"):
            f = r5["fair_recipe"]["fields"]
            fair += [f"**The recipe they give** (`recipe_search.fair_recipe`), which the repro profile trains with: "
                     f"{f['steps']} steps, Stage I for the first {f['stage1_steps']}, then Stage II paid by "
                     + ("Eq. 4's bonus" if f["stage2_reward"] == "bonus" else "the progress reward")
                     + (", attempt 1 trained on its own reward" if f["stage2_turn1"] == "reward" else
                        ", attempt 1 anchored (β2 KL only)")
                     + (f", {f['stage2_samples_per_problem']} samples per problem" if f["stage2_samples_per_problem"]
                        else "") + "; every update " + ("on-policy" if f["score_at_temperature"] else "off-policy")
                     + ". "
                     + " ".join(b[0].upper() + b[1:] + "." for b in r5["fair_recipe"]["because"]), ""]
    return ["### Recipe search (validation split; `python tools/recipe_search.py`)",
            f"SCoRe in the repro profile, seed {data['seed']}, evaluated on {data['n']} validation problems (never "
            f"the test split). Rule: {data['rule']}. {chosen}. One seed on {data['n']} problems separates only large "
            "differences: read the intervals.", "", *lines, "", *fair, *figure]


def results_section() -> str:
    out = verdict_section()
    rows, paper, walls = {}, {}, []
    for name, rel, paper_row in METHODS:
        res = _load(rel)
        if res is None:
            continue
        rows[name] = res
        if paper_row:
            paper[name] = TABLE_MATH[paper_row]
        train = f"train {_minutes(res['train_wall_s'])} min, " if "train_wall_s" in res else ""
        walls.append(f"{name}: {train}eval {_minutes(res.get('wall_s'))} min"
                     + (f", {res['sft_pairs']} SFT pairs" if "sft_pairs" in res else ""))
    if rows:
        prof = next(iter(rows.values()))["profile"]
        out += ["### Self-correction on held-out arithmetic (cpu profile)",
                f"Bundled SmolLM2-135M-Instruct, arithmetic level {prof['level']}, {prof['n_eval']} held-out problems, "
                f"greedy, two attempts; RL runs: {prof['steps']} steps of {prof['problems_per_step']} problems × "
                f"{prof['samples_per_problem']} samples, LoRA r={prof['lora_r']}, lr {prof['lr']}, α={prof['alpha']}, "
                f"β1={prof['beta1']}, β2={prof['beta2']}, Stage I for {prof['stage1_steps']} steps. In %, 95% "
                "intervals in brackets; the paper's rows are Gemini 1.5 Flash on MATH500 (a different model and "
                "task: compare the *shape*, not the level).", "",
                metrics_table(rows, paper), "",
                "Wall times on 2 CPU cores: base and SCoRe from `python -m scoreutils demo --out results/demo` "
                "running alone" + _demo_time() + "; the other runs shared the cores two at a time, one thread each "
                "(see `results/logs/pipeline.txt`): " + "; ".join(walls) + ".", ""]
    abl = {name: _load(rel) for name, rel, _ in ABLATIONS}
    if any(abl.values()):
        out += ["### Ablations (the paper's Table 4 layout)", "",
                ablation_table({n: m for n, m in abl.items() if m},
                               {n: p for n, rel, p in ABLATIONS if p and abl.get(n)}), ""]
    out += recipe_section() + repro_section()
    code = _load("humaneval_base.json")
    if code:
        out += ["### Code: HumanEval, base model (lesson 08)", "",
                metrics_table({"base (SmolLM2-135M)": code},
                              {"base (Gemini 1.0 Pro)": TABLE_HUMANEVAL["base"],
                               "SCoRe (Gemini 1.0 Pro)": TABLE_HUMANEVAL["SCoRe"]}, paper_n=HUMANEVAL_N), ""]
    scaling = _load("scaling.json")
    if scaling:
        lines = ["| model | generations per problem | parallel (first attempts) | sequential (self-corrected) |",
                 "|---|---|---|---|"]
        for model, curve in scaling["curves"].items():
            lines += [f"| {model} | {r['budget']} | {100 * r['parallel']:.1f} | {100 * r['sequential']:.1f} |"
                      for r in curve]
        out += ["### Inference compute: majority voting (lesson 07)",
                f"{scaling['problems']} held-out problems, {scaling['samples']} samples each at temperature 0.7; "
                "accuracy of the majority answer in %.", "", *lines, ""]
    level1 = _load("eval_base_level1_200.json")
    if level1:
        out += ["### Base model on 200 level-1 problems (two 2-digit numbers)",
                "`python -m scoreutils eval --profile cpu --level 1 --n 200 --out results/eval_base_level1_200.json`"
                f": {level1['wall_s']:.0f} s, {level1['tokens_per_s']:.1f} generated tokens/s.", "",
                metrics_table({"base": level1}), ""]
    out += _benchmarks()
    return "\n".join(out).rstrip()


def _benchmarks() -> list[str]:
    out = []
    roll = _load("bench_rollout.json")
    if roll:
        out += ["### Benchmarks", "",
                "| benchmark | kit | baseline | kit / baseline |", "|---|---|---|---|",
                f"| rollout, k=1 greedy, generated tokens per CPU s (vs plain `generate`) | "
                f"{roll['kit_tokens_per_s']:.1f} | {roll['generate_tokens_per_s']:.1f} | {roll['ratio']:.2f} |"]
        k4 = roll.get("k4_sampled")
        if k4:
            out += [f"| rollout, k={k4['k']} samples per problem at T={k4['temperature']}, tokens per CPU s | "
                    f"{k4['kit_tokens_per_cpu_s']:.1f} | {k4['generate_tokens_per_cpu_s']:.1f} | {k4['ratio_cpu']:.2f} |"]
    step = _load("bench_train_step.json")
    if step:
        kit, trl, ratio = step["arms"]["kit"], step["arms"]["trl"], step["ratio_kit_over_trl"]
        if not out:
            out += ["### Benchmarks", "", "| benchmark | kit | baseline | kit / baseline |", "|---|---|---|---|"]
        out += [f"| train step, ms per generated token (vs TRL GRPO) | {1000 * kit['s_per_generated_token']:.1f} | "
                f"{1000 * trl['s_per_generated_token']:.1f} | {ratio['s_per_generated_token']:.2f} |",
                f"| train step, ms per trained token (vs TRL GRPO) | {1000 * kit['s_per_trained_token']:.1f} | "
                f"{1000 * trl['s_per_trained_token']:.1f} | {ratio['s_per_trained_token']:.2f} |"]
    mem = _load("bench_memory.json")
    def peak(record: dict | None, keys: tuple[str, ...]) -> float | None:
        """The largest of `keys` in a benchmark record; None for a failed or missing measurement."""
        values = [record.get(k) for k in keys] if record and not record.get("failed") else []
        return max((v for v in values if v), default=None)

    cpu = peak(mem.get("cpu") if mem else None, ("ru_maxrss_bytes", "step_peak_rss_hwm_bytes", "step_peak_rss_sampled_bytes"))
    if cpu:
        line = f"Peak RSS of one cpu-profile Stage II step (bundled model): {cpu / 2**30:.2f} GiB"
        before = peak(mem.get("cpu_without_release"), ("step_peak_rss_hwm_bytes", "step_peak_rss_sampled_bytes"))
        if before:
            line += f" ({before / 2**30:.2f} GiB without `train.release_memory`)"
        out += ["", line + "."]
    if out:
        out += ["", "Re-run: `python benchmarks/rollout.py`, `python benchmarks/train_step.py`, "
                "`python benchmarks/memory.py` (each writes `results/bench_*.json`), then `make report`."]
    return out


def render(readme: str) -> str:
    for marker, body in (("notebooks", notebook_map()), ("results", readme_verdicts()), ("demo", demo_line())):
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        if start not in readme or end not in readme:
            raise SystemExit(f"README.md lacks the markers {start} ... {end}")
        head, rest = readme.split(start, 1)
        readme = head + start + "\n" + body + "\n" + end + rest.split(end, 1)[1]
    return readme


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    path = ROOT / "README.md"
    new = render(path.read_text())
    found, rows = judged()
    outputs = {path: new, ROOT / "docs" / "results.md": results_doc(),
               RESULTS / "verdicts.json": json.dumps(found, indent=2, ensure_ascii=False) + "\n",
               RESULTS / "summary.json": json.dumps(rows, indent=2) + "\n"}
    if args.check:
        sys.exit(0 if all(p.exists() and p.read_text() == text for p, text in outputs.items()) else 1)
    for p, text in outputs.items():
        p.write_text(text)
    print(f"README.md (verdicts, lessons) and docs/results.md regenerated from {RESULTS.relative_to(ROOT)}/; "
          "results/verdicts.json and results/summary.json written")


if __name__ == "__main__":
    main()
