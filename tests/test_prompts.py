"""Tests for scoreutils.prompts: turn 1 ids, and turn 2 appended to attempt 1's ids without re-encoding."""
from __future__ import annotations

import dataclasses

import pytest

from scoreutils import get_profile, load_task
from scoreutils.rewards.answers import math_reward
from scoreutils.runs.pipeline import profile_problems
from scoreutils.prompts import (ARITHMETIC_FORMATS, ARITHMETIC_TURN1, CODE_TURN1, CODE_TURN2, MATH_TURN1, MATH_TURN2,
                                SYSTEM, first_turn_ids, first_turn_text, second_turn_ids, second_turn_text)
from scoreutils.tasks import Problem

PAPER_TURN2_START = ("There might be an error in the solution above because of lack of understanding of the "
                     "question.")


def _arith():
    return load_task("arithmetic", "test", n=1, level=1)[0]


def _math():
    return Problem("math/test/1", "Find $x$ if $2x = 6$.", "3", "test", "math")


def _code():
    return load_task("humaneval", "test")[2]


PROBLEMS = {"arithmetic": _arith, "math": _math, "code": _code}


def _encode(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def _chat(tok, problem, *extra, generation_prompt=True):
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": first_turn_text(problem)},
                *extra]
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


# ---------------------------------------------------------------- texts
def test_paper_instructions_verbatim():
    assert MATH_TURN2.startswith(PAPER_TURN2_START)
    assert "Please correct the error, if any, and rewrite the solution." in MATH_TURN2
    assert MATH_TURN2.endswith('"Final Answer: The final answer is $answer$. I hope it is correct."')
    assert CODE_TURN2.startswith("There might be an error in the code above because of lack of understanding "
                                 "of the question.")
    assert CODE_TURN2.endswith("Only output the final correct Python program!")


def test_first_turn_text_per_kind():
    a, m, c = _arith(), _math(), _code()
    assert first_turn_text(a).startswith(a.prompt + "\n")
    assert 'The final answer is $answer$.' in first_turn_text(a)
    assert first_turn_text(m) == f"{MATH_TURN1}\n\nProblem:\n{m.prompt}"
    assert first_turn_text(c).startswith(CODE_TURN1) and c.prompt in first_turn_text(c)
    assert "```python\n" in first_turn_text(c)


def test_second_turn_text_per_kind():
    assert second_turn_text(_arith()) == MATH_TURN2
    assert second_turn_text(_math()) == MATH_TURN2
    assert second_turn_text(_code()) == CODE_TURN2


# ---------------------------------------------------------------- turn 1 ids
@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_first_turn_ids_are_the_template(tokenizer, kind):
    problem = PROBLEMS[kind]()
    x1 = first_turn_ids(tokenizer, problem)
    assert x1 == _encode(tokenizer, _chat(tokenizer, problem))
    text = tokenizer.decode(x1)
    assert text.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert text.count("<|im_start|>system") == 1
    assert "named SmolLM" not in text  # the template's default system message is replaced by ours
    assert first_turn_text(problem) in text
    assert x1[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.eos_token_id in x1  # the closed system and user turns


def test_template_would_add_its_own_system_message(tokenizer):
    # Sanity: without our system message the template would insert SmolLM's own.
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert "named SmolLM" in rendered


# ---------------------------------------------------------------- turn 2 ids
Y1_TEXTS = ["The answer is 5. The final answer is $5$.",
            "Let me compute: 40 + 95 = 135.\nThe final answer is $135$.",
            "```python\ndef f(x):\n    return x + 1\n```",
            "I think it's $\\frac{1}{2}$ — ok?"]


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
@pytest.mark.parametrize("y1_text", Y1_TEXTS)
def test_turn_two_invariant(tokenizer, kind, y1_text):
    """ids(x1) + ids(y1) + [eos] + p == ids(template([system, user, assistant(y1), user(p)]) + header)."""
    problem = PROBLEMS[kind]()
    eos = tokenizer.eos_token_id
    x1 = first_turn_ids(tokenizer, problem)
    y1 = _encode(tokenizer, y1_text) + [eos]  # an attempt that ended with the end token
    p = second_turn_ids(tokenizer, problem, attempt1_ended=True)
    full = _chat(tokenizer, problem, {"role": "assistant", "content": y1_text},
                 {"role": "user", "content": second_turn_text(problem)})
    assert x1 + y1 + p == _encode(tokenizer, full)
    assert tokenizer.decode(p).endswith("<|im_start|>assistant\n")
    assert p[0] != eos  # attempt 1's own end token closes the turn; p does not repeat it


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_turn_two_after_truncated_attempt_starts_with_eos(tokenizer, kind):
    problem = PROBLEMS[kind]()
    ended = second_turn_ids(tokenizer, problem, attempt1_ended=True)
    cut = second_turn_ids(tokenizer, problem, attempt1_ended=False)
    assert cut[0] == tokenizer.eos_token_id
    assert cut[1:] == ended
    # A truncated attempt (no end token sampled) followed by `cut` is again the template's rendering.
    x1 = first_turn_ids(tokenizer, problem)
    y1_text = "The answer is 5"
    full = _chat(tokenizer, problem, {"role": "assistant", "content": y1_text},
                 {"role": "user", "content": second_turn_text(problem)})
    assert x1 + _encode(tokenizer, y1_text) + cut == _encode(tokenizer, full)


def test_turn_two_instruction_is_in_the_ids(tokenizer):
    for problem, instruction in ((_arith(), MATH_TURN2), (_math(), MATH_TURN2), (_code(), CODE_TURN2)):
        text = tokenizer.decode(second_turn_ids(tokenizer, problem, attempt1_ended=True))
        assert text == f"\n<|im_start|>user\n{instruction}<|im_end|>\n<|im_start|>assistant\n"
        assert ("error in the code above" in text) == (problem.kind == "code")
    assert PAPER_TURN2_START in tokenizer.decode(second_turn_ids(tokenizer, _arith(), attempt1_ended=True))


def test_turn_two_does_not_depend_on_attempt_one(tokenizer):
    # p is fixed: the same for every problem of a kind (it never says whether attempt 1 was right).
    a, b = load_task("arithmetic", "test", n=2, level=[1, 5])
    assert second_turn_ids(tokenizer, a, True) == second_turn_ids(tokenizer, b, True)
    assert second_turn_ids(tokenizer, a, True) == second_turn_ids(tokenizer, _math(), True)
    assert second_turn_ids(tokenizer, a, True) != second_turn_ids(tokenizer, _code(), True)


# ---------------------------------------------------------------- arithmetic turn-1 formats
def _with_format(problem, name):
    return dataclasses.replace(problem, meta={**problem.meta, "turn1_format": name})


def test_default_format_is_the_cpu_profiles_prompt():
    a = _arith()
    assert "turn1_format" not in a.meta
    assert first_turn_text(a) == ARITHMETIC_TURN1.format(problem=a.prompt)
    assert first_turn_text(_with_format(a, "final-answer")) == first_turn_text(a)


@pytest.mark.parametrize("name", sorted(ARITHMETIC_FORMATS))
def test_each_format_asks_its_line_and_keeps_the_papers_turn_two(tokenizer, name):
    a = _with_format(_arith(), name)
    assert first_turn_text(a) == f"{a.prompt}\n{ARITHMETIC_FORMATS[name]}"
    assert second_turn_text(a) == MATH_TURN2
    assert tokenizer.decode(second_turn_ids(tokenizer, a, True)) == \
        tokenizer.decode(second_turn_ids(tokenizer, _arith(), True))


# A reply in each format's own form, and the grade it must get (\boxed answers are extracted).
REPLIES = {"final-answer": "13 x 3 = 39\nThe final answer is 39.", "number-only": "39",
           "boxed": "13 x 3 = \\boxed{39}", "brief-boxed": "\\boxed{39}"}


@pytest.mark.parametrize("name", sorted(ARITHMETIC_FORMATS))
def test_a_reply_in_each_format_is_graded(name):
    assert math_reward(REPLIES[name], "39") == 1.0
    assert math_reward(REPLIES[name].replace("39", "38"), "39") == 0.0


def test_unknown_format_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown turn-1 format 'boxxed'; choose one of final-answer"):
        first_turn_text(_with_format(_arith(), "boxxed"))
    with pytest.raises(ValueError, match="turn1_format must be one of final-answer"):
        get_profile("cpu", turn1_format="boxxed")


def test_profiles_carry_their_format_to_the_problems():
    cpu, repro = get_profile("cpu"), get_profile("repro")
    assert cpu.turn1_format == "final-answer"
    assert all("turn1_format" not in p.meta for p in profile_problems(cpu, "test", 5))
    problems = profile_problems(repro, "validation", 5)
    assert all(p.meta["turn1_format"] == repro.turn1_format and p.split == "validation" for p in problems)
    assert first_turn_text(problems[0]).endswith("\n" + ARITHMETIC_FORMATS[repro.turn1_format])
    # The format rides in meta only: the problems themselves (id, text, answer) are the level's.
    plain = load_task("arithmetic", "validation", n=5, level=repro.level)
    assert [p.to_dict() | {"meta": {}} for p in problems] == [p.to_dict() | {"meta": {}} for p in plain]
