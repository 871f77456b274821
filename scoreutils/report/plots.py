"""Plots: the kit's figures, each a function from results to a PNG (never drawn by hand), drawn to be read at
a glance: every count or value is printed on the figure (a zero reads "0", never an empty spot), intervals
are drawn wherever the numbers have them, several runs (seeds) of a method are drawn as their mean with the
spread across seeds, steps are whole numbers, and titles name the model.

- `plot_transitions`: a 2x2 matrix per method, attempt 1 (rows) x attempt 2 (columns), counts and %.
- `plot_corrections`: Δ i→c (fixed) and Δ c→i (broken) per method in %, with Wilson intervals.
- `plot_training_curves`: rewards, KL and changed-answer rate per step, mean ± range over seeds (a row per
  method when there are more than two).
- `plot_log_panels`: chosen training-log keys, one panel each, mean ± range over seeds (the mechanism curves).
- `plot_small_multiples`: many runs, one small panel each (the recipe search).
- `plot_edit_distance`: edit-distance-ratio histograms of several runs.
- `plot_scaling`: majority-vote accuracy against generations per problem, with Wilson intervals.
- `plot_heldout_curves`: held-out Δ and its fixes / breaks at checkpoints through training, seed bands.
Not here: the numbers themselves (`metrics.py`).
"""
from __future__ import annotations

import textwrap
from numbers import Real
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..metrics import edit_distance_ratio, seed_interval, self_correction_metrics, wilson_interval  # noqa: E402

COLORS = {"c->c": "#4c956c", "c->i": "#d1495b", "i->c": "#2e86ab", "i->i": "#7a7a7a"}
CELLS = {"c->c": "kept right", "c->i": "broken", "i->c": "fixed", "i->i": "still wrong"}
MODEL_LABELS = {"bundled": "SmolLM2-135M-Instruct", "tiny": "tiny random Llama", "tiny-qwen2": "tiny random Qwen2"}
KL_NOTE = ("KL: the k1 estimate, a sample mean of Σ_t log π(y_t)/π_ref(y_t) over the step's sampled attempts. "
           "A term is negative whenever a sampled token is less likely under π than under π_ref, so one step's "
           "estimate can dip below 0. Sampled at T = 1, its expectation is KL(π‖π_ref) ≥ 0; sampled at T < 1 "
           "(scored at T = 1) it is not a KL at all and can stay below 0.")
Pairs = tuple[Sequence[float], Sequence[float]]


def kl_caption(temperature: float, score_at_temperature: bool) -> str:
    """The one caption of a logged KL (every figure and lesson uses it): what the k1 estimate of a run sampled at
    `temperature` measures, given whether the run scored its samples at that temperature (on-policy)."""
    head = ("KL: the k1 estimate, a sample mean of Σ_t log π(y_t)/π_ref(y_t) over the step's sampled attempts; "
            "one step's estimate can dip below 0.")
    if score_at_temperature or temperature == 1.0:
        target = "KL(π‖π_ref)" if temperature == 1.0 else f"KL(π_T‖π_ref,T) at T = {temperature:g}"
        return f"{head} Drawn and scored at T = {temperature:g}: its expectation is {target} ≥ 0, a real KL."
    return (f"{head} Drawn at T = {temperature:g} but scored at T = 1, it is not a KL at all and can stay below 0 "
            "(score_at_temperature=True makes it one).")


def model_label(model: str) -> str:
    """A model's name for titles: the bundled model's real name, a hub id without its organisation."""
    return MODEL_LABELS.get(model, model.rstrip("/").split("/")[-1])


def transition_counts(r1: Sequence[float], r2: Sequence[float]) -> dict[str, int]:
    """Problems in each attempt-1 -> attempt-2 outcome (c = correct, i = incorrect)."""
    m = self_correction_metrics(r1, r2)
    n, right1 = m["n"], sum(r1)
    i2c, c2i = round(m["delta_i_to_c"] * n), round(m["delta_c_to_i"] * n)
    return {"c->c": int(right1 - c2i), "c->i": c2i, "i->c": i2c, "i->i": int(n - right1 - i2c)}


def transition_shares(r1: Sequence[float], r2: Sequence[float]) -> dict[str, float]:
    """Shares of problems in each outcome: c->i = Δc→i, i->c = Δi→c of `metrics.self_correction_metrics`."""
    counts, n = transition_counts(r1, r2), len(r1)
    return {k: v / n if n else 0.0 for k, v in counts.items()}


def _numbers(v: Any) -> bool:
    return isinstance(v, Sequence) and not isinstance(v, str) and all(isinstance(x, Real) for x in v)


def _seeds(value: Any) -> list[Any]:
    """One method's runs: a single run (one training log, or one (r1, r2) pair) becomes a list of one;
    a list of runs (seeds) stays as it is."""
    if not len(value) or isinstance(value[0], Mapping):
        return [value]
    if len(value) == 2 and all(_numbers(v) for v in value):
        return [value]
    return list(value)


def _count_label(count: int) -> str:
    return "0" if count == 0 else str(count)


def plot_transitions(runs: Mapping[str, Pairs | Sequence[Pairs]], path: str | Path,
                     title: str = "Attempt 1 → attempt 2") -> Path:
    """One 2x2 matrix per method: rows = attempt 1 right / wrong, columns = attempt 2 right / wrong; each cell
    shows its count and share, so the rare cells (fixed i→c, broken c→i) are as visible as the large ones.
    A method given several (r1, r2) runs (seeds) shows their pooled counts and the range of each share."""
    names = list(runs)
    fig, axes = plt.subplots(1, len(names), figsize=(0.6 + 2.9 * len(names), 3.3), squeeze=False)
    for ax, name in zip(axes[0], names):
        seeds = _seeds(runs[name])
        per_seed = [transition_counts(*s) for s in seeds]
        totals = {k: sum(c[k] for c in per_seed) for k in CELLS}
        n = sum(totals.values())
        for (row, col), key in zip([(0, 0), (0, 1), (1, 0), (1, 1)], ["c->c", "c->i", "i->c", "i->i"]):
            x, y = col, 1 - row
            ax.add_patch(Rectangle((x, y), 1, 1, facecolor=COLORS[key], alpha=0.16, edgecolor="white", lw=3))
            share = 100 * totals[key] / n if n else 0.0
            ax.text(x + 0.5, y + 0.78, f"{key.replace('->', '→')}  {CELLS[key]}", ha="center", fontsize=7.5,
                    color=COLORS[key])
            ax.text(x + 0.5, y + 0.45, _count_label(totals[key]), ha="center", va="center", fontsize=17,
                    weight="bold", color=COLORS[key])
            spread = ""
            if len(per_seed) > 1:
                shares = [100 * c[key] / max(1, sum(c.values())) for c in per_seed]
                spread = f"\nseeds {min(shares):.0f}–{max(shares):.0f}%"
            ax.text(x + 0.5, y + 0.16, f"{share:.1f}%{spread}", ha="center", va="center", fontsize=8, color="#333333")
        ax.set_xlim(0, 2)
        ax.set_ylim(0, 2)
        ax.set_xticks([0.5, 1.5], ["t2 right", "t2 wrong"], fontsize=8)
        ax.set_yticks([1.5, 0.5], ["t1 right", "t1 wrong"] if ax is axes[0][0] else ["", ""], fontsize=8)
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        pooled = f", {len(per_seed)} seeds pooled" if len(per_seed) > 1 else ""
        ax.set_title(f"{name}\nn = {n}{pooled}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _bar_labels(ax: Any, bars: Any, values: Sequence[float], tops: Sequence[float]) -> None:
    """Each bar's value above its interval; a zero bar reads "0"."""
    for bar, v, top in zip(bars, values, tops):
        ax.text(bar.get_x() + bar.get_width() / 2, top, "0" if v == 0 else f"{v:.1f}", ha="center", va="bottom",
                fontsize=7)


def plot_corrections(rows: Mapping[str, Mapping[str, Any]], path: str | Path,
                     paper: Mapping[str, Sequence[float]] | None = None, title: str | None = None) -> Path:
    """Δ i→c (fixed) and Δ c→i (broken) per method, in % of problems, with their 95% Wilson intervals and
    each value printed; the paper's values (t1, t2, Δ, i→c, c→i tuples) as hatched bars beside when given."""
    import numpy as np

    names = list(rows)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(2.4 + 1.4 * len(names), 3.6))
    w = 0.2 if paper else 0.35
    offset = w if paper else 0.0
    for key, shift, label in (("delta_i_to_c", -w / 2 - offset, "i→c fixed"), ("delta_c_to_i", w / 2 - offset, "c→i broken")):
        vals = [100 * rows[n][key] for n in names]
        cis = [[100 * c for c in rows[n].get(f"{key}_ci", (rows[n][key], rows[n][key]))] for n in names]
        err = [[max(0.0, v - lo) for v, (lo, _) in zip(vals, cis)], [max(0.0, hi - v) for v, (_, hi) in zip(vals, cis)]]
        color = COLORS["i->c" if key == "delta_i_to_c" else "c->i"]
        bars = ax.bar(x + shift, vals, w, color=color, label=f"{label} (this kit, 95% interval)", yerr=err,
                      capsize=3, error_kw={"lw": 0.8, "ecolor": "#444444"})
        _bar_labels(ax, bars, vals, [hi for _, hi in cis])
    if paper:
        has = [n for n in names if n in paper]
        xi = np.array([names.index(n) for n in has])
        for idx, shift, key in ((3, w, "i->c"), (4, 2 * w, "c->i")):
            vals = [paper[n][idx] for n in has]
            bars = ax.bar(xi + shift, vals, w, color=COLORS[key], hatch="//", alpha=0.45,
                          label=f"{key.replace('->', '→')} (paper)")
            _bar_labels(ax, bars, vals, vals)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("% of problems")
    ax.set_ylim(0, max(ax.get_ylim()[1], 5) * 1.08)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def _mean_and_range(runs: Sequence[Sequence[Mapping[str, Any]]], key: str
                    ) -> tuple[list[int], list[float], list[float], list[float]]:
    """Steps, and per step the mean, min and max of `key` over the runs that logged it."""
    by_step: dict[int, list[float]] = {}
    for rows in runs:
        for r in rows:
            if key in r and "reward/attempt1" in r:
                by_step.setdefault(int(r["step"]), []).append(float(r[key]))
    steps = sorted(by_step)
    return (steps, [sum(by_step[s]) / len(by_step[s]) for s in steps], [min(by_step[s]) for s in steps],
            [max(by_step[s]) for s in steps])


CURVE_PANELS = (("reward", "sampled reward"), ("kl", "KL to base, k1 estimate"), ("changed_answer_rate", "changed-answer rate"))
"""`plot_training_curves`' three columns: log key (per attempt for reward and KL: t1 solid, t2 dashed) and title."""


def plot_training_curves(logs: Mapping[str, Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping[str, Any]]]],
                         path: str | Path, title: str | None = None, kl_note: str = KL_NOTE,
                         by_method: bool | None = None) -> Path:
    """Three panels over steps: sampled reward per attempt (t1 solid, t2 dashed), KL to the base model per
    attempt, changed-answer rate. A method given several logs (seeds) is drawn as the mean with a band from
    the lowest to the highest seed; a note under the figure says what the KL estimate measures (`kl_note`: pass
    `kl_caption(...)` of the runs' sampling; the default says it for both cases). `by_method`: one row of the
    three panels per method (small multiples, axes shared down each column) instead of every method on one
    row; by default, when there are more than two methods (six lines and their bands on one axis do not read)."""
    names = list(logs)
    by_method = len(names) > 2 if by_method is None else by_method
    nrows = len(names) if by_method else 1
    fig, axes = plt.subplots(nrows, 3, figsize=(12, 3.9 if nrows == 1 else 2.5 * nrows + 1.2), squeeze=False,
                             sharex=True, sharey="col" if by_method else False)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_seeds, rate_top = [], 0.0
    for k, name in enumerate(names):
        runs = _seeds(logs[name])
        n_seeds.append(len(runs))
        row = axes[k if by_method else 0]
        label = name if len(runs) == 1 else f"{name} (mean of {len(runs)} seeds)"
        color = palette[k % len(palette)]
        for ax, (key, _) in zip(row, CURVE_PANELS):
            attempts = ((f"{key}/attempt1", "-", " t1"), (f"{key}/attempt2", "--", " t2")) \
                if key in ("reward", "kl") else ((key, "-", ""),)
            for log_key, style, suffix in attempts:
                steps, mean, lo, hi = _mean_and_range(runs, log_key)
                if not steps:
                    continue
                ax.plot(steps, mean, style, color=color, label=label + suffix, marker="." if len(steps) < 30 else None)
                if key == "changed_answer_rate":
                    rate_top = max(rate_top, *hi)
                if len(runs) > 1:
                    ax.fill_between(steps, lo, hi, color=color, alpha=0.15 if style == "-" else 0.08, lw=0)
        if by_method:
            row[0].set_ylabel(label, fontsize=8)
    for r, row in enumerate(axes):
        for ax, (key, panel_title) in zip(row, CURVE_PANELS):
            if r == 0:
                ax.set_title(panel_title + ("" if key == "changed_answer_rate" else " (t1 solid, t2 dashed)"), fontsize=9)
            if r == nrows - 1:
                ax.set_xlabel("training step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        row[1].axhline(0.0, color="#999999", lw=0.8, ls=":")
        top = min(1.0, max(0.05, 1.15 * rate_top))  # a rate from 0 to a little above its highest value drawn
        row[2].set_ylim(-0.02 * top, top)
    if not by_method:
        axes[0][0].legend(fontsize=7)
    band = " Bands: lowest to highest seed." if any(n > 1 for n in n_seeds) else ""
    fig.text(0.01, 0.01, kl_note + band, fontsize=7.5, color="#444444", wrap=True, ha="left", va="bottom")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, rect=(0, 0.1 if nrows == 1 else 0.5 / (2.5 * nrows + 1.2), 1, 1))


MECHANISM_PANELS = (("changed_answer_rate", "changed-answer rate"), ("i_to_c", "i→c (fixed) share"),
                    ("c_to_i", "c→i (broken) share"))
"""The collapse figure's panels: sampled second attempts that change the answer, fix it, break it."""
STAGE1_PANELS = (("kl/attempt1", "KL to base, attempt 1 (k1 estimate)"), ("reward/attempt2", "sampled reward, attempt 2"))
"""Stage I's figure: turn 1 held near the base model while turn 2's reward moves."""


def plot_log_panels(logs: Mapping[str, Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping[str, Any]]]],
                    panels: Sequence[tuple[str, str]], path: str | Path, title: str | None = None,
                    note: str | None = None, start_steps: int = 0) -> Path:
    """One panel per (log key, panel title) over training steps, one line per method: a method given several
    logs (seeds) is its mean per step with a band from the lowest to the highest seed, and the legend says how
    many seeds. A rate's axis runs from 0 to just above its highest value. A key no log holds leaves its panel
    empty with a note (e.g. runs logged before it existed). `start_steps` > 0: a dotted line at each method's
    mean over its first `start_steps` steps, so that a rise or a fall reads against where training started."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), squeeze=False)
    seeded = any(len(_seeds(value)) > 1 for value in logs.values())
    for ax, (key, panel_title) in zip(axes[0], panels):
        drawn, top = False, 0.0
        for name, value in logs.items():
            runs = _seeds(value)
            steps, mean, lo, hi = _mean_and_range(runs, key)
            if not steps:
                continue
            drawn, top = True, max(top, *hi)
            label = name if len(runs) == 1 else f"{name} ({len(runs)} seeds)"
            line, = ax.plot(steps, mean, label=label, marker="." if len(steps) < 30 else None)
            if len(runs) > 1:
                ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.18, lw=0)
            if start_steps:
                first = mean[:start_steps]
                ax.axhline(sum(first) / len(first), color=line.get_color(), lw=0.9, ls=":",
                           label=f"{name}: mean of its first {len(first)} steps")
        if not drawn:
            ax.text(0.5, 0.5, f"no run logged {key}", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        if key.startswith("kl/"):
            ax.axhline(0.0, color="#999999", lw=0.8, ls=":")
        else:  # a rate: from 0 to a little above the highest value drawn (rates near 0 stay readable)
            top = min(1.0, max(0.05, 1.15 * top))
            ax.set_ylim(-0.02 * top, top)
        ax.set_title(panel_title, fontsize=9)
        ax.set_xlabel("training step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if drawn:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title + (" (bands: lowest to highest seed)" if seeded else ""), fontsize=10)
    if note:  # e.g. `kl_caption(...)` under a figure with a KL panel
        fig.text(0.01, 0.015, note, fontsize=7.5, color="#444444", wrap=True, ha="left", va="bottom")
        return _save(fig, path, rect=(0, 0.1, 1, 1))
    return _save(fig, path)


def _moving_average(values: Sequence[float], window: int) -> list[float]:
    """The mean of each value and the `window` - 1 before it (fewer at the start)."""
    return [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
            for i in range(len(values))]


def plot_small_multiples(logs: Mapping[str, Sequence[Mapping[str, Any]]], keys: Sequence[tuple[str, str]],
                         path: str | Path, title: str | None = None, smooth: int = 4, ncols: int = 4) -> Path:
    """One small panel per run (many runs side by side without a crowded legend): each of `keys` (log key,
    label) over training steps, its moving average over `smooth` steps drawn over the raw steps (faint), on a
    shared 0-1 axis; one legend for the whole figure."""
    names = list(logs)
    nrows = max(1, -(-len(names) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.2 * nrows + 0.9), sharey=True, squeeze=False)
    colors = ("#2e86ab", "#d1495b", "#4c956c", "#7a7a7a")
    handles = []
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        rows = logs[names[k]]
        for (key, label), color in zip(keys, colors):
            pts = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None]
            if not pts:
                continue
            steps, values = zip(*pts)
            ax.plot(steps, values, color=color, lw=0.6, alpha=0.3)
            line, = ax.plot(steps, _moving_average(values, smooth), color=color, lw=1.5,
                            label=f"{label} ({smooth}-step mean)")
            if k == 0:
                handles.append(line)
        ax.set_title(names[k], fontsize=8)
        ax.set_ylim(0, 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        ax.tick_params(labelsize=7)
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, rect=(0, 0.06, 1, 1))


def plot_edit_distance(runs: Mapping[str, Sequence[tuple[str, str]]], path: str | Path, title: str | None = None) -> Path:
    """Histograms of edit_distance_ratio(y1, y2) per run (a pile at 0 = attempt 2 copies attempt 1)."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bins = [i / 20 for i in range(21)]
    for name, pairs in runs.items():
        ax.hist([edit_distance_ratio(a, b) for a, b in pairs], bins=bins, histtype="step", lw=1.6,
                label=f"{name} (n = {len(pairs)})", density=True)  # outlines: overlapping runs stay readable
    ax.set_xlabel("edit-distance ratio between attempts (0 = attempt 2 copies attempt 1)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_scaling(curves: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path, n: int | None = None,
                 title: str | None = None) -> Path:
    """Majority-vote accuracy (in %, as every other figure) against generations per problem: parallel (solid) vs
    sequential (dashed), one colour per model; rows as returned by `metrics.scaling_table`. With `n` (problems
    per point), each point carries its 95% Wilson interval."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    total = 2 * len(curves)
    for k, (name, rows) in enumerate(curves.items()):
        b = [r["budget"] for r in rows]
        color = None
        for j, (key, style) in enumerate((("parallel", "o-"), ("sequential", "s--"))):
            acc = [r[key] for r in rows]
            nudge = 0.05 * (2 * k + j - (total - 1) / 2)  # side by side, so that intervals do not hide each other
            xs = [v * 2 ** nudge for v in b]
            yerr = None
            if n:
                cis = [wilson_interval(round(a * n), n) for a in acc]
                yerr = [[100 * max(0.0, a - lo) for a, (lo, _) in zip(acc, cis)],
                        [100 * max(0.0, hi - a) for a, (_, hi) in zip(acc, cis)]]
            line = ax.errorbar(xs, [100 * a for a in acc], yerr=yerr, fmt=style, color=color, capsize=3, lw=1.2, ms=4,
                               label=f"{name}: {key}")
            color = line[0].get_color()
    ax.set_xscale("log", base=2)
    budgets = sorted({r["budget"] for rows in curves.values() for r in rows})
    ax.set_xticks(budgets, [str(v) for v in budgets])
    ax.set_xlabel("generations per problem")
    ax.set_ylabel("majority-vote accuracy (%)")
    ax.legend(fontsize=7)
    note = f"n = {n} problems per point; bars: 95% Wilson intervals" if n else "no intervals: number of problems not given"
    ax.set_title((title + "\n" if title else "") + note, fontsize=9)
    return _save(fig, path)


HELDOUT_PANELS = (("delta", "held-out Δ = Acc@t2 − Acc@t1"), ("wrong_to_right", "wrong → right"),
                  ("right_to_wrong", "right → wrong"), ("right_to_none", "right → no answer"))
"""The panels of `plot_heldout_curves`: Δ and the three transitions it is made of (none → right is rare here)."""


def plot_heldout_curves(curves: Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path, n: int | None = None,
                        title: str | None = None) -> Path:
    """Held-out metrics at checkpoints through training (`report.arms.load_curves`: method -> one curve per seed,
    each {"points": step -> metrics}), in %, one panel per `HELDOUT_PANELS` key: each method's mean over seeds,
    its 95% t-interval over seeds shaded where it has two seeds or more (a single seed: the points alone), the
    zero line drawn. Step 0 is the untrained model."""
    fig, axes = plt.subplots(1, len(HELDOUT_PANELS), figsize=(3.1 * len(HELDOUT_PANELS), 3.2))
    for ax, (key, label) in zip(axes, HELDOUT_PANELS):
        for name, runs in curves.items():
            steps = sorted({s for r in runs for s in r["points"] if r["points"][s].get(key) is not None})
            values = [[100 * r["points"][s][key] for r in runs if r["points"].get(s, {}).get(key) is not None]
                      for s in steps]
            means = [sum(v) / len(v) for v in values]
            line, = ax.plot(steps, means, "o-", ms=3.5, lw=1.4, label=f"{name} ({len(runs)} seed{'s' * (len(runs) > 1)})")
            bands = [seed_interval(v) for v in values]
            if all(bands):
                ax.fill_between(steps, [lo for lo, _ in bands], [hi for _, hi in bands], color=line.get_color(),
                                alpha=0.18, lw=0)
        ax.axhline(0, color="#999999", lw=0.8)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("training step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("% of test problems")
    axes[0].legend(fontsize=7)
    note = (f"{n} test problems per point; " if n else "") + "band: 95% t-interval over seeds; step 0: the base model"
    fig.suptitle((title + "\n" if title else "") + note, fontsize=10)
    return _save(fig, path, rect=(0, 0, 1, 0.9))


def _wrap_to(artist: Any, limit_px: float, renderer: Any) -> None:
    """Re-wrap a title's lines until it is no wider than `limit_px` (a word longer than that stays whole)."""
    lines = artist.get_text().split("\n")
    for _ in range(6):
        width = artist.get_window_extent(renderer).width
        longest = max(len(line) for line in lines)
        if width <= limit_px or longest <= 8:
            return
        chars = max(8, int(longest * limit_px / width * 0.95))
        lines = [part for line in lines for part in (textwrap.wrap(line, chars) or [""])]
        artist.set_text("\n".join(lines))


def fit_titles(fig: Any) -> None:
    """Wrap the figure's title to the figure's width and each panel's title to its panel's, so no title is
    clipped or runs over its neighbours."""
    renderer = fig.canvas.get_renderer()
    if fig._suptitle is not None and fig._suptitle.get_text():
        _wrap_to(fig._suptitle, 0.98 * fig.bbox.width, renderer)
    for ax in fig.axes:
        if ax.title.get_text():
            _wrap_to(ax.title, ax.get_window_extent(renderer).width, renderer)


def finish(fig: Any, rect: tuple[float, float, float, float] | None = None) -> None:
    """Lay the figure out with every title fitted to its width (`fit_titles`)."""
    fig.tight_layout(rect=rect)
    fit_titles(fig)
    fig.tight_layout(rect=rect)


def _save(fig: Any, path: str | Path, rect: tuple[float, float, float, float] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    finish(fig, rect)
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
