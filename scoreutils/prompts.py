"""Prompts: the paper's instructions, verbatim (docs/paper.md#the-prompts); the two turns as token ids.

Turn 1 is the chat template applied to [system, user(x)] with the assistant header. Turn 2 appends, to
the *sampled ids* of attempt 1, the template's tokens that close the assistant turn, open a user turn
holding the fixed instruction p, and open the next assistant turn: `second_turn_ids`. Attempt 1 is
never decoded and re-encoded. Generated arithmetic has a choice of turn-1 answer forms
(`ARITHMETIC_FORMATS`, named by `Profile.turn1_format` and carried in `Problem.meta["turn1_format"]`); turn 2
is always the paper's. Not here: sampling (`rollout.py`) and grading (`rewards/`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: config.py imports this module while it builds its profiles
    from .tasks import Problem

MATH_TURN1 = ('You are a math expert. When you respond, respond only with the Solution of the final Problem, '
              'thinking step by step. At the end of the Solution, when you give your final answer, write it in '
              'the form "Final Answer: The final answer is $answer$. I hope it is correct."')
MATH_TURN2 = ('There might be an error in the solution above because of lack of understanding of the question. '
              'Please correct the error, if any, and rewrite the solution. Only output the final solution! At '
              'the end of the Solution, when you give your final answer, write it in the form "Final Answer: '
              'The final answer is $answer$. I hope it is correct."')
CODE_TURN1 = ("You are an expert Python programmer. Complete the following Python function. Only output the "
              "complete Python program in a ```python code block.")
CODE_TURN2 = ('There might be an error in the code above because of lack of understanding of the question. '
              'Please correct the error, if any, and rewrite the solution. Only output the final correct '
              'Python program!')
# The kit's own arithmetic task: a short turn 1 asking for the paper's answer form. The paper's long
# MATH instruction makes a 135M model ramble past any short length budget (measured: 0% on level 1).
ARITHMETIC_TURN1 = '{problem}\nAt the end, write "The final answer is $answer$."'
# The turn-1 answer forms of the arithmetic task (the line after the problem), by name. "final-answer" is
# ARITHMETIC_TURN1, the default. The others came out of the regime search (docs/reproduction.md): the
# bundled model copies "$answer$" literally in about a third of its wrong "final-answer" attempts.
ARITHMETIC_FORMATS = {
    "final-answer": ARITHMETIC_TURN1.split("\n", 1)[1],
    "number-only": "Answer with the final number only.",
    "boxed": "Put the final number in \\boxed{}.",
    "brief-boxed": "Be brief. Put the final number in \\boxed{}.",
}
MBPP_TURN1 = ("You are an expert Python programmer, and here is your task: {task} Your code should pass these "
              "tests:\n\n{tests}\n[BEGIN]\n")
# Self-Refine-style turn 2 (the paper's "Self-Refine" row prompts the model to critique itself first).
# The kit's one-turn approximation: ask for a review of the answer and a corrected final answer.
SELF_REFINE_TURN2 = ("Review your previous answer and find problems with your answer. Then, based on the problems "
                     "you found, improve your answer. At the end, write \"The final answer is $answer$.\"")
# A fixed system message: SmolLM2's template would otherwise insert its own default one.
SYSTEM = "You are a helpful AI assistant."
_SENTINEL = "\u2063ATTEMPT\u2063"


def first_turn_text(problem: Problem) -> str:
    """The user message of turn 1 for `problem` (the paper's prompt for its kind)."""
    if problem.source == "mbpp":
        shots = problem.meta.get("shots", "")
        return shots + MBPP_TURN1.format(task=problem.prompt, tests=problem.reference)
    if problem.source == "arithmetic":
        return f"{problem.prompt}\n{arithmetic_format(problem.meta.get('turn1_format', 'final-answer'))}"
    if problem.kind == "code":
        return f"{CODE_TURN1}\n\n```python\n{problem.prompt}```"
    return f"{MATH_TURN1}\n\nProblem:\n{problem.prompt}"


def arithmetic_format(name: str) -> str:
    """The turn-1 answer-form line `name` of `ARITHMETIC_FORMATS` (a clear error for an unknown name)."""
    if name not in ARITHMETIC_FORMATS:
        raise ValueError(f"unknown turn-1 format {name!r}; choose one of {', '.join(ARITHMETIC_FORMATS)}")
    return ARITHMETIC_FORMATS[name]


def second_turn_text(problem: Problem, instruction: str | None = None) -> str:
    """The fixed self-correction instruction p; it never says whether attempt 1 was right.
    `instruction` replaces the paper's p (e.g. `SELF_REFINE_TURN2`)."""
    if instruction is not None:
        return instruction
    return CODE_TURN2 if problem.kind == "code" else MATH_TURN2


def _render(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _encode(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def first_turn_ids(tokenizer: Any, problem: Problem) -> list[int]:
    """x1: token ids of [system, user(problem)] + assistant header."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": first_turn_text(problem)}]
    return _encode(tokenizer, _render(tokenizer, messages, add_generation_prompt=True))


def second_turn_ids(tokenizer: Any, problem: Problem, attempt1_ended: bool, instruction: str | None = None) -> list[int]:
    """p: the ids that follow attempt 1's sampled ids to form x2 = [x1, y1, p].

    They close the assistant turn (its end token is dropped when attempt 1 already sampled it, so that
    token stays part of y1 and is trained on), add the user turn with the instruction, and open the next
    assistant turn. Derived from the chat template by rendering a conversation around a sentinel.
    """
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": first_turn_text(problem)},
                {"role": "assistant", "content": _SENTINEL},
                {"role": "user", "content": second_turn_text(problem, instruction)}]
    text = _render(tokenizer, messages, add_generation_prompt=True)
    suffix = _encode(tokenizer, text.split(_SENTINEL, 1)[1])
    if attempt1_ended:
        if suffix[0] != tokenizer.eos_token_id:
            raise ValueError("the chat template does not close the assistant turn with the end token")
        suffix = suffix[1:]
    return suffix
