"""Checkers for the notebooks' "your turn" exercises: two or three per lesson, in tiers.

- warm-up: a small function the lesson's first cells make easy;
- core: an equation of the paper (the transitions and Δ's interval, the edit-distance ratio, the RLOO
  baseline, the k1 KL estimate, the Stage I and Stage II losses, the compute-matched vote);
- experiment: a short run the student writes (minutes at smoke or cpu size), checked for its shape and
  for every value that can be checked without knowing the student's model.

`EXERCISES` lists them per lesson. Each has one checker, `check_<name>(student_fn) -> bool`, importable as
`from scoreutils.exercises import check_<name>`. It runs the student's function on hand-picked and seeded
random cases, compares it with the kit's own implementation (losses: by their gradients) while refusing a
function that calls that implementation, names the common mistake a wrong answer matches, prints one line
(`✓ <name>: ...`, or `✗ <name>: ...` with the first failing input, the expected value and the one
returned) and returns True or False. A checker never raises: an unfinished exercise
(`raise NotImplementedError`), a crash or a result of the wrong shape is reported on that line.

Each lesson also ends with a self-check (`self_check`, `SELF_CHECKS`): three to five questions on its
concepts, checked at once.

Reference solutions are in `solutions/exercises.py` at the repository root (for instructors, and absent
from a copy handed to students); they are not in the notebooks.
"""
from __future__ import annotations

from .data import (check_binary_reward, check_edit_distance_ratio, check_extract_code, check_levenshtein,
                   check_pair_sft_pairs, check_star_pairs)
from .evaluation import (check_accuracy_delta, check_delta_interval, check_final_answer, check_majority_vote,
                         check_transitions, check_voted_accuracy)
from .experiments import check_alpha_sweep, check_baseline_variance, check_own_instruction, check_sampled_vs_greedy
from .objectives import (check_bonus, check_kl_gradients, check_kl_k1, check_returns, check_rloo,
                         check_stage1_loss, check_stage2_loss)
from .selfcheck import SELF_CHECKS, self_check, self_check_questions

TIERS = ("warm-up", "core", "experiment")

EXERCISES: dict[str, list[tuple[str, str]]] = {
    "00": [("warm-up", "accuracy_delta"), ("core", "final_answer"), ("experiment", "sampled_vs_greedy")],
    "01": [("warm-up", "transitions"), ("core", "delta_interval"), ("experiment", "own_instruction")],
    "02": [("warm-up", "star_pairs"), ("core", "pair_sft_pairs")],
    "03": [("warm-up", "levenshtein"), ("core", "edit_distance_ratio")],
    "04": [("warm-up", "returns"), ("core", "rloo"), ("experiment", "baseline_variance")],
    "05": [("core", "kl_k1"), ("core", "stage1_loss"), ("experiment", "kl_gradients")],
    "06": [("warm-up", "bonus"), ("core", "stage2_loss"), ("experiment", "alpha_sweep")],
    "07": [("warm-up", "majority_vote"), ("core", "voted_accuracy")],
    "08": [("warm-up", "binary_reward"), ("core", "extract_code")],
}
"""Lesson number -> (tier, exercise name) in the order the notebook asks them; `check_<name>` checks each."""

__all__ = ["EXERCISES", "SELF_CHECKS", "TIERS", "self_check", "self_check_questions", *sorted(f"check_{name}" for items in EXERCISES.values() for _, name in items)]
