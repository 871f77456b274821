"""Lesson 07's scale section: facts read from results files, sentences whose words follow the numbers."""
import json

from scoreutils.report.scale import BASE, STAGE1_RUN, STAGE2_RUN, scale_facts, scale_markdown


def _write(root, rel, obj):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))


def _results(root, ci=(0.01, 0.07), seeds_ci=(-0.008, 0.012)):
    _write(root, BASE, {"n": 756, "acc_t1": 0.39, "n_wrong_t1": 463, "p_fix": 2 / 463})
    _write(root, f"{STAGE1_RUN}/config.json", {"profile": {"problems_per_step": 8, "samples_per_problem": 4}})
    _write(root, f"{STAGE1_RUN}/log.jsonl", "".join(json.dumps({"step": s + 1, "i_to_c": 0.0 if s < 8 else 1 / 16}) + "\n"
                                                 for s in range(16)))
    _write(root, f"{STAGE2_RUN}/log.jsonl", "".join(json.dumps({"step": s + 1, "stage": "stage2", "signal/groups": 8,
                                                                 "signal/groups_bonus": s % 2}) + "\n" for s in range(4)))
    _write(root, "recipe_search.json", {"round5": {"experiments": [
        {"first": "s1only-96-scoreT", "second": "s1only-48-scoreT", "delta_difference": sum(ci) / 2, "ci": list(ci),
         "n": 190, "seeds": [0], "seed_ci": None,
         "reads": "above 0" if ci[0] > 0 else "below 0" if ci[1] < 0 else "inconclusive (an interval includes 0)"}]}})
    _write(root, "verdicts.json", [{"profile": "repro", "id": "score_delta_positive", "verdict": "inconclusive",
                                    "intervals": [{"value": 0.002, "ci_problems": [-0.007, 0.017],
                                                   "ci_seeds": list(seeds_ci), "n_seeds": 3, "n_distinct": 707}]}])


def test_the_facts_are_counted_from_the_files(tmp_path):
    _results(tmp_path)
    facts = scale_facts(tmp_path)
    assert facts["stage1"] == {"steps": 16, "episodes_per_step": 32, "events": 16, "first8": 0.0, "last8": 2.0}
    assert facts["stage2"] == {"steps": 4, "groups": 8, "bonus_groups": 0.5, "no_bonus_steps": 2}
    text = scale_markdown(facts)
    assert "fixes 2 of its 463 wrong first answers" in text and "0.0 per step over the first 8" in text
    assert "(more as training went on)" in text and "2 steps had none" in text
    assert "raised Δ by +4.0 points [1.0, 7.0]" in text and "had not converged" in text
    assert "Gemini 1.5 Flash, a model whose size is not published" in text and "135M parameters" not in text
    assert "holds 0 and excludes the paper's +4.4" in text and "3,000 steps of batch 512" in text


def test_the_words_follow_the_numbers(tmp_path):
    _results(tmp_path, ci=(-0.02, 0.03), seeds_ci=(0.01, 0.06))
    text = scale_markdown(scale_facts(tmp_path))
    assert "changed (inconclusive) Δ by" in text and "had not converged" not in text
    assert "excludes 0 and holds the paper's +4.4" in text


def test_missing_files_leave_their_facts_out(tmp_path):
    facts = scale_facts(tmp_path)
    assert set(facts) == {"paper"}
    text = scale_markdown(facts)
    assert "Gemma-2-2B" in text and "Episodes" not in text and "raw material" not in text


def test_two_seeds_of_longer_stage1_give_both_intervals_and_the_reading_follows_them(tmp_path):
    _results(tmp_path)
    search = json.loads((tmp_path / "recipe_search.json").read_text())
    search["round5"]["experiments"][0].update(seeds=[0, 1], n=380, seed_ci=[-0.01, 0.09],
                                              reads="inconclusive (an interval includes 0)")
    (tmp_path / "recipe_search.json").write_text(json.dumps(search))
    text = scale_markdown(scale_facts(tmp_path))
    assert "On 190 validation problems × 2 seeds" in text and "[-1.0, 9.0] over seeds" in text
    assert "changed (inconclusive)" in text and "had not converged" not in text  # the seed interval holds 0


def test_where_stage2_s_reward_goes_reads_turn1_accuracy_beside_delta(tmp_path):
    _results(tmp_path)
    search = json.loads((tmp_path / "recipe_search.json").read_text())
    t1 = {"first": 0.586, "second": 0.411, "difference": 0.175, "ci": [0.137, 0.212]}
    search["round5"]["experiments"] += [
        {"first": "s1-48-s2-48-scoreT", "second": "s1only-96-scoreT", "delta_difference": -0.03, "ci": [-0.046, -0.014],
         "n": 570, "seeds": [0, 1, 2], "seed_ci": [-0.106, 0.047], "reads": "inconclusive (an interval includes 0)",
         "acc_t1": t1},
        {"first": "s1-48-s2-48-anchor", "second": "s1-48-s2-48-scoreT", "delta_difference": 0.011, "ci": [-0.012, 0.033],
         "n": 190, "seeds": [2], "seed_ci": None, "reads": "inconclusive (an interval includes 0)",
         "acc_t1": {"first": 0.416, "second": 0.595, "difference": -0.179, "ci": [-0.244, -0.11]}}]
    (tmp_path / "recipe_search.json").write_text(json.dumps(search))
    text = scale_markdown(scale_facts(tmp_path))
    assert "48 steps of Stage II raised Acc@t1 against 48 more Stage I steps: 58.6% vs 41.1% (+17.5 [13.7, 21.2])" in text
    assert "[-10.6, 4.7] over seeds" in text and "190 validation problems × 3 seeds" in text
    assert "its gain went to the first answer" in text
    assert "Acc@t1 is 41.6% against Eq. 4's 59.5%" in text and "190 validation problems, 1 seed" in text
    search["round5"]["experiments"][1]["acc_t1"] = {**t1, "difference": 0.01, "ci": [-0.02, 0.04]}
    (tmp_path / "recipe_search.json").write_text(json.dumps(search))
    text = scale_markdown(scale_facts(tmp_path))
    assert "did not clearly move Acc@t1" in text and "its gain went" not in text
