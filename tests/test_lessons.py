"""The closing box of each lesson is generated from numbers: every reading is reachable from made-up numbers,
a direction is named only when the interval excludes 0, and the lesson's verdicts are those of its claims."""
from types import SimpleNamespace

import pytest

from scoreutils import get_profile
from scoreutils.report import lessons, verdicts
from scoreutils.metrics import self_correction_metrics


def episodes(r1, r2, changed=None):
    """Made-up episodes of problems 0..n-1; `changed[i]` makes attempt 2 give another final answer."""
    changed = changed or [False] * len(r1)
    return [SimpleNamespace(problem=SimpleNamespace(id=str(i), prompt=f"problem {i}"), r1=a, r2=b,
                            y1="The final answer is $1$.",
                            y2="The final answer is $2$." if c else "The final answer is $1$.")
            for i, (a, b, c) in enumerate(zip(r1, r2, changed))]


def run(r1, r2, changed=None):
    eps = episodes(r1, r2, changed)
    return SimpleNamespace(metrics=self_correction_metrics(r1, r2), episodes=eps)


HURTS = run([1.0] * 20 + [0.0] * 20, [0.0] * 12 + [1.0] * 8 + [0.0] * 20)  # 12 broken, none fixed
HELPS = run([0.0] * 40, [1.0] * 12 + [0.0] * 28)
MIXED = run([1.0, 0.0] * 20, [0.0, 1.0] * 3 + [1.0, 0.0] * 17)  # 3 fixed, 3 broken
STILL = run([1.0] * 10 + [0.0] * 30, [1.0] * 10 + [0.0] * 30)
FEW = run([0.0] * 5, [1.0] * 5)


@pytest.mark.parametrize("r, words", [
    (HURTS, "the second attempt hurts (interval excludes 0)"),
    (HELPS, "the second attempt helps (interval excludes 0)"),
    (MIXED, "inconclusive: the interval includes 0"),
    (STILL, "no change: attempt 2 fixed no problem and broke none (the interval allows -4.7 to 4.7 pts)"),
    (FEW, "too few problems to read (n = 5 < 10)"),
])
def test_every_reading_of_delta_is_reachable(r, words):
    assert lessons.delta_reading(r.metrics) == words


def test_a_direction_needs_the_interval_to_exclude_zero():
    assert lessons.reading((0.001, 0.2), 100, "up", "down") == "up (interval excludes 0)"
    assert lessons.reading((-0.2, -0.001), 100, "up", "down") == "down (interval excludes 0)"
    assert lessons.reading((0.0, 0.2), 100, "up", "down").startswith("inconclusive")
    assert lessons.reading((0.0, 0.0), 100, "up", "down").startswith("inconclusive")  # no "unchanged" offered


def test_table_rows_carry_intervals_readings_and_the_papers_numbers():
    table = lessons.run_table({"base": HURTS, "mine": HELPS.metrics}, paper={"base": (52.6, 41.4, -11.2, 4.6, 15.8),
                                                                            "mine": (60.0, 64.4, 4.4)})
    base, mine = table.splitlines()[2:]
    m = HURTS.metrics
    assert base.startswith("| base | 40 | -30.0 [") and "hurts" in base
    assert f"{100 * m['delta_c_to_i_ci'][0]:.1f}, {100 * m['delta_c_to_i_ci'][1]:.1f}]" in base
    assert base.endswith("| Δ -11.2 (i→c 4.6, c→i 15.8) |")
    assert "| mine | 40 | +30.0 [" in mine and mine.endswith("| Δ +4.4 (t1 60.0 → t2 64.4) |")


def test_metrics_without_intervals_are_recomputed_from_episodes():
    bare = SimpleNamespace(metrics={"n": 40, "delta": -0.3}, episodes=HURTS.episodes)
    assert "hurts" in lessons.run_table({"x": bare})


@pytest.mark.parametrize("a, b, key, words", [
    (HELPS, HURTS, "delta", "higher for a (interval excludes 0)"),
    (HURTS, HELPS, "delta", "lower for a (interval excludes 0)"),
    (MIXED, STILL, "delta", "inconclusive: the interval includes 0"),
    (run([0.0] * 20, [0.0] * 20, [True] * 15 + [False] * 5), run([0.0] * 20, [0.0] * 20), "changed_answer",
     "higher for a (interval excludes 0)"),
])
def test_comparisons_are_paired_by_problem_and_read_by_their_interval(a, b, key, words):
    line = lessons.comparison_line("a", "b", key, a.episodes, b.episodes)
    assert line.endswith(words) and f"{lessons.NAMES[key]}, a − b: " in line and "paired problems" in line


def test_scaling_lines_read_each_budget():
    rows = [{"budget": 2, "parallel": 0.2, "sequential": 0.6}, {"budget": 4, "parallel": 0.3, "sequential": 0.32}]
    up, flat = lessons.scaling_lines({"SCoRe": rows}, 100)
    assert up.startswith("SCoRe, 2 generations per problem: sequential − parallel = +40.0 pts [")
    assert up.endswith("sequential is ahead (interval excludes 0)")
    assert flat.endswith("inconclusive: the interval includes 0")
    down, = lessons.scaling_lines({"b": [{"budget": 2, "parallel": 0.6, "sequential": 0.2}]}, 100)
    assert down.endswith("parallel is ahead (interval excludes 0)")
    few, = lessons.scaling_lines({"b": rows[:1]}, 4)
    assert few.endswith("too few problems to read (n = 4 < 10)")


def test_closing_box_holds_rows_comparisons_lines_verdicts_and_paper():
    made_up = [{"claim": "C1", "verdict": verdicts.REPRODUCED, "evidence": "e1"},
               {"claim": "C2", "verdict": verdicts.NOT_REPRODUCED, "evidence": "e2"},
               {"claim": "C3", "verdict": verdicts.INCONCLUSIVE, "evidence": "e3"}]
    box = lessons.closing_box("06", {"a": HELPS, "b": HURTS}, paper={"a": (1, 2, 1, 1, 0)}, paper_source="P",
                              comparisons=[("a", "b", "delta")], lines=["extra"], verdicts=made_up,
                              profile=get_profile("smoke"))
    assert box.startswith("### What reproduced here (lesson 06)")
    assert "| a | 40 |" in box and "- Δ, a − b: " in box and "- extra" in box
    assert "- ✅ reproduced — C1. *e1*" in box and "- ❌ not reproduced — C2" in box and "- ❔ inconclusive — C3" in box
    assert box.splitlines()[-1].startswith("Paper: P. This kit: SmolLM2-135M-Instruct on arithmetic (smoke profile).")
    assert "claims" not in lessons.closing_box("08", {"a": HELPS}, verdicts=[])


def test_every_lesson_names_claims_that_exist():
    ids = {c.id for c in verdicts.CLAIMS}
    assert sorted(lessons.LESSON_CLAIMS) == [f"{i:02d}" for i in range(9)]
    for lesson, claims in lessons.LESSON_CLAIMS.items():
        assert set(claims) <= ids, lesson


def test_lesson_verdicts_judge_only_the_lessons_claims(monkeypatch, tmp_path):
    monkeypatch.setenv("SCORE_RESULTS", str(tmp_path))
    got = lessons.lesson_verdicts("07", get_profile("cpu"))
    assert [v["id"] for v in got] == [c.id for c in verdicts.CLAIMS if c.id in lessons.LESSON_CLAIMS["07"]]
    assert all(v["verdict"] == verdicts.INCONCLUSIVE for v in got)  # no runs there: nothing to judge
    assert lessons.lesson_verdicts("08", get_profile("cpu")) == []


def test_every_lesson_ends_with_its_generated_box():
    import re
    from pathlib import Path

    import nbformat

    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
    assert len(notebooks) == 9
    for path in notebooks:
        cells = nbformat.read(path, as_version=4).cells
        last = cells[-1]
        assert last.cell_type == "code", path.name
        assert re.search(rf'display\(Markdown\(closing_box\("{path.name[:2]}"', last.source), path.name
        assert not any("closing_box(" in c.source for c in cells[:-1] if c.cell_type == "code"), path.name


def test_an_interval_end_near_zero_keeps_its_sign():
    assert lessons._ci((-0.14, -0.00004)) == "[-14.0, -0.004]"
    assert lessons._ci((0.0, 0.0312)) == "[0.0, 3.1]"
    assert lessons._ci((3e-16, 0.037)) == "[0.0, 3.7]"  # float rounding of an exact 0
