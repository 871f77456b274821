"""Each lesson opens with the paper's claim as a question, never as a statement: its title asks, its "Tests."
paragraph lists the claims its closing box judges (`report.lessons.LESSON_CLAIMS`), each in the words and with the
paper reference of `report.verdicts.CLAIMS`, so no header asserts what the verdict box may contradict."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoreutils.report.lessons import LESSON_CLAIMS
from scoreutils.report.verdicts import CLAIMS

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BY_ID = {c.id: c for c in CLAIMS}


def _header(path: Path) -> str:
    return "".join(json.loads(path.read_text())["cells"][0]["source"])


def _tested_claims(header: str) -> list[str]:
    """The bullet lines of the header's "Tests." paragraph (empty when it names none)."""
    block = header.split("**Tests.**", 1)[1].split("\n\n**", 1)[0]
    return [line[2:] for line in block.split("\n") if line.startswith("- ")]


def header_problems(lesson: str, header: str) -> list[str]:
    """What is wrong with a lesson's first cell, in words (empty when nothing is)."""
    problems = []
    title = header.split("\n", 1)[0]
    if not title.rstrip().endswith("?"):
        problems.append(f"the title is not a question: {title!r}")
    if "**Reproduces.**" in header:
        problems.append('the header says "Reproduces" before its verdicts are known')
    if "**Tests.**" not in header:
        return problems + ['no "Tests." paragraph']
    wanted = [f"{BY_ID[i].claim} — {BY_ID[i].paper_ref}" for i in LESSON_CLAIMS[lesson]]
    if _tested_claims(header) != wanted:
        problems.append(f"the claims listed {_tested_claims(header)} are not the box's {wanted}")
    if "**Where in the paper.**" not in header:
        problems.append('no "Where in the paper." line')
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_lesson_asks_and_lists_the_claims_its_box_judges(path):
    assert header_problems(path.name[:2], _header(path)) == []


def test_a_statement_title_and_a_missing_claim_are_caught():
    header = _header(next(p for p in NOTEBOOKS if p.name.startswith("04")))
    assert header_problems("04", header) == []
    stated = header.replace("Does naive multi-turn RL stop changing its answers?", "Naive multi-turn RL stops changing its answers", 1)
    assert any("not a question" in p for p in header_problems("04", stated))
    claim = _tested_claims(header)[0]
    assert any("not the box's" in p for p in header_problems("04", header.replace("- " + claim + "\n", "")))
