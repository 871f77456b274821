"""Plots: the kit's figures, each a function from results to a PNG (never drawn by hand).

- `plot_transitions`: how attempt 1 -> attempt 2 outcomes split (c->c, c->i, i->c, i->i) per method.
- `plot_training_curves`: rewards per attempt, KL per attempt and changed-answer rate over steps.
- `plot_edit_distance`: edit-distance-ratio histograms of several runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .metrics import edit_distance_ratio, self_correction_metrics  # noqa: E402

COLORS = {"c->c": "#4c956c", "c->i": "#d1495b", "i->c": "#2e86ab", "i->i": "#bbbbbb"}


def transition_shares(r1: Sequence[float], r2: Sequence[float]) -> dict[str, float]:
    """Shares of problems in each attempt-1 -> attempt-2 outcome (c = correct, i = incorrect), derived from
    the paper's metrics (`metrics.self_correction_metrics`): c->i = Δc→i, i->c = Δi→c, and the rest."""
    m = self_correction_metrics(r1, r2)
    return {"c->c": m["acc_t1"] - m["delta_c_to_i"], "c->i": m["delta_c_to_i"], "i->c": m["delta_i_to_c"],
            "i->i": 1 - m["acc_t1"] - m["delta_i_to_c"] if m["n"] else 0.0}


def plot_transitions(runs: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path,
                     title: str = "Attempt 1 -> attempt 2") -> Path:
    """Stacked bars, one per run: the share of problems in each transition."""
    fig, ax = plt.subplots(figsize=(1.8 + 1.4 * len(runs), 3.6))
    names = list(runs)
    bottoms = [0.0] * len(names)
    for key in ("c->c", "c->i", "i->c", "i->i"):
        vals = [transition_shares(*runs[n])[key] for n in names]
        ax.bar(names, vals, bottom=bottoms, color=COLORS[key], label=key)
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    ax.set_ylabel("fraction of problems")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return _save(fig, path)


def plot_training_curves(logs: Mapping[str, Sequence[dict]], path: str | Path) -> Path:
    """Three panels over steps: reward per attempt, KL per attempt, changed-answer rate."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for name, rows in logs.items():
        steps = [r["step"] for r in rows if "reward/attempt1" in r]
        if not steps:
            continue
        for ax, (k1, k2) in zip(axes[:2], [("reward/attempt1", "reward/attempt2"), ("kl/attempt1", "kl/attempt2")]):
            line, = ax.plot(steps, [r[k1] for r in rows if "reward/attempt1" in r], label=f"{name} t1")
            ax.plot(steps, [r[k2] for r in rows if "reward/attempt1" in r], "--", color=line.get_color(),
                    label=f"{name} t2")
        axes[2].plot(steps, [r["changed_answer_rate"] for r in rows if "reward/attempt1" in r], label=name)
    for ax, t in zip(axes, ["sampled reward (t1 solid, t2 dashed)", "KL to base (summed over tokens)",
                            "changed-answer rate"]):
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def plot_edit_distance(runs: Mapping[str, Sequence[tuple[str, str]]], path: str | Path) -> Path:
    """Histograms of edit_distance_ratio(y1, y2) per run (a pile at 0 = attempt 2 copies attempt 1)."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bins = [i / 20 for i in range(21)]
    for name, pairs in runs.items():
        ax.hist([edit_distance_ratio(a, b) for a, b in pairs], bins=bins, alpha=0.5, label=name, density=True)
    ax.set_xlabel("edit-distance ratio between attempts")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_scaling(curves: Mapping[str, Sequence[dict]], path: str | Path) -> Path:
    """Majority-vote accuracy against generations per problem: parallel (solid) vs sequential (dashed),
    one colour per model; rows as returned by `scaling.scaling_table`."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, rows in curves.items():
        b = [r["budget"] for r in rows]
        line, = ax.plot(b, [r["parallel"] for r in rows], "o-", label=f"{name}: parallel")
        ax.plot(b, [r["sequential"] for r in rows], "s--", color=line.get_color(), label=f"{name}: sequential")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("generations per problem")
    ax.set_ylabel("majority-vote accuracy")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_corrections(rows: Mapping[str, Mapping[str, float]], path: str | Path,
                     paper: Mapping[str, Sequence[float]] | None = None) -> Path:
    """Δ i→c (fixed) and Δ c→i (broken) per method, in %; the paper's values (t1, t2, Δ, i→c, c→i tuples)
    as hatched bars beside the kit's when given."""
    import numpy as np

    names = list(rows)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(2.2 + 1.3 * len(names), 3.4))
    w = 0.2 if paper else 0.35
    ax.bar(x - w / 2 - (w if paper else 0), [100 * rows[n]["delta_i_to_c"] for n in names], w,
           color=COLORS["i->c"], label="i→c (kit)")
    ax.bar(x + w / 2 - (w if paper else 0), [100 * rows[n]["delta_c_to_i"] for n in names], w,
           color=COLORS["c->i"], label="c→i (kit)")
    if paper:
        has = [n for n in names if n in paper]
        xi = np.array([names.index(n) for n in has])
        ax.bar(xi + w / 2 + w / 2, [paper[n][3] for n in has], w, color=COLORS["i->c"], hatch="//",
               alpha=0.45, label="i→c (paper)")
        ax.bar(xi + 3 * w / 2 + w / 2, [paper[n][4] for n in has], w, color=COLORS["c->i"], hatch="//",
               alpha=0.45, label="c→i (paper)")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("% of problems")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def figure_dir(profile_name: str) -> Path:
    """Where a notebook writes its figures: the repo's figures/ for real (cpu / gpu) runs, a temporary
    folder for smoke runs, so tests never overwrite the committed figures."""
    if profile_name == "smoke":
        import tempfile

        return Path(tempfile.mkdtemp(prefix="score-figures-"))
    here = Path.cwd()
    for cand in (here / "figures", here.parent / "figures"):
        if cand.is_dir():
            return cand
    (here / "figures").mkdir(exist_ok=True)
    return here / "figures"
