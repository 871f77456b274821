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
