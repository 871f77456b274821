"""scoreutils.report.reproduction: the lessons' box of `make reproduce`'s runs, on made-up run folders."""
from __future__ import annotations

import json
from pathlib import Path

from scoreutils.report import reproduction
from scoreutils.config import get_profile
from scoreutils.rollout import Episode
from scoreutils.tasks import Problem
from scoreutils.report.verdicts import CLAIMS

ROOT = Path(__file__).resolve().parent.parent


def _write_run(folder: Path, method: str, seed: int, outcomes, label: str, answers=None, **changes):
    prof = {**get_profile("repro", **changes).to_dict(), "seed": seed}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"method": method, "profile": prof}))
    (folder / "metrics.json").write_text(json.dumps({"n": len(outcomes), "label": label, "split": "test",
                                                     "profile": prof}))
    eps = []
    for i, (r1, r2) in enumerate(outcomes):
        problem = Problem(id=f"arithmetic/test/L6/{i:04d}", prompt=f"What is {i} + 1?", reference=str(i + 1),
                          split="test", source="arithmetic")
        a1, a2 = answers(i, r1, r2) if answers else (i + 1 if r1 else i, i + 1 if r2 else i)
        eps.append(Episode(problem=problem, x1_ids=[1], y1_ids=[2], p_ids=[3], y2_ids=[4], y1=f"\\boxed{{{a1}}}",
                           y2=f"\\boxed{{{a2}}}", truncated1=False, truncated2=False, r1=float(r1), r2=float(r2)))
    (folder / "metrics.episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in eps))


def test_a_lesson_box_pools_seeds_counts_them_and_judges_its_claims(tmp_path):
    for seed in (0, 1):  # base: 100 of 500 broken, none fixed -> Δ -20 per seed; it changes 20% of answers
        _write_run(tmp_path / "base" / f"seed{seed}", "eval", seed, [(1, 0)] * 100 + [(1, 1)] * 200 + [(0, 0)] * 200,
                   "base")
    _write_run(tmp_path / "naive_rl" / "seed0", "naive_rl", 0, [(1, 1)] * 300 + [(0, 0)] * 200, "naive_rl")
    box = reproduction.reproduction_box("04", root=tmp_path)
    rows = {line.split(" | ")[0][2:]: line for line in box.splitlines() if line.startswith("| ") and "---" not in line}
    assert "| 2 | 500 (500) | 60.0 | 40.0 | -20.0 [" in rows["base"] and "| -20.0, -20.0 |" in rows["base"]
    assert "| 1 | 500 (500) | 60.0 | 60.0 | +0.0 [-0.4, 0.4] | – |" in rows["naive_rl"]  # one seed: no seed interval
    assert "base 2 of 3, naive_rl 1 of 5" in box and "not yet run" not in box and "first RL recipe" not in box
    claim = next(c.claim for c in CLAIMS if c.id == "naive_rl_stops_proposing")
    assert f"❔ inconclusive — {claim}." in box and "between-seed variance unknown" in box
    for seed in (1, 2):
        _write_run(tmp_path / "naive_rl" / f"seed{seed}", "naive_rl", seed, [(1, 1)] * 300 + [(0, 0)] * 200, "naive_rl")
    box = reproduction.reproduction_box("04", root=tmp_path)
    assert f"✅ reproduced — {claim}." in box  # different answers: 0% vs the base model's 20%, on both intervals
    assert "SCoRe's target" not in box  # lesson 04 does not judge SCoRe


def test_lesson_07_s_box_says_whether_score_s_target_is_met(tmp_path):
    for seed in (0, 1, 2):  # SCoRe fixes 20 of 500 per seed, naive RL nothing
        _write_run(tmp_path / "score" / f"seed{seed}", "score", seed, [(0, 1)] * 20 + [(1, 1)] * 280 + [(0, 0)] * 200,
                   "score")
        _write_run(tmp_path / "naive_rl" / f"seed{seed}", "naive_rl", seed, [(1, 1)] * 300 + [(0, 0)] * 200, "naive_rl")
    assert "**SCoRe's target is met**" in reproduction.reproduction_box("07", root=tmp_path)
    for seed in (0, 1, 2):
        (tmp_path / "naive_rl" / f"seed{seed}" / "metrics.json").unlink()
    assert "**SCoRe's target is not reached**" in reproduction.reproduction_box("07", root=tmp_path)


def test_a_box_names_what_is_missing_and_says_so_when_nothing_is_there(tmp_path):
    _write_run(tmp_path / "base" / "seed0", "eval", 0, [(1, 1)] * 300 + [(0, 0)] * 200, "base")
    box = reproduction.reproduction_box("05", root=tmp_path)
    assert "not yet run: stage1" in box and "❔ inconclusive" in box
    empty = reproduction.reproduction_box("06", root=tmp_path / "nowhere")
    assert "No run of this lesson's methods (base, stage2, score, score[alpha=0]) is finished" in empty
    assert "| method |" not in empty


def test_the_alpha0_arm_of_make_reproduce_is_named_as_the_lessons_expect(tmp_path):
    _write_run(tmp_path / "score-alpha0" / "seed0", "score", 0, [(0, 1)] * 10 + [(1, 1)] * 490, "score", alpha=0.0)
    box = reproduction.reproduction_box("06", root=tmp_path)
    assert any(line.startswith("| score[alpha=0] | 1 | 500 (500) |") for line in box.splitlines())


def test_every_lesson_arm_is_a_run_of_make_reproduce():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "tools" / "reproduce.py")
    module = sys.modules["reproduce"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    arm = {"score-alpha0": "score[alpha=0]", "self_refine": "Self-Refine"}  # an evaluation's arm is its label
    made = {arm.get(name, name) for name in module.RUNS}
    for lesson, arms in reproduction.LESSON_ARMS.items():
        assert set(arms) <= made, lesson


def test_every_lesson_with_arms_shows_its_reproduction_box_last():
    import nbformat

    for lesson in reproduction.LESSON_ARMS:
        path = next((ROOT / "notebooks").glob(f"{lesson}_*.ipynb"))
        last = nbformat.read(path, as_version=4).cells[-1]
        assert f'display(Markdown(reproduction_box("{lesson}")))' in last.source, path.name


def test_a_lesson_in_the_repro_profile_loads_the_reproductions_runs(tmp_path, monkeypatch):
    from scoreutils import runs

    monkeypatch.setenv("SCORE_RESULTS", str(tmp_path))
    monkeypatch.setattr(runs.store, "run_train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    monkeypatch.setattr(runs.store, "run_eval", lambda *a, **k: (_ for _ in ()).throw(AssertionError("evaluated")))
    _write_run(tmp_path / "repro" / "base" / "seed0", "eval", 0, [(1, 0)] * 300 + [(1, 1)] * 200, "base")
    _write_run(tmp_path / "repro" / "naive_rl" / "seed0", "naive_rl", 0, [(1, 1)] * 5, "naive_rl")
    _write_run(tmp_path / "repro" / "score-alpha0" / "seed0", "score", 0, [(0, 1)] * 5, "score", alpha=0.0)
    prof = get_profile("repro")
    assert runs.load_or_train("naive_rl", prof).metrics["label"] == "naive_rl"
    assert [e.r2 for e in runs.load_or_train("score", prof.replace(alpha=0.0), name="score_alpha0").episodes] == [1.0] * 5
    base = runs.load_or_eval(prof, "demo/base", label="base")
    assert base.name == "demo/base" and len(base.episodes) == 500
    for other in (lambda: runs.load_or_train("score", prof), lambda: runs.load_or_train("naive_rl", prof.replace(seed=1)),
                  lambda: runs.load_or_eval(prof, "demo/base", n=3)):
        try:
            other()
        except AssertionError as e:
            assert str(e) in ("trained", "evaluated")
        else:
            raise AssertionError("a run of another configuration was loaded")


def test_a_lesson_shows_the_reproductions_runs_with_train_false_and_its_own_otherwise(tmp_path):
    for seed, broken in ((0, 10), (1, 30), (2, 20)):
        _write_run(tmp_path / "naive_rl" / f"seed{seed}", "naive_rl", seed,
                   [(1, 0)] * broken + [(1, 1)] * (60 - broken) + [(0, 0)] * 40, "naive_rl")
    _write_run(tmp_path / "base" / "seed0", "eval", 0, [(1, 1)] * 60 + [(0, 0)] * 40, "base")
    own = {"base": "own base run", "naive RL": "own naive run"}
    cpu = get_profile("cpu")
    shown, which = reproduction.lesson_runs({"base": "base", "naive RL": "naive_rl"}, own, cpu, shipped=True, root=tmp_path)
    assert [len(shown["base"]), len(shown["naive RL"])] == [1, 3] and which.startswith("**Shown: the reproduction's runs**")
    assert "naive RL: 3 seeds, 100 problems" in which and "TRAIN = True" in which
    trained, which = reproduction.lesson_runs({"base": "base", "naive RL": "naive_rl"}, own, cpu, shipped=False, root=tmp_path)
    assert trained == {"base": ["own base run"], "naive RL": ["own naive run"]} and "TRAIN = True" in which
    _, which = reproduction.lesson_runs({"base": "base", "x": "stage1"}, {"base": 1, "x": 2}, cpu, shipped=True, root=tmp_path)
    assert "own runs" in which and "results/repro has no run of stage1" in which
    _, which = reproduction.lesson_runs({"base": "base"}, {"base": 1, "t": 2}, cpu, shipped=True, root=tmp_path,
                                        train_arms={"t": "naive_rl"})
    assert "naive_rl on training problems" in which  # a training-problem evaluation missing: the lesson's own  # one arm missing: all the lesson's own, not a mix
    _, which = reproduction.lesson_runs({"base": "base"}, {"base": 1}, get_profile("smoke"), shipped=True, root=tmp_path)
    assert "own runs" in which and "smoke" in which
    # pooled over seeds: the rates of all episodes, an interval at least as wide as the seeds' spread
    m = reproduction.pooled_metrics(shown["naive RL"])
    assert m["n"] == 300 and m["n_seeds"] == 3 and abs(m["delta"] + 0.2) < 1e-9
    from scoreutils.metrics import episode_metrics, seed_interval
    per_seed = seed_interval([-0.1, -0.3, -0.2])
    pooled = episode_metrics([e for r in shown["naive RL"] for e in r.episodes])["delta_ci"]
    assert m["delta_ci"][0] <= min(per_seed[0], pooled[0]) + 1e-12 and m["delta_ci"][1] >= max(per_seed[1], pooled[1]) - 1e-12
    assert m["delta_ci"][0] < pooled[0]  # here the seeds disagree more than the problems do
    assert all(0.0 <= m[f"{k}_ci"][0] for k in ("acc_t1", "delta_i_to_c", "delta_c_to_i"))  # a rate's floor is 0
    assert reproduction.runs_label(shown) == "SmolLM2-135M-Instruct on arithmetic (repro profile)"


def test_the_lessons_show_the_reproductions_runs_in_their_shipped_outputs():
    """The executed lessons (TRAIN = False, `make notebooks`) show the powered runs wherever the reproduction
    has every arm they need (03: also the SFT models on their training problems), and say which runs they show."""
    for name in ("01_base_model_self_correction", "02_sft_collapse", "03_edit_distance", "04_naive_multiturn_rl",
                 "05_stage1", "06_stage2_reward_bonus", "07_score_and_ablations"):
        nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        shown = ["".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"] for o in c.get("outputs", [])]
        assert any(t.startswith("**Shown: the reproduction's runs**") for t in shown), name


def test_a_lesson_box_says_when_it_shows_the_first_rl_recipe(tmp_path):
    from scoreutils.config import EARLIER_RECIPES

    _write_run(tmp_path / "base" / "seed0", "eval", 0, [(1, 1)] * 10, "base")
    _write_run(tmp_path / "naive_rl" / "seed0", "naive_rl", 0, [(1, 1)] * 10, "naive_rl", **EARLIER_RECIPES["repro"][0])
    box = reproduction.reproduction_box("04", root=tmp_path)
    assert ("naive_rl: the runs of the first RL recipe (results/repro_v1: 48 steps, Stage I for 8, off-policy), shown "
            "until `make reproduce` remakes them with the current one (96 steps, Stage I for 48, on-policy).") in box
    assert "| naive_rl | 1 |" in box


def test_a_lesson_shows_one_rl_recipe_while_the_reproduction_is_remade(tmp_path):
    """Until every RL arm of a lesson has runs of the current recipe, it shows the earlier recipe's for all of them;
    README's verdicts (`load_results`) already take the current recipe's run of an arm that has one."""
    from scoreutils.config import EARLIER_RECIPES
    from scoreutils.report.arms import lesson_results, load_results

    first = EARLIER_RECIPES["repro"][0]
    _write_run(tmp_path / "v1" / "base" / "seed0", "eval", 0, [(1, 1)] * 10, "base")
    for seed in (0, 1):
        for arm in ("score", "stage2"):
            _write_run(tmp_path / "v1" / arm / f"seed{seed}", arm, seed, [(1, 1)] * 10, arm, **first)
    _write_run(tmp_path / "now" / "score" / "seed0", "score", 0, [(0, 1)] * 10, "score")
    now = load_results(tmp_path, "repro")
    assert [(r.seed, r.recipe) for r in now["score"]] == [(0, 0)] and now["stage2"][0].recipe == 1
    shown = lesson_results(tmp_path, ["base", "score", "stage2"])
    assert [(r.seed, r.recipe) for r in shown["score"]] == [(0, 1), (1, 1)] and len(shown["base"]) == 1
    assert lesson_results(tmp_path, ["base", "score"]) == now  # its only RL arm has the current recipe's
    box = reproduction.reproduction_box("06", root=tmp_path)
    assert "score 2 of 5" in box and "stage2, score: the runs of the first RL recipe" in box
