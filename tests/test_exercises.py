"""Exercise checkers: each reports (never raises) an unfinished stub, a crash and plausible bugs, and accepts
the reference solutions in solutions/exercises.py; their private references agree with the kit."""
import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from rapidfuzz.distance import Levenshtein

from scoreutils import exercises, losses, sft
from scoreutils.metrics import majority_vote

pytestmark = pytest.mark.usefixtures("one_thread")

SOLUTIONS_PATH = Path(__file__).resolve().parents[1] / "solutions" / "exercises.py"
_spec = importlib.util.spec_from_file_location("solutions_exercises", SOLUTIONS_PATH)
solutions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(solutions)

NAMES = ["final_answer", "transitions", "star_pairs", "edit_distance_ratio", "rloo", "stage1_loss", "bonus",
         "majority_vote", "extract_code"]


def checker(name):
    return getattr(exercises, f"check_{name}")


def one_line(capsys) -> str:
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n"), out
    return out[:-1]


def stub(*args, **kwargs):
    raise NotImplementedError


# --- plausible wrong implementations, each caught by its checker ---

def answer_cuts_decimals_and_signs(text):
    numbers = re.findall(r"\d+", text)
    return numbers[-1] if numbers else None


def answer_boxed_before_final(text):
    return solutions._boxed(text) or solutions.final_answer(text)


def transitions_swapped(r1, r2):
    return tuple(reversed(solutions.transitions(r1, r2)))


def star_pairs_without_plus(r1, r2):
    return [("y1", "y2")] if r1 == 0 and r2 == 1 else []


def star_pairs_reversed(r1, r2):
    return [(b, a) for a, b in solutions.star_pairs(r1, r2)]


def edit_ratio_over_max_length(y1, y2):
    return Levenshtein.distance(y1, y2) / max(len(y1), len(y2), 1)


def rloo_including_itself(returns, k):
    groups = returns.view(-1, k)
    return (groups - groups.mean(dim=1, keepdim=True)).reshape(-1)


def stage1_rewarding_attempt1(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    loss = solutions.stage1_loss(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2)
    return loss - (solutions.rloo(r2, k) * seq1).mean()


def stage1_betas_swapped(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return solutions.stage1_loss(seq1, seq2, kl1, kl2, r1, r2, k, beta2, beta1)


def stage1_detached(seq1, seq2, kl1, kl2, r1, r2, k, beta1, beta2):
    return solutions.stage1_loss(seq1.detach(), seq2.detach(), kl1, kl2, r1, r2, k, beta1, beta2)


def bonus_sign_flipped(r1, r2, alpha):
    return r2 + alpha * (r1 - r2)


def bonus_alone(r1, r2, alpha):
    return alpha * (r2 - r1)


def vote_counting_none(answers):
    return Counter(answers).most_common(1)[0][0] if answers else None


def vote_ties_to_last(answers):
    counts = Counter(a for a in answers if a is not None)
    return max(reversed(list(counts)), key=counts.__getitem__) if counts else None


def code_first_block(completion):
    blocks = re.findall(r"```python\n(.*?)```", completion, re.DOTALL)
    return blocks[0] if blocks else solutions.extract_code(completion)


def code_last_block_of_any_language(completion):
    blocks = re.findall(r"```[^\n]*\n(.*?)(?:```|$)", completion, re.DOTALL)
    return blocks[-1] if blocks else completion


WRONG = [
    ("final_answer", answer_cuts_decimals_and_signs), ("final_answer", answer_boxed_before_final),
    ("transitions", transitions_swapped),
    ("star_pairs", star_pairs_without_plus), ("star_pairs", star_pairs_reversed),
    ("edit_distance_ratio", edit_ratio_over_max_length),
    ("rloo", rloo_including_itself),
    ("stage1_loss", stage1_rewarding_attempt1), ("stage1_loss", stage1_betas_swapped),
    ("bonus", bonus_sign_flipped), ("bonus", bonus_alone),
    ("majority_vote", vote_counting_none), ("majority_vote", vote_ties_to_last),
    ("extract_code", code_first_block), ("extract_code", code_last_block_of_any_language),
]


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes(name, capsys):
    assert checker(name)(getattr(solutions, name)) is True
    assert re.fullmatch(rf"✓ {name}: passed \d+ cases", one_line(capsys))


@pytest.mark.parametrize("name", NAMES)
def test_stub_is_reported_not_raised(name, capsys):
    assert checker(name)(stub) is False
    assert one_line(capsys) == f"✗ {name}: not implemented yet (replace the raise with your code)"


@pytest.mark.parametrize("name", NAMES)
def test_crash_is_reported_with_its_input(name, capsys):
    def crash(*args):
        raise ValueError("boom\nsecond line")

    assert checker(name)(crash) is False
    assert one_line(capsys).startswith(f"✗ {name}: ValueError: boom second line on ")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_return_type_fails_without_raising(name, capsys):
    assert checker(name)(lambda *args: object()) is False
    assert one_line(capsys).startswith(f"✗ {name}: ")


@pytest.mark.parametrize("name, wrong", WRONG, ids=[w.__name__ for _, w in WRONG])
def test_plausible_bug_fails(name, wrong, capsys):
    assert checker(name)(wrong) is False
    line = one_line(capsys)
    assert line.startswith(f"✗ {name}: ") and "expected" in line


def test_failure_line_shows_input_expected_and_got(capsys):
    exercises.check_bonus(bonus_sign_flipped)
    assert one_line(capsys) == "✗ bonus: bonus(0.0, 1.0, 10.0) -> expected 11.0, got -9.0"
    exercises.check_transitions(transitions_swapped)
    assert one_line(capsys).startswith("✗ transitions: transitions([0.0, 0.0, 1.0], [1.0, 0.0, 1.0]) -> "
                                       "expected (0.3333333333333333, 0.0), got (0.0, 0.3333333333333333)")


def test_stage1_names_attempt1_gradient(capsys):
    exercises.check_stage1_loss(stage1_rewarding_attempt1)
    line = one_line(capsys)
    assert "gradient w.r.t. seq1 (attempt 1's log-prob) differs" in line and "no reward" in line


def test_stage1_accepts_loss_parts_and_reports_detached_loss(capsys):
    assert exercises.check_stage1_loss(exercises._stage1_reference) is True
    capsys.readouterr()
    exercises.check_stage1_loss(stage1_detached)
    assert "carries the gradient" in one_line(capsys)


def test_long_inputs_are_truncated(capsys):
    exercises.check_edit_distance_ratio(lambda y1, y2: -1.0)
    assert len(one_line(capsys)) < 200
    exercises.check_rloo(lambda returns, k: torch.zeros(returns.shape[0] + 1))
    assert len(one_line(capsys)) < 250


def test_student_cannot_corrupt_the_reference_by_mutating_inputs():
    def rloo_in_place(returns, k):
        result = solutions.rloo(returns, k)
        returns.zero_()
        return result

    assert exercises.check_rloo(rloo_in_place) is True


# --- the private references agree with the kit ---

@pytest.mark.parametrize("r1, r2", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_star_pairs_reference_matches_star_dataset(r1, r2, monkeypatch):
    monkeypatch.setattr(sft, "make_pair", lambda tok, template, first, second, kind: (first[1], second[1]))
    trace = SimpleNamespace(y1_ids=[1], y1="y1", r1=r1, truncated1=False,
                            y2_ids=[2], y2="y2", r2=r2, truncated2=False)
    assert sorted(sft.star_dataset(None, [trace], plus=True)) == sorted(exercises._star_pairs(r1, r2))


@pytest.mark.parametrize("alpha", [10.0, 2.5])
def test_shaped_reward_reference_matches_stage2_loss(alpha):
    gen = torch.Generator().manual_seed(0)
    k, b = 4, 8
    r1, r2 = ((torch.rand(b, generator=gen) < 0.5).float() for _ in range(2))
    seq1, seq2 = (torch.randn(b, generator=gen).requires_grad_(True) for _ in range(2))
    kl = torch.zeros(b)
    losses.stage2_loss(losses.Attempt(seq1, kl, r1), losses.Attempt(seq2, kl, r2), k, beta1=0.0, alpha=alpha).loss.backward()
    shaped = torch.tensor([exercises._shaped_reward(a, c, alpha) for a, c in zip(r1.tolist(), r2.tolist())])
    # d/d seq2 of -mean(A * seq2) is -A / B, A the RLOO advantage of attempt 2's shaped reward
    assert torch.allclose(seq2.grad, -losses.rloo_advantages(shaped, k) / b)


# --- majority_vote ---

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
