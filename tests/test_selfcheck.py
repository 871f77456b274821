"""The lessons' self-checks (`scoreutils.exercises.selfcheck`): 3-5 questions per lesson, answers checked at
once, one line per question, never raising."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from scoreutils.exercises import SELF_CHECKS, self_check, self_check_questions
from scoreutils.exercises.selfcheck import LETTERS, right_letter, shown

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LESSONS = [p.name[:2] for p in NOTEBOOKS]


def right_answers(lesson: str) -> dict[int, object]:
    return {i: right_letter(lesson, i, q) if q.choices else q.answer for i, q in enumerate(SELF_CHECKS[lesson], 1)}


def test_every_lesson_has_three_to_five_questions():
    assert set(SELF_CHECKS) == set(LESSONS)
    for lesson, questions in SELF_CHECKS.items():
        assert 3 <= len(questions) <= 5, lesson
        for q in questions:
            assert q.why and q.text
            if q.choices:
                assert len(q.choices) >= 2 and q.answer in LETTERS[:len(q.choices)], q.text
                assert len(set(q.choices)) == len(q.choices), q.text
            else:
                assert isinstance(q.answer, float), q.text


def test_the_right_answer_is_not_always_under_the_same_letter():
    letters = [right_letter(lesson, i, q) for lesson, qs in SELF_CHECKS.items() for i, q in enumerate(qs, 1)
               if q.choices]
    assert max(letters.count(x) for x in set(letters)) < 0.6 * len(letters)
    q = SELF_CHECKS["05"][0]
    assert shown("05", 1, q) == shown("05", 1, q)  # the same order every time


@pytest.mark.parametrize("lesson", sorted(SELF_CHECKS))
def test_right_answers_all_pass(lesson, capsys):
    questions = SELF_CHECKS[lesson]
    assert self_check(lesson, right_answers(lesson)) == len(questions)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == [f"✓ {i}: right" for i in range(1, len(questions) + 1)]
    assert lines[-1] == f"self-check {lesson}: {len(questions)} of {len(questions)} right"


@pytest.mark.parametrize("lesson", sorted(SELF_CHECKS))
def test_a_wrong_answer_shows_the_reasoning(lesson, capsys):
    answers = right_answers(lesson)
    for i, q in enumerate(SELF_CHECKS[lesson], 1):
        wrong = next(x for x in LETTERS[:len(q.choices)] if x != answers[i]) if q.choices else q.answer + 7
        assert self_check(lesson, {**answers, i: wrong}) == len(answers) - 1
        line = capsys.readouterr().out.splitlines()[i - 1]
        assert line.startswith(f"✗ {i}: not ") and q.why in line


def test_questions_render_with_their_shown_choices():
    text = self_check_questions("05")
    q = SELF_CHECKS["05"][0]
    assert text.startswith("**Self-check.**") and f"1. {q.text}" in text
    order = shown("05", 1, q)
    assert f"   - (a) {q.choices[order[0]]}" in text


def test_unanswered_and_malformed_answers_are_lines_not_errors(capsys):
    assert self_check("04", {1: None, 2: "two thirds", 3: "z", 4: "(A)"}) in (0, 1)
    out = capsys.readouterr().out
    assert "· 1: not answered yet" in out and "2: answer with a number" in out and "3: answer with one of a" in out
    assert self_check("04", {9: 1}) == 0
    assert "no question 9" in capsys.readouterr().out
    assert self_check("42", {}) == 0 and "no questions for lesson '42'" in capsys.readouterr().out
    assert self_check("04", [1, 2]) == 0 and "as a dict" in capsys.readouterr().out


def test_numbers_pass_within_tolerance_and_letters_in_any_case(capsys):
    answers = right_answers("03")
    assert self_check("03", {**answers, 2: 0.2308}) == 4
    letter = right_letter("04", 3, SELF_CHECKS["04"][2])
    assert self_check("04", {**right_answers("04"), 3: f" ({letter.upper()}) "}) == 5
    capsys.readouterr()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_lesson_asks_its_own_self_check(path):
    nb = nbformat.read(path, as_version=4)
    lesson = path.name[:2]
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "self_check(" in c.source]
    assert len(cells) == 1, path.name
    assert f'self_check_questions("{lesson}")' in cells[0] and f'self_check("{lesson}", MY_ANSWERS)' in cells[0]
    keys = re.search(r"MY_ANSWERS = \{(.*?)\}", cells[0]).group(1)
    assert keys == ", ".join(f"{i}: None" for i in range(1, len(SELF_CHECKS[lesson]) + 1))
