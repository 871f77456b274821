"""Figures read at a glance: every transition cell is printed (a zero as "0"), bars carry their intervals and
values, seeds are drawn as a mean with a band, steps are whole numbers, the KL note is on the curves, and the
scaling plot has Wilson intervals. Each figure is inspected before it is saved (`plots._save` is wrapped)."""
import matplotlib.pyplot as plt
import pytest
from matplotlib.ticker import MaxNLocator

from scoreutils.report import plots
from scoreutils.metrics import self_correction_metrics, wilson_interval

R1 = [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
R2 = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
NO_CHANGE = ([1.0, 0.0, 0.0], [1.0, 0.0, 0.0])


@pytest.fixture
def figures(monkeypatch, tmp_path):
    """The figures the plot functions draw, kept open for inspection (closed after the test)."""
    kept = []

    def keep(fig, path, rect=None):
        kept.append(fig)
        plots.finish(fig, rect)
        fig.savefig(path)
        return plots.Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    yield kept
    for fig in kept:
        plt.close(fig)


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def log(values, key="kl/attempt1"):
    return [{"step": i + 1, "reward/attempt1": 0.1, "reward/attempt2": 0.2, "kl/attempt1": v, "kl/attempt2": v,
             "changed_answer_rate": 0.5} for i, v in enumerate(values)]


def test_transition_counts_split_every_problem():
    counts = plots.transition_counts(R1, R2)
    assert counts == {"c->c": 2, "c->i": 1, "i->c": 2, "i->i": 3}
    m = self_correction_metrics(R1, R2)
    shares = plots.transition_shares(R1, R2)
    assert shares["i->c"] == m["delta_i_to_c"] and shares["c->i"] == m["delta_c_to_i"]
    assert plots.transition_counts([], []) == {"c->c": 0, "c->i": 0, "i->c": 0, "i->i": 0}


def test_transitions_print_every_cell_and_a_zero_as_0(figures, tmp_path):
    path = plots.plot_transitions({"a": (R1, R2), "b": NO_CHANGE}, tmp_path / "t.png", title="SmolLM2: t1 → t2")
    assert path.exists()
    fig = figures[0]
    assert len(fig.axes) == 2 and fig._suptitle.get_text() == "SmolLM2: t1 → t2"
    a, b = ([t.get_text() for t in ax.texts] for ax in fig.axes)
    assert {"2", "1", "3"} <= set(a)
    assert b.count("0") == 2  # b never fixes nor breaks: both rare cells read "0"
    assert "25.0%" in a and "12.5%" in a


def test_transitions_pool_seeds_and_show_their_range(figures, tmp_path):
    plots.plot_transitions({"m": [(R1, R2), NO_CHANGE]}, tmp_path / "t.png")
    ax = figures[0].axes[0]
    assert "2 seeds pooled" in ax.get_title() and "n = 11" in ax.get_title()
    assert any(t.startswith("9.1%\nseeds 0–12%") for t in texts(figures[0]))


def test_corrections_carry_intervals_values_and_zero_labels(figures, tmp_path):
    rows = {"a": self_correction_metrics(R1, R2), "b": self_correction_metrics(*NO_CHANGE)}
    plots.plot_corrections(rows, tmp_path / "c.png", paper={"a": (1, 2, 3, 4.5, 1.5)}, title="T")
    fig = figures[0]
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("0") == 2 and "25.0" in labels and "12.5" in labels and "4.5" in labels
    caps = [c for c in ax.containers if hasattr(c, "errorbar") and c.errorbar is not None]
    assert len(caps) == 2  # i→c and c→i of the kit carry error bars
    lo, hi = wilson_interval(2, 8)
    segments = caps[0].errorbar.lines[2][0].get_segments()
    assert segments[0][0][1] == pytest.approx(100 * lo) and segments[0][1][1] == pytest.approx(100 * hi)
    assert ax.get_title() == "T"


def test_training_curves_have_whole_steps_a_kl_note_and_seed_bands(figures, tmp_path):
    plots.plot_training_curves({"one": log([0.0, -0.05, 0.1]), "seeds": [log([0.0, 0.1, 0.2]), log([0.0, 0.3])]},
                               tmp_path / "k.png", title="SmolLM2-135M-Instruct: Stage II")
    fig = figures[0]
    assert all(isinstance(ax.xaxis.get_major_locator(), MaxNLocator) for ax in fig.axes)
    assert all(float(t).is_integer() for ax in fig.axes for t in ax.get_xticks())
    assert any("can dip below 0" in t and "expectation" in t and "Bands" in t for t in texts(fig))
    kl = fig.axes[1]
    assert len(kl.collections) == 2  # one band per attempt of the seeded method, none for the single run
    means = [line for line in kl.lines if "seeds" in line.get_label()]
    assert list(means[0].get_ydata()) == pytest.approx([0.0, 0.2, 0.2])  # step 3: only one seed logged it
    assert "(mean of 2 seeds)" in means[0].get_label()
    assert fig._suptitle.get_text() == "SmolLM2-135M-Instruct: Stage II"


def test_training_curves_of_more_than_two_methods_draw_a_row_per_method(figures, tmp_path):
    logs = {"SCoRe": [log([0.0, 0.1, 0.2]), log([0.0, 0.3, 0.1])], "w/o Stage I": log([0.1, 0.2, 0.3]),
            "w/o reward shaping": log([0.2, 0.0, 0.1])}
    plots.plot_training_curves(logs, tmp_path / "rows.png", title="three methods")
    plots.plot_training_curves(dict(list(logs.items())[:2]), tmp_path / "one_row.png", title="two methods")
    rows, one_row = figures
    assert len(rows.axes) == 9 and len(one_row.axes) == 3
    assert [ax.get_ylabel() for ax in rows.axes[::3]] == ["SCoRe (mean of 2 seeds)", "w/o Stage I", "w/o reward shaping"]
    for k, ax in enumerate(rows.axes):  # each panel holds its own method's lines only (t1 and t2, or the rate)
        assert {line.get_color() for line in ax.lines if line.get_label()[0] != "_"} == {rows.axes[k - k % 3].lines[0].get_color()}
    assert len({rows.axes[k].lines[0].get_color() for k in (0, 3, 6)}) == 3
    assert rows.axes[2].get_ylim()[1] < 1.0  # rates near 0 stay readable
    assert one_row.axes[0].get_legend() is not None and rows.axes[0].get_legend() is None


def test_mechanism_panels_draw_seed_bands_and_say_what_no_run_logged(figures, tmp_path):
    def rows(rates, fixed):
        return [{**r, "changed_answer_rate": c, "i_to_c": f} for r, c, f in zip(log([0.0] * len(rates)), rates, fixed)]

    plots.plot_log_panels({"naive_rl": [rows([0.6, 0.2], [0.1, 0.0]), rows([0.4, 0.0], [0.3, 0.0])],
                           "score": rows([0.5, 0.5], [0.2, 0.3])},
                          plots.MECHANISM_PANELS, tmp_path / "m.png", title="collapse")
    fig = figures[0]
    changed, fixed, broken = fig.axes
    naive = next(line for line in changed.lines if line.get_label().startswith("naive_rl"))
    assert list(naive.get_ydata()) == pytest.approx([0.5, 0.1]) and naive.get_label() == "naive_rl (2 seeds)"
    assert len(changed.collections) == 1  # a band for the seeded method only
    assert len(fixed.lines) == 2 and not broken.lines
    assert any("no run logged c_to_i" in t.get_text() for t in broken.texts)
    assert changed.get_ylim()[1] == pytest.approx(0.69) and fixed.get_ylim()[1] == pytest.approx(0.345)
    assert "bands: lowest to highest seed" in fig._suptitle.get_text()
    plots.plot_log_panels({"score": rows([0.5], [0.2])}, plots.MECHANISM_PANELS, tmp_path / "one.png", title="one")
    assert figures[1]._suptitle.get_text() == "one"  # one seed: no bands to explain


def test_scaling_has_wilson_intervals_when_n_is_given(figures, tmp_path):
    rows = [{"budget": 2, "parallel": 0.2, "sequential": 0.3}, {"budget": 4, "parallel": 0.25, "sequential": 0.35}]
    plots.plot_scaling({"base": rows}, tmp_path / "s.png", n=100, title="SmolLM2")
    ax = figures[0].axes[0]
    bars = [c for c in ax.containers if c.has_yerr]
    assert len(bars) == 2
    lo, hi = wilson_interval(20, 100)
    segment = bars[0].lines[2][0].get_segments()[0]
    assert segment[0][1] == pytest.approx(100 * lo) and segment[1][1] == pytest.approx(100 * hi)  # in %
    assert "%" in ax.get_ylabel()
    assert "n = 100 problems" in ax.get_title() and "Wilson" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4"]
    plots.plot_scaling({"base": rows}, tmp_path / "s2.png")
    assert "no intervals" in figures[1].axes[0].get_title()


def test_model_labels_name_the_model():
    assert plots.model_label("bundled") == "SmolLM2-135M-Instruct"
    assert plots.model_label("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen2.5-0.5B-Instruct"
    assert plots.model_label("/models/my-model/") == "my-model"


def test_figures_are_written(tmp_path):
    for path in (plots.plot_transitions({"a": (R1, R2)}, tmp_path / "a.png"),
                 plots.plot_training_curves({"a": log([0.1, 0.2])}, tmp_path / "b.png"),
                 plots.plot_edit_distance({"a": [("ab", "ab"), ("ab", "cd")]}, tmp_path / "c.png", title="x")):
        assert path.exists() and path.stat().st_size > 1000


LONG = ("SmolLM2-135M-Instruct on arithmetic level 6: what the second attempt does to the first, seed by seed, "
        "on every held-out problem of the shared test set")


def _every_figure(tmp_path):
    rows = {"a": self_correction_metrics(R1, R2), "b": self_correction_metrics(*NO_CHANGE)}
    scaling = [{"budget": b, "parallel": 0.2, "sequential": 0.3} for b in (2, 4, 8)]
    return [
        lambda: plots.plot_transitions({"a": (R1, R2), "b": NO_CHANGE}, tmp_path / "t.png", title=LONG),
        lambda: plots.plot_corrections(rows, tmp_path / "c.png", title=LONG),
        lambda: plots.plot_training_curves({"a": log([0.1, 0.2])}, tmp_path / "tc.png", title=LONG),
        lambda: plots.plot_log_panels({"a": log([0.1, 0.2])}, plots.MECHANISM_PANELS, tmp_path / "lp.png", title=LONG),
        lambda: plots.plot_edit_distance({"a": [("ab", "ab"), ("ab", "cd")]}, tmp_path / "e.png", title=LONG),
        lambda: plots.plot_scaling({"base": scaling}, tmp_path / "s.png", n=100, title=LONG),
        lambda: plots.plot_small_multiples({f"candidate-{k}-with-a-long-name": log([0.1, 0.2]) for k in range(5)},
                                           [("reward/attempt1", "reward 1")], tmp_path / "sm.png", title=LONG),
    ]


def test_no_title_is_wider_than_its_figure_or_panel(figures, tmp_path):
    for draw in _every_figure(tmp_path):
        draw()
    assert len(figures) == 7
    for fig in figures:
        renderer = fig.canvas.get_renderer()
        titles = [(fig._suptitle, fig.bbox)] if fig._suptitle is not None and fig._suptitle.get_text() else []
        titles += [(ax.title, ax.get_window_extent(renderer)) for ax in fig.axes if ax.title.get_text()]
        assert titles
        for title, box in titles:
            extent = title.get_window_extent(renderer)
            assert extent.width <= box.width + 1, (title.get_text(), extent.width, box.width)
            assert extent.x0 >= fig.bbox.x0 - 1 and extent.x1 <= fig.bbox.x1 + 1, title.get_text()


def test_a_title_too_wide_is_wrapped_to_its_panel():
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    a.set_title(LONG)
    fig.suptitle(LONG)
    renderer = fig.canvas.get_renderer()
    assert a.title.get_window_extent(renderer).width > a.get_window_extent(renderer).width  # as drawn: too wide
    plots.finish(fig)
    assert a.title.get_window_extent(renderer).width <= a.get_window_extent(renderer).width + 1
    assert fig._suptitle.get_window_extent(renderer).width <= fig.bbox.width
    assert " ".join(a.get_title().split()) == LONG  # wrapped, not cut
    plt.close(fig)


def test_fit_titles_leaves_a_short_title_alone():
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.set_title("Stage I")
    fig.suptitle("short")
    plots.fit_titles(fig)
    assert ax.get_title() == "Stage I" and fig._suptitle.get_text() == "short"
    plt.close(fig)


def test_the_kl_caption_says_a_real_kl_only_for_on_policy_scoring(tmp_path):
    assert "not a KL at all" in plots.kl_caption(0.7, False)
    assert "KL(π_T‖π_ref,T) at T = 0.4 ≥ 0, a real KL" in plots.kl_caption(0.4, True)
    assert "KL(π‖π_ref) ≥ 0, a real KL" in plots.kl_caption(1.0, False)  # T = 1: scoring at T = 1 is on-policy
    log = [{"step": s, "kl/attempt1": 0.01 * s, "reward/attempt2": 0.1} for s in range(1, 4)]
    path = plots.plot_log_panels({"a": log}, plots.STAGE1_PANELS, tmp_path / "kl.png", title="t",
                                 note=plots.kl_caption(0.4, True))
    assert path.stat().st_size > 0


def test_small_multiples_give_each_run_its_panel_and_the_figure_one_legend(figures, tmp_path):
    logs = {f"run{k}": log([0.1, 0.2, 0.3, 0.4, 0.5]) for k in range(6)}
    plots.plot_small_multiples(logs, [("reward/attempt1", "reward 1"), ("changed_answer_rate", "changed")],
                               tmp_path / "sm.png", title="six runs", smooth=2, ncols=4)
    fig = figures[0]
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == [f"run{k}" for k in range(6)]  # 2 rows of 4, the last 2 hidden
    assert len(fig.axes) == 8 and len(fig.legends) == 1 and all(ax.get_legend() is None for ax in shown)
    assert all(len(ax.lines) == 4 for ax in shown)  # each key: its raw steps (faint) and its moving average
    smoothed = shown[0].lines[1].get_ydata()
    assert list(smoothed) == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.1])  # reward/attempt1 is 0.1 at every step
    assert plots._moving_average([1.0, 3.0, 5.0], 2) == [1.0, 2.0, 4.0]


def test_a_panel_can_draw_where_training_started(figures, tmp_path):
    plots.plot_log_panels({"a": log([0.1, 0.2]) * 1}, (("changed_answer_rate", "changed"),), tmp_path / "p.png",
                          start_steps=3)
    ax = figures[0].axes[0]
    start = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(start) == 1 and list(start[0].get_ydata()) == [0.5, 0.5]  # the mean of the first 2 (of 2) steps
    assert "first 2 steps" in start[0].get_label()


def _curve(deltas: dict[int, float]) -> dict:
    return {"points": {s: {"delta": d, "wrong_to_right": max(d, 0.0), "right_to_wrong": 0.01, "right_to_none": 0.0}
                       for s, d in deltas.items()}}


def test_held_out_curves_draw_each_method_in_percent_with_a_band_over_seeds(figures, tmp_path):
    curves = {"score": [_curve({0: -0.02, 24: 0.0, 96: 0.02}), _curve({0: -0.02, 24: 0.02, 96: 0.04})],
              "naive_rl": [_curve({0: -0.02, 24: -0.01, 96: 0.0})]}
    plots.plot_heldout_curves(curves, tmp_path / "h.png", n=756, title="SmolLM2")
    fig = figures[0]
    ax = fig.axes[0]
    score, naive, zero = ax.lines  # each method's line, then the zero line
    assert list(score.get_xdata()) == [0, 24, 96] and list(score.get_ydata()) == pytest.approx([-2.0, 1.0, 3.0])
    assert list(naive.get_ydata()) == pytest.approx([-2.0, -1.0, 0.0]) and list(zero.get_ydata()) == [0, 0]
    assert len(ax.collections) == 1  # one band: the method with two seeds
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["score (2 seeds)", "naive_rl (1 seed)"]
    assert len(fig.axes) == len(plots.HELDOUT_PANELS) and "756 test problems" in fig._suptitle.get_text()
