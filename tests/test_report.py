"""tools/report.py's sections for the reproduction and the recipe search, on made-up results."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from scoreutils.config import get_profile
from scoreutils.rollout import Episode
from scoreutils.tasks import Problem

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


report = _load("report")
reproduce = _load("reproduce")


def _episodes(outcomes):
    eps = []
    for i, (r1, r2) in enumerate(outcomes):
        problem = Problem(id=f"arithmetic/test/L6/{i:04d}", prompt=f"What is {i} + 1?", reference=str(i + 1),
                          split="test", source="arithmetic")
        y1, y2 = (f"\\boxed{{{i + 1 if r else i}}}" for r in (r1, r2))
        eps.append(Episode(problem=problem, x1_ids=[1], y1_ids=[2], p_ids=[3], y2_ids=[4], y1=y1, y2=y2,
                           truncated1=False, truncated2=False, r1=float(r1), r2=float(r2)))
    return eps


def _write_run(folder: Path, method: str, seed: int, outcomes, label: str, log=()):
    prof = {**get_profile("repro").to_dict(), "seed": seed}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"method": method, "profile": prof}))
    (folder / "metrics.json").write_text(json.dumps({"n": len(outcomes), "label": label, "split": "test",
                                                     "profile": prof}))
    (folder / "metrics.episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in _episodes(outcomes)))
    (folder / "log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))


def test_the_report_knows_every_run_of_make_reproduce():
    assert report.REPRO_RUNS == tuple(reproduce.RUNS) and report.REPRO_ONCE == reproduce.ONE_SEED
    assert report.REPRO_MORE == reproduce.MORE_SEEDS
    from scoreutils.report import reproduction

    assert reproduction.SEEDS_OF == {name: len(reproduce.SEEDS) + len(more) for name, more in
                                     reproduce.MORE_SEEDS.items() if reproduce.RUNS[name][0] == "train"}


def test_repro_section_pools_seeds_and_draws_the_mechanism(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(report, "FIGURES", tmp_path / "figures")
    repro = tmp_path / "results" / "repro"
    log = [{"step": s, "reward/attempt1": 0.3, "reward/attempt2": 0.4, "kl/attempt1": 0.01, "changed_answer_rate": 0.2,
            "i_to_c": 0.1, "c_to_i": 0.05} for s in (1, 2)]
    for seed in (0, 1):
        _write_run(repro / "base" / f"seed{seed}", "eval", seed, [(0, 0)] * 300 + [(1, 0)] * 50 + [(1, 1)] * 150, "base")
        _write_run(repro / "score" / f"seed{seed}", "score", seed, [(0, 1)] * 125 + [(1, 1)] * 375, "score", log)
    (tmp_path / "results" / "logs").mkdir(parents=True)
    (tmp_path / "results" / "logs" / "reproduce.log").write_text(
        "2026-01-01 00:00:00 done score/seed0 rc=0 wall=1800s\n2026-01-01 00:00:00 start score/seed1 (pid 1)\n"
        "2026-01-01 00:10:00 interrupted score/seed1: a re-run resumes it\n"
        "2026-01-01 01:00:00 start score/seed1 (pid 2)\n2026-01-01 01:30:00 done score/seed1 rc=0 wall=1800s\n")
    text = "\n".join(report.repro_section())
    assert "**4 of 65 runs finished**" in text
    base = next(line for line in text.splitlines() if line.startswith("| base |"))
    assert "| 2 | 500 (500) |" in base and "| -10.0 [" in base and "| -10.0, -10.0 |" in base
    assert "| 10.0 / 0.0 |" in base  # right→wrong / right→none
    score = next(line for line in text.splitlines() if line.startswith("| score |"))
    assert "| +25.0 [" in score and "| 25.0 / 0.0 |" in score  # wrong→right / none→right
    assert "score 30, 40* min" in text and "(* made in parts" in text  # seed by seed, seed 1 resumed
    assert "these 2 runs took 1.2 h of one-thread work: about 0.6 h of wall time" in text
    assert (tmp_path / "figures" / "repro_collapse.png").exists() and "repro_stage1" not in text


def test_a_resumed_run_s_wall_time_is_the_sum_of_its_parts():
    log = ("2026-01-01 10:00:00 start score/seed2 (pid 1)\n"
           "2026-01-01 10:00:05 start base/seed2 (pid 2)\n"
           "2026-01-01 10:05:05 done base/seed2 rc=0 wall=300s\n"
           "2026-01-01 10:30:00 interrupted score/seed2: a re-run resumes it\n"
           "2026-01-01 11:00:00 start score/seed2 (pid 3)\n"
           "2026-01-01 11:10:00 FAILED score/seed2 rc=1 wall=600s\n"
           "2026-01-01 11:10:00 start score/seed2 (pid 4)\n"
           "2026-01-01 11:30:00 done score/seed2 rc=0 wall=1200s\n")
    walls = report.run_walls(log)
    assert walls == {"base": {2: (300, 1)}, "score": {2: (1800 + 600 + 1200, 3)}}
    assert report.run_walls("2026-01-01 10:00:00 start score/seed0 (pid 1)\n") == {}  # running: no time yet


def test_recipe_section_states_the_rule_and_what_is_pending(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    row = {"acc_t1": 0.4, "acc_t2": 0.45, "delta": 0.05, "delta_ci": [0.0, 0.1], "p_fix": 0.2, "p_break": 0.1,
           "changed_answer_rate": 0.3, "n": 190}
    data = {"split": "validation", "n": 190, "seed": 0, "rule": "the highest Δ", "base": row,
            "candidates": {"a1": {"changes": {"alpha": 1.0}, **row}}, "pending": ["a10"], "chosen": None}
    (tmp_path / "recipe_search.json").write_text(json.dumps(data))
    text = "\n".join(report.recipe_section())
    assert "**no choice yet** (pending: a10)" in text and "Rule: the highest Δ" in text
    assert "| a1 | alpha=1.0 | 40.0 | 45.0 | +5.0 [0.0, 10.0] | 20.0 | 10.0 | 30.0 |" in text
    data.update(pending=[], chosen="a1")
    (tmp_path / "recipe_search.json").write_text(json.dumps(data))
    assert "**chosen: a1**" in "\n".join(report.recipe_section())
    data.update(candidates={**data["candidates"], "late": {"changes": {"alpha": 3.0}, **row}}, after_test=["late"],
                chosen_with_after_test="late")
    (tmp_path / "recipe_search.json").write_text(json.dumps(data))
    assert ("**chosen: a1**. Candidates late ran after the test table, so the reproduction keeps the choice above "
            "whatever they give; with them the rule would choose **late**: the reproduction's RL runs were not made "
            "with it.") in "\n".join(report.recipe_section())
    data.update(chosen_with_after_test="a1")
    (tmp_path / "recipe_search.json").write_text(json.dumps(data))
    assert "whatever they give; with them the rule still chooses a1." in "\n".join(report.recipe_section())
    data.update(pending=["late"], chosen_with_after_test=None)
    (tmp_path / "recipe_search.json").write_text(json.dumps(data))
    assert "whatever they give; they are not finished yet." in "\n".join(report.recipe_section())
    (tmp_path / "recipe_search" / "a1").mkdir(parents=True)
    (tmp_path / "recipe_search" / "a1" / "log.jsonl").write_text(
        json.dumps({"step": 1, "reward/attempt1": 0.2, "reward/attempt2": 0.3, "changed_answer_rate": 0.1}) + "\n")
    monkeypatch.setattr(report, "FIGURES", tmp_path / "figures")
    assert "figures/recipe_search_curves.png" in "\n".join(report.recipe_section())
    assert (tmp_path / "figures" / "recipe_search_curves.png").exists()


def test_the_verdicts_say_whether_score_s_target_is_met_and_what_the_recipe_search_found(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    row = {"acc_t1": 0.4, "acc_t2": 0.45, "delta": 0.05, "n": 190}
    data = {"n": 190, "chosen": "a1", "candidates": {"a1": {**row, "delta_ci": [-0.01, 0.1]},
                                                      "a10": {**row, "delta_ci": [0.01, 0.1]},
                                                      "a3": {**row, "delta_ci": [0.0, 0.1]}}}
    (tmp_path / "recipe_search.json").write_text(json.dumps(data))
    assert report.recipe_outcome() == ("The recipe search on 190 validation problems tried 3 candidates; 1 of them "
                                       "had a Δ whose 95% interval lies above 0 (a10); its rule chose a1 (validation "
                                       "Δ +5.0 [-1.0, 10.0]), the recipe of every run above.")
    found = [{"profile": p, "id": "score_delta_positive", "claim": "c", "paper_ref": "Table 2", "verdict": "reproduced",
              "evidence": "e"} for p in ("cpu", "repro")]
    monkeypatch.setattr(report, "judged", lambda: (found, []))
    text = "\n".join(report.verdict_section())
    assert text.count("**SCoRe's target is not reached**") == 2  # score_beats_naive_rl is not judged
    assert text.count("The recipe search on 190") == 1  # the repro profile's section only
    data["candidates"]["a10"]["delta_ci"] = [0.0, 0.1]
    (tmp_path / "recipe_search.json").write_text(json.dumps(data))
    assert "3 candidates; none of them had a Δ whose 95% interval lies above 0; its rule" in report.recipe_outcome()
    (tmp_path / "recipe_search.json").unlink()
    assert report.recipe_outcome() == "" and "recipe search" not in "\n".join(report.verdict_section())


def test_the_repro_section_says_when_every_run_is_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(report, "FIGURES", tmp_path / "figures")
    monkeypatch.setattr(report, "REPRO_RUNS", ("base", "star"))  # base runs once, star for 3 seeds: 4 runs
    _write_run(tmp_path / "results" / "repro" / "base" / "seed0", "eval", 0, [(1, 1)] * 20, "base")
    for seed in (0, 1):
        _write_run(tmp_path / "results" / "repro" / "star" / f"seed{seed}", "star", seed, [(1, 1)] * 20, "star")
    assert "**3 of 4 runs finished**; the table grows" in "\n".join(report.repro_section())
    _write_run(tmp_path / "results" / "repro" / "star" / "seed2", "star", 2, [(1, 1)] * 20, "star")
    text = "\n".join(report.repro_section())
    assert "**All 4 runs finished.** In %;" in text and "grows" not in text


# --- README's first screen and docs/results.md --------------------------------------------------------

README = ROOT / "README.md"


def _section(text: str, marker: str) -> str:
    return text.split(f"<!-- {marker}:start -->\n", 1)[1].split(f"\n<!-- {marker}:end -->", 1)[0]


def test_readme_is_short_and_opens_with_the_verdicts():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    first_table = next(line for line in text.splitlines() if line.startswith("| "))
    assert first_table.startswith("| the paper's claim | where | verdict | evidence |")
    assert text.index("<!-- results:start -->") < text.index("## Start") < text.index("<!-- notebooks:start -->")
    assert "make lab" in text and "make student-copy" in text


def test_readme_verdicts_are_results_verdicts_json():
    """The table make report wrote, row for row, from the committed verdicts (re-judging needs `make report`)."""
    verdicts = json.loads((ROOT / "results" / "verdicts.json").read_text())
    prof = "repro" if any(v["profile"] == "repro" for v in verdicts) else verdicts[0]["profile"]
    rows = [line for line in _section(README.read_text(), "results").splitlines() if line.startswith("| ")][1:]
    want = [v for v in verdicts if v["profile"] == prof]
    assert [r.split(" | ")[0][2:] for r in rows] == [v["claim"] for v in want]
    assert [r.split(" | ")[2] for r in rows] == [f"**{v['verdict']}**" for v in want]
    assert all(report.short_evidence(v) in r for v, r in zip(want, rows))


def test_readme_times_are_the_logged_ones():
    text = README.read_text()
    assert _section(text, "demo") == report.demo_line()
    assert "min with a peak RSS of" in report.demo_line()  # the demo log is committed
    assert _section(text, "notebooks") == report.notebook_map()


def test_short_evidence_gives_both_intervals_or_the_first_clause():
    v = {"evidence": "untestable: star trained on 2 pairs; more", "intervals": [
        {"what": "Δ(score)", "value": 0.005, "ci_problems": [-0.008, 0.017], "n_distinct": 707,
         "ci_seeds": [-0.008, 0.012], "n_seeds": 3},
        {"what": "share equal to base's", "value": 0.656, "ci_problems": [0.62, 0.69], "n_distinct": 707,
         "ci_seeds": None, "n_seeds": 1}]}
    assert report.short_evidence(v) == ("Δ(score) +0.5 [-0.8, 1.7] over 707 problems, [-0.8, 1.2] over 3 seeds; "
                                        "share equal to base's 65.6 [62.0, 69.0] over 707 problems, 1 seed")
    assert report.short_evidence({"evidence": "untestable: star trained on 2 pairs; more", "intervals": []}) == \
        "untestable: star trained on 2 pairs"


def test_results_doc_is_generated_and_links_from_docs():
    doc = (ROOT / "docs" / "results.md").read_text()
    assert doc.startswith("# Results\n\nGenerated by `make report`")
    assert "](figures/" not in doc and "](../figures/" in doc


def test_demo_line_reads_time_v_output(tmp_path, monkeypatch):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "demo.log").write_text("\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:30.00\n"
                                                "\tMaximum resident set size (kbytes): 2097152\n")
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    assert report.demo_line().startswith("On 2 CPU cores it took 62.5 min with a peak RSS of 2.0 GiB")
    (tmp_path / "logs" / "demo.log").write_text("nothing")
    assert "not measured yet" in report.demo_line()


def test_held_out_curves_get_a_figure_and_a_line_per_method_once_they_exist(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "FIGURES", tmp_path / "figures")
    prof = get_profile("repro")
    root = tmp_path / "repro"
    assert report.curve_section(root, prof) == []
    for seed, late in ((0, 0.02), (1, 0.04)):
        folder = root / "score-curve" / f"seed{seed}"
        folder.mkdir(parents=True)
        points = {str(s): {"delta": d, "n": 756} for s, d in ((24, 0.0), (48, 0.01), (96, late))}
        (folder / "metrics.json").write_text(json.dumps({"kind": "curve", "label": "score (held-out curve)",
                                                         "profile": {**prof.to_dict(), "seed": seed},
                                                         "steps": [24, 48, 96], "points": points}))
    text = "\n".join(report.curve_section(root, prof))
    assert "- score (2 seeds): held-out Δ by step, mean over seeds: 24: +0.0, 48: +1.0, 96: +3.0 points." in text
    assert (tmp_path / "figures" / "repro_heldout_curves.png").exists()


def test_repro_scaling_runs_get_a_table_and_a_figure_at_every_budget(tmp_path, monkeypatch):
    from scoreutils.runs.pipeline import scaling_curve

    monkeypatch.setattr(report, "FIGURES", tmp_path / "figures")
    prof = get_profile("repro")
    root = tmp_path / "repro"
    assert report.repro_scaling_section(root, prof) == []
    # 4 problems, 8 samples: attempt 1 right on 3 of 8 samples, attempt 2 on 6 of 8
    records = [{"key": f"p{i}", "reference": "1", "answers1": ["1"] * 3 + ["2"] * 5, "answers2": ["1"] * 6 + ["2"] * 2}
               for i in range(4)]
    folder = root / "base-scaling" / "seed0"
    folder.mkdir(parents=True)
    (folder / "metrics.answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "metrics.json").write_text(json.dumps({"label": "base (scaling)", "kind": "scaling", "samples": 8,
                                                     "curve": scaling_curve(records, [2, 4, 8]),
                                                     "profile": prof.to_dict()}))
    text = "\n".join(report.repro_scaling_section(root, prof))
    assert "| base | 1 | 2 | 100.0 | 100.0 | +0.0 |" in text  # 2 votes: the first two samples, both right
    assert "| base | 1 | 8 | 0.0 | 100.0 | +100.0 |" in text  # 8 first attempts: 3 right of 8; 4 second: all right
    assert "4 test problems, 8 two-attempt samples" in text and (tmp_path / "figures" / "repro_scaling.png").exists()
