"""tools/recipe_search.py: its selection rule on made-up results, and a whole search on the tiny model that
trains and evaluates on the validation split only."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from scoreutils.config import get_profile

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("recipe_search", ROOT / "tools" / "recipe_search.py")
recipe_search = importlib.util.module_from_spec(_spec)
sys.modules["recipe_search"] = recipe_search
_spec.loader.exec_module(recipe_search)


def _row(acc_t1: float, acc_t2: float, n: int = 100) -> dict:
    return {"acc_t1": acc_t1, "acc_t2": acc_t2, "delta": acc_t2 - acc_t1, "n": n}


def test_the_rule_takes_the_best_delta_without_turn1_collapse():
    base = _row(0.40, 0.37)
    rows = {"a": _row(0.40, 0.42), "b": _row(0.20, 0.30), "c": _row(0.36, 0.40)}
    assert recipe_search.choose(base, rows) == "c"  # b has the highest delta but lost 20 points at turn 1
    rows["c"] = _row(0.30, 0.40)  # now below the floor of 0.35
    assert recipe_search.choose(base, rows) == "a"
    assert recipe_search.choose(base, {"b": rows["b"]}) is None


def test_a_tie_within_one_problem_goes_to_the_higher_second_attempt():
    base = _row(0.40, 0.37)
    rows = {"a": _row(0.40, 0.43), "b": _row(0.44, 0.465)}  # deltas 0.03 and 0.025: within 1/100
    assert recipe_search.choose(base, rows) == "b"
    rows["b"] = _row(0.44, 0.455)  # delta 0.015: no longer a tie
    assert recipe_search.choose(base, rows) == "a"


def test_candidates_change_the_repro_profile_and_evaluate_on_validation():
    searched = {"alpha", "normalize_advantages", "stage1_steps", "beta2", "lr", "steps", "score_at_temperature",
                "stage2_reward", "progress_gamma", "stage2_turn1", "stage2_samples_per_problem"}
    assert all(set(c) == searched for c in recipe_search.CANDIDATES.values())  # every searched field, every time
    profile = recipe_search.candidate_profile("a1-norm")
    assert profile == get_profile("repro", alpha=1.0, normalize_advantages=True, stage1_steps=8, beta2=0.1, lr=2e-4,
                                  steps=24, seed=0, n_eval=recipe_search.N_VALIDATION, score_at_temperature=False)
    assert len({json.dumps(c, sort_keys=True) for c in recipe_search.CANDIDATES.values()}) == len(recipe_search.CANDIDATES)


def test_a_search_on_the_tiny_model_uses_validation_problems_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(recipe_search, "CANDIDATES", {"a10": {"level": 6}, "a1": {"level": 6, "alpha": 1.0}})
    monkeypatch.setattr(recipe_search, "N_VALIDATION", 4)
    out = tmp_path / "search"
    assert recipe_search.main(["--profile", "smoke", "--model", "tiny", "--out", str(out)]) == 0
    result = json.loads((tmp_path / "search.json").read_text())
    assert result["pending"] == [] and result["chosen"] in ("a10", "a1")
    assert result["base"]["n"] == 4 and all(row["n"] == 4 for row in result["candidates"].values())
    for name in ("a10", "a1"):
        ids = [json.loads(line)["problem"]["id"] for line in (out / name / "metrics.episodes.jsonl").open()]
        assert ids and all("/validation/" in i for i in ids)
        assert json.loads((out / name / "config.json").read_text())["eval_split"] == "validation"
    assert json.loads((out / "a1" / "config.json").read_text())["profile"]["alpha"] == 1.0
    # finished candidates are loaded, not trained again
    mtime = (out / "a1" / "metrics.json").stat().st_mtime
    assert recipe_search.main(["--profile", "smoke", "--model", "tiny", "--out", str(out)]) == 0
    assert (out / "a1" / "metrics.json").stat().st_mtime == mtime
    assert "chosen: a" in capsys.readouterr().out


def test_a_candidate_differing_only_in_alpha_starts_from_the_others_stage1(tmp_path, monkeypatch):
    monkeypatch.setattr(recipe_search, "CANDIDATES", {"a10": {"level": 6}, "a1": {"level": 6, "alpha": 1.0},
                                                      "n": {"level": 6, "normalize_advantages": True}})
    monkeypatch.setattr(recipe_search, "N_VALIDATION", 4)
    smoke = ["--profile", "smoke", "--model", "tiny"]
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    assert recipe_search.main([*smoke, "--out", str(shared), "--only", "a10", "n"]) == 0
    assert recipe_search.share_stage1("n", shared, "smoke", "tiny") is None  # finished: left alone
    assert recipe_search.main([*smoke, "--out", str(shared), "--only", "a1"]) == 0
    assert json.loads((shared / "a1" / recipe_search.SHARED).read_text()) == {"from": "../a10", "steps": 1}
    assert not (shared / "n" / recipe_search.SHARED).exists()  # normalized advantages change Stage I too
    assert recipe_search.main([*smoke, "--out", str(alone), "--only", "a1"]) == 0
    logs = [[json.loads(line) for line in (root / "a1" / "log.jsonl").open()] for root in (shared, alone)]
    assert [r["step"] for r in logs[0]] == [1, 2]
    for a, b in zip(*logs):  # the shared run is the run made from scratch
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6) and a["stage"] == b["stage"]
    table = json.loads((tmp_path / "shared.json").read_text())
    assert table["candidates"]["a1"]["stage1_from"] == "a10" and table["candidates"]["a10"]["stage1_from"] is None


def test_the_repro_profile_s_first_recipe_was_the_one_the_search_chose():
    """results/recipe_search.json is the evidence for the repro profile's α and advantages (rounds 1-3 chose
    them); its first RL recipe (`config.EARLIER_RECIPES`, the runs of results/repro_v1) was that choice, and the
    current one changes only the fields the fair test's rule decides (`fair_recipe`: steps, Stage I, scoring)."""
    from scoreutils.config import EARLIER_RECIPES

    data = json.loads(recipe_search.TABLE.read_text())
    chosen = recipe_search.CANDIDATES[data["chosen"]]
    first = {**get_profile("repro").to_dict(), **EARLIER_RECIPES["repro"][0]}
    assert {k: first[k] for k in chosen} == chosen
    fair = data["round5"]["fair_recipe"]["fields"]
    assert {k for k in chosen if chosen[k] != fair[k]} == set(EARLIER_RECIPES["repro"][0])


def test_shared_steps_are_the_steps_two_candidates_run_alike():
    base = get_profile("repro", seed=0, steps=24, stage1_steps=8, score_at_temperature=False)
    shared = recipe_search.shared_steps
    assert shared(base.replace(steps=48), base) == 24  # a longer run of the same recipe: all of the shorter
    assert shared(base.replace(alpha=1.0), base) == 8 == shared(base, base.replace(alpha=1.0))  # Stage I only
    assert shared(base.replace(stage1_steps=16), base) == 8
    assert shared(base.replace(stage1_steps=16, steps=48), base.replace(alpha=3.0)) == 8
    assert shared(base.replace(lr=1e-4), base) == 0 and shared(base.replace(normalize_advantages=True), base) == 0
    assert shared(base.replace(score_at_temperature=True), base) == 0  # Stage I is scored otherwise too
    for change in ({"stage2_turn1": "anchor"}, {"stage2_samples_per_problem": 8}, {"stage2_reward": "progress"},
                   {"stage2_reward": "progress", "progress_gamma": 1.0}):  # Stage II's experiments: Stage I shared
        assert shared(base.replace(**change), base) == 8 == shared(base, base.replace(**change)), change
    assert shared(base.replace(samples_per_problem=8), base) == 0  # k in Stage I too
    for name in ("s1-48-s2-48-anchor", "s1-48-s2-48-k8", "s1-48-s2-48-progress"):
        mine = recipe_search.candidate_profile(name, seed=2)
        assert recipe_search.shared_steps(mine, recipe_search.candidate_profile("s1only-96-scoreT", seed=2)) == 48


def test_candidates_run_after_the_test_table_do_not_change_the_reproduction_s_recipe(tmp_path, monkeypatch):
    monkeypatch.setattr(recipe_search, "CANDIDATES", {"a": {"alpha": 1.0}, "late": {"alpha": 3.0}})
    monkeypatch.setattr(recipe_search, "AFTER_TEST", ("late",))
    out = tmp_path / "search"
    (out / "a").mkdir(parents=True)
    (out / "base.json").write_text(json.dumps(_row(0.40, 0.37)))
    (out / "a" / "metrics.json").write_text(json.dumps(_row(0.40, 0.42)))
    table = recipe_search.table(out)
    assert table["chosen"] == "a" and table["pending"] == ["late"] and table["chosen_with_after_test"] is None
    (out / "late").mkdir()
    (out / "late" / "metrics.json").write_text(json.dumps(_row(0.40, 0.50)))  # a better Δ, found after the test
    table = recipe_search.table(out)
    assert table["chosen"] == "a" and table["chosen_with_after_test"] == "late" and table["after_test"] == ["late"]


def _finished(folder: Path, deltas: list[int]) -> None:
    """A finished candidate whose problem i has r2 − r1 = deltas[i] (r1 = 0 where the delta is 1, else 1)."""
    from scoreutils.runs.record import write_episodes
    from scoreutils.rollout import Episode
    from scoreutils.tasks import Problem

    folder.mkdir(parents=True)
    write_episodes(folder / "metrics.episodes.jsonl", [
        Episode(problem=Problem(f"p{i}", f"What is {i} + 1?", str(i + 1), "validation", "arithmetic"),
                x1_ids=[1], y1_ids=[2], p_ids=[3], y2_ids=[4], y1="", y2="", truncated1=False, truncated2=False,
                r1=float(d < 1), r2=float(d >= 0) if d else float(d < 1)) for i, d in enumerate(deltas)])
    (folder / "metrics.json").write_text(json.dumps({"delta": sum(deltas) / len(deltas)}))


def test_fair_test_comparisons_pair_the_same_problems_and_count_seeds(tmp_path):
    _finished(tmp_path / "s1only-96-scoreT", [1] * 8 + [0] * 12)
    _finished(tmp_path / "s1-48-s2-48-scoreT", [0] * 18 + [-1] * 2)
    assert recipe_search.compare_runs(tmp_path, "s1only-48-scoreT", "s1only-96-scoreT", "x") is None  # unfinished
    e = recipe_search.compare_runs(tmp_path, "s1-48-s2-48-scoreT", "s1only-96-scoreT", "(a)")
    assert e["n"] == 20 and e["delta_difference"] == pytest.approx(-0.5) and e["reads"] == "below 0"
    assert e["ci"][0] < -0.5 < e["ci"][1] < 0
    # turn-1 accuracy beside it: r1 = 1 wherever the delta is not 1 (all 20 vs 12 of 20 problems)
    assert e["acc_t1"]["first"] == pytest.approx(1.0) and e["acc_t1"]["second"] == pytest.approx(0.6)
    assert e["acc_t1"]["difference"] == pytest.approx(0.4) and e["acc_t1"]["ci"][0] > 0
    _finished(recipe_search.seed_dir(tmp_path, 1) / "s1only-96-scoreT", [0] * 20)
    assert recipe_search.seed_dir(tmp_path, recipe_search.SEED) == tmp_path
    assert recipe_search.per_seed(tmp_path, "s1only-96-scoreT") == {0: pytest.approx(0.4), 1: 0.0}
    assert recipe_search.candidate_profile("s1only-96-scoreT", seed=1).seed == 1


def test_fair_test_comparisons_pool_the_seeds_both_finished_and_count_their_spread(tmp_path):
    _finished(tmp_path / "s1only-96-scoreT", [1] * 8 + [0] * 12)
    _finished(tmp_path / "s1-48-s2-48-scoreT", [0] * 20)
    one = recipe_search.compare_runs(tmp_path, "s1-48-s2-48-scoreT", "s1only-96-scoreT", "(a)")
    assert one["seeds"] == [0] and one["seed_ci"] is None and one["reads"] == "below 0"
    _finished(recipe_search.seed_dir(tmp_path, 1) / "s1only-96-scoreT", [0] * 20)
    _finished(recipe_search.seed_dir(tmp_path, 1) / "s1-48-s2-48-scoreT", [1] * 6 + [0] * 14)  # seed 1: the other way
    two = recipe_search.compare_runs(tmp_path, "s1-48-s2-48-scoreT", "s1only-96-scoreT", "(a)")
    assert two["seeds"] == [0, 1] and two["n"] == 40
    assert two["per_seed"] == {0: pytest.approx(-0.4), 1: pytest.approx(0.3)}
    assert two["delta_difference"] == pytest.approx(-0.05) and two["seed_ci"][0] < 0 < two["seed_ci"][1]
    assert two["reads"].startswith("inconclusive")
    _finished(recipe_search.seed_dir(tmp_path, 2) / "s1-48-s2-48-scoreT", [0] * 20)  # its partner unfinished
    assert recipe_search.compare_runs(tmp_path, "s1-48-s2-48-scoreT", "s1only-96-scoreT", "(a)")["seeds"] == [0, 1]


def _experiment(first: str, reads: str, seeds=(0, 1, 2), diff: float = 0.02) -> dict:
    return {"first": first, "second": "s1-48-s2-48-scoreT" if first != "s1only-96-scoreT" else "s1only-48-scoreT",
            "what": f"({first})", "reads": reads, "seeds": list(seeds), "decides": len(seeds) >= 3,
            "delta_difference": diff}


def test_the_fair_recipe_changes_a_field_only_on_a_comparison_that_decides():
    start = recipe_search.CANDIDATES["s1-48-s2-48-scoreT"]
    assert recipe_search.fair_recipe([])["fields"] == start
    nulls = [_experiment("s1only-96-scoreT", "inconclusive"), _experiment("s1-48-s2-48-anchor", "above 0", (0, 1)),
             _experiment("s1-48-s2-48-progress", "below 0")]
    assert recipe_search.fair_recipe(nulls)["fields"] == start  # two seeds above 0 decide nothing
    longer = recipe_search.fair_recipe([_experiment("s1only-96-scoreT", "above 0")])["fields"]
    assert (longer["stage1_steps"], longer["steps"]) == (96, 144) and longer["stage2_turn1"] == "reward"
    both = recipe_search.fair_recipe([_experiment("s1-48-s2-48-anchor", "above 0", diff=0.01),
                                      _experiment("s1-48-s2-48-progress", "above 0", diff=0.03)])
    assert both["fields"]["stage2_reward"] == "progress" and both["fields"]["stage2_turn1"] == "reward"
    assert both["fields"]["stage1_steps"] == 48 and len(both["because"]) == 2


def test_the_repro_profile_runs_the_fair_recipe_of_the_committed_comparisons():
    """The committed comparisons, read by the rule, give the recipe `make reproduce` trains with."""
    committed = json.loads(recipe_search.TABLE.read_text())["round5"]
    recipe = recipe_search.fair_recipe(committed["experiments"])
    assert committed["fair_recipe"] == json.loads(json.dumps(recipe))
    repro = get_profile("repro")
    assert {f: getattr(repro, f) for f in recipe["fields"]} == recipe["fields"]
