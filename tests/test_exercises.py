"""Exercise checkers: every lesson has two or three tiered exercises that its notebook asks; each checker
reports (never raises) an unfinished stub, a crash, a wrong type and plausible bugs, and accepts the reference
solutions in solutions/exercises.py; their private references agree with the kit.

A copy of the kit handed to students may lack solutions/: only the tests that run the reference solutions
are then skipped (with that reason); every other test runs."""
import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import torch
from rapidfuzz.distance import Indel, Levenshtein

from scoreutils.rewards import answers
from scoreutils import exercises, losses, metrics
from scoreutils.train import sft
from scoreutils.exercises import EXERCISES, TIERS
from scoreutils.exercises import data as ex_data, evaluation as ex_eval, objectives as ex_obj
from scoreutils.metrics import majority_vote

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_PATH = ROOT / "solutions" / "exercises.py"
if SOLUTIONS_PATH.exists():
    _spec = importlib.util.spec_from_file_location("solutions_exercises", SOLUTIONS_PATH)
    solutions = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(solutions)
else:
    solutions = None
needs_solutions = pytest.mark.skipif(
    solutions is None, reason="solutions/exercises.py is absent: this copy of the kit was handed out without the "
                              "reference solutions, so there is nothing to check the checkers against")

ALL = [name for items in EXERCISES.values() for _, name in items]
MODEL_EXPERIMENTS = ["sampled_vs_greedy", "own_instruction", "alpha_sweep"]  # need a model: run on the tiny one
EXPERIMENTS = MODEL_EXPERIMENTS + ["baseline_variance"]  # a zero-argument function, run once, shape checked
FUNCTIONS = [n for n in ALL if n not in EXPERIMENTS]  # checked on cases against the kit


def checker(name):
    return getattr(exercises, f"check_{name}")


def one_line(capsys) -> str:
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n"), out
    return out[:-1]


def stub(*args, **kwargs):
    raise NotImplementedError


# --- the lessons' exercises -----------------------------------------------------------------------------

def test_every_lesson_has_two_or_three_tiered_exercises():
    assert sorted(EXERCISES) == [f"{i:02d}" for i in range(9)]
    for lesson, items in EXERCISES.items():
        assert 2 <= len(items) <= 3, lesson
        assert all(tier in TIERS for tier, _ in items), lesson
        assert [TIERS.index(t) for t, _ in items] == sorted(TIERS.index(t) for t, _ in items), lesson  # easy first
    for lesson in ("04", "05", "06", "07"):
        assert any(tier == "core" for tier, _ in EXERCISES[lesson]), lesson
    assert sum(tier == "experiment" for items in EXERCISES.values() for tier, _ in items) >= 2
    assert len(set(ALL)) == len(ALL)
    assert sorted(exercises.__all__) == sorted(["EXERCISES", "SELF_CHECKS", "TIERS", "self_check", "self_check_questions",
                                                *(f"check_{n}" for n in ALL)])


@pytest.mark.parametrize("lesson", sorted(EXERCISES))
def test_each_notebook_asks_its_exercises_as_stubs(lesson):
    path = next((ROOT / "notebooks").glob(f"{lesson}_*.ipynb"))
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    for tier, name in EXERCISES[lesson]:
        calls = [src for src in cells if re.search(rf"\bcheck_{name}\(", src)]
        assert len(calls) == 1, f"{path.name} should call check_{name} in one cell"
        assert "raise NotImplementedError" in calls[0], f"{path.name}: the {name} cell should be a stub"
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    for tier in {t for t, _ in EXERCISES[lesson]}:
        assert tier in text.lower(), f"{path.name} does not name the tier {tier!r}"


# --- plausible wrong implementations, each caught by its checker (built on the kit, not on solutions/) ---

def accuracy_delta_reversed(r1, r2):
    acc1, acc2, _ = ex_eval._accuracy_delta(r1, r2)
    return acc1, acc2, acc1 - acc2


def accuracy_as_counts(r1, r2):
    return sum(r1), sum(r2), sum(r2) - sum(r1)


def answer_cuts_decimals_and_signs(text):
    numbers = re.findall(r"\d+", text)
    return numbers[-1] if numbers else None


def answer_first_number(text):
    numbers = re.findall(r"-?\d+(?:\.\d+)?(?:/\d+)?", text)
    return numbers[0] if numbers else None


def transitions_swapped(r1, r2):
    return tuple(reversed(ex_eval._transitions(r1, r2)))


def interval_unpaired(r1, r2):
    n = len(r1)
    p1, p2 = sum(r1) / n, sum(r2) / n
    half = 1.96 * ((p1 * (1 - p1) + p2 * (1 - p2)) / n) ** 0.5
    return max(-1.0, p2 - p1 - half), min(1.0, p2 - p1 + half)


def interval_population_sd(r1, r2):
    d = [b - a for a, b in zip(r1, r2)]
    n, mean = len(d), sum(d) / len(d)
    half = 1.96 * (sum((x - mean) ** 2 for x in d) / n) ** 0.5 / n ** 0.5
    return max(-1.0, mean - half), min(1.0, mean + half)


def interval_not_clipped(r1, r2):
    d = [b - a for a, b in zip(r1, r2)]
    n, mean = len(d), sum(d) / len(d)
    half = 1.96 * (sum((x - mean) ** 2 for x in d) / (n - 1)) ** 0.5 / n ** 0.5 if n > 1 else 0.0
    return mean - half, mean + half


def star_pairs_without_plus(r1, r2):
    return [("y1", "y2")] if r1 == 0 and r2 == 1 else []


def star_pairs_reversed(r1, r2):
    return [(b, a) for a, b in ex_data._star_pairs(r1, r2)]


def pairs_with_first_correct(responses, plus, rng):
    correct = [t for t, r in responses if r == 1]
    return [(t, correct[0]) for t, r in responses if correct and (r == 0 or plus)]


def pairs_with_any_response(responses, plus, rng):
    texts = [t for t, _ in responses]
    return [(t, rng.choice(texts)) for t, r in responses if r == 0 or plus] if any(r for _, r in responses) else []


def pairs_without_plus(responses, plus, rng):
    correct = [t for t, r in responses if r == 1]
    return [(t, rng.choice(correct)) for t, r in responses if correct and r == 0]


def pairs_always_plus(responses, plus, rng):
    correct = [t for t, r in responses if r == 1]
    return [(t, rng.choice(correct)) for t, r in responses if correct]


def levenshtein_substitution_costs_two(a, b):
    return Indel.distance(a, b)


def edit_ratio_over_max_length(y1, y2):
    return Levenshtein.distance(y1, y2) / max(len(y1), len(y2), 1)


def returns_discount_backwards(r1, r2, gamma):
    return r1, r2 + gamma * r1


def returns_without_discount(r1, r2, gamma):
    return r1, r2


def rloo_including_itself(returns, k):
    groups = returns.view(-1, k)
    return (groups - groups.mean(dim=1, keepdim=True)).reshape(-1)


def kl_mean_over_tokens(logp, ref_logp, mask):
    return ((logp - ref_logp) * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def kl_reversed(logp, ref_logp, mask):
    return ((ref_logp - logp) * mask).sum(-1)


def kl_unmasked(logp, ref_logp, mask):
    return (logp - ref_logp).sum(-1)


def _exact(logits, ref_logp):
    return ex_obj._kl_gradients(logits, ref_logp)


def kl_grads_k1_differentiated_directly(logits, ref_logp):
    g = _exact(logits, ref_logp)
    return {"exact": g["forward"], "k1": torch.zeros_like(g["forward"]), "k3": g["reverse"]}


def kl_grads_k3_is_forward(logits, ref_logp):
    g = _exact(logits, ref_logp)
    return {"exact": g["forward"], "k1": g["forward"], "k3": g["forward"]}


def kl_grads_exact_is_reverse(logits, ref_logp):
    g = _exact(logits, ref_logp)
    return {"exact": g["reverse"], "k1": g["forward"], "k3": g["reverse"]}


# The losses written out here (the checkers refuse functions calling the kit's own `losses`).
def _loo(x, k):
    g = x.view(-1, k)
    return (g - (g.sum(1, keepdim=True) - g) / (k - 1)).reshape(-1)


def _pg(seq, r, k):
    return -(_loo(r, k).detach() * seq).mean()


def _kl(seq, kl, k):
    return (_loo(kl, k).detach() * seq).mean()


def _stage1(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return _pg(seq2, r2, k) + beta2 * _kl(seq1, kl1, k) + beta1 * _kl(seq2, kl2, k)


def _stage2(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha):
    return _pg(seq1, r1, k) + _pg(seq2, r2 + alpha * (r2 - r1), k) + beta1 * (_kl(seq1, kl1, k) + _kl(seq2, kl2, k))


def stage1_rewarding_attempt1(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return _stage1(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2) + _pg(seq1, r1, k)


def stage1_betas_swapped(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return _stage1(seq1, seq2, kl1, kl2, r1, r2, k, beta2, beta1)


def stage1_detached(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return _stage1(seq1.detach(), seq2.detach(), kl1, kl2, r1, r2, k, beta1, beta2)


def stage1_kl_detached(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return _pg(seq2, r2, k) + beta2 * kl1.mean() + beta1 * kl2.mean()


def stage1_times_four(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return 4 * _stage1(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2)


def stage1_sign_flipped(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return -_stage1(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2)


def stage1_baseline_with_itself(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    def mean_baseline(x):
        g = x.view(-1, k)
        return (g - g.mean(1, keepdim=True)).reshape(-1)
    return (-(mean_baseline(r2) * seq2).mean() + beta2 * (mean_baseline(kl1) * seq1).mean()
            + beta1 * (mean_baseline(kl2) * seq2).mean())


def bonus_sign_flipped(r1, r2, alpha):
    return r2 + alpha * (r1 - r2)


def bonus_alone(r1, r2, alpha):
    return alpha * (r2 - r1)


def stage2_shaping_both_attempts(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha):
    bonus = alpha * (r2 - r1)
    return _pg(seq1, r1 + bonus, k) + _pg(seq2, r2 + bonus, k) + beta1 * (_kl(seq1, kl1, k) + _kl(seq2, kl2, k))


def stage2_without_attempt1_reward(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha):
    return _stage2(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha) - _pg(seq1, r1, k)


def stage2_bonus_flipped(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha):
    return _stage2(seq1, seq2, kl1, kl2, r1, r2, k, beta1, -alpha)


def stage2_kl_on_attempt2_only(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha):
    return _stage2(seq1, seq2, kl1, kl2, r1, r2, k, beta1, alpha) - beta1 * _kl(seq1, kl1, k)


def vote_counting_none(answers):
    return Counter(answers).most_common(1)[0][0] if answers else None


def vote_ties_to_last(answers):
    counts = Counter(a for a in answers if a is not None)
    return max(reversed(list(counts)), key=counts.__getitem__) if counts else None


def voted_sequential_full_budget(samples, references, budget, sequential):
    return ex_eval._voted_accuracy(samples, references, 2 * budget if sequential else budget, sequential)


def voted_sequential_on_first_answers(samples, references, budget, sequential):
    return ex_eval._voted_accuracy([[(a, a) for a, _ in s] for s in samples], references, budget, sequential)


def reward_fraction_passed(outcomes):
    return sum(outcomes) / len(outcomes) if outcomes else 0.0


def reward_all_of_nothing(outcomes):
    return float(all(outcomes))


def code_first_block(completion):
    blocks = re.findall(r"```python\n(.*?)(?:```|$)", completion, re.DOTALL)
    return blocks[0] if blocks else completion


def code_last_block_of_any_language(completion):
    blocks = re.findall(r"```[^\n]*\n(.*?)(?:```|$)", completion, re.DOTALL)
    return blocks[-1] if blocks else completion


WRONG = [
    ("accuracy_delta", accuracy_delta_reversed), ("accuracy_delta", accuracy_as_counts),
    ("final_answer", answer_cuts_decimals_and_signs), ("final_answer", answer_first_number),
    ("transitions", transitions_swapped),
    ("delta_interval", interval_unpaired), ("delta_interval", interval_population_sd),
    ("delta_interval", interval_not_clipped),
    ("star_pairs", star_pairs_without_plus), ("star_pairs", star_pairs_reversed),
    ("pair_sft_pairs", pairs_with_first_correct), ("pair_sft_pairs", pairs_with_any_response),
    ("pair_sft_pairs", pairs_without_plus), ("pair_sft_pairs", pairs_always_plus),
    ("levenshtein", levenshtein_substitution_costs_two),
    ("edit_distance_ratio", edit_ratio_over_max_length),
    ("returns", returns_discount_backwards), ("returns", returns_without_discount),
    ("rloo", rloo_including_itself),
    ("kl_k1", kl_mean_over_tokens), ("kl_k1", kl_reversed), ("kl_k1", kl_unmasked),
    ("kl_gradients", kl_grads_k1_differentiated_directly), ("kl_gradients", kl_grads_k3_is_forward),
    ("kl_gradients", kl_grads_exact_is_reverse),
    ("stage1_loss", stage1_rewarding_attempt1), ("stage1_loss", stage1_betas_swapped),
    ("stage1_loss", stage1_kl_detached), ("stage1_loss", stage1_times_four), ("stage1_loss", stage1_sign_flipped),
    ("stage1_loss", stage1_baseline_with_itself),
    ("bonus", bonus_sign_flipped), ("bonus", bonus_alone),
    ("stage2_loss", stage2_shaping_both_attempts), ("stage2_loss", stage2_without_attempt1_reward),
    ("stage2_loss", stage2_bonus_flipped), ("stage2_loss", stage2_kl_on_attempt2_only),
    ("majority_vote", vote_counting_none), ("majority_vote", vote_ties_to_last),
    ("voted_accuracy", voted_sequential_full_budget), ("voted_accuracy", voted_sequential_on_first_answers),
    ("binary_reward", reward_fraction_passed), ("binary_reward", reward_all_of_nothing),
    ("extract_code", code_first_block), ("extract_code", code_last_block_of_any_language),
]
PROPERTY_CHECKED = {"pair_sft_pairs"}  # no single expected value: the line says which property fails


def test_every_function_exercise_has_plausible_bugs():
    assert {name for name, _ in WRONG} == set(FUNCTIONS)


@needs_solutions
@pytest.mark.parametrize("name", FUNCTIONS)
def test_solution_passes(name, capsys):
    assert checker(name)(getattr(solutions, name)) is True
    assert re.fullmatch(rf"✓ {name}: passed \d+ cases", one_line(capsys))


@pytest.mark.parametrize("name", ALL)
def test_stub_is_reported_not_raised(name, capsys):
    assert checker(name)(stub) is False
    assert one_line(capsys) == f"✗ {name}: not implemented yet (replace the raise with your code)"


@pytest.mark.parametrize("name", ALL)
def test_crash_is_reported_with_its_input(name, capsys):
    def crash(*args):
        raise ValueError("boom\nsecond line")

    assert checker(name)(crash) is False
    where = "(raised while running your experiment)" if name in EXPERIMENTS else "on "
    assert one_line(capsys).startswith(f"✗ {name}: ValueError: boom second line {where}")


@pytest.mark.parametrize("name", ALL)
def test_wrong_return_type_fails_without_raising(name, capsys):
    assert checker(name)(lambda *args: object()) is False
    assert one_line(capsys).startswith(f"✗ {name}: ")


@pytest.mark.parametrize("name, wrong", WRONG, ids=[w.__name__ for _, w in WRONG])
def test_plausible_bug_fails(name, wrong, capsys):
    assert checker(name)(wrong) is False
    line = one_line(capsys)
    assert line.startswith(f"✗ {name}: ")
    assert name in PROPERTY_CHECKED or "expected" in line


def test_failure_line_shows_input_expected_and_got(capsys):
    exercises.check_bonus(bonus_sign_flipped)
    assert one_line(capsys) == "✗ bonus: bonus(0.0, 1.0, 10.0) -> expected 11.0, got -9.0"
    exercises.check_transitions(transitions_swapped)
    assert one_line(capsys).startswith("✗ transitions: transitions([0.0, 0.0, 1.0], [1.0, 0.0, 1.0]) -> "
                                       "expected (0.3333333333333333, 0.0), got (0.0, 0.3333333333333333)")


def test_loss_checkers_name_the_attempt_whose_gradient_differs(capsys):
    exercises.check_stage1_loss(stage1_rewarding_attempt1)
    line = one_line(capsys)
    assert "gradient w.r.t. seq1 (attempt 1's log-prob) differs" in line and "attempt 1 is rewarded too" in line
    exercises.check_stage2_loss(stage2_shaping_both_attempts)
    line = one_line(capsys)
    assert "gradient w.r.t. seq1" in line and "keeps its own reward r1" in line
    exercises.check_stage2_loss(stage2_bonus_flipped)
    assert "gradient w.r.t. seq2 (attempt 2's log-prob) differs" in one_line(capsys)


# Each common mistake gets its own hint: (checker, wrong function, words of the hint it must get).
HINTS = [
    ("stage1_loss", stage1_rewarding_attempt1, "attempt 1 is rewarded too"),
    ("stage1_loss", stage1_betas_swapped, "beta1 and beta2 are swapped"),
    ("stage1_loss", stage1_kl_detached, "KL terms carry no gradient"),
    ("stage1_loss", stage1_times_four, "4 times the expected"),
    ("stage1_loss", stage1_sign_flipped, "sign is flipped"),
    ("stage1_loss", stage1_baseline_with_itself, "includes the sample itself"),
    ("stage2_loss", stage2_shaping_both_attempts, "attempt 1's reward is shaped too"),
    ("stage2_loss", stage2_without_attempt1_reward, "attempt 1 gets no reward"),
    ("stage2_loss", stage2_bonus_flipped, "bonus has the wrong sign"),
    ("stage2_loss", stage2_kl_on_attempt2_only, "attempt 1's KL is missing"),
    ("rloo", rloo_including_itself, "includes the sample itself"),
    ("rloo", lambda r, k: r.clone(), "no baseline"),
    ("rloo", lambda r, k: -ex_obj._loo(r, k), "sign is flipped"),
    ("rloo", lambda r, k: ex_obj._loo(r, k, divide_by=k), "divided by k"),
    ("kl_k1", kl_mean_over_tokens, "a mean over the tokens"),
    ("kl_k1", kl_reversed, "sign is reversed"),
    ("kl_k1", kl_unmasked, "mask is ignored"),
    ("delta_interval", interval_unpaired, "unpaired interval"),
    ("delta_interval", interval_population_sd, "population standard deviation"),
    ("delta_interval", interval_not_clipped, "not clipped"),
    ("edit_distance_ratio", edit_ratio_over_max_length, "the longer attempt's length"),
    ("voted_accuracy", voted_sequential_full_budget, "B // 2"),
    ("voted_accuracy", voted_sequential_on_first_answers, "over first answers"),
    ("final_answer", answer_first_number, "the first number"),
    ("final_answer", answer_cuts_decimals_and_signs, "digits only"),
    ("extract_code", code_first_block, "FIRST ```python block"),
]


@pytest.mark.parametrize("name, wrong, words", HINTS, ids=[f"{n}-{w}" for n, _, w in HINTS])
def test_each_common_mistake_gets_its_own_hint(name, wrong, words, capsys):
    assert checker(name)(wrong) is False
    line = one_line(capsys)
    assert words in line, line


CORE = [name for items in exercises.EXERCISES.values() for tier, name in items if tier == "core"]
DELEGATIONS = {
    "final_answer": lambda text: answers.extract_answer(text),
    "delta_interval": lambda r1, r2: metrics.paired_interval([b - a for a, b in zip(r1, r2)]),
    "pair_sft_pairs": None,  # below: through the kit's Pair-SFT builder
    "edit_distance_ratio": lambda a, b: metrics.edit_distance_ratio(a, b),
    "rloo": lambda r, k: losses.rloo_advantages(r, k),
    "kl_k1": lambda lp, ref, m: losses.kl_per_attempt(lp, ref, m),
    "stage1_loss": ex_obj._stage1_reference,
    "stage2_loss": ex_obj._stage2_reference,
    "voted_accuracy": lambda s, refs, b, seq: metrics.voted_accuracy(s, refs, b),
    "extract_code": lambda c: exercises.data.sandbox.extract_code(c),
}


def _call_kit_sft(responses, plus, rng):
    sft.pair_sft_dataset(None, [], plus)  # the kit's Pair-SFT builder, on no traces
    correct = [t for t, r in responses if r == 1]
    return [(t, rng.choice(correct)) for t, r in responses if correct and (r == 0 or plus)]


DELEGATIONS["pair_sft_pairs"] = _call_kit_sft


def test_every_core_exercise_is_guarded_against_delegation():
    assert set(CORE) == set(DELEGATIONS)


@pytest.mark.parametrize("name", CORE)
def test_calling_the_kit_own_implementation_fails_and_says_why(name, capsys):
    assert checker(name)(DELEGATIONS[name]) is False
    line = one_line(capsys)
    assert "calls the kit's own scoreutils." in line and "write the computation yourself" in line, line


def test_an_alias_of_the_kit_function_is_seen_too(capsys):
    from scoreutils.losses import rloo_advantages as mine
    assert exercises.check_rloo(mine) is False
    assert "scoreutils.losses.rloo_advantages" in one_line(capsys)


def test_loss_checkers_accept_loss_parts_and_report_a_detached_loss(capsys):
    class Parts:
        def __init__(self, loss):
            self.loss = loss

    assert exercises.check_stage1_loss(lambda *a: Parts(_stage1(*a))) is True
    assert exercises.check_stage2_loss(_stage2) is True
    capsys.readouterr()
    exercises.check_stage1_loss(stage1_detached)
    assert "carries the gradient" in one_line(capsys)


def test_kl_gradients_explains_the_k1_pitfall(capsys):
    exercises.check_kl_gradients(kl_grads_k1_differentiated_directly)
    line = one_line(capsys)
    assert line.startswith("✗ kl_gradients: 'k1'") and "forward KL" in line and "= 0" in line
    exercises.check_kl_gradients(kl_grads_k3_is_forward)
    assert "'k3'" in (line := one_line(capsys)) and "reverse KL" in line


def test_pair_sft_checker_wants_a_random_choice(capsys):
    exercises.check_pair_sft_pairs(pairs_with_first_correct)
    assert "choose it at random with rng" in one_line(capsys)


def test_long_inputs_are_truncated(capsys):
    exercises.check_edit_distance_ratio(lambda y1, y2: -1.0)
    assert len(one_line(capsys)) < 200
    exercises.check_rloo(lambda returns, k: torch.zeros(returns.shape[0] + 1))
    assert len(one_line(capsys)) < 250


def test_student_cannot_corrupt_the_reference_by_mutating_inputs():
    def rloo_in_place(returns, k):
        result = ex_obj._loo(returns.clone(), k)
        returns.zero_()
        return result

    assert exercises.check_rloo(rloo_in_place) is True


# --- experiments: run once, their result's shape checked ------------------------------------------------

SUMMARY = {"n": 8, "acc_t1": 0.25, "acc_t2": 0.125, "changed_answer_rate": 0.5}
SWEEP_ROW = {"n": 8, "changed_answer_rate": 0.1, "delta_i_to_c": 0.0, "delta_c_to_i": 0.125}
INSTRUCTION = {"instruction": "Check each step.", "n": 8, "acc_t1": 0.25, "acc_t2": 0.375, "delta_i_to_c": 0.25,
               "delta_c_to_i": 0.125}
GOOD = {
    "sampled_vs_greedy": {"greedy": SUMMARY, "sampled": {**SUMMARY, "n": 32}},
    "own_instruction": INSTRUCTION,
    "baseline_variance": {"p": 0.2, "k": 4, "groups": 20000, "exact": 0.16,
                          "no_baseline": {"mean": 0.161, "variance": 0.1027},
                          "rloo": {"mean": 0.16, "variance": torch.tensor(0.066)}},
    "alpha_sweep": {0.0: SWEEP_ROW, 1.0: SWEEP_ROW, 10: {**SWEEP_ROW, "n": torch.tensor(8)}},
}
BAD = [
    ("sampled_vs_greedy", {"greedy": SUMMARY}, "lacks 'sampled'"),
    ("sampled_vs_greedy", {"greedy": SUMMARY, "sampled": {**SUMMARY, "acc_t1": 25.0}}, "fractions, not %"),
    ("sampled_vs_greedy", {"greedy": SUMMARY, "sampled": {**SUMMARY, "n": 0}}, "whole number"),
    ("sampled_vs_greedy", {"greedy": {k: v for k, v in SUMMARY.items() if k != "n"}, "sampled": SUMMARY}, "lacks 'n'"),
    ("own_instruction", {**INSTRUCTION, "instruction": ""}, "instruction you tried"),
    ("own_instruction", {**INSTRUCTION, "delta_c_to_i": 0.0}, "Δi→c - Δc→i"),
    ("own_instruction", {**INSTRUCTION, "acc_t2": float("nan")}, "should be a number"),
    ("baseline_variance", {**GOOD["baseline_variance"], "rloo": {"mean": 0.1, "variance": -1.0}}, "outside"),
    ("baseline_variance", {k: v for k, v in GOOD["baseline_variance"].items() if k != "exact"}, "exact"),
    # values: p(1 - p) is fixed; each estimator's mean and variance are known exactly (within sampling error)
    ("baseline_variance", {**GOOD["baseline_variance"], "exact": 0.5}, "p (1 - p) = 0.16"),
    ("baseline_variance", {k: v for k, v in GOOD["baseline_variance"].items() if k != "groups"}, "'groups'"),
    ("baseline_variance", {**GOOD["baseline_variance"], "rloo": {"mean": 0.12, "variance": 0.066}},
     "includes the sample itself"),
    ("baseline_variance", {**GOOD["baseline_variance"], "no_baseline": {"mean": 0.16, "variance": 0.05}},
     "exact variance is 0.1024"),
    ("sampled_vs_greedy", {"greedy": {**SUMMARY, "acc_t1": 0.3}, "sampled": SUMMARY}, "not a whole count out of n = 8"),
    ("own_instruction", {**INSTRUCTION, "delta_i_to_c": 0.875, "acc_t2": 1.0}, "exceeds the share of wrong"),
    ("own_instruction", {**INSTRUCTION, "acc_t1": 0.2, "acc_t2": 0.325}, "not a whole count"),
    ("alpha_sweep", {0.0: SWEEP_ROW, 10.0: {**SWEEP_ROW, "delta_i_to_c": 0.1}}, "not a whole count"),
    ("alpha_sweep", {0.0: SWEEP_ROW, 10.0: {**SWEEP_ROW, "delta_i_to_c": 0.5, "delta_c_to_i": 0.625}}, "exceeds 1"),
    ("alpha_sweep", {1.0: SWEEP_ROW, 10.0: SWEEP_ROW}, "alpha = 0"),
    ("alpha_sweep", {0.0: SWEEP_ROW}, "at least two"),
    ("alpha_sweep", {0.0: SWEEP_ROW, "ten": SWEEP_ROW}, "values of alpha"),
    ("alpha_sweep", {0.0: SWEEP_ROW, 10.0: {**SWEEP_ROW, "changed_answer_rate": 12.0}}, "fractions, not %"),
]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_of_the_right_shape_passes_as_function_or_value(name, capsys):
    assert checker(name)(lambda: GOOD[name]) is True
    line = one_line(capsys)
    assert line.startswith(f"✓ {name}: ") and "passed" not in line
    assert checker(name)(GOOD[name]) is True
    assert one_line(capsys) == line


@pytest.mark.parametrize("name, result, why", BAD, ids=[f"{n}-{w}" for n, _, w in BAD])
def test_experiment_of_the_wrong_shape_fails_and_says_why(name, result, why, capsys):
    assert checker(name)(lambda: result) is False
    line = one_line(capsys)
    assert line.startswith(f"✗ {name}: ") and why in line


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_returning_none_is_reported(name, capsys):
    assert checker(name)(lambda: None) is False
    assert one_line(capsys) == f"✗ {name}: no result yet (your function returned None)"


def test_experiment_line_shows_the_numbers_to_read(capsys):
    exercises.check_alpha_sweep(GOOD["alpha_sweep"])
    assert one_line(capsys) == ("✓ alpha_sweep: changed-answer rate α=0: 0.10, α=1: 0.10, α=10: 0.10 (n=8 problems; "
                                "not checkable: what your model's rates should be)")


@needs_solutions
def test_baseline_variance_solution_passes(capsys):
    result = solutions.baseline_variance(groups=4000)
    assert exercises.check_baseline_variance(lambda: result) is True
    assert one_line(capsys).startswith("✓ baseline_variance: exact 0.1600")
    assert result["rloo"]["variance"] < result["no_baseline"]["variance"]


@needs_solutions
@pytest.mark.slow
def test_model_experiment_solutions_pass_on_the_tiny_model(tiny_policy, capsys):
    from scoreutils import get_profile
    from scoreutils.runs.pipeline import profile_problems

    profile = get_profile("smoke", model="tiny", steps=1, n_eval=2, max_new_tokens=8)
    problems = profile_problems(profile, "test", 2)
    assert exercises.check_sampled_vs_greedy(lambda: solutions.sampled_vs_greedy(tiny_policy, problems, 8, samples=2))
    assert exercises.check_own_instruction(lambda: solutions.own_instruction(tiny_policy, problems, 8, "Check it."))
    assert exercises.check_alpha_sweep(lambda: solutions.alpha_sweep(profile, alphas=(0.0, 10.0)))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith(("✓", "✗"))] == [
        "✓ sampled_vs_greedy", "✓ own_instruction", "✓ alpha_sweep"]


# --- the private references agree with the kit ----------------------------------------------------------

@pytest.mark.parametrize("r1, r2", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_star_pairs_reference_matches_star_dataset(r1, r2, monkeypatch):
    monkeypatch.setattr(sft, "make_pair", lambda tok, template, first, second, kind: (first[1], second[1]))
    trace = SimpleNamespace(y1_ids=[1], y1="y1", r1=r1, truncated1=False,
                            y2_ids=[2], y2="y2", r2=r2, truncated2=False)
    assert sorted(sft.star_dataset(None, [trace], plus=True)) == sorted(ex_data._star_pairs(r1, r2))


def test_pair_sft_properties_hold_for_pair_sft_dataset(monkeypatch):
    monkeypatch.setattr(sft, "make_pair", lambda tok, template, first, second, kind: (first[1], second[1]))
    problem = SimpleNamespace(id="p")
    rewards = [(0, 1), (0, 0), (1, 1), (0, 1)]
    traces = [SimpleNamespace(problem=problem, y1_ids=[1], y1=f"a{i}", r1=a, truncated1=False, y2_ids=[2],
                              y2=f"b{i}", r2=b, truncated2=False) for i, (a, b) in enumerate(rewards)]
    responses = [(t.y1, t.r1) for t in traces] + [(t.y2, t.r2) for t in traces]
    for plus in (False, True):
        got = sft.pair_sft_dataset(None, traces, plus=plus, seed=0)
        assert ex_data._pair_problem(responses, plus, got) is None


@pytest.mark.parametrize("alpha", [10.0, 2.5])
def test_shaped_reward_reference_matches_stage2_loss(alpha):
    gen = torch.Generator().manual_seed(0)
    k, b = 4, 8
    r1, r2 = ((torch.rand(b, generator=gen) < 0.5).float() for _ in range(2))
    seq1, seq2 = (torch.randn(b, generator=gen).requires_grad_(True) for _ in range(2))
    kl = torch.zeros(b)
    losses.stage2_loss(losses.Attempt(seq1, kl, r1), losses.Attempt(seq2, kl, r2), k, beta1=0.0, alpha=alpha).loss.backward()
    shaped = torch.tensor([ex_obj._shaped_reward(a, c, alpha) for a, c in zip(r1.tolist(), r2.tolist())])
    # d/d seq2 of -mean(A * seq2) is -A / B, A the RLOO advantage of attempt 2's shaped reward
    assert torch.allclose(seq2.grad, -losses.rloo_advantages(shaped, k) / b)


def test_voted_accuracy_reference_matches_scaling():
    texts = {None: "I am not sure.", "1": "The final answer is $1$.", "2": "The final answer is $2$."}
    cases = ex_eval._voting_case.__globals__["random"].Random(3)
    for _ in range(20):
        samples, references, budget, sequential = ex_eval._voting_case(cases, 4)
        samples = [[(a if a != "3" else None, b if b != "3" else None) for a, b in s] for s in samples]
        references = [r if r != "3" else "1" for r in references]
        episodes = [SimpleNamespace(problem=SimpleNamespace(id=str(i), reference=ref), y1=texts[a], y2=texts[b])
                    for i, (s, ref) in enumerate(zip(samples, references)) for a, b in s]
        assert metrics.voted_accuracy(episodes, budget, sequential) == ex_eval._voted_accuracy(
            samples, references, budget, sequential)


def test_kl_gradients_reference_is_the_exact_forward_and_reverse_gradient():
    logits, ref = torch.tensor([0.5, -1.0, 2.0]), torch.log_softmax(torch.tensor([0.0, 1.0, -1.0]), -1)
    g = ex_obj._kl_gradients(logits, ref)
    pi, q = torch.softmax(logits.double(), -1), ref.double().exp()
    kl = (pi * (pi.log() - q.log())).sum()
    # d KL(pi||q) / d logits_j = pi_j (log pi_j - log q_j - KL); d KL(q||pi) / d logits_j = pi_j - q_j
    assert torch.allclose(g["forward"], pi * (pi.log() - q.log() - kl))
    assert torch.allclose(g["reverse"], pi - q)


# --- majority_vote --------------------------------------------------------------------------------------

def test_majority_vote_most_common():
    assert majority_vote(["2", "3", "2"]) == "2"
    assert majority_vote(["7"]) == "7"


def test_majority_vote_ties_go_to_first_seen():
    assert majority_vote(["a", "b"]) == "a"
    assert majority_vote(["b", "a", "a", "b"]) == "b"
    assert majority_vote(["c", "a", "b", "a", "b"]) == "a"


def test_majority_vote_ignores_none():
    assert majority_vote([None, None, "5"]) == "5"
    assert majority_vote([None]) is None
    assert majority_vote([]) is None


def test_metrics_reference_of_delta_interval_is_the_kits():
    lo, hi = ex_eval._delta_interval([1.0, 0.0], [1.0, 1.0])  # the plain normal interval the lesson teaches
    assert (lo, hi) == (max(-1.0, 0.5 - metrics.Z95 * 0.5), min(1.0, 0.5 + metrics.Z95 * 0.5))
