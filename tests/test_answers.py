"""Tests for scoreutils.rewards.answers: extraction, equivalence, reward, answer change."""
import threading
import time

import pytest

from scoreutils.rewards import answers
from scoreutils.rewards.answers import answers_differ, extract_answer, is_equivalent, last_boxed, math_reward

PAPER = "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct."


# ---------------------------------------------------------------- last_boxed
@pytest.mark.parametrize(
    "text, expected",
    [
        ("so \\boxed{5}.", "5"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\frac{\\sqrt{3}}{2}} done", "\\frac{\\sqrt{3}}{2}"),
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("\\fbox{7}", "7"),
        ("\\fbox{1} \\boxed{2} \\fbox{3}", "3"),
        ("$\\boxed 12$", "12"),
        ("\\boxed{1} and an unclosed \\boxed{2", "1"),
        ("{ stray \\boxed{4}", "4"),
        ("no box here", None),
        ("\\boxed{", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_last_boxed_non_string():
    assert last_boxed(None) is None


# ------------------------------------------------------------ extract_answer
@pytest.mark.parametrize(
    "text, expected",
    [
        (PAPER, "\\frac{1}{2}"),
        ("The final answer is 42.", "42"),
        ("The final answer is 3.5.", "3.5"),
        ("The final answer is -12. I hope it is correct.", "-12"),
        ("The final answer is 42 I hope it is correct", "42"),
        ("the FINAL ANSWER IS $x^2+1$.", "x^2+1"),
        ("The final answer is: 42", "42"),
        ("Final Answer: 9", "9"),
        ("The final answer is **17**.", "17"),
        ("The final answer is $\\boxed{5}$.", "5"),
        ("The final answer is \\(\\frac{3}{4}\\).", "\\frac{3}{4}"),
        ("The final answer is $$[0,1)$$", "[0,1)"),
        ("The final answer is $\\$5.00$.", "\\$5.00"),
        ("The final answer is x = $5$.", "x = 5"),
        ("The final answer is 7\nMore text with 8 after.", "7"),
        # "final answer" wins over a later boxed expression or number
        ("The final answer is $3$. Check: \\boxed{4}, and 5.", "3"),
        # the last "final answer" wins over earlier ones
        ("The final answer is $1$. Wait, no. The final answer is $2$.", "2"),
        # boxed beats bare numbers
        ("We get 3, so \\boxed{\\frac{1}{2}} (not 7).", "\\frac{1}{2}"),
        # last-number fallback
        ("so x = -12", "-12"),
        ("so x = \u221212.", "-12"),
        ("5-12 = -7", "-7"),
        ("we subtract: 20-12", "12"),
        ("pay 3.75.", "3.75"),
        ("it is .5", ".5"),
        ("the answer is 42.", "42"),
        ("total 1,234 apples", "1234"),
        ("about 1,234,567.5 grains", "1234567.5"),
        ("points 1,2,3", "3"),
        ("3/4 of the pie", "3/4"),
        ("Résultat : la réponse est 12 € — très bien ✓", "12"),
        ("答案是 ４２", "42"),
        ("no answer at all", None),
        ("", None),
        ("The final answer is $$", None),
        # an empty final answer falls back to boxed / last number
        ("We had 5. The final answer is $$.", "5"),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_extract_answer_non_string():
    assert extract_answer(None) is None
    assert extract_answer(b"42") is None


def test_extract_answer_100kb_output():
    text = "Let me think step by step. " * 3800 + "The final answer is $\\frac{7}{9}$. I hope it is correct."
    assert len(text) > 100_000
    start = time.perf_counter()
    assert extract_answer(text) == "\\frac{7}{9}"
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "1" * 100_000,
        "$" * 50_000,
        "final answer is " * 5000,
        "The final answer is $" * 5000,
        "\\boxed{" * 15_000,
        "\\boxed $" * 15_000,
        "{" * 100_000,
        "-" * 100_000,
        "1," * 50_000,
        "1." * 50_000,
        "final answer is " + "9" * 100_000,
        "a" * 100_000,
    ],
)
def test_extract_answer_adversarial_is_fast(text):
    start = time.perf_counter()
    extract_answer(text)
    last_boxed(text)
    assert time.perf_counter() - start < 0.5


# ------------------------------------------------------------- is_equivalent
@pytest.mark.parametrize(
    "a, b",
    [
        ("1/2", "\\frac{1}{2}"),
        ("0.5", "\\frac{1}{2}"),
        ("\\frac12", "1/2"),
        ("-3", "\u22123"),
        ("2\\sqrt{2}", "\\sqrt{8}"),
        ("x^2+2x+1", "(x+1)^2"),
        ("1,234", "1234"),
        ("\\dfrac{3}{4}", "0.75"),
        ("42", "42.0"),
        ("[0,1)", "[0,1)"),
        ("\\$5.00", "5"),
        ("５", "5"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("x = 3", "3"),
        ("\\{1,2\\}", "\\{2,1\\}"),
        # math-verify reads "10\%" as 10/100 but also accepts the bare 10
        ("10\\%", "10"),
        ("10\\%", "0.1"),
    ],
)
def test_equivalent(a, b):
    assert is_equivalent(a, b)
    assert is_equivalent(b, a)


@pytest.mark.parametrize(
    "a, b",
    [
        ("(1,2)", "(2,1)"),
        ("3", "4"),
        ("-3", "3"),
        ("7", "7.5"),
        ("[0,1)", "(0,1)"),
        ("[0,1)", "[0,1]"),
        ("\\pi", "3.14"),
        ("\\frac{1}{0}", "1"),
    ],
)
def test_not_equivalent(a, b):
    assert not is_equivalent(a, b)


@pytest.mark.parametrize("pred", [None, "", "   ", "$$", "}{", "\\frac{", 42, b"1/2", "x" * 5000])
def test_is_equivalent_bad_input_is_false(pred):
    assert is_equivalent(pred, "1/2") is False


def test_is_equivalent_from_worker_thread():
    out = {}

    def work():
        out["sqrt"] = is_equivalent("2\\sqrt{2}", "\\sqrt{8}")
        out["pair"] = is_equivalent("(1,2)", "(2,1)")
        out["reward"] = math_reward(PAPER, "0.5")

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert out == {"sqrt": True, "pair": False, "reward": 1.0}


def test_worker_thread_timeout_returns_false_promptly(monkeypatch):
    def slow(pred, ref, timeout):
        time.sleep(3)
        return True

    monkeypatch.setattr(answers, "_math_verify", slow)
    out = {}

    def work():
        t0 = time.perf_counter()
        out["result"] = is_equivalent("x+1", "1+x", timeout_s=0.2)
        out["elapsed"] = time.perf_counter() - t0

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert out["result"] is False
    assert out["elapsed"] < 2


def test_main_thread_timeout_exception_gives_false(monkeypatch):
    from math_verify.errors import TimeoutException

    def boom(pred, ref, timeout):
        assert timeout == 1  # 0.3 s rounds up to math-verify's whole seconds
        raise TimeoutException("slow")

    monkeypatch.setattr(answers, "_math_verify", boom)
    assert is_equivalent("x+1", "1+x", timeout_s=0.3) is False


# --------------------------------------------------------------- math_reward
@pytest.mark.parametrize(
    "completion, reference, expected",
    [
        (PAPER, "\\frac{1}{2}", 1.0),
        (PAPER, "0.5", 1.0),
        (PAPER, "1/3", 0.0),
        ("The final answer is 42.", "42", 1.0),
        ("... so the total is \\boxed{1,234}.", "1234", 1.0),
        ("The answer is \u221212.", "-12", 1.0),
        ("I don't know.", "3", 0.0),
        ("The final answer is 3. " + "blah " * 20_000, "3", 1.0),
    ],
)
def test_math_reward(completion, reference, expected):
    assert math_reward(completion, reference) == expected


@pytest.mark.parametrize(
    "completion, reference",
    [
        (None, "1"),
        (b"42", "42"),
        ("42", None),
        (42, "42"),
        ("x" * 1_000_000, "x"),
        ("The final answer is $" + "(" * 3000 + "$", "1"),
        ("The final answer is $\\frac{}{}}}$", "1"),
        ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "1"),
    ],
)
def test_math_reward_never_raises(completion, reference):
    assert math_reward(completion, reference) == 0.0


# ------------------------------------------------------------ answers_differ
@pytest.mark.parametrize(
    "y1, y2, expected",
    [
        ("no idea", "still no idea", False),
        ("no idea", "The final answer is 3.", True),
        ("The final answer is 3.", "no idea", True),
        ("The final answer is $\\frac{1}{2}$.", "So \\boxed{0.5}", False),
        ("The final answer is 3.", "The final answer is 4.", True),
        ("The final answer is 3.", "After checking, the final answer is 3.", False),
    ],
)
def test_answers_differ(y1, y2, expected):
    assert answers_differ(y1, y2) is expected
