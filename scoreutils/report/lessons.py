"""Lessons: the "what reproduced here" box that ends every lesson, generated from numbers, never hand-written.

`closing_box(lesson, runs, ...)` returns Markdown with
- one row per run of the lesson: n, Δ(t1,t2) with its 95% interval and what that interval allows one to
  say (`reading`), Δ i→c and Δ c→i with their intervals, and the paper's numbers beside;
- comparisons of two runs on the same problems, paired by problem (`metrics.pooled_paired_difference`),
  and any extra lines (e.g. `scaling_lines` for lesson 07);
- the reproduction verdicts of `scoreutils.report.verdicts` for the lesson's claims (`LESSON_CLAIMS`), computed
  from the runs under the profile's results folder.
A sentence says "helps", "hurts", "higher" or "lower" only when the interval excludes 0; otherwise it says
the numbers are inconclusive, or too few to read. Not here: the metrics and intervals (`metrics.py`), the
rules of the verdicts (`verdicts.py`).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..metrics import Z95, outcome_split, pooled_paired_difference, self_correction_metrics
from .verdicts import INCONCLUSIVE, MIN_N, NOT_REPRODUCED, REPRODUCED, UNTESTABLE

LESSON_CLAIMS: dict[str, tuple[str, ...]] = {
    "00": ("base_delta_negative", "base_breaks_right_answers"),
    "01": ("base_delta_negative", "base_breaks_right_answers"),
    "02": ("sft_lowers_breaks", "sft_no_more_fixes"),
    "03": ("sft_minimal_edits", "pair_sft_train_differs"),
    "04": ("naive_rl_stops_proposing",),
    "05": ("stage1_turn1_near_base",),
    "06": ("bonus_raises_delta",),
    "07": ("score_delta_positive", "bonus_raises_delta", "stage1_raises_delta", "score_beats_naive_rl",
           "sequential_beats_parallel"),
    "08": (),
}
"""Lesson number -> the ids of `verdicts.CLAIMS` it is about (lesson 08's code claims have no rule yet)."""
MARKS = {REPRODUCED: "✅ reproduced", NOT_REPRODUCED: "❌ not reproduced", INCONCLUSIVE: "❔ inconclusive",
         UNTESTABLE: "⛔ untestable"}
NAMES = {"delta": "Δ", "changed_answer": "changed-answer rate (a non-answer counts as a change)",
         "changed_answer_answered": "different-answer rate (both attempts answer)",
         "edit_distance_ratio": "edit-distance ratio", "edit_distance_ratio_answered": "edit-distance ratio (answered pairs)",
         "acc_t1": "Acc@t1", "acc_t2": "Acc@t2"}
"""How a per-problem value of `metrics.PER_PROBLEM` is named in a comparison."""


def reading(ci: Sequence[float], n: int, up: str, down: str, unchanged: str | None = None) -> str:
    """What an estimate's 95% interval `ci` over `n` problems allows one to say: `up` (interval above 0),
    `down` (below 0), `unchanged` (given, and the interval is exactly [0, 0]: no problem moved), else
    inconclusive; too few problems below `verdicts.MIN_N`."""
    lo, hi = ci
    if n < MIN_N:
        return f"too few problems to read (n = {n} < {MIN_N})"
    if unchanged is not None and lo == hi == 0:
        return unchanged
    if lo > 0:
        return f"{up} (interval excludes 0)"
    if hi < 0:
        return f"{down} (interval excludes 0)"
    return "inconclusive: the interval includes 0"


def delta_reading(m: Mapping[str, Any]) -> str:
    """The reading of one run's Δ(t1,t2) (a `metrics.self_correction_metrics` dict); a run whose attempt 2 fixed
    and broke nothing says so, with what its interval still allows."""
    if m["n"] >= MIN_N and m.get("delta_i_to_c") == 0 and m.get("delta_c_to_i") == 0:
        lo, hi = m["delta_ci"]
        return f"no change: attempt 2 fixed no problem and broke none (the interval allows {_end(lo)} to {_end(hi)} pts)"
    return reading(m["delta_ci"], m["n"], "the second attempt helps", "the second attempt hurts",
                   "no change: attempt 2 fixed no problem and broke none")


def _pts(x: float, signed: bool = True) -> str:
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def _end(x: float) -> str:
    """An interval's end in points, one decimal; a nonzero end that would round to 0.0 keeps its sign and
    first digit ("-0.004"), so that an interval excluding 0 never reads as touching it. Float rounding
    (|x| < 1e-12, e.g. a Wilson end stored by an older run as 3e-16) is 0."""
    x = 0.0 if abs(x) < 1e-12 else x
    text = f"{100 * x:.1f}"
    return f"{100 * x:.1g}" if x != 0 and float(text) == 0 else text


def _ci(ci: Sequence[float]) -> str:
    return f"[{_end(ci[0])}, {_end(ci[1])}]"


def _metrics(run: Any) -> dict[str, Any]:
    """A run's metrics with intervals: its `.metrics` (or the dict itself), recomputed from its episodes when
    an interval is missing."""
    m = dict(getattr(run, "metrics", run))
    episodes = getattr(run, "episodes", None)
    if "delta_ci" not in m and episodes:
        m.update(self_correction_metrics([e.r1 for e in episodes], [e.r2 for e in episodes]))
    if "right_to_wrong" not in m and episodes:
        m.update(outcome_split(episodes))
    return m


def _paper_cell(vals: Sequence[float] | None) -> str:
    if not vals:
        return "—"
    if len(vals) >= 5:
        return f"Δ {vals[2]:+.1f} (i→c {vals[3]:.1f}, c→i {vals[4]:.1f})"
    return f"Δ {vals[2]:+.1f} (t1 {vals[0]:.1f} → t2 {vals[1]:.1f})"


def run_table(runs: Mapping[str, Any], paper: Mapping[str, Sequence[float]] | None = None) -> str:
    """One Markdown row per run: n, Δ with interval and reading, i→c and c→i with intervals, the paper's row."""
    lines = ["| run | n | Δ(t1,t2) [95%] | reading | Δ i→c [95%] | Δ c→i [95%] | right→wrong / right→none | "
             "different answer / gave up at t2 | paper |", "|---|---|---|---|---|---|---|---|---|"]
    for name, run in runs.items():
        m = _metrics(run)
        split = (f"{_pts(m['right_to_wrong'], False)} / {_pts(m['right_to_none'], False)}" if "right_to_wrong" in m
                 else "–")
        changed = (f"{_pts(m['changed_answer_answered'], False)} / {_pts(m['gave_up_t2'], False)}"
                   if "changed_answer_answered" in m else "–")
        lines.append(f"| {name} | {m['n']} | {_pts(m['delta'])} {_ci(m['delta_ci'])} | {delta_reading(m)} | "
                     f"{_pts(m['delta_i_to_c'], False)} {_ci(m['delta_i_to_c_ci'])} | "
                     f"{_pts(m['delta_c_to_i'], False)} {_ci(m['delta_c_to_i_ci'])} | {split} | {changed} | "
                     f"{_paper_cell((paper or {}).get(name))} |")
    return "\n".join(lines)


def comparison_line(a: str, b: str, key: str, episodes_a: Sequence[Any], episodes_b: Sequence[Any]) -> str:
    """`key` of run a minus run b over the problems both hold, paired by problem, with its reading."""
    d = pooled_paired_difference([(episodes_a, episodes_b)], key)
    what = NAMES.get(key, key)
    return (f"{what}, {a} − {b}: {_pts(d['diff'])} pts {_ci(d['diff_ci'])} on n = {d['n']} paired problems "
            f"({_pts(d['a'], False)}% vs {_pts(d['b'], False)}%): "
            f"{reading(d['diff_ci'], d['n'], f'higher for {a}', f'lower for {a}')}")


def scaling_lines(curves: Mapping[str, Sequence[Mapping[str, float]]], n: int) -> list[str]:
    """Per model and budget: sequential − parallel majority-vote accuracy with an unpaired normal interval
    (the curves keep no per-problem outcomes), and its reading."""
    lines = []
    for name, rows in curves.items():
        for row in rows:
            p, s = row["parallel"], row["sequential"]
            half = Z95 * math.sqrt((p * (1 - p) + s * (1 - s)) / n) if n else 1.0
            ci = (max(-1.0, s - p - half), min(1.0, s - p + half))
            lines.append(f"{name}, {row['budget']} generations per problem: sequential − parallel = {_pts(s - p)} pts "
                         f"{_ci(ci)} on n = {n} problems: "
                         f"{reading(ci, n, 'sequential is ahead', 'parallel is ahead')}")
    return lines


def lesson_verdicts(lesson: str, profile: Any) -> list[dict[str, str]]:
    """The verdicts of the lesson's claims (`LESSON_CLAIMS`) on the runs of `profile` under its results folder."""
    from . import verdicts
    from ..runs.store import results_dir

    wanted = LESSON_CLAIMS.get(lesson, ())
    if not wanted:
        return []
    root = results_dir(profile)
    return verdicts.verdicts(verdicts.load_results(root, profile.name), verdicts.load_scaling(root, profile.name),
                             verdicts.load_train_evaluations(root, profile.name), ids=wanted)


def closing_box(lesson: str, runs: Mapping[str, Any] | None = None, paper: Mapping[str, Sequence[float]] | None = None,
                paper_source: str = "", comparisons: Sequence[tuple[str, str, str]] = (), lines: Sequence[str] = (),
                profile: Any = None, verdicts: Sequence[Mapping[str, str]] | None = None) -> str:
    """The Markdown box that ends lesson `lesson` ("00".."08").

    runs: name -> a `Run` (or a metrics dict) of this lesson; paper: name -> the paper's row for it (from
    `scoreutils.report.paper`), described by `paper_source`; comparisons: (a, b, key) pairs of runs compared on
    `metrics.PER_PROBLEM[key]`, paired by problem; lines: further generated lines; verdicts: the lesson's
    verdicts (default: `lesson_verdicts(lesson, profile)` when a profile is given)."""
    runs = runs or {}
    out = [f"### What reproduced here (lesson {lesson})", ""]
    if runs:
        out += [run_table(runs, paper), ""]
    bullets = [comparison_line(a, b, key, runs[a].episodes, runs[b].episodes) for a, b, key in comparisons]
    bullets += list(lines)
    out += [f"- {b}" for b in bullets] + ([""] if bullets else [])
    if verdicts is None and profile is not None:
        verdicts = lesson_verdicts(lesson, profile)
    if verdicts:
        where = f" of the `{profile.name}` profile" if profile is not None else ""
        out += [f"**The paper's claims, judged by `scoreutils.report.verdicts`** on the runs under results/{where}:", ""]
        out += [f"- {MARKS.get(v['verdict'], v['verdict'])} — {v['claim']}. *{v['evidence']}*" for v in verdicts]
        out.append("")
    foot = [f"Paper: {paper_source}." if paper_source else ""]
    if profile is not None:
        from .plots import model_label

        foot.append(f"This kit: {model_label(profile.model)} on {profile.task} ({profile.name} profile).")
    foot.append("Intervals are 95%; a reading names a direction only when its interval excludes 0. A broken "
                "right answer is split into right→wrong (a wrong answer) and right→none (no answer at all); "
                "\"different answer\" counts only pairs where both attempts answer.")
    out.append(" ".join(f for f in foot if f))
    return "\n".join(out)
