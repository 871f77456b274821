"""Tests for tools/rejudge.py: an evaluation's metrics recomputed from its own episodes, other keys kept."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from scoreutils.rollout import Episode
from scoreutils.tasks import Problem

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("rejudge", ROOT / "tools" / "rejudge.py")
rejudge = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rejudge)


def test_rejudge_adds_the_outcome_split_and_keeps_provenance(tmp_path):
    p = Problem("p", "What is 2 + 3?", "5", "test", "arithmetic")
    eps = [Episode(p, [1], [2], [3], [4], "The final answer is 5.", "I'm sorry for the confusion.", False, False, 1.0, 0.0),
           Episode(Problem("q", "What is 1 + 1?", "2", "test", "arithmetic"), [1], [2], [3], [4], "2", "2", False,
                   False, 1.0, 1.0)]
    path = tmp_path / "run" / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"acc_t1": 1.0, "delta_ci": [0.0, 0.0], "no_answer_t1_ci": [0, 1], "sft_pairs": 7,
                                "label": "base"}))
    path.with_suffix(".episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in eps))
    (tmp_path / "config.json").write_text(json.dumps({"no": "metrics"}))
    assert rejudge.main(["--root", str(tmp_path), "--check"]) == 1
    assert rejudge.main(["--root", str(tmp_path)]) == 0
    m = json.loads(path.read_text())
    assert m["right_to_none"] == 0.5 and m["right_to_wrong"] == 0.0 and m["gave_up_t2"] == 0.5
    assert m["n_distinct"] == 2 and m["delta_ci"][0] < -0.5 < m["delta_ci"][1]
    assert m["sft_pairs"] == 7 and m["label"] == "base" and "no_answer_t1_ci" not in m  # a stale interval goes
    assert rejudge.main(["--root", str(tmp_path), "--check"]) == 0  # nothing left to change
